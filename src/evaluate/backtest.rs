//! Backtesting a hotspot method: its map is made from the training period's incidents, and
//! the equal-area land cells it ranks best are scored by the test period's incidents in them
//! (the measures of [`super::metrics`]).
//!
//! The units are the cells of one BNG-aligned grid whose centre is on land ([`LandCells`]),
//! the same for every method, so the methods are compared on the same land.

use std::sync::OnceLock;

use serde::Serialize;

use super::metrics::{cells_for_share, coverage, top_k_jaccard, CoveragePoint};
use crate::boundaries::{BoundaryPack, DistrictIndex};
use crate::density::surface::{land_mask, surface_grid};
use crate::density::{
    compute_surface, BandwidthRule, Grid, IncidentFilter, SurfaceError, SurfaceOptions,
};
use crate::gistar::{gi_star, CellKind, CellSet, Neighbourhood};
use crate::hotspots::grip::{grip_cells, GripOptions};
use crate::incidents::{HarmTable, IncidentStore};

/// Errors of a backtest.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// A surface could not be made (e.g. an automatic bandwidth with no spread).
    #[error(transparent)]
    Surface(#[from] SurfaceError),
    /// The Gi* cells could not be built.
    #[error("Gi* cells: {0}")]
    Cells(String),
    /// Too little data for a rolling backtest.
    #[error("{0}")]
    Periods(String),
}

/// The equal-area units of a backtest: the cells of a grid aligned to multiples of its side
/// (as the KDE's and the Grip cells) whose centre is on land.
#[derive(Debug, Clone)]
pub struct LandCells {
    /// The grid (row-major from the south).
    pub grid: Grid,
    /// Grid index of each land cell, ascending.
    pub cells: Vec<usize>,
    /// Land-cell position of each grid cell (`u32::MAX` off land).
    position: Vec<u32>,
}

impl LandCells {
    /// The land cells of side `cell_m` metres over the pack's bounding box (or `extent`,
    /// EPSG:27700 xmin, ymin, xmax, ymax).
    ///
    /// # Errors
    /// As [`surface_grid`]: an empty pack or extent, a side that is not a positive number,
    /// or too many cells.
    pub fn new(
        pack: &BoundaryPack,
        index: &DistrictIndex,
        cell_m: f64,
        extent: Option<[f64; 4]>,
    ) -> Result<Self, SurfaceError> {
        let grid = surface_grid(pack, cell_m, extent)?;
        let mask = land_mask(&grid, index);
        let cells: Vec<usize> = (0..grid.len()).filter(|&i| mask[i]).collect();
        let mut position = vec![u32::MAX; grid.len()];
        for (p, &i) in cells.iter().enumerate() {
            position[i] = p as u32;
        }
        Ok(LandCells {
            grid,
            cells,
            position,
        })
    }

    /// Number of land cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when no cell is on land.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The land-cell position of a point (EPSG:27700 metres), if it falls in a land cell.
    pub fn position_of(&self, x_m: f64, y_m: f64) -> Option<usize> {
        let (ix, iy) = self.grid.cell_of(x_m, y_m)?;
        let p = self.position[iy * self.grid.nx + ix];
        (p != u32::MAX).then_some(p as usize)
    }

    /// Incidents `filter` keeps, counted in each land cell (incidents in no land cell are
    /// left out, as incidents outside the districts are everywhere).
    pub fn counts(&self, store: &IncidentStore, filter: &IncidentFilter) -> Vec<f64> {
        self.counts_and_off(store, filter).0
    }

    /// [`LandCells::counts`], and how many kept incidents fall in no land cell (a cell whose
    /// centre is at sea or outside the districts).
    pub fn counts_and_off(
        &self,
        store: &IncidentStore,
        filter: &IncidentFilter,
    ) -> (Vec<f64>, f64) {
        let mut out = vec![0.0; self.len()];
        let mut off = 0.0;
        for i in 0..store.len() {
            if filter.keep(store, i) {
                match self.position_of(store.x_m[i], store.y_m[i]) {
                    Some(p) => out[p] += 1.0,
                    None => off += 1.0,
                }
            }
        }
        (out, off)
    }

    /// Values of a full-grid array at the land cells.
    pub fn pick(&self, grid_values: &[f64]) -> Vec<f64> {
        self.cells.iter().map(|&i| grid_values[i]).collect()
    }
}

/// How a method makes its map (a score per land cell, higher is hotter) from a period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Kernel density (the options' kernel) at this bandwidth rule: the surface's value.
    Kde(BandwidthRule),
    /// Last period's incidents per cell (ties go to the lowest test count).
    Counts,
    /// Getis–Ord Gi* z of the cell counts with these neighbours (cells of the grid's side).
    GiStar(Neighbourhood),
    /// Grip places: cells ranked by harm with at least this separation between chosen cell
    /// centres, metres; cells not chosen score 0.
    Grip {
        /// Smallest distance between chosen cell centres, metres.
        min_separation_m: f64,
    },
}

impl Method {
    /// The method's name as the CLI and JSON give it: `kde`, `counts`, `gistar`, `grip`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Kde(_) => "kde",
            Method::Counts => "counts",
            Method::GiStar(_) => "gistar",
            Method::Grip { .. } => "grip",
        }
    }
}

/// A period: a store and which of its incidents belong (offence, place, time filters).
#[derive(Debug, Clone)]
pub struct Period<'a> {
    /// Incidents.
    pub store: &'a IncidentStore,
    /// Which of them are in the period.
    pub filter: IncidentFilter,
}

/// A method's map of one period.
#[derive(Debug, Clone)]
pub struct MethodMap {
    /// Score per land cell (higher is hotter; `-inf` for cells the method cannot score).
    pub score: Vec<f64>,
    /// KDE only: the bandwidth used, metres, and the rule that chose it.
    pub bandwidth: Option<(f64, String)>,
}

/// One method's backtest on one training and test period.
#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    /// `kde`, `counts`, `gistar` or `grip`.
    pub method: String,
    /// KDE: bandwidth used, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_m: Option<f64>,
    /// KDE: the rule that chose it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_rule: Option<String>,
    /// Land cells (the equal-area units).
    pub land_cells: usize,
    /// Their side, metres.
    pub cell_m: f64,
    /// Training incidents in land cells.
    pub train_incidents: f64,
    /// Test incidents in land cells.
    pub test_incidents: f64,
    /// Training incidents left out: in no land cell (a cell whose centre is at sea).
    pub train_off_land: f64,
    /// Test incidents left out likewise.
    pub test_off_land: f64,
    /// The figures at each coverage share.
    pub coverage: Vec<CoveragePoint>,
    /// Jaccard index of the top cells at the first coverage share: the method's map of the
    /// training period against its map of the test period.
    pub stability: Option<f64>,
}

/// The Gi* cells, the Gi* cell of each land cell, and the neighbourhood they were built with.
type GiCells = (CellSet, Vec<Option<u32>>, Neighbourhood);

/// What every backtest of one run shares: boundaries, harm weights, the land cells and the
/// surface options (kernel, scaling; the filter and bandwidth come per call).
pub struct Backtester<'a> {
    /// Boundaries.
    pub pack: &'a BoundaryPack,
    /// Their index.
    pub index: &'a DistrictIndex,
    /// Harm weights (the Grip ranking).
    pub harm: &'a HarmTable,
    /// The units.
    pub land: LandCells,
    /// Surface options for the KDE (cell side = the land cells').
    pub surface: SurfaceOptions,
    /// The most cells any map needs ranked (Grip chooses this many places at most).
    pub max_cells: usize,
    gi_cells: OnceLock<Result<GiCells, String>>,
}

impl<'a> Backtester<'a> {
    /// Land cells of `surface.cell_m` over `surface.extent` (or the pack); `max_share` is the
    /// largest coverage share that will be asked for.
    ///
    /// # Errors
    /// As [`LandCells::new`].
    pub fn new(
        pack: &'a BoundaryPack,
        index: &'a DistrictIndex,
        harm: &'a HarmTable,
        surface: SurfaceOptions,
        max_share: f64,
    ) -> Result<Self, EvaluateError> {
        let land = LandCells::new(pack, index, surface.cell_m, surface.extent)?;
        let mut surface = surface;
        // The KDE's grid is the land cells' grid.
        surface.extent = Some([
            land.grid.x0_m,
            land.grid.y0_m,
            land.grid.x0_m + land.grid.nx as f64 * land.grid.cell_m,
            land.grid.y0_m + land.grid.ny as f64 * land.grid.cell_m,
        ]);
        let max_cells = cells_for_share(max_share, land.len());
        Ok(Backtester {
            pack,
            index,
            harm,
            land,
            surface,
            max_cells,
            gi_cells: OnceLock::new(),
        })
    }

    /// The Gi* cells (the land cells' grid squares) with `nb` neighbours, and the Gi* cell of
    /// each land cell; built once.
    fn gi_cells(&self, nb: Neighbourhood) -> Result<&GiCells, EvaluateError> {
        let built = self.gi_cells.get_or_init(|| {
            let set = CellSet::build(
                self.pack,
                self.index,
                CellKind::Grid(self.land.grid.cell_m),
                nb,
            )?;
            let centres: Vec<(f64, f64)> = self
                .land
                .cells
                .iter()
                .map(|&i| {
                    self.land
                        .grid
                        .centre(i % self.land.grid.nx, i / self.land.grid.nx)
                })
                .collect();
            let of_land = set.assign_points(&centres).map_err(|e| e.to_string())?;
            Ok((set, of_land, nb))
        });
        match built {
            Ok(b) if b.2 == nb => Ok(b),
            Ok(_) => Err(EvaluateError::Cells(
                "one Gi* neighbourhood per backtest run".into(),
            )),
            Err(e) => Err(EvaluateError::Cells(e.clone())),
        }
    }

    /// `method`'s map of `period`.
    ///
    /// # Errors
    /// The surface or the Gi* cells cannot be made.
    pub fn map(&self, method: Method, period: &Period<'_>) -> Result<MethodMap, EvaluateError> {
        match method {
            Method::Kde(rule) => {
                let mut o = self.surface.clone();
                o.bandwidth = rule;
                o.filter = period.filter.clone();
                let s = compute_surface(self.pack, self.index, period.store, self.harm, &o)?;
                Ok(MethodMap {
                    score: self.land.pick(&s.values),
                    bandwidth: Some((s.bandwidth_m, s.bandwidth_method)),
                })
            }
            Method::Counts => Ok(MethodMap {
                score: self.land.counts(period.store, &period.filter),
                bandwidth: None,
            }),
            Method::GiStar(nb) => {
                let (set, of_land, _) = self.gi_cells(nb)?;
                let rows = set.assign(period.store).map_err(|e| e.to_string());
                let rows = rows.map_err(EvaluateError::Cells)?;
                let (x, _, _) = set.aggregate(period.store, &rows, self.harm, |i| {
                    period.filter.keep(period.store, i)
                });
                let z = gi_star(&x, &set.neighbours);
                let score = of_land
                    .iter()
                    .map(|c| {
                        c.map(|c| z[c as usize])
                            .filter(|v| v.is_finite())
                            .unwrap_or(f64::NEG_INFINITY)
                    })
                    .collect();
                Ok(MethodMap {
                    score,
                    bandwidth: None,
                })
            }
            Method::Grip { min_separation_m } => {
                let chosen = grip_cells(
                    period.store,
                    self.harm,
                    &GripOptions {
                        cell_m: self.land.grid.cell_m,
                        min_separation_m,
                        top: self.max_cells,
                        filter: period.filter.clone(),
                    },
                );
                let mut score = vec![0.0; self.land.len()];
                let c = self.land.grid.cell_m;
                let n = chosen.len() as f64;
                for (rank, k) in chosen.iter().enumerate() {
                    let centre = ((k.0 as f64 + 0.5) * c, (k.1 as f64 + 0.5) * c);
                    if let Some(p) = self.land.position_of(centre.0, centre.1) {
                        score[p] = n - rank as f64;
                    }
                }
                Ok(MethodMap {
                    score,
                    bandwidth: None,
                })
            }
        }
    }

    /// Makes `method`'s map from `train` and scores it on `test` at each of `shares`
    /// (fractions of land area, the first also giving stability: the method's map of `test`
    /// against its map of `train`).
    ///
    /// # Errors
    /// The training map cannot be made.
    pub fn backtest(
        &self,
        method: Method,
        train: &Period<'_>,
        test: &Period<'_>,
        shares: &[f64],
    ) -> Result<Backtest, EvaluateError> {
        let made = self.map(method, train)?;
        let (train_counts, train_off_land) = self.land.counts_and_off(train.store, &train.filter);
        let (test_counts, test_off_land) = self.land.counts_and_off(test.store, &test.filter);
        let points = coverage(&made.score, &train_counts, &test_counts, shares);
        // The test period's own map (a KDE at the bandwidth the training period got).
        let next_method = match (method, &made.bandwidth) {
            (Method::Kde(_), Some((h, _))) => Method::Kde(BandwidthRule::Fixed(*h)),
            (m, _) => m,
        };
        let stability = match (shares.first(), self.map(next_method, test)) {
            (Some(&s), Ok(next)) => top_k_jaccard(
                &made.score,
                &next.score,
                cells_for_share(s, self.land.len()),
            ),
            _ => None,
        };
        Ok(Backtest {
            method: method.name().to_string(),
            bandwidth_m: made.bandwidth.as_ref().map(|b| b.0),
            bandwidth_rule: made.bandwidth.map(|b| b.1),
            land_cells: self.land.len(),
            cell_m: self.land.grid.cell_m,
            train_incidents: train_counts.iter().sum(),
            test_incidents: test_counts.iter().sum(),
            train_off_land,
            test_off_land,
            coverage: points,
            stability,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    /// The land cells are exactly the grid cells whose centre the district index locates.
    #[test]
    fn land_cells_are_the_cells_with_a_centre_on_land() {
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        let land = LandCells::new(&pack, &index, 1000.0, None).unwrap();
        let g = &land.grid;
        let mut want = Vec::new();
        for i in 0..g.len() {
            let (x, y) = g.centre(i % g.nx, i / g.nx);
            if index.locate(x, y).is_some() {
                want.push(i);
            }
        }
        assert_eq!(land.cells, want);
        // Kent and Medway's land is about 3,740 km²: as many 1 km cells, give or take the coast.
        assert!((3_500..4_000).contains(&land.len()), "{}", land.len());
    }

    /// Two independent draws of the same planted hotspots: every method's map of the first
    /// captures far more of the second than its share of land, and the figures equal a
    /// direct count of the top cells.
    #[test]
    fn planted_stable_hotspots_predict_the_next_period() {
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        let (train, test) = (store(&index, &pack, 11), store(&index, &pack, 12));
        let harm = HarmTable::default_table();
        let bt = Backtester::new(
            &pack,
            &index,
            &harm,
            SurfaceOptions {
                cell_m: 150.0,
                ..Default::default()
            },
            0.01,
        )
        .unwrap();
        let period = |s| Period {
            store: s,
            filter: IncidentFilter::default(),
        };
        let (tr, te) = (period(&train), period(&test));
        let shares = [0.001, 0.01];
        for method in [
            Method::Kde(BandwidthRule::Fixed(300.0)),
            Method::Counts,
            Method::GiStar(Neighbourhood::Ring(1)),
            Method::Grip {
                min_separation_m: 300.0,
            },
        ] {
            let b = bt.backtest(method, &tr, &te, &shares).unwrap();
            let one = &b.coverage[0];
            // 0.1% of land (166 cells of 150 m) around the planted places: KDE 300 m
            // measured PAI 363, PEI 0.86, RRI 0.98, stability 0.67; a random map has PAI 1.
            assert!(one.pai.unwrap() > 100.0, "{method:?}: {b:?}");
            assert!(one.pei.unwrap() > 0.25, "{method:?}: {b:?}");
            assert!((0.5..1.5).contains(&one.rri.unwrap()), "{method:?}: {b:?}");
            // Grip's separated single cells shift between draws (measured 0.02–0.03).
            if !matches!(method, Method::Grip { .. }) {
                assert!(b.stability.unwrap() > 0.1, "{method:?}: {b:?}");
            }
            assert!(b.coverage[1].captured >= one.captured && b.coverage[1].pai < one.pai);
            // The captured count by hand: the k best land cells by the training map, ties
            // by the lowest test count.
            let made = bt.map(method, &tr).unwrap();
            let counts = bt.land.counts(&test, &IncidentFilter::default());
            let k = cells_for_share(0.001, bt.land.len());
            let mut order: Vec<usize> = (0..bt.land.len()).collect();
            order.sort_by(|&a, &c| {
                made.score[c]
                    .total_cmp(&made.score[a])
                    .then(counts[a].total_cmp(&counts[c]))
            });
            let direct: f64 = order[..k].iter().map(|&i| counts[i]).sum();
            assert_eq!(one.captured, direct, "{method:?}");
            assert_eq!(b.test_incidents, counts.iter().sum::<f64>());
        }
        let kde = bt
            .backtest(Method::Kde(BandwidthRule::Fixed(300.0)), &tr, &te, &shares)
            .unwrap();
        assert!(kde.stability.unwrap() > 0.5, "{kde:?}");
    }

    /// The KDE map equals `compute_surface` at the land cells; the counts map equals a
    /// direct count; the Grip map scores exactly the chosen places, best highest.
    #[test]
    fn maps_equal_their_sources() {
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        let train = store(&index, &pack, 5);
        let harm = HarmTable::default_table();
        let opts = SurfaceOptions {
            cell_m: 250.0,
            ..Default::default()
        };
        let bt = Backtester::new(&pack, &index, &harm, opts.clone(), 0.05).unwrap();
        let p = Period {
            store: &train,
            filter: IncidentFilter::default(),
        };
        let kde = bt
            .map(Method::Kde(BandwidthRule::Fixed(500.0)), &p)
            .unwrap();
        let s = compute_surface(
            &pack,
            &index,
            &train,
            &harm,
            &SurfaceOptions {
                bandwidth: BandwidthRule::Fixed(500.0),
                ..opts.clone()
            },
        )
        .unwrap();
        let direct: Vec<f64> = s.values.iter().copied().filter(|v| v.is_finite()).collect();
        assert_eq!(kde.score, direct);
        let counts = bt.map(Method::Counts, &p).unwrap();
        let mut n = 0.0;
        for i in 0..train.len() {
            let (ix, iy) = s.grid.cell_of(train.x_m[i], train.y_m[i]).unwrap();
            if s.values[iy * s.grid.nx + ix].is_finite() {
                n += 1.0;
            }
        }
        assert_eq!(counts.score.iter().sum::<f64>(), n);
        let grip = bt
            .map(
                Method::Grip {
                    min_separation_m: 500.0,
                },
                &p,
            )
            .unwrap();
        let chosen = grip_cells(
            &train,
            &harm,
            &GripOptions {
                cell_m: 250.0,
                min_separation_m: 500.0,
                top: bt.max_cells,
                filter: IncidentFilter::default(),
            },
        );
        let scored = grip.score.iter().filter(|v| **v > 0.0).count();
        assert!(scored > 0 && scored <= chosen.len());
        let best = grip.score.iter().cloned().fold(0.0, f64::max);
        assert_eq!(best, chosen.len() as f64);
    }
}
