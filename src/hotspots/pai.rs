//! Predictive Accuracy Index (Chainey, Tompson & Uhlig 2008).

/// PAI = (n/N) / (a/A): share of incidents captured over share of area. `None` when any
/// total is zero.
pub fn pai(n: f64, total_n: f64, a: f64, total_a: f64) -> Option<f64> {
    (total_n > 0.0 && a > 0.0 && total_a > 0.0).then(|| (n / total_n) / (a / total_a))
}

/// PAI at k = 1..=len for equal-area units ranked by `pred` (highest first; ties by the
/// lowest observed count first, as R's ptools does), counting `obs`.
pub fn pai_curve(obs: &[f64], pred: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..obs.len()).collect();
    order.sort_by(|&a, &b| pred[b].total_cmp(&pred[a]).then(obs[a].total_cmp(&obs[b])));
    let total: f64 = obs.iter().sum();
    let units = obs.len() as f64;
    let mut captured = 0.0;
    order
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            captured += obs[i];
            pai(captured, total, (k + 1) as f64, units).unwrap_or(f64::NAN)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The methods reference's vector (ptools algorithm).
    #[test]
    fn ptools_vector() {
        let got = pai_curve(
            &[6.0, 7.0, 3.0, 2.0, 1.0, 0.0],
            &[8.0, 4.0, 4.0, 2.0, 1.0, 0.0],
        );
        let want = [1.8947, 1.4211, 1.6842, 1.4211, 1.2000, 1.0000];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 5e-5, "{got:?}");
        }
        assert_eq!(pai(1.0, 0.0, 1.0, 1.0), None);
    }
}
