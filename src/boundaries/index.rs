//! Which district contains a point: a lookup grid that answers most points without touching
//! a polygon, and an exact even-odd test over the boundary edges of the point's grid row for
//! the rest.

use geo::MultiPolygon;

use super::edges::{strip_range, EdgeStrips};
use super::BoundaryPack;

/// Side of a lookup-grid cell, metres.
const LOOKUP_CELL_M: f64 = 50.0;

/// Side of a lookup block, in cells: blocks whose cells all agree are stored as one value.
const BLOCK: usize = 8;
/// Flag on a block entry: the block is uniform and the low byte is its lookup value;
/// otherwise the entry indexes `blocks`.
const UNIFORM: u32 = 1 << 31;

/// Lookup value: the cell lies wholly outside every district.
const OUTSIDE: u8 = 0;
/// Lookup value: a boundary crosses the cell; ask the polygons.
const MIXED: u8 = u8::MAX;

/// The lookup blocks holding land (see [`DistrictIndex::land_blocks`]).
#[derive(Debug, Clone)]
pub struct LandBlocks {
    blocks: Vec<u32>,
}

/// District boundaries crossing a set of horizontal lines: see
/// [`DistrictIndex::row_crossings`].
#[derive(Debug, Clone)]
pub struct RowCrossings {
    /// Per line, the crossings' x (metres, ascending) with the district crossed.
    pub crossings: Vec<Vec<(f64, u8)>>,
    /// Per line, true when a boundary vertex lies exactly on it.
    pub vertex_on_line: Vec<bool>,
}

/// Answers "which district contains this EPSG:27700 point", exactly.
///
/// A point on a boundary counts as inside; a point on an edge shared by two districts goes to
/// the district whose code sorts first (deterministic). The lookup grid is only a cache of
/// the exact answer: cells that no boundary touches take the answer at their centre, every
/// other cell falls through to [`DistrictIndex::locate_exact`].
#[derive(Debug, Clone)]
pub struct DistrictIndex {
    shapes: Vec<MultiPolygon<f64>>,
    x0_m: f64,
    y0_m: f64,
    nx: usize,
    ny: usize,
    /// One entry per BLOCK × BLOCK cells: `UNIFORM | value`, or an index into `blocks`.
    /// Most of the county is uniform, so this small table (≈ 155 KB for Kent) answers most
    /// points from cache; only blocks a boundary crosses keep their cells (64 bytes each;
    /// 384 KB in all for Kent's 2.47M cells).
    block_table: Vec<u32>,
    /// Cell values of the mixed blocks, row-major within the block.
    blocks: Vec<[u8; BLOCK * BLOCK]>,
    /// Blocks per row of `block_table`.
    nbx: usize,
    /// The boundary edges by lookup-grid row: the exact test of
    /// [`DistrictIndex::locate_exact`] looks at the point's row only.
    edges: EdgeStrips,
}

impl DistrictIndex {
    /// Builds the index for a pack (district order = the pack's, sorted by code).
    pub fn new(pack: &BoundaryPack) -> Self {
        let shapes: Vec<MultiPolygon<f64>> =
            pack.districts.iter().map(|d| d.geometry.clone()).collect();
        let mut index = Self {
            shapes,
            x0_m: 0.0,
            y0_m: 0.0,
            nx: 0,
            ny: 0,
            block_table: Vec::new(),
            blocks: Vec::new(),
            nbx: 0,
            edges: EdgeStrips::default(),
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
        for mp in &self.shapes {
            for poly in &mp.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for seg in ring.lines() {
                        let (sx, sy) = (seg.start, seg.end);
                        for cy in strip_range(sx.y.min(sy.y), sx.y.max(sy.y), y0, LOOKUP_CELL_M, ny)
                        {
                            for cx in
                                strip_range(sx.x.min(sy.x), sx.x.max(sy.x), x0, LOOKUP_CELL_M, nx)
                            {
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
        self.edges = EdgeStrips::new(&self.shapes, y0, LOOKUP_CELL_M, ny);
        // Unmixed cells take the district around their centre, found by one scanline per
        // row through the centres ([`DistrictIndex::row_crossings`]): a district is inside
        // between its odd and even crossings. An edge crossing a row inside a cell would have
        // marked that cell mixed, so every crossing is at least half a cell from an unmixed
        // centre and rounding cannot move it across.
        let mut crossings_by_row = self.row_crossings(y0, LOOKUP_CELL_M, ny).crossings;
        let mut odd = vec![false; self.shapes.len()];
        for (cy, crossings) in crossings_by_row.iter_mut().enumerate() {
            odd.iter_mut().for_each(|o| *o = false);
            // Runs of cells between consecutive crossings share a label; a crossing at x ends
            // the run of cells whose centre lies before x.
            let row = cy * nx..(cy + 1) * nx;
            let (cells, mixed) = (&mut cells[row.clone()], &mixed[row]);
            let (mut start, mut label) = (0usize, OUTSIDE);
            let mut k = 0;
            while start < nx {
                // At least one cell per step: a crossing exactly at a centre is in a mixed cell.
                let end = match crossings.get(k) {
                    Some(&(x, _)) => (((x - x0) / LOOKUP_CELL_M - 0.5).ceil().max(0.0) as usize)
                        .clamp(start + 1, nx),
                    None => nx,
                };
                for (c, &m) in cells[start..end].iter_mut().zip(&mixed[start..end]) {
                    *c = if m { MIXED } else { label };
                }
                start = end;
                // Every crossing before the next centre toggles its district.
                let next_x = x0 + (start as f64 + 0.5) * LOOKUP_CELL_M;
                let k0 = k;
                while k < crossings.len() && crossings[k].0 < next_x {
                    let d = crossings[k].1 as usize;
                    odd[d] = !odd[d];
                    k += 1;
                }
                if k > k0 {
                    // Districts do not overlap; if bad data made them, the lowest index wins,
                    // as in `locate_exact`.
                    label = odd.iter().position(|&o| o).map_or(OUTSIDE, |d| d as u8 + 1);
                }
            }
        }
        self.compress(&cells);
    }

    /// Stores the cell values by block, keeping cells only for blocks that are not uniform.
    fn compress(&mut self, cells: &[u8]) {
        let (nx, ny) = (self.nx, self.ny);
        let (nbx, nby) = (nx.div_ceil(BLOCK), ny.div_ceil(BLOCK));
        self.nbx = nbx;
        self.block_table = Vec::with_capacity(nbx * nby);
        self.blocks.clear();
        for by in 0..nby {
            for bx in 0..nbx {
                let mut block = [OUTSIDE; BLOCK * BLOCK];
                let xs = bx * BLOCK..((bx + 1) * BLOCK).min(nx);
                for (r, cy) in (by * BLOCK..((by + 1) * BLOCK).min(ny)).enumerate() {
                    block[r * BLOCK..r * BLOCK + xs.len()]
                        .copy_from_slice(&cells[cy * nx + xs.start..cy * nx + xs.end]);
                }
                if block.iter().all(|&v| v == block[0]) {
                    self.block_table.push(UNIFORM | block[0] as u32);
                } else {
                    self.block_table.push(self.blocks.len() as u32);
                    self.blocks.push(block);
                }
            }
        }
    }

    /// The lookup value of cell (cx, cy), which must be inside the grid.
    #[inline]
    fn cell_value(&self, cx: usize, cy: usize) -> u8 {
        let entry = self.block_table[(cy / BLOCK) * self.nbx + cx / BLOCK];
        if entry & UNIFORM != 0 {
            entry as u8
        } else {
            self.blocks[entry as usize][(cy % BLOCK) * BLOCK + cx % BLOCK]
        }
    }

    /// The lookup blocks that hold any land, for [`DistrictIndex::sample_land`]: each
    /// block's index into the block table, with the high bit set when the whole block is
    /// land (no point test needed).
    pub fn land_blocks(&self) -> LandBlocks {
        let mut blocks = Vec::new();
        for (k, &entry) in self.block_table.iter().enumerate() {
            if entry & UNIFORM != 0 {
                match entry as u8 {
                    OUTSIDE => {}
                    // Every cell crossed by a boundary: each point is tested.
                    MIXED => blocks.push(k as u32),
                    _ => blocks.push(k as u32 | UNIFORM),
                }
            } else if self.blocks[entry as usize].iter().any(|&v| v != OUTSIDE) {
                blocks.push(k as u32);
            }
        }
        LandBlocks { blocks }
    }

    /// A point uniformly distributed over the districts' land (EPSG:27700 metres): a block
    /// of `land` drawn uniformly, a point uniform in it, kept if it is on land (always, for
    /// a block wholly on land), else drawn again. Uniform over land because every block has
    /// the same area and each accepted point is uniform on its block's land. `None` when
    /// there is no land.
    pub fn sample_land<R: rand::Rng>(&self, land: &LandBlocks, rng: &mut R) -> Option<(f64, f64)> {
        if land.blocks.is_empty() {
            return None;
        }
        let side = BLOCK as f64 * LOOKUP_CELL_M;
        loop {
            let b = land.blocks[rng.random_range(0..land.blocks.len())];
            let k = (b & !UNIFORM) as usize;
            let (bx, by) = ((k % self.nbx) as f64, (k / self.nbx) as f64);
            let x = self.x0_m + (bx + rng.random::<f64>()) * side;
            let y = self.y0_m + (by + rng.random::<f64>()) * side;
            if b & UNIFORM != 0 || self.locate(x, y).is_some() {
                return Some((x, y));
            }
        }
    }

    /// Where the district boundaries cross the horizontal lines y = `y0_m` + (k + ½)·`step_m`,
    /// k in `0..rows` (metres), one scanline per line.
    ///
    /// An edge counts when exactly one of its ends lies above the line (the half-open rule),
    /// so a vertex on the line counts for one of its two edges and each district's crossings
    /// pair up: the district is inside between its odd and even ones.
    pub fn row_crossings(&self, y0_m: f64, step_m: f64, rows: usize) -> RowCrossings {
        let mut out = RowCrossings {
            crossings: vec![Vec::new(); rows],
            vertex_on_line: vec![false; rows],
        };
        let line_y = |k: usize| y0_m + (k as f64 + 0.5) * step_m;
        for (d, mp) in self.shapes.iter().enumerate() {
            for poly in &mp.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for seg in ring.lines() {
                        let (a, b) = (seg.start, seg.end);
                        // One line earlier than computed, in case rounding put it just below.
                        let first =
                            (((a.y.min(b.y) - y0_m) / step_m - 0.5).ceil() - 1.0).max(0.0) as usize;
                        for k in first..rows {
                            let y = line_y(k);
                            if y > a.y.max(b.y) {
                                break;
                            }
                            if a.y == y || b.y == y {
                                out.vertex_on_line[k] = true;
                            }
                            if (a.y > y) != (b.y > y) {
                                let x = a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x);
                                out.crossings[k].push((x, d as u8));
                            }
                        }
                    }
                }
            }
        }
        for line in &mut out.crossings {
            line.sort_unstable_by(|p, q| p.0.total_cmp(&q.0));
        }
        out
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
        match self.cell_value(cx, cy) {
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

    /// District index containing the point, without the lookup grid: the even-odd rule over
    /// the boundary edges that meet the point's grid row (exact orientation tests; boundary
    /// inclusive), the lowest index when several districts claim it.
    pub fn locate_exact(&self, x_m: f64, y_m: f64) -> Option<u8> {
        self.edges.locate(x_m, y_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lookup_equals_the_exact_answer_on_a_lattice() {
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        let mut inside = 0;
        // A 251 m lattice over the county and beyond (not aligned with the 50 m cells).
        for i in 0..560 {
            for j in 0..360 {
                let (x, y) = (520_000.0 + i as f64 * 251.0, 100_000.0 + j as f64 * 251.0);
                let d = index.locate(x, y);
                assert_eq!(d, index.locate_exact(x, y), "({x}, {y})");
                inside += d.is_some() as usize;
            }
        }
        // 3,739 km² of districts in 251 m cells: about 59,300 points inside.
        assert!((57_000..62_000).contains(&inside), "{inside}");
        // Most blocks are uniform: the stored cells are a small part of the full grid.
        let full = index.nx * index.ny;
        let stored = index.blocks.len() * BLOCK * BLOCK + index.block_table.len() * 4;
        assert!(stored * 3 < full, "{stored} bytes stored for {full} cells");
        assert_eq!(index.locate(f64::NAN, 0.0), None);
    }

    #[test]
    fn scanline_fill_handles_holes_shared_edges_and_vertices_on_cell_centres() {
        use crate::boundaries::District;
        use geo::{polygon, Area};
        // Coordinates on cell centres (…25, …75) and on cell edges, where rounding or the
        // vertex rule would show: a square with a hole, its neighbour sharing an edge, and a
        // diamond whose side vertices lie exactly on a row of centres.
        let square = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 1000.0, y: 0.0), (x: 1000.0, y: 1000.0), (x: 0.0, y: 1000.0)],
            interiors: [[(x: 225.0, y: 225.0), (x: 425.0, y: 225.0), (x: 425.0, y: 425.0), (x: 225.0, y: 425.0)]],
        );
        let neighbour = polygon![(x: 1000.0, y: 0.0), (x: 2000.0, y: 0.0), (x: 2000.0, y: 1000.0), (x: 1000.0, y: 1000.0)];
        let diamond = polygon![(x: 2525.0, y: 75.0), (x: 2975.0, y: 525.0), (x: 2525.0, y: 975.0), (x: 2075.0, y: 525.0)];
        let districts = [("E1", square), ("E2", neighbour), ("E3", diamond)]
            .into_iter()
            .map(|(code, p)| District {
                code: code.into(),
                name: code.into(),
                area_km2: p.unsigned_area() / 1e6,
                geometry: geo::MultiPolygon(vec![p]),
            })
            .collect();
        let pack = BoundaryPack::from_districts("test", districts, None).unwrap();
        let index = DistrictIndex::new(&pack);
        let mut seen = [0usize; 4];
        for i in -20..=620 {
            for j in -20..=220 {
                let (x, y) = (i as f64 * 5.0, j as f64 * 5.0);
                let d = index.locate(x, y);
                assert_eq!(d, index.locate_exact(x, y), "({x}, {y})");
                seen[d.map_or(3, usize::from)] += 1;
            }
        }
        // Every district and the outside were met.
        assert!(seen.iter().all(|&n| n > 1000), "{seen:?}");
    }

    /// The answer of geo's own point-in-polygon over every district part: the lowest
    /// district whose part holds the point or has it on its boundary.
    fn by_geo(pack: &BoundaryPack, x: f64, y: f64) -> Option<u8> {
        use geo::coordinate_position::{CoordPos, CoordinatePosition};
        let p = geo::Coord { x, y };
        pack.districts
            .iter()
            .position(|d| {
                d.geometry
                    .0
                    .iter()
                    .any(|poly| poly.coordinate_position(&p) != CoordPos::Outside)
            })
            .map(|d| d as u8)
    }

    #[test]
    fn exact_answer_equals_geo_point_in_polygon_at_random_points_vertices_and_edges() {
        use rand::{Rng, SeedableRng};
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut points = Vec::new();
        for _ in 0..20_000 {
            points.push((
                rng.random_range(520_000.0..660_000.0),
                rng.random_range(100_000.0..190_000.0),
            ));
        }
        // Every 7th vertex, and the midpoint of its next edge (on the boundary).
        for d in &pack.districts {
            for poly in &d.geometry.0 {
                for line in poly.exterior().lines().step_by(7) {
                    points.push((line.start.x, line.start.y));
                    points.push((
                        (line.start.x + line.end.x) / 2.0,
                        (line.start.y + line.end.y) / 2.0,
                    ));
                }
            }
        }
        let mut inside = 0;
        for &(x, y) in &points {
            let want = by_geo(&pack, x, y);
            assert_eq!(index.locate_exact(x, y), want, "({x}, {y})");
            assert_eq!(index.locate(x, y), want, "({x}, {y}) by the lookup");
            inside += want.is_some() as usize;
        }
        assert!(inside > 5_000, "{inside} of {} inside", points.len());
    }

    #[test]
    fn land_samples_are_on_land_and_spread_like_area() {
        use rand::SeedableRng;
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        let land = index.land_blocks();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let n = 40_000;
        let mut per_district = vec![0usize; pack.districts.len()];
        for _ in 0..n {
            let (x, y) = index.sample_land(&land, &mut rng).unwrap();
            let d = by_geo(&pack, x, y).unwrap_or_else(|| {
                panic!(
                    "a sample off land at ({x}, {y}): locate says {:?}",
                    index.locate(x, y)
                )
            });
            per_district[d as usize] += 1;
        }
        // Each district's share of the samples is its share of the area, within 5 standard
        // errors of a binomial proportion.
        let total_km2: f64 = pack.districts.iter().map(|d| d.area_km2).sum();
        for (d, &got) in pack.districts.iter().zip(&per_district) {
            let p = d.area_km2 / total_km2;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            let share = got as f64 / n as f64;
            assert!(
                (share - p).abs() < 5.0 * se,
                "{}: {share} of samples, {p} of area",
                d.code
            );
        }
    }
}
