//! Command-line interface: argument definitions and dispatch into the library.

use std::path::PathBuf;

use anyhow::{Context, Result};

mod evaluate;
mod gistar;
mod hotspots;
mod kde;
pub mod logging;
mod peaks;
mod refresh;
mod serve;

use clap::{Args, Parser, Subcommand};
pub use kde::KdeArgs;

use crate::boundaries::{
    import_districts, BoundaryPack, DistrictIndex, ImportOptions, ONS_ATTRIBUTION,
};
use crate::fixtures::{self, FixtureOptions};
use crate::incidents::{
    is_snapshot, read_snapshot, write_snapshot, IncidentStore, IngestOptions, IngestReport,
    Ingester, OffenceGroup, OffenceMap,
};

/// Hotspot layers for the Kent and Medway Violence Reduction Unit.
#[derive(Debug, Parser)]
#[command(name = "hotspots", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text (spinners per stage on a terminal) or as JSON objects; RUST_LOG
    /// chooses the level (default info).
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// District boundary packs: import from ONS files, list.
    #[command(subcommand)]
    Boundaries(BoundariesCommand),
    /// Seeded incident fixtures.
    #[command(subcommand)]
    Fixtures(FixturesCommand),
    /// Ingest incidents and print counts by district and offence group, and the rejects.
    Stats(StatsArgs),
    /// Ingest incidents once into a snapshot file that every command reads in place of the
    /// CSV files (`--incidents FILE.hsnap`).
    Ingest(IngestArgs),
    /// Kernel density surface as an Esri ASCII grid (.asc + .prj + .json metadata).
    Kde(Box<kde::KdeArgs>),
    /// Ranked hotspots as GeoJSON: density hotspots, Grip patrol places or diversion places.
    Hotspots(Box<hotspots::HotspotsArgs>),
    /// Temporal peak windows (aoristic, FDR-controlled), patrol and diversion windows.
    Peaks(Box<peaks::PeaksArgs>),
    /// Getis–Ord Gi* on H3 or grid cells with FDR confidence bins and permutation p.
    Gistar(Box<gistar::GistarArgs>),
    /// Emerging hotspots: monthly Gi* slices, Mann–Kendall trends, ArcGIS categories.
    Emerging(Box<gistar::CellArgs>),
    /// Serve the layers over HTTP (OGC API - Features).
    Serve(Box<serve::ServeArgs>),
    /// Backtest: hotspot maps from a training period scored on a test period (hit rate, PAI,
    /// PEI, RRI, stability).
    Evaluate(Box<evaluate::EvaluateArgs>),
    /// Compute every published layer and publish them as a snapshot (the nightly refresh).
    Refresh(Box<refresh::RefreshArgs>),
    /// Bearer tokens for organisations that may read partner or restricted layers.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `hotspots token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// A new token for an organisation: printed once, with the `[[orgs]]` config stanza that
    /// holds only its Argon2id hash.
    New(TokenNewArgs),
}

/// `hotspots token new`
#[derive(Debug, Args)]
pub struct TokenNewArgs {
    /// The organisation's name, as the audit log records it (e.g. "Thanet CSP").
    #[arg(long)]
    pub org: String,
    /// Layers it may read beyond the public ones, comma-separated (e.g. grip,density).
    #[arg(long, value_delimiter = ',')]
    pub layers: Vec<String>,
}

/// `hotspots fixtures ...`
#[derive(Debug, Subcommand)]
pub enum FixturesCommand {
    /// Write realistic timed incidents on land inside the districts.
    Generate(GenerateArgs),
    /// Write the partner exports the example input schemas describe (schemas/*.toml):
    /// police_rms.csv, ae_istv.csv and council_asb.csv.
    Partners(PartnersArgs),
    /// Write the same realistic incidents as police.uk street-level crime files, one per
    /// month (month only, police.uk crime types), for backtests on the police.uk format.
    PoliceUk(PoliceUkArgs),
}

/// `hotspots fixtures partners`
#[derive(Debug, Args)]
pub struct PartnersArgs {
    #[command(flatten)]
    pub pack: PackArg,
    /// Random seed (same seed, same files); the committed ones use 20260401.
    #[arg(long, default_value_t = crate::fixtures::partners::PARTNER_FIXTURE_SEED)]
    pub seed: u64,
    /// Folder to write the three files to.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// `hotspots fixtures police-uk`
#[derive(Debug, Args)]
pub struct PoliceUkArgs {
    #[command(flatten)]
    pub pack: PackArg,
    /// Random seed (same seed, same files).
    #[arg(long)]
    pub seed: u64,
    /// Number of incidents over the whole period.
    #[arg(long)]
    pub count: usize,
    /// First day (local date); the period runs 365 days from it.
    #[arg(long, default_value = "2025-01-01")]
    pub start: String,
    /// The force, as police.uk's "Reported by" and in the file names.
    #[arg(long, default_value = "Kent Police")]
    pub force: String,
    /// Folder to write the monthly files to.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// `hotspots fixtures generate`
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub pack: PackArg,
    /// Random seed (same seed, same file).
    #[arg(long)]
    pub seed: u64,
    /// Number of incidents.
    #[arg(long)]
    pub count: usize,
    /// Write easting,northing (EPSG:27700) instead of longitude,latitude.
    #[arg(long)]
    pub bng: bool,
    /// Output CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub out: PathBuf,
}

/// Incident inputs shared by the analysis commands.
#[derive(Debug, Args, Clone)]
pub struct IncidentArgs {
    #[command(flatten)]
    pub pack: PackArg,
    /// Incident CSV files (police.uk, timed, or any export an input schema maps), or one
    /// snapshot from `hotspots ingest`; default: the embedded fixture.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub incidents: Vec<PathBuf>,
    /// Offence → group mapping table (CSV match,pattern,group); default: the built-in table.
    #[arg(long, value_name = "FILE")]
    pub offence_map: Option<PathBuf>,
    /// Input schemas (TOML, see schemas/) for exports in other layouts: a file whose header
    /// has every column a schema names is read through it.
    #[arg(long = "schema", num_args = 1.., value_name = "FILE.toml")]
    pub schemas: Vec<PathBuf>,
    /// Cross-source duplicates: records of different sources this many minutes apart or
    /// less (and within --duplicate-distance-m) are flagged as one incident. Default 60.
    #[arg(long, value_name = "MIN")]
    pub duplicate_window_min: Option<i32>,
    /// Cross-source duplicates: distance, metres. Default 200.
    #[arg(long, value_name = "M")]
    pub duplicate_distance_m: Option<f64>,
    /// Cross-source duplicates: source ranks, highest first (comma-separated); of a matched
    /// pair the lower-ranked source's record is flagged. Default: police, then the order of
    /// the input files.
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub duplicate_priority: Option<Vec<String>>,
    /// Where to write rejected rows with their reasons.
    #[arg(long, value_name = "FILE", default_value = "rejects.csv")]
    pub rejects: PathBuf,
    /// Plausible incident dates, FROM/TO as London days (YYYY-MM-DD, either end `..` for its
    /// default): rows starting or ending outside are rejected as implausible_date.
    /// Default 2000-01-01/.. (up to a day after now).
    #[arg(long, value_name = "FROM/TO")]
    pub dates: Option<String>,
}

/// Parses `--dates FROM/TO` into a half-open window of epoch minutes (TO's whole day
/// included), each `..` or empty end taken from [`crate::incidents::default_date_window`].
pub fn parse_date_window(s: &str) -> Result<(i32, i32)> {
    use crate::incidents::time::{local_day_start, parse_date};
    let (def_from, def_to) = crate::incidents::default_date_window();
    let (a, b) = s
        .split_once('/')
        .with_context(|| format!("--dates '{s}': expected FROM/TO, e.g. 2015-01-01/.."))?;
    let end = |v: &str, next_day: bool, default: i32| -> Result<i32> {
        let v = v.trim();
        if v.is_empty() || v == ".." {
            return Ok(default);
        }
        let d = parse_date(v).map_err(|e| anyhow::anyhow!("--dates: {e}"))?;
        let d = if next_day {
            d.tomorrow()
                .map_err(|e| anyhow::anyhow!("--dates '{v}': {e}"))?
        } else {
            d
        };
        local_day_start(d).map_err(|e| anyhow::anyhow!("--dates '{v}': {e}"))
    };
    let (from, to) = (end(a, false, def_from)?, end(b, true, def_to)?);
    if to <= from {
        anyhow::bail!("--dates '{s}': the end is before the start");
    }
    Ok((from, to))
}

/// Which incidents an analysis uses (every analysis command takes these).
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Keep only these offence groups (repeatable): violence_with_injury, robbery,
    /// knives_weapons, drug_supply_violence, sexual_violence, other.
    #[arg(long = "offence-group", value_name = "G")]
    pub offence_groups: Vec<String>,
    /// Keep only these district codes (repeatable).
    #[arg(long = "district", value_name = "CODE")]
    pub districts: Vec<String>,
    /// First local date kept (YYYY-MM-DD, inclusive, Europe/London).
    #[arg(long)]
    pub from: Option<String>,
    /// Last local date kept (YYYY-MM-DD, inclusive, Europe/London).
    #[arg(long)]
    pub to: Option<String>,
    /// Keep only these sources (repeatable): police, health, council, or whatever the
    /// inputs name. Default: every source, combined.
    #[arg(long = "source", value_name = "NAME")]
    pub sources: Vec<String>,
    /// Leave out records flagged as the same incident as an earlier-listed source's (see
    /// the ingest report's cross_source_duplicates), so each event counts once.
    #[arg(long)]
    pub drop_duplicates: bool,
}

impl FilterArgs {
    /// The filter, with district codes resolved against `pack` and sources against `store`.
    pub fn build(
        &self,
        pack: &BoundaryPack,
        store: &IncidentStore,
    ) -> Result<crate::density::IncidentFilter> {
        use crate::incidents::time::{local_day_start, parse_date};
        let groups = self
            .offence_groups
            .iter()
            .map(|g| g.parse::<OffenceGroup>().map_err(anyhow::Error::msg))
            .collect::<Result<Vec<_>>>()?;
        let districts = self
            .districts
            .iter()
            .map(|c| {
                pack.position(c)
                    .map(|i| i as u8)
                    .with_context(|| format!("--district {c}: not in the boundary pack"))
            })
            .collect::<Result<Vec<_>>>()?;
        let day = |s: &Option<String>, flag: &str, next: bool| -> Result<Option<i32>> {
            let Some(s) = s else { return Ok(None) };
            let d = parse_date(s).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))?;
            let d = if next {
                d.tomorrow().with_context(|| format!("--{flag} {s}"))?
            } else {
                d
            };
            Ok(Some(
                local_day_start(d).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))?,
            ))
        };
        Ok(crate::density::IncidentFilter {
            groups,
            districts,
            from_min: day(&self.from, "from", false)?,
            to_min: day(&self.to, "to", true)?,
            youth_only: false,
            sources: self
                .sources
                .iter()
                .map(|s| {
                    let l = crate::incidents::schema::check_source_label(s).unwrap_or_default();
                    store
                        .sources
                        .names()
                        .iter()
                        .position(|n| *n == l)
                        .map(|i| i as u8)
                        .with_context(|| {
                            format!(
                                "--source {s}: the incidents have sources {}",
                                store.sources.names().join(", ")
                            )
                        })
                })
                .collect::<Result<Vec<_>>>()?,
            drop_duplicates: self.drop_duplicates,
        })
    }

    /// The filter as given, for metadata.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({"offence_groups": self.offence_groups, "districts": self.districts, "from": self.from, "to": self.to, "sources": self.sources, "drop_duplicates": self.drop_duplicates})
    }
}

/// Everything an analysis command starts from.
pub struct Loaded {
    /// The boundary pack.
    pub pack: BoundaryPack,
    /// Its district index.
    pub index: DistrictIndex,
    /// Accepted incidents.
    pub store: IncidentStore,
    /// The accounting.
    pub report: IngestReport,
}

impl Loaded {
    /// What the analyses read: this load plus an incident index and a harm table.
    pub fn inputs<'a>(
        &'a self,
        incidents: &'a crate::incidents::IncidentIndex,
        harm: &'a crate::incidents::HarmTable,
    ) -> crate::hotspots::Inputs<'a> {
        crate::hotspots::Inputs {
            pack: &self.pack,
            districts: &self.index,
            store: &self.store,
            index: incidents,
            harm,
        }
    }
}

impl IncidentArgs {
    /// Loads the pack, ingests the incidents (or reads a snapshot) and says so on stderr.
    pub fn load(&self) -> Result<Loaded> {
        let pack = self.pack.load()?;
        let index = DistrictIndex::new(&pack);
        if let Some(snap) = self.incidents.iter().find(|p| is_snapshot(p)) {
            if self.incidents.len() > 1 {
                anyhow::bail!(
                    "--incidents: {} is a snapshot; give it alone (a snapshot already holds every \
                     file of its ingest)",
                    snap.display()
                );
            }
            if self.offence_map.is_some() {
                anyhow::bail!(
                    "--offence-map: {} was grouped at ingest; run `hotspots ingest` again with \
                     this table",
                    snap.display()
                );
            }
            if !self.schemas.is_empty()
                || self.duplicate_window_min.is_some()
                || self.duplicate_distance_m.is_some()
                || self.duplicate_priority.is_some()
            {
                anyhow::bail!(
                    "--schema and --duplicate-*: {} was ingested already; give them to `hotspots ingest`",
                    snap.display()
                );
            }
            let (store, report) = read_snapshot(snap, &pack)?;
            tracing::info!(
                "read snapshot {}: {} incidents (its ingest read {} rows: {} accepted, {} rejected)",
                snap.display(),
                store.len(),
                report.rows_read,
                report.accepted,
                report.rejected
            );
            return Ok(Loaded {
                pack,
                index,
                store,
                report,
            });
        }
        let offence_map = match &self.offence_map {
            Some(p) => OffenceMap::load(p)?,
            None => OffenceMap::default_table(),
        };
        // Schema paths may be globs; a schema named twice is read once.
        let mut schema_paths = Vec::new();
        for p in refresh::expand_globs(&self.schemas)? {
            let key = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
            if !schema_paths.iter().any(|(k, _)| *k == key) {
                schema_paths.push((key, p));
            }
        }
        let schemas = schema_paths
            .iter()
            .map(|(_, p)| crate::incidents::InputSchema::load(p).map(std::sync::Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let defaults = crate::incidents::DuplicateRule::default();
        let duplicate_rule = crate::incidents::DuplicateRule {
            window_min: self.duplicate_window_min.unwrap_or(defaults.window_min),
            distance_m: self.duplicate_distance_m.unwrap_or(defaults.distance_m),
            priority: match &self.duplicate_priority {
                Some(p) => p
                    .iter()
                    .map(|s| {
                        crate::incidents::schema::check_source_label(s)
                            .map_err(|m| anyhow::anyhow!("--duplicate-priority: {m}"))
                    })
                    .collect::<Result<Vec<_>>>()?,
                None => defaults.priority.clone(),
            },
        };
        if duplicate_rule.window_min < 0
            || !(duplicate_rule.distance_m.is_finite() && duplicate_rule.distance_m >= 0.0)
            || duplicate_rule.distance_m > 10_000.0
            || duplicate_rule.window_min > 7 * 24 * 60
        {
            anyhow::bail!(
                "--duplicate-window-min must be 0 to 10080 and --duplicate-distance-m 0 to 10000 (got {} and {})",
                duplicate_rule.window_min,
                duplicate_rule.distance_m
            );
        }
        let opts = IngestOptions {
            offence_map,
            rejects_path: Some(self.rejects.clone()),
            split_on_thread: true,
            date_window: match &self.dates {
                Some(d) => parse_date_window(d)?,
                None => crate::incidents::default_date_window(),
            },
            schemas,
            duplicate_rule,
        };
        let mut ing = Ingester::new(&index, opts)?;
        if self.incidents.is_empty() {
            ing.ingest_bytes(fixtures::DEFAULT_FIXTURE_NAME, fixtures::DEFAULT_FIXTURE)?;
        }
        for p in &self.incidents {
            ing.ingest_path(p)?;
        }
        let (store, report) = ing.finish()?;
        // A priority naming a source the inputs do not have is a typo (helth for health).
        if store.sources.len() > 1 {
            if let Some(bad) = self.duplicate_priority.iter().flatten().find(|p| {
                let l = crate::incidents::schema::check_source_label(p).unwrap_or_default();
                !store.sources.names().contains(&l)
            }) {
                anyhow::bail!(
                    "--duplicate-priority {bad}: the incidents have sources {}",
                    store.sources.names().join(", ")
                );
            }
        }
        tracing::info!(
            "read {} rows: {} accepted, {} rejected{}",
            report.rows_read,
            report.accepted,
            report.rejected,
            report
                .rejects_file
                .as_ref()
                .map(|f| format!(" (written to {f})"))
                .unwrap_or_default()
        );
        Ok(Loaded {
            pack,
            index,
            store,
            report,
        })
    }
}

/// Appends formatted text to a `String` (writing to a `String` cannot fail).
macro_rules! out {
    ($buf:expr, $($t:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($buf, $($t)*);
    }};
}
/// As [`out!`], with a newline.
macro_rules! outln {
    ($buf:expr, $($t:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($buf, $($t)*);
    }};
}

/// Writes `text` to standard output: a closed pipe or a full disk is an error naming
/// standard output (exit 1), not a panic.
fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to standard output")
}

/// `hotspots ingest`
#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub input: IncidentArgs,
    /// Snapshot to write (replaced only when the whole ingest and write succeed).
    #[arg(long, value_name = "FILE.hsnap")]
    pub out: PathBuf,
    /// Write the snapshot even when it holds no incidents, or fewer than half of those of
    /// the snapshot it replaces (refused otherwise, leaving the file as it was).
    #[arg(long)]
    pub allow_empty: bool,
}

/// Takes the lock on an output file for the whole run ([`crate::output::TargetLock`]): two
/// runs writing one file take turns.
pub(crate) fn lock_output(out: &std::path::Path) -> Result<crate::output::TargetLock> {
    crate::output::TargetLock::acquire(out).with_context(|| format!("locking {}", out.display()))
}

fn ingest(a: IngestArgs) -> Result<()> {
    // Two ingests to one file take turns: each run's report describes the file it wrote.
    let _lock = lock_output(&a.out)?;
    let l = a.input.load()?;
    let new = l.store.len() as u64;
    let why = |what: String| {
        anyhow::anyhow!(
            "{}: not replaced: {what} ({} rows read, {} rejected{}); --allow-empty writes it anyway",
            a.out.display(),
            l.report.rows_read,
            l.report.rejected,
            l.report
                .rejects_file
                .as_ref()
                .map(|f| format!(", see {f}"))
                .unwrap_or_default()
        )
    };
    if !a.allow_empty {
        if new == 0 {
            return Err(why("this ingest accepted no incidents".into()));
        }
        if let Some(old) = crate::incidents::snapshot_incidents(&a.out) {
            if new * 2 < old {
                return Err(why(format!(
                    "this ingest accepted {new} incidents, fewer than half the {old} of the snapshot it would replace"
                )));
            }
        }
    }
    write_snapshot(&a.out, &l.pack, &l.store, &l.report)?;
    let bytes = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "wrote {} incidents to {} ({:.1} MB, boundary pack {})",
        l.store.len(),
        a.out.display(),
        bytes as f64 / 1e6,
        l.pack.origin
    );
    Ok(())
}

/// `hotspots stats`
#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub input: IncidentArgs,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `hotspots boundaries ...`
#[derive(Debug, Subcommand)]
pub enum BoundariesCommand {
    /// Build a boundary pack from an ONS Local Authority District GeoJSON file.
    Import(ImportArgs),
    /// List the districts of a pack with their areas.
    Show(ShowArgs),
}

/// Where the boundary pack comes from (every command takes it).
#[derive(Debug, Args, Clone)]
pub struct PackArg {
    /// Boundary pack (GeoJSON); default: the embedded Kent & Medway pack.
    #[arg(long, value_name = "PACK")]
    pub boundaries: Option<PathBuf>,
}

impl PackArg {
    /// Loads the chosen pack.
    pub fn load(&self) -> Result<BoundaryPack> {
        Ok(BoundaryPack::load_or_default(self.boundaries.as_deref())?)
    }
}

/// `hotspots boundaries import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// ONS district file (GeoJSON, CRS84 or EPSG:27700, any vintage of property names).
    #[arg(long = "from", value_name = "FILE")]
    pub from: PathBuf,
    /// District codes to keep, comma-separated; default: the 13 Kent & Medway districts.
    #[arg(long, value_delimiter = ',')]
    pub codes: Option<Vec<String>>,
    /// Simplification tolerance, metres.
    #[arg(long, default_value_t = 10.0)]
    pub tolerance_m: f64,
    /// Coordinate rounding, metres.
    #[arg(long, default_value_t = 0.1)]
    pub rounding_m: f64,
    /// Licence/attribution text stored in the pack.
    #[arg(long, default_value = ONS_ATTRIBUTION)]
    pub attribution: String,
    /// Output pack path.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `hotspots boundaries show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub pack: PackArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs a parsed command line.
/// Writes a fatal error as one log line (`error: …` with its causes), so it reads the same
/// as the rest of the log and is JSON under `--log-format json`.
pub fn report_error(e: &anyhow::Error) {
    tracing::error!("{}", error_chain(e));
}

/// An error and its causes, outermost first, joined by ": ", leaving out a cause whose text
/// the message already holds (many library errors name their cause in their own message).
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

pub fn run(cli: Cli) -> Result<()> {
    logging::init(cli.log_format);
    match cli.command {
        Command::Boundaries(BoundariesCommand::Import(a)) => boundaries_import(a),
        Command::Boundaries(BoundariesCommand::Show(a)) => boundaries_show(a),
        Command::Fixtures(FixturesCommand::Generate(a)) => fixtures_generate(a),
        Command::Fixtures(FixturesCommand::Partners(a)) => fixtures_partners(a),
        Command::Fixtures(FixturesCommand::PoliceUk(a)) => fixtures_police_uk(a),
        Command::Stats(a) => stats(a),
        Command::Ingest(a) => ingest(a),
        Command::Kde(a) => kde::run(*a),
        Command::Evaluate(a) => evaluate::run(*a),
        Command::Hotspots(a) => hotspots::run(*a),
        Command::Peaks(a) => peaks::run(*a),
        Command::Gistar(a) => gistar::run_gistar(*a),
        Command::Emerging(a) => gistar::run_emerging(*a),
        Command::Serve(a) => serve::run(*a),
        Command::Refresh(a) => refresh::run(*a),
        Command::Token(TokenCommand::New(a)) => token_new(a),
    }
}

/// Prints a new token (once) and the config stanza with its hash.
fn token_new(a: TokenNewArgs) -> Result<()> {
    use crate::server::config::{is_layer_id, LAYER_IDS};
    if let Some(bad) = a.layers.iter().find(|l| !is_layer_id(l)) {
        anyhow::bail!(
            "--layers: unknown layer '{bad}' (known: {})",
            LAYER_IDS.join(", ")
        );
    }
    let (token, hash) = crate::server::access::new_token().map_err(anyhow::Error::msg)?;
    let layers: Vec<String> = a.layers.iter().map(|l| format!("{l:?}")).collect();
    // The token on standard error (the terminal), the config stanza on standard output,
    // so `hotspots token new ... >> hotspots.toml` appends only the stanza.
    eprintln!(
        "The token for {org}, shown only now: give it to them over a secure channel.\n\
         Clients send it as `Authorization: Bearer <token>`.\n\n    {token}\n",
        org = a.org
    );
    write_stdout(&format!(
        "\n# {org}: added by `hotspots token new` (the config holds only the token's Argon2id hash)\n\
         [[orgs]]\n\
         name = {org:?}\n\
         token_hash = \"{hash}\"\n\
         layers = [{layers}]\n",
        org = a.org,
        layers = layers.join(", ")
    ))
}

fn boundaries_import(a: ImportArgs) -> Result<()> {
    let opts = ImportOptions {
        codes: a.codes,
        tolerance_m: a.tolerance_m,
        rounding_m: a.rounding_m,
        attribution: a.attribution,
    };
    let (pack, report) = import_districts(&a.from, &opts)?;
    pack.write(&a.out, opts.rounding_m)
        .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!(
        "imported {} of {} features; vertices {} -> {}; {} shared boundary arcs; repaired: {}; refined: {}",
        report.districts_kept,
        report.features_read,
        report.vertices_in,
        report.vertices_out,
        report.shared_arcs,
        if report.repaired.is_empty() { "none".to_string() } else { report.repaired.join(",") },
        report.refined_districts
    );
    for d in &pack.districts {
        eprintln!("  {}  {:<24} {:>9.2} km²", d.code, d.name, d.area_km2);
    }
    eprintln!(
        "  total {:.1} km² -> {}",
        pack.land_area_km2(),
        a.out.display()
    );
    Ok(())
}

fn boundaries_show(a: ShowArgs) -> Result<()> {
    let pack = a.pack.load()?;
    let mut text = String::new();
    if a.json {
        let v: Vec<_> = pack
            .districts
            .iter()
            .map(|d| serde_json::json!({"code": d.code, "name": d.name, "area_km2": d.area_km2}))
            .collect();
        outln!(
            text,
            "{}",
            serde_json::json!({"origin": pack.origin, "districts": v, "land_area_km2": pack.land_area_km2(), "provenance": pack.provenance})
        );
    } else {
        for d in &pack.districts {
            outln!(text, "{}  {:<24} {:>9.2} km²", d.code, d.name, d.area_km2);
        }
        outln!(
            text,
            "total {:.1} km² ({} districts)",
            pack.land_area_km2(),
            pack.districts.len()
        );
    }
    write_stdout(&text)
}

fn fixtures_partners(a: PartnersArgs) -> Result<()> {
    let pack = a.pack.load()?;
    let index = DistrictIndex::new(&pack);
    let made = crate::fixtures::partners::partner_exports(&pack, &index, a.seed)?;
    std::fs::create_dir_all(&a.out_dir)
        .with_context(|| format!("{}: cannot create", a.out_dir.display()))?;
    for e in [&made.police_rms, &made.ae_istv, &made.council_asb] {
        let path = a.out_dir.join(e.file);
        crate::output::write_atomic(&path, &e.bytes)
            .with_context(|| format!("{}: cannot write", path.display()))?;
        eprintln!("wrote {} ({} rows)", path.display(), e.rows);
    }
    Ok(())
}

fn fixtures_police_uk(a: PoliceUkArgs) -> Result<()> {
    let pack = a.pack.load()?;
    let index = DistrictIndex::new(&pack);
    let start = crate::incidents::time::parse_date(&a.start)
        .map_err(|e| anyhow::anyhow!("--start: {e}"))?;
    let opts = FixtureOptions {
        seed: a.seed,
        count: a.count,
        start,
        ..Default::default()
    };
    let rows = fixtures::generate(&pack, &index, &opts)?;
    std::fs::create_dir_all(&a.out_dir)
        .with_context(|| format!("{}: cannot create", a.out_dir.display()))?;
    let files = fixtures::write_police_uk(&rows, &a.force, &a.out_dir)
        .with_context(|| format!("writing to {}", a.out_dir.display()))?;
    for (p, n) in &files {
        eprintln!("wrote {} ({n} crimes)", p.display());
    }
    Ok(())
}

fn fixtures_generate(a: GenerateArgs) -> Result<()> {
    let pack = a.pack.load()?;
    let index = DistrictIndex::new(&pack);
    let opts = FixtureOptions {
        seed: a.seed,
        count: a.count,
        bng: a.bng,
        ..Default::default()
    };
    let rows = fixtures::generate(&pack, &index, &opts)?;
    fixtures::write_csv(&rows, a.bng, &a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!(
        "wrote {} incidents (seed {}) to {}",
        rows.len(),
        a.seed,
        a.out.display()
    );
    Ok(())
}

fn stats(a: StatsArgs) -> Result<()> {
    let l = a.input.load()?;
    let nd = l.pack.districts.len();
    let mut table = vec![[0u64; 6]; nd];
    for i in 0..l.store.len() {
        table[l.store.district[i] as usize][l.store.group[i] as usize] += 1;
    }
    if a.json {
        let by_district: serde_json::Map<String, serde_json::Value> = l
            .pack
            .districts
            .iter()
            .zip(&table)
            .map(|(d, row)| (d.code.clone(), serde_json::json!(row.iter().sum::<u64>())))
            .collect();
        let by_group: serde_json::Map<String, serde_json::Value> = l
            .pack
            .districts
            .iter()
            .zip(&table)
            .map(|(d, row)| {
                let groups: serde_json::Map<String, serde_json::Value> = OffenceGroup::ALL
                    .iter()
                    .map(|g| (g.slug().to_string(), serde_json::json!(row[*g as usize])))
                    .collect();
                (d.code.clone(), serde_json::Value::Object(groups))
            })
            .collect();
        let out = serde_json::json!({
            "rows_read": l.report.rows_read,
            "accepted": l.report.accepted,
            "rejected": l.report.rejected,
            "rejected_by_reason": l.report.rejected_by_reason,
            "month_only": l.report.month_only,
            "by_district": by_district,
            "by_district_and_group": by_group,
            "by_source": l.report.accepted_by_source,
            "cross_source_duplicates": l.report.cross_source_duplicates,
            "files": l.report.files,
            "rejects_file": l.report.rejects_file,
            "boundaries": l.pack.origin,
        });
        return write_stdout(&format!("{out}\n"));
    }
    let mut text = String::new();
    out!(text, "{:<10} {:<22}", "code", "district");
    for g in OffenceGroup::ALL {
        out!(text, " {:>8}", short_group(g));
    }
    outln!(text, " {:>8}", "total");
    for (d, row) in l.pack.districts.iter().zip(&table) {
        out!(text, "{:<10} {:<22}", d.code, truncate(&d.name, 22));
        for v in row {
            out!(text, " {v:>8}");
        }
        outln!(text, " {:>8}", row.iter().sum::<u64>());
    }
    outln!(
        text,
        "\nrows read {}  accepted {}  rejected {}  (month-only, excluded from hour analysis: {})",
        l.report.rows_read,
        l.report.accepted,
        l.report.rejected,
        l.report.month_only
    );
    for (reason, n) in &l.report.rejected_by_reason {
        outln!(text, "  rejected {reason}: {n}");
    }
    if l.report.accepted_by_source.len() > 1 {
        for (source, n) in &l.report.accepted_by_source {
            outln!(text, "  source {source}: {n}");
        }
    }
    if let Some(d) = &l.report.cross_source_duplicates {
        outln!(
            text,
            "  cross-source duplicates: {} pairs, {} records flagged ({})",
            d.pairs,
            d.flagged,
            d.rule
        );
    }
    for r in l.report.examples.iter().take(10) {
        outln!(text, "  e.g. {r}");
    }
    write_stdout(&text)
}

fn short_group(g: OffenceGroup) -> &'static str {
    match g {
        OffenceGroup::ViolenceWithInjury => "vwi",
        OffenceGroup::Robbery => "robbery",
        OffenceGroup::KnivesWeapons => "weapons",
        OffenceGroup::DrugSupplyViolence => "drugs",
        OffenceGroup::SexualViolence => "sexual",
        OffenceGroup::Other => "other",
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
