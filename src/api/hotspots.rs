//! `/api/v1/hotspots`, `/api/v1/hotspots/kde.png`, `/api/v1/hotspots/compare` and
//! `/api/v1/incidents`: translators over [`crate::service::hotspots`].
//!
//! Answers are computed on the blocking pool within an analysis slot ([`super::analysis`]),
//! serialised there straight to bytes, and cached per (typed query, caller class, snapshot
//! version) in the shared [`ResultCache`](super::cache::ResultCache); any data change
//! invalidates them. What the public sees is the service layer's public product.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::cache::{CacheKey, Cached};
use super::query::{Q2, Q3};
use super::{ApiResult, AppError, AppState, blocking};
use crate::crs;
use crate::model::Role;
use crate::service::filter::{AttributeFilter, FilterParams};
use crate::service::geojson::{Feature, FeatureCollection};
use crate::service::hotspots::ehsa::{EhsaMeta, EhsaProps, PublicEhsaMeta, PublicEhsaProps};
use crate::service::hotspots::public::{
    PublicCellChangeProps, PublicCompareMeta, PublicGistarMeta, PublicGistarProps, PublicKdeMeta,
    PublicKdeProps,
};
use crate::service::hotspots::{
    self as service, CellChangeProps, ClusterChangeProps, ClusterProps, DbscanCompareMeta,
    DbscanMeta, GistarCompareMeta, GistarMeta, GistarProps, IncidentMeta, IncidentParams,
    IncidentProps, KdeMeta, KdeProps, MethodParams, PeriodParams,
};

/// The hotspot routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(hotspots))
        .routes(routes!(kde_png))
        .routes(routes!(compare))
        .routes(routes!(incidents))
}

fn class(caller: &Caller) -> &'static str {
    if caller.role.sees_points() {
        "full"
    } else {
        "public"
    }
}

/// The cached answer, or `compute` run in an analysis slot and cached.
async fn cached(
    state: &AppState,
    key: CacheKey,
    compute: impl FnOnce(&crate::analysis::cancel::Cancel) -> ApiResult<Cached> + Send + 'static,
) -> ApiResult<Response> {
    if let Some(c) = state.cache.get(&key) {
        return Ok(c.respond());
    }
    let c = Arc::new(super::analysis(state, compute).await?);
    state.cache.put(key, c.clone());
    Ok(c.respond())
}

fn to_geojson(answer: &impl serde::Serialize) -> ApiResult<Cached> {
    Cached::serialise(answer, "application/geo+json").map_err(AppError::internal)
}

/// Crime hotspots: DBSCAN clusters, Getis-Ord Gi\* cells, kernel density or emerging hot spots.
///
/// DBSCAN features (signed-in roles): Polygon hulls with id, count, categories, first, last,
/// profile (7 × 24, Monday first, Stockholm time), peak, centre. Gi\* features: cell polygons
/// with count, z, p (two-sided), bin (−3..3 after Benjamini-Hochberg FDR). KDE features: cell
/// polygons with density (events per km²); `meta.bounds`. Emerging hot spots (`method=ehsa`,
/// `step=week|month`, `neighbourhood_steps`): cell polygons with ESRI's category (e.g.
/// `new_hot_spot`), its Swedish label, the per-step history, and the Mann–Kendall `mk_tau`,
/// `mk_z`, `mk_p` of the cell's z-scores. Anonymous callers get the public product: Gi\* on
/// public cells with counts below k null and no z or p; the heat map of events moved to their
/// cell's centre, cells with fewer than k events within the bandwidth left out; emerging hot
/// spots in monthly steps with the category only; whole months, day parts, category groups,
/// districts.
#[utoipa::path(
    get,
    path = "/api/v1/hotspots",
    tag = "hotspots",
    params(FilterParams, MethodParams),
    responses(
        (status = 200, description = "Hotspots as a FeatureCollection with a meta member", content_type = "application/geo+json", body = inline(HotspotDoc)),
        (status = 400, description = "A parameter is invalid, or the request is too large for the caller's role; the message names it"),
        (status = 401, description = "A token was sent and is not valid"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security((), ("bearer" = []))
)]
async fn hotspots(
    State(state): State<AppState>,
    caller: Caller,
    Q2(filter, params): Q2<FilterParams, MethodParams>,
) -> ApiResult<Response> {
    let snap = state.spatial.load();
    // The public's emerging hot spots without a period end at the last whole month before
    // today: the same data give another answer when a month begins.
    let today = match params.method {
        Some(service::Method::Ehsa) => crate::time::local_date(&chrono::Utc::now()).to_string(),
        _ => String::new(),
    };
    let key = CacheKey {
        endpoint: "hotspots",
        query: format!("{filter:?}{params:?}{today}"),
        class: class(&caller),
        snapshot: snap.version,
    };
    let viewer = state.viewer(&caller);
    cached(&state, key, move |cancel| {
        hotspots_geojson(&service::hotspots(
            &snap, &filter, &params, &viewer, cancel,
        )?)
    })
    .await
}

/// A hotspot answer as GeoJSON: the feature collections (tens of thousands of cells) written
/// in parallel lots, the same bytes as written whole.
fn hotspots_geojson(answer: &service::HotspotAnswer) -> ApiResult<Cached> {
    use service::HotspotAnswer as A;
    const GEOJSON: &str = "application/geo+json";
    match answer {
        A::Dbscan(c) => Cached::serialise_collection(c, GEOJSON),
        A::Gistar(c) => Cached::serialise_collection(c, GEOJSON),
        A::PublicGistar(c) => Cached::serialise_collection(c, GEOJSON),
        A::Ehsa(c) => Cached::serialise_collection(c, GEOJSON),
        A::PublicEhsa(c) => Cached::serialise_collection(c, GEOJSON),
        A::Kde(_) | A::PublicKde(_) => Cached::serialise(answer, GEOJSON),
    }
    .map_err(AppError::internal)
}

/// One of the shapes `GET /api/v1/hotspots` answers with.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
enum HotspotDoc {
    Dbscan(FeatureCollection<Feature<ClusterProps>, DbscanMeta>),
    Gistar(FeatureCollection<Feature<GistarProps>, GistarMeta>),
    Kde(FeatureCollection<Feature<KdeProps>, KdeMeta>),
    PublicGistar(FeatureCollection<Feature<PublicGistarProps>, PublicGistarMeta>),
    PublicKde(FeatureCollection<Feature<PublicKdeProps>, PublicKdeMeta>),
    Ehsa(FeatureCollection<Feature<EhsaProps>, EhsaMeta>),
    PublicEhsa(FeatureCollection<Feature<PublicEhsaProps>, PublicEhsaMeta>),
}

/// Kernel density as a colour-ramped PNG overlay.
///
/// The WGS84 bounds west,south,east,north are in the X-Bounds response header; the image is
/// laid out for a Web Mercator map (Leaflet imageOverlay). The same privacy as the heat map's
/// GeoJSON applies: anonymous callers see only cells with at least k events within the
/// bandwidth.
#[utoipa::path(
    get,
    path = "/api/v1/hotspots/kde.png",
    tag = "hotspots",
    params(FilterParams, MethodParams),
    responses(
        (status = 200, description = "PNG overlay; bounds in X-Bounds", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "A parameter is invalid; the message names it"),
        (status = 404, description = "No point-level incidents to draw"),
    ),
    security((), ("bearer" = []))
)]
async fn kde_png(
    State(state): State<AppState>,
    caller: Caller,
    Q2(filter, params): Q2<FilterParams, MethodParams>,
) -> ApiResult<Response> {
    let snap = state.spatial.load();
    let key = CacheKey {
        endpoint: "kde.png",
        query: format!("{filter:?}{params:?}"),
        class: class(&caller),
        snapshot: snap.version,
    };
    let viewer = state.viewer(&caller);
    cached(&state, key, move |cancel| {
        let o = service::kde_png(&snap, &filter, &params, &viewer, cancel)?;
        let bounds = o
            .bounds
            .iter()
            .map(|v| crs::round7(*v).to_string())
            .collect::<Vec<_>>()
            .join(",");
        Ok(Cached {
            body: vec![Bytes::from(o.png)],
            content_type: "image/png",
            bounds: Some(bounds),
            gzip: None,
        })
    })
    .await
}

/// Period A against period B: new, gone, up, down, same.
///
/// Gi\*: cells hot (bin ≥ 2) in either period, with count_a, count_b, bin_a, bin_b, change.
/// DBSCAN (signed-in roles): clusters of B matched to clusters of A by overlapping hulls, with
/// count_a, count_b, change, continues. Anonymous callers: Gi\* on public cells over whole
/// months, the change told from the bins alone.
#[utoipa::path(
    get,
    path = "/api/v1/hotspots/compare",
    tag = "hotspots",
    params(AttributeFilter, MethodParams, PeriodParams),
    responses(
        (status = 200, description = "The comparison", content_type = "application/geo+json", body = inline(CompareDoc)),
        (status = 400, description = "A parameter is invalid; the message names it"),
    ),
    security((), ("bearer" = []))
)]
async fn compare(
    State(state): State<AppState>,
    caller: Caller,
    Q3(AttributeFilter(filter), params, periods): Q3<AttributeFilter, MethodParams, PeriodParams>,
) -> ApiResult<Response> {
    let snap = state.spatial.load();
    let key = CacheKey {
        endpoint: "compare",
        query: format!("{filter:?}{params:?}{periods:?}"),
        class: class(&caller),
        snapshot: snap.version,
    };
    let viewer = state.viewer(&caller);
    cached(&state, key, move |cancel| {
        to_geojson(&service::compare(
            &snap, &filter, &params, &periods, &viewer, cancel,
        )?)
    })
    .await
}

/// One of the shapes `GET /api/v1/hotspots/compare` answers with.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
enum CompareDoc {
    Gistar(FeatureCollection<Feature<CellChangeProps>, GistarCompareMeta>),
    Dbscan(FeatureCollection<Feature<ClusterChangeProps>, DbscanCompareMeta>),
    Public(FeatureCollection<Feature<PublicCellChangeProps>, PublicCompareMeta>),
}

/// Incident points (police, coordinator, admin), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "hotspots",
    params(FilterParams, IncidentParams),
    responses(
        (status = 200, description = "Incidents", content_type = "application/geo+json", body = FeatureCollection<Feature<IncidentProps>, IncidentMeta>),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid token"),
        (status = 403, description = "The token's role may not see points"),
    ),
    security(("bearer" = []))
)]
async fn incidents(
    State(state): State<AppState>,
    caller: Caller,
    Q2(filter, params): Q2<FilterParams, IncidentParams>,
) -> ApiResult<Response> {
    caller.require(Role::Police)?;
    let snap = state.spatial.load();
    let viewer = state.viewer(&caller);
    let c = blocking(move || to_geojson(&service::incidents(&snap, &filter, &params, &viewer)?))
        .await?;
    let mut resp = c.respond();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}
