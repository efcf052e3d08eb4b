//! FlatGeobuf output of a layer table (the `flatgeobuf` crate's writer, with its packed
//! R-tree index): one typed column per field, `MultiPolygon` geometry, the CRS by EPSG code.

use std::io::Write;

use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geozero::{ColumnValue, PropertyProcessor};

use super::geojson::{output_geometry, OutputCrs};
use super::table::{Attr, FieldType, LayerTable};

/// Why a FlatGeobuf file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FgbError {
    /// The writer failed.
    #[error("FlatGeobuf: {0}")]
    Writer(#[from] flatgeobuf::Error),
    /// A geometry or property could not be encoded.
    #[error("FlatGeobuf: {0}")]
    Encode(#[from] geozero::error::GeozeroError),
}

/// Writes `t` as FlatGeobuf to `out`.
pub fn write_fgb(t: &LayerTable, crs: OutputCrs, out: impl Write) -> Result<(), FgbError> {
    let description = t.metadata["method"].as_str().map(str::to_string);
    let mut w = FgbWriter::create_with_options(
        &t.name,
        GeometryType::MultiPolygon,
        FgbWriterOptions {
            write_index: true,
            promote_to_multi: true,
            description: description.as_deref(),
            crs: FgbCrs {
                code: crs.epsg(),
                ..Default::default()
            },
            ..Default::default()
        },
    )?;
    for f in &t.fields {
        let ty = match f.ty {
            FieldType::Integer => ColumnType::Long,
            FieldType::Real => ColumnType::Double,
            FieldType::Text => ColumnType::String,
        };
        w.add_column(f.name, ty, |fbb, col| {
            col.nullable = true;
            col.description = Some(fbb.create_string(f.description));
        });
    }
    for feat in &t.features {
        let g = output_geometry(
            match crs {
                OutputCrs::Wgs84 => &feat.wgs84,
                OutputCrs::Bng => &feat.bng,
            },
            crs,
        );
        let mut err = None;
        w.add_feature_geom(geo::Geometry::MultiPolygon(g), |fw| {
            for (k, (f, a)) in t.fields.iter().zip(&feat.attrs).enumerate() {
                let r = match a {
                    Attr::Int(i) => fw.property(k, f.name, &ColumnValue::Long(*i)),
                    Attr::Real(x) if x.is_finite() => {
                        fw.property(k, f.name, &ColumnValue::Double(*x))
                    }
                    Attr::Text(s) => fw.property(k, f.name, &ColumnValue::String(s)),
                    Attr::Real(_) | Attr::Null => Ok(false),
                };
                if let Err(e) = r {
                    err.get_or_insert(e);
                }
            }
        })?;
        if let Some(e) = err {
            return Err(e.into());
        }
    }
    w.write(out)?;
    Ok(())
}
