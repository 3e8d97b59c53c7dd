//! The web app: the files in `web/` (the public map, the report form, the coordinators' and
//! police's views, the printable lägesbild), Leaflet and its plugins from `web/node_modules`
//! under `/vendor/…`, and `GET /api/v1/config`, which tells the app the base map, the service
//! area and the districts.
//!
//! Only the app's own files are served, by name: `node_modules/`, `tests/` and `package.json`
//! stay private. The directory is `web/` beside `Cargo.toml` when run from the repository, or
//! `LAGESBILD_WEB_DIR` when the binary is installed elsewhere.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::routing::{get, get_service};
use axum::{Json, Router};
use geo::BoundingRect;
use serde_json::{Value, json};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::{ApiResult, AppState};
use crate::crs;

/// Sweden in WGS84 `[west, south, east, north]`, the service area when none is configured.
pub const SWEDEN_WGS84: [f64; 4] = [10.5, 55.0, 24.2, 69.1];

/// Where the web app's files are: `LAGESBILD_WEB_DIR`, else the repository's `web/`.
pub fn web_dir() -> PathBuf {
    match std::env::var_os("LAGESBILD_WEB_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("web"),
    }
}

/// The web app's routes, served from [`web_dir`].
pub fn routes() -> Router<AppState> {
    routes_from(&web_dir())
}

/// The web app's routes, served from `dir`. Nothing here is a fallback, so no API path can be
/// shadowed by a file.
pub fn routes_from(dir: &Path) -> Router<AppState> {
    let modules = dir.join("node_modules");
    // The app's own files change with every release: browsers must revalidate (cheap, with
    // Last-Modified). Vendor files are pinned versions and may be cached for a day.
    let revalidate = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    let cache_day = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    let file = |name: &str| get_service(ServeFile::new(dir.join(name))).layer(revalidate.clone());
    let vendor = Router::new()
        .nest_service(
            "/vendor/leaflet",
            ServeDir::new(modules.join("leaflet").join("dist")),
        )
        .nest_service(
            "/vendor/markercluster",
            ServeDir::new(modules.join("leaflet.markercluster").join("dist")),
        )
        .layer(cache_day);
    Router::new()
        .route("/api/v1/config", get(config))
        .route("/", file("index.html"))
        .route("/index.html", file("index.html"))
        .route("/print.html", file("print.html"))
        .route("/style.css", file("style.css"))
        .route("/print.css", file("print.css"))
        .nest_service(
            "/js",
            tower::ServiceBuilder::new()
                .layer(revalidate.clone())
                .service(ServeDir::new(dir.join("js"))),
        )
        .merge(vendor)
}

/// What the web app needs to start: base map, privacy threshold, where to look, districts.
async fn config(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let snap = state.spatial.load();
    let cfg = &state.config;
    let service_area = cfg.service_area.unwrap_or(SWEDEN_WGS84);
    let districts: Vec<Value> = snap
        .areas
        .items
        .iter()
        .map(|a| {
            let bbox = a.geometry.bounding_rect().and_then(|r| {
                let (w, s) = crs::to_wgs84(r.min().x, r.min().y).ok()?;
                let (e, n) = crs::to_wgs84(r.max().x, r.max().y).ok()?;
                Some([
                    crs::round7(w),
                    crs::round7(s),
                    crs::round7(e),
                    crs::round7(n),
                ])
            });
            json!({ "id": a.id, "name": a.name, "bbox": bbox })
        })
        .collect();
    Ok(Json(json!({
        "tile_url": cfg.tile_url,
        "tile_attribution": cfg.tile_attribution,
        "demo": snap.demo,
        "min_public_count": cfg.min_public_count,
        "service_area_wgs84": service_area,
        "lighting_class": cfg.lighting_class,
        "districts": districts,
        "categories": crate::category::labels_sv()
            .into_iter()
            .map(|(code, name)| (code.to_string(), Value::String(name)))
            .collect::<serde_json::Map<String, Value>>(),
    })))
}

/// OpenAPI 3.1 `paths` entries of these endpoints.
pub fn openapi_paths() -> Value {
    json!({
        "/api/v1/config": { "get": {
            "summary": "What the web app needs to start",
            "description": "`{tile_url, tile_attribution, demo, min_public_count, service_area_wgs84: [w,s,e,n], lighting_class, districts: [{id, name, bbox}], categories: {code: Swedish name}}`",
            "responses": { "200": { "description": "JSON object" } }
        }}
    })
}
