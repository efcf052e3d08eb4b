//! Exact point-in-polygon for many points against fixed polygons: each polygon edge is
//! filed under the horizontal strips its y-span meets, so a point is tested against the
//! few edges of its strip rather than every vertex of every polygon.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{BoundingRect, Coord, MultiPolygon};

/// A polygon edge from `a` to `b` of the shape labelled `label`.
#[derive(Debug, Clone, Copy)]
struct Edge {
    a: Coord<f64>,
    b: Coord<f64>,
    label: u8,
}

/// The edges of up to 256 labelled multipolygons (label = position in the input), filed by
/// strips of height `strip_m` from `y0_m`.
///
/// [`EdgeStrips::locate`] is the even-odd rule along a ray towards +x over the edges of the
/// point's strip, with exact orientation tests (geo's robust `orient2d`) and the half-open
/// rule for vertices on the ray. A point on an edge is inside (as geo's `intersects`); a
/// point in a hole is outside; where shapes overlap or share an edge the lowest label wins.
#[derive(Debug, Clone, Default)]
pub struct EdgeStrips {
    y0_m: f64,
    strip_m: f64,
    strips: Vec<Vec<Edge>>,
}

impl EdgeStrips {
    /// Files the edges of `shapes` (at most 256; EPSG:27700 or any planar metres) in strips
    /// of `strip_m` metres starting at `y0_m`, `strips` of them; edges beyond are dropped, so
    /// the strips must cover the shapes (see [`EdgeStrips::covering`]).
    pub fn new(shapes: &[MultiPolygon<f64>], y0_m: f64, strip_m: f64, strips: usize) -> Self {
        let mut out: Vec<Vec<Edge>> = vec![Vec::new(); strips];
        for (label, mp) in shapes.iter().enumerate().take(256) {
            for poly in &mp.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for seg in ring.lines() {
                        let (a, b) = (seg.start, seg.end);
                        for k in strip_range(a.y.min(b.y), a.y.max(b.y), y0_m, strip_m, strips) {
                            out[k].push(Edge {
                                a,
                                b,
                                label: label as u8,
                            });
                        }
                    }
                }
            }
        }
        Self {
            y0_m,
            strip_m,
            strips: out,
        }
    }

    /// Strips of `strip_m` metres over the bounding box of `shapes`.
    pub fn covering(shapes: &[MultiPolygon<f64>], strip_m: f64) -> Self {
        let bounds = shapes
            .iter()
            .filter_map(BoundingRect::bounding_rect)
            .map(|r| (r.min().y, r.max().y))
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
        match bounds {
            Some((lo, hi)) if strip_m > 0.0 => {
                let strips = ((hi - lo) / strip_m).floor() as usize + 1;
                Self::new(shapes, lo, strip_m, strips)
            }
            _ => Self::default(),
        }
    }

    /// Strips over the bounding box of `shapes`, about one per two edges (at most 4,096), so
    /// a strip holds a handful of edges whatever the shapes' size.
    pub fn of(shapes: &[MultiPolygon<f64>]) -> Self {
        use geo::CoordsIter;
        let edges: usize = shapes.iter().map(|s| s.coords_count()).sum();
        let span = shapes
            .iter()
            .filter_map(BoundingRect::bounding_rect)
            .map(|r| (r.min().y, r.max().y))
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
            .map_or(0.0, |(lo, hi)| hi - lo);
        let strips = (edges / 2).clamp(1, 4096) as f64;
        Self::covering(shapes, (span / strips).max(1e-3))
    }

    /// The lowest label of the shapes holding the point (inside or on an edge), if any.
    pub fn locate(&self, x_m: f64, y_m: f64) -> Option<u8> {
        if self.strip_m <= 0.0 {
            return None;
        }
        let fy = (y_m - self.y0_m) / self.strip_m;
        if !(fy >= 0.0 && x_m.is_finite()) {
            return None;
        }
        let edges = self.strips.get(fy as usize)?;
        let p = Coord { x: x_m, y: y_m };
        let mut odd = [0u64; 4];
        let mut on_edge: Option<u8> = None;
        let on_segment = |a: Coord<f64>, b: Coord<f64>| {
            a.x.min(b.x) <= x_m && x_m <= a.x.max(b.x) && a.y.min(b.y) <= y_m && y_m <= a.y.max(b.y)
        };
        for e in edges {
            let (a, b) = (e.a, e.b);
            let crosses = (a.y > y_m) != (b.y > y_m);
            if !crosses {
                if (a.y == y_m || b.y == y_m)
                    && on_segment(a, b)
                    && RobustKernel::orient2d(a, b, p) == Orientation::Collinear
                {
                    on_edge = Some(on_edge.map_or(e.label, |d| d.min(e.label)));
                }
                continue;
            }
            match RobustKernel::orient2d(a, b, p) {
                Orientation::Collinear => {
                    on_edge = Some(on_edge.map_or(e.label, |d| d.min(e.label)));
                }
                // Left of an upward edge, or right of a downward one: the edge crosses the
                // ray east of the point.
                o => {
                    if (o == Orientation::CounterClockwise) == (b.y > a.y) {
                        odd[e.label as usize / 64] ^= 1 << (e.label % 64);
                    }
                }
            }
        }
        let first_odd = odd
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(k, w)| (k * 64) as u8 + w.trailing_zeros() as u8);
        match (first_odd, on_edge) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when any shape holds the point (inside or on an edge).
    pub fn contains(&self, x_m: f64, y_m: f64) -> bool {
        self.locate(x_m, y_m).is_some()
    }
}

/// Indices of the strips that the y-span `lo..=hi` meets (a span touching a strip's edge
/// counts for both strips, so rounding never loses an edge).
pub(crate) fn strip_range(
    lo: f64,
    hi: f64,
    origin: f64,
    strip_m: f64,
    n: usize,
) -> std::ops::RangeInclusive<usize> {
    if n == 0 {
        #[allow(clippy::reversed_empty_ranges)]
        return 1..=0;
    }
    let a = (((lo - origin) / strip_m) - 1e-9).floor().max(0.0) as usize;
    let b = ((((hi - origin) / strip_m) + 1e-9).floor().max(0.0) as usize).min(n - 1);
    a..=b
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Intersects, Point, Polygon};
    use rand::{Rng, SeedableRng};

    /// Against geo's `intersects` on a polygon with a hole and a second part, at random
    /// points, at every vertex and at every edge midpoint.
    #[test]
    fn agrees_with_geo_inside_on_edges_and_in_holes() {
        let outer = geo::LineString::from(vec![
            (0.0, 0.0),
            (1000.0, 0.0),
            (1000.0, 700.0),
            (400.0, 1000.0),
            (0.0, 800.0),
            (0.0, 0.0),
        ]);
        let hole = geo::LineString::from(vec![
            (200.0, 200.0),
            (600.0, 200.0),
            (600.0, 500.0),
            (200.0, 200.0),
        ]);
        let part2 = geo::LineString::from(vec![
            (1200.0, 100.0),
            (1500.0, 100.0),
            (1350.0, 600.0),
            (1200.0, 100.0),
        ]);
        let mp = MultiPolygon::new(vec![
            Polygon::new(outer.clone(), vec![hole.clone()]),
            Polygon::new(part2.clone(), vec![]),
        ]);
        let strips = EdgeStrips::covering(std::slice::from_ref(&mp), 50.0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut probes: Vec<(f64, f64)> = (0..20_000)
            .map(|_| {
                (
                    rng.random_range(-100.0..1600.0),
                    rng.random_range(-100.0..1100.0),
                )
            })
            .collect();
        for ring in [&outer, &hole, &part2] {
            for seg in ring.lines() {
                probes.push((seg.start.x, seg.start.y));
                probes.push((
                    (seg.start.x + seg.end.x) / 2.0,
                    (seg.start.y + seg.end.y) / 2.0,
                ));
            }
        }
        let mut inside = 0;
        for (x, y) in probes {
            let want = mp.intersects(&Point::new(x, y));
            assert_eq!(strips.contains(x, y), want, "({x}, {y})");
            inside += want as usize;
        }
        assert!(inside > 5_000, "{inside}");
        assert!(!strips.contains(f64::NAN, 10.0));
        assert!(!EdgeStrips::covering(&[], 50.0).contains(0.0, 0.0));
    }

    /// Two shapes sharing an edge: a point on it goes to the lower label.
    #[test]
    fn a_shared_edge_goes_to_the_lower_label() {
        let sq = |x0: f64| {
            MultiPolygon::new(vec![Polygon::new(
                geo::LineString::from(vec![
                    (x0, 0.0),
                    (x0 + 100.0, 0.0),
                    (x0 + 100.0, 100.0),
                    (x0, 100.0),
                    (x0, 0.0),
                ]),
                vec![],
            )])
        };
        let strips = EdgeStrips::covering(&[sq(100.0), sq(0.0)], 30.0);
        assert_eq!(strips.locate(100.0, 50.0), Some(0));
        assert_eq!(strips.locate(50.0, 50.0), Some(1));
        assert_eq!(strips.locate(150.0, 50.0), Some(0));
        assert_eq!(strips.locate(250.0, 50.0), None);
    }
}
