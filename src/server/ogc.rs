//! OGC API – Features routes: landing page, conformance, API description, collections,
//! schemas, items (bbox, limit, offset with absolute next/prev links; GeoJSON, HTML or a
//! GeoPackage, FlatGeobuf or CSV download) and single items, plus the tiles and the map.
//! Every link is absolute (see `base_url`); an unknown query parameter is a 400.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use serde_json::{json, Value};

use super::base_url::BaseUrl;
use super::AppState;
use crate::layers::{LayerFormat, LayerTable, OutputCrs};

/// Query parameters as given.
type Params = HashMap<String, String>;

/// CRS84 (longitude, latitude), the GeoJSON default.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// British National Grid.
pub const EPSG_27700: &str = "http://www.opengis.net/def/crs/EPSG/0/27700";

/// Which of the two CRSs a `crs` or `bbox-crs` value names (`None`: neither).
fn parse_crs(v: &str) -> Option<bool> {
    match v.trim().trim_start_matches('[').trim_end_matches(']') {
        CRS84 | "CRS84" | "OGC:CRS84" => Some(false),
        EPSG_27700 | "EPSG:27700" => Some(true),
        _ => None,
    }
}

/// Reads a `crs` / `bbox-crs` query parameter: false for CRS84 (or absent), true for
/// EPSG:27700, a 400 problem otherwise.
fn crs_param(q: &HashMap<String, String>, key: &str) -> Result<bool, Box<Response>> {
    match q.get(key).map(|c| parse_crs(c)) {
        None => Ok(false),
        Some(Some(b)) => Ok(b),
        Some(None) => Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            &format!("Unsupported {key}"),
            &format!("{key} must be {CRS84} or {EPSG_27700}"),
        ))),
    }
}

/// Says which CRS the coordinates of `r` are in.
fn set_content_crs(r: &mut Response, bng: bool) {
    let crs = if bng { EPSG_27700 } else { CRS84 };
    if let Ok(v) = header::HeaderValue::from_str(&format!("<{crs}>")) {
        r.headers_mut().insert("content-crs", v);
    }
}

/// Largest page: a larger `limit` is capped to it (OGC API – Features Part 1,
/// /req/core/fc-limit-response-1 C).
pub const MAX_LIMIT: usize = 10_000;
/// Page size when none is given.
pub const DEFAULT_LIMIT: usize = 10;

/// Conformance classes implemented.
pub const CONFORMANCE: [&str; 5] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];

/// Query parameters of `/collections/{id}/items`.
const ITEMS_PARAMS: &[&str] = &[
    "f",
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "crs",
    "datetime",
    "offence_group",
];
/// Query parameters of `/collections/{id}/items/{fid}`.
const ITEM_PARAMS: &[&str] = &["f", "crs"];
/// Query parameters of the other OGC API resources.
const RESOURCE_PARAMS: &[&str] = &["f"];
/// Query parameters of the heatmap tiles.
const SELECTION_PARAMS: &[&str] = &["offence_group", "datetime"];

/// A 400 naming the first query parameter not in `allowed` (OGC API – Features Part 1,
/// /req/core/query-param-unknown), so a misspelt filter is never silently ignored.
fn check_params(q: &HashMap<String, String>, allowed: &[&str]) -> Result<(), Box<Response>> {
    let mut unknown: Vec<&str> = q
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    unknown.sort_unstable();
    match unknown.first() {
        None => Ok(()),
        Some(k) => Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "Unknown query parameter",
            &format!(
                "unknown query parameter '{k}'{}; this resource takes: {}",
                if unknown.len() > 1 {
                    format!(" (and {})", unknown[1..].join(", "))
                } else {
                    String::new()
                },
                if allowed.is_empty() {
                    "no parameters".to_string()
                } else {
                    allowed.join(", ")
                }
            ),
        ))),
    }
}

/// All routes, over the snapshot `live` serves (each request pins the one current when it
/// arrives), behind the service's middleware ([`with_middleware`]).
pub fn router(live: Arc<super::live::Live>) -> Router {
    with_middleware(routes(), live)
}

/// The service's routes, without middleware.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/status", get(status))
        .route("/conformance", get(conformance))
        .route("/api", get(api))
        .route("/collections", get(collections))
        .route("/collections/{id}", get(collection))
        .route("/collections/{id}/schema", get(schema))
        .route("/collections/{id}/items", get(items))
        .route("/collections/{id}/items/{fid}", get(item))
        .route("/map", get(map_page))
        .route("/map/places.geojson", get(map_places))
        .route("/map/config.json", get(map_config))
        .route("/map/assets/{*file}", get(map_asset))
        .route("/tiles/density/{z}/{x}/{y}", get(density_tile))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(vector_tile))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "Not found", "no such resource") })
}

/// `routes` behind the service's middleware, outermost last: base URL, snapshot pinning,
/// authentication, the single-flight response cache, compression, ETags, parameter checks,
/// HTML negotiation, bounds (deadline and expensive slots) and panic capture (a panic is a
/// 500 problem and a log line). Public so tests can put their own routes behind the very
/// same stack.
pub fn with_middleware(routes: Router, live: Arc<super::live::Live>) -> Router {
    let settings = live.current().settings.clone();
    let cors = settings.cors.layer();
    let policy = Arc::new(settings.base.clone());
    let r = routes
        // A panic in a handler is a bug: a 500 problem and an error in the log, and the
        // service goes on answering.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |e: Box<dyn std::any::Any + Send + 'static>| {
                let what = e
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| e.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown");
                tracing::error!("a request panicked (a bug): {what}");
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "the service failed on this request (a bug, logged); other requests are unaffected",
                )
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            (
                settings.expensive.clone(),
                std::time::Duration::from_secs(settings.limits.request_timeout_s),
            ),
            bounded,
        ))
        .layer(axum::middleware::from_fn(html_negotiation))
        .layer(axum::middleware::from_fn(reject_repeated_params))
        .layer(axum::middleware::from_fn(etag_and_cache))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(super::cache::ResponseCache::default()),
            super::cache::cached,
        ))
        .layer(axum::middleware::from_fn_with_state(
            settings.access.clone(),
            super::access::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(live, super::live::pin))
        .layer(axum::middleware::from_fn_with_state(
            policy,
            super::base_url::attach,
        ));
    match cors {
        Some(c) => r.layer(c),
        None => r,
    }
}

/// Bounds every request: an expensive one (a selection, a file download, a selection's
/// heatmap) waits for one of the `expensive` slots, and any request not answered within
/// `deadline` (waiting included) is a 503 problem with Retry-After, so slow work never
/// holds a connection for ever.
async fn bounded(
    axum::extract::State((expensive, deadline)): axum::extract::State<(
        Arc<tokio::sync::Semaphore>,
        std::time::Duration,
    )>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let q = req.uri().query().unwrap_or("");
    let costly = q.split('&').any(|kv| {
        let k = kv.split('=').next().unwrap_or("");
        matches!(k, "datetime" | "offence_group")
            || (k == "f" && matches!(kv, "f=gpkg" | "f=fgb" | "f=csv"))
    });
    let work = async move {
        let _slot = if costly {
            expensive.acquire_owned().await.ok()
        } else {
            None
        };
        next.run(req).await
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(r) => r,
        Err(_) => {
            let mut r = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too slow",
                &format!(
                    "the answer took longer than {} s; try again shortly, or a smaller selection",
                    deadline.as_secs()
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            r
        }
    }
}

/// Adds a strong ETag (SHA-256 of the body) and Cache-Control to successful responses, and
/// answers 304 when the client's If-None-Match matches. Layers only change at restart, so
/// the tag is stable for the life of the process.
async fn etag_and_cache(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let inm = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // An organisation's answers are its own: no shared cache may keep them.
    let private = req
        .extensions()
        .get::<super::access::Caller>()
        .is_some_and(|c| c.org().is_some());
    let resp = next.run(req).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Handlers that cache their bodies (tiles) set the tag themselves.
    let (tag, body) = match parts
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        Some(t) => (t.to_string(), body),
        None => {
            let Ok(bytes) = axum::body::to_bytes(body, 256 * 1024 * 1024).await else {
                return problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Body too large",
                    "response could not be buffered",
                );
            };
            let tag = super::etag_of(&bytes);
            if let Ok(v) = header::HeaderValue::from_str(&tag) {
                parts.headers.insert(header::ETAG, v);
            }
            (tag, axum::body::Body::from(bytes))
        }
    };
    if private {
        parts.headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("private, max-age=300"),
        );
        parts.headers.insert(
            header::VARY,
            header::HeaderValue::from_static("Authorization"),
        );
    } else {
        if !parts.headers.contains_key(header::CACHE_CONTROL) {
            parts.headers.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("public, max-age=300"),
            );
        }
        // What is listed depends on the caller: shared caches must key on the token.
        parts.headers.append(
            header::VARY,
            header::HeaderValue::from_static("Authorization"),
        );
    }
    if inm.as_deref() == Some(tag.as_str()) {
        parts.status = StatusCode::NOT_MODIFIED;
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    Response::from_parts(parts, body)
}

/// A query parameter given twice (`offence_group=a&offence_group=b`) is a 400 naming it:
/// only one value would be read, and a filter must never be silently ignored.
async fn reject_repeated_params(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(q) = req.uri().query() {
        let mut seen = std::collections::HashSet::new();
        for (k, _) in form_urlencoded::parse(q.as_bytes()) {
            if !seen.insert(k.clone()) {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "Repeated parameter",
                    &format!("'{k}' is given more than once; give it once (offence_group takes a comma-separated list where a layer allows several)"),
                );
            }
        }
    }
    next.run(req).await
}

/// An RFC 9457 problem response.
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail})
            .to_string(),
    )
        .into_response()
}

fn json_response(media: &'static str, v: Value) -> Response {
    ([(header::CONTENT_TYPE, media)], v.to_string()).into_response()
}

/// A link object.
fn link(href: String, rel: &str, ty: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": ty, "title": title})
}

macro_rules! params_or_400 {
    ($q:expr, $allowed:expr) => {
        if let Err(r) = check_params(&$q, $allowed) {
            return *r;
        }
    };
}

async fn landing(Extension(base): Extension<BaseUrl>, Query(q): Query<Params>) -> Response {
    params_or_400!(q, RESOURCE_PARAMS);
    json_response(
        "application/json",
        json!({
            "title": "Kent & Medway violence hotspots",
            "description": "Hotspot layers for the Kent and Medway Violence Reduction Unit: aggregates only",
            "links": [
                link(base.join("/"), "self", "application/json", "this document"),
                link(base.join("/?f=html"), "alternate", "text/html", "this document as HTML"),
                link(base.join("/api"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "the API definition"),
                link(base.join("/conformance"), "conformance", "application/json", "conformance classes"),
                link(base.join("/collections"), "data", "application/json", "the collections"),
                link(base.join("/map"), "alternate", "text/html", "map of the layers"),
            ]
        }),
    )
}

/// `/status`: which snapshot is served, when it was made and loaded, and the last check
/// for a new one.
async fn status(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Extension(live): Extension<Arc<super::live::Live>>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, RESOURCE_PARAMS);
    let watch = live.status().clone();
    let mut r = json_response(
        "application/json",
        json!({
            "snapshot": s.snapshot,
            "computed_at_start": s.computed_at_start,
            "generation": s.generation,
            "incidents": s.data.store.len(),
            "collections": s.readable(&caller).map(|c| json!({"id": c.id, "features": c.features.len()})).collect::<Vec<_>>(),
            "watch": watch,
        }),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

async fn conformance(Query(q): Query<Params>) -> Response {
    params_or_400!(q, RESOURCE_PARAMS);
    json_response("application/json", json!({"conformsTo": CONFORMANCE}))
}

async fn api(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Extension(base): Extension<BaseUrl>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, RESOURCE_PARAMS);
    let f_param = |formats: &[&str]| json!({"name": "f", "in": "query", "schema": {"type": "string", "enum": formats}});
    let mut paths = serde_json::Map::new();
    for p in ["/", "/conformance", "/collections"] {
        paths.insert(
            p.into(),
            json!({"get": {"parameters": [f_param(&["json", "html"])], "responses": {"200": {"description": "OK"}, "400": {"description": "unknown query parameter"}}}}),
        );
    }
    let ids: Vec<&str> = s.readable(&caller).map(|c| c.id.as_str()).collect();
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "enum": ids}});
    paths.insert("/collections/{id}".into(), json!({"get": {"parameters": [id_param, f_param(&["json", "html"])], "responses": {"200": {"description": "OK"}, "404": {"description": "unknown collection"}}}}));
    paths.insert("/collections/{id}/schema".into(), json!({"get": {"parameters": [id_param], "responses": {"200": {"description": "the layer's fields and their types (JSON Schema)", "content": {"application/schema+json": {}}}}}}));
    paths.insert("/collections/{id}/items".into(), json!({"get": {"parameters": [
        id_param,
        {"name": "bbox", "in": "query", "schema": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}, "style": "form", "explode": false},
        {"$ref": "#/components/parameters/limit"},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "bbox-crs", "in": "query", "schema": {"type": "string", "enum": [CRS84, EPSG_27700]}},
        {"name": "crs", "in": "query", "schema": {"type": "string", "enum": [CRS84, EPSG_27700]}},
        {"name": "datetime", "in": "query", "description": "incidents starting in this RFC 3339 instant or interval (dates are Europe/London days, YYYY-MM months); on layers under disclosure control only whole months (see the collection's disclosure member); hotspots, grip, diversion and h3-counts only; sets sel_count", "schema": {"type": "string"}},
        {"name": "offence_group", "in": "query", "description": "comma-separated offence groups (one at a time on layers under disclosure control); same collections as datetime", "schema": {"type": "string"}},
        f_param(&["json", "html", "gpkg", "fgb", "csv"]),
    ], "responses": {"200": {"description": "GeoJSON features, or the matched features as a file (f=gpkg, fgb, csv; every match unless limit is given)", "content": {"application/geo+json": {}, "application/geopackage+sqlite3": {}, "application/flatgeobuf": {}, "text/csv": {}}}, "400": {"description": "bad or unknown parameter"}}}}));
    paths.insert("/collections/{id}/items/{fid}".into(), json!({"get": {"parameters": [id_param, {"name": "fid", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "crs", "in": "query", "schema": {"type": "string", "enum": [CRS84, EPSG_27700]}}, f_param(&["json", "html"])], "responses": {"200": {"description": "one feature"}, "404": {"description": "unknown feature"}}}}));
    json_response(
        "application/vnd.oai.openapi+json;version=3.0",
        json!({
            "openapi": "3.0.3",
            "info": {"title": "Kent & Medway violence hotspots", "version": env!("CARGO_PKG_VERSION")},
            "servers": [{"url": base.as_str()}],
            "paths": paths,
            // QGIS reads its page size from here (min of max(1000, default) and maximum).
            "components": {"parameters": {"limit": {"name": "limit", "in": "query", "description": "page size; larger values are capped at the maximum", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, "style": "form", "explode": false}}},
        }),
    )
}

fn collection_json(c: &super::Collection, base: &BaseUrl) -> Value {
    let e = c.extent();
    let mut extent =
        json!({"spatial": {"bbox": [e], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}});
    if let Some([a, b]) = c.period_min {
        // Under disclosure control, whole periods: not the first and last incidents' minutes.
        let (a, b) = match &c.rules {
            Some(r) => r.granularity.widen(a, b.saturating_add(1)),
            None => (a, b),
        };
        let iso = |m: i32| {
            jiff::Timestamp::from_second(i64::from(m) * 60)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        extent["temporal"] = json!({
            "interval": [[iso(a), iso(b)]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
        });
    }
    let id = &c.id;
    let u = |p: &str| base.join(&format!("/collections/{id}{p}"));
    json!({
        "id": id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84, EPSG_27700],
        "storageCrs": CRS84,
        "extent": extent,
        // The tier and the disclosure rules applied, so a reader knows what was suppressed.
        "disclosure": c.table.metadata.get("disclosure").cloned().unwrap_or(Value::Null),
        "links": [
            link(u(""), "self", "application/json", "this collection"),
            link(u("?f=html"), "alternate", "text/html", "this collection as HTML"),
            link(u("/items"), "items", "application/geo+json", "the features"),
            link(u("/items?f=html"), "items", "text/html", "the features as HTML"),
            link(u("/schema"), "http://www.opengis.net/def/rel/ogc/1.0/schema", "application/schema+json", "the fields and their types"),
            link(u("/items?f=gpkg"), "enclosure", "application/geopackage+sqlite3", "download: GeoPackage"),
            link(u("/items?f=fgb"), "enclosure", "application/flatgeobuf", "download: FlatGeobuf"),
            link(u("/items?f=csv"), "enclosure", "text/csv", "download: CSV with WKT"),
            link(base.join(&format!("/tiles/{id}.json")), "related", "application/json", "vector tiles (TileJSON)"),
        ]
    })
}

async fn collections(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Extension(base): Extension<BaseUrl>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, RESOURCE_PARAMS);
    json_response(
        "application/json",
        json!({
            "links": [
                link(base.join("/collections"), "self", "application/json", "the collections"),
                link(base.join("/collections?f=html"), "alternate", "text/html", "the collections as HTML"),
            ],
            "crs": [CRS84, EPSG_27700],
            "collections": s.readable(&caller).map(|c| collection_json(c, &base)).collect::<Vec<_>>()
        }),
    )
}

async fn collection(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Extension(base): Extension<BaseUrl>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, RESOURCE_PARAMS);
    match s.collection_for(&caller, &id) {
        Ok(c) => json_response("application/json", collection_json(c, &base)),
        Err(r) => *r,
    }
}

/// `/collections/{id}/schema`: the layer's fields, their types and meanings.
async fn schema(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Extension(base): Extension<BaseUrl>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, RESOURCE_PARAMS);
    let c = match s.collection_for(&caller, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let mut v = c.table.json_schema(&c.title);
    v["$id"] = json!(base.join(&format!("/collections/{id}/schema")));
    // Under disclosure control each field says how it is published.
    if let Some(r) = &c.rules {
        use crate::disclosure::Sdc;
        for f in &c.table.fields {
            let note = match f.sdc {
                Sdc::Count | Sdc::CountAfter(_) => format!(
                    " (rounded to the nearest {}; null below {})",
                    r.round_to, r.min_count
                ),
                Sdc::Scaled(_) | Sdc::ShareOf(..) => " (from the rounded counts)".to_string(),
                Sdc::Significant(d) => format!(" ({d} significant figures)"),
                Sdc::Rank => " (renumbered over the published features)".to_string(),
                _ => continue,
            };
            if let Some(d) = v["properties"][f.name]["description"].as_str() {
                let d = format!("{d}{note}");
                v["properties"][f.name]["description"] = json!(d);
            }
        }
    }
    json_response("application/schema+json", v)
}

/// Parses `minx,miny,maxx,maxy` in CRS84.
fn parse_bbox(s: &str) -> Result<[f64; 4], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .map_err(|_| format!("bbox value '{p}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    match v[..] {
        [a, b, c, d]
            if a.is_finite()
                && b.is_finite()
                && c.is_finite()
                && d.is_finite()
                && c >= a
                && d >= b =>
        {
            Ok([a, b, c, d])
        }
        [_, _, _, _] => Err("bbox must be minx,miny,maxx,maxy with max ≥ min".into()),
        _ => Err(format!("bbox needs 4 numbers, got {}", v.len())),
    }
}

/// What an items request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ItemsFormat {
    GeoJson,
    Html,
    File(LayerFormat),
}

/// `/collections/{id}/items?...` with the given paging, keeping the request's filters.
fn items_url(
    base: &BaseUrl,
    id: &str,
    q: &HashMap<String, String>,
    paging: Option<(usize, usize)>,
    f: Option<&str>,
) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    if let Some((limit, offset)) = paging {
        ser.append_pair("limit", &limit.to_string());
        ser.append_pair("offset", &offset.to_string());
    }
    for k in ["bbox", "bbox-crs", "crs", "datetime", "offence_group"] {
        if let Some(v) = q.get(k) {
            ser.append_pair(k, v);
        }
    }
    if let Some(f) = f {
        ser.append_pair("f", f);
    }
    let query = ser.finish();
    let path = base.join(&format!("/collections/{id}/items"));
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

async fn items(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Extension(base): Extension<BaseUrl>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
    headers: axum::http::HeaderMap,
) -> Response {
    params_or_400!(q, ITEMS_PARAMS);
    let c = match s.collection_for(&caller, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = match q.get("f").map(String::as_str) {
        Some("gpkg") => ItemsFormat::File(LayerFormat::GeoPackage),
        Some("fgb") => ItemsFormat::File(LayerFormat::FlatGeobuf),
        Some("csv") => ItemsFormat::File(LayerFormat::Csv),
        f if super::cache::wants_html(f, accept) => ItemsFormat::Html,
        _ => ItemsFormat::GeoJson,
    };
    let limit = match q.get("limit").map(|v| v.trim()) {
        None => None,
        // Any whole number above the maximum, however long, is capped to it.
        Some(v)
            if v.bytes().all(|b| b.is_ascii_digit()) && !v.trim_start_matches('0').is_empty() =>
        {
            Some(v.parse::<usize>().map_or(MAX_LIMIT, |l| l.min(MAX_LIMIT)))
        }
        Some(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad limit",
                &format!("limit must be a whole number ≥ 1 (values above {MAX_LIMIT} are capped)"),
            )
        }
    };
    let offset = match q.get("offset").map(|v| v.trim().parse::<usize>()) {
        None => None,
        Some(Ok(o)) => Some(o),
        Some(Err(_)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad offset",
                "offset must be an integer ≥ 0",
            )
        }
    };
    let bng = match crs_param(&q, "crs") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let bbox_bng = match crs_param(&q, "bbox-crs") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let bbox = match q.get("bbox").map(|b| parse_bbox(b)) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => return problem(StatusCode::BAD_REQUEST, "Bad bbox", &e),
    };
    let selection = match super::selection::parse_selection(&q) {
        Ok(sel) => sel,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "Bad selection", &e),
    };
    // With a selection, each feature's count of selected incidents; features with none
    // are left out.
    let selected: Option<Vec<usize>> = match (&selection, &c.members) {
        (None, _) => None,
        (Some(_), None) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Selection not supported",
                &format!(
                    "'{id}' is computed from all incidents and takes no datetime or offence_group; \
                     these apply to hotspots, grip, diversion and h3-counts"
                ),
            )
        }
        (Some(sel), Some(members)) => {
            // Disclosure control: periods at the layer's granularity only; a feature whose
            // selection count is below k is left out, and the others' counts are rounded.
            if let Some(r) = &c.rules {
                if let Err(e) = r.check_selection(&sel.filter) {
                    return problem(StatusCode::BAD_REQUEST, "Selection too fine", &e);
                }
            }
            let keys = c.rules.as_ref().map(|r| s.data.cell_keys(r.granularity));
            Some(
                members
                    .iter()
                    .map(|m| {
                        let rows = m
                            .iter()
                            .map(|&r| r as usize)
                            .filter(|&r| sel.filter.keep(&s.data.store, r));
                        match (&c.rules, &keys) {
                            (Some(r), Some(keys)) => {
                                let rows: Vec<usize> = rows.collect();
                                let n = rows.len() as u64;
                                r.selection_count(n, m.len() as u64, keys.protected_count(rows))
                                    .unwrap_or(0) as usize
                            }
                            _ => rows.count(),
                        }
                    })
                    .collect(),
            )
        }
    };
    let matched: Vec<usize> = (0..c.features.len())
        .filter(|&i| selected.as_ref().is_none_or(|n| n[i] > 0))
        .filter(|&i| {
            bbox.is_none_or(|b| {
                let f = if bbox_bng {
                    c.bboxes_bng[i]
                } else {
                    c.bboxes[i]
                };
                f[0] <= b[2] && f[2] >= b[0] && f[1] <= b[3] && f[3] >= b[1]
            })
        })
        .collect();
    let sel_field = c.table.field_index("sel_count");
    if let ItemsFormat::File(lf) = format {
        // A download holds every match unless the client pages it.
        let off = offset.unwrap_or(0);
        let take = limit.unwrap_or(usize::MAX);
        let mut t = LayerTable::new(
            &c.table.name,
            c.table.fields.clone(),
            c.table.metadata.clone(),
        );
        for &i in matched.iter().skip(off).take(take) {
            let mut f = c.table.features[i].clone();
            if let (Some(n), Some(k)) = (&selected, sel_field) {
                f.attrs[k] = crate::layers::table::int(n[i]);
            }
            t.features.push(f);
        }
        let crs = if bng {
            OutputCrs::Bng
        } else {
            OutputCrs::Wgs84
        };
        let id2 = id.clone();
        let built = tokio::task::spawn_blocking(move || {
            crate::layers::write::layer_bytes(&t, crs, json!({}), lf)
        })
        .await;
        return match built {
            Ok(Ok(bytes)) => {
                let suffix = if bng { "-epsg27700" } else { "" };
                let disposition =
                    format!("attachment; filename=\"{id2}{suffix}.{}\"", lf.extension());
                let mut r = ([(header::CONTENT_TYPE, lf.media_type())], bytes).into_response();
                if let Ok(v) = header::HeaderValue::from_str(&disposition) {
                    r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
                }
                set_content_crs(&mut r, bng);
                r
            }
            Ok(Err(e)) => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Download failed",
                &e.to_string(),
            ),
            Err(e) => problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Download failed",
                &e.to_string(),
            ),
        };
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    let offset = offset.unwrap_or(0);
    let source = if bng { &c.features_bng } else { &c.features };
    let page_rows: Vec<usize> = matched.iter().skip(offset).take(limit).copied().collect();
    // Features as rendered at start; with a selection, each with its own sel_count.
    let owned: Vec<Box<serde_json::value::RawValue>> = match &selected {
        None => Vec::new(),
        Some(n) => {
            let mut v = Vec::with_capacity(page_rows.len());
            for &i in &page_rows {
                let mut f: Value = serde_json::from_str(source[i].get()).unwrap_or(Value::Null);
                f["properties"]["sel_count"] = json!(n[i]);
                match serde_json::value::to_raw_value(&f) {
                    Ok(r) => v.push(r),
                    Err(e) => {
                        return problem(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Feature not rendered",
                            &e.to_string(),
                        )
                    }
                }
            }
            v
        }
    };
    let page: Vec<&serde_json::value::RawValue> = if selected.is_some() {
        owned.iter().map(|r| r.as_ref()).collect()
    } else {
        page_rows.iter().map(|&i| source[i].as_ref()).collect()
    };
    let here = |f: Option<&str>| items_url(&base, &id, &q, Some((limit, offset)), f);
    let mut links = vec![
        link(here(None), "self", "application/geo+json", "this page"),
        link(
            here(Some("html")),
            "alternate",
            "text/html",
            "this page as HTML",
        ),
    ];
    if offset.saturating_add(page.len()) < matched.len() {
        links.push(link(
            items_url(
                &base,
                &id,
                &q,
                Some((limit, offset.saturating_add(limit))),
                None,
            ),
            "next",
            "application/geo+json",
            "next page",
        ));
    }
    if offset > 0 {
        links.push(link(
            items_url(
                &base,
                &id,
                &q,
                Some((limit, offset.saturating_sub(limit))),
                None,
            ),
            "prev",
            "application/geo+json",
            "previous page",
        ));
    }
    for (f, ty, title) in [
        (
            "gpkg",
            "application/geopackage+sqlite3",
            "download all matches: GeoPackage",
        ),
        (
            "fgb",
            "application/flatgeobuf",
            "download all matches: FlatGeobuf",
        ),
        ("csv", "text/csv", "download all matches: CSV with WKT"),
    ] {
        links.push(link(
            items_url(&base, &id, &q, None, Some(f)),
            "enclosure",
            ty,
            title,
        ));
    }
    if !bng {
        // The same download in British National Grid, for planners' projects.
        let mut in_bng = q.clone();
        in_bng.insert("crs".into(), EPSG_27700.into());
        links.push(link(
            items_url(&base, &id, &in_bng, None, Some("gpkg")),
            "enclosure",
            "application/geopackage+sqlite3",
            "download all matches: GeoPackage in British National Grid (EPSG:27700)",
        ));
    }
    links.push(link(
        base.join(&format!("/collections/{id}")),
        "collection",
        "application/json",
        "the collection",
    ));
    // The page is written around the features' text, which is not parsed again.
    let body = ItemsPage {
        kind: "FeatureCollection",
        number_matched: matched.len(),
        number_returned: page.len(),
        features: page,
        links,
        crs: bng.then(crate::layers::geojson::bng_crs_member),
    };
    let text = match serde_json::to_string(&body) {
        Ok(t) => t,
        Err(e) => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Page not rendered",
                &e.to_string(),
            )
        }
    };
    if format == ItemsFormat::Html {
        let fc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        return (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            super::html::render_items(c, &fc, &base, s.settings.map.installed(), !bng),
        )
            .into_response();
    }
    let mut r = ([(header::CONTENT_TYPE, "application/geo+json")], text).into_response();
    set_content_crs(&mut r, bng);
    r
}

/// An items page (OGC API – Features), serialized around the features' prepared text.
#[derive(serde::Serialize)]
struct ItemsPage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    features: Vec<&'a serde_json::value::RawValue>,
    links: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crs: Option<Value>,
}

async fn item(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Extension(base): Extension<BaseUrl>,
    Path((id, fid)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, ITEM_PARAMS);
    let bng = match crs_param(&q, "crs") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let c = match s.collection_for(&caller, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let source = if bng { &c.features_bng } else { &c.features };
    match c.table.features.iter().position(|f| f.id == fid) {
        Some(i) => {
            let mut f: Value = serde_json::from_str(source[i].get()).unwrap_or(Value::Null);
            let u = base.join(&format!("/collections/{id}/items/{fid}"));
            f["links"] = json!([
                link(u.clone(), "self", "application/geo+json", "this feature"),
                link(
                    format!("{u}?f=html"),
                    "alternate",
                    "text/html",
                    "this feature as HTML"
                ),
                link(
                    base.join(&format!("/collections/{id}")),
                    "collection",
                    "application/json",
                    "the collection"
                ),
            ]);
            if bng {
                f["crs"] = crate::layers::geojson::bng_crs_member();
            }
            let mut r = json_response("application/geo+json", f);
            set_content_crs(&mut r, bng);
            r
        }
        None => problem(
            StatusCode::NOT_FOUND,
            "Unknown feature",
            &format!("no feature '{fid}' in '{id}'"),
        ),
    }
}

/// `f=html` (or a browser's Accept with text/html before JSON) turns a JSON answer into an
/// HTML page. `f=json` forces JSON; `f=gpkg`, `fgb` and `csv` are downloads of items; other
/// `f` values are a 400.
async fn html_negotiation(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let f = super::cache::f_param(req.uri().query());
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let items = req.uri().path().ends_with("/items");
    let allowed: &[&str] = if items {
        &["json", "html", "gpkg", "fgb", "csv"]
    } else {
        &["json", "html"]
    };
    if let Some(other) = f.as_deref().filter(|f| !allowed.contains(f)) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad f",
            &format!("f={other}: expected {}", allowed.join(", ")),
        );
    }
    let base = req
        .extensions()
        .get::<BaseUrl>()
        .cloned()
        .unwrap_or_else(|| BaseUrl("http://localhost".into()));
    let html = super::cache::wants_html(f.as_deref(), accept);
    let resp = next.run(req).await;
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    if !html || !is_json {
        return resp;
    }
    let status = resp.status();
    let Ok(bytes) = axum::body::to_bytes(resp.into_body(), 256 * 1024 * 1024).await else {
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Body too large",
            "response could not be buffered",
        );
    };
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        super::html::render_resource(&v, &base),
    )
        .into_response()
}

async fn density_tile(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Path((z, x, y)): Path<(String, String, String)>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, SELECTION_PARAMS);
    let parsed = (
        z.parse::<u8>(),
        x.parse::<u32>(),
        y.strip_suffix(".png").unwrap_or("not a png").parse::<u32>(),
    );
    let (Ok(z), Ok(x), Ok(y)) = parsed else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad tile address",
            "expected /tiles/density/{z}/{x}/{y}.png with integers",
        );
    };
    if let Err(r) = s.authorise(&caller, s.heatmap.tier, "density") {
        return *r;
    }
    let selection = match super::selection::parse_selection(&q) {
        Ok(sel) => sel,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "Bad selection", &e),
    };
    if let (Some(sel), Some(r)) = (&selection, s.heatmap.rules()) {
        if let Err(e) = r.check_selection(&sel.filter) {
            return problem(StatusCode::BAD_REQUEST, "Selection too fine", &e);
        }
    }
    // A new selection means a new surface (a fraction of a second): off the async workers.
    let rendered = tokio::task::spawn_blocking(move || {
        let ramped = s
            .heatmap
            .surface(&s.data, selection.as_ref())
            .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        match ramped {
            Some(r) => s
                .heatmap
                .render(&r, z, x, y)
                .map_err(|e| (StatusCode::BAD_REQUEST, e)),
            None => super::raster_tiles::check_tile(z, x, y)
                .map(|_| super::raster_tiles::blank_tile())
                .map_err(|e| (StatusCode::BAD_REQUEST, e)),
        }
    })
    .await;
    match rendered {
        Ok(Ok(png)) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Ok(Err((st, e))) => problem(st, "Cannot draw tile", &e),
        Err(e) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Tile rendering failed",
            &e.to_string(),
        ),
    }
}

/// TileJSON 3.0.0 of a vector layer: `/tiles/{layer}.json`.
async fn tilejson(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Extension(base): Extension<BaseUrl>,
    Path(file): Path<String>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, &[]);
    let id = file.strip_suffix(".json").unwrap_or(&file);
    let base = base.as_str();
    if id == "density" {
        if let Err(r) = s.authorise(&caller, s.heatmap.tier, "density") {
            return *r;
        }
        return json_response("application/json", s.heatmap.tilejson(base));
    }
    if let Some(c) = s.collection(id) {
        if let Err(r) = s.authorise(&caller, c.tier, id) {
            return *r;
        }
    }
    let Some(l) = s.tiles.layer(id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Unknown tile layer",
            &format!(
                "no vector tile layer '{id}'; layers: {}",
                s.tiles
                    .layers
                    .iter()
                    .map(|l| l.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    };
    json_response("application/json", l.tilejson(base))
}

/// A Mapbox Vector Tile: `/tiles/{layer}/{z}/{x}/{y}.mvt`.
async fn vector_tile(
    Extension(s): Extension<Arc<AppState>>,
    Extension(caller): Extension<super::access::Caller>,
    Path((layer, z, x, y)): Path<(String, String, String, String)>,
    Query(q): Query<Params>,
) -> Response {
    params_or_400!(q, &[]);
    use super::vector_tiles::{TileError, TileId};
    let t = match TileId::parse(&z, &x, &y, ".mvt") {
        Ok(t) => t,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "Bad tile address", &e.to_string()),
    };
    if let Some(c) = s.collection(&layer) {
        if let Err(r) = s.authorise(&caller, c.tier, &layer) {
            return *r;
        }
    }
    match s.tiles.tile(&layer, t) {
        Ok(e) => (
            [
                (header::CONTENT_TYPE, "application/vnd.mapbox-vector-tile"),
                (header::ETAG, e.etag.as_str()),
            ],
            e.bytes.clone(),
        )
            .into_response(),
        Err(e @ TileError::UnknownLayer(_)) => {
            problem(StatusCode::NOT_FOUND, "Unknown tile layer", &e.to_string())
        }
        Err(e) => problem(StatusCode::BAD_REQUEST, "Bad tile address", &e.to_string()),
    }
}

/// The map page. Unlike the API's resources it takes parameters it does not use (tracking
/// tags added when a link is shared): the page names them in its status line. The ones it
/// uses are checked.
async fn map_page(Query(q): Query<Params>) -> Response {
    // The selection it opens with is checked as the layers would check it: the page's
    // filter takes one offence group.
    match super::selection::parse_selection(&q) {
        Err(e) => return problem(StatusCode::BAD_REQUEST, "Bad selection", &e),
        Ok(Some(sel)) if sel.filter.groups.len() > 1 => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad selection",
                "the map takes one offence_group at a time",
            )
        }
        Ok(_) => {}
    }
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        super::map::MAP_HTML,
    )
        .into_response()
}

/// The offline base's place names (GeoJSON).
async fn map_places() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        super::map::places_geojson(),
    )
        .into_response()
}

/// The map page's settings: basemap, colours, attributions.
async fn map_config(Extension(s): Extension<Arc<AppState>>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::Json(s.settings.map_config.page_json()),
    )
        .into_response()
}

/// The map page's library files.
async fn map_asset(Extension(s): Extension<Arc<AppState>>, Path(file): Path<String>) -> Response {
    match s.settings.map.get(&file) {
        Some((bytes, media)) => ([(header::CONTENT_TYPE, *media)], bytes.clone()).into_response(),
        None if !s.settings.map.installed() => problem(
            StatusCode::NOT_FOUND,
            "Map library not installed",
            &format!(
                "no Leaflet in {}: run `npm ci --prefix web` (see the README) and restart",
                s.settings.map.dir.display()
            ),
        ),
        None => problem(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("no map asset '{file}'"),
        ),
    }
}
