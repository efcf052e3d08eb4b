//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `hotspots` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotspots"))
}

/// Runs the binary with args; panics with its stderr when it fails.
pub fn run_ok(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("binary runs");
    assert!(
        out.status.success(),
        "hotspots {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the binary expecting failure; returns stderr.
pub fn run_err(args: &[&str]) -> String {
    let out = bin().args(args).output().expect("binary runs");
    assert!(
        !out.status.success(),
        "hotspots {args:?} should have failed"
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file in ../shared/data, or None with a visible skip message.
pub fn shared(rel: &str, test: &str) -> Option<PathBuf> {
    let p = root().join("../shared/data").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "SKIP {test}: {} not found (../shared/data is absent)",
            p.display()
        );
        None
    }
}

/// A fresh temporary directory.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Writes text to a file in `dir`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// Writes a generated fixture with the given options; returns its path.
pub fn fixture(dir: &Path, name: &str, opts: hotspots::fixtures::FixtureOptions) -> PathBuf {
    use hotspots::boundaries::{BoundaryPack, DistrictIndex};
    let pack = BoundaryPack::kent_medway().unwrap();
    let index = DistrictIndex::new(&pack);
    let rows = hotspots::fixtures::generate(&pack, &index, &opts).unwrap();
    let p = dir.join(name);
    hotspots::fixtures::write_csv(&rows, opts.bng, &p).unwrap();
    p
}

/// Reads a JSON file.
pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json")
}

/// Even-odd ray casting over every ring of a GeoJSON Polygon or MultiPolygon: an
/// independent point-in-polygon for checking the library's counts.
pub fn geojson_contains(geom: &serde_json::Value, x: f64, y: f64) -> bool {
    let mut inside = false;
    for pts in rings(geom) {
        for w in pts.windows(2) {
            let ((x1, y1), (x2, y2)) = (w[0], w[1]);
            if (y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) {
                inside = !inside;
            }
        }
    }
    inside
}

/// Distance from (x, y) to the nearest edge of a GeoJSON Polygon or MultiPolygon.
pub fn geojson_edge_distance(geom: &serde_json::Value, x: f64, y: f64) -> f64 {
    let mut best = f64::INFINITY;
    for pts in rings(geom) {
        for w in pts.windows(2) {
            let ((x1, y1), (x2, y2)) = (w[0], w[1]);
            let (dx, dy) = (x2 - x1, y2 - y1);
            let t = (((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
            best = best.min((x - x1 - t * dx).hypot(y - y1 - t * dy));
        }
    }
    best
}

/// Every ring of a GeoJSON Polygon or MultiPolygon, as points.
pub fn rings(geom: &serde_json::Value) -> Vec<Vec<(f64, f64)>> {
    let polys: Vec<&serde_json::Value> = match geom["type"].as_str().unwrap() {
        "Polygon" => vec![&geom["coordinates"]],
        _ => geom["coordinates"].as_array().unwrap().iter().collect(),
    };
    polys
        .iter()
        .flat_map(|p| p.as_array().unwrap().iter())
        .map(|ring| {
            ring.as_array()
                .unwrap()
                .iter()
                .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
                .collect()
        })
        .collect()
}

/// A running `hotspots serve`, killed on drop.
pub struct Server {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server on a free loopback port and waits until it listens.
pub fn start_server(extra: &[&str]) -> Server {
    use std::io::BufRead;
    let mut child = bin()
        .args(["serve", "--bind", "127.0.0.1:0", "--rejects", "/dev/null"])
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("server starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server printed its address")
            .expect("stderr readable");
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

/// A real HTTP/1.1 GET over TCP: (status, headers lower-cased, body).
pub fn http_get(addr: &str, path: &str) -> (u16, Vec<(String, String)>, String) {
    http_get_with(addr, path, &[])
}

/// [`http_get`] with extra request headers.
pub fn http_get_with(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        extra = format!("Host: {addr}\r\n{extra}");
    }
    write!(s, "GET {path} HTTP/1.1\r\n{extra}Connection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    LAST_RAW.with(|r| *r.borrow_mut() = raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// A header's value.
pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

thread_local! {
    static LAST_RAW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The body bytes of this thread's last [`http_get`] / [`http_get_with`] (binary-safe).
pub fn last_body_bytes() -> Vec<u8> {
    LAST_RAW.with(|r| {
        let raw = r.borrow();
        let start = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(raw.len(), |p| p + 4);
        raw[start..].to_vec()
    })
}

/// An incident's record key for cell-key perturbation, computed here from its definition
/// (the first 32 bits, big-endian, of SHA-256 of "hotspots cell key\0" and the id).
pub fn record_key(id: &[u8]) -> u32 {
    use sha2::Digest;
    let d = sha2::Sha256::new()
        .chain_update(b"hotspots cell key\0")
        .chain_update(id)
        .finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The embedded default fixture, ingested with the default pack and tables.
pub fn default_store() -> hotspots::incidents::IncidentStore {
    store_of("default", hotspots::fixtures::DEFAULT_FIXTURE)
}

/// The incidents of CSV `bytes` as the library ingests them (named `name` in messages).
#[allow(dead_code)]
pub fn store_of(name: &str, bytes: &[u8]) -> hotspots::incidents::IncidentStore {
    let pack = hotspots::boundaries::BoundaryPack::kent_medway().unwrap();
    let index = hotspots::boundaries::DistrictIndex::new(&pack);
    let mut ing =
        hotspots::incidents::Ingester::new(&index, hotspots::incidents::IngestOptions::default())
            .unwrap();
    ing.ingest_bytes(name, bytes).unwrap();
    ing.finish().unwrap().0
}

/// The XYZ tile holding WGS84 `lon`, `lat` at zoom `z` (spherical Mercator, written out
/// here independently of the server's PROJ route).
pub fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let (px, py) = world_px(lon, lat, z, 1.0);
    (px.floor() as u32, py.floor() as u32)
}

/// Global position of `lon`, `lat` at zoom `z` in units of `tile_size` per tile (x east,
/// y south).
pub fn world_px(lon: f64, lat: f64, z: u32, tile_size: f64) -> (f64, f64) {
    let n = 2f64.powi(z as i32) * tile_size;
    let r = lat.to_radians();
    (
        (lon + 180.0) / 360.0 * n,
        (1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n,
    )
}

/// GETs `path` and checks the answer is an `application/problem+json` with `status`
/// in the line and in the body.
pub fn assert_problem(addr: &str, path: &str, status: u16) {
    let (st, h, body) = http_get(addr, path);
    assert_eq!(st, status, "{path}: {body}");
    assert_eq!(
        header(&h, "content-type"),
        Some("application/problem+json"),
        "{path}"
    );
    let p: serde_json::Value = serde_json::from_str(&body).expect("problem JSON");
    assert_eq!(p["status"], status, "{path}: {body}");
}

/// Runs GDAL's `ogrinfo` with `args` and returns what it printed, after checking it
/// succeeded; `None` (and a visible SKIP) when gdal-bin is not installed.
pub fn ogrinfo(args: &[&str]) -> Option<String> {
    match std::process::Command::new("ogrinfo").args(args).output() {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            assert!(
                o.status.success(),
                "ogrinfo {args:?}: {text}{}",
                String::from_utf8_lossy(&o.stderr)
            );
            Some(text)
        }
        Err(_) => {
            eprintln!("SKIP ogrinfo {args:?}: gdal-bin is not installed");
            None
        }
    }
}

/// The collections `hotspots serve` publishes, in listing order (districts first).
pub const COLLECTIONS: [&str; 7] = [
    "districts",
    "hotspots",
    "grip",
    "diversion",
    "gistar",
    "h3-counts",
    "emerging",
];
