//! `hotspots serve --config FILE`: the service's settings in TOML. Every key is optional;
//! flags on the command line win over the file, and relative paths are read from the
//! file's own folder. Unknown keys are errors, so a misspelt setting is never ignored.
//!
//! ```toml
//! bind = "0.0.0.0:8080"
//! public_url = "https://gis.kent.example/hotspots"   # links and TileJSON use it
//! trusted_proxies = ["127.0.0.1"]                    # whose X-Forwarded-* are believed
//! boundaries = "boundaries/kent_medway.geojson"
//! incidents = ["data/2025.csv"]
//! rejects = "out/rejects.csv"
//! map_assets = "web/node_modules/leaflet/dist"
//!
//! [map]                  # the map page's basemap; none: the offline base
//! basemap_url = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
//! basemap_attribution = "© OpenStreetMap contributors"
//!
//! [cors]
//! allow_origins = ["https://gis.example.org"]   # ["*"]: any; []: no CORS headers
//! max_age_s = 3600
//!
//! [heatmap]
//! bandwidth_m = 300.0
//! cell_m = 50.0
//! # bandwidth = "backtest"   # the refresh chooses it (see [heatmap.backtest])
//!
//! [disclosure]            # statistical disclosure control of public layers
//! min_count = 5           # features and counts resting on fewer incidents are suppressed
//! round_to = 5            # published counts are rounded to this
//! granularity = "month"   # finest selection period: month, day or minute
//! partner = false         # control partner-tier layers too
//!
//! [layers]                # tier per layer; unnamed layers are public
//! grip = "partner"
//!
//! audit_log = "audit.jsonl"   # (top level) reads of restricted layers, JSON lines
//! [[orgs]]                # `hotspots token new --org NAME` prints a stanza
//! name = "Thanet CSP"
//! token_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! layers = ["grip"]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Why a configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// TOML syntax or a wrong key or type (the message names the line and the key).
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// toml's message, with line and column.
        message: String,
    },
    /// A value outside its range.
    #[error("{file}: {field}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The key.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Which browser origins may read the API (Cross-Origin Resource Sharing).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins (`scheme://host[:port]`); `"*"` allows any; empty sends no CORS
    /// headers at all.
    #[serde(default = "any_origin")]
    pub allow_origins: Vec<String>,
    /// How long a browser may cache a preflight answer, seconds.
    #[serde(default = "default_max_age_s")]
    pub max_age_s: u64,
}

fn any_origin() -> Vec<String> {
    vec!["*".into()]
}

fn default_max_age_s() -> u64 {
    3600
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allow_origins: any_origin(),
            max_age_s: default_max_age_s(),
        }
    }
}

impl CorsConfig {
    /// The tower-http layer for this policy (`None`: no CORS headers). Read-only API:
    /// GET, HEAD and OPTIONS; ETag and Content-Crs are exposed to scripts.
    pub fn layer(&self) -> Option<CorsLayer> {
        use axum::http::{header, HeaderName, HeaderValue, Method};
        if self.allow_origins.is_empty() {
            return None;
        }
        let origin = if self.allow_origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                self.allow_origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok()),
            )
        };
        Some(
            CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
                .allow_headers([
                    header::ACCEPT,
                    header::IF_NONE_MATCH,
                    header::ACCEPT_ENCODING,
                ])
                .expose_headers([header::ETAG, HeaderName::from_static("content-crs")])
                .max_age(std::time::Duration::from_secs(self.max_age_s)),
        )
    }
}

/// The heatmap's kernel settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeatmapConfig {
    /// Fixed quartic bandwidth, metres (also the fallback when a backtest cannot choose).
    #[serde(default = "default_bandwidth_m")]
    pub bandwidth_m: f64,
    /// Grid cell side, metres.
    #[serde(default = "default_cell_m")]
    pub cell_m: f64,
    /// `"backtest"`: the refresh chooses the bandwidth by a rolling backtest of the data at
    /// hand (`[heatmap.backtest]`); absent: `bandwidth_m`.
    #[serde(default)]
    pub bandwidth: Option<String>,
    /// How `bandwidth = "backtest"` chooses.
    #[serde(default)]
    pub backtest: BacktestConfig,
}

/// `[heatmap.backtest]`: the rolling backtest that chooses the heatmap's bandwidth (the
/// candidate with the highest mean PAI at `coverage_percent` of land).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BacktestConfig {
    /// Side of the equal-area land cells scored, metres (Grip practice: 150).
    #[serde(default = "default_backtest_cell_m")]
    pub cell_m: f64,
    /// Share of land, percent, whose mean PAI is maximised.
    #[serde(default = "default_coverage_percent")]
    pub coverage_percent: f64,
    /// Candidate bandwidths, metres.
    #[serde(default = "default_candidates_m")]
    pub candidates_m: Vec<f64>,
    /// Training months per fold.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Most folds (the latest months).
    #[serde(default = "default_max_folds")]
    pub max_folds: usize,
}

fn default_backtest_cell_m() -> f64 {
    150.0
}

fn default_coverage_percent() -> f64 {
    1.0
}

fn default_candidates_m() -> Vec<f64> {
    crate::evaluate::rolling::DEFAULT_CANDIDATES_M.to_vec()
}

fn default_window() -> usize {
    3
}

fn default_max_folds() -> usize {
    6
}

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig {
            cell_m: default_backtest_cell_m(),
            coverage_percent: default_coverage_percent(),
            candidates_m: default_candidates_m(),
            window: default_window(),
            max_folds: default_max_folds(),
        }
    }
}

fn default_bandwidth_m() -> f64 {
    300.0
}

fn default_cell_m() -> f64 {
    50.0
}

impl Default for HeatmapConfig {
    fn default() -> Self {
        HeatmapConfig {
            bandwidth_m: default_bandwidth_m(),
            cell_m: default_cell_m(),
            bandwidth: None,
            backtest: BacktestConfig::default(),
        }
    }
}

/// The nightly refresh (`hotspots refresh`, and `serve --layers` reads its output).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RefreshConfig {
    /// Where snapshots go (`OUT/<run_id>/`, `OUT/current`).
    pub out: Option<PathBuf>,
    /// Snapshots kept, the current one included.
    #[serde(default = "default_retain")]
    pub retain: usize,
    /// Refuse to publish when accepted rows fall by more than this fraction (0–1).
    #[serde(default = "default_max_row_drop")]
    pub max_row_drop: f64,
    /// Refuse to publish when more than this fraction of rows is rejected (0–1).
    #[serde(default = "default_max_reject_rate")]
    pub max_reject_rate: f64,
    /// `serve --layers`: how often to look for a new `current`, seconds.
    #[serde(default = "default_watch_s")]
    pub watch_s: f64,
}

fn default_watch_s() -> f64 {
    2.0
}

fn default_retain() -> usize {
    7
}

fn default_max_row_drop() -> f64 {
    0.5
}

fn default_max_reject_rate() -> f64 {
    0.2
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            out: None,
            retain: default_retain(),
            max_row_drop: default_max_row_drop(),
            max_reject_rate: default_max_reject_rate(),
            watch_s: default_watch_s(),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on, HOST:PORT.
    pub bind: Option<String>,
    /// The address clients reach the service at (`https://host[:port][/prefix]`); every
    /// link is made from it. Unset: from each request's Host (and trusted proxies'
    /// X-Forwarded-Proto/Host/Prefix).
    pub public_url: Option<String>,
    /// Reverse proxies (addresses or networks) whose X-Forwarded-* headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// `serve --layers DIR`: run the refresh into DIR every day at this Europe/London
    /// time (`HH:MM`, DST-aware).
    pub refresh_at: Option<String>,
    /// Boundary pack (GeoJSON).
    pub boundaries: Option<PathBuf>,
    /// Incident CSV files.
    #[serde(default)]
    pub incidents: Vec<PathBuf>,
    /// Offence → group mapping table.
    pub offence_map: Option<PathBuf>,
    /// Input schemas (TOML) for exports in other layouts (see schemas/).
    #[serde(default)]
    pub schemas: Vec<PathBuf>,
    /// The cross-source duplicate rule (`[duplicates] window_min = 60, distance_m = 200`).
    pub duplicates: Option<crate::incidents::DuplicateRule>,
    /// Where rejected rows go.
    pub rejects: Option<PathBuf>,
    /// Leaflet's `dist` folder for the map page.
    pub map_assets: Option<PathBuf>,
    /// The map page's basemap (`[map]`).
    #[serde(default)]
    pub map: super::map::MapConfig,
    /// CORS policy.
    #[serde(default)]
    pub cors: CorsConfig,
    /// Heatmap settings.
    #[serde(default)]
    pub heatmap: HeatmapConfig,
    /// Nightly refresh settings.
    #[serde(default)]
    pub refresh: RefreshConfig,
    /// Statistical disclosure control of public (and optionally partner) outputs.
    #[serde(default)]
    pub disclosure: crate::disclosure::Rules,
    /// Tier of each layer (`public`, `partner`, `restricted`); layers not named, and the
    /// `density` heatmap when not named, are public.
    #[serde(default)]
    pub layers: std::collections::BTreeMap<String, crate::disclosure::Tier>,
    /// Organisations with tokens, and the layers each may read beyond the public ones.
    #[serde(default)]
    pub orgs: Vec<super::access::OrgConfig>,
    /// Where reads of restricted layers are logged (JSON lines, appended).
    pub audit_log: Option<PathBuf>,
    /// Connection and request bounds.
    #[serde(default)]
    pub limits: super::listen::Limits,
}

/// Layer ids a config may give a tier to (`density`: the heatmap; `peaks`: the snapshot's
/// peak-hours report).
pub const LAYER_IDS: [&str; 9] = [
    "districts",
    "hotspots",
    "grip",
    "diversion",
    "gistar",
    "h3-counts",
    "emerging",
    "density",
    "peaks",
];

/// True for a layer id a config may name: one of [`LAYER_IDS`], or `hotspots-<source>` (the
/// per-source hotspots a refresh publishes when the incidents have several sources).
pub fn is_layer_id(id: &str) -> bool {
    LAYER_IDS.contains(&id)
        || id
            .strip_prefix("hotspots-")
            .is_some_and(|s| crate::incidents::schema::check_source_label(s).is_ok_and(|l| l == s))
}

impl ServeConfig {
    /// Tiers and disclosure rules for publishing.
    pub fn policy(&self) -> crate::disclosure::Policy {
        crate::disclosure::Policy {
            rules: self.disclosure.clone(),
            tiers: self.layers.clone(),
        }
    }

    /// Parses `text` (named `file` in errors); relative paths are joined to `base`.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Self, ConfigError> {
        let mut c: ServeConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        c.boundaries.iter_mut().for_each(rebase);
        c.incidents.iter_mut().for_each(rebase);
        c.offence_map.iter_mut().for_each(rebase);
        c.rejects.iter_mut().for_each(rebase);
        c.map_assets.iter_mut().for_each(rebase);
        c.refresh.out.iter_mut().for_each(rebase);
        c.audit_log.iter_mut().for_each(rebase);
        let invalid = |field, message: String| ConfigError::Invalid {
            file: file.to_string(),
            field,
            message,
        };
        c.map.check().map_err(|(field, m)| invalid(field, m))?;
        for (field, v) in [
            ("heatmap.bandwidth_m", c.heatmap.bandwidth_m),
            ("heatmap.cell_m", c.heatmap.cell_m),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(
                    field,
                    format!("{v} must be a positive number of metres"),
                ));
            }
        }
        if c.heatmap.bandwidth_m > crate::density::MAX_BANDWIDTH_M {
            return Err(invalid(
                "heatmap.bandwidth_m",
                format!(
                    "{} m is more than the largest accepted, {} m: the value is in metres (e.g. 300)",
                    c.heatmap.bandwidth_m,
                    crate::density::MAX_BANDWIDTH_M
                ),
            ));
        }
        if let Some(b) = &c.heatmap.bandwidth {
            if b != "backtest" {
                return Err(invalid(
                    "heatmap.bandwidth",
                    format!("'{b}': the only value is \"backtest\" (a fixed bandwidth is heatmap.bandwidth_m)"),
                ));
            }
        }
        let bt = &c.heatmap.backtest;
        if !(bt.cell_m.is_finite() && (10.0..=5000.0).contains(&bt.cell_m)) {
            return Err(invalid(
                "heatmap.backtest.cell_m",
                format!("{}: 10 to 5000 metres", bt.cell_m),
            ));
        }
        if !(bt.coverage_percent.is_finite()
            && bt.coverage_percent > 0.0
            && bt.coverage_percent <= 100.0)
        {
            return Err(invalid(
                "heatmap.backtest.coverage_percent",
                format!(
                    "{}: a percentage of land above 0 and at most 100",
                    bt.coverage_percent
                ),
            ));
        }
        if bt.candidates_m.is_empty()
            || bt
                .candidates_m
                .iter()
                .any(|h| !(h.is_finite() && *h > 0.0 && *h <= crate::density::MAX_BANDWIDTH_M))
        {
            return Err(invalid(
                "heatmap.backtest.candidates_m",
                format!(
                    "{:?}: one or more bandwidths in metres, above 0 and at most {} m",
                    bt.candidates_m,
                    crate::density::MAX_BANDWIDTH_M
                ),
            ));
        }
        if bt.window == 0 || bt.max_folds == 0 {
            return Err(invalid(
                "heatmap.backtest",
                "window and max_folds are at least 1".to_string(),
            ));
        }
        if c.heatmap.cell_m < 5.0 {
            return Err(invalid(
                "heatmap.cell_m",
                format!(
                    "{} m cells would not fit in memory for a county",
                    c.heatmap.cell_m
                ),
            ));
        }
        for (field, v) in [
            ("refresh.max_row_drop", c.refresh.max_row_drop),
            ("refresh.max_reject_rate", c.refresh.max_reject_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(
                    field,
                    format!("{v} must be a fraction from 0 to 1"),
                ));
            }
        }
        if !(c.refresh.watch_s.is_finite() && (0.1..=3600.0).contains(&c.refresh.watch_s)) {
            return Err(invalid(
                "refresh.watch_s",
                format!("{} must be 0.1 to 3600 seconds", c.refresh.watch_s),
            ));
        }
        if let Err(e) = c.limits.check() {
            return Err(invalid(e.key, e.message));
        }
        if c.disclosure.min_count < 2 {
            return Err(invalid(
                "disclosure.min_count",
                format!(
                    "{} would publish single incidents; use 2 or more (default 5)",
                    c.disclosure.min_count
                ),
            ));
        }
        if c.disclosure.round_to == 0 {
            return Err(invalid(
                "disclosure.round_to",
                "must be 1 (no rounding) or more".into(),
            ));
        }
        for o in &c.orgs {
            if let Err(e) = super::access::check_token_hash(&o.token_hash) {
                return Err(invalid(
                    "orgs",
                    format!(
                        "'{}': token_hash is not an Argon2 PHC string ({e}); make one with `hotspots token new --org NAME`",
                        o.name
                    ),
                ));
            }
            if let Some(id) = o.layers.iter().find(|k| !is_layer_id(k)) {
                return Err(invalid(
                    "orgs",
                    format!(
                        "'{}': unknown layer '{id}' (known: {}, hotspots-<source>)",
                        o.name,
                        LAYER_IDS.join(", ")
                    ),
                ));
            }
        }
        if let Some(id) = c.layers.keys().find(|k| !is_layer_id(k)) {
            return Err(invalid(
                "layers",
                format!(
                    "unknown layer '{id}' (known: {}, hotspots-<source>)",
                    LAYER_IDS.join(", ")
                ),
            ));
        }
        if c.refresh.retain == 0 {
            return Err(invalid(
                "refresh.retain",
                "must keep at least 1 snapshot".into(),
            ));
        }
        if let Some(t) = &c.refresh_at {
            crate::publish::schedule::parse_at(t).map_err(|e| invalid("refresh_at", e))?;
        }
        if let Some(u) = &c.public_url {
            super::base_url::parse_public_url(u)
                .map_err(|e| invalid("public_url", e.to_string()))?;
        }
        for p in &c.trusted_proxies {
            super::base_url::parse_proxy(p)
                .map_err(|e| invalid("trusted_proxies", e.to_string()))?;
        }
        for o in &c.cors.allow_origins {
            let ok = o == "*"
                || ((o.starts_with("http://") || o.starts_with("https://"))
                    && !o.ends_with('/')
                    && axum::http::HeaderValue::from_str(o).is_ok());
            if !ok {
                return Err(invalid(
                    "cors.allow_origins",
                    format!("'{o}' is not \"*\" or an origin like https://gis.example.org"),
                ));
            }
        }
        Ok(c)
    }

    /// How request base URLs are made (values were checked by [`ServeConfig::parse`]).
    pub fn base_policy(&self) -> super::base_url::BasePolicy {
        super::base_url::BasePolicy {
            public_url: self
                .public_url
                .as_deref()
                .and_then(|u| super::base_url::parse_public_url(u).ok()),
            trusted_proxies: self
                .trusted_proxies
                .iter()
                .filter_map(|p| super::base_url::parse_proxy(p).ok())
                .collect(),
        }
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &file, base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let c = ServeConfig::parse("", "x.toml", Path::new("/etc")).unwrap();
        assert_eq!(c, ServeConfig::default());
        assert_eq!(c.cors.allow_origins, vec!["*"]);
        assert_eq!(c.heatmap.bandwidth_m, 300.0);
    }

    #[test]
    fn relative_paths_are_read_from_the_file_folder() {
        let c = ServeConfig::parse(
            "incidents = [\"a.csv\", \"/abs/b.csv\"]\nboundaries = \"p.geojson\"",
            "x.toml",
            Path::new("/srv/hotspots"),
        )
        .unwrap();
        assert_eq!(
            c.incidents,
            vec![
                PathBuf::from("/srv/hotspots/a.csv"),
                PathBuf::from("/abs/b.csv")
            ]
        );
        assert_eq!(c.boundaries, Some(PathBuf::from("/srv/hotspots/p.geojson")));
    }

    #[test]
    fn mistakes_name_the_file_line_and_key() {
        let e = ServeConfig::parse(
            "bind = \"x\"\n[cors]\nallow_origin = [\"*\"]\n",
            "svc.toml",
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("svc.toml: "), "{e}");
        assert!(e.contains("line 3") && e.contains("allow_origin"), "{e}");
        let e = ServeConfig::parse(
            "[heatmap]\nbandwidth_m = -5.0\n",
            "svc.toml",
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("heatmap.bandwidth_m"), "{e}");
        let e = ServeConfig::parse(
            "[cors]\nallow_origins = [\"gis.example.org\"]\n",
            "svc.toml",
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cors.allow_origins"), "{e}");
    }

    #[test]
    fn cors_policies() {
        assert!(CorsConfig {
            allow_origins: vec![],
            max_age_s: 1
        }
        .layer()
        .is_none());
        assert!(CorsConfig::default().layer().is_some());
    }
}
