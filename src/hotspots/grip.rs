//! Grip micro-places: rank equal-area BNG cells by harm, keep a minimum separation between
//! the chosen places, report cumulative harm against cumulative area.

use geo::{MultiPolygon, Rect};
use hashbrown::HashMap;

use super::density::{contents, rank, share, Hotspot, Inputs, Purpose, Totals};
use crate::density::IncidentFilter;

/// Options for [`grip_places`].
#[derive(Debug, Clone)]
pub struct GripOptions {
    /// Cell side, metres (Grip practice: 150 m).
    pub cell_m: f64,
    /// Smallest distance between chosen cell centres, metres.
    pub min_separation_m: f64,
    /// How many places.
    pub top: usize,
    /// Which incidents.
    pub filter: IncidentFilter,
}

impl Default for GripOptions {
    fn default() -> Self {
        GripOptions {
            cell_m: 150.0,
            min_separation_m: 500.0,
            top: 20,
            filter: IncidentFilter::default(),
        }
    }
}

/// A chosen place with the cumulative figures down to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GripCumulative {
    /// Share of all filtered harm in places ranked 1..=this (0–1).
    pub cumulative_harm_share: f64,
    /// Share of land area they cover (0–1).
    pub cumulative_area_share: f64,
}

/// Picks up to `top` cells by harm (ties: more incidents, then west-to-east, south-to-north),
/// skipping any cell whose centre is closer than the separation to one already chosen.
pub fn grip_places(inp: &Inputs<'_>, opts: &GripOptions) -> (Vec<Hotspot>, Vec<GripCumulative>) {
    let c = opts.cell_m;
    let mut cells: HashMap<(i64, i64), (f64, usize)> = HashMap::new();
    for i in 0..inp.store.len() {
        if !opts.filter.keep(inp.store, i) {
            continue;
        }
        let key = (
            (inp.store.x_m[i] / c).floor() as i64,
            (inp.store.y_m[i] / c).floor() as i64,
        );
        let e = cells.entry(key).or_insert((0.0, 0));
        e.0 += inp.store.harm(i, inp.harm);
        e.1 += 1;
    }
    let mut ranked: Vec<((i64, i64), (f64, usize))> = cells.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1 .0
            .total_cmp(&a.1 .0)
            .then(b.1 .1.cmp(&a.1 .1))
            .then(a.0.cmp(&b.0))
    });
    let centre = |k: (i64, i64)| ((k.0 as f64 + 0.5) * c, (k.1 as f64 + 0.5) * c);
    let sep2 = opts.min_separation_m.powi(2);
    let mut chosen: Vec<(i64, i64)> = Vec::new();
    for (k, _) in &ranked {
        if chosen.len() >= opts.top {
            break;
        }
        let (x, y) = centre(*k);
        if chosen.iter().all(|o| {
            let (ox, oy) = centre(*o);
            (ox - x).powi(2) + (oy - y).powi(2) >= sep2
        }) {
            chosen.push(*k);
        }
    }
    let totals = Totals::of(inp, &opts.filter);
    let mut spots: Vec<Hotspot> = chosen
        .iter()
        .map(|&k| {
            let (x0, y0) = (k.0 as f64 * c, k.1 as f64 * c);
            let geometry =
                MultiPolygon::new(vec![Rect::new((x0, y0), (x0 + c, y0 + c)).to_polygon()]);
            // Half-open cells: incidents on the north or east edge belong to the next cell.
            let (mut members, _, groups) = contents(inp, &opts.filter, &geometry);
            members.retain(|&r| {
                let (x, y) = (inp.store.x_m[r as usize], inp.store.y_m[r as usize]);
                x < x0 + c && y < y0 + c
            });
            Hotspot::new(inp, Purpose::Grip, geometry, members, groups, &totals)
        })
        .collect();
    rank(&mut spots, true, Purpose::Grip, None);
    let mut cum_h = 0.0;
    let cumulative = spots
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cum_h += h.harm;
            GripCumulative {
                cumulative_harm_share: share(cum_h, totals.harm),
                cumulative_area_share: share((i + 1) as f64 * c * c, totals.land_m2),
            }
        })
        .collect();
    (spots, cumulative)
}
