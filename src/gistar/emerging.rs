//! Emerging hotspot analysis (ArcGIS's categories): Gi* per monthly slice, a Mann–Kendall
//! trend on each cell's z series, and the pattern of significant hot and cold steps.

use serde::Serialize;

use super::gi::GiResult;
use super::mann_kendall::{mann_kendall, MannKendall};

/// ArcGIS's 17 categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Category {
    NoPattern,
    NewHot,
    ConsecutiveHot,
    IntensifyingHot,
    PersistentHot,
    DiminishingHot,
    SporadicHot,
    OscillatingHot,
    HistoricalHot,
    NewCold,
    ConsecutiveCold,
    IntensifyingCold,
    PersistentCold,
    DiminishingCold,
    SporadicCold,
    OscillatingCold,
    HistoricalCold,
}

impl Category {
    /// snake_case name.
    pub fn slug(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }
}

/// Significance of a Mann–Kendall trend.
pub const TREND_ALPHA: f64 = 0.05;
/// Share of steps that makes a pattern "persistent" (ArcGIS: 90%).
pub const PERSISTENT_SHARE: f64 = 0.9;

/// Classifies one cell from its per-step bins (−3..=3; hot = bin ≥ 1, cold = bin ≤ −1) and
/// the Mann–Kendall trend of its z series. Rules (hot; cold mirrors them):
/// - ≥ 90% of steps hot: final step not hot → historical; else significant upward trend →
///   intensifying; downward → diminishing; none → persistent.
/// - < 90% hot and the final step hot: any earlier cold step → oscillating; else never hot
///   before → new; else one uninterrupted run of ≥ 2 hot steps ending at the final step with
///   none before it → consecutive; else sporadic.
pub fn classify(bins: &[i8], trend: &MannKendall) -> Category {
    let n = bins.len();
    if n == 0 {
        return Category::NoPattern;
    }
    let up = trend.p <= TREND_ALPHA && trend.z > 0.0;
    let down = trend.p <= TREND_ALPHA && trend.z < 0.0;
    let pattern = |sign: i8| -> Option<usize> {
        let is = |b: i8| b * sign >= 1;
        let opposite = |b: i8| b * sign <= -1;
        let hot: Vec<bool> = bins.iter().map(|b| is(*b)).collect();
        let share = hot.iter().filter(|h| **h).count() as f64 / n as f64;
        let last = hot[n - 1];
        // Index into the category table below.
        if share >= PERSISTENT_SHARE {
            return Some(if !last {
                7
            } else if (sign > 0 && up) || (sign < 0 && down) {
                2
            } else if (sign > 0 && down) || (sign < 0 && up) {
                4
            } else {
                3
            });
        }
        if !last {
            return None;
        }
        let before = &bins[..n - 1];
        if before.iter().any(|b| opposite(*b)) {
            return Some(6);
        }
        if !hot[..n - 1].iter().any(|h| *h) {
            return Some(0);
        }
        let run = hot.iter().rev().take_while(|h| **h).count();
        if run >= 2 && !hot[..n - run].iter().any(|h| *h) {
            return Some(1);
        }
        Some(5)
    };
    use Category::*;
    const HOT: [Category; 8] = [
        NewHot,
        ConsecutiveHot,
        IntensifyingHot,
        PersistentHot,
        DiminishingHot,
        SporadicHot,
        OscillatingHot,
        HistoricalHot,
    ];
    const COLD: [Category; 8] = [
        NewCold,
        ConsecutiveCold,
        IntensifyingCold,
        PersistentCold,
        DiminishingCold,
        SporadicCold,
        OscillatingCold,
        HistoricalCold,
    ];
    // A final hot step decides for hot, a final cold step for cold; otherwise only the
    // historical patterns can apply.
    if let Some(k) = pattern(1) {
        return HOT[k];
    }
    if let Some(k) = pattern(-1) {
        return COLD[k];
    }
    NoPattern
}

/// One cell's emerging-hotspot result.
#[derive(Debug, Clone, Serialize)]
pub struct EmergingCell {
    /// Category.
    pub category: Category,
    /// Mann–Kendall z of the cell's Gi* z series.
    pub trend_z: f64,
    /// Its two-sided p.
    pub trend_p: f64,
    /// Steps that were significant hot spots.
    pub hot_steps: usize,
    /// Steps that were significant cold spots.
    pub cold_steps: usize,
    /// Bin at the final step.
    pub final_bin: i8,
    /// Bin at each step (−3..=3), first step first.
    pub bins: Vec<i8>,
}

/// Runs Gi* on each slice (values per cell per step, same cells) and classifies each cell.
pub fn emerging_hotspots(slices: &[Vec<f64>], neighbours: &[Vec<u32>]) -> Vec<EmergingCell> {
    let results: Vec<GiResult> = slices
        .iter()
        .map(|x| GiResult::compute(x, neighbours, 0, 0))
        .collect();
    (0..neighbours.len())
        .map(|c| {
            let z: Vec<f64> = results.iter().map(|r| r.z[c]).collect();
            let bins: Vec<i8> = results.iter().map(|r| r.bin[c]).collect();
            let mk = mann_kendall(&z);
            EmergingCell {
                category: classify(&bins, &mk),
                trend_z: mk.z,
                trend_p: mk.p,
                hot_steps: bins.iter().filter(|b| **b >= 1).count(),
                cold_steps: bins.iter().filter(|b| **b <= -1).count(),
                final_bin: bins.last().copied().unwrap_or(0),
                bins,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_of(bins: &[i8]) -> MannKendall {
        // The trend of a z series shaped like the bins, as the classifier would see it.
        mann_kendall(&bins.iter().map(|b| f64::from(*b)).collect::<Vec<_>>())
    }

    fn flat() -> MannKendall {
        MannKendall {
            s: 0.0,
            var: 1.0,
            z: 0.0,
            p: 1.0,
        }
    }

    fn trend(z: f64) -> MannKendall {
        MannKendall {
            s: z,
            var: 1.0,
            z,
            p: 0.001,
        }
    }

    #[test]
    fn each_hot_rule_with_a_constructed_series() {
        use Category::*;
        let z = [0i8; 10];
        assert_eq!(classify(&z, &flat()), NoPattern);
        let mut new = [0i8; 10];
        new[9] = 2;
        assert_eq!(classify(&new, &mk_of(&new)), NewHot);
        let cons = [0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
        assert_eq!(classify(&cons, &flat()), ConsecutiveHot);
        // Hot in all 10 steps: the trend decides.
        let all = [1i8; 10];
        assert_eq!(classify(&all, &trend(3.0)), IntensifyingHot);
        assert_eq!(classify(&all, &flat()), PersistentHot);
        assert_eq!(classify(&all, &trend(-3.0)), DiminishingHot);
        // Sporadic: on and off, final hot, never cold.
        let spor = [0, 1, 0, 0, 2, 0, 1, 0, 0, 1];
        assert_eq!(classify(&spor, &flat()), SporadicHot);
        // Oscillating: final hot, cold earlier.
        let osc = [0, -2, 0, 1, 0, -1, 0, 0, 0, 2];
        assert_eq!(classify(&osc, &flat()), OscillatingHot);
        // Historical: hot 90% but not at the end.
        let hist = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
        assert_eq!(classify(&hist, &flat()), HistoricalHot);
        // A run of hot steps after an earlier hot step is not "consecutive".
        let broken = [0, 1, 0, 0, 0, 0, 0, 1, 1, 1];
        assert_eq!(classify(&broken, &flat()), SporadicHot);
        // 90% hot including the end with a trend is not "new"/"consecutive".
        let nine = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(classify(&nine, &trend(2.5)), IntensifyingHot);
    }

    #[test]
    fn cold_rules_mirror_hot_ones() {
        use Category::*;
        let neg = |b: &[i8]| b.iter().map(|v| -v).collect::<Vec<i8>>();
        let mut new = [0i8; 10];
        new[9] = 2;
        assert_eq!(classify(&neg(&new), &flat()), NewCold);
        assert_eq!(
            classify(&neg(&[0, 0, 0, 0, 0, 0, 0, 1, 2, 3]), &flat()),
            ConsecutiveCold
        );
        let all = [-1i8; 10];
        assert_eq!(classify(&all, &trend(-3.0)), IntensifyingCold);
        assert_eq!(classify(&all, &flat()), PersistentCold);
        assert_eq!(classify(&all, &trend(3.0)), DiminishingCold);
        assert_eq!(
            classify(&neg(&[0, 1, 0, 0, 2, 0, 1, 0, 0, 1]), &flat()),
            SporadicCold
        );
        assert_eq!(
            classify(&neg(&[0, -2, 0, 1, 0, -1, 0, 0, 0, 2]), &flat()),
            OscillatingCold
        );
        let mut hist = [-1i8; 20];
        hist[19] = 0;
        assert_eq!(classify(&hist, &flat()), HistoricalCold);
        assert_eq!(Category::OscillatingCold.slug(), "oscillating_cold");
    }
}
