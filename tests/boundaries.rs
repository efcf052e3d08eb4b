//! The boundary pack, its import command and the district index.

mod common;

use common::*;
use geo::{Area, BooleanOps};
use hotspots::boundaries::{BoundaryPack, DistrictIndex, KENT_MEDWAY_CODES};
use proptest::prelude::*;

#[test]
fn embedded_pack_has_the_13_districts_and_the_land_area() {
    let pack = BoundaryPack::kent_medway().unwrap();
    let codes: Vec<&str> = pack.districts.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, KENT_MEDWAY_CODES.to_vec());
    let total = pack.land_area_km2();
    assert!((total - 3739.0).abs() < 5.0, "total {total}");
    let prov = pack.provenance.as_ref().expect("provenance");
    assert_eq!(prov.source_file, "kent_medway_lad.geojson");
    assert_eq!(prov.source_sha256.len(), 64);
    assert!(prov.attribution.contains("Open Government Licence"));
}

#[test]
fn pack_areas_are_within_half_a_percent_of_the_source() {
    let Some(src) = shared("boundaries/kent_medway_lad.geojson", "pack areas") else {
        return;
    };
    let text = std::fs::read_to_string(src).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pack = BoundaryPack::kent_medway().unwrap();
    let mut checked = 0;
    for f in v["features"].as_array().unwrap() {
        let code = f["properties"]["code"].as_str().unwrap();
        let want = f["properties"]["area_km2"].as_f64().unwrap();
        let d = &pack.districts[pack.position(code).unwrap()];
        let rel = (d.area_km2 - want).abs() / want;
        assert!(rel < 0.005, "{code}: {} vs source {want}", d.area_km2);
        checked += 1;
    }
    assert_eq!(checked, 13);
}

#[test]
fn neighbours_share_edges_without_gaps_or_overlaps() {
    let pack = BoundaryPack::kent_medway().unwrap();
    let shapes: Vec<_> = pack.districts.iter().map(|d| d.geometry.clone()).collect();
    let sum: f64 = shapes.iter().map(|s| s.unsigned_area()).sum();
    let mut union = shapes[0].clone();
    for s in &shapes[1..] {
        union = union.union(s);
    }
    // No overlaps: the union is as large as the parts together (to 100 m² over 3,739 km²).
    assert!(
        (sum - union.unsigned_area()).abs() < 100.0,
        "sum {sum} union {}",
        union.unsigned_area()
    );
    // No gaps: the union's holes are only the sub-m² float slivers the source already has
    // (largest 0.2 m², 5.4 m² in all); a gap opened by simplification would be far larger.
    let holes: Vec<f64> = union
        .0
        .iter()
        .flat_map(|p| {
            p.interiors()
                .iter()
                .map(|r| geo::Polygon::new(r.clone(), vec![]).unsigned_area())
        })
        .collect();
    assert!(
        holes.iter().all(|&a| a < 1.0),
        "a gap of {:?} m²",
        holes.iter().cloned().fold(0.0, f64::max)
    );
    assert!(holes.iter().sum::<f64>() < 10.0);
    for i in 0..shapes.len() {
        for j in i + 1..shapes.len() {
            let a = shapes[i].intersection(&shapes[j]).unsigned_area();
            assert!(
                a < 1.0,
                "{} and {} overlap by {a} m²",
                pack.districts[i].code,
                pack.districts[j].code
            );
        }
    }
}

#[test]
fn import_reproduces_the_committed_pack() {
    let Some(src) = shared(
        "boundaries/kent_medway_lad.geojson",
        "import reproduces pack",
    ) else {
        return;
    };
    let dir = tmp();
    let out = dir.path().join("km.geojson");
    run_ok(&[
        "boundaries",
        "import",
        "--from",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let made = std::fs::read_to_string(&out).unwrap();
    let committed = std::fs::read_to_string(root().join("boundaries/kent_medway.geojson")).unwrap();
    assert!(
        made == committed,
        "boundaries/kent_medway.geojson is not what the import command makes"
    );
}

#[test]
fn import_keeps_chosen_codes_and_reads_other_property_names() {
    let dir = tmp();
    // An ONS-style file with LAD24CD/LAD24NM in EPSG:27700, two districts sharing an edge.
    let src = write(
        dir.path(),
        "lad24.geojson",
        r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::27700"}},"features":[
        {"type":"Feature","properties":{"LAD24CD":"E0000001","LAD24NM":"West"},"geometry":{"type":"Polygon","coordinates":[[[600000,150000],[601000,150000],[601000,151000],[600000,151000],[600000,150000]]]}},
        {"type":"Feature","properties":{"LAD24CD":"E0000002","LAD24NM":"East"},"geometry":{"type":"Polygon","coordinates":[[[601000,150000],[602000,150000],[602000,151000],[601000,151000],[601000,150000]]]}},
        {"type":"Feature","properties":{"LAD24CD":"E0000003","LAD24NM":"Far"},"geometry":{"type":"Polygon","coordinates":[[[700000,150000],[701000,150000],[701000,151000],[700000,150000]]]}}]}"#,
    );
    let out = dir.path().join("pack.geojson");
    run_ok(&[
        "boundaries",
        "import",
        "--from",
        src.to_str().unwrap(),
        "--codes",
        "E0000001,E0000002",
        "--out",
        out.to_str().unwrap(),
    ]);
    let pack = BoundaryPack::load(&out).unwrap();
    assert_eq!(pack.districts.len(), 2);
    assert_eq!(pack.districts[1].name, "East");
    assert!((pack.districts[0].area_km2 - 1.0).abs() < 1e-9);
    let index = DistrictIndex::new(&pack);
    assert_eq!(index.locate(600_500.0, 150_500.0), Some(0));
    assert_eq!(index.locate(601_500.0, 150_500.0), Some(1));
    // On the shared edge: the lower code wins, every time.
    assert_eq!(index.locate(601_000.0, 150_500.0), Some(0));
    assert_eq!(index.locate(650_000.0, 150_500.0), None);
}

#[test]
fn bad_boundary_files_name_the_file_and_feature() {
    let dir = tmp();
    let out = dir.path().join("o.geojson");
    let o = out.to_str().unwrap();
    let case = |name: &str, text: &str, extra: &[&str]| -> String {
        let p = write(dir.path(), name, text);
        let mut args = vec![
            "boundaries",
            "import",
            "--from",
            p.to_str().unwrap(),
            "--out",
            o,
        ];
        args.extend_from_slice(extra);
        run_err(&args)
    };
    let e = case("notjson.geojson", "this is not json", &[]);
    assert!(
        e.contains("notjson.geojson") && e.contains("not a GeoJSON"),
        "{e}"
    );
    let e = case(
        "nocode.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"foo":1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#,
        &[],
    );
    assert!(
        e.contains("nocode.geojson") && e.contains("feature 0") && e.contains("no district code"),
        "{e}"
    );
    let e = case(
        "point.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X1"},"geometry":{"type":"Point","coordinates":[0.5,51.2]}}]}"#,
        &["--codes", "X1"],
    );
    assert!(
        e.contains("point.geojson") && e.contains("X1") && e.contains("Point"),
        "{e}"
    );
    let e = case(
        "absent.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X1"},"geometry":{"type":"Polygon","coordinates":[[[0.5,51.2],[0.6,51.2],[0.6,51.3],[0.5,51.2]]]}}]}"#,
        &[],
    );
    assert!(
        e.contains("absent.geojson") && e.contains("E06000035"),
        "{e}"
    );
    // Outside Great Britain: OSTN15 cannot take it, and the error names the feature.
    let e = case(
        "faraway.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X1"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#,
        &[],
    );
    assert!(
        e.contains("faraway.geojson") && e.contains("feature 0 (X1)") && e.contains("OSTN15"),
        "{e}"
    );
    // A polygon that collapses to a line: nothing to repair it into.
    let e = case(
        "flat.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"X1"},"geometry":{"type":"Polygon","coordinates":[[[600000,150000],[601000,150000],[602000,150000],[600000,150000]]]}}]}"#,
        &["--codes", "X1"],
    );
    assert!(
        e.contains("flat.geojson") && e.contains("feature 0") && e.contains("unrepairable"),
        "{e}"
    );
}

#[test]
fn a_self_intersecting_district_is_repaired() {
    let dir = tmp();
    // A bow-tie: invalid, repaired into two triangles.
    let src = write(
        dir.path(),
        "bowtie.geojson",
        r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:27700"}},"features":[{"type":"Feature","properties":{"code":"B1","name":"Bow"},"geometry":{"type":"Polygon","coordinates":[[[600000,150000],[602000,152000],[602000,150000],[600000,152000],[600000,150000]]]}}]}"#,
    );
    let out = dir.path().join("o.geojson");
    let o = run_ok(&[
        "boundaries",
        "import",
        "--from",
        src.to_str().unwrap(),
        "--codes",
        "B1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("repaired: B1"));
    let pack = BoundaryPack::load(&out).unwrap();
    assert!(
        (pack.districts[0].area_km2 - 2.0).abs() < 1e-6,
        "{}",
        pack.districts[0].area_km2
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// The lookup grid is only a cache: it must agree with exact point-in-polygon everywhere.
    #[test]
    fn lookup_grid_agrees_with_exact_point_in_polygon(x in 535_000.0f64..655_000.0, y in 125_000.0f64..185_000.0) {
        use std::sync::OnceLock;
        static INDEX: OnceLock<DistrictIndex> = OnceLock::new();
        let index = INDEX.get_or_init(|| DistrictIndex::new(&BoundaryPack::kent_medway().unwrap()));
        prop_assert_eq!(index.locate(x, y), index.locate_exact(x, y));
    }
}
