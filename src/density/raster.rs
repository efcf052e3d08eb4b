//! Raster output: Esri ASCII grid with a `.prj` beside it, or a single-band GeoTIFF
//! (64-bit float, EPSG:27700 in its GeoKeys, NoData in the GDAL_NODATA tag).

use std::io::Write;
use std::path::Path;

use super::Grid;

/// NoData value written for cells off land.
pub const NODATA: f64 = -9999.0;

/// ESRI WKT of EPSG:27700 (OSGB 1936 / British National Grid), written to the `.prj` file.
pub const BNG_ESRI_WKT: &str = r#"PROJCS["British_National_Grid",GEOGCS["GCS_OSGB_1936",DATUM["D_OSGB_1936",SPHEROID["Airy_1830",6377563.396,299.3249646]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",400000.0],PARAMETER["False_Northing",-100000.0],PARAMETER["Central_Meridian",-2.0],PARAMETER["Scale_Factor",0.9996012717],PARAMETER["Latitude_Of_Origin",49.0],UNIT["Meter",1.0]]"#;

/// Writes `values` (row-major, row 0 south; `NaN` = NoData) as an Esri ASCII grid, and the
/// projection beside it (same name, `.prj`). `xllcorner`/`yllcorner` are the grid's lower-left
/// corner; values carry 10 significant digits.
pub fn write_esri_ascii(path: &Path, grid: &Grid, values: &[f64]) -> std::io::Result<()> {
    // The .prj first: a grid is never left without its projection.
    crate::output::write_atomic(&path.with_extension("prj"), BNG_ESRI_WKT.as_bytes())?;
    let mut w = crate::output::AtomicFile::create(path)?;
    writeln!(w, "ncols {}", grid.nx)?;
    writeln!(w, "nrows {}", grid.ny)?;
    writeln!(w, "xllcorner {}", grid.x0_m)?;
    writeln!(w, "yllcorner {}", grid.y0_m)?;
    writeln!(w, "cellsize {}", grid.cell_m)?;
    writeln!(w, "NODATA_value {NODATA}")?;
    let mut line = String::with_capacity(grid.nx * 18);
    for iy in (0..grid.ny).rev() {
        line.clear();
        for ix in 0..grid.nx {
            let v = values[iy * grid.nx + ix];
            if ix > 0 {
                line.push(' ');
            }
            if v.is_nan() {
                line.push_str("-9999");
            } else if v == 0.0 {
                line.push('0');
            } else {
                use std::fmt::Write as _;
                let _ = write!(line, "{v:.9e}");
            }
        }
        writeln!(w, "{line}")?;
    }
    w.commit()
}

/// GeoKey directory for a projected EPSG:27700 raster with pixel-is-area semantics:
/// header (version 1.1.0, 3 keys), GTModelType = projected (1), GTRasterType = PixelIsArea (1),
/// ProjectedCSType = 27700.
pub(crate) const GEOKEYS_27700: [u16; 16] =
    [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 27700];

/// Writes `values` (row-major, row 0 south; `NaN` = NoData) as a Cloud-Optimised GeoTIFF
/// (see [`super::cog`]): 64-bit float, one band, Deflate tiles with overviews, EPSG:27700,
/// NoData −9999.
pub fn write_geotiff(path: &Path, grid: &Grid, values: &[f64]) -> std::io::Result<()> {
    crate::output::write_atomic(path, &super::cog::cog_bytes(grid, values)?)
}

/// Reads a GeoTIFF written by [`write_geotiff`] back into a grid and values (row 0 south,
/// NoData as `NaN`), checking that its GeoKeys say EPSG:27700.
pub fn read_geotiff(path: &Path) -> std::io::Result<(Grid, Vec<f64>)> {
    read_geotiff_inner(path).map_err(std::io::Error::other)?
}

fn read_geotiff_inner(path: &Path) -> Result<std::io::Result<(Grid, Vec<f64>)>, tiff::TiffError> {
    use tiff::decoder::{Decoder, DecodingResult};
    use tiff::tags::Tag;
    let bad = |m: &str| {
        Ok(Err(std::io::Error::other(format!(
            "{}: {m}",
            path.display()
        ))))
    };
    let mut dec = Decoder::new(std::io::BufReader::new(std::fs::File::open(path)?))?;
    let (nx, ny) = dec.dimensions()?;
    let scale = dec.get_tag_f64_vec(Tag::ModelPixelScaleTag)?;
    let tie = dec.get_tag_f64_vec(Tag::ModelTiepointTag)?;
    let keys = dec.get_tag_u16_vec(Tag::GeoKeyDirectoryTag)?;
    if !keys.chunks(4).any(|k| k == [3072, 0, 1, 27700]) {
        return bad("GeoKeys do not say EPSG:27700");
    }
    if scale.len() < 2 || tie.len() < 6 {
        return bad("missing pixel scale or tie point");
    }
    let cell_m = scale[0];
    let grid = Grid {
        x0_m: tie[3],
        y0_m: tie[4] - ny as f64 * cell_m,
        cell_m,
        nx: nx as usize,
        ny: ny as usize,
    };
    let DecodingResult::F64(data) = dec.read_image()? else {
        return bad("not 64-bit float samples");
    };
    let mut values = vec![0.0; data.len()];
    for (r, row) in data.chunks(grid.nx).enumerate() {
        let iy = grid.ny - 1 - r;
        for (ix, v) in row.iter().enumerate() {
            values[iy * grid.nx + ix] = if *v == NODATA { f64::NAN } else { *v };
        }
    }
    Ok(Ok((grid, values)))
}

/// Reads an Esri ASCII grid written by [`write_esri_ascii`] (for tests and round trips).
pub fn read_esri_ascii(path: &Path) -> std::io::Result<(Grid, Vec<f64>)> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let mut header = |key: &str| -> std::io::Result<f64> {
        let l = lines.next().unwrap_or("");
        let mut it = l.split_whitespace();
        let (k, v) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
        if !k.eq_ignore_ascii_case(key) {
            return Err(std::io::Error::other(format!(
                "expected {key}, found '{l}'"
            )));
        }
        v.parse()
            .map_err(|_| std::io::Error::other(format!("bad {key} value '{v}'")))
    };
    let nx = header("ncols")? as usize;
    let ny = header("nrows")? as usize;
    let x0 = header("xllcorner")?;
    let y0 = header("yllcorner")?;
    let cell = header("cellsize")?;
    let nodata = header("NODATA_value")?;
    let grid = Grid {
        x0_m: x0,
        y0_m: y0,
        cell_m: cell,
        nx,
        ny,
    };
    let mut values = vec![f64::NAN; nx * ny];
    for (r, l) in lines.take(ny).enumerate() {
        let iy = ny - 1 - r;
        for (ix, tok) in l.split_whitespace().take(nx).enumerate() {
            let v: f64 = tok
                .parse()
                .map_err(|_| std::io::Error::other(format!("bad value '{tok}'")))?;
            values[iy * nx + ix] = if v == nodata { f64::NAN } else { v };
        }
    }
    Ok((grid, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esri_ascii_round_trips_with_nine_significant_digits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.asc");
        let g = Grid {
            x0_m: 600_000.0,
            y0_m: 150_000.0,
            cell_m: 50.0,
            nx: 3,
            ny: 2,
        };
        let v = vec![
            0.0,
            1.234_567_891_23,
            f64::NAN,
            98_765.432_1,
            1e-7 / 3.0,
            5.0,
        ];
        write_esri_ascii(&p, &g, &v).unwrap();
        let (g2, v2) = read_esri_ascii(&p).unwrap();
        assert_eq!(g, g2);
        for (a, b) in v.iter().zip(&v2) {
            if a.is_nan() {
                assert!(b.is_nan());
            } else {
                assert!((a - b).abs() <= 1e-9 * a.abs(), "{a} {b}");
            }
        }
        let text = std::fs::read_to_string(&p).unwrap();
        // The first data row written is the northern one.
        assert!(text.lines().nth(6).unwrap().starts_with("9.876543210e4"));
        assert!(std::fs::read_to_string(dir.path().join("t.prj"))
            .unwrap()
            .contains("British_National_Grid"));
    }

    #[test]
    fn geotiff_round_trips_exactly_with_georeferencing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tif");
        let g = Grid {
            x0_m: 540_000.0,
            y0_m: 110_000.0,
            cell_m: 25.0,
            nx: 4,
            ny: 3,
        };
        let v: Vec<f64> = (0..12)
            .map(|i| if i == 5 { f64::NAN } else { i as f64 / 7.0 })
            .collect();
        write_geotiff(&p, &g, &v).unwrap();
        let (g2, v2) = read_geotiff(&p).unwrap();
        assert_eq!(g, g2);
        for (a, b) in v.iter().zip(&v2) {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{a} {b}"
            );
        }
    }
}
