//! The accept loop: HTTP/1.1 connections served with hyper, bounded so that no client can
//! take the service from the others.
//!
//! - at most `max_connections` open at once: the loop stops accepting at the limit (new
//!   connections wait in the kernel's backlog) and resumes as connections close;
//! - a connection that does not send a whole request head within `header_timeout`, on
//!   arrival or between keep-alive requests, is closed (idle and slow-loris connections
//!   are recycled, so a flood of them starves no one for longer than that);
//! - on SIGTERM or Ctrl-C the loop stops accepting, requests in flight finish (up to
//!   `drain`), then the process ends.
//!
//! The request timeout and the limit on expensive requests are layers of the router
//! ([`super::ogc::router`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tower_service::Service;

/// Connection bounds (config `[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Seconds a connection may take to send a request head (and may sit idle between
    /// keep-alive requests).
    pub header_timeout_s: u64,
    /// Seconds a request may take to be answered (then 408).
    pub request_timeout_s: u64,
    /// Expensive requests (selections, downloads, selection heatmaps) computed at once;
    /// the others wait their turn.
    pub max_expensive: usize,
    /// Seconds given to requests in flight at shutdown.
    pub drain_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_timeout_s: 10,
            request_timeout_s: 60,
            max_expensive: 4,
            drain_s: 10,
        }
    }
}

/// A `[limits]` value out of its bounds.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct LimitError {
    /// The config key, e.g. `limits.max_connections`.
    pub key: &'static str,
    /// What it must be.
    pub message: String,
}

impl Limits {
    /// Checks the bounds.
    ///
    /// # Errors
    /// A zero or absurd value: its `limits.` key and what it must be.
    pub fn check(&self) -> Result<(), LimitError> {
        let bad = |key: &'static str, why: &str| {
            Err(LimitError {
                key,
                message: why.to_string(),
            })
        };
        if !(1..=1_000_000).contains(&self.max_connections) {
            return bad("limits.max_connections", "must be 1 to 1,000,000");
        }
        if !(1..=3600).contains(&self.header_timeout_s) {
            return bad("limits.header_timeout_s", "must be 1 to 3600 seconds");
        }
        if !(1..=3600).contains(&self.request_timeout_s) {
            return bad("limits.request_timeout_s", "must be 1 to 3600 seconds");
        }
        if !(1..=1024).contains(&self.max_expensive) {
            return bad("limits.max_expensive", "must be 1 to 1024");
        }
        if self.drain_s > 3600 {
            return bad("limits.drain_s", "must be at most 3600 seconds");
        }
        Ok(())
    }
}

/// Raises the open-file limit to its hard maximum, so the connection limit, not the
/// descriptor table, decides when accepting stops. Returns the limit now in force.
pub fn raise_open_files() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim = want;
            }
        }
    }
    lim.rlim_cur
}

/// Serves `app` on `listener` within `limits` until SIGTERM or Ctrl-C.
///
/// # Errors
/// None once listening: accept errors (e.g. out of descriptors) are logged and retried.
pub async fn serve(
    app: axum::Router,
    listener: tokio::net::TcpListener,
    limits: Limits,
) -> anyhow::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        // A free slot first: at the limit, new connections wait in the backlog.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait, go on.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let tower_svc = match make.call(peer).await {
            Ok(s) => s,
            Err(never) => match never {},
        };
        let svc = hyper::service::service_fn(move |req| {
            let mut s = tower_svc.clone();
            async move { s.call(req).await }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(limits.header_timeout_s))
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Ends with the connection: an error is a client gone or timed out.
            let _ = conn.await;
            drop(permit);
        });
    }
    tracing::info!("stopping: finishing requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(limits.drain_s)) => {
            tracing::warn!("stopping: requests still in flight after {} s", limits.drain_s);
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM from systemd, `kill` or `timeout`.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
