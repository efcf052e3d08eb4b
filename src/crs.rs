//! Coordinate transforms between WGS84 longitude/latitude and the British National Grid.
//!
//! All analysis runs in EPSG:27700 metres; WGS84 appears only at the edges (input CSV
//! longitude/latitude, GeoJSON output). WGS84 ↔ EPSG:27700 is OSTN15, the Ordnance Survey's
//! definitive transformation (the `lonlat_bng` crate: the GRS80 transverse Mercator of the
//! National Grid, then the OSTN15 shifts interpolated bilinearly in their 1 km grid, from the
//! `ostn15_phf` crate's copy of the OS data file, BSD-licensed by Ordnance Survey). WGS84
//! positions are taken as ETRS89, as every OSTN15 route in GIS does (the two frames differ by
//! under a metre in the 2020s). The OS's published test points agree to the millimetre (the
//! test `ostn15_test_points` in tests/crs.rs). PROJ without the OSTN15 grid (Debian does not
//! ship it) would apply a 7-parameter Helmert transformation, 1.9–2.5 m from OSTN15 in Kent.
//! Web Mercator goes through WGS84: the closed form of [`lonlat_to_web_mercator`], or PROJ
//! (the real library, through the `proj` crate) for WGS84 → EPSG:3857 in bulk.

use proj::Proj;
use thiserror::Error;

/// EPSG code of the British National Grid used for all analysis.
pub const BNG: &str = "EPSG:27700";
/// EPSG code of WGS84 geographic coordinates (longitude, latitude order is normalised).
pub const WGS84: &str = "EPSG:4326";
/// EPSG code of Web Mercator, the plane of XYZ map tiles.
pub const WEB_MERCATOR: &str = "EPSG:3857";

/// Errors from the coordinate transformation layer.
#[derive(Debug, Error)]
pub enum CrsError {
    /// The transformation could not be built (PROJ's database).
    #[error("cannot create transform {from} -> {to}: {message}")]
    Create {
        /// Source CRS.
        from: String,
        /// Target CRS.
        to: String,
        /// PROJ's message.
        message: String,
    },
    /// A coordinate could not be transformed (outside OSTN15's extent, not finite, PROJ).
    #[error("cannot transform coordinate ({x}, {y}): {message}")]
    Transform {
        /// First ordinate.
        x: f64,
        /// Second ordinate.
        y: f64,
        /// Why.
        message: String,
    },
}

/// A reusable transformation between two CRSs (OSTN15, or PROJ for other pairs), with
/// traditional GIS axis order (longitude before latitude, easting before northing).
///
/// Build one per thread and transform in bulk with [`Transformer::convert_in_place`].
pub struct Transformer {
    op: Operation,
    from: &'static str,
    to: &'static str,
}

/// How a [`Transformer`] works.
enum Operation {
    /// WGS84 (as ETRS89) longitude/latitude → EPSG:27700 by OSTN15.
    Ostn15ToBng,
    /// EPSG:27700 → WGS84 (as ETRS89) by OSTN15 (iterated inverse).
    Ostn15ToWgs84,
    /// EPSG:27700 → WGS84 by OSTN15, then the EPSG:3857 closed form.
    BngToWebMercator,
    /// Anything else: PROJ's operation from its database.
    Proj(Proj),
}

/// The OSTN15 transformation of one point, with GIS axis order.
fn ostn15(op: &Operation, x: f64, y: f64) -> Result<(f64, f64), String> {
    match op {
        Operation::Ostn15ToBng => lonlat_bng::convert_osgb36(x, y).map_err(|e| e.to_string()),
        Operation::Ostn15ToWgs84 => {
            lonlat_bng::convert_osgb36_to_ll(x, y).map_err(|e| e.to_string())
        }
        Operation::BngToWebMercator => lonlat_bng::convert_osgb36_to_ll(x, y)
            .map(|(lon, lat)| lonlat_to_web_mercator(lon, lat))
            .map_err(|e| e.to_string()),
        Operation::Proj(_) => Err("not an OSTN15 operation".into()),
    }
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transformer({} -> {})", self.from, self.to)
    }
}

impl Transformer {
    /// WGS84 ↔ EPSG:27700 (and EPSG:27700 → Web Mercator) are OSTN15. For other pairs PROJ
    /// chooses the operation from its database, which takes tens of milliseconds; the chosen
    /// pipeline's definition is kept for the process, and later transformers are built from
    /// it directly (the test `pipeline_reuse_is_identical` checks both give the same bits).
    fn new(from: &'static str, to: &'static str) -> Result<Self, CrsError> {
        let op = match (from, to) {
            (WGS84, BNG) => Some(Operation::Ostn15ToBng),
            (BNG, WGS84) => Some(Operation::Ostn15ToWgs84),
            (BNG, WEB_MERCATOR) => Some(Operation::BngToWebMercator),
            _ => None,
        };
        if let Some(op) = op {
            return Ok(Self { op, from, to });
        }
        Self::new_proj(from, to)
    }

    fn new_proj(from: &'static str, to: &'static str) -> Result<Self, CrsError> {
        type Defs = std::collections::HashMap<(&'static str, &'static str), String>;
        static DEFS: std::sync::OnceLock<std::sync::Mutex<Defs>> = std::sync::OnceLock::new();
        let defs = DEFS.get_or_init(Default::default);
        // Held while the first transformer is made, so threads asking at once wait for its
        // definition rather than all querying the database.
        let mut d = defs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(def) = d.get(&(from, to)) {
            if let Ok(proj) = Proj::new(def) {
                return Ok(Self {
                    op: Operation::Proj(proj),
                    from,
                    to,
                });
            }
        }
        let proj = Self::from_database(from, to)?;
        if let Ok(def) = proj.def() {
            if def.starts_with("proj=pipeline") || def.starts_with("+proj=pipeline") {
                d.insert((from, to), def);
            }
        }
        Ok(Self {
            op: Operation::Proj(proj),
            from,
            to,
        })
    }

    /// Runs `f` with this thread's shared transformer from `from` to `to` (made on first use,
    /// then kept for the thread: a PROJ object belongs to one thread). For occasional
    /// conversions where making a transformer (a PROJ context, milliseconds) would cost
    /// more than the work. `f` must not call `with_shared` itself.
    pub fn with_shared<R>(
        from: &'static str,
        to: &'static str,
        f: impl FnOnce(&Transformer) -> Result<R, CrsError>,
    ) -> Result<R, CrsError> {
        type Shared = std::collections::HashMap<(&'static str, &'static str), Transformer>;
        thread_local! {
            static SHARED: std::cell::RefCell<Shared> = Default::default();
        }
        SHARED.with(|cell| {
            let mut m = cell.borrow_mut();
            let t = match m.entry((from, to)) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(Self::new(from, to)?),
            };
            f(t)
        })
    }

    /// The operation PROJ's database chooses, with GIS axis order.
    fn from_database(from: &'static str, to: &'static str) -> Result<Proj, CrsError> {
        Proj::new_known_crs(from, to, None).map_err(|e| CrsError::Create {
            from: from.to_string(),
            to: to.to_string(),
            message: e.to_string(),
        })
    }

    /// PROJ's own operation from WGS84 to EPSG:27700 (without the OSTN15 grid: the Helmert
    /// transformation, metres from OSTN15), for comparisons.
    pub fn proj_wgs84_to_bng() -> Result<Self, CrsError> {
        Self::new_proj(WGS84, BNG)
    }

    /// WGS84 (longitude, latitude in degrees) to British National Grid (easting, northing in
    /// metres) by OSTN15; positions outside the OSTN15 grid's extent (longitude −8.579° to
    /// 1.78°, latitude 49.922° to 60.84°) are an error.
    pub fn wgs84_to_bng() -> Result<Self, CrsError> {
        Self::new(WGS84, BNG)
    }

    /// British National Grid (easting, northing in metres) to WGS84 (longitude, latitude in degrees).
    pub fn bng_to_wgs84() -> Result<Self, CrsError> {
        Self::new(BNG, WGS84)
    }

    /// British National Grid (metres) to Web Mercator (EPSG:3857, metres), the plane of
    /// XYZ map tiles.
    pub fn bng_to_web_mercator() -> Result<Self, CrsError> {
        Self::new(BNG, WEB_MERCATOR)
    }

    /// WGS84 (longitude, latitude in degrees) to Web Mercator (EPSG:3857, metres).
    pub fn wgs84_to_web_mercator() -> Result<Self, CrsError> {
        Self::new(WGS84, WEB_MERCATOR)
    }

    /// Transforms one coordinate pair.
    pub fn convert(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        let mut one = [(x, y)];
        self.convert_in_place(&mut one)?;
        Ok(one[0])
    }

    /// Transforms a slice of coordinate pairs in place (PROJ: in one call).
    ///
    /// # Errors
    /// A point cannot be transformed (outside the OSTN15 grid, not finite): the error names
    /// the first such point, and the slice's contents are then unspecified.
    pub fn convert_in_place(&self, points: &mut [(f64, f64)]) -> Result<(), CrsError> {
        let proj = match &self.op {
            Operation::Proj(proj) => proj,
            op => {
                for p in points.iter_mut() {
                    *p = ostn15(op, p.0, p.1).map_err(|message| CrsError::Transform {
                        x: p.0,
                        y: p.1,
                        message: format!("outside the OSTN15 transformation's extent: {message}"),
                    })?;
                }
                return Ok(());
            }
        };
        if points.is_empty() {
            return Ok(());
        }
        let first = points[0];
        proj.convert_array(points)
            .map_err(|e| CrsError::Transform {
                x: first.0,
                y: first.1,
                message: e.to_string(),
            })?;
        Ok(())
    }
}

/// Semi-major axis of the WGS84 ellipsoid, metres: the sphere radius of EPSG:3857.
pub const WEB_MERCATOR_RADIUS_M: f64 = 6_378_137.0;

/// WGS84 longitude/latitude (degrees) to Web Mercator (EPSG:3857, metres) by the
/// projection's definition (IOGP Guidance Note 7-2, method 1024, "Popular Visualisation
/// Pseudo Mercator"): the WGS84 coordinates taken as spherical on a sphere of radius
/// [`WEB_MERCATOR_RADIUS_M`], `x = R·λ`, `y = R·ln tan(π/4 + φ/2)`. There is no datum step,
/// so this is the whole of PROJ's EPSG:4326 → EPSG:3857 operation, in closed form, without
/// a PROJ call per geometry (the test `web_mercator_formula_matches_proj` compares them).
/// Latitudes beyond ±85.051 128 78° (the square's edge) give |y| beyond the square.
pub fn lonlat_to_web_mercator(lon_deg: f64, lat_deg: f64) -> (f64, f64) {
    let r = WEB_MERCATOR_RADIUS_M;
    let lat = lat_deg.to_radians();
    (
        r * lon_deg.to_radians(),
        r * (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln(),
    )
}

/// WGS84 → British National Grid by bilinear interpolation in a lattice of points that
/// OSTN15 itself transformed, for bulk ingest.
///
/// The exact transformation (transverse Mercator, then OSTN15's shifts) costs about 0.3 s
/// per million points; the lattice answers in a few milliseconds (`cargo bench --bench
/// ingest`, `transform_*`). With [`LATTICE_STEP_DEG`] = 0.005° the interpolation differs
/// from OSTN15 by at most [`LATTICE_MAX_ERROR_M`] anywhere inside the lattice (the bound
/// `h²/8 · max|f''|` of the projection, plus the bends of OSTN15's own bilinear shifts at
/// its 1 km grid lines; the test below measures it). Points outside the lattice go through
/// OSTN15 directly.
pub struct LatticeTransformer {
    lon0: f64,
    lat0: f64,
    nx: usize,
    ny: usize,
    /// Easting and northing of node (i, j) at `j * nx + i` (shared by every lattice of the
    /// same extent in the process).
    nodes: std::sync::Arc<Vec<(f64, f64)>>,
}

/// Lattice spacing, degrees of longitude and latitude.
pub const LATTICE_STEP_DEG: f64 = 0.005;
/// Largest difference from exact OSTN15 inside the lattice, metres (documented and tested).
pub const LATTICE_MAX_ERROR_M: f64 = 0.03;

impl std::fmt::Debug for LatticeTransformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LatticeTransformer({} x {} nodes from {}, {})",
            self.nx, self.ny, self.lon0, self.lat0
        )
    }
}

impl LatticeTransformer {
    /// A lattice covering WGS84 `[west, south, east, north]` (degrees), built with OSTN15.
    /// The nodes of a lattice are computed once per process and extent (a repeated ingest, a
    /// test, a fuzz run build it again for free). Nodes outside OSTN15's extent are not
    /// finite, and points near them go to the exact transformation (which refuses them).
    pub fn wgs84_to_bng(bounds_deg: [f64; 4]) -> Result<Self, CrsError> {
        type Lattices =
            std::collections::HashMap<(u64, u64, usize, usize), std::sync::Arc<Vec<(f64, f64)>>>;
        static LATTICES: std::sync::OnceLock<std::sync::Mutex<Lattices>> =
            std::sync::OnceLock::new();
        let [w, s, e, n] = bounds_deg;
        let lon0 = (w / LATTICE_STEP_DEG).floor() * LATTICE_STEP_DEG;
        let lat0 = (s / LATTICE_STEP_DEG).floor() * LATTICE_STEP_DEG;
        let nx = ((e - lon0) / LATTICE_STEP_DEG).ceil().max(1.0) as usize + 1;
        let ny = ((n - lat0) / LATTICE_STEP_DEG).ceil().max(1.0) as usize + 1;
        let key = (lon0.to_bits(), lat0.to_bits(), nx, ny);
        let cache = LATTICES.get_or_init(Default::default);
        let cached = cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let nodes = match cached {
            Some(nodes) => nodes,
            None => {
                let mut nodes = Vec::with_capacity(nx * ny);
                for j in 0..ny {
                    for i in 0..nx {
                        nodes.push((
                            lon0 + i as f64 * LATTICE_STEP_DEG,
                            lat0 + j as f64 * LATTICE_STEP_DEG,
                        ));
                    }
                }
                for p in &mut nodes {
                    *p = ostn15(&Operation::Ostn15ToBng, p.0, p.1).unwrap_or((f64::NAN, f64::NAN));
                }
                let nodes = std::sync::Arc::new(nodes);
                cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, nodes.clone());
                nodes
            }
        };
        Ok(LatticeTransformer {
            lon0,
            lat0,
            nx,
            ny,
            nodes,
        })
    }

    /// The interpolated position, or `None` outside the lattice (or not finite).
    #[inline]
    fn interpolate(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        let fx = (lon - self.lon0) / LATTICE_STEP_DEG;
        let fy = (lat - self.lat0) / LATTICE_STEP_DEG;
        // Also false for NaN.
        if !(fx >= 0.0 && fy >= 0.0 && fx < (self.nx - 1) as f64 && fy < (self.ny - 1) as f64) {
            return None;
        }
        let (i, j) = (fx as usize, fy as usize);
        let (tx, ty) = (fx - i as f64, fy - j as f64);
        let k = j * self.nx + i;
        let (a, b) = (self.nodes[k], self.nodes[k + 1]);
        let (c, d) = (self.nodes[k + self.nx], self.nodes[k + self.nx + 1]);
        let lerp = |p: f64, q: f64, t: f64| p + (q - p) * t;
        let (x, y) = (
            lerp(lerp(a.0, b.0, tx), lerp(c.0, d.0, tx), ty),
            lerp(lerp(a.1, b.1, tx), lerp(c.1, d.1, tx), ty),
        );
        // A node outside OSTN15's extent: the exact transformation decides.
        (x.is_finite() && y.is_finite()).then_some((x, y))
    }

    /// Transforms one (longitude, latitude) pair.
    pub fn convert(&self, lon: f64, lat: f64) -> Result<(f64, f64), CrsError> {
        match self.interpolate(lon, lat) {
            Some(p) => Ok(p),
            None => Transformer::with_shared(WGS84, BNG, |t| t.convert(lon, lat)),
        }
    }

    /// Transforms in place; points outside the lattice go to the exact transformation.
    pub fn convert_in_place(&self, points: &mut [(f64, f64)]) -> Result<(), CrsError> {
        let mut outside: Vec<usize> = Vec::new();
        for (k, p) in points.iter_mut().enumerate() {
            match self.interpolate(p.0, p.1) {
                Some(q) => *p = q,
                None => outside.push(k),
            }
        }
        if outside.is_empty() {
            return Ok(());
        }
        let mut rest: Vec<(f64, f64)> = outside.iter().map(|&k| points[k]).collect();
        Transformer::with_shared(WGS84, BNG, |t| t.convert_in_place(&mut rest))?;
        for (k, q) in outside.into_iter().zip(rest) {
            points[k] = q;
        }
        Ok(())
    }
}

/// An Ordnance Survey National Grid reference (`TG 51409 13177`, `SU387148`, `TQ7555`: two
/// letters and an even number of digits up to 10, spaces ignored, any case) as EPSG:27700
/// easting and northing in metres, at the centre of the square the reference names (a
/// 6-figure reference names a 100 m square: its centre is 50 m from the south-west corner
/// the digits give). The letters follow the OS scheme: the first names a 500 km square (H,
/// J, N, O, S or T over Great Britain), the second a 100 km square within it, each from a
/// 5 × 5 grid of A–Z without I (OS, "A guide to coordinate systems in Great Britain").
///
/// # Errors
/// A message saying what is wrong (letters, digit count).
pub fn parse_grid_ref(text: &str) -> Result<(f64, f64), String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let upper = compact.to_ascii_uppercase();
    let mut chars = upper.chars();
    let (Some(a), Some(b)) = (chars.next(), chars.next()) else {
        return Err(format!(
            "'{text}' is not a grid reference (two letters and digits)"
        ));
    };
    let index = |c: char| -> Option<i64> {
        if !c.is_ascii_uppercase() || c == 'I' {
            return None;
        }
        let i = c as i64 - 'A' as i64;
        Some(if i > 7 { i - 1 } else { i })
    };
    let (Some(l1), Some(l2)) = (index(a), index(b)) else {
        return Err(format!(
            "'{text}': grid letters must be two of A-Z without I"
        ));
    };
    if !matches!(a, 'H' | 'J' | 'N' | 'O' | 'S' | 'T') {
        return Err(format!(
            "'{text}': the first letter must be H, J, N, O, S or T (Great Britain)"
        ));
    }
    let digits: String = chars.collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() > 10 {
        return Err(format!(
            "'{text}': a grid reference needs an even number of digits, 2 to 10"
        ));
    }
    if !digits.bytes().all(|d| d.is_ascii_digit()) {
        return Err(format!("'{text}': only digits may follow the two letters"));
    }
    let k = digits.len() / 2;
    let unit = 10f64.powi(5 - k as i32);
    let e_digits: f64 = digits[..k].parse::<f64>().map_err(|e| e.to_string())?;
    let n_digits: f64 = digits[k..].parse::<f64>().map_err(|e| e.to_string())?;
    let e100 = ((l1 - 2).rem_euclid(5)) * 5 + l2 % 5;
    let n100 = (19 - (l1 / 5) * 5) - l2 / 5;
    Ok((
        e100 as f64 * 100_000.0 + e_digits * unit + unit / 2.0,
        n100 as f64 * 100_000.0 + n_digits * unit + unit / 2.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_grid_ref;

    /// OS grid references against their published easting and northing: the OS guide's
    /// example TG 51409 13177 = 651409, 313177 (a 1 m square: centre +0.5), Ben Nevis NN 166
    /// 712 = 216600, 771200 (100 m: +50), and a Kent reference.
    #[test]
    fn grid_references_give_the_centre_of_their_square() {
        for (r, e, n) in [
            ("TG 51409 13177", 651_409.5, 313_177.5),
            ("NN166712", 216_650.0, 771_250.0),
            ("tq 7565 5512", 575_655.0, 155_125.0),
            ("TR 3 3", 635_000.0, 135_000.0),
            ("SV 0 0", 5_000.0, 5_000.0),
            ("HP 5 1", 455_000.0, 1_215_000.0),
        ] {
            let (x, y) = parse_grid_ref(r).unwrap();
            assert_eq!((x, y), (e, n), "{r}");
        }
        for bad in [
            "",
            "T",
            "TI 123 456",
            "AB 123 456",
            "TQ 123 45",
            "TQ 12a 456",
            "TQ 123456789012",
        ] {
            assert!(parse_grid_ref(bad).is_err(), "{bad}");
        }
    }

    /// The closed form against PROJ's own EPSG:4326 → EPSG:3857 over Kent and beyond.
    #[test]
    fn web_mercator_formula_matches_proj() {
        let proj = Transformer::wgs84_to_web_mercator().unwrap();
        for k in 0..400 {
            let (i, j) = ((k % 20) as f64 / 19.0, (k / 20) as f64 / 19.0);
            let (lon, lat) = (-8.0 + 12.0 * i, 49.0 + 12.0 * j);
            let (px, py) = proj.convert(lon, lat).unwrap();
            let (x, y) = lonlat_to_web_mercator(lon, lat);
            assert!(
                (x - px).abs() < 1e-6 && (y - py).abs() < 1e-6,
                "{lon},{lat}: ({x},{y}) vs PROJ ({px},{py})"
            );
        }
        let (x, y) = lonlat_to_web_mercator(180.0, 85.051_128_779_806_59);
        assert!((x - 20_037_508.342_789_244).abs() < 1e-6);
        assert!((y - 20_037_508.342_789_244).abs() < 1e-3);
    }

    #[test]
    fn pipeline_reuse_is_identical() {
        let (from, to, lo, hi) = (WGS84, WEB_MERCATOR, (0.2, 50.8), (1.6, 51.6));
        let first = Transformer::new(from, to).unwrap();
        let reused = Transformer::new(from, to).unwrap();
        let db = Transformer {
            op: Operation::Proj(Transformer::from_database(from, to).unwrap()),
            from,
            to,
        };
        let pts: Vec<(f64, f64)> = (0..400)
            .map(|k| {
                let (i, j) = ((k % 20) as f64 / 19.0, (k / 20) as f64 / 19.0);
                (lo.0 + (hi.0 - lo.0) * i, lo.1 + (hi.1 - lo.1) * j)
            })
            .collect();
        let (mut a, mut b, mut c) = (pts.clone(), pts.clone(), pts);
        first.convert_in_place(&mut a).unwrap();
        reused.convert_in_place(&mut b).unwrap();
        db.convert_in_place(&mut c).unwrap();
        assert_eq!(a, c, "first transformer differs from the database's");
        assert_eq!(b, c, "reused pipeline differs from the database's");
    }

    use super::*;

    /// Canterbury Cathedral (lat 51.2798, lon 1.0830): OSTN15 gives E 615 107.439,
    /// N 157 920.253; PROJ without the grid (`cs2cs EPSG:4326 EPSG:27700`, the Helmert)
    /// gives E 615 109.495, N 157 920.826, 2.1 m away, as the module says.
    #[test]
    fn canterbury_cathedral_ostn15_and_helmert() {
        let (e, n) = Transformer::wgs84_to_bng()
            .unwrap()
            .convert(1.0830, 51.2798)
            .unwrap();
        assert!((e - 615_107.439).abs() < 0.001, "easting {e}");
        assert!((n - 157_920.253).abs() < 0.001, "northing {n}");
        let (he, hn) = Transformer::proj_wgs84_to_bng()
            .unwrap()
            .convert(1.0830, 51.2798)
            .unwrap();
        assert!((he - 615_109.495).abs() < 0.01, "easting {he}");
        assert!((hn - 157_920.826).abs() < 0.01, "northing {hn}");
        let d = (e - he).hypot(n - hn);
        assert!((1.9..=2.5).contains(&d), "{d} m");
    }

    /// The Web Mercator route from EPSG:27700 is OSTN15's inverse and the closed form.
    #[test]
    fn bng_to_web_mercator_goes_through_ostn15() {
        let (x, y) = Transformer::bng_to_web_mercator()
            .unwrap()
            .convert(615_107.439, 157_920.253)
            .unwrap();
        let (wx, wy) = lonlat_to_web_mercator(1.0830, 51.2798);
        // 1 mm on the ground is about 1.6 mm in Web Mercator at 51°N.
        assert!((x - wx).abs() < 0.01 && (y - wy).abs() < 0.01, "{x},{y}");
    }

    /// 200,000 points scattered over a lattice around Kent (seeded, so the same points
    /// every run) against exact OSTN15 point by point: the largest difference is the
    /// documented bound, and outside the lattice the answer is exact OSTN15's.
    #[test]
    fn lattice_matches_ostn15_within_its_bound() {
        let bounds = [-0.3, 50.7, 1.7, 51.7];
        let lat = LatticeTransformer::wgs84_to_bng(bounds).unwrap();
        let exact = Transformer::wgs84_to_bng().unwrap();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let pts: Vec<(f64, f64)> = (0..200_000)
            .map(|_| (-0.3 + 2.0 * next(), 50.7 + 1.0 * next()))
            .collect();
        let mut a = pts.clone();
        lat.convert_in_place(&mut a).unwrap();
        let mut b = pts.clone();
        exact.convert_in_place(&mut b).unwrap();
        let worst = a
            .iter()
            .zip(&b)
            .map(|(p, q)| (p.0 - q.0).hypot(p.1 - q.1))
            .fold(0.0f64, f64::max);
        assert!(worst <= LATTICE_MAX_ERROR_M, "worst {worst} m");
        // The bound is not vacuous: interpolation is not exact.
        assert!(worst > 1e-4, "worst {worst} m");
        let outside = (-2.5, 53.0);
        assert_eq!(
            lat.convert(outside.0, outside.1).unwrap(),
            exact.convert(outside.0, outside.1).unwrap()
        );
        // Beyond OSTN15's extent (east of 1.78°): refused, by the lattice too.
        let beyond = LatticeTransformer::wgs84_to_bng([1.5, 51.0, 2.5, 51.5]).unwrap();
        assert!(beyond.convert(2.2, 51.2).is_err());
        let mut nan = [(f64::NAN, 51.0)];
        assert!(lat.convert_in_place(&mut nan).is_err());
    }

    #[test]
    fn round_trip_is_within_two_millimetres() {
        let fwd = Transformer::wgs84_to_bng().unwrap();
        let inv = Transformer::bng_to_wgs84().unwrap();
        let mut pts = vec![(0.52, 51.38), (1.44, 51.35), (0.03, 51.1), (1.08, 51.28)];
        let orig = pts.clone();
        fwd.convert_in_place(&mut pts).unwrap();
        inv.convert_in_place(&mut pts).unwrap();
        for (a, b) in pts.iter().zip(&orig) {
            // 2e-8 degrees is about 2 mm (the forward result is rounded to the millimetre,
            // and the inverse iterates).
            assert!(
                (a.0 - b.0).abs() < 2e-8 && (a.1 - b.1).abs() < 2e-8,
                "{a:?} vs {b:?}"
            );
        }
    }
}
