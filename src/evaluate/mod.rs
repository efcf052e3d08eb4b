//! Backtesting: does a hotspot map made from one period predict the next? The measures
//! (hit rate, PAI, PEI, RRI, stability) over equal-area land cells (`metrics`).

pub mod metrics;

pub use metrics::{cells_for_share, coverage, top_k_jaccard, CoveragePoint};
pub mod surface;

pub use surface::{backtest, Method, SurfaceBacktest};
