//! Grip micro-places: rank equal-area BNG cells by harm, keep a minimum separation between
//! the chosen places, report cumulative harm against cumulative area.

use geo::{MultiPolygon, Rect};
use hashbrown::HashMap;

use super::density::{contents, rank, share, Hotspot, Inputs, Purpose, Totals};
use crate::density::IncidentFilter;
use crate::incidents::{HarmTable, IncidentStore};

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

/// The chosen Grip cells, best first: up to `top` cells of `opts.cell_m` (south-west corners
/// in cell units, aligned to the BNG origin) by harm (ties: more incidents, then
/// west-to-east, south-to-north), skipping any cell whose centre is closer than the
/// separation to one already chosen.
pub fn grip_cells(store: &IncidentStore, harm: &HarmTable, opts: &GripOptions) -> Vec<(i64, i64)> {
    let c = opts.cell_m;
    let mut cells: HashMap<(i64, i64), (f64, usize)> = HashMap::new();
    for i in 0..store.len() {
        if !opts.filter.keep(store, i) {
            continue;
        }
        let key = (
            (store.x_m[i] / c).floor() as i64,
            (store.y_m[i] / c).floor() as i64,
        );
        let e = cells.entry(key).or_insert((0.0, 0));
        e.0 += store.harm(i, harm);
        e.1 += 1;
    }
    let mut ranked: Vec<((i64, i64), (f64, usize))> = cells.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1 .0
            .total_cmp(&a.1 .0)
            .then(b.1 .1.cmp(&a.1 .1))
            .then(a.0.cmp(&b.0))
    });
    // A chosen cell closer than the separation lies within `reach` cells in each axis, so
    // once many are chosen the block around a candidate is looked up in a set instead of
    // scanning them all (the same test, the same choice).
    let centre = |k: (i64, i64)| ((k.0 as f64 + 0.5) * c, (k.1 as f64 + 0.5) * c);
    let sep2 = opts.min_separation_m.powi(2);
    let far = |o: (i64, i64), k: (i64, i64)| {
        let ((ox, oy), (x, y)) = (centre(o), centre(k));
        (ox - x).powi(2) + (oy - y).powi(2) >= sep2
    };
    let reach = (opts.min_separation_m / c).ceil() as i64 + 1;
    let block = ((2 * reach + 1) * (2 * reach + 1)) as usize;
    let mut taken: hashbrown::HashSet<(i64, i64)> = hashbrown::HashSet::new();
    let mut chosen: Vec<(i64, i64)> = Vec::new();
    for &(k, _) in &ranked {
        if chosen.len() >= opts.top {
            break;
        }
        let clear = if chosen.len() < block {
            chosen.iter().all(|&o| far(o, k))
        } else {
            (-reach..=reach).all(|dy| {
                (-reach..=reach).all(|dx| {
                    let o = (k.0 + dx, k.1 + dy);
                    !taken.contains(&o) || far(o, k)
                })
            })
        };
        if clear {
            chosen.push(k);
            taken.insert(k);
        }
    }
    chosen
}

/// Picks the Grip places ([`grip_cells`]) and describes each as a hotspot, with the
/// cumulative harm and area shares down the ranking.
pub fn grip_places(inp: &Inputs<'_>, opts: &GripOptions) -> (Vec<Hotspot>, Vec<GripCumulative>) {
    let c = opts.cell_m;
    let chosen = grip_cells(inp.store, inp.harm, opts);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::offence::OffenceGroup;
    use crate::incidents::{NewIncident, AGE_UNKNOWN};
    use rand::{Rng, SeedableRng};

    /// The greedy rule written plainly: every candidate against every chosen cell.
    fn all_pairs(store: &IncidentStore, harm: &HarmTable, opts: &GripOptions) -> Vec<(i64, i64)> {
        let c = opts.cell_m;
        let mut cells: std::collections::BTreeMap<(i64, i64), (f64, usize)> = Default::default();
        for i in 0..store.len() {
            let k = (
                (store.x_m[i] / c).floor() as i64,
                (store.y_m[i] / c).floor() as i64,
            );
            let e = cells.entry(k).or_insert((0.0, 0));
            e.0 += store.harm(i, harm);
            e.1 += 1;
        }
        let mut ranked: Vec<_> = cells.into_iter().collect();
        ranked.sort_by(|a, b| {
            b.1 .0
                .total_cmp(&a.1 .0)
                .then(b.1 .1.cmp(&a.1 .1))
                .then(a.0.cmp(&b.0))
        });
        let mut chosen: Vec<(i64, i64)> = Vec::new();
        for (k, _) in ranked {
            let d = |o: &(i64, i64)| {
                let dx = (o.0 - k.0) as f64 * c;
                let dy = (o.1 - k.1) as f64 * c;
                (dx * dx + dy * dy).sqrt()
            };
            if chosen.len() < opts.top && chosen.iter().all(|o| d(o) >= opts.min_separation_m) {
                chosen.push(k);
            }
        }
        chosen
    }

    /// The set lookup chooses exactly what the all-pairs scan chooses, in the same order,
    /// on clustered random points, for several separations and up to thousands of places.
    #[test]
    fn grip_cells_equal_the_all_pairs_rule() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut store = IncidentStore::new();
        let source = store.source_id("police").unwrap();
        let groups = [
            OffenceGroup::ViolenceWithInjury,
            OffenceGroup::Robbery,
            OffenceGroup::Other,
        ];
        for n in 0..20_000 {
            let (cx, cy) = if n % 3 == 0 {
                (600_000.0 + rng.random_range(0.0..600.0), 160_000.0)
            } else {
                (600_000.0, 160_000.0)
            };
            store.push(NewIncident {
                id: n.to_string().as_bytes(),
                x_m: cx + rng.random_range(0.0..20_000.0),
                y_m: cy + rng.random_range(0.0..20_000.0),
                district: 0,
                group: groups[n % 3],
                offence: 0,
                from_min: 0,
                to_min: 0,
                flags: 0,
                harm_given: f32::NAN,
                victim_age: AGE_UNKNOWN,
                suspect_age: AGE_UNKNOWN,
                location_type: 0,
                source,
            });
        }
        let harm = HarmTable::default_table();
        for (sep, top) in [(0.0, 300), (300.0, 4000), (500.0, 2000), (1000.0, 300)] {
            let opts = GripOptions {
                cell_m: 150.0,
                min_separation_m: sep,
                top,
                filter: IncidentFilter::default(),
            };
            let got = grip_cells(&store, &harm, &opts);
            let want = all_pairs(&store, &harm, &opts);
            // Enough places that the set lookup (after the first block's worth) is used.
            assert!(got.len() > 200, "sep {sep}: {} places", got.len());
            assert_eq!(got, want, "separation {sep} m, top {top}");
        }
    }
}
