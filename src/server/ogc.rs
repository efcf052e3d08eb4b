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

/// Largest page a client may ask for.
pub const MAX_LIMIT: usize = 10_000;
/// Page size when none is given.
pub const DEFAULT_LIMIT: usize = 100;

/// All routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/conformance", get(conformance))
        .route("/api", get(api))
        .route("/collections", get(collections))
        .route("/collections/{id}", get(collection))
        .route("/collections/{id}/items", get(items))
        .route("/collections/{id}/items/{fid}", get(item))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "Not found", "no such resource") })
        .with_state(state)
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
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}
    ], "responses": {"200": {"description": "GeoJSON features", "content": {"application/geo+json": {}}}, "400": {"description": "bad parameter"}}}}));
    paths.insert("/collections/{id}/items/{fid}".into(), json!({"get": {"parameters": [id_param, {"name": "fid", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "one feature"}, "404": {"description": "unknown feature"}}}}));
    json_response(
        "application/vnd.oai.openapi+json;version=3.0",
        json!({"openapi": "3.0.3", "info": {"title": "Kent & Medway violence hotspots", "version": env!("CARGO_PKG_VERSION")}, "paths": paths}),
    )
}

fn collection_json(c: &super::Collection) -> Value {
    let e = c.extent();
    json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "extent": {"spatial": {"bbox": [e], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
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
    let bbox = match q.get("bbox").map(|b| parse_bbox(b)) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => return problem(StatusCode::BAD_REQUEST, "Bad bbox", &e),
    };
    let matched: Vec<usize> = (0..c.features.len())
        .filter(|&i| {
            bbox.is_none_or(|b| {
                let f = c.bboxes[i];
                f[0] <= b[2] && f[2] >= b[0] && f[1] <= b[3] && f[3] >= b[1]
            })
        })
        .collect();
    let page: Vec<&Value> = matched
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&i| &c.features[i])
        .collect();
    let base = |o: usize| {
        let mut u = format!("/collections/{id}/items?limit={limit}&offset={o}");
        if let Some(b) = q.get("bbox") {
            u.push_str(&format!("&bbox={b}"));
        }
        u
    };
    let mut links =
        vec![json!({"href": base(offset), "rel": "self", "type": "application/geo+json"})];
    if offset + page.len() < matched.len() {
        links.push(
            json!({"href": base(offset + limit), "rel": "next", "type": "application/geo+json"}),
        );
    }
    if offset > 0 {
        links.push(json!({"href": base(offset.saturating_sub(limit)), "rel": "prev", "type": "application/geo+json"}));
    }
    json_response(
        "application/geo+json",
        json!({
            "type": "FeatureCollection",
            "numberMatched": matched.len(),
            "numberReturned": page.len(),
            "features": page,
            "links": links,
        }),
    )
}

async fn item(State(s): State<Arc<AppState>>, Path((id, fid)): Path<(String, String)>) -> Response {
    let Some(c) = s.collection(&id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Unknown collection",
            &format!("no collection '{id}'"),
        );
    };
    match c
        .features
        .iter()
        .find(|f| f["id"].as_str() == Some(fid.as_str()))
    {
        Some(f) => {
            let mut f = f.clone();
            f["links"] = json!([
                {"href": format!("/collections/{id}/items/{fid}"), "rel": "self", "type": "application/geo+json"},
                {"href": format!("/collections/{id}"), "rel": "collection", "type": "application/json"}
            ]);
            json_response("application/geo+json", f)
        }
        None => problem(
            StatusCode::NOT_FOUND,
            "Unknown feature",
            &format!("no feature '{fid}' in '{id}'"),
        ),
    }
}
