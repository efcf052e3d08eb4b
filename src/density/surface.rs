//! A density surface for a set of incidents: filter, weight, choose the bandwidth, compute
//! county-wide, then mask cells off land as NoData.

use serde::Serialize;

use super::{arcgis_bandwidth_m, kde_exact, scott_bandwidth_m, Grid, Kernel, Scaling};
use crate::boundaries::{BoundaryPack, DistrictIndex};
use crate::incidents::time::{EpochMinutes, LONDON};
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
}

impl std::str::FromStr for BandwidthRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" | "auto:arcgis" => Ok(BandwidthRule::ArcGis),
            "auto:scott" => Ok(BandwidthRule::Scott),
            v => v
                .parse::<f64>()
                .ok()
                .filter(|h| h.is_finite() && *h > 0.0)
                .map(BandwidthRule::Fixed)
                .ok_or_else(|| {
                    format!(
                        "bandwidth '{v}' is neither metres > 0 nor auto, auto:arcgis, auto:scott"
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

/// Which incidents count. Empty lists mean "all".
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Offence groups to keep.
    pub groups: Vec<OffenceGroup>,
    /// District indexes to keep.
    pub districts: Vec<u8>,
    /// Keep incidents starting at or after this instant.
    pub from_min: Option<EpochMinutes>,
    /// Keep incidents starting before this instant.
    pub to_min: Option<EpochMinutes>,
}

impl IncidentFilter {
    /// True when incident `i` passes.
    pub fn keep(&self, store: &IncidentStore, i: usize) -> bool {
        (self.groups.is_empty() || self.groups.contains(&store.group[i]))
            && (self.districts.is_empty() || self.districts.contains(&store.district[i]))
            && self.from_min.is_none_or(|f| store.from_min[i] >= f)
            && self.to_min.is_none_or(|t| store.from_min[i] < t)
    }
}

/// Local date `YYYY-MM-DD` at 00:00 Europe/London, as epoch minutes.
pub fn local_date_start(s: &str) -> Result<EpochMinutes, String> {
    let d: jiff::civil::Date = s.trim().parse().map_err(|e| format!("date '{s}': {e}"))?;
    let ts = LONDON
        .to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        .map_err(|e| format!("date '{s}': {e}"))?;
    i32::try_from(ts.as_second().div_euclid(60)).map_err(|_| format!("date '{s}' out of range"))
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
}

/// Errors making a surface.
#[derive(Debug, thiserror::Error)]
pub enum SurfaceError {
    /// Nothing to estimate from.
    #[error("no incidents pass the filters")]
    NoIncidents,
    /// An automatic rule could not choose a bandwidth.
    #[error("cannot choose a bandwidth automatically from {0} incident(s) with no spread; give --bandwidth-m in metres")]
    NoBandwidth(usize),
    /// Bad grid parameters.
    #[error("{0}")]
    Grid(String),
}

/// Largest grid accepted, cells (about 1 GB of f64).
const MAX_CELLS: usize = 120_000_000;

/// Computes a masked surface.
pub fn compute_surface(
    pack: &BoundaryPack,
    index: &DistrictIndex,
    store: &IncidentStore,
    harm: &HarmTable,
    opts: &SurfaceOptions,
) -> Result<Surface, SurfaceError> {
    if !(opts.cell_m.is_finite() && opts.cell_m > 0.0) {
        return Err(SurfaceError::Grid(format!(
            "cell size {} m must be > 0",
            opts.cell_m
        )));
    }
    let (mut xs, mut ys, mut ws) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..store.len() {
        if opts.filter.keep(store, i) {
            xs.push(store.x_m[i]);
            ys.push(store.y_m[i]);
            ws.push(match opts.weighting {
                Weighting::Count => 1.0,
                Weighting::Harm => store.harm(i, harm),
            });
        }
    }
    if xs.is_empty() {
        return Err(SurfaceError::NoIncidents);
    }
    let (h, method) = match opts.bandwidth {
        BandwidthRule::Fixed(h) => (h, "fixed".to_string()),
        BandwidthRule::ArcGis => (
            arcgis_bandwidth_m(&xs, &ys).ok_or(SurfaceError::NoBandwidth(xs.len()))?,
            "arcgis".to_string(),
        ),
        BandwidthRule::Scott => {
            let s = scott_bandwidth_m(&xs, &ys).ok_or(SurfaceError::NoBandwidth(xs.len()))?;
            let h = if opts.kernel == Kernel::Gaussian {
                s
            } else {
                8f64.sqrt() * s
            };
            (h, "scott".to_string())
        }
    };
    let [xmin, ymin, xmax, ymax] = match opts.extent {
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
    let grid = Grid::covering(xmin, ymin, xmax, ymax, opts.cell_m);
    if grid.len() > MAX_CELLS {
        return Err(SurfaceError::Grid(format!(
            "{} × {} cells is more than {MAX_CELLS}; use a larger --cell-m or a smaller --extent",
            grid.nx, grid.ny
        )));
    }
    let mut values = kde_exact(&grid, &xs, &ys, &ws, opts.kernel, h, opts.scaling);
    for iy in 0..grid.ny {
        for ix in 0..grid.nx {
            let (cx, cy) = grid.centre(ix, iy);
            if index.locate(cx, cy).is_none() {
                values[iy * grid.nx + ix] = f64::NAN;
            }
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
        incidents: xs.len(),
        total_weight: ws.iter().sum(),
        cell_m: opts.cell_m,
    })
}
