//! `GET /api/v1/patrol-plan.{json,csv,gpx}`: a translator over [`crate::service::patrol`]
//! (police, coordinators and admins only: the plan is built from incident points). The plan is
//! computed in an analysis slot and not cached: it says when it was made.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::query::Q2;
use super::{ApiResult, AppState, analysis};
use crate::model::Role;
use crate::service::filter::FilterParams;
use crate::service::patrol::{self as service, PatrolPlan, PlanParams};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(plan_json))
        .routes(routes!(plan_csv))
        .routes(routes!(plan_gpx))
}

async fn compute(
    state: &AppState,
    caller: &Caller,
    filter: FilterParams,
    params: PlanParams,
) -> ApiResult<PatrolPlan> {
    caller.require(Role::Police)?;
    let snap = state.spatial.load();
    let viewer = state.viewer(caller);
    let today = crate::time::local_date(&chrono::Utc::now().fixed_offset());
    analysis(state, move |cancel| {
        Ok(service::plan(
            &snap, &filter, &params, &viewer, today, cancel,
        )?)
    })
    .await
}

fn file_response(body: String, mime: &'static str, disposition: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

/// The patrol plan: significant hotspots ranked, with patrol windows.
///
/// A DBSCAN cluster enters the plan when a Getis-Ord Gi\* cell at 95 % or more (after
/// Benjamini–Hochberg FDR) lies in it; clusters rank by that confidence, then by size. Each
/// gets up to three non-overlapping 4-hour patrol windows of the week (Europe/Stockholm time),
/// busiest first. Without `from`/`to` the period is the last 365 days. At most `limit` (≤ 500)
/// hotspots, each with a 7 × 24 profile and its hull: a plan of 500 is typically below 2 MB.
#[utoipa::path(
    get,
    path = "/api/v1/patrol-plan.json",
    tag = "patrol",
    params(FilterParams, PlanParams),
    responses(
        (status = 200, description = "The plan", body = PatrolPlan),
        (status = 400, description = "A parameter is invalid; the message names it"),
        (status = 401, description = "No token, or not a valid one"),
        (status = 403, description = "The role may not see incident points"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn plan_json(
    State(state): State<AppState>,
    caller: Caller,
    Q2(filter, params): Q2<FilterParams, PlanParams>,
) -> ApiResult<Response> {
    let plan = compute(&state, &caller, filter, params).await?;
    let mut resp = Json(plan).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

/// The patrol plan as CSV, one row per hotspot (`patrullplan.csv`).
///
/// Columns rank, id, district, lon, lat, count, confidence, peak, window_1 … window_3,
/// top_category, first, last. Text cells that a spreadsheet would read as a formula start
/// with `'`. The same parameters and bounds as `patrol-plan.json` (≤ 500 rows).
#[utoipa::path(
    get,
    path = "/api/v1/patrol-plan.csv",
    tag = "patrol",
    params(FilterParams, PlanParams),
    responses(
        (status = 200, description = "The plan, RFC 4180", content_type = "text/csv", body = String),
        (status = 400, description = "A parameter is invalid; the message names it"),
        (status = 401, description = "No token, or not a valid one"),
        (status = 403, description = "The role may not see incident points"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn plan_csv(
    State(state): State<AppState>,
    caller: Caller,
    Q2(filter, params): Q2<FilterParams, PlanParams>,
) -> ApiResult<Response> {
    let plan = compute(&state, &caller, filter, params).await?;
    Ok(file_response(
        service::plan_csv(&plan),
        "text/csv; charset=utf-8",
        "attachment; filename=\"patrullplan.csv\"",
    ))
}

/// The patrol plan as GPX 1.1 (`patrullplan.gpx`): one waypoint per hotspot centre, named by
/// rank and district, the patrol windows as its description. The same parameters and bounds
/// as `patrol-plan.json` (≤ 500 waypoints).
#[utoipa::path(
    get,
    path = "/api/v1/patrol-plan.gpx",
    tag = "patrol",
    params(FilterParams, PlanParams),
    responses(
        (status = 200, description = "The plan", content_type = "application/gpx+xml", body = String),
        (status = 400, description = "A parameter is invalid; the message names it"),
        (status = 401, description = "No token, or not a valid one"),
        (status = 403, description = "The role may not see incident points"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn plan_gpx(
    State(state): State<AppState>,
    caller: Caller,
    Q2(filter, params): Q2<FilterParams, PlanParams>,
) -> ApiResult<Response> {
    let plan = compute(&state, &caller, filter, params).await?;
    Ok(file_response(
        service::plan_gpx(&plan),
        "application/gpx+xml",
        "attachment; filename=\"patrullplan.gpx\"",
    ))
}
