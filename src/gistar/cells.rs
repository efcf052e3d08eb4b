//! Land cells for aggregation: H3 cells (h3o) whose centroid lies inside the boundaries, or
//! square EPSG:27700 cells whose centre does; empty cells included, so means and variances
//! run over the whole land surface.

use geo::{MultiPolygon, Rect};
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};
use hashbrown::HashMap;

use crate::boundaries::{BoundaryPack, DistrictIndex};
use crate::crs::{CrsError, Transformer};
use crate::incidents::{HarmTable, IncidentStore};

/// Which cells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellKind {
    /// H3 at a resolution 7–11.
    H3(u8),
    /// Squares of this side, metres, aligned to the BNG origin.
    Grid(f64),
}

impl std::str::FromStr for CellKind {
    type Err = String;
    /// `h3:9` or `grid:150`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("cells '{s}': expected h3:R (R = 7..11) or grid:M (M = 10..10000 metres)");
        let (k, v) = s.split_once(':').ok_or_else(bad)?;
        match k {
            "h3" => v
                .parse::<u8>()
                .ok()
                .filter(|r| (7..=11).contains(r))
                .map(CellKind::H3)
                .ok_or_else(bad),
            "grid" => v
                .parse::<f64>()
                .ok()
                .filter(|m| *m >= 10.0 && *m <= 10_000.0)
                .map(CellKind::Grid)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

/// How neighbours are defined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Neighbourhood {
    /// H3 grid disk of radius k (k = 1: the 6 touching cells); for squares, the
    /// (2k+1)² block (k = 1: queen contiguity).
    Ring(u32),
    /// Every cell whose centre is within this many metres (squares only; at most
    /// [`MAX_BAND_CELLS`] cell sides).
    Band(f64),
}

/// Largest distance band, in cell sides: about π·12² ≈ 450 neighbours per cell, four times
/// ring:5's 120, keeping neighbour lists of Kent's land cells at 150 m (about 170,000) under
/// 0.3 GB. Larger bands grow memory with the square of the distance.
pub const MAX_BAND_CELLS: f64 = 12.0;

/// A set of land cells with neighbour lists.
#[derive(Debug, Clone)]
pub struct CellSet {
    /// What they are.
    pub kind: CellKind,
    /// Cell ids: H3 index strings, or `<side>m:<easting>:<northing>` of the south-west corner.
    pub ids: Vec<String>,
    /// H3 cells (H3 only).
    h3: Vec<CellIndex>,
    /// South-west corners in cell units (grid only).
    squares: Vec<(i64, i64)>,
    lookup_h3: HashMap<CellIndex, u32>,
    lookup_sq: HashMap<(i64, i64), u32>,
    /// Neighbours of each cell (land cells only, the cell itself excluded).
    pub neighbours: Vec<Vec<u32>>,
}

impl CellSet {
    /// Builds the land cells of `pack` and their neighbours.
    pub fn build(
        pack: &BoundaryPack,
        districts: &DistrictIndex,
        kind: CellKind,
        nb: Neighbourhood,
    ) -> Result<Self, String> {
        let mut set = CellSet {
            kind,
            ids: Vec::new(),
            h3: Vec::new(),
            squares: Vec::new(),
            lookup_h3: HashMap::new(),
            lookup_sq: HashMap::new(),
            neighbours: Vec::new(),
        };
        match kind {
            CellKind::H3(res) => {
                let res = Resolution::try_from(res).map_err(|e| e.to_string())?;
                let t = Transformer::bng_to_wgs84().map_err(|e| e.to_string())?;
                let mut tiler = TilerBuilder::new(res)
                    .containment_mode(ContainmentMode::ContainsCentroid)
                    .build();
                for d in &pack.districts {
                    for poly in &d.geometry {
                        tiler
                            .add(to_wgs84(poly, &t).map_err(|e| e.to_string())?)
                            .map_err(|e| format!("district {}: {e}", d.code))?;
                    }
                }
                let mut cells: Vec<CellIndex> = tiler.into_coverage().collect();
                cells.sort_unstable();
                cells.dedup();
                set.h3 = cells;
                for (i, c) in set.h3.iter().enumerate() {
                    set.lookup_h3.insert(*c, i as u32);
                }
                set.ids = set.h3.iter().map(|c| c.to_string()).collect();
                let k = match nb {
                    Neighbourhood::Ring(k) => k,
                    Neighbourhood::Band(_) => {
                        return Err(
                            "a distance band applies to grid cells; use a ring k for H3".into()
                        )
                    }
                };
                set.neighbours = set
                    .h3
                    .iter()
                    .map(|c| {
                        let disk: Vec<CellIndex> = c.grid_disk(k);
                        let mut v: Vec<u32> = disk
                            .iter()
                            .filter(|d| *d != c)
                            .filter_map(|d| set.lookup_h3.get(d).copied())
                            .collect();
                        v.sort_unstable();
                        v
                    })
                    .collect();
            }
            CellKind::Grid(side) => {
                let b = pack.bbox().ok_or("empty boundary pack")?;
                let (x0, x1) = (
                    (b.min().x / side).floor() as i64,
                    (b.max().x / side).ceil() as i64,
                );
                let (y0, y1) = (
                    (b.min().y / side).floor() as i64,
                    (b.max().y / side).ceil() as i64,
                );
                for gy in y0..y1 {
                    for gx in x0..x1 {
                        let (cx, cy) = ((gx as f64 + 0.5) * side, (gy as f64 + 0.5) * side);
                        if districts.locate(cx, cy).is_some() {
                            set.lookup_sq.insert((gx, gy), set.squares.len() as u32);
                            set.squares.push((gx, gy));
                        }
                    }
                }
                set.ids = set
                    .squares
                    .iter()
                    .map(|(gx, gy)| format!("{side}m:{}:{}", *gx as f64 * side, *gy as f64 * side))
                    .collect();
                let reach = match nb {
                    Neighbourhood::Ring(k) => i64::from(k),
                    Neighbourhood::Band(d) => (d / side).floor() as i64,
                };
                let band2 = match nb {
                    Neighbourhood::Band(d) => Some((d / side).powi(2)),
                    Neighbourhood::Ring(_) => None,
                };
                set.neighbours = set
                    .squares
                    .iter()
                    .map(|&(gx, gy)| {
                        let mut v = Vec::new();
                        for dy in -reach..=reach {
                            for dx in -reach..=reach {
                                if (dx, dy) == (0, 0) {
                                    continue;
                                }
                                if let Some(b2) = band2 {
                                    if ((dx * dx + dy * dy) as f64) > b2 + 1e-9 {
                                        continue;
                                    }
                                }
                                if let Some(&j) = set.lookup_sq.get(&(gx + dx, gy + dy)) {
                                    v.push(j);
                                }
                            }
                        }
                        v.sort_unstable();
                        v
                    })
                    .collect();
            }
        }
        Ok(set)
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The cell of each store row (`None`: its cell is not a land cell).
    pub fn assign(&self, store: &IncidentStore) -> Result<Vec<Option<u32>>, CrsError> {
        let pts: Vec<(f64, f64)> = (0..store.len())
            .map(|i| (store.x_m[i], store.y_m[i]))
            .collect();
        self.assign_points(&pts)
    }

    /// The cell of each EPSG:27700 point (`None`: not a land cell).
    pub fn assign_points(&self, bng: &[(f64, f64)]) -> Result<Vec<Option<u32>>, CrsError> {
        match self.kind {
            CellKind::H3(res) => {
                let res = Resolution::try_from(res).unwrap_or(Resolution::Nine);
                let t = Transformer::bng_to_wgs84()?;
                let mut pts = bng.to_vec();
                t.convert_in_place(&mut pts)?;
                Ok(pts
                    .iter()
                    .map(|(lon, lat)| {
                        LatLng::new(*lat, *lon)
                            .ok()
                            .and_then(|ll| self.lookup_h3.get(&ll.to_cell(res)).copied())
                    })
                    .collect())
            }
            CellKind::Grid(side) => Ok(bng
                .iter()
                .map(|(x, y)| {
                    let k = ((x / side).floor() as i64, (y / side).floor() as i64);
                    self.lookup_sq.get(&k).copied()
                })
                .collect()),
        }
    }

    /// Counts and harm per cell of the rows passing `keep`; also the rows whose cell is not
    /// a land cell.
    pub fn aggregate(
        &self,
        store: &IncidentStore,
        cells: &[Option<u32>],
        harm: &HarmTable,
        keep: impl Fn(usize) -> bool,
    ) -> (Vec<f64>, Vec<f64>, usize) {
        let mut count = vec![0.0; self.len()];
        let mut h = vec![0.0; self.len()];
        let mut outside = 0;
        for (i, c) in cells.iter().enumerate() {
            if !keep(i) {
                continue;
            }
            match c {
                Some(c) => {
                    count[*c as usize] += 1.0;
                    h[*c as usize] += store.harm(i, harm);
                }
                None => outside += 1,
            }
        }
        (count, h, outside)
    }

    /// Cell `i`'s outline: WGS84 for H3 (degrees), EPSG:27700 for squares (metres).
    pub fn geometry(&self, i: usize) -> MultiPolygon<f64> {
        match self.kind {
            CellKind::H3(_) => MultiPolygon::from(self.h3[i]),
            CellKind::Grid(side) => {
                let (gx, gy) = self.squares[i];
                let (x, y) = (gx as f64 * side, gy as f64 * side);
                MultiPolygon::new(vec![Rect::new((x, y), (x + side, y + side)).to_polygon()])
            }
        }
    }

    /// True when [`CellSet::geometry`] is already WGS84.
    pub fn geometry_is_wgs84(&self) -> bool {
        matches!(self.kind, CellKind::H3(_))
    }
}

fn to_wgs84(p: &geo::Polygon<f64>, t: &Transformer) -> Result<geo::Polygon<f64>, CrsError> {
    let ring = |ls: &geo::LineString<f64>| -> Result<geo::LineString<f64>, CrsError> {
        let mut pts: Vec<(f64, f64)> = ls.0.iter().map(|c| (c.x, c.y)).collect();
        t.convert_in_place(&mut pts)?;
        Ok(geo::LineString::from(pts))
    };
    Ok(geo::Polygon::new(
        ring(p.exterior())?,
        p.interiors().iter().map(ring).collect::<Result<_, _>>()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cell_kinds() {
        assert_eq!("h3:9".parse(), Ok(CellKind::H3(9)));
        assert_eq!("grid:150".parse(), Ok(CellKind::Grid(150.0)));
        assert!("h3:12".parse::<CellKind>().is_err());
        assert!("hex:9".parse::<CellKind>().is_err());
    }

    #[test]
    fn land_cells_and_neighbours() {
        let pack = BoundaryPack::kent_medway().unwrap();
        let idx = DistrictIndex::new(&pack);
        let g =
            CellSet::build(&pack, &idx, CellKind::Grid(1000.0), Neighbourhood::Ring(1)).unwrap();
        // 1 km squares by centre: about the land area in km².
        assert!((g.len() as f64 - 3739.0).abs() < 60.0, "{}", g.len());
        assert!(g.neighbours.iter().all(|n| n.len() <= 8));
        assert!(g.neighbours.iter().filter(|n| n.len() == 8).count() > 3000);
        // Symmetric.
        for (i, n) in g.neighbours.iter().enumerate() {
            for &j in n {
                assert!(g.neighbours[j as usize].contains(&(i as u32)));
            }
        }
        let band = CellSet::build(
            &pack,
            &idx,
            CellKind::Grid(1000.0),
            Neighbourhood::Band(1500.0),
        )
        .unwrap();
        // Band 1.5 cells: the 8 queen neighbours (√2 ≤ 1.5) but not distance-2 cells.
        assert_eq!(band.neighbours, g.neighbours);
        let h = CellSet::build(&pack, &idx, CellKind::H3(7), Neighbourhood::Ring(1)).unwrap();
        // The cells' own (geodesic) areas add up to about the land area.
        use geo::GeodesicArea;
        let km2: f64 = (0..h.len())
            .map(|i| h.geometry(i).geodesic_area_unsigned())
            .sum::<f64>()
            / 1e6;
        assert!(
            (km2 - 3739.0).abs() < 0.03 * 3739.0,
            "{} cells, {km2} km²",
            h.len()
        );
        assert!(h.neighbours.iter().all(|n| n.len() <= 6));
    }
}
