//! When the service's own nightly refresh runs: a local time of day in Europe/London,
//! DST-aware. A time in the spring-forward gap moves forward by the gap (01:30 → 02:30
//! BST); a time in the autumn fold runs once, at its first (BST) instant.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Parses `HH:MM` (24-hour).
pub fn parse_at(s: &str) -> Result<Time, String> {
    let bad = || format!("refresh_at '{s}': expected HH:MM, 24-hour, Europe/London");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// The first instant strictly after `after` whose London local time is `at` (by the
/// compatible rule for gaps and folds).
pub fn next_run(after: Timestamp, at: Time) -> Result<Timestamp, jiff::Error> {
    let tz = TimeZone::get("Europe/London")?;
    let today = after.to_zoned(tz.clone()).date();
    let mut day = today;
    loop {
        let t = day.to_datetime(at).to_zoned(tz.clone())?.timestamp();
        if t > after {
            return Ok(t);
        }
        day = day.tomorrow()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn next_runs_follow_london_time_across_dst() {
        let at = parse_at("02:30").unwrap();
        // Winter: 02:30 GMT is 02:30Z.
        assert_eq!(
            next_run(ts("2026-01-10T12:00:00Z"), at).unwrap(),
            ts("2026-01-11T02:30:00Z")
        );
        // Summer: 02:30 BST is 01:30Z; the same day when it is still to come.
        assert_eq!(
            next_run(ts("2026-07-10T00:00:00Z"), at).unwrap(),
            ts("2026-07-10T01:30:00Z")
        );
        // Spring forward (29 March 2026): 01:30 does not exist and runs at 02:30 BST.
        let gap = parse_at("01:30").unwrap();
        assert_eq!(
            next_run(ts("2026-03-28T12:00:00Z"), gap).unwrap(),
            ts("2026-03-29T01:30:00Z")
        );
        // Autumn fold (25 October 2026): 01:30 happens twice; the run is at the first.
        assert_eq!(
            next_run(ts("2026-10-24T12:00:00Z"), gap).unwrap(),
            ts("2026-10-25T00:30:00Z")
        );
        // Strictly after: at the run time itself, the next day's.
        assert_eq!(
            next_run(ts("2026-01-11T02:30:00Z"), at).unwrap(),
            ts("2026-01-12T02:30:00Z")
        );
        assert!(parse_at("25:00").is_err() && parse_at("2am").is_err());
    }
}
