//! Vector tiles over real HTTP: Mapbox Vector Tile 2.1 decoded here from the protobuf,
//! checked against positions computed independently, and read by GDAL's MVT driver.

mod common;

use common::*;
use geozero::mvt::{Message, Tile};

/// Rings of one MVT feature geometry, decoded from its command integers (MVT 2.1 §4.3):
/// tile units, y down, closing point repeated.
fn decode_rings(geometry: &[u32]) -> Vec<Vec<(i64, i64)>> {
    let zigzag = |v: u32| -> i64 { ((v >> 1) as i64) ^ -((v & 1) as i64) };
    let (mut x, mut y) = (0i64, 0i64);
    let mut rings: Vec<Vec<(i64, i64)>> = Vec::new();
    let mut i = 0;
    while i < geometry.len() {
        let (id, count) = (geometry[i] & 7, geometry[i] >> 3);
        i += 1;
        match id {
            1 | 2 => {
                for _ in 0..count {
                    x += zigzag(geometry[i]);
                    y += zigzag(geometry[i + 1]);
                    i += 2;
                    if id == 1 {
                        rings.push(Vec::new());
                    }
                    rings.last_mut().unwrap().push((x, y));
                }
            }
            7 => {
                let r = rings.last_mut().unwrap();
                r.push(r[0]);
            }
            other => panic!("unknown command {other}"),
        }
    }
    rings
}

/// Vertices of every feature in a tile layer.
fn vertices(layer: &geozero::mvt::tile::Layer) -> usize {
    layer
        .features
        .iter()
        .map(|f| {
            decode_rings(&f.geometry)
                .iter()
                .map(Vec::len)
                .sum::<usize>()
        })
        .sum()
}

/// Surveyor's-formula area in tile units (positive = exterior in MVT 2.1).
fn area(r: &[(i64, i64)]) -> i64 {
    r.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum::<i64>()
}

/// Even-odd point in polygon over all rings of a feature.
fn inside(rings: &[Vec<(i64, i64)>], px: f64, py: f64) -> bool {
    let mut c = false;
    for r in rings {
        for w in r.windows(2) {
            let ((x1, y1), (x2, y2)) = (
                (w[0].0 as f64, w[0].1 as f64),
                (w[1].0 as f64, w[1].1 as f64),
            );
            if (y1 > py) != (y2 > py) && px < x1 + (py - y1) / (y2 - y1) * (x2 - x1) {
                c = !c;
            }
        }
    }
    c
}

#[test]
fn vector_tiles_and_tilejson_over_real_http() {
    let srv = start_server(&[]);
    let a = srv.addr.as_str();
    // Maidstone town centre, at zoom 10 and 14.
    let (lon, lat) = (0.5225, 51.2720);
    for z in [10u32, 14] {
        let (x, y) = tile_of(lon, lat, z);
        let path = format!("/tiles/districts/{z}/{x}/{y}.mvt");
        let (st, h, _) = http_get(a, &path);
        assert_eq!(st, 200, "{path}");
        assert_eq!(
            header(&h, "content-type"),
            Some("application/vnd.mapbox-vector-tile")
        );
        let tile = Tile::decode(last_body_bytes().as_slice()).expect("valid protobuf");
        assert_eq!(tile.layers.len(), 1);
        let layer = &tile.layers[0];
        assert_eq!(
            (layer.name.as_str(), layer.version, layer.extent),
            ("districts", 2, Some(4096))
        );
        // Where Maidstone should be in this tile, by the spherical Mercator formula.
        let (gx, gy) = world_px(lon, lat, z, 4096.0);
        let (px, py) = (gx - f64::from(x) * 4096.0, gy - f64::from(y) * 4096.0);
        let mut holder = Vec::new();
        for f in &layer.features {
            let rings = decode_rings(&f.geometry);
            assert!(!rings.is_empty());
            for r in &rings {
                assert!(r.len() >= 4 && r.first() == r.last(), "ring not closed");
                for &(rx, ry) in r {
                    assert!(
                        (-64..=4160).contains(&rx) && (-64..=4160).contains(&ry),
                        "({rx}, {ry}) outside the buffered tile"
                    );
                }
            }
            assert!(area(&rings[0]) > 0, "first ring must be an exterior");
            let tags: Vec<(&str, String)> = f
                .tags
                .chunks(2)
                .map(|kv| {
                    let v = &layer.values[kv[1] as usize];
                    (
                        layer.keys[kv[0] as usize].as_str(),
                        v.string_value.clone().unwrap_or_default(),
                    )
                })
                .collect();
            if inside(&rings, px, py) {
                holder.push(
                    tags.iter()
                        .find(|(k, _)| *k == "name")
                        .map(|(_, v)| v.clone())
                        .unwrap(),
                );
            }
        }
        assert_eq!(holder, vec!["Maidstone".to_string()], "zoom {z}");
    }
    // Simplification per zoom: the whole of Kent at zoom 7 has fewer vertices than zoom 10.
    let verts = |path: &str| -> usize {
        let (st, _, _) = http_get(a, path);
        assert_eq!(st, 200);
        vertices(&Tile::decode(last_body_bytes().as_slice()).unwrap().layers[0])
    };
    let (x7, y7) = tile_of(0.75, 51.2, 7);
    let coarse = verts(&format!("/tiles/districts/7/{x7}/{y7}.mvt"));
    let mut fine = 0;
    for dx in 0..8 {
        for dy in 0..8 {
            let (st, _, _) = http_get(
                a,
                &format!("/tiles/districts/10/{}/{}.mvt", x7 * 8 + dx, y7 * 8 + dy),
            );
            assert_eq!(st, 200);
            let t = Tile::decode(last_body_bytes().as_slice()).unwrap();
            fine += t.layers.first().map_or(0, vertices);
        }
    }
    assert!(
        coarse * 2 < fine,
        "zoom 7: {coarse} vertices, zoom 10: {fine}"
    );
    // Every collection has a layer; the planted Chatham hotspot is in the hotspots tile.
    let (x, y) = tile_of(0.5275, 51.3815, 12);
    for layer in &COLLECTIONS[1..] {
        let (st, _, _) = http_get(a, &format!("/tiles/{layer}/12/{x}/{y}.mvt"));
        assert_eq!(st, 200, "{layer}");
        let t = Tile::decode(last_body_bytes().as_slice()).unwrap();
        assert_eq!(t.layers.len(), 1, "{layer} has features over Chatham");
        // The tile carries the layer's own fields (the same names as items and files).
        let schema: serde_json::Value =
            serde_json::from_str(&http_get(a, &format!("/collections/{layer}/schema")).2).unwrap();
        for k in &t.layers[0].keys {
            assert!(
                schema["properties"].get(k).is_some(),
                "{layer}: tile key {k}"
            );
        }
    }
    // Empty tiles are valid, empty tiles; hex layers start at zoom 6.
    let (x, y) = tile_of(-3.5, 52.3, 10);
    let (st, _, _) = http_get(a, &format!("/tiles/hotspots/10/{x}/{y}.mvt"));
    assert_eq!(st, 200);
    assert!(Tile::decode(last_body_bytes().as_slice())
        .unwrap()
        .layers
        .is_empty());
    let (st, _, _) = http_get(a, "/tiles/h3-counts/4/8/5.mvt");
    assert_eq!(st, 200);
    assert!(
        last_body_bytes().is_empty()
            || Tile::decode(last_body_bytes().as_slice())
                .unwrap()
                .layers
                .is_empty()
    );
    // ETag and 304 for tiles.
    let (x, y) = tile_of(lon, lat, 10);
    let path = format!("/tiles/districts/10/{x}/{y}.mvt");
    let (_, h, _) = http_get(a, &path);
    let tag = header(&h, "etag").unwrap().to_string();
    let (st, _, _) = http_get_with(a, &path, &[("If-None-Match", &tag)]);
    assert_eq!(st, 304);
    // Bad addresses: 400 or 404 with problem+json.
    for (bad, want) in [
        ("/tiles/districts/19/0/0.mvt", 400),
        ("/tiles/districts/3/8/0.mvt", 400),
        ("/tiles/districts/3/0/x.mvt", 400),
        ("/tiles/districts/3/0/0.pbf", 400),
        ("/tiles/nope/3/0/0.mvt", 404),
        ("/tiles/nope.json", 404),
    ] {
        assert_problem(a, bad, want);
    }
    // TileJSON 3.0.0.
    let (st, _, body) = http_get(a, "/tiles/hotspots.json");
    assert_eq!(st, 200);
    let tj: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(
        tj["tiles"][0],
        format!("http://{a}/tiles/hotspots/{{z}}/{{x}}/{{y}}.mvt")
    );
    let b = tj["bounds"].as_array().unwrap();
    assert!(b[0].as_f64().unwrap() > 0.0 && b[2].as_f64().unwrap() < 1.6);
    assert_eq!(tj["vector_layers"][0]["id"], "hotspots");
    assert_eq!(tj["vector_layers"][0]["fields"]["rank"], "Number");
    // GDAL's MVT driver reads a tile over HTTP, georeferenced from its z/x/y path.
    if let Some(text) = ogrinfo(&["-ro", "-al", "-so", &format!("/vsicurl/http://{a}{path}")]) {
        assert!(text.contains("using driver `MVT'"), "{text}");
        assert!(text.contains("Layer name: districts"), "{text}");
        assert!(text.contains("Pseudo-Mercator"), "{text}");
        assert!(text.contains("name: String"), "{text}");
    }
}
