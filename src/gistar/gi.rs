//! Getis–Ord Gi* (ArcGIS form, binary weights including the cell itself), its two-sided
//! normal p, conditional-randomisation permutation p, and FDR confidence bins.

use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::temporal::benjamini_hochberg;

/// Gi* z per cell for values `x` and neighbour lists (not including the cell itself; the
/// statistic adds it with weight 1):
/// Gᵢ* = (Σⱼ wᵢⱼxⱼ − X̄Wᵢ) / (S·√((nWᵢ − Wᵢ²)/(n − 1))), Wᵢ = Σⱼ wᵢⱼ = Σⱼ wᵢⱼ².
/// All values equal (S = 0) gives z = 0 everywhere.
pub fn gi_star(x: &[f64], neighbours: &[Vec<u32>]) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let s = (x.iter().map(|v| v * v).sum::<f64>() / n - mean * mean)
        .max(0.0)
        .sqrt();
    neighbours
        .iter()
        .enumerate()
        .map(|(i, nb)| {
            let w = (nb.len() + 1) as f64;
            let sum = x[i] + nb.iter().map(|&j| x[j as usize]).sum::<f64>();
            let den = s * ((n * w - w * w) / (n - 1.0)).sqrt();
            if den > 0.0 {
                (sum - mean * w) / den
            } else {
                0.0
            }
        })
        .collect()
}

/// Two-sided p of a standard normal z: 2(1 − Φ(|z|)) = erfc(|z|/√2).
pub fn normal_two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Conditional randomisation (as esda): for each cell, its own value stays and its k
/// neighbours' values are drawn without replacement from the other n − 1 cells, `r` times.
/// Pseudo p = (min(#sim ≥ obs, #sim ≤ obs) + 1)/(r + 1): one-sided in the direction
/// observed, with a permutation that ties the observed sum counted in both tails, so a cell
/// that every permutation ties (an empty cell among empty neighbours, or any cell when
/// nothing was selected) gets p = 1, not 1/(r + 1). Without ties this is esda's fold,
/// min(#sim ≥ obs, r − #sim ≥ obs). (The tie rule as in pertpy's permutation test, PR 1094.)
///
/// As esda does by default, one table of random draws serves every cell: row s holds
/// k_max distinct indices in 0..n−1, drawn once from ChaCha8 seeded with `seed`; cell i maps
/// index j to j + 1 when j ≥ i, so its own value is never drawn and the draws stay distinct.
/// Results are identical whatever the number of threads, and the random numbers are drawn
/// r·k_max times instead of r·Σk times.
pub fn permutation_p(x: &[f64], neighbours: &[Vec<u32>], r: usize, seed: u64) -> Vec<f64> {
    let n = x.len();
    let k_max = neighbours.iter().map(Vec::len).max().unwrap_or(0);
    if n < 2 || k_max == 0 || r == 0 {
        return vec![1.0; neighbours.len()];
    }
    let k_max = k_max.min(n - 1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut table = vec![0u32; r * k_max];
    for row in table.chunks_mut(k_max) {
        let mut filled = 0;
        while filled < k_max {
            let j = rng.random_range(0..(n - 1) as u32);
            if !row[..filled].contains(&j) {
                row[filled] = j;
                filled += 1;
            }
        }
    }
    neighbours
        .par_iter()
        .enumerate()
        .map(|(i, nb)| {
            let k = nb.len().min(k_max);
            if k == 0 {
                return 1.0;
            }
            let obs: f64 = x[i] + nb.iter().map(|&j| x[j as usize]).sum::<f64>();
            // A tolerance keeps ties (common with counts) as ties despite rounding.
            let tol = 1e-9 * obs.abs().max(1.0);
            let (mut at_least, mut at_most) = (0usize, 0usize);
            for row in table.chunks_exact(k_max) {
                let mut sum = x[i];
                for &j in &row[..k] {
                    let j = j as usize;
                    sum += x[j + usize::from(j >= i)];
                }
                at_least += usize::from(sum >= obs - tol);
                at_most += usize::from(sum <= obs + tol);
            }
            let tail = at_least.min(at_most);
            (tail + 1) as f64 / (r + 1) as f64
        })
        .collect()
}

/// Confidence bins as ArcGIS builds them with FDR: Benjamini–Hochberg applied separately at
/// α = 0.10, 0.05, 0.01; a cell's bin is ±1, ±2 or ±3 for the strictest level at which it is
/// significant, signed by z; 0 if none.
pub fn confidence_bins(z: &[f64], p: &[f64]) -> Vec<i8> {
    let q = benjamini_hochberg(p);
    z.iter()
        .zip(&q)
        .map(|(z, q)| {
            let level = if *q <= 0.01 {
                3
            } else if *q <= 0.05 {
                2
            } else if *q <= 0.10 {
                1
            } else {
                0
            };
            if *z >= 0.0 {
                level
            } else {
                -level
            }
        })
        .collect()
}

/// Everything Gi* gives for one set of values.
#[derive(Debug, Clone)]
pub struct GiResult {
    /// z per cell.
    pub z: Vec<f64>,
    /// Two-sided normal p.
    pub p: Vec<f64>,
    /// Permutation pseudo p (empty when no permutations were run).
    pub p_sim: Vec<f64>,
    /// False when the statistic is undefined: every cell has the same value (S = 0, e.g. no
    /// incidents selected), so Gi* is 0/0. `z` is then 0 and `p`, `p_sim` 1 (neutral, so a
    /// monthly series stays usable), and layers write z, p and p_sim as null.
    pub defined: bool,
    /// Confidence bins −3..=3 (from p, FDR-corrected).
    pub bin: Vec<i8>,
}

impl GiResult {
    /// Runs Gi* with `permutations` (0 for none).
    pub fn compute(x: &[f64], neighbours: &[Vec<u32>], permutations: usize, seed: u64) -> Self {
        let z = gi_star(x, neighbours);
        let p: Vec<f64> = z.iter().map(|z| normal_two_sided_p(*z)).collect();
        let p_sim = if permutations > 0 {
            permutation_p(x, neighbours, permutations, seed)
        } else {
            Vec::new()
        };
        let bin = confidence_bins(&z, &p);
        let first = x.first().copied().unwrap_or(0.0);
        let defined = x.iter().any(|&v| v != first);
        GiResult {
            z,
            p,
            p_sim,
            defined,
            bin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The esda / ArcGIS vector from the methods reference: binary distance band ≤ 15.
    #[test]
    fn esda_vector_to_1e8() {
        let pts = [
            (10.0, 10.0),
            (20.0, 10.0),
            (40.0, 10.0),
            (15.0, 20.0),
            (30.0, 20.0),
            (30.0, 30.0),
        ];
        let x = [2.0, 3.0, 3.2, 5.0, 8.0, 7.0];
        let nb: Vec<Vec<u32>> = (0..6)
            .map(|i| {
                (0..6u32)
                    .filter(|&j| {
                        let (a, b): ((f64, f64), (f64, f64)) = (pts[i], pts[j as usize]);
                        j as usize != i && (a.0 - b.0).hypot(a.1 - b.1) <= 15.0
                    })
                    .collect()
            })
            .collect();
        let z = gi_star(&x, &nb);
        let want = [
            -1.39727626,
            -0.28917762,
            0.65064964,
            -0.28917762,
            1.23452088,
            2.02424331,
        ];
        for (a, b) in z.iter().zip(want) {
            assert!((a - b).abs() < 1e-8, "{z:?}");
        }
    }

    #[test]
    fn two_sided_p_and_bins() {
        assert!((normal_two_sided_p(1.959963984540054) - 0.05).abs() < 1e-12);
        assert!((normal_two_sided_p(-2.5758293035489) - 0.01).abs() < 1e-12);
        // One very strong hot cell among null ones: bin +3; a strong cold one −3.
        let z = [6.0, -6.0, 0.1, 0.2, -0.3, 0.0, 0.5, 0.4, -0.1, 0.0];
        let p: Vec<f64> = z.iter().map(|z| normal_two_sided_p(*z)).collect();
        let b = confidence_bins(&z, &p);
        assert_eq!(b, [3, -3, 0, 0, 0, 0, 0, 0, 0, 0]);
        // FDR per level: p = 0.02 alone at m = 2 passes at 0.05 (0.02 ≤ 0.025)...
        let b = confidence_bins(&[2.0, 2.0], &[0.02, 0.5]);
        assert_eq!(b, [2, 0]);
        // ...but at m = 10 it needs 0.02 ≤ 0.1/10 at 0.10: it fails every level.
        let mut p = vec![0.9; 10];
        p[0] = 0.02;
        assert_eq!(confidence_bins(&[2.0; 10], &p)[0], 0);
    }

    /// `n` cells on a ring, each with neighbours i±1, i±2 (k = 4).
    fn ring_neighbours(n: usize) -> Vec<Vec<u32>> {
        (0..n)
            .map(|i| {
                [n - 2, n - 1, 1, 2]
                    .iter()
                    .map(|d| ((i + d) % n) as u32)
                    .collect()
            })
            .collect()
    }

    /// Same results with one thread or two; a clear hotspot gets a small pseudo p.
    #[test]
    fn permutations_do_not_depend_on_threads() {
        let n = 400;
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * 37) % 11) as f64 + if i < 5 { 40.0 } else { 0.0 })
            .collect();
        let nb = ring_neighbours(n);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let a = one.install(|| permutation_p(&x, &nb, 199, 7));
        let b = two.install(|| permutation_p(&x, &nb, 199, 7));
        assert_eq!(a, b);
        assert!(a[2] <= 1.0 / 200.0 + 1e-12, "{}", a[2]);
        let c = one.install(|| permutation_p(&x, &nb, 199, 8));
        assert_ne!(a, c, "the seed matters");
        assert!(a.iter().all(|p| *p > 0.0 && *p <= 1.0));
    }

    /// C(n, k) as f64.
    fn choose(n: u64, k: u64) -> f64 {
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }

    /// Ties count in both tails (case f11): with nothing selected every p_sim is 1; an empty
    /// cell among empty neighbours is not extreme; and p_sim approaches the exact
    /// hypergeometric tail of the conditional randomisation.
    #[test]
    fn ties_are_in_both_tails_and_p_sim_matches_the_exact_tail() {
        let n = 50usize;
        let nb = ring_neighbours(n);
        let none = permutation_p(&vec![0.0; n], &nb, 999, 1);
        assert!(none.iter().all(|p| *p == 1.0), "{none:?}");

        // Ones at cells 0, 1 and 30.
        let mut x = vec![0.0; n];
        for i in [0, 1, 30] {
            x[i] = 1.0;
        }
        let r = 19_999;
        let p = permutation_p(&x, &nb, r, 3);
        let c49 = choose(49, 4);
        // Cell 15: 0 among zeros, obs 0. Its 4 draws come from 49 cells holding 3 ones:
        // P(sum <= 0) = C(46,4)/C(49,4), P(sum >= 0) = 1.
        let exact = choose(46, 4) / c49;
        assert!((p[15] - exact).abs() < 0.015, "{} vs {exact}", p[15]);
        // Cell 0: value 1 with one 1 among its neighbours (cell 1), obs 2. The draws come
        // from 49 cells holding 2 ones: P(sum >= 2) = P(H >= 1) = 1 − C(47,4)/C(49,4), which
        // is smaller than P(sum <= 2) = 1 − P(H = 2).
        let exact = 1.0 - choose(47, 4) / c49;
        assert!((p[0] - exact).abs() < 0.015, "{} vs {exact}", p[0]);
    }
}
