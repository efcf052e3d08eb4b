//! Aoristic apportionment (Ratcliffe 2002): an incident's weight spread evenly, minute by
//! minute, over its from → to span, into 168 hour-of-week bins of Europe/London local time.

use jiff::Timestamp;

use crate::incidents::time::{EpochMinutes, LONDON};

/// Bins in a week of hours.
pub const HOURS_PER_WEEK: usize = 168;

/// Minutes in a week.
const WEEK_MIN: i64 = 7 * 24 * 60;

/// Which fix-up rule, if any, an incident needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Spread over its span as recorded.
    None,
    /// No end: all weight on the start hour.
    NoEnd,
    /// End before start: all weight on the start hour.
    EndBeforeStart,
    /// Span of 0–1 minute: all weight on the start hour.
    ZeroSpan,
    /// Span of a week or more: 1/168 in every bin.
    WeekOrMore,
}

/// London's UTC offset at epoch minute `m`, in minutes.
fn offset_min(m: i64) -> i64 {
    match Timestamp::from_second(m * 60) {
        Ok(ts) => i64::from(LONDON.to_offset(ts).seconds()) / 60,
        Err(_) => 0,
    }
}

/// Local hour-of-week bin (0 = Monday 00:00–01:00) of epoch minute `m`.
pub fn hour_of_week(m: EpochMinutes) -> usize {
    local_bin(i64::from(m))
}

fn local_bin(m: i64) -> usize {
    let local = m + offset_min(m);
    // 1970-01-01 was a Thursday (Monday-zero weekday 3).
    let day = local.div_euclid(1440);
    let weekday = (day + 3).rem_euclid(7);
    let hour = local.rem_euclid(1440) / 60;
    (weekday * 24 + hour) as usize
}

/// Adds `weight` spread over [from, to) to `bins` and says which fix-up applied. `to` is
/// `None` when the record has no end. London's offsets are whole hours and change on UTC
/// hour boundaries, so the span is walked in UTC-hour pieces, each wholly inside one local
/// hour: DST changes are handled exactly (a 00:00–03:00 span on the spring-forward night
/// covers two local-hour bins, 00 and 02, over 120 minutes).
pub fn apportion(
    from: EpochMinutes,
    to: Option<EpochMinutes>,
    weight: f64,
    bins: &mut [f64; HOURS_PER_WEEK],
) -> Fix {
    let a = i64::from(from);
    let fix = match to {
        None => Fix::NoEnd,
        Some(t) if i64::from(t) < a => Fix::EndBeforeStart,
        Some(t) if i64::from(t) - a <= 1 => Fix::ZeroSpan,
        Some(t) if i64::from(t) - a >= WEEK_MIN => Fix::WeekOrMore,
        Some(_) => Fix::None,
    };
    match fix {
        Fix::NoEnd | Fix::EndBeforeStart | Fix::ZeroSpan => bins[local_bin(a)] += weight,
        Fix::WeekOrMore => bins
            .iter_mut()
            .for_each(|b| *b += weight / HOURS_PER_WEEK as f64),
        Fix::None => {
            let b = i64::from(to.unwrap_or(from));
            let per_min = weight / (b - a) as f64;
            let mut m = a;
            while m < b {
                let next = ((m.div_euclid(60) + 1) * 60).min(b);
                bins[local_bin(m)] += per_min * (next - m) as f64;
                m = next;
            }
        }
    }
    fix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::time::parse_datetime;

    fn t(s: &str) -> EpochMinutes {
        parse_datetime(s).unwrap()
    }

    #[test]
    fn eight_hours_spread_as_one_eighth_each() {
        // Wednesday 2025-01-15 08:00–16:00 (GMT): bins Wed 08..15.
        let mut bins = [0.0; HOURS_PER_WEEK];
        let f = apportion(
            t("2025-01-15T08:00"),
            Some(t("2025-01-15T16:00")),
            1.0,
            &mut bins,
        );
        assert_eq!(f, Fix::None);
        for (i, b) in bins.iter().enumerate() {
            let want = if (2 * 24 + 8..2 * 24 + 16).contains(&i) {
                0.125
            } else {
                0.0
            };
            assert!((b - want).abs() < 1e-15, "bin {i}: {b}");
        }
    }

    #[test]
    fn summer_times_are_local_not_utc() {
        // 2025-07-04 is a Friday; 23:30 BST is 22:30 UTC.
        let mut bins = [0.0; HOURS_PER_WEEK];
        apportion(t("2025-07-04T23:30"), None, 1.0, &mut bins);
        assert_eq!(bins[4 * 24 + 23], 1.0);
        assert_eq!(hour_of_week(t("2025-07-04T23:30:00+01:00")), 4 * 24 + 23);
        assert_eq!(hour_of_week(t("2025-07-04T22:30:00Z")), 4 * 24 + 23);
    }

    #[test]
    fn spring_forward_night_skips_the_missing_hour() {
        // Sunday 2025-03-30: 00:00 GMT to 03:00 BST is two real hours, local 00 and 02.
        let mut bins = [0.0; HOURS_PER_WEEK];
        apportion(
            t("2025-03-30T00:00"),
            Some(t("2025-03-30T03:00")),
            1.0,
            &mut bins,
        );
        let sun = 6 * 24;
        assert!((bins[sun] - 0.5).abs() < 1e-15);
        assert_eq!(bins[sun + 1], 0.0);
        assert!((bins[sun + 2] - 0.5).abs() < 1e-15);
        // Autumn: 00:00 BST to 03:00 GMT is four real hours; local 01 happens twice.
        let mut bins = [0.0; HOURS_PER_WEEK];
        apportion(
            t("2025-10-26T00:00"),
            Some(t("2025-10-26T03:00")),
            1.0,
            &mut bins,
        );
        assert!((bins[sun] - 0.25).abs() < 1e-15);
        assert!((bins[sun + 1] - 0.5).abs() < 1e-15);
        assert!((bins[sun + 2] - 0.25).abs() < 1e-15);
    }

    #[test]
    fn fix_ups() {
        let mut bins = [0.0; HOURS_PER_WEEK];
        let s = t("2025-01-13T10:20"); // Monday
        assert_eq!(apportion(s, None, 1.0, &mut bins), Fix::NoEnd);
        assert_eq!(
            apportion(s, Some(s - 90), 1.0, &mut bins),
            Fix::EndBeforeStart
        );
        assert_eq!(apportion(s, Some(s), 1.0, &mut bins), Fix::ZeroSpan);
        assert_eq!(apportion(s, Some(s + 1), 1.0, &mut bins), Fix::ZeroSpan);
        assert_eq!(bins[10], 4.0);
        let mut bins = [0.0; HOURS_PER_WEEK];
        assert_eq!(
            apportion(s, Some(s + 7 * 1440), 1.0, &mut bins),
            Fix::WeekOrMore
        );
        assert!(bins.iter().all(|b| (b - 1.0 / 168.0).abs() < 1e-15));
        // Weight is conserved across a midnight and week boundary (Sun 23:00 → Mon 01:00).
        let mut bins = [0.0; HOURS_PER_WEEK];
        apportion(
            t("2025-01-19T23:00"),
            Some(t("2025-01-20T01:00")),
            2.0,
            &mut bins,
        );
        assert_eq!(bins[167], 1.0);
        assert_eq!(bins[0], 1.0);
    }
}
