//! Hotspots from a density surface: threshold, contour, then count what each polygon holds.

use std::collections::BTreeSet;

use geo::{Area, BoundingRect, Centroid, MultiPolygon, Polygon};
use serde::Serialize;

use super::poisson::poisson_sf;
use super::polygons::threshold_polygons;
use super::{pai, ThresholdRule};
use crate::boundaries::{BoundaryPack, DistrictIndex, EdgeStrips};
use crate::density::{
    compute_surface, IncidentFilter, SumMethod, Surface, SurfaceError, SurfaceOptions,
};
use crate::incidents::{HarmTable, IncidentIndex, IncidentStore, OffenceGroup};

/// What the hotspots are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Density hotspots of every incident that passes the filters.
    All,
    /// Micro-places for Grip patrols (see [`super::grip`]).
    Grip,
    /// Places for youth diversionary activity.
    Diversion,
}

impl Purpose {
    /// Name used in ids, metadata and on the command line.
    pub fn slug(self) -> &'static str {
        match self {
            Purpose::All => "all",
            Purpose::Grip => "grip",
            Purpose::Diversion => "diversion",
        }
    }
}

impl std::str::FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Purpose::All),
            "grip" => Ok(Purpose::Grip),
            "diversion" => Ok(Purpose::Diversion),
            o => Err(format!("unknown purpose '{o}' (all, grip, diversion)")),
        }
    }
}

/// One offence group's count inside a hotspot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupCount {
    /// Offence group slug.
    pub group: String,
    /// Incidents of that group inside.
    pub incidents: usize,
}

/// A ranked hotspot with what it holds. Geometry is EPSG:27700.
#[derive(Debug, Clone, Serialize)]
pub struct Hotspot {
    /// Stable id within one run: `<purpose>-<rank>`.
    pub id: String,
    /// 1 = most incidents (or harm, when weighting by harm).
    pub rank: usize,
    /// What the hotspot is for.
    pub purpose: Purpose,
    /// ONS codes of the districts it covers.
    pub district_codes: Vec<String>,
    /// Their names.
    pub district_names: Vec<String>,
    /// Incidents inside (counted from the incidents, boundary inclusive).
    pub incidents: usize,
    /// Harm inside (harm-table days, or the rows' own weights).
    pub harm: f64,
    /// Area, m².
    pub area_m2: f64,
    /// Share of all filtered incidents inside (0–1).
    pub share_incidents: f64,
    /// Share of all filtered harm inside (0–1).
    pub share_harm: f64,
    /// PAI: share of incidents ÷ share of land area.
    pub pai: f64,
    /// Poisson upper-tail p of this many incidents in this area if incidents were spread
    /// uniformly over land (descriptive: the polygon was drawn around them).
    pub p_uniform: f64,
    /// Monte Carlo p of the peak density: (1 + simulations whose highest land cell reaches
    /// it) / (1 + simulations), the same incidents and weights placed uniformly on land.
    /// Controls the chance of any false hotspot on the map. Density purposes only.
    pub p_monte_carlo: Option<f64>,
    /// Centroid, EPSG:27700 metres.
    pub centroid_bng: [f64; 2],
    /// Highest surface value at a cell centre inside (density purposes only).
    pub peak_density: Option<f64>,
    /// Offence groups inside, most frequent first (up to three).
    pub top_offence_groups: Vec<GroupCount>,
    /// The polygon, EPSG:27700.
    #[serde(skip)]
    pub geometry: MultiPolygon<f64>,
    /// Store rows of the incidents inside.
    #[serde(skip)]
    pub members: Vec<u32>,
}

/// Options for [`find_hotspots`].
#[derive(Debug, Clone)]
pub struct HotspotOptions {
    /// The surface (cell, bandwidth, kernel, weighting, filter...).
    pub surface: SurfaceOptions,
    /// What counts as hot.
    pub threshold: ThresholdRule,
    /// Polygons smaller than this are dropped, m².
    pub min_area_m2: f64,
    /// Keep a hotspot only if its `p_monte_carlo` ≤ this; `None` keeps all.
    pub alpha: Option<f64>,
    /// Monte Carlo simulations of uniform placement (19 gives p down to 0.05).
    pub simulations: usize,
    /// Seed of the simulations.
    pub seed: u64,
    /// Keep at most this many, by rank.
    pub top: Option<usize>,
    /// `All` or `Diversion`.
    pub purpose: Purpose,
}

/// What a run found, for metadata.
#[derive(Debug, Clone, Serialize)]
pub struct HotspotSummary {
    /// Purpose.
    pub purpose: Purpose,
    /// Threshold rule.
    pub threshold_rule: String,
    /// Threshold value, surface units.
    pub threshold_value: Option<f64>,
    /// Polygons above the threshold and the minimum area.
    pub candidates: usize,
    /// Hotspots kept.
    pub kept: usize,
    /// Incidents that passed the filters.
    pub incidents: usize,
    /// Their harm.
    pub harm: f64,
    /// Land area, m².
    pub land_area_m2: f64,
    /// The incident selection actually used (diversion: youth-involved or serious violence).
    pub selection: String,
    /// Monte Carlo simulations run.
    pub simulations: usize,
    /// Highest land-cell density of each simulation, ascending.
    pub simulated_max_density: Vec<f64>,
}

/// Everything an analysis over incidents needs to read.
pub struct Inputs<'a> {
    /// Boundaries.
    pub pack: &'a BoundaryPack,
    /// Their index.
    pub districts: &'a DistrictIndex,
    /// Incidents.
    pub store: &'a IncidentStore,
    /// Their spatial index.
    pub index: &'a IncidentIndex,
    /// Harm table.
    pub harm: &'a HarmTable,
}

/// The diversion selection: youth-involved incidents when the data has ages, else every
/// serious-violence group. Returns the filter and a description.
pub fn diversion_filter(store: &IncidentStore, base: &IncidentFilter) -> (IncidentFilter, String) {
    let mut f = base.clone();
    if store.has_ages() {
        f.youth_only = true;
        (f, "victim or suspect aged 25 or under".to_string())
    } else {
        if f.groups.is_empty() {
            f.groups = OffenceGroup::ALL
                .into_iter()
                .filter(|g| g.is_serious_violence())
                .collect();
        }
        (f, "no ages in the data: all serious violence".to_string())
    }
}

/// Counts what `geometry` holds: rows inside, their harm and groups.
pub(crate) fn contents(
    inp: &Inputs<'_>,
    filter: &IncidentFilter,
    geometry: &MultiPolygon<f64>,
) -> (Vec<u32>, f64, Vec<GroupCount>) {
    let Some(b) = geometry.bounding_rect() else {
        return (Vec::new(), 0.0, Vec::new());
    };
    // Exact point-in-polygon (boundary inclusive) against the few edges of each point's strip.
    let area = EdgeStrips::of(std::slice::from_ref(geometry));
    let mut rows: Vec<u32> = inp
        .index
        .within_bbox(b.min().x, b.min().y, b.max().x, b.max().y)
        .filter(|&r| {
            let i = r as usize;
            filter.keep(inp.store, i) && area.contains(inp.store.x_m[i], inp.store.y_m[i])
        })
        .collect();
    rows.sort_unstable();
    let harm = rows
        .iter()
        .map(|&r| inp.store.harm(r as usize, inp.harm))
        .sum();
    let mut counts = [0usize; 6];
    for &r in &rows {
        counts[inp.store.group[r as usize] as usize] += 1;
    }
    let mut groups: Vec<GroupCount> = OffenceGroup::ALL
        .into_iter()
        .map(|g| GroupCount {
            group: g.slug().to_string(),
            incidents: counts[g as usize],
        })
        .filter(|g| g.incidents > 0)
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.incidents));
    groups.truncate(3);
    (rows, harm, groups)
}

/// What shares and PAI are relative to.
pub(crate) struct Totals {
    /// Filtered incidents.
    pub n: usize,
    /// Their harm.
    pub harm: f64,
    /// Land area, m².
    pub land_m2: f64,
}

impl Totals {
    /// Totals of the filtered incidents over the pack's land.
    pub fn of(inp: &Inputs<'_>, filter: &IncidentFilter) -> Self {
        let (n, harm) = totals(inp, filter);
        Totals {
            n,
            harm,
            land_m2: inp.pack.land_area_km2() * 1e6,
        }
    }
}

impl Hotspot {
    /// A hotspot (unranked) from its geometry and the store rows inside: harm, shares, PAI,
    /// the Poisson tail, centroid and the districts of its incidents.
    pub(crate) fn new(
        inp: &Inputs<'_>,
        purpose: Purpose,
        geometry: MultiPolygon<f64>,
        members: Vec<u32>,
        top_offence_groups: Vec<GroupCount>,
        t: &Totals,
    ) -> Self {
        let n = members.len();
        let harm: f64 = members
            .iter()
            .map(|&r| inp.store.harm(r as usize, inp.harm))
            .sum();
        let area_m2 = geometry.unsigned_area();
        let centroid_bng = geometry
            .centroid()
            .map(|c| [c.x(), c.y()])
            .unwrap_or([0.0; 2]);
        let mut h = Hotspot {
            id: String::new(),
            rank: 0,
            purpose,
            district_codes: Vec::new(),
            district_names: Vec::new(),
            incidents: n,
            harm,
            area_m2,
            share_incidents: share(n as f64, t.n as f64),
            share_harm: share(harm, t.harm),
            pai: pai(n as f64, t.n as f64, area_m2, t.land_m2).unwrap_or(0.0),
            p_uniform: poisson_sf(n as u64, t.n as f64 * area_m2 / t.land_m2),
            centroid_bng,
            peak_density: None,
            p_monte_carlo: None,
            top_offence_groups,
            geometry,
            members,
        };
        h.set_districts(inp, Vec::new());
        h
    }

    /// Sets the district codes and names: those of its incidents plus `extra` indexes.
    pub(crate) fn set_districts(&mut self, inp: &Inputs<'_>, extra: Vec<usize>) {
        let mut d: Vec<usize> = self
            .members
            .iter()
            .map(|&r| inp.store.district[r as usize] as usize)
            .chain(extra)
            .collect();
        d.sort_unstable();
        d.dedup();
        self.district_codes = d
            .iter()
            .map(|&i| inp.pack.districts[i].code.clone())
            .collect();
        self.district_names = d
            .iter()
            .map(|&i| inp.pack.districts[i].name.clone())
            .collect();
    }
}

/// Totals over the filtered incidents: count and harm.
pub(crate) fn totals(inp: &Inputs<'_>, filter: &IncidentFilter) -> (usize, f64) {
    let mut n = 0;
    let mut h = 0.0;
    for i in 0..inp.store.len() {
        if filter.keep(inp.store, i) {
            n += 1;
            h += inp.store.harm(i, inp.harm);
        }
    }
    (n, h)
}

/// Density hotspots: the surface, its threshold polygons, then each polygon's contents,
/// ranked by incidents (or harm when the surface is harm-weighted).
pub fn find_hotspots(
    inp: &Inputs<'_>,
    opts: &HotspotOptions,
) -> Result<(Vec<Hotspot>, Surface, HotspotSummary), SurfaceError> {
    let mut sopts = opts.surface.clone();
    let mut selection = "every incident passing the filters".to_string();
    if opts.purpose == Purpose::Diversion {
        let (f, d) = diversion_filter(inp.store, &sopts.filter);
        sopts.filter = f;
        selection = d;
    }
    let surface = {
        let _s = tracing::debug_span!("surface").entered();
        compute_surface(inp.pack, inp.districts, inp.store, inp.harm, &sopts)?
    };
    let filter = &sopts.filter;
    let _s = tracing::debug_span!("polygons").entered();
    let totals = Totals::of(inp, filter);
    let land_m2 = totals.land_m2;
    let threshold = opts.threshold.threshold(&surface.values);
    let polys: Vec<Polygon<f64>> = match threshold {
        Some(t) => threshold_polygons(&surface.grid, &surface.values, t, opts.min_area_m2)
            .map_err(SurfaceError::Grid)?,
        None => Vec::new(),
    };
    let candidates = polys.len();
    let harm_weighted = surface.weight.starts_with("harm");
    let mut spots: Vec<Hotspot> = polys
        .into_iter()
        .map(|p| {
            let geometry = MultiPolygon::new(vec![p]);
            let (members, _, groups) = contents(inp, filter, &geometry);
            let (peak, cell_districts) = peak_and_districts(&surface, inp, &geometry, &members);
            let mut h = Hotspot::new(inp, opts.purpose, geometry, members, groups, &totals);
            h.set_districts(inp, cell_districts);
            h.peak_density = peak;
            h
        })
        .collect();
    drop(_s);
    let mut simulated_max = Vec::new();
    let _s = tracing::debug_span!("simulations", n = opts.simulations).entered();
    if opts.alpha.is_some() && opts.simulations > 0 && !spots.is_empty() {
        simulated_max = simulate_max_density(inp, &surface, filter, &sopts, opts)?;
        let r = simulated_max.len() as f64;
        for h in &mut spots {
            let peak = h.peak_density.unwrap_or(0.0);
            let above = simulated_max.iter().filter(|m| **m >= peak).count() as f64;
            h.p_monte_carlo = Some((1.0 + above) / (1.0 + r));
        }
    }
    if let Some(alpha) = opts.alpha {
        if opts.simulations > 0 {
            spots.retain(|h| h.p_monte_carlo.is_some_and(|p| p <= alpha));
        }
    }
    rank(&mut spots, harm_weighted, opts.purpose, opts.top);
    let summary = HotspotSummary {
        purpose: opts.purpose,
        threshold_rule: opts.threshold.describe(),
        threshold_value: threshold,
        candidates,
        kept: spots.len(),
        incidents: totals.n,
        harm: totals.harm,
        land_area_m2: land_m2,
        selection,
        simulations: opts.simulations,
        simulated_max_density: simulated_max,
    };
    Ok((spots, surface, summary))
}

pub(crate) fn share(a: f64, total: f64) -> f64 {
    if total > 0.0 {
        a / total
    } else {
        0.0
    }
}

/// Sorts by incidents (or harm), ties by centroid for determinism, then numbers them.
pub(crate) fn rank(spots: &mut Vec<Hotspot>, by_harm: bool, purpose: Purpose, top: Option<usize>) {
    spots.sort_by(|a, b| {
        let key = |h: &Hotspot| if by_harm { h.harm } else { h.incidents as f64 };
        key(b)
            .total_cmp(&key(a))
            .then(b.incidents.cmp(&a.incidents))
            .then(a.centroid_bng[0].total_cmp(&b.centroid_bng[0]))
            .then(a.centroid_bng[1].total_cmp(&b.centroid_bng[1]))
    });
    if let Some(k) = top {
        spots.truncate(k);
    }
    for (i, h) in spots.iter_mut().enumerate() {
        h.rank = i + 1;
        h.id = format!("{}-{:03}", purpose.slug(), i + 1);
    }
}

/// Highest surface value at cell centres inside, and the districts of those cells and of
/// the incidents inside (sorted by district index).
fn peak_and_districts(
    surface: &Surface,
    inp: &Inputs<'_>,
    geometry: &MultiPolygon<f64>,
    members: &[u32],
) -> (Option<f64>, Vec<usize>) {
    let mut districts = BTreeSet::new();
    for &r in members {
        districts.insert(inp.store.district[r as usize] as usize);
    }
    let mut peak: Option<f64> = None;
    let g = &surface.grid;
    let area = EdgeStrips::of(std::slice::from_ref(geometry));
    if let Some(b) = geometry.bounding_rect() {
        let (ix0, iy0) = g.cell_of(b.min().x, b.min().y).unwrap_or((0, 0));
        let (ix1, iy1) = g
            .cell_of(b.max().x, b.max().y)
            .unwrap_or((g.nx - 1, g.ny - 1));
        for iy in iy0..=iy1 {
            for ix in ix0..=ix1 {
                let (cx, cy) = g.centre(ix, iy);
                let v = surface.values[iy * g.nx + ix];
                if v.is_nan() || !area.contains(cx, cy) {
                    continue;
                }
                peak = Some(peak.map_or(v, |p: f64| p.max(v)));
                if let Some(d) = inp.districts.locate(cx, cy) {
                    districts.insert(d as usize);
                }
            }
        }
    }
    (peak, districts.into_iter().collect())
}

/// Highest land-cell value of surfaces made from the same weights placed uniformly at
/// random on land, one per simulation, sorted. Simulation `k` draws from its own ChaCha8
/// stream `k` of `opts.seed`, so the simulations run in parallel and the result does not
/// depend on the thread count.
fn simulate_max_density(
    inp: &Inputs<'_>,
    surface: &Surface,
    filter: &IncidentFilter,
    sopts: &SurfaceOptions,
    opts: &HotspotOptions,
) -> Result<Vec<f64>, SurfaceError> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    use rayon::prelude::*;
    let weights: Vec<f64> = (0..inp.store.len())
        .filter(|&i| filter.keep(inp.store, i))
        .map(|i| match sopts.weighting {
            crate::density::Weighting::Count => 1.0,
            crate::density::Weighting::Harm => inp.store.harm(i, inp.harm),
        })
        .collect();
    let land = inp.districts.land_blocks();
    let one = |k: usize| -> f64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(k as u64);
        let (mut xs, mut ys) = (
            Vec::with_capacity(weights.len()),
            Vec::with_capacity(weights.len()),
        );
        for _ in 0..weights.len() {
            let Some((x, y)) = inp.districts.sample_land(&land, &mut rng) else {
                return 0.0;
            };
            xs.push(x);
            ys.push(y);
        }
        let mut ws = weights.clone();
        if sopts.weighting != crate::density::Weighting::Count {
            ws.shuffle(&mut rng);
        }
        let kernel = sopts.kernel;
        // The same sum as the observed surface: binned only when that one was.
        if surface.method == SumMethod::Binned {
            if let Some(values) = crate::density::kde_binned(
                &surface.grid,
                &xs,
                &ys,
                &ws,
                kernel,
                surface.bandwidth_m,
                sopts.scaling,
            ) {
                return crate::density::kde::max_where_defined(&values, &surface.values);
            }
        }
        let rows = crate::density::RowOrdered::new(&surface.grid, &xs, &ys, &ws);
        crate::density::kde::kde_exact_max(
            &surface.grid,
            &rows,
            kernel,
            surface.bandwidth_m,
            sopts.scaling,
            &surface.values,
        )
    };
    let mut maxima: Vec<f64> = (0..opts.simulations).into_par_iter().map(one).collect();
    maxima.sort_by(f64::total_cmp);
    Ok(maxima)
}
