//! `hotspots hotspots` end to end: planted clusters found and ranked, background-only data
//! gives few or none, counts checked independently, Grip spacing and cumulative harm.

mod common;

use common::*;
use hotspots::fixtures::{FixtureOptions, PLANTED_HOTSPOTS};

fn hotspots_cmd(incidents: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    let dir = out.parent().unwrap();
    let mut args = vec![
        "hotspots",
        "--incidents",
        incidents.to_str().unwrap(),
        "--rejects",
        dir.join("rejects.csv").to_str().unwrap().to_string().leak(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_ok(&args);
}

#[test]
fn planted_clusters_are_found_and_ranked_above_background() {
    let dir = tmp();
    let csv = fixture(
        dir.path(),
        "p.csv",
        FixtureOptions {
            seed: 11,
            count: 12_000,
            bng: true,
            ..Default::default()
        },
    );
    let out = dir.path().join("h.geojson");
    hotspots_cmd(&csv, &out, &["--crs", "EPSG:27700"]);
    let fc = read_json(&out);
    assert_eq!(
        fc["crs"]["properties"]["name"],
        "urn:ogc:def:crs:EPSG::27700"
    );
    let feats = fc["features"].as_array().unwrap();
    assert!(feats.len() >= 8);
    let t = hotspots::crs::Transformer::wgs84_to_bng().unwrap();
    let mut ranks = Vec::new();
    for (name, lon, lat, _) in PLANTED_HOTSPOTS {
        let (x, y) = t.convert(lon, lat).unwrap();
        let f = feats
            .iter()
            .find(|f| geojson_contains(&f["geometry"], x, y))
            .unwrap_or_else(|| panic!("planted {name} not inside any hotspot"));
        ranks.push(f["properties"]["rank"].as_u64().unwrap());
    }
    ranks.sort();
    assert_eq!(
        ranks,
        (1..=8).collect::<Vec<u64>>(),
        "planted clusters rank first"
    );
    // Counts inside each of the top hotspots, checked with an independent point-in-polygon.
    let text = std::fs::read_to_string(&csv).unwrap();
    let pts: Vec<(f64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[4].parse().unwrap(), c[5].parse().unwrap())
        })
        .collect();
    let total = pts.len() as f64;
    for f in feats.iter().take(10) {
        let n = pts
            .iter()
            .filter(|(x, y)| geojson_contains(&f["geometry"], *x, *y))
            .count();
        let p = &f["properties"];
        // Output coordinates are rounded to 1 cm: points that close to an edge may go
        // either way.
        let near = pts
            .iter()
            .filter(|(x, y)| geojson_edge_distance(&f["geometry"], *x, *y) < 0.02)
            .count();
        let got = p["incidents"].as_u64().unwrap() as usize;
        assert!(
            got.abs_diff(n) <= near,
            "{}: {got} vs {n} ({near} on the edge)",
            p["id"]
        );
        let n = got;
        let share = n as f64 / total;
        assert!((p["share_inc"].as_f64().unwrap() - share).abs() < 1e-12);
        let area_share = p["area_m2"].as_f64().unwrap()
            / fc["metadata"]["summary"]["land_area_m2"].as_f64().unwrap();
        assert!((p["pai"].as_f64().unwrap() - share / area_share).abs() < 1e-9);
        assert!(p["lad_codes"].as_str().unwrap().starts_with("E0"));
        assert!(p["peak_dens"].as_f64().unwrap() > 0.0);
        // Every property is a scalar: no lists or objects for GIS clients to mangle.
        assert!(p
            .as_object()
            .unwrap()
            .values()
            .all(|v| !v.is_array() && !v.is_object()));
    }
    // Metadata carries what made it.
    let m = &fc["metadata"];
    assert_eq!(m["surface"]["bandwidth_m"], 300.0);
    assert_eq!(
        m["inputs"]["files"][0]["sha256"].as_str().unwrap().len(),
        64
    );
    assert_eq!(m["summary"]["threshold_rule"], "top:1%");
}

#[test]
fn background_only_data_gives_few_or_no_hotspots() {
    let dir = tmp();
    let csv = fixture(
        dir.path(),
        "b.csv",
        FixtureOptions {
            seed: 12,
            count: 12_000,
            planted_share: 0.0,
            background_share: 1.0,
            ..Default::default()
        },
    );
    let out = dir.path().join("h.geojson");
    hotspots_cmd(&csv, &out, &[]);
    let fc = read_json(&out);
    let kept = fc["features"].as_array().unwrap().len();
    let candidates = fc["metadata"]["summary"]["candidates"].as_u64().unwrap();
    // The densest 1% of land is always somewhere; none of it is more than chance.
    assert!(candidates > 10, "{candidates}");
    assert!(kept <= 2, "{kept} hotspots on uniform data");
}

#[test]
fn grip_places_are_spaced_ranked_by_harm_and_cumulative() {
    let dir = tmp();
    let out = dir.path().join("g.geojson");
    run_ok(&[
        "hotspots",
        "--purpose",
        "grip",
        "--crs",
        "EPSG:27700",
        "--out",
        out.to_str().unwrap(),
    ]);
    let fc = read_json(&out);
    let feats = fc["features"].as_array().unwrap();
    assert_eq!(feats.len(), 20);
    let centre = |f: &serde_json::Value| {
        let c = &f["properties"];
        (c["cent_e"].as_f64().unwrap(), c["cent_n"].as_f64().unwrap())
    };
    for (i, a) in feats.iter().enumerate() {
        for b in &feats[i + 1..] {
            let ((x1, y1), (x2, y2)) = (centre(a), centre(b));
            assert!((x1 - x2).hypot(y1 - y2) >= 500.0);
        }
        let p = &a["properties"];
        assert_eq!(p["area_m2"], 22_500.0);
        assert_eq!(p["rank"].as_u64().unwrap() as usize, i + 1);
    }
    let harms: Vec<f64> = feats
        .iter()
        .map(|f| f["properties"]["harm"].as_f64().unwrap())
        .collect();
    assert!(harms.windows(2).all(|w| w[0] >= w[1]));
    let cum: Vec<f64> = feats
        .iter()
        .map(|f| f["properties"]["cum_harm"].as_f64().unwrap())
        .collect();
    assert!(cum.windows(2).all(|w| w[1] > w[0]));
    let total_harm = harms.iter().sum::<f64>();
    let last_area = feats[19]["properties"]["cum_area"].as_f64().unwrap();
    assert!(
        (last_area - 20.0 * 22_500.0 / 3.7394e9).abs() < 1e-5,
        "{last_area}"
    );
    // The first place is the single most harmful 150 m cell anywhere: recompute it.
    let store = default_store();
    let table = hotspots::incidents::HarmTable::default_table();
    let mut cells = std::collections::HashMap::new();
    let mut all_harm = 0.0;
    for i in 0..store.len() {
        let k = (
            (store.x_m[i] / 150.0).floor() as i64,
            (store.y_m[i] / 150.0).floor() as i64,
        );
        *cells.entry(k).or_insert(0.0) += store.harm(i, &table);
        all_harm += store.harm(i, &table);
    }
    let best = cells.values().cloned().fold(0.0, f64::max);
    assert!((harms[0] - best).abs() < 1e-6, "{} vs {best}", harms[0]);
    assert!((cum[19] - total_harm / all_harm).abs() < 1e-9);
}

#[test]
fn wgs84_output_and_diversion_layer() {
    let dir = tmp();
    let out = dir.path().join("d.geojson");
    run_ok(&[
        "hotspots",
        "--purpose",
        "diversion",
        "--top",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    let fc = read_json(&out);
    assert!(fc.get("crs").is_none(), "RFC 7946 output has no crs member");
    let feats = fc["features"].as_array().unwrap();
    assert_eq!(feats.len(), 5);
    assert_eq!(
        fc["metadata"]["summary"]["selection"],
        "victim or suspect aged 25 or under"
    );
    assert_eq!(fc["metadata"]["surface"]["bandwidth_m"], 500.0);
    for f in feats {
        assert_eq!(f["properties"]["purpose"], "diversion");
        let ring = f["geometry"]["coordinates"][0][0].as_array().unwrap();
        for c in ring {
            let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            assert!(
                (0.0..1.6).contains(&lon) && (50.9..51.6).contains(&lat),
                "{lon},{lat}"
            );
        }
    }
    let e = run_err(&["hotspots", "--purpose", "patrol", "--out", "/tmp/x.geojson"]);
    assert!(e.contains("unknown purpose"), "{e}");
    let e = run_err(&[
        "hotspots",
        "--threshold",
        "top:200%",
        "--out",
        "/tmp/x.geojson",
    ]);
    assert!(e.contains("threshold"), "{e}");
}
