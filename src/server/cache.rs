//! A cache of whole responses. Layers change only at restart, so a GET's answer depends
//! only on its path and query, the base URL its links are made from, and two request
//! headers (answers to organisations, see `access`, are never kept): whether it asks for HTML
//! (`f=html` or a browser's Accept) and whether it accepts gzip. Successful answers are
//! kept, compressed and tagged, up to [`CACHE_BYTES`]; a repeat costs a lookup and a
//! reference-counted copy, and a matching If-None-Match is answered 304 at once.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;

/// Bytes of bodies kept.
pub const CACHE_BYTES: u64 = 512 * 1024 * 1024;
/// Largest body kept.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// What a response depends on besides the layers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Path and query, as sent.
    pub uri: String,
    /// The absolute base the answer's links are made from (see `base_url`).
    pub base: String,
    /// The generation of the snapshot served (see `live`).
    pub generation: u64,
    /// Whether the HTML rendering was asked for.
    pub html: bool,
    /// Whether gzip is accepted.
    pub gzip: bool,
}

/// A kept response.
#[derive(Debug, Clone)]
pub struct Entry {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Debug, Clone)]
struct ByBytes;

impl quick_cache::Weighter<Key, Entry> for ByBytes {
    fn weight(&self, k: &Key, v: &Entry) -> u64 {
        (k.uri.len() + k.base.len() + v.body.len() + 256) as u64
    }
}

/// The cache.
pub struct ResponseCache {
    inner: quick_cache::sync::Cache<Key, Entry, ByBytes>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResponseCache({} entries)", self.inner.len())
    }
}

impl Default for ResponseCache {
    fn default() -> Self {
        ResponseCache {
            inner: quick_cache::sync::Cache::with_weighter(10_000, CACHE_BYTES, ByBytes),
        }
    }
}

/// True when the request asks for HTML: `f=html`, or no `f` and an Accept header that
/// names text/html before any JSON type.
pub fn wants_html(f: Option<&str>, accept: &str) -> bool {
    match f {
        Some(f) => f == "html",
        None => accept
            .find("text/html")
            .is_some_and(|h| accept.find("json").is_none_or(|j| h < j)),
    }
}

/// The `f` query parameter, if any.
pub fn f_param(query: Option<&str>) -> Option<String> {
    query.and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "f")
            .map(|(_, v)| v.to_string())
    })
}

/// The middleware: answers from the cache, or runs the request (once per key at a time)
/// and keeps its answer.
pub async fn cached(
    axum::extract::State(cache): axum::extract::State<std::sync::Arc<ResponseCache>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Organisations' answers are not kept: each of their reads reaches the handler (and
    // the audit log).
    let org = req
        .extensions()
        .get::<super::access::Caller>()
        .is_some_and(|c| c.org().is_some());
    if req.method() != Method::GET || req.uri().path() == "/status" || org {
        return next.run(req).await;
    }
    let h = req.headers();
    let text = |name| {
        h.get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let key = Key {
        uri: req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        base: req
            .extensions()
            .get::<super::base_url::BaseUrl>()
            .map(|b| b.as_str().to_string())
            .unwrap_or_default(),
        generation: req
            .extensions()
            .get::<std::sync::Arc<super::AppState>>()
            .map_or(0, |s| s.generation),
        html: wants_html(f_param(req.uri().query()).as_deref(), text(header::ACCEPT)),
        gzip: text(header::ACCEPT_ENCODING).contains("gzip"),
    };
    let inm = text(header::IF_NONE_MATCH).to_string();
    // Single flight: the first request for a key computes its answer, requests for the same
    // key meanwhile wait for it (a cold start under load is not a stampede).
    let guard = match cache.inner.get_value_or_guard_async(&key).await {
        Ok(e) => return answer_from(e, &inm),
        Err(guard) => guard,
    };
    let resp = next.run(req).await;
    // Answers that depend only on the key are kept: successes, and the 4xx problems of
    // bad requests (a flood of the same bad request is answered from memory too).
    let status = resp.status();
    if !(status == StatusCode::OK || status.is_client_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 256 * 1024 * 1024).await else {
        return super::ogc::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Body too large",
            "response could not be buffered",
        );
    };
    if bytes.len() <= MAX_BODY_BYTES {
        let _ = guard.insert(Entry {
            status,
            headers: parts.headers.clone(),
            body: bytes.clone(),
        });
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A kept answer, or 304 when the client's If-None-Match names it.
fn answer_from(e: Entry, inm: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = e.status;
    *r.headers_mut() = e.headers.clone();
    if e.status == StatusCode::OK
        && !inm.is_empty()
        && e.headers.get(header::ETAG).is_some_and(|t| t == inm)
    {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r.headers_mut().remove(header::CONTENT_LENGTH);
    } else {
        *r.body_mut() = Body::from(e.body);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_asked_for_by_f_or_by_accept_order() {
        assert!(wants_html(Some("html"), "application/json"));
        assert!(!wants_html(Some("json"), "text/html"));
        assert!(wants_html(
            None,
            "text/html,application/xhtml+xml,*/*;q=0.8"
        ));
        assert!(!wants_html(None, "application/geo+json, text/html"));
        assert!(!wants_html(None, "*/*"));
        assert_eq!(f_param(Some("limit=3&f=html")), Some("html".into()));
        assert_eq!(f_param(Some("limit=3")), None);
    }
}
