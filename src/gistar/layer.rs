//! Gi* and emerging-hotspot layers: one request → cells with their statistics (shared by
//! the CLI and the server; `layers::tables` publishes them).

use serde_json::{json, Value};

use super::cells::{CellKind, CellSet, Neighbourhood};
use super::emerging::{emerging_hotspots, EmergingCell};
use super::gi::GiResult;
use crate::density::{IncidentFilter, Weighting};
use crate::hotspots::Inputs;
use crate::incidents::time::local_datetime;

/// What to compute.
#[derive(Debug, Clone)]
pub struct GiRequest {
    /// Cells.
    pub cells: CellKind,
    /// Neighbours.
    pub neighbourhood: Neighbourhood,
    /// Count or harm.
    pub weighting: Weighting,
    /// Permutations (0: analytic only).
    pub permutations: usize,
    /// Seed.
    pub seed: u64,
    /// Which incidents.
    pub filter: IncidentFilter,
}

impl Default for GiRequest {
    fn default() -> Self {
        GiRequest {
            cells: CellKind::H3(9),
            neighbourhood: Neighbourhood::Ring(1),
            weighting: Weighting::Count,
            permutations: 999,
            seed: 1,
            filter: IncidentFilter::default(),
        }
    }
}

/// A Gi* layer.
#[derive(Debug, Clone)]
pub struct GiLayer {
    /// The cells.
    pub cells: CellSet,
    /// Incidents per cell.
    pub count: Vec<f64>,
    /// Harm per cell.
    pub harm: Vec<f64>,
    /// Gi* of the weighted values.
    pub gi: GiResult,
    /// Metadata.
    pub metadata: Value,
}

/// Land cells with the cell of every store row: the costly part (H3 tiling, a PROJ pass
/// over the incidents) that Gi* and emerging hotspots on the same cells can share.
#[derive(Debug, Clone)]
pub struct PlacedCells {
    /// The cells.
    pub cells: CellSet,
    /// Cell of each store row (`None`: not a land cell).
    pub assigned: Vec<Option<u32>>,
}

impl PlacedCells {
    /// Builds the cells `req` asks for and places every incident.
    pub fn new(inp: &Inputs<'_>, req: &GiRequest) -> Result<Self, String> {
        let cells = CellSet::build(inp.pack, inp.districts, req.cells, req.neighbourhood)?;
        let assigned = cells.assign(inp.store).map_err(|e| e.to_string())?;
        Ok(PlacedCells { cells, assigned })
    }
}

/// Builds cells, aggregates and runs Gi*.
pub fn gi_layer(inp: &Inputs<'_>, req: &GiRequest) -> Result<GiLayer, String> {
    Ok(gi_layer_on(inp, req, PlacedCells::new(inp, req)?))
}

/// Gi* on cells already placed (they must be the cells `req` describes).
pub fn gi_layer_on(inp: &Inputs<'_>, req: &GiRequest, placed: PlacedCells) -> GiLayer {
    let PlacedCells { cells, assigned } = placed;
    let (count, harm, outside) = cells.aggregate(inp.store, &assigned, inp.harm, |i| {
        req.filter.keep(inp.store, i)
    });
    let x = match req.weighting {
        Weighting::Count => &count,
        Weighting::Harm => &harm,
    };
    let gi = GiResult::compute(x, &cells.neighbours, req.permutations, req.seed);
    let hot = gi.bin.iter().filter(|b| **b > 0).count();
    let cold = gi.bin.iter().filter(|b| **b < 0).count();
    let metadata = json!({
        "method": "Getis-Ord Gi* (binary weights including the cell itself), two-sided normal p, conditional-randomisation pseudo p, confidence bins from Benjamini-Hochberg at 0.10/0.05/0.01",
        "cells": describe(req.cells),
        "neighbourhood": match req.neighbourhood { Neighbourhood::Ring(k) => format!("ring:{k}"), Neighbourhood::Band(d) => format!("band:{d}m") },
        "weight": match req.weighting { Weighting::Count => "count".to_string(), Weighting::Harm => format!("harm:{}", inp.harm.version) },
        "permutations": req.permutations,
        "seed": req.seed,
        "land_cells": cells.len(),
        "incidents_in_land_cells": count.iter().sum::<f64>(),
        "incidents_outside_land_cells": outside,
        "hot_cells": hot,
        "cold_cells": cold,
    });
    GiLayer {
        cells,
        count,
        harm,
        gi,
        metadata,
    }
}

/// `h3:9` or `grid:150`.
pub fn describe(k: CellKind) -> String {
    match k {
        CellKind::H3(r) => format!("h3:{r}"),
        CellKind::Grid(m) => format!("grid:{m}"),
    }
}

/// An emerging-hotspot layer.
#[derive(Debug, Clone)]
pub struct EmergingLayer {
    /// Cells.
    pub cells: CellSet,
    /// Result per cell.
    pub results: Vec<EmergingCell>,
    /// Months, "YYYY-MM".
    pub months: Vec<String>,
    /// Metadata.
    pub metadata: Value,
}

/// Monthly slices (local calendar months, from the first to the last month with data,
/// empty months included), Gi* per slice, Mann–Kendall per cell.
pub fn emerging_layer(inp: &Inputs<'_>, req: &GiRequest) -> Result<EmergingLayer, String> {
    emerging_layer_on(inp, req, PlacedCells::new(inp, req)?)
}

/// Emerging hotspots on cells already placed (they must be the cells `req` describes).
pub fn emerging_layer_on(
    inp: &Inputs<'_>,
    req: &GiRequest,
    placed: PlacedCells,
) -> Result<EmergingLayer, String> {
    let PlacedCells { cells, assigned } = placed;
    let month_of = |i: usize| {
        let d = local_datetime(inp.store.from_min[i]);
        i32::from(d.year()) * 12 + i32::from(d.month()) - 1
    };
    let rows: Vec<usize> = (0..inp.store.len())
        .filter(|&i| req.filter.keep(inp.store, i))
        .collect();
    let (Some(first), Some(last)) = (
        rows.iter().map(|&i| month_of(i)).min(),
        rows.iter().map(|&i| month_of(i)).max(),
    ) else {
        return Err("no incidents pass the filters".into());
    };
    let steps = (last - first + 1) as usize;
    if steps < 3 {
        return Err(format!("{steps} month(s) of data: emerging hotspots need at least 3 monthly slices (ArcGIS recommends 10)"));
    }
    let mut slices = vec![vec![0.0; cells.len()]; steps];
    let mut outside = 0;
    for &i in &rows {
        match assigned[i] {
            Some(c) => {
                slices[(month_of(i) - first) as usize][c as usize] += match req.weighting {
                    Weighting::Count => 1.0,
                    Weighting::Harm => inp.store.harm(i, inp.harm),
                }
            }
            None => outside += 1,
        }
    }
    let results = emerging_hotspots(&slices, &cells.neighbours);
    let months: Vec<String> = (first..=last)
        .map(|m| format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1))
        .collect();
    let mut by_category = std::collections::BTreeMap::new();
    for r in &results {
        *by_category.entry(r.category.slug()).or_insert(0usize) += 1;
    }
    let metadata = json!({
        "method": "Gi* per monthly slice (spatial neighbourhood only), confidence bins with FDR per slice, Mann-Kendall trend of each cell's z series, ArcGIS emerging hot spot categories",
        "cells": describe(req.cells),
        "months": months,
        "steps": steps,
        "land_cells": cells.len(),
        "incidents_outside_land_cells": outside,
        "by_category": by_category,
    });
    Ok(EmergingLayer {
        cells,
        results,
        months,
        metadata,
    })
}
