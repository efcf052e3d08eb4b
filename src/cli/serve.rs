//! `hotspots serve`: compute the layers, then serve them over HTTP.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::Args;

use super::IncidentArgs;
use crate::density::{BandwidthRule, SurfaceOptions};
use crate::incidents::{HarmTable, IncidentIndex};
use crate::server::map::MapAssets;
use crate::server::raster_tiles::Heatmap;
use crate::server::{build_collections, serve, AppState, Data};

/// `hotspots serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub input: IncidentArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
}

/// Runs `hotspots serve`.
pub fn run(a: ServeArgs) -> Result<()> {
    let bind: SocketAddr = a
        .bind
        .parse()
        .with_context(|| format!("--bind {}: expected HOST:PORT", a.bind))?;
    let l = a.input.load()?;
    let harm = HarmTable::default_table();
    let index = IncidentIndex::build(&l.store);
    let started = std::time::Instant::now();
    let collections = build_collections(&l.inputs(&index, &harm))?;
    let tiles = crate::server::vector_tiles::VectorTiles::new(&collections)?;
    let map = MapAssets::load(&crate::server::map::default_assets_dir());
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
            bandwidth: BandwidthRule::Fixed(300.0),
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
            map,
            tiles,
        },
        bind,
    ))
}
