//! `hotspots serve`: compute the layers, then serve them over HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use super::IncidentArgs;
use crate::density::{BandwidthRule, SurfaceOptions};
use crate::incidents::{HarmTable, IncidentIndex};
use crate::server::config::ServeConfig;
use crate::server::map::MapAssets;
use crate::server::raster_tiles::Heatmap;
use crate::server::{build_collections, serve, AppState, Data};

/// `hotspots serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Settings file (TOML: bind, boundaries, incidents, rejects, map_assets, [cors],
    /// [heatmap]); flags given here win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub input: IncidentArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed);
    /// default 127.0.0.1:8080.
    #[arg(long)]
    pub bind: Option<String>,
}

/// The default of `--rejects`, which a config file's `rejects` replaces.
const DEFAULT_REJECTS: &str = "rejects.csv";

/// Runs `hotspots serve`.
pub fn run(mut a: ServeArgs) -> Result<()> {
    let config = match &a.config {
        Some(p) => ServeConfig::load(p)?,
        None => ServeConfig::default(),
    };
    // The file fills in what the command line left unset.
    if a.input.incidents.is_empty() {
        a.input.incidents = config.incidents.clone();
    }
    if a.input.pack.boundaries.is_none() {
        a.input.pack.boundaries = config.boundaries.clone();
    }
    if a.input.offence_map.is_none() {
        a.input.offence_map = config.offence_map.clone();
    }
    if let Some(r) = &config.rejects {
        if a.input.rejects == Path::new(DEFAULT_REJECTS) {
            a.input.rejects = r.clone();
        }
    }
    let bind_text = a
        .bind
        .or(config.bind.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let bind: SocketAddr = bind_text
        .parse()
        .with_context(|| format!("bind {bind_text}: expected HOST:PORT"))?;
    let l = a.input.load()?;
    let harm = HarmTable::default_table();
    let index = IncidentIndex::build(&l.store);
    let started = std::time::Instant::now();
    let collections = build_collections(&l.inputs(&index, &harm))?;
    let tiles = crate::server::vector_tiles::VectorTiles::new(&collections)?;
    let map = MapAssets::load(
        &config
            .map_assets
            .clone()
            .unwrap_or_else(crate::server::map::default_assets_dir),
    );
    if !map.installed() {
        eprintln!(
            "warning: no Leaflet in {}: /map needs `npm ci --prefix web`",
            map.dir.display()
        );
    }
    let data = Data {
        pack: l.pack,
        districts: l.index,
        store: l.store,
        harm,
    };
    let heatmap = Heatmap::new(
        &data,
        SurfaceOptions {
            bandwidth: BandwidthRule::Fixed(config.heatmap.bandwidth_m),
            cell_m: config.heatmap.cell_m,
            ..Default::default()
        },
    )?;
    eprintln!(
        "{} collections computed in {:.1} s",
        collections.len(),
        started.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(serve(
        AppState {
            collections,
            data,
            heatmap,
            cors: config.cors.clone(),
            map,
            tiles,
            base: config.base_policy(),
        },
        bind,
    ))
}
