//! Hotspot polygons by contouring a surface at a threshold (the `contour` crate: marching
//! squares as in d3-contour), holes kept, slivers dropped.

use geo::{Area, MultiPolygon, Polygon};

use crate::density::Grid;

/// The connected areas where `values ≥ threshold`, in EPSG:27700, each with its holes.
/// Cells off land (`NaN`) count as below. Polygons under `min_area_m2` are dropped.
pub fn threshold_polygons(
    grid: &Grid,
    values: &[f64],
    threshold: f64,
    min_area_m2: f64,
) -> Result<Vec<Polygon<f64>>, String> {
    // Pad with a ring of empty cells so every polygon closes inside the grid.
    let (nx, ny) = (grid.nx + 2, grid.ny + 2);
    let mut padded = vec![0.0; nx * ny];
    for iy in 0..grid.ny {
        for ix in 0..grid.nx {
            let v = values[iy * grid.nx + ix];
            padded[(iy + 1) * nx + ix + 1] = if v.is_nan() { 0.0 } else { v };
        }
    }
    // As in d3-contour, the value at index i sits at origin + (i + ½)·step, so the origin is
    // the outer corner of the padding ring.
    let builder = contour::ContourBuilder::new(nx, ny, false)
        .x_origin(grid.x0_m - grid.cell_m)
        .y_origin(grid.y0_m - grid.cell_m)
        .x_step(grid.cell_m)
        .y_step(grid.cell_m);
    let contours = builder
        .contours(&padded, &[threshold])
        .map_err(|e| format!("contouring failed: {e:?}"))?;
    let mut out = Vec::new();
    for c in contours {
        let (mp, _): (MultiPolygon<f64>, f64) = c.into_inner();
        for p in mp {
            if p.unsigned_area() >= min_area_m2 {
                out.push(p);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Point};

    #[test]
    fn two_blobs_one_with_a_hole_and_a_sliver_dropped() {
        let g = Grid {
            x0_m: 0.0,
            y0_m: 0.0,
            cell_m: 10.0,
            nx: 20,
            ny: 10,
        };
        let mut v = vec![0.0; g.len()];
        // A 5×5 ring (hole in the middle) at columns 1..6, rows 2..7.
        for iy in 2..7 {
            for ix in 1..6 {
                if !(ix == 3 && iy == 4) {
                    v[iy * g.nx + ix] = 5.0;
                }
            }
        }
        // A 3×3 block at columns 12..15, and a lone cell (sliver) at column 18.
        for iy in 3..6 {
            for ix in 12..15 {
                v[iy * g.nx + ix] = 4.0;
            }
        }
        v[8 * g.nx + 18] = 9.0;
        v[0] = f64::NAN;
        let polys = threshold_polygons(&g, &v, 2.0, 150.0).unwrap();
        assert_eq!(polys.len(), 2, "{polys:?}");
        let ring = polys.iter().find(|p| !p.interiors().is_empty()).unwrap();
        // The hole's cell centre (35, 45) is outside; a ring cell centre (15, 25) inside.
        assert!(!ring.contains(&Point::new(35.0, 45.0)));
        assert!(ring.contains(&Point::new(15.0, 25.0)));
        let block = polys.iter().find(|p| p.interiors().is_empty()).unwrap();
        assert!(block.contains(&Point::new(135.0, 45.0)));
        // Marching squares cuts corners half-way between centres: area between the
        // centres' hull (20×20) and the cells' (30×30).
        let a = block.unsigned_area();
        assert!(a > 400.0 && a < 900.0, "{a}");
    }
}
