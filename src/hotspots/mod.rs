//! Ranked hotspots from density surfaces and micro-places for patrols: threshold rules,
//! contour polygons, per-hotspot statistics (counted from the incidents, not read off the
//! surface), PAI, Grip cell selection and the diversion layer.

pub mod density;
pub mod grip;
pub mod layer;
pub mod pai;
pub mod poisson;
pub mod polygons;
pub mod threshold;

pub use density::{
    diversion_filter, find_hotspots, GroupCount, Hotspot, HotspotOptions, HotspotSummary, Inputs,
    Purpose,
};
pub use grip::{grip_places, GripCumulative, GripOptions};
pub use layer::{build_layer, HotspotLayer, HotspotRequest};
pub use pai::{pai, pai_curve};
pub use threshold::ThresholdRule;
