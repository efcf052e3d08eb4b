//! `manifest.json`: how a published snapshot was made. Everything in it but the two times
//! is the same for the same inputs and configuration.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::gates::GateRefusal;
use crate::incidents::IngestReport;

/// One published layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerEntry {
    /// Collection id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Features.
    pub features: usize,
    /// Whether the layer takes selections (`datetime`, `offence_group`).
    pub selectable: bool,
    /// Parameters: bandwidth and the rule that chose it, thresholds, seeds, counts.
    pub metadata: Value,
}

/// One file of the snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Path inside the snapshot directory.
    pub path: String,
    /// Size, bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// The quality gates' settings of a run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct GateSettings {
    /// Largest fall of accepted rows allowed against the served snapshot (fraction).
    pub max_row_drop: f64,
    /// Largest share of rejected rows allowed (fraction).
    pub max_reject_rate: f64,
    /// `--force` was given.
    pub force: bool,
    /// Runs kept.
    pub retain: usize,
}

/// The manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Run id: `YYYYMMDDTHHMMSSZ` of the start, UTC (also the directory's name).
    pub run_id: String,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// End, RFC 3339 UTC.
    pub finished_at: String,
    /// `hotspots <version>`.
    pub generator: String,
    /// SHA-256 of the configuration file, when one was used.
    pub config_sha256: Option<String>,
    /// The inputs: each file's path, format, SHA-256 and rows, and the totals.
    pub inputs: IngestReport,
    /// Boundary pack: origin and geometry fingerprint.
    pub boundaries: Value,
    /// The heatmap surface: bandwidth and rule, kernel, cell, weight, counts.
    pub heatmap: Value,
    /// The layers.
    pub layers: Vec<LayerEntry>,
    /// The gates' thresholds this run was checked against, and the retention.
    #[serde(default)]
    pub gates: Option<GateSettings>,
    /// Gates that refused but were overridden with `--force` (empty when none refused).
    pub forced_past: Vec<GateRefusal>,
    /// Every other file, sorted by path.
    pub files: Vec<FileEntry>,
}
