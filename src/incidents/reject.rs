//! Why a row was rejected, and the accounting of an ingest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every reason a row can be rejected for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The row has a different number of columns from the header.
    WrongColumnCount,
    /// A field is not valid UTF-8.
    BadEncoding,
    /// The id is empty (timed format).
    MissingId,
    /// The id was already accepted (this file or an earlier one).
    DuplicateId,
    /// The offence / crime type is empty.
    MissingOffence,
    /// A coordinate field is empty.
    MissingCoordinates,
    /// A coordinate is not a number.
    UnparsableCoordinate,
    /// A coordinate is outside its valid range.
    CoordinateOutOfRange,
    /// Latitude and longitude (or easting and northing) look swapped.
    LikelySwappedLatLon,
    /// The point lies outside every district of the boundary pack.
    OutsideDistricts,
    /// `occurred_from` is empty.
    MissingDatetime,
    /// A datetime does not parse.
    BadDatetime,
    /// `occurred_to` is before `occurred_from`.
    EndBeforeStart,
    /// A date parses but lies outside the plausible window (by default 2000-01-01 to a day
    /// after the run): a typo such as 2030, or a spreadsheet's zero date (1900).
    ImplausibleDate,
    /// A police.uk month does not parse.
    BadMonth,
    /// `harm_weight` is not a number ≥ 0.
    BadHarmWeight,
    /// An age is not a whole number from 0 to 120.
    BadAge,
    /// An offence code (input schema) is not in the schema's code table, and the row has
    /// no offence text.
    UnmappedOffenceCode,
    /// The source label is not usable (letters, digits, `_`, `-`), or too many sources.
    BadSource,
}

impl RejectReason {
    /// The snake_case name used in reports and the rejects file.
    pub fn slug(self) -> &'static str {
        match self {
            RejectReason::WrongColumnCount => "wrong_column_count",
            RejectReason::BadEncoding => "bad_encoding",
            RejectReason::MissingId => "missing_id",
            RejectReason::DuplicateId => "duplicate_id",
            RejectReason::MissingOffence => "missing_offence",
            RejectReason::MissingCoordinates => "missing_coordinates",
            RejectReason::UnparsableCoordinate => "unparsable_coordinate",
            RejectReason::CoordinateOutOfRange => "coordinate_out_of_range",
            RejectReason::LikelySwappedLatLon => "likely_swapped_lat_lon",
            RejectReason::OutsideDistricts => "outside_districts",
            RejectReason::MissingDatetime => "missing_datetime",
            RejectReason::BadDatetime => "bad_datetime",
            RejectReason::EndBeforeStart => "end_before_start",
            RejectReason::ImplausibleDate => "implausible_date",
            RejectReason::BadMonth => "bad_month",
            RejectReason::BadHarmWeight => "bad_harm_weight",
            RejectReason::BadAge => "bad_age",
            RejectReason::UnmappedOffenceCode => "unmapped_offence_code",
            RejectReason::BadSource => "bad_source",
        }
    }
}

/// One rejected row: where, which field, what value, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// Input file.
    pub file: String,
    /// 1-based line number where the row starts.
    pub line: u64,
    /// Reason.
    pub reason: RejectReason,
    /// Column name the reason is about.
    pub field: String,
    /// The offending value.
    pub value: String,
    /// A sentence for people.
    pub message: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: field {} = '{}': {}",
            self.file,
            self.line,
            self.reason.slug(),
            self.field,
            self.value,
            self.message
        )
    }
}

/// Per-file counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileReport {
    /// Path.
    pub file: String,
    /// Detected format: `police_uk`, `timed_lonlat`, `timed_bng`, or `schema` (read through
    /// the input schema named in `schema`).
    pub format: String,
    /// The input schema the file was read through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The encoding it was read in: `UTF-8`, `UTF-16LE`, `UTF-16BE`, `windows-1252`, or `UTF-8 with
    /// windows-1252 bytes` (empty in snapshots made before this was recorded).
    #[serde(default)]
    pub encoding: String,
    /// The field delimiter: `comma`, `semicolon` (with decimal commas) or `tab`.
    #[serde(default)]
    pub delimiter: String,
    /// Data rows read (header excluded).
    pub rows_read: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows rejected.
    pub rejected: u64,
}

/// The accounting of an ingest: `rows_read == accepted + rejected`, always.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IngestReport {
    /// Data rows read over all files.
    pub rows_read: u64,
    /// Rows accepted into the store.
    pub accepted: u64,
    /// Rows rejected (each written to the rejects file when one is set).
    pub rejected: u64,
    /// Rejections per reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Accepted rows with a month only (police.uk): excluded from hour-of-day analysis.
    pub month_only: u64,
    /// Accepted rows by source (police, health, council, ...).
    #[serde(default)]
    pub accepted_by_source: BTreeMap<String, u64>,
    /// Records flagged as the same incident as another source's (when there are several
    /// sources): the rule and what it found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_source_duplicates: Option<super::duplicates::DuplicateReport>,
    /// Per-file counts.
    pub files: Vec<FileReport>,
    /// Where rejected rows were written, if anywhere.
    pub rejects_file: Option<String>,
    /// The first rejections, for display.
    #[serde(skip)]
    pub examples: Vec<Rejection>,
}

impl IngestReport {
    /// True when the accounting balances.
    pub fn balances(&self) -> bool {
        self.rows_read == self.accepted + self.rejected
            && self.rejected == self.rejected_by_reason.values().sum::<u64>()
            && self
                .files
                .iter()
                .all(|f| f.rows_read == f.accepted + f.rejected)
    }
}
