//! `hotspots peaks`: temporal peak windows, patrol and diversion windows as JSON (+ PNG).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::{FilterArgs, IncidentArgs};
use crate::hotspots::{build_layer, HotspotRequest, Purpose};
use crate::incidents::{HarmTable, IncidentIndex};
use crate::temporal::{chart, peaks_report, By, PeaksOptions};

/// `hotspots peaks`
#[derive(Debug, Args)]
pub struct PeaksArgs {
    #[command(flatten)]
    pub input: IncidentArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Breakdown: area, district (each vs the area), hotspot (each Grip place vs the area,
    /// with a patrol plan).
    #[arg(long, default_value = "area")]
    pub by: String,
    /// False discovery rate (Benjamini–Hochberg) over the bins tested.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Patrol visit length, minutes.
    #[arg(long, default_value_t = 15)]
    pub visit_minutes: u32,
    /// Longest gap between visits inside a patrol window, minutes.
    #[arg(long, default_value_t = 120)]
    pub max_gap_minutes: u32,
    /// Grip places for `--by hotspot`.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Output JSON.
    #[arg(long, value_name = "FILE.json")]
    pub out: PathBuf,
    /// Also draw the area's hour × day heat table.
    #[arg(long, value_name = "FILE.png")]
    pub png: Option<PathBuf>,
}

/// Runs `hotspots peaks`.
pub fn run(a: PeaksArgs) -> Result<()> {
    let _lock = super::lock_output(&a.out)?;
    let by: By = a.by.parse().map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        a.alpha > 0.0 && a.alpha < 1.0,
        "--alpha {}: expected a number in (0, 1)",
        a.alpha
    );
    anyhow::ensure!(
        a.visit_minutes > 0 && a.max_gap_minutes >= a.visit_minutes,
        "--visit-minutes must be > 0 and no more than --max-gap-minutes"
    );
    let l = a.input.load()?;
    let harm = HarmTable::default_table();
    let index = IncidentIndex::build(&l.store);
    let inp = l.inputs(&index, &harm);
    let filter = a.filter.build(&l.pack, &l.store)?;
    let spots = if by == By::Hotspot {
        let req = HotspotRequest {
            purpose: Purpose::Grip,
            top: Some(a.top),
            filter: filter.clone(),
            ..Default::default()
        };
        build_layer(&inp, &req)?.spots
    } else {
        Vec::new()
    };
    let opts = PeaksOptions {
        by,
        filter,
        alpha: a.alpha,
        visit_minutes: a.visit_minutes,
        max_gap_minutes: a.max_gap_minutes,
    };
    let mut doc = peaks_report(&inp, &opts, &spots);
    doc["filters"] = a.filter.describe();
    doc["inputs"] = json!({"files": l.report.files, "rows_read": l.report.rows_read, "accepted": l.report.accepted, "rejected": l.report.rejected, "month_only": l.report.month_only, "by_source": l.report.accepted_by_source, "cross_source_duplicates": l.report.cross_source_duplicates});
    crate::output::write_atomic(&a.out, serde_json::to_string_pretty(&doc)?.as_bytes())
        .with_context(|| format!("writing {}", a.out.display()))?;
    let summary = |k: &str| -> String {
        doc[k]["windows"]
            .as_array()
            .map(|ws| {
                ws.iter()
                    .map(|w| {
                        let days = w["days"].as_array().map(|d| d.len()).unwrap_or(0);
                        let on = if days == 7 {
                            String::new()
                        } else {
                            format!(
                                " {}",
                                w["days"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|d| d.as_str().unwrap_or(""))
                                    .collect::<Vec<_>>()
                                    .join("/")
                            )
                        };
                        format!(
                            "{}-{}{on}",
                            w["start"].as_str().unwrap_or(""),
                            w["end"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    eprintln!(
        "{} timed incidents ({} month-only excluded); hour-of-day peaks: {}; hour-of-week peaks: {}",
        doc["incidents"],
        doc["excluded_month_only"],
        summary("hour_of_day"),
        summary("hour_of_week")
    );
    if let Some(png) = &a.png {
        chart::report_heat_table_png(png, &doc, a.alpha).map_err(anyhow::Error::msg)?;
        eprintln!("heat table -> {}", png.display());
    }
    Ok(())
}
