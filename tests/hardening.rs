//! Nothing lost, never a panic: outputs are whole or untouched under write faults, runs
//! that accept nothing replace nothing, rejects files describe their run, implausible
//! dates are rejected, standard output errors are errors, and heatmap tiles at every zoom
//! answer.

mod common;
use common::*;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// Runs the binary with the file-size limit at `limit_bytes` and SIGXFSZ ignored, so any
/// write past it fails with EFBIG as on a full disk. Returns (success, stderr).
fn run_with_file_limit(args: &[&str], limit_bytes: u64) -> (bool, String) {
    let mut cmd = bin();
    cmd.args(args);
    // SAFETY: only async-signal-safe calls (signal, setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: limit_bytes as libc::rlim_t,
                rlim_max: limit_bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn sha(p: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(p).unwrap()).to_vec()
}

/// Files in `dir` other than `keep`: temporaries a failed run left behind.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn every_writer_leaves_the_old_file_whole_when_the_disk_fills() {
    let dir = tmp();
    let d = dir.path();
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let rejects = p("rejects.csv");
    // Small good outputs first.
    run_ok(&[
        "kde",
        "--cell-m",
        "50",
        "--bandwidth-m",
        "300",
        "--extent",
        "600000,150000,603000,153000",
        "--rejects",
        &rejects,
        "--out",
        &p("d.asc"),
    ]);
    run_ok(&[
        "kde",
        "--cell-m",
        "50",
        "--bandwidth-m",
        "300",
        "--extent",
        "600000,150000,603000,153000",
        "--rejects",
        &rejects,
        "--out",
        &p("d.tif"),
    ]);
    run_ok(&[
        "hotspots",
        "--top",
        "1",
        "--rejects",
        &rejects,
        "--out",
        &p("h.geojson"),
    ]);
    run_ok(&[
        "hotspots",
        "--top",
        "1",
        "--rejects",
        &rejects,
        "--out",
        &p("h.gpkg"),
    ]);
    run_ok(&["ingest", "--rejects", &rejects, "--out", &p("s.hsnap")]);
    run_ok(&["peaks", "--rejects", &rejects, "--out", &p("peaks.json")]);
    let files = [
        "d.asc",
        "d.prj",
        "d.json",
        "d.tif",
        "h.geojson",
        "h.gpkg",
        "s.hsnap",
        "peaks.json",
    ];
    let before: Vec<Vec<u8>> = files.iter().map(|f| sha(&d.join(f))).collect();
    // The same outputs, bigger, under a 64 KB file-size limit: each write fails part way.
    let limit = 64 * 1024;
    for args in [
        vec![
            "kde",
            "--cell-m",
            "50",
            "--bandwidth-m",
            "300",
            "--rejects",
            &rejects,
            "--out",
            &p("d.asc"),
        ],
        vec![
            "kde",
            "--cell-m",
            "50",
            "--bandwidth-m",
            "300",
            "--rejects",
            &rejects,
            "--out",
            &p("d.tif"),
        ],
        vec!["hotspots", "--rejects", &rejects, "--out", &p("h.geojson")],
        vec!["hotspots", "--rejects", &rejects, "--out", &p("h.gpkg")],
        vec!["ingest", "--rejects", &rejects, "--out", &p("s.hsnap")],
        vec!["peaks", "--rejects", &rejects, "--out", &p("peaks.json")],
    ] {
        // The peaks report is a few KB.
        let limit = if args[0] == "peaks" { 1024 } else { limit };
        let (ok, err) = run_with_file_limit(&args, limit);
        assert!(!ok, "{args:?} should fail on a full disk");
        // The error names the file written (SQLite says only "disk I/O error").
        let target = args.last().unwrap();
        assert!(err.contains(target), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let after: Vec<Vec<u8>> = files.iter().map(|f| sha(&d.join(f))).collect();
    for (f, (a, b)) in files.iter().zip(before.iter().zip(&after)) {
        assert_eq!(a, b, "{f} changed by a failed run");
    }
    let mut keep: Vec<&str> = files.to_vec();
    keep.push("rejects.csv");
    assert_eq!(
        leftovers(d, &keep),
        Vec::<String>::new(),
        "temporaries left"
    );
}

#[test]
fn stale_temporaries_of_a_killed_run_are_removed_by_the_next() {
    let dir = tmp();
    let out = dir.path().join("s.hsnap");
    // What a run killed mid-write leaves: a temporary named for a process that is gone.
    let stale = dir.path().join(".s.hsnap.4999999.AbCdEf.part");
    std::fs::write(&stale, b"half a snapshot").unwrap();
    run_ok(&[
        "ingest",
        "--rejects",
        "/dev/null",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!stale.exists());
    assert_eq!(leftovers(dir.path(), &["s.hsnap"]), Vec::<String>::new());
}

#[test]
fn an_ingest_that_accepts_nothing_or_far_less_replaces_nothing() {
    let dir = tmp();
    let d = dir.path();
    let snap = d.join("live.hsnap");
    let rejects = d.join("r.csv");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    run_ok(&["ingest", "--rejects", &s(&rejects), "--out", &s(&snap)]);
    let good = sha(&snap);
    // UK dates in a timed export: every row rejected.
    let uk = write(
        d,
        "uk.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude\n\
         a1,Robbery,14/06/2025 23:10,,0.52,51.27\n\
         a2,Robbery,15/06/2025 01:10,,0.52,51.27\n",
    );
    let err = run_err(&[
        "ingest",
        "--incidents",
        &s(&uk),
        "--rejects",
        &s(&rejects),
        "--out",
        &s(&snap),
    ]);
    assert!(
        err.contains("accepted no incidents") && err.contains("--allow-empty"),
        "{err}"
    );
    assert!(
        err.contains("2 rows read") && err.contains("2 rejected"),
        "{err}"
    );
    assert_eq!(sha(&snap), good);
    // Far fewer than the snapshot holds: refused too.
    let few = write(
        d,
        "few.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude\n\
         b1,Robbery,2025-06-14T23:10:00+01:00,,0.52,51.27\n",
    );
    let err = run_err(&[
        "ingest",
        "--incidents",
        &s(&few),
        "--rejects",
        &s(&rejects),
        "--out",
        &s(&snap),
    ]);
    assert!(err.contains("fewer than half the 20000"), "{err}");
    assert_eq!(sha(&snap), good);
    // Told to, it writes.
    run_ok(&[
        "ingest",
        "--incidents",
        &s(&few),
        "--rejects",
        &s(&rejects),
        "--out",
        &s(&snap),
        "--allow-empty",
    ]);
    assert_ne!(sha(&snap), good);
}

/// The number of incidents a snapshot holds, by `stats --json`.
fn snapshot_count(snap: &Path) -> u64 {
    let out = run_ok(&[
        "stats",
        "--json",
        "--incidents",
        snap.to_str().unwrap(),
        "--rejects",
        "/dev/null",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["accepted"].as_u64().unwrap()
}

#[test]
fn two_runs_writing_one_file_take_turns() {
    use hotspots::fixtures::FixtureOptions;
    let dir = tmp();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let snap = d.join("C.hsnap");
    let a = fixture(
        d,
        "a.csv",
        FixtureOptions {
            seed: 1,
            count: 30_000,
            ..Default::default()
        },
    );
    let b = fixture(
        d,
        "b.csv",
        FixtureOptions {
            seed: 2,
            count: 12_000,
            ..Default::default()
        },
    );
    let ingest = |csv: &Path, err: &Path| {
        bin()
            .args([
                "ingest",
                "--incidents",
                &s(csv),
                "--rejects",
                "/dev/null",
                "--allow-empty",
                "--out",
                &s(&snap),
            ])
            .stderr(std::fs::File::create(err).unwrap())
            .spawn()
            .unwrap()
    };
    // Deterministic: while the lock is held elsewhere, a run waits, says so, and writes
    // nothing; released, it completes.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(d.join(".C.hsnap.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut child = ingest(&b, &d.join("held.err"));
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(d.join("held.err"))
        .unwrap()
        .contains("waiting: another run is writing")
    {
        assert!(t0.elapsed().as_secs() < 60, "the run never said it waits");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!snap.exists(), "a waiting run wrote the file");
    drop(lock);
    assert!(child.wait().unwrap().success());
    assert_eq!(snapshot_count(&snap), 12_000);
    // Two at once: both succeed, and the file is whole and holds the run that finished
    // last (the one that waited, when they overlapped).
    for _ in 0..3 {
        let mut ca = ingest(&a, &d.join("a.err"));
        let mut cb = ingest(&b, &d.join("b.err"));
        assert!(ca.wait().unwrap().success());
        assert!(cb.wait().unwrap().success());
        let waited_a = std::fs::read_to_string(d.join("a.err"))
            .unwrap()
            .contains("waiting:");
        let waited_b = std::fs::read_to_string(d.join("b.err"))
            .unwrap()
            .contains("waiting:");
        assert!(!(waited_a && waited_b), "both runs waited");
        let got = snapshot_count(&snap);
        match (waited_a, waited_b) {
            (true, false) => assert_eq!(got, 30_000),
            (false, true) => assert_eq!(got, 12_000),
            _ => assert!(got == 30_000 || got == 12_000, "{got}"),
        }
    }
}

#[test]
fn the_rejects_file_always_describes_the_last_run() {
    let dir = tmp();
    let d = dir.path();
    let rejects = d.join("rejects.csv");
    let bad = write(
        d,
        "bad.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude\n\
         c1,Robbery,2025-06-14T23:10:00+01:00,,-0,51.2798\n\
         c2,Robbery,2025-06-14T23:10:00+01:00,,0.52,51.27\n",
    );
    run_ok(&[
        "stats",
        "--incidents",
        bad.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap().lines().count(),
        2
    );
    // A clean run: no rejects, so no file (not the previous run's).
    run_ok(&["stats", "--rejects", rejects.to_str().unwrap()]);
    assert!(!rejects.exists());
    // A device is left alone.
    run_ok(&[
        "stats",
        "--incidents",
        bad.to_str().unwrap(),
        "--rejects",
        "/dev/null",
    ]);
    assert!(Path::new("/dev/null").exists());
}

#[test]
fn implausible_dates_are_rejected_with_their_own_reason() {
    let dir = tmp();
    let d = dir.path();
    let rejects = d.join("rejects.csv");
    let csv = write(
        d,
        "dates.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude\n\
         ok1,Robbery,2025-06-14T23:10:00+01:00,,0.52,51.27\n\
         typo,Robbery,2030-06-14T23:10:00+01:00,,0.52,51.27\n\
         zero,Robbery,1900-01-00T00:00:00Z,,0.52,51.27\n\
         zero2,Robbery,1900-01-01T00:00:00Z,,0.52,51.27\n\
         late,Robbery,2025-06-14T23:10:00+01:00,2031-01-01T00:00:00Z,0.52,51.27\n",
    );
    let out = run_ok(&[
        "stats",
        "--json",
        "--incidents",
        csv.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accepted"], 1, "{v}");
    assert_eq!(v["rejected_by_reason"]["implausible_date"], 3, "{v}");
    let text = std::fs::read_to_string(&rejects).unwrap();
    for id in ["typo", "zero2", "late"] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("\"{id},")))
            .unwrap();
        assert!(
            line.contains("implausible_date") && line.contains("--dates"),
            "{line}"
        );
    }
    // A wider window takes the 2030 row; a bad window is refused naming the flag.
    let out = run_ok(&[
        "stats",
        "--json",
        "--dates",
        "1990-01-01/2030-12-31",
        "--incidents",
        csv.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accepted"], 2, "{v}");
    let err = run_err(&[
        "stats",
        "--dates",
        "2030-01-01/2020-01-01",
        "--rejects",
        "/dev/null",
    ]);
    assert!(err.contains("--dates"), "{err}");
}

#[test]
fn a_failed_write_to_standard_output_is_an_error_not_a_panic() {
    for args in [
        vec!["stats", "--json"],
        vec!["stats"],
        vec!["boundaries", "show"],
    ] {
        let mut a = args.clone();
        a.extend(["--rejects", "/dev/null"]);
        if args[0] == "boundaries" {
            a.truncate(2);
        }
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = bin().args(&a).stdout(full).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{a:?}: {err}");
        assert!(
            err.contains("writing to standard output") && !err.contains("panicked"),
            "{err}"
        );
    }
}

#[test]
fn heatmap_tiles_answer_at_every_zoom() {
    let srv = start_server(&[]);
    let a = srv.addr.as_str();
    // The tiles holding Kent at zooms 0 to 4, and one far away at each.
    for z in 0..=4u32 {
        let (x, y) = tile_of(0.7, 51.2, z);
        for (tx, ty) in [(x, y), (0, 0)] {
            let (st, h, _) = http_get(a, &format!("/tiles/density/{z}/{tx}/{ty}.png"));
            assert_eq!(st, 200, "{z}/{tx}/{ty}");
            assert_eq!(header(&h, "content-type"), Some("image/png"));
            let png = last_body_bytes();
            let img = png::Decoder::new(std::io::Cursor::new(png))
                .read_info()
                .unwrap();
            assert_eq!(img.info().width, 256);
        }
    }
}

#[test]
fn idle_connections_are_recycled_and_never_starve_others() {
    let dir = tmp();
    let cfg = write(
        dir.path(),
        "limits.toml",
        "[limits]\nmax_connections = 64\nheader_timeout_s = 1\n",
    );
    let srv = start_server(&["--config", cfg.to_str().unwrap()]);
    let a = srv.addr.clone();
    // Far more idle connections than the limit, opened as fast as the kernel takes them
    // (those past the limit wait in the backlog).
    let idle: Vec<std::net::TcpStream> = (0..1500)
        .filter_map(|_| std::net::TcpStream::connect(&a).ok())
        .collect();
    assert!(idle.len() > 1000, "{} connected", idle.len());
    // A normal request still gets its answer: idle connections are closed after the
    // header timeout, freeing slots for it.
    let t = std::time::Instant::now();
    let (st, _, _) = http_get(&a, "/collections/hotspots/items?limit=1");
    assert_eq!(st, 200);
    let waited = t.elapsed();
    // The idle ones were closed by the server: reading gives end of file.
    use std::io::Read;
    let mut buf = [0u8; 1];
    let mut first = idle[0].try_clone().unwrap();
    first
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    assert_eq!(first.read(&mut buf).unwrap_or(1), 0, "closed by the server");
    eprintln!("a request among 1,500 idle connections answered after {waited:?}");
    assert!(waited < std::time::Duration::from_secs(15), "{waited:?}");
}

#[test]
fn bad_limits_are_refused_naming_the_key() {
    let dir = tmp();
    let cfg = write(dir.path(), "l.toml", "[limits]\nmax_connections = 0\n");
    let err = run_err(&[
        "serve",
        "--config",
        cfg.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ]);
    assert!(err.contains("limits.max_connections"), "{err}");
}

#[test]
fn a_bandwidth_in_the_wrong_unit_is_refused_at_once() {
    let dir = tmp();
    for method in ["auto", "exact", "binned"] {
        let t = std::time::Instant::now();
        let err = run_err(&[
            "kde",
            "--cell-m",
            "50",
            "--bandwidth-m",
            "1e6",
            "--method",
            method,
            "--rejects",
            "/dev/null",
            "--out",
            dir.path().join("k.asc").to_str().unwrap(),
        ]);
        assert!(
            err.contains("--bandwidth-m") && err.contains("20000"),
            "{err}"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(30));
    }
    let cfg = write(dir.path(), "s.toml", "[heatmap]\nbandwidth_m = 1e6\n");
    let err = run_err(&[
        "serve",
        "--config",
        cfg.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ]);
    assert!(err.contains("heatmap.bandwidth_m"), "{err}");
}

#[test]
fn run_sizes_are_bounded_and_the_flag_is_named() {
    for (args, flag) in [
        (
            vec!["gistar", "--permutations", "1000000"],
            "--permutations",
        ),
        (vec!["hotspots", "--simulations", "100000"], "--simulations"),
        (vec!["kde", "--cell-m", "0.01"], "cells"),
    ] {
        let mut a = args.clone();
        a.extend([
            "--rejects",
            "/dev/null",
            "--out",
            "/tmp/never-written.geojson",
        ]);
        if args[0] == "kde" {
            a.truncate(a.len() - 1);
            a.push("/tmp/never-written.asc");
        }
        let err = run_err(&a);
        assert!(err.contains(flag), "{a:?}: {err}");
    }
}

#[test]
fn a_swap_is_named_only_when_the_swapped_pair_lands_in_a_district() {
    let dir = tmp();
    let rejects = dir.path().join("r.csv");
    let csv = write(
        dir.path(),
        "lat.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude\n\
         a,Robbery,2025-06-14T23:10:00+01:00,,1.0830,95\n\
         b,Robbery,2025-06-14T23:10:00+01:00,,50.0,100.0\n\
         c,Robbery,2025-06-14T23:10:00+01:00,,51.2798,0.5220\n",
    );
    run_ok(&[
        "stats",
        "--incidents",
        csv.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&rejects).unwrap();
    let reason = |id: &str| {
        text.lines()
            .find(|l| l.contains(&format!("\"{id},")))
            .unwrap()
            .split(',')
            .nth(2)
            .unwrap()
            .to_string()
    };
    // Out of range, and swapped the point would be in Asia or at sea: out of range.
    assert_eq!(reason("a"), "coordinate_out_of_range", "{text}");
    assert_eq!(reason("b"), "coordinate_out_of_range", "{text}");
    // In range both ways, swapped it is in Maidstone: a swap.
    assert_eq!(reason("c"), "likely_swapped_lat_lon", "{text}");
}

#[test]
fn unreadable_files_are_refused_with_their_real_cause() {
    let dir = tmp();
    let d = dir.path();
    let header = "id,offence,occurred_from,occurred_to,longitude,latitude";
    let row = "a,Robbery,2025-06-14T23:10:00+01:00,,0.52,51.27";
    // (UTF-16, semicolon and tab files are read: tests/incidents.rs.)
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "cr.csv",
            format!("{header}\r{row}\r").into_bytes(),
            "CR only",
        ),
        (
            "cr50.csv",
            String::from_utf8_lossy(hotspots::fixtures::DEFAULT_FIXTURE)
                .lines()
                .take(51)
                .collect::<Vec<_>>()
                .join("\r")
                .into_bytes(),
            "CR only",
        ),
        ("empty.csv", Vec::new(), "empty"),
        ("empty.hsnap", Vec::new(), "not a snapshot"),
    ];
    for (name, bytes, cause) in cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        let err = run_err(&[
            "stats",
            "--incidents",
            p.to_str().unwrap(),
            "--rejects",
            "/dev/null",
        ]);
        assert!(err.contains(name) && err.contains(cause), "{name}: {err}");
        assert!(!err.contains("missing column"), "{name}: {err}");
    }
}

/// A distance band is bounded in cell sides, and the refusal names the flag (a band of
/// 100 km on 150 m cells took 23 GB before it was).
#[test]
fn a_distance_band_is_bounded_by_the_cell_size() {
    let dir = tmp();
    let out = dir.path().join("g.geojson");
    let err = run_err(&[
        "gistar",
        "--rejects",
        "/dev/null",
        "--cells",
        "grid:150",
        "--neighbours",
        "band:100000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("--neighbours band:100000") && err.contains("at most 1800 m"),
        "{err}"
    );
    assert!(!out.exists());
    // Errors name their cause once.
    let err = run_err(&["stats", "--incidents", "/nonexistent/x.csv"]);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}
