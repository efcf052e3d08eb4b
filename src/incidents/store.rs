//! The compact in-memory incident store: one column per attribute.

use super::offence::{HarmTable, OffenceGroup};
use super::time::EpochMinutes;

/// Flag: the incident has a police.uk month, not a time (never feeds hour analysis).
pub const FLAG_MONTH_ONLY: u8 = 1;
/// Flag: no `occurred_to` was given (the span is the start minute).
pub const FLAG_NO_END: u8 = 2;
/// Flag: another source holds what looks like the same incident (within the cross-source
/// duplicate rule's time and distance), and that source comes first: this record is the
/// second report of one event (see `incidents::duplicates`). Flagged, never merged.
pub const FLAG_CROSS_SOURCE_DUPLICATE: u8 = 4;
/// Age value meaning "not recorded".
pub const AGE_UNKNOWN: u8 = u8::MAX;

/// Incident identifiers packed into one byte buffer.
#[derive(Debug, Clone, Default)]
pub struct IdArena {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl IdArena {
    fn push(&mut self, id: &[u8]) {
        self.bytes.extend_from_slice(id);
        self.ends.push(self.bytes.len() as u32);
    }
    /// The id of incident `i` (empty for police.uk rows without a Crime ID).
    pub fn get(&self, i: usize) -> &str {
        std::str::from_utf8(self.get_bytes(i)).unwrap_or("")
    }
    /// The id of incident `i` as bytes.
    pub fn get_bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }
    /// An arena from its parts: the ids' bytes end to end, and where each id ends.
    pub(crate) fn from_parts(bytes: Vec<u8>, ends: Vec<u32>) -> Self {
        Self { bytes, ends }
    }
    /// The ids' bytes, end to end.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Where each id ends in [`IdArena::bytes`].
    pub fn ends(&self) -> &[u32] {
        &self.ends
    }
    /// Bytes of all ids together.
    pub fn total_bytes(&self) -> usize {
        self.bytes.len()
    }
    fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 4
    }
    fn reserve(&mut self, additional: usize, id_bytes: usize) {
        self.bytes.reserve(additional * id_bytes);
        self.ends.reserve(additional);
    }
    fn shrink(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// A small string interner (offence texts, location types).
#[derive(Debug, Clone, Default)]
pub struct Labels {
    names: Vec<String>,
    lookup: hashbrown::HashMap<String, u16>,
}

impl Labels {
    /// The id of a label, adding it if new; labels beyond 65,534 share the last id.
    pub fn intern(&mut self, s: &str) -> u16 {
        if let Some(&i) = self.lookup.get(s) {
            return i;
        }
        let i = self.names.len().min(u16::MAX as usize - 1) as u16;
        if self.names.len() < u16::MAX as usize - 1 {
            self.names.push(s.to_string());
            self.lookup.insert(s.to_string(), i);
        }
        i
    }
    /// Labels with ids 0, 1, … in this order (at most 65,534 are kept).
    pub fn from_names(names: Vec<String>) -> Self {
        let mut labels = Self::default();
        for n in &names {
            labels.intern(n);
        }
        labels
    }
    /// Every label, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// The label with this id.
    pub fn name(&self, i: u16) -> &str {
        self.names.get(i as usize).map_or("", String::as_str)
    }
    /// Number of labels.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Accepted incidents, one column per attribute; positions are EPSG:27700 metres.
#[derive(Debug, Clone, Default)]
pub struct IncidentStore {
    /// Easting, metres.
    pub x_m: Vec<f64>,
    /// Northing, metres.
    pub y_m: Vec<f64>,
    /// District index into the boundary pack.
    pub district: Vec<u8>,
    /// Offence group.
    pub group: Vec<OffenceGroup>,
    /// Offence label id (see [`IncidentStore::offences`]).
    pub offence: Vec<u16>,
    /// Start of the occurrence window, epoch minutes.
    pub from_min: Vec<EpochMinutes>,
    /// End of the occurrence window, epoch minutes (equal to start when none was given).
    pub to_min: Vec<EpochMinutes>,
    /// `FLAG_*` bits.
    pub flags: Vec<u8>,
    /// Harm weight given in the input (`NaN` when absent: the harm table applies).
    pub harm_given: Vec<f32>,
    /// Victim age in years, or [`AGE_UNKNOWN`].
    pub victim_age: Vec<u8>,
    /// Suspect age in years, or [`AGE_UNKNOWN`].
    pub suspect_age: Vec<u8>,
    /// Location type label id (0 = none).
    pub location_type: Vec<u16>,
    /// Identifiers.
    pub ids: IdArena,
    /// Offence labels.
    pub offences: Labels,
    /// Location type labels (id 0 is the empty label).
    pub location_types: Labels,
    /// Source label id (see [`IncidentStore::sources`]).
    pub source: Vec<u8>,
    /// Source labels (police, health, council, ...), in the order first met.
    pub sources: Labels,
}

/// At most this many distinct sources (a source id is one byte).
pub const MAX_SOURCES: usize = 255;

/// One incident's fields, for [`IncidentStore::push`].
#[derive(Debug, Clone, Copy)]
pub struct NewIncident<'a> {
    /// Identifier bytes.
    pub id: &'a [u8],
    /// Easting, metres.
    pub x_m: f64,
    /// Northing, metres.
    pub y_m: f64,
    /// District index.
    pub district: u8,
    /// Offence group.
    pub group: OffenceGroup,
    /// Offence label id.
    pub offence: u16,
    /// Start, epoch minutes.
    pub from_min: EpochMinutes,
    /// End, epoch minutes.
    pub to_min: EpochMinutes,
    /// Flags.
    pub flags: u8,
    /// Given harm or NaN.
    pub harm_given: f32,
    /// Victim age or [`AGE_UNKNOWN`].
    pub victim_age: u8,
    /// Suspect age or [`AGE_UNKNOWN`].
    pub suspect_age: u8,
    /// Location type label id.
    pub location_type: u16,
    /// Source label id.
    pub source: u8,
}

impl IncidentStore {
    /// An empty store.
    pub fn new() -> Self {
        let mut s = Self::default();
        s.location_types.intern("");
        s
    }

    /// Number of incidents.
    pub fn len(&self) -> usize {
        self.x_m.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.x_m.is_empty()
    }

    /// Appends one incident.
    pub fn push(&mut self, n: NewIncident<'_>) {
        self.ids.push(n.id);
        self.x_m.push(n.x_m);
        self.y_m.push(n.y_m);
        self.district.push(n.district);
        self.group.push(n.group);
        self.offence.push(n.offence);
        self.from_min.push(n.from_min);
        self.to_min.push(n.to_min);
        self.flags.push(n.flags);
        self.harm_given.push(n.harm_given);
        self.victim_age.push(n.victim_age);
        self.suspect_age.push(n.suspect_age);
        self.location_type.push(n.location_type);
        self.source.push(n.source);
    }

    /// The id of a source label, adding it if new; `None` beyond [`MAX_SOURCES`].
    pub fn source_id(&mut self, label: &str) -> Option<u8> {
        if let Some(i) = self.sources.names().iter().position(|n| n == label) {
            return u8::try_from(i).ok();
        }
        if self.sources.len() >= MAX_SOURCES {
            return None;
        }
        u8::try_from(self.sources.intern(label)).ok()
    }

    /// The source label of incident `i`.
    pub fn source_name(&self, i: usize) -> &str {
        self.sources.name(u16::from(self.source[i]))
    }

    /// True when incident `i` has only a month (police.uk).
    pub fn is_month_only(&self, i: usize) -> bool {
        self.flags[i] & FLAG_MONTH_ONLY != 0
    }

    /// Harm weight of incident `i`: the given value, else the table's weight for its group.
    pub fn harm(&self, i: usize, table: &HarmTable) -> f64 {
        let g = self.harm_given[i];
        if g.is_nan() {
            table.weight(self.group[i])
        } else {
            g as f64
        }
    }

    /// True when victim or suspect is 25 or younger.
    pub fn youth_involved(&self, i: usize) -> bool {
        let young = |a: u8| a != AGE_UNKNOWN && a <= 25;
        young(self.victim_age[i]) || young(self.suspect_age[i])
    }

    /// True when any incident records an age.
    pub fn has_ages(&self) -> bool {
        self.victim_age
            .iter()
            .chain(&self.suspect_age)
            .any(|&a| a != AGE_UNKNOWN)
    }

    /// Reserves room for `additional` more incidents with ids of about `id_bytes` bytes.
    pub fn reserve(&mut self, additional: usize, id_bytes: usize) {
        self.x_m.reserve(additional);
        self.y_m.reserve(additional);
        self.district.reserve(additional);
        self.group.reserve(additional);
        self.offence.reserve(additional);
        self.from_min.reserve(additional);
        self.to_min.reserve(additional);
        self.flags.reserve(additional);
        self.harm_given.reserve(additional);
        self.victim_age.reserve(additional);
        self.suspect_age.reserve(additional);
        self.location_type.reserve(additional);
        self.source.reserve(additional);
        self.ids.reserve(additional, id_bytes);
    }

    /// Releases spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.x_m.shrink_to_fit();
        self.y_m.shrink_to_fit();
        self.district.shrink_to_fit();
        self.group.shrink_to_fit();
        self.offence.shrink_to_fit();
        self.from_min.shrink_to_fit();
        self.to_min.shrink_to_fit();
        self.flags.shrink_to_fit();
        self.harm_given.shrink_to_fit();
        self.victim_age.shrink_to_fit();
        self.suspect_age.shrink_to_fit();
        self.location_type.shrink_to_fit();
        self.source.shrink_to_fit();
        self.ids.shrink();
    }

    /// Heap bytes held by the per-incident columns and ids (labels excluded: they are per
    /// distinct value, not per incident).
    pub fn heap_bytes(&self) -> usize {
        self.x_m.capacity() * 8
            + self.y_m.capacity() * 8
            + self.district.capacity()
            + self.group.capacity()
            + self.offence.capacity() * 2
            + self.from_min.capacity() * 4
            + self.to_min.capacity() * 4
            + self.flags.capacity()
            + self.harm_given.capacity() * 4
            + self.victim_age.capacity()
            + self.suspect_age.capacity()
            + self.location_type.capacity() * 2
            + self.source.capacity()
            + self.ids.heap_bytes()
    }
}
