//! Writing a layer table to a file in the format its extension names, atomically: the file
//! is written beside the target under a temporary name, flushed to disk and renamed over
//! it, so a failed or interrupted write never leaves a partial file or replaces a good one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::geojson::{FeatureCollectionRef, OutputCrs};
use super::table::LayerTable;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFormat {
    /// GeoJSON (`.geojson`, `.json`).
    GeoJson,
    /// OGC GeoPackage (`.gpkg`).
    GeoPackage,
    /// FlatGeobuf (`.fgb`).
    FlatGeobuf,
    /// CSV with a WKT geometry column (`.csv`).
    Csv,
}

impl LayerFormat {
    /// The format a file name's extension names.
    pub fn from_path(p: &Path) -> Result<Self, WriteError> {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("geojson" | "json") => Ok(LayerFormat::GeoJson),
            Some("gpkg") => Ok(LayerFormat::GeoPackage),
            Some("fgb") => Ok(LayerFormat::FlatGeobuf),
            Some("csv") => Ok(LayerFormat::Csv),
            _ => Err(WriteError::UnknownFormat(p.to_path_buf())),
        }
    }

    /// The media type served for it.
    pub fn media_type(self) -> &'static str {
        match self {
            LayerFormat::GeoJson => "application/geo+json",
            LayerFormat::GeoPackage => "application/geopackage+sqlite3",
            LayerFormat::FlatGeobuf => "application/flatgeobuf",
            LayerFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            LayerFormat::GeoJson => "geojson",
            LayerFormat::GeoPackage => "gpkg",
            LayerFormat::FlatGeobuf => "fgb",
            LayerFormat::Csv => "csv",
        }
    }
}

/// Why a layer could not be written. The underlying error is in the message (a field named
/// `cause`, not `source`, so the error chain the CLI prints does not say it twice).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The extension names no format.
    #[error("{0}: unknown output format (use .geojson, .gpkg, .fgb or .csv)")]
    UnknownFormat(PathBuf),
    /// File system.
    #[error("writing {path}: {cause}")]
    Io {
        /// The target.
        path: PathBuf,
        /// The error.
        cause: std::io::Error,
    },
    /// GeoPackage.
    #[error("writing {path}: {cause}")]
    Gpkg {
        /// The target.
        path: PathBuf,
        /// The error.
        cause: super::gpkg::GpkgError,
    },
    /// FlatGeobuf.
    #[error("writing {path}: {cause}")]
    Fgb {
        /// The target.
        path: PathBuf,
        /// The error.
        cause: super::fgb::FgbError,
    },
    /// CSV.
    #[error("writing {path}: {cause}")]
    Csv {
        /// The target.
        path: PathBuf,
        /// The error.
        cause: super::csv::CsvError,
    },
}

/// Writes `t` to `path` in the format of its extension (GeoJSON gets `extra` added to its
/// `metadata` member), atomically.
pub fn write_layer(
    t: &LayerTable,
    crs: OutputCrs,
    extra: Value,
    path: &Path,
) -> Result<LayerFormat, WriteError> {
    write_layer_with(t, crs, extra, path, None)
}

/// [`write_layer`] with a fixed GeoPackage `last_change` stamp (RFC 3339), so the same
/// layer gives the same bytes.
pub fn write_layer_with(
    t: &LayerTable,
    crs: OutputCrs,
    extra: Value,
    path: &Path,
    gpkg_last_change: Option<&str>,
) -> Result<LayerFormat, WriteError> {
    let format = LayerFormat::from_path(path)?;
    let io = |cause| WriteError::Io {
        path: path.to_path_buf(),
        cause,
    };
    // Whole or not at all, keeping the permissions of the file replaced.
    let tmp = crate::output::AtomicFile::create(path).map_err(io)?;
    write_to(
        t,
        crs,
        extra,
        format,
        tmp.temp_path(),
        path,
        gpkg_last_change,
    )?;
    tmp.commit().map_err(io)?;
    Ok(format)
}

/// Writes `t` in `format` into the (empty, existing) file at `tmp`; `target` names errors.
fn write_to(
    t: &LayerTable,
    crs: OutputCrs,
    extra: Value,
    format: LayerFormat,
    tmp: &Path,
    target: &Path,
    gpkg_last_change: Option<&str>,
) -> Result<(), WriteError> {
    let path = target.to_path_buf();
    let io = |cause| WriteError::Io {
        path: target.to_path_buf(),
        cause,
    };
    let file = || {
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(tmp)
            .map(std::io::BufWriter::new)
    };
    match format {
        LayerFormat::GeoJson => {
            let mut w = file().map_err(io)?;
            serde_json::to_writer(
                &mut w,
                &FeatureCollectionRef {
                    table: t,
                    crs,
                    extra,
                },
            )
            .map_err(|e| io(e.into()))?;
            w.flush().map_err(io)?;
        }
        LayerFormat::GeoPackage => super::gpkg::write_gpkg(t, crs, tmp, gpkg_last_change)
            .map_err(|cause| WriteError::Gpkg { path, cause })?,
        LayerFormat::FlatGeobuf => {
            let mut w = file().map_err(io)?;
            super::fgb::write_fgb(t, crs, &mut w)
                .map_err(|cause| WriteError::Fgb { path, cause })?;
            w.flush().map_err(io)?;
        }
        LayerFormat::Csv => {
            let mut w = file().map_err(io)?;
            super::csv::write_csv(t, crs, &mut w)
                .map_err(|cause| WriteError::Csv { path, cause })?;
            w.flush().map_err(io)?;
        }
    }
    Ok(())
}

/// `t` in `format` as bytes (for downloads), through a temporary file for GeoPackage.
pub fn layer_bytes(
    t: &LayerTable,
    crs: OutputCrs,
    extra: Value,
    format: LayerFormat,
) -> Result<Vec<u8>, WriteError> {
    let here = PathBuf::from(format!("{}.{}", t.name, format.extension()));
    let io = |cause| WriteError::Io {
        path: here.clone(),
        cause,
    };
    match format {
        LayerFormat::GeoPackage => {
            let tmp = tempfile::Builder::new()
                .suffix(".gpkg")
                .tempfile()
                .map_err(io)?;
            write_to(t, crs, extra, format, tmp.path(), &here, None)?;
            std::fs::read(tmp.path()).map_err(io)
        }
        LayerFormat::GeoJson => serde_json::to_vec(&FeatureCollectionRef {
            table: t,
            crs,
            extra,
        })
        .map_err(|e| io(e.into())),
        LayerFormat::FlatGeobuf => {
            let mut v = Vec::new();
            super::fgb::write_fgb(t, crs, &mut v).map_err(|cause| WriteError::Fgb {
                path: here.clone(),
                cause,
            })?;
            Ok(v)
        }
        LayerFormat::Csv => {
            let mut v = Vec::new();
            super::csv::write_csv(t, crs, &mut v).map_err(|cause| WriteError::Csv {
                path: here.clone(),
                cause,
            })?;
            Ok(v)
        }
    }
}
