//! Kernel density estimation on a grid: exact sums over the cells each incident reaches.

use multiversion::multiversion;
use rayon::prelude::*;

use super::{Grid, Kernel};

/// What the surface values mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// Weight per km² (ArcGIS Kernel Density): Σ wᵢ·K(dᵢ)·10⁶; integrates to Σ wᵢ.
    Density,
    /// QGIS heatmap "Raw": Σ wᵢ·shape(dᵢ), unnormalised, for side-by-side comparison.
    QgisRaw,
}

impl Scaling {
    /// Name used on the command line and in metadata.
    pub fn slug(self) -> &'static str {
        match self {
            Scaling::Density => "density",
            Scaling::QgisRaw => "qgis-raw",
        }
    }

    fn factor(self, kernel: Kernel, h_m: f64) -> f64 {
        match self {
            Scaling::Density => kernel.norm(h_m) * 1e6,
            Scaling::QgisRaw => 1.0,
        }
    }
}

impl std::str::FromStr for Scaling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "density" => Ok(Scaling::Density),
            "qgis-raw" => Ok(Scaling::QgisRaw),
            o => Err(format!("unknown scaling '{o}' (density, qgis-raw)")),
        }
    }
}

/// Exact kernel density at every cell centre (row-major, row 0 south). Each point visits only
/// the cells whose centres lie within the kernel's support, so the cost is
/// O(n · (support/cell)²) instead of O(n · cells). Points outside the grid still contribute
/// to the cells they reach.
///
/// Points are visited in grid-row order (so the rows a kernel touches stay in cache), each
/// over the bounding square of its support with the squared column offsets computed once,
/// and the inner loop is specialised and branch-free per kernel so it vectorises; together
/// 3× faster than a row-exact span in input order. Nothing is approximated: every value is
/// the sum the brute-force reference computes, up to floating-point reassociation.
pub fn kde_exact(
    grid: &Grid,
    xs: &[f64],
    ys: &[f64],
    ws: &[f64],
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
) -> Vec<f64> {
    kde_exact_rows(
        grid,
        &RowOrdered::new(grid, xs, ys, ws),
        kernel,
        h_m,
        scaling,
    )
}

/// [`kde_exact`] over points already in grid-row order.
pub fn kde_exact_rows(
    grid: &Grid,
    rows: &RowOrdered,
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
) -> Vec<f64> {
    with_shape(
        kernel,
        h_m,
        Accumulate {
            grid,
            rows,
            kernel,
            h_m,
            scaling,
        },
    )
}

/// The largest value of the exact surface ([`kde_exact`] of the same points) over the cells
/// where `mask` (row-major like the grid) is not NaN; 0 when there are none or all are ≤ 0.
///
/// The same sums as [`kde_exact`], cell for cell and bit for bit, but each band of rows is
/// summed into a small reused buffer and reduced at once, so the whole surface is never
/// allocated, zeroed or read back: what a Monte Carlo test of the peak density needs from
/// each of its simulated surfaces.
pub fn kde_exact_max(
    grid: &Grid,
    rows: &RowOrdered,
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
    mask: &[f64],
) -> f64 {
    with_shape(
        kernel,
        h_m,
        MaskedMax {
            grid,
            rows,
            kernel,
            h_m,
            scaling,
            mask,
        },
    )
}

/// Something done with a kernel's shape function of d² (m²), compiled once per kernel.
trait ShapeJob {
    type Out;
    fn run<F: Fn(f64) -> f64 + Sync + Send + Copy>(self, shape: F) -> Self::Out;
}

/// Runs `job` with the shape of `kernel` at bandwidth `h_m`: branch-free where it helps the
/// inner loop vectorise (for the compact kernels the clamp at 0 is what makes them vanish
/// from d = h on).
fn with_shape<J: ShapeJob>(kernel: Kernel, h_m: f64, job: J) -> J::Out {
    let h2 = h_m * h_m;
    let inv_h2 = 1.0 / h2;
    let cut2 = kernel.support_m(h_m).powi(2);
    match kernel {
        Kernel::Quartic => job.run(move |d2| {
            let u = (1.0 - d2 * inv_h2).max(0.0);
            u * u
        }),
        Kernel::Epanechnikov => job.run(move |d2| (1.0 - d2 * inv_h2).max(0.0)),
        Kernel::Triangular => job.run(move |d2| (1.0 - d2.sqrt() / h_m).max(0.0)),
        Kernel::Uniform => job.run(move |d2| if d2 < h2 { 1.0 } else { 0.0 }),
        Kernel::Gaussian => job.run(move |d2| {
            if d2 <= cut2 {
                (-0.5 * d2 * inv_h2).exp()
            } else {
                0.0
            }
        }),
    }
}

/// The whole surface.
struct Accumulate<'a> {
    grid: &'a Grid,
    rows: &'a RowOrdered,
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
}

impl ShapeJob for Accumulate<'_> {
    type Out = Vec<f64>;
    fn run<F: Fn(f64) -> f64 + Sync + Send + Copy>(self, shape: F) -> Vec<f64> {
        let grid = self.grid;
        let mut out = vec![0.0; grid.len()];
        if grid.nx == 0 || grid.ny == 0 {
            return out;
        }
        let r = self.kernel.support_m(self.h_m);
        let factor = self.scaling.factor(self.kernel, self.h_m);
        // Bands of rows are summed in parallel. A band takes the points of its rows and of
        // the rows within reach around it, in the same order as a single pass, so every cell
        // gets the same additions in the same order: the result does not depend on the
        // number of threads.
        let band_rows = BAND_ROWS.min(grid.ny);
        out.par_chunks_mut(band_rows * grid.nx)
            .enumerate()
            .for_each(|(b, band)| {
                let row0 = b * band_rows;
                let points = band_points(grid, self.rows, r, row0, band.len() / grid.nx);
                sum_band(grid, points, band, row0, r, factor, shape);
            });
        out
    }
}

/// The surface's largest value where the mask is defined.
struct MaskedMax<'a> {
    grid: &'a Grid,
    rows: &'a RowOrdered,
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
    mask: &'a [f64],
}

impl ShapeJob for MaskedMax<'_> {
    type Out = f64;
    fn run<F: Fn(f64) -> f64 + Sync + Send + Copy>(self, shape: F) -> f64 {
        let grid = self.grid;
        if grid.nx == 0 || grid.ny == 0 {
            return 0.0;
        }
        let r = self.kernel.support_m(self.h_m);
        let factor = self.scaling.factor(self.kernel, self.h_m);
        let band_rows = BAND_ROWS.min(grid.ny);
        let bands = grid.ny.div_ceil(band_rows);
        (0..bands)
            .into_par_iter()
            .map_init(Vec::new, |buf: &mut Vec<f64>, b| {
                let row0 = b * band_rows;
                let row1 = (row0 + band_rows).min(grid.ny);
                let (lo, hi) = (row0 * grid.nx, row1 * grid.nx);
                if hi > self.mask.len() {
                    return 0.0;
                }
                buf.clear();
                buf.resize(hi - lo, 0.0);
                let points = band_points(grid, self.rows, r, row0, row1 - row0);
                sum_band(grid, points, buf, row0, r, factor, shape);
                max_where_defined(buf, &self.mask[lo..hi])
            })
            .reduce(|| 0.0, f64::max)
    }
}

/// The points that can reach grid rows `row0..row0 + n` (support `r` metres): those of the
/// rows within reach around them, in row order.
fn band_points<'a>(
    grid: &Grid,
    rows: &'a RowOrdered,
    r: f64,
    row0: usize,
    n: usize,
) -> &'a [(f64, f64, f64)] {
    let reach_rows = (r / grid.cell_m).ceil() as usize + 1;
    let first = rows.row_starts[row0.saturating_sub(reach_rows)];
    let last = rows.row_starts[(row0 + n + reach_rows).min(grid.ny)];
    &rows.points[first..last]
}

/// Largest of `values` where `mask` is not NaN (0 when there is none or all are ≤ 0), in
/// eight independent lanes so the loop vectorises.
pub fn max_where_defined(values: &[f64], mask: &[f64]) -> f64 {
    const LANES: usize = 8;
    let n = values.len().min(mask.len());
    let mut acc = [0.0f64; LANES];
    let (v8, m8) = (
        values[..n].chunks_exact(LANES),
        mask[..n].chunks_exact(LANES),
    );
    let (vr, mr) = (v8.remainder(), m8.remainder());
    for (v, m) in v8.zip(m8) {
        for k in 0..LANES {
            let x = if m[k].is_nan() { 0.0 } else { v[k] };
            acc[k] = if x > acc[k] { x } else { acc[k] };
        }
    }
    let mut best = acc.iter().fold(0.0f64, |a, &b| if b > a { b } else { a });
    for (v, m) in vr.iter().zip(mr) {
        if !m.is_nan() && *v > best {
            best = *v;
        }
    }
    best
}

/// Adds the kernels (support `r` metres, scaled by `factor`) of `points` to the grid rows
/// from `row0` held in `band`, skipping the rows outside it.
///
/// Compiled twice, for the x86-64 baseline (SSE2) and with AVX, and chosen at run time. AVX
/// only widens the vectors: each cell still gets the same additions and multiplications in
/// the same order (no fused multiply-add), so both give the same bits.
#[multiversion(targets("x86_64+avx"))]
fn sum_band<F: Fn(f64) -> f64 + Copy>(
    grid: &Grid,
    points: &[(f64, f64, f64)],
    band: &mut [f64],
    row0: usize,
    r: f64,
    factor: f64,
    shape: F,
) {
    let c = grid.cell_m;
    let row1 = row0 + band.len() / grid.nx;
    // Squared x offsets of the current point's columns, reused across its rows.
    let mut dx2: Vec<f64> = Vec::new();
    for &(x, y, w) in points {
        let Some((iy0, iy1)) = axis_range(y, r, grid.y0_m, c, grid.ny) else {
            continue;
        };
        let (iy0, iy1) = (iy0.max(row0), iy1.min(row1 - 1));
        if iy0 > iy1 {
            continue;
        }
        // One column span per point (the support's bounding square): a fixed-width row keeps
        // the inner loop branch-free; the shape function zeroes the corners.
        let Some((ix0, ix1)) = axis_range(x, r, grid.x0_m, c, grid.nx) else {
            continue;
        };
        let width = ix1 + 1 - ix0;
        let wf = w * factor;
        let dx0 = grid.x0_m + (ix0 as f64 + 0.5) * c - x;
        dx2.clear();
        dx2.extend((0..width).map(|k| (dx0 + k as f64 * c).powi(2)));
        for iy in iy0..=iy1 {
            let dy2 = (grid.y0_m + (iy as f64 + 0.5) * c - y).powi(2);
            let start = (iy - row0) * grid.nx + ix0;
            let row = &mut band[start..start + width];
            for (cell, &d) in row.iter_mut().zip(&dx2) {
                *cell += wf * shape(d + dy2);
            }
        }
    }
}

/// Grid rows per parallel band of the exact sum: small enough to share the work of an
/// unevenly populated county among the threads, large enough that the points re-read at band
/// edges (those within reach of a neighbouring band) are few.
const BAND_ROWS: usize = 64;

/// Weighted points (x, y, weight) reordered by the grid row they fall in (counting sort,
/// stable), with where each row's points start. Visiting points row by row keeps the few
/// grid rows a kernel touches in cache: over a county-sized grid (tens of MB) the order of
/// the input otherwise makes almost every row update a main-memory miss, which costs ~6× the
/// arithmetic. Points south or north of the grid go to its first or last row (NaN to the
/// first).
#[derive(Debug, Clone)]
pub struct RowOrdered {
    points: Vec<(f64, f64, f64)>,
    /// `ny + 1` offsets into `points` (at least 2).
    row_starts: Vec<usize>,
}

impl RowOrdered {
    /// The points `(xs[i], ys[i], ws[i])` in row order.
    pub fn new(grid: &Grid, xs: &[f64], ys: &[f64], ws: &[f64]) -> Self {
        let n = xs.len().min(ys.len()).min(ws.len());
        Self::from_indexed(grid, n, |i| Some((xs[i], ys[i], ws[i])))
    }

    /// The points `point(i)` gives for `i` in `0..n` (skipping `None`), in row order.
    /// `point` is called twice per index (count, then place) and must answer alike.
    pub fn from_indexed(
        grid: &Grid,
        n: usize,
        point: impl Fn(usize) -> Option<(f64, f64, f64)>,
    ) -> Self {
        let rows = grid.ny.max(1);
        let row_of = |y: f64| (((y - grid.y0_m) / grid.cell_m).max(0.0) as usize).min(rows - 1);
        let mut row_starts = vec![0usize; rows + 1];
        for (_, y, _) in (0..n).filter_map(&point) {
            row_starts[row_of(y) + 1] += 1;
        }
        for i in 1..=rows {
            row_starts[i] += row_starts[i - 1];
        }
        let mut next = row_starts.clone();
        let mut points = vec![(0.0, 0.0, 0.0); row_starts[rows]];
        for (x, y, w) in (0..n).filter_map(&point) {
            let slot = &mut next[row_of(y)];
            points[*slot] = (x, y, w);
            *slot += 1;
        }
        Self { points, row_starts }
    }

    /// The points, row by row.
    pub fn points(&self) -> &[(f64, f64, f64)] {
        &self.points
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Sum of the weights.
    pub fn total_weight(&self) -> f64 {
        self.points.iter().map(|p| p.2).sum()
    }
}

/// Index range of the cell centres within `half` of `v` along one axis of `n` cells of side
/// `c` starting at `origin`.
#[inline(always)]
fn axis_range(v: f64, half: f64, origin: f64, c: f64, n: usize) -> Option<(usize, usize)> {
    let lo = ((v - half - origin) / c - 0.5).ceil().max(0.0);
    let hi = ((v + half - origin) / c - 0.5).floor();
    if hi < 0.0 || lo > (n as f64 - 1.0) || lo > hi {
        return None;
    }
    Some((lo as usize, (hi as usize).min(n - 1)))
}

/// Largest error of [`kde_binned`] for one unit of weight, in the output's units: the
/// bilinear-interpolation bound (c²/8)·(max|∂²K/∂x²| + max|∂²K/∂y²|) for the kernel's
/// shape, times the scaling factor. `None` for kernels that are not smooth enough for the
/// bound (uniform, triangular, Epanechnikov have a jump or a kink at the edge).
pub fn binned_error_bound_per_weight(
    kernel: Kernel,
    h_m: f64,
    cell_m: f64,
    scaling: Scaling,
) -> Option<f64> {
    let h2 = h_m * h_m;
    // max |∂²shape/∂x²|: quartic 8/h² (at the rim), Gaussian 1/h² (at the centre).
    let second = match kernel {
        Kernel::Quartic => 8.0 / h2,
        Kernel::Gaussian => 1.0 / h2,
        _ => return None,
    };
    Some(cell_m * cell_m / 8.0 * 2.0 * second * scaling.factor(kernel, h_m))
}

/// Fast approximate KDE for large bandwidths: each point's weight is split bilinearly over
/// the four cell centres around it (linear binning), then the binned weights are convolved
/// with the kernel sampled at whole-cell offsets, visiting only non-empty bins. The cost is
/// O(n + bins · (support/cell)²) with no per-cell kernel evaluation. The error at any cell is
/// at most [`binned_error_bound_per_weight`] × the weight within the support (plus one cell)
/// of it. Only quartic and Gaussian kernels are accepted (`None` otherwise).
pub fn kde_binned(
    grid: &Grid,
    xs: &[f64],
    ys: &[f64],
    ws: &[f64],
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
) -> Option<Vec<f64>> {
    let points = xs.iter().zip(ys).zip(ws).map(|((&x, &y), &w)| (x, y, w));
    kde_binned_points(grid, points, kernel, h_m, scaling)
}

/// [`kde_binned`] over weighted points `(x, y, weight)` in any order.
pub fn kde_binned_points(
    grid: &Grid,
    points: impl Iterator<Item = (f64, f64, f64)>,
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
) -> Option<Vec<f64>> {
    binned_error_bound_per_weight(kernel, h_m, grid.cell_m, scaling)?;
    let c = grid.cell_m;
    let reach = (kernel.support_m(h_m) / c).ceil() as i64;
    // Bins cover the grid plus a margin, so points off the grid still reach in.
    let m = reach + 1;
    let bnx = grid.nx as i64 + 2 * m;
    let bny = grid.ny as i64 + 2 * m;
    let mut bins = vec![0.0f64; (bnx * bny) as usize];
    for (x, y, w) in points {
        let fx = (x - grid.x0_m) / c - 0.5;
        let fy = (y - grid.y0_m) / c - 0.5;
        let (ix, iy) = (fx.floor(), fy.floor());
        let (tx, ty) = (fx - ix, fy - iy);
        let (bx, by) = (ix as i64 + m, iy as i64 + m);
        if bx < 0 || by < 0 || bx + 1 >= bnx || by + 1 >= bny {
            continue;
        }
        let k = (by * bnx + bx) as usize;
        bins[k] += w * (1.0 - tx) * (1.0 - ty);
        bins[k + 1] += w * tx * (1.0 - ty);
        bins[k + bnx as usize] += w * (1.0 - tx) * ty;
        bins[k + bnx as usize + 1] += w * tx * ty;
    }
    let factor = scaling.factor(kernel, h_m);
    let side = (2 * reach + 1) as usize;
    let stencil: Vec<f64> = (0..side * side)
        .map(|k| {
            let dx = (k % side) as f64 - reach as f64;
            let dy = (k / side) as f64 - reach as f64;
            kernel.shape((dx * dx + dy * dy) * c * c, h_m) * factor
        })
        .collect();
    // Dense, symmetric convolution row by row. The kernel is radial, so stencil rows ±d are
    // equal and each row is symmetric in ±t: bin rows oy+d and oy−d are added first, then
    // each tap pair is one pass over the row. Every pass is a plain loop over contiguous
    // memory, which the compiler vectorises.
    let r = reach as usize;
    let m = m as usize;
    let (nx, bnx) = (grid.nx, bnx as usize);
    let row_nonzero: Vec<bool> = bins
        .chunks_exact(bnx)
        .map(|row| row.iter().any(|v| *v != 0.0))
        .collect();
    let mut out = vec![0.0; grid.len()];
    if nx == 0 {
        return Some(out);
    }
    // Output rows are independent: they are computed in parallel, each exactly as alone.
    out.par_chunks_mut(nx).enumerate().for_each_init(
        || vec![0.0; bnx],
        |v, (oy, out_row)| {
            convolve_row(&bins, &row_nonzero, &stencil, bnx, m, r, oy + m, v, out_row)
        },
    );
    Some(out)
}

/// One output row of the binned sum: bin row `by` and the rows within `r` of it, convolved
/// with the sampled kernel `stencil` (side 2r + 1), into `out_row`; `v` is scratch of `bnx`.
///
/// Compiled for SSE2 and AVX like [`sum_band`], with the same bits from both.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx"))]
fn convolve_row(
    bins: &[f64],
    row_nonzero: &[bool],
    stencil: &[f64],
    bnx: usize,
    m: usize,
    r: usize,
    by: usize,
    v: &mut [f64],
    out_row: &mut [f64],
) {
    let nx = out_row.len();
    let side = 2 * r + 1;
    for d in 0..=r {
        let (lo, hi) = (by - d, by + d);
        let (use_lo, use_hi) = (row_nonzero[lo], d > 0 && row_nonzero[hi]);
        if !use_lo && !use_hi {
            continue;
        }
        let row = |k: usize| &bins[k * bnx..(k + 1) * bnx];
        match (use_lo, use_hi) {
            (true, true) => {
                for ((o, a), b) in v.iter_mut().zip(row(lo)).zip(row(hi)) {
                    *o = a + b;
                }
            }
            (true, false) => v.copy_from_slice(row(lo)),
            _ => v.copy_from_slice(row(hi)),
        }
        let st = &stencil[(r + d) * side..(r + d + 1) * side];
        let c0 = st[r];
        if c0 != 0.0 {
            for (o, a) in out_row.iter_mut().zip(&v[m..m + nx]) {
                *o += c0 * a;
            }
        }
        for t in 1..=r {
            let ct = st[r + t];
            if ct == 0.0 {
                continue;
            }
            let (a, b) = (&v[m + t..m + t + nx], &v[m - t..m - t + nx]);
            for ((o, a), b) in out_row.iter_mut().zip(a).zip(b) {
                *o += ct * (a + b);
            }
        }
    }
}

/// Brute-force reference: every point against every cell centre, O(n · cells). For tests
/// and benchmarks only.
pub fn kde_brute_force(
    grid: &Grid,
    xs: &[f64],
    ys: &[f64],
    ws: &[f64],
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
) -> Vec<f64> {
    let factor = scaling.factor(kernel, h_m);
    let mut out = vec![0.0; grid.len()];
    for iy in 0..grid.ny {
        for ix in 0..grid.nx {
            let (cx, cy) = grid.centre(ix, iy);
            out[iy * grid.nx + ix] = xs
                .iter()
                .zip(ys)
                .zip(ws)
                .map(|((x, y), w)| w * kernel.shape((cx - x).powi(2) + (cy - y).powi(2), h_m))
                .sum::<f64>()
                * factor;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::f64::consts::PI;

    fn points(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let xs = (0..n)
            .map(|_| rng.random_range(600_000.0..605_000.0))
            .collect();
        let ys = (0..n)
            .map(|_| rng.random_range(150_000.0..154_000.0))
            .collect();
        let ws = (0..n).map(|_| rng.random_range(0.5..3.0)).collect();
        (xs, ys, ws)
    }

    /// The exact path against the ArcGIS formula written out independently, point by cell.
    #[test]
    fn exact_path_matches_the_quartic_formula_to_1e9() {
        let (xs, ys, ws) = points(300, 1);
        let g = Grid::covering(599_500.0, 149_500.0, 605_500.0, 154_500.0, 50.0);
        let h = 300.0;
        let fast = kde_exact(&g, &xs, &ys, &ws, Kernel::Quartic, h, Scaling::Density);
        let mut worst: f64 = 0.0;
        for iy in 0..g.ny {
            for ix in 0..g.nx {
                let (cx, cy) = g.centre(ix, iy);
                let mut want = 0.0;
                for i in 0..xs.len() {
                    let d2 = (cx - xs[i]).powi(2) + (cy - ys[i]).powi(2);
                    if d2 < h * h {
                        want += ws[i] * 3.0 / (PI * h * h) * (1.0 - d2 / (h * h)).powi(2);
                    }
                }
                want *= 1e6;
                let got = fast[iy * g.nx + ix];
                if want > 0.0 {
                    worst = worst.max((got - want).abs() / want);
                } else {
                    assert_eq!(got, 0.0);
                }
            }
        }
        assert!(worst <= 1e-9, "relative error {worst}");
    }

    /// The band-wise masked maximum is the maximum of the whole surface over the same mask,
    /// to the bit, for every kernel, with a mask that leaves out the true peak.
    #[test]
    fn masked_maximum_is_the_surface_maximum() {
        let (xs, ys, ws) = points(2_000, 5);
        // Rows enough for several bands.
        let g = Grid::covering(599_000.0, 149_000.0, 606_000.0, 155_000.0, 25.0);
        assert!(g.ny > 2 * BAND_ROWS);
        let rows = RowOrdered::new(&g, &xs, &ys, &ws);
        for kernel in [
            Kernel::Quartic,
            Kernel::Epanechnikov,
            Kernel::Triangular,
            Kernel::Uniform,
            Kernel::Gaussian,
        ] {
            let full = kde_exact_rows(&g, &rows, kernel, 200.0, Scaling::Density);
            let peak = full
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap();
            // Defined everywhere but a disc around the peak and every seventh cell.
            let (px, py) = (peak % g.nx, peak / g.nx);
            let mask: Vec<f64> = (0..g.len())
                .map(|i| {
                    let (x, y) = (i % g.nx, i / g.nx);
                    let near = x.abs_diff(px).pow(2) + y.abs_diff(py).pow(2) < 9;
                    if near || i % 7 == 0 {
                        f64::NAN
                    } else {
                        0.0
                    }
                })
                .collect();
            let want = full
                .iter()
                .zip(&mask)
                .filter(|(_, m)| !m.is_nan())
                .map(|(v, _)| *v)
                .fold(0.0, f64::max);
            let got = kde_exact_max(&g, &rows, kernel, 200.0, Scaling::Density, &mask);
            assert!(want > 0.0 && want < full[peak]);
            assert_eq!(got.to_bits(), want.to_bits(), "{kernel:?}");
        }
        // Nothing defined: 0.
        let none = vec![f64::NAN; g.len()];
        assert_eq!(
            kde_exact_max(&g, &rows, Kernel::Quartic, 200.0, Scaling::Density, &none),
            0.0
        );
    }

    #[test]
    fn every_kernel_agrees_with_brute_force() {
        let (xs, ys, ws) = points(120, 2);
        let g = Grid::covering(599_000.0, 149_000.0, 606_000.0, 155_000.0, 100.0);
        for k in Kernel::ALL {
            for s in [Scaling::Density, Scaling::QgisRaw] {
                let a = kde_exact(&g, &xs, &ys, &ws, k, 250.0, s);
                let b = kde_brute_force(&g, &xs, &ys, &ws, k, 250.0, s);
                for (p, q) in a.iter().zip(&b) {
                    assert!(
                        (p - q).abs() <= 1e-9 * q.abs().max(1e-300),
                        "{} {p} {q}",
                        k.slug()
                    );
                }
            }
        }
    }

    /// Away from the edges, Σ density × cell area = Σ weights.
    #[test]
    fn mass_is_conserved_away_from_edges() {
        let (xs, ys, ws) = points(500, 3);
        let g = Grid::covering(598_000.0, 148_000.0, 607_000.0, 156_000.0, 25.0);
        for k in [Kernel::Quartic, Kernel::Epanechnikov, Kernel::Gaussian] {
            let d = kde_exact(&g, &xs, &ys, &ws, k, 300.0, Scaling::Density);
            let mass: f64 = d.iter().sum::<f64>() * g.cell_area_m2() / 1e6;
            let total: f64 = ws.iter().sum();
            assert!(
                (mass - total).abs() / total < 2e-3,
                "{}: {mass} vs {total}",
                k.slug()
            );
        }
    }

    /// The binned path stays within its stated bound of the exact sum at every cell: the
    /// bound per unit weight times the weight within the support plus one cell diagonal.
    #[test]
    fn binned_path_is_within_its_stated_bound() {
        let (xs, ys, ws) = points(400, 4);
        let g = Grid::covering(599_000.0, 149_000.0, 606_000.0, 155_000.0, 50.0);
        for (k, h) in [
            (Kernel::Quartic, 400.0),
            (Kernel::Gaussian, 150.0),
            (Kernel::Quartic, 1200.0),
        ] {
            let exact = kde_brute_force(&g, &xs, &ys, &ws, k, h, Scaling::Density);
            let fast = kde_binned(&g, &xs, &ys, &ws, k, h, Scaling::Density).unwrap();
            let per_w = binned_error_bound_per_weight(k, h, g.cell_m, Scaling::Density).unwrap();
            let reach = k.support_m(h) + g.cell_m * 2f64.sqrt();
            let mut worst_share: f64 = 0.0;
            for iy in 0..g.ny {
                for ix in 0..g.nx {
                    let (cx, cy) = g.centre(ix, iy);
                    let local: f64 = xs
                        .iter()
                        .zip(&ys)
                        .zip(&ws)
                        .filter(|((x, y), _)| (cx - *x).hypot(cy - *y) < reach)
                        .map(|(_, w)| w)
                        .sum();
                    let err = (fast[iy * g.nx + ix] - exact[iy * g.nx + ix]).abs();
                    let bound = per_w * local + 1e-9;
                    assert!(
                        err <= bound,
                        "{} h={h}: error {err} > bound {bound}",
                        k.slug()
                    );
                    worst_share = worst_share.max(err / bound);
                }
            }
            // The bound is not vacuous: the error reaches a visible part of it somewhere.
            assert!(
                worst_share > 0.01,
                "{} h={h}: bound far too loose ({worst_share})",
                k.slug()
            );
        }
        assert!(kde_binned(&g, &xs, &ys, &ws, Kernel::Uniform, 300.0, Scaling::Density).is_none());
    }

    /// Bands and rows run in parallel, but each cell's sum is formed in one fixed order: the
    /// surfaces are bit-identical whatever the number of threads, and equal to brute force.
    #[test]
    fn surfaces_do_not_depend_on_the_number_of_threads() {
        // The grid is narrower than the points' spread, so some points lie off it, some
        // within reach of its edges; 100 rows make several bands.
        let g = Grid::covering(600_500.0, 150_200.0, 604_500.0, 153_600.0, 34.0);
        let (xs, ys, ws) = points(4000, 17);
        let on = |threads: usize, binned: bool| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                if binned {
                    kde_binned(&g, &xs, &ys, &ws, Kernel::Quartic, 250.0, Scaling::Density).unwrap()
                } else {
                    kde_exact(&g, &xs, &ys, &ws, Kernel::Quartic, 250.0, Scaling::Density)
                }
            })
        };
        let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect::<Vec<_>>();
        for binned in [false, true] {
            let one = bits(on(1, binned));
            assert_eq!(one, bits(on(2, binned)), "binned: {binned}");
            assert_eq!(one, bits(on(5, binned)), "binned: {binned}");
        }
        let exact = on(3, false);
        let brute = kde_brute_force(&g, &xs, &ys, &ws, Kernel::Quartic, 250.0, Scaling::Density);
        let peak = brute.iter().cloned().fold(0.0, f64::max);
        assert!(peak > 0.0);
        for (a, b) in exact.iter().zip(&brute) {
            assert!((a - b).abs() <= 1e-9 * peak, "{a} vs {b}");
        }
    }

    /// On a machine with AVX (this one) the sums run in the AVX clones. A plain loop doing
    /// the same arithmetic cell by cell, point by point, gives the same bits: wider vectors
    /// change nothing but speed.
    #[test]
    fn the_vectorised_sum_equals_a_plain_loop_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        eprintln!(
            "AVX on this machine: {}",
            std::is_x86_feature_detected!("avx")
        );
        let g = Grid::covering(600_100.0, 150_100.0, 604_900.0, 153_900.0, 40.0);
        let (xs, ys, ws) = points(3000, 23);
        let h: f64 = 230.0;
        let got = kde_exact(&g, &xs, &ys, &ws, Kernel::Quartic, h, Scaling::Density);
        let rows = RowOrdered::new(&g, &xs, &ys, &ws);
        let factor = Scaling::Density.factor(Kernel::Quartic, h);
        let inv_h2 = 1.0 / (h * h);
        let c = g.cell_m;
        let mut want = vec![0.0; g.len()];
        for &(x, y, w) in rows.points() {
            let (Some((iy0, iy1)), Some((ix0, ix1))) = (
                axis_range(y, h, g.y0_m, c, g.ny),
                axis_range(x, h, g.x0_m, c, g.nx),
            ) else {
                continue;
            };
            let dx0 = g.x0_m + (ix0 as f64 + 0.5) * c - x;
            for iy in iy0..=iy1 {
                let dy2 = (g.y0_m + (iy as f64 + 0.5) * c - y).powi(2);
                for k in 0..=ix1 - ix0 {
                    let d2 = std::hint::black_box((dx0 + k as f64 * c).powi(2)) + dy2;
                    let u = (1.0 - d2 * inv_h2).max(0.0);
                    want[iy * g.nx + ix0 + k] += w * factor * (u * u);
                }
            }
        }
        assert!(want.iter().any(|&v| v > 0.0));
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "cell {i}: {a} vs {b}");
        }
    }
}
