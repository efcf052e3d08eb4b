//! `hotspots refresh` and `serve --layers`: published snapshots are complete, reproducible,
//! switched atomically (even when the refresh is killed), gated, pruned, and served
//! exactly as the layers computed at start.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn refresh(out: &Path, extra: &[&str]) -> std::process::Output {
    refresh_threads(out, extra, None)
}

/// A refresh with `threads` worker threads (RAYON_NUM_THREADS), or the default.
fn refresh_threads(out: &Path, extra: &[&str], threads: Option<usize>) -> std::process::Output {
    let mut c = bin();
    c.args(["refresh", "--rejects", "/dev/null", "--out"])
        .arg(out)
        .args(extra);
    if let Some(n) = threads {
        c.env("RAYON_NUM_THREADS", n.to_string());
    }
    c.output().expect("binary runs")
}

fn current(out: &Path) -> PathBuf {
    out.join(std::fs::read_link(out.join("current")).expect("current link"))
}

fn manifest(run: &Path) -> Value {
    read_json(&run.join("manifest.json"))
}

/// Checks every file the manifest lists is there with its hash.
fn assert_complete(run: &Path) {
    use sha2::{Digest, Sha256};
    let m = manifest(run);
    let files = m["files"].as_array().unwrap();
    assert!(files.len() >= 20, "{files:?}");
    for f in files {
        let p = run.join(f["path"].as_str().unwrap());
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            format!("{:x}", Sha256::digest(&bytes)),
            f["sha256"].as_str().unwrap(),
            "{}",
            p.display()
        );
    }
}

/// GDAL's own checker of the COG layout (python3-gdal): a failure, not a skip, in CI.
fn assert_cloud_optimised(tif: &Path) {
    let script =
        "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py";
    if !Path::new(script).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{script} is missing: .ci/install installs python3-gdal"
        );
        eprintln!("SKIP COG validation: python3-gdal is not installed");
        return;
    }
    let o = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(tif)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && text.contains("is a valid cloud optimized GeoTIFF"),
        "{text}"
    );
}

/// The PMTiles v3 header (spec: 127 bytes, little-endian): magic and version, a clustered
/// archive of gzip MVT tiles over Kent, zooms 0 to 12, and tiles addressed.
fn assert_pmtiles(path: &Path) {
    let b = std::fs::read(path).expect("tiles.pmtiles");
    assert!(b.len() > 127);
    assert_eq!(&b[..7], b"PMTiles");
    assert_eq!(b[7], 3, "spec version");
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let i32_at = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let (addressed, entries, contents) = (u64_at(72), u64_at(80), u64_at(88));
    assert!(
        addressed > 20 && entries > 0 && contents > 0,
        "{addressed} {entries} {contents}"
    );
    assert_eq!(b[96], 1, "clustered");
    assert_eq!(b[98], 2, "tile compression gzip");
    assert_eq!(b[99], 1, "tile type MVT");
    assert_eq!((b[100], b[101]), (0, 12), "zooms");
    // Bounds in 1e-7 degrees: around Kent and Medway.
    let (w, s, e, n) = (i32_at(102), i32_at(106), i32_at(110), i32_at(114));
    assert!(
        w > 0 && w < 10_000_000 && e > 10_000_000 && e < 20_000_000,
        "{w} {e}"
    );
    assert!(s > 505_000_000 && n < 516_000_000 && s < n, "{s} {n}");
    // The metadata names every layer.
    let (meta_at, meta_len) = (u64_at(24) as usize, u64_at(32) as usize);
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&b[meta_at..meta_at + meta_len])
        .read_to_string(&mut text)
        .expect("gzip metadata");
    for id in ["districts", "hotspots", "grip", "gistar", "h3-counts"] {
        assert!(text.contains(&format!("\"id\":\"{id}\"")), "{id} in {text}");
    }
}

#[test]
fn two_refreshes_of_the_same_input_are_identical_and_retention_keeps_the_newest() {
    let dir = tmp();
    let out = dir.path().join("pub");
    // One worker thread, then two: the same bytes.
    let first = refresh_threads(&out, &["--retain", "2"], Some(1));
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let a = current(&out);
    assert_complete(&a);
    assert_cloud_optimised(&a.join("density.tif"));
    assert_pmtiles(&a.join("tiles.pmtiles"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = refresh_threads(&out, &["--retain", "2"], Some(2));
    assert!(second.status.success());
    let b = current(&out);
    assert_ne!(a, b, "a new run each time");
    let (ma, mb) = (manifest(&a), manifest(&b));
    assert_eq!(
        ma["files"], mb["files"],
        "every file byte-identical (by SHA-256)"
    );
    assert_eq!(ma["layers"], mb["layers"]);
    assert_eq!(ma["inputs"]["accepted"], 20_000);
    assert_eq!(
        ma["inputs"]["files"][0]["sha256"].as_str().unwrap().len(),
        64,
        "the manifest carries the input's SHA-256"
    );
    assert_eq!(ma["heatmap"]["bandwidth_m"], 300.0);
    // A third run: only two are kept, never the current one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(refresh(&out, &["--retain", "2"]).status.success());
    let c = current(&out);
    assert!(!a.exists() && b.exists() && c.exists());
}

/// `bandwidth = "backtest"`: the refresh chooses the heatmap's bandwidth by a rolling
/// backtest of the data at hand, publishes the surface at it, and the manifest records every
/// candidate's scores; one thread or two, the same choice and the same surface.
#[test]
fn the_refresh_chooses_the_heatmap_bandwidth_by_backtest() {
    let dir = tmp();
    let config = write(
        dir.path(),
        "c.toml",
        "[heatmap]\nbandwidth = \"backtest\"\n[heatmap.backtest]\ncandidates_m = [150, 300, 600, 1200]\n",
    );
    let out = dir.path().join("pub");
    let run = |threads| {
        let o = refresh_threads(&out, &["--config", config.to_str().unwrap()], Some(threads));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        manifest(&current(&out))
    };
    let a = run(1);
    let h = &a["heatmap"];
    let choice = &h["bandwidth_choice"];
    let cands = choice["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 4);
    let best = cands
        .iter()
        .max_by(|x, y| {
            x["mean_pai"]
                .as_f64()
                .unwrap()
                .total_cmp(&y["mean_pai"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(h["bandwidth_m"], best["bandwidth_m"]);
    assert_eq!(h["bandwidth_m"], choice["bandwidth_m"]);
    assert!(
        h["bandwidth_method"]
            .as_str()
            .unwrap()
            .starts_with("backtest"),
        "{h}"
    );
    // A year of data: six folds of three months, the last six months tested.
    assert_eq!(choice["folds"].as_array().unwrap().len(), 6);
    assert_eq!(choice["folds"][5]["test_period"], "2025-12");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = run(2);
    assert_eq!(
        b["heatmap"]["bandwidth_choice"],
        a["heatmap"]["bandwidth_choice"]
    );
    assert_eq!(b["files"], a["files"], "the same bytes");
    // A value other than "backtest" is refused, naming the key.
    let bad = write(dir.path(), "bad.toml", "[heatmap]\nbandwidth = \"auto\"\n");
    let o = refresh(
        &dir.path().join("pub2"),
        &["--config", bad.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("heatmap.bandwidth"), "{e}");
}

#[test]
fn quality_gates_refuse_with_a_reason_and_force_overrides() {
    let dir = tmp();
    let out = dir.path().join("pub");
    assert!(refresh(&out, &[]).status.success());
    let before = current(&out);
    // A tenth of the rows: the row-drop gate.
    let small = fixture(
        dir.path(),
        "small.csv",
        hotspots::fixtures::FixtureOptions {
            seed: 5,
            count: 2_000,
            ..Default::default()
        },
    );
    let o = refresh(&out, &["--incidents", small.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("row_drop") && e.contains("2000") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(current(&out), before, "the served snapshot stays");
    // Mostly bad rows: the reject-rate gate.
    let mut text = String::from("id,offence,occurred_from,occurred_to,longitude,latitude\n");
    for i in 0..30 {
        text.push_str(&format!("B{i},Robbery,not a date,,0.52,51.38\n"));
    }
    for i in 0..5 {
        text.push_str(&format!("G{i},Robbery,2025-03-01T22:00,,0.52,51.38\n"));
    }
    let bad = write(dir.path(), "bad.csv", &text);
    let o = refresh(&out, &["--incidents", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("reject_rate"));
    // --force publishes and says so in the manifest.
    let o = refresh(&out, &["--incidents", small.to_str().unwrap(), "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = manifest(&current(&out));
    assert_eq!(m["forced_past"][0]["gate"], "row_drop");
    assert_eq!(m["inputs"]["accepted"], 2_000);
}

#[test]
fn a_killed_refresh_leaves_the_current_snapshot_whole_and_the_next_one_cleans_up() {
    let dir = tmp();
    let out = dir.path().join("pub");
    assert!(refresh(&out, &[]).status.success());
    let good = current(&out);
    for delay_ms in [30, 300, 900, 1600, 2400] {
        let mut child = bin()
            .args(["refresh", "--rejects", "/dev/null", "--out"])
            .arg(&out)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Whatever the moment, `current` names a complete run (the old one or a new one).
        let now = current(&out);
        assert_complete(&now);
        assert!(now == good || manifest(&now)["run_id"] != manifest(&good)["run_id"]);
    }
    // The next refresh succeeds and removes the leftovers of killed runs.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = refresh(&out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_complete(&current(&out));
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The service on a published snapshot answers exactly as the service that computed the
/// same layers at start.
#[test]
fn serve_layers_answers_as_serve_incidents() {
    let dir = tmp();
    let out = dir.path().join("pub");
    assert!(refresh(&out, &[]).status.success());
    let published = start_server(&["--layers", out.to_str().unwrap()]);
    let computed = start_server(&[]);
    let strip = |a: &str, path: &str| -> Value {
        let (st, _, body) = http_get(a, path);
        assert_eq!(st, 200, "{path}: {body}");
        let mut v: Value = serde_json::from_str(&body).unwrap();
        v.as_object_mut().map(|o| o.remove("links"));
        if let Some(cs) = v["collections"].as_array_mut() {
            for c in cs {
                c.as_object_mut().map(|o| o.remove("links"));
            }
        }
        v
    };
    for path in [
        "/collections",
        "/collections/hotspots/items?limit=10000",
        "/collections/grip/items?limit=10000",
        "/collections/diversion/items?limit=10000",
        "/collections/gistar/items?limit=10000",
        "/collections/emerging/items?limit=10000",
        "/collections/districts/items?limit=10000&crs=http://www.opengis.net/def/crs/EPSG/0/27700",
        "/collections/h3-counts/items?limit=10000&offence_group=robbery&datetime=2025-03",
        "/collections/hotspots/items?limit=10000&offence_group=sexual_violence",
    ] {
        assert_eq!(
            strip(&published.addr, path),
            strip(&computed.addr, path),
            "{path}"
        );
    }
    for path in [
        "/tiles/hotspots/12/2054/1367.mvt",
        "/tiles/h3-counts/12/2054/1367.mvt",
        "/tiles/density/12/2054/1367.png",
        "/tiles/density/12/2054/1367.png?offence_group=robbery",
    ] {
        let (sa, _, _) = http_get(&published.addr, path);
        let a = last_body_bytes();
        let (sb, _, _) = http_get(&computed.addr, path);
        let b = last_body_bytes();
        assert_eq!((sa, sb), (200, 200), "{path}");
        assert_eq!(a, b, "{path}");
    }
    // Nothing to serve is a clear error.
    let empty = dir.path().join("none");
    std::fs::create_dir_all(&empty).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_hotspots"))
        .args(["serve", "--bind", "127.0.0.1:0", "--layers"])
        .arg(&empty)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("hotspots refresh --out"));
}

/// A new `current` is picked up without a restart while requests are in flight: none
/// fails, and answers and ETags move to the new snapshot.
#[test]
fn serve_layers_swaps_to_a_new_snapshot_under_load() {
    let dir = tmp();
    let out = dir.path().join("pub");
    assert!(refresh(&out, &[]).status.success());
    let first = manifest(&current(&out))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cfg = write(dir.path(), "serve.toml", "[refresh]\nwatch_s = 0.2\n");
    let srv = start_server(&[
        "--layers",
        out.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let a = srv.addr.clone();
    let status = |a: &str| -> Value { serde_json::from_str(&http_get(a, "/status").2).unwrap() };
    assert_eq!(status(&a)["snapshot"]["run_id"], first.as_str());
    assert_eq!(
        status(&a)["computed_at_start"],
        false,
        "served from --layers"
    );
    let before = http_get(&a, "/collections/grip/items?limit=100").2;
    // Load from four threads while another data set is published.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|k| {
            let (a, stop) = (a.clone(), stop.clone());
            std::thread::spawn(move || {
                let paths = [
                    "/collections/grip/items?limit=100",
                    "/collections/h3-counts/items?limit=500&offence_group=robbery",
                    "/tiles/hotspots/12/2054/1367.mvt",
                    "/tiles/density/11/1027/683.png",
                ];
                let (mut ok, mut bad) = (0u32, Vec::new());
                let mut i = k;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let p = paths[i % paths.len()];
                    let (st, _, _) = http_get(&a, p);
                    if st == 200 {
                        ok += 1;
                    } else {
                        bad.push((p, st));
                    }
                    i += 1;
                }
                (ok, bad)
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let other = fixture(
        dir.path(),
        "other.csv",
        hotspots::fixtures::FixtureOptions {
            seed: 99,
            count: 20_000,
            ..Default::default()
        },
    );
    let o = refresh(&out, &["--incidents", other.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let second = manifest(&current(&out))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let t0 = std::time::Instant::now();
    while status(&a)["snapshot"]["run_id"] != second.as_str() {
        assert!(
            t0.elapsed().as_secs() < 20,
            "the new snapshot was not picked up"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        let (ok, bad) = w.join().unwrap();
        assert!(bad.is_empty(), "failed during the swap: {bad:?}");
        total += ok;
    }
    assert!(total > 200, "{total} requests");
    let after = http_get(&a, "/collections/grip/items?limit=100").2;
    assert_ne!(before, after, "answers come from the new snapshot");
    assert_eq!(status(&a)["generation"], 1);
}
