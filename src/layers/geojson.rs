//! GeoJSON from layer tables: RFC 7946 (WGS84 longitude, latitude; exteriors anticlockwise)
//! by default, or British National Grid with a named `crs` member that QGIS, ArcGIS and GDAL
//! read (so a saved EPSG:27700 file opens in the right place).

use geo::orient::{Direction, Orient};
use geo::{LineString, MultiPolygon};
use serde_json::{json, Map, Value};

use super::table::LayerTable;

/// Coordinates of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputCrs {
    /// WGS84 longitude/latitude, degrees (RFC 7946), 7 decimals (~1 cm).
    Wgs84,
    /// British National Grid metres, 2 decimals.
    Bng,
}

impl std::str::FromStr for OutputCrs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "EPSG:4326" | "CRS84" | "OGC:CRS84" | "WGS84" => Ok(OutputCrs::Wgs84),
            "EPSG:27700" | "BNG" => Ok(OutputCrs::Bng),
            _ => Err(format!("unknown CRS '{s}' (EPSG:4326, EPSG:27700)")),
        }
    }
}

impl OutputCrs {
    /// EPSG code of the coordinates (4326 for WGS84 longitude/latitude order).
    pub fn epsg(self) -> i32 {
        match self {
            OutputCrs::Wgs84 => 4326,
            OutputCrs::Bng => 27700,
        }
    }
}

/// The named CRS member for EPSG:27700 GeoJSON (GeoJSON 2008 style).
pub fn bng_crs_member() -> Value {
    json!({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}})
}

fn ring(ls: &LineString<f64>, scale: f64) -> Value {
    Value::Array(
        ls.0.iter()
            .map(|c| json!([(c.x * scale).round() / scale, (c.y * scale).round() / scale]))
            .collect(),
    )
}

/// Coordinate rounding of the output: 7 decimals of a degree (~1 cm) or 2 of a metre.
pub fn rounding_scale(crs: OutputCrs) -> f64 {
    match crs {
        OutputCrs::Wgs84 => 1e7,
        OutputCrs::Bng => 1e2,
    }
}

/// `mp` as every output file writes it: exteriors anticlockwise, holes clockwise (RFC 7946,
/// GeoPackage and FlatGeobuf readers all accept it) and coordinates rounded.
pub fn output_geometry(mp: &MultiPolygon<f64>, crs: OutputCrs) -> MultiPolygon<f64> {
    let scale = rounding_scale(crs);
    let mut m = mp.orient(Direction::Default);
    use geo::MapCoordsInPlace;
    m.map_coords_in_place(|c| geo::Coord {
        x: (c.x * scale).round() / scale,
        y: (c.y * scale).round() / scale,
    });
    m
}

/// A GeoJSON MultiPolygon with RFC 7946 winding, rounded to 7 decimals (degrees) or 2
/// (metres). Always multi, even with one part: clients that take a layer's geometry type
/// from its first features (QGIS, GDAL) then never meet a second type.
pub fn geometry_json(mp: &MultiPolygon<f64>, crs: OutputCrs) -> Value {
    let scale = rounding_scale(crs);
    let oriented = mp.orient(Direction::Default);
    let polys: Vec<Value> = oriented
        .iter()
        .map(|p| {
            let mut rings = vec![ring(p.exterior(), scale)];
            rings.extend(p.interiors().iter().map(|h| ring(h, scale)));
            Value::Array(rings)
        })
        .collect();
    json!({"type": "MultiPolygon", "coordinates": polys})
}

/// The properties of feature `i`: every field of the schema, in order, scalars only.
pub fn properties(t: &LayerTable, i: usize) -> Map<String, Value> {
    t.fields
        .iter()
        .zip(&t.features[i].attrs)
        .map(|(f, a)| (f.name.to_string(), a.to_json()))
        .collect()
}

/// Feature `i` as a GeoJSON Feature.
pub fn feature_json(t: &LayerTable, i: usize, crs: OutputCrs) -> Value {
    let f = &t.features[i];
    let g = match crs {
        OutputCrs::Wgs84 => &f.wgs84,
        OutputCrs::Bng => &f.bng,
    };
    json!({"type": "Feature", "id": f.id, "geometry": geometry_json(g, crs), "properties": properties(t, i)})
}

/// The whole layer as a FeatureCollection with a top-level `metadata` member (the layer's,
/// with the members of `extra` added); for EPSG:27700 a named `crs` member as well.
pub fn feature_collection(t: &LayerTable, crs: OutputCrs, extra: Value) -> Value {
    let features: Vec<Value> = (0..t.features.len())
        .map(|i| feature_json(t, i, crs))
        .collect();
    let mut meta = t.metadata.clone();
    if let (Value::Object(m), Value::Object(e)) = (&mut meta, extra) {
        m.extend(e);
    }
    let mut fc = json!({"type": "FeatureCollection", "name": t.name, "features": features, "metadata": meta});
    if crs == OutputCrs::Bng {
        fc["crs"] = bng_crs_member();
    }
    fc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crs::Transformer;
    use crate::layers::table::{transform, Attr, Field, FieldType};
    use geo::{Polygon, Rect};

    #[test]
    fn wgs84_output_is_anticlockwise_and_near_canterbury() {
        // A clockwise square around Canterbury Cathedral (E 615109.5, N 157920.8).
        let sq = Rect::new((615_000.0, 157_800.0), (615_200.0, 158_000.0)).to_polygon();
        let cw = Polygon::new(
            LineString::from(sq.exterior().0.iter().rev().copied().collect::<Vec<_>>()),
            vec![],
        );
        let bng = MultiPolygon::new(vec![cw]);
        let wgs = transform(&bng, &Transformer::bng_to_wgs84().unwrap()).unwrap();
        let g = geometry_json(&wgs, OutputCrs::Wgs84);
        assert_eq!(g["type"], "MultiPolygon");
        let ring: Vec<(f64, f64)> = g["coordinates"][0][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        // Shoelace: positive = anticlockwise.
        let a: f64 = ring
            .windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum();
        assert!(a > 0.0);
        let (cx, cy) = ring.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
        let n = ring.len() as f64;
        assert!(
            (cx / n - 1.0830).abs() < 2e-3 && (cy / n - 51.2798).abs() < 2e-3,
            "{ring:?}"
        );
    }

    #[test]
    fn collections_carry_the_schema_and_a_named_crs_in_bng() {
        let mut t = LayerTable::new(
            "t",
            vec![
                Field::new("n", FieldType::Integer, "n"),
                Field::new("s", FieldType::Text, "s"),
            ],
            json!({"k": 1}),
        );
        let sq = MultiPolygon::new(vec![Rect::new((0.0, 0.0), (1.0, 1.0)).to_polygon()]);
        t.push("a".into(), sq.clone(), sq, vec![Attr::Int(3), Attr::Null])
            .unwrap();
        let fc = feature_collection(&t, OutputCrs::Bng, json!({"extra": true}));
        assert_eq!(
            fc["crs"]["properties"]["name"],
            "urn:ogc:def:crs:EPSG::27700"
        );
        assert_eq!(fc["metadata"]["k"], 1);
        assert_eq!(fc["metadata"]["extra"], true);
        let p = &fc["features"][0]["properties"];
        assert_eq!(p["n"], 3);
        assert!(p.as_object().unwrap().contains_key("s") && p["s"].is_null());
        assert!(feature_collection(&t, OutputCrs::Wgs84, json!({}))
            .get("crs")
            .is_none());
    }
}
