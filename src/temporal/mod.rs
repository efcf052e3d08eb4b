//! When incidents happen: aoristic hour-of-week profiles in Europe/London local time,
//! significant peak windows (Poisson tests with Benjamini–Hochberg FDR), Grip patrol
//! windows and diversion windows.

pub mod aoristic;
pub mod chart;
pub mod gamma;
pub mod peaks;
pub mod plan;
pub mod profile;
pub mod report;

pub use aoristic::{apportion, hour_of_week, Fix, HOURS_PER_WEEK};
pub use peaks::{
    benjamini_hochberg, detect_day_and_week, detect_windows, BinTest, Window, WindowSet,
};
pub use plan::{diversion_windows, patrol_plan, DiversionWindows, PatrolPlan, PatrolWindow, Visit};
pub use profile::{FixUps, Profile};

/// Short day names, Monday first (hour-of-week bin 0 is Monday 00:00–01:00).
pub const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
pub use report::{area_profile, peaks_report, By, PeaksOptions};
