//! Automatic bandwidth rules.

/// Least spread, metres, from which a bandwidth is chosen automatically: incidents whose
/// standard distance (or, for Scott's rule, either axis's standard deviation) is below it
/// have no spread to measure (police.uk snapping puts many on one point, and the mean of
/// seven or more equal coordinates is not bit-exact, so the test cannot be for zero).
pub const MIN_SPREAD_M: f64 = 1.0;

/// ArcGIS Kernel Density's default search radius (Silverman's rule of thumb, spatial variant):
/// h = 0.9 · min(SD, √(1/ln 2) · Dm) · n^(−1/5), with SD the standard distance (root mean
/// squared distance to the mean centre) and Dm the median distance to the mean centre (metres).
/// Where √(1/ln 2) · Dm is below [`MIN_SPREAD_M`] (more than half the points on the mean
/// centre) SD alone is used. Returns `None` for fewer than two points or SD below
/// [`MIN_SPREAD_M`].
pub fn arcgis_bandwidth_m(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len();
    if n < 2 || ys.len() != n {
        return None;
    }
    let mx = xs.iter().sum::<f64>() / n as f64;
    let my = ys.iter().sum::<f64>() / n as f64;
    let mut d: Vec<f64> = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| ((x - mx).powi(2) + (y - my).powi(2)).sqrt())
        .collect();
    let sd = (d.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    // (Also refuses a NaN spread.)
    if sd.is_nan() || sd < MIN_SPREAD_M {
        return None;
    }
    d.sort_by(f64::total_cmp);
    let dm = if n % 2 == 1 {
        d[n / 2]
    } else {
        0.5 * (d[n / 2 - 1] + d[n / 2])
    };
    let dm_term = (1.0 / std::f64::consts::LN_2).sqrt() * dm;
    let spread = if dm_term >= MIN_SPREAD_M {
        sd.min(dm_term)
    } else {
        sd
    };
    Some(0.9 * spread * (n as f64).powf(-0.2))
}

/// Scott's 2-D normal reference rule (as spatstat's bw.scott): σ per axis = sd · n^(−1/6).
/// Returns the geometric mean of the two σ, metres (a Gaussian σ; for a quartic use √8·σ);
/// `None` for fewer than two points or either axis's sd below [`MIN_SPREAD_M`].
pub fn scott_bandwidth_m(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len();
    if n < 2 || ys.len() != n {
        return None;
    }
    let sd = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / n as f64;
        (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt()
    };
    let (sx, sy) = (sd(xs), sd(ys));
    if sx.is_nan() || sy.is_nan() || sx < MIN_SPREAD_M || sy < MIN_SPREAD_M {
        return None;
    }
    let f = (n as f64).powf(-1.0 / 6.0);
    Some((sx * f * sy * f).sqrt())
}

/// Most points used by [`cv_bandwidth_m`]; larger inputs are thinned by a fixed stride, so
/// the choice is reproducible.
pub const CV_MAX_POINTS: usize = 3000;

/// Candidate Gaussian σ values for cross-validation: 40 steps, log-spaced from 10 m to
/// four times Scott's σ (at least 20 km).
pub fn cv_candidates_m(scott_m: f64) -> Vec<f64> {
    let (lo, hi) = (10f64, (4.0 * scott_m).max(20_000.0));
    (0..40)
        .map(|k| lo * (hi / lo).powf(k as f64 / 39.0))
        .collect()
}

/// Leave-one-out log-likelihood of a Gaussian KDE with σ = `sigma_m` at the given points:
/// Σᵢ ln( 1/(n−1) Σ_{j≠i} φ_σ(xᵢ − xⱼ) ). Neighbours beyond 8σ (weight < e⁻³²) are left out;
/// a point with none inside that radius scores the kernel's value at 8σ, so isolated points
/// penalise small σ without making the score −∞.
pub fn leave_one_out_log_likelihood(
    tree: &rstar::RTree<[f64; 2]>,
    pts: &[[f64; 2]],
    sigma_m: f64,
) -> f64 {
    let n = pts.len() as f64;
    let s2 = sigma_m * sigma_m;
    let norm = 1.0 / (2.0 * std::f64::consts::PI * s2 * (n - 1.0));
    let cut2 = 64.0 * s2;
    let floor = (-32.0f64).exp();
    pts.iter()
        .map(|p| {
            let sum: f64 = tree
                .locate_within_distance(*p, cut2)
                .map(|q| {
                    let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
                    (-0.5 * d2 / s2).exp()
                })
                .sum::<f64>()
                - 1.0; // the point itself, at distance 0
            (sum.max(floor) * norm).ln()
        })
        .sum()
}

/// Likelihood cross-validation (as spatstat's bw.ppl, on a Gaussian): the σ among
/// [`cv_candidates_m`] that maximises [`leave_one_out_log_likelihood`], on at most
/// [`CV_MAX_POINTS`] points. Returns σ in metres (for a compact kernel use √8·σ).
pub fn cv_bandwidth_m(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let scott = scott_bandwidth_m(xs, ys)?;
    let stride = xs.len().div_ceil(CV_MAX_POINTS).max(1);
    let pts: Vec<[f64; 2]> = xs
        .iter()
        .zip(ys)
        .step_by(stride)
        .map(|(x, y)| [*x, *y])
        .collect();
    if pts.len() < 3 {
        return None;
    }
    let tree = rstar::RTree::bulk_load(pts.clone());
    cv_candidates_m(scott)
        .into_iter()
        .map(|s| (s, leave_one_out_log_likelihood(&tree, &pts, s)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Case f08: many incidents on one snapped point have no spread, however their mean
    /// rounds; every automatic rule refuses them rather than return a bandwidth of 1e-10 m.
    #[test]
    fn coincident_points_have_no_automatic_bandwidth() {
        for n in [2usize, 5, 7, 12, 20, 200] {
            // EPSG:27700 of a snapped police.uk point, as the lattice transform gives it.
            let xs = vec![637_411.123_456_789; n];
            let ys = vec![167_893.987_654_321; n];
            assert_eq!(arcgis_bandwidth_m(&xs, &ys), None, "n = {n}");
            assert_eq!(scott_bandwidth_m(&xs, &ys), None, "n = {n}");
            assert_eq!(cv_bandwidth_m(&xs, &ys), None, "n = {n}");
        }
        // On one line: Scott's per-axis rule has no spread across it.
        let xs: Vec<f64> = (0..20).map(|i| 600_000.0 + 50.0 * i as f64).collect();
        assert_eq!(scott_bandwidth_m(&xs, &[160_000.0; 20]), None);
        // More than half on the mean centre: SD alone, as computed here independently.
        let mut xs = vec![0.0; 7];
        let mut ys = vec![0.0; 7];
        xs.extend([100.0, -100.0]);
        ys.extend([0.0, 0.0]);
        let sd = (2.0f64 * 100.0 * 100.0 / 9.0).sqrt();
        let h = arcgis_bandwidth_m(&xs, &ys).unwrap();
        assert!((h - 0.9 * sd * 9f64.powf(-0.2)).abs() < 1e-9, "{h}");
    }

    #[test]
    fn arcgis_four_point_vector() {
        // (±1000, 0), (0, ±1000): SD = Dm = 1000 → h = 0.9 · 1000 · 4^(−1/5) = 682.07 m.
        let xs = [1000.0, -1000.0, 0.0, 0.0];
        let ys = [0.0, 0.0, 1000.0, -1000.0];
        let h = arcgis_bandwidth_m(&xs, &ys).unwrap();
        assert!((h - 682.07).abs() < 0.005, "{h}");
        assert!(arcgis_bandwidth_m(&[1.0], &[1.0]).is_none());
        assert!(arcgis_bandwidth_m(&[1.0, 1.0], &[2.0, 2.0]).is_none());
    }

    #[test]
    fn scott_rule_scales_with_n_to_the_minus_one_sixth() {
        let xs: Vec<f64> = (0..64).map(|i| (i % 8) as f64 * 100.0).collect();
        let ys: Vec<f64> = (0..64).map(|i| (i / 8) as f64 * 100.0).collect();
        let sd = {
            let m = xs.iter().sum::<f64>() / 64.0;
            (xs.iter().map(|a| (a - m).powi(2)).sum::<f64>() / 63.0).sqrt()
        };
        let h = scott_bandwidth_m(&xs, &ys).unwrap();
        assert!((h - sd * 64f64.powf(-1.0 / 6.0)).abs() < 1e-9);
    }

    /// The CV choice maximises the leave-one-out likelihood computed independently, with no
    /// truncation, over the same candidates; and it tracks the spread of the data.
    #[test]
    fn cv_choice_maximises_the_untruncated_likelihood() {
        use rand::SeedableRng;
        use rand_distr_normal as normal;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        // Two tight clusters (σ 80 m) 4.2 km apart.
        for k in 0..300 {
            let (cx, cy) = if k % 2 == 0 {
                (600_000.0, 150_000.0)
            } else {
                (603_000.0, 153_000.0)
            };
            xs.push(cx + 80.0 * normal(&mut rng));
            ys.push(cy + 80.0 * normal(&mut rng));
        }
        let chosen = cv_bandwidth_m(&xs, &ys).unwrap();
        let n = xs.len() as f64;
        let brute = |s: f64| -> f64 {
            (0..xs.len())
                .map(|i| {
                    let f: f64 = (0..xs.len())
                        .filter(|j| *j != i)
                        .map(|j| {
                            let d2 = (xs[i] - xs[j]).powi(2) + (ys[i] - ys[j]).powi(2);
                            (-d2 / (2.0 * s * s)).exp() / (2.0 * std::f64::consts::PI * s * s)
                        })
                        .sum::<f64>()
                        / (n - 1.0);
                    f.ln()
                })
                .sum()
        };
        let cands = cv_candidates_m(scott_bandwidth_m(&xs, &ys).unwrap());
        let best = cands
            .iter()
            .copied()
            .max_by(|a, b| brute(*a).total_cmp(&brute(*b)))
            .unwrap();
        assert_eq!(chosen, best);
        // The clusters are 80 m wide: the choice is cluster-scale, far below Scott's σ,
        // which sees the 4.2 km between them.
        assert!(chosen > 15.0 && chosen < 120.0, "{chosen}");
        assert!(scott_bandwidth_m(&xs, &ys).unwrap() > 3.0 * chosen);
    }

    /// A standard normal draw by Box–Muller (keeps the test free of extra crates).
    fn rand_distr_normal(rng: &mut impl rand::Rng) -> f64 {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        let v: f64 = rng.random();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}
