//! The map page for CSP coordinators (`/map`) and the front-end library it loads.
//!
//! The page is part of the binary; Leaflet comes from the npm registry (`npm ci --prefix
//! web`, run by `.ci/install`) and is served from the server's own origin, so the map
//! works with no internet access and no CDN.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use axum::body::Bytes;

/// The page itself.
pub const MAP_HTML: &str = include_str!("map.html");

/// The offline base's place names: Kent and Medway's towns, suburbs and villages from
/// GeoNames (CC BY 4.0; `data/places/SOURCE.md`), biggest first.
pub const PLACES_CSV: &str = include_str!("../../data/places/kent_medway_places.csv");

/// Attribution the place names need wherever they are shown.
pub const PLACES_ATTRIBUTION: &str = "Place names © GeoNames (CC BY 4.0), incl. Royal Mail data © Royal Mail copyright and database right";

/// One place of the gazetteer.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Place {
    /// Name as GeoNames spells it.
    pub name: String,
    /// city, town, suburb or village.
    pub kind: String,
    /// WGS84 longitude, degrees.
    pub lon: f64,
    /// WGS84 latitude, degrees.
    pub lat: f64,
    /// Population (0 when not known).
    pub population: u64,
    /// District holding it.
    pub district: String,
    /// GeoNames id or postal entry.
    pub source_id: String,
}

/// The gazetteer's places, in file order (biggest kinds and populations first).
///
/// # Panics
/// Never on the committed file (a unit test reads it); a bad row would panic at start-up.
pub fn places() -> &'static [Place] {
    static PLACES: std::sync::OnceLock<Vec<Place>> = std::sync::OnceLock::new();
    PLACES.get_or_init(|| {
        csv::Reader::from_reader(PLACES_CSV.as_bytes())
            .deserialize()
            .collect::<Result<Vec<Place>, _>>()
            .expect("data/places/kent_medway_places.csv parses")
    })
}

/// The places as a GeoJSON FeatureCollection (RFC 7946, WGS84), with each place's `rank`
/// (0 first: the order labels are placed in) and the attribution; made once.
pub fn places_geojson() -> Bytes {
    static JSON: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let features: Vec<serde_json::Value> = places()
            .iter()
            .enumerate()
            .map(|(rank, p)| {
                serde_json::json!({
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                    "properties": {"name": p.name, "kind": p.kind, "population": p.population,
                        "district": p.district, "rank": rank},
                })
            })
            .collect();
        Bytes::from(
            serde_json::to_vec(&serde_json::json!({
                "type": "FeatureCollection",
                "attribution": PLACES_ATTRIBUTION,
                "features": features,
            }))
            .unwrap_or_default(),
        )
    })
    .clone()
}

/// Leaflet's `dist` folder as installed by the README set-up.
pub fn default_assets_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/web/node_modules/leaflet/dist"
    ))
}

/// The library files, read once at start.
#[derive(Debug, Default)]
pub struct MapAssets {
    /// Where they were looked for.
    pub dir: PathBuf,
    files: HashMap<String, (Bytes, &'static str)>,
}

impl MapAssets {
    /// Reads `leaflet.js`, `leaflet.css` and `images/*.png` from `dir`; what is missing is
    /// simply absent (see [`MapAssets::installed`]).
    pub fn load(dir: &Path) -> Self {
        let mut files = HashMap::new();
        let mut add = |name: String, path: PathBuf, media: &'static str| {
            if let Ok(b) = std::fs::read(&path) {
                files.insert(name, (Bytes::from(b), media));
            }
        };
        add(
            "leaflet.js".into(),
            dir.join("leaflet.js"),
            "text/javascript; charset=utf-8",
        );
        add(
            "leaflet.css".into(),
            dir.join("leaflet.css"),
            "text/css; charset=utf-8",
        );
        if let Ok(rd) = std::fs::read_dir(dir.join("images")) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.ends_with(".png") {
                    add(format!("images/{name}"), e.path(), "image/png");
                }
            }
        }
        MapAssets {
            dir: dir.to_path_buf(),
            files,
        }
    }

    /// True when the script and the stylesheet were found.
    pub fn installed(&self) -> bool {
        self.files.contains_key("leaflet.js") && self.files.contains_key("leaflet.css")
    }

    /// A file by its path under `dist`, with its media type.
    pub fn get(&self, name: &str) -> Option<&(Bytes, &'static str)> {
        self.files.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_assets_are_reported_not_fatal() {
        let a = MapAssets::load(Path::new("/nonexistent/leaflet/dist"));
        assert!(!a.installed());
        assert!(a.get("leaflet.js").is_none());
    }

    /// The gazetteer: every row parses, inside Kent and Medway's box, the main towns there
    /// once each, biggest kinds first.
    #[test]
    fn the_gazetteer_reads_and_holds_the_towns() {
        let p = places();
        assert_eq!(p.len(), 330);
        for t in [
            "Canterbury",
            "Maidstone",
            "Margate",
            "Dover",
            "Ashford",
            "Chatham",
            "Gravesend",
        ] {
            assert_eq!(p.iter().filter(|x| x.name == t).count(), 1, "{t}");
        }
        assert!(p
            .iter()
            .all(|x| (0.0..1.5).contains(&x.lon) && (50.9..51.6).contains(&x.lat)));
        let order = |k: &str| {
            ["city", "town", "suburb", "village"]
                .iter()
                .position(|x| *x == k)
                .unwrap()
        };
        assert!(p.windows(2).all(|w| order(&w[0].kind) <= order(&w[1].kind)));
        let v: serde_json::Value = serde_json::from_slice(&places_geojson()).unwrap();
        assert_eq!(v["features"].as_array().unwrap().len(), 330);
        assert_eq!(v["features"][0]["properties"]["name"], "Canterbury");
    }

    #[test]
    fn the_page_loads_only_same_origin_scripts() {
        // Relative to the page, so it also works under a reverse proxy's path prefix.
        assert!(MAP_HTML.contains("src=\"map/assets/leaflet.js\""));
        assert!(!MAP_HTML.contains("fetch(\"/"));
        assert!(!MAP_HTML.contains("http://") && !MAP_HTML.contains("https://"));
    }
}
