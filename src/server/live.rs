//! The snapshot being served, swapped atomically when a new one is published.
//!
//! Each request pins the state current when it arrives (a reference-counted handle, set
//! as a request extension before anything else runs), so a request in flight finishes on
//! the snapshot it began with while new requests see the new one. Every cache lives in
//! the state or is keyed by its generation, so caches and ETags move with the snapshot.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;

use super::AppState;

/// What a swap or a check found, for `/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WatchStatus {
    /// When the served snapshot was loaded, RFC 3339 UTC.
    pub loaded_at: String,
    /// Last check for a new snapshot, RFC 3339 UTC.
    pub last_check: Option<String>,
    /// The last load that failed (the previous snapshot stayed), with its error.
    pub last_error: Option<String>,
    /// The next scheduled refresh (`refresh_at`), RFC 3339 UTC.
    pub next_refresh: Option<String>,
    /// The last scheduled refresh: when, and what it published or why it failed.
    pub last_refresh: Option<String>,
}

/// The served state and its history.
pub struct Live {
    current: RwLock<Arc<AppState>>,
    status: Mutex<WatchStatus>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Live(generation {})", self.current().generation)
    }
}

impl Live {
    /// Serving `state` from now.
    pub fn new(state: AppState) -> Self {
        Live {
            current: RwLock::new(Arc::new(state)),
            status: Mutex::new(WatchStatus {
                loaded_at: jiff::Timestamp::now().to_string(),
                ..Default::default()
            }),
        }
    }

    /// The state new requests get.
    pub fn current(&self) -> Arc<AppState> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Serves `state` from now on; requests in flight keep theirs. Its generation is set
    /// one past the current one.
    pub fn swap(&self, mut state: AppState) {
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        state.generation = g.generation + 1;
        *g = Arc::new(state);
        drop(g);
        let mut s = self.status();
        s.loaded_at = jiff::Timestamp::now().to_string();
        s.last_error = None;
    }

    /// The watch status.
    pub fn status(&self) -> std::sync::MutexGuard<'_, WatchStatus> {
        match self.status.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// The middleware: pins the current state (and the `Live` itself) to the request.
pub async fn pin(
    axum::extract::State(live): axum::extract::State<Arc<Live>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    req.extensions_mut().insert(live.current());
    req.extensions_mut().insert(live);
    next.run(req).await
}

/// The run `OUT/current` names now (its directory), if any.
fn current_target(out: &Path) -> Option<PathBuf> {
    crate::publish::write::current_run(out)
}

/// Watches `out` (a refresh's output directory) every `every`: when `current` names
/// another run than the one served, `load` builds its state off the async workers and it
/// is swapped in; a failed load is recorded and the old snapshot stays.
pub fn spawn_watch<F>(live: Arc<Live>, out: PathBuf, every: Duration, load: F)
where
    F: Fn(&Path) -> anyhow::Result<AppState> + Send + Sync + 'static,
{
    let load = Arc::new(load);
    tokio::spawn(async move {
        let mut failed_on: Option<PathBuf> = None;
        loop {
            tokio::time::sleep(every).await;
            live.status().last_check = Some(jiff::Timestamp::now().to_string());
            let Some(target) = current_target(&out) else {
                continue;
            };
            let served = live.current().snapshot.as_ref().map(|s| s.run_dir.clone());
            if served.as_ref() == Some(&target) || failed_on.as_ref() == Some(&target) {
                continue;
            }
            let (l, t) = (load.clone(), target.clone());
            match tokio::task::spawn_blocking(move || l(&t)).await {
                Ok(Ok(state)) => {
                    tracing::info!(snapshot = %target.display(), "now serving snapshot {}", target.display());
                    live.swap(state);
                    failed_on = None;
                }
                Ok(Err(e)) => {
                    tracing::error!(
                        snapshot = %target.display(),
                        "snapshot {} not loaded, still serving the previous one: {e:#}",
                        target.display()
                    );
                    live.status().last_error = Some(format!("{}: {e:#}", target.display()));
                    failed_on = Some(target);
                }
                Err(e) => {
                    live.status().last_error = Some(format!("{}: {e}", target.display()));
                    failed_on = Some(target);
                }
            }
        }
    });
}
