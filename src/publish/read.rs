//! Reading a published snapshot back: what the service serves, with no computation.

use std::path::{Path, PathBuf};

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;

use super::layers::PublishedLayer;
use super::manifest::Manifest;
use super::write::{current_run, MEMBERS_MAGIC};
use super::{io_err, PublishError, MANIFEST};
use crate::boundaries::BoundaryPack;
use crate::density::{SumMethod, Surface};
use crate::incidents::{IncidentStore, IngestReport};
use crate::layers::{tables, Attr, FieldType, LayerTable};

/// A snapshot as read.
#[derive(Debug)]
pub struct Published {
    /// The run's directory.
    pub run_dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The boundaries.
    pub pack: BoundaryPack,
    /// The incidents (for selections).
    pub store: IncidentStore,
    /// Their ingest's accounting.
    pub report: IngestReport,
    /// The layers, in publishing order.
    pub layers: Vec<PublishedLayer>,
    /// The heatmap's density surface.
    pub heatmap: Surface,
}

fn invalid(path: &Path, message: impl Into<String>) -> PublishError {
    PublishError::Invalid {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn read_json(path: &Path) -> Result<Value, PublishError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&bytes).map_err(|e| invalid(path, e.to_string()))
}

/// A GeoJSON Polygon or MultiPolygon as geo's MultiPolygon.
fn multipolygon(g: &Value) -> Option<MultiPolygon<f64>> {
    fn ring(v: &Value) -> Option<LineString<f64>> {
        v.as_array()?
            .iter()
            .map(|p| {
                Some(Coord {
                    x: p.get(0)?.as_f64()?,
                    y: p.get(1)?.as_f64()?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .map(LineString::new)
    }
    fn polygon(v: &Value) -> Option<Polygon<f64>> {
        let rings = v.as_array()?;
        let holes = rings[1..].iter().map(ring).collect::<Option<Vec<_>>>()?;
        Some(Polygon::new(ring(rings.first()?)?, holes))
    }
    let c = &g["coordinates"];
    match g["type"].as_str()? {
        "Polygon" => Some(MultiPolygon::new(vec![polygon(c)?])),
        "MultiPolygon" => c
            .as_array()?
            .iter()
            .map(polygon)
            .collect::<Option<Vec<_>>>()
            .map(MultiPolygon::new),
        _ => None,
    }
}

/// Layer `id` from its two GeoJSON files, checked against the schema this version
/// publishes.
fn read_table(dir: &Path, id: &str) -> Result<LayerTable, PublishError> {
    let wgs_path = dir.join(format!("{id}.geojson"));
    let bng_path = dir.join(format!("{id}-epsg27700.geojson"));
    let fields = tables::schema_for(id)
        .ok_or_else(|| invalid(&wgs_path, format!("no published layer is called '{id}'")))?;
    let wgs = read_json(&wgs_path)?;
    let bng = read_json(&bng_path)?;
    let (Some(fw), Some(fb)) = (wgs["features"].as_array(), bng["features"].as_array()) else {
        return Err(invalid(&wgs_path, "not a FeatureCollection"));
    };
    if fw.len() != fb.len() {
        return Err(invalid(
            &bng_path,
            format!(
                "{} features, but {} in {}",
                fb.len(),
                fw.len(),
                wgs_path.display()
            ),
        ));
    }
    let mut t = LayerTable::new(id, fields.clone(), wgs["metadata"].clone());
    for (k, (a, b)) in fw.iter().zip(fb).enumerate() {
        let bad = |what: &str| invalid(&wgs_path, format!("feature {k}: {what}"));
        let props = a["properties"]
            .as_object()
            .ok_or_else(|| bad("no properties"))?;
        if props.len() != fields.len() || props.keys().zip(&fields).any(|(n, f)| n != f.name) {
            return Err(bad(
                "its fields are not this version's schema (written by another version?)",
            ));
        }
        let attrs = fields
            .iter()
            .map(|f| {
                let v = &props[f.name];
                match (f.ty, v) {
                    (_, Value::Null) => Ok(Attr::Null),
                    (FieldType::Integer, v) if v.is_i64() => Ok(Attr::Int(v.as_i64().unwrap_or(0))),
                    (FieldType::Real, Value::Number(n)) => {
                        Ok(Attr::Real(n.as_f64().unwrap_or(f64::NAN)))
                    }
                    (FieldType::Text, Value::String(s)) => Ok(Attr::Text(s.clone())),
                    _ => Err(bad(&format!("{} is not {:?}", f.name, f.ty))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let id_text = match &a["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let w = multipolygon(&a["geometry"]).ok_or_else(|| bad("geometry"))?;
        let g = multipolygon(&b["geometry"]).ok_or_else(|| bad("EPSG:27700 geometry"))?;
        t.push(id_text, g, w, attrs)?;
    }
    Ok(t)
}

/// Reads a members file.
fn read_members(
    path: &Path,
    features: usize,
    incidents: usize,
) -> Result<Vec<Vec<u32>>, PublishError> {
    let b = std::fs::read(path).map_err(io_err(path))?;
    let bad = |m: &str| invalid(path, m.to_string());
    if b.len() < 12 || &b[..8] != MEMBERS_MAGIC {
        return Err(bad("not a members file"));
    }
    let mut at = 8;
    let mut next = || -> Result<u32, PublishError> {
        let v = b.get(at..at + 4).ok_or_else(|| bad("cut short"))?;
        at += 4;
        Ok(u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
    };
    let n = next()? as usize;
    if n != features {
        return Err(bad(&format!("{n} features, the layer has {features}")));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = next()? as usize;
        let mut rows = Vec::with_capacity(len.min(incidents));
        for _ in 0..len {
            let r = next()?;
            if r as usize >= incidents {
                return Err(bad(&format!("row {r} beyond the {incidents} incidents")));
            }
            rows.push(r);
        }
        out.push(rows);
    }
    if at != b.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(out)
}

/// Reads the snapshot `dir` names: `OUT` (its `current` run) or a run directory.
pub fn read_published(dir: &Path) -> Result<Published, PublishError> {
    let run_dir = if dir.join(MANIFEST).is_file() {
        dir.to_path_buf()
    } else {
        current_run(dir).ok_or_else(|| {
            invalid(
                dir,
                "no published snapshot here (no current run; make one with `hotspots refresh --out DIR`)",
            )
        })?
    };
    let mpath = run_dir.join(MANIFEST);
    let manifest: Manifest =
        serde_json::from_value(read_json(&mpath)?).map_err(|e| invalid(&mpath, e.to_string()))?;
    let bpath = run_dir.join("boundaries.geojson");
    let text = std::fs::read_to_string(&bpath).map_err(io_err(&bpath))?;
    let origin = manifest.boundaries["origin"]
        .as_str()
        .unwrap_or("boundaries.geojson");
    let pack = BoundaryPack::from_geojson_str(&text, origin)?;
    let (store, report) =
        crate::incidents::snapshot::read_snapshot(&run_dir.join("incidents.hsnap"), &pack)?;
    let ldir = run_dir.join("layers");
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for e in &manifest.layers {
        let table = read_table(&ldir, &e.id)?;
        let members = if e.selectable {
            Some(read_members(
                &ldir.join(format!("{}.members", e.id)),
                table.features.len(),
                store.len(),
            )?)
        } else {
            None
        };
        layers.push(PublishedLayer {
            id: e.id.clone(),
            title: e.title.clone(),
            description: e.description.clone(),
            table,
            members,
        });
    }
    let tif = run_dir.join("density.tif");
    let (grid, values) = crate::density::raster::read_geotiff(&tif).map_err(io_err(&tif))?;
    let h = &manifest.heatmap;
    let text_of = |k: &str| h[k].as_str().unwrap_or("").to_string();
    let heatmap = Surface {
        cell_m: grid.cell_m,
        grid,
        values,
        bandwidth_m: h["bandwidth_m"].as_f64().unwrap_or(f64::NAN),
        bandwidth_method: text_of("bandwidth_method"),
        kernel: text_of("kernel"),
        scaling: text_of("scaling"),
        weight: text_of("weight"),
        incidents: h["incidents"].as_u64().unwrap_or(0) as usize,
        total_weight: h["total_weight"].as_f64().unwrap_or(0.0),
        method: if h["method"] == "binned" {
            SumMethod::Binned
        } else {
            SumMethod::Exact
        },
        error_bound_per_weight: h["error_bound_per_weight"].as_f64(),
        edge_correction: h["edge_correction"].as_bool().unwrap_or(false),
    };
    if !heatmap.bandwidth_m.is_finite() {
        return Err(invalid(&mpath, "heatmap.bandwidth_m is missing"));
    }
    Ok(Published {
        run_dir,
        manifest,
        pack,
        store,
        report,
        layers,
        heatmap,
    })
}
