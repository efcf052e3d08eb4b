//! The service's vector tiles: the collections' [`VectorLayer`]s (see [`crate::layers::mvt`])
//! and a bounded cache of encoded tiles with their ETags, so a warm tile costs a hash
//! lookup.

use std::sync::Arc;

pub use crate::layers::mvt::{
    default_minzoom, encode, TileError, TileId, VectorLayer, EXTENT, MAX_ZOOM,
};

use super::Collection;
use crate::crs::CrsError;

/// Encoded tiles kept in memory (about 1 GB at the worst, far less for these layers).
const CACHE_TILES: usize = 20_000;

/// An encoded tile and its strong ETag.
#[derive(Debug, Clone)]
pub struct EncodedTile {
    /// The protobuf bytes (may be empty: a tile with no layers).
    pub bytes: axum::body::Bytes,
    /// Quoted ETag.
    pub etag: String,
}

/// All vector layers and the cache of encoded tiles.
pub struct VectorTiles {
    /// Layers, in collection order.
    pub layers: Vec<VectorLayer>,
    cache: quick_cache::sync::Cache<(usize, TileId), Arc<EncodedTile>>,
}

impl std::fmt::Debug for VectorTiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VectorTiles({} layers)", self.layers.len())
    }
}

impl VectorTiles {
    /// The vector layers of every collection (each prepared on its first tile).
    pub fn new(collections: &[Collection]) -> Result<Self, CrsError> {
        let layers = collections
            .iter()
            .map(|c| {
                VectorLayer::new(
                    &c.id,
                    &c.description,
                    Arc::clone(&c.table),
                    c.extent(),
                    default_minzoom(&c.id),
                )
            })
            .collect();
        Ok(VectorTiles {
            layers,
            cache: quick_cache::sync::Cache::new(CACHE_TILES),
        })
    }

    /// The layer called `id`.
    pub fn layer(&self, id: &str) -> Option<&VectorLayer> {
        self.layers.iter().find(|l| l.id == id)
    }

    /// The encoded tile `t` of layer `id`, from the cache or freshly encoded.
    pub fn tile(&self, id: &str, t: TileId) -> Result<Arc<EncodedTile>, TileError> {
        let li = self
            .layers
            .iter()
            .position(|l| l.id == id)
            .ok_or_else(|| TileError::UnknownLayer(id.to_string()))?;
        if let Some(hit) = self.cache.get(&(li, t)) {
            return Ok(hit);
        }
        let bytes = encode(self.layers[li].tile_layer(t));
        let etag = super::etag_of(&bytes);
        let e = Arc::new(EncodedTile {
            bytes: bytes.into(),
            etag,
        });
        self.cache.insert((li, t), e.clone());
        Ok(e)
    }
}
