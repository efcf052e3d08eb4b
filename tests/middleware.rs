//! The service's middleware stack, with routes of the test's own behind it, over real HTTP
//! on loopback: a handler that panics gives a 500 problem and the service goes on answering;
//! concurrent requests for one uncached answer run its handler once (single flight).

mod common;
use common::*;
use hotspots::server::{listen, live::Live, ogc, AppState, Settings};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Serves `routes` behind the real middleware over a snapshot of the default data, on a
/// free loopback port, from a runtime on its own thread; returns the address.
fn serve_behind_stack(routes: axum::Router, dir: &std::path::Path) -> String {
    let out = dir.to_str().unwrap();
    run_ok(&["refresh", "--rejects", "/dev/null", "--out", out]);
    let p = hotspots::publish::read_published(dir).unwrap();
    let state = AppState::from_published(p, Arc::new(Settings::default())).unwrap();
    let limits = state.settings.limits;
    let app = ogc::with_middleware(routes, Arc::new(Live::new(state)));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().to_string()).unwrap();
            listen::serve(app, listener, limits).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn a_panic_is_a_500_problem_and_single_flight_runs_a_handler_once() {
    let dir = tmp();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    // The service's own routes and two of the test's.
    let routes = ogc::routes()
        .route(
            "/boom",
            axum::routing::get(|| async {
                if std::hint::black_box(true) {
                    panic!("a bug in a handler");
                }
                "never"
            }),
        )
        .route(
            "/slow",
            axum::routing::get(move || {
                let counted = counted.clone();
                async move {
                    let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                    format!("computed as run {n}")
                }
            }),
        );
    let addr = serve_behind_stack(routes, dir.path());

    // A panic: 500 problem+json, and the next requests are answered.
    for _ in 0..3 {
        let (status, h, body) = http_get(&addr, "/boom");
        assert_eq!(status, 500, "{body}");
        assert_eq!(header(&h, "content-type"), Some("application/problem+json"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], 500, "{v}");
        let (status, _, _) = http_get(&addr, "/collections");
        assert_eq!(status, 200);
    }

    // Single flight: 40 clients at once for one cold answer; the handler runs once and
    // every client gets its answer.
    let barrier = Arc::new(std::sync::Barrier::new(40));
    let clients: Vec<_> = (0..40)
        .map(|_| {
            let (addr, barrier) = (addr.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                http_get(&addr, "/slow?k=1")
            })
        })
        .collect();
    for c in clients {
        let (status, _, body) = c.join().unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, "computed as run 1");
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the handler ran more than once"
    );
    // Another key is another computation.
    let (_, _, body) = http_get(&addr, "/slow?k=2");
    assert_eq!(body, "computed as run 2");
}
