//! The hotspot service: OGC API – Features (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0; Part 2
//! CRS by reference) over the computed layers, with downloads, vector and raster tiles.
//! Layers are computed once at start; handlers only read them, so no request can change
//! state, and every bad request gets an application/problem+json 4xx.

pub mod base_url;
pub mod cache;
pub mod collections;
pub mod config;
pub mod html;
pub mod live;
pub mod map;
pub mod ogc;
pub mod raster_tiles;
pub mod selection;
pub mod vector_tiles;

use std::net::SocketAddr;
use std::sync::Arc;

pub use collections::Collection;

/// The analysis inputs the server keeps.
#[derive(Debug)]
pub struct Data {
    /// Boundaries.
    pub pack: crate::boundaries::BoundaryPack,
    /// Their index.
    pub districts: crate::boundaries::DistrictIndex,
    /// Incidents.
    pub store: crate::incidents::IncidentStore,
    /// Harm weights.
    pub harm: crate::incidents::HarmTable,
}

/// What does not change when a new snapshot is served: the service's settings.
#[derive(Debug, Default)]
pub struct Settings {
    /// Which browser origins may read the API.
    pub cors: config::CorsConfig,
    /// The map page's front-end library.
    pub map: map::MapAssets,
    /// How each request's absolute base URL is made.
    pub base: base_url::BasePolicy,
}

/// Which published snapshot a state serves.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotInfo {
    /// The run's directory.
    pub run_dir: std::path::PathBuf,
    /// Its run id.
    pub run_id: String,
    /// When the refresh finished.
    pub finished_at: String,
    /// Incidents in it.
    pub incidents: u64,
}

/// Everything the handlers read: one snapshot's layers and data, and the settings.
#[derive(Debug)]
pub struct AppState {
    /// The collections, in listing order.
    pub collections: Vec<Collection>,
    /// The boundaries and incidents the layers were computed from (never served as
    /// points; selections are counted and smoothed from them).
    pub data: Data,
    /// The density surfaces behind the heatmap tiles.
    pub heatmap: raster_tiles::Heatmap,
    /// The collections prepared as vector tiles.
    pub tiles: vector_tiles::VectorTiles,
    /// Settings shared by every snapshot served.
    pub settings: Arc<Settings>,
    /// The published snapshot served (`None`: layers computed at start).
    pub snapshot: Option<SnapshotInfo>,
    /// Incremented at each swap; part of the response cache's key.
    pub generation: u64,
}

/// A strong ETag for a body: the first 96 bits of its SHA-256, quoted.
pub fn etag_of(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

impl AppState {
    /// A collection by id.
    pub fn collection(&self, id: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.id == id)
    }
}

impl AppState {
    /// The state of a published snapshot: its layers as collections, its incidents and
    /// boundaries for selections, its heatmap surface; nothing is computed but the tile
    /// index.
    pub fn from_published(
        p: crate::publish::Published,
        settings: Arc<Settings>,
    ) -> anyhow::Result<Self> {
        use crate::density::{BandwidthRule, SurfaceOptions};
        let snapshot = SnapshotInfo {
            run_dir: p.run_dir.clone(),
            run_id: p.manifest.run_id.clone(),
            finished_at: p.manifest.finished_at.clone(),
            incidents: p.report.accepted,
        };
        let opts = SurfaceOptions {
            bandwidth: BandwidthRule::Fixed(p.heatmap.bandwidth_m),
            cell_m: p.heatmap.cell_m,
            ..Default::default()
        };
        // The collections' text, and the district index with the heatmap, side by side.
        let (layers, store, pack, mut surface) = (p.layers, p.store, p.pack, p.heatmap);
        // The heatmap as its tier allows: controlled selections when public (or partner
        // under control); a heatmap of another tier is not served (no access control yet).
        let (tier, rules) = p
            .manifest
            .heatmap
            .get("disclosure")
            .map(|_| collections::control_of(&p.manifest.heatmap))
            .unwrap_or((crate::disclosure::Tier::Public, Some(Default::default())));
        if tier != crate::disclosure::Tier::Public {
            tracing::warn!("the density heatmap is {}: not served", tier.slug());
            surface.values.iter_mut().for_each(|v| *v = f64::NAN);
        }
        let (collections, (districts, heatmap)) = rayon::join(
            || collections::collections_of(layers, &store),
            || {
                rayon::join(
                    || crate::boundaries::DistrictIndex::new(&pack),
                    || raster_tiles::Heatmap::from_surface(surface, opts, rules),
                )
            },
        );
        let collections = collections?;
        let tiles = vector_tiles::VectorTiles::new(&collections)?;
        let data = Data {
            districts,
            pack,
            store,
            harm: crate::incidents::HarmTable::default_table(),
        };
        Ok(AppState {
            collections,
            data,
            heatmap,
            tiles,
            settings,
            snapshot: Some(snapshot),
            generation: 0,
        })
    }
}

/// Serves `live` on `listener` until interrupted; says where on stderr.
pub async fn serve(live: Arc<live::Live>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let app = ogc::router(live);
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        // Ctrl-C, or SIGTERM from systemd, `kill` or `timeout`: finish what is in flight.
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
        tracing::info!("stopping");
    })
    .await?;
    Ok(())
}
