//! `hotspots kde` end to end: the written grid against an independent computation.

mod common;

use common::*;
use hotspots::boundaries::{BoundaryPack, DistrictIndex};
use hotspots::density::raster::read_esri_ascii;
use hotspots::incidents::{ingest_files, IngestOptions};

#[test]
fn kde_grid_matches_an_independent_quartic_sum_and_masks_the_sea() {
    let dir = tmp();
    let csv = dir.path().join("inc.csv");
    run_ok(&[
        "fixtures",
        "generate",
        "--seed",
        "5",
        "--count",
        "2000",
        "--out",
        csv.to_str().unwrap(),
    ]);
    let out = dir.path().join("k.asc");
    run_ok(&[
        "kde",
        "--incidents",
        csv.to_str().unwrap(),
        "--cell-m",
        "100",
        "--bandwidth-m",
        "400",
        "--rejects",
        dir.path().join("r.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (g, v) = read_esri_ascii(&out).unwrap();
    assert_eq!(g.x0_m % 100.0, 0.0);
    assert_eq!(g.y0_m % 100.0, 0.0);
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let (store, _) = ingest_files(&index, &[&csv], IngestOptions::default()).unwrap();
    let h: f64 = 400.0;
    let mut checked = 0;
    let mut land = 0;
    for iy in (0..g.ny).step_by(7) {
        for ix in (0..g.nx).step_by(5) {
            let (cx, cy) = g.centre(ix, iy);
            let got = v[iy * g.nx + ix];
            if index.locate_exact(cx, cy).is_none() {
                assert!(got.is_nan(), "cell off land must be NoData");
                continue;
            }
            land += 1;
            let mut want = 0.0;
            for i in 0..store.len() {
                let d2 = (cx - store.x_m[i]).powi(2) + (cy - store.y_m[i]).powi(2);
                if d2 < h * h {
                    want +=
                        3.0 / (std::f64::consts::PI * h * h) * (1.0 - d2 / (h * h)).powi(2) * 1e6;
                }
            }
            if want > 0.0 {
                assert!(
                    (got - want).abs() <= 1e-8 * want,
                    "cell {ix},{iy}: {got} vs {want}"
                );
                checked += 1;
            } else {
                assert_eq!(got, 0.0);
            }
        }
    }
    assert!(checked > 50 && land > 1000, "checked {checked} land {land}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(meta["surface"]["bandwidth_m"], 400.0);
    assert_eq!(meta["surface"]["bandwidth_method"], "fixed");
    assert_eq!(meta["surface"]["incidents"], 2000);
    assert!(out.with_extension("prj").exists());
}

#[test]
fn automatic_bandwidth_is_the_arcgis_rule_and_is_recorded() {
    let dir = tmp();
    let out = dir.path().join("a.asc");
    run_ok(&[
        "kde",
        "--cell-m",
        "250",
        "--offence-group",
        "robbery",
        "--from",
        "2025-06-01",
        "--to",
        "2025-08-31",
        "--out",
        out.to_str().unwrap(),
    ]);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(meta["surface"]["bandwidth_method"], "arcgis");
    // Independent: the robbery incidents of that summer from the embedded fixture.
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let mut ing = hotspots::incidents::Ingester::new(&index, IngestOptions::default()).unwrap();
    ing.ingest_bytes("f", hotspots::fixtures::DEFAULT_FIXTURE)
        .unwrap();
    let (store, _) = ing.finish().unwrap();
    let a = hotspots::density::surface::local_date_start("2025-06-01").unwrap();
    let b = hotspots::density::surface::local_date_start("2025-09-01").unwrap();
    let (mut xs, mut ys) = (vec![], vec![]);
    for i in 0..store.len() {
        if store.group[i] == hotspots::incidents::OffenceGroup::Robbery
            && store.from_min[i] >= a
            && store.from_min[i] < b
        {
            xs.push(store.x_m[i]);
            ys.push(store.y_m[i]);
        }
    }
    assert_eq!(meta["surface"]["incidents"], xs.len());
    let h = hotspots::density::arcgis_bandwidth_m(&xs, &ys).unwrap();
    assert!((meta["surface"]["bandwidth_m"].as_f64().unwrap() - h).abs() < 1e-9);
}

#[test]
fn bad_kde_arguments_are_clear_errors() {
    let e = run_err(&["kde", "--bandwidth-m", "0", "--out", "/tmp/x.asc"]);
    assert!(e.contains("bandwidth"), "{e}");
    let e = run_err(&["kde", "--kernel", "cosine", "--out", "/tmp/x.asc"]);
    assert!(e.contains("unknown kernel"), "{e}");
    let e = run_err(&["kde", "--offence-group", "burglary", "--out", "/tmp/x.asc"]);
    assert!(e.contains("unknown offence group"), "{e}");
    let e = run_err(&["kde", "--district", "E99999999", "--out", "/tmp/x.asc"]);
    assert!(e.contains("E99999999"), "{e}");
}
