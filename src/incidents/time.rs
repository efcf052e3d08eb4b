//! Incident times: ISO 8601 parsing, Europe/London local time, and police.uk months.
//!
//! Times are stored as whole minutes since 1970-01-01T00:00Z (`i32`, enough for ±4000 years).
//! A datetime with an offset (`Z`, `+01:00`, `+0100`) is taken as written. A naive datetime is
//! Europe/London local time, resolved with the *compatible* rule (as in RFC 5545 and Temporal):
//! a time in the spring-forward gap moves forward by the gap (01:30 on the last Sunday of March
//! becomes 02:30 BST); a time in the autumn fold takes the earlier instant (BST, +01:00).

use std::sync::LazyLock;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

/// Europe/London, from jiff's bundled tz database (no system tzdata needed).
pub static LONDON: LazyLock<TimeZone> =
    LazyLock::new(|| TimeZone::get("Europe/London").unwrap_or(TimeZone::UTC));

/// Minutes since the Unix epoch.
pub type EpochMinutes = i32;

fn digits(b: &[u8]) -> Option<i32> {
    if b.is_empty() {
        return None;
    }
    let mut v: i32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i32;
    }
    Some(v)
}

/// Parses `YYYY-MM-DDTHH:MM[:SS[.frac]][Z|±HH:MM|±HHMM|±HH]` (a space may replace `T`)
/// into epoch minutes (seconds are truncated). Naive times are Europe/London.
pub fn parse_datetime(s: &str) -> Result<EpochMinutes, String> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 16 {
        if b.len() == 10 {
            return Err(format!("'{s}' has a date but no time of day"));
        }
        return Err(format!("'{s}' is not YYYY-MM-DDTHH:MM[:SS][offset]"));
    }
    let bad = || format!("'{s}' is not YYYY-MM-DDTHH:MM[:SS][offset]");
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' {
        return Err(bad());
    }
    let year = digits(&b[0..4]).ok_or_else(bad)?;
    let month = digits(&b[5..7]).ok_or_else(bad)?;
    let day = digits(&b[8..10]).ok_or_else(bad)?;
    let hour = digits(&b[11..13]).ok_or_else(bad)?;
    let minute = digits(&b[14..16]).ok_or_else(bad)?;
    let mut i = 16;
    let mut second = 0;
    if i < b.len() && b[i] == b':' {
        second = digits(b.get(i + 1..i + 3).ok_or_else(bad)?).ok_or_else(bad)?;
        i += 3;
        if i < b.len() && (b[i] == b'.' || b[i] == b',') {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    let dt = DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        minute as i8,
        second.min(59) as i8,
        0,
    )
    .map_err(|e| format!("'{s}': {e}"))?;
    let rest = &b[i..];
    let ts: Timestamp = if rest.is_empty() {
        LONDON
            .to_ambiguous_timestamp(dt)
            .compatible()
            .map_err(|e| format!("'{s}': {e}"))?
    } else if rest == b"Z" || rest == b"z" {
        Offset::UTC
            .to_timestamp(dt)
            .map_err(|e| format!("'{s}': {e}"))?
    } else {
        let sign = match rest[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(bad()),
        };
        let r = &rest[1..];
        let (oh, om) = match r.len() {
            2 => (digits(r), Some(0)),
            4 => (digits(&r[0..2]), digits(&r[2..4])),
            5 if r[2] == b':' => (digits(&r[0..2]), digits(&r[3..5])),
            _ => (None, None),
        };
        let (Some(oh), Some(om)) = (oh, om) else {
            return Err(bad());
        };
        if oh > 18 || om > 59 {
            return Err(format!("'{s}': offset out of range"));
        }
        let off = Offset::from_seconds(sign * (oh * 3600 + om * 60)).map_err(|e| e.to_string())?;
        off.to_timestamp(dt).map_err(|e| format!("'{s}': {e}"))?
    };
    to_minutes(ts).ok_or_else(|| format!("'{s}' is out of the supported range"))
}

fn to_minutes(ts: Timestamp) -> Option<EpochMinutes> {
    i32::try_from(ts.as_second().div_euclid(60)).ok()
}

/// Parses a police.uk month `YYYY-MM` into [start of month, start of next month) in
/// Europe/London local time, as epoch minutes.
pub fn parse_month(s: &str) -> Result<(EpochMinutes, EpochMinutes), String> {
    let s = s.trim();
    let b = s.as_bytes();
    let bad = || format!("'{s}' is not a month YYYY-MM");
    if b.len() != 7 || b[4] != b'-' {
        return Err(bad());
    }
    let y = digits(&b[0..4]).ok_or_else(bad)?;
    let m = digits(&b[5..7]).ok_or_else(bad)?;
    if !(1..=12).contains(&m) {
        return Err(bad());
    }
    let start = DateTime::new(y as i16, m as i8, 1, 0, 0, 0, 0).map_err(|_| bad())?;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let end = DateTime::new(ny as i16, nm as i8, 1, 0, 0, 0, 0).map_err(|_| bad())?;
    let a = LONDON
        .to_ambiguous_timestamp(start)
        .compatible()
        .map_err(|e| e.to_string())?;
    let z = LONDON
        .to_ambiguous_timestamp(end)
        .compatible()
        .map_err(|e| e.to_string())?;
    Ok((
        to_minutes(a).ok_or_else(bad)?,
        to_minutes(z).ok_or_else(bad)?,
    ))
}

/// 00:00 Europe/London on local date `d`, as epoch minutes (the compatible rule if midnight
/// were ever skipped).
pub fn local_day_start(d: jiff::civil::Date) -> Result<EpochMinutes, String> {
    let ts = LONDON
        .to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        .map_err(|e| format!("date {d}: {e}"))?;
    i32::try_from(ts.as_second().div_euclid(60)).map_err(|_| format!("date {d} out of range"))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<jiff::civil::Date, String> {
    s.trim()
        .parse()
        .map_err(|e| format!("date '{s}' is not YYYY-MM-DD: {e}"))
}

/// Local Europe/London civil datetime of an epoch minute.
pub fn local_datetime(m: EpochMinutes) -> DateTime {
    let ts = Timestamp::from_second(m as i64 * 60).unwrap_or(Timestamp::UNIX_EPOCH);
    LONDON.to_datetime(ts)
}

/// Formats an epoch minute as local ISO 8601 with its offset, e.g. `2025-06-01T18:30:00+01:00`.
pub fn format_local(m: EpochMinutes) -> String {
    let ts = Timestamp::from_second(m as i64 * 60).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(LONDON.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> EpochMinutes {
        to_minutes(s.parse::<Timestamp>().unwrap()).unwrap()
    }

    #[test]
    fn offsets_and_naive_local_times() {
        assert_eq!(
            parse_datetime("2025-01-15T18:30:00Z").unwrap(),
            utc("2025-01-15T18:30:00Z")
        );
        assert_eq!(
            parse_datetime("2025-01-15 18:30").unwrap(),
            utc("2025-01-15T18:30:00Z")
        );
        // Summer: naive London = UTC+1.
        assert_eq!(
            parse_datetime("2025-07-01T18:30").unwrap(),
            utc("2025-07-01T17:30:00Z")
        );
        assert_eq!(
            parse_datetime("2025-07-01T18:30:45+0100").unwrap(),
            utc("2025-07-01T17:30:00Z")
        );
        assert_eq!(
            parse_datetime("2025-07-01T18:30+02").unwrap(),
            utc("2025-07-01T16:30:00Z")
        );
        assert_eq!(
            parse_datetime("2025-07-01T18:30:00.123-05:00").unwrap(),
            utc("2025-07-01T23:30:00Z")
        );
    }

    #[test]
    fn dst_gap_and_fold_follow_the_compatible_rule() {
        // 2025-03-30 01:30 does not exist in London: moves forward to 02:30 BST = 01:30Z.
        assert_eq!(
            parse_datetime("2025-03-30T01:30").unwrap(),
            utc("2025-03-30T01:30:00Z")
        );
        // 2025-10-26 01:30 happens twice: the earlier (BST) instant, 00:30Z.
        assert_eq!(
            parse_datetime("2025-10-26T01:30").unwrap(),
            utc("2025-10-26T00:30:00Z")
        );
    }

    #[test]
    fn bad_datetimes_say_why() {
        assert!(parse_datetime("2025-02-30T10:00")
            .unwrap_err()
            .contains("2025-02-30"));
        assert!(parse_datetime("2025-01-15")
            .unwrap_err()
            .contains("no time of day"));
        assert!(parse_datetime("15/01/2025 10:00").is_err());
        assert!(parse_datetime("2025-01-15T25:00").is_err());
        assert!(parse_datetime("2025-01-15T10:00+25:00").is_err());
        assert!(parse_datetime("2025-01-15T10:00X").is_err());
    }

    #[test]
    fn months_are_local_month_bounds() {
        let (a, b) = parse_month("2022-01").unwrap();
        assert_eq!(a, utc("2022-01-01T00:00:00Z"));
        assert_eq!(b, utc("2022-02-01T00:00:00Z"));
        let (a, _) = parse_month("2022-07").unwrap();
        assert_eq!(a, utc("2022-06-30T23:00:00Z"));
        assert!(parse_month("2022-13").is_err());
        assert!(parse_month("Jan 2022").is_err());
    }

    #[test]
    fn local_formatting_round_trips() {
        let m = parse_datetime("2025-07-01T18:30").unwrap();
        assert_eq!(format_local(m), "2025-07-01T18:30:00+01:00");
        assert_eq!(local_datetime(m).hour(), 18);
    }
}
