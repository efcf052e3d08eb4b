//! Every published layer, computed once from the inputs: the districts, the three hotspot
//! layers with patrol plans, Gi*, the counts and emerging hotspots, as typed tables with
//! (for layers that take selections) each feature's incident rows. When the incidents come
//! from more than one source (police, health, council, ...), each source also gets its own
//! density hotspots layer, `hotspots-<source>`; the other layers combine every source.

use crate::density::IncidentFilter;
use crate::disclosure::Policy;
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
    /// Density hotspots of one source (its id in the store).
    SourceHotspots(u8),
    Cells,
}

/// Builds every published layer, in a fixed order, the independent parts in parallel
/// (the results do not depend on the thread count). Layers that cannot be made (e.g. fewer
/// than three months for emerging hotspots) are left out with a message on stderr.
pub fn build_layers(
    inp: &Inputs<'_>,
    policy: &Policy,
) -> Result<Vec<PublishedLayer>, super::PublishError> {
    Ok(build_layers_then(inp, policy, |_| Ok(()))?
        .into_iter()
        .map(|(l, ())| l)
        .collect())
}

/// [`build_layers`], with `then` run on each layer as soon as it is made, in the same
/// parallel task (e.g. writing it out while other layers are still computed).
pub fn build_layers_then<T: Send>(
    inp: &Inputs<'_>,
    policy: &Policy,
    then: impl Fn(&PublishedLayer) -> Result<T, super::PublishError> + Sync,
) -> Result<Vec<(PublishedLayer, T)>, super::PublishError> {
    use rayon::prelude::*;
    // The layers in their published order.
    let mut jobs = vec![
        Job::Districts,
        Job::Hotspots("hotspots", "Density hotspots", Purpose::All),
        Job::Hotspots("grip", "Grip patrol places", Purpose::Grip),
        Job::Hotspots("diversion", "Diversion hotspots", Purpose::Diversion),
        Job::Cells,
    ];
    let sources = inp.store.sources.len();
    if sources > 1 {
        jobs.extend((0..sources.min(usize::from(u8::MAX))).map(|s| Job::SourceHotspots(s as u8)));
    }
    // Run longest first (the cells, then the two Monte Carlo tests), so that the threads
    // finish together; the output keeps the published order.
    let cost = |j: &Job| match j {
        Job::Cells => 0,
        Job::Hotspots("diversion", ..) => 1,
        Job::Hotspots("hotspots", ..) => 2,
        _ => 3,
    };
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| (cost(&jobs[i]), i));
    let mut parts: Vec<(usize, Vec<(PublishedLayer, T)>)> = order
        .par_iter()
        .map(|&i| {
            let made = run_job(inp, policy, jobs[i])?
                .into_iter()
                .map(|l| then(&l).map(|t| (l, t)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, super::PublishError>((i, made))
        })
        .collect::<Result<_, _>>()?;
    parts.sort_by_key(|p| p.0);
    Ok(parts.into_iter().flat_map(|p| p.1).collect())
}

fn run_job(
    inp: &Inputs<'_>,
    policy: &Policy,
    job: Job,
) -> Result<Vec<PublishedLayer>, super::PublishError> {
    let source_id = |s: u8| format!("hotspots-{}", inp.store.sources.name(u16::from(s)));
    let name = match job {
        Job::Districts => "districts".to_string(),
        Job::Hotspots(id, ..) => id.to_string(),
        Job::SourceHotspots(s) => source_id(s),
        Job::Cells => "gistar, h3-counts, emerging".to_string(),
    };
    let _stage = tracing::info_span!("stage", stage = name).entered();
    match job {
        Job::Districts => Ok(vec![controlled(
            policy,
            PublishedLayer {
                id: "districts".into(),
                title: "Districts".into(),
                description: "The 13 Kent and Medway districts (ONS boundaries, generalised)"
                    .into(),
                table: tables::districts(inp.pack)?.into(),
                members: None,
                text: None,
            },
            &[],
        )]),
        Job::Hotspots(id, title, purpose) => hotspots_layer(
            inp,
            policy,
            (id.into(), title.into()),
            purpose,
            IncidentFilter::default(),
        ),
        Job::SourceHotspots(s) => hotspots_layer(
            inp,
            policy,
            (
                source_id(s),
                format!(
                    "Density hotspots: {} records",
                    inp.store.sources.name(u16::from(s))
                ),
            ),
            Purpose::All,
            IncidentFilter {
                sources: vec![s],
                ..Default::default()
            },
        ),
        Job::Cells => cell_layers(inp, policy),
    }
}

/// A ranked hotspot layer of `purpose` over the incidents `filter` keeps.
fn hotspots_layer(
    inp: &Inputs<'_>,
    policy: &Policy,
    (id, title): (String, String),
    purpose: Purpose,
    filter: IncidentFilter,
) -> Result<Vec<PublishedLayer>, super::PublishError> {
    let analysis = |e: String| super::PublishError::Analysis(e);
    let layer = build_layer(
        inp,
        &HotspotRequest {
            purpose,
            filter: filter.clone(),
            ..Default::default()
        },
    )
    .map_err(|e| analysis(format!("{id}: {e}")))?;
    // When to act at each place: its peak windows against the whole area's profile.
    let table = tables::hotspots(inp, &layer, &filter)?;
    let support: Vec<Option<u64>> = layer
        .spots
        .iter()
        .map(|h| Some(h.members.len() as u64))
        .collect();
    Ok(vec![controlled(
        policy,
        PublishedLayer {
            id,
            title,
            description: format!(
                "Ranked {} hotspots: incidents, PAI, what is inside and when to patrol",
                purpose.slug()
            ),
            table: table.into(),
            members: Some(layer.spots.iter().map(|h| h.members.clone()).collect()),
            text: None,
        },
        &support,
    )])
}

/// Gi*, the counts and emerging hotspots, on the same H3 cells placed once.
fn cell_layers(
    inp: &Inputs<'_>,
    policy: &Policy,
) -> Result<Vec<PublishedLayer>, super::PublishError> {
    let analysis = |e: String| super::PublishError::Analysis(e);
    let mut out = Vec::new();
    let req = GiRequest::default();
    let placed = PlacedCells::new(inp, &req).map_err(analysis)?;
    let gi = gi_layer_on(inp, &req, placed.clone());
    // One outline per cell for both layers (the counts' cells are among Gi*'s).
    let outlines =
        tables::CellOutlines::new(&gi.cells, |i| gi.count[i] != 0.0 || gi.gi.bin[i] != 0)?;
    // What a cell's statistics rest on: the incidents in it and its neighbours.
    let neighbourhood: Vec<u64> = (0..gi.cells.len())
        .map(|i| {
            let n = gi.count[i]
                + gi.cells.neighbours[i]
                    .iter()
                    .map(|&j| gi.count[j as usize])
                    .sum::<f64>();
            n.round() as u64
        })
        .collect();
    let by_id: std::collections::HashMap<&str, usize> = gi
        .cells
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let support_of = |t: &LayerTable| -> Vec<Option<u64>> {
        t.features
            .iter()
            .map(|f| by_id.get(f.id.as_str()).map(|&i| neighbourhood[i]))
            .collect()
    };
    let gistar_table = tables::gistar_on(&gi, true, &outlines)?;
    let gistar_support = support_of(&gistar_table);
    out.push(controlled(
        policy,
        PublishedLayer {
            id: "gistar".into(),
            title: "Gi* hot spots (H3 res 9)".into(),
            description:
                "Getis-Ord Gi* per H3 cell with FDR confidence bins (cells with incidents or a bin)"
                    .into(),
            table: gistar_table.into(),
            members: None,
            text: None,
        },
        &gistar_support,
    ));
    let (counts, cell_of_feature) = tables::counts_on(&gi, &outlines)?;
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); gi.cells.len()];
    for (r, cell) in placed.assigned.iter().enumerate() {
        if let Some(cell) = cell {
            rows[*cell as usize].push(r as u32);
        }
    }
    let count_support: Vec<Option<u64>> = cell_of_feature
        .iter()
        .map(|&i| Some(gi.count[i].round() as u64))
        .collect();
    out.push(controlled(
        policy,
        PublishedLayer {
            id: "h3-counts".into(),
            title: "Incidents per H3 cell (res 9)".into(),
            description: "Incidents per H3 cell".into(),
            table: counts.into(),
            members: Some(
                cell_of_feature
                    .iter()
                    .map(|&i| std::mem::take(&mut rows[i]))
                    .collect(),
            ),
            text: None,
        },
        &count_support,
    ));
    match emerging_layer_on(inp, &req, placed) {
        Ok(e) => {
            let table = tables::emerging(&e, false)?;
            let support = support_of(&table);
            out.push(controlled(
                policy,
                PublishedLayer {
                    id: "emerging".into(),
                    title: "Emerging hotspots (H3 res 9)".into(),
                    description: "Monthly Gi* trends and ArcGIS emerging hot spot categories"
                        .into(),
                    table: table.into(),
                    members: None,
                    text: None,
                },
                &support,
            ))
        }
        Err(e) => tracing::warn!("emerging hotspots left out: {e}"),
    }
    Ok(out)
}

/// `l` as its tier publishes it (see [`Policy::publish`]); `support` gives each feature's
/// incidents (what it rests on), empty for a layer about no incidents.
fn controlled(policy: &Policy, l: PublishedLayer, support: &[Option<u64>]) -> PublishedLayer {
    let (table, members) = policy.publish(&l.id, &l.table, l.members.as_deref(), support);
    // The description says which version of the layer this is.
    let description = match policy.rules_for(&l.id) {
        Some(r) => format!(
            "{}. Under disclosure control: counts rounded to the nearest {}, none below {}, no harm or exact statistics (see 'disclosure')",
            l.description, r.round_to, r.min_count
        ),
        None => format!(
            "{}, with harm and exact statistics (not under disclosure control)",
            l.description
        ),
    };
    PublishedLayer {
        table: table.into(),
        members,
        description,
        ..l
    }
}
