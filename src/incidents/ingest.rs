//! Streaming CSV ingest: format detection, validation, transform, district assignment.
//!
//! Rows are read into a reusable chunk of byte records, validated, transformed to EPSG:27700
//! in one PROJ call per chunk, assigned to districts, checked for duplicate ids and appended
//! to the store in file order. Every row ends up accepted or rejected with a reason.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use hashbrown::HashMap;
use sha2::{Digest, Sha256};
use simd_csv::ByteRecord;
use thiserror::Error;

use super::offence::{OffenceGroup, OffenceMap};
use super::reject::{FileReport, IngestReport, RejectReason, Rejection};
use super::seen_ids::{IdHasher, SeenIds};
use std::sync::Arc;

use super::duplicates::{flag_cross_source_duplicates, DuplicateRule};
use super::schema::{check_source_label, InputSchema};
use super::store::{IncidentStore, NewIncident, AGE_UNKNOWN, FLAG_MONTH_ONLY, FLAG_NO_END};
use super::time::{parse_datetime, parse_month, EpochMinutes};
use crate::boundaries::DistrictIndex;
use crate::crs::{CrsError, LatticeTransformer, Transformer};

/// Rows validated before one batch transform.
const CHUNK_ROWS: usize = 4096;
/// Rejections kept in memory for display.
const EXAMPLES_KEPT: usize = 50;

/// Fatal ingest errors (a bad row is never fatal: it is rejected).
#[derive(Debug, Error)]
pub enum IngestError {
    /// Cannot open or read the file.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// Path.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The header matches neither format.
    #[error("{file}: line 1: unrecognised header: {message}")]
    Header {
        /// Path.
        file: String,
        /// What is missing.
        message: String,
    },
    /// The CSV itself is broken (e.g. an unterminated quote at end of file).
    #[error("{file}: line {line}: CSV error: {message}")]
    Csv {
        /// Path.
        file: String,
        /// Line.
        line: u64,
        /// Parser message.
        message: String,
    },
    /// Cannot write the rejects file.
    #[error("{file}: cannot write rejects: {message}")]
    Rejects {
        /// Path.
        file: String,
        /// Cause.
        message: String,
    },
    /// PROJ failed to start.
    #[error(transparent)]
    Crs(#[from] CrsError),
}

/// The two input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// police.uk street-level crime (month only).
    PoliceUk,
    /// The project's timed format with longitude/latitude.
    TimedLonLat,
    /// The project's timed format with EPSG:27700 easting/northing.
    TimedBng,
}

impl InputFormat {
    /// Name used in reports.
    pub fn slug(self) -> &'static str {
        match self {
            InputFormat::PoliceUk => "police_uk",
            InputFormat::TimedLonLat => "timed_lonlat",
            InputFormat::TimedBng => "timed_bng",
        }
    }
}

/// Column positions for one file.
#[derive(Debug, Clone)]
struct Columns {
    format: InputFormat,
    n: usize,
    names: Vec<String>,
    id: usize,
    offence: usize,
    /// police.uk Month, or timed occurred_from.
    from: usize,
    to: Option<usize>,
    /// longitude or easting.
    x: usize,
    /// latitude or northing.
    y: usize,
    harm: Option<usize>,
    victim_age: Option<usize>,
    suspect_age: Option<usize>,
    location_type: Option<usize>,
    /// An OS grid reference column, in place of two coordinate columns (`x` and `y` then
    /// both name it, and positions are EPSG:27700).
    grid_ref: Option<usize>,
    /// The input schema the file matched (dates by its formats, offence codes, nulls).
    schema: Option<Arc<InputSchema>>,
    /// Offence code column (schema files).
    offence_code: Option<usize>,
    /// Time-of-day columns beside the start and end dates (schema files).
    start_time: Option<usize>,
    end_time: Option<usize>,
    /// The source column, when rows name their source.
    source: Option<usize>,
    /// The source of rows that do not name one.
    source_default: String,
    /// Numbers may use a decimal comma (`51,2734`): the file is semicolon-delimited, as
    /// spreadsheets in continental locales write it.
    decimal_comma: bool,
}

const POLICE_UK: [&str; 6] = [
    "crime id",
    "month",
    "longitude",
    "latitude",
    "crime type",
    "lsoa code",
];
const TIMED: [&str; 4] = ["id", "offence", "occurred_from", "occurred_to"];

fn detect(
    headers: &ByteRecord,
    file: &str,
    schemas: &[Arc<InputSchema>],
) -> Result<Columns, IngestError> {
    // Header names as the file writes them (BOM and spaces trimmed), and lower-cased for
    // matching.
    let shown: Vec<String> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let s = String::from_utf8_lossy(h);
            let s = if i == 0 {
                s.trim_start_matches('\u{feff}')
            } else {
                &s
            };
            s.trim().to_string()
        })
        .collect();
    let names: Vec<String> = shown.iter().map(|s| s.to_ascii_lowercase()).collect();
    let find = |n: &str| names.iter().position(|h| h == n);
    // A schema the user gave wins over the built-in formats when the header has every
    // column it names.
    let matching: Vec<&Arc<InputSchema>> = schemas
        .iter()
        .filter(|s| s.missing(&names).is_empty())
        .collect();
    match matching.as_slice() {
        [] => {}
        [s] => {
            // Field names in rejections as the export writes them.
            let mut c = schema_columns(s, &names);
            c.names = shown;
            return Ok(c);
        }
        many => {
            return Err(IngestError::Header {
                file: file.into(),
                message: format!(
                    "the header matches more than one input schema ({}): give only the one for this file",
                    many.iter()
                        .map(|s| format!("{} from {}", s.name, s.file))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        }
    }
    let missing = |want: &[&str]| -> Vec<String> {
        want.iter()
            .filter(|w| find(w).is_none())
            .map(|w| w.to_string())
            .collect()
    };
    let base = |format, id, offence, from, to, x, y| Columns {
        format,
        n: names.len(),
        names: names.clone(),
        id,
        offence,
        from,
        to,
        x,
        y,
        harm: find("harm_weight"),
        victim_age: find("victim_age"),
        suspect_age: find("suspect_age"),
        location_type: find("location_type"),
        grid_ref: None,
        schema: None,
        offence_code: None,
        start_time: None,
        end_time: None,
        source: find("source"),
        source_default: "police".into(),
        decimal_comma: false,
    };
    let pu = missing(&POLICE_UK);
    if pu.is_empty() {
        let g = |n: &str| find(n).unwrap_or(0);
        return Ok(base(
            InputFormat::PoliceUk,
            g("crime id"),
            g("crime type"),
            g("month"),
            None,
            g("longitude"),
            g("latitude"),
        ));
    }
    let tm = missing(&TIMED);
    if tm.is_empty() {
        let g = |n: &str| find(n).unwrap_or(0);
        let (format, x, y) = match (
            find("longitude"),
            find("latitude"),
            find("easting"),
            find("northing"),
        ) {
            (Some(x), Some(y), _, _) => (InputFormat::TimedLonLat, x, y),
            (_, _, Some(x), Some(y)) => (InputFormat::TimedBng, x, y),
            _ if find("grid_ref").is_some() => {
                let g = find("grid_ref").unwrap_or(0);
                let mut c = base(
                    InputFormat::TimedBng,
                    find("id").unwrap_or(0),
                    find("offence").unwrap_or(0),
                    find("occurred_from").unwrap_or(0),
                    find("occurred_to"),
                    g,
                    g,
                );
                c.grid_ref = Some(g);
                return Ok(c);
            }
            _ => return Err(IngestError::Header {
                file: file.into(),
                message:
                    "timed format needs longitude,latitude or easting,northing or grid_ref columns"
                        .into(),
            }),
        };
        return Ok(base(
            format,
            g("id"),
            g("offence"),
            g("occurred_from"),
            find("occurred_to"),
            x,
            y,
        ));
    }
    let (which, miss) = if pu.len() <= tm.len() {
        ("police.uk", pu)
    } else {
        ("timed", tm)
    };
    // The schema whose columns the header most nearly has, when schemas were given.
    let closest = schemas
        .iter()
        .map(|s| (s.missing(&names), s))
        .min_by_key(|(m, _)| m.len());
    if let Some((m, s)) = closest {
        // The schema wins when the header has more of its columns than of the nearer
        // built-in format's.
        let builtin_present = if which == "police.uk" {
            POLICE_UK.len()
        } else {
            TIMED.len()
        } - miss.len();
        let present = s.columns().len() - m.len();
        if present > builtin_present {
            return Err(IngestError::Header {
                file: file.into(),
                message: format!(
                    "closest to input schema {} ({}) but missing column(s) {}",
                    s.name,
                    s.file,
                    m.join(", ")
                ),
            });
        }
    }
    Err(IngestError::Header {
        file: file.into(),
        message: format!(
            "closest to the {which} format but missing column(s) {}; police.uk needs Crime ID, Month, Longitude, Latitude, LSOA code, Crime type; timed needs id, offence, occurred_from, occurred_to and longitude,latitude or easting,northing; any other export needs an input schema (--schema, see schemas/)",
            miss.join(", ")
        ),
    })
}

/// Column positions of a file that matched an input schema (every column is present).
fn schema_columns(s: &Arc<InputSchema>, names: &[String]) -> Columns {
    let find = |n: &Option<String>| {
        n.as_deref().filter(|n| !n.trim().is_empty()).and_then(|n| {
            let n = n.trim().to_lowercase();
            names.iter().position(|h| *h == n)
        })
    };
    let req = |n: &String| find(&Some(n.clone())).unwrap_or(0);
    let c = &s.spec.columns;
    let offence_code = find(&c.offence_code);
    let offence = find(&c.offence).or(offence_code).unwrap_or(0);
    let (format, x, y, grid_ref) = if let Some(g) = find(&c.grid_ref) {
        (InputFormat::TimedBng, g, g, Some(g))
    } else if let (Some(x), Some(y)) = (find(&c.easting), find(&c.northing)) {
        (InputFormat::TimedBng, x, y, None)
    } else {
        (
            InputFormat::TimedLonLat,
            find(&c.longitude).unwrap_or(0),
            find(&c.latitude).unwrap_or(0),
            None,
        )
    };
    Columns {
        format,
        n: names.len(),
        names: names.to_vec(),
        id: req(&c.id),
        offence,
        from: req(&c.start),
        to: find(&c.end),
        x,
        y,
        harm: find(&c.harm_weight),
        victim_age: find(&c.victim_age),
        suspect_age: find(&c.suspect_age),
        location_type: find(&c.location_type),
        grid_ref,
        schema: Some(s.clone()),
        offence_code,
        start_time: find(&c.start_time),
        end_time: find(&c.end_time),
        source: find(&c.source),
        source_default: s.spec.source.clone().unwrap_or_default(),
        decimal_comma: false,
    }
}

/// A row that passed field validation, waiting for transform and district assignment.
#[derive(Debug, Clone, Copy)]
struct Parsed {
    x: f64,
    y: f64,
    group: OffenceGroup,
    offence: u16,
    from: EpochMinutes,
    to: EpochMinutes,
    flags: u8,
    harm: f32,
    victim_age: u8,
    suspect_age: u8,
    location_type: u16,
    source: u8,
}

/// A field-level problem.
struct Problem {
    reason: RejectReason,
    field: usize,
    message: String,
}

fn problem(reason: RejectReason, field: usize, message: impl Into<String>) -> Problem {
    Problem {
        reason,
        field,
        message: message.into(),
    }
}

/// Options for an ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Offence → group table.
    pub offence_map: OffenceMap,
    /// Where to write rejected rows (created on the first rejection).
    pub rejects_path: Option<PathBuf>,
    /// Split records and hash files on a second thread (same result, less wall time);
    /// false keeps the whole ingest on the calling thread.
    pub split_on_thread: bool,
    /// Plausible dates, `[from, to)` in epoch minutes: a row whose start or end lies
    /// outside is rejected as `implausible_date`. Default: 2000-01-01 (London) to a day
    /// after now ([`default_date_window`]).
    pub date_window: (EpochMinutes, EpochMinutes),
    /// Input schemas for exports in other layouts: a file whose header has every column a
    /// schema names is read through it (see [`InputSchema`]).
    pub schemas: Vec<Arc<InputSchema>>,
    /// When two records from different sources are taken for one incident.
    pub duplicate_rule: DuplicateRule,
}

/// The default plausible window of incident dates: from 2000-01-01 00:00 London time to
/// 24 hours after now.
pub fn default_date_window() -> (EpochMinutes, EpochMinutes) {
    let from = crate::incidents::time::parse_date("2000-01-01")
        .and_then(crate::incidents::time::local_day_start)
        .unwrap_or(0);
    let now_min = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0);
    let to = EpochMinutes::try_from(now_min + 24 * 60).unwrap_or(EpochMinutes::MAX);
    (from, to)
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            offence_map: OffenceMap::default_table(),
            rejects_path: None,
            split_on_thread: true,
            date_window: default_date_window(),
            schemas: Vec::new(),
            duplicate_rule: DuplicateRule::default(),
        }
    }
}

/// The WGS84 → EPSG:27700 lattice an ingest with `index` uses: where a generator must agree
/// with ingest to the last centimetre (a point a centimetre inside a coast), it asks this.
///
/// # Errors
/// The transformation cannot be set up.
pub fn ingest_lattice(index: &DistrictIndex) -> Result<LatticeTransformer, CrsError> {
    LatticeTransformer::wgs84_to_bng(lattice_bounds(index)?)
}

/// WGS84 bounds of the districts with a margin of 0.05° (about 4 km), where the ingest
/// lattice is built; anything outside it goes through OSTN15 directly.
fn lattice_bounds(index: &DistrictIndex) -> Result<[f64; 4], CrsError> {
    let Some([x0, y0, x1, y1]) = index.extent_m() else {
        // No districts: a token lattice; every point goes to PROJ.
        return Ok([0.0, 51.0, 0.01, 51.01]);
    };
    let mut corners = Vec::new();
    for k in 0..=8 {
        let t = f64::from(k) / 8.0;
        corners.extend([
            (x0 + (x1 - x0) * t, y0),
            (x0 + (x1 - x0) * t, y1),
            (x0, y0 + (y1 - y0) * t),
            (x1, y0 + (y1 - y0) * t),
        ]);
    }
    Transformer::with_shared(crate::crs::BNG, crate::crs::WGS84, |t| {
        t.convert_in_place(&mut corners)
    })?;
    let b = corners.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, &(x, y)| [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)],
    );
    Ok([b[0] - 0.05, b[1] - 0.05, b[2] + 0.05, b[3] + 0.05])
}

/// The rejects CSV: written (with its header from the first rejected row) to a temporary
/// beside the target and put in place when the ingest finishes, so the file always
/// describes the last run that finished: a clean ingest removes the previous run's file
/// (no file means nothing rejected), and a failed one leaves it as it was. Every write
/// error names the file.
struct RejectsSink {
    path: Option<PathBuf>,
    writer: Option<csv::Writer<crate::output::AtomicFile>>,
}

impl RejectsSink {
    fn new(path: Option<PathBuf>) -> Self {
        RejectsSink { path, writer: None }
    }

    /// True when rejected rows are written somewhere.
    fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// The file's name once it exists.
    fn path_text(&self) -> Option<String> {
        self.writer
            .as_ref()
            .and(self.path.as_ref())
            .map(|p| p.display().to_string())
    }

    fn error(&self, e: impl std::fmt::Display) -> IngestError {
        IngestError::Rejects {
            file: self
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            message: e.to_string(),
        }
    }

    /// Writes one record, creating the file (and its header) first if needed.
    fn write(&mut self, record: [&str; 7]) -> Result<(), IngestError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.writer.is_none() {
            let file = crate::output::AtomicFile::create(path).map_err(|e| self.error(e))?;
            let mut w = csv::Writer::from_writer(file);
            w.write_record(["file", "line", "reason", "field", "value", "message", "raw"])
                .map_err(|e| self.error(e))?;
            self.writer = Some(w);
        }
        let res = match self.writer.as_mut() {
            Some(w) => w.write_record(record),
            None => Ok(()),
        };
        res.map_err(|e| self.error(e))
    }

    /// Puts the file in place, or removes a previous run's file when nothing was rejected
    /// (a device such as `/dev/null` is left alone).
    fn finish(&mut self) -> Result<(), IngestError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        match self.writer.take() {
            Some(w) => {
                let file = w.into_inner().map_err(|e| self.error(e.error()))?;
                file.commit().map_err(|e| self.error(e))
            }
            None => {
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                    std::fs::remove_file(&path).map_err(|e| self.error(e))?;
                    tracing::info!(
                        "nothing rejected: removed the previous run's {}",
                        path.display()
                    );
                }
                Ok(())
            }
        }
    }
}

/// Reads incident files into an [`IncidentStore`], accounting for every row.
pub struct Ingester<'a> {
    index: &'a DistrictIndex,
    to_bng: LatticeTransformer,
    opts: IngestOptions,
    offence_cache: HashMap<Box<[u8]>, (u16, OffenceGroup)>,
    source_cache: HashMap<Box<[u8]>, Option<u8>>,
    store: IncidentStore,
    seen_ids: SeenIds,
    hasher: IdHasher,
    report: IngestReport,
    rejects: RejectsSink,
}

impl<'a> Ingester<'a> {
    /// A new ingester assigning districts with `index`.
    pub fn new(index: &'a DistrictIndex, mut opts: IngestOptions) -> Result<Self, IngestError> {
        let rejects = RejectsSink::new(opts.rejects_path.take());
        Ok(Self {
            index,
            to_bng: ingest_lattice(index)?,
            opts,
            offence_cache: HashMap::new(),
            source_cache: HashMap::new(),
            store: IncidentStore::new(),
            seen_ids: SeenIds::new(),
            hasher: IdHasher::default(),
            report: IngestReport::default(),
            rejects,
        })
    }

    /// Ingests one file.
    /// Reads an incident file (CSV in either format) from `path`.
    ///
    /// # Errors
    /// The file cannot be read, its header is not one of the formats (the message says
    /// what the file looks like instead), or the rejects file cannot be written.
    pub fn ingest_path(&mut self, path: &Path) -> Result<(), IngestError> {
        let name = path.display().to_string();
        let io = |source| IngestError::Io {
            file: name.clone(),
            source,
        };
        let mut bytes = Vec::new();
        File::open(path)
            .map_err(io)?
            .read_to_end(&mut bytes)
            .map_err(io)?;
        self.ingest_bytes(&name, &bytes)
    }

    /// Ingests CSV content already in memory; `name` is used in reports and errors.
    ///
    /// With [`IngestOptions::split_on_thread`] (the default), records are split and the file
    /// hashed on a second thread while this one checks and stores them, chunk by chunk in file
    /// order: the result is the same as on one thread, in less wall time.
    pub fn ingest_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), IngestError> {
        // The file's SHA-256 is of its bytes as they are; the records are read from its text
        // decoded to UTF-8 (see `decode_text`).
        let original = bytes;
        let (text, encoding) = decode_text(bytes);
        let bytes: &[u8] = &text;
        // CR-only line ends read as one line: refuse, naming the cause, rather than read a
        // header and no rows.
        if !bytes.contains(&b'\n') && bytes.contains(&b'\r') {
            return Err(IngestError::Header {
                file: name.to_string(),
                message: "lines end with CR only (classic Mac OS): save the file with LF or CRLF line ends".into(),
            });
        }
        let delimiter = detect_delimiter(bytes);
        // Records are split by simd-csv (SIMD search for delimiters, quotes and newlines):
        // 0.11 s for the 96 MB benchmark file against the `csv` crate's 0.21 s.
        let mut rdr = simd_csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .delimiter(delimiter)
            .from_reader(bytes);
        let headers = rdr
            .byte_headers()
            .map_err(|e| csv_error(name, 1, &e))?
            .clone();
        let mut cols =
            detect(&headers, name, &self.opts.schemas).map_err(|e| {
                match diagnose_header(name, bytes) {
                    Some(message) => IngestError::Header {
                        file: name.to_string(),
                        message,
                    },
                    None => e,
                }
            })?;
        cols.decimal_comma = delimiter == b';';
        if encoding != Encoding::Utf8 {
            tracing::warn!("{name}: read as {} (not UTF-8)", encoding.label());
        }
        let mut file_report = FileReport {
            file: name.to_string(),
            format: match &cols.schema {
                Some(_) => "schema".to_string(),
                None => cols.format.slug().to_string(),
            },
            schema: cols.schema.as_ref().map(|s| s.name.clone()),
            encoding: encoding.label().to_string(),
            delimiter: match delimiter {
                b';' => "semicolon",
                b'\t' => "tab",
                _ => "comma",
            }
            .to_string(),
            ..Default::default()
        };
        let mut lines = LineCounter::new(bytes);
        let mut splitter = Splitter {
            rdr,
            bytes,
            name,
            end: 0,
        };
        splitter.end = splitter.rdr.position() as usize;
        let split_on_thread = self.opts.split_on_thread;
        let mut take = |chunk: &Chunk| {
            self.take_chunk(
                name,
                &cols,
                chunk,
                bytes.len(),
                &mut lines,
                &mut file_report,
            )
        };
        let sha256 = if !split_on_thread {
            let mut chunk = Chunk::new();
            loop {
                splitter.fill(&mut chunk)?;
                if !take(&chunk)? {
                    break;
                }
            }
            sha256_hex(original)
        } else {
            std::thread::scope(|scope| -> Result<String, IngestError> {
                // Three chunk buffers circulate: one being split, one queued, one being checked.
                let (full_tx, full_rx) = std::sync::mpsc::sync_channel(1);
                let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Chunk>();
                for _ in 0..3 {
                    let _ = empty_tx.send(Chunk::new());
                }
                let splitting = scope.spawn(move || {
                    // Stops when the checking side hangs up (it met an error) or at the end.
                    while let Ok(mut chunk) = empty_rx.recv() {
                        let filled = splitter.fill(&mut chunk);
                        let last = filled.is_err() || chunk.filled < CHUNK_ROWS;
                        if full_tx.send(filled.map(|()| chunk)).is_err() || last {
                            break;
                        }
                    }
                    drop(full_tx);
                    sha256_hex(original)
                });
                loop {
                    let chunk = full_rx
                        .recv()
                        .expect("the splitting thread sends until the last chunk")?;
                    let more = take(&chunk)?;
                    let _ = empty_tx.send(chunk);
                    if !more {
                        break;
                    }
                }
                drop((full_rx, empty_tx));
                Ok(splitting
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)))
            })?
        };
        file_report.sha256 = sha256;
        self.report.files.push(file_report);
        Ok(())
    }

    /// Checks and stores one chunk; false when it was the file's last.
    fn take_chunk(
        &mut self,
        name: &str,
        cols: &Columns,
        chunk: &Chunk,
        file_bytes: usize,
        lines: &mut LineCounter,
        file_report: &mut FileReport,
    ) -> Result<bool, IngestError> {
        let filled = chunk.filled;
        if filled == 0 {
            return Ok(false);
        }
        let first = file_report.rows_read == 0;
        let (recs, spans) = (&chunk.recs[..filled], &chunk.spans[..filled]);
        self.process_chunk(name, cols, recs, spans, lines, file_report)?;
        if first && filled == CHUNK_ROWS {
            // Size the store for the whole file from the first chunk's bytes per row, so its
            // columns are not copied as they grow.
            let used = chunk.spans[filled - 1].1.max(1) as f64;
            let rows_est = (file_bytes as f64 * filled as f64 / used * 1.02) as usize;
            let ids = self.store.ids.total_bytes() / self.store.len().max(1);
            self.store.reserve(rows_est.saturating_sub(filled), ids + 1);
            // And the duplicate-id table: growing it rehashes everything held.
            self.seen_ids.reserve(rows_est.saturating_sub(filled));
        }
        Ok(filled == CHUNK_ROWS)
    }

    /// Finishes: releases the duplicate-id table and spare capacity, flushes rejects.
    pub fn finish(mut self) -> Result<(IncidentStore, IngestReport), IngestError> {
        self.rejects.finish()?;
        drop(self.seen_ids);
        self.store.shrink_to_fit();
        let mut by_source = std::collections::BTreeMap::new();
        for &s in &self.store.source {
            *by_source
                .entry(self.store.sources.name(u16::from(s)).to_string())
                .or_insert(0u64) += 1;
        }
        self.report.accepted_by_source = by_source;
        if self.store.sources.len() > 1 {
            self.report.cross_source_duplicates = Some(flag_cross_source_duplicates(
                &mut self.store,
                &self.opts.duplicate_rule,
            ));
        }
        Ok((self.store, self.report))
    }

    fn process_chunk(
        &mut self,
        name: &str,
        cols: &Columns,
        recs: &[ByteRecord],
        spans: &[(usize, usize)],
        lines: &mut LineCounter,
        fr: &mut FileReport,
    ) -> Result<(), IngestError> {
        let mut parsed: Vec<Result<Parsed, Problem>> = Vec::with_capacity(recs.len());
        for rec in recs {
            parsed.push(self.parse_row(cols, rec));
        }
        // Hash the ids and load their slots of the duplicate table now, all together, so the
        // cache misses overlap instead of stalling one row at a time below.
        let mut touched = 0u64;
        // Ids are unique within a source: partner systems number their records independently.
        let ids: Vec<(&[u8], u64)> = recs
            .iter()
            .zip(&parsed)
            .map(|(rec, p)| {
                let id = rec.get(cols.id).unwrap_or(b"").trim_ascii();
                let source = p.as_ref().map_or(0, |p| p.source);
                let h = self
                    .hasher
                    .hash(id)
                    .wrapping_add(u64::from(source).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                touched ^= self.seen_ids.touch(h);
                (id, h)
            })
            .collect();
        std::hint::black_box(touched);
        // Batch transform the valid rows.
        let mut pts: Vec<(f64, f64)> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| (p.x, p.y)))
            .collect();
        let lonlat = cols.format != InputFormat::TimedBng;
        if lonlat && self.to_bng.convert_in_place(&mut pts).is_err() {
            // One bad point fails the batch: redo one at a time and mark failures.
            for (k, p) in parsed.iter().filter_map(|p| p.as_ref().ok()).enumerate() {
                pts[k] = self
                    .to_bng
                    .convert(p.x, p.y)
                    .unwrap_or((f64::NAN, f64::NAN));
            }
        }
        let mut k = 0;
        for (((rec, p), (id, id_hash)), &(start, end)) in
            recs.iter().zip(parsed).zip(ids).zip(spans)
        {
            fr.rows_read += 1;
            self.report.rows_read += 1;
            let outcome = p.and_then(|mut p| {
                let (x, y) = pts[k];
                k += 1;
                let district = self.assign(cols, &mut p, x, y)?;
                if !id.is_empty() && !self.remember_id(id_hash, id, p.source) {
                    return Err(problem(
                        RejectReason::DuplicateId,
                        cols.id,
                        format!(
                            "id already accepted for source {} earlier in this ingest",
                            self.store.sources.name(u16::from(p.source))
                        ),
                    ));
                }
                self.store.push(NewIncident {
                    id,
                    x_m: p.x,
                    y_m: p.y,
                    district,
                    group: p.group,
                    offence: p.offence,
                    from_min: p.from,
                    to_min: p.to,
                    flags: p.flags,
                    harm_given: p.harm,
                    victim_age: p.victim_age,
                    suspect_age: p.suspect_age,
                    location_type: p.location_type,
                    source: p.source,
                });
                Ok(p.flags)
            });
            match outcome {
                Ok(flags) => {
                    fr.accepted += 1;
                    self.report.accepted += 1;
                    if flags & FLAG_MONTH_ONLY != 0 {
                        self.report.month_only += 1;
                    }
                }
                Err(pr) => {
                    fr.rejected += 1;
                    let line = lines.record_line(start, end);
                    // The row's own text, as it is in the file (quotes and all).
                    let n = lines.bytes.len();
                    let mut raw = &lines.bytes[start.min(n)..end.min(n)];
                    while let [rest @ .., b'\n' | b'\r'] = raw {
                        raw = rest;
                    }
                    self.reject(name, line, cols, rec, raw, pr)?;
                }
            }
        }
        Ok(())
    }

    /// Whether the pair (`x`, `y`) as given, swapped, lies inside a district.
    fn swapped_lands(&self, cols: &Columns, x: f64, y: f64) -> bool {
        let swapped = if cols.format == InputFormat::TimedBng {
            Some((y, x))
        } else if x.abs() <= 90.0 && y.abs() <= 180.0 {
            self.to_bng.convert(y, x).ok()
        } else {
            None
        };
        swapped.is_some_and(|(sx, sy)| self.index.locate(sx, sy).is_some())
    }

    /// Sets the transformed position and finds the district, or says why not.
    fn assign(&self, cols: &Columns, p: &mut Parsed, x: f64, y: f64) -> Result<u8, Problem> {
        if let Some(d) = self
            .index
            .locate(x, y)
            .filter(|_| x.is_finite() && y.is_finite())
        {
            p.x = x;
            p.y = y;
            return Ok(d);
        }
        // Would the swapped pair land inside a district? (A grid reference cannot be
        // swapped.)
        if cols.grid_ref.is_none() && self.swapped_lands(cols, p.x, p.y) {
            return Err(problem(
                RejectReason::LikelySwappedLatLon,
                cols.x,
                swap_message(cols),
            ));
        }
        if !(x.is_finite() && y.is_finite()) {
            return Err(problem(
                RejectReason::CoordinateOutOfRange,
                cols.x,
                "cannot be transformed to EPSG:27700: outside the extent of OSTN15 (Great Britain and its waters)",
            ));
        }
        Err(problem(
            RejectReason::OutsideDistricts,
            cols.x,
            format!("E {x:.0} N {y:.0} is outside every district of the boundary pack"),
        ))
    }

    /// Records a source's id with its hash; false when that source already had it.
    fn remember_id(&mut self, hash: u64, id: &[u8], source: u8) -> bool {
        let row = self.store.len() as u32;
        let (ids, sources) = (&self.store.ids, &self.store.source);
        self.seen_ids
            .insert(hash, id, row, |r| {
                if sources[r as usize] == source {
                    ids.get_bytes(r as usize)
                } else {
                    b""
                }
            })
            .is_ok()
    }

    fn reject(
        &mut self,
        name: &str,
        line: u64,
        cols: &Columns,
        rec: &ByteRecord,
        raw: &[u8],
        pr: Problem,
    ) -> Result<(), IngestError> {
        self.report.rejected += 1;
        *self
            .report
            .rejected_by_reason
            .entry(pr.reason.slug().to_string())
            .or_insert(0) += 1;
        let field = cols.names.get(pr.field).cloned().unwrap_or_default();
        let value = rec
            .get(pr.field)
            .map(|v| String::from_utf8_lossy(v).to_string())
            .unwrap_or_default();
        let r = Rejection {
            file: name.to_string(),
            line,
            reason: pr.reason,
            field,
            value,
            message: pr.message,
        };
        if self.rejects.enabled() {
            let raw = String::from_utf8_lossy(raw).to_string();
            let line_s = line.to_string();
            self.rejects.write([
                r.file.as_str(),
                line_s.as_str(),
                r.reason.slug(),
                r.field.as_str(),
                r.value.as_str(),
                r.message.as_str(),
                raw.as_str(),
            ])?;
            self.report.rejects_file = self.rejects.path_text();
        }
        if self.report.examples.len() < EXAMPLES_KEPT {
            self.report.examples.push(r);
        }
        Ok(())
    }

    fn classify(&mut self, text: &[u8]) -> (u16, OffenceGroup) {
        if let Some(&v) = self.offence_cache.get(text) {
            return v;
        }
        let s = String::from_utf8_lossy(text);
        let s = s.trim();
        let v = (
            self.store.offences.intern(s),
            self.opts.offence_map.classify(s),
        );
        self.offence_cache.insert(text.into(), v);
        v
    }

    fn parse_row(&mut self, cols: &Columns, rec: &ByteRecord) -> Result<Parsed, Problem> {
        if rec.len() != cols.n {
            return Err(problem(
                RejectReason::WrongColumnCount,
                0,
                format!("{} columns, the header has {}", rec.len(), cols.n),
            ));
        }
        // One UTF-8 check per record: the reader keeps a record's fields in one buffer, cut
        // next to ASCII delimiters and quotes, so a valid buffer yields each field as a slice
        // of it. A field is checked on its own only when that fails, to name the bad field.
        let data = rec.as_slice();
        let row = std::str::from_utf8(data).ok();
        let schema = cols.schema.as_deref();
        let text = |i: usize| -> Result<&str, Problem> {
            let f = rec.get(i).unwrap_or(b"");
            let off = (f.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
            row.and_then(|r| r.get(off..off.checked_add(f.len())?))
                .map_or_else(|| std::str::from_utf8(f), Ok)
                .map(str::trim_ascii)
                // A schema's null values ("NULL", "N/K", ...) are empty fields.
                .map(|v| match schema {
                    Some(s) if s.is_null(v) => "",
                    _ => v,
                })
                .map_err(|_| problem(RejectReason::BadEncoding, i, "not valid UTF-8"))
        };
        let timed = cols.format != InputFormat::PoliceUk;
        if timed && text(cols.id)?.is_empty() {
            return Err(problem(RejectReason::MissingId, cols.id, "id is empty"));
        }
        let offence_text = match (cols.offence_code, schema) {
            (Some(ci), Some(s)) => {
                let code = text(ci)?;
                match s.offence_for_code(code).filter(|_| !code.is_empty()) {
                    Some(o) => o,
                    None => {
                        // Not in the table: the offence text column, when there is one.
                        let t = if cols.offence != ci {
                            text(cols.offence)?
                        } else {
                            ""
                        };
                        if t.is_empty() && !code.is_empty() {
                            return Err(problem(
                                RejectReason::UnmappedOffenceCode,
                                ci,
                                format!(
                                    "offence code '{code}' is not in [offence_codes] of {}",
                                    s.file
                                ),
                            ));
                        }
                        t
                    }
                }
            }
            _ => text(cols.offence)?,
        };
        if offence_text.is_empty() {
            return Err(problem(
                RejectReason::MissingOffence,
                cols.offence,
                "offence is empty",
            ));
        }
        let (xs, ys) = (text(cols.x)?, text(cols.y)?);
        let (x, y) = if let Some(g) = cols.grid_ref {
            if xs.is_empty() {
                return Err(problem(
                    RejectReason::MissingCoordinates,
                    g,
                    "grid_ref is empty",
                ));
            }
            crate::crs::parse_grid_ref(xs)
                .map_err(|m| problem(RejectReason::UnparsableCoordinate, g, m))?
        } else {
            match parse_coords(cols, xs, ys) {
                // Out of range as given, in range swapped: a swap only if the swapped pair
                // lands in a district; otherwise simply out of range.
                Err(pr) if pr.reason == RejectReason::LikelySwappedLatLon => {
                    let n = |s: &str| super::decimal::parse_f64(s).unwrap_or(f64::NAN);
                    let (gx, gy) = (n(xs), n(ys));
                    return Err(if self.swapped_lands(cols, gx, gy) {
                        pr
                    } else {
                        out_of_range(cols, gx, gy)
                    });
                }
                r => r?,
            }
        };
        let (from, to, flags) = if let Some(s) = schema {
            let f = text(cols.from)?;
            if f.is_empty() {
                return Err(problem(
                    RejectReason::MissingDatetime,
                    cols.from,
                    format!("{} is empty", cols.names[cols.from]),
                ));
            }
            let when = |date_col: usize, time_col: Option<usize>, d: &str| {
                let t = time_col.map(text).transpose()?;
                s.parse_when(d, t).map_err(|(in_time, m)| {
                    let field = if in_time {
                        time_col.unwrap_or(date_col)
                    } else {
                        date_col
                    };
                    problem(RejectReason::BadDatetime, field, m)
                })
            };
            let (a, a_end) = when(cols.from, cols.start_time, f)?;
            match cols.to.map(text).transpose()? {
                None | Some("") => (a, a_end, if a == a_end { FLAG_NO_END } else { 0 }),
                Some(e) => {
                    let to_i = cols.to.unwrap_or(0);
                    let (_, b) = when(to_i, cols.end_time, e)?;
                    if b < a {
                        return Err(problem(
                            RejectReason::EndBeforeStart,
                            to_i,
                            format!("{} is before {}", cols.names[to_i], cols.names[cols.from]),
                        ));
                    }
                    (a, b, 0)
                }
            }
        } else if timed {
            let f = text(cols.from)?;
            if f.is_empty() {
                return Err(problem(
                    RejectReason::MissingDatetime,
                    cols.from,
                    "occurred_from is empty",
                ));
            }
            let from =
                parse_datetime(f).map_err(|m| problem(RejectReason::BadDatetime, cols.from, m))?;
            match cols.to.map(text).transpose()? {
                None | Some("") => (from, from, FLAG_NO_END),
                Some(t) => {
                    let to_i = cols.to.unwrap_or(0);
                    let to = parse_datetime(t)
                        .map_err(|m| problem(RejectReason::BadDatetime, to_i, m))?;
                    if to < from {
                        return Err(problem(
                            RejectReason::EndBeforeStart,
                            to_i,
                            "occurred_to is before occurred_from",
                        ));
                    }
                    (from, to, 0)
                }
            }
        } else {
            let (a, b) = parse_month(text(cols.from)?)
                .map_err(|m| problem(RejectReason::BadMonth, cols.from, m))?;
            (a, b, FLAG_MONTH_ONLY)
        };
        let (lo, hi) = self.opts.date_window;
        for (m, field) in [(from, cols.from), (to, cols.to.unwrap_or(cols.from))] {
            if m < lo || m >= hi {
                return Err(problem(
                    RejectReason::ImplausibleDate,
                    field,
                    format!(
                        "{} is outside the plausible window {} to {} (see --dates)",
                        crate::incidents::time::format_local(m),
                        crate::incidents::time::format_local(lo),
                        crate::incidents::time::format_local(hi)
                    ),
                ));
            }
        }
        let harm = match cols.harm.map(text).transpose()? {
            None | Some("") => f32::NAN,
            Some(h) => (if cols.decimal_comma {
                h.replacen(',', ".", 1)
            } else {
                h.to_string()
            })
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                problem(
                    RejectReason::BadHarmWeight,
                    cols.harm.unwrap_or(0),
                    "harm_weight must be a number ≥ 0",
                )
            })?,
        };
        let age = |c: Option<usize>| -> Result<u8, Problem> {
            match c.map(text).transpose()? {
                None | Some("") => Ok(AGE_UNKNOWN),
                Some(a) => a.parse::<u8>().ok().filter(|v| *v <= 120).ok_or_else(|| {
                    problem(
                        RejectReason::BadAge,
                        c.unwrap_or(0),
                        "age must be a whole number from 0 to 120",
                    )
                }),
            }
        };
        let victim_age = age(cols.victim_age)?;
        let suspect_age = age(cols.suspect_age)?;
        let location_type = match cols.location_type.map(text).transpose()? {
            None | Some("") => 0,
            Some(l) => self.store.location_types.intern(l),
        };
        let source_text = match cols.source.map(text).transpose()? {
            None | Some("") => cols.source_default.as_str(),
            Some(v) => v,
        };
        let source = self
            .source_for(source_text)
            .map_err(|m| problem(RejectReason::BadSource, cols.source.unwrap_or(cols.id), m))?;
        let (offence, group) = self.classify(offence_text.as_bytes());
        Ok(Parsed {
            x,
            y,
            group,
            offence,
            from,
            to,
            flags,
            harm,
            victim_age,
            suspect_age,
            location_type,
            source,
        })
    }

    /// The store's id for a source label (checked and lower-cased once per distinct text).
    fn source_for(&mut self, text: &str) -> Result<u8, String> {
        if let Some(v) = self.source_cache.get(text.as_bytes()) {
            return v.ok_or_else(|| check_source_label(text).err().unwrap_or_default());
        }
        let id = match check_source_label(text) {
            Err(m) => {
                self.source_cache.insert(text.as_bytes().into(), None);
                return Err(m);
            }
            Ok(label) => self.store.source_id(&label).ok_or_else(|| {
                format!(
                    "more than {} sources in one ingest",
                    super::store::MAX_SOURCES
                )
            })?,
        };
        self.source_cache.insert(text.as_bytes().into(), Some(id));
        Ok(id)
    }
}

fn swap_message(cols: &Columns) -> &'static str {
    if cols.format == InputFormat::TimedBng {
        "easting and northing look swapped: the swapped point lies inside a district"
    } else {
        "latitude and longitude look swapped: the swapped point lies inside a district"
    }
}

fn parse_coords(cols: &Columns, xs: &str, ys: &str) -> Result<(f64, f64), Problem> {
    let (xn, yn) = if cols.format == InputFormat::TimedBng {
        ("easting", "northing")
    } else {
        ("longitude", "latitude")
    };
    if xs.is_empty() {
        return Err(problem(
            RejectReason::MissingCoordinates,
            cols.x,
            format!("{xn} is empty"),
        ));
    }
    if ys.is_empty() {
        return Err(problem(
            RejectReason::MissingCoordinates,
            cols.y,
            format!("{yn} is empty"),
        ));
    }
    let num = |s: &str, i: usize, n: &str| -> Result<f64, Problem> {
        let comma;
        let s = if cols.decimal_comma && s.contains(',') {
            comma = s.replacen(',', ".", 1);
            comma.as_str()
        } else {
            s
        };
        super::decimal::parse_f64(s)
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                problem(
                    RejectReason::UnparsableCoordinate,
                    i,
                    format!("{n} is not a number"),
                )
            })
    };
    let x = num(xs, cols.x, xn)?;
    let y = num(ys, cols.y, yn)?;
    let (xr, yr) = coord_ranges(cols);
    let inside = |v: f64, r: (f64, f64)| v >= r.0 && v <= r.1;
    if inside(x, xr) && inside(y, yr) {
        return Ok((x, y));
    }
    if inside(y, xr) && inside(x, yr) {
        return Err(problem(
            RejectReason::LikelySwappedLatLon,
            cols.x,
            swap_message(cols),
        ));
    }
    Err(out_of_range(cols, x, y))
}

/// The valid ranges of a format's coordinates: (x, y).
fn coord_ranges(cols: &Columns) -> ((f64, f64), (f64, f64)) {
    if cols.format == InputFormat::TimedBng {
        ((0.0, 700_000.0), (0.0, 1_300_000.0))
    } else {
        ((-180.0, 180.0), (-90.0, 90.0))
    }
}

/// `coordinate_out_of_range` for the first coordinate outside its range.
fn out_of_range(cols: &Columns, x: f64, y: f64) -> Problem {
    let (xn, yn) = if cols.format == InputFormat::TimedBng {
        ("easting", "northing")
    } else {
        ("longitude", "latitude")
    };
    let (xr, yr) = coord_ranges(cols);
    let (bad, i, n, r) = if !(x >= xr.0 && x <= xr.1) {
        (x, cols.x, xn, xr)
    } else {
        (y, cols.y, yn, yr)
    };
    problem(
        RejectReason::CoordinateOutOfRange,
        i,
        format!("{n} {bad} is outside [{}, {}]", r.0, r.1),
    )
}

/// Why a file whose header matched neither format cannot be read, when the cause is the
/// file's shape rather than its columns: empty, UTF-16, another delimiter, CR-only line
/// ends, or a damaged snapshot. `None` when it looks like a comma-separated UTF-8 file.
fn diagnose_header(name: &str, bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Some(if name.ends_with(".hsnap") {
            "the file is empty: not a snapshot (make one with `hotspots ingest --out FILE.hsnap`)"
                .into()
        } else {
            "the file is empty: no header line".into()
        });
    }
    if name.ends_with(".hsnap") {
        return Some("the name ends .hsnap but the file is not a snapshot (damaged or cut short?): make it again with `hotspots ingest --out FILE.hsnap`".into());
    }
    let head = &bytes[..bytes.len().min(4096)];
    if head.iter().filter(|&&b| b == 0).count() > head.len() / 4 {
        return Some(
            "the file holds NUL bytes, as UTF-16 does: save it as \"CSV UTF-8 (comma delimited)\""
                .into(),
        );
    }
    let first_line_end = head.iter().position(|&b| b == b'\n');
    if first_line_end.is_none() && head.contains(&b'\r') {
        return Some(
            "lines end with CR only (classic Mac OS): save the file with LF or CRLF line ends"
                .into(),
        );
    }
    None
}

/// The encoding a file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// UTF-8 (with or without a byte-order mark).
    Utf8,
    /// UTF-16 little-endian with its byte-order mark (Excel's "Unicode Text").
    Utf16Le,
    /// UTF-16 big-endian with its byte-order mark.
    Utf16Be,
    /// Windows-1252 throughout (Excel's "CSV (Comma delimited)" on Windows).
    Windows1252,
    /// UTF-8 with some bytes that are not, read as Windows-1252 (a file pasted together
    /// from two exports).
    MixedUtf8Windows1252,
}

impl Encoding {
    /// As recorded in the file's report.
    fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Windows1252 => "windows-1252",
            Encoding::MixedUtf8Windows1252 => "UTF-8 with windows-1252 bytes",
        }
    }
}

/// A file's text as UTF-8, and the encoding it was read in. UTF-16 needs its byte-order
/// mark; UTF-8 is taken as it is (no copy); a file that is not valid UTF-8 and holds no
/// multi-byte UTF-8 sequence is Windows-1252 (every byte maps to a character, so nothing is
/// lost), and one that mixes both keeps its valid UTF-8 and reads each other byte as
/// Windows-1252. Decoding is by `encoding_rs` (the WHATWG Encoding Standard's tables). A
/// UTF-8 byte-order mark is left for the header reader to drop.
fn decode_text(bytes: &[u8]) -> (std::borrow::Cow<'_, [u8]>, Encoding) {
    use std::borrow::Cow;
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(bytes) {
        if enc != encoding_rs::UTF_8 {
            let (text, _, _) = enc.decode(bytes);
            let which = if enc == encoding_rs::UTF_16BE {
                Encoding::Utf16Be
            } else {
                Encoding::Utf16Le
            };
            return (Cow::Owned(text.into_owned().into_bytes()), which);
        }
    }
    if std::str::from_utf8(bytes).is_ok() {
        return (Cow::Borrowed(bytes), Encoding::Utf8);
    }
    let multibyte = bytes
        .utf8_chunks()
        .any(|c| c.valid().chars().any(|ch| ch.len_utf8() > 1));
    if !multibyte {
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
        return (
            Cow::Owned(text.into_owned().into_bytes()),
            Encoding::Windows1252,
        );
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 8);
    for chunk in bytes.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(chunk.invalid());
        out.extend_from_slice(text.as_bytes());
    }
    (Cow::Owned(out), Encoding::MixedUtf8Windows1252)
}

/// The field delimiter, from the header line: a comma, or a semicolon or tab when the header
/// has none of the others and at least two of it (spreadsheets in continental locales write
/// semicolons, with decimal commas; "Text (Tab delimited)" writes tabs).
fn detect_delimiter(bytes: &[u8]) -> u8 {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or(b"");
    let count = |c: u8| line.iter().filter(|&&b| b == c).count();
    let (commas, semis, tabs) = (count(b','), count(b';'), count(b'\t'));
    if commas == 0 && semis >= 2 && tabs == 0 {
        b';'
    } else if commas == 0 && tabs >= 2 && semis == 0 {
        b'\t'
    } else {
        b','
    }
}

fn csv_error(file: &str, line: u64, e: &impl std::fmt::Display) -> IngestError {
    IngestError::Csv {
        file: file.to_string(),
        line,
        message: e.to_string(),
    }
}

/// SHA-256 of the bytes, lower-case hex.
fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Up to [`CHUNK_ROWS`] records split from the input, with their byte spans.
struct Chunk {
    recs: Vec<ByteRecord>,
    spans: Vec<(usize, usize)>,
    filled: usize,
}

impl Chunk {
    fn new() -> Self {
        Self {
            recs: (0..CHUNK_ROWS).map(|_| ByteRecord::new()).collect(),
            spans: vec![(0, 0); CHUNK_ROWS],
            filled: 0,
        }
    }
}

/// Splits one file's records into chunks, in order.
struct Splitter<'a> {
    rdr: simd_csv::Reader<&'a [u8]>,
    bytes: &'a [u8],
    name: &'a str,
    /// Where the last record read ended.
    end: usize,
}

impl Splitter<'_> {
    /// Fills the chunk with the next records (fewer than [`CHUNK_ROWS`] at the end).
    fn fill(&mut self, chunk: &mut Chunk) -> Result<(), IngestError> {
        chunk.filled = 0;
        while chunk.filled < CHUNK_ROWS {
            match self.rdr.read_byte_record(&mut chunk.recs[chunk.filled]) {
                Ok(true) => {
                    let start = self.end;
                    self.end = self.rdr.position() as usize;
                    chunk.spans[chunk.filled] = (start, self.end);
                    chunk.filled += 1;
                }
                Ok(false) => break,
                Err(e) => {
                    let line = LineCounter::new(self.bytes).record_line(self.end, self.bytes.len());
                    return Err(csv_error(self.name, line, &e));
                }
            }
        }
        Ok(())
    }
}

/// Line numbers (1-based) of records of one file, asked in file order, from byte spans.
///
/// A record's span runs from the end of the one before to its own end; it begins after any
/// blank lines (line terminators only) the reader skipped, and its line is one more than the
/// newlines before that point. Counting only goes forward, so asking for every rejected row
/// costs at most one pass over the file.
struct LineCounter<'a> {
    bytes: &'a [u8],
    counted_to: usize,
    newlines: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            counted_to: 0,
            newlines: 0,
        }
    }

    /// The first line of the record whose span is bytes `start..end`.
    fn record_line(&mut self, start: usize, end: usize) -> u64 {
        let start = start.clamp(self.counted_to, self.bytes.len());
        let before = &self.bytes[self.counted_to..start];
        self.newlines += memchr::memchr_iter(b'\n', before).count() as u64;
        self.counted_to = start;
        let span = &self.bytes[start..end.clamp(start, self.bytes.len())];
        let blank = span.iter().take_while(|&&b| b == b'\n' || b == b'\r');
        1 + self.newlines + blank.filter(|&&b| b == b'\n').count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line numbers of every record of `data` as the ingest computes them.
    fn record_lines(data: &[u8]) -> Vec<u64> {
        let mut rdr = simd_csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(data);
        rdr.byte_headers().unwrap();
        let mut counter = LineCounter::new(data);
        let mut rec = ByteRecord::new();
        let mut lines = Vec::new();
        let mut end = rdr.position() as usize;
        while rdr.read_byte_record(&mut rec).unwrap() {
            let start = end;
            end = rdr.position() as usize;
            lines.push(counter.record_line(start, end));
        }
        lines
    }

    #[test]
    fn record_lines_count_blank_lines_crlf_and_multi_line_fields() {
        // Line 1 header (with a BOM); 2 a quoted field with a comma and quotes; 3 blank;
        // 4-5 a field with a newline, ended by CRLF; 6 plain; 7 short; 8-9 a quoted newline
        // in the last record, which has no final newline.
        let data = b"\xef\xbb\xbfid,name,x\n1,\"b \"\"x\"\", c\",3\n\n2,\"multi\nline\",4\r\n3,plain,5\n4,short\n5,\"two\nlines\",6";
        assert_eq!(record_lines(data), [2, 4, 6, 7, 8]);
        // The same with a final newline and trailing blank lines.
        let mut more = data.to_vec();
        more.extend_from_slice(b"\n\n\n6,last,7\n");
        assert_eq!(record_lines(&more), [2, 4, 6, 7, 8, 12]);
        // An unterminated quote runs to the end of the file, from its first line.
        assert_eq!(record_lines(b"a,b\n1,2\n3,\"open\n4,5\n"), [2, 3]);
    }

    /// The split-on-a-thread ingest and the one-thread ingest agree on everything: the store,
    /// the accounting, every rejection with its line, and a broken file's error.
    #[test]
    fn splitting_on_a_thread_changes_nothing() {
        use crate::boundaries::BoundaryPack;
        use std::fmt::Write as _;
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        // Several chunks of rows, with bad and duplicate rows spread through them.
        let mut csv = String::from("id,offence,occurred_from,occurred_to,longitude,latitude\n");
        for i in 0..(3 * CHUNK_ROWS + 123) {
            let (lon, lat) = (
                0.6 + (i % 97) as f64 * 0.004,
                51.1 + (i % 89) as f64 * 0.002,
            );
            match i % 41 {
                0 => writeln!(csv, "R{i},Robbery,2024-05-01T12:00:00,,{lon},").unwrap(),
                1 => writeln!(csv, "R{},Assault,2024-05-01T12:00:00,,{lon},{lat}", i - 2).unwrap(),
                2 => writeln!(csv, "R{i},Assault,2024-13-01T12:00:00,,{lon},{lat}").unwrap(),
                3 => writeln!(
                    csv,
                    "R{i},\"Assault,\nwith a newline\",2024-05-01 12:00,,{lon},{lat}"
                )
                .unwrap(),
                _ => writeln!(
                    csv,
                    "R{i},Wounding,2024-05-01T12:{:02}:00,,{lon},{lat}",
                    i % 60
                )
                .unwrap(),
            }
        }
        let run = |threaded: bool, data: &[u8]| {
            let opts = IngestOptions {
                split_on_thread: threaded,
                ..Default::default()
            };
            let mut ing = Ingester::new(&index, opts).unwrap();
            let result = ing.ingest_bytes("t.csv", data).map_err(|e| e.to_string());
            let (store, report) = ing.finish().unwrap();
            let rejections: Vec<String> = report.examples.iter().map(|r| r.to_string()).collect();
            (
                result,
                store.x_m,
                store.from_min,
                report.rows_read,
                report.rejected_by_reason,
                report.files.first().map(|f| f.sha256.clone()),
                rejections,
            )
        };
        let one = run(false, csv.as_bytes());
        assert!(one.0.is_ok());
        assert!(
            one.3 as usize > 3 * CHUNK_ROWS && one.4.len() >= 3,
            "{:?}",
            one.4
        );
        assert_eq!(one, run(true, csv.as_bytes()));
        // A quote left open in the last chunk runs to the end as one bad row, either way.
        let mut broken = csv.clone();
        broken.push_str("X1,\"Assault,2024-05-01T12:00:00,,0.7,51.2\nX2,Assault\n");
        let one = run(false, broken.as_bytes());
        assert_eq!(one.3, run(false, csv.as_bytes()).3 + 1);
        assert_eq!(one, run(true, broken.as_bytes()));
    }
}
