//! Peak windows: each hour bin tested against a baseline with a one-sided Poisson test,
//! Benjamini–Hochberg over the bins tested, and maximal runs of significant bins (wrapping
//! past midnight, and from Sunday into Monday) as windows.

use serde::Serialize;

use super::gamma::poisson_upper_p;
use super::DAYS;

/// One bin's test.
#[derive(Debug, Clone, Serialize)]
pub struct BinTest {
    /// Observed (aoristic) weight.
    pub observed: f64,
    /// Expected under the baseline.
    pub expected: f64,
    /// One-sided Poisson p (more than expected).
    pub p: f64,
    /// Benjamini–Hochberg adjusted p.
    pub q: f64,
}

/// A peak window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Window {
    /// Local start, "HH:MM".
    pub start: String,
    /// Local end, "HH:MM" (may be past midnight: start "23:00", end "01:00").
    pub end: String,
    /// Days on which the window starts ("Mon".."Sun"); all seven for hour-of-day.
    pub days: Vec<String>,
    /// Share of the incidents inside (0–1).
    pub share: f64,
    /// Observed ÷ expected inside.
    pub rate_ratio: f64,
    /// Largest p inside.
    pub p: f64,
    /// Largest q inside.
    pub q: f64,
    /// Length, minutes.
    pub minutes: u32,
}

/// The tests and windows of one profile.
#[derive(Debug, Clone, Serialize)]
pub struct WindowSet {
    /// Observed weight per bin.
    pub profile: Vec<f64>,
    /// Per-bin tests.
    pub tests: Vec<BinTest>,
    /// Peak windows, largest share first.
    pub windows: Vec<Window>,
    /// The FDR level.
    pub alpha: f64,
    /// The baseline: "uniform" or what it was.
    pub baseline: String,
    /// The test used.
    pub test: String,
}

/// Benjamini–Hochberg adjusted p-values (q), in the input order: q₍ᵢ₎ = min over j ≥ i of
/// m·p₍ⱼ₎/j, capped at 1. Rejecting q ≤ α is the step-up procedure at level α.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64).min(1.0);
        q[i] = running;
    }
    q
}

fn hhmm(hour: usize) -> String {
    format!("{:02}:00", hour % 24)
}

/// Expected counts and one-sided Poisson p per bin of `observed` against `baseline` shares.
fn bin_p(observed: &[f64], baseline: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let total: f64 = observed.iter().sum();
    let base_total: f64 = baseline.iter().sum();
    let expected: Vec<f64> = baseline
        .iter()
        .map(|b| {
            if base_total > 0.0 {
                total * b / base_total
            } else {
                0.0
            }
        })
        .collect();
    let p = observed
        .iter()
        .zip(&expected)
        .map(|(o, e)| poisson_upper_p(*o, *e))
        .collect();
    (expected, p)
}

/// Tests `observed` (24 or 168 bins) against `baseline` shares (same length) and returns the
/// windows at FDR level `alpha`, Benjamini–Hochberg over these bins alone. Hour-of-week
/// windows with the same start and end on several days are reported once, with those days.
pub fn detect_windows(
    observed: &[f64],
    baseline: &[f64],
    alpha: f64,
    baseline_name: &str,
) -> WindowSet {
    let (expected, p) = bin_p(observed, baseline);
    let q = benjamini_hochberg(&p);
    windows_from(observed, expected, p, q, alpha, baseline_name)
}

/// Hour-of-day and hour-of-week tested together: one Benjamini–Hochberg over all 24 + 168
/// bins, so the pair reported controls the false discovery rate as one family.
pub fn detect_day_and_week(
    day: &[f64],
    day_baseline: &[f64],
    week: &[f64],
    week_baseline: &[f64],
    alpha: f64,
    baseline_name: &str,
) -> (WindowSet, WindowSet) {
    let (de, dp) = bin_p(day, day_baseline);
    let (we, wp) = bin_p(week, week_baseline);
    let all: Vec<f64> = dp.iter().chain(&wp).copied().collect();
    let q = benjamini_hochberg(&all);
    let (dq, wq) = q.split_at(dp.len());
    (
        windows_from(day, de, dp, dq.to_vec(), alpha, baseline_name),
        windows_from(week, we, wp, wq.to_vec(), alpha, baseline_name),
    )
}

fn windows_from(
    observed: &[f64],
    expected: Vec<f64>,
    p: Vec<f64>,
    q: Vec<f64>,
    alpha: f64,
    baseline_name: &str,
) -> WindowSet {
    let n = observed.len();
    let total: f64 = observed.iter().sum();
    let sig: Vec<bool> = q.iter().map(|q| *q <= alpha).collect();
    let tests: Vec<BinTest> = (0..n)
        .map(|i| BinTest {
            observed: observed[i],
            expected: expected[i],
            p: p[i],
            q: q[i],
        })
        .collect();
    // Runs of significant bins on the circle.
    let mut runs: Vec<(usize, usize)> = Vec::new(); // (first bin, length)
    if sig.iter().all(|s| *s) {
        runs.push((0, n));
    } else if n > 0 {
        // Start scanning just after a non-significant bin so no run is split by the wrap.
        let start = (0..n).find(|&i| !sig[i]).unwrap_or(0) + 1;
        let mut k = 0;
        while k < n {
            let i = (start + k) % n;
            if sig[i] {
                let mut len = 0;
                while len < n && sig[(i + len) % n] {
                    len += 1;
                }
                runs.push((i, len));
                k += len;
            } else {
                k += 1;
            }
        }
    }
    let per_day = n == 24;
    // Group runs by (start hour, length): identical windows on several days become one.
    // (start hour, length) → the runs (first bin, length) with that shape.
    type Run = (usize, usize);
    let mut groups: Vec<(Run, Vec<Run>)> = Vec::new();
    for r in runs {
        let key = (r.0 % 24, r.1);
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let mut windows: Vec<Window> = groups
        .into_iter()
        .map(|((h0, len), rs)| {
            let bins: Vec<usize> = rs
                .iter()
                .flat_map(|&(s, l)| (0..l).map(move |k| (s + k) % n))
                .collect();
            let o: f64 = bins.iter().map(|&b| observed[b]).sum();
            let e: f64 = bins.iter().map(|&b| expected[b]).sum();
            let mut days: Vec<usize> = if per_day {
                (0..7).collect()
            } else {
                rs.iter().map(|&(s, _)| s / 24).collect()
            };
            days.sort_unstable();
            Window {
                start: hhmm(h0),
                end: hhmm(h0 + len),
                days: days.into_iter().map(|d| DAYS[d].to_string()).collect(),
                share: if total > 0.0 { o / total } else { 0.0 },
                rate_ratio: if e > 0.0 { o / e } else { f64::INFINITY },
                p: bins.iter().map(|&b| p[b]).fold(0.0, f64::max),
                q: bins.iter().map(|&b| q[b]).fold(0.0, f64::max),
                minutes: (len * 60) as u32,
            }
        })
        .collect();
    windows.sort_by(|a, b| b.share.total_cmp(&a.share));
    WindowSet {
        profile: observed.to_vec(),
        tests,
        windows,
        alpha,
        baseline: baseline_name.to_string(),
        test: "one-sided Poisson (observed aoristic weight vs baseline expectation), Benjamini-Hochberg FDR over the bins".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bh_matches_the_step_up_rule() {
        let p = [0.01, 0.04, 0.03, 0.005, 0.20, 0.9];
        let q = benjamini_hochberg(&p);
        // Sorted: 0.005, 0.01, 0.03, 0.04, 0.2, 0.9 (m = 6); k·α/m at α = 0.05:
        // 0.0083, 0.0167, 0.025, 0.0333, ... → largest k with p₍ₖ₎ ≤ kα/m is k = 2.
        let rejected: Vec<bool> = q.iter().map(|q| *q <= 0.05).collect();
        assert_eq!(rejected, [true, false, false, true, false, false]);
        assert!((q[3] - 0.03).abs() < 1e-15); // 0.005·6/1 = 0.03, min with later 0.03
        assert!((q[0] - 0.03).abs() < 1e-15); // 0.01·6/2
        assert!((q[2] - 0.06).abs() < 1e-15); // min(0.03·6/3, 0.04·6/4) = 0.06
        assert_eq!(q[5], 0.9);
    }

    #[test]
    fn windows_wrap_midnight_and_keep_a_quiet_hour_apart() {
        let mut obs = vec![100.0; 24];
        for h in [23, 0, 18, 19, 15] {
            obs[h] = 400.0;
        }
        // 16 and 17 stay quiet between the 15:00 and 18:00 peaks.
        let ws = detect_windows(&obs, &[1.0; 24], 0.05, "uniform");
        let mut got: Vec<(String, String)> = ws
            .windows
            .iter()
            .map(|w| (w.start.clone(), w.end.clone()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("15:00".into(), "16:00".into()),
                ("18:00".into(), "20:00".into()),
                ("23:00".into(), "01:00".into())
            ]
        );
        let w = ws.windows.iter().find(|w| w.start == "23:00").unwrap();
        assert_eq!(w.days.len(), 7);
        assert!((w.rate_ratio - 800.0 / (2.0 * 3900.0 / 24.0)).abs() < 1e-9);
    }

    #[test]
    fn hour_of_week_windows_group_days_and_cross_sunday_into_monday() {
        let mut obs = vec![20.0; 168];
        obs[6 * 24 + 23] = 150.0; // Sun 23:00
        obs[0] = 150.0; // Mon 00:00
        obs[4 * 24 + 23] = 150.0; // Fri 23-01
        obs[5 * 24] = 150.0;
        let ws = detect_windows(&obs, &[1.0; 168], 0.05, "uniform");
        assert_eq!(ws.windows.len(), 1, "{:?}", ws.windows);
        let w = &ws.windows[0];
        assert_eq!((w.start.as_str(), w.end.as_str()), ("23:00", "01:00"));
        assert_eq!(w.days, ["Fri", "Sun"]);
    }
}
