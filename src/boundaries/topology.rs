//! Topology-preserving simplification of a set of neighbouring (multi)polygons.
//!
//! Rings are cut into *arcs* at nodes (vertices where the set of rings sharing an edge
//! changes), each arc is stored once and simplified once with Douglas–Peucker, and the rings
//! are reassembled from the simplified arcs. A boundary shared by two districts is therefore
//! the same polyline on both sides: no gaps or overlaps can appear along it. Districts whose
//! result is invalid, or overlaps a neighbour, have their arcs re-simplified at half the
//! tolerance until they pass (ultimately the unsimplified arcs are used).

use std::collections::{HashMap, HashSet};

use geo::{
    Area, BooleanOps, BoundingRect, Coord, Intersects, LineString, MultiPolygon, Polygon, Simplify,
    Validation,
};

/// Coordinates snapped to the rounding grid, in units of the rounding step.
type Key = (i64, i64);

/// Where a ring sits: district, polygon part, ring (0 = exterior).
#[derive(Clone, Copy)]
struct RingSlot {
    district: usize,
    part: usize,
    ring: usize,
}

/// One ring as a sequence of arcs, each possibly reversed.
struct RingArcs {
    slot: RingSlot,
    arcs: Vec<(usize, bool)>,
}

/// Snaps a coordinate to the rounding grid.
fn key_of(c: Coord<f64>, step: f64) -> Key {
    ((c.x / step).round() as i64, (c.y / step).round() as i64)
}

/// Open ring (no closing repeat) of snapped keys without consecutive duplicates.
fn ring_keys(ring: &LineString<f64>, step: f64) -> Vec<Key> {
    let mut out: Vec<Key> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let k = key_of(*c, step);
        if out.last() != Some(&k) {
            out.push(k);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

fn edge(a: Key, b: Key) -> (Key, Key) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Summary of one simplification run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimplifyReport {
    /// Vertices before.
    pub vertices_in: usize,
    /// Vertices after.
    pub vertices_out: usize,
    /// Number of distinct arcs.
    pub arcs: usize,
    /// Arcs shared by two rings.
    pub shared_arcs: usize,
    /// Districts that needed a smaller tolerance somewhere.
    pub refined_districts: usize,
}

/// Simplifies neighbouring multipolygons together, keeping shared boundaries shared.
///
/// `tolerance_m` is the Douglas–Peucker distance, `step_m` the coordinate rounding
/// applied first (both metres, EPSG:27700).
pub(crate) fn simplify_shared(
    districts: &[MultiPolygon<f64>],
    tolerance_m: f64,
    step_m: f64,
) -> (Vec<MultiPolygon<f64>>, SimplifyReport) {
    // 1. Snapped rings.
    let mut rings: Vec<(RingSlot, Vec<Key>)> = Vec::new();
    for (d, mp) in districts.iter().enumerate() {
        for (p, poly) in mp.0.iter().enumerate() {
            let all = std::iter::once(poly.exterior()).chain(poly.interiors());
            for (r, ring) in all.enumerate() {
                let keys = ring_keys(ring, step_m);
                if keys.len() >= 3 {
                    rings.push((
                        RingSlot {
                            district: d,
                            part: p,
                            ring: r,
                        },
                        keys,
                    ));
                }
            }
        }
    }
    let vertices_in = rings.iter().map(|(_, k)| k.len()).sum();

    // 2. Which rings use each edge.
    let mut edge_rings: HashMap<(Key, Key), Vec<u32>> = HashMap::new();
    for (ri, (_, keys)) in rings.iter().enumerate() {
        for i in 0..keys.len() {
            let e = edge(keys[i], keys[(i + 1) % keys.len()]);
            let owners = edge_rings.entry(e).or_default();
            if !owners.contains(&(ri as u32)) {
                owners.push(ri as u32);
            }
        }
    }
    // 3. Nodes: vertices where the owner set changes between consecutive edges.
    let mut nodes: HashSet<Key> = HashSet::new();
    for (_, keys) in &rings {
        let n = keys.len();
        for i in 0..n {
            let prev = edge(keys[(i + n - 1) % n], keys[i]);
            let next = edge(keys[i], keys[(i + 1) % n]);
            let (a, b) = (&edge_rings[&prev], &edge_rings[&next]);
            let same = a.len() == b.len() && a.iter().all(|x| b.contains(x));
            if !same {
                nodes.insert(keys[i]);
            }
        }
    }

    // 4. Cut rings into canonical arcs.
    let mut arc_ids: HashMap<Vec<Key>, usize> = HashMap::new();
    let mut arcs: Vec<Vec<Key>> = Vec::new();
    let mut arc_uses: Vec<usize> = Vec::new();
    let mut ring_arcs: Vec<RingArcs> = Vec::new();
    for (slot, keys) in &rings {
        let n = keys.len();
        let start = (0..n).find(|&i| nodes.contains(&keys[i]));
        let mut pieces: Vec<Vec<Key>> = Vec::new();
        match start {
            None => {
                // A ring with no node (island or enclave): one closed arc from its least vertex,
                // walked towards its lesser neighbour so that both sides agree.
                let m = (0..n).min_by_key(|&i| keys[i]).unwrap_or(0);
                let fwd: Vec<Key> = (0..=n).map(|j| keys[(m + j) % n]).collect();
                let rev: Vec<Key> = (0..=n).map(|j| keys[(m + n - j) % n]).collect();
                pieces.push(if fwd <= rev { fwd } else { rev });
            }
            Some(s) => {
                let mut cur = vec![keys[s]];
                for j in 1..=n {
                    let k = keys[(s + j) % n];
                    cur.push(k);
                    if nodes.contains(&k) {
                        pieces.push(std::mem::replace(&mut cur, vec![k]));
                    }
                }
            }
        }
        let mut seq = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let rev: Vec<Key> = piece.iter().rev().copied().collect();
            let (canon, reversed) = if piece <= rev {
                (piece, false)
            } else {
                (rev, true)
            };
            let id = *arc_ids.entry(canon.clone()).or_insert_with(|| {
                arcs.push(canon);
                arc_uses.push(0);
                arcs.len() - 1
            });
            arc_uses[id] += 1;
            seq.push((id, reversed));
        }
        ring_arcs.push(RingArcs {
            slot: *slot,
            arcs: seq,
        });
    }

    // 5. Simplify, check, refine.
    let to_line = |a: &[Key]| -> LineString<f64> {
        LineString(
            a.iter()
                .map(|&(x, y)| Coord {
                    x: x as f64 * step_m,
                    y: y as f64 * step_m,
                })
                .collect(),
        )
    };
    let originals: Vec<LineString<f64>> = arcs.iter().map(|a| to_line(a)).collect();
    let mut arc_tol: Vec<f64> = vec![tolerance_m; arcs.len()];
    let mut refined: HashSet<usize> = HashSet::new();
    let mut result;
    let mut round = 0;
    loop {
        let simplified: Vec<LineString<f64>> = originals
            .iter()
            .zip(&arc_tol)
            .map(|(l, &t)| if t > 0.0 { l.simplify(t) } else { l.clone() })
            .collect();
        result = assemble(districts.len(), &ring_arcs, &simplified);
        let bad = bad_districts(&result);
        if bad.is_empty() || round > 10 {
            break;
        }
        round += 1;
        for ra in &ring_arcs {
            if bad.contains(&ra.slot.district) {
                refined.insert(ra.slot.district);
                for &(id, _) in &ra.arcs {
                    arc_tol[id] = if round >= 10 { 0.0 } else { arc_tol[id] / 2.0 };
                }
            }
        }
    }
    let vertices_out = result
        .iter()
        .flat_map(|mp| mp.0.iter())
        .map(|p| {
            p.exterior().0.len() - 1 + p.interiors().iter().map(|r| r.0.len() - 1).sum::<usize>()
        })
        .sum();
    let report = SimplifyReport {
        vertices_in,
        vertices_out,
        arcs: arcs.len(),
        shared_arcs: arc_uses.iter().filter(|&&u| u >= 2).count(),
        refined_districts: refined.len(),
    };
    (result, report)
}

/// Rebuilds each district's multipolygon from simplified arcs.
fn assemble(
    n_districts: usize,
    ring_arcs: &[RingArcs],
    arcs: &[LineString<f64>],
) -> Vec<MultiPolygon<f64>> {
    // district -> part -> rings (slot order keeps exterior first).
    let mut parts: Vec<Vec<Vec<LineString<f64>>>> = vec![Vec::new(); n_districts];
    for ra in ring_arcs {
        let mut coords: Vec<Coord<f64>> = Vec::new();
        for &(id, reversed) in &ra.arcs {
            let pts = &arcs[id].0;
            let iter: Box<dyn Iterator<Item = &Coord<f64>>> = if reversed {
                Box::new(pts.iter().rev())
            } else {
                Box::new(pts.iter())
            };
            for c in iter {
                if coords.last() != Some(c) {
                    coords.push(*c);
                }
            }
        }
        if coords.first() != coords.last() {
            if let Some(&f) = coords.first() {
                coords.push(f);
            }
        }
        let d = &mut parts[ra.slot.district];
        while d.len() <= ra.slot.part {
            d.push(Vec::new());
        }
        let rings = &mut d[ra.slot.part];
        while rings.len() < ra.slot.ring {
            rings.push(LineString(Vec::new()));
        }
        rings.push(LineString(coords));
    }
    parts
        .into_iter()
        .map(|ps| {
            MultiPolygon(
                ps.into_iter()
                    .filter(|rings| !rings.is_empty() && rings[0].0.len() >= 4)
                    .map(|mut rings| {
                        let ext = rings.remove(0);
                        rings.retain(|r| r.0.len() >= 4);
                        Polygon::new(ext, rings)
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Districts that are invalid or overlap a neighbour by more than 1 m².
fn bad_districts(mps: &[MultiPolygon<f64>]) -> HashSet<usize> {
    let mut bad = HashSet::new();
    for (i, mp) in mps.iter().enumerate() {
        if mp.0.is_empty() || !mp.is_valid() {
            bad.insert(i);
        }
    }
    for i in 0..mps.len() {
        for j in (i + 1)..mps.len() {
            if bad.contains(&i) || bad.contains(&j) {
                continue;
            }
            let (Some(a), Some(b)) = (mps[i].bounding_rect(), mps[j].bounding_rect()) else {
                continue;
            };
            if !a.intersects(&b) {
                continue;
            }
            if mps[i].intersection(&mps[j]).unsigned_area() > 1.0 {
                bad.insert(i);
                bad.insert(j);
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, unary_union};

    /// Two squares sharing a wiggly edge: the shared edge must stay shared, so the union's
    /// area equals the sum of the areas and there is no overlap.
    #[test]
    fn shared_edge_stays_shared() {
        let wiggle: Vec<(f64, f64)> = (0..=100)
            .map(|i| (100.0 + if i % 2 == 0 { 0.0 } else { 3.0 }, i as f64 * 10.0))
            .collect();
        let mut left: Vec<(f64, f64)> = vec![(0.0, 0.0)];
        left.extend(wiggle.iter().copied());
        left.push((0.0, 1000.0));
        let mut right: Vec<(f64, f64)> = wiggle.iter().rev().copied().collect();
        right.push((300.0, 0.0));
        right.push((300.0, 1000.0));
        right.rotate_right(1);
        let a = MultiPolygon(vec![Polygon::new(LineString::from(left), vec![])]);
        let b = MultiPolygon(vec![Polygon::new(LineString::from(right), vec![])]);
        assert!(a.is_valid() && b.is_valid());
        let (out, report) = simplify_shared(&[a, b], 10.0, 0.1);
        assert!(report.vertices_out < report.vertices_in / 4, "{report:?}");
        assert_eq!(report.shared_arcs, 1);
        let sum = out[0].unsigned_area() + out[1].unsigned_area();
        let union = unary_union(out.iter()).unsigned_area();
        assert!((sum - union).abs() < 1e-6, "sum {sum} union {union}");
        assert!(out[0].intersection(&out[1]).unsigned_area() < 1e-6);
        assert!((union - 300.0 * 1000.0).abs() < 1e-6);
    }

    #[test]
    fn island_ring_survives_when_larger_than_tolerance() {
        let sq = polygon![(x: 0.0, y: 0.0), (x: 500.0, y: 0.0), (x: 500.0, y: 500.0), (x: 0.0, y: 500.0)];
        let (out, _) = simplify_shared(&[MultiPolygon(vec![sq])], 10.0, 0.1);
        assert!((out[0].unsigned_area() - 250_000.0).abs() < 1e-6);
    }
}
