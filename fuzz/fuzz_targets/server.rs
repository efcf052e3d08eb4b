//! Shared by the HTTP fuzz targets: the service's real router over a snapshot published once
//! per fuzzing process from the embedded default data, and one request through it.

use axum::body::Body;
use axum::http::Request;
use clap::Parser;
use hotspots::server::{live::Live, ogc, AppState, Settings};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

struct Harness {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    collections: Vec<String>,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().to_str().expect("utf-8 path").to_string();
        let cli = hotspots::cli::Cli::parse_from([
            "hotspots",
            "refresh",
            "--rejects",
            "/dev/null",
            "--out",
            &out,
        ]);
        hotspots::cli::run(cli).expect("refresh of the default data");
        let p = hotspots::publish::read_published(&dir.path().join("current")).expect("snapshot");
        let state = AppState::from_published(p, Arc::new(Settings::default())).expect("state");
        let collections = state.collections.iter().map(|c| c.id.clone()).collect();
        let router = ogc::router(Arc::new(Live::new(state)));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Harness {
            rt,
            router,
            collections,
            _dir: dir,
        }
    })
}

/// The collection ids served, in listing order.
pub fn collections() -> &'static [String] {
    &harness().collections
}

/// Sends GET `uri` through the router and reads the whole body. A URI the HTTP layer cannot
/// parse is skipped (hyper refuses it before the router); any answer is fine but a 500,
/// which only a caught panic gives.
pub fn get(uri: &str) {
    let Ok(req) = Request::get(uri)
        .header("accept-encoding", "gzip")
        .body(Body::empty())
    else {
        return;
    };
    let h = harness();
    let status = h.rt.block_on(async {
        let resp = h.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let _ = axum::body::to_bytes(resp.into_body(), 64 << 20).await;
        status
    });
    assert_ne!(status.as_u16(), 500, "GET {uri} answered 500 (a panic)");
}
