//! One request → one hotspot layer (all, grip or diversion) with its metadata. The CLI and
//! the server both build layers through here; `layers::tables` publishes them.

use serde_json::{json, Value};

use super::density::{find_hotspots, Hotspot, HotspotOptions, Inputs, Purpose};
use super::grip::{grip_places, GripCumulative, GripOptions};
use super::ThresholdRule;
use crate::density::{
    BandwidthRule, IncidentFilter, KdeMethod, Kernel, Scaling, SurfaceError, SurfaceOptions,
    Weighting,
};

/// What to build. `None` fields take the purpose's defaults.
#[derive(Debug, Clone)]
pub struct HotspotRequest {
    /// all, grip or diversion.
    pub purpose: Purpose,
    /// At most this many (grip default 20; others: every significant hotspot).
    pub top: Option<usize>,
    /// Cell side, metres (default 50; grip 150).
    pub cell_m: Option<f64>,
    /// Bandwidth (default 300 m; diversion 500 m, neighbourhood scale).
    pub bandwidth: Option<BandwidthRule>,
    /// Kernel.
    pub kernel: Kernel,
    /// Count or harm.
    pub weighting: Weighting,
    /// What counts as hot.
    pub threshold: ThresholdRule,
    /// Smallest polygon kept, m² (default 4 cells).
    pub min_area_m2: Option<f64>,
    /// Monte Carlo significance of each hotspot's peak against uniform placement on land;
    /// `None` keeps every polygon.
    pub alpha: Option<f64>,
    /// Monte Carlo simulations.
    pub simulations: usize,
    /// Their seed.
    pub seed: u64,
    /// Grip: smallest distance between places, metres.
    pub separation_m: f64,
    /// Which incidents.
    pub filter: IncidentFilter,
}

impl Default for HotspotRequest {
    fn default() -> Self {
        HotspotRequest {
            purpose: Purpose::All,
            top: None,
            cell_m: None,
            bandwidth: None,
            kernel: Kernel::Quartic,
            weighting: Weighting::Count,
            threshold: ThresholdRule::default(),
            min_area_m2: None,
            alpha: Some(0.05),
            simulations: 19,
            seed: 1,
            separation_m: 500.0,
            filter: IncidentFilter::default(),
        }
    }
}

/// A built layer.
#[derive(Debug, Clone)]
pub struct HotspotLayer {
    /// Purpose.
    pub purpose: Purpose,
    /// Ranked hotspots.
    pub spots: Vec<Hotspot>,
    /// Grip only: cumulative harm and area shares down each rank.
    pub cumulative: Option<Vec<GripCumulative>>,
    /// Parameters, bandwidth chosen, counts.
    pub metadata: Value,
}

/// Builds the layer.
pub fn build_layer(inp: &Inputs<'_>, req: &HotspotRequest) -> Result<HotspotLayer, SurfaceError> {
    match req.purpose {
        Purpose::Grip => {
            let opts = GripOptions {
                cell_m: req.cell_m.unwrap_or(150.0),
                min_separation_m: req.separation_m,
                top: req.top.unwrap_or(20),
                filter: req.filter.clone(),
            };
            let (spots, cumulative) = grip_places(inp, &opts);
            let metadata = json!({
                "purpose": "grip",
                "method": "equal-area EPSG:27700 cells ranked by harm, greedy minimum separation",
                "cell_m": opts.cell_m,
                "min_separation_m": opts.min_separation_m,
                "top": opts.top,
                "harm_table": inp.harm.version,
                "places": spots.len(),
                "cumulative_harm_share": cumulative.last().map(|c| c.cumulative_harm_share),
                "cumulative_area_share": cumulative.last().map(|c| c.cumulative_area_share),
            });
            Ok(HotspotLayer {
                purpose: Purpose::Grip,
                spots,
                cumulative: Some(cumulative),
                metadata,
            })
        }
        purpose => {
            let cell_m = req.cell_m.unwrap_or(50.0);
            let bandwidth =
                req.bandwidth
                    .unwrap_or(BandwidthRule::Fixed(if purpose == Purpose::Diversion {
                        500.0
                    } else {
                        300.0
                    }));
            let opts = HotspotOptions {
                surface: SurfaceOptions {
                    cell_m,
                    bandwidth,
                    kernel: req.kernel,
                    scaling: Scaling::Density,
                    weighting: req.weighting,
                    filter: req.filter.clone(),
                    extent: None,
                    method: KdeMethod::Auto,
                    edge_correction: false,
                },
                threshold: req.threshold,
                min_area_m2: req.min_area_m2.unwrap_or(4.0 * cell_m * cell_m),
                alpha: req.alpha,
                simulations: req.simulations,
                seed: req.seed,
                top: req.top,
                purpose,
            };
            let (spots, surface, summary) = find_hotspots(inp, &opts)?;
            let metadata = json!({
                "purpose": purpose.slug(),
                "method": "kernel density, threshold, contour polygons; contents counted from the incidents",
                "surface": surface,
                "summary": summary,
                "min_area_m2": opts.min_area_m2,
                "alpha_monte_carlo": opts.alpha,
                "top": opts.top,
            });
            Ok(HotspotLayer {
                purpose,
                spots,
                cumulative: None,
                metadata,
            })
        }
    }
}
