//! Statistical hotspots: incidents aggregated to land cells (H3 via h3o, or square
//! EPSG:27700 cells), Getis–Ord Gi* with analytic and permutation inference, ArcGIS-style
//! confidence bins with Benjamini–Hochberg FDR, and emerging hotspot categories from
//! monthly Gi* series and Mann–Kendall trends.

pub mod cells;
pub mod emerging;
pub mod gi;
pub mod layer;
pub mod mann_kendall;

pub use cells::{CellKind, CellSet, Neighbourhood};
pub use emerging::{classify, emerging_hotspots, Category, EmergingCell};
pub use gi::{confidence_bins, gi_star, normal_two_sided_p, permutation_p, GiResult};
pub use layer::{
    emerging_layer, emerging_layer_on, gi_layer, gi_layer_on, EmergingLayer, GiLayer, GiRequest,
    PlacedCells,
};
pub use mann_kendall::{mann_kendall, MannKendall};
