//! Rolling-origin backtests: for each month (or ISO week) in turn, the map is made from the
//! previous N periods and scored on that one; and the KDE bandwidth chosen by such a
//! backtest (the candidate with the highest mean PAI at a coverage share).
//!
//! Periods are Europe/London local calendar months, or ISO weeks from Monday 00:00 local
//! time; an incident belongs to the period holding its start (a police.uk record's start is
//! its month's first instant).

use jiff::civil::{Date, ISOWeekDate, Weekday};
use serde::Serialize;

use super::backtest::{Backtest, Backtester, EvaluateError, Method, Period};
use super::metrics::coverage;
use crate::density::{BandwidthRule, IncidentFilter};
use crate::incidents::time::{local_datetime, local_day_start, EpochMinutes};
use crate::incidents::IncidentStore;

/// The length of a rolling backtest's periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Calendar months, Europe/London.
    Month,
    /// ISO weeks, Monday 00:00 Europe/London.
    Week,
}

impl std::str::FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "month" | "months" => Ok(Step::Month),
            "week" | "weeks" => Ok(Step::Week),
            _ => Err(format!("'{s}': expected month or week")),
        }
    }
}

/// Monday 5 January 1970, the first day of week index 0.
fn week_zero() -> Date {
    Date::constant(1970, 1, 5)
}

impl Step {
    /// `month` or `week`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Step::Month => "month",
            Step::Week => "week",
        }
    }

    /// The index of the period holding local instant `m` (months: 12·year + month − 1;
    /// weeks: whole weeks since Monday 5 January 1970).
    pub fn index_of(self, m: EpochMinutes) -> i64 {
        let d = local_datetime(m).date();
        match self {
            Step::Month => d.year() as i64 * 12 + d.month() as i64 - 1,
            Step::Week => {
                let days = (d - week_zero()).get_days() as i64;
                days.div_euclid(7)
            }
        }
    }

    /// The first day of period `idx`.
    fn first_day(self, idx: i64) -> Result<Date, String> {
        match self {
            Step::Month => Date::new(idx.div_euclid(12) as i16, (idx.rem_euclid(12) + 1) as i8, 1)
                .map_err(|e| e.to_string()),
            Step::Week => week_zero()
                .checked_add(jiff::Span::new().days(idx * 7))
                .map_err(|e| e.to_string()),
        }
    }

    /// The local start of period `idx`, epoch minutes.
    ///
    /// # Errors
    /// The period is out of the supported range.
    pub fn start_of(self, idx: i64) -> Result<EpochMinutes, String> {
        local_day_start(self.first_day(idx)?)
    }

    /// The period's label: `2024-07` or `2024-W27` (ISO week-numbering year).
    pub fn label(self, idx: i64) -> String {
        match (self, self.first_day(idx)) {
            (Step::Month, Ok(d)) => format!("{:04}-{:02}", d.year(), d.month()),
            (Step::Week, Ok(d)) => {
                let w = d.iso_week_date();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            (_, Err(_)) => format!("period {idx}"),
        }
    }

    /// The index of a label as [`Step::label`] writes it.
    ///
    /// # Errors
    /// A label that is not a month `YYYY-MM` (or week `YYYY-Www`).
    pub fn parse_label(self, s: &str) -> Result<i64, String> {
        let s = s.trim();
        match self {
            Step::Month => {
                let (from, _) = crate::incidents::time::parse_month(s)?;
                Ok(self.index_of(from))
            }
            Step::Week => {
                let bad = || format!("'{s}' is not an ISO week YYYY-Www (e.g. 2024-W27)");
                let upper = s.to_ascii_uppercase();
                let (y, w) = upper.split_once("-W").ok_or_else(bad)?;
                let (y, w) = (
                    y.parse::<i16>().map_err(|_| bad())?,
                    w.parse::<i8>().map_err(|_| bad())?,
                );
                let d = ISOWeekDate::new(y, w, Weekday::Monday)
                    .map_err(|_| {
                        if w == 53 {
                            format!("'{s}': {y} has 52 ISO weeks")
                        } else {
                            bad()
                        }
                    })?
                    .date();
                Ok(((d - week_zero()).get_days() as i64).div_euclid(7))
            }
        }
    }
}

/// One fold of a rolling backtest.
#[derive(Debug, Clone, Serialize)]
pub struct Fold {
    /// The test period's label.
    pub test_period: String,
    /// The training periods' labels, first and last (inclusive).
    pub train_periods: [String; 2],
    /// Training window start (inclusive), epoch minutes.
    #[serde(skip)]
    pub train_from_min: EpochMinutes,
    /// Test period start: the training window's end (exclusive), epoch minutes.
    #[serde(skip)]
    pub test_from_min: EpochMinutes,
    /// Test period end (exclusive), epoch minutes.
    #[serde(skip)]
    pub test_to_min: EpochMinutes,
}

impl Fold {
    /// The training period's incidents: `base` narrowed to the training window.
    pub fn train_filter(&self, base: &IncidentFilter) -> IncidentFilter {
        narrow(base, self.train_from_min, self.test_from_min)
    }

    /// The test period's incidents: `base` narrowed to the test period.
    pub fn test_filter(&self, base: &IncidentFilter) -> IncidentFilter {
        narrow(base, self.test_from_min, self.test_to_min)
    }
}

fn narrow(base: &IncidentFilter, from: EpochMinutes, to: EpochMinutes) -> IncidentFilter {
    let mut f = base.clone();
    f.from_min = Some(f.from_min.map_or(from, |m| m.max(from)));
    f.to_min = Some(f.to_min.map_or(to, |m| m.min(to)));
    f
}

/// The first start and the last end (or start) of the incidents `filter` keeps, epoch
/// minutes; `None` when none is kept.
pub fn instant_range(
    store: &IncidentStore,
    filter: &IncidentFilter,
) -> Option<(EpochMinutes, EpochMinutes)> {
    let mut out: Option<(EpochMinutes, EpochMinutes)> = None;
    for i in 0..store.len() {
        if filter.keep(store, i) {
            let (from, to) = (store.from_min[i], store.to_min[i].max(store.from_min[i]));
            out = Some(out.map_or((from, to), |(l, h)| (l.min(from), h.max(to))));
        }
    }
    out
}

/// The incidents a filter keeps, as periods: the first and last *complete* periods (a
/// period is complete when the data covers it whole: timed data from the local midnight
/// before its first start to the one after its last, police.uk records their whole month),
/// and whether any record has a month only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSpan {
    /// First complete period.
    pub first: i64,
    /// Last complete period.
    pub last: i64,
    /// Some record has a month only (police.uk).
    pub month_only: bool,
}

/// The [`DataSpan`] of the incidents `filter` keeps, or `None` when none is kept.
pub fn data_span(store: &IncidentStore, filter: &IncidentFilter, step: Step) -> Option<DataSpan> {
    let mut lo: Option<EpochMinutes> = None;
    let mut hi: Option<EpochMinutes> = None;
    let mut month_only = false;
    for i in 0..store.len() {
        if filter.keep(store, i) {
            let (from, to) = (store.from_min[i], store.to_min[i].max(store.from_min[i]));
            lo = Some(lo.map_or(from, |l| l.min(from)));
            hi = Some(hi.map_or(to, |h| h.max(to)));
            month_only |= store.is_month_only(i);
        }
    }
    let (lo, hi) = (lo?, hi?);
    // The data covers [the local midnight at or before its first start, the local midnight
    // at or after its last end).
    let day = |m: EpochMinutes| local_datetime(m).date();
    let start = local_day_start(day(lo)).unwrap_or(lo);
    let end = match local_day_start(day(hi)) {
        Ok(d) if d == hi => hi,
        _ => day(hi)
            .tomorrow()
            .ok()
            .and_then(|d| local_day_start(d).ok())
            .unwrap_or(hi),
    };
    let (mut first, mut last) = (step.index_of(lo), step.index_of(hi.max(lo + 1) - 1));
    if step.start_of(first).is_ok_and(|s| s < start) {
        first += 1;
    }
    if step.start_of(last + 1).is_ok_and(|e| e > end) {
        last -= 1;
    }
    Some(DataSpan {
        first,
        last,
        month_only,
    })
}

/// The folds: each complete period from the `window + 1`-th (or `from`) to the last (or
/// `to`) is a test period, trained on the `window` periods before it.
///
/// # Errors
/// No incident passes the filter; weeks asked of police.uk months; `from` after `to`; or no
/// period has `window` complete periods of data before it.
pub fn folds(
    store: &IncidentStore,
    filter: &IncidentFilter,
    step: Step,
    window: usize,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Vec<Fold>, EvaluateError> {
    if window == 0 {
        return Err(EvaluateError::Periods(
            "a rolling backtest trains on at least 1 period".into(),
        ));
    }
    let span = data_span(store, filter, step)
        .ok_or_else(|| EvaluateError::Periods("no incidents pass the filters".into()))?;
    if span.month_only && step == Step::Week {
        return Err(EvaluateError::Periods(
            "police.uk records carry a month only, so they cannot be split into weeks: use months (--step month)".into(),
        ));
    }
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(EvaluateError::Periods(format!(
                "the first test period {} is after the last {}",
                step.label(f),
                step.label(t)
            )));
        }
    }
    let (first, last) = (span.first, span.last);
    let earliest = first + window as i64;
    let lo = earliest.max(from.unwrap_or(i64::MIN));
    let hi = last.min(to.unwrap_or(i64::MAX));
    let name = step.name();
    if last < first {
        return Err(EvaluateError::Periods(format!(
            "the data covers no whole {name}: a rolling backtest needs at least {} whole {name}s",
            window + 1
        )));
    }
    if lo > hi {
        let why = if from.is_some_and(|f| f > last) {
            format!(
                "the first test period asked for, {}, is after the last whole {name} of data, {}",
                step.label(from.unwrap_or(0)),
                step.label(last)
            )
        } else if to.is_some_and(|t| t < earliest) {
            format!(
                "the last test period asked for, {}, is before {}, the first with {window} whole {name}s of data before it",
                step.label(to.unwrap_or(0)),
                step.label(earliest)
            )
        } else {
            format!(
                "training on {window} {name}s and testing on the next needs at least {} whole {name}s",
                window + 1
            )
        };
        return Err(EvaluateError::Periods(format!(
            "the data covers {} to {} ({} whole {name}s): {why}",
            step.label(first),
            step.label(last),
            last - first + 1,
        )));
    }
    if let Some(f) = from {
        if f < earliest {
            tracing::warn!(
                "the first test period asked for, {}, has fewer than {window} whole {name}s of data before it: the folds start at {}",
                step.label(f),
                step.label(earliest)
            );
        }
    }
    let err = |e: String| EvaluateError::Periods(e);
    (lo..=hi)
        .map(|t| {
            Ok(Fold {
                test_period: step.label(t),
                train_periods: [step.label(t - window as i64), step.label(t - 1)],
                train_from_min: step.start_of(t - window as i64).map_err(err)?,
                test_from_min: step.start_of(t).map_err(err)?,
                test_to_min: step.start_of(t + 1).map_err(err)?,
            })
        })
        .collect()
}

/// Mean, sample standard deviation, least and most of the defined values over folds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    /// Folds where the value is defined.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (`None` for one fold).
    pub sd: Option<f64>,
    /// Least.
    pub min: f64,
    /// Most.
    pub max: f64,
}

impl Spread {
    /// The spread of the defined values, or `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<Spread> {
        let v: Vec<f64> = values.into_iter().flatten().collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let sd = (v.len() > 1)
            .then(|| (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
        Some(Spread {
            n: v.len(),
            mean,
            sd,
            min: v.iter().cloned().fold(f64::INFINITY, f64::min),
            max: v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

/// The figures at one coverage share over the folds.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageSpread {
    /// Share of land area (0.01 is 1%).
    pub area_share: f64,
    /// Hit rate.
    pub hit_rate: Option<Spread>,
    /// PAI.
    pub pai: Option<Spread>,
    /// PEI.
    pub pei: Option<Spread>,
}

/// A method's figures over the folds of a rolling backtest.
#[derive(Debug, Clone, Serialize)]
pub struct RollingSummary {
    /// At each coverage share.
    pub coverage: Vec<CoverageSpread>,
    /// RRI at the first share.
    pub rri: Option<Spread>,
    /// Stability at the first share.
    pub stability: Option<Spread>,
}

/// Summarises per-fold backtests of one method.
pub fn summarise(folds: &[Backtest], shares: &[f64]) -> RollingSummary {
    let at = |j: usize, f: fn(&super::CoveragePoint) -> Option<f64>| {
        Spread::of(folds.iter().map(|b| b.coverage.get(j).and_then(f)))
    };
    RollingSummary {
        coverage: shares
            .iter()
            .enumerate()
            .map(|(j, &s)| CoverageSpread {
                area_share: s,
                hit_rate: at(j, |p| p.hit_rate),
                pai: at(j, |p| p.pai),
                pei: at(j, |p| p.pei),
            })
            .collect(),
        rri: at(0, |p| p.rri),
        stability: Spread::of(folds.iter().map(|b| b.stability)),
    }
}

/// How [`choose_bandwidth`] backtests the candidates.
#[derive(Debug, Clone)]
pub struct ChoiceOptions {
    /// Candidate bandwidths, metres.
    pub candidates_m: Vec<f64>,
    /// The coverage share whose PAI is maximised (0.01 is 1% of land).
    pub share: f64,
    /// Period length; months fall back to weeks when the data spans fewer than 2 months.
    pub step: Step,
    /// Most training periods per fold (fewer when the data is short: at most span − 1).
    pub window: usize,
    /// Most folds (the latest periods).
    pub max_folds: usize,
}

impl Default for ChoiceOptions {
    fn default() -> Self {
        ChoiceOptions {
            candidates_m: DEFAULT_CANDIDATES_M.to_vec(),
            share: 0.01,
            step: Step::Month,
            window: 3,
            max_folds: 6,
        }
    }
}

/// Default candidate bandwidths, metres (those under 0.75 of the cell side are skipped:
/// incidents could fall between cell centres).
pub const DEFAULT_CANDIDATES_M: [f64; 12] = [
    50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0, 2400.0,
];

/// One candidate's scores.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateScore {
    /// Bandwidth, metres.
    pub bandwidth_m: f64,
    /// Mean PAI over the folds where it is defined.
    pub mean_pai: Option<f64>,
    /// PAI in each fold.
    pub pai_by_fold: Vec<Option<f64>>,
}

/// The bandwidth a rolling backtest chose, with every candidate's scores.
#[derive(Debug, Clone, Serialize)]
pub struct BandwidthChoice {
    /// The chosen bandwidth, metres.
    pub bandwidth_m: f64,
    /// The rule, in words.
    pub rule: String,
    /// Coverage share whose PAI was maximised.
    pub area_share: f64,
    /// Period length used.
    pub step: Step,
    /// Training periods per fold.
    pub window: usize,
    /// The folds (test periods and their training periods).
    pub folds: Vec<Fold>,
    /// Every candidate, in the order tried.
    pub candidates: Vec<CandidateScore>,
    /// Candidates not tried: under 0.75 of the cell side (incidents could fall between cell
    /// centres) or over the largest bandwidth accepted.
    pub skipped_candidates_m: Vec<f64>,
    /// Side of the equal-area cells scored, metres.
    pub cell_m: f64,
}

/// Chooses the KDE bandwidth with the highest mean PAI at `opts.share` in a rolling backtest
/// of the incidents `filter` keeps (ties: the smaller bandwidth). Deterministic: the same
/// data and options give the same choice.
///
/// # Errors
/// Fewer than two periods of data, no usable candidate, or no fold with a defined PAI.
pub fn choose_bandwidth(
    bt: &Backtester<'_>,
    store: &IncidentStore,
    filter: &IncidentFilter,
    opts: &ChoiceOptions,
) -> Result<BandwidthChoice, EvaluateError> {
    let cell_m = bt.land.grid.cell_m;
    let usable =
        |h: &f64| h.is_finite() && *h >= 0.75 * cell_m && *h <= crate::density::MAX_BANDWIDTH_M;
    let mut candidates: Vec<f64> = opts.candidates_m.iter().copied().filter(usable).collect();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    let skipped: Vec<f64> = opts
        .candidates_m
        .iter()
        .copied()
        .filter(|h| !usable(h))
        .collect();
    if candidates.is_empty() {
        return Err(EvaluateError::Periods(format!(
            "no candidate bandwidth is at least 0.75 × the {cell_m} m cell side"
        )));
    }
    let months = data_span(store, filter, Step::Month)
        .ok_or_else(|| EvaluateError::Periods("no incidents pass the filters".into()))?;
    // Months, unless asked for weeks or the timed data covers fewer than two whole months.
    let step = match opts.step {
        Step::Month if !months.month_only && months.last - months.first < 1 => Step::Week,
        s => s,
    };
    if step == Step::Week && months.month_only {
        return Err(EvaluateError::Periods(format!(
            "choosing a bandwidth by backtest needs at least two whole months of police.uk records (they carry a month only); the data covers {}",
            if months.last >= months.first {
                format!("one ({})", Step::Month.label(months.first))
            } else {
                "none whole".to_string()
            }
        )));
    }
    let d = data_span(store, filter, step).unwrap_or(months);
    let span = (d.last - d.first + 1).max(0) as usize;
    if span < 2 {
        return Err(EvaluateError::Periods(format!(
            "choosing a bandwidth by backtest needs at least two whole {}s of data; it covers {}",
            step.name(),
            if span == 1 {
                format!("one ({})", step.label(d.first))
            } else {
                "none".to_string()
            }
        )));
    }
    let window = opts.window.clamp(1, span - 1);
    let mut all = folds(store, filter, step, window, None, None)?;
    if all.len() > opts.max_folds.max(1) {
        all.drain(..all.len() - opts.max_folds.max(1));
    }
    let counted: Vec<(Vec<f64>, Vec<f64>)> = all
        .iter()
        .map(|f| {
            (
                bt.land.counts(store, &f.train_filter(filter)),
                bt.land.counts(store, &f.test_filter(filter)),
            )
        })
        .collect();
    let mut scores = Vec::new();
    for &h in &candidates {
        let mut pai_by_fold = Vec::new();
        for (f, (train, test)) in all.iter().zip(&counted) {
            let period = Period {
                store,
                filter: f.train_filter(filter),
            };
            let pai = match bt.map(Method::Kde(BandwidthRule::Fixed(h)), &period) {
                Ok(map) => coverage(&map.score, train, test, &[opts.share])[0].pai,
                // A training window with no incidents has no map.
                Err(EvaluateError::Surface(crate::density::SurfaceError::NoIncidents)) => None,
                Err(e) => return Err(e),
            };
            pai_by_fold.push(pai);
        }
        let defined: Vec<f64> = pai_by_fold.iter().flatten().copied().collect();
        scores.push(CandidateScore {
            bandwidth_m: h,
            mean_pai: (!defined.is_empty())
                .then(|| defined.iter().sum::<f64>() / defined.len() as f64),
            pai_by_fold,
        });
    }
    let best = scores
        .iter()
        .filter_map(|c| c.mean_pai.map(|p| (c.bandwidth_m, p)))
        // Strictly greater only, so the smaller of equal candidates stays.
        .fold(None::<(f64, f64)>, |acc, (h, p)| match acc {
            Some((_, bp)) if p <= bp => acc,
            _ => Some((h, p)),
        })
        .ok_or_else(|| {
            EvaluateError::Periods("no fold had test incidents to score the candidates on".into())
        })?;
    Ok(BandwidthChoice {
        bandwidth_m: best.0,
        rule: format!(
            "backtest: the candidate with the highest mean PAI at {}% of land over {} rolling fold(s) ({} training {}(s) each, tested on the next)",
            opts.share * 100.0,
            all.len(),
            window,
            step.name()
        ),
        area_share: opts.share,
        step,
        window,
        folds: all,
        candidates: scores,
        skipped_candidates_m: skipped,
        cell_m,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::time::parse_month;

    /// Months and weeks: index, start, label and parse agree, across DST changes and years.
    #[test]
    fn periods_round_trip() {
        for label in ["2023-12", "2024-01", "2024-03", "2024-10", "1999-02"] {
            let i = Step::Month.parse_label(label).unwrap();
            assert_eq!(Step::Month.label(i), label);
            let (from, to) = parse_month(label).unwrap();
            assert_eq!(Step::Month.start_of(i).unwrap(), from);
            assert_eq!(Step::Month.start_of(i + 1).unwrap(), to);
            assert_eq!(Step::Month.index_of(to - 1), i);
        }
        // ISO weeks: 2020-W53 exists; 2024-12-30 is in 2025-W01; BST begins in 2024-W13.
        for label in ["2020-W53", "2025-W01", "2024-W13", "2024-W44"] {
            let i = Step::Week.parse_label(label).unwrap();
            assert_eq!(Step::Week.label(i), label);
        }
        let w = Step::Week.parse_label("2025-W01").unwrap();
        let d = crate::incidents::time::local_day_start(Date::constant(2024, 12, 30)).unwrap();
        assert_eq!(Step::Week.start_of(w).unwrap(), d);
        // The week BST begins (31 March 2024) is 7 days less one hour long.
        let w13 = Step::Week.parse_label("2024-W13").unwrap();
        let len = Step::Week.start_of(w13 + 1).unwrap() - Step::Week.start_of(w13).unwrap();
        assert_eq!(len, 7 * 24 * 60 - 60);
        assert!(Step::Week.parse_label("2024-27").is_err());
        assert!(Step::Month.parse_label("2024-13").is_err());
    }

    /// The spread of fold values, against figures worked by hand.
    #[test]
    fn spread_by_hand() {
        let s = Spread::of([Some(2.0), None, Some(4.0), Some(9.0)]).unwrap();
        assert_eq!((s.n, s.mean, s.min, s.max), (3, 5.0, 2.0, 9.0));
        // Sample variance ((−3)² + (−1)² + 4²) / 2 = 13.
        assert!((s.sd.unwrap() - 13f64.sqrt()).abs() < 1e-12);
        assert_eq!(Spread::of([Some(1.0)]).unwrap().sd, None);
        assert!(Spread::of([None]).is_none());
    }
}
