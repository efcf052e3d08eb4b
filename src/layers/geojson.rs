//! GeoJSON feature collections from EPSG:27700 geometries: RFC 7946 (WGS84 longitude,
//! latitude; exteriors anticlockwise) by default, or British National Grid with a named CRS
//! member that QGIS, ArcGIS and GDAL read.

use geo::orient::{Direction, Orient};
use geo::{LineString, MultiPolygon};
use serde_json::{json, Map, Value};

use crate::crs::{CrsError, Transformer};

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

/// Turns EPSG:27700 geometries into output coordinates.
pub struct Reprojector {
    crs: OutputCrs,
    to_wgs84: Option<Transformer>,
}

impl Reprojector {
    /// A reprojector for `crs` (creates a PROJ transformation for WGS84).
    pub fn new(crs: OutputCrs) -> Result<Self, CrsError> {
        Ok(Reprojector {
            crs,
            to_wgs84: match crs {
                OutputCrs::Wgs84 => Some(Transformer::bng_to_wgs84()?),
                OutputCrs::Bng => None,
            },
        })
    }

    /// The output CRS.
    pub fn crs(&self) -> OutputCrs {
        self.crs
    }

    fn ring(&self, ls: &LineString<f64>) -> Result<Vec<Value>, CrsError> {
        let mut pts: Vec<(f64, f64)> = ls.0.iter().map(|c| (c.x, c.y)).collect();
        if let Some(t) = &self.to_wgs84 {
            t.convert_in_place(&mut pts)?;
        }
        let scale = match self.crs {
            OutputCrs::Wgs84 => 1e7,
            OutputCrs::Bng => 1e2,
        };
        Ok(pts
            .into_iter()
            .map(|(x, y)| json!([(x * scale).round() / scale, (y * scale).round() / scale]))
            .collect())
    }

    /// A GeoJSON MultiPolygon (or Polygon for one part) with RFC 7946 winding.
    pub fn multipolygon(&self, mp: &MultiPolygon<f64>) -> Result<Value, CrsError> {
        let oriented = mp.orient(Direction::Default);
        let mut polys = Vec::new();
        for p in &oriented {
            let mut rings = vec![Value::Array(self.ring(p.exterior())?)];
            for h in p.interiors() {
                rings.push(Value::Array(self.ring(h)?));
            }
            polys.push(Value::Array(rings));
        }
        Ok(if polys.len() == 1 {
            json!({"type": "Polygon", "coordinates": polys.pop()})
        } else {
            json!({"type": "MultiPolygon", "coordinates": polys})
        })
    }

    /// A GeoJSON geometry from a multipolygon already in WGS84 (longitude, latitude), with
    /// RFC 7946 winding and 7-decimal rounding.
    pub fn multipolygon_wgs84(&self, mp: &MultiPolygon<f64>) -> Result<Value, CrsError> {
        let plain = Reprojector {
            crs: OutputCrs::Wgs84,
            to_wgs84: None,
        };
        plain.multipolygon(mp)
    }

    /// One point in output coordinates.
    pub fn xy(&self, x: f64, y: f64) -> Result<[f64; 2], CrsError> {
        Ok(match &self.to_wgs84 {
            Some(t) => {
                let (a, b) = t.convert(x, y)?;
                [a, b]
            }
            None => [x, y],
        })
    }
}

/// A FeatureCollection of (geometry, id, properties) with a top-level `metadata` member; for
/// EPSG:27700 a named `crs` member as well (GeoJSON 2008 style, which GIS software honours).
pub fn feature_collection(
    rp: &Reprojector,
    items: impl IntoIterator<Item = (Value, String, Map<String, Value>)>,
    metadata: Value,
) -> Value {
    let features: Vec<Value> = items
        .into_iter()
        .map(|(g, id, props)| json!({"type": "Feature", "id": id, "geometry": g, "properties": props}))
        .collect();
    let mut fc = json!({"type": "FeatureCollection", "features": features, "metadata": metadata});
    if rp.crs() == OutputCrs::Bng {
        fc["crs"] = json!({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}});
    }
    fc
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Polygon, Rect};

    #[test]
    fn wgs84_output_is_anticlockwise_and_near_canterbury() {
        let rp = Reprojector::new(OutputCrs::Wgs84).unwrap();
        // A clockwise square around Canterbury Cathedral (E 615109.5, N 157920.8).
        let sq = Rect::new((615_000.0, 157_800.0), (615_200.0, 158_000.0)).to_polygon();
        let cw = Polygon::new(
            LineString::from(sq.exterior().0.iter().rev().copied().collect::<Vec<_>>()),
            vec![],
        );
        let g = rp.multipolygon(&MultiPolygon::new(vec![cw])).unwrap();
        assert_eq!(g["type"], "Polygon");
        let ring: Vec<(f64, f64)> = g["coordinates"][0]
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
        let c = rp.xy(615_109.495, 157_920.826).unwrap();
        assert!(
            (c[0] - 1.0830).abs() < 1e-4 && (c[1] - 51.2798).abs() < 1e-4,
            "{c:?}"
        );
    }
}
