//! Backtesting: does a hotspot map made from one period predict the next? The measures
//! (hit rate, PAI, PEI, RRI, stability) over equal-area land cells (`metrics`), the methods'
//! maps and one backtest (`backtest`), rolling-origin folds and the bandwidth chosen by them
//! (`rolling`), and the hit-rate chart (`chart`).

pub mod backtest;
pub mod chart;
pub mod metrics;
pub mod rolling;

pub use backtest::{Backtest, Backtester, EvaluateError, LandCells, Method, MethodMap, Period};
pub use metrics::{cells_for_share, coverage, top_k_jaccard, CoveragePoint};
pub use rolling::{
    choose_bandwidth, folds, summarise, BandwidthChoice, ChoiceOptions, Fold, RollingSummary,
    Spread, Step,
};
