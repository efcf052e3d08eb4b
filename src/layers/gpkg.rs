//! OGC GeoPackage 1.2 output of a layer table: one feature table with a `MULTIPOLYGON`
//! geometry column and one typed column per field, in EPSG:27700 or EPSG:4326.
//!
//! Written through SQLite itself (rusqlite, SQLite bundled) with the geometry blobs encoded
//! by geozero's GeoPackage WKB writer; only the tables the standard requires are created
//! (`gpkg_spatial_ref_sys`, `gpkg_contents`, `gpkg_geometry_columns`), so QGIS, ArcGIS Pro
//! and GDAL open it as they open their own. GDAL itself is not linked: it is a large C++
//! dependency for a file format this small (see the README's dependency notes).

use std::path::Path;

use geozero::{CoordDimensions, ToWkb};
use rusqlite::{params_from_iter, Connection};

use super::geojson::{output_geometry, OutputCrs};
use super::table::{Attr, LayerTable};

/// The GeoPackage `application_id` ("GPKG").
const APPLICATION_ID: i32 = 0x4750_4B47;
/// GeoPackage 1.2.0 as `user_version`.
const USER_VERSION: i32 = 10200;

/// OGC WKT of EPSG:4326 (WGS 84).
const WKT_4326: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;
/// OGC WKT of EPSG:27700 (OSGB36 / British National Grid).
pub const WKT_27700: &str = r#"PROJCS["OSGB36 / British National Grid",GEOGCS["OSGB36",DATUM["Ordnance_Survey_of_Great_Britain_1936",SPHEROID["Airy 1830",6377563.396,299.3249646,AUTHORITY["EPSG","7001"]],AUTHORITY["EPSG","6277"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4277"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",49],PARAMETER["central_meridian",-2],PARAMETER["scale_factor",0.9996012717],PARAMETER["false_easting",400000],PARAMETER["false_northing",-100000],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],AUTHORITY["EPSG","27700"]]"#;

/// Why a GeoPackage could not be written.
#[derive(Debug, thiserror::Error)]
pub enum GpkgError {
    /// SQLite failed.
    #[error("GeoPackage: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A geometry could not be encoded.
    #[error("GeoPackage geometry: {0}")]
    Geometry(#[from] geozero::error::GeozeroError),
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Writes `t` as a new GeoPackage at `path` (which must not hold another database);
/// `last_change` (RFC 3339) stamps the contents, now when `None` (a fixed stamp makes the
/// file the same bytes for the same layer).
pub fn write_gpkg(
    t: &LayerTable,
    crs: OutputCrs,
    path: &Path,
    last_change: Option<&str>,
) -> Result<(), GpkgError> {
    let mut db = Connection::open(path)?;
    db.pragma_update(None, "application_id", APPLICATION_ID)?;
    db.pragma_update(None, "user_version", USER_VERSION)?;
    db.pragma_update(None, "journal_mode", "OFF")?;
    let tx = db.transaction()?;
    tx.execute_batch(
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, \
           organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
         CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, \
           description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), \
           min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, \
           CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
         CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, \
           srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, \
           CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), \
           CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), \
           CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));",
    )?;
    for (name, id, org, code, def) in [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined"),
        ("WGS 84 geodetic", 4326, "EPSG", 4326, WKT_4326),
        (
            "OSGB36 / British National Grid",
            27700,
            "EPSG",
            27700,
            WKT_27700,
        ),
    ] {
        tx.execute(
            "INSERT INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
            rusqlite::params![name, id, org, code, def],
        )?;
    }
    let srs = crs.epsg();
    let geoms: Vec<geo::MultiPolygon<f64>> = t
        .features
        .iter()
        .map(|f| {
            output_geometry(
                match crs {
                    OutputCrs::Wgs84 => &f.wgs84,
                    OutputCrs::Bng => &f.bng,
                },
                crs,
            )
        })
        .collect();
    let extent = geoms
        .iter()
        .filter_map(geo::BoundingRect::bounding_rect)
        .fold(None, |acc: Option<[f64; 4]>, r| {
            let b = [r.min().x, r.min().y, r.max().x, r.max().y];
            Some(acc.map_or(b, |a| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            }))
        });
    let [minx, miny, maxx, maxy] = extent.map_or([None; 4], |e| e.map(Some));
    let description = t.metadata["method"].as_str().unwrap_or("").to_string();
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id) \
         VALUES (?1, 'features', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![t.name, description, minx, miny, maxx, maxy, srs],
    )?;
    if let Some(stamp) = last_change {
        tx.execute(
            "UPDATE gpkg_contents SET last_change = ?1 WHERE table_name = ?2",
            rusqlite::params![stamp, t.name],
        )?;
    }
    tx.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', 'MULTIPOLYGON', ?2, 0, 0)",
        rusqlite::params![t.name, srs],
    )?;
    let columns: Vec<String> = t
        .fields
        .iter()
        .map(|f| format!("{} {}", quote(f.name), f.ty.sql()))
        .collect();
    tx.execute_batch(&format!(
        "CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom MULTIPOLYGON, {});",
        quote(&t.name),
        columns.join(", ")
    ))?;
    {
        let names: Vec<String> = t.fields.iter().map(|f| quote(f.name)).collect();
        let marks: Vec<String> = (0..=t.fields.len())
            .map(|k| format!("?{}", k + 1))
            .collect();
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {} (geom, {}) VALUES ({})",
            quote(&t.name),
            names.join(", "),
            marks.join(", ")
        ))?;
        for (f, g) in t.features.iter().zip(&geoms) {
            let env = geo::BoundingRect::bounding_rect(g)
                .map(|r| vec![r.min().x, r.max().x, r.min().y, r.max().y])
                .unwrap_or_default();
            let blob = geo::Geometry::MultiPolygon(g.clone()).to_gpkg_wkb(
                CoordDimensions::xy(),
                Some(srs),
                env,
            )?;
            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(f.attrs.len() + 1);
            values.push(rusqlite::types::Value::Blob(blob));
            values.extend(f.attrs.iter().map(|a| match a {
                Attr::Int(i) => rusqlite::types::Value::Integer(*i),
                Attr::Real(x) if x.is_finite() => rusqlite::types::Value::Real(*x),
                Attr::Text(s) => rusqlite::types::Value::Text(s.clone()),
                Attr::Real(_) | Attr::Null => rusqlite::types::Value::Null,
            }));
            insert.execute(params_from_iter(values))?;
        }
    }
    tx.commit()?;
    db.close().map_err(|(_, e)| e)?;
    Ok(())
}
