//! Threshold rules: which surface values count as "hot".

use std::str::FromStr;

/// A rule that turns a surface into a single threshold value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// The densest `share` of land cells (0–1): 0.01 = the top 1% of land area.
    TopLandShare(f64),
    /// Density at least `k` × the mean over land cells.
    MeanMultiple(f64),
}

impl Default for ThresholdRule {
    fn default() -> Self {
        ThresholdRule::TopLandShare(0.01)
    }
}

impl ThresholdRule {
    /// The threshold for `values` (NaN = off land, ignored). `None` when no land cell has
    /// a positive value.
    pub fn threshold(self, values: &[f64]) -> Option<f64> {
        let mut land: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        if !land.iter().any(|v| *v > 0.0) {
            return None;
        }
        let t = match self {
            ThresholdRule::TopLandShare(share) => {
                land.sort_by(|a, b| b.total_cmp(a));
                let k = ((land.len() as f64 * share).ceil() as usize).clamp(1, land.len());
                land[k - 1]
            }
            ThresholdRule::MeanMultiple(k) => k * land.iter().sum::<f64>() / land.len() as f64,
        };
        // Never call empty land hot.
        Some(t.max(f64::MIN_POSITIVE))
    }

    /// Text for metadata and the command line.
    pub fn describe(self) -> String {
        match self {
            ThresholdRule::TopLandShare(s) => format!("top:{}%", s * 100.0),
            ThresholdRule::MeanMultiple(k) => format!("mean:{k}"),
        }
    }
}

impl FromStr for ThresholdRule {
    type Err = String;
    /// `top:1%` (or `top:0.01`), `mean:3`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("threshold '{s}': expected top:P% (densest share of land) or mean:K");
        let (kind, v) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "top" => {
                let share = match v.strip_suffix('%') {
                    Some(p) => p.parse::<f64>().map_err(|_| bad())? / 100.0,
                    None => v.parse::<f64>().map_err(|_| bad())?,
                };
                (share > 0.0 && share <= 1.0)
                    .then_some(ThresholdRule::TopLandShare(share))
                    .ok_or_else(bad)
            }
            "mean" => v
                .parse::<f64>()
                .ok()
                .filter(|k| *k > 0.0 && k.is_finite())
                .map(ThresholdRule::MeanMultiple)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_share_keeps_that_share_of_land_cells() {
        // 200 land cells valued 1..=200 and some sea.
        let mut v: Vec<f64> = (1..=200).map(f64::from).collect();
        v.extend([f64::NAN; 50]);
        let t = ThresholdRule::TopLandShare(0.05).threshold(&v).unwrap();
        assert_eq!(v.iter().filter(|x| **x >= t).count(), 10);
        let t = ThresholdRule::MeanMultiple(1.5).threshold(&v).unwrap();
        assert_eq!(t, 1.5 * 100.5);
        assert!(ThresholdRule::default()
            .threshold(&[0.0, f64::NAN])
            .is_none());
    }

    #[test]
    fn parses_rules() {
        assert_eq!("top:1%".parse(), Ok(ThresholdRule::TopLandShare(0.01)));
        assert_eq!("top:0.02".parse(), Ok(ThresholdRule::TopLandShare(0.02)));
        assert_eq!("mean:3".parse(), Ok(ThresholdRule::MeanMultiple(3.0)));
        assert!("top:0%".parse::<ThresholdRule>().is_err());
        assert!("max:2".parse::<ThresholdRule>().is_err());
    }
}
