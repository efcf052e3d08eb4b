//! A regular grid of square cells in EPSG:27700 metres; row 0 is the southernmost.

/// A regular grid: lower-left corner, cell size, columns and rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// Easting of the lower-left corner, metres.
    pub x0_m: f64,
    /// Northing of the lower-left corner, metres.
    pub y0_m: f64,
    /// Cell side, metres.
    pub cell_m: f64,
    /// Columns (west → east).
    pub nx: usize,
    /// Rows (south → north).
    pub ny: usize,
}

impl Grid {
    /// The grid covering a box, its edges snapped outward to multiples of `cell_m`.
    pub fn covering(xmin: f64, ymin: f64, xmax: f64, ymax: f64, cell_m: f64) -> Self {
        let x0 = (xmin / cell_m).floor() * cell_m;
        let y0 = (ymin / cell_m).floor() * cell_m;
        let x1 = (xmax / cell_m).ceil() * cell_m;
        let y1 = (ymax / cell_m).ceil() * cell_m;
        Self {
            x0_m: x0,
            y0_m: y0,
            cell_m,
            nx: (((x1 - x0) / cell_m).round() as usize).max(1),
            ny: (((y1 - y0) / cell_m).round() as usize).max(1),
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    /// True when the grid has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Centre of cell (column, row), metres.
    pub fn centre(&self, ix: usize, iy: usize) -> (f64, f64) {
        (
            self.x0_m + (ix as f64 + 0.5) * self.cell_m,
            self.y0_m + (iy as f64 + 0.5) * self.cell_m,
        )
    }

    /// Cell area, m².
    pub fn cell_area_m2(&self) -> f64 {
        self.cell_m * self.cell_m
    }

    /// The cell containing a point, if inside the grid.
    pub fn cell_of(&self, x_m: f64, y_m: f64) -> Option<(usize, usize)> {
        let fx = (x_m - self.x0_m) / self.cell_m;
        let fy = (y_m - self.y0_m) / self.cell_m;
        if fx < 0.0 || fy < 0.0 {
            return None;
        }
        let (ix, iy) = (fx as usize, fy as usize);
        (ix < self.nx && iy < self.ny).then_some((ix, iy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_snaps_outward_to_the_cell_size() {
        let g = Grid::covering(533_321.0, 125_010.0, 655_101.0, 185_499.0, 50.0);
        assert_eq!((g.x0_m, g.y0_m), (533_300.0, 125_000.0));
        assert_eq!(g.x0_m + g.nx as f64 * 50.0, 655_150.0);
        assert_eq!(g.y0_m + g.ny as f64 * 50.0, 185_500.0);
        assert_eq!(g.centre(0, 0), (533_325.0, 125_025.0));
        assert_eq!(g.cell_of(533_349.9, 125_000.0), Some((0, 0)));
        assert_eq!(g.cell_of(533_299.9, 125_000.0), None);
    }
}
