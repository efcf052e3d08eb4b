//! `hotspots evaluate`: hotspot maps made from a training period, scored on a test period;
//! or rolling: each month (week) scored by the maps of the N before it.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use super::{FilterArgs, IncidentArgs, Loaded, PackArg};
use crate::density::{BandwidthRule, IncidentFilter, SurfaceOptions};
use crate::evaluate::chart::{hit_rate_png, Line};
use crate::evaluate::{
    choose_bandwidth, folds, summarise, Backtest, Backtester, BandwidthChoice, ChoiceOptions,
    CoveragePoint, Fold, Method, Period, RollingSummary, Spread, Step,
};
use crate::gistar::Neighbourhood;
use crate::incidents::HarmTable;

/// `hotspots evaluate`
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub pack: PackArg,
    /// Training period: incident files (or one snapshot) the maps are made from.
    #[arg(long, num_args = 1.., value_name = "FILE", requires = "test", conflicts_with_all = ["incidents", "rolling"])]
    pub train: Vec<PathBuf>,
    /// Test period: incident files (or one snapshot) the maps are scored on.
    #[arg(long, num_args = 1.., value_name = "FILE", requires = "train")]
    pub test: Vec<PathBuf>,
    /// Rolling mode: all the incident files (or one snapshot), split into periods.
    #[arg(long, num_args = 1.., value_name = "FILE", requires = "rolling")]
    pub incidents: Vec<PathBuf>,
    /// Rolling mode: each period is scored by maps made from the N periods before it.
    #[arg(long, value_name = "N", requires = "incidents")]
    pub rolling: Option<usize>,
    /// Rolling mode: period length, month (Europe/London calendar months; police.uk) or
    /// week (ISO weeks from Monday 00:00).
    #[arg(long, default_value = "month")]
    pub step: Step,
    /// Rolling mode: first test period (e.g. 2024-07 or 2024-W27); default the first with N
    /// periods of data before it.
    #[arg(long, value_name = "PERIOD")]
    pub test_from: Option<String>,
    /// Rolling mode: last test period; default the last with data.
    #[arg(long, value_name = "PERIOD")]
    pub test_to: Option<String>,
    /// Input schemas for exports in other layouts (see schemas/).
    #[arg(long = "schema", num_args = 1.., value_name = "FILE.toml")]
    pub schemas: Vec<PathBuf>,
    /// Methods (repeatable): kde (one result per bandwidth), gistar (Gi* z of the cell
    /// counts), counts (last period's incidents per cell), grip (Grip places by harm).
    #[arg(long = "method", default_values_t = ["kde".to_string(), "gistar".to_string(), "counts".to_string(), "grip".to_string()])]
    pub methods: Vec<String>,
    /// KDE bandwidths, comma-separated: metres; auto (ArcGIS's rule), auto:scott, auto:cv;
    /// backtest (the candidate with the highest mean PAI at --choose-at in a rolling
    /// backtest of the training data alone).
    #[arg(long, value_delimiter = ',', default_value = "150,300,600")]
    pub bandwidth_m: Vec<String>,
    /// Candidates for --bandwidth-m backtest, metres, comma-separated (those under 0.75 of
    /// the cell side are skipped).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50,75,100,150,200,300,450,600,900,1200,1800,2400"
    )]
    pub candidates_m: Vec<f64>,
    /// The share of land, percent, whose mean PAI --bandwidth-m backtest maximises.
    #[arg(long, default_value_t = 1.0)]
    pub choose_at: f64,
    /// Shares of land area, in percent (1 is 1% of land), comma-separated; the first is
    /// where stability and the summary RRI are given.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,2,5")]
    pub coverage: Vec<f64>,
    /// Cell side, metres (the equal-area units scored, and the Gi* and Grip cells).
    #[arg(long, default_value_t = 150.0)]
    pub cell_m: f64,
    /// Gi* neighbours: ring:K (the (2K+1)² block; ring:1 = queen) or band:D metres.
    #[arg(long, default_value = "ring:1")]
    pub neighbours: String,
    /// Grip: smallest distance between chosen cell centres, metres.
    #[arg(long, default_value_t = 500.0)]
    pub min_separation_m: f64,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Where rejected rows go (two periods: FILE-train.csv and FILE-test.csv).
    #[arg(long, value_name = "FILE", default_value = "rejects.csv")]
    pub rejects: PathBuf,
    /// Output JSON.
    #[arg(long, value_name = "FILE.json")]
    pub out: PathBuf,
    /// Also draw hit rate against share of land for each method (PNG).
    #[arg(long, value_name = "FILE.png")]
    pub png: Option<PathBuf>,
}

/// One method variant as asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Variant {
    Fixed(Method),
    KdeBacktest,
}

impl Variant {
    /// The bandwidth as asked for (`300`, `auto`, `auto:scott`, `backtest`), KDE only.
    fn asked(&self) -> Option<String> {
        match self {
            Variant::KdeBacktest => Some("backtest".into()),
            Variant::Fixed(Method::Kde(rule)) => Some(match rule {
                BandwidthRule::Fixed(h) => format!("{h}"),
                BandwidthRule::ArcGis => "auto".into(),
                BandwidthRule::Scott => "auto:scott".into(),
                BandwidthRule::Cv => "auto:cv".into(),
            }),
            _ => None,
        }
    }
}

/// A coverage point, or the mean over folds with its spread.
#[derive(Debug, Serialize)]
struct CoverageOut {
    area_share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cells: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    captured: Option<f64>,
    hit_rate: Option<f64>,
    pai: Option<f64>,
    pei: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rri: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spread: Option<CoverageSpreadOut>,
}

#[derive(Debug, Serialize)]
struct CoverageSpreadOut {
    hit_rate: Option<Spread>,
    pai: Option<Spread>,
    pei: Option<Spread>,
}

#[derive(Debug, Serialize)]
struct FoldOut {
    #[serde(flatten)]
    fold: Fold,
    #[serde(flatten)]
    backtest: Backtest,
    #[serde(skip_serializing_if = "Option::is_none")]
    bandwidth_choice: Option<BandwidthChoice>,
}

#[derive(Debug, Serialize)]
struct MethodOut {
    method: String,
    /// KDE: the bandwidth as asked for (metres, auto, auto:scott, auto:cv, backtest).
    #[serde(skip_serializing_if = "Option::is_none")]
    bandwidth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bandwidth_m: Option<f64>,
    /// Rolling mode, when the folds' bandwidths differ: the least and the most.
    #[serde(skip_serializing_if = "Option::is_none")]
    bandwidth_m_range: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bandwidth_rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    neighbours: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_separation_m: Option<f64>,
    cell_m: f64,
    land_cells: usize,
    coverage: Vec<CoverageOut>,
    rri: Option<f64>,
    stability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    train_incidents: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_incidents: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    train_off_land: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_off_land: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stability_spread: Option<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rri_spread: Option<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bandwidth_choice: Option<BandwidthChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    folds: Option<Vec<FoldOut>>,
}

impl MethodOut {
    fn label(&self) -> String {
        let metres = match (self.bandwidth_m, self.bandwidth_m_range) {
            (Some(h), _) => format!("{h:.0} m"),
            (None, Some([lo, hi])) => format!("{lo:.0}–{hi:.0} m"),
            _ => String::new(),
        };
        match self.method.as_str() {
            "kde" => match self.bandwidth.as_deref() {
                Some("backtest") => format!("KDE, bandwidth by backtest ({metres})"),
                Some(rule) if rule.starts_with("auto") => {
                    let name = match rule {
                        "auto:scott" => "Scott's rule",
                        "auto:cv" => "likelihood cross-validation",
                        _ => "ArcGIS rule",
                    };
                    format!("KDE, {name} ({metres})")
                }
                _ => format!("KDE {metres}"),
            },
            "gistar" => format!("Gi* z ({})", self.neighbours.clone().unwrap_or_default()),
            "grip" => format!(
                "Grip places ({:.0} m apart)",
                self.min_separation_m.unwrap_or(0.0)
            ),
            "counts" => "last period's counts".to_string(),
            m => m.to_string(),
        }
    }
}

fn point_out(p: &CoveragePoint) -> CoverageOut {
    CoverageOut {
        area_share: p.area_share,
        cells: Some(p.cells),
        captured: Some(p.captured),
        hit_rate: p.hit_rate,
        pai: p.pai,
        pei: p.pei,
        rri: p.rri,
        spread: None,
    }
}

fn parse_neighbours(s: &str) -> Result<Neighbourhood> {
    match s.split_once(':') {
        Some(("ring", k)) => k
            .parse::<u32>()
            .ok()
            .filter(|k| (1..=5).contains(k))
            .map(Neighbourhood::Ring)
            .with_context(|| format!("--neighbours {s}: ring:K with K = 1..5")),
        Some(("band", d)) => d
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(Neighbourhood::Band)
            .with_context(|| format!("--neighbours {s}: band:D with D metres > 0")),
        _ => bail!("--neighbours {s}: expected ring:K or band:D"),
    }
}

/// The method variants asked for, in order.
fn variants(a: &EvaluateArgs) -> Result<Vec<Variant>> {
    let mut out: Vec<Variant> = Vec::new();
    for m in &a.methods {
        match m.to_ascii_lowercase().as_str() {
            "kde" => {
                for b in &a.bandwidth_m {
                    let b = b.trim().to_ascii_lowercase();
                    let b = b.as_str();
                    if b == "backtest" {
                        out.push(Variant::KdeBacktest);
                    } else {
                        let rule: BandwidthRule = b.parse().map_err(|e: String| {
                            anyhow::anyhow!("--bandwidth-m: {e}; or backtest")
                        })?;
                        out.push(Variant::Fixed(Method::Kde(rule)));
                    }
                }
            }
            "counts" => out.push(Variant::Fixed(Method::Counts)),
            "gistar" => out.push(Variant::Fixed(Method::GiStar(parse_neighbours(
                &a.neighbours,
            )?))),
            "grip" => {
                if !(a.min_separation_m.is_finite() && a.min_separation_m >= 0.0) {
                    bail!(
                        "--min-separation-m {}: metres, 0 or more",
                        a.min_separation_m
                    );
                }
                out.push(Variant::Fixed(Method::Grip {
                    min_separation_m: a.min_separation_m,
                }))
            }
            _ => bail!("--method {m}: expected kde, gistar, counts or grip"),
        }
    }
    // The same method asked twice is run once.
    let mut seen: Vec<Variant> = Vec::new();
    out.retain(|v| {
        let new = !seen.contains(v);
        seen.push(*v);
        new
    });
    Ok(out)
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
    if !(a.choose_at.is_finite() && a.choose_at > 0.0 && a.choose_at <= 100.0) {
        bail!(
            "--choose-at {}: a percentage of land above 0 and at most 100",
            a.choose_at
        );
    }
    if !(a.cell_m.is_finite() && (10.0..=5000.0).contains(&a.cell_m)) {
        bail!("--cell-m {}: 10 to 5000 metres", a.cell_m);
    }
    if a.train.is_empty() && a.rolling.is_none() {
        bail!("give --train FILE... --test FILE..., or --incidents FILE... --rolling N");
    }
    if a.rolling == Some(0) {
        bail!("--rolling 0: train on at least 1 period");
    }
    let mut shares: Vec<f64> = Vec::new();
    for c in &a.coverage {
        if !shares.contains(&(c / 100.0)) {
            shares.push(c / 100.0);
        }
    }
    if let Some(png) = &a.png {
        // Before any work: a chart that cannot be written is said at once.
        let dir = match png.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            bail!(
                "--png {}: the folder {} does not exist",
                png.display(),
                dir.display()
            );
        }
    }
    let variants = variants(&a)?;
    if variants.is_empty() {
        bail!("--method: give at least one method");
    }
    let choice = ChoiceOptions {
        candidates_m: a.candidates_m.clone(),
        share: a.choose_at / 100.0,
        // Rolling by weeks chooses by weeks too.
        step: if a.rolling.is_some() {
            a.step
        } else {
            Step::Month
        },
        ..Default::default()
    };
    let rejects = |suffix: Option<&str>| match suffix {
        None => a.rejects.clone(),
        Some(suffix) => {
            let stem = a
                .rejects
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("rejects");
            a.rejects.with_file_name(format!("{stem}-{suffix}.csv"))
        }
    };
    let period = |files: &[PathBuf], suffix: Option<&str>| IncidentArgs {
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
    let harm = HarmTable::default_table();
    let max_share = shares.iter().copied().fold(choice.share, f64::max);
    let surface = SurfaceOptions {
        cell_m: a.cell_m,
        ..Default::default()
    };
    let period_json = |l: &Loaded| serde_json::json!({"files": l.report.files, "rows_read": l.report.rows_read, "accepted": l.report.accepted, "rejected": l.report.rejected});
    let (methods, periods, what) = if let Some(window) = a.rolling {
        let all = period(&a.incidents, None).load()?;
        let base = a.filter.build(&all.pack, &all.store)?;
        let bt = Backtester::new(&all.pack, &all.index, &harm, surface, max_share)?;
        let parse = |s: &Option<String>, flag: &str| -> Result<Option<i64>> {
            s.as_deref()
                .map(|s| {
                    a.step
                        .parse_label(s)
                        .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
                })
                .transpose()
        };
        let from = parse(&a.test_from, "--test-from")?;
        let to = parse(&a.test_to, "--test-to")?;
        let folds = folds(&all.store, &base, a.step, window, from, to)?;
        eprintln!(
            "{} fold(s): test {} to {}, each trained on the {window} {}(s) before",
            folds.len(),
            folds[0].test_period,
            folds[folds.len() - 1].test_period,
            a.step.name()
        );
        let what = format!(
            "each {} {} to {} mapped from the {window} before it (mean of {} folds)",
            a.step.name(),
            folds[0].test_period,
            folds[folds.len() - 1].test_period,
            folds.len()
        );
        let mut methods = Vec::new();
        for v in &variants {
            methods.push(rolling_method(
                &a, &bt, &all, &base, &folds, *v, &shares, &choice,
            )?);
        }
        (
            methods,
            serde_json::json!({"rolling": {"window": window, "step": a.step, "folds": folds.len()}, "incidents": period_json(&all), "boundaries": all.pack.origin}),
            what,
        )
    } else {
        let train = period(&a.train, Some("train")).load()?;
        let test = period(&a.test, Some("test")).load()?;
        if train.pack.fingerprint() != test.pack.fingerprint() {
            bail!("the training and test periods were read with different boundary packs");
        }
        let filter = a.filter.build(&train.pack, &train.store)?;
        let test_filter = a.filter.build(&test.pack, &test.store)?;
        if filter.sources != test_filter.sources {
            bail!(
                "--source: the two periods number their sources differently ({} and {}); give the files of each source in the same order",
                train.store.sources.names().join(", "),
                test.store.sources.names().join(", ")
            );
        }
        let mut warnings = Vec::new();
        if let (Some(t), Some(u)) = (
            crate::evaluate::rolling::instant_range(&train.store, &filter),
            crate::evaluate::rolling::instant_range(&test.store, &test_filter),
        ) {
            if t.0 < u.1 && u.0 < t.1 {
                let w = format!(
                    "the training period ({} to {}) and the test period ({} to {}) overlap: the test does not measure prediction",
                    crate::incidents::time::format_local(t.0),
                    crate::incidents::time::format_local(t.1),
                    crate::incidents::time::format_local(u.0),
                    crate::incidents::time::format_local(u.1)
                );
                tracing::warn!("{w}");
                warnings.push(w);
            }
        }
        let day = |m| crate::incidents::time::local_datetime(m).date().to_string();
        let what = match (
            crate::evaluate::rolling::instant_range(&train.store, &filter),
            crate::evaluate::rolling::instant_range(&test.store, &test_filter),
        ) {
            (Some(t), Some(u)) => format!(
                "maps of {} to {} scored on {} to {}",
                day(t.0),
                day(t.1 - 1),
                day(u.0),
                day(u.1 - 1)
            ),
            _ => "the training period's maps scored on the test period".to_string(),
        };
        let bt = Backtester::new(&train.pack, &train.index, &harm, surface, max_share)?;
        let tr = Period {
            store: &train.store,
            filter,
        };
        let te = Period {
            store: &test.store,
            filter: test_filter,
        };
        let mut methods = Vec::new();
        for v in &variants {
            let (b, chosen) = one_backtest(&bt, &tr, &te, *v, &shares, &choice)?;
            let mut out = method_out(&a, *v, &b);
            out.coverage = b.coverage.iter().map(point_out).collect();
            out.rri = b.coverage[0].rri;
            out.stability = b.stability;
            out.train_incidents = Some(b.train_incidents);
            out.test_incidents = Some(b.test_incidents);
            out.train_off_land = Some(b.train_off_land);
            out.test_off_land = Some(b.test_off_land);
            out.bandwidth_choice = chosen;
            report_line(&out, a.coverage[0]);
            methods.push(out);
        }
        (
            methods,
            serde_json::json!({"train": period_json(&train), "test": period_json(&test), "boundaries": train.pack.origin, "warnings": warnings}),
            what,
        )
    };
    let mut doc = serde_json::json!({
        "methods": methods,
        "coverage_percent": a.coverage,
        "filter": a.filter.describe(),
    });
    if let (Some(o), serde_json::Value::Object(p)) = (doc.as_object_mut(), periods) {
        o.extend(p);
    }
    doc["definitions"] = serde_json::json!("units: equal-area land cells of cell_m (centre on land); hotspots at a coverage: the best-scored round(share x cells) cells, ties by lowest test count (ptools); hit_rate = test incidents captured / all; pai = hit_rate / area share; pei = captured / the most any as many cells hold in the test period; rri = (captured / training incidents in the same cells) / (all test / all training) (Levine); stability = Jaccard of the top cells at the first coverage, the method on each period; rolling: each fold's figures, and their mean with spread (sample sd, min, max)");
    doc["written_by"] = serde_json::json!(format!("hotspots {}", env!("CARGO_PKG_VERSION")));
    crate::output::write_atomic(&a.out, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    eprintln!("-> {}", a.out.display());
    if let Some(png) = &a.png {
        let lines: Vec<Line> = methods
            .iter()
            .scan(0usize, |kde, m| {
                // Each method keeps its colour: KDE variants blue, vermillion, green, black;
                // Gi* reddish purple, counts orange, Grip sky blue.
                let colour = match m.method.as_str() {
                    "kde" => {
                        *kde += 1;
                        [0, 1, 2, 6][(*kde - 1) % 4]
                    }
                    "gistar" => 3,
                    "counts" => 4,
                    _ => 5,
                };
                Some((m, colour))
            })
            .map(|(m, colour)| Line {
                label: m.label(),
                colour,
                points: m
                    .coverage
                    .iter()
                    .filter_map(|c| c.hit_rate.map(|h| (c.area_share, h)))
                    .collect(),
            })
            .collect();
        let title = format!("Backtest: {what}");
        hit_rate_png(png, &title, &lines).map_err(anyhow::Error::msg)?;
        eprintln!("-> {}", png.display());
    }
    Ok(())
}

/// One backtest of a variant; a backtest-chosen bandwidth is chosen on `train` alone.
fn one_backtest(
    bt: &Backtester<'_>,
    train: &Period<'_>,
    test: &Period<'_>,
    v: Variant,
    shares: &[f64],
    choice: &ChoiceOptions,
) -> Result<(Backtest, Option<BandwidthChoice>)> {
    Ok(match v {
        Variant::Fixed(m) => (bt.backtest(m, train, test, shares)?, None),
        Variant::KdeBacktest => {
            let c = choose_bandwidth(bt, train.store, &train.filter, choice)
                .context("--bandwidth-m backtest")?;
            let mut b = bt.backtest(
                Method::Kde(BandwidthRule::Fixed(c.bandwidth_m)),
                train,
                test,
                shares,
            )?;
            b.bandwidth_rule = Some(c.rule.clone());
            (b, Some(c))
        }
    })
}

fn method_out(a: &EvaluateArgs, v: Variant, b: &Backtest) -> MethodOut {
    let method = match v {
        Variant::Fixed(m) => m,
        Variant::KdeBacktest => Method::Kde(BandwidthRule::Fixed(0.0)),
    };
    MethodOut {
        method: method.name().to_string(),
        bandwidth: v.asked(),
        bandwidth_m: b.bandwidth_m,
        bandwidth_m_range: None,
        bandwidth_rule: b.bandwidth_rule.clone(),
        kernel: matches!(method, Method::Kde(_)).then_some("quartic"),
        neighbours: matches!(method, Method::GiStar(_)).then(|| a.neighbours.clone()),
        min_separation_m: matches!(method, Method::Grip { .. }).then_some(a.min_separation_m),
        cell_m: b.cell_m,
        land_cells: b.land_cells,
        coverage: Vec::new(),
        rri: None,
        stability: None,
        train_incidents: None,
        test_incidents: None,
        train_off_land: None,
        test_off_land: None,
        stability_spread: None,
        rri_spread: None,
        bandwidth_choice: None,
        folds: None,
    }
}

/// A variant over every fold, with the mean and spread.
#[allow(clippy::too_many_arguments)]
fn rolling_method(
    a: &EvaluateArgs,
    bt: &Backtester<'_>,
    all: &Loaded,
    base: &IncidentFilter,
    folds: &[Fold],
    v: Variant,
    shares: &[f64],
    choice: &ChoiceOptions,
) -> Result<MethodOut> {
    let mut outs = Vec::new();
    for f in folds {
        let train = Period {
            store: &all.store,
            filter: f.train_filter(base),
        };
        let test = Period {
            store: &all.store,
            filter: f.test_filter(base),
        };
        let (b, c) = one_backtest(bt, &train, &test, v, shares, choice)
            .with_context(|| format!("fold {}", f.test_period))?;
        outs.push(FoldOut {
            fold: f.clone(),
            backtest: b,
            bandwidth_choice: c,
        });
    }
    let backtests: Vec<Backtest> = outs.iter().map(|o| o.backtest.clone()).collect();
    let s: RollingSummary = summarise(&backtests, shares);
    let mut out = method_out(a, v, &backtests[0]);
    // A bandwidth that differs between folds (automatic rules, backtest) is given per fold.
    let same_h = backtests
        .iter()
        .all(|b| b.bandwidth_m == backtests[0].bandwidth_m);
    if !same_h {
        out.bandwidth_m = None;
        let hs: Vec<f64> = backtests.iter().filter_map(|b| b.bandwidth_m).collect();
        if !hs.is_empty() {
            out.bandwidth_m_range = Some([
                hs.iter().cloned().fold(f64::INFINITY, f64::min),
                hs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            ]);
        }
    }
    if matches!(v, Variant::KdeBacktest) {
        out.bandwidth_rule =
            Some("backtest: chosen in each fold from its training periods alone".into());
    }
    let mean = |s: &Option<Spread>| s.as_ref().map(|s| s.mean);
    out.coverage = s
        .coverage
        .iter()
        .map(|c| CoverageOut {
            area_share: c.area_share,
            cells: None,
            captured: None,
            hit_rate: mean(&c.hit_rate),
            pai: mean(&c.pai),
            pei: mean(&c.pei),
            rri: None,
            spread: Some(CoverageSpreadOut {
                hit_rate: c.hit_rate.clone(),
                pai: c.pai.clone(),
                pei: c.pei.clone(),
            }),
        })
        .collect();
    out.rri = mean(&s.rri);
    out.stability = mean(&s.stability);
    out.rri_spread = s.rri;
    out.stability_spread = s.stability;
    out.folds = Some(outs);
    report_line(&out, a.coverage[0]);
    Ok(out)
}

fn report_line(m: &MethodOut, percent: f64) {
    let c = &m.coverage[0];
    let f = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
    let sd = c
        .spread
        .as_ref()
        .and_then(|s| s.pai.as_ref())
        .and_then(|s| s.sd)
        .map_or(String::new(), |sd| format!(" (sd {sd:.2})"));
    eprintln!(
        "{}: at {percent}% of land PAI {}{sd}, hit rate {}, PEI {}",
        m.label(),
        f(c.pai, 2),
        f(c.hit_rate, 3),
        f(c.pei, 3),
    );
}
