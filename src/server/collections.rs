//! The published collections, computed once at start: aggregates only (districts,
//! hotspot polygons, cell counts and statistics), never incident points. Each is a typed
//! [`LayerTable`] (the schema every output shares) with its GeoJSON features rendered once.

use std::sync::Arc;

use geo::BoundingRect;
use serde_json::value::{to_raw_value, RawValue};

use crate::layers::geojson::{output_geometry, FeatureRef};
use crate::layers::{LayerTable, OutputCrs};

/// One collection: its description, its table and its features rendered as GeoJSON in
/// both CRSs, with their bboxes.
#[derive(Debug, Clone)]
pub struct Collection {
    /// Id used in URLs.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// The layer: schema, typed attributes, geometry in both CRSs, metadata (shared with
    /// its vector tile layer).
    pub table: Arc<LayerTable>,
    /// Features as GeoJSON text (WGS84), in table order, rendered once.
    pub features: Vec<Box<RawValue>>,
    /// Each feature's bbox [minx, miny, maxx, maxy], degrees.
    pub bboxes: Vec<[f64; 4]>,
    /// The same features in EPSG:27700 (OGC API – Features Part 2).
    pub features_bng: Vec<Box<RawValue>>,
    /// Their bboxes, metres.
    pub bboxes_bng: Vec<[f64; 4]>,
    /// For layers that count incidents: each feature's incident rows, so a request can
    /// count a selection (offence groups, period) inside it. `None`: the layer is a
    /// statistic of all incidents and takes no selection.
    pub members: Option<Vec<Vec<u32>>>,
    /// First and last incident start (epoch minutes) for layers with members.
    pub period_min: Option<[i32; 2]>,
    /// Disclosure control of the layer's selections (its metadata's rules); `None` for a
    /// layer published without control.
    pub rules: Option<crate::disclosure::Rules>,
    /// Who may read it.
    pub tier: crate::disclosure::Tier,
}

fn bbox_of(mp: &geo::MultiPolygon<f64>) -> [f64; 4] {
    mp.bounding_rect().map_or([f64::NAN; 4], |r| {
        [r.min().x, r.min().y, r.max().x, r.max().y]
    })
}

impl Collection {
    /// A collection of `table`'s features (their GeoJSON text rendered once, straight from
    /// the table).
    pub fn from_table(
        id: &str,
        title: &str,
        description: &str,
        table: Arc<LayerTable>,
        text: Option<crate::publish::layers::FeatureTexts>,
    ) -> Result<Self, serde_json::Error> {
        let n = table.features.len();
        let render = |crs| {
            (0..n)
                .map(|index| {
                    to_raw_value(&FeatureRef {
                        table: &table,
                        index,
                        crs,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let (tier, rules) = control_of(&table.metadata);
        let (features, features_bng) = match text {
            Some(t) => t,
            None => {
                let (w, b) = rayon::join(|| render(OutputCrs::Wgs84), || render(OutputCrs::Bng));
                (w?, b?)
            }
        };
        Ok(Collection {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            features,
            features_bng,
            // Bboxes of the geometry as served (rounded), so filters and extents are the
            // same whether the layers were computed here or read from a snapshot.
            bboxes: table
                .features
                .iter()
                .map(|f| bbox_of(&output_geometry(&f.wgs84, OutputCrs::Wgs84)))
                .collect(),
            bboxes_bng: table
                .features
                .iter()
                .map(|f| bbox_of(&output_geometry(&f.bng, OutputCrs::Bng)))
                .collect(),
            rules,
            tier,
            table,
            members: None,
            period_min: None,
        })
    }

    /// The whole collection's extent.
    pub fn extent(&self) -> [f64; 4] {
        self.bboxes.iter().fold(
            [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            |a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            },
        )
    }
}

/// The tier and the rules a layer's metadata gives it; a layer whose metadata says nothing
/// (a snapshot from before disclosure control) is public under the default rules.
pub fn control_of(
    metadata: &serde_json::Value,
) -> (crate::disclosure::Tier, Option<crate::disclosure::Rules>) {
    use crate::disclosure::{from_metadata, Rules, Tier};
    from_metadata(metadata).unwrap_or((Tier::Public, Some(Rules::default())))
}

/// The collections of published layers; layers that take selections get the period of
/// the incidents in `store`.
pub fn collections_of(
    layers: Vec<crate::publish::layers::PublishedLayer>,
    store: &crate::incidents::IncidentStore,
) -> Result<Vec<Collection>, serde_json::Error> {
    let period = store
        .from_min
        .iter()
        .fold(None, |acc: Option<[i32; 2]>, &m| {
            Some(acc.map_or([m, m], |[a, b]| [a.min(m), b.max(m)]))
        });
    use rayon::prelude::*;
    layers
        .into_par_iter()
        .map(|l| {
            let mut c = Collection::from_table(&l.id, &l.title, &l.description, l.table, l.text)?;
            if l.members.is_some() {
                c.period_min = period;
            }
            c.members = l.members;
            Ok(c)
        })
        .collect()
}
