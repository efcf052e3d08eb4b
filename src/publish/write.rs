//! Writing a published snapshot: compute every layer once, write the run in a temporary
//! directory beside the target, fsync, rename it into place, then switch `current`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

use super::gates::{self, GateOptions, GateRefusal};
use super::layers::{build_layers_then, PublishedLayer};
use super::manifest::{FileEntry, LayerEntry, Manifest};
use super::pmtiles::ArchiveLayer;
use super::{io_err, PublishError, CURRENT, MANIFEST, TMP_PREFIX};
use crate::density::{compute_surface, SurfaceOptions};
use crate::hotspots::Inputs;
use crate::incidents::IngestReport;
use crate::layers::mvt::VectorLayer;
use crate::layers::write::write_layer_with;
use crate::layers::OutputCrs;

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The output directory (`OUT`): runs go to `OUT/<run_id>/`, `OUT/current` links one.
    pub out_dir: PathBuf,
    /// Runs kept, the current one included (at least 1).
    pub retain: usize,
    /// Quality gates.
    pub gates: GateOptions,
    /// SHA-256 of the configuration file, if one was used.
    pub config_sha256: Option<String>,
    /// The heatmap surface (cell, bandwidth, kernel).
    pub heatmap: SurfaceOptions,
    /// How the heatmap's bandwidth was chosen, when not given (e.g. the backtest's
    /// candidates and scores): its `rule` becomes the surface's bandwidth method, and the
    /// whole goes into the manifest's `heatmap.bandwidth_choice`.
    pub bandwidth_choice: Option<BandwidthChoiceRecord>,
    /// Tiers and disclosure control: every layer and the heatmap are published as their
    /// tier allows.
    pub policy: crate::disclosure::Policy,
}

/// A bandwidth choice as the manifest records it.
#[derive(Debug, Clone)]
pub struct BandwidthChoiceRecord {
    /// The rule in words (the surface's `bandwidth_method`).
    pub rule: String,
    /// Everything about the choice (candidates, scores, folds), as JSON.
    pub detail: serde_json::Value,
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct PublishOutcome {
    /// The new run's directory.
    pub run_dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Runs removed by retention.
    pub pruned: Vec<PathBuf>,
}

/// The files that do not depend on the layers: the area's and each district's peak hours
/// (the report and the area's heat table), the heatmap's COG, the incidents for selections
/// (server-side only) and the boundaries.
fn write_independent(
    inp: &Inputs<'_>,
    report: &crate::incidents::IngestReport,
    pack_text: &str,
    tmp: &Path,
    opts: &PublishOptions,
    tif_bytes: &[u8],
) -> Result<(), PublishError> {
    {
        let _stage = tracing::info_span!("stage", stage = "peaks").entered();
        write_peaks(inp, tmp, &opts.policy)?;
        if opts.policy.tier_of("peaks") != crate::disclosure::Tier::Public {
            for f in ["peaks.json", "peaks.png"] {
                if tmp.join(f).exists() {
                    restrict(&tmp.join(f))?;
                }
            }
        }
    }
    write_synced(&tmp.join("density.tif"), tif_bytes)?;
    if opts.policy.tier_of("density") != crate::disclosure::Tier::Public {
        restrict(&tmp.join("density.tif"))?;
    }
    crate::incidents::snapshot::write_snapshot(
        &tmp.join("incidents.hsnap"),
        inp.pack,
        inp.store,
        report,
    )?;
    restrict(&tmp.join("incidents.hsnap"))?;
    write_synced(&tmp.join("boundaries.geojson"), pack_text.as_bytes())?;
    Ok(())
}

/// An exclusive lock on `OUT/.lock`, held for the life of the value (an advisory file
/// lock, released by the kernel if the process dies).
struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    fn take(dir: &Path) -> Result<Self, PublishError> {
        let path = dir.join(".lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match f.try_lock() {
            Ok(()) => Ok(DirLock { _file: f }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(PublishError::Busy(dir.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
        }
    }
}

/// Fails with [`PublishError::Busy`] when another refresh holds `out_dir`'s lock (an early
/// check: [`publish`] takes the lock itself). A directory that does not exist is not busy.
pub fn check_not_busy(out_dir: &Path) -> Result<(), PublishError> {
    if !out_dir.is_dir() {
        return Ok(());
    }
    DirLock::take(out_dir).map(drop)
}

/// Writes `bytes` to `path` and flushes them to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let mut f = std::fs::File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Incident-level files (the incidents, each feature's rows) are readable by their owner and
/// group only (0640), never by every user of the machine.
fn restrict(path: &Path) -> Result<(), PublishError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640)).map_err(io_err(path))
}

/// Flushes a directory's entries to disk.
fn sync_dir(path: &Path) -> Result<(), PublishError> {
    std::fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err(path))
}

/// SHA-256 of a file, hex.
fn sha256_file(path: &Path) -> Result<String, PublishError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// The run the `current` link names, if any.
pub fn current_run(out_dir: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(out_dir.join(CURRENT)).ok()?;
    let run = out_dir.join(target);
    run.join(MANIFEST).is_file().then_some(run)
}

/// Removes leftovers of killed runs: temporary run directories and links.
fn clean_leftovers(out_dir: &Path) -> Result<(), PublishError> {
    for e in std::fs::read_dir(out_dir).map_err(io_err(out_dir))? {
        let e = e.map_err(io_err(out_dir))?;
        let name = e.file_name().to_string_lossy().to_string();
        let p = e.path();
        if name.starts_with(TMP_PREFIX) {
            let r = if p.is_dir() && !p.is_symlink() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(io_err(&p))?;
        }
    }
    Ok(())
}

/// The runs in `out_dir` (directories holding a manifest), oldest first.
fn runs(out_dir: &Path) -> Result<Vec<PathBuf>, PublishError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .map_err(io_err(out_dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            !p.is_symlink()
                && p.join(MANIFEST).is_file()
                && p.file_name()
                    .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Four bytes, little-endian.
fn push_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Magic of a members file.
pub const MEMBERS_MAGIC: &[u8; 8] = b"HSMEMB1\0";

/// A layer's members as bytes: magic, feature count, then each feature's row count and
/// rows (u32, little-endian).
pub fn members_bytes(members: &[Vec<u32>]) -> Vec<u8> {
    let mut out = MEMBERS_MAGIC.to_vec();
    push_u32(&mut out, members.len() as u32);
    for m in members {
        push_u32(&mut out, m.len() as u32);
        for &r in m {
            push_u32(&mut out, r);
        }
    }
    out
}

/// Significance level of the published peak windows (Benjamini–Hochberg).
const PEAKS_ALPHA: f64 = 0.05;

/// `peaks.json` (hour-of-day and hour-of-week peak windows of the area and of each district,
/// as `hotspots peaks --by district`) and `peaks.png` (the area's hour × day heat table,
/// significant hours outlined) in `dir`.
fn write_peaks(
    inp: &Inputs<'_>,
    dir: &Path,
    policy: &crate::disclosure::Policy,
) -> Result<(), PublishError> {
    use crate::temporal::{chart, peaks_report, By, PeaksOptions};
    let opts = PeaksOptions {
        by: By::District,
        filter: crate::density::IncidentFilter::default(),
        alpha: PEAKS_ALPHA,
        visit_minutes: 15,
        max_gap_minutes: 120,
    };
    let mut doc = peaks_report(inp, &opts, &[]);
    // Disclosure control: a district resting on fewer than k incidents is left out.
    let tier = policy.tier_of("peaks");
    let control = match policy.rules_for("peaks") {
        Some(r) => {
            let mut left_out = 0;
            if let Some(groups) = doc["groups"].as_array_mut() {
                let before = groups.len();
                groups.retain(|g| g["incidents"].as_u64().unwrap_or(0) >= r.min_count);
                left_out = before - groups.len();
            }
            r.metadata(tier, left_out, crate::disclosure::Output::Peaks)
        }
        None => crate::disclosure::uncontrolled_metadata(tier),
    };
    // The chart of the whole area is drawn from the report before its exact figures go.
    let png = dir.join("peaks.png");
    let chart = chart::report_heat_table_png(&png, &doc, PEAKS_ALPHA);
    if let Some(r) = policy.rules_for("peaks") {
        r.control_peaks(&mut doc);
    }
    doc["disclosure"] = control;
    let json_path = dir.join("peaks.json");
    let text = serde_json::to_vec_pretty(&doc).map_err(|e| PublishError::Invalid {
        path: json_path.display().to_string(),
        message: e.to_string(),
    })?;
    write_synced(&json_path, &text)?;
    match chart {
        Ok(()) => std::fs::File::open(&png)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&png)),
        // No timed incidents (police.uk months only): the report says so, no chart.
        Err(e) => {
            tracing::warn!("peaks.png left out: {e}");
            Ok(())
        }
    }
}

/// Publishes every layer computed from `inp` (ingested with `report`; `pack_text` is the
/// boundary pack's GeoJSON as loaded) as a new run of `opts.out_dir`, and makes it current.
pub fn publish(
    inp: &Inputs<'_>,
    report: &IngestReport,
    pack_text: &str,
    opts: &PublishOptions,
) -> Result<PublishOutcome, PublishError> {
    let out_dir = &opts.out_dir;
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let _lock = DirLock::take(out_dir)?;
    clean_leftovers(out_dir)?;
    // Quality gates, against the run being served.
    let previous: Option<Manifest> = current_run(out_dir).and_then(|r| {
        std::fs::read(r.join(MANIFEST))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    });
    let refusals = gates::check(
        report,
        previous.as_ref().map(|m| m.inputs.accepted),
        &opts.gates,
    );
    if !refusals.is_empty() && !opts.gates.force {
        return Err(PublishError::Gate(GateRefusal {
            gate: refusals
                .iter()
                .map(|r| r.gate.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            message: refusals
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        }));
    }
    let started = jiff::Timestamp::now();
    let mut run_id = started.strftime("%Y%m%dT%H%M%SZ").to_string();
    for n in 2.. {
        if !out_dir.join(&run_id).exists() {
            break;
        }
        run_id = format!("{}-{n}", started.strftime("%Y%m%dT%H%M%SZ"));
    }
    let tmp = out_dir.join(format!("{TMP_PREFIX}{run_id}-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("layers")).map_err(io_err(&tmp))?;

    // The layers and the heatmap surface, computed side by side; each layer is written
    // out and prepared for vector tiles as soon as it is made.
    // The data's last incident start stamps the GeoPackages, so reruns are identical.
    let last_change = inp
        .store
        .from_min
        .iter()
        .max()
        .and_then(|&m| jiff::Timestamp::from_second(i64::from(m) * 60).ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into());
    let dir = tmp.join("layers");
    let write_out = |l: &PublishedLayer| -> Result<Option<ArchiveLayer>, PublishError> {
        let _stage = tracing::info_span!("stage", stage = "write", layer = %l.id).entered();
        let extra = json!({"title": l.title, "description": l.description});
        for (name, crs) in [
            (format!("{}.geojson", l.id), OutputCrs::Wgs84),
            (format!("{}-epsg27700.geojson", l.id), OutputCrs::Bng),
            (format!("{}.gpkg", l.id), OutputCrs::Bng),
        ] {
            let _s = tracing::debug_span!("file", name = %name).entered();
            write_layer_with(
                &l.table,
                crs,
                extra.clone(),
                &dir.join(name),
                Some(&last_change),
            )?;
        }
        if let Some(m) = &l.members {
            let p = dir.join(format!("{}.members", l.id));
            write_synced(&p, &members_bytes(m))?;
            restrict(&p)?;
        }
        // A partner or restricted layer's files are not for a public host (0640), and it
        // stays out of the tile archive, which holds public layers only.
        if opts.policy.tier_of(&l.id) != crate::disclosure::Tier::Public {
            for name in [
                format!("{}.geojson", l.id),
                format!("{}-epsg27700.geojson", l.id),
                format!("{}.gpkg", l.id),
            ] {
                restrict(&dir.join(name))?;
            }
            return Ok(None);
        }
        Ok(crate::layers::mvt::bounds_deg(&l.table).map(|b| {
            let v = VectorLayer::new(
                &l.id,
                &l.description,
                std::sync::Arc::clone(&l.table),
                b,
                crate::layers::mvt::default_minzoom(&l.id),
            );
            let _s = tracing::debug_span!("tiles").entered();
            let tiles = super::pmtiles::layer_tiles(&v, b);
            (v, b, tiles)
        }))
    };
    let (layers, surface) = rayon::join(
        || build_layers_then(inp, &opts.policy, write_out),
        || {
            let _stage = tracing::info_span!("stage", stage = "heatmap").entered();
            let mut s =
                compute_surface(inp.pack, inp.districts, inp.store, inp.harm, &opts.heatmap)
                    .map_err(|e| PublishError::Analysis(format!("heatmap: {e}")))?;
            if let Some(c) = &opts.bandwidth_choice {
                s.bandwidth_method = c.rule.clone();
            }
            if let Some(rules) = opts.policy.rules_for("density") {
                crate::disclosure::control_surface(
                    rules,
                    &mut s,
                    (inp.pack, inp.districts, inp.store, inp.harm),
                    &opts.heatmap,
                )
                .map_err(|e| PublishError::Analysis(format!("heatmap: {e}")))?;
            }
            let tif = crate::density::cog::cog_bytes(&s.grid, &s.values)
                .map_err(io_err(Path::new("density.tif")))?;
            drop(_stage);
            // What does not wait for the layers is written while they are computed: the
            // peak hours, the heatmap, the incidents for selections, the boundaries.
            write_independent(inp, report, pack_text, &tmp, opts, &tif)?;
            Ok::<_, PublishError>(s)
        },
    );
    let (layers, vector): (Vec<PublishedLayer>, Vec<_>) = layers?.into_iter().unzip();
    let vector: Vec<ArchiveLayer> = vector.into_iter().flatten().collect();
    let surface = surface?;
    let entries: Vec<LayerEntry> = layers
        .iter()
        .map(|l| LayerEntry {
            id: l.id.clone(),
            title: l.title.clone(),
            description: l.description.clone(),
            features: l.table.features.len(),
            selectable: l.members.is_some(),
            metadata: l.table.metadata.clone(),
        })
        .collect();
    // Every vector layer in one PMTiles archive.
    {
        let _stage = tracing::info_span!("stage", stage = "vector tiles").entered();
        super::pmtiles::write_pmtiles(&tmp.join("tiles.pmtiles"), &vector)?;
    }
    // Every file's hash, then the manifest.
    let _hash_stage = tracing::info_span!("stage", stage = "hash and switch").entered();
    let mut files = Vec::new();
    let mut stack = vec![tmp.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io_err(&d))? {
            let p = e.map_err(io_err(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(&tmp)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .to_string();
                files.push(FileEntry {
                    bytes: std::fs::metadata(&p).map_err(io_err(&p))?.len(),
                    sha256: sha256_file(&p)?,
                    path: rel,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        run_id: run_id.clone(),
        started_at: started.to_string(),
        finished_at: jiff::Timestamp::now().to_string(),
        generator: format!("hotspots {}", env!("CARGO_PKG_VERSION")),
        config_sha256: opts.config_sha256.clone(),
        inputs: report.clone(),
        boundaries: json!({"origin": inp.pack.origin, "fingerprint": inp.pack.fingerprint()}),
        heatmap: {
            let mut h = serde_json::to_value(&surface).unwrap_or_default();
            let tier = opts.policy.tier_of("density");
            if let serde_json::Value::Object(o) = &mut h {
                if let Some(c) = &opts.bandwidth_choice {
                    o.insert("bandwidth_choice".into(), c.detail.clone());
                }
                o.insert(
                    "disclosure".into(),
                    match opts.policy.rules_for("density") {
                        Some(r) => r.metadata(tier, 0, crate::disclosure::Output::Heatmap),
                        None => crate::disclosure::uncontrolled_metadata(tier),
                    },
                );
            }
            h
        },
        layers: entries,
        gates: Some(super::manifest::GateSettings {
            max_row_drop: opts.gates.max_row_drop,
            max_reject_rate: opts.gates.max_reject_rate,
            force: opts.gates.force,
            retain: opts.retain.max(1),
        }),
        forced_past: refusals,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| PublishError::Invalid {
        path: MANIFEST.into(),
        message: e.to_string(),
    })?;
    write_synced(&tmp.join(MANIFEST), &text)?;
    sync_dir(&tmp.join("layers"))?;
    sync_dir(&tmp)?;

    // Into place, then switch `current` by renaming a new link over it.
    let run_dir = out_dir.join(&run_id);
    std::fs::rename(&tmp, &run_dir).map_err(io_err(&run_dir))?;
    sync_dir(out_dir)?;
    let link = out_dir.join(format!("{TMP_PREFIX}current-{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&run_id, &link).map_err(io_err(&link))?;
    std::fs::rename(&link, out_dir.join(CURRENT)).map_err(io_err(&link))?;
    sync_dir(out_dir)?;

    // Retention: the newest runs, never the current one.
    let mut pruned = Vec::new();
    let all = runs(out_dir)?;
    let keep = opts.retain.max(1);
    if all.len() > keep {
        for old in &all[..all.len() - keep] {
            if old != &run_dir {
                std::fs::remove_dir_all(old).map_err(io_err(old))?;
                pruned.push(old.clone());
            }
        }
    }
    Ok(PublishOutcome {
        run_dir,
        manifest,
        pruned,
    })
}
