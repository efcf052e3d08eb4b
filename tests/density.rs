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
    let store = default_store();
    let a = hotspots::incidents::time::local_day_start(jiff::civil::date(2025, 6, 1)).unwrap();
    let b = hotspots::incidents::time::local_day_start(jiff::civil::date(2025, 9, 1)).unwrap();
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
    let e2 = run_err(&["kde", "--out", "/tmp/x.png"]);
    assert!(e2.contains(".tif"), "{e2}");
    let e4 = run_err(&["kde", "--extent", "1,2,3", "--out", "/tmp/x.asc"]);
    assert!(e4.contains("xmin,ymin,xmax,ymax"), "{e4}");
    let e3 = run_err(&[
        "kde",
        "--kernel",
        "uniform",
        "--method",
        "binned",
        "--out",
        "/tmp/x.asc",
    ]);
    assert!(e3.contains("smooth kernel"), "{e3}");
    assert!(e.contains("E99999999"), "{e}");
}

/// GeoTIFF output: the same surface as the ASCII grid, bit for bit, with EPSG:27700 in its
/// GeoKeys; and `gdalinfo` (when installed) reads it as British National Grid.
#[test]
fn geotiff_holds_the_same_surface_as_the_ascii_grid() {
    let dir = tmp();
    let asc = dir.path().join("s.asc");
    let tif = dir.path().join("s.tif");
    for out in [&asc, &tif] {
        run_ok(&[
            "kde",
            "--cell-m",
            "500",
            "--bandwidth-m",
            "1500",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let (ga, va) = read_esri_ascii(&asc).unwrap();
    let (gt, vt) = hotspots::density::raster::read_geotiff(&tif).unwrap();
    assert_eq!(ga, gt);
    for (a, t) in va.iter().zip(&vt) {
        assert!(
            (a.is_nan() && t.is_nan()) || (a - t).abs() <= 1e-9 * t.abs(),
            "{a} {t}"
        );
    }
    match std::process::Command::new("gdalinfo").arg(&tif).output() {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                text.contains("British National Grid") || text.contains("27700"),
                "{text}"
            );
            assert!(text.contains("NoData Value=-9999"), "{text}");
            assert!(
                text.contains(&format!("Size is {}, {}", gt.nx, gt.ny)),
                "{text}"
            );
        }
        _ => eprintln!("SKIP gdalinfo check: gdalinfo is not installed"),
    }
}

/// Cross-validation is recorded, the binned path states its bound, and edge correction
/// raises coastal cells but never inland ones far from the coast.
#[test]
fn cv_bandwidth_binned_path_and_edge_correction() {
    let dir = tmp();
    let plain = dir.path().join("p.asc");
    let edge = dir.path().join("e.asc");
    let common = [
        "kde",
        "--cell-m",
        "200",
        "--bandwidth-m",
        "auto:cv",
        "--method",
        "binned",
    ];
    let mut a: Vec<&str> = common.to_vec();
    a.extend(["--out", plain.to_str().unwrap()]);
    run_ok(&a);
    let mut b: Vec<&str> = common.to_vec();
    b.extend(["--edge-correction", "--out", edge.to_str().unwrap()]);
    run_ok(&b);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plain.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(meta["surface"]["bandwidth_method"], "likelihood-cv");
    assert_eq!(meta["surface"]["method"], "binned");
    assert!(meta["surface"]["error_bound_per_weight"].as_f64().unwrap() > 0.0);
    let h = meta["surface"]["bandwidth_m"].as_f64().unwrap();
    assert!(h > 50.0 && h < 5000.0, "{h}");
    let (g, p) = read_esri_ascii(&plain).unwrap();
    let (_, e) = read_esri_ascii(&edge).unwrap();
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let (mut raised, mut inland_same) = (0, 0);
    for iy in 0..g.ny {
        for ix in 0..g.nx {
            let k = iy * g.nx + ix;
            if p[k].is_nan() {
                assert!(e[k].is_nan());
                continue;
            }
            assert!(
                e[k] >= p[k] * (1.0 - 1e-12),
                "edge correction lowered a cell"
            );
            // Is the whole kernel disc on land? Then nothing may change.
            let (cx, cy) = g.centre(ix, iy);
            let r = h + 200.0;
            let all_land = [(-r, 0.0), (r, 0.0), (0.0, -r), (0.0, r), (0.0, 0.0)]
                .iter()
                .all(|(dx, dy)| index.locate_exact(cx + dx, cy + dy).is_some());
            if e[k] > p[k] * 1.01 {
                raised += 1;
            } else if all_land {
                inland_same += 1;
            }
        }
    }
    assert!(raised > 100, "coastal cells raised: {raised}");
    assert!(inland_same > 1000, "inland cells unchanged: {inland_same}");
}

/// `--weight count,harm` makes both surfaces in one run; the harm surface's mass is the
/// total harm of the incidents (recomputed from the table), the count surface's the count.
#[test]
fn one_run_writes_count_and_harm_surfaces() {
    let dir = tmp();
    let out = dir.path().join("both.asc");
    run_ok(&[
        "kde",
        "--cell-m",
        "250",
        "--bandwidth-m",
        "1000",
        "--weight",
        "count,harm",
        "--extent",
        "480000,100000,660000,200000",
        "--out",
        out.to_str().unwrap(),
    ]);
    let store = default_store();
    let table = hotspots::incidents::HarmTable::default_table();
    let total_harm: f64 = (0..store.len()).map(|i| store.harm(i, &table)).sum();
    for (name, want) in [
        ("both-count", store.len() as f64),
        ("both-harm", total_harm),
    ] {
        let (g, v) = read_esri_ascii(&dir.path().join(format!("{name}.asc"))).unwrap();
        // NoData at sea loses the mass of coastal kernels: mass on land is a little under.
        let mass: f64 = v.iter().filter(|x| !x.is_nan()).sum::<f64>() * g.cell_area_m2() / 1e6;
        assert!(
            mass < want * 1.0001 && mass > want * 0.9,
            "{name}: {mass} vs {want}"
        );
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert!((meta["surface"]["total_weight"].as_f64().unwrap() - want).abs() < 1e-6 * want);
    }
}

/// Case f08: incidents on one snapped point give no automatic bandwidth (refused, naming the
/// flag), for every rule and for `hotspots` as for `kde`; an automatic bandwidth under the
/// cell size is raised to it, so no incident vanishes from the surface.
#[test]
fn automatic_bandwidths_need_spread_and_are_never_under_the_cell_size() {
    let dir = tmp();
    let d = dir.path();
    let mut text = String::from("id,offence,occurred_from,occurred_to,longitude,latitude\n");
    for i in 0..12 {
        text += &format!(
            "R{i},Robbery,2025-05-{:02}T22:00:00,,1.3812,51.3897\n",
            i + 1
        );
    }
    let csv = write(d, "one_point.csv", &text);
    let out = d.join("k.asc");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    for rule in ["auto", "auto:scott", "auto:cv"] {
        for cmd in ["kde", "hotspots"] {
            let out = if cmd == "kde" {
                out.clone()
            } else {
                d.join("h.geojson")
            };
            let err = run_err(&[
                cmd,
                "--incidents",
                &s(&csv),
                "--rejects",
                "/dev/null",
                "--bandwidth-m",
                rule,
                "--out",
                &s(&out),
            ]);
            assert!(
                err.contains("no spread") && err.contains("--bandwidth-m"),
                "{cmd} {rule}: {err}"
            );
        }
    }
    // Two incidents 3 m apart: ArcGIS's rule gives about 1.2 m; raised to the 50 m cell.
    let csv = write(
        d,
        "close.csv",
        "id,offence,occurred_from,occurred_to,easting,northing\n\
         a,Robbery,2025-05-01T22:00:00,,637400,167900\n\
         b,Robbery,2025-05-02T22:00:00,,637403,167900\n",
    );
    run_ok(&[
        "kde",
        "--incidents",
        &s(&csv),
        "--rejects",
        "/dev/null",
        "--cell-m",
        "50",
        "--out",
        &s(&out),
    ]);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(meta["surface"]["bandwidth_m"], 50.0, "{meta}");
    let method = meta["surface"]["bandwidth_method"].as_str().unwrap();
    assert!(
        method.starts_with("arcgis (raised to the cell size"),
        "{method}"
    );
    // The surface holds both incidents: sum × cell area (km²) ≈ 2.
    let asc = std::fs::read_to_string(&out).unwrap();
    let total: f64 = asc
        .lines()
        .skip(6)
        .flat_map(|l| l.split_whitespace())
        .filter_map(|v| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .sum();
    let mass = total * 0.05 * 0.05;
    assert!((mass - 2.0).abs() < 0.1, "{mass}");
}
