//! `boundaries import`: builds a boundary pack from an ONS Local Authority District file.

use std::path::Path;

use geo::algorithm::bool_ops::FillRule;
use geo::{Area, BooleanOps, MultiPolygon, Validation};
use sha2::{Digest, Sha256};

use super::pack::{read_district_features, round_multipolygon, BoundaryPack, District, Provenance};
use super::topology::simplify_shared;
use super::BoundaryError;

/// The 13 Kent & Medway districts: Medway and the 12 Kent districts.
pub const KENT_MEDWAY_CODES: [&str; 13] = [
    "E06000035", // Medway
    "E07000105", // Ashford
    "E07000106", // Canterbury
    "E07000107", // Dartford
    "E07000108", // Dover
    "E07000109", // Gravesham
    "E07000110", // Maidstone
    "E07000111", // Sevenoaks
    "E07000112", // Folkestone and Hythe
    "E07000113", // Swale
    "E07000114", // Thanet
    "E07000115", // Tonbridge and Malling
    "E07000116", // Tunbridge Wells
];

/// The attribution written into packs made from ONS boundaries.
pub const ONS_ATTRIBUTION: &str = "Source: Office for National Statistics licensed under the Open Government Licence v.3.0. Contains OS data © Crown copyright and database right.";

/// Options for [`import_districts`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// District codes to keep; `None` keeps the 13 Kent & Medway districts.
    pub codes: Option<Vec<String>>,
    /// Douglas–Peucker tolerance, metres.
    pub tolerance_m: f64,
    /// Coordinate rounding, metres.
    pub rounding_m: f64,
    /// Licence and attribution text stored in the pack.
    pub attribution: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            codes: None,
            tolerance_m: 10.0,
            rounding_m: 0.1,
            attribution: ONS_ATTRIBUTION.to_string(),
        }
    }
}

/// What an import did, for the command's report.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// Features in the source file.
    pub features_read: usize,
    /// Districts kept.
    pub districts_kept: usize,
    /// Districts whose geometry needed repair.
    pub repaired: Vec<String>,
    /// Vertices before simplification.
    pub vertices_in: usize,
    /// Vertices after.
    pub vertices_out: usize,
    /// Boundary arcs shared by two districts.
    pub shared_arcs: usize,
    /// Districts that needed a finer tolerance somewhere to stay valid.
    pub refined_districts: usize,
}

/// Reads an ONS district file (any vintage; CRS84 or EPSG:27700), keeps the chosen districts,
/// repairs invalid geometry, simplifies with shared boundaries kept shared, rounds, and returns
/// the pack with its provenance.
pub fn import_districts(
    path: &Path,
    opts: &ImportOptions,
) -> Result<(BoundaryPack, ImportReport), BoundaryError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| BoundaryError::Io {
        file: file.clone(),
        source,
    })?;
    import_districts_bytes(&bytes, &file, opts)
}

/// As [`import_districts`], on a file's content already in memory; `file` names it in errors
/// and provenance.
pub fn import_districts_bytes(
    bytes: &[u8],
    file: &str,
    opts: &ImportOptions,
) -> Result<(BoundaryPack, ImportReport), BoundaryError> {
    let file = file.to_string();
    let sha = Sha256::digest(bytes);
    let text = String::from_utf8_lossy(bytes);
    let (raw, _) = read_district_features(&text, &file)?;
    let features_read = raw.len();

    let wanted: Vec<String> = match &opts.codes {
        Some(c) => c.clone(),
        None => KENT_MEDWAY_CODES.iter().map(|s| s.to_string()).collect(),
    };
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|w| !raw.iter().any(|r| &r.code == *w))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(BoundaryError::CodesAbsent {
            file,
            missing: missing.join(", "),
        });
    }
    let mut kept = Vec::new();
    let mut repaired = Vec::new();
    for r in raw.into_iter().filter(|r| wanted.contains(&r.code)) {
        if kept
            .iter()
            .any(|(c, _, _): &(String, String, MultiPolygon<f64>)| c == &r.code)
        {
            return Err(BoundaryError::DuplicateCode {
                file,
                feature: r.index,
                code: r.code,
            });
        }
        let rounded = round_multipolygon(&r.geometry, opts.rounding_m);
        let geometry = if rounded.is_valid() && rounded.unsigned_area() > 0.0 {
            rounded
        } else {
            // Repair: re-node the rings with a polygon union under the non-zero fill rule
            // (resolves self-intersections, duplicate and overlapping parts, whatever the ring
            // orientation); give up if it still is not valid.
            let fixed = rounded.union_with_fill_rule(&MultiPolygon::new(vec![]), FillRule::NonZero);
            if fixed.0.is_empty() || fixed.unsigned_area() <= 0.0 || !fixed.is_valid() {
                let message = rounded
                    .validation_errors()
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "zero area: the rings enclose nothing".to_string());
                return Err(BoundaryError::Unrepairable {
                    file,
                    feature: r.index,
                    code: r.code,
                    message,
                });
            }
            repaired.push(r.code.clone());
            fixed
        };
        kept.push((r.code, r.name, geometry));
    }

    let shapes: Vec<MultiPolygon<f64>> = kept.iter().map(|(_, _, g)| g.clone()).collect();
    let (simplified, srep) = simplify_shared(&shapes, opts.tolerance_m, opts.rounding_m);
    let districts = kept
        .into_iter()
        .zip(simplified)
        .map(|((code, name, _), geometry)| District {
            area_km2: geometry.unsigned_area() / 1e6,
            code,
            name,
            geometry,
        })
        .collect::<Vec<_>>();
    let provenance = Provenance {
        source_file: std::path::Path::new(&file)
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_else(|| file.clone()),
        source_sha256: format!("{sha:x}"),
        tolerance_m: opts.tolerance_m,
        rounding_m: opts.rounding_m,
        attribution: opts.attribution.clone(),
    };
    let report = ImportReport {
        features_read,
        districts_kept: districts.len(),
        repaired,
        vertices_in: srep.vertices_in,
        vertices_out: srep.vertices_out,
        shared_arcs: srep.shared_arcs,
        refined_districts: srep.refined_districts,
    };
    let pack = BoundaryPack::from_districts(&file, districts, Some(provenance))?;
    Ok((pack, report))
}
