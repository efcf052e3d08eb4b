//! The published layers as [`LayerTable`]s: their schemas (documented field by field in the
//! README, checked by a test) and how each analysis result fills them. The CLI's output
//! files and the service's collections and tiles are all written from these tables.

use geo::MultiPolygon;
use serde_json::json;

use super::table::{int, real, text, transform, Attr, Field, FieldType, LayerTable, TableError};
use crate::boundaries::BoundaryPack;
use crate::crs::Transformer;
use crate::density::IncidentFilter;
use crate::gistar::{Category, EmergingLayer, GiLayer};
use crate::hotspots::{HotspotLayer, Inputs, Purpose};
use crate::temporal::{area_profile, patrol_plan, PatrolPlan, Profile};

use crate::disclosure::Sdc;
use FieldType::{Integer, Real, Text};

/// Offence groups listed per hotspot (`top1_*` .. `top3_*`).
pub const TOP_GROUPS: usize = 3;
/// Patrol windows listed per hotspot (`w1_*` .. `w3_*`).
pub const PATROL_WINDOWS: usize = 3;

/// Fields of the `districts` layer.
pub fn district_fields() -> Vec<Field> {
    vec![
        Field::new(
            "code",
            Text,
            "ONS local authority district code (E06…/E07…)",
        ),
        Field::new("name", Text, "district name"),
        Field::new("area_km2", Real, "land area, km²"),
    ]
}

/// The 13 districts.
pub fn districts(pack: &BoundaryPack) -> Result<LayerTable, TableError> {
    let to_wgs84 = Transformer::bng_to_wgs84()?;
    let mut t = LayerTable::new(
        "districts",
        district_fields(),
        json!({"origin": pack.origin}),
    );
    for d in &pack.districts {
        t.push(
            d.code.clone(),
            d.geometry.clone(),
            transform(&d.geometry, &to_wgs84)?,
            vec![text(&d.code), text(&d.name), Attr::Real(d.area_km2)],
        )?;
    }
    Ok(t)
}

/// Fields of a hotspot layer (`hotspots`, `diversion` or `grip`). Density layers carry
/// `p_mc` and `peak_dens`; Grip carries `cum_harm` and `cum_area` instead.
pub fn hotspot_fields(purpose: Purpose) -> Vec<Field> {
    let mut f = vec![
        Field::new("hotspot", Text, "hotspot id: <purpose>-<rank>"),
        Field::new(
            "rank",
            Integer,
            if purpose == Purpose::Grip {
                "1 = most harm"
            } else {
                "1 = most incidents (most harm when weighted by harm)"
            },
        ).with_sdc(Sdc::Rank),
        Field::new("purpose", Text, "all, grip or diversion"),
        Field::new("lad_codes", Text, "ONS codes of the districts it covers, ';'-separated"),
        Field::new("lad_names", Text, "their names, ';'-separated"),
        Field::new("incidents", Integer, "incidents inside").with_sdc(Sdc::Count),
        Field::new(
            "sel_count",
            Integer,
            "incidents inside that match the request's datetime and offence_group (all of them without a selection)",
        ).with_sdc(Sdc::Count),
        Field::new(
            "harm",
            Real,
            "harm inside: the harm table's indicative days of custody (see Offence groups), or the rows' own weights",
        ).with_sdc(Sdc::Exact),
        Field::new("area_m2", Real, "area, m²"),
        Field::new("share_inc", Real, "share of all incidents inside (0–1)").with_sdc(Sdc::Scaled("incidents")),
        Field::new("share_harm", Real, "share of all harm inside (0–1)").with_sdc(Sdc::Exact),
        Field::new("pai", Real, "Predictive Accuracy Index: share of incidents ÷ share of land area").with_sdc(Sdc::Scaled("incidents")),
        Field::new(
            "p_uniform",
            Real,
            "Poisson upper-tail p of this many incidents in this area under uniform spread (descriptive)",
        ).with_sdc(Sdc::Exact),
    ];
    if purpose == Purpose::Grip {
        f.push(
            Field::new(
                "cum_harm",
                Real,
                "share of all harm in places ranked 1..this (0–1)",
            )
            .with_sdc(Sdc::Exact),
        );
        f.push(
            Field::new(
                "cum_area",
                Real,
                "share of land area in places ranked 1..this (0–1)",
            )
            .with_sdc(Sdc::Exact),
        );
    } else {
        f.push(Field::new(
            "p_mc",
            Real,
            "Monte Carlo p of the peak density against uniform placement on land (19 simulations: 0.05 is the smallest possible)",
        ));
        f.push(
            Field::new(
                "peak_dens",
                Real,
                "highest density at a cell centre inside, incidents (or harm) per km²",
            )
            .with_sdc(Sdc::Significant(2)),
        );
    }
    f.extend([
        Field::new("cent_lon", Real, "centroid longitude, WGS84 degrees"),
        Field::new("cent_lat", Real, "centroid latitude, WGS84 degrees"),
        Field::new("cent_e", Real, "centroid easting, EPSG:27700 metres"),
        Field::new("cent_n", Real, "centroid northing, EPSG:27700 metres"),
    ]);
    const TOP: [[&str; 4]; TOP_GROUPS] = [
        ["top1_group", "top1_count", "top1_share", ""],
        ["top2_group", "top2_count", "top2_share", "top1_count"],
        ["top3_group", "top3_count", "top3_share", "top2_count"],
    ];
    for [g, c, s, prev] in TOP {
        f.push(
            Field::new(
                g,
                Text,
                "offence group, by incidents inside (1st, 2nd, 3rd); null when fewer groups",
            )
            .with_sdc(Sdc::With(c)),
        );
        f.push(
            Field::new(c, Integer, "its incidents inside (0 when absent)").with_sdc(
                if prev.is_empty() {
                    Sdc::Count
                } else {
                    Sdc::CountAfter(prev)
                },
            ),
        );
        f.push(
            Field::new(
                s,
                Real,
                "its share of the hotspot's incidents (0–1; 0 when absent)",
            )
            .with_sdc(Sdc::ShareOf(c, "incidents")),
        );
    }
    f.extend([
        Field::new(
            "patrol",
            Text,
            "when to act: peak windows and 15-minute visit times, Europe/London local time",
        ),
        Field::new(
            "patrol_src",
            Text,
            "where the windows come from: hotspot (its own hour-of-week peaks), hotspot-hour-of-day, or area",
        ),
    ]);
    const WIN: [[&str; 4]; PATROL_WINDOWS] = [
        ["w1_days", "w1_hours", "w1_from_h", "w1_to_h"],
        ["w2_days", "w2_hours", "w2_from_h", "w2_to_h"],
        ["w3_days", "w3_hours", "w3_from_h", "w3_to_h"],
    ];
    for [d, h, from, to] in WIN {
        f.push(Field::new(
            d,
            Text,
            "days of the 1st, 2nd, 3rd patrol window by share (Mon..Sun, ',' separated, or daily); null when fewer; further windows are in patrol and detail",
        ));
        f.push(Field::new(
            h,
            Text,
            "window as local HH:MM-HH:MM (may cross midnight); null when fewer windows",
        ));
        f.push(Field::new(
            from,
            Integer,
            "window start, local hour 0-23 (-1 when fewer windows)",
        ));
        f.push(Field::new(
            to,
            Integer,
            "window end, local hour 0-23, earlier than the start when it crosses midnight (-1 when fewer windows)",
        ));
    }
    f.push(Field::new(
        "detail",
        Text,
        "JSON text: top_offence_groups and the full patrol plan (windows, shares, tests, visits)",
    ).with_sdc(Sdc::Exact));
    f
}

/// The hour of a local "HH:MM" (-1 if it is not one).
fn hour_of(hhmm: &str) -> i64 {
    hhmm.get(..2).and_then(|h| h.parse().ok()).unwrap_or(-1)
}

fn days_text(days: &[String]) -> String {
    if days.len() == 7 {
        "daily".into()
    } else {
        days.join(",")
    }
}

/// A patrol plan as one line a person reads: `Fri,Sat 23:00-01:00 (visits 23:22, 00:22); ...`.
pub fn patrol_text(plan: &PatrolPlan) -> String {
    plan.windows
        .iter()
        .map(|w| {
            let visits: Vec<&str> = w.visits.iter().map(|v| v.start.as_str()).collect();
            format!(
                "{} {}-{} (visits {})",
                days_text(&w.window.days),
                w.window.start,
                w.window.end,
                visits.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A hotspot layer with each place's patrol plan: its own peak windows against the
/// hour-of-week profile of `area_filter`'s incidents (Koper visits: 15 minutes, at most two
/// hours apart, FDR 0.05).
pub fn hotspots(
    inp: &Inputs<'_>,
    layer: &HotspotLayer,
    area_filter: &IncidentFilter,
) -> Result<LayerTable, TableError> {
    let to_wgs84 = Transformer::bng_to_wgs84()?;
    let area = area_profile(inp, area_filter);
    let purpose = layer.purpose;
    let mut t = LayerTable::new(
        match purpose {
            Purpose::All => "hotspots",
            Purpose::Grip => "grip",
            Purpose::Diversion => "diversion",
        },
        hotspot_fields(purpose),
        layer.metadata.clone(),
    );
    for (i, h) in layer.spots.iter().enumerate() {
        let wgs84 = transform(&h.geometry, &to_wgs84)?;
        let (lon, lat) = to_wgs84.convert(h.centroid_bng[0], h.centroid_bng[1])?;
        let p = Profile::of(inp.store, h.members.iter().map(|&r| r as usize));
        let plan = patrol_plan(&p, &area, 0.05, 15, 120);
        let mut a = vec![
            text(&h.id),
            int(h.rank),
            text(purpose.slug()),
            text(h.district_codes.join(";")),
            text(h.district_names.join(";")),
            int(h.incidents),
            int(h.incidents),
            Attr::Real(h.harm),
            Attr::Real(h.area_m2),
            Attr::Real(h.share_incidents),
            Attr::Real(h.share_harm),
            Attr::Real(h.pai),
            Attr::Real(h.p_uniform),
        ];
        match &layer.cumulative {
            Some(cum) if purpose == Purpose::Grip => {
                a.push(Attr::Real(cum[i].cumulative_harm_share));
                a.push(Attr::Real(cum[i].cumulative_area_share));
            }
            _ => {
                a.push(real(h.p_monte_carlo));
                a.push(real(h.peak_density));
            }
        }
        let round = |x: f64, scale: f64| (x * scale).round() / scale;
        a.extend([
            Attr::Real(round(lon, 1e7)),
            Attr::Real(round(lat, 1e7)),
            Attr::Real(round(h.centroid_bng[0], 1e2)),
            Attr::Real(round(h.centroid_bng[1], 1e2)),
        ]);
        for k in 0..TOP_GROUPS {
            match h.top_offence_groups.get(k) {
                Some(g) => {
                    a.push(text(&g.group));
                    a.push(int(g.incidents));
                    a.push(Attr::Real(if h.incidents > 0 {
                        g.incidents as f64 / h.incidents as f64
                    } else {
                        0.0
                    }));
                }
                None => a.extend([Attr::Null, Attr::Int(0), Attr::Real(0.0)]),
            }
        }
        a.push(text(patrol_text(&plan)));
        a.push(text(&plan.source));
        for k in 0..PATROL_WINDOWS {
            match plan.windows.get(k) {
                Some(w) => a.extend([
                    text(days_text(&w.window.days)),
                    text(format!("{}-{}", w.window.start, w.window.end)),
                    Attr::Int(hour_of(&w.window.start)),
                    Attr::Int(hour_of(&w.window.end)),
                ]),
                None => a.extend([Attr::Null, Attr::Null, Attr::Int(-1), Attr::Int(-1)]),
            }
        }
        a.push(text(
            json!({"top_offence_groups": h.top_offence_groups, "patrol": plan}).to_string(),
        ));
        t.push(h.id.clone(), h.geometry.clone(), wgs84, a)?;
    }
    Ok(t)
}

/// Fields of the `gistar` layer.
pub fn gistar_fields() -> Vec<Field> {
    vec![
        Field::new(
            "cell",
            Text,
            "H3 index, or 150m:<E>:<N> (south-west corner) for squares",
        ),
        Field::new("count", Integer, "incidents in the cell").with_sdc(Sdc::Count),
        Field::new("harm", Real, "harm in the cell").with_sdc(Sdc::Exact),
        Field::new(
            "z",
            Real,
            "Gi* z-score (null when undefined: every cell's value equal, e.g. nothing selected)",
        )
        .with_sdc(Sdc::Exact),
        Field::new("p", Real, "two-sided normal p of z (null when z is)").with_sdc(Sdc::Exact),
        Field::new(
            "p_sim",
            Real,
            "conditional-randomisation pseudo p, (min(#perm ≥ obs, #perm ≤ obs) + 1)/(permutations + 1): a tie counts in both tails, so a cell every permutation ties (an empty cell among empty ones) has 1, not 0.001 (null without permutations, or when z is)",
        )
        .with_sdc(Sdc::Exact),
        Field::new(
            "bin",
            Integer,
            "confidence bin: ±3 (99%), ±2 (95%), ±1 (90%) after FDR, 0 not significant",
        ),
    ]
}

/// Cell outlines in EPSG:27700 and WGS84, each transformed once and shared by the layers
/// made on the same cells.
#[derive(Debug, Clone)]
pub struct CellOutlines(Vec<Option<(MultiPolygon<f64>, MultiPolygon<f64>)>>);

impl CellOutlines {
    /// The outlines of the cells `wanted` accepts (by index into `cells`).
    pub fn new(
        cells: &crate::gistar::CellSet,
        wanted: impl Fn(usize) -> bool,
    ) -> Result<Self, TableError> {
        let wgs84 = cells.geometry_is_wgs84();
        let t = if wgs84 {
            Transformer::wgs84_to_bng()?
        } else {
            Transformer::bng_to_wgs84()?
        };
        let v = (0..cells.len())
            .map(|i| {
                if !wanted(i) {
                    return Ok(None);
                }
                let g = cells.geometry(i);
                let other = transform(&g, &t)?;
                Ok(Some(if wgs84 { (other, g) } else { (g, other) }))
            })
            .collect::<Result<Vec<_>, TableError>>()?;
        Ok(Self(v))
    }

    /// Outlines of cell `i` (EPSG:27700, WGS84), if it was wanted.
    fn get(&self, i: usize) -> Result<(MultiPolygon<f64>, MultiPolygon<f64>), TableError> {
        self.0
            .get(i)
            .and_then(|o| o.clone())
            .ok_or(TableError::NoOutline(i))
    }
}

/// True for the cells the `gistar` layer shows with `only_nonempty`: incidents or a bin.
fn gistar_shows(gi: &GiLayer, only_nonempty: bool, i: usize) -> bool {
    !only_nonempty || gi.count[i] != 0.0 || gi.gi.bin[i] != 0
}

/// Gi* cells: with `only_nonempty`, cells with incidents or a non-zero bin.
pub fn gistar(gi: &GiLayer, only_nonempty: bool) -> Result<LayerTable, TableError> {
    let outlines = CellOutlines::new(&gi.cells, |i| gistar_shows(gi, only_nonempty, i))?;
    gistar_on(gi, only_nonempty, &outlines)
}

/// [`gistar`] with outlines made beforehand (they must hold every cell it shows).
pub fn gistar_on(
    gi: &GiLayer,
    only_nonempty: bool,
    outlines: &CellOutlines,
) -> Result<LayerTable, TableError> {
    let mut t = LayerTable::new("gistar", gistar_fields(), gi.metadata.clone());
    for i in 0..gi.cells.len() {
        if !gistar_shows(gi, only_nonempty, i) {
            continue;
        }
        let (bng, wgs84) = outlines.get(i)?;
        t.push(
            gi.cells.ids[i].clone(),
            bng,
            wgs84,
            vec![
                text(&gi.cells.ids[i]),
                Attr::Int(gi.count[i].round() as i64),
                Attr::Real(gi.harm[i]),
                // Undefined (every cell equal, e.g. nothing selected): null, not 0 and 1.
                real(Some(gi.gi.z[i]).filter(|_| gi.gi.defined)),
                real(Some(gi.gi.p[i]).filter(|_| gi.gi.defined)),
                real(gi.gi.p_sim.get(i).copied().filter(|_| gi.gi.defined)),
                Attr::Int(i64::from(gi.gi.bin[i])),
            ],
        )?;
    }
    Ok(t)
}

/// Fields of the `h3-counts` layer.
pub fn count_fields() -> Vec<Field> {
    vec![
        Field::new("cell", Text, "H3 index (resolution 9)"),
        Field::new("count", Integer, "incidents in the cell").with_sdc(Sdc::Count),
        Field::new(
            "sel_count",
            Integer,
            "incidents in the cell that match the request's datetime and offence_group (all of them without a selection)",
        ).with_sdc(Sdc::Count),
        Field::new("harm", Real, "harm in the cell").with_sdc(Sdc::Exact),
    ]
}

/// Incident counts per cell, cells with incidents only; returns the table and, for each
/// feature, its cell's index.
pub fn counts(gi: &GiLayer) -> Result<(LayerTable, Vec<usize>), TableError> {
    let outlines = CellOutlines::new(&gi.cells, |i| gi.count[i] > 0.0)?;
    counts_on(gi, &outlines)
}

/// [`counts`] with outlines made beforehand (they must hold every cell with incidents).
pub fn counts_on(
    gi: &GiLayer,
    outlines: &CellOutlines,
) -> Result<(LayerTable, Vec<usize>), TableError> {
    let mut metadata = gi.metadata.clone();
    if let serde_json::Value::Object(o) = &mut metadata {
        o.insert(
            "method".into(),
            json!("incident counts per land cell (H3 resolution 9): cells with incidents only"),
        );
    }
    let mut t = LayerTable::new("h3-counts", count_fields(), metadata);
    let mut cells = Vec::new();
    for i in 0..gi.cells.len() {
        if gi.count[i] <= 0.0 {
            continue;
        }
        let (bng, wgs84) = outlines.get(i)?;
        let n = gi.count[i].round() as i64;
        t.push(
            gi.cells.ids[i].clone(),
            bng,
            wgs84,
            vec![
                text(&gi.cells.ids[i]),
                Attr::Int(n),
                Attr::Int(n),
                Attr::Real(gi.harm[i]),
            ],
        )?;
        cells.push(i);
    }
    Ok((t, cells))
}

/// Fields of the `emerging` layer.
pub fn emerging_fields() -> Vec<Field> {
    vec![
        Field::new("cell", Text, "H3 index, or 150m:<E>:<N> for squares"),
        Field::new(
            "category",
            Text,
            "emerging hot spot category after ArcGIS (new_hot, consecutive_hot, intensifying_hot, persistent_hot, diminishing_hot, sporadic_hot, oscillating_hot, historical_hot, the same for _cold, no_pattern)",
        ),
        Field::new(
            "trend_z",
            Real,
            "Mann–Kendall z of the cell's monthly Gi* z series",
        )
        .with_sdc(Sdc::Significant(2)),
        Field::new("trend_p", Real, "its two-sided p").with_sdc(Sdc::Significant(1)),
        Field::new(
            "hot_steps",
            Integer,
            "months that were significant hot spots",
        ),
        Field::new(
            "cold_steps",
            Integer,
            "months that were significant cold spots",
        ),
        Field::new(
            "final_bin",
            Integer,
            "confidence bin in the final month (−3..3)",
        ),
        Field::new(
            "month_bins",
            Text,
            "confidence bin of each month, oldest first, as YYYY-MM:bin joined by commas (e.g. 2025-01:0,2025-02:2)",
        ),
    ]
}

/// Emerging-hotspot cells: those with a pattern, or every cell with `all`.
pub fn emerging(e: &EmergingLayer, all: bool) -> Result<LayerTable, TableError> {
    let shown = |i: usize| all || e.results[i].category != Category::NoPattern;
    let outlines = CellOutlines::new(&e.cells, shown)?;
    let mut t = LayerTable::new("emerging", emerging_fields(), e.metadata.clone());
    for (i, r) in e.results.iter().enumerate() {
        if !shown(i) {
            continue;
        }
        let (bng, wgs84) = outlines.get(i)?;
        t.push(
            e.cells.ids[i].clone(),
            bng,
            wgs84,
            vec![
                text(&e.cells.ids[i]),
                text(r.category.slug()),
                Attr::Real(r.trend_z),
                Attr::Real(r.trend_p),
                int(r.hot_steps),
                int(r.cold_steps),
                Attr::Int(i64::from(r.final_bin)),
                text(month_bins(&e.months, &r.bins)),
            ],
        )?;
    }
    Ok(t)
}

/// `YYYY-MM:bin` for each month, joined by commas.
fn month_bins(months: &[String], bins: &[i8]) -> String {
    months
        .iter()
        .zip(bins)
        .map(|(m, b)| format!("{m}:{b}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every published schema by layer name, for documentation and the schema tests.
pub fn all_schemas() -> Vec<(&'static str, Vec<Field>)> {
    vec![
        ("districts", district_fields()),
        ("hotspots", hotspot_fields(Purpose::All)),
        ("grip", hotspot_fields(Purpose::Grip)),
        ("diversion", hotspot_fields(Purpose::Diversion)),
        ("gistar", gistar_fields()),
        ("h3-counts", count_fields()),
        ("emerging", emerging_fields()),
    ]
}

/// The schema of the published layer `id` (a per-source `hotspots-<source>` layer has the
/// `hotspots` schema).
pub fn schema_for(id: &str) -> Option<Vec<Field>> {
    let id = if id.starts_with("hotspots-") {
        "hotspots"
    } else {
        id
    };
    all_schemas()
        .into_iter()
        .find(|(l, _)| *l == id)
        .map(|(_, f)| f)
}

/// The schemas as Markdown tables (one per layer), as the README documents them.
pub fn schema_markdown() -> String {
    let mut out = String::new();
    for (layer, fields) in all_schemas() {
        out.push_str(&format!(
            "**`{layer}`**\n\n| field | type | meaning |\n|---|---|---|\n"
        ));
        for f in fields {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                f.name,
                f.ty.json_schema(),
                f.description.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README documents every field of every layer, exactly as the code defines it.
    #[test]
    fn the_readme_documents_every_schema() {
        let readme = include_str!("../../README.md");
        let want = schema_markdown();
        assert!(
            readme.contains(&want),
            "README's layer schemas differ from the code; the section should read:\n{want}"
        );
    }

    #[test]
    fn names_are_unique_short_ascii_and_never_lists() {
        for (layer, fields) in all_schemas() {
            let mut seen = std::collections::HashSet::new();
            for f in &fields {
                assert!(
                    f.name.len() <= 10
                        && f.name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{layer}.{}: Shapefile-safe names are ≤ 10 lowercase ASCII characters",
                    f.name
                );
                assert!(seen.insert(f.name), "{layer}.{} twice", f.name);
                assert!(!f.description.is_empty());
            }
        }
    }

    #[test]
    fn patrol_text_reads_as_days_window_and_visits() {
        use crate::temporal::{PatrolWindow, Visit};
        let w = crate::temporal::peaks::Window {
            start: "23:00".into(),
            end: "01:00".into(),
            days: vec!["Fri".into(), "Sat".into()],
            share: 0.2,
            rate_ratio: 3.0,
            p: 0.001,
            q: 0.01,
            minutes: 120,
        };
        let plan = PatrolPlan {
            source: "hotspot".into(),
            incidents: 30,
            windows: vec![PatrolWindow {
                window: w,
                visits: vec![
                    Visit {
                        start: "23:22".into(),
                        minutes: 15,
                    },
                    Visit {
                        start: "00:22".into(),
                        minutes: 15,
                    },
                ],
            }],
            visit_minutes: 15,
            max_gap_minutes: 120,
        };
        assert_eq!(
            patrol_text(&plan),
            "Fri,Sat 23:00-01:00 (visits 23:22, 00:22)"
        );
    }
}
