//! Coordinate transforms between WGS84 longitude/latitude and the British National Grid.
//!
//! All analysis runs in EPSG:27700 metres; WGS84 appears only at the edges (input CSV
//! longitude/latitude, GeoJSON output). Transforms use the real PROJ library through the
//! `proj` crate. Without the OSTN15 grid (not shipped by Debian), PROJ applies its
//! 7-parameter Helmert transformation, which is 1.9–2.5 m from OSTN15 in Kent: irrelevant
//! for 100–500 m kernels and 150 m Grip cells.

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
    /// PROJ could not build the transformation.
    #[error("cannot create transform {from} -> {to}: {message}")]
    Create {
        /// Source CRS.
        from: String,
        /// Target CRS.
        to: String,
        /// PROJ's message.
        message: String,
    },
    /// PROJ failed on a coordinate.
    #[error("cannot transform coordinate ({x}, {y}): {message}")]
    Transform {
        /// First ordinate.
        x: f64,
        /// Second ordinate.
        y: f64,
        /// PROJ's message.
        message: String,
    },
}

/// A reusable PROJ transformation between two CRSs, with traditional GIS axis order
/// (longitude before latitude, easting before northing).
///
/// Build one per thread and transform in bulk with [`Transformer::convert_in_place`].
pub struct Transformer {
    proj: Proj,
    from: &'static str,
    to: &'static str,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transformer({} -> {})", self.from, self.to)
    }
}

impl Transformer {
    fn new(from: &'static str, to: &'static str) -> Result<Self, CrsError> {
        let proj = Proj::new_known_crs(from, to, None).map_err(|e| CrsError::Create {
            from: from.to_string(),
            to: to.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self { proj, from, to })
    }

    /// WGS84 (longitude, latitude in degrees) to British National Grid (easting, northing in metres).
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

    /// Transforms one coordinate pair.
    pub fn convert(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        let mut one = [(x, y)];
        self.convert_in_place(&mut one)?;
        Ok(one[0])
    }

    /// Transforms a slice of coordinate pairs in place, in one call into PROJ.
    pub fn convert_in_place(&self, points: &mut [(f64, f64)]) -> Result<(), CrsError> {
        if points.is_empty() {
            return Ok(());
        }
        let first = points[0];
        self.proj
            .convert_array(points)
            .map_err(|e| CrsError::Transform {
                x: first.0,
                y: first.1,
                message: e.to_string(),
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Canterbury Cathedral: PROJ's `cs2cs EPSG:4326 EPSG:27700` (no grid) gives
    /// E 615109.495, N 157920.826 for lat 51.2798, lon 1.0830.
    #[test]
    fn canterbury_cathedral_matches_cs2cs() {
        let t = Transformer::wgs84_to_bng().unwrap();
        let (e, n) = t.convert(1.0830, 51.2798).unwrap();
        assert!((e - 615_109.495).abs() < 0.01, "easting {e}");
        assert!((n - 157_920.826).abs() < 0.01, "northing {n}");
    }

    #[test]
    fn round_trip_is_within_a_centimetre() {
        let fwd = Transformer::wgs84_to_bng().unwrap();
        let inv = Transformer::bng_to_wgs84().unwrap();
        let mut pts = vec![(0.52, 51.38), (1.44, 51.35), (0.03, 51.1), (1.08, 51.28)];
        let orig = pts.clone();
        fwd.convert_in_place(&mut pts).unwrap();
        inv.convert_in_place(&mut pts).unwrap();
        for (a, b) in pts.iter().zip(&orig) {
            // 1e-7 degrees is about 1 cm (the Helmert inverse is not exact to the bit).
            assert!(
                (a.0 - b.0).abs() < 1e-7 && (a.1 - b.1).abs() < 1e-7,
                "{a:?} vs {b:?}"
            );
        }
    }
}
