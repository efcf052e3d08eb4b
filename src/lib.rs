//! Hotspot layers for the Kent and Medway Violence Reduction Unit.
//!
//! Data flows one way: boundaries + incidents → index → analyses → layers → outputs.
//! All analysis runs in EPSG:27700 metres; WGS84 appears only at the edges.

pub mod alloc;
pub mod boundaries;
pub mod cli;
pub mod crs;
pub mod density;
pub mod disclosure;
pub mod evaluate;
pub mod fixtures;
pub mod gistar;
pub mod hotspots;
pub mod incidents;
pub mod layers;
pub mod output;
pub mod publish;
pub mod server;
pub mod style;
pub mod temporal;
