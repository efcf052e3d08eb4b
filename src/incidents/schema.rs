//! Input schemas: a TOML file that maps another system's export (a police records
//! management system, an A&E assault extract, a council ASB log) onto the incident fields.
//!
//! ```toml
//! name = "police_rms"
//! source = "police"                     # or [columns] source = "System"
//! null_values = ["NULL", "N/A"]         # fields holding these count as empty
//!
//! [columns]
//! id = "Occurrence Ref"
//! offence = "Offence Description"       # offence text, classified by the offence table,
//! offence_code = "HO Code"              # and/or a code looked up in [offence_codes]
//! start = "Committed From Date"         # a date, or a date and time in one column
//! start_time = "Committed From Time"    # optional: the time in its own column
//! end = "Committed To Date"             # optional, with end_time likewise
//! end_time = "Committed To Time"
//! easting = "Easting"                   # or longitude + latitude, or grid_ref
//! northing = "Northing"
//! victim_age = "Victim Age"             # optional: suspect_age, location_type, harm_weight
//!
//! [formats]
//! date = "%d/%m/%Y"                     # strftime (jiff): stated, never guessed
//! time = "%H:%M"
//!
//! [offence_codes]
//! "8/1" = "Wounding with intent (GBH)"
//! ```
//!
//! A schema applies to a file whose header holds every column it names (names compared
//! without case or surrounding spaces). Dates are read only by the stated format, so
//! `01/02/2025` is the 1st of February under `%d/%m/%Y` and the 2nd of January under
//! `%m/%d/%Y`, and never a guess. Times are Europe/London local time unless the format
//! carries an offset (`%z`). A date without a time of day (a date-only format, or a blank
//! time column on a row) is the whole local day: the span runs from its midnight to the
//! next, which the aoristic analysis spreads over the day's hours.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use super::time::EpochMinutes;

/// Errors reading or checking a schema file.
#[derive(Debug, Error)]
pub enum SchemaError {
    /// The file cannot be read.
    #[error("{file}: {source}")]
    Io {
        /// Path.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The TOML does not parse, or has unknown keys.
    #[error("{file}: {message}")]
    Toml {
        /// Path.
        file: String,
        /// The parser's message (it names the line and key).
        message: String,
    },
    /// The schema parses but cannot work as written.
    #[error("{file}: {key}: {message}")]
    Invalid {
        /// Path.
        file: String,
        /// The key at fault, e.g. `formats.date`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Which export columns hold which field (names as in the export's header).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaColumns {
    /// The record's reference (required; duplicates are rejected as everywhere).
    pub id: String,
    /// Offence text (classified by the offence-group table).
    pub offence: Option<String>,
    /// An offence code looked up in `[offence_codes]` (e.g. a Home Office code).
    pub offence_code: Option<String>,
    /// Start date, or start date and time together (`formats.date`).
    pub start: String,
    /// Start time of day, when in its own column (`formats.time`).
    pub start_time: Option<String>,
    /// End date, or end date and time together.
    pub end: Option<String>,
    /// End time of day, when in its own column.
    pub end_time: Option<String>,
    /// WGS84 longitude, degrees.
    pub longitude: Option<String>,
    /// WGS84 latitude, degrees.
    pub latitude: Option<String>,
    /// EPSG:27700 easting, metres.
    pub easting: Option<String>,
    /// EPSG:27700 northing, metres.
    pub northing: Option<String>,
    /// An OS grid reference (`TQ 7555 6860`).
    pub grid_ref: Option<String>,
    /// Victim (or patient) age, whole years.
    pub victim_age: Option<String>,
    /// Suspect age, whole years.
    pub suspect_age: Option<String>,
    /// Location type (venue) text.
    pub location_type: Option<String>,
    /// Harm weight, a number ≥ 0.
    pub harm_weight: Option<String>,
    /// The source system per row (overrides the schema's `source` where not empty).
    pub source: Option<String>,
}

/// Date and time formats, strftime-style as jiff reads them (`%d/%m/%Y`, `%H:%M`, ...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFormats {
    /// Format of the `start` and `end` columns: a date, or a date and time.
    pub date: String,
    /// Format of `start_time` and `end_time`.
    pub time: Option<String>,
}

/// An input schema as written in its TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// Name in reports (default: the file's stem).
    pub name: Option<String>,
    /// What the export is, for people.
    pub description: Option<String>,
    /// Source of every row (police, health, council, ...) unless a `source` column says.
    pub source: Option<String>,
    /// Field values that mean "empty" (compared without case), e.g. `NULL`, `N/A`.
    #[serde(default)]
    pub null_values: Vec<String>,
    /// Column mapping.
    pub columns: SchemaColumns,
    /// Date and time formats.
    pub formats: SchemaFormats,
    /// Offence code → offence text (classified by the offence-group table).
    #[serde(default)]
    pub offence_codes: BTreeMap<String, String>,
}

/// A checked input schema, ready to match files and parse their dates.
#[derive(Debug, Clone)]
pub struct InputSchema {
    /// Name in reports.
    pub name: String,
    /// The schema file it came from.
    pub file: String,
    /// The schema as written.
    pub spec: SchemaFile,
    /// Lower-cased `null_values`.
    null_values: Vec<String>,
    /// The date format has a time of day (`%H`, `%I`, `%T`, ...).
    date_has_time: bool,
}

/// A source label from its text: lower-cased, each run of characters other than letters,
/// digits, `_` and `-` made one `_` (`East Kent YOT` → `east_kent_yot`, `A&E` → `a_e`),
/// trimmed of `_`; 1 to 32 characters, and not ending in `epsg27700` (layer file names use
/// that suffix).
///
/// # Errors
/// The label is empty or too long once normalised.
pub fn check_source_label(s: &str) -> Result<String, String> {
    let mut l = String::with_capacity(s.len());
    for c in s.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            l.push(c);
        } else if !l.ends_with('_') {
            l.push('_');
        }
    }
    let l = l.trim_matches('_').to_string();
    if l.is_empty() || l.len() > 32 || l.ends_with("epsg27700") {
        return Err(format!(
            "source '{s}' does not make a label: 1 to 32 letters, digits, '_' or '-' once lower-cased, not ending in epsg27700"
        ));
    }
    Ok(l)
}

/// Conversion specifiers in a strftime format (the letter after each `%`, flags skipped).
fn specifiers(format: &str) -> Vec<char> {
    let mut out = Vec::new();
    let mut it = format.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            continue;
        }
        for d in it.by_ref() {
            if d.is_ascii_alphabetic() || d == '%' {
                out.push(d);
                break;
            }
        }
    }
    out
}

impl InputSchema {
    /// Reads and checks a schema file.
    ///
    /// # Errors
    /// [`SchemaError`] naming the file and, for a schema that cannot work, the key: no
    /// coordinates or two kinds, no offence column, a date format without day, month and
    /// year, a time column without a time format, a code column without a code table.
    pub fn load(path: &Path) -> Result<Self, SchemaError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| SchemaError::Io {
            file: file.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| SchemaError::Toml {
            file: file.clone(),
            message: format!(
                "not UTF-8 (byte {} of the file): save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)",
                e.utf8_error().valid_up_to() + 1
            ),
        })?;
        let text = text.trim_start_matches('\u{feff}');
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "schema".into());
        Self::parse(text, &file, &stem)
    }

    /// Parses and checks schema text; `file` names it in errors, `default_name` is the name
    /// when the text gives none.
    ///
    /// # Errors
    /// As [`InputSchema::load`].
    pub fn parse(text: &str, file: &str, default_name: &str) -> Result<Self, SchemaError> {
        let spec: SchemaFile = toml::from_str(text).map_err(|e| SchemaError::Toml {
            file: file.into(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |key: &str, message: String| SchemaError::Invalid {
            file: file.into(),
            key: key.into(),
            message,
        };
        let c = &spec.columns;
        let named = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        for (key, v) in [("columns.id", &c.id), ("columns.start", &c.start)] {
            if v.trim().is_empty() {
                return Err(invalid(key, "names no column".into()));
            }
        }
        let kinds = [
            named(&c.longitude) || named(&c.latitude),
            named(&c.easting) || named(&c.northing),
            named(&c.grid_ref),
        ];
        match kinds.iter().filter(|k| **k).count() {
            0 => {
                return Err(invalid(
                    "columns",
                    "no coordinates: give longitude and latitude, easting and northing, or grid_ref".into(),
                ))
            }
            1 => {}
            _ => {
                return Err(invalid(
                    "columns",
                    "more than one kind of coordinates: give only one of longitude/latitude, easting/northing, grid_ref".into(),
                ))
            }
        }
        if kinds[0] && !(named(&c.longitude) && named(&c.latitude)) {
            return Err(invalid(
                "columns",
                "longitude and latitude go together".into(),
            ));
        }
        if kinds[1] && !(named(&c.easting) && named(&c.northing)) {
            return Err(invalid(
                "columns",
                "easting and northing go together".into(),
            ));
        }
        if !named(&c.offence) && !named(&c.offence_code) {
            return Err(invalid(
                "columns",
                "no offence: give offence (text) or offence_code with an [offence_codes] table"
                    .into(),
            ));
        }
        if named(&c.offence_code) && spec.offence_codes.is_empty() {
            return Err(invalid(
                "offence_codes",
                "columns.offence_code needs an [offence_codes] table mapping each code to an offence".into(),
            ));
        }
        if let Some((code, _)) = spec.offence_codes.iter().find(|(_, v)| v.trim().is_empty()) {
            return Err(invalid(
                "offence_codes",
                format!("code '{code}' maps to an empty offence"),
            ));
        }
        let date = specifiers(&spec.formats.date);
        let has = |set: &[char], any: &str| set.iter().any(|c| any.contains(*c));
        let full_date =
            has(&date, "FD") || (has(&date, "dej") && has(&date, "mbBh") && has(&date, "Yy"));
        let ordinal = has(&date, "j") && has(&date, "Yy");
        if !(full_date || ordinal) {
            return Err(invalid(
                "formats.date",
                format!(
                    "'{}' must name the day, month and year (e.g. %d/%m/%Y): dates are never guessed",
                    spec.formats.date
                ),
            ));
        }
        let date_has_time = has(&date, "HIklTRc");
        if date_has_time && !has(&date, "MTRc") {
            return Err(invalid(
                "formats.date",
                format!("'{}' has an hour but no minutes (%M)", spec.formats.date),
            ));
        }
        let time_cols = named(&c.start_time) || named(&c.end_time);
        if named(&c.end_time) && !named(&c.end) {
            return Err(invalid(
                "columns.end_time",
                "an end time needs an end date column (columns.end)".into(),
            ));
        }
        match (&spec.formats.time, time_cols) {
            (None, true) => {
                return Err(invalid(
                    "formats.time",
                    "a start_time or end_time column needs a time format (e.g. %H:%M)".into(),
                ))
            }
            (Some(t), true) => {
                let ts = specifiers(t);
                if !(has(&ts, "HIklTRc") && has(&ts, "MTRc")) {
                    return Err(invalid(
                        "formats.time",
                        format!("'{t}' must name the hour and minutes (e.g. %H:%M)"),
                    ));
                }
                if date_has_time {
                    return Err(invalid(
                        "formats.date",
                        "the date format has a time of day, and so does a time column: state it once".into(),
                    ));
                }
            }
            _ => {}
        }
        let source_col = named(&c.source);
        match &spec.source {
            Some(s) => {
                check_source_label(s).map_err(|m| invalid("source", m))?;
            }
            None if !source_col => {
                return Err(invalid(
                    "source",
                    "say where the rows come from: source = \"police\" (or health, council, ...), or a columns.source column".into(),
                ))
            }
            None => {}
        }
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| default_name.to_string());
        let null_values = spec
            .null_values
            .iter()
            .map(|v| v.trim().to_lowercase())
            .collect();
        Ok(Self {
            name,
            file: file.into(),
            spec,
            null_values,
            date_has_time,
        })
    }

    /// Every column the schema names, as written.
    pub fn columns(&self) -> Vec<&str> {
        let c = &self.spec.columns;
        let mut v = vec![c.id.as_str(), c.start.as_str()];
        for o in [
            &c.offence,
            &c.offence_code,
            &c.start_time,
            &c.end,
            &c.end_time,
            &c.longitude,
            &c.latitude,
            &c.easting,
            &c.northing,
            &c.grid_ref,
            &c.victim_age,
            &c.suspect_age,
            &c.location_type,
            &c.harm_weight,
            &c.source,
        ]
        .into_iter()
        .flatten()
        {
            if !o.trim().is_empty() {
                v.push(o.as_str());
            }
        }
        v
    }

    /// The columns of this schema missing from a header (names lower-cased and trimmed).
    pub fn missing(&self, header: &[String]) -> Vec<String> {
        self.columns()
            .into_iter()
            .filter(|c| {
                let c = c.trim().to_lowercase();
                !header.contains(&c)
            })
            .map(str::to_string)
            .collect()
    }

    /// True when `value` is one of the schema's null values (or empty).
    pub fn is_null(&self, value: &str) -> bool {
        value.is_empty()
            || (!self.null_values.is_empty()
                && self
                    .null_values
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(value)))
    }

    /// Whether the date format holds a time of day.
    pub fn date_has_time(&self) -> bool {
        self.date_has_time
    }

    /// The instant a date (and time) field pair names, as a span: `(start, end)` epoch
    /// minutes, where a known time gives `start == end` and a date alone gives the whole
    /// local day (midnight to the next midnight). `time` is the time column's text, when
    /// the schema has one (`None` or blank: the time is unknown).
    ///
    /// # Errors
    /// A message quoting the text and the format it did not match, with `true` when the
    /// time column is at fault and `false` for the date column.
    pub fn parse_when(
        &self,
        date: &str,
        time: Option<&str>,
    ) -> Result<(EpochMinutes, EpochMinutes), (bool, String)> {
        self.parse_when_inner(date, time)
    }

    fn parse_when_inner(
        &self,
        date: &str,
        time: Option<&str>,
    ) -> Result<(EpochMinutes, EpochMinutes), (bool, String)> {
        let in_date = |m: String| (false, m);
        use jiff::fmt::strtime;
        let f = &self.spec.formats;
        let dt = strtime::parse(&f.date, date).map_err(|e| {
            in_date(format!(
                "'{date}' does not match the date format '{}': {e}",
                f.date
            ))
        })?;
        let day = dt
            .to_date()
            .map_err(|e| in_date(format!("'{date}' (format '{}'): {e}", f.date)))?;
        let time_of_day = if self.date_has_time {
            Some(
                dt.to_time()
                    .map_err(|e| in_date(format!("'{date}' (format '{}'): {e}", f.date)))?,
            )
        } else {
            match time.filter(|t| !self.is_null(t)) {
                None => None,
                Some(t) => {
                    let tf = f.time.as_deref().unwrap_or("%H:%M");
                    let tt = strtime::parse(tf, t).map_err(|e| {
                        (
                            true,
                            format!("'{t}' does not match the time format '{tf}': {e}"),
                        )
                    })?;
                    Some(
                        tt.to_time()
                            .map_err(|e| (true, format!("'{t}' (format '{tf}'): {e}")))?,
                    )
                }
            }
        };
        match time_of_day {
            None => {
                let start = super::time::local_day_start(day).map_err(in_date)?;
                let next = day
                    .tomorrow()
                    .map_err(|e| in_date(format!("'{date}': {e}")))?;
                Ok((start, super::time::local_day_start(next).map_err(in_date)?))
            }
            Some(t) => {
                let civil = day.to_datetime(t);
                let m = match dt.offset() {
                    Some(off) => off
                        .to_timestamp(civil)
                        .map(|ts| ts.as_second().div_euclid(60))
                        .map_err(|e| format!("'{date}': {e}"))
                        .and_then(|m| {
                            i32::try_from(m).map_err(|_| format!("'{date}' is out of range"))
                        })
                        .map_err(in_date)?,
                    None => super::time::local_minutes(civil).map_err(in_date)?,
                };
                Ok((m, m))
            }
        }
    }

    /// The offence text for a code, from `[offence_codes]` (codes compared as written,
    /// trimmed, then without case).
    pub fn offence_for_code(&self, code: &str) -> Option<&str> {
        let t = &self.spec.offence_codes;
        t.get(code)
            .or_else(|| {
                t.iter()
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case(code))
                    .map(|(_, v)| v)
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::time::{format_local, parse_datetime};

    fn schema(extra: &str, formats: &str) -> Result<InputSchema, SchemaError> {
        InputSchema::parse(
            &format!(
                "source = \"police\"\n{extra}\n[columns]\nid = \"Ref\"\noffence = \"Offence\"\nstart = \"Date\"\nstart_time = \"Time\"\neasting = \"E\"\nnorthing = \"N\"\n[formats]\n{formats}\n"
            ),
            "t.toml",
            "t",
        )
    }

    #[test]
    fn dates_follow_the_stated_format_and_are_never_guessed() {
        let uk = schema("", "date = \"%d/%m/%Y\"\ntime = \"%H:%M\"").unwrap();
        let us = schema("", "date = \"%m/%d/%Y\"\ntime = \"%H:%M\"").unwrap();
        let (a, b) = uk.parse_when("01/02/2025", Some("18:30")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, parse_datetime("2025-02-01T18:30").unwrap());
        let (c, _) = us.parse_when("01/02/2025", Some("18:30")).unwrap();
        assert_eq!(c, parse_datetime("2025-01-02T18:30").unwrap());
        // 13/01/2025 is not a US date: refused, not swapped.
        let (in_time, e) = us.parse_when("13/01/2025", Some("10:00")).unwrap_err();
        assert!(
            !in_time && e.contains("13/01/2025") && e.contains("%m/%d/%Y"),
            "{e}"
        );
        // A bad time names the time column.
        let (in_time, e) = uk.parse_when("01/02/2025", Some("25:10")).unwrap_err();
        assert!(in_time && e.contains("25:10"), "{e}");
        // A format without the day, month and year is refused on load.
        let e = schema("", "date = \"%m/%Y\"\ntime = \"%H:%M\"").unwrap_err();
        assert!(e.to_string().contains("formats.date"), "{e}");
    }

    #[test]
    fn a_missing_time_is_the_whole_local_day_across_dst() {
        let s = schema(
            "null_values = [\"NULL\"]",
            "date = \"%d/%m/%Y\"\ntime = \"%H:%M\"",
        )
        .unwrap();
        // 30 March 2025 lost an hour at 01:00 GMT: the local day is 23 hours.
        for blank in [None, Some(""), Some("null")] {
            let (a, b) = s.parse_when("30/03/2025", blank).unwrap();
            assert_eq!(format_local(a), "2025-03-30T00:00:00+00:00");
            assert_eq!(format_local(b), "2025-03-31T00:00:00+01:00");
            assert_eq!(b - a, 23 * 60);
        }
        // A naive time in the autumn fold takes the first (BST) instant, as everywhere.
        let (a, _) = s.parse_when("26/10/2025", Some("01:30")).unwrap();
        assert_eq!(format_local(a), "2025-10-26T01:30:00+01:00");
    }

    #[test]
    fn one_column_date_times_and_offsets() {
        let s = InputSchema::parse(
            "source = \"health\"\n[columns]\nid = \"a\"\noffence = \"b\"\nstart = \"c\"\ngrid_ref = \"g\"\n[formats]\ndate = \"%Y-%m-%d %H:%M %z\"\n",
            "t.toml",
            "t",
        )
        .unwrap();
        let (a, _) = s.parse_when("2025-07-01 12:00 +0000", None).unwrap();
        assert_eq!(format_local(a), "2025-07-01T13:00:00+01:00");
        // A time column as well as a time in the date format is refused.
        let e = schema("", "date = \"%d/%m/%Y %H:%M\"\ntime = \"%H:%M\"").unwrap_err();
        assert!(e.to_string().contains("state it once"), "{e}");
    }

    #[test]
    fn schemas_that_cannot_work_are_refused_naming_the_key() {
        let base = |cols: &str, rest: &str| {
            InputSchema::parse(
                &format!("{rest}\n[columns]\nid = \"a\"\nstart = \"c\"\n{cols}\n[formats]\ndate = \"%d/%m/%Y\"\n"),
                "s.toml",
                "s",
            )
            .unwrap_err()
            .to_string()
        };
        let src = "source = \"police\"";
        assert!(base("offence = \"b\"", src).contains("no coordinates"));
        assert!(base("offence = \"b\"\neasting = \"e\"", src).contains("go together"));
        assert!(base(
            "offence = \"b\"\ngrid_ref = \"g\"\nlongitude = \"x\"\nlatitude = \"y\"",
            src
        )
        .contains("more than one kind"));
        assert!(base("grid_ref = \"g\"", src).contains("no offence"));
        assert!(base("offence_code = \"b\"\ngrid_ref = \"g\"", src).contains("offence_codes"));
        assert!(base("offence = \"b\"\ngrid_ref = \"g\"", "").contains("source"));
        assert!(base("offence = \"b\"\ngrid_ref = \"g\"", "source = \"&&\"").contains("source"));
        assert_eq!(
            check_source_label("East Kent YOT").unwrap(),
            "east_kent_yot"
        );
        assert_eq!(check_source_label(" A&E ").unwrap(), "a_e");
        assert!(check_source_label("police-epsg27700").is_err());
        assert!(
            base("offence = \"b\"\ngrid_ref = \"g\"\nstart_time = \"t\"", src)
                .contains("formats.time")
        );
        assert!(base("offence = \"b\"\ngrid_ref = \"g\"\nwhat = \"t\"", src).contains("what"));
    }

    #[test]
    fn header_matching_and_codes() {
        let s = InputSchema::parse(
            "source = \"police\"\n[columns]\nid = \"Ref\"\noffence_code = \"HO Code\"\nstart = \"Date\"\ngrid_ref = \"Grid\"\n[formats]\ndate = \"%d/%m/%Y\"\n[offence_codes]\n\"8/1\" = \"Wounding with intent\"\nAB = \"Robbery of personal property\"\n",
            "s.toml",
            "s",
        )
        .unwrap();
        let header: Vec<String> = ["ref", "ho code", "date"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(s.missing(&header), vec!["Grid".to_string()]);
        assert_eq!(s.offence_for_code("8/1"), Some("Wounding with intent"));
        assert_eq!(
            s.offence_for_code("ab"),
            Some("Robbery of personal property")
        );
        assert_eq!(s.offence_for_code("9/9"), None);
    }
}
