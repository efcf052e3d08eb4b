//! The planners' GIS clients against a real `hotspots serve`: absolute links (also behind a
//! reverse proxy), the flat typed schema in items, tiles and every download, conformance,
//! unknown parameters, capped limits, and GDAL, OWSLib and PyQGIS (QGIS 3.22 headless)
//! loading, paging and exporting every layer.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use serde_json::Value;

fn get_json(a: &str, path: &str) -> Value {
    let (st, _, body) = http_get(a, path);
    assert_eq!(st, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// Every `href` anywhere in `v`.
fn hrefs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "href" {
                    out.push(x.as_str().unwrap_or("").to_string());
                } else {
                    hrefs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| hrefs(x, out)),
        _ => {}
    }
}

/// A client tool the test needs: present, or (outside CI) a visible skip. In CI a missing
/// tool is a failure, because `.ci/install` installs it.
fn tool(program: &str, probe: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} {probe:?} failed: .ci/install must install it"
        );
        eprintln!("SKIP: {program} is not available");
    }
    ok
}

/// The schema each collection publishes: field → JSON Schema type.
fn schemas(a: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for id in COLLECTIONS {
        let s = get_json(a, &format!("/collections/{id}/schema"));
        let mut fields: Vec<(u64, String, String)> = s["properties"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "geometry")
            .map(|(k, v)| {
                (
                    v["x-ogc-propertySeq"].as_u64().unwrap(),
                    k.clone(),
                    v["type"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        fields.sort();
        out.insert(
            id.to_string(),
            fields.into_iter().map(|(_, k, t)| (k, t)).collect(),
        );
    }
    out
}

/// Field name → OGR type name, from `ogrinfo -so` output.
fn ogr_fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(": ")?;
            let ty = rest.split_whitespace().next()?;
            matches!(ty, "Integer" | "Integer64" | "Real" | "String")
                .then(|| (name.trim().to_string(), ty.to_string()))
        })
        .collect()
}

fn ogr_matches(schema_type: &str, ogr: &str) -> bool {
    match schema_type {
        "integer" => ogr == "Integer" || ogr == "Integer64",
        "number" => ogr == "Real",
        _ => ogr == "String",
    }
}

#[test]
fn links_are_absolute_conformance_is_declared_and_parameters_are_checked() {
    let srv = start_server(&[]);
    let a = srv.addr.as_str();
    let root = format!("http://{a}/");
    for path in [
        "/",
        "/collections",
        "/collections/grip",
        "/collections/h3-counts/items?limit=3",
        "/collections/grip/items/grip-001",
    ] {
        let mut hs = Vec::new();
        hrefs(&get_json(a, path), &mut hs);
        assert!(!hs.is_empty(), "{path}");
        for h in hs {
            assert!(h.starts_with(&root), "{path}: relative or foreign link {h}");
        }
    }
    let conf = get_json(a, "/conformance");
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for want in [
        "ogcapi-features-1/1.0/conf/core",
        "ogcapi-features-1/1.0/conf/geojson",
        "ogcapi-features-1/1.0/conf/html",
        "ogcapi-features-1/1.0/conf/oas30",
        "ogcapi-features-2/1.0/conf/crs",
    ] {
        assert!(
            classes.iter().any(|c| c.ends_with(want)),
            "{want}: {classes:?}"
        );
    }
    // A misspelt or unknown parameter is a 400 that names it and the allowed ones.
    for (path, name) in [
        (
            "/collections/hotspots/items?offence-group=robbery",
            "offence-group",
        ),
        (
            "/collections/hotspots/items?datetime_=2025-01-01",
            "datetime_",
        ),
        ("/collections/districts/items?foo=bar", "foo"),
        ("/collections/grip/items/grip-001?limit=3", "limit"),
        ("/collections?bbox=1,2,3,4", "bbox"),
        ("/?x=1", "x"),
        (
            "/tiles/density/10/511/340.png?offence-group=robbery",
            "offence-group",
        ),
        (
            "/tiles/grip/10/511/340.mvt?offence_group=robbery",
            "offence_group",
        ),
    ] {
        let (st, h, body) = http_get(a, path);
        assert_eq!(st, 400, "{path}: {body}");
        assert_eq!(header(&h, "content-type"), Some("application/problem+json"));
        let p: Value = serde_json::from_str(&body).unwrap();
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("'{name}'")), "{path}: {detail}");
        assert!(detail.contains("takes:"), "{detail}");
    }
    // limit above the maximum is capped (case f12-oapif-limit-over-maximum), with a next
    // link when more remain.
    for q in [
        "limit=10000",
        "limit=10001",
        "limit=50000",
        "limit=99999999999999999999",
    ] {
        let v = get_json(a, &format!("/collections/districts/items?{q}"));
        assert_eq!(v["numberReturned"], 13, "{q}");
    }
    let v = get_json(a, "/collections/h3-counts/items?limit=50000");
    let matched = v["numberMatched"].as_u64().unwrap();
    assert_eq!(
        v["numberReturned"].as_u64().unwrap(),
        matched.min(10_000),
        "{matched}"
    );
    // EPSG:27700 GeoJSON names its CRS in the body too, so a saved file opens in place.
    let bng = "http://www.opengis.net/def/crs/EPSG/0/27700";
    let v = get_json(a, &format!("/collections/grip/items?crs={bng}&limit=2"));
    assert_eq!(
        v["crs"]["properties"]["name"],
        "urn:ogc:def:crs:EPSG::27700"
    );
    let dir = tmp();
    let saved = dir.path().join("grip-bng.geojson");
    std::fs::write(&saved, v.to_string()).unwrap();
    if let Some(text) = ogrinfo(&["-ro", "-so", "-al", saved.to_str().unwrap()]) {
        assert!(text.contains("ID[\"EPSG\",27700]"), "{text}");
    }
    // The items page for a person: a map, typed column heads, links back up.
    let (st, h, page) = http_get(a, "/collections/grip/items?f=html&limit=5");
    assert_eq!(st, 200);
    assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
    for want in [
        "id=\"map\"",
        "leaflet.js",
        "rank<br><small>integer</small>",
        "pai<br><small>number</small>",
        &format!("http://{a}/collections/grip?f=html"),
        &format!("http://{a}/collections?f=html"),
        "next page",
    ] {
        assert!(page.contains(want), "items page lacks {want}");
    }
    assert_eq!(page.matches("<th").count(), schemas(a)["grip"].len());
    // Rows link to their feature's page; the BNG download is one click away.
    assert!(page.contains(&format!(
        "http://{a}/collections/grip/items/grip-001?f=html"
    )));
    assert!(page.contains("British National Grid"));
    // HTML pages keep links that are not OGC resources as they are, and a problem shows
    // its detail to a person too.
    let (_, _, html) = http_get(a, "/collections/grip?f=html");
    assert!(
        html.contains(&format!("http://{a}/tiles/grip.json\"")),
        "{html}"
    );
    let (st, _, html) = http_get_with(
        a,
        "/collections/grip/items?offence-group=robbery",
        &[("Accept", "text/html")],
    );
    assert_eq!(st, 400);
    assert!(
        html.contains("offence-group") && html.contains("takes:"),
        "{html}"
    );
    // Selections by month; downloads named by their CRS; the heatmap says where it is.
    let m = get_json(a, "/collections/h3-counts/items?datetime=2025-03&limit=1");
    let d = get_json(
        a,
        "/collections/h3-counts/items?datetime=2025-03-01/2025-03-31&limit=1",
    );
    assert_eq!(m["numberMatched"], d["numberMatched"]);
    let (_, h, _) = http_get(a, &format!("/collections/grip/items?f=gpkg&crs={bng}"));
    assert!(header(&h, "content-disposition")
        .unwrap()
        .contains("grip-epsg27700.gpkg"));
    let tj = get_json(a, "/tiles/density.json");
    let b = tj["bounds"].as_array().unwrap();
    assert!(
        b[0].as_f64().unwrap() < 0.3 && b[2].as_f64().unwrap() > 1.4,
        "{b:?}"
    );
}

#[test]
fn one_flat_typed_schema_in_items_tiles_and_downloads() {
    let srv = start_server(&[]);
    let a = srv.addr.as_str();
    let schemas = schemas(a);
    let dir = tmp();
    for (id, fields) in &schemas {
        // Items: exactly the schema's fields, each a scalar of its type.
        let v = get_json(a, &format!("/collections/{id}/items?limit=10000"));
        for f in v["features"].as_array().unwrap() {
            let p = f["properties"].as_object().unwrap();
            let keys: Vec<&String> = p.keys().collect();
            let want: Vec<&String> = fields.iter().map(|(k, _)| k).collect();
            assert_eq!(keys, want, "{id}: properties in schema order");
            for (k, ty) in fields {
                let x = &p[k];
                let ok = match ty.as_str() {
                    "integer" => x.is_i64() || x.is_u64(),
                    "number" => x.is_f64(),
                    _ => x.is_string(),
                } || x.is_null();
                assert!(ok, "{id}.{k} ({ty}) = {x}");
            }
        }
        // Downloads: every field a typed column.
        for (f, ext) in [("gpkg", "gpkg"), ("fgb", "fgb"), ("csv", "csv")] {
            let (st, h, _) = http_get(a, &format!("/collections/{id}/items?f={f}"));
            assert_eq!(st, 200, "{id} f={f}");
            assert!(header(&h, "content-disposition")
                .unwrap()
                .contains(&format!("{id}.{ext}")));
            let p = dir.path().join(format!("{id}.{ext}"));
            std::fs::write(&p, last_body_bytes()).unwrap();
            let mut args = vec!["-ro", "-so", "-al"];
            if ext == "csv" {
                args.extend([
                    "-oo",
                    "AUTODETECT_TYPE=YES",
                    "-oo",
                    "GEOM_POSSIBLE_NAMES=wkt",
                ]);
            }
            args.push(p.to_str().unwrap());
            let Some(text) = ogrinfo(&args) else {
                return;
            };
            let cols = ogr_fields(&text);
            let n = v["numberMatched"].as_u64().unwrap();
            assert!(
                text.contains(&format!("Feature Count: {n}")),
                "{id}.{ext}: {text}"
            );
            for (k, ty) in fields {
                let got = cols
                    .get(k)
                    .unwrap_or_else(|| panic!("{id}.{ext} lacks {k}"));
                // CSV type detection cannot tell an all-empty column's type.
                let all_null = v["features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|f| f["properties"][k].is_null());
                assert!(
                    ogr_matches(ty, got) || (ext == "csv" && all_null),
                    "{id}.{ext}: {k} is {got}, schema says {ty}"
                );
            }
        }
    }
    // GDAL's OAPIF client to GeoPackage: every field a proper column, no "(1:...)" lists.
    for id in COLLECTIONS {
        let out = dir.path().join(format!("oapif-{id}.gpkg"));
        let st = Command::new("ogr2ogr")
            .args(["-f", "GPKG"])
            .arg(&out)
            .arg(format!("OAPIF:http://{a}"))
            .arg(id)
            .status();
        let Ok(st) = st else {
            eprintln!("SKIP ogr2ogr: gdal-bin is not installed");
            return;
        };
        assert!(st.success(), "ogr2ogr {id}");
        let text = ogrinfo(&["-ro", "-so", out.to_str().unwrap(), id]).unwrap();
        let cols = ogr_fields(&text);
        for (k, ty) in &schemas[id] {
            let got = cols.get(k).unwrap_or_else(|| panic!("{id}: {k} lost"));
            assert!(ogr_matches(ty, got), "{id}: {k} is {got}, schema says {ty}");
        }
        let rows = ogrinfo(&["-ro", "-al", out.to_str().unwrap(), id]).unwrap();
        assert!(!rows.contains("(1:"), "{id}: a list property reached GDAL");
    }
    // GDAL with a page size above the maximum still gets every feature (case f12).
    let big = dir.path().join("big.geojson");
    let st = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "-oo", "PAGE_SIZE=20000"])
        .arg(&big)
        .arg(format!("OAPIF:http://{a}"))
        .arg("districts")
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(read_json(&big)["features"].as_array().unwrap().len(), 13);
}

#[test]
fn links_follow_a_trusted_reverse_proxy_and_never_leak_between_hosts() {
    let dir = tmp();
    let cfg = write(
        dir.path(),
        "serve.toml",
        "trusted_proxies = [\"127.0.0.1\"]\n",
    );
    let srv = start_server(&["--config", cfg.to_str().unwrap()]);
    let a = srv.addr.as_str();
    let proxied = [
        ("Host", "127.0.0.1"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "gis.kent.example"),
        ("X-Forwarded-Prefix", "/hotspots"),
    ];
    for path in ["/collections/grip/items?limit=2", "/tiles/grip.json", "/"] {
        let (st, _, body) = http_get_with(a, path, &proxied);
        assert_eq!(st, 200, "{path}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let mut hs = Vec::new();
        hrefs(&v, &mut hs);
        hs.extend(
            v["tiles"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| t.as_str().unwrap().to_string()),
        );
        assert!(!hs.is_empty());
        for h in &hs {
            assert!(
                h.starts_with("https://gis.kent.example/hotspots/"),
                "{path}: {h}"
            );
        }
        // Right after, a caller under another host name gets its own links.
        let (_, _, body) = http_get_with(a, path, &[("Host", "planner-pc:8080")]);
        assert!(
            !body.contains("gis.kent.example") && body.contains("http://planner-pc:8080/"),
            "{path}: {body}"
        );
    }
    // A public_url in the config wins over any header.
    let cfg = write(
        dir.path(),
        "public.toml",
        "public_url = \"https://maps.kent.example/vru/\"\n",
    );
    let srv = start_server(&["--config", cfg.to_str().unwrap()]);
    let (_, _, body) = http_get_with(srv.addr.as_str(), "/tiles/hotspots.json", &proxied);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["tiles"][0],
        "https://maps.kent.example/vru/tiles/hotspots/{z}/{x}/{y}.mvt"
    );
}

/// The system Python with PyQGIS and OWSLib (Debian's python3-qgis, python3-owslib).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

#[test]
fn owslib_pages_every_collection_by_following_next_as_given() {
    if !tool(SYSTEM_PYTHON, &["-c", "import owslib.ogcapi.features"]) {
        return;
    }
    let srv = start_server(&[]);
    run_client("owslib_paging.py", &[&format!("http://{}", srv.addr)]);
}

/// Runs a client script of `tests/clients/` with the system Python and checks it passed
/// every check (its last line: `N passed, 0 failed`).
fn run_client(script: &str, args: &[&str]) {
    let dir = tmp();
    let out = Command::new(SYSTEM_PYTHON)
        .arg(root().join("tests/clients").join(script))
        .args(args)
        .env("QT_QPA_PLATFORM", "offscreen")
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed, 0 failed"), "{script}: {text}");
}

#[test]
fn qgis_loads_pages_exports_and_processes_every_layer() {
    if !tool(SYSTEM_PYTHON, &["-c", "import qgis.core"]) {
        return;
    }
    let dir = tmp();
    // A density surface for the zonal-statistics step.
    let tif = dir.path().join("kde.tif");
    run_ok(&[
        "kde",
        "--cell-m",
        "100",
        "--bandwidth-m",
        "300",
        "--rejects",
        "/dev/null",
        "--out",
        tif.to_str().unwrap(),
    ]);
    let srv = start_server(&[]);
    run_client(
        "qgis_oapif.py",
        &[
            &format!("http://{}", srv.addr),
            dir.path().to_str().unwrap(),
            tif.to_str().unwrap(),
        ],
    );
}

#[test]
fn cli_writes_every_layer_kind_as_geopackage_flatgeobuf_and_csv() {
    let dir = tmp();
    let d = dir.path();
    for (cmd, name) in [
        (vec!["hotspots", "--purpose", "grip"], "grip"),
        (vec!["hotspots"], "hotspots"),
        (vec!["gistar", "--permutations", "99"], "gistar"),
        (vec!["emerging"], "emerging"),
    ] {
        for ext in ["geojson", "gpkg", "fgb", "csv"] {
            let out = d.join(format!("{name}.{ext}"));
            let mut args = cmd.clone();
            args.extend(["--rejects", "/dev/null", "--crs", "EPSG:27700", "--out"]);
            args.push(out.to_str().unwrap());
            run_ok(&args);
            assert!(out.exists(), "{}", out.display());
        }
        // No temporary files are left beside the outputs.
        assert!(std::fs::read_dir(d).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part")));
        let gj = read_json(&d.join(format!("{name}.geojson")));
        let n = gj["features"].as_array().unwrap().len();
        let first = gj["features"][0]["properties"].as_object().unwrap().clone();
        for ext in ["gpkg", "fgb"] {
            let p = d.join(format!("{name}.{ext}"));
            let Some(text) = ogrinfo(&["-ro", "-so", "-al", p.to_str().unwrap()]) else {
                return;
            };
            assert!(text.contains(&format!("Feature Count: {n}")), "{text}");
            assert!(text.contains("ID[\"EPSG\",27700]"), "{ext}: {text}");
            let cols = ogr_fields(&text);
            for (k, v) in &first {
                let ty = if v.is_i64() || v.is_u64() {
                    "integer"
                } else if v.is_f64() {
                    "number"
                } else {
                    "string"
                };
                let got = cols
                    .get(k)
                    .unwrap_or_else(|| panic!("{name}.{ext} lacks {k}"));
                assert!(
                    v.is_null() || ogr_matches(ty, got),
                    "{name}.{ext}: {k} {got} vs {ty}"
                );
            }
        }
    }
    let e = run_err(&["hotspots", "--rejects", "/dev/null", "--out", "x.shp"]);
    assert!(e.contains("unknown output format"), "{e}");
}
