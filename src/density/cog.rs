//! Cloud-Optimised GeoTIFF writer for density surfaces: one band of 64-bit floats in
//! 256 × 256 Deflate tiles, internal overviews down to one tile, every IFD before the data
//! and the smallest overview's tiles first, so a client reading over HTTP range requests
//! (QGIS, ArcGIS Pro, GDAL's /vsicurl/) fetches the header once and then only the tiles
//! it shows.
//!
//! Layout as in the COG specification (cogeo.org) and GDAL's COG driver: TIFF header, a
//! "ghost" block of structural metadata that tells GDAL the file follows the layout, the
//! IFD of the full resolution, the overviews' IFDs (NewSubfileType = 1), then the tile data
//! of the overviews from the smallest up and of the full resolution last.
//!
//! Written here rather than with a library: the `tiff` crate's encoder writes strips with
//! each IFD after its data and no overviews, and the only COG writers are GDAL's (a large C
//! dependency the build avoids, see dependencies.md). Reading uses the `tiff` crate, and
//! the tests check the files with GDAL's own `validate_cloud_optimized_geotiff.py`.

use std::io::Write;

use rayon::prelude::*;

use super::raster::{GEOKEYS_27700, NODATA};
use super::Grid;

/// Tile side, pixels.
pub const TILE: usize = 256;

/// TIFF field types.
const SHORT: u16 = 3;
const LONG: u16 = 4;
const ASCII: u16 = 2;
const DOUBLE: u16 = 12;

/// One resolution: rows from the north, NoData as NaN.
struct Level {
    nx: usize,
    ny: usize,
    data: Vec<f64>,
}

impl Level {
    /// Half the resolution: each pixel the mean of the valid pixels of its 2 × 2 block
    /// (NaN when none is valid), sizes rounded up.
    fn halve(&self) -> Level {
        let (nx, ny) = (self.nx.div_ceil(2), self.ny.div_ceil(2));
        let mut data = vec![f64::NAN; nx * ny];
        data.par_chunks_mut(nx.max(1))
            .enumerate()
            .for_each(|(y, row)| {
                for (x, out) in row.iter_mut().enumerate() {
                    let (mut sum, mut n) = (0.0, 0u32);
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let (sx, sy) = (2 * x + dx, 2 * y + dy);
                        if sx < self.nx && sy < self.ny {
                            let v = self.data[sy * self.nx + sx];
                            if !v.is_nan() {
                                sum += v;
                                n += 1;
                            }
                        }
                    }
                    if n > 0 {
                        *out = sum / f64::from(n);
                    }
                }
            });
        Level { nx, ny, data }
    }

    fn tiles_across(&self) -> usize {
        self.nx.div_ceil(TILE)
    }

    fn tiles_down(&self) -> usize {
        self.ny.div_ceil(TILE)
    }

    /// Tile (tx, ty) as little-endian samples, NoData for NaN and beyond the edge,
    /// Deflate (zlib) compressed.
    fn tile(&self, tx: usize, ty: usize) -> std::io::Result<Vec<u8>> {
        let mut raw = Vec::with_capacity(TILE * TILE * 8);
        for r in 0..TILE {
            let y = ty * TILE + r;
            for c in 0..TILE {
                let x = tx * TILE + c;
                let v = if x < self.nx && y < self.ny {
                    self.data[y * self.nx + x]
                } else {
                    f64::NAN
                };
                let v = if v.is_nan() { NODATA } else { v };
                raw.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&raw)?;
        z.finish()
    }
}

/// One IFD entry: tag, type, count and the value's bytes (little-endian).
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    bytes: Vec<u8>,
}

fn shorts(tag: u16, v: &[u16]) -> Entry {
    Entry {
        tag,
        kind: SHORT,
        count: v.len() as u32,
        bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn longs(tag: u16, v: &[u32]) -> Entry {
    Entry {
        tag,
        kind: LONG,
        count: v.len() as u32,
        bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn doubles(tag: u16, v: &[f64]) -> Entry {
    Entry {
        tag,
        kind: DOUBLE,
        count: v.len() as u32,
        bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn ascii(tag: u16, s: &str) -> Entry {
    let mut bytes = s.as_bytes().to_vec();
    bytes.push(0);
    Entry {
        tag,
        kind: ASCII,
        count: bytes.len() as u32,
        bytes,
    }
}

/// The IFD at file offset `at` (entries sorted by tag), its out-of-line values right after
/// it, then `next` as the following IFD's offset.
fn ifd_bytes(mut entries: Vec<Entry>, at: u32, next: u32) -> Vec<u8> {
    entries.sort_by_key(|e| e.tag);
    let table_len = 2 + 12 * entries.len() + 4;
    let mut out = Vec::with_capacity(table_len);
    let mut extra: Vec<u8> = Vec::new();
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for e in &entries {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.kind.to_le_bytes());
        out.extend_from_slice(&e.count.to_le_bytes());
        if e.bytes.len() <= 4 {
            let mut v = e.bytes.clone();
            v.resize(4, 0);
            out.extend_from_slice(&v);
        } else {
            let off = at + table_len as u32 + extra.len() as u32;
            out.extend_from_slice(&off.to_le_bytes());
            extra.extend_from_slice(&e.bytes);
            if extra.len() % 2 == 1 {
                extra.push(0);
            }
        }
    }
    out.extend_from_slice(&next.to_le_bytes());
    out.extend_from_slice(&extra);
    out
}

/// GDAL's structural metadata block, placed right after the header.
fn ghost() -> Vec<u8> {
    let body = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nKNOWN_INCOMPATIBLE_EDITION=NO\n ";
    format!(
        "GDAL_STRUCTURAL_METADATA_SIZE={:06} bytes\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The surface `values` (row-major, row 0 south; NaN = NoData) on `grid` as the bytes of a
/// Cloud-Optimised GeoTIFF: EPSG:27700 in its GeoKeys, NoData −9999 (GDAL_NODATA), the
/// grid's north-west corner as the tie point. Same input, same bytes.
///
/// Errors: a file over 4 GiB (classic TIFF offsets), or compression failing.
pub fn cog_bytes(grid: &Grid, values: &[f64]) -> std::io::Result<Vec<u8>> {
    let (nx, ny) = (grid.nx, grid.ny);
    if values.len() != nx * ny || nx == 0 || ny == 0 {
        return Err(std::io::Error::other(format!(
            "{} values for a {nx} × {ny} grid",
            values.len()
        )));
    }
    let mut north_first = Vec::with_capacity(nx * ny);
    for iy in (0..ny).rev() {
        north_first.extend_from_slice(&values[iy * nx..(iy + 1) * nx]);
    }
    let mut levels = vec![Level {
        nx,
        ny,
        data: north_first,
    }];
    while levels.last().is_some_and(|l| l.nx > TILE || l.ny > TILE) {
        let next = levels[levels.len() - 1].halve();
        levels.push(next);
    }
    // Every level's tiles, compressed in parallel.
    let tiles: Vec<Vec<Vec<u8>>> = levels
        .iter()
        .map(|l| {
            (0..l.tiles_across() * l.tiles_down())
                .into_par_iter()
                .map(|k| l.tile(k % l.tiles_across(), k / l.tiles_across()))
                .collect::<std::io::Result<Vec<_>>>()
        })
        .collect::<std::io::Result<_>>()?;
    let top = grid.y0_m + ny as f64 * grid.cell_m;
    let entries = |k: usize, offsets: &[u32]| -> Vec<Entry> {
        let l = &levels[k];
        let mut e = vec![
            longs(254, &[u32::from(k > 0)]),
            longs(256, &[l.nx as u32]),
            longs(257, &[l.ny as u32]),
            shorts(258, &[64]),
            shorts(259, &[8]),
            shorts(262, &[1]),
            shorts(277, &[1]),
            shorts(284, &[1]),
            shorts(322, &[TILE as u16]),
            shorts(323, &[TILE as u16]),
            longs(324, offsets),
            longs(
                325,
                &tiles[k].iter().map(|t| t.len() as u32).collect::<Vec<_>>(),
            ),
            shorts(339, &[3]),
            ascii(42113, "-9999"),
        ];
        if k == 0 {
            e.push(doubles(33550, &[grid.cell_m, grid.cell_m, 0.0]));
            e.push(doubles(33922, &[0.0, 0.0, 0.0, grid.x0_m, top, 0.0]));
            e.push(shorts(34735, &GEOKEYS_27700));
        }
        e
    };
    // IFD sizes do not depend on the offsets in them: lay them out with zeros first.
    let ghost = ghost();
    let mut ifd_at = Vec::with_capacity(levels.len());
    let mut at = 8 + ghost.len() as u32;
    for (k, t) in tiles.iter().enumerate() {
        at += at % 2;
        ifd_at.push(at);
        at += ifd_bytes(entries(k, &vec![0; t.len()]), at, 0).len() as u32;
    }
    // Tile data: the smallest overview first, the full resolution last.
    let mut offsets: Vec<Vec<u32>> = vec![Vec::new(); levels.len()];
    let mut data_at = u64::from(at);
    for k in (0..levels.len()).rev() {
        for t in &tiles[k] {
            offsets[k].push(u32::try_from(data_at).map_err(|_| {
                std::io::Error::other("the surface is too large for a classic TIFF (4 GiB)")
            })?);
            data_at += t.len() as u64;
        }
    }
    u32::try_from(data_at)
        .map_err(|_| std::io::Error::other("the surface is too large for a classic TIFF"))?;
    let mut out = Vec::with_capacity(data_at as usize);
    out.extend_from_slice(b"II");
    out.extend_from_slice(&42u16.to_le_bytes());
    out.extend_from_slice(&ifd_at[0].to_le_bytes());
    out.extend_from_slice(&ghost);
    for k in 0..levels.len() {
        if out.len() % 2 == 1 {
            out.push(0);
        }
        debug_assert_eq!(out.len() as u32, ifd_at[k]);
        let next = ifd_at.get(k + 1).copied().unwrap_or(0);
        out.extend_from_slice(&ifd_bytes(entries(k, &offsets[k]), ifd_at[k], next));
    }
    for k in (0..levels.len()).rev() {
        for t in &tiles[k] {
            out.extend_from_slice(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surface(nx: usize, ny: usize) -> (Grid, Vec<f64>) {
        let grid = Grid {
            x0_m: 540_000.0,
            y0_m: 110_000.0,
            cell_m: 50.0,
            nx,
            ny,
        };
        let values = (0..nx * ny)
            .map(|i| {
                let (x, y) = (i % nx, i / nx);
                if (x + 3 * y) % 17 == 0 {
                    f64::NAN
                } else {
                    (x as f64 * 0.37).sin() * 100.0 + y as f64 / 7.0
                }
            })
            .collect();
        (grid, values)
    }

    #[test]
    fn full_resolution_reads_back_exactly_and_overviews_are_block_means() {
        use tiff::decoder::{Decoder, DecodingResult};
        let (grid, values) = surface(600, 300);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.tif");
        std::fs::write(&path, cog_bytes(&grid, &values).unwrap()).unwrap();
        let (g2, v2) = super::super::raster::read_geotiff(&path).unwrap();
        assert_eq!(
            (g2.nx, g2.ny, g2.x0_m, g2.y0_m, g2.cell_m),
            (600, 300, 540_000.0, 110_000.0, 50.0)
        );
        for (a, b) in values.iter().zip(&v2) {
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        }
        // The first overview (300 × 150), each pixel the mean of the valid pixels under it,
        // computed here from the rows as given (row 0 south).
        let mut dec = Decoder::new(std::fs::File::open(&path).unwrap()).unwrap();
        dec.next_image().unwrap();
        assert_eq!(dec.dimensions().unwrap(), (300, 150));
        let DecodingResult::F64(ov) = dec.read_image().unwrap() else {
            panic!("not f64")
        };
        for r in 0..150 {
            for c in 0..300 {
                let mut v = Vec::new();
                for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let north_row = 2 * r + dr;
                    let iy = 299 - north_row;
                    let x = values[iy * 600 + 2 * c + dc];
                    if !x.is_nan() {
                        v.push(x);
                    }
                }
                let want = if v.is_empty() {
                    NODATA
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                };
                let got = ov[r * 300 + c];
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "({r}, {c}): {got} vs {want}"
                );
            }
        }
        // Then one more overview of one tile, and no further image.
        dec.next_image().unwrap();
        assert_eq!(dec.dimensions().unwrap(), (150, 75));
        assert!(!dec.more_images());
    }

    #[test]
    fn same_surface_same_bytes_and_ifds_come_before_the_data() {
        let (grid, values) = surface(700, 520);
        let a = cog_bytes(&grid, &values).unwrap();
        assert_eq!(a, cog_bytes(&grid, &values).unwrap());
        let first_ifd = u32::from_le_bytes([a[4], a[5], a[6], a[7]]) as usize;
        assert!(a[8..first_ifd].starts_with(b"GDAL_STRUCTURAL_METADATA_SIZE="));
        // Walk the IFDs: each follows the previous, all before the first tile.
        let (mut at, mut first_tile, mut last_ifd_end) = (first_ifd, usize::MAX, 0);
        let mut n = 0;
        while at != 0 {
            let count = u16::from_le_bytes([a[at], a[at + 1]]) as usize;
            for e in 0..count {
                let p = at + 2 + 12 * e;
                let tag = u16::from_le_bytes([a[p], a[p + 1]]);
                if tag == 324 {
                    let c = u32::from_le_bytes([a[p + 4], a[p + 5], a[p + 6], a[p + 7]]) as usize;
                    let v = u32::from_le_bytes([a[p + 8], a[p + 9], a[p + 10], a[p + 11]]) as usize;
                    let first = if c == 1 {
                        v
                    } else {
                        u32::from_le_bytes([a[v], a[v + 1], a[v + 2], a[v + 3]]) as usize
                    };
                    first_tile = first_tile.min(first);
                }
            }
            last_ifd_end = last_ifd_end.max(at + 2 + 12 * count + 4);
            let p = at + 2 + 12 * count;
            at = u32::from_le_bytes([a[p], a[p + 1], a[p + 2], a[p + 3]]) as usize;
            n += 1;
        }
        assert_eq!(n, 3, "700 × 520, 350 × 260, 175 × 130");
        assert!(last_ifd_end <= first_tile);
    }
}
