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
        if !(130..880).contains(&x) || !(130..700).contains(&y) || (x < 420 && y < 215) {
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
        "grip hotspot #1",
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
