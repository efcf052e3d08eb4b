//! Kernel density estimation on a grid: exact sums over the cells each incident reaches.

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
pub fn kde_exact(
    grid: &Grid,
    xs: &[f64],
    ys: &[f64],
    ws: &[f64],
    kernel: Kernel,
    h_m: f64,
    scaling: Scaling,
) -> Vec<f64> {
    let mut out = vec![0.0; grid.len()];
    let r = kernel.support_m(h_m);
    let r2 = r * r;
    let factor = scaling.factor(kernel, h_m);
    let c = grid.cell_m;
    let range = |v: f64, origin: f64, n: usize| -> Option<(usize, usize)> {
        let lo = ((v - r - origin) / c - 0.5).ceil().max(0.0);
        let hi = ((v + r - origin) / c - 0.5).floor();
        if hi < 0.0 || lo > (n as f64 - 1.0) || lo > hi {
            return None;
        }
        Some((lo as usize, (hi as usize).min(n - 1)))
    };
    for ((&x, &y), &w) in xs.iter().zip(ys).zip(ws) {
        let (Some((ix0, ix1)), Some((iy0, iy1))) =
            (range(x, grid.x0_m, grid.nx), range(y, grid.y0_m, grid.ny))
        else {
            continue;
        };
        let wf = w * factor;
        for iy in iy0..=iy1 {
            let dy = grid.y0_m + (iy as f64 + 0.5) * c - y;
            let dy2 = dy * dy;
            if dy2 >= r2 {
                continue;
            }
            let row = &mut out[iy * grid.nx..(iy + 1) * grid.nx];
            for (ix, cell) in row.iter_mut().enumerate().take(ix1 + 1).skip(ix0) {
                let dx = grid.x0_m + (ix as f64 + 0.5) * c - x;
                let s = kernel.shape(dx * dx + dy2, h_m);
                if s > 0.0 {
                    *cell += wf * s;
                }
            }
        }
    }
    out
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

    #[test]
    fn every_kernel_agrees_with_brute_force() {
        let (xs, ys, ws) = points(120, 2);
        let g = Grid::covering(599_000.0, 149_000.0, 606_000.0, 155_000.0, 100.0);
        for k in [
            Kernel::Quartic,
            Kernel::Epanechnikov,
            Kernel::Triangular,
            Kernel::Uniform,
            Kernel::Gaussian,
        ] {
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
}
