//! District boundaries: the boundary pack, its import from ONS files, and the district index.
//!
//! A *boundary pack* is a GeoJSON FeatureCollection in EPSG:27700 metres with one feature per
//! district (`code`, `name`, `area_km2`) and a `provenance` member saying where it came from.
//! The Kent & Medway pack is embedded in the binary and is the default for every command.

mod edges;
mod import;
mod index;
mod pack;
mod topology;

pub use edges::EdgeStrips;
pub use import::{
    import_districts, import_districts_bytes, ImportOptions, ImportReport, KENT_MEDWAY_CODES,
    ONS_ATTRIBUTION,
};
pub use index::{DistrictIndex, LandBlocks, RowCrossings};
pub use pack::{BoundaryPack, District, Provenance, KENT_MEDWAY_PACK};

/// The attribution the district boundaries need wherever they are drawn (tiles, TileJSON,
/// PMTiles metadata, map pages).
pub const BOUNDARY_ATTRIBUTION: &str =
    "Contains OS data © Crown copyright and database right; ONS boundaries (Open Government Licence v3.0)";

use thiserror::Error;

/// Errors loading or importing boundaries. Each names the file and, where it applies, the feature.
#[derive(Debug, Error)]
pub enum BoundaryError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// File path.
        file: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not a GeoJSON FeatureCollection.
    #[error("{file}: not a GeoJSON FeatureCollection: {message}")]
    NotGeoJson {
        /// File path.
        file: String,
        /// Parser message.
        message: String,
    },
    /// A feature has no district code property.
    #[error("{file}: feature {feature}: no district code property (looked for LADyyCD, code, lad_code; found {found})")]
    MissingCode {
        /// File path.
        file: String,
        /// Zero-based feature index.
        feature: usize,
        /// Property names present.
        found: String,
    },
    /// A feature's geometry is missing or not a (multi)polygon.
    #[error(
        "{file}: feature {feature} ({code}): geometry is {kind}, expected Polygon or MultiPolygon"
    )]
    NotPolygon {
        /// File path.
        file: String,
        /// Zero-based feature index.
        feature: usize,
        /// District code.
        code: String,
        /// What was found.
        kind: String,
    },
    /// Geometry could not be repaired into a valid polygon.
    #[error("{file}: feature {feature} ({code}): unrepairable geometry: {message}")]
    Unrepairable {
        /// File path.
        file: String,
        /// Zero-based feature index.
        feature: usize,
        /// District code.
        code: String,
        /// Validation message.
        message: String,
    },
    /// Codes requested with `--codes` are not in the file.
    #[error("{file}: requested district code(s) not found: {missing}")]
    CodesAbsent {
        /// File path.
        file: String,
        /// Comma-separated missing codes.
        missing: String,
    },
    /// The same code appears twice.
    #[error("{file}: feature {feature}: duplicate district code {code}")]
    DuplicateCode {
        /// File path.
        file: String,
        /// Zero-based feature index.
        feature: usize,
        /// The code.
        code: String,
    },
    /// More districts than the index supports.
    #[error("{file}: {count} districts; at most 254 are supported")]
    TooMany {
        /// File path.
        file: String,
        /// Number of districts.
        count: usize,
    },
    /// A feature lies where WGS84 → EPSG:27700 (OSTN15) cannot take it.
    #[error("{file}: feature {feature} ({code}): {message}; is the file of Great Britain, in WGS84 or EPSG:27700?")]
    OutsideGrid {
        /// Path.
        file: String,
        /// 0-based feature index.
        feature: usize,
        /// Its district code.
        code: String,
        /// The transformation's error.
        message: String,
    },
    /// A coordinate transformation failed.
    #[error("{file}: {source}")]
    Crs {
        /// File path.
        file: String,
        /// Underlying error.
        source: crate::crs::CrsError,
    },
    /// Writing the pack failed.
    #[error("{file}: cannot write: {source}")]
    Write {
        /// File path.
        file: String,
        /// Underlying error.
        source: std::io::Error,
    },
}
