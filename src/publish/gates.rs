//! Quality gates: a refresh refuses to publish a snapshot that looks broken, so a bad
//! nightly extract never replaces a good map. Each gate names itself and its figures;
//! `force` publishes anyway and the manifest records that it did.

use serde::{Deserialize, Serialize};

use crate::incidents::IngestReport;

/// Thresholds of the gates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateOptions {
    /// Refuse when accepted rows fall by more than this fraction against the current
    /// snapshot (0–1).
    pub max_row_drop: f64,
    /// Refuse when more than this fraction of rows read is rejected (0–1).
    pub max_reject_rate: f64,
    /// Publish even when a gate refuses (recorded in the manifest).
    #[serde(skip)]
    pub force: bool,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            max_row_drop: 0.5,
            max_reject_rate: 0.2,
            force: false,
        }
    }
}

/// A gate that refused, with its figures.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("quality gate '{gate}' refused to publish: {message} (--force publishes anyway)")]
pub struct GateRefusal {
    /// `empty_input`, `row_drop` or `reject_rate`.
    pub gate: String,
    /// What was found.
    pub message: String,
}

/// Checks `report` against the gates; `previous_accepted` is the current snapshot's
/// accepted rows, if there is one. Returns every refusal (empty: publish).
pub fn check(
    report: &IngestReport,
    previous_accepted: Option<u64>,
    opts: &GateOptions,
) -> Vec<GateRefusal> {
    let mut out = Vec::new();
    let refuse = |gate: &str, message: String| GateRefusal {
        gate: gate.into(),
        message,
    };
    for f in &report.files {
        if f.accepted == 0 {
            out.push(refuse(
                "empty_input",
                format!("{}: {} rows read, none accepted", f.file, f.rows_read),
            ));
        }
    }
    if report.accepted == 0 && report.files.is_empty() {
        out.push(refuse("empty_input", "no incidents were read".into()));
    }
    if let Some(prev) = previous_accepted.filter(|&p| p > 0) {
        let floor = (prev as f64) * (1.0 - opts.max_row_drop);
        if (report.accepted as f64) < floor {
            out.push(refuse(
                "row_drop",
                format!(
                    "{} rows accepted against {} in the current snapshot: a fall of {:.1}% (at most {:.1}% allowed)",
                    report.accepted,
                    prev,
                    100.0 * (1.0 - report.accepted as f64 / prev as f64),
                    100.0 * opts.max_row_drop
                ),
            ));
        }
    }
    if report.rows_read > 0 {
        let rate = report.rejected as f64 / report.rows_read as f64;
        if rate > opts.max_reject_rate {
            out.push(refuse(
                "reject_rate",
                format!(
                    "{} of {} rows rejected ({:.1}%, at most {:.1}% allowed)",
                    report.rejected,
                    report.rows_read,
                    100.0 * rate,
                    100.0 * opts.max_reject_rate
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::FileReport;

    fn report(read: u64, accepted: u64) -> IngestReport {
        IngestReport {
            rows_read: read,
            accepted,
            rejected: read - accepted,
            files: vec![FileReport {
                file: "a.csv".into(),
                format: "timed_lonlat".into(),
                sha256: String::new(),
                rows_read: read,
                accepted,
                rejected: read - accepted,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn each_gate_names_itself_and_its_figures() {
        let o = GateOptions::default();
        assert!(check(&report(1000, 990), Some(1000), &o).is_empty());
        let r = check(&report(1000, 400), Some(1000), &o);
        let gates: Vec<&str> = r.iter().map(|g| g.gate.as_str()).collect();
        assert_eq!(gates, ["row_drop", "reject_rate"]);
        assert!(r[0].message.contains("400") && r[0].message.contains("60.0%"));
        assert!(r[1].to_string().contains("--force"));
        let r = check(&report(10, 0), None, &o);
        assert_eq!(r[0].gate, "empty_input");
        // No previous snapshot: no row-drop gate.
        assert!(check(&report(100, 90), None, &o).is_empty());
    }
}
