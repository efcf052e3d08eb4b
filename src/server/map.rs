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

    #[test]
    fn the_page_loads_only_same_origin_scripts() {
        // Relative to the page, so it also works under a reverse proxy's path prefix.
        assert!(MAP_HTML.contains("src=\"map/assets/leaflet.js\""));
        assert!(!MAP_HTML.contains("fetch(\"/"));
        assert!(!MAP_HTML.contains("http://") && !MAP_HTML.contains("https://"));
    }
}
