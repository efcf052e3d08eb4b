//! `hotspots serve`: compute the layers, then serve them over HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use super::IncidentArgs;
use crate::density::{BandwidthRule, SurfaceOptions};
use crate::incidents::{HarmTable, IncidentIndex};
use crate::server::collections::collections_of;
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
    /// Serve a published snapshot (the output directory of `hotspots refresh`: its
    /// `current` run, or one run's directory) instead of computing layers at start.
    #[arg(long, value_name = "DIR", conflicts_with = "incidents")]
    pub layers: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port; the address is printed);
    /// default 127.0.0.1:8080.
    #[arg(long)]
    pub bind: Option<String>,
}

/// The default of `--rejects`, which a config file's `rejects` replaces.
const DEFAULT_REJECTS: &str = "rejects.csv";

/// Fills in from `config` what the command line left unset.
pub fn fill_from_config(input: &mut IncidentArgs, config: &ServeConfig) {
    if input.incidents.is_empty() {
        input.incidents = config.incidents.clone();
    }
    if input.pack.boundaries.is_none() {
        input.pack.boundaries = config.boundaries.clone();
    }
    if input.offence_map.is_none() {
        input.offence_map = config.offence_map.clone();
    }
    if let Some(r) = &config.rejects {
        if input.rejects == Path::new(DEFAULT_REJECTS) {
            input.rejects = r.clone();
        }
    }
}

/// Runs `hotspots serve`.
pub fn run(mut a: ServeArgs) -> Result<()> {
    let config = match &a.config {
        Some(p) => ServeConfig::load(p)?,
        None => ServeConfig::default(),
    };
    fill_from_config(&mut a.input, &config);
    a.input.incidents = super::refresh::expand_globs(&a.input.incidents)?;
    let bind_text = a
        .bind
        .or(config.bind.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let bind: SocketAddr = bind_text
        .parse()
        .with_context(|| format!("bind {bind_text}: expected HOST:PORT"))?;
    let started = std::time::Instant::now();
    let heatmap_opts = SurfaceOptions {
        bandwidth: BandwidthRule::Fixed(config.heatmap.bandwidth_m),
        cell_m: config.heatmap.cell_m,
        ..Default::default()
    };
    let harm = HarmTable::default_table();
    let (collections, data, heatmap) = match &a.layers {
        Some(dir) => {
            // A published snapshot: read, nothing computed.
            let p = crate::publish::read_published(dir)?;
            eprintln!(
                "serving snapshot {} ({} incidents, made {})",
                p.run_dir.display(),
                p.report.accepted,
                p.manifest.finished_at
            );
            let collections = collections_of(p.layers, &p.store);
            let opts = SurfaceOptions {
                bandwidth: BandwidthRule::Fixed(p.heatmap.bandwidth_m),
                cell_m: p.heatmap.cell_m,
                ..Default::default()
            };
            let data = Data {
                districts: crate::boundaries::DistrictIndex::new(&p.pack),
                pack: p.pack,
                store: p.store,
                harm,
            };
            (collections, data, Heatmap::from_surface(p.heatmap, opts))
        }
        None => {
            let l = a.input.load()?;
            let index = IncidentIndex::build(&l.store);
            let collections = build_collections(&l.inputs(&index, &harm))?;
            let data = Data {
                pack: l.pack,
                districts: l.index,
                store: l.store,
                harm,
            };
            let heatmap = Heatmap::new(&data, heatmap_opts)?;
            (collections, data, heatmap)
        }
    };
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
    eprintln!(
        "{} collections ready in {:.1} s",
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
