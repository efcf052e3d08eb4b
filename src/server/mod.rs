//! The hotspot service: OGC API – Features (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0; Part 2
//! CRS by reference) over the computed layers, with downloads, vector and raster tiles.
//! Layers are computed once at start; handlers only read them, so no request can change
//! state, and every bad request gets an application/problem+json 4xx.

pub mod access;
pub mod base_url;
pub mod cache;
pub mod collections;
pub mod config;
pub mod html;
pub mod listen;
pub mod live;
pub mod map;
pub mod ogc;
pub mod raster_tiles;
pub mod selection;
pub mod vector_tiles;

use std::sync::Arc;

pub use collections::Collection;

/// The analysis inputs the server keeps.
#[derive(Debug)]
pub struct Data {
    /// Boundaries.
    pub pack: crate::boundaries::BoundaryPack,
    /// Their index.
    pub districts: crate::boundaries::DistrictIndex,
    /// Incidents.
    pub store: crate::incidents::IncidentStore,
    /// Harm weights.
    pub harm: crate::incidents::HarmTable,
    /// Record keys and period units of the incidents for perturbing selection counts,
    /// made at the first selection (not at start, which must stay instant).
    pub cell_keys: std::sync::OnceLock<crate::disclosure::CellKeys>,
}

impl Data {
    /// The incidents' cell keys at `granularity` (one granularity per service: the config's
    /// `[disclosure]`; another is computed afresh).
    pub fn cell_keys(
        &self,
        granularity: crate::disclosure::Granularity,
    ) -> std::borrow::Cow<'_, crate::disclosure::CellKeys> {
        let keys = self
            .cell_keys
            .get_or_init(|| crate::disclosure::CellKeys::new(&self.store, granularity));
        if keys.granularity == granularity {
            std::borrow::Cow::Borrowed(keys)
        } else {
            std::borrow::Cow::Owned(crate::disclosure::CellKeys::new(&self.store, granularity))
        }
    }
}

/// What does not change when a new snapshot is served: the service's settings.
#[derive(Debug)]
pub struct Settings {
    /// Which browser origins may read the API.
    pub cors: config::CorsConfig,
    /// The map page's front-end library.
    pub map: map::MapAssets,
    /// The map page's basemap.
    pub map_config: map::MapConfig,
    /// How each request's absolute base URL is made.
    pub base: base_url::BasePolicy,
    /// Organisations, tokens and the audit log.
    pub access: Arc<access::Access>,
    /// Tiers named in the service's config (`[layers]`): a layer is served at the stricter
    /// of this and the tier its snapshot was published with.
    pub tiers: std::collections::BTreeMap<String, crate::disclosure::Tier>,
    /// Connection and request bounds.
    pub limits: listen::Limits,
    /// Expensive requests (selections, downloads) computed at once.
    pub expensive: Arc<tokio::sync::Semaphore>,
}

impl Default for Settings {
    fn default() -> Self {
        let limits = listen::Limits::default();
        Settings {
            cors: Default::default(),
            map: Default::default(),
            map_config: Default::default(),
            base: Default::default(),
            access: Default::default(),
            tiers: Default::default(),
            limits,
            expensive: Arc::new(tokio::sync::Semaphore::new(limits.max_expensive)),
        }
    }
}

impl Settings {
    /// The tier layer `id` is served at: the stricter of `published` and the config's.
    pub fn served_tier(
        &self,
        id: &str,
        published: crate::disclosure::Tier,
    ) -> crate::disclosure::Tier {
        match self.tiers.get(id) {
            Some(&t) if t != published => {
                tracing::warn!(
                    "layer '{id}': the config says {}, the snapshot was published as {}: served as {}",
                    t.slug(),
                    published.slug(),
                    t.max(published).slug()
                );
                t.max(published)
            }
            _ => published,
        }
    }
}

/// Which published snapshot a state serves.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SnapshotInfo {
    /// The run's directory (not shown in `/status`: a server path).
    #[serde(skip)]
    pub run_dir: std::path::PathBuf,
    /// Its run id.
    pub run_id: String,
    /// When the refresh finished.
    pub finished_at: String,
    /// Incidents in it.
    pub incidents: u64,
}

/// Everything the handlers read: one snapshot's layers and data, and the settings.
#[derive(Debug)]
pub struct AppState {
    /// The collections, in listing order.
    pub collections: Vec<Collection>,
    /// The boundaries and incidents the layers were computed from (never served as
    /// points; selections are counted and smoothed from them).
    pub data: Data,
    /// The density surfaces behind the heatmap tiles.
    pub heatmap: raster_tiles::Heatmap,
    /// The collections prepared as vector tiles.
    pub tiles: vector_tiles::VectorTiles,
    /// Settings shared by every snapshot served.
    pub settings: Arc<Settings>,
    /// The published snapshot served (`None`: layers computed at start).
    pub snapshot: Option<SnapshotInfo>,
    /// Whether the snapshot was made by this process at start (a quick look at incident
    /// files, not `--layers`).
    pub computed_at_start: bool,
    /// Incremented at each swap; part of the response cache's key.
    pub generation: u64,
}

/// A strong ETag for a body: the first 96 bits of its SHA-256, quoted.
pub fn etag_of(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

impl AppState {
    /// A collection by id.
    pub fn collection(&self, id: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.id == id)
    }

    /// The collections `caller` may read, in listing order.
    pub fn readable<'a>(
        &'a self,
        caller: &'a access::Caller,
    ) -> impl Iterator<Item = &'a Collection> + 'a {
        self.collections
            .iter()
            .filter(move |c| caller.may_read(c.tier, &c.id))
    }

    /// Collection `id` if `caller` may read it: 404 when there is none, 401 or 403 when it
    /// is not theirs; a read of a restricted layer is written to the audit log.
    pub fn collection_for(
        &self,
        caller: &access::Caller,
        id: &str,
    ) -> Result<&Collection, Box<axum::response::Response>> {
        let Some(c) = self.collection(id) else {
            return Err(Box::new(ogc::problem(
                axum::http::StatusCode::NOT_FOUND,
                "Unknown collection",
                &format!("no collection '{id}'"),
            )));
        };
        self.authorise(caller, c.tier, id)?;
        Ok(c)
    }

    /// Whether `caller` may read layer `id` of `tier` (the error response when not); audits
    /// restricted reads.
    pub fn authorise(
        &self,
        caller: &access::Caller,
        tier: crate::disclosure::Tier,
        id: &str,
    ) -> Result<(), Box<axum::response::Response>> {
        let granted = caller.may_read(tier, id);
        if tier == crate::disclosure::Tier::Restricted {
            caller.note_restricted_read(id, granted);
        }
        if !granted {
            return Err(Box::new(access::denied(caller, id, false)));
        }
        Ok(())
    }
}

impl AppState {
    /// The state of a published snapshot: its layers as collections, its incidents and
    /// boundaries for selections, its heatmap surface; nothing is computed but the tile
    /// index.
    pub fn from_published(
        p: crate::publish::Published,
        settings: Arc<Settings>,
    ) -> anyhow::Result<Self> {
        use crate::density::{BandwidthRule, SurfaceOptions};
        let snapshot = SnapshotInfo {
            run_dir: p.run_dir.clone(),
            run_id: p.manifest.run_id.clone(),
            finished_at: p.manifest.finished_at.clone(),
            incidents: p.report.accepted,
        };
        let opts = SurfaceOptions {
            bandwidth: BandwidthRule::Fixed(p.heatmap.bandwidth_m),
            cell_m: p.heatmap.cell_m,
            ..Default::default()
        };
        // The collections' text, and the district index with the heatmap, side by side.
        let (layers, store, pack, surface) = (p.layers, p.store, p.pack, p.heatmap);
        // The heatmap's tier, and its rules for selections when it is controlled.
        let (tier, rules) = collections::control_of(&p.manifest.heatmap);
        let tier = settings.served_tier("density", tier);

        let (collections, (districts, heatmap)) = rayon::join(
            || collections::collections_of(layers, &store),
            || {
                rayon::join(
                    || crate::boundaries::DistrictIndex::new(&pack),
                    || raster_tiles::Heatmap::from_surface(surface, opts, tier, rules),
                )
            },
        );
        let mut collections = collections?;
        for c in &mut collections {
            c.tier = settings.served_tier(&c.id, c.tier);
        }
        let tiles = vector_tiles::VectorTiles::new(&collections)?;
        let data = Data {
            districts,
            pack,
            store,
            harm: crate::incidents::HarmTable::default_table(),
            cell_keys: std::sync::OnceLock::new(),
        };
        Ok(AppState {
            collections,
            data,
            heatmap,
            tiles,
            settings,
            snapshot: Some(snapshot),
            computed_at_start: false,
            generation: 0,
        })
    }
}

/// Serves `live` on `listener` until interrupted; says where on stderr.
pub async fn serve(live: Arc<live::Live>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let limits = live.current().settings.limits;
    let app = ogc::router(live);
    eprintln!("listening on http://{}", listener.local_addr()?);
    listen::serve(app, listener, limits).await?;
    tracing::info!("stopped");
    Ok(())
}
