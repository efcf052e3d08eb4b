//! Which district contains a point: an rstar index of district parts, exact point-in-polygon,
//! and a lookup grid that answers most points without touching a polygon.

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{BoundingRect, Coord, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use super::BoundaryPack;

/// Side of a lookup-grid cell, metres.
const LOOKUP_CELL_M: f64 = 50.0;
/// A district part's bounding box with (district index, part index).
type PartBox = GeomWithData<Rectangle<[f64; 2]>, (u8, u32)>;

/// Lookup value: the cell lies wholly outside every district.
const OUTSIDE: u8 = 0;
/// Lookup value: a boundary crosses the cell; ask the polygons.
const MIXED: u8 = u8::MAX;

/// Answers "which district contains this EPSG:27700 point", exactly.
///
/// A point on a boundary counts as inside; a point on an edge shared by two districts goes to
/// the district whose code sorts first (deterministic). The lookup grid is only a cache of
/// the exact answer: cells that no boundary touches take the answer at their centre, every
/// other cell falls through to [`DistrictIndex::locate_exact`].
#[derive(Debug, Clone)]
pub struct DistrictIndex {
    shapes: Vec<MultiPolygon<f64>>,
    /// Each district part's bounding box with (district, part).
    tree: RTree<PartBox>,
    x0_m: f64,
    y0_m: f64,
    nx: usize,
    ny: usize,
    cells: Vec<u8>,
}

impl DistrictIndex {
    /// Builds the index for a pack (district order = the pack's, sorted by code).
    pub fn new(pack: &BoundaryPack) -> Self {
        let shapes: Vec<MultiPolygon<f64>> =
            pack.districts.iter().map(|d| d.geometry.clone()).collect();
        let mut parts = Vec::new();
        for (i, mp) in shapes.iter().enumerate() {
            for (k, poly) in mp.0.iter().enumerate() {
                if let Some(r) = poly.bounding_rect() {
                    parts.push(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        (i as u8, k as u32),
                    ));
                }
            }
        }
        let tree = RTree::bulk_load(parts);
        let mut index = Self {
            shapes,
            tree,
            x0_m: 0.0,
            y0_m: 0.0,
            nx: 0,
            ny: 0,
            cells: Vec::new(),
        };
        if let Some(bb) = pack.bbox() {
            index.build_grid(bb.min().x, bb.min().y, bb.max().x, bb.max().y);
        }
        index
    }

    fn build_grid(&mut self, xmin: f64, ymin: f64, xmax: f64, ymax: f64) {
        let x0 = (xmin / LOOKUP_CELL_M).floor() * LOOKUP_CELL_M;
        let y0 = (ymin / LOOKUP_CELL_M).floor() * LOOKUP_CELL_M;
        let nx = ((xmax - x0) / LOOKUP_CELL_M).floor() as usize + 1;
        let ny = ((ymax - y0) / LOOKUP_CELL_M).floor() as usize + 1;
        let mut cells = vec![OUTSIDE; nx * ny];
        let mut mixed = vec![false; nx * ny];
        let cell_range = |lo: f64, hi: f64, origin: f64, n: usize| {
            let a = (((lo - origin) / LOOKUP_CELL_M) - 1e-9).floor().max(0.0) as usize;
            let b = ((((hi - origin) / LOOKUP_CELL_M) + 1e-9).floor() as usize).min(n - 1);
            a..=b
        };
        for mp in &self.shapes {
            for poly in &mp.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for seg in ring.lines() {
                        let (sx, sy) = (seg.start, seg.end);
                        for cy in cell_range(sx.y.min(sy.y), sx.y.max(sy.y), y0, ny) {
                            for cx in cell_range(sx.x.min(sy.x), sx.x.max(sy.x), x0, nx) {
                                mixed[cy * nx + cx] = true;
                            }
                        }
                    }
                }
            }
        }
        self.x0_m = x0;
        self.y0_m = y0;
        self.nx = nx;
        self.ny = ny;
        // No boundary separates two horizontally adjacent unmixed cells (it would touch both,
        // marking them mixed), so one exact answer serves a whole run of unmixed cells.
        for cy in 0..ny {
            let mut run_label: Option<u8> = None;
            for cx in 0..nx {
                let i = cy * nx + cx;
                if mixed[i] {
                    run_label = None;
                    cells[i] = MIXED;
                    continue;
                }
                let label = *run_label.get_or_insert_with(|| {
                    let x = x0 + (cx as f64 + 0.5) * LOOKUP_CELL_M;
                    let y = y0 + (cy as f64 + 0.5) * LOOKUP_CELL_M;
                    self.locate_exact(x, y).map_or(OUTSIDE, |d| d + 1)
                });
                cells[i] = label;
            }
        }
        self.cells = cells;
    }

    /// Every boundary ring (exteriors and holes of all districts' parts), EPSG:27700 metres.
    pub fn rings(&self) -> impl Iterator<Item = &geo::LineString<f64>> + '_ {
        self.shapes
            .iter()
            .flat_map(|mp| mp.0.iter())
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
    }

    /// Number of districts indexed.
    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    /// True when no district is indexed.
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    /// District index (into the pack) containing the point, using the lookup grid.
    #[inline]
    pub fn locate(&self, x_m: f64, y_m: f64) -> Option<u8> {
        let fx = (x_m - self.x0_m) / LOOKUP_CELL_M;
        let fy = (y_m - self.y0_m) / LOOKUP_CELL_M;
        if !(fx >= 0.0 && fy >= 0.0) {
            return None;
        }
        let (cx, cy) = (fx as usize, fy as usize);
        if cx >= self.nx || cy >= self.ny {
            return None;
        }
        match self.cells[cy * self.nx + cx] {
            OUTSIDE => None,
            MIXED => self.locate_exact(x_m, y_m),
            d => Some(d - 1),
        }
    }

    /// The area the districts cover, `[xmin, ymin, xmax, ymax]` in metres (`None` for an
    /// empty pack).
    pub fn extent_m(&self) -> Option<[f64; 4]> {
        (self.nx > 0 && self.ny > 0).then_some([
            self.x0_m,
            self.y0_m,
            self.x0_m + self.nx as f64 * LOOKUP_CELL_M,
            self.y0_m + self.ny as f64 * LOOKUP_CELL_M,
        ])
    }

    /// District index containing the point: rstar candidates by bounding box, then exact
    /// point-in-polygon (boundary inclusive), lowest index first.
    pub fn locate_exact(&self, x_m: f64, y_m: f64) -> Option<u8> {
        let p = Coord { x: x_m, y: y_m };
        let mut best: Option<u8> = None;
        for cand in self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_point([x_m, y_m]))
        {
            let (d, part) = cand.data;
            if best.is_some_and(|b| b <= d) {
                continue;
            }
            // Only the part whose box matched, and without recomputing its box.
            let poly = &self.shapes[d as usize].0[part as usize];
            if poly.coordinate_position(&p) != CoordPos::Outside {
                best = Some(d);
            }
        }
        best
    }
}
