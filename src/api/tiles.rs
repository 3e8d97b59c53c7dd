//! `GET /tiles/{layer}/{z}/{x}/{y}.mvt` (Mapbox Vector Tile 2.1) and `GET
//! /tiles/{layer}/tilejson.json` (TileJSON 3.0.0): translators over [`crate::service::tiles`].
//!
//! - The lighting analysis behind the tiles is the one the GeoJSON endpoints use, for the
//!   configured class plan, computed once per snapshot in an analysis slot
//!   ([`super::lighting::result_of`]); a tile is then encoded on the blocking pool
//!   ([`super::blocking`]) from the features in it (a zoom 10 tile of a whole city holds at
//!   most the city).
//! - Tiles are kept in the shared answer cache ([`ResultCache`](super::cache::ResultCache),
//!   bounded by bytes) per (snapshot version, layer, view, z/x/y): a new snapshot changes the
//!   key. The view is `public` or `full` for the stretches, whose priority and counts the public
//!   sees as its GeoJSON shows them, and `any` for walkways and lamps, the same for everyone.
//! - Browsers revalidate (`Cache-Control: private, no-cache`) with the `ETag` of the snapshot
//!   and view, and get `304 Not Modified` while the data is unchanged.
//! - Tiles are sent as the protobuf itself; the server's compression layer gzips them for
//!   clients that accept it (`Accept-Encoding: gzip`, which every browser and GDAL send), as it
//!   does every answer. An empty tile is a 200 with no bytes.
//! - Axum's router takes no partial segment (`{y}.mvt`): the last segment is `{y}` and must end
//!   in `.mvt`. The TileJSON's `tiles` URL is absolute, built from the request's `Host`
//!   (checked to be a host name or address with a port), `https` when a proxy says
//!   `X-Forwarded-Proto: https`.

use std::sync::LazyLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::cache::{CacheKey, Cached};
use super::query::{NoParams, Q};
use super::{ApiResult, AppState, blocking};
use crate::service::lighting::ClassParams;
use crate::service::tiles::{self as service, TileJson, TileLayer};

/// The tile routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tile))
        .routes(routes!(tilejson))
}

/// The content type of a tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";

/// Tells this process's answers from another's: snapshot versions start again at every start.
static BOOT: LazyLock<u64> = LazyLock::new(|| {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
});

/// One layer's tile.
///
/// A Mapbox Vector Tile 2.1 (extent 4096, 64 units of buffer) with one layer named after the
/// path's: `walkways` (pieces with `walkway_id`, `state`, `class`, `lux`), `lamps` (`id`,
/// `status`) or `stretches` (the dark and unknown ones with `id`, `walkway_id`, `state`,
/// `class`, `length_m`, `mean_lux`, `priority`, `rank`, `incidents_after_dark`; anonymous
/// callers get the public view, as `/api/v1/lighting/stretches` gives it). Zoom 10 to 16;
/// deeper zooms draw zoom 16 larger. Below zoom 14 walkways and stretches are generalised: one
/// feature per state and class (stretches also per mean lux to 0.1 lx) with only those
/// properties. An empty tile has no bytes. `/tiles/{layer}/tilejson.json` describes the layer.
///
/// Size: a tile holds the lines in it, at zoom 10 at most the whole city (some 8 bytes a
/// walkway below zoom 14 before gzip).
#[utoipa::path(
    get,
    path = "/tiles/{layer}/{z}/{x}/{y}",
    tag = "tiles",
    params(
        ("layer" = String, Path, description = "walkways, lamps or stretches", pattern = "^(walkways|lamps|stretches)$"),
        ("z" = u32, Path, description = "Zoom, 10 to 16", minimum = 10, maximum = 16),
        ("x" = u32, Path, description = "Column from the west, 0 to 2^z − 1"),
        ("y" = String, Path, description = "Row from the north, 0 to 2^z − 1, followed by .mvt", pattern = "^[0-9]{1,10}\\.mvt$", example = "9483.mvt"),
        NoParams
    ),
    responses(
        (status = 200, description = "The tile (empty when nothing is in it)", content_type = "application/vnd.mapbox-vector-tile", body = Vec<u8>),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
        (status = 400, description = "A coordinate is not a number, or a query parameter is unknown"),
        (status = 404, description = "No such layer, or no tile at this address (zoom outside 10–16, column or row outside the grid)"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security((), ("bearer" = []))
)]
async fn tile(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((layer, z, x, y)): Path<(String, String, String, String)>,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Response> {
    let layer = TileLayer::parse(&layer)?;
    let t = service::tile_address(&z, &x, &y)?;
    let public = !state.viewer(&caller).sees_points();
    let view = match (layer.per_view(), public) {
        (false, _) => "any",
        (true, true) => "public",
        (true, false) => "full",
    };
    let snap = state.spatial.load();
    let etag = format!("\"{}-{}-{view}\"", *BOOT, snap.version);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim() == etag))
    {
        return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), &etag));
    }
    let key = CacheKey {
        endpoint: "tiles",
        query: format!("{}/{}/{}/{}", layer.name(), t.z, t.x, t.y),
        class: view,
        snapshot: snap.version,
    };
    let cached = match state.cache.get(&key) {
        Some(c) => c,
        None => {
            let plan = ClassParams::default().plan(&state.config)?;
            let result = super::lighting::result_of(&state, &snap, plan).await?;
            let bytes =
                blocking(move || Ok(service::tile(&snap, &result, layer, t, public)?)).await?;
            let c = std::sync::Arc::new(Cached {
                body: if bytes.is_empty() {
                    Vec::new()
                } else {
                    vec![Bytes::from(bytes)]
                },
                content_type: MVT,
                bounds: None,
                gzip: None,
            });
            state.cache.put(key, c.clone());
            c
        }
    };
    let mut r = cached.respond();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(with_etag(r, &etag))
}

fn with_etag(mut r: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    r
}

/// A layer's TileJSON 3.0.0 document: the tile URL template, zooms, the data's bounds and the
/// layer's fields.
#[utoipa::path(
    get,
    path = "/tiles/{layer}/tilejson.json",
    tag = "tiles",
    params(
        ("layer" = String, Path, description = "walkways, lamps or stretches", pattern = "^(walkways|lamps|stretches)$"),
        NoParams
    ),
    responses(
        (status = 200, description = "TileJSON 3.0.0", content_type = "application/json", body = TileJson),
        (status = 400, description = "A query parameter is unknown"),
        (status = 404, description = "No such layer"),
    ),
    security((), ("bearer" = []))
)]
async fn tilejson(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(layer): Path<String>,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Response> {
    let layer = TileLayer::parse(&layer)?;
    let snap = state.spatial.load();
    let fallback = state
        .config
        .service_area
        .unwrap_or(crate::crs::SWEDEN_WGS84);
    let base = super::origin(&headers);
    let doc = blocking(move || Ok(service::tilejson(layer, &base, &snap, fallback))).await?;
    let mut r = Json(doc).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(r)
}
