//! `hotspots gistar` and `hotspots emerging` end to end: planted clusters are significant,
//! z matches an independent Gi* over h3o's own neighbours, results do not depend on threads,
//! and emerging hotspots run on month-only (police.uk) data.

mod common;

use std::collections::HashMap;

use common::*;
use h3o::{CellIndex, LatLng, Resolution};
use hotspots::fixtures::PLANTED_HOTSPOTS;

fn features(p: &std::path::Path) -> (serde_json::Value, Vec<serde_json::Value>) {
    let fc = read_json(p);
    let f = fc["features"].as_array().unwrap().clone();
    (fc, f)
}

#[test]
fn planted_clusters_are_hot_and_z_matches_an_independent_gi_star() {
    let dir = tmp();
    let out = dir.path().join("g.geojson");
    run_ok(&[
        "gistar",
        "--all-cells",
        "--permutations",
        "99",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (fc, feats) = features(&out);
    let m = &fc["metadata"];
    assert_eq!(
        m["incidents_in_land_cells"].as_f64().unwrap()
            + m["incidents_outside_land_cells"].as_f64().unwrap(),
        20_000.0
    );
    assert_eq!(feats.len() as u64, m["land_cells"].as_u64().unwrap());
    let mut count: HashMap<CellIndex, f64> = HashMap::new();
    let mut by_cell: HashMap<CellIndex, &serde_json::Value> = HashMap::new();
    for f in &feats {
        let c: CellIndex = f["properties"]["cell"].as_str().unwrap().parse().unwrap();
        assert_eq!(c.resolution(), Resolution::Nine);
        count.insert(c, f["properties"]["count"].as_f64().unwrap());
        by_cell.insert(c, &f["properties"]);
    }
    // Independent Gi*: h3o's grid disk restricted to land cells, the formula written out.
    let n = count.len() as f64;
    let mean = count.values().sum::<f64>() / n;
    let s = (count.values().map(|v| v * v).sum::<f64>() / n - mean * mean).sqrt();
    let gi = |c: CellIndex| -> f64 {
        let disk: Vec<CellIndex> = c.grid_disk(1);
        let nb: Vec<f64> = disk.iter().filter_map(|d| count.get(d).copied()).collect();
        let w = nb.len() as f64;
        (nb.iter().sum::<f64>() - mean * w) / (s * ((n * w - w * w) / (n - 1.0)).sqrt())
    };
    for (i, (c, p)) in by_cell.iter().enumerate() {
        if i % 97 == 0 || p["count"].as_f64().unwrap() > 20.0 {
            let z = p["z"].as_f64().unwrap();
            assert!((z - gi(*c)).abs() < 1e-9, "{c}: {z} vs {}", gi(*c));
        }
    }
    // Every planted town-centre cluster is a 99% hot spot with a small pseudo p.
    for (name, lon, lat, _) in PLANTED_HOTSPOTS {
        let c = LatLng::new(lat, lon).unwrap().to_cell(Resolution::Nine);
        let disk: Vec<CellIndex> = c.grid_disk(1);
        let best = disk
            .iter()
            .filter_map(|d| by_cell.get(d))
            .max_by(|a, b| {
                a["z"]
                    .as_f64()
                    .unwrap()
                    .total_cmp(&b["z"].as_f64().unwrap())
            })
            .unwrap();
        assert_eq!(best["bin"], 3, "{name}");
        assert!(best["p_sim"].as_f64().unwrap() <= 0.01 + 1e-12, "{name}");
    }
    // No cold spots are possible with mostly-empty cells; bins are only where FDR allows.
    assert!(feats
        .iter()
        .all(|f| f["properties"]["bin"].as_i64().unwrap() >= 0));
}

#[test]
fn results_do_not_depend_on_threads_and_grid_cells_work() {
    let dir = tmp();
    let run = |threads: &str, name: &str| {
        let out = dir.path().join(name);
        let o = bin()
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "gistar",
                "--cells",
                "grid:150",
                "--neighbours",
                "band:250",
                "--crs",
                "EPSG:27700",
                "--permutations",
                "199",
                "--seed",
                "42",
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    let a = run("1", "a.geojson");
    let b = run("2", "b.geojson");
    assert_eq!(a, b);
    let fc: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(fc["metadata"]["neighbourhood"], "band:250m");
    let f = &fc["features"][0];
    let id = f["properties"]["cell"].as_str().unwrap();
    assert!(id.starts_with("150m:"), "{id}");
    // The square's first corner is its id's south-west corner, in metres.
    let parts: Vec<f64> = id.split(':').skip(1).map(|v| v.parse().unwrap()).collect();
    let ring = f["geometry"]["coordinates"][0][0].as_array().unwrap();
    let xs: Vec<f64> = ring.iter().map(|c| c[0].as_f64().unwrap()).collect();
    let ys: Vec<f64> = ring.iter().map(|c| c[1].as_f64().unwrap()).collect();
    assert_eq!(xs.iter().cloned().fold(f64::INFINITY, f64::min), parts[0]);
    assert_eq!(ys.iter().cloned().fold(f64::INFINITY, f64::min), parts[1]);
    let e = run_err(&["gistar", "--cells", "h3:13", "--out", "/tmp/x.geojson"]);
    assert!(e.contains("h3:R"), "{e}");
    let e = run_err(&[
        "gistar",
        "--neighbours",
        "band:100",
        "--out",
        "/tmp/x.geojson",
    ]);
    assert!(e.contains("ring k for H3"), "{e}");
}

/// Emerging hotspots on police.uk-style month-only data spanning a year: the planted
/// clusters, steady all year, are hot in (nearly) every month.
#[test]
fn emerging_hotspots_on_month_only_data() {
    let dir = tmp();
    let pack = hotspots::boundaries::BoundaryPack::kent_medway().unwrap();
    let index = hotspots::boundaries::DistrictIndex::new(&pack);
    let rows = hotspots::fixtures::generate(
        &pack,
        &index,
        &hotspots::fixtures::FixtureOptions {
            seed: 21,
            count: 15_000,
            ..Default::default()
        },
    )
    .unwrap();
    let mut csv = String::from("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n");
    for r in &rows {
        csv.push_str(&format!(
            "{},{},Kent Police,Kent Police,{:.6},{:.6},On or near X,E01,L,Violence and sexual offences,,\n",
            r.id,
            r.from.strftime("%Y-%m"),
            r.lon,
            r.lat
        ));
    }
    let p = write(dir.path(), "police.csv", &csv);
    let out = dir.path().join("e.geojson");
    run_ok(&[
        "emerging",
        "--incidents",
        p.to_str().unwrap(),
        "--rejects",
        dir.path().join("r.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (fc, feats) = features(&out);
    assert_eq!(fc["metadata"]["steps"], 12);
    assert_eq!(fc["metadata"]["months"][0], "2025-01");
    let cats: HashMap<CellIndex, String> = feats
        .iter()
        .map(|f| {
            (
                f["properties"]["cell"].as_str().unwrap().parse().unwrap(),
                f["properties"]["category"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (name, lon, lat, _) in PLANTED_HOTSPOTS {
        let c = LatLng::new(lat, lon).unwrap().to_cell(Resolution::Nine);
        let disk: Vec<CellIndex> = c.grid_disk(1);
        let steady = disk.iter().filter_map(|d| cats.get(d)).any(|k| {
            ["persistent_hot", "intensifying_hot", "diminishing_hot"].contains(&k.as_str())
        });
        assert!(
            steady,
            "{name}: {:?}",
            disk.iter().filter_map(|d| cats.get(d)).collect::<Vec<_>>()
        );
    }
    for f in &feats {
        let p = &f["properties"];
        assert!(p["trend_p"].as_f64().unwrap() <= 1.0);
        assert_ne!(p["category"], "no_pattern");
        // Each month's bin, in the layer's months, agrees with the summary fields.
        let bins: Vec<(String, i64)> = p["month_bins"]
            .as_str()
            .unwrap()
            .split(',')
            .map(|x| {
                let (m, b) = x.split_once(':').unwrap();
                (m.to_string(), b.parse().unwrap())
            })
            .collect();
        let months: Vec<&str> = fc["metadata"]["months"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert_eq!(
            bins.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            months
        );
        assert!(bins.iter().all(|b| (-3..=3).contains(&b.1)));
        assert_eq!(bins.last().unwrap().1, p["final_bin"].as_i64().unwrap());
        let hot = bins.iter().filter(|b| b.1 >= 1).count() as u64;
        let cold = bins.iter().filter(|b| b.1 <= -1).count() as u64;
        assert_eq!(
            (hot, cold),
            (
                p["hot_steps"].as_u64().unwrap(),
                p["cold_steps"].as_u64().unwrap()
            )
        );
    }
    // One month of data is refused with a reason.
    if let Some(x) = shared(
        "incidents/2022-01-kent-street.excerpt.csv",
        "emerging one month",
    ) {
        let e = run_err(&[
            "emerging",
            "--incidents",
            x.to_str().unwrap(),
            "--rejects",
            dir.path().join("r2.csv").to_str().unwrap(),
            "--out",
            "/tmp/x.geojson",
        ]);
        assert!(e.contains("at least 3 monthly slices"), "{e}");
    }
}

/// Case f11: a permutation that ties the observed sum counts in both tails. With nothing
/// selected the statistic is undefined (null); with three incidents, every empty cell whose
/// neighbourhood is empty is no more extreme than most permutations.
#[test]
fn p_sim_counts_ties_in_both_tails() {
    let dir = tmp();
    let csv = write(
        dir.path(),
        "three.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude\n\
         a,Robbery,2025-06-14T23:10:00+01:00,,0.5220,51.2730\n\
         b,Robbery,2025-06-15T23:10:00+01:00,,0.5221,51.2731\n\
         c,Robbery,2025-06-16T23:10:00+01:00,,1.0800,51.2790\n",
    );
    for (group, want_all_one) in [(Some("sexual_violence"), true), (None, false)] {
        let out = dir.path().join("g.geojson");
        let mut args = vec![
            "gistar",
            "--incidents",
            csv.to_str().unwrap(),
            "--rejects",
            "/dev/null",
            "--cells",
            "h3:7",
            "--all-cells",
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(g) = group {
            args.extend(["--offence-group", g]);
        }
        run_ok(&args);
        let (_, fs) = features(&out);
        assert!(fs.len() > 500);
        let props: Vec<&serde_json::Value> = fs.iter().map(|f| &f["properties"]).collect();
        if want_all_one {
            // Nothing selected: every cell equal, Gi* is 0/0, so z, p and p_sim are null
            // (the permutation p of a cell every permutation ties is 1: the unit tests).
            assert!(
                props.iter().all(|p| p["z"].is_null()
                    && p["p"].is_null()
                    && p["p_sim"].is_null()
                    && p["bin"] == 0),
                "{:?}",
                props[0]
            );
        } else {
            let empty: Vec<_> = props
                .iter()
                .filter(|p| p["count"] == 0 && p["z"].as_f64().unwrap() < 0.0)
                .collect();
            assert!(empty.len() > 500);
            assert!(
                empty.iter().all(|p| p["p_sim"].as_f64().unwrap() > 0.5),
                "{:?}",
                empty.iter().find(|p| p["p_sim"].as_f64().unwrap() <= 0.5)
            );
        }
    }
}
