//! `hotspots hotspots`: ranked hotspots (all, grip or diversion) as GeoJSON.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::kde::parse_weighting;
use super::{FilterArgs, IncidentArgs};
use crate::density::{BandwidthRule, Kernel};
use crate::hotspots::{build_layer, HotspotRequest, Purpose, ThresholdRule};
use crate::incidents::{HarmTable, IncidentIndex};
use crate::layers::{tables, write_layer, LayerFormat, OutputCrs};

/// `hotspots hotspots`
#[derive(Debug, Args)]
pub struct HotspotsArgs {
    #[command(flatten)]
    pub input: IncidentArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// all (density hotspots), grip (patrol micro-places), diversion (youth activity places).
    #[arg(long, default_value = "all")]
    pub purpose: String,
    /// At most K hotspots (grip default 20).
    #[arg(long)]
    pub top: Option<usize>,
    /// Cell side, metres (default 50; grip 150).
    #[arg(long)]
    pub cell_m: Option<f64>,
    /// Bandwidth: metres or auto, auto:scott, auto:cv (default 300 m; diversion 500 m).
    #[arg(long)]
    pub bandwidth_m: Option<String>,
    /// Kernel (quartic default).
    #[arg(long, default_value = "quartic")]
    pub kernel: String,
    /// Weight: count or harm (grip always ranks by harm).
    #[arg(long, default_value = "count")]
    pub weight: String,
    /// Harm table CSV; default: the built-in indicative table.
    #[arg(long, value_name = "FILE")]
    pub harm_table: Option<PathBuf>,
    /// Threshold rule: top:1% (densest share of land area) or mean:K (K × mean on land).
    #[arg(long, default_value = "top:1%")]
    pub threshold: String,
    /// Smallest hotspot kept, m² (default 4 cells).
    #[arg(long)]
    pub min_area_m2: Option<f64>,
    /// Keep hotspots whose peak density beats uniform placement on land at this Monte Carlo
    /// level (map-wide); `none` keeps every polygon.
    #[arg(long, default_value = "0.05")]
    pub alpha: String,
    /// Monte Carlo simulations (19: p down to 0.05; 99: down to 0.01; at most 9,999, each is
    /// a whole surface).
    #[arg(long, default_value_t = 19, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=9_999))]
    pub simulations: usize,
    /// Seed of the simulations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Grip: smallest distance between chosen places, metres.
    #[arg(long, default_value_t = 500.0)]
    pub separation_m: f64,
    /// Output CRS: EPSG:4326 (RFC 7946 default) or EPSG:27700.
    #[arg(long, default_value = "EPSG:4326")]
    pub crs: String,
    /// Output file: .geojson, .gpkg (GeoPackage), .fgb (FlatGeobuf) or .csv (WKT).
    #[arg(long, value_name = "FILE.geojson|FILE.gpkg|FILE.fgb|FILE.csv")]
    pub out: PathBuf,
}

/// Runs `hotspots hotspots`.
pub fn run(a: HotspotsArgs) -> Result<()> {
    let _lock = super::lock_output(&a.out)?;
    let purpose: Purpose = a.purpose.parse().map_err(anyhow::Error::msg)?;
    let crs: OutputCrs = a.crs.parse().map_err(anyhow::Error::msg)?;
    LayerFormat::from_path(&a.out)?;
    let kernel: Kernel = a.kernel.parse().map_err(anyhow::Error::msg)?;
    let threshold: ThresholdRule = a.threshold.parse().map_err(anyhow::Error::msg)?;
    let bandwidth = a
        .bandwidth_m
        .as_deref()
        .map(|b| b.parse::<BandwidthRule>().map_err(anyhow::Error::msg))
        .transpose()?;
    let alpha = match a.alpha.as_str() {
        "none" => None,
        v => Some(
            v.parse::<f64>()
                .ok()
                .filter(|x| *x > 0.0 && *x <= 1.0)
                .with_context(|| format!("--alpha {v}: expected a number in (0, 1] or none"))?,
        ),
    };
    let harm = match &a.harm_table {
        Some(p) => HarmTable::load(p)?,
        None => HarmTable::default_table(),
    };
    let weighting = parse_weighting(&a.weight)?;
    let l = a.input.load()?;
    let index = IncidentIndex::build(&l.store);
    let inp = l.inputs(&index, &harm);
    let req = HotspotRequest {
        purpose,
        top: a.top,
        cell_m: a.cell_m,
        bandwidth,
        kernel,
        weighting,
        threshold,
        min_area_m2: a.min_area_m2,
        alpha,
        simulations: a.simulations,
        seed: a.seed,
        separation_m: a.separation_m,
        filter: a.filter.build(&l.pack, &l.store)?,
    };
    let layer = build_layer(&inp, &req)?;
    let table = tables::hotspots(&inp, &layer, &req.filter)?;
    let extra = json!({
        "filters": a.filter.describe(),
        "crs": a.crs,
        "inputs": {"files": l.report.files, "rows_read": l.report.rows_read, "accepted": l.report.accepted, "rejected": l.report.rejected, "month_only": l.report.month_only, "by_source": l.report.accepted_by_source, "cross_source_duplicates": l.report.cross_source_duplicates},
        "boundaries": {"origin": l.pack.origin, "provenance": l.pack.provenance},
        "generator": format!("hotspots {}", env!("CARGO_PKG_VERSION")),
    });
    write_layer(&table, crs, extra, &a.out)?;
    eprintln!(
        "{} {} hotspot(s) -> {}",
        layer.spots.len(),
        purpose.slug(),
        a.out.display()
    );
    Ok(())
}
