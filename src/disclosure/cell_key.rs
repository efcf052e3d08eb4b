//! Cell-key perturbation of selection counts, so that differences between overlapping
//! selections (January–June against January–May) carry noise that no number of queries
//! removes.
//!
//! The method is the cell-key method of the ONS (Census 2021 tables) and the Australian
//! Bureau of Statistics (TableBuilder): every incident has a fixed pseudo-random *record
//! key*; a set of incidents has the *cell key* `Σ record keys mod 2³²`; the published value
//! of a count `n` is `n + e`, where the noise `e ∈ {−2, …, 2}` is looked up from `n` and the
//! cell key. The same set of incidents always gets the same noise, so repeating a query, or
//! asking it another way, gives the same answer and averages nothing away.
//!
//! Here the sets perturbed are a feature's selected incidents in one *period unit* of the
//! tier's granularity (a Europe/London month on public layers): a selection over several
//! months is the sum of its months' perturbed counts. Every answer over any run of months
//! is therefore a function of one fixed table of perturbed month counts, and the most two
//! (or any number of) overlapping answers can give back is a month's perturbed count,
//! which is consistent with at least three true counts ([`perturb`]).
//!
//! Record keys are the first 32 bits of SHA-256 of a domain tag and the incident's
//! identifier, so they are the same in every refresh of the same incidents (a new key each
//! night would let a reader average the noise away across nights).

use sha2::{Digest, Sha256};

use super::Granularity;
use crate::incidents::time::{local_datetime, EpochMinutes};
use crate::incidents::IncidentStore;

/// Largest absolute noise added to one period unit's count.
pub const MAX_NOISE: u64 = 2;

/// An incident's record key: the first 32 bits (big-endian) of SHA-256 of
/// `"hotspots cell key\0"` followed by its identifier.
pub fn record_key(id: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(b"hotspots cell key\0");
    h.update(id);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The perturbed value of a count `n` whose incidents have cell key `cell_key`:
/// `max(0, n + e)` with `e ∈ {−2, …, 2}` chosen by a 64-bit mix (SplitMix64's finaliser) of
/// the cell key and `n`, each value about equally often; 0 stays 0 (an empty set has no
/// incident to protect). Any output is reached from at least three true counts, so a
/// perturbed count never pins the true one.
pub fn perturb(n: u64, cell_key: u32) -> u64 {
    if n == 0 {
        return 0;
    }
    let mut z = (u64::from(cell_key) << 32 | (n & 0xffff_ffff)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    // Multiply-shift maps z uniformly onto 0..5.
    let e = ((u128::from(z) * (2 * MAX_NOISE as u128 + 1)) >> 64) as i64 - MAX_NOISE as i64;
    (n as i64 + e).max(0) as u64
}

impl Granularity {
    /// The period unit holding epoch minute `m`: a Europe/London month (`year × 12 + month`),
    /// day (days since 1970-01-01 in local time) or, at minute granularity, the minute.
    pub fn unit_of(self, m: EpochMinutes) -> i64 {
        match self {
            Granularity::Minute => i64::from(m),
            Granularity::Day => {
                let t = local_datetime(m).date();
                i64::from(t.year()) * 372 + i64::from(t.month()) * 31 + i64::from(t.day())
            }
            Granularity::Month => {
                let t = local_datetime(m);
                i64::from(t.year()) * 12 + i64::from(t.month())
            }
        }
    }
}

impl Granularity {
    /// The period `[from, to)` widened to whole units (months: from the first of `from`'s
    /// month to the first of the month after `to`'s last minute), so a published extent
    /// does not give the first and last incidents' exact times.
    pub fn widen(self, from: EpochMinutes, to: EpochMinutes) -> (EpochMinutes, EpochMinutes) {
        use crate::incidents::time::local_day_start;
        let day = |m: EpochMinutes| local_datetime(m).date();
        let last = to.saturating_sub(1).max(from);
        let (a, b) = match self {
            Granularity::Minute => return (from, to),
            Granularity::Day => (day(from), day(last).tomorrow().ok()),
            Granularity::Month => (
                day(from).first_of_month(),
                day(last).last_of_month().tomorrow().ok(),
            ),
        };
        (
            local_day_start(a).unwrap_or(from),
            b.and_then(|b| local_day_start(b).ok()).unwrap_or(to),
        )
    }
}

/// Each incident's record key and period unit, computed once per served snapshot.
#[derive(Debug, Clone)]
pub struct CellKeys {
    /// The granularity the units are at.
    pub granularity: Granularity,
    /// Record key of each incident, in store order.
    pub key: Vec<u32>,
    /// Period unit of each incident's start ([`Granularity::unit_of`]).
    pub unit: Vec<i64>,
}

impl CellKeys {
    /// Keys and units for every incident of `store` at `granularity`.
    pub fn new(store: &IncidentStore, granularity: Granularity) -> CellKeys {
        let n = store.len();
        CellKeys {
            granularity,
            key: (0..n).map(|i| record_key(store.ids.get_bytes(i))).collect(),
            unit: store
                .from_min
                .iter()
                .map(|&m| granularity.unit_of(m))
                .collect(),
        }
    }

    /// The perturbed count of the incidents `rows` (store indexes): each period unit's
    /// count perturbed with its own cell key ([`perturb`]), summed over the units.
    pub fn protected_count(&self, rows: impl IntoIterator<Item = usize>) -> u64 {
        // (unit, count, cell key), sorted by unit to group.
        let mut per: Vec<(i64, u32)> = rows
            .into_iter()
            .map(|r| (self.unit[r], self.key[r]))
            .collect();
        per.sort_unstable_by_key(|p| p.0);
        let mut total = 0;
        let mut i = 0;
        while i < per.len() {
            let unit = per[i].0;
            let (mut n, mut ck) = (0u64, 0u32);
            while i < per.len() && per[i].0 == unit {
                n += 1;
                ck = ck.wrapping_add(per[i].1);
                i += 1;
            }
            total += perturb(n, ck);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn record_keys_are_sha256_prefixes() {
        // Independent: the digest of the concatenation, computed in one call.
        let d = Sha256::digest(b"hotspots cell key\0KNT-0001");
        assert_eq!(
            record_key(b"KNT-0001"),
            u32::from_be_bytes([d[0], d[1], d[2], d[3]])
        );
        assert_ne!(record_key(b"KNT-0001"), record_key(b"KNT-0002"));
    }

    #[test]
    fn noise_is_bounded_balanced_and_zero_stays_zero() {
        let mut hist = [0usize; 5];
        for key in 0..20_000u32 {
            let ck = key.wrapping_mul(2_654_435_761);
            assert_eq!(perturb(0, ck), 0);
            for n in [7u64, 40] {
                let p = perturb(n, ck) as i64;
                let e = p - n as i64;
                assert!(e.abs() <= 2, "n={n} key={ck}: {p}");
                if n == 7 {
                    hist[(e + 2) as usize] += 1;
                }
            }
            let p1 = perturb(1, ck);
            assert!(p1 <= 3);
        }
        // Each of the five noises about a fifth of the time (expected 4,000 each).
        for h in hist {
            assert!((3_700..4_300).contains(&h), "{hist:?}");
        }
    }

    #[test]
    fn every_perturbed_count_is_reached_from_three_or_more_true_counts() {
        // For each published value, the true counts 0..60 that some cell key maps to it.
        let mut from: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        for n in 0..60u64 {
            for key in 0..4_000u32 {
                from.entry(perturb(n, key.wrapping_mul(0x9e37_79b9)))
                    .or_default()
                    .insert(n);
            }
        }
        for (p, ns) in &from {
            if *p < 55 {
                assert!(ns.len() >= 3, "{p} is reached only from {ns:?}");
            }
        }
    }

    #[test]
    fn months_are_perturbed_separately_and_summed() {
        // Two months: three incidents in one, seven in the other.
        let keys = CellKeys {
            granularity: Granularity::Month,
            key: (0..10)
                .map(|i| record_key(format!("id{i}").as_bytes()))
                .collect(),
            unit: (0..10).map(|i| if i < 3 { 1 } else { 2 }).collect(),
        };
        let ck =
            |r: std::ops::Range<usize>| r.map(|i| keys.key[i]).fold(0u32, |a, k| a.wrapping_add(k));
        let expected = perturb(3, ck(0..3)) + perturb(7, ck(3..10));
        assert_eq!(keys.protected_count(0..10), expected);
        // Order does not matter, and one month alone is its own perturbed count.
        assert_eq!(keys.protected_count((0..10).rev()), expected);
        assert_eq!(keys.protected_count(3..10), perturb(7, ck(3..10)));
        assert_eq!(keys.protected_count(std::iter::empty()), 0);
    }

    #[test]
    fn extents_widen_to_whole_months() {
        use crate::incidents::time::parse_datetime;
        let a = parse_datetime("2025-01-01T01:40:00Z").unwrap();
        let b = parse_datetime("2025-12-31T23:08:00Z").unwrap();
        let (x, y) = Granularity::Month.widen(a, b + 1);
        assert_eq!(x, parse_datetime("2025-01-01T00:00:00Z").unwrap());
        assert_eq!(y, parse_datetime("2026-01-01T00:00:00Z").unwrap());
        // June in London starts at 23:00 UTC on 31 May.
        let j = parse_datetime("2025-06-10T12:00:00Z").unwrap();
        let (x, y) = Granularity::Month.widen(j, j + 1);
        assert_eq!(x, parse_datetime("2025-05-31T23:00:00Z").unwrap());
        assert_eq!(y, parse_datetime("2025-06-30T23:00:00Z").unwrap());
        assert_eq!(Granularity::Minute.widen(j, j + 1), (j, j + 1));
    }

    #[test]
    fn month_units_follow_london_time() {
        use crate::incidents::time::parse_datetime;
        // 2025-05-31T23:30 UTC is 00:30 on 1 June in London (BST).
        let m = parse_datetime("2025-05-31T23:30:00Z").unwrap();
        assert_eq!(Granularity::Month.unit_of(m), 2025 * 12 + 6);
        let m = parse_datetime("2025-12-31T23:30:00Z").unwrap();
        assert_eq!(Granularity::Month.unit_of(m), 2025 * 12 + 12);
        let a = parse_datetime("2025-06-01T22:59:00Z").unwrap();
        let b = parse_datetime("2025-06-01T23:00:00Z").unwrap();
        assert_ne!(Granularity::Day.unit_of(a), Granularity::Day.unit_of(b));
    }
}
