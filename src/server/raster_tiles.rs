//! Raster heatmap tiles: the KDE surface colour-ramped into 256 × 256 Web Mercator PNGs,
//! transparent off land and where the density is negligible.

use crate::crs::LatticeTransformer;
use std::sync::Arc;

use super::selection::Selection;
use super::Data;
use crate::density::{compute_surface, Surface, SurfaceError, SurfaceOptions};

/// Tile side, pixels.
pub const TILE_PX: usize = 256;
/// Highest zoom served.
pub const MAX_ZOOM: u8 = 18;
/// Lattice points per tile side for the PROJ transform (pixels in between interpolate).
const LATTICE: usize = 17;

/// WGS84 longitude, latitude of a global Web Mercator pixel position at zoom `z`.
pub fn pixel_to_lonlat(z: u8, gx: f64, gy: f64) -> (f64, f64) {
    let n = (TILE_PX as f64) * 2f64.powi(i32::from(z));
    let lon = gx / n * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * gy / n))
        .sinh()
        .atan()
        .to_degrees();
    (lon, lat)
}

/// `Err` for a tile outside the zoom range or the world.
pub fn check_tile(z: u8, x: u32, y: u32) -> Result<(), String> {
    if z > MAX_ZOOM {
        return Err(format!("zoom {z} is above {MAX_ZOOM}"));
    }
    let n = 1u64 << z;
    if u64::from(x) >= n || u64::from(y) >= n {
        return Err(format!(
            "tile {z}/{x}/{y} is outside the world (0..{n} at zoom {z})"
        ));
    }
    Ok(())
}

/// Renders tile z/x/y of `surface`, values scaled so `scale` is the top of the ramp, with
/// `to_bng` (a lattice over the surface, shared by every tile and thread: no PROJ set-up per
/// request) for positions. A tile outside `bounds_deg` (WGS84 `[w, s, e, n]` of the surface)
/// or with nothing to draw is the blank tile. `Err` for a tile outside the zoom range or the
/// world.
pub fn render_tile(
    surface: &Surface,
    scale: f64,
    to_bng: &LatticeTransformer,
    bounds_deg: [f64; 4],
    z: u8,
    x: u32,
    y: u32,
) -> Result<Vec<u8>, String> {
    check_tile(z, x, y)?;
    let px0 = f64::from(x) * TILE_PX as f64;
    let py0 = f64::from(y) * TILE_PX as f64;
    let (west, north) = pixel_to_lonlat(z, px0, py0);
    let (east, south) = pixel_to_lonlat(z, px0 + TILE_PX as f64, py0 + TILE_PX as f64);
    let [bw, bs, be, bn] = bounds_deg;
    if west > be || east < bw || south > bn || north < bs {
        return Ok(blank_tile());
    }
    // BNG positions at a lattice over the tile; pixels interpolate between them.
    let step = TILE_PX as f64 / (LATTICE - 1) as f64;
    let mut lattice: Vec<(f64, f64)> = Vec::with_capacity(LATTICE * LATTICE);
    for j in 0..LATTICE {
        for i in 0..LATTICE {
            lattice.push(pixel_to_lonlat(
                z,
                px0 + i as f64 * step,
                py0 + j as f64 * step,
            ));
        }
    }
    let lonlat = lattice.clone();
    if to_bng.convert_in_place(&mut lattice).is_err() {
        // Some lattice points lie outside the projection's domain (low zooms reach the
        // poles): those are NaN, and the pixels that depend on them stay transparent.
        for (p, &(lon, lat)) in lattice.iter_mut().zip(&lonlat) {
            *p = to_bng.convert(lon, lat).unwrap_or((f64::NAN, f64::NAN));
        }
    }
    let g = &surface.grid;
    // A tile wholly off the surface's grid (the sea, the rest of the world) is the blank
    // tile, without drawing or encoding it. The lattice spans the tile, and bilinear
    // interpolation stays inside the box of its points.
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(bx, by) in &lattice {
        if bx.is_finite() && by.is_finite() {
            (x0, y0, x1, y1) = (x0.min(bx), y0.min(by), x1.max(bx), y1.max(by));
        }
    }
    let (gx1, gy1) = (
        g.x0_m + g.nx as f64 * g.cell_m,
        g.y0_m + g.ny as f64 * g.cell_m,
    );
    if x0 > gx1 || x1 < g.x0_m || y0 > gy1 || y1 < g.y0_m {
        return Ok(blank_tile());
    }
    let mut rgba = vec![0u8; TILE_PX * TILE_PX * 4];
    let mut drawn = false;
    for py in 0..TILE_PX {
        let fy = (py as f64 + 0.5) / step;
        let (j, ty) = (
            (fy.floor() as usize).min(LATTICE - 2),
            fy - (fy.floor().min((LATTICE - 2) as f64)),
        );
        for px in 0..TILE_PX {
            let fx = (px as f64 + 0.5) / step;
            let (i, tx) = (
                (fx.floor() as usize).min(LATTICE - 2),
                fx - (fx.floor().min((LATTICE - 2) as f64)),
            );
            let at = |a: usize, b: usize| lattice[b * LATTICE + a];
            let lerp = |p: (f64, f64), q: (f64, f64), t: f64| {
                (p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t)
            };
            let top = lerp(at(i, j), at(i + 1, j), tx);
            let bottom = lerp(at(i, j + 1), at(i + 1, j + 1), tx);
            let (bx, by) = lerp(top, bottom, ty);
            if !(bx.is_finite() && by.is_finite()) {
                continue;
            }
            let Some((cx, cy)) = g.cell_of(bx, by) else {
                continue;
            };
            let v = surface.values[cy * g.nx + cx];
            if v.is_nan() || v <= 0.0 {
                continue;
            }
            let t = (v / scale).min(1.0);
            if t < 0.02 {
                continue;
            }
            let [r, g, b] = crate::style::heat_rgb(t);
            drawn = true;
            let k = (py * TILE_PX + px) * 4;
            rgba[k..k + 4].copy_from_slice(&[r, g, b, (90.0 + 150.0 * t) as u8]);
        }
    }
    if !drawn {
        return Ok(blank_tile());
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, TILE_PX as u32, TILE_PX as u32);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        // fdeflate's fast mode: several times quicker than the default level, for tiles a
        // few kilobytes larger (a cold pass over thousands of tiles is CPU-bound).
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(&rgba).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The value at the 99th percentile of land cells with density, the top of the ramp.
pub fn ramp_scale(surface: &Surface) -> f64 {
    let mut v: Vec<f64> = surface
        .values
        .iter()
        .copied()
        .filter(|v| !v.is_nan() && *v > 0.0)
        .collect();
    if v.is_empty() {
        return 1.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * 0.99) as usize).min(v.len() - 1)]
}

/// A surface and the top of its colour ramp.
#[derive(Debug)]
pub struct Ramped {
    /// The KDE surface.
    pub surface: Surface,
    /// Density drawn at full colour (the 99th percentile of land cells).
    pub scale: f64,
}

impl Ramped {
    fn new(surface: Surface) -> Self {
        let scale = ramp_scale(&surface);
        Ramped { surface, scale }
    }
}

/// Surfaces selected for ahead of time.
const SELECTION_SURFACES: usize = 24;

/// The heatmap behind the PNG tiles: the surface of every incident, and on demand the
/// surface of a selection (offence groups, period), each computed once and cached. Each
/// surface has its own ramp, so a map shows where the selection concentrates.
pub struct Heatmap {
    opts: SurfaceOptions,
    /// Disclosure control of selections' surfaces (the published surface was controlled
    /// when it was made).
    rules: Option<crate::disclosure::Rules>,
    /// Who may read the heatmap.
    pub tier: crate::disclosure::Tier,
    /// The surface's extent, WGS84 [west, south, east, north] degrees.
    bounds_deg: [f64; 4],
    /// WGS84 → BNG over `bounds_deg`, for every tile.
    to_bng: Option<LatticeTransformer>,
    all: Arc<Ramped>,
    by_selection: quick_cache::sync::Cache<String, Option<Arc<Ramped>>>,
}

impl std::fmt::Debug for Heatmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Heatmap(bandwidth {} m)", self.all.surface.bandwidth_m)
    }
}

impl Heatmap {
    /// The heatmap of a surface computed before (a published snapshot's), with the
    /// options selections are computed with.
    pub fn from_surface(
        all: Surface,
        opts: SurfaceOptions,
        tier: crate::disclosure::Tier,
        rules: Option<crate::disclosure::Rules>,
    ) -> Self {
        let g = &all.grid;
        let (x1, y1) = (
            g.x0_m + g.nx as f64 * g.cell_m,
            g.y0_m + g.ny as f64 * g.cell_m,
        );
        let mut corners = [(g.x0_m, g.y0_m), (x1, g.y0_m), (g.x0_m, y1), (x1, y1)];
        let bounds_deg = match crate::crs::Transformer::bng_to_wgs84()
            .and_then(|t| t.convert_in_place(&mut corners))
        {
            Ok(()) => corners.iter().fold(
                [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ],
                |b, &(x, y)| [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)],
            ),
            Err(_) => [-180.0, -85.0511, 180.0, 85.0511],
        };
        let to_bng = LatticeTransformer::wgs84_to_bng([
            bounds_deg[0] - 0.05,
            bounds_deg[1] - 0.05,
            bounds_deg[2] + 0.05,
            bounds_deg[3] + 0.05,
        ])
        .ok();
        Heatmap {
            opts,
            rules,
            tier,
            bounds_deg,
            to_bng,
            all: Arc::new(Ramped::new(all)),
            by_selection: quick_cache::sync::Cache::new(SELECTION_SURFACES),
        }
    }

    /// The surface for `sel` (`None`: every incident); `Ok(None)` when nothing is selected.
    /// Concurrent callers for the same selection wait for one computation.
    pub fn surface(
        &self,
        data: &Data,
        sel: Option<&Selection>,
    ) -> Result<Option<Arc<Ramped>>, SurfaceError> {
        let Some(sel) = sel else {
            return Ok(Some(self.all.clone()));
        };
        self.by_selection.get_or_insert_with(&sel.key, || {
            let mut opts = self.opts.clone();
            opts.filter.groups = sel.filter.groups.clone();
            opts.filter.from_min = sel.filter.from_min;
            opts.filter.to_min = sel.filter.to_min;
            match compute_surface(&data.pack, &data.districts, &data.store, &data.harm, &opts) {
                Ok(mut s) => {
                    if let Some(r) = &self.rules {
                        crate::disclosure::control_surface(
                            r,
                            &mut s,
                            (&data.pack, &data.districts, &data.store, &data.harm),
                            &opts,
                        )?;
                    }
                    Ok(Some(Arc::new(Ramped::new(s))))
                }
                Err(SurfaceError::NoIncidents) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

impl Heatmap {
    /// Tile z/x/y of `r` (a surface from [`Heatmap::surface`]): see [`render_tile`].
    pub fn render(&self, r: &Ramped, z: u8, x: u32, y: u32) -> Result<Vec<u8>, String> {
        let Some(to_bng) = &self.to_bng else {
            return Err("PROJ could not set up WGS84 to EPSG:27700".into());
        };
        render_tile(&r.surface, r.scale, to_bng, self.bounds_deg, z, x, y)
    }

    /// The disclosure rules of selections, if the heatmap is controlled.
    pub fn rules(&self) -> Option<&crate::disclosure::Rules> {
        self.rules.as_ref()
    }

    /// TileJSON 3.0.0 of the PNG tiles; `base` is the server's absolute URL.
    pub fn tilejson(&self, base: &str) -> serde_json::Value {
        serde_json::json!({
            "tilejson": "3.0.0",
            "name": "density",
            "description": format!(
                "Incident density: {} kernel, {:.0} m bandwidth, {:.0} m cells, colour-ramped to the 99th percentile of land cells; transparent off land. Add offence_group= and datetime= to the tile URL for a selection.",
                self.opts.kernel.slug(),
                self.all.surface.bandwidth_m,
                self.opts.cell_m
            ),
            "version": "1.0.0",
            "attribution": crate::boundaries::BOUNDARY_ATTRIBUTION,
            "scheme": "xyz",
            "tiles": [format!("{base}/tiles/density/{{z}}/{{x}}/{{y}}.png")],
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "bounds": self.bounds_deg,
            "center": [(self.bounds_deg[0] + self.bounds_deg[2]) / 2.0, (self.bounds_deg[1] + self.bounds_deg[3]) / 2.0, 9],
        })
    }
}

/// A fully transparent tile.
pub fn blank_tile() -> Vec<u8> {
    static BLANK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BLANK
        .get_or_init(|| {
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, TILE_PX as u32, TILE_PX as u32);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            if let Ok(mut w) = enc.write_header() {
                let _ = w.write_image_data(&vec![0u8; TILE_PX * TILE_PX * 4]);
            }
            out
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_mercator_pixels() {
        // Zoom 0: the tile centre is (0, 0); the top edge is 85.0511°.
        let (lon, lat) = pixel_to_lonlat(0, 128.0, 128.0);
        assert!(lon.abs() < 1e-12 && lat.abs() < 1e-12);
        let (_, top) = pixel_to_lonlat(0, 0.0, 0.0);
        assert!((top - 85.051_128_779_806_6).abs() < 1e-9);
    }
}
