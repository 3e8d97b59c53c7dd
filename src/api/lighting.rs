//! `/api/v1/lighting/stretches`, `/api/v1/lighting/lamps`, `/api/v1/walkways`,
//! `POST /api/v1/lighting/what-if` and `POST /api/v1/lighting/proposal`: translators over
//! [`crate::service::lighting`].
//!
//! The analysis of a whole city runs once per (snapshot version, class plan), in an analysis
//! slot ([`super::analysis`]), and is kept in the shared cache
//! ([`ResultCache::lighting`](super::cache::ResultCache)); the answers built from it are
//! serialised once, straight to bytes, and cached per (checked query, caller class, snapshot
//! version) in [`ResultCache`](super::cache::ResultCache). Any data change invalidates both.
//! Everything is public except what-if and proposals (coordinators); both can store their lamps
//! as a planned measure ([`crate::service::measures`]) in the same request.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::cache::{CacheKey, Cached};
use super::query::Q2;
use super::{ApiResult, AppError, AppState, blocking};
use crate::analysis::lighting::{ClassPlan, LightingInputs, LightingResult, Stretch};
use crate::model::Role;
use crate::service::geojson::{Feature, FeatureCollection};
use crate::service::lighting::{
    self as service, ClassParams, LampMeta, LampParams, LampProps, MAX_STRETCHES, PieceMeta,
    PieceParams, PieceProps, ProposalAnswer, ProposalRequest, StretchMeta, StretchParams,
    StretchProps, WhatIfAnswer, WhatIfRequest,
};
use crate::service::measures;
use crate::service::{ServiceResult, Viewer};
use crate::spatial::Snapshot;

/// The lighting routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stretches))
        .routes(routes!(lamps))
        .routes(routes!(walkways))
        .routes(routes!(what_if))
        .routes(routes!(proposal))
}

/// The analysis of `snap` for these classes: computed once per (snapshot version, class plan)
/// within an analysis slot, then shared without one. A request dropped while computing stops
/// the computation, and the next request computes anew.
pub(crate) async fn result_of(
    state: &AppState,
    snap: &Arc<Snapshot>,
    classes: ClassPlan,
) -> ApiResult<Arc<LightingResult>> {
    let s = snap.clone();
    let rules = state.config.public_rules();
    state
        .cache
        .lighting
        .get_or_try_compute(snap.version, classes.key(), || {
            super::analysis(state, move |cancel| {
                Ok(service::analyse(&s, classes, rules, cancel)?)
            })
        })
        .await
}

/// The analysis of the current snapshot for these classes (see [`result_of`]), for the
/// lägesbild summary.
pub async fn analysis(
    state: &AppState,
    classes: ClassPlan,
) -> ApiResult<(Arc<Snapshot>, Arc<LightingResult>)> {
    let snap = state.spatial.load();
    let result = result_of(state, &snap, classes).await?;
    Ok((snap, result))
}

/// [`service::class_plan`], for the lägesbild summary until it asks the service itself.
pub fn class_plan(
    class: Option<&str>,
    kind_class: Option<&str>,
    cfg: &crate::config::Config,
) -> Result<ClassPlan, String> {
    service::class_plan(class, kind_class, cfg)
}

/// [`service::stretch_feature`] as JSON, for the lägesbild summary until it takes the typed
/// feature.
pub fn stretch_feature(
    s: &Stretch,
    inputs: &LightingInputs<'_>,
    public: bool,
) -> serde_json::Value {
    service::stretch_feature(s, inputs, public)
        .ok()
        .and_then(|f| serde_json::to_value(f).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The answer, with `Cache-Control: private, no-cache`: lamps go off and on with citizen
/// reports, so a browser asks again every time (the server's cache answers).
fn respond(c: &Cached) -> Response {
    let mut r = c.respond();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    r
}

fn to_json(answer: &impl serde::Serialize) -> ApiResult<Cached> {
    Cached::serialise(answer, "application/json").map_err(AppError::internal)
}

/// The cached answer, or `render` over the analysis of `snap` for `plan`, cached.
async fn answer<T: serde::Serialize>(
    state: &AppState,
    key: CacheKey,
    snap: Arc<Snapshot>,
    plan: ClassPlan,
    render: impl FnOnce(&Snapshot, &LightingResult) -> ServiceResult<T> + Send + 'static,
) -> ApiResult<Response> {
    if let Some(c) = state.cache.get(&key) {
        return Ok(respond(&c));
    }
    let result = result_of(state, &snap, plan).await?;
    let c = Arc::new(blocking(move || to_json(&render(&snap, &result)?)).await?);
    state.cache.put(key, c.clone());
    Ok(respond(&c))
}

fn view(viewer: &Viewer) -> &'static str {
    if viewer.sees_points() {
        "full"
    } else {
        "public"
    }
}

/// Dark, unknown and lit stretches of walkway, ranked for the action plan.
///
/// LineStrings with the stretch's state, class, light (mean and minimum lux, the lamps on
/// either side and the gap between them), citizen reports, incidents after dark, lamps that
/// are off, priority (at most 100), rank and reasons (Swedish). `meta` holds the class and its
/// criteria, counts and lengths per state of the whole analysis, and the assumptions.
/// Anonymous callers get the configured classes, and an incident count only where at least k
/// fall on a stretch of at least half a public cell; priority, rank and reasons are then
/// computed without it.
///
/// Size: at most `limit` stretches (at most 20 000, the default; `meta.truncated` says when
/// more matched), about 1 kB each, so at most some 20 MB; narrow with `bbox` and `state`.
#[utoipa::path(
    get,
    path = "/api/v1/lighting/stretches",
    tag = "lighting",
    params(ClassParams, StretchParams),
    responses(
        (status = 200, description = "Stretches as a GeoJSON FeatureCollection (RFC 7946, WGS84) with a meta member", content_type = "application/json", body = FeatureCollection<Feature<StretchProps>, StretchMeta>),
        (status = 400, description = "A parameter is invalid, or the class is not the public's; the message names it"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security((), ("bearer" = []))
)]
async fn stretches(
    State(state): State<AppState>,
    caller: Caller,
    Q2(classes, params): Q2<ClassParams, StretchParams>,
) -> ApiResult<Response> {
    let viewer = state.viewer(&caller);
    let plan = classes.plan_seen_by(&state.config, &viewer)?;
    let filter = params.filter(&viewer, Some(MAX_STRETCHES))?;
    let snap = state.spatial.load();
    let key = CacheKey {
        endpoint: "lighting/stretches",
        query: format!("{}{filter:?}", plan.key()),
        class: view(&viewer),
        snapshot: snap.version,
    };
    answer(&state, key, snap, plan, move |snap, result| {
        service::stretches(snap, result, &filter)
    })
    .await
}

/// Street lamps with their status, the photometry used and the stretches a lamp that is off
/// darkens.
///
/// Size: at most `limit` lamps (at most 50 000, the default; `meta.truncated` says when more
/// are in the box), about 400 bytes each, so at most some 20 MB.
#[utoipa::path(
    get,
    path = "/api/v1/lighting/lamps",
    tag = "lighting",
    params(ClassParams, LampParams),
    responses(
        (status = 200, description = "Lamps as a GeoJSON FeatureCollection of Points with a meta member", content_type = "application/json", body = FeatureCollection<Feature<LampProps>, LampMeta>),
        (status = 400, description = "A parameter is invalid; the message names it"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security((), ("bearer" = []))
)]
async fn lamps(
    State(state): State<AppState>,
    Q2(classes, params): Q2<ClassParams, LampParams>,
) -> ApiResult<Response> {
    let plan = classes.plan(&state.config)?;
    let area = params.filter()?;
    let snap = state.spatial.load();
    let key = CacheKey {
        endpoint: "lighting/lamps",
        query: format!("{}{area:?}", plan.key()),
        class: "any",
        snapshot: snap.version,
    };
    answer(&state, key, snap, plan, move |snap, result| {
        service::lamps(snap, result, &area)
    })
    .await
}

/// Walkways cut into pieces of at most 20 m with their state and mean lux, for colouring the
/// map.
///
/// Size: at most `limit` pieces (at most 50 000, the default; `meta.truncated` says when the
/// walkways in the box have more), about 350 bytes each, so at most some 18 MB.
#[utoipa::path(
    get,
    path = "/api/v1/walkways",
    tag = "lighting",
    params(ClassParams, PieceParams),
    responses(
        (status = 200, description = "Pieces as a GeoJSON FeatureCollection of LineStrings with a meta member", content_type = "application/json", body = FeatureCollection<Feature<PieceProps>, PieceMeta>),
        (status = 400, description = "A parameter is invalid; the message names it"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security((), ("bearer" = []))
)]
async fn walkways(
    State(state): State<AppState>,
    Q2(classes, params): Q2<ClassParams, PieceParams>,
) -> ApiResult<Response> {
    let plan = classes.plan(&state.config)?;
    let area = params.filter()?;
    let snap = state.spatial.load();
    let key = CacheKey {
        endpoint: "walkways",
        query: format!("{}{area:?}", plan.key()),
        class: "any",
        snapshot: snap.version,
    };
    answer(&state, key, snap, plan, move |snap, result| {
        service::walkways(snap, result, &area)
    })
    .await
}

/// Which stretches proposed lamps would fix or improve, and the stretches that remain
/// (coordinators).
///
/// Only the walkways within reach of a proposed lamp (at most 200 m) are recomputed. Size:
/// `proposed` has one entry per lamp (at most 1 000); `fixed`, `improved` and `new_stretches`
/// at most one per dark or unknown stretch on the recomputed walkways, `new_stretches` at most
/// 20 000 (`new_stretches.meta.truncated`), about 1 kB each.
#[utoipa::path(
    post,
    path = "/api/v1/lighting/what-if",
    tag = "lighting",
    request_body = WhatIfRequest,
    responses(
        (status = 200, description = "What the proposed lamps change", content_type = "application/json", body = WhatIfAnswer),
        (status = 400, description = "The body is invalid; the message names the lamp and the value"),
        (status = 401, description = "No or an invalid token"),
        (status = 403, description = "The token's role is below coordinator"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn what_if(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<WhatIfRequest>, JsonRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Coordinator)?;
    let Json(req) =
        body.map_err(|e| AppError::BadRequest(format!("what-if body: {}", e.body_text())))?;
    let (plan, proposed) = req.check(&state.config)?;
    let snap = state.spatial.load();
    let result = result_of(&state, &snap, plan).await?;
    let mut answer = super::analysis(&state, move |cancel| {
        Ok(service::what_if(&snap, &result, &proposed, cancel)?)
    })
    .await?;
    if req.plan {
        let today = crate::time::local_date(&chrono::Utc::now());
        let m = answer.as_measure(&req, today)?;
        let who = super::reports::actor(&caller, &headers);
        answer.measure = Some(measures::create(&state.report_desk(), m, &who, today).await?);
    }
    Ok(private(Json(answer)))
}

/// The fewest lamps of a type that make one dark stretch meet its class, with their positions,
/// spacing and cost (coordinators); with `plan`, stored at once as a planned new-lamp measure.
///
/// The new lamps share the span between the working lamps on either side of the stretch (when
/// their light reaches it) evenly; the walkway is recomputed with the analysis' own samples and
/// rules for 1, 2, … lamps, and the first count that makes every metre meet both criteria of
/// the class is proposed. At most 200 lamps (or one every 3 m).
#[utoipa::path(
    post,
    path = "/api/v1/lighting/proposal",
    tag = "lighting",
    request_body = ProposalRequest,
    responses(
        (status = 200, description = "The proposal (and the planned measure, with plan)", content_type = "application/json", body = ProposalAnswer),
        (status = 400, description = "The body is invalid, or the stretch meets its class already"),
        (status = 401, description = "No or an invalid token"),
        (status = 403, description = "The token's role is below coordinator"),
        (status = 404, description = "No such stretch for this class plan"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn proposal(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<ProposalRequest>, JsonRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Coordinator)?;
    let Json(req) =
        body.map_err(|e| AppError::BadRequest(format!("proposal body: {}", e.body_text())))?;
    let asked = req.check(&state.config)?;
    let snap = state.spatial.load();
    let result = result_of(&state, &snap, asked.classes.clone()).await?;
    let id = req.stretch_id.clone();
    let mut answer = super::analysis(&state, move |cancel| {
        Ok(service::propose(&snap, &result, &id, &asked, cancel)?)
    })
    .await?;
    if req.plan {
        if !answer.meets_class {
            return Err(AppError::BadRequest(format!(
                "plan: {}; nothing was planned",
                answer.words
            )));
        }
        let today = crate::time::local_date(&chrono::Utc::now());
        let m = answer.as_measure(req.title.clone(), today);
        let who = super::reports::actor(&caller, &headers);
        answer.measure = Some(measures::create(&state.report_desk(), m, &who, today).await?);
    }
    Ok(private(Json(answer)))
}

/// An answer for one coordinator: not to be kept by shared caches.
fn private(body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    r
}
