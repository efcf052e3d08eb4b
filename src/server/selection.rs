//! The incident selection a request asks for: `offence_group` (comma-separated slugs) and
//! the OGC API `datetime` parameter (an instant or an interval, RFC 3339 date-times or
//! plain dates read as Europe/London days, `..` or empty for an open end).
//!
//! An incident is selected when it starts inside the interval: the same rule the CLI's
//! `--from`/`--to` use.

use std::collections::HashMap;

use crate::density::IncidentFilter;
use crate::incidents::time::{local_day_start, parse_date, parse_datetime, EpochMinutes};
use crate::incidents::OffenceGroup;

/// A parsed selection and a canonical key for caching what is computed from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The filter.
    pub filter: IncidentFilter,
    /// Canonical text: equal keys select the same incidents.
    pub key: String,
}

/// One end of a `datetime` interval as epoch minutes: a date is its whole London day,
/// so as a start it is the day's first minute and as an end the next day's first minute;
/// an instant as an end is made exclusive by adding a minute.
fn bound(s: &str, end: bool) -> Result<Option<EpochMinutes>, String> {
    let s = s.trim();
    if s.is_empty() || s == ".." {
        return Ok(None);
    }
    if s.len() == 7 && s.as_bytes()[4] == b'-' {
        // A month, YYYY-MM: its first London day, or as an end the next month's.
        let first = parse_date(&format!("{s}-01"))
            .map_err(|_| format!("datetime '{s}': expected a month YYYY-MM"))?;
        let d = if end {
            first
                .last_of_month()
                .tomorrow()
                .map_err(|e| format!("month '{s}': {e}"))?
        } else {
            first
        };
        return local_day_start(d).map(Some);
    }
    if s.len() == 10 {
        let d = parse_date(s)?;
        let d = if end {
            d.tomorrow().map_err(|e| format!("date '{s}': {e}"))?
        } else {
            d
        };
        return local_day_start(d).map(Some);
    }
    let m = parse_datetime(s)?;
    Ok(Some(if end { m.saturating_add(1) } else { m }))
}

/// Parses an OGC API `datetime` value into a half-open `[from, to)` of epoch minutes.
pub fn parse_datetime_interval(
    s: &str,
) -> Result<(Option<EpochMinutes>, Option<EpochMinutes>), String> {
    let (a, b) = match s.split_once('/') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    if a.trim() == ".." && b.trim() == ".." && s.contains('/') {
        return Ok((None, None));
    }
    let from = bound(a, false)?;
    let to = bound(b, true)?;
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            return Err(format!("datetime '{s}': the end is before the start"));
        }
    }
    Ok((from, to))
}

/// The selection in a request's query, `None` when it asks for none.
pub fn parse_selection(q: &HashMap<String, String>) -> Result<Option<Selection>, String> {
    let mut filter = IncidentFilter::default();
    let mut key = Vec::new();
    if let Some(g) = q.get("offence_group").filter(|g| !g.trim().is_empty()) {
        for part in g.split(',') {
            let grp: OffenceGroup = part.parse().map_err(|e| format!("offence_group: {e}"))?;
            if !filter.groups.contains(&grp) {
                filter.groups.push(grp);
            }
        }
        filter.groups.sort();
        key.push(format!(
            "g={}",
            filter
                .groups
                .iter()
                .map(|g| g.slug())
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    if let Some(d) = q.get("datetime").filter(|d| !d.trim().is_empty()) {
        let (from, to) = parse_datetime_interval(d).map_err(|e| format!("datetime: {e}"))?;
        filter.from_min = from;
        filter.to_min = to;
        key.push(format!("t={from:?}..{to:?}"));
    }
    if key.is_empty() {
        return Ok(None);
    }
    Ok(Some(Selection {
        filter,
        key: key.join("&"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::time::local_datetime;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dates_are_whole_london_days_across_dst() {
        // 30 March 2025 is 23 hours long in London (clocks go forward at 01:00 GMT).
        let (f, t) = parse_datetime_interval("2025-03-30/2025-03-30").unwrap();
        assert_eq!(t.unwrap() - f.unwrap(), 23 * 60);
        assert_eq!(local_datetime(f.unwrap()).hour(), 0);
        // A single date is the same as the interval from it to itself.
        assert_eq!(parse_datetime_interval("2025-03-30").unwrap(), (f, t));
        // A month is its whole London month: March 2025 is 31 days less the lost hour.
        let (f, t) = parse_datetime_interval("2025-03").unwrap();
        assert_eq!(t.unwrap() - f.unwrap(), (31 * 24 - 1) * 60);
        assert_eq!(parse_datetime_interval("2025-03/2025-03").unwrap(), (f, t));
        let (_, dec) = parse_datetime_interval("2024-12").unwrap();
        let end = local_datetime(dec.unwrap());
        assert_eq!((end.year(), end.month(), end.day()), (2025, 1, 1));
        assert!(parse_datetime_interval("2025-13").is_err());
    }

    #[test]
    fn instants_and_open_ends() {
        let (f, t) = parse_datetime_interval("2025-06-01T12:00:00Z/..").unwrap();
        assert_eq!(local_datetime(f.unwrap()).hour(), 13, "BST is UTC+1");
        assert_eq!(t, None);
        let (f, t) = parse_datetime_interval("../2025-01-31T23:59Z").unwrap();
        assert_eq!(f, None);
        // The closed end becomes exclusive one minute later: midnight, 1 February.
        let end = local_datetime(t.unwrap());
        assert_eq!((end.month(), end.day(), end.hour()), (2, 1, 0));
        assert_eq!(parse_datetime_interval("../..").unwrap(), (None, None));
        assert!(parse_datetime_interval("2025-02-01/2025-01-01").is_err());
        assert!(parse_datetime_interval("yesterday").is_err());
    }

    #[test]
    fn selection_keys_are_canonical() {
        let a = parse_selection(&q(&[("offence_group", "robbery,violence_with_injury")]))
            .unwrap()
            .unwrap();
        let b = parse_selection(&q(&[("offence_group", "violence_with_injury,robbery")]))
            .unwrap()
            .unwrap();
        assert_eq!(a.key, b.key);
        assert_eq!(a.filter.groups.len(), 2);
        assert_eq!(parse_selection(&q(&[("limit", "3")])).unwrap(), None);
        assert!(parse_selection(&q(&[("offence_group", "jaywalking")])).is_err());
    }
}
