//! How well a hotspot map made from one period predicts the next: the hit rate, PAI, PEI
//! and RRI at shares of land area, and the stability of the top cells.
//!
//! Units are equal-area land cells `i = 0..U`. A method gives each cell a score `s_i` from
//! the training period; `train_i` and `test_i` count the incidents of each period in it.
//! At a coverage share `c` (a fraction of land: 0.01 is 1%) the hotspots are the
//! `k = max(1, round(c·U))` best-scored cells, ties broken by the lowest test count first
//! (as R's ptools, so a tie never flatters the method). Then, with `Y = Σ test`,
//! `X = Σ train`, `y_k` and `x_k` the counts in the k cells:
//!
//! - hit rate `h = y_k / Y`;
//! - PAI `= h / (k/U)` (Chainey, Tompson & Uhlig 2008);
//! - PEI `= y_k / y*_k`, where `y*_k` is the most any k cells hold in the test period (the
//!   test period's own top k): PAI over the best PAI at the same area (Hunt 2016);
//! - RRI `= (y_k / x_k) / (Y / X)` (Levine 2008, the recapture rate index: the hotspots'
//!   change between periods relative to the whole area's);
//! - stability: the Jaccard index `|A ∩ B| / |A ∪ B|` of the k best cells by the method's
//!   scores in the two periods.
//!
//! Undefined values (no test incidents, no training incidents in the hotspots) are `None`.

use serde::Serialize;

/// The figures at one coverage share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoveragePoint {
    /// Share of land area asked for (a fraction: 0.01 is 1%).
    pub area_share: f64,
    /// Cells in the hotspots (k).
    pub cells: usize,
    /// The share of land the k cells actually cover (k/U).
    pub area_share_used: f64,
    /// Test incidents in the hotspots.
    pub captured: f64,
    /// Hit rate: captured / all test incidents.
    pub hit_rate: Option<f64>,
    /// Predictive accuracy index.
    pub pai: Option<f64>,
    /// Predictive efficiency index (PAI over the best PAI at the same area).
    pub pei: Option<f64>,
    /// Levine's recapture rate index.
    pub rri: Option<f64>,
}

/// Cells ranked for hotspot selection: best score first, ties by lowest `tie_break` first.
pub fn rank(score: &[f64], tie_break: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| {
        score[b]
            .total_cmp(&score[a])
            .then(tie_break[a].total_cmp(&tie_break[b]))
            .then(a.cmp(&b))
    });
    order
}

/// Cells in the hotspots at coverage share `share` of `units` cells: `max(1, round(share·U))`,
/// at most U.
pub fn cells_for_share(share: f64, units: usize) -> usize {
    ((share * units as f64).round() as usize).clamp(1, units.max(1))
}

/// The coverage figures for each share in `shares` (see the module docs). `score`, `train`
/// and `test` are per land cell, all the same length.
pub fn coverage(score: &[f64], train: &[f64], test: &[f64], shares: &[f64]) -> Vec<CoveragePoint> {
    let units = score.len();
    let order = rank(score, test);
    let mut best: Vec<f64> = test.to_vec();
    best.sort_by(|a, b| b.total_cmp(a));
    let total_y: f64 = test.iter().sum();
    let total_x: f64 = train.iter().sum();
    shares
        .iter()
        .map(|&share| {
            if units == 0 {
                return CoveragePoint {
                    area_share: share,
                    cells: 0,
                    area_share_used: 0.0,
                    captured: 0.0,
                    hit_rate: None,
                    pai: None,
                    pei: None,
                    rri: None,
                };
            }
            let k = cells_for_share(share, units);
            let captured: f64 = order[..k].iter().map(|&i| test[i]).sum();
            let in_train: f64 = order[..k].iter().map(|&i| train[i]).sum();
            let best_k: f64 = best[..k].iter().sum();
            let used = k as f64 / units as f64;
            let hit_rate = (total_y > 0.0).then(|| captured / total_y);
            CoveragePoint {
                area_share: share,
                cells: k,
                area_share_used: used,
                captured,
                hit_rate,
                pai: hit_rate.map(|h| h / used),
                pei: (best_k > 0.0).then(|| captured / best_k),
                rri: (in_train > 0.0 && total_x > 0.0 && total_y > 0.0)
                    .then(|| (captured / in_train) / (total_y / total_x)),
            }
        })
        .collect()
}

/// The Jaccard index of the `k` best cells by `a` and by `b` (ties by index), or `None`
/// when `k` is 0.
pub fn top_k_jaccard(a: &[f64], b: &[f64], k: usize) -> Option<f64> {
    if k == 0 || a.is_empty() {
        return None;
    }
    let k = k.min(a.len());
    let zeros = vec![0.0; a.len()];
    let top = |s: &[f64]| -> std::collections::BTreeSet<usize> {
        rank(s, &zeros)[..k].iter().copied().collect()
    };
    let (ta, tb) = (top(a), top(b));
    let inter = ta.intersection(&tb).count() as f64;
    let union = ta.union(&tb).count() as f64;
    Some(inter / union)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The methods reference's ptools vector: PAI at k = 1..6 of six unit cells.
    #[test]
    fn ptools_vector() {
        let obs = [6.0, 7.0, 3.0, 2.0, 1.0, 0.0];
        let pred = [8.0, 4.0, 4.0, 2.0, 1.0, 0.0];
        let shares: Vec<f64> = (1..=6).map(|k| k as f64 / 6.0).collect();
        let c = coverage(&pred, &obs, &obs, &shares);
        let want = [1.8947, 1.4211, 1.6842, 1.4211, 1.2000, 1.0000];
        for (p, w) in c.iter().zip(want) {
            assert!((p.pai.unwrap() - w).abs() < 5e-5, "{c:?}");
        }
        // The same as the PAI curve of the hotspots module.
        let curve = crate::hotspots::pai::pai_curve(&obs, &pred);
        for (p, q) in c.iter().zip(curve) {
            assert!((p.pai.unwrap() - q).abs() < 1e-12);
        }
        // At k = 2 the tie (4, 4) is broken by the lower observed count: cell 2 (3), so
        // the cells are 0 and 2, holding 9 of 19.
        assert_eq!(c[1].captured, 9.0);
        // PEI at k = 2: the best two cells hold 13.
        assert!((c[1].pei.unwrap() - 9.0 / 13.0).abs() < 1e-12);
        // Everything covered: PAI 1, PEI 1, hit rate 1.
        assert_eq!(c[5].hit_rate, Some(1.0));
        assert_eq!(c[5].pei, Some(1.0));
    }

    /// PEI against every k-subset: no k cells hold more than the best k.
    #[test]
    fn pei_best_is_the_best_subset_and_rri_by_hand() {
        let test = [3.0, 0.0, 5.0, 1.0, 4.0, 2.0, 0.0];
        let train = [1.0, 2.0, 6.0, 0.0, 2.0, 2.0, 1.0];
        let score = [0.1, 0.9, 0.8, 0.2, 0.7, 0.3, 0.0];
        let n = test.len();
        for k in 1..=n {
            let mut best = 0.0f64;
            for mask in 0u32..(1 << n) {
                if mask.count_ones() as usize == k {
                    let s: f64 = (0..n).filter(|i| mask >> i & 1 == 1).map(|i| test[i]).sum();
                    best = best.max(s);
                }
            }
            let c = &coverage(&score, &train, &test, &[k as f64 / n as f64])[0];
            assert_eq!(c.cells, k);
            let top: Vec<usize> = {
                let mut o: Vec<usize> = (0..n).collect();
                o.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
                o[..k].to_vec()
            };
            let y: f64 = top.iter().map(|&i| test[i]).sum();
            let x: f64 = top.iter().map(|&i| train[i]).sum();
            assert_eq!(c.captured, y);
            assert!((c.pei.unwrap() - y / best).abs() < 1e-12);
            let (ty, tx) = (15.0, 14.0);
            assert!((c.rri.unwrap() - (y / x) / (ty / tx)).abs() < 1e-12);
            assert!((c.pai.unwrap() - (y / ty) / (k as f64 / n as f64)).abs() < 1e-12);
        }
    }

    #[test]
    fn undefined_values_and_jaccard() {
        let c = &coverage(&[1.0, 0.0], &[0.0, 0.0], &[0.0, 0.0], &[0.5])[0];
        assert_eq!((c.hit_rate, c.pai, c.pei, c.rri), (None, None, None, None));
        assert_eq!(cells_for_share(0.001, 100), 1);
        assert_eq!(cells_for_share(0.05, 100), 5);
        assert_eq!(cells_for_share(2.0, 100), 100);
        let a = [5.0, 4.0, 3.0, 0.0];
        let b = [5.0, 0.0, 3.0, 4.0];
        // Top 2: {0, 1} and {0, 3}: 1 shared of 3.
        assert!((top_k_jaccard(&a, &b, 2).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(top_k_jaccard(&a, &a, 3), Some(1.0));
        assert_eq!(top_k_jaccard(&a, &b, 0), None);
    }
}
