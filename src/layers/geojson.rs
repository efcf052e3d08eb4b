//! GeoJSON from layer tables: RFC 7946 (WGS84 longitude, latitude; exteriors anticlockwise)
//! by default, or British National Grid with a named `crs` member that QGIS, ArcGIS and GDAL
//! read (so a saved EPSG:27700 file opens in the right place).

use geo::orient::{Direction, Orient};
use geo::{LineString, MultiPolygon};
use serde_json::{json, Value};

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

/// Feature `i` of a table in `crs`, serialized straight from the table without building a
/// JSON tree first (members `type`, `id`, `geometry`,
/// `properties`; MultiPolygon with RFC 7946 winding, rounded; every field in schema
/// order, non-finite reals as null).
#[derive(Debug, Clone, Copy)]
pub struct FeatureRef<'a> {
    /// The table.
    pub table: &'a LayerTable,
    /// The feature's index.
    pub index: usize,
    /// Output coordinates.
    pub crs: OutputCrs,
}

struct Ring<'a>(&'a LineString<f64>, f64);

impl serde::Serialize for Ring<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let scale = self.1;
        let mut seq = s.serialize_seq(Some(self.0 .0.len()))?;
        for c in &self.0 .0 {
            seq.serialize_element(&[(c.x * scale).round() / scale, (c.y * scale).round() / scale])?;
        }
        seq.end()
    }
}

struct Polys<'a>(&'a MultiPolygon<f64>, f64);

impl serde::Serialize for Polys<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0 .0.len()))?;
        for p in &self.0 .0 {
            let mut rings = vec![Ring(p.exterior(), self.1)];
            rings.extend(p.interiors().iter().map(|h| Ring(h, self.1)));
            seq.serialize_element(&rings)?;
        }
        seq.end()
    }
}

struct Props<'a>(&'a LayerTable, usize);

impl serde::Serialize for Props<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let t = self.0;
        let mut m = s.serialize_map(Some(t.fields.len()))?;
        for (f, a) in t.fields.iter().zip(&t.features[self.1].attrs) {
            m.serialize_entry(f.name, a)?;
        }
        m.end()
    }
}

impl serde::Serialize for FeatureRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let f = &self.table.features[self.index];
        let g = match self.crs {
            OutputCrs::Wgs84 => &f.wgs84,
            OutputCrs::Bng => &f.bng,
        };
        let oriented = g.orient(Direction::Default);
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("type", "Feature")?;
        m.serialize_entry("id", &f.id)?;
        m.serialize_entry(
            "geometry",
            &Geometry {
                kind: MultiPolygonTag::MultiPolygon,
                polys: Polys(&oriented, rounding_scale(self.crs)),
            },
        )?;
        m.serialize_entry("properties", &Props(self.table, self.index))?;
        m.end()
    }
}

#[derive(serde::Serialize)]
struct Geometry<'a> {
    #[serde(rename = "type")]
    kind: MultiPolygonTag,
    #[serde(rename = "coordinates")]
    polys: Polys<'a>,
}

#[derive(serde::Serialize, Default)]
enum MultiPolygonTag {
    #[default]
    MultiPolygon,
}

/// The whole layer as a FeatureCollection, streamed from the table without building its
/// JSON tree: a top-level `metadata` member (the layer's, with the members of `extra`
/// added) and, for EPSG:27700, a named `crs` member.
pub struct FeatureCollectionRef<'a> {
    /// The table.
    pub table: &'a LayerTable,
    /// Output coordinates.
    pub crs: OutputCrs,
    /// Members added to the layer's `metadata`.
    pub extra: Value,
}

struct Features<'a>(&'a LayerTable, OutputCrs);

impl serde::Serialize for Features<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0.features.len()).map(|index| FeatureRef {
            table: self.0,
            index,
            crs: self.1,
        }))
    }
}

impl serde::Serialize for FeatureCollectionRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut meta = self.table.metadata.clone();
        if let (Value::Object(m), Value::Object(e)) = (&mut meta, self.extra.clone()) {
            m.extend(e);
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", "FeatureCollection")?;
        m.serialize_entry("name", &self.table.name)?;
        m.serialize_entry("features", &Features(self.table, self.crs))?;
        m.serialize_entry("metadata", &meta)?;
        if self.crs == OutputCrs::Bng {
            m.serialize_entry("crs", &bng_crs_member())?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crs::Transformer;
    use crate::layers::table::{transform, Attr, Field, FieldType};
    use geo::{Polygon, Rect};
    use serde_json::Map;

    // A reference built the plain way, as a JSON tree, for the streamed writers to match.

    fn ring(ls: &LineString<f64>, scale: f64) -> Value {
        Value::Array(
            ls.0.iter()
                .map(|c| json!([(c.x * scale).round() / scale, (c.y * scale).round() / scale]))
                .collect(),
        )
    }

    fn geometry_json(mp: &MultiPolygon<f64>, crs: OutputCrs) -> Value {
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

    fn properties(t: &LayerTable, i: usize) -> Map<String, Value> {
        t.fields
            .iter()
            .zip(&t.features[i].attrs)
            .map(|(f, a)| (f.name.to_string(), a.to_json()))
            .collect()
    }

    fn feature_json(t: &LayerTable, i: usize, crs: OutputCrs) -> Value {
        let f = &t.features[i];
        let g = match crs {
            OutputCrs::Wgs84 => &f.wgs84,
            OutputCrs::Bng => &f.bng,
        };
        json!({"type": "Feature", "id": f.id, "geometry": geometry_json(g, crs), "properties": properties(t, i)})
    }

    fn feature_collection(t: &LayerTable, crs: OutputCrs, extra: Value) -> Value {
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

    /// The streamed feature is the same text as the tree-built one.
    #[test]
    fn streamed_features_equal_built_ones() {
        let mut t = LayerTable::new(
            "t",
            vec![
                Field::new("n", FieldType::Integer, "n"),
                Field::new("x", FieldType::Real, "x"),
                Field::new("y", FieldType::Real, "y"),
                Field::new("s", FieldType::Text, "s"),
                Field::new("z", FieldType::Text, "z"),
            ],
            json!({}),
        );
        let outer = Rect::new((600_000.123, 150_000.456), (601_000.0, 151_000.0)).to_polygon();
        let hole = Rect::new((600_100.0, 150_100.0), (600_200.0, 150_200.0)).to_polygon();
        let with_hole = Polygon::new(outer.exterior().clone(), vec![hole.exterior().clone()]);
        let other = Rect::new((602_000.0, 150_000.0), (602_500.0, 150_700.0)).to_polygon();
        let bng = MultiPolygon::new(vec![with_hole, other]);
        let wgs = transform(&bng, &Transformer::bng_to_wgs84().unwrap()).unwrap();
        t.push(
            "f-1".into(),
            bng,
            wgs,
            vec![
                Attr::Int(-3),
                Attr::Real(0.1 + 0.2),
                Attr::Real(f64::NAN),
                Attr::Text("a \"quoted\" é".into()),
                Attr::Null,
            ],
        )
        .unwrap();
        for crs in [OutputCrs::Wgs84, OutputCrs::Bng] {
            let streamed = serde_json::to_string(&FeatureRef {
                table: &t,
                index: 0,
                crs,
            })
            .unwrap();
            assert_eq!(streamed, feature_json(&t, 0, crs).to_string(), "{crs:?}");
        }
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
        // Streamed, the same text.
        for crs in [OutputCrs::Wgs84, OutputCrs::Bng] {
            let streamed = serde_json::to_string(&FeatureCollectionRef {
                table: &t,
                crs,
                extra: json!({"extra": true}),
            })
            .unwrap();
            assert_eq!(
                streamed,
                feature_collection(&t, crs, json!({"extra": true})).to_string()
            );
        }
    }
}
