//! The boundary pack: districts in EPSG:27700 with provenance, read from and written to GeoJSON.

use std::path::Path;

use geo::{Area, BoundingRect, MultiPolygon, Rect};
use geojson::{Feature, FeatureCollection, GeoJson, GeometryValue, JsonObject};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::BoundaryError;
use crate::crs::Transformer;

/// The Kent & Medway pack shipped in `boundaries/` and embedded in the binary.
pub const KENT_MEDWAY_PACK: &str = include_str!("../../boundaries/kent_medway.geojson");
/// Name shown for the embedded pack in errors and metadata.
pub const KENT_MEDWAY_PACK_NAME: &str = "boundaries/kent_medway.geojson (embedded)";

/// One district (local authority) in EPSG:27700 metres.
#[derive(Debug, Clone)]
pub struct District {
    /// ONS code, e.g. `E07000106`.
    pub code: String,
    /// District name, e.g. `Canterbury`.
    pub name: String,
    /// Planar area in EPSG:27700, km².
    pub area_km2: f64,
    /// Geometry in EPSG:27700 metres.
    pub geometry: MultiPolygon<f64>,
}

/// Where a pack came from: written into the pack and into every output's metadata.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// File name of the source boundary file.
    pub source_file: String,
    /// SHA-256 of the source file, hex.
    pub source_sha256: String,
    /// Simplification tolerance used, metres.
    pub tolerance_m: f64,
    /// Coordinate rounding, metres.
    pub rounding_m: f64,
    /// Licence and attribution text.
    pub attribution: String,
}

/// A set of districts, sorted by code, with their provenance.
#[derive(Debug, Clone)]
pub struct BoundaryPack {
    /// Where the pack was loaded from (path or embedded name).
    pub origin: String,
    /// Districts sorted by code.
    pub districts: Vec<District>,
    /// Provenance, if the file carries one.
    pub provenance: Option<Provenance>,
}

/// A feature read from a district file, already in EPSG:27700.
pub(crate) struct RawDistrict {
    pub index: usize,
    pub code: String,
    pub name: String,
    pub geometry: MultiPolygon<f64>,
}

impl BoundaryPack {
    /// The embedded Kent & Medway pack (13 districts).
    pub fn kent_medway() -> Result<Self, BoundaryError> {
        Self::from_geojson_str(KENT_MEDWAY_PACK, KENT_MEDWAY_PACK_NAME)
    }

    /// Loads a pack from a file, or the embedded Kent & Medway pack when `path` is `None`.
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, BoundaryError> {
        match path {
            Some(p) => Self::load(p),
            None => Self::kent_medway(),
        }
    }

    /// Loads a pack (or any district GeoJSON in CRS84 or EPSG:27700) from a file.
    pub fn load(path: &Path) -> Result<Self, BoundaryError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BoundaryError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_geojson_str(&text, &file)
    }

    /// Parses a pack from GeoJSON text; `origin` names it in errors.
    pub fn from_geojson_str(text: &str, origin: &str) -> Result<Self, BoundaryError> {
        let (raw, members) = read_district_features(text, origin)?;
        let provenance = members
            .as_ref()
            .and_then(|m| m.get("provenance"))
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let districts = raw
            .into_iter()
            .map(|r| District {
                area_km2: r.geometry.unsigned_area() / 1e6,
                code: r.code,
                name: r.name,
                geometry: r.geometry,
            })
            .collect();
        Self::from_districts(origin, districts, provenance)
    }

    /// Builds a pack from districts, sorting them by code and checking codes are unique.
    pub(crate) fn from_districts(
        origin: &str,
        mut districts: Vec<District>,
        provenance: Option<Provenance>,
    ) -> Result<Self, BoundaryError> {
        districts.sort_by(|a, b| a.code.cmp(&b.code));
        if districts.len() > 254 {
            return Err(BoundaryError::TooMany {
                file: origin.to_string(),
                count: districts.len(),
            });
        }
        for (i, w) in districts.windows(2).enumerate() {
            if w[0].code == w[1].code {
                return Err(BoundaryError::DuplicateCode {
                    file: origin.to_string(),
                    feature: i + 1,
                    code: w[1].code.clone(),
                });
            }
        }
        Ok(Self {
            origin: origin.to_string(),
            districts,
            provenance,
        })
    }

    /// Total planar area of all districts, km².
    pub fn land_area_km2(&self) -> f64 {
        self.districts.iter().map(|d| d.area_km2).sum()
    }

    /// SHA-256 (hex) over the districts' codes, names and the bits of every coordinate, in
    /// pack order: packs with equal fingerprints put every point in the same district.
    pub fn fingerprint(&self) -> String {
        use geo::CoordsIter;
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for d in &self.districts {
            for text in [&d.code, &d.name] {
                h.update((text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
            h.update((d.geometry.0.len() as u64).to_le_bytes());
            for poly in &d.geometry.0 {
                h.update((poly.interiors().len() as u64).to_le_bytes());
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    h.update((ring.0.len() as u64).to_le_bytes());
                    for c in ring.coords_iter() {
                        h.update(c.x.to_bits().to_le_bytes());
                        h.update(c.y.to_bits().to_le_bytes());
                    }
                }
            }
        }
        format!("{:x}", h.finalize())
    }

    /// Bounding box of all districts, EPSG:27700 metres.
    pub fn bbox(&self) -> Option<Rect<f64>> {
        let mut out: Option<Rect<f64>> = None;
        for d in &self.districts {
            if let Some(r) = d.geometry.bounding_rect() {
                out = Some(match out {
                    None => r,
                    Some(o) => Rect::new(
                        (o.min().x.min(r.min().x), o.min().y.min(r.min().y)),
                        (o.max().x.max(r.max().x), o.max().y.max(r.max().y)),
                    ),
                });
            }
        }
        out
    }

    /// Index of the district with this code.
    pub fn position(&self, code: &str) -> Option<usize> {
        self.districts.iter().position(|d| d.code == code)
    }

    /// The pack as GeoJSON text in EPSG:27700 (with a legacy `crs` member that QGIS reads),
    /// coordinates rounded to `rounding_m`.
    pub fn to_geojson_string(&self, rounding_m: f64) -> String {
        let features = self
            .districts
            .iter()
            .map(|d| {
                let rounded = round_multipolygon(&d.geometry, rounding_m);
                let mut props = JsonObject::new();
                props.insert("code".into(), json!(d.code));
                props.insert("name".into(), json!(d.name));
                props.insert(
                    "area_km2".into(),
                    json!((d.area_km2 * 1000.0).round() / 1000.0),
                );
                Feature {
                    bbox: None,
                    geometry: Some(geojson::Geometry::new(GeometryValue::from(&rounded))),
                    id: None,
                    properties: Some(props),
                    foreign_members: None,
                }
            })
            .collect::<Vec<_>>();
        let mut members = JsonObject::new();
        members.insert("name".into(), json!("districts"));
        members.insert(
            "crs".into(),
            json!({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}),
        );
        if let Some(p) = &self.provenance {
            members.insert(
                "provenance".into(),
                serde_json::to_value(p).unwrap_or(Value::Null),
            );
        }
        let fc = FeatureCollection {
            bbox: None,
            features,
            foreign_members: Some(members),
        };
        GeoJson::FeatureCollection(fc).to_string()
    }

    /// Writes the pack to `path` (see [`BoundaryPack::to_geojson_string`]).
    pub fn write(&self, path: &Path, rounding_m: f64) -> Result<(), BoundaryError> {
        crate::output::write_atomic(path, self.to_geojson_string(rounding_m).as_bytes()).map_err(
            |source| BoundaryError::Write {
                file: path.display().to_string(),
                source,
            },
        )
    }
}

/// Rounds every coordinate to a multiple of `step_m` (no-op when `step_m <= 0`).
pub(crate) fn round_multipolygon(mp: &MultiPolygon<f64>, step_m: f64) -> MultiPolygon<f64> {
    use geo::MapCoords;
    if step_m <= 0.0 {
        return mp.clone();
    }
    mp.map_coords(
        |c| geo::coord! { x: (c.x / step_m).round() * step_m, y: (c.y / step_m).round() * step_m },
    )
}

/// Looks for the district code property: `LADyyCD` of any vintage, `code`, `lad_code`.
fn find_code(props: &JsonObject) -> Option<String> {
    find_prop(props, |k| {
        let k = k.to_ascii_lowercase();
        k == "code"
            || k == "lad_code"
            || k == "ladcd"
            || (k.starts_with("lad") && k.ends_with("cd"))
    })
}

/// Looks for the district name property: `LADyyNM` of any vintage, `name`, `lad_name`.
fn find_name(props: &JsonObject) -> Option<String> {
    find_prop(props, |k| {
        let k = k.to_ascii_lowercase();
        k == "name"
            || k == "lad_name"
            || k == "ladnm"
            || (k.starts_with("lad") && k.ends_with("nm"))
    })
}

fn find_prop(props: &JsonObject, want: impl Fn(&str) -> bool) -> Option<String> {
    let mut keys: Vec<&String> = props.keys().filter(|k| want(k)).collect();
    // Newest vintage first when a file carries several (LAD24CD before LAD13CD).
    keys.sort_by(|a, b| b.cmp(a));
    keys.into_iter().find_map(|k| match props.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    })
}

/// Which CRS a district file is in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FileCrs {
    Wgs84,
    Bng,
}

fn detect_crs(members: Option<&JsonObject>, raw: &[(usize, MultiPolygon<f64>)]) -> FileCrs {
    let named = members
        .and_then(|m| m.get("crs"))
        .and_then(|c| c.pointer("/properties/name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if named.contains("27700") {
        return FileCrs::Bng;
    }
    if named.contains("CRS84") || named.contains("4326") {
        return FileCrs::Wgs84;
    }
    let geographic = raw.iter().all(|(_, mp)| {
        mp.bounding_rect().is_none_or(|r| {
            r.min().x >= -180.0 && r.max().x <= 180.0 && r.min().y >= -90.0 && r.max().y <= 90.0
        })
    });
    if geographic {
        FileCrs::Wgs84
    } else {
        FileCrs::Bng
    }
}

/// Reads every feature of a district file into EPSG:27700 multipolygons with code and name.
pub(crate) fn read_district_features(
    text: &str,
    file: &str,
) -> Result<(Vec<RawDistrict>, Option<JsonObject>), BoundaryError> {
    let gj: GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| BoundaryError::NotGeoJson {
            file: file.to_string(),
            message: e.to_string(),
        })?;
    let fc = match gj {
        GeoJson::FeatureCollection(fc) => fc,
        other => {
            let kind = match other {
                GeoJson::Feature(_) => "a single Feature",
                _ => "a bare Geometry",
            };
            return Err(BoundaryError::NotGeoJson {
                file: file.to_string(),
                message: format!("found {kind}"),
            });
        }
    };
    let mut meta = Vec::with_capacity(fc.features.len());
    let mut shapes = Vec::with_capacity(fc.features.len());
    for (i, f) in fc.features.iter().enumerate() {
        let empty = JsonObject::new();
        let props = f.properties.as_ref().unwrap_or(&empty);
        let code = find_code(props).ok_or_else(|| BoundaryError::MissingCode {
            file: file.to_string(),
            feature: i,
            found: if props.is_empty() {
                "no properties".to_string()
            } else {
                props.keys().cloned().collect::<Vec<_>>().join(", ")
            },
        })?;
        let name = find_name(props).unwrap_or_else(|| code.clone());
        let not_polygon = |kind: &str| BoundaryError::NotPolygon {
            file: file.to_string(),
            feature: i,
            code: code.clone(),
            kind: kind.to_string(),
        };
        let geometry = f.geometry.as_ref().ok_or_else(|| not_polygon("missing"))?;
        // Only polygons are converted, and only when every position has an x and a y
        // (the conversion indexes them unchecked).
        let rings: Vec<&Vec<geojson::Position>> = match &geometry.value {
            GeometryValue::Polygon { coordinates } => coordinates.iter().collect(),
            GeometryValue::MultiPolygon { coordinates } => coordinates.iter().flatten().collect(),
            GeometryValue::Point { .. } => return Err(not_polygon("Point")),
            GeometryValue::MultiPoint { .. } => return Err(not_polygon("MultiPoint")),
            GeometryValue::LineString { .. } => return Err(not_polygon("LineString")),
            GeometryValue::MultiLineString { .. } => return Err(not_polygon("MultiLineString")),
            GeometryValue::GeometryCollection { .. } => {
                return Err(not_polygon("GeometryCollection"))
            }
        };
        if let Some(bad) = rings.iter().flat_map(|r| r.iter()).find(|p| p.len() < 2) {
            return Err(not_polygon(&format!(
                "unreadable (a position with {} coordinate(s), where x and y are needed)",
                bad.len()
            )));
        }
        let mp = match geo::Geometry::<f64>::try_from(&geometry.value) {
            Ok(geo::Geometry::Polygon(p)) => MultiPolygon(vec![p]),
            Ok(geo::Geometry::MultiPolygon(mp)) => mp,
            Ok(other) => {
                let kind = match other {
                    geo::Geometry::Point(_) => "Point",
                    geo::Geometry::MultiPoint(_) => "MultiPoint",
                    geo::Geometry::LineString(_) | geo::Geometry::Line(_) => "LineString",
                    geo::Geometry::MultiLineString(_) => "MultiLineString",
                    geo::Geometry::GeometryCollection(_) => "GeometryCollection",
                    _ => "not a polygon",
                };
                return Err(not_polygon(kind));
            }
            Err(e) => return Err(not_polygon(&format!("unreadable ({e})"))),
        };
        meta.push((i, code, name));
        shapes.push((i, mp));
    }
    let crs = detect_crs(fc.foreign_members.as_ref(), &shapes);
    if crs == FileCrs::Wgs84 {
        let t = Transformer::wgs84_to_bng().map_err(|source| BoundaryError::Crs {
            file: file.to_string(),
            source,
        })?;
        for ((_, mp), (feature, code, _)) in shapes.iter_mut().zip(&meta) {
            transform_multipolygon(&t, mp).map_err(|source| BoundaryError::OutsideGrid {
                file: file.to_string(),
                feature: *feature,
                code: code.clone(),
                message: source.to_string(),
            })?;
        }
    }
    let raw = meta
        .into_iter()
        .zip(shapes)
        .map(|((index, code, name), (_, geometry))| RawDistrict {
            index,
            code,
            name,
            geometry,
        })
        .collect();
    Ok((raw, fc.foreign_members))
}

/// Transforms every coordinate of a multipolygon in place, one PROJ call per ring.
pub(crate) fn transform_multipolygon(
    t: &Transformer,
    mp: &mut MultiPolygon<f64>,
) -> Result<(), crate::crs::CrsError> {
    use geo::{Coord, LineString};
    let convert = |ring: &LineString<f64>| -> Result<LineString<f64>, crate::crs::CrsError> {
        let mut pts: Vec<(f64, f64)> = ring.0.iter().map(|c| (c.x, c.y)).collect();
        t.convert_in_place(&mut pts)?;
        Ok(LineString(
            pts.into_iter().map(|(x, y)| Coord { x, y }).collect(),
        ))
    };
    for poly in mp.0.iter_mut() {
        let ext = convert(poly.exterior())?;
        let ints = poly
            .interiors()
            .iter()
            .map(convert)
            .collect::<Result<Vec<_>, _>>()?;
        *poly = geo::Polygon::new(ext, ints);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: a position with one number panicked in the GeoJSON conversion. Any
    /// geometry that is not a polygon of x, y positions is refused, naming the feature.
    #[test]
    fn short_positions_and_other_geometries_are_refused_by_feature() {
        let feature = |geom: &str| {
            format!(
                r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":"E07000110"}},"geometry":{geom}}}]}}"#
            )
        };
        for (geom, says) in [
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[1],[1,1],[0,0]]]}"#,
                "1 coordinate",
            ),
            (
                r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[58804.6],[0,0]]]]}"#,
                "1 coordinate",
            ),
            (r#"{"type":"Point","coordinates":[1]}"#, "Point"),
            (
                r#"{"type":"LineString","coordinates":[[1],[2]]}"#,
                "LineString",
            ),
        ] {
            let err = BoundaryPack::from_geojson_str(&feature(geom), "b.geojson")
                .unwrap_err()
                .to_string();
            assert!(err.contains("b.geojson"), "{err}");
            // The GeoJSON reader checks some positions itself; the rest are ours to check.
            assert!(
                (err.contains(says) && err.contains("E07000110"))
                    || (err.contains("must contain two or more") && !geom.contains("Multi")),
                "{err}"
            );
        }
    }
}
