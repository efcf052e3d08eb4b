//! A density surface for a set of incidents: filter, weight, choose the bandwidth, compute
//! county-wide, then mask cells off land as NoData.

use serde::Serialize;

use super::{
    arcgis_bandwidth_m, binned_error_bound_per_weight, cv_bandwidth_m, kde_binned,
    kde_binned_points, kde_exact, kde_exact_rows, scott_bandwidth_m, Grid, Kernel, RowOrdered,
    Scaling,
};
use crate::boundaries::{BoundaryPack, DistrictIndex};
use crate::incidents::time::EpochMinutes;
use crate::incidents::{HarmTable, IncidentStore, OffenceGroup};

/// How the bandwidth is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BandwidthRule {
    /// A fixed radius, metres.
    Fixed(f64),
    /// ArcGIS Kernel Density's default search radius.
    ArcGis,
    /// Scott's 2-D rule (σ); compact kernels use h = √8·σ, their quartic-equivalent spread.
    Scott,
    /// Likelihood cross-validation of a Gaussian σ; compact kernels use h = √8·σ.
    Cv,
}

/// How the sum is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdeMethod {
    /// Exact sum over the cells each incident reaches.
    Exact,
    /// Linear binning and a sampled-kernel convolution, with a stated error bound.
    Binned,
    /// Binned when the kernel reaches more than [`AUTO_BINNED_REACH_CELLS`] cells in each
    /// direction and is smooth enough for the bound (quartic, Gaussian); exact otherwise.
    Auto,
}

/// Reach (support ÷ cell) above which [`KdeMethod::Auto`] takes the binned path.
pub const AUTO_BINNED_REACH_CELLS: f64 = 10.0;

impl std::str::FromStr for KdeMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "exact" => Ok(KdeMethod::Exact),
            "binned" => Ok(KdeMethod::Binned),
            "auto" => Ok(KdeMethod::Auto),
            o => Err(format!("unknown method '{o}' (exact, binned, auto)")),
        }
    }
}

impl std::str::FromStr for BandwidthRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" | "auto:arcgis" => Ok(BandwidthRule::ArcGis),
            "auto:scott" => Ok(BandwidthRule::Scott),
            "auto:cv" => Ok(BandwidthRule::Cv),
            v => v
                .parse::<f64>()
                .ok()
                .filter(|h| h.is_finite() && *h > 0.0)
                .map(BandwidthRule::Fixed)
                .ok_or_else(|| {
                    format!(
                        "bandwidth '{v}' is neither metres > 0 nor auto, auto:arcgis, auto:scott, auto:cv"
                    )
                }),
        }
    }
}

/// What to weight each incident by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// Each incident counts 1.
    Count,
    /// Harm weight (given, else the harm table's).
    Harm,
}

/// How a surface's kernel sum was computed (serialised as `exact` / `binned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SumMethod {
    /// Every incident's kernel summed over the cells it reaches.
    Exact,
    /// Weights binned to the grid, then one convolution with the kernel.
    Binned,
}

impl std::fmt::Display for SumMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SumMethod::Exact => "exact",
            SumMethod::Binned => "binned",
        })
    }
}

/// Which incidents count. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Offence groups to keep.
    pub groups: Vec<OffenceGroup>,
    /// District indexes to keep.
    pub districts: Vec<u8>,
    /// Keep incidents starting at or after this instant.
    pub from_min: Option<EpochMinutes>,
    /// Keep incidents starting before this instant.
    pub to_min: Option<EpochMinutes>,
    /// Keep only incidents with a victim or suspect aged 25 or under.
    pub youth_only: bool,
    /// Source ids to keep (see `IncidentStore::sources`).
    pub sources: Vec<u8>,
    /// Leave out records flagged as another source's incident
    /// (`FLAG_CROSS_SOURCE_DUPLICATE`), so each event counts once.
    pub drop_duplicates: bool,
}

impl IncidentFilter {
    /// True when incident `i` passes.
    pub fn keep(&self, store: &IncidentStore, i: usize) -> bool {
        (self.groups.is_empty() || self.groups.contains(&store.group[i]))
            && (self.districts.is_empty() || self.districts.contains(&store.district[i]))
            && self.from_min.is_none_or(|f| store.from_min[i] >= f)
            && self.to_min.is_none_or(|t| store.from_min[i] < t)
            && (!self.youth_only || store.youth_involved(i))
            && (self.sources.is_empty()
                || self
                    .sources
                    .contains(&store.source.get(i).copied().unwrap_or(0)))
            && (!self.drop_duplicates
                || store.flags[i] & crate::incidents::FLAG_CROSS_SOURCE_DUPLICATE == 0)
    }
}

/// Options for [`compute_surface`].
#[derive(Debug, Clone)]
pub struct SurfaceOptions {
    /// Cell side, metres.
    pub cell_m: f64,
    /// Bandwidth rule.
    pub bandwidth: BandwidthRule,
    /// Kernel.
    pub kernel: Kernel,
    /// Scaling of values.
    pub scaling: Scaling,
    /// Weighting.
    pub weighting: Weighting,
    /// Which incidents.
    pub filter: IncidentFilter,
    /// Grid extent (xmin, ymin, xmax, ymax); default: the boundaries' bbox.
    pub extent: Option<[f64; 4]>,
    /// Exact or binned sum.
    pub method: KdeMethod,
    /// Divide each land cell by the kernel's mass on land around it (coastline correction).
    pub edge_correction: bool,
}

impl Default for SurfaceOptions {
    fn default() -> Self {
        SurfaceOptions {
            cell_m: 50.0,
            bandwidth: BandwidthRule::ArcGis,
            kernel: Kernel::Quartic,
            scaling: Scaling::Density,
            weighting: Weighting::Count,
            filter: IncidentFilter::default(),
            extent: None,
            method: KdeMethod::Auto,
            edge_correction: false,
        }
    }
}

/// A computed surface with what it was made from.
#[derive(Debug, Clone, Serialize)]
pub struct Surface {
    /// The grid.
    #[serde(skip)]
    pub grid: Grid,
    /// Values, row-major from the south; `NaN` off land.
    #[serde(skip)]
    pub values: Vec<f64>,
    /// Bandwidth used, metres.
    pub bandwidth_m: f64,
    /// Rule that chose it.
    pub bandwidth_method: String,
    /// Kernel.
    pub kernel: String,
    /// Scaling.
    pub scaling: String,
    /// Weighting (`count` or `harm:<table version>`).
    pub weight: String,
    /// Incidents used.
    pub incidents: usize,
    /// Sum of weights used.
    pub total_weight: f64,
    /// Cell side, metres.
    pub cell_m: f64,
    /// How the kernel sum was computed.
    pub method: SumMethod,
    /// Binned path only: largest error per unit of weight within reach of a cell, in the
    /// values' units (see [`binned_error_bound_per_weight`]).
    pub error_bound_per_weight: Option<f64>,
    /// Whether values were divided by the kernel mass on land.
    pub edge_correction: bool,
}

/// Errors making a surface.
#[derive(Debug, thiserror::Error)]
pub enum SurfaceError {
    /// Nothing to estimate from.
    #[error("no incidents pass the filters")]
    NoIncidents,
    /// An automatic rule could not choose a bandwidth.
    #[error("cannot choose a bandwidth automatically from {0} incident(s) with no spread (standard distance under 1 m: they share one location); give --bandwidth-m in metres")]
    NoBandwidth(usize),
    /// Bad grid parameters.
    #[error("{0}")]
    Grid(String),
}

/// Largest grid accepted, cells (about 1 GB of f64).
const MAX_CELLS: usize = 120_000_000;

/// Largest bandwidth accepted, metres: 20 km, wider than any hotspot analysis of a county
/// needs; it bounds the kernel's stencil (the binned sum's memory grows with its square)
/// and catches a distance typed in the wrong unit (1e6 for 1,000 m).
pub const MAX_BANDWIDTH_M: f64 = 20_000.0;

/// The grid of `cell_m` cells over `extent` (EPSG:27700 xmin, ymin, xmax, ymax) or the
/// pack's bounding box, edges snapped outward to multiples of the cell.
///
/// # Errors
/// A cell that is not a positive number, an empty pack or extent, or more than
/// [`MAX_CELLS`] cells.
pub fn surface_grid(
    pack: &BoundaryPack,
    cell_m: f64,
    extent: Option<[f64; 4]>,
) -> Result<Grid, SurfaceError> {
    if !(cell_m.is_finite() && cell_m > 0.0) {
        return Err(SurfaceError::Grid(format!(
            "cell size {} m must be > 0",
            cell_m
        )));
    }
    let [xmin, ymin, xmax, ymax] = match extent {
        Some(e) => e,
        None => {
            let b = pack
                .bbox()
                .ok_or_else(|| SurfaceError::Grid("the boundary pack is empty".into()))?;
            [b.min().x, b.min().y, b.max().x, b.max().y]
        }
    };
    if !(xmax > xmin && ymax > ymin) {
        return Err(SurfaceError::Grid(format!(
            "extent {xmin},{ymin},{xmax},{ymax} is empty"
        )));
    }
    let grid = Grid::covering(xmin, ymin, xmax, ymax, cell_m);
    if grid.len() > MAX_CELLS {
        return Err(SurfaceError::Grid(format!(
            "{} × {} cells is more than {MAX_CELLS}; use a larger --cell-m or a smaller --extent",
            grid.nx, grid.ny
        )));
    }
    Ok(grid)
}

/// Computes a masked surface.
pub fn compute_surface(
    pack: &BoundaryPack,
    index: &DistrictIndex,
    store: &IncidentStore,
    harm: &HarmTable,
    opts: &SurfaceOptions,
) -> Result<Surface, SurfaceError> {
    let grid = surface_grid(pack, opts.cell_m, opts.extent)?;
    // The kept incidents go straight into grid-row order: one copy, the one the sums read.
    let rows = RowOrdered::from_indexed(&grid, store.len(), |i| {
        opts.filter.keep(store, i).then(|| {
            let w = match opts.weighting {
                Weighting::Count => 1.0,
                Weighting::Harm => store.harm(i, harm),
            };
            (store.x_m[i], store.y_m[i], w)
        })
    });
    if rows.is_empty() {
        return Err(SurfaceError::NoIncidents);
    }
    // The bandwidth rules read coordinates only.
    let coords = || -> (Vec<f64>, Vec<f64>) { rows.points().iter().map(|p| (p.0, p.1)).unzip() };
    let (h, method) = match opts.bandwidth {
        BandwidthRule::Fixed(h) => (h, "fixed".to_string()),
        BandwidthRule::ArcGis => (
            {
                let (xs, ys) = coords();
                arcgis_bandwidth_m(&xs, &ys).ok_or(SurfaceError::NoBandwidth(xs.len()))?
            },
            "arcgis".to_string(),
        ),
        BandwidthRule::Scott => {
            let (xs, ys) = coords();
            let s = scott_bandwidth_m(&xs, &ys).ok_or(SurfaceError::NoBandwidth(xs.len()))?;
            let h = if opts.kernel == Kernel::Gaussian {
                s
            } else {
                8f64.sqrt() * s
            };
            (h, "scott".to_string())
        }
        BandwidthRule::Cv => {
            let (xs, ys) = coords();
            let s = cv_bandwidth_m(&xs, &ys).ok_or(SurfaceError::NoBandwidth(xs.len()))?;
            let h = if opts.kernel == Kernel::Gaussian {
                s
            } else {
                8f64.sqrt() * s
            };
            (h, "likelihood-cv".to_string())
        }
    };
    // An automatic bandwidth under the cell size would let incidents fall between cell
    // centres and vanish from the surface: it is raised to the cell size, and the method
    // says so.
    let (h, method) = if method != "fixed" && h < grid.cell_m {
        tracing::warn!(
            "the {method} bandwidth {h:.1} m is under the cell size: raised to {} m",
            grid.cell_m
        );
        (
            grid.cell_m,
            format!("{method} (raised to the cell size from {h:.1} m)"),
        )
    } else {
        (h, method)
    };
    if !(h.is_finite() && h > 0.0 && h <= MAX_BANDWIDTH_M) {
        return Err(SurfaceError::Grid(format!(
            "bandwidth {h} m ({method}) must be more than 0 and at most {MAX_BANDWIDTH_M} m (--bandwidth-m is in metres, e.g. 300)"
        )));
    }
    let reach_cells = opts.kernel.support_m(h) / grid.cell_m;
    let bound = binned_error_bound_per_weight(opts.kernel, h, grid.cell_m, opts.scaling);
    let binned = match opts.method {
        KdeMethod::Exact => false,
        KdeMethod::Binned => {
            if bound.is_none() {
                return Err(SurfaceError::Grid(format!(
                    "the binned method needs a smooth kernel (quartic or gaussian), not {}",
                    opts.kernel.slug()
                )));
            }
            true
        }
        KdeMethod::Auto => bound.is_some() && reach_cells > AUTO_BINNED_REACH_CELLS,
    };
    let mut values = if binned {
        kde_binned_points(
            &grid,
            rows.points().iter().copied(),
            opts.kernel,
            h,
            opts.scaling,
        )
        .ok_or_else(|| SurfaceError::Grid("binned KDE unavailable".into()))?
    } else {
        kde_exact_rows(&grid, &rows, opts.kernel, h, opts.scaling)
    };
    let land = land_mask(&grid, index);
    if opts.edge_correction {
        let mass = land_kernel_mass(&grid, &land, opts.kernel, h);
        for (v, m) in values.iter_mut().zip(&mass) {
            // Cells whose kernel barely touches land are left as they are rather than blown up.
            if *m > EDGE_MIN_MASS {
                *v /= m;
            }
        }
    }
    for (v, on) in values.iter_mut().zip(&land) {
        if !on {
            *v = f64::NAN;
        }
    }
    Ok(Surface {
        grid,
        values,
        bandwidth_m: h,
        bandwidth_method: method,
        kernel: opts.kernel.slug().to_string(),
        scaling: opts.scaling.slug().to_string(),
        weight: match opts.weighting {
            Weighting::Count => "count".to_string(),
            Weighting::Harm => format!("harm:{}", harm.version),
        },
        incidents: rows.len(),
        total_weight: rows.total_weight(),
        cell_m: opts.cell_m,
        method: if binned {
            SumMethod::Binned
        } else {
            SumMethod::Exact
        },
        error_bound_per_weight: if binned { bound } else { None },
        edge_correction: opts.edge_correction,
    })
}

/// Smallest kernel mass on land that edge correction divides by.
pub const EDGE_MIN_MASS: f64 = 0.05;

/// True for the cells whose centre lies in a district (as [`DistrictIndex::locate`] says).
///
/// One scanline per grid row through the cell centres ([`DistrictIndex::row_crossings`]): the
/// crossings with the row give the inside runs by parity (districts do not overlap, and an
/// edge two districts share crosses twice, which leaves the parity of the union right). Cells
/// whose centre is within a micrometre of a crossing, and rows that pass exactly through a
/// vertex, ask the index instead, so boundary cases get its boundary-inclusive answer.
pub fn land_mask(grid: &Grid, index: &DistrictIndex) -> Vec<bool> {
    let mut land = vec![false; grid.len()];
    if grid.nx == 0 || grid.ny == 0 {
        return land;
    }
    let lines = index.row_crossings(grid.y0_m, grid.cell_m, grid.ny);
    for iy in 0..grid.ny {
        let y = grid.centre(0, iy).1;
        let row = &mut land[iy * grid.nx..(iy + 1) * grid.nx];
        if lines.vertex_on_line[iy] {
            for (ix, cell) in row.iter_mut().enumerate() {
                *cell = index.locate(grid.centre(ix, iy).0, y).is_some();
            }
            continue;
        }
        let crossings = &lines.crossings[iy];
        let mut k = 0; // crossings left of the current centre
        for (ix, cell) in row.iter_mut().enumerate() {
            let x = grid.centre(ix, iy).0;
            while k < crossings.len() && crossings[k].0 < x {
                k += 1;
            }
            let near = |j: usize| crossings.get(j).is_some_and(|c| (c.0 - x).abs() <= 1e-6);
            *cell = if near(k) || (k > 0 && near(k - 1)) {
                index.locate(x, y).is_some()
            } else {
                k % 2 == 1
            };
        }
    }
    land
}

/// Share of the kernel's mass centred on each cell that falls on land cells (0–1): the
/// land cells convolved with the normalised kernel, c² · Σ_{land j} K(d_ij). Edge
/// correction divides by it, as Diggle's correction does at a study-area border.
pub fn land_kernel_mass(grid: &Grid, land: &[bool], kernel: Kernel, h_m: f64) -> Vec<f64> {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for iy in 0..grid.ny {
        for ix in 0..grid.nx {
            if land[iy * grid.nx + ix] {
                let (x, y) = grid.centre(ix, iy);
                xs.push(x);
                ys.push(y);
            }
        }
    }
    // Points at cell centres bin exactly, so the binned path is exact here when it applies.
    let ws = vec![grid.cell_area_m2() / 1e6; xs.len()];
    kde_binned(grid, &xs, &ys, &ws, kernel, h_m, Scaling::Density)
        .unwrap_or_else(|| kde_exact(grid, &xs, &ys, &ws, kernel, h_m, Scaling::Density))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn land_mask_equals_the_index_cell_by_cell() {
        let pack = BoundaryPack::kent_medway().unwrap();
        let index = DistrictIndex::new(&pack);
        // The Kent grid at 250 m, and an odd one offset from it; each cell against `locate`.
        for (x0_m, y0_m, cell_m, nx, ny) in [
            (520_000.0, 120_000.0, 250.0, 560, 300),
            (519_876.3, 119_911.7, 173.3, 800, 420),
        ] {
            let grid = Grid {
                x0_m,
                y0_m,
                cell_m,
                nx,
                ny,
            };
            let mask = land_mask(&grid, &index);
            let mut on_land = 0;
            for iy in 0..ny {
                for ix in 0..nx {
                    let (x, y) = grid.centre(ix, iy);
                    let want = index.locate(x, y).is_some();
                    assert_eq!(mask[iy * nx + ix], want, "cell ({ix}, {iy}) at ({x}, {y})");
                    on_land += want as usize;
                }
            }
            // 3,739 km² of land.
            let km2 = on_land as f64 * cell_m * cell_m / 1e6;
            assert!((km2 - 3739.0).abs() < 40.0, "{km2} km²");
        }
    }
}
