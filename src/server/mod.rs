//! The hotspot service: OGC API – Features (Core, GeoJSON) over the computed layers.
//! Layers are computed once at start; handlers only read them, so no request can change
//! state, and every bad request gets an application/problem+json 4xx.

pub mod collections;
pub mod ogc;
pub mod raster_tiles;
pub mod vector_tiles;

use std::net::SocketAddr;
use std::sync::Arc;

pub use collections::{build_collections, Collection};

/// Everything the handlers read.
#[derive(Debug)]
pub struct AppState {
    /// The collections, in listing order.
    pub collections: Vec<Collection>,
    /// The density surface behind the heatmap tiles, and the top of its colour ramp.
    pub density: Option<(crate::density::Surface, f64)>,
    /// The collections prepared as vector tiles.
    pub tiles: vector_tiles::VectorTiles,
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
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
