//! The snapshot's vector layers as one PMTiles v3 archive (the `pmtiles` crate), so the
//! tiles can be served by any static host or object store with HTTP range requests, and
//! opened directly by QGIS (3.32+), MapLibre (pmtiles protocol) and GDAL (3.8+).
//!
//! Every layer in one tileset: each tile holds the layers that have features there, named
//! by collection id, with the same attributes, simplification and clipping as the service's
//! `/collections/{id}/tiles` (see [`crate::layers::mvt`]). Zooms 0 to [`MAX_ZOOM`]: at
//! zoom 12 a tile unit is 2.4 m, finer than any layer's detail, so clients overzoom beyond.

use std::path::Path;

use pmtiles::{Compression, PmTilesWriter, TileCoord, TileType};
use rayon::prelude::*;
use serde_json::json;

use super::{io_err, PublishError};
use crate::layers::mvt::{encode_layers, TileId, VectorLayer};

/// Highest zoom in the archive.
pub const MAX_ZOOM: u8 = 12;

/// Column and row of the tile holding (lon, lat) at zoom `z` (Web Mercator XYZ).
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let lat = lat.clamp(-85.051_128, 85.051_128).to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    let last = n - 1.0;
    (x.clamp(0.0, last) as u32, y.clamp(0.0, last) as u32)
}

/// Gzip of `bytes` (fast level; no name or time in the header, so the same bytes each run).
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(bytes);
    z.finish().unwrap_or_default()
}

/// One layer's tiles: each non-empty tile of zooms 0 to [`MAX_ZOOM`] over `bounds_deg`, as
/// an encoded MVT `Tile` holding that layer alone, in parallel. Encoded tiles of several
/// layers concatenate into one tile holding them all (a tile's layers are a repeated
/// protobuf field), which is how [`write_pmtiles`] merges them.
pub fn layer_tiles(layer: &VectorLayer, bounds_deg: [f64; 4]) -> Vec<((u8, u32, u32), Vec<u8>)> {
    let b = bounds_deg;
    let mut addresses = Vec::new();
    for z in layer.minzoom..=MAX_ZOOM {
        let (x0, y0) = tile_of(b[0], b[3], z);
        let (x1, y1) = tile_of(b[2], b[1], z);
        for y in y0..=y1 {
            for x in x0..=x1 {
                addresses.push((z, x, y));
            }
        }
    }
    addresses
        .par_iter()
        .filter_map(|&(z, x, y)| {
            let t = TileId::new(z, x, y).ok()?;
            let l = layer.tile_layer(t)?;
            Some(((z, x, y), encode_layers(vec![l])))
        })
        .collect()
}

/// A layer ready for the archive: its vector layer (for the metadata), WGS84 bounds and
/// tiles from [`layer_tiles`].
pub type ArchiveLayer = (VectorLayer, [f64; 4], Vec<((u8, u32, u32), Vec<u8>)>);

/// Writes `layers` to `path` as a PMTiles archive of MVT tiles: each tile the layers that
/// have features there, in the given order, gzip-compressed in parallel, tiles in Hilbert
/// order (a clustered archive). Returns the number of tiles written. Same layers, same
/// bytes.
///
/// Errors: writing the file.
pub fn write_pmtiles(path: &Path, layers: &[ArchiveLayer]) -> Result<usize, PublishError> {
    let Some(b) = layers.iter().map(|(_, b, _)| *b).reduce(|a, b| {
        [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ]
    }) else {
        return Err(PublishError::Analysis("no vector layers to tile".into()));
    };
    let mut merged: std::collections::BTreeMap<u64, (TileCoord, Vec<u8>)> = Default::default();
    for (_, _, tiles) in layers {
        for ((z, x, y), bytes) in tiles {
            let Ok(coord) = TileCoord::new(*z, *x, *y) else {
                continue;
            };
            let id = pmtiles::TileId::from(coord).value();
            merged
                .entry(id)
                .or_insert_with(|| (coord, Vec::new()))
                .1
                .extend_from_slice(bytes);
        }
    }
    let tiles: Vec<(TileCoord, Vec<u8>)> = merged
        .into_values()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(c, bytes)| (c, gzip(&bytes)))
        .collect();
    let vector_layers: Vec<_> = layers
        .iter()
        .map(|(l, _, _)| {
            json!({
                "id": l.id,
                "description": l.description,
                "minzoom": l.minzoom,
                "maxzoom": MAX_ZOOM,
                "fields": l.fields,
            })
        })
        .collect();
    let metadata = json!({
        "name": "Kent and Medway hotspot layers",
        "format": "pbf",
        "attribution": crate::boundaries::BOUNDARY_ATTRIBUTION,
        "vector_layers": vector_layers,
    });
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let pm_err = |e: pmtiles::PmtError| PublishError::Invalid {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut w = PmTilesWriter::new(TileType::Mvt)
        .precompressed(Compression::Gzip)
        .min_zoom(0)
        .max_zoom(MAX_ZOOM)
        .bounds(b[0], b[1], b[2], b[3])
        .center((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
        .center_zoom(9)
        .metadata(metadata.to_string())
        .create(std::io::BufWriter::new(file))
        .map_err(pm_err)?;
    for (coord, bytes) in &tiles {
        w.add_tile(*coord, bytes).map_err(pm_err)?;
    }
    w.finalize().map_err(pm_err)?;
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))?;
    Ok(tiles.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_of_matches_the_slippy_map_formula() {
        // Canterbury at zoom 12: x = floor((1.0830 + 180) / 360 · 4096) = 2060.
        assert_eq!(tile_of(1.0830, 51.2798, 12).0, 2060);
        assert_eq!(tile_of(0.0, 0.0, 1), (1, 1));
        assert_eq!(tile_of(-180.0, 85.0, 3), (0, 0));
        assert_eq!(tile_of(179.999, -85.0, 3), (7, 7));
        // y at zoom 12 from the definition, computed independently.
        let lat = 51.2798f64.to_radians();
        let y = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * 4096.0).floor();
        assert_eq!(tile_of(1.0830, 51.2798, 12).1, y as u32);
    }
}
