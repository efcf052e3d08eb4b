//! `hotspots ingest` snapshots end to end: what commands make from a snapshot equals what
//! they make from its CSV files, and misuse is a clear error.

mod common;

use common::*;
use serde_json::Value;

/// `inc.csv` in `dir`: `count` generated incidents from `seed`.
fn generated(dir: &std::path::Path, seed: u64, count: usize) -> std::path::PathBuf {
    let opts = hotspots::fixtures::FixtureOptions {
        seed,
        count,
        ..Default::default()
    };
    fixture(dir, "inc.csv", opts)
}

fn stats_json(incidents: &str, rejects: &str) -> Value {
    let out = run_ok(&[
        "stats",
        "--json",
        "--incidents",
        incidents,
        "--rejects",
        rejects,
    ]);
    serde_json::from_slice(&out.stdout).expect("stats --json prints JSON")
}

#[test]
fn a_snapshot_gives_the_same_counts_and_the_same_surface_as_its_csv() {
    let dir = tmp();
    let csv = generated(dir.path(), 21, 3000);
    // Two bad rows, so the accounting carried by the snapshot has rejections in it.
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("BAD-1,Assault,2024-01-01T10:00:00,,not-a-number,51.2\n");
    text.push_str("BAD-2,Assault,2024-01-01T10:00:00,,1.0,89.5\n");
    std::fs::write(&csv, text).unwrap();
    let rejects = dir.path().join("rejects.csv");
    let snap = dir.path().join("inc.hsnap");
    let out = run_ok(&[
        "ingest",
        "--incidents",
        csv.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
        "--out",
        snap.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("wrote 3000 incidents"), "{said}");

    let from_csv = stats_json(csv.to_str().unwrap(), rejects.to_str().unwrap());
    let from_snap = stats_json(snap.to_str().unwrap(), rejects.to_str().unwrap());
    assert_eq!(from_csv["rows_read"], 3002);
    assert_eq!(from_csv["rejected"], 2);
    for key in [
        "rows_read",
        "accepted",
        "rejected",
        "rejected_by_reason",
        "by_district",
        "month_only",
    ] {
        assert_eq!(from_csv[key], from_snap[key], "{key}");
    }
    assert_eq!(
        from_csv["files"][0]["sha256"], from_snap["files"][0]["sha256"],
        "the snapshot keeps the source file's hash"
    );

    // The same density surface, byte for byte, and the same inputs in its metadata.
    let mut rasters = Vec::new();
    for (input, name) in [(&csv, "a.tif"), (&snap, "b.tif")] {
        let out = dir.path().join(name);
        run_ok(&[
            "kde",
            "--incidents",
            input.to_str().unwrap(),
            "--rejects",
            rejects.to_str().unwrap(),
            "--cell-m",
            "200",
            "--bandwidth-m",
            "600",
            "--weight",
            "harm",
            "--offence-group",
            "violence_with_injury",
            "--out",
            out.to_str().unwrap(),
        ]);
        let meta = read_json(&out.with_extension("json"));
        rasters.push((std::fs::read(&out).unwrap(), meta["inputs"].clone()));
    }
    assert!(rasters[0].0.len() > 1000);
    assert!(rasters[0].0 == rasters[1].0, "GeoTIFFs differ");
    assert_eq!(rasters[0].1, rasters[1].1);
}

#[test]
fn snapshot_misuse_and_damage_are_clear_errors() {
    let dir = tmp();
    let snap = dir.path().join("d.hsnap");
    let rejects = dir.path().join("r.csv");
    run_ok(&[
        "ingest",
        "--rejects",
        rejects.to_str().unwrap(),
        "--out",
        snap.to_str().unwrap(),
    ]);
    let csv = write(
        dir.path(),
        "x.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude\n",
    );
    let e = run_err(&[
        "stats",
        "--incidents",
        snap.to_str().unwrap(),
        csv.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert!(e.contains("d.hsnap is a snapshot; give it alone"), "{e}");

    // A pack without one district: the snapshot's district numbers would mean other places.
    let mut pack: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("boundaries/kent_medway.geojson")).unwrap(),
    )
    .unwrap();
    pack["features"].as_array_mut().unwrap().pop();
    let pack_path = dir.path().join("twelve.geojson");
    std::fs::write(&pack_path, pack.to_string()).unwrap();
    let e = run_err(&[
        "stats",
        "--incidents",
        snap.to_str().unwrap(),
        "--boundaries",
        pack_path.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert!(
        e.contains("d.hsnap: made with boundary pack") && e.contains("twelve.geojson"),
        "{e}"
    );

    // A damaged copy: named, and no output is written.
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    let damaged = dir.path().join("damaged.hsnap");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = dir.path().join("k.asc");
    let e = run_err(&[
        "kde",
        "--incidents",
        damaged.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("damaged.hsnap") && e.contains("checksum"), "{e}");
    assert!(!out.exists());

    // A failed ingest leaves the good snapshot in place.
    let before = std::fs::read(&snap).unwrap();
    let e = run_err(&[
        "ingest",
        "--incidents",
        dir.path().join("missing.csv").to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
        "--out",
        snap.to_str().unwrap(),
    ]);
    assert!(e.contains("missing.csv"), "{e}");
    assert_eq!(std::fs::read(&snap).unwrap(), before);
}

#[test]
fn the_service_serves_the_same_hotspots_from_a_snapshot() {
    let dir = tmp();
    let csv = generated(dir.path(), 8, 4000);
    let snap = dir.path().join("inc.hsnap");
    run_ok(&[
        "ingest",
        "--incidents",
        csv.to_str().unwrap(),
        "--rejects",
        "/dev/null",
        "--out",
        snap.to_str().unwrap(),
    ]);
    let items = |input: &std::path::Path| -> Value {
        let srv = start_server(&["--incidents", input.to_str().unwrap()]);
        let (st, _, body) = http_get(&srv.addr, "/collections/hotspots/items?limit=100");
        assert_eq!(st, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let (from_csv, from_snap) = (items(&csv), items(&snap));
    assert!(from_csv["numberMatched"].as_u64().unwrap() > 0);
    assert_eq!(from_csv["numberMatched"], from_snap["numberMatched"]);
    assert_eq!(from_csv["features"], from_snap["features"]);
}
