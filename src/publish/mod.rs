//! Published layer snapshots: what the nightly refresh writes and the service serves.
//!
//! A snapshot is a directory `OUT/<run_id>/` holding every published layer, built once:
//!
//! | file | what |
//! |---|---|
//! | `manifest.json` | run id, times, code version, config hash, inputs (paths, SHA-256, row accounting), parameters, per-layer feature counts, gates, every file's SHA-256 |
//! | `layers/<id>.geojson` | the collection in WGS84 (RFC 7946), with its schema and metadata |
//! | `layers/<id>-epsg27700.geojson` | the same in British National Grid |
//! | `layers/<id>.gpkg` | the same as a GeoPackage, British National Grid |
//! | `layers/<id>.members` | for layers that take selections: each feature's incident rows (server-side only) |
//! | `density.tif` | the heatmap's density surface (GeoTIFF, EPSG:27700) |
//! | `incidents.hsnap` | the ingested incidents, for selections (server-side only, never served) |
//! | `boundaries.geojson` | the boundary pack the layers were made with |
//!
//! `OUT/current` is a symbolic link to the run served. A run is built in a hidden temporary
//! directory beside its target, every file and the directory fsynced, then renamed into
//! place, and `current` is switched by renaming a new link over it: a refresh that fails or
//! is killed at any point leaves the previous snapshot whole and current. Leftovers of a
//! killed run are removed by the next one.

pub mod gates;
pub mod layers;
pub mod manifest;
pub mod pmtiles;
pub mod read;
pub mod schedule;
pub mod write;

pub use gates::{GateOptions, GateRefusal};
pub use manifest::Manifest;
pub use read::{read_published, Published};
pub use write::{check_not_busy, publish, BandwidthChoiceRecord, PublishOptions, PublishOutcome};

/// The link to the run being served.
pub const CURRENT: &str = "current";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// Prefix of runs under construction (and of leftovers of killed runs).
pub const TMP_PREFIX: &str = ".tmp-";

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// File system, naming the path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A layer could not be built or written.
    #[error(transparent)]
    Layer(#[from] crate::layers::TableError),
    /// A layer file could not be written.
    #[error(transparent)]
    Write(#[from] crate::layers::WriteError),
    /// The incident snapshot.
    #[error(transparent)]
    Incidents(#[from] crate::incidents::snapshot::SnapshotError),
    /// The boundaries.
    #[error(transparent)]
    Boundaries(#[from] crate::boundaries::BoundaryError),
    /// An analysis failed.
    #[error("{0}")]
    Analysis(String),
    /// A snapshot file is not what this version writes.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A quality gate refused to publish.
    #[error(transparent)]
    Gate(#[from] GateRefusal),
    /// Another refresh holds the lock on the output directory.
    #[error("{0}: another refresh is running (its lock is held)")]
    Busy(String),
}

/// An I/O error naming `path`.
pub(crate) fn io_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.display().to_string(),
        source,
    }
}
