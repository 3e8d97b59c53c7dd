//! OGC API – Features at `/ogc`: a translator over [`crate::service::ogc`] for QGIS, GDAL,
//! OWSLib and other GIS clients.
//!
//! - `GET /ogc` the landing page, `/ogc/conformance`, `/ogc/api` (an OpenAPI 3.0 document of
//!   these routes), `/ogc/collections`, `/ogc/collections/{collectionId}`, its `items`
//!   (`limit`, `offset`, `bbox`, `bbox-crs`, `datetime`, `crs`) and `items/{featureId}`.
//! - Collections are built once per (snapshot version, view) and shared by every page; the
//!   lighting analysis and the public Gi\* run in an analysis slot like their own endpoints, the
//!   building on the blocking pool. Measures live in the store, not in the snapshot: they are
//!   read on every request.
//! - `incidents` and `measures` need a police or coordinator token (`Authorization: Bearer`,
//!   which QGIS sends as an API header); the others are public and show what the public
//!   endpoints show.
//! - Links are absolute, built from the request's `Host` (checked to be a host name or address
//!   with a port), `https` only when a proxy says `X-Forwarded-Proto: https`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{ApiResult, AppError, AppState};
use crate::service::ogc::{
    self as service, CollectionId, DEFAULT_LIMIT, ItemsQuery, MAX_LIMIT, OutCrs,
};
use crate::service::{ServiceError, Viewer};

/// The routes (outside `/api/openapi.json`: `/ogc/api` describes them in OpenAPI 3.0, as Part 1
/// asks).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ogc", get(landing))
        .route("/ogc/", get(landing))
        .route("/ogc/conformance", get(conformance))
        .route("/ogc/api", get(api_document))
        .route("/ogc/collections", get(collections))
        .route("/ogc/collections/{id}", get(collection))
        .route("/ogc/collections/{id}/items", get(items))
        .route("/ogc/collections/{id}/items/{fid}", get(item))
}

const JSON: &str = "application/json";
const GEOJSON: &str = "application/geo+json";
const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";

/// The conformance classes implemented.
pub const CONFORMANCE: [&str; 4] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];

/// `http(s)://host/ogc` of this request.
fn base(headers: &HeaderMap) -> String {
    format!("{}/ogc", super::origin(headers))
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": kind, "title": title })
}

fn answer(body: String, kind: &'static str, crs: Option<OutCrs>) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
        body,
    )
        .into_response();
    if let Some(c) = crs {
        let v = format!("<{}>", c.uri());
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert("content-crs", v);
        }
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    r
}

fn json_answer(v: &Value) -> Response {
    answer(v.to_string(), JSON, None)
}

/// `GET /ogc`.
async fn landing(headers: HeaderMap) -> Response {
    let b = base(&headers);
    json_answer(&json!({
        "title": "Lägesbild",
        "description": "Gemensam lokal lägesbild: belysning på gångvägar, lampor, mörka sträckor, brottsintensiva områden, medborgarrapporter och områden som OGC API – Features.",
        "links": [
            link(b.clone(), "self", JSON, "Den här sidan"),
            link(format!("{b}/api"), "service-desc", OPENAPI, "API-beskrivning (OpenAPI 3.0)"),
            link(format!("{b}/conformance"), "conformance", JSON, "Uppfyllda standarder"),
            link(format!("{b}/collections"), "data", JSON, "Samlingarna"),
        ]
    }))
}

/// `GET /ogc/conformance`.
async fn conformance() -> Response {
    json_answer(&json!({ "conformsTo": CONFORMANCE }))
}

/// The collections this caller may read.
fn visible(viewer: &Viewer) -> impl Iterator<Item = CollectionId> + '_ {
    CollectionId::ALL
        .into_iter()
        .filter(|c| !c.about().points_only || viewer.sees_points())
}

/// The collection named `id`, if the caller may read it: 404 for an unknown name, 401 or 403
/// for one that needs a role.
fn checked(id: &str, caller: &Caller, viewer: &Viewer) -> ApiResult<CollectionId> {
    let c = CollectionId::parse(id).ok_or_else(|| {
        AppError::NotFound(format!(
            "no collection {id:?}: expected one of {}",
            CollectionId::ALL.map(|c| c.about().name).join(", ")
        ))
    })?;
    if c.about().points_only && !viewer.sees_points() {
        caller.require(crate::model::Role::Police)?;
    }
    Ok(c)
}

/// The description of one collection, with its extent when it has been built.
fn describe(b: &str, c: CollectionId, built: Option<&service::Collection>) -> Value {
    let a = c.about();
    let href = format!("{b}/collections/{}", a.name);
    let mut extent = serde_json::Map::new();
    if let Some(e) = built.and_then(|x| x.extent) {
        extent.insert(
            "spatial".into(),
            json!({ "bbox": [e], "crs": service::CRS84 }),
        );
    }
    if let Some((from, to)) = built.and_then(|x| x.interval) {
        extent.insert(
            "temporal".into(),
            json!({
                "interval": [[from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
            }),
        );
    }
    let mut v = json!({
        "id": a.name,
        "title": a.title,
        "description": a.description,
        "itemType": "feature",
        "crs": OutCrs::ALL.map(|c| c.uri()),
        "storageCrs": service::EPSG3006,
        "links": [
            link(href.clone(), "self", JSON, a.title),
            link(format!("{href}/items"), "items", GEOJSON, "Objekten"),
        ]
    });
    if !extent.is_empty() {
        v["extent"] = Value::Object(extent);
    }
    v
}

/// `GET /ogc/collections`: what the caller may read (extents of the collections built).
async fn collections(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let viewer = state.viewer(&caller);
    let b = base(&headers);
    let version = state.spatial.load().version;
    let list: Vec<Value> = visible(&viewer)
        .map(|c| {
            let built = state.cache.ogc.get(version, &cache_key(c, &viewer));
            describe(&b, c, built.as_deref())
        })
        .collect();
    Ok(json_answer(&json!({
        "links": [link(format!("{b}/collections"), "self", JSON, "Samlingarna")],
        "collections": list,
        "crs": OutCrs::ALL.map(|c| c.uri()),
    })))
}

/// `GET /ogc/collections/{id}`: builds the collection for its extent.
async fn collection(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let viewer = state.viewer(&caller);
    let c = checked(&id, &caller, &viewer)?;
    let built = built(&state, c, &viewer).await?;
    Ok(json_answer(&describe(&base(&headers), c, Some(&built))))
}

fn cache_key(c: CollectionId, viewer: &Viewer) -> String {
    let view = if viewer.sees_points() {
        "points"
    } else {
        "public"
    };
    format!("{}:{view}", c.about().name)
}

/// The collection's items for this viewer, built once per snapshot version (measures: every
/// time, from the store).
async fn built(
    state: &AppState,
    c: CollectionId,
    viewer: &Viewer,
) -> ApiResult<Arc<service::Collection>> {
    if c == CollectionId::Measures {
        let list = crate::service::measures::list(&*state.store).await?;
        let col = super::blocking(move || {
            Ok(service::Collection::new(service::measures(&list.measures)?))
        })
        .await?;
        return Ok(Arc::new(col));
    }
    let snap = state.spatial.load();
    let key = cache_key(c, viewer);
    let viewer = *viewer;
    let st = state.clone();
    state
        .cache
        .ogc
        .get_or_try_compute(snap.version, key, || async move {
            let items = match c {
                CollectionId::Walkways | CollectionId::Lamps | CollectionId::Stretches => {
                    let plan = super::lighting::class_plan(None, None, &st.config)
                        .map_err(AppError::BadRequest)?;
                    let (snap, result) = super::lighting::analysis(&st, plan).await?;
                    super::blocking(move || {
                        Ok(match c {
                            CollectionId::Walkways => service::walkways(&snap, &result)?,
                            CollectionId::Lamps => service::lamps(&snap, &result)?,
                            _ => service::stretches(&snap, &result, &viewer)?,
                        })
                    })
                    .await?
                }
                CollectionId::Hotspots => {
                    let rules = st.config.public_rules();
                    super::analysis(&st, move |cancel| {
                        Ok(service::hotspots(&snap, rules, cancel)?)
                    })
                    .await?
                }
                CollectionId::Reports => {
                    super::blocking(move || Ok(service::reports(&snap)?)).await?
                }
                CollectionId::Districts => {
                    super::blocking(move || Ok(service::districts(&snap)?)).await?
                }
                CollectionId::Incidents => {
                    super::blocking(move || Ok(service::incidents(&snap, &viewer)?)).await?
                }
                CollectionId::Measures => unreachable!("measures are read from the store"),
            };
            super::blocking(move || Ok(service::Collection::new(items))).await
        })
        .await
}

fn pairs(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `GET /ogc/collections/{id}/items`: one page.
async fn items(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let viewer = state.viewer(&caller);
    let c = checked(&id, &caller, &viewer)?;
    let q = ItemsQuery::parse(&pairs(raw.as_deref()))?;
    let col = built(&state, c, &viewer).await?;
    let href = format!("{}/collections/{}/items", base(&headers), c.about().name);
    let crs = q.crs;
    let body = super::blocking(move || {
        let (page, matched) = col.select(&q)?;
        let mut links = vec![
            link(
                format!("{href}?{}", q.query_string(q.offset)),
                "self",
                GEOJSON,
                "Den här sidan",
            ),
            link(href.replace("/items", ""), "collection", JSON, "Samlingen"),
        ];
        if q.offset + page.len() < matched {
            links.push(link(
                format!("{href}?{}", q.query_string(q.offset + page.len())),
                "next",
                GEOJSON,
                "Nästa sida",
            ));
        }
        if q.offset > 0 {
            links.push(link(
                format!(
                    "{href}?{}",
                    q.query_string(q.offset.saturating_sub(q.limit))
                ),
                "prev",
                GEOJSON,
                "Föregående sida",
            ));
        }
        Ok(service::page_json(
            &page,
            matched,
            q.crs,
            &Value::Array(links),
            Utc::now(),
        )?)
    })
    .await?;
    Ok(answer(body, GEOJSON, Some(crs)))
}

/// `GET /ogc/collections/{id}/items/{fid}`: one feature (`crs` the only parameter).
async fn item(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let viewer = state.viewer(&caller);
    let c = checked(&id, &caller, &viewer)?;
    let mut crs = OutCrs::Crs84;
    for (k, v) in pairs(raw.as_deref()) {
        match k.as_str() {
            "crs" => crs = OutCrs::parse("crs", &v)?,
            "f" if v == "json" || v == "geojson" => {}
            other => {
                return Err(ServiceError::Invalid(format!(
                    "{other:?}={v:?} is not a parameter of an item: expected crs or f=json"
                ))
                .into());
            }
        }
    }
    let col = built(&state, c, &viewer).await?;
    let Some(found) = col.item(&fid) else {
        return Err(AppError::NotFound(format!(
            "no feature {fid:?} in the collection {id:?}"
        )));
    };
    let b = base(&headers);
    let name = c.about().name;
    let links = json!([
        link(
            format!("{b}/collections/{name}/items/{}", urlencode(&fid)),
            "self",
            GEOJSON,
            "Objektet"
        ),
        link(
            format!("{b}/collections/{name}"),
            "collection",
            JSON,
            "Samlingen"
        ),
    ]);
    Ok(answer(
        service::item_json(found, crs, &links)?,
        GEOJSON,
        Some(crs),
    ))
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `GET /ogc/api`: these routes in OpenAPI 3.0.
async fn api_document(headers: HeaderMap) -> Response {
    answer(openapi(&base(&headers)).to_string(), OPENAPI, None)
}

/// The OpenAPI 3.0 document of `/ogc` (every collection, whatever the caller's role).
pub fn openapi(base: &str) -> Value {
    let names: Vec<&str> = CollectionId::ALL.iter().map(|c| c.about().name).collect();
    let crs_values: Vec<&str> = OutCrs::ALL.iter().map(|c| c.uri()).collect();
    let error = json!({ "description": "An error; the message names the parameter and value", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/error" } } } });
    let json_ok = |d: &str| json!({ "200": { "description": d, "content": { "application/json": { "schema": { "type": "object" } } } }, "400": error.clone() });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Lägesbild – OGC API – Features",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Belysning, lampor, mörka sträckor, brottsintensiva områden, medborgarrapporter, områden och (med token) händelser och åtgärder."
        },
        "servers": [{ "url": base }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "error": { "type": "object", "properties": { "error": { "type": "string" }, "status": { "type": "integer" } } }
            },
            "parameters": {
                "collectionId": { "name": "collectionId", "in": "path", "required": true, "schema": { "type": "string", "enum": names } },
                "featureId": { "name": "featureId", "in": "path", "required": true, "schema": { "type": "string" } },
                "limit": { "name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                    "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT } },
                "offset": { "name": "offset", "in": "query", "required": false, "description": "Objects to skip (the next and prev links set it)",
                    "schema": { "type": "integer", "minimum": 0, "maximum": service::MAX_OFFSET, "default": 0 } },
                "bbox": { "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Lower and upper corner in bbox-crs's axis order (CRS84: lon, lat)",
                    "schema": { "type": "array", "minItems": 4, "maxItems": 6, "items": { "type": "number" } } },
                "bbox-crs": { "name": "bbox-crs", "in": "query", "required": false, "schema": { "type": "string", "format": "uri", "enum": crs_values, "default": service::CRS84 } },
                "crs": { "name": "crs", "in": "query", "required": false, "schema": { "type": "string", "format": "uri", "enum": crs_values, "default": service::CRS84 } },
                "datetime": { "name": "datetime", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "An RFC 3339 instant or interval (../ for open ends); a date is that day in Europe/Stockholm",
                    "schema": { "type": "string" } }
            }
        },
        "security": [{}, { "bearer": [] }],
        "paths": {
            "/": { "get": { "operationId": "landingPage", "summary": "Landing page", "responses": json_ok("Links to the API, conformance and collections") } },
            "/conformance": { "get": { "operationId": "getConformance", "summary": "Conformance classes", "responses": json_ok("The conformance classes implemented") } },
            "/api": { "get": { "operationId": "getApi", "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.0", "content": { OPENAPI: { "schema": { "type": "object" } } } } } } },
            "/collections": { "get": { "operationId": "getCollections", "summary": "The collections the caller may read", "responses": json_ok("The collections") } },
            "/collections/{collectionId}": { "get": {
                "operationId": "describeCollection", "summary": "One collection",
                "parameters": [{ "$ref": "#/components/parameters/collectionId" }],
                "responses": { "200": { "description": "The collection", "content": { "application/json": { "schema": { "type": "object" } } } },
                    "401": error.clone(), "404": error.clone(), "408": error.clone(), "503": error.clone() } } },
            "/collections/{collectionId}/items": { "get": {
                "operationId": "getFeatures", "summary": "A page of features",
                "parameters": [
                    { "$ref": "#/components/parameters/collectionId" },
                    { "$ref": "#/components/parameters/limit" },
                    { "$ref": "#/components/parameters/offset" },
                    { "$ref": "#/components/parameters/bbox" },
                    { "$ref": "#/components/parameters/bbox-crs" },
                    { "$ref": "#/components/parameters/datetime" },
                    { "$ref": "#/components/parameters/crs" }
                ],
                "responses": {
                    "200": { "description": "A GeoJSON FeatureCollection with numberMatched, numberReturned and next/prev links; Content-Crs names the CRS",
                        "headers": { "Content-Crs": { "schema": { "type": "string" } } },
                        "content": { GEOJSON: { "schema": { "type": "object" } } } },
                    "400": error.clone(), "401": error.clone(), "404": error.clone(), "408": error.clone(), "503": error.clone() } } },
            "/collections/{collectionId}/items/{featureId}": { "get": {
                "operationId": "getFeature", "summary": "One feature",
                "parameters": [
                    { "$ref": "#/components/parameters/collectionId" },
                    { "$ref": "#/components/parameters/featureId" },
                    { "$ref": "#/components/parameters/crs" }
                ],
                "responses": {
                    "200": { "description": "A GeoJSON Feature", "headers": { "Content-Crs": { "schema": { "type": "string" } } },
                        "content": { GEOJSON: { "schema": { "type": "object" } } } },
                    "400": error.clone(), "401": error.clone(), "404": error.clone() } } }
        }
    })
}
