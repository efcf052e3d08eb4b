//! Mapbox Vector Tiles (specification 2.1) of the layers, in the Web Mercator XYZ scheme,
//! and their TileJSON 3.0.0 descriptions: what the service encodes per request and the
//! snapshot's PMTiles archive holds.
//!
//! On a layer's first tile its polygons are projected once to Web Mercator metres
//! (EPSG:3857, from their PROJ-made WGS84 coordinates by the projection's formula), simplified once per zoom level (Ramer–Douglas–Peucker with
//! a tolerance of one tile unit) and indexed by bounding box (rstar). A tile request then
//! only selects, clips to the tile plus [`BUFFER`] units (geo's boolean operations),
//! snaps to the [`EXTENT`] grid and encodes (geozero's MVT writer).

use std::collections::BTreeMap;
use std::sync::Arc;

use geo::{
    BooleanOps, Coord, CoordsIter, LineString, MapCoords, MultiPolygon, Polygon, Rect, Simplify,
};
use geozero::mvt::{tile, Message, TagsBuilder, Tile, TileValue};
use geozero::ToMvt;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde_json::{json, Value};
use thiserror::Error;

use super::table::{Attr, LayerTable};
use crate::crs::lonlat_to_web_mercator;

/// Tile side in tile units.
pub const EXTENT: u32 = 4096;
/// Geometry kept beyond each tile edge, tile units (so strokes join across tiles).
pub const BUFFER: u32 = 64;
/// Highest zoom served.
pub const MAX_ZOOM: u8 = 18;
/// Beyond this zoom a tile unit is under 2.4 m and the full geometry is used.
pub const SIMPLIFY_MAX_ZOOM: u8 = 14;
/// Features with at most this many coordinates are never simplified.
const SIMPLIFY_MIN_COORDS: usize = 16;
/// Half the side of the Web Mercator square, metres.
pub const HALF_WORLD_M: f64 = 20_037_508.342_789_244;

/// Why a tile cannot be served.
#[derive(Debug, Error, PartialEq)]
pub enum TileError {
    /// No vector layer of that name.
    #[error("no vector tile layer '{0}'")]
    UnknownLayer(String),
    /// Not `{z}/{x}/{y}.mvt` with integers.
    #[error("bad tile address '{0}': expected {{z}}/{{x}}/{{y}}.mvt with integers")]
    BadAddress(String),
    /// Zoom above [`MAX_ZOOM`].
    #[error("zoom {0} is above {MAX_ZOOM}")]
    ZoomOutOfRange(u8),
    /// x or y outside 0..2^z.
    #[error("tile {z}/{x}/{y} is outside the world (0..{n} at zoom {z})")]
    OutsideWorld {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// Tiles per side at this zoom.
        n: u64,
    },
}

/// An XYZ tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    /// Zoom.
    pub z: u8,
    /// Column, from the antimeridian eastwards.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

impl TileId {
    /// Parses the three path segments; `y` must end in `suffix` (e.g. ".mvt").
    pub fn parse(z: &str, x: &str, y: &str, suffix: &str) -> Result<Self, TileError> {
        let bad = || TileError::BadAddress(format!("{z}/{x}/{y}"));
        let z: u8 = z.parse().map_err(|_| bad())?;
        let x: u32 = x.parse().map_err(|_| bad())?;
        let y: u32 = y
            .strip_suffix(suffix)
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        Self::new(z, x, y)
    }

    /// A checked address.
    pub fn new(z: u8, x: u32, y: u32) -> Result<Self, TileError> {
        if z > MAX_ZOOM {
            return Err(TileError::ZoomOutOfRange(z));
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(TileError::OutsideWorld { z, x, y, n });
        }
        Ok(TileId { z, x, y })
    }

    /// Web Mercator bounds [west, south, east, north], metres.
    pub fn bounds_m(&self) -> [f64; 4] {
        let side = 2.0 * HALF_WORLD_M / (1u64 << self.z) as f64;
        let west = -HALF_WORLD_M + f64::from(self.x) * side;
        let north = HALF_WORLD_M - f64::from(self.y) * side;
        [west, north - side, west + side, north]
    }

    /// One tile unit at this zoom, metres.
    pub fn unit_m(&self) -> f64 {
        unit_m(self.z)
    }
}

/// One tile unit at zoom `z`, Web Mercator metres.
pub fn unit_m(z: u8) -> f64 {
    2.0 * HALF_WORLD_M / (1u64 << z) as f64 / f64::from(EXTENT)
}

/// One feature ready for tiling.
#[derive(Debug)]
struct TileFeature {
    /// Web Mercator metres, full detail.
    full: MultiPolygon<f64>,
    /// Index z: simplified for zoom z, or `None` when no coarser than the next zoom's.
    levels: Vec<Option<MultiPolygon<f64>>>,
    /// Attributes.
    tags: Vec<(String, TileValue)>,
}

impl TileFeature {
    fn at_zoom(&self, z: u8) -> &MultiPolygon<f64> {
        (usize::from(z)..self.levels.len())
            .find_map(|i| self.levels[i].as_ref())
            .unwrap_or(&self.full)
    }
}

/// One collection prepared for vector tiles.
#[derive(Debug)]
pub struct VectorLayer {
    /// Layer name (the collection id).
    pub id: String,
    /// Description for TileJSON.
    pub description: String,
    /// Lowest zoom with features; tiles below it are empty.
    pub minzoom: u8,
    /// Attribute names and their TileJSON types (Number, String, Boolean).
    pub fields: BTreeMap<String, &'static str>,
    /// WGS84 bounds [west, south, east, north], degrees.
    pub bounds_deg: [f64; 4],
    /// The layer's table, prepared for tiling on first use.
    source: Arc<LayerTable>,
    prepared: std::sync::OnceLock<Prepared>,
}

/// A layer projected, simplified per zoom and indexed.
#[derive(Debug, Default)]
struct Prepared {
    features: Vec<TileFeature>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

/// An attribute as an MVT value; nulls are left out of the feature.
fn tile_value(a: &Attr) -> Option<TileValue> {
    Some(match a {
        Attr::Null => return None,
        Attr::Int(i) => TileValue::Int(*i),
        Attr::Real(x) if x.is_finite() => TileValue::Double(*x),
        Attr::Real(_) => return None,
        Attr::Text(s) => TileValue::Str(s.clone()),
    })
}

/// Signed area by the surveyor's formula; positive for a clockwise ring in tile
/// coordinates (y down), which MVT 2.1 defines as an exterior ring.
fn tile_area(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        / 2.0
}

/// Snaps a Web Mercator ring to integer tile units (y down), drops repeated points and
/// orients it: exterior positive area, hole negative. `None` if it collapses.
fn snap_ring(ls: &LineString<f64>, b: &[f64; 4], exterior: bool) -> Option<LineString<f64>> {
    let sx = f64::from(EXTENT) / (b[2] - b[0]);
    let sy = f64::from(EXTENT) / (b[3] - b[1]);
    let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ls.0.len());
    for c in &ls.0 {
        let p = Coord {
            x: ((c.x - b[0]) * sx).round(),
            y: ((b[3] - c.y) * sy).round(),
        };
        if pts.last() != Some(&p) {
            pts.push(p);
        }
    }
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return None;
    }
    pts.push(pts[0]);
    let a = tile_area(&pts);
    if a == 0.0 {
        return None;
    }
    if (a > 0.0) != exterior {
        pts.reverse();
    }
    Some(LineString::new(pts))
}

/// Projects `t`'s features to Web Mercator (their WGS84 geometry, which PROJ made from the
/// EPSG:27700 one, through the projection's closed form
/// [`crate::crs::lonlat_to_web_mercator`]), simplifies each once per zoom
/// (Ramer–Douglas–Peucker, one tile unit) and indexes their bounding boxes.
fn prepare(t: &LayerTable) -> Prepared {
    let mut features = Vec::with_capacity(t.features.len());
    let mut boxes = Vec::new();
    for f in &t.features {
        let mp = f.wgs84.map_coords(|c| {
            let (x, y) = lonlat_to_web_mercator(c.x, c.y);
            Coord { x, y }
        });
        let Some(r) = geo::BoundingRect::bounding_rect(&mp) else {
            continue;
        };
        // Simplify from fine to coarse, each level from the one below it.
        let mut levels: Vec<Option<MultiPolygon<f64>>> =
            vec![None; usize::from(SIMPLIFY_MAX_ZOOM) + 1];
        let mut finer_count = mp.coords_count();
        let mut finer = mp.clone();
        // Cells (hexagons, squares) have too few vertices for simplification to save any.
        let simplify = finer_count > SIMPLIFY_MIN_COORDS;
        for z in (0..=SIMPLIFY_MAX_ZOOM).rev().filter(|_| simplify) {
            let s = finer.simplify(unit_m(z));
            let n = s.coords_count();
            if n < finer_count {
                finer_count = n;
                finer = s.clone();
                levels[usize::from(z)] = Some(s);
            }
        }
        let tags = t
            .fields
            .iter()
            .zip(&f.attrs)
            .filter_map(|(fd, a)| Some((fd.name.to_string(), tile_value(a)?)))
            .collect();
        boxes.push(GeomWithData::new(
            Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
            features.len(),
        ));
        features.push(TileFeature {
            full: mp,
            levels,
            tags,
        });
    }
    Prepared {
        features,
        tree: RTree::bulk_load(boxes),
    }
}

impl VectorLayer {
    /// The vector layer `id` of `table` (`bounds_deg`: its WGS84 extent); `minzoom` is the
    /// first zoom that carries features. Its features are projected, simplified and indexed
    /// when it is first tiled, so a service starts without that work.
    pub fn new(
        id: &str,
        description: &str,
        table: Arc<LayerTable>,
        bounds_deg: [f64; 4],
        minzoom: u8,
    ) -> Self {
        let fields = table
            .fields
            .iter()
            .map(|f| (f.name.to_string(), f.ty.tilejson()))
            .collect();
        VectorLayer {
            id: id.to_string(),
            description: description.to_string(),
            minzoom,
            fields,
            bounds_deg,
            source: table,
            prepared: std::sync::OnceLock::new(),
        }
    }

    /// The layer ready for tiling: projected to Web Mercator, simplified per zoom and
    /// indexed, once (concurrent first callers wait for one preparation).
    fn prepared(&self) -> &Prepared {
        self.prepared.get_or_init(|| prepare(&self.source))
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.source.features.len()
    }

    /// True when the layer has no features.
    pub fn is_empty(&self) -> bool {
        self.source.features.is_empty()
    }

    /// The MVT layer for tile `t` (features in index order), or `None` when empty.
    pub fn tile_layer(&self, t: TileId) -> Option<tile::Layer> {
        if t.z < self.minzoom {
            return None;
        }
        let b = t.bounds_m();
        let pad = f64::from(BUFFER) * t.unit_m();
        let clip = [b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad];
        let clip_rect = Rect::new(
            Coord {
                x: clip[0],
                y: clip[1],
            },
            Coord {
                x: clip[2],
                y: clip[3],
            },
        )
        .to_polygon();
        let prepared = self.prepared();
        let mut hits: Vec<usize> = prepared
            .tree
            .locate_in_envelope_intersecting(&AABB::from_corners(
                [clip[0], clip[1]],
                [clip[2], clip[3]],
            ))
            .map(|g| g.data)
            .collect();
        hits.sort_unstable();
        let mut tags = TagsBuilder::new();
        let mut out = Vec::with_capacity(hits.len());
        for i in hits {
            let f = &prepared.features[i];
            let g = f.at_zoom(t.z);
            let inside = geo::BoundingRect::bounding_rect(g).is_some_and(|r| {
                r.min().x >= clip[0]
                    && r.min().y >= clip[1]
                    && r.max().x <= clip[2]
                    && r.max().y <= clip[3]
            });
            let clipped;
            let g = if inside {
                g
            } else {
                clipped = g.intersection(&clip_rect);
                &clipped
            };
            let mut polys = Vec::with_capacity(g.0.len());
            for p in &g.0 {
                let Some(ext) = snap_ring(p.exterior(), &b, true) else {
                    continue;
                };
                let holes = p
                    .interiors()
                    .iter()
                    .filter_map(|h| snap_ring(h, &b, false))
                    .collect();
                polys.push(Polygon::new(ext, holes));
            }
            if polys.is_empty() {
                continue;
            }
            let Ok(mut feature) =
                geo::Geometry::MultiPolygon(MultiPolygon::new(polys)).to_mvt_unscaled()
            else {
                continue;
            };
            feature.id = Some(i as u64 + 1);
            for (k, v) in &f.tags {
                let (ki, vi) = tags.insert_ref(k, v.clone());
                feature.tags.push(ki);
                feature.tags.push(vi);
            }
            out.push(feature);
        }
        if out.is_empty() {
            return None;
        }
        let (keys, values) = tags.into_tags();
        Some(tile::Layer {
            version: 2,
            name: self.id.clone(),
            features: out,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        })
    }

    /// TileJSON 3.0.0 for this layer; `base` is the server's absolute URL without a
    /// trailing slash.
    pub fn tilejson(&self, base: &str) -> Value {
        let b = self.bounds_deg;
        json!({
            "tilejson": "3.0.0",
            "name": self.id,
            "description": self.description,
            "version": "1.0.0",
            "attribution": crate::boundaries::BOUNDARY_ATTRIBUTION,
            "scheme": "xyz",
            "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", self.id)],
            "minzoom": self.minzoom,
            "maxzoom": MAX_ZOOM,
            "bounds": b,
            "center": [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, self.minzoom.max(9)],
            "vector_layers": [{
                "id": self.id,
                "description": self.description,
                "minzoom": self.minzoom,
                "maxzoom": MAX_ZOOM,
                "fields": self.fields,
            }],
        })
    }
}

/// The zoom from which a collection's features are tiled: hex cells (about 350 m across)
/// are under two tile units below zoom 6, so their layers start there.
pub fn default_minzoom(collection_id: &str) -> u8 {
    match collection_id {
        "gistar" | "h3-counts" | "emerging" => 6,
        _ => 0,
    }
}

/// A tile holding `layers`, in order.
pub fn encode_layers(layers: Vec<tile::Layer>) -> Vec<u8> {
    Tile { layers }.encode_to_vec()
}

/// WGS84 bounds `[west, south, east, north]` of a table's features (degrees), or `None`
/// for an empty table.
pub fn bounds_deg(t: &LayerTable) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    t.features
        .iter()
        .filter_map(|f| f.wgs84.bounding_rect())
        .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
        .reduce(|a, b| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        })
}

/// A tile holding `layer` (or no layer).
pub fn encode(layer: Option<tile::Layer>) -> Vec<u8> {
    Tile {
        layers: layer.into_iter().collect(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_bounds_cover_the_world_at_zoom_zero() {
        let b = TileId::new(0, 0, 0).unwrap().bounds_m();
        assert_eq!(
            b,
            [-HALF_WORLD_M, -HALF_WORLD_M, HALF_WORLD_M, HALF_WORLD_M]
        );
        let t = TileId::new(1, 1, 0).unwrap().bounds_m();
        assert_eq!(t, [0.0, 0.0, HALF_WORLD_M, HALF_WORLD_M]);
        assert!((unit_m(0) - 2.0 * HALF_WORLD_M / 4096.0).abs() < 1e-9);
    }

    #[test]
    fn addresses_are_checked() {
        assert_eq!(
            TileId::parse("3", "7", "7.mvt", ".mvt").unwrap(),
            TileId { z: 3, x: 7, y: 7 }
        );
        assert!(matches!(
            TileId::parse("3", "8", "0.mvt", ".mvt"),
            Err(TileError::OutsideWorld { .. })
        ));
        assert_eq!(
            TileId::parse("19", "0", "0.mvt", ".mvt"),
            Err(TileError::ZoomOutOfRange(19))
        );
        assert!(matches!(
            TileId::parse("3", "1", "1.png", ".mvt"),
            Err(TileError::BadAddress(_))
        ));
        assert!(TileId::parse("-1", "0", "0.mvt", ".mvt").is_err());
    }

    /// A ring given anticlockwise in map coordinates (y up) becomes clockwise in tile
    /// coordinates, i.e. positive surveyor's area; a hole comes out negative.
    #[test]
    fn snapped_rings_follow_the_mvt_winding_rule() {
        let b = [0.0, 0.0, 4096.0, 4096.0];
        let ccw = LineString::from(vec![
            (10.0, 10.0),
            (100.0, 10.0),
            (100.0, 100.0),
            (10.0, 10.0),
        ]);
        let ext = snap_ring(&ccw, &b, true).unwrap();
        assert!(tile_area(&ext.0) > 0.0);
        let hole = snap_ring(&ccw, &b, false).unwrap();
        assert!(tile_area(&hole.0) < 0.0);
        // y is flipped: map y 10 is tile y 4086.
        assert_eq!(ext.0[0], Coord { x: 10.0, y: 4086.0 });
        // A ring narrower than half a unit collapses.
        let thin = LineString::from(vec![(10.0, 10.0), (10.2, 10.0), (10.2, 90.0), (10.0, 10.0)]);
        assert!(snap_ring(&thin, &b, true).is_none());
    }
}
