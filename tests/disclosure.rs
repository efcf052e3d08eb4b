//! Disclosure control over real HTTP: no public feature, vector tile feature or selection
//! carries a count in 1..k−1, the period-narrowing attack is refused below a month, and the
//! heatmap over a lone incident is transparent.

mod common;

use common::*;
use serde_json::Value;

const K: i64 = 5;

/// Integer count fields of the published schemas.
const COUNT_FIELDS: [&str; 6] = [
    "count",
    "incidents",
    "sel_count",
    "top1_count",
    "top2_count",
    "top3_count",
];

fn get_json(a: &str, path: &str) -> Value {
    let (st, _, body) = http_get(a, path);
    assert_eq!(st, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Every count in `props` is null, 0 or at least k and a multiple of 5.
fn check_counts(where_: &str, props: &serde_json::Map<String, Value>) {
    for f in COUNT_FIELDS {
        if let Some(n) = props.get(f).and_then(Value::as_i64) {
            assert!(
                n == 0 || (n >= K && n % 5 == 0),
                "{where_}: {f} = {n} in {props:?}"
            );
        }
    }
}

#[test]
fn public_layers_items_tiles_and_selections_carry_no_small_count() {
    let srv = start_server(&[]);
    let a = srv.addr.as_str();
    let cols = get_json(a, "/collections");
    let ids: Vec<String> = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"h3-counts".to_string()), "{ids:?}");
    let mut checked = 0;
    for id in &ids {
        let meta = get_json(a, &format!("/collections/{id}"));
        let fc = get_json(a, &format!("/collections/{id}/items?limit=10000"));
        for f in fc["features"].as_array().unwrap() {
            check_counts(id, f["properties"].as_object().unwrap());
            checked += 1;
        }
        // Selections: a month of one group on each selectable layer.
        if ["hotspots", "grip", "diversion", "h3-counts"].contains(&id.as_str()) {
            let fc = get_json(
                a,
                &format!(
                    "/collections/{id}/items?limit=10000&offence_group=sexual_violence&datetime=2025-06"
                ),
            );
            for f in fc["features"].as_array().unwrap() {
                let p = f["properties"].as_object().unwrap();
                assert!(p["sel_count"].as_i64().unwrap() >= K, "{id}: {p:?}");
                check_counts(id, p);
            }
            // Finer than a month: refused, whatever the interval.
            for d in [
                "2025-06-14",
                "2025-06-14T10:00:00Z/2025-06-14T11:00:00Z",
                "2025-06-01/2025-06-15",
            ] {
                assert_problem(
                    a,
                    &format!("/collections/{id}/items?offence_group=sexual_violence&datetime={d}"),
                    400,
                );
            }
        }
        let _ = meta;
    }
    assert!(checked > 1000, "{checked} features checked");
    // No harm column on public layers (with the harm table public, it names offences), and
    // Grip ranks run 1..n with no gap where a place was suppressed.
    for id in ["gistar", "h3-counts", "grip", "hotspots"] {
        let fc = get_json(a, &format!("/collections/{id}/items?limit=1"));
        assert!(
            fc["features"][0]["properties"].get("harm").is_none(),
            "{id}"
        );
    }
    let grip = get_json(a, "/collections/grip/items?limit=100");
    for (k, f) in grip["features"].as_array().unwrap().iter().enumerate() {
        assert_eq!(f["properties"]["rank"], k + 1);
        assert_eq!(f["id"], format!("grip-{:03}", k + 1));
    }
    // One offence group at a time.
    assert_problem(
        a,
        "/collections/h3-counts/items?offence_group=robbery,other&datetime=2025-06",
        400,
    );
    // The metadata says what was done.
    let h3 = get_json(a, "/collections/h3-counts/items?limit=1");
    let _ = h3;
    // Vector tiles over the county at zoom 10 carry the same controlled values.
    use geozero::mvt::{Message, Tile};
    let mut tile_features = 0;
    for x in 511..=514 {
        for y in 340..=343 {
            let (st, _, _) = http_get(a, &format!("/tiles/h3-counts/10/{x}/{y}.mvt"));
            assert_eq!(st, 200);
            let t = Tile::decode(last_body_bytes().as_slice()).unwrap();
            for l in &t.layers {
                for f in &l.features {
                    for kv in f.tags.chunks(2) {
                        let key = &l.keys[kv[0] as usize];
                        let v = &l.values[kv[1] as usize];
                        if COUNT_FIELDS.contains(&key.as_str()) {
                            let n = v
                                .int_value
                                .or(v.sint_value)
                                .or(v.uint_value.map(|u| u as i64));
                            if let Some(n) = n {
                                assert!(
                                    n == 0 || (n >= K && n % 5 == 0),
                                    "tile {x}/{y}: {key} = {n}"
                                );
                            }
                        }
                    }
                    tile_features += 1;
                }
            }
        }
    }
    assert!(tile_features > 100, "{tile_features} tile features");
}

/// One rape among six incidents (case f16): it is in no public layer, a selection of it is
/// empty, minute-level periods are refused, and the heatmap of its month is transparent.
#[test]
fn a_lone_incident_cannot_be_singled_out() {
    let dir = tmp();
    let csv = write(
        dir.path(),
        "six.csv",
        "id,offence,occurred_from,occurred_to,longitude,latitude,victim_age,suspect_age,location_type\n\
         X01,Rape,2025-11-30T16:35,,0.058038,51.263199,29,,dwelling\n\
         X02,Common assault,2025-11-29T23:10,,0.5221,51.2734,24,26,street\n\
         X03,Common assault,2025-11-29T23:40,,0.5224,51.2736,31,22,street\n\
         X04,Assault with injury,2025-11-28T01:15,,0.5227,51.2731,19,20,night-time economy venue\n\
         X05,Robbery,2025-11-27T18:20,,1.0789,51.2802,17,18,street\n\
         X06,Common assault,2025-11-26T22:05,,1.0792,51.2805,40,35,street\n",
    );
    let srv = start_server(&["--incidents", csv.to_str().unwrap()]);
    let a = srv.addr.as_str();
    let fc = get_json(a, "/collections/h3-counts/items?limit=100");
    assert_eq!(fc["features"].as_array().unwrap().len(), 0, "{fc}");
    let fc = get_json(
        a,
        "/collections/h3-counts/items?offence_group=sexual_violence&datetime=2025-11",
    );
    assert_eq!(fc["features"].as_array().unwrap().len(), 0, "{fc}");
    assert_problem(
        a,
        "/collections/h3-counts/items?offence_group=sexual_violence&datetime=2025-11-30T16:35:00Z",
        400,
    );
    // The metadata names the rule.
    let c = get_json(a, "/collections/h3-counts");

    assert_eq!(c["disclosure"]["min_count"], 5, "{c}");
    assert_eq!(c["disclosure"]["tier"], "public", "{c}");
    // Heatmap tiles around the incident, all incidents and its month's selection: nothing
    // drawn (every pixel transparent).
    let (tx, ty) = tile_of(0.058038, 51.263199, 14);
    for q in ["", "?offence_group=sexual_violence&datetime=2025-11"] {
        for dx in 0..=1 {
            for dy in 0..=1 {
                let (st, _, _) = http_get(
                    a,
                    &format!("/tiles/density/14/{}/{}.png{q}", tx + dx, ty + dy),
                );
                assert_eq!(st, 200);
                let png = last_body_bytes();
                let dec = png::Decoder::new(std::io::Cursor::new(png));
                let mut r = dec.read_info().unwrap();
                let mut buf = vec![0; r.output_buffer_size()];
                let info = r.next_frame(&mut buf).unwrap();
                let alpha_max = buf[..info.buffer_size()]
                    .chunks(4)
                    .map(|p| p[3])
                    .max()
                    .unwrap();
                assert_eq!(alpha_max, 0, "tile {q}: some pixel is drawn");
            }
        }
    }
}

/// Runs `hotspots refresh --config cfg` on the default data into `dir/pub`, returned.
fn refresh_with(cfg: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("pub");
    run_ok(&[
        "refresh",
        "--config",
        cfg.to_str().unwrap(),
        "--rejects",
        "/dev/null",
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

/// A layer configured `restricted` is published uncontrolled in the snapshot's files (the
/// full patrol plan and the exact columns) and not served without a token; a public one is
/// controlled.
#[test]
fn tiers_decide_control_and_what_is_served() {
    let dir = tmp();
    let cfg = write(
        dir.path(),
        "tiers.toml",
        "[layers]\ngrip = \"restricted\"\n\n[disclosure]\nmin_count = 5\nround_to = 5\n",
    );
    let out = refresh_with(&cfg, dir.path());
    let layers = out.join("current/layers");
    let grip = read_json(&layers.join("grip.geojson"));
    let p = &grip["features"][0]["properties"];
    let detail: Value = serde_json::from_str(p["detail"].as_str().unwrap()).unwrap();
    let windows = detail["patrol"]["windows"].as_array().unwrap();
    assert!(!windows.is_empty());
    assert!(windows
        .iter()
        .all(|w| w["start"].is_string() && !w["visits"].as_array().unwrap().is_empty()));
    assert!(p["p_uniform"].is_number(), "{p}");
    assert_eq!(
        grip["metadata"]["disclosure"]["tier"], "restricted",
        "{}",
        grip["metadata"]
    );
    assert_eq!(grip["metadata"]["disclosure"]["controlled"], false);
    // The peak-hours report: controlled (public by default), no district under k.
    let peaks = read_json(&out.join("current/peaks.json"));
    assert_eq!(
        peaks["disclosure"]["controlled"], true,
        "{}",
        peaks["disclosure"]
    );
    assert!(peaks["groups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["incidents"].as_u64().unwrap() >= 5));
    // A public layer of the same run is controlled, and says so.
    let hot = read_json(&layers.join("hotspots.geojson"));
    assert_eq!(hot["metadata"]["disclosure"]["controlled"], true);
    assert!(hot["features"][0]["properties"].get("p_uniform").is_none());
    // Anonymous callers see the public layers only.
    let srv = start_server(&["--layers", out.to_str().unwrap()]);
    let cols = get_json(&srv.addr, "/collections");
    let ids: Vec<&str> = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&"grip") && ids.contains(&"hotspots"),
        "{ids:?}"
    );
    assert_problem(&srv.addr, "/collections/grip/items", 401);
    // The public peak-hours report keeps windows and loses exact figures.
    assert!(peaks["hour_of_day"].get("tests").is_none());
    let w = &peaks["hour_of_day"]["windows"][0];
    assert!(
        w["start"].is_string() && w.get("p").is_none() && w.get("q").is_none(),
        "{w}"
    );
    assert_eq!(peaks["incidents"].as_u64().unwrap() % 5, 0);
    for g in peaks["groups"].as_array().unwrap() {
        for b in g["hour_of_week"]["profile"].as_array().unwrap() {
            assert!(b.is_null() || b.as_u64().is_some_and(|n| n % 5 == 0), "{b}");
        }
    }
    // The public density surface keeps two significant figures where it is not transparent.
    let (_, values) =
        hotspots::density::raster::read_geotiff(&out.join("current/density.tif")).unwrap();
    let shown: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    assert!(shown.len() > 1000);
    assert!(shown
        .iter()
        .all(|&v| hotspots::disclosure::significant(v, 2) == v));
    // Public temporal extents are whole months.
    let c = get_json(&srv.addr, "/collections/hotspots");
    let iv = &c["extent"]["temporal"]["interval"][0];
    assert_eq!(iv[0], "2025-01-01T00:00:00Z", "{iv}");
    assert_eq!(iv[1], "2026-01-01T00:00:00Z", "{iv}");
    // Shares follow the rounded counts: count ÷ share gives the rounded total back, never
    // the exact one.
    let hot = get_json(&srv.addr, "/collections/hotspots/items?limit=1000");
    let mut checked = 0;
    for f in hot["features"].as_array().unwrap() {
        let p = &f["properties"];
        let total = p["incidents"].as_f64().unwrap();
        for k in 1..=3 {
            let (c, s) = (&p[format!("top{k}_count")], &p[format!("top{k}_share")]);
            if let (Some(c), Some(s)) = (c.as_f64(), s.as_f64()) {
                if s > 0.0 {
                    assert!((c / s - total).abs() < 1e-6, "{p}");
                    checked += 1;
                }
            }
        }
        // After a suppressed group, nothing.
        if p["top1_count"].is_null() {
            assert!(
                p["top2_count"].is_null() && p["top3_count"].is_null(),
                "{p}"
            );
        }
        if p["top2_count"].is_null() {
            assert!(p["top3_count"].is_null(), "{p}");
        }
    }
    assert!(checked > 10);
    drop(srv);
    // A serving config stricter than the snapshot: hotspots closed to anonymous callers.
    let strict = write(
        dir.path(),
        "strict.toml",
        "[layers]
hotspots = \"partner\"\n",
    );
    let srv = start_server(&[
        "--config",
        strict.to_str().unwrap(),
        "--layers",
        out.to_str().unwrap(),
    ]);
    assert_problem(&srv.addr, "/collections/hotspots/items", 401);
    drop(srv);
    // A hash of another algorithm is refused when the config is read.
    let other = write(
        dir.path(),
        "argon2xx.toml",
        "[[orgs]]\nname = \"X\"\ntoken_hash = \"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\"\nlayers = []\n",
    );
    let err = run_err(&[
        "refresh",
        "--config",
        other.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("argon2id"), "{err}");
    // An unknown layer in [layers] is refused with its name.
    let bad = write(dir.path(), "bad.toml", "[layers]\ngripp = \"partner\"\n");
    let err = run_err(&[
        "refresh",
        "--config",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("gripp"), "{err}");
    // A token hash that is not an Argon2 PHC string: refused by refresh too, naming the file.
    let bad = write(
        dir.path(),
        "badhash.toml",
        "[[orgs]]\nname = \"X\"\ntoken_hash = \"plain\"\nlayers = []\n",
    );
    let err = run_err(&[
        "refresh",
        "--config",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("badhash.toml") && err.contains("token_hash"),
        "{err}"
    );
}

/// What `hotspots token new` prints: (the token, from standard error; the [[orgs]] stanza,
/// all of standard output, which parses as TOML on its own).
fn new_token(org: &str, layers: &str) -> (String, String) {
    let out = run_ok(&["token", "new", "--org", org, "--layers", layers]);
    let err = String::from_utf8(out.stderr).unwrap();
    let token = err
        .split_whitespace()
        .find(|w| w.starts_with("hs_"))
        .unwrap()
        .to_string();
    let stanza = String::from_utf8(out.stdout).unwrap();
    let parsed: toml::Table = toml::from_str(&stanza).unwrap();
    assert_eq!(parsed["orgs"][0]["name"].as_str(), Some(org));
    assert!(
        !stanza.contains(&token),
        "the config must hold the hash only"
    );
    (token, stanza)
}

/// Partner and restricted layers over real HTTP: 401 without a token or with a bad one,
/// 403 with another organisation's, served with the right one (and listed for it only);
/// restricted reads are audited; answers are never shared between callers.
#[test]
fn tokens_decide_who_reads_partner_and_restricted_layers() {
    let dir = tmp();
    let (police, police_org) = new_token("Kent Police", "grip,diversion");
    let (csp, csp_org) = new_token("Thanet CSP", "diversion");
    let audit = dir.path().join("audit.jsonl");
    let cfg = write(
        dir.path(),
        "hotspots.toml",
        &format!(
            "audit_log = \"audit.jsonl\"\n\n[layers]\ngrip = \"restricted\"\ndiversion = \"partner\"\n\n{police_org}\n{csp_org}\n"
        ),
    );
    let out = refresh_with(&cfg, dir.path());
    let srv = start_server(&[
        "--config",
        cfg.to_str().unwrap(),
        "--layers",
        out.to_str().unwrap(),
    ]);
    let a = srv.addr.as_str();
    let bearer = |t: &str| format!("Bearer {t}");
    let ids = |auth: Option<&str>| -> Vec<String> {
        let h: Vec<(&str, &str)> = auth.map(|v| ("Authorization", v)).into_iter().collect();
        let (st, _, body) = http_get_with(a, "/collections", &h);
        assert_eq!(st, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let police_h = bearer(&police);
    let csp_h = bearer(&csp);
    // Each caller's listing (asked in turns, so a cached answer would show).
    for _ in 0..2 {
        let anon = ids(None);
        assert!(
            !anon.contains(&"grip".into()) && !anon.contains(&"diversion".into()),
            "{anon:?}"
        );
        assert!(anon.contains(&"hotspots".into()));
        let p = ids(Some(&police_h));
        assert!(
            p.contains(&"grip".into()) && p.contains(&"diversion".into()),
            "{p:?}"
        );
        let c = ids(Some(&csp_h));
        assert!(
            !c.contains(&"grip".into()) && c.contains(&"diversion".into()),
            "{c:?}"
        );
    }
    // Anonymous: 401 with a Bearer challenge, on items, tiles and TileJSON.
    for path in [
        "/collections/grip/items",
        "/collections/diversion",
        "/tiles/grip/10/512/340.mvt",
        "/tiles/diversion.json",
    ] {
        let (st, h, body) = http_get(a, path);
        assert_eq!(st, 401, "{path}: {body}");
        assert!(
            header(&h, "www-authenticate")
                .unwrap()
                .starts_with("Bearer"),
            "{path}"
        );
        assert!(header(&h, "content-type").unwrap().contains("problem+json"));
    }
    // A token that is no one's: 401 invalid_token.
    let (st, h, _) = http_get_with(
        a,
        "/collections/hotspots/items",
        &[("Authorization", "Bearer hs_0000")],
    );
    assert_eq!(st, 401);
    assert!(header(&h, "www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    // Another organisation's token: 403.
    let (st, h, body) = http_get_with(a, "/collections/grip/items", &[("Authorization", &csp_h)]);
    assert_eq!(st, 403, "{body}");
    assert!(header(&h, "vary").unwrap_or("").contains("Authorization"));
    // The right one: served, privately.
    let (st, h, body) = http_get_with(
        a,
        "/collections/grip/items?limit=3",
        &[("Authorization", &police_h)],
    );
    assert_eq!(st, 200, "{body}");
    assert!(header(&h, "cache-control").unwrap().starts_with("private"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(!v["features"].as_array().unwrap().is_empty());
    // Restricted: uncontrolled (the exact columns are there).
    assert!(v["features"][0]["properties"].get("p_uniform").is_some());
    let (st, _, _) = http_get_with(
        a,
        "/collections/diversion/items",
        &[("Authorization", &csp_h)],
    );
    assert_eq!(st, 200);
    // The scheme is case-insensitive; another scheme is not ours and is ignored.
    let upper = format!("BEARER {police}");
    let (st, _, _) = http_get_with(
        a,
        "/collections/grip/items?limit=1",
        &[("Authorization", &upper)],
    );
    assert_eq!(st, 200);
    let (st, _, _) = http_get_with(
        a,
        "/collections/hotspots/items?limit=1",
        &[("Authorization", "Basic dTpw")],
    );
    assert_eq!(st, 200);
    // A repeated parameter is refused, not half-read.
    assert_problem(
        a,
        "/collections/hotspots/items?offence_group=robbery&offence_group=other",
        400,
    );
    // Non-public layers' files are not world-readable.
    use std::os::unix::fs::PermissionsExt;
    let mode = |f: &str| {
        std::fs::metadata(out.join("current/layers").join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("grip.geojson"), 0o640);
    assert_eq!(mode("grip.gpkg"), 0o640);
    assert_eq!(mode("hotspots.geojson"), 0o644);
    // The restricted read, and only it, is in the audit log.
    let log = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The refused attempt, then two restricted reads (the second asked in upper case), each
    // with its path and query.
    assert_eq!(lines.len(), 3, "{log}");
    assert_eq!(lines[0]["org"], "Thanet CSP");
    assert_eq!(lines[0]["granted"], false);
    assert_eq!(lines[0]["status"], 403);
    assert_eq!(lines[1]["org"], "Kent Police");
    assert_eq!(lines[1]["layer"], "grip");
    assert_eq!(lines[1]["query"], "/collections/grip/items?limit=3");
    assert_eq!(lines[1]["granted"], true);
    assert_eq!(lines[1]["status"], 200);
    assert_eq!(lines[2]["query"], "/collections/grip/items?limit=1");
    assert!(lines[0]["time"].is_string());
    // The map page's selection is checked too.
    assert_problem(a, "/map?datetime=garbage", 400);
    assert_problem(a, "/map?offence_group=robbery,other", 400);
    // The anonymous OpenAPI document does not name the non-public layers.
    let (_, _, api) = http_get(a, "/api");
    assert!(!api.contains("\"grip\"") && api.contains("\"hotspots\""));
}

/// Offences of every group, for the property test's random incidents.
const OFFENCES: [&str; 6] = [
    "Rape",
    "Robbery",
    "Assault with injury",
    "Common assault",
    "Possession of weapons",
    "Public order offence",
];

/// One random small data set as CSV: `n` incidents around a few centres in Maidstone,
/// Canterbury and Ashford (spreads of tens to hundreds of metres), random offences and
/// times over months.
fn random_csv(seed: u64, n: usize, centres: usize) -> String {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let towns = [
        (576_000.0, 155_800.0),
        (615_000.0, 157_800.0),
        (601_200.0, 142_600.0),
    ];
    let centres: Vec<(f64, f64, f64)> = (0..centres)
        .map(|_| {
            let (x, y) = towns[rng.random_range(0..towns.len())];
            (
                x + rng.random_range(-800.0..800.0),
                y + rng.random_range(-800.0..800.0),
                rng.random_range(20.0..400.0),
            )
        })
        .collect();
    let mut out = String::from(
        "id,offence,occurred_from,occurred_to,easting,northing,victim_age,suspect_age,location_type\n",
    );
    for i in 0..n {
        let (cx, cy, spread) = centres[rng.random_range(0..centres.len())];
        let (x, y) = (
            cx + rng.random_range(-spread..spread),
            cy + rng.random_range(-spread..spread),
        );
        let month = rng.random_range(1..=6);
        let (day, hour, minute) = (
            rng.random_range(1..=28),
            rng.random_range(0..24),
            rng.random_range(0..60),
        );
        let offence = OFFENCES[rng.random_range(0..OFFENCES.len())];
        out.push_str(&format!(
            "P{i},{offence},2025-{month:02}-{day:02}T{hour:02}:{minute:02},,{x:.1},{y:.1},,,street\n"
        ));
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 6, ..Default::default() })]

    /// Random small data sets and random whole-month selections: no public output (any
    /// layer's items and counts, a selection's `sel_count`) lets a count in 1..k−1 be
    /// read, and a finer period is refused.
    #[test]
    fn no_public_output_recovers_a_count_below_k(
        seed in 0u64..1_000_000,
        n in 20usize..160,
        centres in 1usize..5,
        first in 1u32..=6,
        len in 0u32..3,
        group in 0usize..6,
    ) {
        let dir = tmp();
        let csv = write(dir.path(), "random.csv", &random_csv(seed, n, centres));
        let out = dir.path().join("pub");
        let rejects = dir.path().join("rejects.csv");
        run_ok(&["refresh", "--incidents", csv.to_str().unwrap(), "--rejects", rejects.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        // Every row is accepted (inland, well-formed), so the data set is what was drawn.
        let rejected = std::fs::read_to_string(&rejects).unwrap_or_default();
        proptest::prop_assert!(rejected.lines().count() <= 1, "{rejected}");
        let srv = start_server(&["--layers", out.to_str().unwrap()]);
        let a = srv.addr.as_str();
        let groups = ["sexual_violence", "robbery", "violence_with_injury", "knives_weapons", "drug_supply_violence", "other"];
        let last = (first + len).min(12);
        let sel = format!("offence_group={}&datetime=2025-{first:02}/2025-{last:02}", groups[group]);
        let cols = get_json(a, "/collections");
        for c in cols["collections"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            let fc = get_json(a, &format!("/collections/{id}/items?limit=10000"));
            for f in fc["features"].as_array().unwrap() {
                check_counts(id, f["properties"].as_object().unwrap());
            }
            if ["hotspots", "grip", "diversion", "h3-counts"].contains(&id) {
                let fc = get_json(a, &format!("/collections/{id}/items?limit=10000&{sel}"));
                for f in fc["features"].as_array().unwrap() {
                    let p = f["properties"].as_object().unwrap();
                    proptest::prop_assert!(p["sel_count"].as_i64().unwrap() >= K, "{id} {sel}: {p:?}");
                    check_counts(id, p);
                }
                let (st, _, _) = http_get(a, &format!("/collections/{id}/items?offence_group={}&datetime=2025-{first:02}-02/2025-{last:02}", groups[group]));
                proptest::prop_assert_eq!(st, 400);
            }
        }
        // Differencing: every run of months on h3-counts is answered from one fixed table of
        // perturbed month counts, worked out here independently (h3o cells, SHA-256 record
        // keys, London months), so overlapping periods give back no more than a month's
        // perturbed count.
        let store = store_of("random", csv_bytes(&csv).as_slice());
        for g in [Some(groups[group]), None] {
        let expect = IntervalOracle::new(&store, a, g);
        let g = g.map(|g| format!("&offence_group={g}")).unwrap_or_default();
        for from in 1..=6u32 {
            for to in from..=6u32 {
                let path = format!("/collections/h3-counts/items?limit=10000{g}&datetime=2025-{from:02}/2025-{to:02}");
                let fc = get_json(a, &path);
                let got: std::collections::BTreeMap<String, u64> = fc["features"].as_array().unwrap().iter()
                    .map(|f| (f["properties"]["cell"].as_str().unwrap().to_string(), f["properties"]["sel_count"].as_u64().unwrap()))
                    .collect();
                proptest::prop_assert_eq!(got, expect.answer(from, to), "{}", path);
            }
        }
        }
    }
}

fn csv_bytes(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// What a month-interval selection on the public h3-counts layer must answer, from the
/// incidents themselves: per served cell, the month counts of one offence group (or all) and their
/// cell keys, and every incident of the cell.
struct IntervalOracle {
    /// Cell → month → (count, cell key).
    months: std::collections::BTreeMap<String, std::collections::BTreeMap<u32, (u64, u32)>>,
    /// Cell → all its incidents.
    totals: std::collections::BTreeMap<String, u64>,
}

impl IntervalOracle {
    fn new(
        store: &hotspots::incidents::IncidentStore,
        a: &str,
        group: Option<&str>,
    ) -> IntervalOracle {
        let group: Option<hotspots::incidents::OffenceGroup> = group.map(|g| g.parse().unwrap());
        let served: std::collections::HashSet<String> =
            get_json(a, "/collections/h3-counts/items?limit=10000")["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["properties"]["cell"].as_str().unwrap().to_string())
                .collect();
        let to_wgs84 = hotspots::crs::Transformer::bng_to_wgs84().unwrap();
        let london = jiff::tz::TimeZone::get("Europe/London").unwrap();
        let mut o = IntervalOracle {
            months: Default::default(),
            totals: Default::default(),
        };
        for i in 0..store.len() {
            let (lon, lat) = to_wgs84.convert(store.x_m[i], store.y_m[i]).unwrap();
            let cell = h3o::LatLng::new(lat, lon)
                .unwrap()
                .to_cell(h3o::Resolution::Nine)
                .to_string();
            if !served.contains(&cell) {
                continue;
            }
            *o.totals.entry(cell.clone()).or_default() += 1;
            if group.is_some_and(|g| store.group[i] != g) {
                continue;
            }
            let month = jiff::Timestamp::from_second(i64::from(store.from_min[i]) * 60)
                .unwrap()
                .to_zoned(london.clone())
                .month() as u32;
            let e = o.months.entry(cell).or_default().entry(month).or_default();
            e.0 += 1;
            e.1 = e.1.wrapping_add(record_key(store.ids.get_bytes(i)));
        }
        o
    }

    /// Cell → published selection count for months `from..=to`.
    fn answer(&self, from: u32, to: u32) -> std::collections::BTreeMap<String, u64> {
        let round5 = |n: u64| ((n + 2) / 5 * 5).max(5);
        self.months
            .iter()
            .filter_map(|(cell, months)| {
                let inside = months.range(from..=to);
                let n: u64 = inside.clone().map(|(_, v)| v.0).sum();
                let r: u64 = inside
                    .map(|(_, &(m, ck))| hotspots::disclosure::perturb(m, ck))
                    .sum();
                let total = self.totals[cell];
                let rest = total - n;
                (n >= 5 && (rest == 0 || rest >= 5) && r >= 5)
                    .then(|| (cell.clone(), round5(r).min(round5(total))))
            })
            .collect()
    }
}
