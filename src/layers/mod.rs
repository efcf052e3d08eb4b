//! Output layers: features in GeoJSON (RFC 7946 WGS84, or EPSG:27700 for planners' GIS).

pub mod geojson;

pub use geojson::{feature_collection, OutputCrs, Reprojector};
