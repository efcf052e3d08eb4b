//! `hotspots gistar` and `hotspots emerging`: statistical hotspots on H3 or grid cells.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::kde::parse_weighting;
use super::{FilterArgs, IncidentArgs, Loaded};
use crate::gistar::{emerging_layer, gi_layer, CellKind, GiRequest, Neighbourhood};
use crate::incidents::{HarmTable, IncidentIndex};
use crate::layers::{tables, write_layer, LayerFormat, OutputCrs};

/// Options shared by `gistar` and `emerging`.
#[derive(Debug, Args)]
pub struct CellArgs {
    #[command(flatten)]
    pub input: IncidentArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Cells: h3:R (R = 7..11) or grid:M (square side in metres).
    #[arg(long, default_value = "h3:9")]
    pub cells: String,
    /// Neighbours: ring:K (H3 grid disk / square block; ring:1 = queen for squares) or
    /// band:D (squares within D metres).
    #[arg(long, default_value = "ring:1")]
    pub neighbours: String,
    /// Weight: count or harm.
    #[arg(long, default_value = "count")]
    pub weight: String,
    /// Output CRS: EPSG:4326 (default) or EPSG:27700.
    #[arg(long, default_value = "EPSG:4326")]
    pub crs: String,
    /// Write every land cell, not only those with incidents or a pattern.
    #[arg(long)]
    pub all_cells: bool,
    /// Output file: .geojson, .gpkg (GeoPackage), .fgb (FlatGeobuf) or .csv (WKT).
    #[arg(long, value_name = "FILE.geojson|FILE.gpkg|FILE.fgb|FILE.csv")]
    pub out: PathBuf,
}

/// `hotspots gistar`
#[derive(Debug, Args)]
pub struct GistarArgs {
    #[command(flatten)]
    pub cells: CellArgs,
    /// Permutations for the pseudo p (0: none; at most 99,999, which bounds the run time).
    #[arg(long, default_value_t = 999, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=99_999))]
    pub permutations: usize,
    /// Seed of the permutations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn request(a: &CellArgs, l: &Loaded) -> Result<GiRequest> {
    let cells: CellKind = a.cells.parse().map_err(anyhow::Error::msg)?;
    let neighbourhood = match a.neighbours.split_once(':') {
        Some(("ring", k)) => Neighbourhood::Ring(
            k.parse::<u32>()
                .ok()
                .filter(|k| (1..=5).contains(k))
                .with_context(|| format!("--neighbours {}: ring:K with K = 1..5", a.neighbours))?,
        ),
        Some(("band", d)) => Neighbourhood::Band(
            d.parse::<f64>()
                .ok()
                .filter(|d| *d > 0.0)
                .with_context(|| {
                    format!("--neighbours {}: band:D with D metres > 0", a.neighbours)
                })?,
        ),
        _ => anyhow::bail!("--neighbours {}: expected ring:K or band:D", a.neighbours),
    };
    if let (Neighbourhood::Band(d), CellKind::Grid(side_m)) = (neighbourhood, cells) {
        let most = crate::gistar::cells::MAX_BAND_CELLS * side_m;
        if d > most {
            anyhow::bail!(
                "--neighbours {}: at most {most} m with --cells grid:{side_m} ({} cell sides; a band of D metres gives about πD²/{side_m}² neighbours per cell, and memory grows with it)",
                a.neighbours,
                crate::gistar::cells::MAX_BAND_CELLS
            );
        }
    }
    Ok(GiRequest {
        cells,
        neighbourhood,
        weighting: parse_weighting(&a.weight)?,
        filter: a.filter.build(&l.pack, &l.store)?,
        ..Default::default()
    })
}

fn extra(a: &CellArgs, l: &Loaded) -> serde_json::Value {
    json!({
        "filters": a.filter.describe(),
        "crs": a.crs,
        "inputs": {"files": l.report.files, "rows_read": l.report.rows_read, "accepted": l.report.accepted, "rejected": l.report.rejected, "by_source": l.report.accepted_by_source, "cross_source_duplicates": l.report.cross_source_duplicates},
        "boundaries": {"origin": l.pack.origin},
    })
}

/// Runs `hotspots gistar`.
pub fn run_gistar(a: GistarArgs) -> Result<()> {
    let _lock = super::lock_output(&a.cells.out)?;
    let crs: OutputCrs = a.cells.crs.parse().map_err(anyhow::Error::msg)?;
    LayerFormat::from_path(&a.cells.out)?;
    let l = a.cells.input.load()?;
    let mut req = request(&a.cells, &l)?;
    req.permutations = a.permutations;
    req.seed = a.seed;
    let harm = HarmTable::default_table();
    let index = IncidentIndex::build(&l.store);
    let inp = l.inputs(&index, &harm);
    let layer = gi_layer(&inp, &req).map_err(anyhow::Error::msg)?;
    let table = tables::gistar(&layer, !a.cells.all_cells)?;
    write_layer(&table, crs, extra(&a.cells, &l), &a.cells.out)?;
    eprintln!(
        "{} land cells, {} hot and {} cold (FDR bins) -> {}",
        layer.cells.len(),
        layer.metadata["hot_cells"],
        layer.metadata["cold_cells"],
        a.cells.out.display()
    );
    Ok(())
}

/// Runs `hotspots emerging`.
pub fn run_emerging(a: CellArgs) -> Result<()> {
    let _lock = super::lock_output(&a.out)?;
    let crs: OutputCrs = a.crs.parse().map_err(anyhow::Error::msg)?;
    LayerFormat::from_path(&a.out)?;
    let l = a.input.load()?;
    let req = request(&a, &l)?;
    let harm = HarmTable::default_table();
    let index = IncidentIndex::build(&l.store);
    let inp = l.inputs(&index, &harm);
    let layer = emerging_layer(&inp, &req).map_err(anyhow::Error::msg)?;
    let table = tables::emerging(&layer, a.all_cells)?;
    write_layer(&table, crs, extra(&a, &l), &a.out)?;
    eprintln!(
        "{} land cells over {} months: {} -> {}",
        layer.cells.len(),
        layer.months.len(),
        layer.metadata["by_category"],
        a.out.display()
    );
    Ok(())
}
