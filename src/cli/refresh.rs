//! `hotspots refresh`: compute every published layer once from the configured sources and
//! publish them as a new snapshot (see `crate::publish`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sha2::{Digest, Sha256};

use super::IncidentArgs;
use crate::density::{BandwidthRule, IncidentFilter, SurfaceOptions};
use crate::evaluate::{choose_bandwidth, Backtester, ChoiceOptions, Step};
use crate::incidents::{HarmTable, IncidentIndex};
use crate::publish::{publish, BandwidthChoiceRecord, GateOptions, PublishOptions};
use crate::server::config::ServeConfig;

/// `hotspots refresh`
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Settings file (the service's TOML: incidents, boundaries, [heatmap], [refresh]);
    /// flags given here win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub input: IncidentArgs,
    /// Output directory: the run goes to OUT/<run_id>/ and OUT/current points at it
    /// (default: the config's refresh.out).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Snapshots kept, the current one included (default: refresh.retain, 7).
    #[arg(long)]
    pub retain: Option<usize>,
    /// Publish even when a quality gate refuses (the manifest records it).
    #[arg(long)]
    pub force: bool,
}

/// Exit code when a quality gate refuses to publish.
pub const EXIT_GATE: i32 = 3;
/// Exit code when another refresh holds the output directory.
pub const EXIT_BUSY: i32 = 4;

/// Replaces each `--incidents` entry holding `*`, `?` or `[` by the files it matches,
/// sorted; a pattern that matches nothing is an error naming it.
pub fn expand_globs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let text = p.to_string_lossy();
        if !text.contains(['*', '?', '[']) {
            out.push(p.clone());
            continue;
        }
        let mut hits: Vec<PathBuf> = glob::glob(&text)
            .with_context(|| format!("pattern {text}"))?
            .filter_map(|r| r.ok())
            .filter(|p| p.is_file())
            .collect();
        hits.sort();
        anyhow::ensure!(!hits.is_empty(), "pattern {text}: no file matches");
        out.extend(hits);
    }
    Ok(out)
}

/// Runs `hotspots refresh`: publishes, or exits with [`EXIT_GATE`] or [`EXIT_BUSY`].
pub fn run(a: RefreshArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let outcome = match refresh(a) {
        Ok(o) => o,
        Err(e) => match e.downcast_ref::<crate::publish::PublishError>() {
            Some(crate::publish::PublishError::Gate(_)) => {
                super::report_error(&e);
                std::process::exit(EXIT_GATE);
            }
            Some(crate::publish::PublishError::Busy(_)) => {
                super::report_error(&e);
                std::process::exit(EXIT_BUSY);
            }
            _ => return Err(e),
        },
    };
    let m = &outcome.manifest;
    for g in &m.forced_past {
        tracing::warn!(gate = %g.gate, "published past a refusing gate (--force): {}", g.message);
    }
    for l in &m.layers {
        tracing::info!(layer = %l.id, features = l.features, "layer published");
    }
    for p in &outcome.pruned {
        tracing::info!(path = %p.display(), "removed an old snapshot");
    }
    tracing::info!(
        run_id = %m.run_id,
        incidents = m.inputs.accepted,
        seconds = started.elapsed().as_secs_f64(),
        "published {} ({} incidents) in {:.1} s -> {}",
        m.run_id,
        m.inputs.accepted,
        started.elapsed().as_secs_f64(),
        outcome.run_dir.display()
    );
    Ok(())
}

/// One refresh: the configured sources (with `a`'s flags over them) published as a new
/// snapshot. Used by the command and by the service's scheduled refresh.
pub fn refresh(mut a: RefreshArgs) -> Result<crate::publish::PublishOutcome> {
    let (config, config_sha256) = match &a.config {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("{}", p.display()))?;
            (
                ServeConfig::load(p)?,
                Some(format!("{:x}", Sha256::digest(&bytes))),
            )
        }
        None => (ServeConfig::default(), None),
    };
    super::serve::fill_from_config(&mut a.input, &config);
    a.input.incidents = expand_globs(&a.input.incidents)?;
    let out_dir = a
        .out
        .clone()
        .or(config.refresh.out.clone())
        .context("--out DIR (or refresh.out in the config) is required")?;
    // Another refresh into the same directory: say so before reading anything (publishing
    // takes the lock for real).
    crate::publish::check_not_busy(&out_dir)?;
    let l = {
        let _stage = tracing::info_span!("stage", stage = "read inputs").entered();
        a.input.load()?
    };
    let pack_text = match &a.input.pack.boundaries {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
        None => crate::boundaries::KENT_MEDWAY_PACK.to_string(),
    };
    let harm = HarmTable::default_table();
    let index = IncidentIndex::build(&l.store);
    let (bandwidth_m, bandwidth_choice) = heatmap_bandwidth(&config.heatmap, &l, &harm);
    let opts = PublishOptions {
        out_dir,
        retain: a.retain.unwrap_or(config.refresh.retain),
        gates: GateOptions {
            max_row_drop: config.refresh.max_row_drop,
            max_reject_rate: config.refresh.max_reject_rate,
            force: a.force,
        },
        config_sha256,
        heatmap: SurfaceOptions {
            bandwidth: BandwidthRule::Fixed(bandwidth_m),
            cell_m: config.heatmap.cell_m,
            ..Default::default()
        },
        bandwidth_choice,
        policy: config.policy(),
    };
    Ok(publish(
        &l.inputs(&index, &harm),
        &l.report,
        &pack_text,
        &opts,
    )?)
}

/// The heatmap's bandwidth: `bandwidth_m`, or with `bandwidth = "backtest"` the candidate
/// with the highest mean PAI in a rolling backtest of the incidents read. A backtest that
/// cannot choose (e.g. one month of data) falls back to `bandwidth_m`, and the manifest
/// says why.
fn heatmap_bandwidth(
    h: &crate::server::config::HeatmapConfig,
    l: &super::Loaded,
    harm: &HarmTable,
) -> (f64, Option<BandwidthChoiceRecord>) {
    if h.bandwidth.as_deref() != Some("backtest") {
        return (h.bandwidth_m, None);
    }
    let _stage = tracing::info_span!("stage", stage = "bandwidth backtest").entered();
    let b = &h.backtest;
    let opts = ChoiceOptions {
        candidates_m: b.candidates_m.clone(),
        share: b.coverage_percent / 100.0,
        step: Step::Month,
        window: b.window,
        max_folds: b.max_folds,
    };
    let chosen = Backtester::new(
        &l.pack,
        &l.index,
        harm,
        SurfaceOptions {
            cell_m: b.cell_m,
            ..Default::default()
        },
        opts.share,
    )
    .and_then(|bt| choose_bandwidth(&bt, &l.store, &IncidentFilter::default(), &opts));
    match chosen {
        Ok(c) => {
            tracing::info!(
                "heatmap bandwidth {} m chosen by backtest ({} candidates, {} folds)",
                c.bandwidth_m,
                c.candidates.len(),
                c.folds.len()
            );
            let mut detail = serde_json::to_value(&c).unwrap_or_default();
            detail["cell_m"] = serde_json::json!(b.cell_m);
            (
                c.bandwidth_m,
                Some(BandwidthChoiceRecord {
                    rule: c.rule,
                    detail,
                }),
            )
        }
        Err(e) => {
            tracing::warn!(
                "heatmap bandwidth: the backtest could not choose ({e}); using heatmap.bandwidth_m = {} m",
                h.bandwidth_m
            );
            (
                h.bandwidth_m,
                Some(BandwidthChoiceRecord {
                    rule: format!(
                        "fixed (heatmap.bandwidth_m: the backtest could not choose: {e})"
                    ),
                    detail: serde_json::json!({"error": e.to_string(), "fallback_bandwidth_m": h.bandwidth_m}),
                }),
            )
        }
    }
}
