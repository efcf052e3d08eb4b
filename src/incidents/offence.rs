//! Offence groups of the VRU and the data table that maps offence text onto them.
//!
//! The table (`src/incidents/offence_groups.csv`, overridable with `--offence-map FILE`) has
//! columns `match,pattern,group`. Matching is case-insensitive on the trimmed offence text:
//! every `exact` row is tried first, then `contains` rows in file order; the first hit wins and
//! anything unmatched is `other`. police.uk's combined "Violence and sexual offences" cannot be
//! split, so the default table maps it to violence with injury.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use thiserror::Error;

/// The default offence mapping table.
pub const DEFAULT_OFFENCE_TABLE: &str = include_str!("offence_groups.csv");
/// The default harm table (indicative days of imprisonment per offence group).
pub const DEFAULT_HARM_TABLE: &str = include_str!("harm_weights.csv");
/// Version label of the default harm table, written into output metadata.
pub const DEFAULT_HARM_TABLE_VERSION: &str = "vru-indicative-2026.1";

/// The VRU's serious-violence groups, plus `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum OffenceGroup {
    /// Violence with injury (GBH, ABH, wounding, homicide).
    ViolenceWithInjury = 0,
    /// Robbery of personal or business property.
    Robbery = 1,
    /// Knives and weapons (possession, use, threats).
    KnivesWeapons = 2,
    /// Violence linked to drug supply.
    DrugSupplyViolence = 3,
    /// Sexual violence.
    SexualViolence = 4,
    /// Everything else.
    Other = 5,
}

impl OffenceGroup {
    /// All groups in order.
    pub const ALL: [OffenceGroup; 6] = [
        OffenceGroup::ViolenceWithInjury,
        OffenceGroup::Robbery,
        OffenceGroup::KnivesWeapons,
        OffenceGroup::DrugSupplyViolence,
        OffenceGroup::SexualViolence,
        OffenceGroup::Other,
    ];

    /// The machine name used on the command line and in outputs.
    pub fn slug(self) -> &'static str {
        match self {
            OffenceGroup::ViolenceWithInjury => "violence_with_injury",
            OffenceGroup::Robbery => "robbery",
            OffenceGroup::KnivesWeapons => "knives_weapons",
            OffenceGroup::DrugSupplyViolence => "drug_supply_violence",
            OffenceGroup::SexualViolence => "sexual_violence",
            OffenceGroup::Other => "other",
        }
    }

    /// True for the five serious-violence groups.
    pub fn is_serious_violence(self) -> bool {
        self != OffenceGroup::Other
    }

    /// From the `u8` representation.
    pub fn from_u8(v: u8) -> Self {
        Self::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(OffenceGroup::Other)
    }
}

impl fmt::Display for OffenceGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl Serialize for OffenceGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.slug())
    }
}

impl FromStr for OffenceGroup {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Self::ALL
            .into_iter()
            .find(|g| g.slug() == t)
            .ok_or_else(|| {
                format!(
                    "unknown offence group '{s}' (expected one of {})",
                    Self::ALL.map(|g| g.slug()).join(", ")
                )
            })
    }
}

/// Errors reading a mapping or harm table.
#[derive(Debug, Error)]
pub enum TableError {
    /// Unreadable file.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// Path.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A bad row.
    #[error("{file}: line {line}: field {field}: {message}")]
    Row {
        /// Path.
        file: String,
        /// 1-based line.
        line: u64,
        /// Column name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Maps offence text to an [`OffenceGroup`].
#[derive(Debug, Clone)]
pub struct OffenceMap {
    exact: HashMap<String, OffenceGroup>,
    contains: Vec<(String, OffenceGroup)>,
}

impl OffenceMap {
    /// The default table shipped with the crate.
    pub fn default_table() -> Self {
        // The embedded table is checked by a unit test; an error here would be a build defect.
        Self::parse(DEFAULT_OFFENCE_TABLE, "offence_groups.csv (embedded)").unwrap_or(Self {
            exact: HashMap::new(),
            contains: Vec::new(),
        })
    }

    /// Reads a table from a file.
    pub fn load(path: &Path) -> Result<Self, TableError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TableError::Io {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file)
    }

    /// Parses table text (`match,pattern,group`).
    pub fn parse(text: &str, file: &str) -> Result<Self, TableError> {
        let mut exact = HashMap::new();
        let mut contains = Vec::new();
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        for rec in rdr.records() {
            let rec = rec.map_err(|e| TableError::Row {
                file: file.to_string(),
                line: e.position().map_or(0, |p| p.line()),
                field: "match",
                message: e.to_string(),
            })?;
            let line = rec.position().map_or(0, |p| p.line());
            let row_err = |field: &'static str, message: String| TableError::Row {
                file: file.to_string(),
                line,
                field,
                message,
            };
            if rec.len() != 3 {
                return Err(row_err(
                    "match",
                    format!("expected 3 columns, found {}", rec.len()),
                ));
            }
            let pattern = rec[1].trim().to_lowercase();
            if pattern.is_empty() {
                return Err(row_err("pattern", "empty pattern".into()));
            }
            let group: OffenceGroup = rec[2].parse().map_err(|m| row_err("group", m))?;
            match rec[0].trim() {
                "exact" => {
                    exact.insert(pattern, group);
                }
                "contains" => contains.push((pattern, group)),
                other => {
                    return Err(row_err(
                        "match",
                        format!("'{other}' is neither 'exact' nor 'contains'"),
                    ))
                }
            }
        }
        Ok(Self { exact, contains })
    }

    /// The group for an offence text.
    pub fn classify(&self, offence: &str) -> OffenceGroup {
        let t = offence.trim().to_lowercase();
        if let Some(g) = self.exact.get(&t) {
            return *g;
        }
        self.contains
            .iter()
            .find(|(p, _)| t.contains(p.as_str()))
            .map_or(OffenceGroup::Other, |(_, g)| *g)
    }
}

/// Harm weight per offence group (e.g. Crime Harm Index days), with a version label.
#[derive(Debug, Clone, Serialize)]
pub struct HarmTable {
    /// Version label written into output metadata.
    pub version: String,
    /// Weight per group, indexed by `OffenceGroup as usize`.
    pub weights: [f64; 6],
}

impl HarmTable {
    /// The indicative default table (see README: replace with the force's own CCHI table).
    pub fn default_table() -> Self {
        Self::parse(
            DEFAULT_HARM_TABLE,
            "harm_weights.csv (embedded)",
            DEFAULT_HARM_TABLE_VERSION,
        )
        .unwrap_or(Self {
            version: "unit".into(),
            weights: [1.0; 6],
        })
    }

    /// Reads a table from a file; the version is the file name plus its first 12 hex of SHA-256.
    pub fn load(path: &Path) -> Result<Self, TableError> {
        use sha2::Digest;
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TableError::Io {
            file: file.clone(),
            source,
        })?;
        let sha = sha2::Sha256::digest(text.as_bytes());
        let hex: String = sha.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let name = path
            .file_name()
            .map_or(file.clone(), |f| f.to_string_lossy().to_string());
        Self::parse(&text, &file, &format!("{name}@{hex}"))
    }

    /// Parses `group,harm_days` rows; every group must be present.
    pub fn parse(text: &str, file: &str, version: &str) -> Result<Self, TableError> {
        let mut weights = [f64::NAN; 6];
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        for rec in rdr.records() {
            let rec = rec.map_err(|e| TableError::Row {
                file: file.into(),
                line: e.position().map_or(0, |p| p.line()),
                field: "group",
                message: e.to_string(),
            })?;
            let line = rec.position().map_or(0, |p| p.line());
            let err = |field: &'static str, message: String| TableError::Row {
                file: file.into(),
                line,
                field,
                message,
            };
            let g: OffenceGroup = rec
                .get(0)
                .unwrap_or("")
                .parse()
                .map_err(|m| err("group", m))?;
            let w: f64 = rec
                .get(1)
                .unwrap_or("")
                .trim()
                .parse()
                .ok()
                .filter(|w: &f64| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| {
                    err(
                        "harm_days",
                        format!("'{}' is not a number ≥ 0", rec.get(1).unwrap_or("")),
                    )
                })?;
            weights[g as usize] = w;
        }
        if let Some(g) = OffenceGroup::ALL
            .iter()
            .find(|g| weights[**g as usize].is_nan())
        {
            return Err(TableError::Row {
                file: file.into(),
                line: 0,
                field: "group",
                message: format!("no row for group {g}"),
            });
        }
        Ok(Self {
            version: version.to_string(),
            weights,
        })
    }

    /// Weight of a group.
    pub fn weight(&self, g: OffenceGroup) -> f64 {
        self.weights[g as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_parse() {
        OffenceMap::parse(DEFAULT_OFFENCE_TABLE, "t").unwrap();
        let h = HarmTable::parse(DEFAULT_HARM_TABLE, "t", "v").unwrap();
        assert!(h.weights.iter().all(|w| *w > 0.0));
    }

    #[test]
    fn police_uk_and_free_text_offences_map_to_groups() {
        let m = OffenceMap::default_table();
        assert_eq!(
            m.classify("Violence and sexual offences"),
            OffenceGroup::ViolenceWithInjury
        );
        assert_eq!(
            m.classify("Possession of weapons"),
            OffenceGroup::KnivesWeapons
        );
        assert_eq!(m.classify(" ROBBERY "), OffenceGroup::Robbery);
        assert_eq!(m.classify("Anti-social behaviour"), OffenceGroup::Other);
        assert_eq!(
            m.classify("Wounding with intent (GBH)"),
            OffenceGroup::ViolenceWithInjury
        );
        assert_eq!(
            m.classify("Assault linked to drug supply"),
            OffenceGroup::DrugSupplyViolence
        );
        assert_eq!(
            m.classify("Rape of a female aged 16 or over"),
            OffenceGroup::SexualViolence
        );
        assert_eq!(
            m.classify("Threats with a knife"),
            OffenceGroup::KnivesWeapons
        );
        assert_eq!(m.classify("Shoplifting"), OffenceGroup::Other);
        assert_eq!(m.classify("Something unheard of"), OffenceGroup::Other);
    }

    #[test]
    fn bad_table_rows_name_line_and_field() {
        let e = OffenceMap::parse("match,pattern,group\nexact,x,nonsense\n", "m.csv").unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("m.csv") && s.contains("line 2") && s.contains("group"),
            "{s}"
        );
        let e = HarmTable::parse("group,harm_days\nrobbery,-1\n", "h.csv", "v").unwrap_err();
        assert!(e.to_string().contains("harm_days"), "{e}");
    }
}
