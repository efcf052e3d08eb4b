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
    if !browser_ready() {
        return None;
    }
    let root = env!("CARGO_MANIFEST_DIR");
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
    let (w, h, rgba) = read_png(&png);
    assert_eq!((w, h), (1000, 800));
    Some((rgba, String::from_utf8_lossy(&out.stdout).to_string()))
}

/// True when Debian's Chromium and playwright-core (`npm ci --prefix web`) are installed.
fn browser_ready() -> bool {
    let root = env!("CARGO_MANIFEST_DIR");
    std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new(&format!("{root}/web/node_modules/playwright-core")).exists()
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
            || (x > 680 && y < 160)
            || (x > 450 && y > 480)
        {
            continue;
        }
        let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
        match (r, g, b) {
            (207, 227, 239) => c.sea += 1,
            (243, 239, 230) => c.land += 1,
            _ if b > r + 80 && b > 120 => c.blue += 1,
            // Hotspot vermillion (#d55e00) and the ramp's dark reds.
            _ if r > 150 && g < 130 && b < 90 && r - g > 90 => c.red += 1,
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
    interact_with(url, scenario, &loads.to_string())
}

/// [`interact`] with the scenario's third argument as given (`print`: the path to save to).
fn interact_with(url: &str, scenario: &str, arg: &str) -> Option<serde_json::Value> {
    if !browser_ready() {
        return None;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("node")
        .arg(format!("{root}/web/interact.mjs"))
        .args([url, scenario, arg])
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

/// A stand-in for a force's street tile service on a loopback port: every GET is a
/// 256 × 256 PNG (grey with a dark street across it) with CORS headers, as tile servers
/// send. Returns its address and a count of the tiles it served.
fn tile_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, Write};
    let mut rgba = vec![0u8; 256 * 256 * 4];
    for (i, p) in rgba.chunks_mut(4).enumerate() {
        let y = i / 256;
        let c = if (120..136).contains(&y) { 60 } else { 200 };
        p.copy_from_slice(&[c, c, c, 255]);
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, 256, 256);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&rgba).unwrap();
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let png_bytes = png_bytes.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                let mut r = std::io::BufReader::new(&stream);
                let mut line = String::new();
                // The request head, up to its blank line.
                while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut w = &stream;
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    png_bytes.len()
                );
                let _ = w.write_all(&png_bytes);
            });
        }
    });
    (addr, served)
}

/// A decoded PNG: width, height and RGBA pixels.
fn read_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected colour type {other:?}"),
    };
    (info.width, info.height, rgba)
}

/// Pixels in `bx` ([x0, y0, x1, y1]) of an image `w` wide for which `f(r, g, b)` holds.
fn count_in(rgba: &[u8], w: u32, bx: &serde_json::Value, f: impl Fn(u8, u8, u8) -> bool) -> usize {
    let b: Vec<usize> = bx
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap().max(0.0) as usize)
        .collect();
    let mut n = 0;
    for y in b[1]..b[3] {
        for x in b[0]..b[2].min(w as usize) {
            let k = (y * w as usize + x) * 4;
            if k + 2 < rgba.len() && f(rgba[k], rgba[k + 1], rgba[k + 2]) {
                n += 1;
            }
        }
    }
    n
}

/// The rest of what a coordinator needs: a configured street basemap with its
/// attribution (and the offline base when it cannot be reached), the month slider with the
/// emerging hot spots, an A4 PNG with title, legend, scale bar and attribution, every
/// control and Grip place reachable from the keyboard, and text contrast to WCAG AA.
#[test]
fn the_map_has_streets_months_an_a4_export_and_works_from_the_keyboard() {
    let dir = tmp();
    let (tiles, served) = tile_server();
    let cfg = write(
        dir.path(),
        "map.toml",
        &format!("[map]\nbasemap_url = \"http://{tiles}/{{z}}/{{x}}/{{y}}.png\"\nbasemap_attribution = \"© Test Streets Ltd\"\n"),
    );
    let srv = start_server(&["--config", cfg.to_str().unwrap()]);
    let a = srv.addr.as_str();
    let map = format!("http://{a}/map");
    let Some(base) = interact(&map, "basemap", 1) else {
        eprintln!("SKIP map checks: chromium or playwright-core is not installed");
        return;
    };
    // Streets under the layers, their attribution on the map, districts only outlined
    // and the project's own place names off (the basemap has its own).
    assert_eq!(base["on_map"], true, "{base}");
    assert!(base["tiles_loaded"].as_u64().unwrap() >= 4, "{base}");
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 4);
    assert!(
        base["attribution"]
            .as_str()
            .unwrap()
            .contains("© Test Streets Ltd"),
        "{base}"
    );
    assert_eq!(base["district_fill"], 0.0, "{base}");
    assert_eq!(base["places_on"], false, "{base}");
    assert!(
        base["legend"]
            .as_array()
            .unwrap()
            .contains(&"basemap".into()),
        "{base}"
    );

    // The A4 export of a view of Chatham at zoom 13, streets included.
    let png_path = dir.path().join("a4.png");
    let (lat, zoom) = (51.3815_f64, 13.0_f64);
    let ex = interact_with(
        &format!("{map}?center={lat},0.5275&zoom={zoom}"),
        "print",
        png_path.to_str().unwrap(),
    )
    .unwrap();
    let (w, h, px) = read_png(&png_path);
    assert_eq!((w, h), (1754, 1240), "A4 landscape at 150 dpi");
    assert_eq!(ex["title"], "Kent & Medway violence hotspots");
    assert!(ex["file"].as_str().unwrap().ends_with(".png"), "{ex}");
    let boxes = &ex["boxes"];
    let ink = |r: u8, g: u8, b: u8| u16::from(r) + u16::from(g) + u16::from(b) < 300;
    for part in ["title", "legend", "scalebar", "attribution"] {
        let n = count_in(&px, w, &boxes[part], ink);
        assert!(n > 200, "{part}: {n} dark pixels in {}", boxes[part]);
    }
    // Outside the boxes the page is white: the boxes hold what is drawn.
    assert!(
        count_in(
            &px,
            w,
            &serde_json::json!([1754 - 40, 0, 1754, 1240]),
            |r, g, b| (r, g, b) != (255, 255, 255)
        ) == 0
    );
    // The map: the layers (Grip blue, hotspot vermillion) and the basemap's grey streets.
    let grip = count_in(&px, w, &boxes["map"], |r, _, b| {
        b > r.saturating_add(80) && b > 120
    });
    let hot = count_in(&px, w, &boxes["map"], |r, g, b| {
        r > 150 && g < 130 && b < 90 && r - g > 90
    });
    assert!(
        hot > 200,
        "hotspot outlines and hot cells in the export: {hot}"
    );
    let streets = count_in(&px, w, &boxes["map"], |r, g, b| {
        (r, g, b) == (200, 200, 200) || (r, g, b) == (60, 60, 60)
    });
    assert!(grip > 40, "Grip places in the export: {grip}");
    assert_eq!(ex["basemap_on"], true, "{ex}");
    assert!(streets > 10_000, "basemap in the export: {streets}");
    // The scale bar against Web Mercator's scale at that latitude and zoom
    // (156,543.03 m per pixel at the equator at zoom 0), the map drawn 1000 px wide.
    let map_w = boxes["map"][2].as_f64().unwrap() - boxes["map"][0].as_f64().unwrap();
    let want = 156_543.033_92 * lat.to_radians().cos() / 2f64.powf(zoom) * 1000.0 / map_w;
    let got = ex["scale_m"].as_f64().unwrap() / ex["scale_px"].as_f64().unwrap();
    assert!(
        (got / want - 1.0).abs() < 0.02,
        "scale: {got} m per print pixel, want {want}"
    );
    assert!(ex["attribution"]
        .as_str()
        .unwrap()
        .contains("© Test Streets Ltd"));
    assert!(ex["attribution"].as_str().unwrap().contains("GeoNames"));
    drop(srv);

    // A basemap that cannot be reached: the offline base, and the page says so.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone_addr = gone.local_addr().unwrap().to_string();
    drop(gone);
    let cfg = write(
        dir.path(),
        "gone.toml",
        &format!("[map]\nbasemap_url = \"http://{gone_addr}/{{z}}/{{x}}/{{y}}.png\"\nbasemap_attribution = \"© Gone\"\n"),
    );
    let srv = start_server(&["--config", cfg.to_str().unwrap()]);
    let off = interact(&format!("http://{}/map", srv.addr), "basemap", 1).unwrap();
    assert_eq!(off["on_map"], false, "{off}");
    assert!(
        off["status"]
            .as_str()
            .unwrap()
            .contains("Basemap unreachable"),
        "{off}"
    );
    assert_eq!(off["district_fill"], 1.0, "{off}");
    assert_eq!(off["places_on"], true, "{off}");
    assert!(off["labels"].as_u64().unwrap() >= 10, "{off}");
    assert!(
        !off["attribution"].as_str().unwrap().contains("© Gone"),
        "{off}"
    );
    drop(srv);

    // No basemap configured: keyboard, contrast and the months.
    let srv = start_server(&[]);
    let map = format!("http://{}/map", srv.addr);
    // A shared link with a tracking tag and a misspelt layer still opens, and says what it
    // did not use.
    let tagged = interact(
        &format!("{map}?fbclid=abc&layers=grip,heatmap"),
        "basemap",
        1,
    )
    .unwrap();
    let st = tagged["status"].as_str().unwrap();
    assert!(st.contains("Not used from the address: fbclid"), "{st}");
    assert!(
        st.contains("Unknown layers in the address: heatmap"),
        "{st}"
    );
    assert_eq!(tagged["legend"], serde_json::json!(["grip"]), "{tagged}");
    // An export from a phone is an A4 portrait page.
    let phone_png = dir.path().join("phone.png");
    let ex = interact_with(&map, "print-phone", phone_png.to_str().unwrap()).unwrap();
    let (w, h, px) = read_png(&phone_png);
    assert_eq!((w, h), (1240, 1754), "{ex}");
    for part in ["title", "legend", "scalebar", "attribution"] {
        let n = count_in(&px, w, &ex["boxes"][part], ink);
        assert!(n > 200, "phone export {part}: {n} dark pixels");
    }
    let (m, l) = (&ex["boxes"]["map"], &ex["boxes"]["legend"]);
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    assert!(
        f(&l[0]) >= f(&m[2]) || f(&l[1]) >= f(&m[3]),
        "the legend beside or below the map, not on it: {ex}"
    );
    // A phone's narrow view fills the page's height.
    assert!(f(&m[3]) - f(&m[1]) > 1754.0 * 0.75, "{ex}");
    let kb = interact(&map, "keyboard", 1).unwrap();
    let stops = kb["stops"].as_array().unwrap();
    let has = |f: &dyn Fn(&serde_json::Value) -> bool| stops.iter().any(f);
    for id in ["group", "period", "month", "play", "copy", "print"] {
        assert!(
            has(&|s| s["id"] == id),
            "Tab never reaches #{id}: {stops:?}"
        );
    }
    assert!(
        has(&|s| s["type"] == "checkbox"),
        "no layer switch by keyboard: {stops:?}"
    );
    assert!(
        has(&|s| s["label"].as_str().is_some_and(|l| l.contains("Zoom in"))),
        "{stops:?}"
    );
    assert!(
        has(&|s| s["label"]
            .as_str()
            .is_some_and(|l| l.starts_with("Grip place"))),
        "{stops:?}"
    );
    for s in stops {
        assert_eq!(s["visible"], true, "focus not shown on {s}");
        assert_eq!(s["in_view"], true, "Tab went to something off screen: {s}");
    }
    // The controls, then the Grip places: the first is reached in a few dozen presses.
    assert!(
        stops.len() < 40,
        "{} Tab presses to a Grip place: {stops:?}",
        stops.len()
    );
    assert!(
        kb["gripPopup"]
            .as_str()
            .unwrap_or("")
            .starts_with("Grip place"),
        "{kb}"
    );
    assert_eq!(
        kb["popupCovered"],
        serde_json::json!([]),
        "a panel covers the Grip place's popup"
    );

    let contrast = interact(&map, "contrast", 1).unwrap();
    assert_eq!(contrast["popup"], true);
    assert!(contrast["checked"].as_u64().unwrap() > 40, "{contrast}");
    assert_eq!(contrast["failures"], serde_json::json!([]), "{contrast}");

    let months = interact(
        &format!("{map}?layers=emerging,density,hotspots,districts"),
        "months",
        1,
    )
    .unwrap();
    let months = months.as_array().unwrap();
    assert_eq!(months[0]["name"], "Whole period");
    let n: usize = months[0]["max"].as_str().unwrap().parse().unwrap();
    assert_eq!(n, 12, "the default data's 12 months");
    assert_eq!(months.len(), n + 2);
    let mut fills = std::collections::BTreeSet::new();
    for m in &months[1..=n] {
        let period = m["period"].as_str().unwrap();
        assert!(period.len() == 21 && period.contains('/'), "{m}");
        assert!(m["heat"].as_str().unwrap().contains("datetime="), "{m}");
        assert!(
            m["legend"]
                .as_str()
                .unwrap()
                .contains(m["name"].as_str().unwrap()),
            "{m}"
        );
        fills.insert(m["fills"].to_string());
    }
    assert!(
        fills.len() >= 3,
        "the emerging cells look the same month after month: {fills:?}"
    );
    let last = &months[n + 1];
    assert_eq!(last["slider"], "0");
    assert_eq!(last["period"], "");
    assert_eq!(last["fills"], months[0]["fills"]);
}
