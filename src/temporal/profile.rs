//! Hour-of-week and hour-of-day profiles of a set of incidents, with what was excluded or
//! fixed up on the way.

use serde::Serialize;

use super::aoristic::{apportion, Fix, HOURS_PER_WEEK};
use crate::incidents::{IncidentStore, FLAG_NO_END};

/// Counts of each fix-up applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FixUps {
    /// No end time: start hour.
    pub no_end: u64,
    /// End before start: start hour.
    pub end_before_start: u64,
    /// Span 0–1 minute: start hour.
    pub zero_span: u64,
    /// Span of a week or more: spread evenly.
    pub week_or_more: u64,
}

/// An aoristic profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// Weight per local hour of the week (0 = Monday 00:00–01:00).
    pub hour_of_week: Vec<f64>,
    /// Incidents apportioned (timed).
    pub incidents: u64,
    /// Month-only incidents (police.uk) left out: they have no time of day.
    pub excluded_month_only: u64,
    /// Fix-ups applied.
    pub fixups: FixUps,
}

impl Profile {
    /// Profile of the given store rows.
    pub fn of(store: &IncidentStore, rows: impl IntoIterator<Item = usize>) -> Self {
        let mut bins = [0.0; HOURS_PER_WEEK];
        let mut p = Profile {
            hour_of_week: Vec::new(),
            incidents: 0,
            excluded_month_only: 0,
            fixups: FixUps::default(),
        };
        for i in rows {
            if store.is_month_only(i) {
                p.excluded_month_only += 1;
                continue;
            }
            let to = (store.flags[i] & FLAG_NO_END == 0).then_some(store.to_min[i]);
            match apportion(store.from_min[i], to, 1.0, &mut bins) {
                Fix::None => {}
                Fix::NoEnd => p.fixups.no_end += 1,
                Fix::EndBeforeStart => p.fixups.end_before_start += 1,
                Fix::ZeroSpan => p.fixups.zero_span += 1,
                Fix::WeekOrMore => p.fixups.week_or_more += 1,
            }
            p.incidents += 1;
        }
        p.hour_of_week = bins.to_vec();
        p
    }

    /// The 24 hour-of-day bins (the week folded).
    pub fn hour_of_day(&self) -> Vec<f64> {
        let mut d = vec![0.0; 24];
        for (i, v) in self.hour_of_week.iter().enumerate() {
            d[i % 24] += v;
        }
        d
    }

    /// Hour-of-day bins over the given weekdays only (0 = Monday).
    pub fn hour_of_day_on(&self, days: &[usize]) -> Vec<f64> {
        let mut d = vec![0.0; 24];
        for &day in days {
            for (h, v) in d.iter_mut().enumerate() {
                *v += self.hour_of_week[day * 24 + h];
            }
        }
        d
    }
}
