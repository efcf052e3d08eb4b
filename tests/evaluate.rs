//! `hotspots evaluate` on generated periods with the same planted hotspots: last period's
//! map predicts this period's incidents, and the figures equal a direct count; rolling
//! folds over a year of police.uk months; the bandwidth chosen by backtest.

mod common;

use common::{read_json, run_err, run_ok, tmp};
use hotspots::boundaries::{BoundaryPack, DistrictIndex};
use hotspots::density::{compute_surface, BandwidthRule, SurfaceOptions};
use hotspots::incidents::{HarmTable, IngestOptions, Ingester};

#[test]
fn evaluate_scores_a_planted_stable_hotspot_map() {
    let dir = tmp();
    let csv = |seed: &str| {
        let p = dir.path().join(format!("p{seed}.csv"));
        run_ok(&[
            "fixtures",
            "generate",
            "--seed",
            seed,
            "--count",
            "3000",
            "--bng",
            "--out",
            p.to_str().unwrap(),
        ]);
        p
    };
    let (train, test) = (csv("11"), csv("12"));
    let out = dir.path().join("eval.json");
    run_ok(&[
        "evaluate",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--method",
        "kde",
        "--method",
        "counts",
        "--bandwidth-m",
        "300,auto",
        "--coverage",
        "0.1,1",
        "--rejects",
        dir.path().join("rej.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let methods = v["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 3, "kde 300, kde auto, counts");
    let kde = &methods[0];
    assert_eq!(kde["method"], "kde");
    assert_eq!(kde["bandwidth_m"], 300.0);
    let first = &kde["coverage"][0];
    assert_eq!(first["area_share"], 0.001);
    let pai = first["pai"].as_f64().unwrap();
    assert!(pai > 100.0, "{first}");
    assert!(kde["stability"].as_f64().unwrap() > 0.5, "{kde}");
    assert_eq!(methods[2]["method"], "counts");
    // A direct count: ingest both files, make the 300 m surface from the first, take the
    // best 0.1% of land cells, count the second period's incidents in them.
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let load = |p: &std::path::Path| {
        let mut ing = Ingester::new(&index, IngestOptions::default()).unwrap();
        ing.ingest_path(p).unwrap();
        ing.finish().unwrap().0
    };
    let (a, b) = (load(&train), load(&test));
    let opts = SurfaceOptions {
        cell_m: 150.0,
        bandwidth: BandwidthRule::Fixed(300.0),
        ..Default::default()
    };
    let s = compute_surface(&pack, &index, &a, &HarmTable::default_table(), &opts).unwrap();
    let mut land: Vec<usize> = (0..s.values.len())
        .filter(|&i| s.values[i].is_finite())
        .collect();
    let units = land.len();
    land.sort_by(|&x, &y| s.values[y].total_cmp(&s.values[x]));
    let k = ((units as f64) * 0.001).round() as usize;
    let top: std::collections::HashSet<usize> = land[..k].iter().copied().collect();
    let mut captured = 0.0;
    for i in 0..b.len() {
        if let Some((ix, iy)) = s.grid.cell_of(b.x_m[i], b.y_m[i]) {
            if top.contains(&(iy * s.grid.nx + ix)) {
                captured += 1.0;
            }
        }
    }
    let total = first["captured"].as_f64().unwrap() / first["hit_rate"].as_f64().unwrap();
    assert_eq!(first["cells"], k);
    assert_eq!(first["captured"].as_f64().unwrap(), captured);
    let direct_pai = (captured / total) / (k as f64 / units as f64);
    assert!((pai - direct_pai).abs() < 1e-9, "{pai} vs {direct_pai}");
    let e = run_err(&[
        "evaluate",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--coverage",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("--coverage"), "{e}");
}

/// A year of police.uk months (generated, the planted hotspots in every month), one file
/// per month, in `dir`; returns the files in month order.
fn police_uk_year(dir: &std::path::Path, seed: &str, count: &str) -> Vec<std::path::PathBuf> {
    run_ok(&[
        "fixtures",
        "police-uk",
        "--seed",
        seed,
        "--count",
        count,
        "--out-dir",
        dir.to_str().unwrap(),
    ]);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-street.csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12, "{files:?}");
    files
}

fn load(index: &DistrictIndex, files: &[std::path::PathBuf]) -> hotspots::incidents::IncidentStore {
    let mut ing = Ingester::new(index, IngestOptions::default()).unwrap();
    for f in files {
        ing.ingest_path(f).unwrap();
    }
    ing.finish().unwrap().0
}

/// The top `share` of land cells by a 300 m (or `h`) KDE of `train`, and what `test` puts
/// in them: (cells, land cells, captured, test incidents on land). Ties by the lowest test
/// count, as ptools.
fn direct_capture(
    train: &hotspots::incidents::IncidentStore,
    test: &hotspots::incidents::IncidentStore,
    h: f64,
    share: f64,
) -> (usize, usize, f64, f64) {
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let opts = SurfaceOptions {
        cell_m: 150.0,
        bandwidth: BandwidthRule::Fixed(h),
        ..Default::default()
    };
    let s = compute_surface(&pack, &index, train, &HarmTable::default_table(), &opts).unwrap();
    let mut count = vec![0.0; s.values.len()];
    for i in 0..test.len() {
        if let Some((ix, iy)) = s.grid.cell_of(test.x_m[i], test.y_m[i]) {
            count[iy * s.grid.nx + ix] += 1.0;
        }
    }
    let mut land: Vec<usize> = (0..s.values.len())
        .filter(|&i| s.values[i].is_finite())
        .collect();
    let units = land.len();
    let total: f64 = land.iter().map(|&i| count[i]).sum();
    land.sort_by(|&x, &y| {
        s.values[y]
            .total_cmp(&s.values[x])
            .then(count[x].total_cmp(&count[y]))
    });
    let k = ((units as f64 * share).round() as usize).max(1);
    let captured = land[..k].iter().map(|&i| count[i]).sum();
    (k, units, captured, total)
}

/// Rolling folds over a year of police.uk months with planted stable hotspots: each month
/// is scored by the maps of the three before it; the planted places are found month after
/// month (high PAI, stability near 1 at their share of land), every fold's figures equal a
/// direct count from that fold's own files, and the chart is drawn.
#[test]
fn rolling_folds_on_police_uk_months_find_the_planted_hotspots() {
    let dir = tmp();
    let files = police_uk_year(&dir.path().join("pu"), "3", "12000");
    let out = dir.path().join("rolling.json");
    let png = dir.path().join("rolling.png");
    let mut args = vec!["evaluate", "--incidents"];
    let names: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().to_string())
        .collect();
    args.extend(names.iter().map(|s| s.as_str()));
    args.extend([
        "--rolling",
        "3",
        "--bandwidth-m",
        "300",
        "--coverage",
        "0.02,1",
        "--rejects",
        "/dev/null",
        "--png",
        png.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    run_ok(&args);
    let v = read_json(&out);
    assert_eq!(v["rolling"]["folds"], 9);
    let methods = v["methods"].as_array().unwrap();
    let names: Vec<&str> = methods
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kde", "gistar", "counts", "grip"]);
    let kde = &methods[0];
    let folds = kde["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 9);
    assert_eq!(folds[0]["test_period"], "2025-04");
    assert_eq!(folds[0]["train_periods"][0], "2025-01");
    assert_eq!(folds[0]["train_periods"][1], "2025-03");
    assert_eq!(folds[8]["test_period"], "2025-12");
    // The planted places (about 0.02% of land): far above chance, and the same cells month
    // after month.
    let at = &kde["coverage"][0];
    assert!(at["pai"].as_f64().unwrap() > 500.0, "{at}");
    assert!(kde["stability"].as_f64().unwrap() > 0.7, "{kde}");
    let spread = &at["spread"]["pai"];
    assert_eq!(spread["n"], 9);
    assert!(spread["min"].as_f64().unwrap() <= at["pai"].as_f64().unwrap());
    // The mean is the mean of the folds.
    let mean: f64 = folds
        .iter()
        .map(|f| f["coverage"][0]["pai"].as_f64().unwrap())
        .sum::<f64>()
        / 9.0;
    assert!((mean - at["pai"].as_f64().unwrap()).abs() < 1e-9);
    // Fold 2025-07 by hand, from its own files: April–June make the map, July scores it.
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let train = load(&index, &files[3..6]);
    let test = load(&index, &files[6..7]);
    let f = &folds[3];
    assert_eq!(f["test_period"], "2025-07");
    for (j, share) in [(0, 0.0002), (1, 0.01)] {
        let (k, units, captured, total) = direct_capture(&train, &test, 300.0, share);
        let c = &f["coverage"][j];
        assert_eq!(c["cells"], k);
        assert_eq!(c["captured"].as_f64().unwrap(), captured, "{c}");
        assert_eq!(f["test_incidents"].as_f64().unwrap(), total);
        let pai = (captured / total) / (k as f64 / units as f64);
        assert!(
            (c["pai"].as_f64().unwrap() - pai).abs() < 1e-9 * pai,
            "{c} vs {pai}"
        );
    }
    // The chart: a 1000 × 640 PNG with a line in each method's colour.
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1000, 640));
    let has = |rgb: [u8; 3]| buf.chunks(3).filter(|p| *p == rgb).count() > 200;
    // KDE blue, Gi* reddish purple, counts orange, Grip sky blue (Okabe–Ito).
    for colour in [
        [0, 114, 178],
        [204, 121, 167],
        [230, 159, 0],
        [86, 180, 233],
    ] {
        assert!(has(colour), "no line in {colour:?}");
    }
    // Too few months for the window: refused, saying what the data spans.
    let e = run_err(&[
        "evaluate",
        "--incidents",
        files[0].to_str().unwrap(),
        files[1].to_str().unwrap(),
        "--rolling",
        "3",
        "--rejects",
        "/dev/null",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        e.contains("2025-01 to 2025-02") && e.contains("at least 4"),
        "{e}"
    );
}

/// `--bandwidth-m backtest` chooses on the training months alone, the same way every time:
/// the candidate with the highest mean PAI, whose per-fold PAI equals a direct count; the
/// chosen map is then scored on the test month.
#[test]
fn the_backtest_bandwidth_is_reproducible_and_the_best_candidate() {
    let dir = tmp();
    let files = police_uk_year(&dir.path().join("pu"), "4", "12000");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().to_string())
        .collect();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let mut args = vec!["evaluate", "--train"];
        args.extend(names[..6].iter().map(|s| s.as_str()));
        args.extend(["--test", names[6].as_str()]);
        args.extend([
            "--method",
            "kde",
            "--bandwidth-m",
            "backtest",
            "--candidates-m",
            "150,300,600,1200",
            "--choose-at",
            "1",
            "--coverage",
            "1",
            "--rejects",
            "/dev/null",
            "--out",
            out.to_str().unwrap(),
        ]);
        run_ok(&args);
        read_json(&out)
    };
    let (a, b) = (run("a.json"), run("b.json"));
    let choice = &a["methods"][0]["bandwidth_choice"];
    assert_eq!(
        choice, &b["methods"][0]["bandwidth_choice"],
        "same data, same choice"
    );
    let cands = choice["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 4);
    // Six training months: three per fold, the last three months tested.
    assert_eq!(choice["window"], 3);
    let folds = choice["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    assert_eq!(folds[0]["test_period"], "2025-04");
    let best = cands
        .iter()
        .map(|c| c["mean_pai"].as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    let chosen = choice["bandwidth_m"].as_f64().unwrap();
    let chosen_c = cands.iter().find(|c| c["bandwidth_m"] == chosen).unwrap();
    assert_eq!(chosen_c["mean_pai"].as_f64().unwrap(), best);
    assert_eq!(a["methods"][0]["bandwidth_m"].as_f64().unwrap(), chosen);
    assert!(a["methods"][0]["bandwidth_rule"]
        .as_str()
        .unwrap()
        .starts_with("backtest"));
    // Each candidate's PAI in the fold testing May (trained on February–April), by hand.
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let train = load(&index, &files[1..4]);
    let test = load(&index, &files[4..5]);
    assert_eq!(folds[1]["test_period"], "2025-05");
    for c in cands {
        let h = c["bandwidth_m"].as_f64().unwrap();
        let (k, units, captured, total) = direct_capture(&train, &test, h, 0.01);
        let pai = (captured / total) / (k as f64 / units as f64);
        let got = c["pai_by_fold"][1].as_f64().unwrap();
        assert!((got - pai).abs() < 1e-9 * pai, "{h} m: {got} vs {pai}");
        let mean = c["pai_by_fold"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum::<f64>()
            / 3.0;
        assert!((c["mean_pai"].as_f64().unwrap() - mean).abs() < 1e-9);
    }
    // The chosen map is scored on July.
    let test7 = load(&index, &files[6..7]);
    let train6 = load(&index, &files[..6]);
    let (_, _, captured, _) = direct_capture(&train6, &test7, chosen, 0.01);
    assert_eq!(
        a["methods"][0]["coverage"][0]["captured"].as_f64().unwrap(),
        captured
    );
}

/// Real police.uk months of another force (Cheshire, serious violence, 2016-10 to
/// 2017-02) with its own districts imported from ONS boundaries: every row is accounted for,
/// and the bandwidth chosen by backtest captures clearly more of the next month's violence
/// in the same 1% of land than the fixed 300 m quartic, in every fold.
#[test]
fn real_police_uk_months_of_another_force() {
    let dir = tmp();
    let ex = common::root().join("examples/cheshire");
    let pack = dir.path().join("cheshire.geojson");
    run_ok(&[
        "boundaries",
        "import",
        "--from",
        ex.join("cheshire_lad.geojson").to_str().unwrap(),
        "--codes",
        "E06000049,E06000050,E06000007,E06000006",
        "--out",
        pack.to_str().unwrap(),
    ]);
    let mut files: Vec<String> = std::fs::read_dir(&ex)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().to_string())
        .filter(|p| p.ends_with(".csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5);
    let out = dir.path().join("cheshire.json");
    let rejects = dir.path().join("rejects.csv");
    let mut args = vec![
        "evaluate",
        "--boundaries",
        pack.to_str().unwrap(),
        "--incidents",
    ];
    args.extend(files.iter().map(|s| s.as_str()));
    args.extend([
        "--rolling",
        "3",
        "--method",
        "kde",
        "--bandwidth-m",
        "300,backtest",
        "--cell-m",
        "100",
        "--coverage",
        "1",
        "--rejects",
        rejects.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    run_ok(&args);
    let v = read_json(&out);
    let inc = &v["incidents"];
    assert_eq!(inc["rows_read"], 7625);
    assert_eq!(
        inc["accepted"].as_u64().unwrap() + inc["rejected"].as_u64().unwrap(),
        7625
    );
    assert!(inc["rejected"].as_u64().unwrap() < 40, "{inc}");
    let (fixed, chosen) = (&v["methods"][0], &v["methods"][1]);
    assert_eq!(fixed["bandwidth_m"], 300.0);
    let ff = fixed["folds"].as_array().unwrap();
    let cf = chosen["folds"].as_array().unwrap();
    assert_eq!(ff.len(), 2);
    for (f, c) in ff.iter().zip(cf) {
        let (pf, pc) = (
            f["coverage"][0]["pai"].as_f64().unwrap(),
            c["coverage"][0]["pai"].as_f64().unwrap(),
        );
        // Measured: 300 m PAI 34–38, the chosen 75 m 49–50.
        assert!(pc > 1.2 * pf, "{}: {pc} vs {pf}", c["test_period"]);
        assert!(c["bandwidth_m"].as_f64().unwrap() < 300.0, "{c}");
        // Chosen from the fold's own training months, never the month it is tested on.
        let choice = &c["bandwidth_choice"];
        for inner in choice["folds"].as_array().unwrap() {
            assert!(inner["test_period"].as_str().unwrap() < c["test_period"].as_str().unwrap());
        }
    }
}

/// Rolling ISO weeks on the timed default fixture: the folds asked for, labelled by ISO
/// week, each trained on the four weeks before it (a week holds the incidents starting from
/// its Monday 00:00 Europe/London).
#[test]
fn rolling_weeks_on_the_timed_fixture() {
    let dir = tmp();
    let out = dir.path().join("weeks.json");
    let fixture = common::root().join("fixtures/kent_incidents.csv");
    run_ok(&[
        "evaluate",
        "--incidents",
        fixture.to_str().unwrap(),
        "--rolling",
        "4",
        "--step",
        "week",
        "--test-from",
        "2025-W13",
        "--test-to",
        "2025-W15",
        "--method",
        "kde",
        "--bandwidth-m",
        "300",
        "--rejects",
        "/dev/null",
        "--out",
        out.to_str().unwrap(),
    ]);
    let v = read_json(&out);
    let folds = v["methods"][0]["folds"].as_array().unwrap();
    let labels: Vec<&str> = folds
        .iter()
        .map(|f| f["test_period"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["2025-W13", "2025-W14", "2025-W15"]);
    assert_eq!(folds[0]["train_periods"][0], "2025-W09");
    assert_eq!(folds[0]["train_periods"][1], "2025-W12");
    // 2025-W13 runs from Monday 24 March (BST begins on the 30th): count its incidents by
    // their start, in local time, from the file itself.
    let text = std::fs::read_to_string(&fixture).unwrap();
    let (from, to) = (
        jiff::civil::date(2025, 3, 24)
            .in_tz("Europe/London")
            .unwrap()
            .timestamp(),
        jiff::civil::date(2025, 3, 31)
            .in_tz("Europe/London")
            .unwrap()
            .timestamp(),
    );
    let mut n = 0;
    for line in text.lines().skip(1) {
        let start = line.split(',').nth(2).unwrap();
        let t: jiff::Timestamp = if start.len() > 16 {
            start.parse().unwrap()
        } else {
            let dt: jiff::civil::DateTime = start.parse().unwrap();
            dt.in_tz("Europe/London").unwrap().timestamp()
        };
        if t >= from && t < to {
            n += 1;
        }
    }
    // Incidents in no land cell (on the coast) are left out of the scoring.
    let scored = folds[0]["test_incidents"].as_f64().unwrap();
    assert!(
        scored <= n as f64 && scored >= 0.97 * n as f64,
        "{scored} of {n}"
    );
    assert!(folds[0]["coverage"][0]["pai"].as_f64().unwrap() > 10.0);
    // The data runs from Wednesday 1 January to Wednesday 31 December 2025: the part-weeks
    // at either end (2025-W01 from 30 December 2024, 2026-W01 to 4 January 2026) are
    // neither tested nor trained on.
    run_ok(&[
        "evaluate",
        "--incidents",
        fixture.to_str().unwrap(),
        "--rolling",
        "4",
        "--step",
        "week",
        "--test-from",
        "2025-w50",
        "--method",
        "counts",
        "--rejects",
        "/dev/null",
        "--out",
        out.to_str().unwrap(),
    ]);
    let v = read_json(&out);
    let folds = v["methods"][0]["folds"].as_array().unwrap();
    let labels: Vec<&str> = folds
        .iter()
        .map(|f| f["test_period"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["2025-W50", "2025-W51", "2025-W52"]);
    let e = run_err(&[
        "evaluate",
        "--incidents",
        fixture.to_str().unwrap(),
        "--rolling",
        "4",
        "--step",
        "week",
        "--test-to",
        "2025-W04",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("2025-W06, the first with 4 whole weeks"), "{e}");
}
