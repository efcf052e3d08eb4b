//! Automatic bandwidth rules.

/// ArcGIS Kernel Density's default search radius (Silverman's rule of thumb, spatial variant):
/// h = 0.9 · min(SD, √(1/ln 2) · Dm) · n^(−1/5), with SD the standard distance (root mean
/// squared distance to the mean centre) and Dm the median distance to the mean centre (metres).
/// Returns `None` for fewer than two points or no spread.
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
    d.sort_by(f64::total_cmp);
    let dm = if n % 2 == 1 {
        d[n / 2]
    } else {
        0.5 * (d[n / 2 - 1] + d[n / 2])
    };
    let spread = sd.min((1.0 / std::f64::consts::LN_2).sqrt() * dm);
    let h = 0.9 * spread * (n as f64).powf(-0.2);
    (h > 0.0).then_some(h)
}

/// Scott's 2-D normal reference rule (as spatstat's bw.scott): σ per axis = sd · n^(−1/6).
/// Returns the geometric mean of the two σ, metres (a Gaussian σ; for a quartic use √8·σ).
pub fn scott_bandwidth_m(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len();
    if n < 2 || ys.len() != n {
        return None;
    }
    let sd = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / n as f64;
        (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt()
    };
    let f = (n as f64).powf(-1.0 / 6.0);
    let s = (sd(xs) * f * sd(ys) * f).sqrt();
    (s > 0.0).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
