//! Spatial index of incidents (rstar) for radius and bounding-box queries.

use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

use super::IncidentStore;

/// An incident position (EPSG:27700 metres) with its row in the store.
pub type IndexedPoint = GeomWithData<[f64; 2], u32>;

/// An rstar R-tree over incident positions.
#[derive(Debug, Clone)]
pub struct IncidentIndex {
    tree: RTree<IndexedPoint>,
}

impl IncidentIndex {
    /// Bulk-loads the index for all incidents of a store.
    pub fn build(store: &IncidentStore) -> Self {
        let pts = (0..store.len())
            .map(|i| GeomWithData::new([store.x_m[i], store.y_m[i]], i as u32))
            .collect();
        Self {
            tree: RTree::bulk_load(pts),
        }
    }

    /// Rows within `radius_m` of (x, y), boundary inclusive, in no particular order.
    pub fn within_radius(
        &self,
        x_m: f64,
        y_m: f64,
        radius_m: f64,
    ) -> impl Iterator<Item = u32> + '_ {
        // rstar takes the squared distance.
        self.tree
            .locate_within_distance([x_m, y_m], radius_m * radius_m)
            .map(|p| p.data)
    }

    /// Rows inside the box [xmin, xmax] × [ymin, ymax], boundary inclusive.
    pub fn within_bbox(
        &self,
        xmin: f64,
        ymin: f64,
        xmax: f64,
        ymax: f64,
    ) -> impl Iterator<Item = u32> + '_ {
        self.tree
            .locate_in_envelope(&AABB::from_corners([xmin, ymin], [xmax, ymax]))
            .map(|p| p.data)
    }

    /// Number of indexed points.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }
}
