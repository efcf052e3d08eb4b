//! `hotspots evaluate` on two generated periods with the same planted hotspots: last
//! period's map predicts this period's incidents, and the figures equal a direct count.

mod common;

use common::{run_err, run_ok, tmp};
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
