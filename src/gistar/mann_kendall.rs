//! Mann–Kendall trend test with the tie correction.

use super::gi::normal_two_sided_p;

/// A Mann–Kendall result.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MannKendall {
    /// S = Σ_{i<j} sgn(xⱼ − xᵢ).
    pub s: f64,
    /// Var(S) with ties removed.
    pub var: f64,
    /// Continuity-corrected z.
    pub z: f64,
    /// Two-sided p.
    pub p: f64,
}

/// S, Var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)]/18 over tie groups of size t, and
/// Z = (S − 1)/√Var for S > 0, (S + 1)/√Var for S < 0, else 0.
pub fn mann_kendall(x: &[f64]) -> MannKendall {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            s += (x[j] - x[i]).signum() * f64::from(u8::from(x[j] != x[i]));
        }
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut k = 0;
    while k < n {
        let mut t = 1;
        while k + t < n && sorted[k + t] == sorted[k] {
            t += 1;
        }
        let t = t as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        k += t as usize;
    }
    let nf = n as f64;
    let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let z = if var <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var.sqrt()
    } else {
        0.0
    };
    MannKendall {
        s,
        var,
        z,
        p: if var > 0.0 {
            normal_two_sided_p(z)
        } else {
            1.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increasing_series_and_ties() {
        // 1..=10 strictly increasing: S = 45, Var = 10·9·25/18 = 125, Z = 44/√125.
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let r = mann_kendall(&x);
        assert_eq!(r.s, 45.0);
        assert_eq!(r.var, 125.0);
        assert!((r.z - 44.0 / 125f64.sqrt()).abs() < 1e-12);
        assert!(r.p < 0.001);
        // Ties: [1, 2, 2, 3]: S = 1+1+2 (from 1) ... pairs: (1,2)+,(1,2)+,(1,3)+,(2,2)0,(2,3)+,(2,3)+ = 5.
        // Var = (4·3·13 − 2·1·9)/18 = (156 − 18)/18.
        let r = mann_kendall(&[1.0, 2.0, 2.0, 3.0]);
        assert_eq!(r.s, 5.0);
        assert!((r.var - 138.0 / 18.0).abs() < 1e-12);
        // Flat: no trend.
        let r = mann_kendall(&[4.0; 6]);
        assert_eq!((r.s, r.z, r.p), (0.0, 0.0, 1.0));
        let r = mann_kendall(&[5.0, 4.0, 3.0, 2.0, 1.0]);
        assert!(r.z < 0.0 && r.s == -10.0);
    }
}
