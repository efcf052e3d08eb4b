//! Duplicates across sources: the same assault reported to A&E and to the police.
//!
//! The rule, stated once: two records from **different sources** are taken for one incident
//! when their positions are at most `distance_m` apart (EPSG:27700 metres) and their
//! occurrence windows, each widened by `window_min` minutes on both sides, overlap (for two
//! timed records: their times are at most `window_min` apart). Records whose window is
//! longer than a day and an hour (police.uk months) are never matched: their time says too
//! little. Sources rank as the rule's `priority` lists them (by default `police` first),
//! then in the order the ingest first met them (the order of the input files); of a
//! matched pair the record of the later-ranked source is flagged
//! [`FLAG_CROSS_SOURCE_DUPLICATE`]. Nothing is merged or removed: analyses count every
//! record unless asked to drop the flagged ones (`--drop-duplicates`), and per-source
//! layers are unaffected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::store::{IncidentStore, FLAG_CROSS_SOURCE_DUPLICATE};

/// Longest occurrence window that can be matched, minutes (a day, plus the DST hour).
pub const MAX_MATCH_SPAN_MIN: i32 = 25 * 60;

/// When two records from different sources are taken for one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DuplicateRule {
    /// Time window, minutes.
    pub window_min: i32,
    /// Distance, metres.
    pub distance_m: f64,
    /// Sources in rank order; sources not listed follow in the order first met.
    pub priority: Vec<String>,
}

impl Default for DuplicateRule {
    /// 60 minutes and 200 metres: an A&E patient's account of when and where, against the
    /// police record's.
    fn default() -> Self {
        Self {
            window_min: 60,
            distance_m: 200.0,
            priority: vec!["police".into()],
        }
    }
}

impl DuplicateRule {
    /// The rule in words, for reports and metadata.
    pub fn describe(&self) -> String {
        format!(
            "records from different sources at most {} m and {} minutes apart (a record with a span matches a time inside it or within {} minutes of its ends; spans over 25 hours never match); of a pair, the record of the lower-ranked source is flagged, none merged (rank: {}then the order of the inputs)",
            self.distance_m,
            self.window_min,
            self.window_min,
            self.priority
                .iter()
                .map(|p| format!("{p}, "))
                .collect::<String>()
        )
    }
}

/// What the duplicate pass found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DuplicateReport {
    /// The rule in words.
    pub rule: String,
    /// Time window, minutes.
    pub window_min: i32,
    /// Distance, metres.
    pub distance_m: f64,
    /// Matched pairs.
    pub pairs: u64,
    /// Records flagged (a record matching several earlier-source records counts once).
    pub flagged: u64,
    /// Records flagged, by source.
    pub flagged_by_source: BTreeMap<String, u64>,
    /// Up to 20 pairs, `source:id ~ source:id` (the flagged record second).
    pub examples: Vec<String>,
}

/// Flags every record that duplicates a record of an earlier-ranked source under `rule`,
/// and says what it found. Clears earlier flags first, so running it twice gives the same.
///
/// Candidates are found through a grid of `distance_m` cells (the 3 × 3 cells around a
/// record) with each cell's records sorted by start time, so the work grows with the
/// records near each other in space and time, not with the square of the store.
pub fn flag_cross_source_duplicates(
    store: &mut IncidentStore,
    rule: &DuplicateRule,
) -> DuplicateReport {
    for f in &mut store.flags {
        *f &= !FLAG_CROSS_SOURCE_DUPLICATE;
    }
    let mut report = DuplicateReport {
        rule: rule.describe(),
        window_min: rule.window_min,
        distance_m: rule.distance_m,
        ..Default::default()
    };
    let d = rule.distance_m.max(1.0);
    let w = rule.window_min.max(0);
    let n = store.len();
    let matchable =
        |i: usize| store.to_min[i].saturating_sub(store.from_min[i]) <= MAX_MATCH_SPAN_MIN;
    let cell = |i: usize| {
        (
            (store.x_m[i] / d).floor() as i64,
            (store.y_m[i] / d).floor() as i64,
        )
    };
    let mut cells: hashbrown::HashMap<(i64, i64), Vec<u32>> = hashbrown::HashMap::new();
    for i in (0..n).filter(|&i| matchable(i)) {
        cells.entry(cell(i)).or_default().push(i as u32);
    }
    for v in cells.values_mut() {
        v.sort_unstable_by_key(|&i| (store.from_min[i as usize], i));
    }
    // Rank of each source id: listed in the priority first, then by id (order first met).
    let names = store.sources.names();
    let rank: Vec<usize> = (0..names.len())
        .map(|id| {
            rule.priority
                .iter()
                .position(|p| *p == names[id])
                .unwrap_or(rule.priority.len() + id)
        })
        .collect();
    let rank_of = |i: usize| {
        rank.get(store.source[i] as usize)
            .copied()
            .unwrap_or(usize::MAX)
    };
    let mut flagged = vec![false; n];
    for i in (0..n).filter(|&i| matchable(i)) {
        let (cx, cy) = cell(i);
        let (lo, hi) = (
            store.from_min[i].saturating_sub(w),
            store.to_min[i].saturating_add(w),
        );
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(list) = cells.get(&(cx + dx, cy + dy)) else {
                    continue;
                };
                // Records starting early enough to reach `lo` start at most a longest
                // window before it.
                let first = list.partition_point(|&j| {
                    store.from_min[j as usize] < lo.saturating_sub(MAX_MATCH_SPAN_MIN)
                });
                for &j in &list[first..] {
                    let j = j as usize;
                    if store.from_min[j] > hi {
                        break;
                    }
                    // Each pair once, from the earlier-ranked source's side.
                    if rank_of(j) <= rank_of(i) || store.to_min[j] < lo {
                        continue;
                    }
                    let dist = (store.x_m[i] - store.x_m[j]).hypot(store.y_m[i] - store.y_m[j]);
                    if dist > rule.distance_m {
                        continue;
                    }
                    report.pairs += 1;
                    if report.examples.len() < 20 {
                        report.examples.push(format!(
                            "{}:{} ~ {}:{}",
                            store.source_name(i),
                            store.ids.get(i),
                            store.source_name(j),
                            store.ids.get(j)
                        ));
                    }
                    flagged[j] = true;
                }
            }
        }
    }
    for (j, f) in flagged.iter().enumerate() {
        if *f {
            store.flags[j] |= FLAG_CROSS_SOURCE_DUPLICATE;
            report.flagged += 1;
            *report
                .flagged_by_source
                .entry(store.source_name(j).to_string())
                .or_insert(0) += 1;
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::offence::OffenceGroup;
    use crate::incidents::store::{NewIncident, AGE_UNKNOWN};

    fn push(s: &mut IncidentStore, id: &str, src: &str, x: f64, y: f64, from: i32, to: i32) {
        let source = s.source_id(src).unwrap();
        s.push(NewIncident {
            id: id.as_bytes(),
            x_m: x,
            y_m: y,
            district: 0,
            group: OffenceGroup::ViolenceWithInjury,
            offence: 0,
            from_min: from,
            to_min: to,
            flags: 0,
            harm_given: f32::NAN,
            victim_age: AGE_UNKNOWN,
            suspect_age: AGE_UNKNOWN,
            location_type: 0,
            source,
        });
    }

    /// Every pair against the rule directly: the grid search finds exactly these.
    #[allow(clippy::needless_range_loop)]
    fn brute(s: &IncidentStore, r: &DuplicateRule) -> (u64, Vec<bool>) {
        let rank = |i: usize| {
            let name = s.source_name(i);
            r.priority
                .iter()
                .position(|p| p == name)
                .unwrap_or(r.priority.len() + s.source[i] as usize)
        };
        let mut pairs = 0;
        let mut f = vec![false; s.len()];
        for i in 0..s.len() {
            for j in 0..s.len() {
                let ok = |k: usize| s.to_min[k] - s.from_min[k] <= MAX_MATCH_SPAN_MIN;
                if rank(i) < rank(j)
                    && ok(i)
                    && ok(j)
                    && (s.x_m[i] - s.x_m[j]).hypot(s.y_m[i] - s.y_m[j]) <= r.distance_m
                    && s.from_min[j] <= s.to_min[i] + r.window_min
                    && s.to_min[j] >= s.from_min[i] - r.window_min
                {
                    pairs += 1;
                    f[j] = true;
                }
            }
        }
        (pairs, f)
    }

    #[test]
    fn the_stated_rule_and_nothing_else() {
        let mut s = IncidentStore::new();
        let t = 29_000_000;
        push(&mut s, "P1", "police", 600_000.0, 150_000.0, t, t);
        // Same event at A&E 40 minutes later, 150 m away: flagged.
        push(&mut s, "H1", "health", 600_150.0, 150_000.0, t + 40, t + 40);
        // 61 minutes: not.
        push(&mut s, "H2", "health", 600_000.0, 150_000.0, t + 61, t + 61);
        // 201 m: not.
        push(&mut s, "H3", "health", 600_201.0, 150_000.0, t, t);
        // Same source as P1: never a cross-source duplicate.
        push(&mut s, "P2", "police", 600_000.0, 150_000.0, t, t);
        // A whole-day record covering P1's time: matched.
        push(
            &mut s,
            "C1",
            "council",
            600_050.0,
            150_050.0,
            t - 600,
            t + 840,
        );
        // A month: never matched.
        push(
            &mut s,
            "P3",
            "police",
            600_000.0,
            150_000.0,
            t - 20_000,
            t + 20_000,
        );
        let r = DuplicateRule::default();
        let rep = flag_cross_source_duplicates(&mut s, &r);
        let flagged: Vec<&str> = (0..s.len())
            .filter(|&i| s.flags[i] & FLAG_CROSS_SOURCE_DUPLICATE != 0)
            .map(|i| s.ids.get(i))
            .collect();
        assert_eq!(flagged, ["H1", "C1"]);
        // H2 and H3 match only C1 (H2's time lies inside C1's day; H3 is 159 m from it),
        // which ranks after them: they stay unflagged.
        let (pairs, f) = brute(&s, &r);
        assert_eq!(rep.pairs, pairs);
        assert_eq!(
            f,
            (0..s.len())
                .map(|i| s.flags[i] & FLAG_CROSS_SOURCE_DUPLICATE != 0)
                .collect::<Vec<_>>()
        );
        assert_eq!(rep.flagged, 2);
        assert_eq!(rep.flagged_by_source["health"], 1);
        assert_eq!(rep.flagged_by_source["council"], 1);
        // Running again gives the same.
        assert_eq!(flag_cross_source_duplicates(&mut s, &r), rep);
    }

    #[test]
    fn grid_search_equals_every_pair_on_random_records() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let mut s = IncidentStore::new();
        for k in 0..1500 {
            let src = ["police", "health", "council"][next(3) as usize];
            let from = 29_000_000 + next(20_000) as i32;
            let span = [0, 0, 30, 1440, 50_000][next(5) as usize];
            push(
                &mut s,
                &format!("R{k}"),
                src,
                600_000.0 + next(3000) as f64,
                150_000.0 + next(3000) as f64,
                from,
                from + span,
            );
        }
        for r in [
            DuplicateRule::default(),
            DuplicateRule {
                window_min: 0,
                distance_m: 500.0,
                priority: vec!["council".into(), "police".into()],
            },
        ] {
            let rep = flag_cross_source_duplicates(&mut s, &r);
            let (pairs, f) = brute(&s, &r);
            assert!(pairs > 0);
            assert_eq!(rep.pairs, pairs);
            for (i, fi) in f.iter().enumerate() {
                assert_eq!(s.flags[i] & FLAG_CROSS_SOURCE_DUPLICATE != 0, *fi);
            }
        }
    }
}
