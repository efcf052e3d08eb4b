//! The map page in a real browser: headless Chromium (driven by playwright-core) loads /map from the server on a
//! loopback port, and the screenshot's pixels show the districts, the heatmap and the
//! hotspot outlines drawn; a selection in the page's query changes what is drawn.

mod common;

use common::*;

/// A screenshot of `url` (1000 × 800) by headless Chromium, driven by playwright-core
/// (web/screenshot.mjs) and taken once the page says it is ready, as RGBA pixels; `None`
/// when Chromium, Node or playwright-core is not installed.
fn screenshot(url: &str) -> Option<Vec<u8>> {
    screenshot_and_eval(url, None).map(|(px, _)| px)
}

/// [`screenshot`], then `expression` evaluated in the page (its JSON value returned).
fn screenshot_and_eval(url: &str, expression: Option<&str>) -> Option<(Vec<u8>, String)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let ready = std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new(&format!("{root}/web/node_modules/playwright-core")).exists();
    if !ready {
        return None;
    }
    let dir = tmp();
    let png = dir.path().join("shot.png");
    let out = std::process::Command::new("node")
        .arg(format!("{root}/web/screenshot.mjs"))
        .arg(url)
        .arg(&png)
        .args(expression)
        .output()
        .ok()?;
    assert!(
        out.status.success() && png.exists(),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1000, 800));
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected colour type {other:?}"),
    };
    Some((rgba, String::from_utf8_lossy(&out.stdout).to_string()))
}

/// Pixel counts by what the page draws in that colour.
#[derive(Debug, Default)]
struct Census {
    sea: usize,
    land: usize,
    heat: usize,
    red: usize,
    blue: usize,
}

/// Counts over the map below and right of the filter panel and left of the layer list
/// (controls hold blue checkboxes and ramp colours of their own).
fn census(rgba: &[u8]) -> Census {
    let mut c = Census::default();
    for (i, p) in rgba.chunks(4).enumerate() {
        let (x, y) = (i % 1000, i / 1000);
        // Left out: the filter and link panels (top left), the layer list (top right) and
        // the legend (bottom right).
        if !(130..880).contains(&x)
            || !(130..700).contains(&y)
            || (x < 460 && y < 300)
            || (x > 740 && y < 160)
            || (x > 450 && y > 480)
        {
            continue;
        }
        let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
        match (r, g, b) {
            (207, 227, 239) => c.sea += 1,
            (243, 239, 230) => c.land += 1,
            _ if b > r + 80 && b > 120 => c.blue += 1,
            _ if r > 150 && g < 90 && b < 90 => c.red += 1,
            _ if r > 230 && (120..215).contains(&g) && b < 170 => c.heat += 1,
            _ => {}
        }
    }
    c
}

#[test]
fn map_page_draws_the_layers_in_headless_chromium() {
    let srv = start_server(&[]);
    let a = srv.addr.as_str();
    let (st, h, body) = http_get(a, "/map");
    assert_eq!(st, 200);
    assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
    assert!(body.contains("map/assets/leaflet.js"));
    let (st, h, _) = http_get(a, "/map/assets/leaflet.js");
    if st == 404 {
        eprintln!("SKIP map page check: Leaflet is not installed (npm ci --prefix web)");
        return;
    }
    assert_eq!(st, 200);
    assert!(header(&h, "content-type")
        .unwrap()
        .starts_with("text/javascript"));
    let (st, _, _) = http_get(a, "/map/assets/../../Cargo.toml");
    assert_eq!(st, 404);

    let Some(all) = screenshot(&format!("http://{a}/map")) else {
        eprintln!("SKIP map page check: chromium or playwright-core is not installed (see the README set-up)");
        return;
    };
    let c = census(&all);
    let px = 750 * 570;
    assert!(c.sea > px / 10, "sea {c:?}");
    assert!(c.land > px / 10, "district fill {c:?}");
    // Public heatmap: cells with fewer than 5 incidents within the bandwidth are
    // transparent (disclosure control), so on the 20k default data only the clusters draw.
    assert!(c.heat > 300, "heatmap {c:?}");
    assert!(c.red > 1000, "hotspot outlines and hot cells {c:?}");
    // Zoomed on Chatham's planted cluster: Grip squares (blue) inside the hotspot (red).
    let chatham = format!("http://{a}/map?center=51.3815,0.5275&zoom=13");
    // The popup of the first Grip place: rank, counts, peak windows and patrol visits.
    let open_popup = "(() => { const l = hotspotMap.layers.grip.getLayers()\
        .find((x) => x.feature.properties.rank === 1); l.openPopup(); \
        return document.querySelector('.leaflet-popup-content').innerText; })()";
    let (shot, text) = screenshot_and_eval(&chatham, Some(open_popup)).unwrap();
    let text: String = serde_json::from_str(text.trim()).unwrap();
    for want in [
        "Grip place 1 of",
        "Chatham area",
        "Incidents",
        "PAI",
        "Peak window",
        "Visits (15 min)",
    ] {
        assert!(text.contains(want), "popup lacks '{want}': {text}");
    }
    assert!(
        text.contains("15:00–16:00") || text.contains("18:00–"),
        "popup shows no peak window: {text}"
    );
    let near = census(&shot);
    assert!(near.blue > 60, "Grip places {near:?}");
    assert!(near.red > 1000, "hotspot {near:?}");
    assert!(near.heat > 1000, "heatmap {near:?}");
    // A selection with no incidents (a period after the data) draws no heat and no
    // places, only the districts.
    let empty = census(&screenshot(&format!("{chatham}&datetime=2030-01-01/2030-01-31")).unwrap());
    assert!(empty.land > near.land, "{empty:?}");
    assert!(
        empty.blue == 0 && empty.heat == 0 && empty.red == 0,
        "nothing selected, yet {empty:?}"
    );
    // One offence group in one month: less heat than everything.
    let narrow = census(
        &screenshot(&format!(
            "http://{a}/map?offence_group=sexual_violence&datetime=2025-02-01/2025-02-28"
        ))
        .unwrap(),
    );
    assert!(narrow.land > px / 10, "districts still drawn {narrow:?}");
    assert!(
        narrow.heat < c.heat,
        "heat: selection {narrow:?} vs all {c:?}"
    );
}

/// A scenario of web/interact.mjs (hovers and clicks in headless Chromium) on `url`, as
/// JSON; `None` when Chromium, Node or playwright-core is not installed.
fn interact(url: &str, scenario: &str, loads: usize) -> Option<serde_json::Value> {
    let root = env!("CARGO_MANIFEST_DIR");
    if !std::path::Path::new("/usr/bin/chromium").exists()
        || !std::path::Path::new(&format!("{root}/web/node_modules/playwright-core")).exists()
    {
        return None;
    }
    let out = std::process::Command::new("node")
        .arg(format!("{root}/web/interact.mjs"))
        .args([url, scenario, &loads.to_string()])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{scenario} on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("JSON from interact.mjs"))
}

/// What a coordinator needs of the map, tried with the mouse: town names at county zoom
/// that do not pile up, each district's name on hover, each Grip place's own popup on every
/// fresh load, a legend row for every layer shown (with the disclosure note), a link that
/// brings the same view back, and a phone screen with the panels folded away.
#[test]
fn the_map_shows_where_things_are_and_the_right_thing_under_the_mouse() {
    let srv = start_server(&[]);
    let a = srv.addr.as_str();
    let map = format!("http://{a}/map");
    let Some(labels) = interact(&map, "labels", 1) else {
        eprintln!("SKIP map interaction checks: chromium or playwright-core is not installed");
        return;
    };
    // County zoom: the main towns are named, and no two labels overlap.
    let labels = labels.as_array().unwrap();
    let texts: Vec<&str> = labels.iter().map(|l| l["text"].as_str().unwrap()).collect();
    for town in [
        "Maidstone",
        "Canterbury",
        "Margate",
        "Ashford",
        "Dover",
        "Gillingham",
    ] {
        assert!(texts.contains(&town), "no {town} among {texts:?}");
    }
    let towns = labels
        .iter()
        .filter(|l| l["cls"].as_str().unwrap().contains("town"))
        .count();
    assert!(towns >= 12, "{towns} town labels: {texts:?}");
    let boxes: Vec<[f64; 4]> = labels
        .iter()
        .map(|l| {
            let b: Vec<f64> = l["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            [b[0], b[1], b[2], b[3]]
        })
        .collect();
    for (i, p) in boxes.iter().enumerate() {
        for q in &boxes[i + 1..] {
            let overlap = p[0] < q[2] && q[0] < p[2] && p[1] < q[3] && q[1] < p[3];
            assert!(!overlap, "labels overlap: {p:?} {q:?} in {texts:?}");
        }
    }
    // Each of the 13 districts names itself under the mouse.
    let districts = interact(&map, "districts", 1).unwrap();
    let districts = districts.as_array().unwrap();
    assert_eq!(districts.len(), 13);
    for d in districts {
        assert_eq!(d["tooltip"], d["name"], "{d}");
    }
    // Every Grip place opens its own popup, on 10 of 10 fresh loads.
    let loads = interact(&map, "grip", 10).unwrap();
    let loads = loads.as_array().unwrap();
    assert_eq!(loads.len(), 10);
    for clicks in loads {
        let clicks = clicks.as_array().unwrap();
        assert!(clicks.len() >= 10, "{} Grip places", clicks.len());
        for c in clicks {
            let want = format!("Grip place {} of {}", c["rank"], clicks.len());
            let got = c["popup"].as_str().unwrap_or("no popup");
            assert!(got.starts_with(&want), "clicked {want}, got: {got}");
            assert!(got.contains("incidents in 12 months"), "{got}");
        }
    }
    // The legend lists exactly the layers shown, with the disclosure note.
    let legend = interact(&map, "legend", 1).unwrap();
    assert_eq!(legend["rows"], legend["visible"], "{legend}");
    assert!(
        legend["note"].as_str().unwrap().contains("fewer than 5"),
        "{legend}"
    );
    let some = interact(&format!("{map}?layers=grip,districts"), "legend", 1).unwrap();
    assert_eq!(
        some["rows"],
        serde_json::json!(["grip", "districts"]),
        "{some}"
    );
    // The link brings back the view, the layers and the filters.
    let link = interact(
        &format!(
            "{map}?center=51.38,0.53&zoom=13&offence_group=robbery&datetime=2025-03-01/2025-03-31"
        ),
        "link",
        1,
    )
    .unwrap();
    assert_eq!(link["before"], link["after"], "{link}");
    assert_eq!(link["after"]["group"], "robbery");
    assert_eq!(link["after"]["zoom"], 13.0);
    // A phone: filters folded and the layer list collapsed; a Grip place's popup readable
    // within the 390 px screen.
    let phone = interact(&map, "phone", 1).unwrap();
    assert_eq!(phone["panels"]["filtersOpen"], false, "{phone}");
    assert_eq!(phone["panels"]["layersCollapsed"], true, "{phone}");
    let b: Vec<f64> = phone["popup"]["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // The details sheet: the whole width, within the screen, at most half its height.
    assert!(
        b[0] >= 0.0 && b[2] <= 390.0 && b[3] <= 844.0 && b[1] >= 844.0 * 0.5,
        "sheet box {b:?}"
    );
    assert!(phone["popup"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Grip place 1 of"));
}
