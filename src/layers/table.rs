//! Published layers as typed tables: one flat schema of scalar fields per layer, the same in
//! OGC API items, vector tiles and every file format (GeoJSON, GeoPackage, FlatGeobuf, CSV),
//! so a planner's GIS sees the same columns with the same types wherever the layer comes
//! from. No field holds a list or an object; nested detail travels as JSON text.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;

use crate::crs::{CrsError, Transformer};

/// A field's storage type. GeoJSON writes integers without a fraction and reals always
/// with one (`5.0`), so clients that infer types from values (GDAL, QGIS) keep them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// 64-bit signed integer.
    Integer,
    /// 64-bit float.
    Real,
    /// UTF-8 text.
    Text,
}

impl FieldType {
    /// The JSON Schema type (`integer`, `number`, `string`).
    pub fn json_schema(self) -> &'static str {
        match self {
            FieldType::Integer => "integer",
            FieldType::Real => "number",
            FieldType::Text => "string",
        }
    }

    /// The SQLite / GeoPackage column type.
    pub fn sql(self) -> &'static str {
        match self {
            FieldType::Integer => "INTEGER",
            FieldType::Real => "REAL",
            FieldType::Text => "TEXT",
        }
    }

    /// The TileJSON `fields` type.
    pub fn tilejson(self) -> &'static str {
        match self {
            FieldType::Integer | FieldType::Real => "Number",
            FieldType::Text => "String",
        }
    }
}

/// One column of a layer. Names are at most 10 ASCII characters, so a Shapefile (dBase)
/// export keeps them whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Column name.
    pub name: &'static str,
    /// Type.
    pub ty: FieldType,
    /// What it holds, with its unit.
    pub description: &'static str,
    /// How disclosure control treats it on controlled tiers.
    pub sdc: crate::disclosure::Sdc,
}

impl Field {
    /// A field about no incident in particular ([`crate::disclosure::Sdc::Keep`]).
    pub const fn new(name: &'static str, ty: FieldType, description: &'static str) -> Self {
        Field {
            name,
            ty,
            description,
            sdc: crate::disclosure::Sdc::Keep,
        }
    }

    /// The same field with disclosure role `sdc`.
    pub const fn with_sdc(mut self, sdc: crate::disclosure::Sdc) -> Self {
        self.sdc = sdc;
        self
    }
}

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// An integer.
    Int(i64),
    /// A real (non-finite values are written as null).
    Real(f64),
    /// Text.
    Text(String),
    /// No value.
    Null,
}

impl Attr {
    /// Whether the value fits a field of type `ty` (null fits any).
    pub fn fits(&self, ty: FieldType) -> bool {
        matches!(
            (self, ty),
            (Attr::Null, _)
                | (Attr::Int(_), FieldType::Integer)
                | (Attr::Real(_), FieldType::Real)
                | (Attr::Text(_), FieldType::Text)
        )
    }

    /// As JSON: integers as integers, reals as JSON numbers with a fraction, non-finite
    /// reals and nulls as `null` (the same as its `Serialize`, which the writers use).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// As plain text for CSV: empty for null and non-finite reals.
    pub fn to_text(&self) -> String {
        match self {
            Attr::Int(i) => i.to_string(),
            Attr::Real(x) if x.is_finite() => format!("{x:?}"),
            Attr::Real(_) | Attr::Null => String::new(),
            Attr::Text(s) => s.clone(),
        }
    }
}

impl serde::Serialize for Attr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Attr::Int(i) => s.serialize_i64(*i),
            Attr::Real(x) if x.is_finite() => s.serialize_f64(*x),
            Attr::Text(t) => s.serialize_str(t),
            Attr::Real(_) | Attr::Null => s.serialize_unit(),
        }
    }
}

/// Integer attribute from a count.
pub fn int(n: usize) -> Attr {
    Attr::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Real attribute, null when absent.
pub fn real(x: Option<f64>) -> Attr {
    x.map_or(Attr::Null, Attr::Real)
}

/// Text attribute.
pub fn text(s: impl Into<String>) -> Attr {
    Attr::Text(s.into())
}

/// One feature: its id, its polygons in both CRSs and its attributes in schema order.
#[derive(Debug, Clone)]
pub struct LayerFeature {
    /// Id, unique within the layer (also the value of the layer's key field).
    pub id: String,
    /// Geometry, EPSG:27700 metres.
    pub bng: MultiPolygon<f64>,
    /// The same geometry, WGS84 longitude/latitude degrees.
    pub wgs84: MultiPolygon<f64>,
    /// Values, one per field.
    pub attrs: Vec<Attr>,
}

/// A layer: name, schema, features and metadata (parameters, counts, provenance).
#[derive(Debug, Clone)]
pub struct LayerTable {
    /// Layer name (collection id, GeoPackage table name).
    pub name: String,
    /// The schema.
    pub fields: Vec<Field>,
    /// Features.
    pub features: Vec<LayerFeature>,
    /// How the layer was made.
    pub metadata: Value,
}

/// Why a feature does not fit its layer's schema (a programming error, reported rather than
/// written wrongly).
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Wrong number of values.
    #[error("layer {layer}: feature {id} has {got} values for {want} fields")]
    Arity {
        /// Layer.
        layer: String,
        /// Feature.
        id: String,
        /// Values given.
        got: usize,
        /// Fields.
        want: usize,
    },
    /// A value of the wrong type.
    #[error("layer {layer}: feature {id}: field {field} is {ty:?} but the value is {value:?}")]
    Type {
        /// Layer.
        layer: String,
        /// Feature.
        id: String,
        /// Field.
        field: &'static str,
        /// Its type.
        ty: FieldType,
        /// The value.
        value: Attr,
    },
    /// A transformation failed.
    #[error(transparent)]
    Crs(#[from] CrsError),
    /// A cell was asked for an outline that was not made.
    #[error("no outline was made for cell {0}")]
    NoOutline(usize),
}

impl LayerTable {
    /// An empty layer with `fields`.
    pub fn new(name: &str, fields: Vec<Field>, metadata: Value) -> Self {
        LayerTable {
            name: name.into(),
            fields,
            features: Vec::new(),
            metadata,
        }
    }

    /// Adds a feature, checking its values against the schema.
    pub fn push(
        &mut self,
        id: String,
        bng: MultiPolygon<f64>,
        wgs84: MultiPolygon<f64>,
        attrs: Vec<Attr>,
    ) -> Result<(), TableError> {
        if attrs.len() != self.fields.len() {
            return Err(TableError::Arity {
                layer: self.name.clone(),
                id,
                got: attrs.len(),
                want: self.fields.len(),
            });
        }
        if let Some((f, v)) = self.fields.iter().zip(&attrs).find(|(f, v)| !v.fits(f.ty)) {
            return Err(TableError::Type {
                layer: self.name.clone(),
                id,
                field: f.name,
                ty: f.ty,
                value: v.clone(),
            });
        }
        self.features.push(LayerFeature {
            id,
            bng,
            wgs84,
            attrs,
        });
        Ok(())
    }

    /// Position of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Feature `i`'s value of field `name` (`Null` for an unknown field).
    pub fn attr(&self, i: usize, name: &str) -> &Attr {
        self.field_index(name)
            .and_then(|k| self.features.get(i).map(|f| &f.attrs[k]))
            .unwrap_or(&Attr::Null)
    }

    /// The schema as a JSON Schema object (OGC API – Features Part 5 style): each property's
    /// type, title and description, in column order (`x-ogc-propertySeq`).
    pub fn json_schema(&self, title: &str) -> Value {
        let mut props = serde_json::Map::new();
        for (k, f) in self.fields.iter().enumerate() {
            props.insert(
                f.name.into(),
                serde_json::json!({
                    "type": f.ty.json_schema(),
                    "title": f.name,
                    "description": f.description,
                    "x-ogc-propertySeq": k + 1,
                }),
            );
        }
        props.insert(
            "geometry".into(),
            serde_json::json!({"format": "geometry-multipolygon", "x-ogc-role": "primary-geometry"}),
        );
        serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "title": title,
            "properties": props,
        })
    }
}

/// Transforms a multipolygon ring by ring.
pub fn transform(mp: &MultiPolygon<f64>, t: &Transformer) -> Result<MultiPolygon<f64>, CrsError> {
    let ring = |ls: &LineString<f64>| -> Result<LineString<f64>, CrsError> {
        let mut pts: Vec<(f64, f64)> = ls.0.iter().map(|c| (c.x, c.y)).collect();
        t.convert_in_place(&mut pts)?;
        Ok(pts.into_iter().map(|(x, y)| Coord { x, y }).collect())
    };
    let mut polys = Vec::with_capacity(mp.0.len());
    for p in &mp.0 {
        let holes = p.interiors().iter().map(ring).collect::<Result<_, _>>()?;
        polys.push(Polygon::new(ring(p.exterior())?, holes));
    }
    Ok(MultiPolygon::new(polys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> MultiPolygon<f64> {
        MultiPolygon::new(vec![geo::Rect::new((0.0, 0.0), (1.0, 1.0)).to_polygon()])
    }

    #[test]
    fn push_checks_arity_and_types() {
        let mut t = LayerTable::new(
            "t",
            vec![
                Field::new("n", FieldType::Integer, "a count"),
                Field::new("x", FieldType::Real, "a real"),
            ],
            Value::Null,
        );
        t.push(
            "a".into(),
            square(),
            square(),
            vec![Attr::Int(1), Attr::Null],
        )
        .unwrap();
        assert!(matches!(
            t.push("b".into(), square(), square(), vec![Attr::Int(1)]),
            Err(TableError::Arity {
                got: 1,
                want: 2,
                ..
            })
        ));
        assert!(matches!(
            t.push(
                "c".into(),
                square(),
                square(),
                vec![Attr::Real(1.0), Attr::Real(2.0)]
            ),
            Err(TableError::Type { field: "n", .. })
        ));
        assert_eq!(t.features.len(), 1);
        assert_eq!(t.attr(0, "n"), &Attr::Int(1));
        assert_eq!(t.attr(0, "nope"), &Attr::Null);
    }

    #[test]
    fn reals_keep_a_fraction_in_json_and_non_finite_is_null() {
        assert_eq!(Attr::Real(5.0).to_json().to_string(), "5.0");
        assert_eq!(Attr::Int(5).to_json().to_string(), "5");
        assert_eq!(Attr::Real(f64::NAN).to_json(), Value::Null);
        assert_eq!(Attr::Real(0.25).to_text(), "0.25");
        assert_eq!(Attr::Real(f64::INFINITY).to_text(), "");
    }
}
