//! The published collections, computed once at start: aggregates only (districts,
//! hotspot polygons, cell counts and statistics), never incident points. Each is a typed
//! [`LayerTable`] (the schema every output shares) with its GeoJSON features rendered once.

use geo::BoundingRect;
use serde_json::Value;

use crate::density::IncidentFilter;
use crate::gistar::{emerging_layer_on, gi_layer_on, GiRequest, PlacedCells};
use crate::hotspots::{build_layer, HotspotRequest, Inputs, Purpose};
use crate::layers::geojson::feature_json;
use crate::layers::{tables, LayerTable, OutputCrs};

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
    /// The layer: schema, typed attributes, geometry in both CRSs, metadata.
    pub table: LayerTable,
    /// Features (GeoJSON, WGS84), in table order.
    pub features: Vec<Value>,
    /// Each feature's bbox [minx, miny, maxx, maxy], degrees.
    pub bboxes: Vec<[f64; 4]>,
    /// The same features in EPSG:27700 (OGC API – Features Part 2).
    pub features_bng: Vec<Value>,
    /// Their bboxes, metres.
    pub bboxes_bng: Vec<[f64; 4]>,
    /// For layers that count incidents: each feature's incident rows, so a request can
    /// count a selection (offence groups, period) inside it. `None`: the layer is a
    /// statistic of all incidents and takes no selection.
    pub members: Option<Vec<Vec<u32>>>,
    /// First and last incident start (epoch minutes) for layers with members.
    pub period_min: Option<[i32; 2]>,
}

fn bbox_of(mp: &geo::MultiPolygon<f64>) -> [f64; 4] {
    mp.bounding_rect().map_or([f64::NAN; 4], |r| {
        [r.min().x, r.min().y, r.max().x, r.max().y]
    })
}

impl Collection {
    /// A collection of `table`'s features.
    pub fn from_table(id: &str, title: &str, description: &str, table: LayerTable) -> Self {
        let n = table.features.len();
        Collection {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            features: (0..n)
                .map(|i| feature_json(&table, i, OutputCrs::Wgs84))
                .collect(),
            features_bng: (0..n)
                .map(|i| feature_json(&table, i, OutputCrs::Bng))
                .collect(),
            bboxes: table.features.iter().map(|f| bbox_of(&f.wgs84)).collect(),
            bboxes_bng: table.features.iter().map(|f| bbox_of(&f.bng)).collect(),
            table,
            members: None,
            period_min: None,
        }
    }

    /// The layer's metadata.
    pub fn metadata(&self) -> &Value {
        &self.table.metadata
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

/// Builds every collection from the inputs. Layers that cannot be made (e.g. fewer than
/// three months for emerging hotspots) are left out with a message on stderr.
pub fn build_collections(inp: &Inputs<'_>) -> anyhow::Result<Vec<Collection>> {
    let mut out = Vec::new();
    out.push(Collection::from_table(
        "districts",
        "Districts",
        "The 13 Kent and Medway districts (ONS boundaries, generalised)",
        tables::districts(inp.pack)?,
    ));
    let period = inp
        .store
        .from_min
        .iter()
        .fold(None, |acc: Option<[i32; 2]>, &m| {
            Some(acc.map_or([m, m], |[a, b]| [a.min(m), b.max(m)]))
        });
    for (id, title, purpose) in [
        ("hotspots", "Density hotspots", Purpose::All),
        ("grip", "Grip patrol places", Purpose::Grip),
        ("diversion", "Diversion hotspots", Purpose::Diversion),
    ] {
        let layer = build_layer(
            inp,
            &HotspotRequest {
                purpose,
                ..Default::default()
            },
        )?;
        // When to act at each place: its peak windows against the whole area's profile.
        let table = tables::hotspots(inp, &layer, &IncidentFilter::default())?;
        let mut c = Collection::from_table(
            id,
            title,
            &format!(
                "Ranked {} hotspots: counts, harm, PAI, what is inside and when to patrol",
                purpose.slug()
            ),
            table,
        );
        c.members = Some(layer.spots.iter().map(|h| h.members.clone()).collect());
        c.period_min = period;
        out.push(c);
    }
    // Gi*, the counts and emerging hotspots all use the same H3 cells: place them once.
    let req = GiRequest::default();
    let placed = PlacedCells::new(inp, &req).map_err(anyhow::Error::msg)?;
    let gi = gi_layer_on(inp, &req, placed.clone());
    out.push(Collection::from_table(
        "gistar",
        "Gi* hot spots (H3 res 9)",
        "Getis-Ord Gi* per H3 cell with FDR confidence bins (cells with incidents or a bin)",
        tables::gistar(&gi, true)?,
    ));
    let (counts, cell_of_feature) = tables::counts(&gi)?;
    let mut c = Collection::from_table(
        "h3-counts",
        "Incidents per H3 cell (res 9)",
        "Incident counts and harm per H3 cell",
        counts,
    );
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); gi.cells.len()];
    for (r, cell) in placed.assigned.iter().enumerate() {
        if let Some(cell) = cell {
            rows[*cell as usize].push(r as u32);
        }
    }
    c.members = Some(
        cell_of_feature
            .iter()
            .map(|&i| std::mem::take(&mut rows[i]))
            .collect(),
    );
    c.period_min = period;
    out.push(c);
    match emerging_layer_on(inp, &req, placed) {
        Ok(e) => out.push(Collection::from_table(
            "emerging",
            "Emerging hotspots (H3 res 9)",
            "Monthly Gi* trends and ArcGIS emerging hot spot categories",
            tables::emerging(&e, false)?,
        )),
        Err(e) => eprintln!("emerging hotspots left out: {e}"),
    }
    Ok(out)
}
