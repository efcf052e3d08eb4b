//! Turning peak windows into action: Grip patrol visits (Koper: short visits, at least one
//! every two hours inside each window) and weekday/weekend diversion windows.

use serde::Serialize;

use super::peaks::{detect_windows, Window, WindowSet};
use super::profile::Profile;

/// One patrol visit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Visit {
    /// Local start, "HH:MM".
    pub start: String,
    /// Length, minutes.
    pub minutes: u32,
}

/// A patrol window with its visits.
#[derive(Debug, Clone, Serialize)]
pub struct PatrolWindow {
    /// The peak window.
    #[serde(flatten)]
    pub window: Window,
    /// Visits, evenly spread so no gap inside the window exceeds the maximum.
    pub visits: Vec<Visit>,
}

/// When to patrol one place.
#[derive(Debug, Clone, Serialize)]
pub struct PatrolPlan {
    /// `hotspot` (its own hour-of-week peaks), `hotspot-hour-of-day`, or `area` (the
    /// hotspot had too few timed incidents for any significant window).
    pub source: String,
    /// Timed incidents at the place.
    pub incidents: u64,
    /// Windows with visits.
    pub windows: Vec<PatrolWindow>,
    /// Visit length, minutes.
    pub visit_minutes: u32,
    /// Longest gap between visits inside a window, minutes.
    pub max_gap_minutes: u32,
}

/// Visits for a window of `minutes` starting at `start_hour`: n = ⌈minutes / max_gap⌉
/// visits, visit k centred at (k + ½)·minutes/n.
pub fn visits(
    start_hour: u32,
    minutes: u32,
    visit_minutes: u32,
    max_gap_minutes: u32,
) -> Vec<Visit> {
    let n = minutes.div_ceil(max_gap_minutes.max(1)).max(1);
    (0..n)
        .map(|k| {
            let centre = (2 * k + 1) * minutes / (2 * n);
            let m = (start_hour * 60 + centre.saturating_sub(visit_minutes / 2)) % 1440;
            Visit {
                start: format!("{:02}:{:02}", m / 60, m % 60),
                minutes: visit_minutes,
            }
        })
        .collect()
}

fn with_visits(ws: &WindowSet, visit_minutes: u32, max_gap: u32) -> Vec<PatrolWindow> {
    ws.windows
        .iter()
        .map(|w| {
            let h: u32 = w.start[..2].parse().unwrap_or(0);
            PatrolWindow {
                visits: visits(h, w.minutes, visit_minutes, max_gap),
                window: w.clone(),
            }
        })
        .collect()
}

/// The patrol plan of a place: its own hour-of-week peak windows against a uniform
/// baseline (when incidents there concentrate); if none, its hour-of-day windows; if still
/// none, the area's hour-of-week windows.
pub fn patrol_plan(
    place: &Profile,
    area: &Profile,
    alpha: f64,
    visit_minutes: u32,
    max_gap_minutes: u32,
) -> PatrolPlan {
    let week = detect_windows(&place.hour_of_week, &[1.0; 168], alpha, "uniform");
    let (source, ws) = if !week.windows.is_empty() {
        ("hotspot", week)
    } else {
        let day = detect_windows(&place.hour_of_day(), &[1.0; 24], alpha, "uniform");
        if !day.windows.is_empty() {
            ("hotspot-hour-of-day", day)
        } else {
            (
                "area",
                detect_windows(&area.hour_of_week, &[1.0; 168], alpha, "uniform"),
            )
        }
    };
    PatrolPlan {
        source: source.to_string(),
        incidents: place.incidents,
        windows: with_visits(&ws, visit_minutes, max_gap_minutes),
        visit_minutes,
        max_gap_minutes,
    }
}

/// Diversion windows: hour-of-day peaks of youth-involved incidents on weekdays (Mon–Fri)
/// and at weekends (Sat–Sun), each against a uniform baseline.
#[derive(Debug, Clone, Serialize)]
pub struct DiversionWindows {
    /// Monday to Friday.
    pub weekday: WindowSet,
    /// Saturday and Sunday.
    pub weekend: WindowSet,
    /// Timed youth-involved incidents.
    pub incidents: u64,
}

/// See [`DiversionWindows`].
pub fn diversion_windows(youth: &Profile, alpha: f64) -> DiversionWindows {
    let mut weekday = detect_windows(
        &youth.hour_of_day_on(&[0, 1, 2, 3, 4]),
        &[1.0; 24],
        alpha,
        "uniform",
    );
    let mut weekend = detect_windows(&youth.hour_of_day_on(&[5, 6]), &[1.0; 24], alpha, "uniform");
    for w in &mut weekday.windows {
        w.days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
            .map(String::from)
            .to_vec();
    }
    for w in &mut weekend.windows {
        w.days = ["Sat", "Sun"].map(String::from).to_vec();
    }
    DiversionWindows {
        weekday,
        weekend,
        incidents: youth.incidents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn koper_visits_leave_no_gap_over_two_hours() {
        // 23:00–01:00: one 15-minute visit centred in the window.
        assert_eq!(
            visits(23, 120, 15, 120),
            vec![Visit {
                start: "23:53".into(),
                minutes: 15
            }]
        );
        // 18:00–23:00 (300 min): three visits, centred at 50, 150, 250 minutes.
        let v = visits(18, 300, 15, 120);
        let starts: Vec<&str> = v.iter().map(|v| v.start.as_str()).collect();
        assert_eq!(starts, ["18:43", "20:23", "22:03"]);
        // Gaps: window start → first visit, between visits, last visit → window end.
        let offsets: Vec<u32> = starts
            .iter()
            .map(|s| {
                let (h, m) = s.split_once(':').unwrap();
                h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap() - 18 * 60
            })
            .collect();
        let mut gaps = vec![offsets[0]];
        gaps.extend(offsets.windows(2).map(|w| w[1] - (w[0] + 15)));
        gaps.push(300 - (offsets[2] + 15));
        assert!(gaps.iter().all(|g| *g <= 120), "{gaps:?}");
    }
}
