//! The peaks report: profiles and windows for the area, per district or per Grip hotspot,
//! patrol plans and diversion windows, as one JSON document.

use serde_json::{json, Value};

use super::peaks::detect_day_and_week;
use super::plan::{diversion_windows, patrol_plan};
use super::profile::Profile;
use crate::density::IncidentFilter;
use crate::hotspots::{Hotspot, Inputs};

/// What the report is broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The whole area only.
    Area,
    /// Each district, tested against the area's profile.
    District,
    /// Each Grip hotspot, tested against the area's profile, with a patrol plan.
    Hotspot,
}

impl std::str::FromStr for By {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "area" => Ok(By::Area),
            "district" => Ok(By::District),
            "hotspot" => Ok(By::Hotspot),
            o => Err(format!("unknown breakdown '{o}' (area, district, hotspot)")),
        }
    }
}

/// Report options.
#[derive(Debug, Clone)]
pub struct PeaksOptions {
    /// Breakdown.
    pub by: By,
    /// Which incidents.
    pub filter: IncidentFilter,
    /// FDR level.
    pub alpha: f64,
    /// Patrol visit length, minutes.
    pub visit_minutes: u32,
    /// Longest gap between visits inside a window, minutes.
    pub max_gap_minutes: u32,
}

impl Default for PeaksOptions {
    fn default() -> Self {
        PeaksOptions {
            by: By::Area,
            filter: IncidentFilter::default(),
            alpha: 0.05,
            visit_minutes: 15,
            max_gap_minutes: 120,
        }
    }
}

fn profile_json(p: &Profile, baseline: Option<&Profile>, alpha: f64) -> Value {
    let (week_base, day_base, name) = match baseline {
        Some(b) => (b.hour_of_week.clone(), b.hour_of_day(), "area profile"),
        None => (vec![1.0; 168], vec![1.0; 24], "uniform"),
    };
    let (day, week) = detect_day_and_week(
        &p.hour_of_day(),
        &day_base,
        &p.hour_of_week,
        &week_base,
        alpha,
        name,
    );
    json!({
        "incidents": p.incidents,
        "excluded_month_only": p.excluded_month_only,
        "fixups": p.fixups,
        "hour_of_day": day,
        "hour_of_week": week,
    })
}

/// The area profile of the filtered incidents.
pub fn area_profile(inp: &Inputs<'_>, filter: &IncidentFilter) -> Profile {
    Profile::of(
        inp.store,
        (0..inp.store.len()).filter(|&i| filter.keep(inp.store, i)),
    )
}

/// Builds the report. `hotspots` are the places for `By::Hotspot` (normally the Grip layer).
pub fn peaks_report(inp: &Inputs<'_>, opts: &PeaksOptions, hotspots: &[Hotspot]) -> Value {
    let area = area_profile(inp, &opts.filter);
    let mut doc = profile_json(&area, None, opts.alpha);
    doc["by"] = json!(match opts.by {
        By::Area => "area",
        By::District => "district",
        By::Hotspot => "hotspot",
    });
    doc["alpha"] = json!(opts.alpha);
    doc["timezone"] = json!("Europe/London");
    doc["bins"] = json!(
        "hour_of_week bin 0 = Monday 00:00-01:00 local time; hour_of_day bin 0 = 00:00-01:00"
    );
    let mut groups = Vec::new();
    match opts.by {
        By::Area => {}
        By::District => {
            for (d, district) in inp.pack.districts.iter().enumerate() {
                let p = Profile::of(
                    inp.store,
                    (0..inp.store.len()).filter(|&i| {
                        inp.store.district[i] as usize == d && opts.filter.keep(inp.store, i)
                    }),
                );
                let mut g = profile_json(&p, Some(&area), opts.alpha);
                g["id"] = json!(district.code);
                g["name"] = json!(district.name);
                groups.push(g);
            }
        }
        By::Hotspot => {
            for h in hotspots {
                let p = Profile::of(inp.store, h.members.iter().map(|&r| r as usize));
                let mut g = profile_json(&p, Some(&area), opts.alpha);
                g["id"] = json!(h.id);
                g["rank"] = json!(h.rank);
                g["district_names"] = json!(h.district_names);
                g["patrol"] = json!(patrol_plan(
                    &p,
                    &area,
                    opts.alpha,
                    opts.visit_minutes,
                    opts.max_gap_minutes
                ));
                groups.push(g);
            }
        }
    }
    doc["groups"] = Value::Array(groups);
    let (youth_filter, selection) = crate::hotspots::diversion_filter(inp.store, &opts.filter);
    let youth = area_profile(inp, &youth_filter);
    doc["diversion_windows"] = json!(diversion_windows(&youth, opts.alpha));
    doc["diversion_windows"]["selection"] = json!(selection);
    doc
}
