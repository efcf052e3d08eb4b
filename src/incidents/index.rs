//! Spatial index of incidents (rstar) for radius and bounding-box queries.
//!
//! The R-tree holds *buckets*, not single points: the incidents are counting-sorted into the
//! cells of a square grid sized for about [`POINTS_PER_BUCKET`] incidents per cell, each
//! occupied cell becomes one tree entry (the tight bounding rectangle of its incidents), and
//! the incidents' positions are kept contiguously in cell order. A query asks rstar for the
//! buckets that can hold an answer and then tests each incident in them exactly, so answers
//! are the same as a point-per-entry tree's, boundary inclusive.
//!
//! Why: bulk loading a point-per-entry tree of a million incidents partitions them again
//! at every level (≈ 0.4 s on this machine); a counting sort plus a tree of ~100k buckets
//! takes a fraction of that (see `cargo bench --bench ingest -- index_only`), and a query
//! scans its incidents in contiguous memory.

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use super::IncidentStore;

/// Mean number of incidents per occupied grid cell that the bucket size aims at.
pub const POINTS_PER_BUCKET: usize = 8;

/// One tree entry: the bounding rectangle (EPSG:27700 metres) of a run of incidents.
type Bucket = GeomWithData<Rectangle<[f64; 2]>, (u32, u32)>;

/// An rstar R-tree over buckets of incident positions.
#[derive(Debug, Clone)]
pub struct IncidentIndex {
    tree: RTree<Bucket>,
    /// Positions (EPSG:27700 metres) in bucket order.
    xy_m: Vec<[f64; 2]>,
    /// The store row of each entry of `xy_m`.
    rows: Vec<u32>,
}

impl IncidentIndex {
    /// Builds the index for all incidents of a store.
    pub fn build(store: &IncidentStore) -> Self {
        Self::from_points(&store.x_m, &store.y_m)
    }

    /// Builds the index of points given as columns; row `i` is (`x_m[i]`, `y_m[i]`).
    /// Non-finite positions are left out.
    pub fn from_points(x_m: &[f64], y_m: &[f64]) -> Self {
        let n = x_m.len().min(y_m.len());
        let finite = |i: usize| x_m[i].is_finite() && y_m[i].is_finite();
        let (mut xmin, mut ymin) = (f64::INFINITY, f64::INFINITY);
        let (mut xmax, mut ymax) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        let mut count = 0usize;
        for i in (0..n).filter(|&i| finite(i)) {
            xmin = xmin.min(x_m[i]);
            xmax = xmax.max(x_m[i]);
            ymin = ymin.min(y_m[i]);
            ymax = ymax.max(y_m[i]);
            count += 1;
        }
        if count == 0 {
            return Self {
                tree: RTree::new(),
                xy_m: Vec::new(),
                rows: Vec::new(),
            };
        }
        // Square cells, about POINTS_PER_BUCKET incidents per cell on average over the bbox.
        let cells_wanted = (count / POINTS_PER_BUCKET).clamp(1, 1 << 22) as f64;
        let (w, h) = ((xmax - xmin).max(1e-9), (ymax - ymin).max(1e-9));
        let cell_m = ((w * h) / cells_wanted)
            .sqrt()
            .max(w / 4096.0)
            .max(h / 4096.0);
        let nx = ((w / cell_m) as usize + 1).min(4097);
        let ny = ((h / cell_m) as usize + 1).min(4097);
        let cell_of = |i: usize| -> usize {
            let cx = (((x_m[i] - xmin) / cell_m) as usize).min(nx - 1);
            let cy = (((y_m[i] - ymin) / cell_m) as usize).min(ny - 1);
            cy * nx + cx
        };
        // Counting sort by cell: `starts[c]` becomes the first slot of cell c.
        let mut starts = vec![0u32; nx * ny + 1];
        for i in (0..n).filter(|&i| finite(i)) {
            starts[cell_of(i) + 1] += 1;
        }
        for c in 1..starts.len() {
            starts[c] += starts[c - 1];
        }
        let mut next = starts.clone();
        let mut xy_m = vec![[0.0; 2]; count];
        let mut rows = vec![0u32; count];
        for i in (0..n).filter(|&i| finite(i)) {
            let slot = &mut next[cell_of(i)];
            xy_m[*slot as usize] = [x_m[i], y_m[i]];
            rows[*slot as usize] = i as u32;
            *slot += 1;
        }
        let buckets: Vec<Bucket> = starts
            .windows(2)
            .filter(|s| s[1] > s[0])
            .map(|s| {
                let pts = &xy_m[s[0] as usize..s[1] as usize];
                let env = AABB::from_points(pts.iter());
                Bucket::new(
                    Rectangle::from_corners(env.lower(), env.upper()),
                    (s[0], s[1]),
                )
            })
            .collect();
        Self {
            tree: RTree::bulk_load(buckets),
            xy_m,
            rows,
        }
    }

    /// The positions and rows of one bucket.
    fn bucket(&self, b: &Bucket) -> impl Iterator<Item = ([f64; 2], u32)> + '_ {
        let (s, e) = (b.data.0 as usize, b.data.1 as usize);
        self.xy_m[s..e]
            .iter()
            .copied()
            .zip(self.rows[s..e].iter().copied())
    }

    /// Rows within `radius_m` of (x, y), boundary inclusive, in no particular order.
    pub fn within_radius(
        &self,
        x_m: f64,
        y_m: f64,
        radius_m: f64,
    ) -> impl Iterator<Item = u32> + '_ {
        let r2 = radius_m * radius_m;
        // rstar takes the squared distance; a bucket qualifies when its rectangle is near.
        self.tree
            .locate_within_distance([x_m, y_m], r2)
            .flat_map(move |b| {
                self.bucket(b).filter_map(move |(p, row)| {
                    let (dx, dy) = (p[0] - x_m, p[1] - y_m);
                    (dx * dx + dy * dy <= r2).then_some(row)
                })
            })
    }

    /// Rows inside the box [xmin, xmax] × [ymin, ymax], boundary inclusive.
    pub fn within_bbox(
        &self,
        xmin: f64,
        ymin: f64,
        xmax: f64,
        ymax: f64,
    ) -> impl Iterator<Item = u32> + '_ {
        let query = AABB::from_corners([xmin, ymin], [xmax, ymax]);
        let (lo, hi) = (query.lower(), query.upper());
        self.tree
            .locate_in_envelope_intersecting(&query)
            .flat_map(move |b| {
                self.bucket(b).filter_map(move |(p, row)| {
                    let inside = p[0] >= lo[0] && p[0] <= hi[0] && p[1] >= lo[1] && p[1] <= hi[1];
                    inside.then_some(row)
                })
            })
    }

    /// Number of indexed points.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of buckets (tree entries).
    pub fn buckets(&self) -> usize {
        self.tree.size()
    }

    /// Heap bytes held by the index (positions, rows and an estimate of the tree's nodes).
    pub fn heap_bytes(&self) -> usize {
        self.xy_m.capacity() * 16
            + self.rows.capacity() * 4
            + self.tree.size() * (std::mem::size_of::<Bucket>() + 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A seeded scatter with clusters, duplicates and points exactly on query edges.
    fn points(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut next = move || rng.random::<f64>();
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for i in 0..n {
            let (x, y) = if i % 3 == 0 {
                // A dense town centre.
                (560_000.0 + 300.0 * next(), 150_000.0 + 300.0 * next())
            } else {
                (540_000.0 + 60_000.0 * next(), 130_000.0 + 40_000.0 * next())
            };
            // Whole metres make exact ties with query edges likely.
            let (x, y) = if i % 5 == 0 {
                (x.round(), y.round())
            } else {
                (x, y)
            };
            xs.push(x);
            ys.push(y);
        }
        (xs, ys)
    }

    fn sorted(mut v: Vec<u32>) -> Vec<u32> {
        v.sort_unstable();
        v
    }

    #[test]
    fn radius_answers_equal_brute_force_boundary_inclusive() {
        let (xs, ys) = points(20_000, 7);
        let index = IncidentIndex::from_points(&xs, &ys);
        assert_eq!(index.len(), xs.len());
        assert!(index.buckets() > 100, "{} buckets", index.buckets());
        let queries = [
            (560_150.0, 150_150.0, 50.0),
            (560_000.0, 150_000.0, 300.0),
            (570_000.0, 140_000.0, 1_000.0),
            (xs[10], ys[10], 0.0),
            (xs[20] + 3.0, ys[20] + 4.0, 5.0), // (xs[20], ys[20]) is exactly 5 m away
            (0.0, 0.0, 10.0),
        ];
        for (qx, qy, r) in queries {
            let want: Vec<u32> = (0..xs.len())
                .filter(|&i| {
                    let (dx, dy) = (xs[i] - qx, ys[i] - qy);
                    dx * dx + dy * dy <= r * r
                })
                .map(|i| i as u32)
                .collect();
            let got = sorted(index.within_radius(qx, qy, r).collect());
            assert_eq!(got, want, "radius {r} at ({qx}, {qy})");
        }
    }

    #[test]
    fn bbox_answers_equal_brute_force_boundary_inclusive() {
        let (xs, ys) = points(20_000, 11);
        let index = IncidentIndex::from_points(&xs, &ys);
        let queries = [
            (560_000.0, 150_000.0, 560_100.0, 150_100.0),
            (xs[5], ys[5], xs[5], ys[5]),
            (
                xs[0].min(xs[15]),
                ys[0].min(ys[15]),
                xs[0].max(xs[15]),
                ys[0].max(ys[15]),
            ),
            (500_000.0, 100_000.0, 700_000.0, 200_000.0),
            (0.0, 0.0, 1.0, 1.0),
        ];
        for (x0, y0, x1, y1) in queries {
            let want: Vec<u32> = (0..xs.len())
                .filter(|&i| xs[i] >= x0 && xs[i] <= x1 && ys[i] >= y0 && ys[i] <= y1)
                .map(|i| i as u32)
                .collect();
            let got = sorted(index.within_bbox(x0, y0, x1, y1).collect());
            assert_eq!(got, want, "bbox {x0},{y0},{x1},{y1}");
        }
    }

    #[test]
    fn degenerate_inputs() {
        let empty = IncidentIndex::from_points(&[], &[]);
        assert!(empty.is_empty());
        assert_eq!(empty.within_radius(0.0, 0.0, 1e9).count(), 0);
        // All points at one place, and a non-finite one left out.
        let xs = [5.0, 5.0, 5.0, f64::NAN];
        let ys = [7.0, 7.0, 7.0, 1.0];
        let index = IncidentIndex::from_points(&xs, &ys);
        assert_eq!(index.len(), 3);
        assert_eq!(
            sorted(index.within_radius(5.0, 7.0, 0.0).collect()),
            [0, 1, 2]
        );
        assert_eq!(index.within_bbox(0.0, 0.0, 4.9, 10.0).count(), 0);
    }
}
