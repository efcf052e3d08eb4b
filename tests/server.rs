//! `hotspots serve` over real HTTP on a loopback port: OGC API – Features endpoints, paging,
//! errors as problem+json, and GDAL's OAPIF driver as a real client.

mod common;

use common::*;

#[test]
fn ogc_api_features_over_real_http() {
    let srv = start_server(&[]);
    let a = srv.addr.as_str();
    let json = |path: &str| -> serde_json::Value {
        let (st, _, body) = http_get(a, path);
        assert_eq!(st, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let landing = json("/");
    let rels: Vec<&str> = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    for r in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(&r), "{rels:?}");
    }
    let conf = json("/conformance");
    assert!(conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.as_str().unwrap().ends_with("conf/geojson")));
    let (_, h, _) = http_get(a, "/api");
    assert!(header(&h, "content-type")
        .unwrap()
        .starts_with("application/vnd.oai.openapi+json"));
    let cols = json("/collections");
    let ids: Vec<&str> = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for want in COLLECTIONS {
        assert!(ids.contains(&want), "{ids:?}");
    }
    // Districts: 13, paged 5 at a time with next/prev links that walk the whole set.
    let (st, h, body) = http_get(a, "/collections/districts/items?limit=5");
    assert_eq!(st, 200);
    assert_eq!(header(&h, "content-type"), Some("application/geo+json"));
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["numberMatched"], 13);
    assert_eq!(page["numberReturned"], 5);
    let mut seen = 0;
    let mut next = Some("/collections/districts/items?limit=5".to_string());
    while let Some(p) = next {
        let pg = json(&p);
        seen += pg["features"].as_array().unwrap().len();
        next = pg["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, 13);
    // bbox around Canterbury picks Canterbury and not Sevenoaks.
    let c = json("/collections/districts/items?bbox=1.07,51.27,1.09,51.29");
    let names: Vec<&str> = c["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Canterbury") && !names.contains(&"Sevenoaks"),
        "{names:?}"
    );
    // One Grip place, and no raw incident points anywhere: every feature is a polygon.
    let g = json("/collections/grip/items/grip-001");
    assert_eq!(g["properties"]["rank"], 1);
    // Patrol windows as flat fields, with the full plan as JSON text.
    assert_eq!(g["properties"]["w1_hours"].as_str().unwrap().len(), 11);
    assert!((0..24).contains(&g["properties"]["w1_from_h"].as_i64().unwrap()));
    assert!(g["properties"]["patrol"]
        .as_str()
        .unwrap()
        .contains("visits"));
    // Public layer under disclosure control: the JSON detail and the exact-count columns
    // are left out (the full plan is in a restricted snapshot: tests/disclosure.rs).
    for gone in ["detail", "p_uniform", "cum_harm"] {
        assert!(g["properties"].get(gone).is_none(), "{gone} in {g}");
    }
    assert_eq!(g["properties"]["incidents"].as_i64().unwrap() % 5, 0, "{g}");
    for id in &ids {
        let all = json(&format!("/collections/{id}/items?limit=10000"));
        assert!(all["features"].as_array().unwrap().iter().all(|f| {
            let t = f["geometry"]["type"].as_str().unwrap();
            t == "Polygon" || t == "MultiPolygon"
        }));
    }
    // Bad requests: problem+json 4xx, never 500.
    for (path, want) in [
        ("/collections/nope", 404),
        ("/collections/nope/items", 404),
        ("/collections/grip/items/grip-999", 404),
        ("/collections/grip/items?limit=0", 400),
        ("/collections/grip/items?limit=-5", 400),
        ("/collections/grip/items?limitt=5", 400),
        ("/collections/grip/items?limit=abc", 400),
        ("/collections/grip/items?offset=-1", 400),
        ("/collections/grip/items?bbox=1,2,3", 400),
        ("/collections/grip/items?bbox=3,2,1,0", 400),
        ("/collections/grip/items?bbox=a,b,c,d", 400),
        ("/nowhere", 404),
    ] {
        assert_problem(a, path, want);
    }
    // Part 2: EPSG:27700 output and bbox, with Content-Crs.
    let bng = "http://www.opengis.net/def/crs/EPSG/0/27700";
    let (st, h, body) = http_get(
        a,
        &format!("/collections/districts/items?crs={bng}&bbox-crs={bng}&bbox=614000,157000,616000,159000"),
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(header(&h, "content-crs"), Some(format!("<{bng}>").as_str()));
    let fc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Canterbury"]);
    let x = rings(&fc["features"][0]["geometry"])[0][0].0;
    assert!(x > 500_000.0 && x < 700_000.0, "eastings in metres: {x}");
    let (_, h, body) = http_get(
        a,
        &format!("/collections/districts/items/E07000106?crs={bng}"),
    );
    assert_eq!(header(&h, "content-crs"), Some(format!("<{bng}>").as_str()));
    let one: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(rings(&one["geometry"])[0][0].1 > 100_000.0);
    let (st, _, _) = http_get(a, "/collections/districts/items?crs=EPSG:4277");
    assert_eq!(st, 400);
    // ETag and 304, Cache-Control, gzip, CORS.
    let (_, h, _) = http_get(a, "/collections/grip/items");
    let tag = header(&h, "etag").unwrap().to_string();
    assert!(header(&h, "cache-control").unwrap().contains("max-age"));
    let (st, _, body) = http_get_with(a, "/collections/grip/items", &[("If-None-Match", &tag)]);
    assert_eq!(st, 304);
    assert!(body.is_empty());
    let (_, h, _) = http_get_with(a, "/collections/grip/items", &[("Accept-Encoding", "gzip")]);
    assert_eq!(header(&h, "content-encoding"), Some("gzip"));
    // An offset past the end (even the largest integer) is an empty page, not a crash.
    let v = json("/collections/grip/items?offset=18446744073709551615&limit=10000");
    assert_eq!(v["numberReturned"], 0);
    assert!(v["links"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["rel"] != "next"));
    // Answers are cached per representation: a plain client after a gzip one gets JSON.
    let (_, h, body) = http_get(a, "/collections/grip/items");
    assert_eq!(header(&h, "content-encoding"), None);
    assert!(body.starts_with('{'));
    let (_, h, _) = http_get_with(a, "/collections", &[("Origin", "https://example.org")]);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    // HTML by f= or by a browser's Accept; unknown f is a 400.
    let (st, h, body) = http_get(a, "/collections/grip/items?f=html&limit=3");
    assert_eq!(st, 200);
    assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
    assert!(
        body.contains("<table") && body.contains("grip-001"),
        "{body}"
    );
    let (_, h, _) = http_get_with(a, "/", &[("Accept", "text/html,application/xhtml+xml")]);
    assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
    let (st, _, _) = http_get(a, "/collections?f=xml");
    assert_eq!(st, 400);
    // Heatmap tiles: colour over Chatham's planted hotspot, transparent over Wales.
    let decode = |path: &str| -> Vec<u8> {
        let (st, h, _) = http_get(a, path);
        assert_eq!(st, 200, "{path}");
        assert_eq!(header(&h, "content-type"), Some("image/png"));
        let dec = png::Decoder::new(std::io::Cursor::new(last_body_bytes()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (256, 256));
        buf
    };
    let (x, y) = tile_of(0.5275, 51.3815, 13);
    let hot = decode(&format!("/tiles/density/13/{x}/{y}.png"));
    let opaque = hot.chunks(4).filter(|p| p[3] > 0).count();
    assert!(opaque > 1000, "Chatham tile has {opaque} coloured pixels");
    let (x, y) = tile_of(-3.5, 52.3, 13);
    let wales = decode(&format!("/tiles/density/13/{x}/{y}.png"));
    assert!(wales.chunks(4).all(|p| p[3] == 0));
    for bad in [
        "/tiles/density/25/0/0.png",
        "/tiles/density/2/9/0.png",
        "/tiles/density/2/0/x.png",
        "/tiles/density/2/0/0.jpg",
    ] {
        assert_problem(a, bad, 400);
    }
    // Selections: offence group and OGC datetime. Summed over the H3 cells, the selected
    // counts equal the robberies starting in March 2025 (London time), counted here.
    let store = default_store();
    let london = |d: &str| -> i32 {
        let dt: jiff::civil::DateTime = format!("{d}T00:00").parse().unwrap();
        (dt.to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap())
            .unwrap()
            .timestamp()
            .as_second()
            / 60) as i32
    };
    let (from, to) = (london("2025-03-01"), london("2025-04-01"));
    let march: Vec<usize> = (0..store.len())
        .filter(|&i| {
            store.group[i] == hotspots::incidents::OffenceGroup::Robbery
                && (from..to).contains(&store.from_min[i])
        })
        .collect();
    assert!(
        march.len() > 20,
        "fixture has {} March robberies",
        march.len()
    );
    // Only land cells are served: place each robbery in its res-9 cell with h3o here and
    // keep those whose cell the unfiltered layer serves.
    let all_cells = json("/collections/h3-counts/items?limit=10000");
    assert!(all_cells["numberMatched"].as_u64().unwrap() <= 10000);
    let served: std::collections::HashSet<String> = all_cells["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["cell"].as_str().unwrap().to_string())
        .collect();
    // The March robberies per served cell, placed here with h3o; the public layer answers
    // each cell's count under disclosure control: cells with fewer than 5 are left out and
    // the others rounded to the nearest 5.
    let to_wgs84 = hotspots::crs::Transformer::bng_to_wgs84().unwrap();
    let cell_of = |i: usize| {
        let (lon, lat) = to_wgs84.convert(store.x_m[i], store.y_m[i]).unwrap();
        h3o::LatLng::new(lat, lon)
            .unwrap()
            .to_cell(h3o::Resolution::Nine)
            .to_string()
    };
    let mut per_cell: std::collections::BTreeMap<String, u64> = Default::default();
    for &i in &march {
        let cell = cell_of(i);
        if served.contains(&cell) {
            *per_cell.entry(cell).or_default() += 1;
        }
    }
    // Every incident per served cell: what a selection leaves out must not be 1..4.
    let mut totals: std::collections::BTreeMap<String, u64> = Default::default();
    for i in 0..store.len() {
        let cell = cell_of(i);
        if per_cell.contains_key(&cell) {
            *totals.entry(cell).or_default() += 1;
        }
    }
    // Each cell's selection count is perturbed by its cell key (the sum of the March
    // robberies' record keys, SHA-256 prefixes of their ids, computed here) and must not
    // exceed the cell's own published count.
    let mut cell_key: std::collections::BTreeMap<String, u32> = Default::default();
    for &i in &march {
        let k = cell_key.entry(cell_of(i)).or_default();
        *k = k.wrapping_add(record_key(store.ids.get_bytes(i)));
    }
    let round5 = |n: u64| ((n + 2) / 5 * 5).max(5);
    let expected: std::collections::BTreeMap<String, u64> = per_cell
        .iter()
        .filter_map(|(c, &n)| {
            let rest = totals[c] - n;
            let p = hotspots::disclosure::perturb(n, cell_key[c]);
            (n >= 5 && (rest == 0 || rest >= 5) && p >= 5)
                .then(|| (c.clone(), round5(p).min(round5(totals[c]))))
        })
        .collect();
    let v = json("/collections/h3-counts/items?offence_group=robbery&datetime=2025-03-01/2025-03-31&limit=10000");
    let feats = v["features"].as_array().unwrap();
    assert_eq!(v["numberMatched"].as_u64().unwrap() as usize, feats.len());
    let got: std::collections::BTreeMap<String, u64> = feats
        .iter()
        .map(|f| {
            (
                f["properties"]["cell"].as_str().unwrap().to_string(),
                f["properties"]["sel_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Finer than a month is refused on the public layer.
    assert_problem(
        a,
        "/collections/h3-counts/items?offence_group=robbery&datetime=2025-03-01/2025-03-15",
        400,
    );
    // Hotspots with a selection: only places holding selected incidents, never more
    // selected than all incidents; links keep the selection.
    let v =
        json("/collections/hotspots/items?offence_group=robbery&datetime=2025-03-01T00:00:00Z/..");
    let all = json("/collections/hotspots/items")["numberMatched"]
        .as_u64()
        .unwrap();
    assert!(v["numberMatched"].as_u64().unwrap() <= all);
    for f in v["features"].as_array().unwrap() {
        let p = &f["properties"];
        assert!(p["sel_count"].as_u64().unwrap() <= p["incidents"].as_u64().unwrap());
    }
    assert!(v["links"][0]["href"]
        .as_str()
        .unwrap()
        .contains("offence_group=robbery"));
    // The temporal extent of collections with a time dimension.
    let c = json("/collections/hotspots");
    assert!(c["extent"]["temporal"]["interval"][0][0]
        .as_str()
        .unwrap()
        .starts_with("2025-01-01"));
    for (bad, _why) in [
        (
            "/collections/gistar/items?datetime=2025-03-01",
            "statistic of all incidents",
        ),
        (
            "/collections/districts/items?offence_group=robbery",
            "no selection",
        ),
        (
            "/collections/hotspots/items?datetime=2025-04-01/2025-03-01",
            "end before start",
        ),
        (
            "/collections/hotspots/items?datetime=last-week",
            "not a date",
        ),
        (
            "/collections/hotspots/items?offence_group=jaywalking",
            "unknown group",
        ),
        (
            "/tiles/density/9/256/170.png?offence_group=jaywalking",
            "unknown group",
        ),
    ] {
        assert_problem(a, bad, 400);
    }
    // Heatmap of a selection: a period with no incidents is a transparent tile.
    let (x, y) = tile_of(0.5275, 51.3815, 13);
    let empty = decode(&format!(
        "/tiles/density/13/{x}/{y}.png?datetime=2030-01-01/2030-12-31"
    ));
    assert!(empty.chunks(4).all(|p| p[3] == 0));
    let robbery = decode(&format!(
        "/tiles/density/13/{x}/{y}.png?offence_group=robbery"
    ));
    assert!(robbery.chunks(4).any(|p| p[3] > 0));
    // GDAL's OAPIF driver lists the collections and reads a layer.
    // (Grip places resting on fewer than 5 incidents are not public.)
    let grip_n = json("/collections/grip/items")["numberMatched"]
        .as_u64()
        .unwrap();
    assert!((5..20).contains(&grip_n), "{grip_n}");
    if let Some(text) = ogrinfo(&["-ro", "-so", &format!("OAPIF:http://{a}"), "grip"]) {
        assert!(text.contains(&format!("Feature Count: {grip_n}")), "{text}");
        assert!(text.contains("Geometry: Multi Polygon"), "{text}");
    }
}

/// `--config FILE`: CORS limited to one origin, a wider heatmap kernel, the incidents
/// and rejects paths read relative to the file, and command-line flags winning over it.
#[test]
fn serve_reads_a_config_file() {
    let dir = tmp();
    let csv = fixture(
        dir.path(),
        "small.csv",
        hotspots::fixtures::FixtureOptions {
            seed: 7,
            count: 3000,
            ..Default::default()
        },
    );
    let cfg = write(
        dir.path(),
        "hotspots.toml",
        &format!(
            "bind = \"127.0.0.1:1\"\nincidents = [\"{}\"]\nrejects = \"out-rejects.csv\"\n\
             [cors]\nallow_origins = [\"https://gis.example.org\"]\n\
             [heatmap]\nbandwidth_m = 450.0\n",
            csv.file_name().unwrap().to_string_lossy()
        ),
    );
    // start_server passes --bind 127.0.0.1:0, which must win over the file's port 1.
    let srv = start_server(&["--config", cfg.to_str().unwrap()]);
    let a = srv.addr.as_str();
    assert!(!a.ends_with(":1"), "{a}");
    let (st, h, _) = http_get_with(a, "/collections", &[("Origin", "https://gis.example.org")]);
    assert_eq!(st, 200);
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        Some("https://gis.example.org")
    );
    let (_, h, _) = http_get_with(
        a,
        "/collections",
        &[("Origin", "https://elsewhere.example")],
    );
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    // The configured incidents were read, and the heatmap uses the configured kernel.
    let (_, _, body) = http_get(a, "/status");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["incidents"], 3000, "{v}");
    assert_eq!(
        v["computed_at_start"], true,
        "a quick look computes at start: {v}"
    );
    let (_, _, body) = http_get(a, "/tiles/density.json");
    let tj: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        tj["description"].as_str().unwrap().contains("450 m"),
        "{tj}"
    );
    // start_server's --rejects /dev/null wins over the file's rejects path too.
    assert!(!dir.path().join("out-rejects.csv").exists());

    // A misspelt key is refused, naming the file, the line and the key.
    let bad = write(dir.path(), "bad.toml", "[cors]\nallow_origin = [\"*\"]\n");
    let err = run_err(&["serve", "--config", bad.to_str().unwrap()]);
    assert!(
        err.contains("bad.toml") && err.contains("line 2") && err.contains("allow_origin"),
        "{err}"
    );
}
