//! Output layers: the published layers as typed tables ([`table`], [`tables`]) and their
//! file formats: GeoJSON (RFC 7946 WGS84, or EPSG:27700 for planners' GIS), GeoPackage,
//! FlatGeobuf and CSV with WKT.

pub mod csv;
pub mod fgb;
pub mod geojson;
pub mod gpkg;
pub mod mvt;
pub mod table;
pub mod tables;
pub mod write;

pub use geojson::{FeatureCollectionRef, FeatureRef, OutputCrs};
pub use table::{Attr, Field, FieldType, LayerFeature, LayerTable, TableError};
pub use write::{write_layer, LayerFormat, WriteError};
