//! The published collections, computed once at start: aggregates only (districts,
//! hotspot polygons, cell counts and statistics), never incident points.

use serde_json::{json, Value};

use crate::density::IncidentFilter;
use crate::gistar::layer::CellOutliner;
use crate::gistar::{emerging_layer_on, gi_layer_on, GiRequest, PlacedCells};
use crate::hotspots::{build_layer, HotspotRequest, Inputs, Purpose};
use crate::layers::{OutputCrs, Reprojector};
use crate::temporal::{area_profile, patrol_plan, Profile};

/// One collection: its description and its features in WGS84 with their bboxes.
#[derive(Debug, Clone)]
pub struct Collection {
    /// Id used in URLs.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Features (GeoJSON, WGS84).
    pub features: Vec<Value>,
    /// Each feature's bbox [minx, miny, maxx, maxy], degrees.
    pub bboxes: Vec<[f64; 4]>,
    /// The same features in EPSG:27700 (OGC API – Features Part 2).
    pub features_bng: Vec<Value>,
    /// Their bboxes, metres.
    pub bboxes_bng: Vec<[f64; 4]>,
    /// Layer metadata.
    pub metadata: Value,
    /// For layers that count incidents: each feature's incident rows, so a request can
    /// count a selection (offence groups, period) inside it. `None`: the layer is a
    /// statistic of all incidents and takes no selection.
    pub members: Option<Vec<Vec<u32>>>,
    /// First and last incident start (epoch minutes) for layers with members.
    pub period_min: Option<[i32; 2]>,
}

fn bbox_of(geom: &Value) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    fn walk(v: &Value, b: &mut [f64; 4]) {
        if let Some(a) = v.as_array() {
            if a.len() >= 2 && a[0].is_number() && a[1].is_number() {
                let (x, y) = (a[0].as_f64().unwrap_or(0.0), a[1].as_f64().unwrap_or(0.0));
                b[0] = b[0].min(x);
                b[1] = b[1].min(y);
                b[2] = b[2].max(x);
                b[3] = b[3].max(y);
            } else {
                a.iter().for_each(|x| walk(x, b));
            }
        }
    }
    walk(&geom["coordinates"], &mut b);
    b
}

impl Collection {
    fn from_fc(id: &str, title: &str, description: &str, fc: Value, fc_bng: Value) -> Self {
        let features: Vec<Value> = fc["features"].as_array().cloned().unwrap_or_default();
        let bboxes = features.iter().map(|f| bbox_of(&f["geometry"])).collect();
        let features_bng: Vec<Value> = fc_bng["features"].as_array().cloned().unwrap_or_default();
        let bboxes_bng = features_bng
            .iter()
            .map(|f| bbox_of(&f["geometry"]))
            .collect();
        Collection {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            features,
            bboxes,
            features_bng,
            bboxes_bng,
            metadata: fc["metadata"].clone(),
            members: None,
            period_min: None,
        }
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
    let rp = Reprojector::new(OutputCrs::Wgs84)?;
    let bng = Reprojector::new(OutputCrs::Bng)?;
    let mut out = Vec::new();
    let districts = |rp: &Reprojector| -> anyhow::Result<Value> {
        let mut f = Vec::new();
        for d in &inp.pack.districts {
            f.push(json!({
                "type": "Feature",
                "id": d.code,
                "geometry": rp.multipolygon(&d.geometry)?,
                "properties": {"code": d.code, "name": d.name, "area_km2": d.area_km2},
            }));
        }
        Ok(json!({"features": f, "metadata": {"origin": inp.pack.origin}}))
    };
    out.push(Collection::from_fc(
        "districts",
        "Districts",
        "The 13 Kent and Medway districts (ONS boundaries, generalised)",
        districts(&rp)?,
        districts(&bng)?,
    ));
    let area = area_profile(inp, &IncidentFilter::default());
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
        let mut c = Collection::from_fc(
            id,
            title,
            &format!(
                "Ranked {} hotspots: counts, harm, PAI and what is inside",
                purpose.slug()
            ),
            layer.to_geojson(&rp, json!({}))?,
            layer.to_geojson(&bng, json!({}))?,
        );
        c.members = Some(layer.spots.iter().map(|h| h.members.clone()).collect());
        c.period_min = period;
        // When to act at each place: its peak windows and a Koper-style patrol plan.
        for (i, h) in layer.spots.iter().enumerate() {
            let p = Profile::of(inp.store, h.members.iter().map(|&r| r as usize));
            let plan = json!(patrol_plan(&p, &area, 0.05, 15, 120));
            for f in [&mut c.features[i], &mut c.features_bng[i]] {
                f["properties"]["patrol"] = plan.clone();
            }
        }
        out.push(c);
    }
    // Gi*, the counts and emerging hotspots all use the same H3 cells: place them once.
    let req = GiRequest::default();
    let placed = PlacedCells::new(inp, &req).map_err(anyhow::Error::msg)?;
    let gi = gi_layer_on(inp, &req, placed.clone());
    out.push(Collection::from_fc(
        "gistar",
        "Gi* hot spots (H3 res 9)",
        "Getis-Ord Gi* per H3 cell with FDR confidence bins (cells with incidents or a bin)",
        gi.to_geojson(&rp, true, json!({}))?,
        gi.to_geojson(&bng, true, json!({}))?,
    ));
    let counts = |rp: &Reprojector| -> anyhow::Result<Value> {
        let outline = CellOutliner::new(rp)?;
        let mut f = Vec::new();
        for i in 0..gi.cells.len() {
            if gi.count[i] > 0.0 {
                f.push(json!({
                    "type": "Feature",
                    "id": gi.cells.ids[i],
                    "geometry": outline.geometry(&gi.cells, i)?,
                    "properties": {"cell": gi.cells.ids[i], "count": gi.count[i], "harm": gi.harm[i]},
                }));
            }
        }
        Ok(json!({"features": f, "metadata": gi.metadata}))
    };
    let mut c = Collection::from_fc(
        "h3-counts",
        "Incidents per H3 cell (res 9)",
        "Incident counts and harm per H3 cell",
        counts(&rp)?,
        counts(&bng)?,
    );
    // Feature k is the k-th cell with incidents.
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); gi.cells.len()];
    for (r, cell) in placed.assigned.iter().enumerate() {
        if let Some(cell) = cell {
            rows[*cell as usize].push(r as u32);
        }
    }
    c.members = Some(
        (0..gi.cells.len())
            .filter(|&i| gi.count[i] > 0.0)
            .map(|i| std::mem::take(&mut rows[i]))
            .collect(),
    );
    c.period_min = period;
    out.push(c);
    match emerging_layer_on(inp, &req, placed) {
        Ok(e) => out.push(Collection::from_fc(
            "emerging",
            "Emerging hotspots (H3 res 9)",
            "Monthly Gi* trends and ArcGIS emerging hot spot categories",
            e.to_geojson(&rp, false, json!({}))?,
            e.to_geojson(&bng, false, json!({}))?,
        )),
        Err(e) => eprintln!("emerging hotspots left out: {e}"),
    }
    Ok(out)
}
