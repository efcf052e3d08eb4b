//! Kernel density surfaces on an EPSG:27700 grid: the grid, the kernels, bandwidth rules,
//! the exact estimator and raster output.

pub mod bandwidth;
pub mod cog;
pub mod grid;
pub mod kde;
pub mod kernel;
pub mod raster;
pub mod surface;

pub use bandwidth::{arcgis_bandwidth_m, cv_bandwidth_m, scott_bandwidth_m};
pub use grid::Grid;
pub use kde::{
    binned_error_bound_per_weight, kde_binned, kde_binned_points, kde_brute_force, kde_exact,
    kde_exact_rows, RowOrdered, Scaling,
};
pub use kernel::Kernel;
pub use surface::{
    compute_surface, BandwidthRule, IncidentFilter, KdeMethod, SumMethod, Surface, SurfaceError,
    SurfaceOptions, Weighting, MAX_BANDWIDTH_M,
};
