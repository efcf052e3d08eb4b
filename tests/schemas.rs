//! Partner exports through their input schemas (schemas/*.toml): the committed fixtures are
//! what the generator makes, each ingests with exact accounting, the values read equal the
//! generated ones, sources are kept, and cross-source duplicates are flagged, never merged.

mod common;

use std::sync::Arc;

use common::{root, run_err, run_ok, tmp};
use hotspots::boundaries::{BoundaryPack, DistrictIndex};
use hotspots::fixtures::partners::{partner_exports, PartnerExports, PARTNER_FIXTURE_SEED};
use hotspots::incidents::{
    IncidentStore, IngestOptions, IngestReport, Ingester, InputSchema, FLAG_CROSS_SOURCE_DUPLICATE,
};

fn made() -> (BoundaryPack, PartnerExports) {
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let m = partner_exports(&pack, &index, PARTNER_FIXTURE_SEED).unwrap();
    (pack, m)
}

fn schema(name: &str) -> Arc<InputSchema> {
    Arc::new(InputSchema::load(&root().join(format!("schemas/{name}.toml"))).unwrap())
}

fn ingest(pack: &BoundaryPack, files: &[(&str, &[u8])]) -> (IncidentStore, IngestReport) {
    let index = DistrictIndex::new(pack);
    let opts = IngestOptions {
        schemas: ["police_rms", "ae_istv", "council_asb"]
            .iter()
            .map(|s| schema(s))
            .collect(),
        ..Default::default()
    };
    let mut ing = Ingester::new(&index, opts).unwrap();
    for (name, bytes) in files {
        ing.ingest_bytes(name, bytes).unwrap();
    }
    ing.finish().unwrap()
}

#[test]
fn the_generator_reproduces_the_committed_partner_fixtures() {
    let dir = tmp();
    run_ok(&[
        "fixtures",
        "partners",
        "--out-dir",
        dir.path().to_str().unwrap(),
    ]);
    for f in ["police_rms.csv", "ae_istv.csv", "council_asb.csv"] {
        let made = std::fs::read(dir.path().join(f)).unwrap();
        let committed = std::fs::read(root().join("schemas/fixtures").join(f)).unwrap();
        assert!(
            made == committed,
            "schemas/fixtures/{f} is not what the generator makes"
        );
    }
}

/// Each export through its schema: rows read = accepted + rejected, the rejections are the
/// planted ones, and the file is described as read (encoding, delimiter, schema).
#[test]
fn each_export_ingests_through_its_schema_with_exact_accounting() {
    let (pack, m) = made();
    for (e, schema_name, encoding, delimiter, source) in [
        (
            &m.police_rms,
            "police_rms",
            "windows-1252",
            "semicolon",
            "police",
        ),
        (&m.ae_istv, "ae_istv", "UTF-8", "comma", "health"),
        (&m.council_asb, "council_asb", "UTF-8", "comma", "council"),
    ] {
        let (store, report) = ingest(&pack, &[(e.file, &e.bytes)]);
        assert_eq!(report.rows_read, e.rows as u64, "{}", e.file);
        let planted: u64 = e.rejected.values().sum();
        assert_eq!(
            report.rejected, planted,
            "{}: {:?}",
            e.file, report.rejected_by_reason
        );
        assert_eq!(report.accepted, e.rows as u64 - planted);
        assert!(report.balances());
        for (reason, n) in &e.rejected {
            assert_eq!(
                report.rejected_by_reason.get(*reason),
                Some(n),
                "{}: {reason}",
                e.file
            );
        }
        let f = &report.files[0];
        assert_eq!(f.format, "schema");
        assert_eq!(f.schema.as_deref(), Some(schema_name));
        assert_eq!(f.encoding, encoding);
        assert_eq!(f.delimiter, delimiter);
        assert_eq!(store.sources.names(), [source]);
        assert_eq!(report.accepted_by_source[source], report.accepted);
        // One source: no duplicate pass.
        assert!(report.cross_source_duplicates.is_none());
    }
}

/// The RMS export's values come back as generated: times (dd/mm/yyyy plus a time column,
/// Europe/London), positions (decimal commas), offences by HO code or by description, and
/// the Windows-1252 venue names intact.
#[test]
fn rms_values_equal_the_generated_ones() {
    let (pack, m) = made();
    let index = DistrictIndex::new(&pack);
    let rows = hotspots::fixtures::generate(
        &pack,
        &index,
        &hotspots::fixtures::FixtureOptions {
            seed: PARTNER_FIXTURE_SEED,
            count: 300,
            ..Default::default()
        },
    )
    .unwrap();
    let (store, _) = ingest(&pack, &[(m.police_rms.file, &m.police_rms.bytes)]);
    assert_eq!(store.len(), rows.len());
    let map = hotspots::incidents::OffenceMap::default_table();
    let mut checked_times = 0;
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(store.ids.get(i), r.id.replace("KM-", "RMS/"));
        assert!((store.x_m[i] - r.x_m).abs() < 1e-6 && (store.y_m[i] - r.y_m).abs() < 1e-6);
        assert_eq!(store.group[i], map.classify(r.offence), "{}", r.offence);
        // A naive time in the autumn fold reads as its first instant; the rest exactly.
        let ambiguous = hotspots::incidents::time::LONDON
            .to_ambiguous_zoned(r.from.datetime())
            .is_ambiguous();
        if !ambiguous {
            assert_eq!(
                store.from_min[i] as i64,
                r.from.timestamp().as_second().div_euclid(60),
                "{}",
                r.id
            );
            checked_times += 1;
        }
    }
    assert!(checked_times >= 295);
    let venues: Vec<&str> = store
        .location_types
        .names()
        .iter()
        .map(String::as_str)
        .collect();
    assert!(venues.contains(&"Pub – The King’s Head"), "{venues:?}");
    assert!(venues.contains(&"Café"), "{venues:?}");
}

/// A&E records without a time of day span their whole local day; those with one are instants.
#[test]
fn unknown_times_span_the_local_day() {
    let (pack, m) = made();
    let (store, _) = ingest(&pack, &[(m.ae_istv.file, &m.ae_istv.bytes)]);
    let text = String::from_utf8(m.ae_istv.bytes.clone()).unwrap();
    // Accepted rows (the planted rejections have ids AE-X…) whose time field is unknown.
    let unknown = text
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("AE-X") && l.split(',').nth(2) == Some("Not known"))
        .count();
    let whole_days = (0..store.len())
        .filter(|&i| matches!(store.to_min[i] - store.from_min[i], 1380 | 1440 | 1500))
        .count();
    let instants = (0..store.len())
        .filter(|&i| store.to_min[i] == store.from_min[i])
        .count();
    assert!(unknown > 5);
    assert_eq!(whole_days, unknown);
    assert_eq!(whole_days + instants, store.len());
}

/// All three together: every source kept, every A&E record made from a police incident
/// flagged as its duplicate (the police record is not), nothing merged.
#[test]
fn sources_are_kept_and_cross_source_duplicates_flagged() {
    let (pack, m) = made();
    let files: Vec<(&str, &[u8])> = [&m.ae_istv, &m.council_asb, &m.police_rms]
        .iter()
        .map(|e| (e.file, e.bytes.as_slice()))
        .collect();
    let (store, report) = ingest(&pack, &files);
    let total: u64 = [&m.police_rms, &m.ae_istv, &m.council_asb]
        .iter()
        .map(|e| e.rows as u64 - e.rejected.values().sum::<u64>())
        .sum();
    assert_eq!(store.len() as u64, total, "nothing merged");
    assert_eq!(report.accepted_by_source.len(), 3);
    let d = report.cross_source_duplicates.as_ref().unwrap();
    let flagged = |id: &str| {
        let i = (0..store.len()).find(|&i| store.ids.get(i) == id).unwrap();
        store.flags[i] & FLAG_CROSS_SOURCE_DUPLICATE != 0
    };
    assert!(m.ae_from_police.len() >= 20);
    for id in &m.ae_from_police {
        assert!(flagged(id), "{id} is a police incident seen again");
    }
    // Police rank first even though its file came last: no police record is flagged.
    assert!(!d.flagged_by_source.contains_key("police"));
    assert!(d.flagged >= m.ae_from_police.len() as u64);
    assert!(d.pairs >= d.flagged);
}

/// Runs `command` on the three partner fixtures through their schemas, rejects into `dir`,
/// writing `out`.
fn run_on_partners(command: &str, dir: &std::path::Path, out: &std::path::Path) {
    let mut args: Vec<String> = vec![command.into(), "--schema".into()];
    for s in ["police_rms", "ae_istv", "council_asb"] {
        args.push(
            root()
                .join(format!("schemas/{s}.toml"))
                .display()
                .to_string(),
        );
    }
    args.push("--incidents".into());
    for f in ["police_rms.csv", "ae_istv.csv", "council_asb.csv"] {
        args.push(
            root()
                .join("schemas/fixtures")
                .join(f)
                .display()
                .to_string(),
        );
    }
    args.extend([
        "--rejects".into(),
        dir.join("rej.csv").display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&argv);
}

/// The CLI: per-source analyses and --drop-duplicates count what they should; a snapshot
/// keeps the sources and the flags.
#[test]
fn per_source_and_deduplicated_analyses_from_the_cli() {
    let (_, m) = made();
    let dir = tmp();
    let snap = dir.path().join("all.hsnap");
    run_on_partners("ingest", dir.path(), &snap);
    let count = |extra: &[&str]| -> u64 {
        let out = dir.path().join("k.asc");
        let mut a = vec![
            "kde",
            "--incidents",
            snap.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        let o = run_ok(&a);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let line = text
            .lines()
            .find(|l| l.contains(" incidents, "))
            .unwrap_or_else(|| panic!("no count in {text}"));
        line.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {text}"))
    };
    let health = m.ae_istv.rows as u64 - m.ae_istv.rejected.values().sum::<u64>();
    assert_eq!(count(&["--source", "health"]), health);
    let all = count(&[]);
    let stats = run_ok(&["stats", "--json", "--incidents", snap.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let flagged = v["cross_source_duplicates"]["flagged"].as_u64().unwrap();
    assert!(flagged > 0);
    assert_eq!(count(&["--drop-duplicates"]), all - flagged);
    assert_eq!(v["by_source"]["health"], health);
    let e = run_err(&[
        "kde",
        "--incidents",
        snap.to_str().unwrap(),
        "--source",
        "probation",
        "--out",
        dir.path().join("x.asc").to_str().unwrap(),
    ]);
    assert!(
        e.contains("--source probation") && e.contains("health"),
        "{e}"
    );
}

/// A schema that cannot work is refused naming the file and key; a file matching no schema
/// names the closest schema's missing columns.
#[test]
fn schema_errors_name_the_file_key_and_columns() {
    let dir = tmp();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "source = \"police\"\n[columns]\nid = \"a\"\noffence = \"b\"\nstart = \"c\"\neasting = \"e\"\nnorthing = \"n\"\n[formats]\ndate = \"%m/%Y\"\n",
    )
    .unwrap();
    let e = run_err(&["stats", "--schema", bad.to_str().unwrap()]);
    assert!(
        e.contains("bad.toml") && e.contains("formats.date") && e.contains("never guessed"),
        "{e}"
    );
    let csv = dir.path().join("rms.csv");
    std::fs::write(
        &csv,
        "Occurrence Ref;HO Code;Committed From Date\nA;8/1;01/02/2025\n",
    )
    .unwrap();
    let e = run_err(&[
        "stats",
        "--schema",
        root().join("schemas/police_rms.toml").to_str().unwrap(),
        "--incidents",
        csv.to_str().unwrap(),
    ]);
    assert!(
        e.contains("rms.csv") && e.contains("police_rms") && e.contains("Easting"),
        "{e}"
    );
}

/// With several sources, the refresh publishes each source's own density hotspots beside
/// the combined layers, and the service serves them.
#[test]
fn the_refresh_publishes_per_source_hotspots() {
    let dir = tmp();
    let out = dir.path().join("pub");
    run_on_partners("refresh", dir.path(), &out);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("current/manifest.json")).unwrap()).unwrap();
    let text = manifest.to_string();
    for id in [
        "hotspots-police",
        "hotspots-health",
        "hotspots-council",
        "hotspots",
        "grip",
    ] {
        assert!(
            text.contains(&format!("\"{id}\"")),
            "{id} not in the manifest"
        );
    }
}

/// Ids are unique within a source, not across sources; source labels are normalised; a
/// priority naming a source the inputs lack is refused; schema globs and repeats are fine;
/// a schema saved in another encoding says how to fix it.
#[test]
fn ids_per_source_labels_priorities_and_schema_paths() {
    let dir = tmp();
    let csv = dir.path().join("mixed.csv");
    std::fs::write(
        &csv,
        "id,offence,occurred_from,occurred_to,longitude,latitude,source\n\
         1001,Robbery,2025-06-14T23:10,,0.5220,51.2730,police\n\
         1001,Robbery,2025-06-14T23:20,,0.5221,51.2731,East Kent YOT\n\
         1001,Robbery,2025-06-14T23:30,,0.5222,51.2732,east kent yot\n",
    )
    .unwrap();
    let rej = dir.path().join("rej.csv");
    let o = run_ok(&[
        "stats",
        "--json",
        "--incidents",
        csv.to_str().unwrap(),
        "--rejects",
        rej.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["by_source"]["east_kent_yot"], 1);
    assert_eq!(v["rejected_by_reason"]["duplicate_id"], 1);
    let text = std::fs::read_to_string(&rej).unwrap();
    assert!(text.contains("for source east_kent_yot"), "{text}");
    let e = run_err(&[
        "stats",
        "--incidents",
        csv.to_str().unwrap(),
        "--rejects",
        rej.to_str().unwrap(),
        "--duplicate-priority",
        "helth",
    ]);
    assert!(
        e.contains("helth") && e.contains("police, east_kent_yot"),
        "{e}"
    );
    // Globs, and the same schema twice, read each schema once.
    let pattern = root().join("schemas/*.toml").display().to_string();
    let rms = root().join("schemas/police_rms.toml").display().to_string();
    let data = root()
        .join("schemas/fixtures/police_rms.csv")
        .display()
        .to_string();
    run_ok(&[
        "stats",
        "--schema",
        &pattern,
        &rms,
        "--incidents",
        &data,
        "--rejects",
        rej.to_str().unwrap(),
    ]);
    // A schema saved as Windows-1252.
    let bad = dir.path().join("w.toml");
    std::fs::write(&bad, b"source = \"caf\xe9\"\n").unwrap();
    let e = run_err(&["stats", "--schema", bad.to_str().unwrap()]);
    assert!(
        e.contains("w.toml") && e.contains("save it as UTF-8"),
        "{e}"
    );
}
