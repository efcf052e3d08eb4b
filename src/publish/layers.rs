//! Every published layer, computed once from the inputs: the districts, the three hotspot
//! layers with patrol plans, Gi*, the counts and emerging hotspots, as typed tables with
//! (for layers that take selections) each feature's incident rows.

use crate::density::IncidentFilter;
use crate::gistar::{emerging_layer_on, gi_layer_on, GiRequest, PlacedCells};
use crate::hotspots::{build_layer, HotspotRequest, Inputs, Purpose};
use crate::layers::{tables, LayerTable};

/// One published layer.
#[derive(Debug, Clone)]
pub struct PublishedLayer {
    /// Collection id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// The table.
    pub table: std::sync::Arc<LayerTable>,
    /// For layers that count incidents: each feature's store rows, so a request can count
    /// a selection inside it. `None`: a statistic of all incidents, no selections.
    pub members: Option<Vec<Vec<u32>>>,
    /// Read from a snapshot: each feature's GeoJSON text as published (WGS84, then
    /// EPSG:27700), which is what the service sends; `None` when computed here.
    pub text: Option<FeatureTexts>,
}

/// Features' GeoJSON texts in WGS84 and in EPSG:27700, in table order.
pub type FeatureTexts = (
    Vec<Box<serde_json::value::RawValue>>,
    Vec<Box<serde_json::value::RawValue>>,
);

/// The independent parts of the work, run in parallel.
#[derive(Debug, Clone, Copy)]
enum Job {
    Districts,
    Hotspots(&'static str, &'static str, Purpose),
    Cells,
}

/// Builds every published layer, in a fixed order, the independent parts in parallel
/// (the results do not depend on the thread count). Layers that cannot be made (e.g. fewer
/// than three months for emerging hotspots) are left out with a message on stderr.
pub fn build_layers(inp: &Inputs<'_>) -> Result<Vec<PublishedLayer>, super::PublishError> {
    Ok(build_layers_then(inp, |_| Ok(()))?
        .into_iter()
        .map(|(l, ())| l)
        .collect())
}

/// [`build_layers`], with `then` run on each layer as soon as it is made, in the same
/// parallel task (e.g. writing it out while other layers are still computed).
pub fn build_layers_then<T: Send>(
    inp: &Inputs<'_>,
    then: impl Fn(&PublishedLayer) -> Result<T, super::PublishError> + Sync,
) -> Result<Vec<(PublishedLayer, T)>, super::PublishError> {
    use rayon::prelude::*;
    let jobs = [
        Job::Districts,
        Job::Hotspots("hotspots", "Density hotspots", Purpose::All),
        Job::Hotspots("grip", "Grip patrol places", Purpose::Grip),
        Job::Hotspots("diversion", "Diversion hotspots", Purpose::Diversion),
        Job::Cells,
    ];
    let parts: Vec<Vec<(PublishedLayer, T)>> = jobs
        .par_iter()
        .map(|&j| {
            run_job(inp, j)?
                .into_iter()
                .map(|l| then(&l).map(|t| (l, t)))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    Ok(parts.into_iter().flatten().collect())
}

fn run_job(inp: &Inputs<'_>, job: Job) -> Result<Vec<PublishedLayer>, super::PublishError> {
    let name = match job {
        Job::Districts => "districts",
        Job::Hotspots(id, ..) => id,
        Job::Cells => "gistar, h3-counts, emerging",
    };
    let _stage = tracing::info_span!("stage", stage = name).entered();
    let analysis = |e: String| super::PublishError::Analysis(e);
    match job {
        Job::Districts => Ok(vec![PublishedLayer {
            id: "districts".into(),
            title: "Districts".into(),
            description: "The 13 Kent and Medway districts (ONS boundaries, generalised)".into(),
            table: tables::districts(inp.pack)?.into(),
            members: None,
            text: None,
        }]),
        Job::Hotspots(id, title, purpose) => {
            let layer = build_layer(
                inp,
                &HotspotRequest {
                    purpose,
                    ..Default::default()
                },
            )
            .map_err(|e| analysis(format!("{id}: {e}")))?;
            // When to act at each place: its peak windows against the whole area's profile.
            let table = tables::hotspots(inp, &layer, &IncidentFilter::default())?;
            Ok(vec![PublishedLayer {
                id: id.into(),
                title: title.into(),
                description: format!(
                    "Ranked {} hotspots: counts, harm, PAI, what is inside and when to patrol",
                    purpose.slug()
                ),
                table: table.into(),
                members: Some(layer.spots.iter().map(|h| h.members.clone()).collect()),
                text: None,
            }])
        }
        Job::Cells => cell_layers(inp),
    }
}

/// Gi*, the counts and emerging hotspots, on the same H3 cells placed once.
fn cell_layers(inp: &Inputs<'_>) -> Result<Vec<PublishedLayer>, super::PublishError> {
    let analysis = |e: String| super::PublishError::Analysis(e);
    let mut out = Vec::new();
    let req = GiRequest::default();
    let placed = PlacedCells::new(inp, &req).map_err(analysis)?;
    let gi = gi_layer_on(inp, &req, placed.clone());
    // One outline per cell for both layers (the counts' cells are among Gi*'s).
    let outlines =
        tables::CellOutlines::new(&gi.cells, |i| gi.count[i] != 0.0 || gi.gi.bin[i] != 0)?;
    out.push(PublishedLayer {
        id: "gistar".into(),
        title: "Gi* hot spots (H3 res 9)".into(),
        description:
            "Getis-Ord Gi* per H3 cell with FDR confidence bins (cells with incidents or a bin)"
                .into(),
        table: tables::gistar_on(&gi, true, &outlines)?.into(),
        members: None,
        text: None,
    });
    let (counts, cell_of_feature) = tables::counts_on(&gi, &outlines)?;
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); gi.cells.len()];
    for (r, cell) in placed.assigned.iter().enumerate() {
        if let Some(cell) = cell {
            rows[*cell as usize].push(r as u32);
        }
    }
    out.push(PublishedLayer {
        id: "h3-counts".into(),
        title: "Incidents per H3 cell (res 9)".into(),
        description: "Incident counts and harm per H3 cell".into(),
        table: counts.into(),
        members: Some(
            cell_of_feature
                .iter()
                .map(|&i| std::mem::take(&mut rows[i]))
                .collect(),
        ),
        text: None,
    });
    match emerging_layer_on(inp, &req, placed) {
        Ok(e) => out.push(PublishedLayer {
            id: "emerging".into(),
            title: "Emerging hotspots (H3 res 9)".into(),
            description: "Monthly Gi* trends and ArcGIS emerging hot spot categories".into(),
            table: tables::emerging(&e, false)?.into(),
            members: None,
            text: None,
        }),
        Err(e) => tracing::warn!("emerging hotspots left out: {e}"),
    }
    Ok(out)
}
