//! CSV output of a layer table for spreadsheets: a `wkt` geometry column (geozero's WKT
//! writer), then every field in schema order (the first field is the feature's id), through the `csv` crate (RFC 4180
//! quoting). Empty cells are nulls. QGIS's delimited-text reader and GDAL's CSV driver
//! (`-oo GEOM_POSSIBLE_NAMES=wkt`) read the geometry back.

use std::io::Write;

use geozero::ToWkt;

use super::geojson::{output_geometry, OutputCrs};
use super::table::LayerTable;

/// Why a CSV file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Writing failed.
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    /// A geometry could not be turned into WKT.
    #[error("CSV geometry: {0}")]
    Geometry(#[from] geozero::error::GeozeroError),
}

/// Writes `t` as CSV with WKT geometry to `out`.
pub fn write_csv(t: &LayerTable, crs: OutputCrs, out: impl Write) -> Result<(), CsvError> {
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["wkt"];
    header.extend(t.fields.iter().map(|f| f.name));
    w.write_record(&header)?;
    for f in &t.features {
        let g = output_geometry(
            match crs {
                OutputCrs::Wgs84 => &f.wgs84,
                OutputCrs::Bng => &f.bng,
            },
            crs,
        );
        let mut row = vec![geo::Geometry::MultiPolygon(g).to_wkt()?];
        row.extend(f.attrs.iter().map(|a| a.to_text()));
        w.write_record(&row)?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}
