//! Reading a published snapshot back: what the service serves, with no computation.

use std::path::{Path, PathBuf};

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;

use super::layers::{FeatureTexts, PublishedLayer};
use super::manifest::Manifest;
use super::write::{current_run, MEMBERS_MAGIC};
use super::{io_err, PublishError, MANIFEST};
use crate::boundaries::BoundaryPack;
use crate::density::{SumMethod, Surface};
use crate::incidents::{IncidentStore, IngestReport};
use crate::layers::geojson::FeatureRef;
use crate::layers::OutputCrs;
use crate::layers::{tables, Attr, FieldType, LayerTable};
use serde_json::value::RawValue;

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

/// A layer file as written by [`crate::layers::geojson`]: its metadata and each feature's
/// text, each then read into typed values (no JSON trees): every geometry a MultiPolygon
/// and every property a scalar.
#[derive(serde::Deserialize)]
struct LayerFileIn<'a> {
    #[serde(default)]
    metadata: Value,
    #[serde(borrow)]
    features: Vec<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct FeatureIn {
    id: Value,
    geometry: GeometryIn,
    properties: PropertiesIn,
}

#[derive(serde::Deserialize)]
struct GeometryIn {
    #[serde(rename = "type")]
    kind: String,
    coordinates: Vec<Vec<Vec<[f64; 2]>>>,
}

impl GeometryIn {
    fn multipolygon(self) -> Option<MultiPolygon<f64>> {
        if self.kind != "MultiPolygon" {
            return None;
        }
        let ring = |r: Vec<[f64; 2]>| {
            LineString::new(r.into_iter().map(|[x, y]| Coord { x, y }).collect())
        };
        let polys = self
            .coordinates
            .into_iter()
            .map(|rings| {
                let mut rings = rings.into_iter();
                let outer = ring(rings.next()?);
                Some(Polygon::new(outer, rings.map(ring).collect()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(MultiPolygon::new(polys))
    }
}

/// A feature's properties in file order, each a scalar.
struct PropertiesIn(Vec<(String, Attr)>);

impl<'de> serde::Deserialize<'de> for PropertiesIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Props;
        impl<'de> serde::de::Visitor<'de> for Props {
            type Value = PropertiesIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of scalar properties")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<PropertiesIn, A::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, v)) = m.next_entry::<String, ScalarIn>()? {
                    out.push((k, v.0));
                }
                Ok(PropertiesIn(out))
            }
        }
        d.deserialize_map(Props)
    }
}

/// One scalar property value.
struct ScalarIn(Attr);

impl<'de> serde::Deserialize<'de> for ScalarIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl serde::de::Visitor<'_> for Scalar {
            type Value = ScalarIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, a string or null")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarIn, E> {
                Ok(ScalarIn(Attr::Int(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarIn, E> {
                i64::try_from(v)
                    .map(|v| ScalarIn(Attr::Int(v)))
                    .map_err(|_| E::custom(format!("integer {v} out of range")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ScalarIn, E> {
                Ok(ScalarIn(Attr::Real(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarIn, E> {
                Ok(ScalarIn(Attr::Text(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ScalarIn, E> {
                Ok(ScalarIn(Attr::Text(v)))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<ScalarIn, E> {
                Ok(ScalarIn(Attr::Null))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<ScalarIn, E> {
                Ok(ScalarIn(Attr::Null))
            }
        }
        d.deserialize_any(Scalar)
    }
}

/// A layer file's metadata, and each feature parsed with its text.
struct LayerFile {
    metadata: Value,
    features: Vec<(FeatureIn, Box<RawValue>)>,
}

fn read_layer_file(path: &Path) -> Result<LayerFile, PublishError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let file: LayerFileIn<'_> =
        serde_json::from_slice(&bytes).map_err(|e| invalid(path, e.to_string()))?;
    let features = file
        .features
        .into_iter()
        .enumerate()
        .map(|(k, raw)| {
            serde_json::from_str::<FeatureIn>(raw.get())
                .map(|f| (f, raw.to_owned()))
                .map_err(|e| invalid(path, format!("feature {k}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(LayerFile {
        metadata: file.metadata,
        features,
    })
}

/// Layer `id` from its two GeoJSON files, checked against the schema this version
/// publishes, with each feature's published text when it is the text this version sends
/// (checked on the first feature of each file).
fn read_table(dir: &Path, id: &str) -> Result<(LayerTable, Option<FeatureTexts>), PublishError> {
    let wgs_path = dir.join(format!("{id}.geojson"));
    let bng_path = dir.join(format!("{id}-epsg27700.geojson"));
    let fields = tables::schema_for(id)
        .ok_or_else(|| invalid(&wgs_path, format!("no published layer is called '{id}'")))?;
    let (wgs, bng) = rayon::join(|| read_layer_file(&wgs_path), || read_layer_file(&bng_path));
    let (wgs, bng) = (wgs?, bng?);
    if wgs.features.len() != bng.features.len() {
        return Err(invalid(
            &bng_path,
            format!(
                "{} features, but {} in {}",
                bng.features.len(),
                wgs.features.len(),
                wgs_path.display()
            ),
        ));
    }
    // A controlled layer publishes its schema less the exact-count fields.
    let controlled =
        crate::disclosure::from_metadata(&wgs.metadata).is_some_and(|(_, r)| r.is_some());
    let fields = crate::disclosure::published_fields(&fields, controlled);
    let mut t = LayerTable::new(id, fields.clone(), wgs.metadata);
    let (mut texts_wgs, mut texts_bng) = (
        Vec::with_capacity(wgs.features.len()),
        Vec::with_capacity(wgs.features.len()),
    );
    for (k, ((a, text_a), (b, text_b))) in wgs.features.into_iter().zip(bng.features).enumerate() {
        texts_wgs.push(text_a);
        texts_bng.push(text_b);
        let bad = |what: &str| invalid(&wgs_path, format!("feature {k}: {what}"));
        let props = a.properties.0;
        if props.len() != fields.len() || props.iter().zip(&fields).any(|((n, _), f)| n != f.name) {
            return Err(bad(
                "its fields are not this version's schema (written by another version?)",
            ));
        }
        let attrs = props
            .into_iter()
            .zip(&fields)
            .map(|((_, v), f)| match (f.ty, v) {
                (_, Attr::Null) => Ok(Attr::Null),
                (FieldType::Integer, v @ Attr::Int(_)) => Ok(v),
                (FieldType::Real, v @ Attr::Real(_)) => Ok(v),
                (FieldType::Real, Attr::Int(i)) => Ok(Attr::Real(i as f64)),
                (FieldType::Text, v @ Attr::Text(_)) => Ok(v),
                _ => Err(bad(&format!("{} is not {:?}", f.name, f.ty))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let id_text = match a.id {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let w = a
            .geometry
            .multipolygon()
            .ok_or_else(|| bad("geometry is not a MultiPolygon"))?;
        let g = b
            .geometry
            .multipolygon()
            .ok_or_else(|| bad("EPSG:27700 geometry is not a MultiPolygon"))?;
        t.push(id_text, g, w, attrs)?;
    }
    let same = |texts: &[Box<RawValue>], crs| {
        texts.first().is_none_or(|text| {
            serde_json::value::to_raw_value(&FeatureRef {
                table: &t,
                index: 0,
                crs,
            })
            .is_ok_and(|r| r.get() == text.get())
        })
    };
    let texts = (same(&texts_wgs, OutputCrs::Wgs84) && same(&texts_bng, OutputCrs::Bng))
        .then_some((texts_wgs, texts_bng));
    Ok((t, texts))
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
    let (store, report) = {
        let _s = tracing::debug_span!("incidents").entered();
        crate::incidents::snapshot::read_snapshot(&run_dir.join("incidents.hsnap"), &pack)?
    };
    let layers_span = tracing::debug_span!("layers").entered();
    let ldir = run_dir.join("layers");
    let layers = {
        use rayon::prelude::*;
        manifest
            .layers
            .par_iter()
            .map(|e| {
                let (table, text) = read_table(&ldir, &e.id)?;
                let members = if e.selectable {
                    Some(read_members(
                        &ldir.join(format!("{}.members", e.id)),
                        table.features.len(),
                        store.len(),
                    )?)
                } else {
                    None
                };
                Ok(PublishedLayer {
                    id: e.id.clone(),
                    title: e.title.clone(),
                    description: e.description.clone(),
                    table: table.into(),
                    members,
                    text,
                })
            })
            .collect::<Result<Vec<_>, PublishError>>()?
    };
    drop(layers_span);
    let _s = tracing::debug_span!("density").entered();
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
