//! The hotspot service: OGC API – Features (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0; Part 2
//! CRS by reference) over the computed layers, with downloads, vector and raster tiles.
//! Layers are computed once at start; handlers only read them, so no request can change
//! state, and every bad request gets an application/problem+json 4xx.

pub mod base_url;
pub mod cache;
pub mod collections;
pub mod config;
pub mod html;
pub mod map;
pub mod ogc;
pub mod raster_tiles;
pub mod selection;
pub mod vector_tiles;

use std::net::SocketAddr;
use std::sync::Arc;

pub use collections::{build_collections, Collection};

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

/// Everything the handlers read.
#[derive(Debug)]
pub struct AppState {
    /// The collections, in listing order.
    pub collections: Vec<Collection>,
    /// The boundaries and incidents the layers were computed from (never served as
    /// points; selections are counted and smoothed from them).
    pub data: Data,
    /// The density surfaces behind the heatmap tiles.
    pub heatmap: raster_tiles::Heatmap,
    /// Which browser origins may read the API.
    pub cors: config::CorsConfig,
    /// The map page's front-end library.
    pub map: map::MapAssets,
    /// The collections prepared as vector tiles.
    pub tiles: vector_tiles::VectorTiles,
    /// How each request's absolute base URL is made.
    pub base: base_url::BasePolicy,
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

/// Serves `state` on `bind` until interrupted; says where on stderr.
pub async fn serve(state: AppState, bind: SocketAddr) -> anyhow::Result<()> {
    let app = ogc::router(Arc::new(state));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
