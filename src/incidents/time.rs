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
    if second > 60 {
        return Err(format!("'{s}': second {second} is out of range"));
    }
    let rest = &b[i..];
    // Fast path: valid fields and a naive time or `Z` are converted by civil arithmetic and the
    // London transition table (equal to jiff's answer; tested minute by minute around every
    // transition). Anything else takes jiff's route, which also words the errors.
    if let Some(local_min) = civil_minutes(year, month, day, hour, minute, second) {
        if rest.is_empty() {
            if let Some(m) = LONDON_TABLE.utc_minutes(year, local_min) {
                return Ok(m);
            }
        } else if rest == b"Z" || rest == b"z" {
            if let Ok(m) = i32::try_from(local_min) {
                return Ok(m);
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

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Minutes since 1970-01-01T00:00 of a civil datetime (no zone), or `None` when a field is
/// out of range (month 13, 30 February, 24:00, second 61, ...).
fn civil_minutes(y: i32, mo: i32, d: i32, h: i32, mi: i32, s: i32) -> Option<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=month_days).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(y as i64, mo as i64, d as i64) * 1440 + (h * 60 + mi) as i64)
}

/// Europe/London's UTC offsets from 1970 to 2100 as a table of local-time boundaries.
///
/// For a transition at instant T from offset `o1` to `o2`, local times before
/// `T + max(o1, o2)` take `o1` and later ones `o2`. That is the compatible rule: a time in a
/// spring gap moves forward by the gap, a time in an autumn fold takes the earlier instant.
struct LondonTable {
    /// Local minutes since 1970 where `offsets[k + 1]` starts (ascending).
    bounds_local_min: Vec<i64>,
    /// Offsets in minutes; `offsets[0]` holds before the first boundary.
    offsets_min: Vec<i64>,
    /// Local minutes covered: [first, last).
    range_local_min: (i64, i64),
    /// For each year from 1970, the index of its first boundary in `bounds_local_min`.
    year_first: Vec<u16>,
}

static LONDON_TABLE: LazyLock<LondonTable> = LazyLock::new(LondonTable::build);

impl LondonTable {
    fn build() -> Self {
        let start = Timestamp::UNIX_EPOCH;
        let end = Timestamp::from_second(4_102_444_800).unwrap_or(start); // 2100-01-01Z
        let minutes = |o: Offset| (o.seconds() / 60) as i64;
        let mut offsets_min = vec![minutes(LONDON.to_offset(start))];
        let mut bounds_local_min = Vec::new();
        for t in LONDON.following(start) {
            if t.timestamp() >= end {
                break;
            }
            let before = *offsets_min.last().unwrap_or(&0);
            let after = minutes(t.offset());
            let at_min = t.timestamp().as_second().div_euclid(60);
            bounds_local_min.push(at_min + before.max(after));
            offsets_min.push(after);
        }
        // Keep a day's margin from the ends so that no local time near them is misjudged.
        let range_local_min = (start.as_second() / 60 + 1440, end.as_second() / 60 - 1440);
        let year_first = (1970..=2100)
            .map(|y| {
                let jan1 = days_from_civil(y, 1, 1) * 1440;
                bounds_local_min.partition_point(|&b| b < jan1) as u16
            })
            .collect();
        Self {
            bounds_local_min,
            offsets_min,
            range_local_min,
            year_first,
        }
    }

    /// UTC epoch minutes of a London local time (minutes since 1970 on the wall clock) in
    /// local calendar year `year`, or `None` outside the table.
    fn utc_minutes(&self, year: i32, local_min: i64) -> Option<EpochMinutes> {
        if local_min < self.range_local_min.0 || local_min >= self.range_local_min.1 {
            return None;
        }
        // Start at the year's first boundary: a year has only a few.
        let mut k = *self.year_first.get(usize::try_from(year - 1970).ok()?)? as usize;
        while k < self.bounds_local_min.len() && self.bounds_local_min[k] <= local_min {
            k += 1;
        }
        i32::try_from(local_min - self.offsets_min[k]).ok()
    }
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

/// A Europe/London local civil datetime as epoch minutes (seconds truncated), by the
/// compatible rule (a time in the spring gap moves forward by the gap; one in the autumn
/// fold takes the earlier instant), as [`parse_datetime`] does for naive times.
///
/// # Errors
/// A message when the datetime is outside the supported range.
pub fn local_minutes(dt: DateTime) -> Result<EpochMinutes, String> {
    let ts = LONDON
        .to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|e| format!("{dt}: {e}"))?;
    to_minutes(ts).ok_or_else(|| format!("{dt} is out of the supported range"))
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
    use rand::{Rng, SeedableRng};

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

    /// jiff's own answer for a naive London time (the independent computation).
    fn jiff_london(dt: DateTime) -> EpochMinutes {
        to_minutes(LONDON.to_ambiguous_timestamp(dt).compatible().unwrap()).unwrap()
    }

    #[test]
    fn fast_path_equals_jiff_minute_by_minute_around_every_transition() {
        let table = &*LONDON_TABLE;
        assert!(table.bounds_local_min.len() > 200, "transitions 1970-2100");
        let mut checked = 0;
        for t in LONDON.following(Timestamp::from_second(86_400 * 2).unwrap()) {
            if t.timestamp().as_second() > 4_102_444_800 - 86_400 * 2 {
                break;
            }
            // Every minute of the local day before, of and after the transition.
            let day = LONDON.to_datetime(t.timestamp()).date();
            let mut dt = day
                .yesterday()
                .unwrap()
                .to_datetime(jiff::civil::Time::midnight());
            for _ in 0..3 * 1440 {
                let text = dt.strftime("%Y-%m-%dT%H:%M").to_string();
                assert_eq!(parse_datetime(&text).unwrap(), jiff_london(dt), "{text}");
                dt = dt.checked_add(jiff::Span::new().minutes(1)).unwrap();
                checked += 1;
            }
        }
        assert!(checked > 200 * 3 * 1440);
        // Spread over the range, with seconds and `Z`.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12345);
        for _ in 0..20_000 {
            let secs = rng.random_range(0..4_000_000_000i64);
            let dt = Timestamp::from_second(secs)
                .unwrap()
                .to_zoned(TimeZone::UTC)
                .datetime();
            let text = dt.strftime("%Y-%m-%dT%H:%M:%S").to_string();
            assert_eq!(parse_datetime(&text).unwrap(), jiff_london(dt), "{text}");
            let z = format!("{text}Z");
            assert_eq!(parse_datetime(&z).unwrap(), utc(&z), "{z}");
        }
    }

    #[test]
    fn civil_arithmetic_matches_jiff() {
        let mut d = jiff::civil::date(1969, 12, 25);
        for _ in 0..(366 * 140) {
            let want = d.to_zoned(TimeZone::UTC).unwrap().timestamp().as_second() / 60;
            let got = civil_minutes(d.year() as i32, d.month() as i32, d.day() as i32, 0, 0, 0);
            assert_eq!(got, Some(want), "{d}");
            d = d.tomorrow().unwrap();
        }
        assert!(civil_minutes(2024, 2, 29, 0, 0, 0).is_some());
        assert_eq!(civil_minutes(2025, 2, 29, 0, 0, 0), None);
        assert_eq!(civil_minutes(2100, 2, 29, 0, 0, 0), None);
        assert!(civil_minutes(2000, 2, 29, 0, 0, 0).is_some());
        assert_eq!(civil_minutes(2025, 4, 31, 0, 0, 0), None);
        assert_eq!(civil_minutes(2025, 1, 1, 24, 0, 0), None);
        assert_eq!(civil_minutes(2025, 1, 1, 0, 0, 60), None);
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
        assert!(parse_datetime("2025-01-15T10:00:61").is_err());
        assert!(
            parse_datetime("2025-01-15T10:00:60").is_ok(),
            "a leap second is kept as :59"
        );
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
