//! `hotspots evaluate`: hotspot maps made from a training period, scored on a test period.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use super::{FilterArgs, IncidentArgs, PackArg};
use crate::density::{BandwidthRule, SurfaceOptions};
use crate::evaluate::{backtest, Method};
use crate::incidents::HarmTable;

/// `hotspots evaluate`
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub pack: PackArg,
    /// Training period: incident files (or one snapshot) the maps are made from.
    #[arg(long, num_args = 1.., value_name = "FILE", required = true)]
    pub train: Vec<PathBuf>,
    /// Test period: incident files (or one snapshot) the maps are scored on.
    #[arg(long, num_args = 1.., value_name = "FILE", required = true)]
    pub test: Vec<PathBuf>,
    /// Input schemas for exports in other layouts (see schemas/).
    #[arg(long = "schema", num_args = 1.., value_name = "FILE.toml")]
    pub schemas: Vec<PathBuf>,
    /// Methods (repeatable): kde (one result per bandwidth) and counts (last period's
    /// incidents per cell).
    #[arg(long = "method", default_values_t = vec!["kde".to_string(), "counts".to_string()])]
    pub methods: Vec<String>,
    /// KDE bandwidths, comma-separated: metres, or auto (ArcGIS's rule).
    #[arg(long, value_delimiter = ',', default_value = "150,300,600")]
    pub bandwidth_m: Vec<String>,
    /// Shares of land area, in percent (1 is 1% of land), comma-separated; the first is
    /// where stability and the summary RRI are given.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,2,5")]
    pub coverage: Vec<f64>,
    /// Cell side, metres (the equal-area units scored).
    #[arg(long, default_value_t = 150.0)]
    pub cell_m: f64,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Where the rejected rows of each period go: FILE-train.csv and FILE-test.csv.
    #[arg(long, value_name = "FILE", default_value = "rejects.csv")]
    pub rejects: PathBuf,
    /// Output JSON.
    #[arg(long, value_name = "FILE.json")]
    pub out: PathBuf,
}

/// Runs `hotspots evaluate`.
pub fn run(a: EvaluateArgs) -> Result<()> {
    let _lock = super::lock_output(&a.out)?;
    if a.coverage.is_empty()
        || a.coverage
            .iter()
            .any(|c| !(c.is_finite() && *c > 0.0 && *c <= 100.0))
    {
        bail!("--coverage: percentages of land above 0 and at most 100, e.g. 0.5,1,2,5");
    }
    if !(a.cell_m.is_finite() && (10.0..=5000.0).contains(&a.cell_m)) {
        bail!("--cell-m {}: 10 to 5000 metres", a.cell_m);
    }
    let shares: Vec<f64> = a.coverage.iter().map(|c| c / 100.0).collect();
    let mut bandwidths = Vec::new();
    for b in &a.bandwidth_m {
        let rule: BandwidthRule = b.trim().parse().map_err(anyhow::Error::msg)?;
        bandwidths.push(rule);
    }
    for m in &a.methods {
        if !matches!(m.as_str(), "kde" | "counts") {
            bail!("--method {m}: expected kde or counts");
        }
    }
    let rejects = |suffix: &str| {
        let stem = a
            .rejects
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("rejects");
        a.rejects.with_file_name(format!("{stem}-{suffix}.csv"))
    };
    let period = |files: &[PathBuf], suffix: &str| IncidentArgs {
        pack: a.pack.clone(),
        incidents: files.to_vec(),
        offence_map: None,
        schemas: a.schemas.clone(),
        duplicate_window_min: None,
        duplicate_distance_m: None,
        duplicate_priority: None,
        rejects: rejects(suffix),
        dates: None,
    };
    let train = period(&a.train, "train").load()?;
    let test = period(&a.test, "test").load()?;
    if train.pack.fingerprint() != test.pack.fingerprint() {
        bail!("the training and test periods were read with different boundary packs");
    }
    let filter = a.filter.build(&train.pack, &train.store)?;
    let test_filter = a.filter.build(&test.pack, &test.store)?;
    if filter != test_filter {
        bail!(
            "--source: the two periods number their sources differently ({} and {}); give the files of each source in the same order",
            train.store.sources.names().join(", "),
            test.store.sources.names().join(", ")
        );
    }
    let harm = HarmTable::default_table();
    let mut methods = Vec::new();
    for m in &a.methods {
        let rules: Vec<BandwidthRule> = if m == "kde" {
            bandwidths.clone()
        } else {
            vec![BandwidthRule::Fixed(a.cell_m * 2.0)]
        };
        for rule in rules {
            let opts = SurfaceOptions {
                cell_m: a.cell_m,
                bandwidth: rule,
                filter: filter.clone(),
                ..Default::default()
            };
            let method = if m == "kde" {
                Method::Kde
            } else {
                Method::Counts
            };
            let b = backtest(
                method,
                &train.pack,
                &train.index,
                &harm,
                &train.store,
                &test.store,
                &opts,
                &shares,
            )?;
            eprintln!(
                "{m}{}: at {}% of land PAI {} hit rate {} PEI {}",
                if m == "kde" {
                    format!(" {:.0} m", b.bandwidth_m)
                } else {
                    String::new()
                },
                a.coverage[0],
                b.coverage[0].pai.map_or("-".into(), |v| format!("{v:.2}")),
                b.coverage[0]
                    .hit_rate
                    .map_or("-".into(), |v| format!("{v:.3}")),
                b.coverage[0].pei.map_or("-".into(), |v| format!("{v:.3}")),
            );
            let mut v = json!({
                "method": m,
                "cell_m": b.cell_m,
                "land_cells": b.land_cells,
                "train_incidents": b.train_incidents,
                "test_incidents": b.test_incidents,
                "coverage": b.coverage,
                "rri": b.coverage[0].rri,
                "stability": b.stability,
            });
            if m == "kde" {
                v["bandwidth_m"] = json!(b.bandwidth_m);
                v["bandwidth_rule"] = json!(b.bandwidth_method);
                v["kernel"] = json!("quartic");
            }
            methods.push(v);
        }
    }
    let period_json = |l: &super::Loaded| json!({"files": l.report.files, "rows_read": l.report.rows_read, "accepted": l.report.accepted, "rejected": l.report.rejected});
    let doc = json!({
        "methods": methods,
        "coverage_percent": a.coverage,
        "filter": a.filter.describe(),
        "train": period_json(&train),
        "test": period_json(&test),
        "boundaries": train.pack.origin,
        "definitions": "units: equal-area land cells (centre on land); hotspots at a coverage: the best-scored round(share x cells) cells, ties by lowest test count (ptools); hit_rate = test incidents captured / all; pai = hit_rate / area share; pei = captured / the most any as many cells hold in the test period; rri = (captured / training incidents in the same cells) / (all test / all training) (Levine); stability = Jaccard of the top cells at the first coverage, the method on each period",
        "written_by": format!("hotspots {}", env!("CARGO_PKG_VERSION")),
    });
    crate::output::write_atomic(&a.out, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    eprintln!("-> {}", a.out.display());
    Ok(())
}
