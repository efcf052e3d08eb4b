//! `hotspots kde`: one density surface to a raster file with metadata beside it.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::{FilterArgs, IncidentArgs};
use crate::density::{self, BandwidthRule, KdeMethod, Kernel, Scaling, SurfaceOptions, Weighting};
use crate::incidents::HarmTable;

/// `hotspots kde`
#[derive(Debug, Args)]
pub struct KdeArgs {
    #[command(flatten)]
    pub input: IncidentArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Cell side, metres.
    #[arg(long, default_value_t = 50.0)]
    pub cell_m: f64,
    /// Bandwidth: metres, or auto (= auto:arcgis), auto:scott, auto:cv (likelihood
    /// cross-validation).
    #[arg(long, default_value = "auto")]
    pub bandwidth_m: String,
    /// Kernel: quartic, epanechnikov, triangular, uniform, gaussian (σ = bandwidth).
    #[arg(long, default_value = "quartic")]
    pub kernel: String,
    /// Values: density (weight per km², ArcGIS) or qgis-raw (unnormalised sum, QGIS "Raw").
    #[arg(long, default_value = "density")]
    pub scaling: String,
    /// Weight: count, or harm (harm table, or a row's harm_weight).
    #[arg(long, default_value = "count")]
    pub weight: String,
    /// Harm table CSV (group,harm_days); default: the built-in indicative table.
    #[arg(long, value_name = "FILE")]
    pub harm_table: Option<PathBuf>,
    /// Sum: exact, binned (fast, with a stated error bound), or auto.
    #[arg(long, default_value = "auto")]
    pub method: String,
    /// Divide by the kernel's mass on land, so cells by the coast are not under-estimated.
    #[arg(long)]
    pub edge_correction: bool,
    /// Grid extent in EPSG:27700 metres: xmin,ymin,xmax,ymax (default: the boundaries' bbox).
    #[arg(long, value_name = "XMIN,YMIN,XMAX,YMAX")]
    pub extent: Option<String>,
    /// Output raster: Esri ASCII grid (.asc, with a .prj) or GeoTIFF (.tif); FILE.json holds
    /// the metadata.
    #[arg(long, value_name = "FILE.asc|FILE.tif")]
    pub out: PathBuf,
}

/// Parses `xmin,ymin,xmax,ymax` (EPSG:27700 metres).
pub fn parse_extent(s: &str) -> Result<[f64; 4]> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("--extent {s}: expected four numbers xmin,ymin,xmax,ymax"))?;
    match v[..] {
        [a, b, c, d] if c > a && d > b => Ok([a, b, c, d]),
        _ => bail!("--extent {s}: expected xmin,ymin,xmax,ymax with xmax > xmin and ymax > ymin"),
    }
}

/// Parses `count` or `harm`.
pub fn parse_weighting(s: &str) -> Result<Weighting> {
    match s {
        "count" => Ok(Weighting::Count),
        "harm" => Ok(Weighting::Harm),
        w => bail!("--weight {w}: expected count or harm"),
    }
}

/// Runs `hotspots kde`.
pub fn run(a: KdeArgs) -> Result<()> {
    let _lock = super::lock_output(&a.out)?;
    let ext = a
        .out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !matches!(ext.as_str(), "asc" | "tif" | "tiff") {
        bail!(
            "--out {}: the file name must end in .asc (Esri ASCII grid) or .tif (GeoTIFF)",
            a.out.display()
        );
    }
    let bandwidth: BandwidthRule = a.bandwidth_m.parse().map_err(anyhow::Error::msg)?;
    let kernel: Kernel = a.kernel.parse().map_err(anyhow::Error::msg)?;
    let scaling: Scaling = a.scaling.parse().map_err(anyhow::Error::msg)?;
    let method: KdeMethod = a.method.parse().map_err(anyhow::Error::msg)?;
    // `count,harm` makes both surfaces in one run, written as FILE-count.EXT and FILE-harm.EXT.
    let weightings = a
        .weight
        .split(',')
        .map(|w| parse_weighting(w.trim()))
        .collect::<Result<Vec<_>>>()?;
    let harm = match &a.harm_table {
        Some(p) => HarmTable::load(p)?,
        None => HarmTable::default_table(),
    };
    let l = a.input.load()?;
    let filter = a.filter.build(&l.pack, &l.store)?;
    for &weighting in &weightings {
        let out = if weightings.len() > 1 {
            let stem = a
                .out
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("surface");
            let w = match weighting {
                Weighting::Count => "count",
                Weighting::Harm => "harm",
            };
            a.out.with_file_name(format!("{stem}-{w}.{ext}"))
        } else {
            a.out.clone()
        };
        write_surface(
            &a,
            &l,
            &harm,
            &filter,
            weighting,
            &out,
            &ext,
            (bandwidth, kernel, scaling, method),
        )?;
    }
    Ok(())
}

/// Computes one surface and writes the raster and its metadata.
#[allow(clippy::too_many_arguments)]
fn write_surface(
    a: &KdeArgs,
    l: &super::Loaded,
    harm: &HarmTable,
    filter: &crate::density::IncidentFilter,
    weighting: Weighting,
    out: &std::path::Path,
    ext: &str,
    (bandwidth, kernel, scaling, method): (BandwidthRule, Kernel, Scaling, KdeMethod),
) -> Result<()> {
    let opts = SurfaceOptions {
        cell_m: a.cell_m,
        bandwidth,
        kernel,
        scaling,
        weighting,
        filter: filter.clone(),
        extent: a.extent.as_deref().map(parse_extent).transpose()?,
        method,
        edge_correction: a.edge_correction,
    };
    let s = density::compute_surface(&l.pack, &l.index, &l.store, harm, &opts)?;
    if ext == "asc" {
        density::raster::write_esri_ascii(out, &s.grid, &s.values)
    } else {
        density::raster::write_geotiff(out, &s.grid, &s.values)
    }
    .with_context(|| format!("writing {}", out.display()))?;
    let meta = serde_json::json!({
        "surface": s,
        "grid": {"crs": "EPSG:27700", "xllcorner": s.grid.x0_m, "yllcorner": s.grid.y0_m, "cell_m": s.grid.cell_m, "ncols": s.grid.nx, "nrows": s.grid.ny, "nodata": density::raster::NODATA},
        "filters": a.filter.describe(),
        "inputs": {"files": l.report.files, "rows_read": l.report.rows_read, "accepted": l.report.accepted, "rejected": l.report.rejected, "by_source": l.report.accepted_by_source, "cross_source_duplicates": l.report.cross_source_duplicates},
        "boundaries": {"origin": l.pack.origin, "provenance": l.pack.provenance},
    });
    let meta_path = out.with_extension("json");
    crate::output::write_atomic(&meta_path, serde_json::to_string_pretty(&meta)?.as_bytes())
        .with_context(|| format!("writing {}", meta_path.display()))?;
    eprintln!(
        "{} incidents, {} kernel, bandwidth {:.1} m ({}), {} sum, {} × {} cells of {} m -> {}",
        s.incidents,
        s.kernel,
        s.bandwidth_m,
        s.bandwidth_method,
        s.method,
        s.grid.nx,
        s.grid.ny,
        s.cell_m,
        out.display()
    );
    Ok(())
}
