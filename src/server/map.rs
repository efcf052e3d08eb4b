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

/// `[map]` in the service's config: the basemap the page draws under the layers.
///
/// ```toml
/// [map]
/// basemap_url = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"  # XYZ raster tiles
/// basemap_attribution = "© OpenStreetMap contributors"
/// basemap_max_zoom = 19
/// ```
///
/// With none, or when its tiles cannot be loaded, the page shows its offline base (district
/// outlines and the place names of [`places`]).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    /// XYZ tile URL template with `{z}`, `{x}` and `{y}` (and optionally `{s}`), http(s).
    /// The tile server must send CORS headers for its tiles to appear in the A4 export.
    pub basemap_url: Option<String>,
    /// Attribution the tiles' licence asks for, shown on the map and on every export.
    pub basemap_attribution: Option<String>,
    /// Deepest zoom the tile server has (deeper views enlarge its tiles); default 19.
    pub basemap_max_zoom: Option<u8>,
}

impl MapConfig {
    /// Checks the settings: a URL template needs http(s), `{z}`, `{x}`, `{y}` and an
    /// attribution. Returns the key at fault and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(u) = &self.basemap_url {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err((
                    "map.basemap_url",
                    format!("'{u}' must start with https:// or http://"),
                ));
            }
            for k in ["{z}", "{x}", "{y}"] {
                if !u.contains(k) {
                    return Err((
                        "map.basemap_url",
                        format!("'{u}' has no {k}: an XYZ template is like https://host/{{z}}/{{x}}/{{y}}.png"),
                    ));
                }
            }
            if self
                .basemap_attribution
                .as_deref()
                .is_none_or(|a| a.trim().is_empty())
            {
                return Err((
                    "map.basemap_attribution",
                    "a basemap needs the attribution its licence asks for (e.g. \"© OpenStreetMap contributors\")".into(),
                ));
            }
        } else if self.basemap_attribution.is_some() || self.basemap_max_zoom.is_some() {
            return Err((
                "map.basemap_url",
                "basemap_attribution and basemap_max_zoom need a basemap_url".into(),
            ));
        }
        if let Some(z) = self.basemap_max_zoom {
            if !(1..=22).contains(&z) {
                return Err((
                    "map.basemap_max_zoom",
                    format!("{z} is not a zoom level 1–22"),
                ));
            }
        }
        Ok(())
    }

    /// What the page reads at `map/config.json`: the basemap (or null), the heatmap ramp's
    /// stops and the symbol colours ([`crate::style`]), and the offline base's attribution.
    pub fn page_json(&self) -> serde_json::Value {
        let basemap = self.basemap_url.as_ref().map(|u| {
            serde_json::json!({
                "url": u,
                "attribution": self.basemap_attribution,
                "max_zoom": self.basemap_max_zoom.unwrap_or(19),
            })
        });
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, c)| (k.to_string(), serde_json::Value::from(*c)))
                .collect::<serde_json::Map<_, _>>()
        };
        serde_json::json!({
            "basemap": basemap,
            "heat_stops": crate::style::heat_stops(9),
            "colours": pairs(&crate::style::LAYER_COLOURS),
            "bins": crate::style::BIN_COLOURS.iter().map(|(b, c)| (b.to_string(), serde_json::Value::from(*c))).collect::<serde_json::Map<_, _>>(),
            "categories": pairs(&crate::style::CATEGORY_COLOURS),
            "offline_attribution": [crate::boundaries::BOUNDARY_ATTRIBUTION, PLACES_ATTRIBUTION],
        })
    }
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
    /// Reads `leaflet.js`, `leaflet.css` and `images/*.png` from `dir` (Leaflet's `dist`),
    /// and `html-to-image.js` (the A4 export's DOM rasteriser, npm `html-to-image`) from
    /// the same `node_modules`; what is missing is simply absent (see
    /// [`MapAssets::installed`]; without html-to-image the export button says so).
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
        add(
            "html-to-image.js".into(),
            dir.join("../../html-to-image/dist/html-to-image.js"),
            "text/javascript; charset=utf-8",
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
    fn basemap_settings_are_checked() {
        let ok = MapConfig {
            basemap_url: Some("https://tiles.example/{z}/{x}/{y}.png".into()),
            basemap_attribution: Some("© Example".into()),
            basemap_max_zoom: Some(18),
        };
        assert!(ok.check().is_ok());
        assert_eq!(ok.page_json()["basemap"]["max_zoom"], 18);
        assert!(MapConfig::default().check().is_ok());
        assert!(MapConfig::default().page_json()["basemap"].is_null());
        let bad = |c: MapConfig| c.check().unwrap_err().0;
        let mut c = ok.clone();
        c.basemap_url = Some("tiles.example/{z}/{x}/{y}.png".into());
        assert_eq!(bad(c), "map.basemap_url");
        let mut c = ok.clone();
        c.basemap_url = Some("https://tiles.example/{z}/{x}.png".into());
        assert_eq!(bad(c), "map.basemap_url");
        let mut c = ok.clone();
        c.basemap_attribution = Some(" ".into());
        assert_eq!(bad(c), "map.basemap_attribution");
        let mut c = ok.clone();
        c.basemap_max_zoom = Some(30);
        assert_eq!(bad(c), "map.basemap_max_zoom");
        let c = MapConfig {
            basemap_attribution: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(bad(c), "map.basemap_url");
        let v = ok.page_json();
        assert_eq!(v["heat_stops"].as_array().unwrap().len(), 9);
        assert_eq!(v["colours"]["grip"], "#0072b2");
        assert_eq!(v["bins"]["3"], "#b2182b");
    }

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
