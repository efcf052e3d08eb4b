//! Statistical disclosure control: the one pass every published output goes through, so no
//! layer, tile, selection or heatmap lets a reader single out an incident.
//!
//! Rules, on the tiers they apply to (public always; partner when configured):
//! - **Threshold**: a feature resting on fewer than `k` incidents (a cell's count, a
//!   hotspot's incidents, a Gi* or emerging cell's neighbourhood) is not published; a count
//!   field below `k` inside a published feature (an offence group's count) is null, and the
//!   fields derived from it (its share, its group's name) are null with it.
//! - **Rounding**: published counts are rounded to the nearest multiple of `round_to`
//!   (halves up); shares and rates proportional to a count are scaled to the rounded count;
//!   fields that would give an exact count or an offence back (harm, Poisson p of a count,
//!   Gi* z and p, cumulative shares, the JSON detail) are left out; ranks are renumbered.
//! - **Selections** (offence group × period, counted at request time) are answered only at
//!   the tier's granularity (whole months on public layers) and for one offence group at a
//!   time, and a feature is left out when its selection count is below `k` or leaves 1..k−1
//!   of the feature out; the selection count is perturbed month by month by the cell-key
//!   method ([`CellKeys`]), so overlapping queries are not differenced down to one incident.
//! - **Heatmaps**: a pixel whose kernel sum rests on fewer than `k` incidents (incidents
//!   within one bandwidth of its centre) is transparent.
//!
//! These follow the small-number practice of UK official statistics (ONS and NHS England
//! suppress counts below a threshold, commonly 5, and round the rest) and the police.uk
//! approach of publishing no more than a month. Every controlled layer carries the rules
//! and what they removed in its metadata (`disclosure`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::incidents::time::{local_datetime, EpochMinutes};
use crate::layers::{Attr, LayerTable};

mod cell_key;
pub use cell_key::{perturb, record_key, CellKeys, MAX_NOISE};

/// Who may read a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Anyone: disclosure control always applies.
    Public,
    /// Named organisations with a token; disclosure control when configured.
    Partner,
    /// Named organisations with a restricted token; no disclosure control.
    Restricted,
}

impl Tier {
    /// `public`, `partner` or `restricted`.
    pub fn slug(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Partner => "partner",
            Tier::Restricted => "restricted",
        }
    }
}

/// What a controlled output is, for the rules its metadata states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A layer; `selectable` when it answers selections (offence group, period).
    Layer {
        /// Whether it takes selections.
        selectable: bool,
    },
    /// The heatmap (density surface and its tiles).
    Heatmap,
    /// The peak-hours report.
    Peaks,
}

/// The finest period a selection may ask for on a controlled tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// Whole Europe/London calendar months.
    Month,
    /// Whole Europe/London days.
    Day,
    /// Any minute (no limit).
    Minute,
}

impl Granularity {
    /// `month`, `day` or `minute`.
    pub fn slug(self) -> &'static str {
        match self {
            Granularity::Month => "month",
            Granularity::Day => "day",
            Granularity::Minute => "minute",
        }
    }

    /// Whether epoch minute `m` is a boundary at this granularity (local midnight, and the
    /// first of a month for months).
    fn is_boundary(self, m: EpochMinutes) -> bool {
        let t = local_datetime(m);
        let midnight = t.hour() == 0 && t.minute() == 0;
        match self {
            Granularity::Minute => true,
            Granularity::Day => midnight,
            Granularity::Month => midnight && t.day() == 1,
        }
    }
}

/// The disclosure-control parameters (config `[disclosure]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Smallest count published (threshold k).
    #[serde(default = "default_k")]
    pub min_count: u64,
    /// Counts are rounded to the nearest multiple of this (1: not rounded).
    #[serde(default = "default_round_to")]
    pub round_to: u64,
    /// The finest selection period answered.
    #[serde(default = "default_granularity")]
    pub granularity: Granularity,
    /// Whether partner-tier layers are controlled too (public ones always are).
    #[serde(default = "default_partner")]
    pub partner: bool,
}

fn default_k() -> u64 {
    5
}
fn default_round_to() -> u64 {
    5
}
fn default_granularity() -> Granularity {
    Granularity::Month
}
fn default_partner() -> bool {
    false
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_count: default_k(),
            round_to: default_round_to(),
            granularity: default_granularity(),
            partner: default_partner(),
        }
    }
}

/// How disclosure control treats a field (declared with the layer's schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdc {
    /// Not about incidents (ids, names, areas, positions, test results of the feature).
    Keep,
    /// An incident count: null below k, rounded otherwise.
    Count,
    /// A count ranked after the named one (the second offence group's after the first):
    /// as [`Sdc::Count`], and null when the named one is null, so a 0 after a suppressed
    /// count does not show that the suppressed one holds the rest.
    CountAfter(&'static str),
    /// Proportional to the named count (a share, a PAI): null with it, otherwise scaled by
    /// the count's rounded ÷ exact value.
    Scaled(&'static str),
    /// The share of the first named count in the second (a group's share of a hotspot's
    /// incidents): null with either, otherwise the rounded first ÷ the rounded second, so
    /// the exact denominator cannot be worked back from a rounded count and its share.
    ShareOf(&'static str, &'static str),
    /// About the incidents the named count counts (an offence group's name): null with it.
    With(&'static str),
    /// A statistic kept to this many significant figures (a peak density, a trend's z and
    /// p), so its exact value cannot be inverted for the counts behind it.
    Significant(u8),
    /// A rank (1 = first): renumbered 1.. over the features kept, so gaps do not show
    /// where features were suppressed; an id ending `-<rank>` (e.g. `grip-009`) follows.
    Rank,
    /// Would give an exact count back (a Poisson p of the count, Gi* z and p, cumulative
    /// shares, the JSON detail): left out of controlled layers.
    Exact,
}

/// The fields a layer publishes: its schema, less the [`Sdc::Exact`] fields when it is
/// controlled (they would be null in every feature).
pub fn published_fields(
    fields: &[crate::layers::Field],
    controlled: bool,
) -> Vec<crate::layers::Field> {
    fields
        .iter()
        .filter(|f| !(controlled && f.sdc == Sdc::Exact))
        .copied()
        .collect()
}

/// `x` rounded to `digits` significant figures (0, NaN and infinities unchanged).
pub fn significant(x: f64, digits: u8) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(i32::from(digits) - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Rounds `n` to the nearest multiple of `to` (halves up); `to` ≤ 1 leaves it.
pub fn round_count(n: u64, to: u64) -> u64 {
    if to <= 1 {
        n
    } else {
        (n + to / 2) / to * to
    }
}

impl Rules {
    /// Whether layers of `tier` are controlled.
    pub fn applies_to(&self, tier: Tier) -> bool {
        match tier {
            Tier::Public => true,
            Tier::Partner => self.partner,
            Tier::Restricted => false,
        }
    }

    /// A count as published: `None` when it is in 1..k (suppressed), rounded otherwise
    /// (0 stays 0: an empty selection discloses no incident).
    pub fn count(&self, n: u64) -> Option<u64> {
        if n == 0 {
            Some(0)
        } else if n < self.min_count {
            None
        } else {
            Some(round_count(n, self.round_to).max(self.min_count))
        }
    }

    /// The rules that apply to `output`, as its metadata, with what they removed.
    pub fn metadata(&self, tier: Tier, suppressed_features: usize, output: Output) -> Value {
        let k = self.min_count;
        let g = self.granularity.slug();
        let selections = [
            format!("selections are whole {g}s and one offence group at a time; a feature is left out when its selection count is below {k} or the selection leaves 1 to {} of it out", k - 1),
            format!("selection counts are perturbed by the cell-key method (noise of -{n}..+{n} fixed by each {g}'s incidents, summed over the {g}s), then rounded and capped at the feature's count", n = MAX_NOISE),
        ];
        let rules: Vec<String> = match output {
            Output::Layer { selectable } => {
                let mut v = vec![
                    format!("features resting on fewer than {k} incidents are not published"),
                    format!("counts below {k} are null; counts are rounded to the nearest {}; shares and rates follow the rounded counts", self.round_to),
                    "fields that give an exact count or an offence back (harm, Poisson p, Gi* z and p, cumulative shares, detail) are left out; ranks are renumbered over the features kept".to_string(),
                    "an offence group's share is its rounded count over the rounded total; a group ranked after a suppressed one is null too; peak densities and trend z and p keep one or two significant figures".to_string(),
                ];
                if selectable {
                    v.extend(selections);
                }
                v
            }
            Output::Heatmap => vec![
                format!("pixels resting on fewer than {k} incidents within the bandwidth are transparent; the others keep two significant figures"),
                format!("selections are whole {g}s and one offence group at a time"),
            ],
            Output::Peaks => vec![
                format!("districts with fewer than {k} incidents are left out"),
                format!("counts below {k} are null; counts are rounded to the nearest {}", self.round_to),
                format!("profile bins below {k} are null and the rest rounded to the nearest {}; no per-bin tests; windows keep their hours, days, share (two decimals) and rate ratio (one decimal), without p and q", self.round_to),
            ],
        };
        json!({
            "tier": tier.slug(),
            "controlled": true,
            "min_count": self.min_count,
            "round_to": self.round_to,
            "selection_granularity": g,
            "suppressed_features": suppressed_features,
            "rules": rules,
        })
    }

    /// A feature's selection count as published: `None` (the feature is left out) when the
    /// selection holds fewer than k incidents, or when what it leaves out of the feature's
    /// `total` is 1..k−1 (it could be worked out from the published total: complementary
    /// suppression), or when its perturbed count `protected` ([`CellKeys::protected_count`])
    /// is below k; otherwise `protected` rounded as [`Rules::count`], and no more than the
    /// feature's published count.
    pub fn selection_count(&self, selected: u64, total: u64, protected: u64) -> Option<u64> {
        let rest = total.saturating_sub(selected);
        if selected < self.min_count.max(1)
            || (rest > 0 && rest < self.min_count)
            || protected < self.min_count.max(1)
        {
            return None;
        }
        // Never more than the feature's own published count.
        Some(self.count(protected)?.min(self.count(total)?))
    }

    /// Checks a selection against the rules: its period ([`Rules::check_period`]) and its
    /// offence groups ([`Rules::check_groups`]).
    pub fn check_selection(&self, filter: &crate::density::IncidentFilter) -> Result<(), String> {
        self.check_period(filter.from_min, filter.to_min)?;
        self.check_groups(filter.groups.len())
    }

    /// Checks a selection's offence groups: one group at a time on controlled layers, since
    /// the counts of overlapping group sets can be differenced.
    pub fn check_groups(&self, groups: usize) -> Result<(), String> {
        if groups > 1 {
            return Err("offence_group on this layer takes one group at a time (disclosure control: the counts of overlapping group sets could be differenced)".into());
        }
        Ok(())
    }

    /// Checks a selection's period against the granularity: each given end must fall on a
    /// boundary (a local midnight starting a month, for months). The message says what
    /// is accepted.
    pub fn check_period(
        &self,
        from: Option<EpochMinutes>,
        to: Option<EpochMinutes>,
    ) -> Result<(), String> {
        let ok = |m: Option<EpochMinutes>| m.is_none_or(|m| self.granularity.is_boundary(m));
        if ok(from) && ok(to) {
            return Ok(());
        }
        Err(match self.granularity {
            Granularity::Month => "datetime on this layer must be whole Europe/London months, e.g. 2025-06, 2025-01/2025-03, or as instants (the interval is closed: its end instant is included) 2025-06-01T00:00:00+01:00/2025-06-30T23:59:59+01:00 (disclosure control)".into(),
            Granularity::Day => "datetime on this layer must be whole Europe/London days, e.g. 2025-06-14 or 2025-06-01/2025-06-30 (disclosure control)".into(),
            Granularity::Minute => unreachable!("every minute is a boundary"),
        })
    }

    /// The controlled version of `table` (with its `members`, kept in step): features whose
    /// `support` (incidents the feature rests on; `None` for features about no incidents,
    /// such as districts) is below k are dropped; each field is treated by its [`Sdc`] role;
    /// the rules go into the metadata under `disclosure`.
    pub fn apply(
        &self,
        tier: Tier,
        table: &LayerTable,
        members: Option<&[Vec<u32>]>,
        support: &[Option<u64>],
    ) -> (LayerTable, Option<Vec<Vec<u32>>>) {
        let mut metadata = table.metadata.clone();
        let mut out = LayerTable::new(
            &table.name,
            published_fields(&table.fields, true),
            Value::Null,
        );
        let mut kept_members = members.map(|_| Vec::new());
        let index = |name: &str| table.field_index(name);
        let mut suppressed = 0;
        for (i, f) in table.features.iter().enumerate() {
            if support
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|n| n < self.min_count)
            {
                suppressed += 1;
                continue;
            }
            // Counts first, so the fields that follow them know their fate.
            let mut attrs = f.attrs.clone();
            let mut renumbered: Option<(i64, i64)> = None;
            let mut ratio: Vec<Option<f64>> = vec![Some(1.0); attrs.len()];
            for (k, field) in table.fields.iter().enumerate() {
                let after_suppressed = match field.sdc {
                    Sdc::CountAfter(prev) => index(prev).is_some_and(|j| ratio[j].is_none()),
                    Sdc::Count => false,
                    _ => continue,
                };
                if let Attr::Int(n) = &f.attrs[k] {
                    let n = (*n).max(0) as u64;
                    match self.count(n).filter(|_| !after_suppressed) {
                        Some(r) => {
                            attrs[k] = Attr::Int(r as i64);
                            ratio[k] = Some(if n > 0 { r as f64 / n as f64 } else { 1.0 });
                        }
                        None => {
                            attrs[k] = Attr::Null;
                            ratio[k] = None;
                        }
                    }
                }
            }
            for (k, field) in table.fields.iter().enumerate() {
                match field.sdc {
                    Sdc::Scaled(of) => {
                        attrs[k] = match (index(of).and_then(|j| ratio[j]), &attrs[k]) {
                            (Some(r), Attr::Real(x)) => Attr::Real(x * r),
                            (Some(_), a) => a.clone(),
                            (None, _) => Attr::Null,
                        };
                    }
                    Sdc::ShareOf(num, den) => {
                        let r = |name| index(name).and_then(|j| ratio[j]);
                        attrs[k] = match (r(num), r(den), &attrs[k]) {
                            (Some(a), Some(b), Attr::Real(x)) if b > 0.0 => Attr::Real(x * a / b),
                            (Some(_), Some(_), a) => a.clone(),
                            _ => Attr::Null,
                        };
                    }
                    Sdc::With(of) => {
                        if index(of).is_some_and(|j| ratio[j].is_none()) {
                            attrs[k] = Attr::Null;
                        }
                    }
                    Sdc::Exact => attrs[k] = Attr::Null,
                    Sdc::Rank => {
                        let new = out.features.len() as i64 + 1;
                        if let Attr::Int(old) = attrs[k] {
                            attrs[k] = Attr::Int(new);
                            renumbered = Some((old, new));
                        }
                    }
                    Sdc::Significant(digits) => {
                        if let Attr::Real(x) = attrs[k] {
                            attrs[k] = Attr::Real(significant(x, digits));
                        }
                    }
                    Sdc::Keep | Sdc::Count | Sdc::CountAfter(_) => {}
                }
            }
            // A renumbered rank renames the id `<prefix>-<rank>` and the fields holding it.
            let mut id = f.id.clone();
            if let Some((old, new)) = renumbered {
                if let Some(prefix) = id.strip_suffix(&format!("-{old:03}")) {
                    let renamed = format!("{prefix}-{new:03}");
                    for a in &mut attrs {
                        if matches!(a, Attr::Text(t) if *t == id) {
                            *a = Attr::Text(renamed.clone());
                        }
                    }
                    id = renamed;
                }
            }
            // The exact-count fields leave the schema (a column of nulls would make GIS
            // clients guess its type); the table's own checks cannot fail.
            let attrs: Vec<Attr> = attrs
                .into_iter()
                .zip(&table.fields)
                .filter(|(_, fd)| fd.sdc != Sdc::Exact)
                .map(|(a, _)| a)
                .collect();
            if out.push(id, f.bng.clone(), f.wgs84.clone(), attrs).is_ok() {
                if let (Some(m), Some(all)) = (kept_members.as_mut(), members) {
                    m.push(all.get(i).cloned().unwrap_or_default());
                }
            }
        }
        if let Value::Object(o) = &mut metadata {
            o.insert(
                "disclosure".into(),
                self.metadata(
                    tier,
                    suppressed,
                    Output::Layer {
                        selectable: members.is_some(),
                    },
                ),
            );
        }
        out.metadata = metadata;
        (out, kept_members)
    }

    /// Controls a peak-hours report (`hotspots peaks` JSON) in place: counts (`incidents`,
    /// `excluded_month_only`, the `fixups`) as [`Rules::count`]; each profile bin's aoristic
    /// weight null below k and rounded otherwise; the per-bin `tests` (exact observed and
    /// expected weights, p and q) left out; each window keeps its hours and days, with its
    /// `share` to two decimals and `rate_ratio` to one, and no p or q. Applied at every
    /// depth (the area, each district, the diversion windows).
    pub fn control_peaks(&self, doc: &mut Value) {
        let count = |v: &mut Value| {
            if let Some(n) = v.as_u64() {
                *v = self.count(n).map_or(Value::Null, |r| json!(r));
            }
        };
        match doc {
            Value::Object(o) => {
                o.remove("tests");
                for key in ["incidents", "excluded_month_only"] {
                    if let Some(v) = o.get_mut(key) {
                        count(v);
                    }
                }
                if let Some(Value::Object(f)) = o.get_mut("fixups") {
                    f.values_mut().for_each(count);
                }
                if let Some(Value::Array(bins)) = o.get_mut("profile") {
                    let k = self.min_count as f64;
                    for b in bins.iter_mut() {
                        if let Some(w) = b.as_f64() {
                            *b = if w > 0.0 && w < k {
                                Value::Null
                            } else {
                                json!(round_count(w.round() as u64, self.round_to))
                            };
                        }
                    }
                }
                if let Some(Value::Array(ws)) = o.get_mut("windows") {
                    for w in ws.iter_mut().filter_map(Value::as_object_mut) {
                        w.remove("p");
                        w.remove("q");
                        let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
                        if let Some(x) = w.get("share").and_then(Value::as_f64) {
                            w.insert("share".into(), json!(round(x, 2)));
                        }
                        if let Some(x) = w.get("rate_ratio").and_then(Value::as_f64) {
                            w.insert("rate_ratio".into(), json!(round(x, 1)));
                        }
                    }
                }
                for (key, v) in o.iter_mut() {
                    if !matches!(key.as_str(), "profile" | "windows" | "fixups") {
                        self.control_peaks(v);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.control_peaks(v)),
            _ => {}
        }
    }

    /// Makes transparent (NaN) every value of a surface whose `support` (incidents within
    /// one bandwidth of the cell centre, same grid) is below k, and keeps two significant
    /// figures of the others.
    pub fn mask_surface(&self, values: &mut [f64], support: &[f64]) {
        let k = self.min_count as f64;
        for (v, s) in values.iter_mut().zip(support) {
            *v = if *s < k - 0.5 {
                f64::NAN
            } else {
                // Two significant figures: the map is the same, but exact values of a known
                // kernel could be inverted towards incident positions.
                significant(*v, 2)
            };
        }
    }
}

/// Who may read each layer, and the rules for controlled tiers (config `[disclosure]` and
/// `[layers]`). Layers not named are public; `density` names the heatmap.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Policy {
    /// The rules.
    pub rules: Rules,
    /// Tier per layer id.
    pub tiers: std::collections::BTreeMap<String, Tier>,
}

impl Policy {
    /// The tier of layer `id` (public when not configured).
    pub fn tier_of(&self, id: &str) -> Tier {
        match self.tiers.get(id) {
            Some(t) => *t,
            // A per-source hotspots layer is as open as the combined one unless configured.
            None if id.starts_with("hotspots-") => self.tier_of("hotspots"),
            None => Tier::Public,
        }
    }

    /// The rules that apply to layer `id`, if it is controlled.
    pub fn rules_for(&self, id: &str) -> Option<&Rules> {
        Some(&self.rules).filter(|r| r.applies_to(self.tier_of(id)))
    }

    /// `table` as layer `id` is published: controlled by the rules when its tier is, with
    /// its tier (and the rules) in the metadata either way. See [`Rules::apply`].
    pub fn publish(
        &self,
        id: &str,
        table: &LayerTable,
        members: Option<&[Vec<u32>]>,
        support: &[Option<u64>],
    ) -> (LayerTable, Option<Vec<Vec<u32>>>) {
        let tier = self.tier_of(id);
        if let Some(r) = self.rules_for(id) {
            return r.apply(tier, table, members, support);
        }
        let mut t = table.clone();
        if let Value::Object(o) = &mut t.metadata {
            o.insert("disclosure".into(), uncontrolled_metadata(tier));
        }
        (t, members.map(<[Vec<u32>]>::to_vec))
    }
}

/// What a layer's metadata says about its control: its tier and, when controlled, the
/// rules (as [`Rules::metadata`] wrote them). `None` when it says nothing (a snapshot from
/// before disclosure control, served as public with the default rules by the caller).
pub fn from_metadata(metadata: &Value) -> Option<(Tier, Option<Rules>)> {
    let d = metadata.get("disclosure")?;
    let tier: Tier = serde_json::from_value(d.get("tier")?.clone()).ok()?;
    if d.get("controlled").and_then(Value::as_bool) != Some(true) {
        return Some((tier, None));
    }
    let rules = Rules {
        min_count: d.get("min_count")?.as_u64()?,
        round_to: d.get("round_to")?.as_u64()?,
        granularity: serde_json::from_value(d.get("selection_granularity")?.clone()).ok()?,
        partner: tier == Tier::Partner,
    };
    Some((tier, Some(rules)))
}

/// Makes transparent the cells of a density `surface` (computed with `opts`) that rest on
/// fewer than k incidents: the incidents `opts` selects are counted within one bandwidth of
/// each cell centre (the quartic's support) by a uniform-kernel sum on the same grid, and
/// [`Rules::mask_surface`] applies the count.
///
/// Errors: those of [`crate::density::compute_surface`].
pub fn control_surface(
    rules: &Rules,
    surface: &mut crate::density::Surface,
    inputs: (
        &crate::boundaries::BoundaryPack,
        &crate::boundaries::DistrictIndex,
        &crate::incidents::IncidentStore,
        &crate::incidents::HarmTable,
    ),
    opts: &crate::density::SurfaceOptions,
) -> Result<(), crate::density::SurfaceError> {
    use crate::density::{BandwidthRule, KdeMethod, Kernel, Scaling, Weighting};
    let (pack, districts, store, harm) = inputs;
    let mut count = opts.clone();
    count.kernel = Kernel::Uniform;
    count.scaling = Scaling::QgisRaw;
    count.weighting = Weighting::Count;
    count.bandwidth = BandwidthRule::Fixed(surface.bandwidth_m);
    count.method = KdeMethod::Exact;
    count.edge_correction = false;
    let support = crate::density::compute_surface(pack, districts, store, harm, &count)?;
    if support.values.len() == surface.values.len() {
        rules.mask_surface(&mut surface.values, &support.values);
    } else {
        surface.values.iter_mut().for_each(|v| *v = f64::NAN);
    }
    Ok(())
}

/// Metadata for a layer served without disclosure control.
pub fn uncontrolled_metadata(tier: Tier) -> Value {
    json!({"tier": tier.slug(), "controlled": false})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Field, FieldType};
    use geo::MultiPolygon;

    #[test]
    fn counts_are_suppressed_below_k_and_rounded() {
        let r = Rules::default();
        assert_eq!(r.count(0), Some(0));
        for n in 1..5 {
            assert_eq!(r.count(n), None, "{n}");
        }
        assert_eq!(r.count(5), Some(5));
        assert_eq!(r.count(7), Some(5));
        assert_eq!(r.count(8), Some(10));
        assert_eq!(r.count(12), Some(10));
        assert_eq!(r.count(13), Some(15));
        // Never rounded below the threshold.
        let r3 = Rules {
            min_count: 3,
            round_to: 10,
            ..Rules::default()
        };
        assert_eq!(r3.count(4), Some(3));
    }

    #[test]
    fn months_only_on_public_selections() {
        use crate::incidents::time::{local_day_start, parse_date};
        let r = Rules::default();
        let jun = local_day_start(parse_date("2025-06-01").unwrap()).unwrap();
        let jun14 = local_day_start(parse_date("2025-06-14").unwrap()).unwrap();
        assert!(r.check_period(Some(jun), None).is_ok());
        assert!(r.check_period(None, None).is_ok());
        assert!(r.check_period(Some(jun14), None).is_err());
        assert!(r.check_period(Some(jun), Some(jun + 61)).is_err());
        let days = Rules {
            granularity: Granularity::Day,
            ..Rules::default()
        };
        assert!(days
            .check_period(Some(jun14), Some(jun14 + 24 * 60))
            .is_ok());
        assert!(days.check_period(Some(jun14 + 1), None).is_err());
    }

    #[test]
    fn a_table_pass_drops_small_features_and_follows_counts() {
        let fields = vec![
            Field::new("n", FieldType::Integer, "count").with_sdc(Sdc::Count),
            Field::new("share", FieldType::Real, "share").with_sdc(Sdc::Scaled("n")),
            Field::new("grp_n", FieldType::Integer, "group count").with_sdc(Sdc::Count),
            Field::new("grp", FieldType::Text, "group").with_sdc(Sdc::With("grp_n")),
            Field::new("harm", FieldType::Real, "harm").with_sdc(Sdc::Exact),
            Field::new("p", FieldType::Real, "p").with_sdc(Sdc::Exact),
            Field::new("name", FieldType::Text, "name"),
        ];
        let mut t = LayerTable::new("t", fields, json!({}));
        let g = MultiPolygon::new(vec![]);
        for (id, n, gn) in [("a", 1, 1), ("b", 7, 2), ("c", 12, 6)] {
            t.push(
                id.into(),
                g.clone(),
                g.clone(),
                vec![
                    Attr::Int(n),
                    Attr::Real(n as f64 / 100.0),
                    Attr::Int(gn),
                    Attr::Text("sexual_violence".into()),
                    Attr::Real(1825.0 * n as f64),
                    Attr::Real(0.01),
                    Attr::Text(id.into()),
                ],
            )
            .unwrap();
        }
        let members: Vec<Vec<u32>> = vec![vec![0], vec![1, 2], vec![3]];
        let support = [Some(1), Some(7), Some(12)];
        let (out, m) = Rules::default().apply(Tier::Public, &t, Some(&members), &support);
        assert_eq!(out.features.len(), 2);
        assert_eq!(m.unwrap(), vec![vec![1, 2], vec![3]]);
        let b = &out.features[0].attrs;
        assert_eq!(b[0], Attr::Int(5));
        assert_eq!(b[1], Attr::Real(0.07 * 5.0 / 7.0));
        assert_eq!(b[2], Attr::Null);
        assert_eq!(b[3], Attr::Null);
        // `harm` and `p` are left out of the schema.
        assert_eq!(b[4], Attr::Text("b".into()));
        assert_eq!(out.fields.len(), 5);
        assert!(out.field_index("p").is_none() && out.field_index("harm").is_none());
        let c = &out.features[1].attrs;
        assert_eq!(c[0], Attr::Int(10));
        assert_eq!(c[2], Attr::Int(5));
        assert_eq!(c[3], Attr::Text("sexual_violence".into()));
        assert_eq!(out.metadata["disclosure"]["suppressed_features"], 1);
        assert_eq!(out.metadata["disclosure"]["min_count"], 5);
    }

    #[test]
    fn selections_suppress_small_complements() {
        let r = Rules::default();
        assert_eq!(r.selection_count(7, 7, 7), Some(5));
        assert_eq!(
            r.selection_count(7, 9, 7),
            None,
            "2 left out could be worked back"
        );
        assert_eq!(r.selection_count(7, 12, 8), Some(10), "the perturbed count");
        assert_eq!(r.selection_count(7, 12, 4), None, "perturbed below k");
        assert_eq!(
            r.selection_count(12, 12, 14),
            Some(10),
            "capped at the total"
        );
        assert_eq!(r.selection_count(4, 20, 6), None, "true count below k");
        assert_eq!(r.selection_count(0, 20, 0), None);
        assert!(r.check_groups(1).is_ok() && r.check_groups(2).is_err());
    }

    #[test]
    fn peak_reports_keep_windows_and_lose_exact_figures() {
        let mut doc = json!({
            "incidents": 3076, "excluded_month_only": 3, "fixups": {"no_end": 2170, "zero_span": 2},
            "hour_of_day": {"profile": [179.9, 3.2, 0.0, 7.6], "tests": [{"p": 0.1}],
                "windows": [{"start": "18:00", "end": "20:00", "share": 0.23591, "rate_ratio": 2.83101, "p": 0.0, "q": 0.0}]},
            "groups": [{"incidents": 12, "hour_of_week": {"profile": [4.9, 5.1], "tests": []}}],
        });
        Rules::default().control_peaks(&mut doc);
        assert_eq!(doc["incidents"], 3075);
        assert_eq!(doc["excluded_month_only"], Value::Null);
        assert_eq!(doc["fixups"], json!({"no_end": 2170, "zero_span": null}));
        assert_eq!(doc["hour_of_day"]["profile"], json!([180, null, 0, 10]));
        assert!(doc["hour_of_day"].get("tests").is_none());
        assert_eq!(
            doc["hour_of_day"]["windows"][0],
            json!({"start": "18:00", "end": "20:00", "share": 0.24, "rate_ratio": 2.8})
        );
        assert_eq!(doc["groups"][0]["incidents"], 10);
        assert_eq!(
            doc["groups"][0]["hour_of_week"]["profile"],
            json!([null, 5])
        );
        assert!(doc["groups"][0]["hour_of_week"].get("tests").is_none());
    }

    #[test]
    fn significant_figures() {
        assert_eq!(significant(1234.5, 2), 1200.0);
        assert_eq!(significant(-2.3456, 2), -2.3);
        assert_eq!(significant(0.0345, 1), 0.03);
        assert_eq!(significant(0.0, 2), 0.0);
        assert!(significant(f64::NAN, 2).is_nan());
    }

    #[test]
    fn sparse_pixels_go_transparent() {
        let mut v = vec![1.0, 2.0, 3.0, 4.123];
        Rules::default().mask_surface(&mut v, &[0.0, 4.0, 5.0, 9.0]);
        assert!(v[0].is_nan() && v[1].is_nan());
        assert_eq!(&v[2..], &[3.0, 4.1]);
    }
}
