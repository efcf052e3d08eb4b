//! Backtesting a density surface (KDE): the map is made from the training incidents, and
//! its land cells (the surface's cells whose centre is on land, all of one area) are scored
//! by the test incidents in them.

use serde::Serialize;

use super::metrics::{cells_for_share, coverage, top_k_jaccard, CoveragePoint};
use crate::boundaries::{BoundaryPack, DistrictIndex};
use crate::density::{
    compute_surface, Grid, IncidentFilter, Surface, SurfaceError, SurfaceOptions,
};
use crate::incidents::{HarmTable, IncidentStore};

/// One method's backtest on one training and test period.
#[derive(Debug, Clone, Serialize)]
pub struct SurfaceBacktest {
    /// Bandwidth used, metres, and the rule that chose it.
    pub bandwidth_m: f64,
    /// Rule that chose the bandwidth.
    pub bandwidth_method: String,
    /// Land cells (equal-area units), and their side in metres.
    pub land_cells: usize,
    /// Cell side, metres.
    pub cell_m: f64,
    /// Training and test incidents on land cells.
    pub train_incidents: f64,
    /// Test incidents on land cells.
    pub test_incidents: f64,
    /// The figures at each coverage share.
    pub coverage: Vec<CoveragePoint>,
    /// Jaccard index of the top cells at the first coverage share: the surface made from
    /// the training period against the same method on the test period.
    pub stability: Option<f64>,
}

/// Incidents `filter` keeps, counted in each cell of `grid` (row-major from the south).
pub fn counts_on(grid: &Grid, store: &IncidentStore, filter: &IncidentFilter) -> Vec<f64> {
    let mut out = vec![0.0; grid.len()];
    for i in 0..store.len() {
        if !filter.keep(store, i) {
            continue;
        }
        if let Some((ix, iy)) = grid.cell_of(store.x_m[i], store.y_m[i]) {
            out[iy * grid.nx + ix] += 1.0;
        }
    }
    out
}

/// The land cells of a surface: the cells with a value (centre on land).
pub fn land_cells(surface: &Surface) -> Vec<usize> {
    (0..surface.values.len())
        .filter(|&i| surface.values[i].is_finite())
        .collect()
}

/// How a method makes its map from a period's incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The density surface `opts` makes.
    Kde,
    /// Last period's incidents per land cell (ties go to the lowest test count).
    Counts,
}

/// Makes `method`'s map from `train` and scores it on `test` at each of `shares` (fractions
/// of land area); stability compares it with the same method's map of `test`. The land
/// cells are those of the surface `opts` makes (for both methods); the two stores must share
/// the boundary pack (the same grid is used: give `opts.extent` or leave the county's).
///
/// # Errors
/// The surface cannot be made (e.g. an automatic bandwidth with no spread).
#[allow(clippy::too_many_arguments)]
pub fn backtest(
    method: Method,
    pack: &BoundaryPack,
    index: &DistrictIndex,
    harm: &HarmTable,
    train: &IncidentStore,
    test: &IncidentStore,
    opts: &SurfaceOptions,
    shares: &[f64],
) -> Result<SurfaceBacktest, SurfaceError> {
    let made = compute_surface(pack, index, train, harm, opts)?;
    let land = land_cells(&made);
    let pick = |v: &[f64]| -> Vec<f64> { land.iter().map(|&i| v[i]).collect() };
    let train_counts = pick(&counts_on(&made.grid, train, &opts.filter));
    let test_counts = pick(&counts_on(&made.grid, test, &opts.filter));
    let (score, next_score, bandwidth_m, bandwidth_method) = match method {
        Method::Kde => (
            pick(&made.values),
            compute_surface(pack, index, test, harm, opts)
                .ok()
                .filter(|next| next.grid.len() == made.grid.len())
                .map(|next| pick(&next.values)),
            made.bandwidth_m,
            made.bandwidth_method.clone(),
        ),
        Method::Counts => (
            train_counts.clone(),
            Some(test_counts.clone()),
            0.0,
            "none (cell counts)".to_string(),
        ),
    };
    let points = coverage(&score, &train_counts, &test_counts, shares);
    let stability = match (shares.first(), next_score) {
        (Some(&s), Some(next)) => top_k_jaccard(&score, &next, cells_for_share(s, land.len())),
        _ => None,
    };
    Ok(SurfaceBacktest {
        bandwidth_m,
        bandwidth_method,
        land_cells: land.len(),
        cell_m: made.grid.cell_m,
        train_incidents: train_counts.iter().sum(),
        test_incidents: test_counts.iter().sum(),
        coverage: points,
        stability,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::density::BandwidthRule;
    use crate::fixtures::{generate, FixtureOptions};
    use crate::incidents::{IngestOptions, Ingester};

    fn store(index: &DistrictIndex, pack: &BoundaryPack, seed: u64) -> IncidentStore {
        let rows = generate(
            pack,
            index,
            &FixtureOptions {
                seed,
                count: 3000,
                ..Default::default()
            },
        )
        .unwrap();
        let mut csv = Vec::new();
        crate::fixtures::write_csv_to(&rows, true, &mut csv).unwrap();
        let mut ing = Ingester::new(
            index,
            IngestOptions {
                split_on_thread: false,
                ..Default::default()
            },
        )
        .unwrap();
        ing.ingest_bytes("f.csv", &csv).unwrap();
        ing.finish().unwrap().0
    }

    /// Two independent draws of the same planted hotspots: last period's map captures far
    /// more of this period's incidents than its share of land, the planted places are the
    /// same in both (stability well above chance), and the capture equals a direct count.
    #[test]
    fn planted_stable_hotspots_predict_the_next_period() {
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        let (train, test) = (store(&index, &pack, 11), store(&index, &pack, 12));
        let opts = SurfaceOptions {
            cell_m: 150.0,
            bandwidth: BandwidthRule::Fixed(300.0),
            ..Default::default()
        };
        let harm = HarmTable::default_table();
        let b = backtest(
            Method::Kde,
            &pack,
            &index,
            &harm,
            &train,
            &test,
            &opts,
            &[0.001, 0.01],
        )
        .unwrap();
        let one = &b.coverage[0];
        // 0.1% of land (166 cells of 150 m) around the planted places: measured PAI 363,
        // hit rate 0.36, PEI 0.86, RRI 0.98, stability 0.67 (a random map has PAI about 1).
        assert!(one.pai.unwrap() > 100.0, "{b:?}");
        assert!(
            one.hit_rate.unwrap() > 0.2 && one.pei.unwrap() > 0.7,
            "{b:?}"
        );
        assert!((0.8..1.25).contains(&one.rri.unwrap()), "{b:?}");
        assert!(b.stability.unwrap() > 0.5, "{b:?}");
        // More land, more captured, lower PAI.
        assert!(b.coverage[1].captured >= one.captured && b.coverage[1].pai < one.pai);
        // The captured count by hand: the top 1% of land cells by the training surface.
        let made = compute_surface(&pack, &index, &train, &harm, &opts).unwrap();
        let land = land_cells(&made);
        let k = cells_for_share(0.001, land.len());
        let mut by_score = land.clone();
        by_score.sort_by(|&a, &c| made.values[c].total_cmp(&made.values[a]));
        let counts = counts_on(&made.grid, &test, &IncidentFilter::default());
        let direct: f64 = by_score[..k].iter().map(|&i| counts[i]).sum();
        // Ties among the top scores are rare on a continuous surface; allow one tied cell.
        assert!((one.captured - direct).abs() <= counts.iter().cloned().fold(0.0, f64::max));
        assert_eq!(b.land_cells, land.len());
    }
}
