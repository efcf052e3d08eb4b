//! OGC API – Features Part 1 routes: landing page, conformance, API description,
//! collections, items (bbox, limit, offset with next/prev links) and single items.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::AppState;

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

/// Largest page a client may ask for.
pub const MAX_LIMIT: usize = 10_000;
/// Page size when none is given.
pub const DEFAULT_LIMIT: usize = 10;

/// All routes.
pub fn router(state: Arc<AppState>) -> Router {
    let cors = state.cors.layer();
    let r = Router::new()
        .route("/", get(landing))
        .route("/conformance", get(conformance))
        .route("/api", get(api))
        .route("/collections", get(collections))
        .route("/collections/{id}", get(collection))
        .route("/collections/{id}/items", get(items))
        .route("/collections/{id}/items/{fid}", get(item))
        .route("/map", get(map_page))
        .route("/map/assets/{*file}", get(map_asset))
        .route("/tiles/density/{z}/{x}/{y}", get(density_tile))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(vector_tile))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "Not found", "no such resource") })
        .with_state(state)
        .layer(axum::middleware::from_fn(html_negotiation))
        .layer(axum::middleware::from_fn(etag_and_cache))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(super::cache::ResponseCache::default()),
            super::cache::cached,
        ));
    match cors {
        Some(c) => r.layer(c),
        None => r,
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
    parts.headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=300"),
    );
    if inm.as_deref() == Some(tag.as_str()) {
        parts.status = StatusCode::NOT_MODIFIED;
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    Response::from_parts(parts, body)
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

async fn landing() -> Response {
    json_response(
        "application/json",
        json!({
            "title": "Kent & Medway violence hotspots",
            "description": "Hotspot layers for the Kent and Medway Violence Reduction Unit: aggregates only",
            "links": [
                {"href": "/", "rel": "self", "type": "application/json", "title": "this document"},
                {"href": "/api", "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "title": "the API definition"},
                {"href": "/conformance", "rel": "conformance", "type": "application/json", "title": "conformance classes"},
                {"href": "/map", "rel": "alternate", "type": "text/html", "title": "map of the layers"},
                {"href": "/collections", "rel": "data", "type": "application/json", "title": "the collections"}
            ]
        }),
    )
}

async fn conformance() -> Response {
    json_response(
        "application/json",
        json!({"conformsTo": [
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"
        ]}),
    )
}

async fn api(State(s): State<Arc<AppState>>) -> Response {
    let mut paths = serde_json::Map::new();
    for p in ["/", "/conformance", "/collections"] {
        paths.insert(
            p.into(),
            json!({"get": {"responses": {"200": {"description": "OK"}}}}),
        );
    }
    let ids: Vec<&str> = s.collections.iter().map(|c| c.id.as_str()).collect();
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "enum": ids}});
    paths.insert("/collections/{id}".into(), json!({"get": {"parameters": [id_param], "responses": {"200": {"description": "OK"}, "404": {"description": "unknown collection"}}}}));
    paths.insert("/collections/{id}/items".into(), json!({"get": {"parameters": [
        id_param,
        {"name": "bbox", "in": "query", "schema": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}, "style": "form", "explode": false},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "bbox-crs", "in": "query", "schema": {"type": "string", "enum": [CRS84, EPSG_27700]}},
        {"name": "crs", "in": "query", "schema": {"type": "string", "enum": [CRS84, EPSG_27700]}},
        {"name": "datetime", "in": "query", "description": "incidents starting in this RFC 3339 instant or interval (dates are Europe/London days); hotspots, grip, diversion and h3-counts only; adds selection_count", "schema": {"type": "string"}},
        {"name": "offence_group", "in": "query", "description": "comma-separated offence groups; same collections as datetime", "schema": {"type": "string"}}
    ], "responses": {"200": {"description": "GeoJSON features", "content": {"application/geo+json": {}}}, "400": {"description": "bad parameter"}}}}));
    paths.insert("/collections/{id}/items/{fid}".into(), json!({"get": {"parameters": [id_param, {"name": "fid", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "one feature"}, "404": {"description": "unknown feature"}}}}));
    json_response(
        "application/vnd.oai.openapi+json;version=3.0",
        json!({"openapi": "3.0.3", "info": {"title": "Kent & Medway violence hotspots", "version": env!("CARGO_PKG_VERSION")}, "paths": paths}),
    )
}

fn collection_json(c: &super::Collection) -> Value {
    let e = c.extent();
    let mut extent =
        json!({"spatial": {"bbox": [e], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}});
    if let Some([a, b]) = c.period_min {
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
    json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84, EPSG_27700],
        "storageCrs": CRS84,
        "extent": extent,
        "links": [
            {"href": format!("/collections/{}", c.id), "rel": "self", "type": "application/json"},
            {"href": format!("/collections/{}/items", c.id), "rel": "items", "type": "application/geo+json"}
        ]
    })
}

async fn collections(State(s): State<Arc<AppState>>) -> Response {
    json_response(
        "application/json",
        json!({
            "links": [{"href": "/collections", "rel": "self", "type": "application/json"}],
            "collections": s.collections.iter().map(collection_json).collect::<Vec<_>>()
        }),
    )
}

async fn collection(State(s): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match s.collection(&id) {
        Some(c) => json_response("application/json", collection_json(c)),
        None => problem(
            StatusCode::NOT_FOUND,
            "Unknown collection",
            &format!("no collection '{id}'"),
        ),
    }
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

async fn items(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(c) = s.collection(&id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Unknown collection",
            &format!("no collection '{id}'"),
        );
    };
    let limit = match q.get("limit").map(|v| v.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad limit",
                &format!("limit must be an integer 1..={MAX_LIMIT}"),
            )
        }
    };
    let offset = match q.get("offset").map(|v| v.parse::<usize>()) {
        None => 0,
        Some(Ok(o)) => o,
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
        (Some(sel), Some(members)) => Some(
            members
                .iter()
                .map(|m| {
                    m.iter()
                        .filter(|&&r| sel.filter.keep(&s.data.store, r as usize))
                        .count()
                })
                .collect(),
        ),
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
    let source = if bng { &c.features_bng } else { &c.features };
    let page: Vec<std::borrow::Cow<'_, Value>> = matched
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&i| match &selected {
            None => std::borrow::Cow::Borrowed(&source[i]),
            Some(n) => {
                let mut f = source[i].clone();
                f["properties"]["selection_count"] = json!(n[i]);
                std::borrow::Cow::Owned(f)
            }
        })
        .collect();
    let base = |o: usize| {
        let mut u = format!("/collections/{id}/items?limit={limit}&offset={o}");
        for k in ["bbox", "bbox-crs", "crs", "datetime", "offence_group"] {
            if let Some(v) = q.get(k) {
                u.push_str(&format!("&{k}={v}"));
            }
        }
        u
    };
    let mut links =
        vec![json!({"href": base(offset), "rel": "self", "type": "application/geo+json"})];
    if offset.saturating_add(page.len()) < matched.len() {
        links.push(
            json!({"href": base(offset.saturating_add(limit)), "rel": "next", "type": "application/geo+json"}),
        );
    }
    if offset > 0 {
        links.push(json!({"href": base(offset.saturating_sub(limit)), "rel": "prev", "type": "application/geo+json"}));
    }
    let mut r = json_response(
        "application/geo+json",
        json!({
            "type": "FeatureCollection",
            "numberMatched": matched.len(),
            "numberReturned": page.len(),
            "features": page,
            "links": links,
        }),
    );
    set_content_crs(&mut r, bng);
    r
}

async fn item(
    State(s): State<Arc<AppState>>,
    Path((id, fid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let bng = match crs_param(&q, "crs") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(c) = s.collection(&id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Unknown collection",
            &format!("no collection '{id}'"),
        );
    };
    let source = if bng { &c.features_bng } else { &c.features };
    match source
        .iter()
        .find(|f| f["id"].as_str() == Some(fid.as_str()))
    {
        Some(f) => {
            let mut f = f.clone();
            f["links"] = json!([
                {"href": format!("/collections/{id}/items/{fid}"), "rel": "self", "type": "application/geo+json"},
                {"href": format!("/collections/{id}"), "rel": "collection", "type": "application/json"}
            ]);
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
/// HTML page: the title, the links as anchors, and for feature collections a table of
/// feature properties. `f=json` forces JSON; other `f` values are a 400.
async fn html_negotiation(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let f = super::cache::f_param(req.uri().query());
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(other) = f.as_deref().filter(|f| *f != "html" && *f != "json") {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad f",
            &format!("f={other}: expected json or html"),
        );
    }
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
        render_html(&v),
    )
        .into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render_html(v: &Value) -> String {
    let title = v["title"]
        .as_str()
        .or(v["id"].as_str())
        .unwrap_or("Kent & Medway violence hotspots");
    let mut h = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}}</style></head><body><h1>{0}</h1>",
        esc(title)
    );
    if let Some(d) = v["description"].as_str() {
        h.push_str(&format!("<p>{}</p>", esc(d)));
    }
    if let Some(links) = v["links"].as_array() {
        h.push_str("<ul>");
        for l in links {
            let href = l["href"].as_str().unwrap_or("");
            let sep = if href.contains('?') { '&' } else { '?' };
            h.push_str(&format!(
                "<li><a href=\"{}{sep}f=html\">{}</a> ({})</li>",
                esc(href),
                esc(l["title"]
                    .as_str()
                    .unwrap_or(l["rel"].as_str().unwrap_or(""))),
                esc(l["rel"].as_str().unwrap_or(""))
            ));
        }
        h.push_str("</ul>");
    }
    if let Some(cols) = v["collections"].as_array() {
        h.push_str("<h2>Collections</h2><ul>");
        for c in cols {
            let id = c["id"].as_str().unwrap_or("");
            h.push_str(&format!(
                "<li><a href=\"/collections/{0}?f=html\">{1}</a>: <a href=\"/collections/{0}/items?f=html\">items</a></li>",
                esc(id),
                esc(c["title"].as_str().unwrap_or(id))
            ));
        }
        h.push_str("</ul>");
    }
    let features: Vec<&Value> = match v["type"].as_str() {
        Some("FeatureCollection") => v["features"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Some("Feature") => vec![v],
        _ => Vec::new(),
    };
    if let Some(first) = features.first() {
        let keys: Vec<String> = first["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        h.push_str("<table><tr><th>id</th>");
        for k in &keys {
            h.push_str(&format!("<th>{}</th>", esc(k)));
        }
        h.push_str("</tr>");
        for f in features {
            h.push_str(&format!("<tr><td>{}</td>", esc(&f["id"].to_string())));
            for k in &keys {
                h.push_str(&format!(
                    "<td>{}</td>",
                    esc(&f["properties"][k].to_string())
                ));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    if let Some(c) = v["conformsTo"].as_array() {
        h.push_str("<ul>");
        for x in c {
            h.push_str(&format!("<li>{}</li>", esc(x.as_str().unwrap_or(""))));
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>");
    h
}

async fn density_tile(
    State(s): State<Arc<AppState>>,
    Path((z, x, y)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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
    let selection = match super::selection::parse_selection(&q) {
        Ok(sel) => sel,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "Bad selection", &e),
    };
    // A new selection means a new surface (a fraction of a second): off the async workers.
    let rendered = tokio::task::spawn_blocking(move || {
        let ramped = s
            .heatmap
            .surface(&s.data, selection.as_ref())
            .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        match ramped {
            Some(r) => super::raster_tiles::render_tile(&r.surface, r.scale, z, x, y)
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
    State(s): State<Arc<AppState>>,
    Path(file): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let id = file.strip_suffix(".json").unwrap_or(&file);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    if id == "density" {
        return json_response("application/json", s.heatmap.tilejson(&base));
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
    json_response("application/json", l.tilejson(&base))
}

/// A Mapbox Vector Tile: `/tiles/{layer}/{z}/{x}/{y}.mvt`.
async fn vector_tile(
    State(s): State<Arc<AppState>>,
    Path((layer, z, x, y)): Path<(String, String, String, String)>,
) -> Response {
    use super::vector_tiles::{TileError, TileId};
    let t = match TileId::parse(&z, &x, &y, ".mvt") {
        Ok(t) => t,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "Bad tile address", &e.to_string()),
    };
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

/// The map page.
async fn map_page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        super::map::MAP_HTML,
    )
        .into_response()
}

/// The map page's library files.
async fn map_asset(State(s): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    match s.map.get(&file) {
        Some((bytes, media)) => ([(header::CONTENT_TYPE, *media)], bytes.clone()).into_response(),
        None if !s.map.installed() => problem(
            StatusCode::NOT_FOUND,
            "Map library not installed",
            &format!(
                "no Leaflet in {}: run `npm ci --prefix web` (see the README) and restart",
                s.map.dir.display()
            ),
        ),
        None => problem(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("no map asset '{file}'"),
        ),
    }
}
