//! The åtgärdsplan over HTTP, a translator over [`crate::service::measures`].
//!
//! - `GET /api/v1/measures`, `GET /api/v1/measures/{id}` (with history): police and
//!   coordinators.
//! - `POST /api/v1/measures`, `PATCH /api/v1/measures/{id}`: coordinators.
//! - `GET /api/v1/measures/{id}/effect`: the odds ratio of target against comparison area.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, AppError};
use super::query::{NoParams, Q};
use crate::model::Role;
use crate::service::measures::effect::{self, MeasureEffect};
use crate::service::measures::{self as svc, MeasureList, MeasurePatch, MeasureView, NewMeasure};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_measures, create_measure))
        .routes(routes!(measure, change_measure))
        .routes(routes!(measure_effect))
}

fn today() -> chrono::NaiveDate {
    crate::time::local_date(&chrono::Utc::now())
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    b.map(|Json(v)| v)
        .map_err(|e| AppError::BadRequest(e.body_text()))
}

/// The measures of the åtgärdsplan, newest first.
#[utoipa::path(get, path = "/api/v1/measures", tag = "measures", params(NoParams),
    security(("bearer" = [])),
    responses((status = 200, body = MeasureList),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not police, coordinator or admin")))]
async fn list_measures(
    State(state): State<AppState>,
    caller: Caller,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Json<MeasureList>> {
    caller.require(Role::Police)?;
    Ok(Json(svc::list(state.store.as_ref()).await?))
}

/// Plans (or records) a measure.
#[utoipa::path(post, path = "/api/v1/measures", tag = "measures", params(NoParams),
    security(("bearer" = [])),
    request_body = NewMeasure,
    responses((status = 201, description = "the stored measure with its history", body = MeasureView),
        (status = 400, description = "what is wrong, naming the field"),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not coordinator or admin")))]
async fn create_measure(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Q(NoParams {}): Q<NoParams>,
    b: Result<Json<NewMeasure>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<MeasureView>)> {
    caller.require(Role::Coordinator)?;
    let m = body(b)?;
    let who = super::reports::actor(&caller, &headers);
    let snap = state.spatial.load();
    let v = svc::create(state.store.as_ref(), &snap, m, &who, today()).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// One measure with its history.
#[utoipa::path(get, path = "/api/v1/measures/{id}", tag = "measures",
    params(("id" = i64, Path, description = "the measure id"), NoParams),
    security(("bearer" = [])),
    responses((status = 200, body = MeasureView),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not police, coordinator or admin"),
        (status = 404, description = "no such measure")))]
async fn measure(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Json<MeasureView>> {
    caller.require(Role::Police)?;
    Ok(Json(svc::get(state.store.as_ref(), id).await?))
}

/// Changes a measure: status, dates, place, cost, notes; every changed field is kept in its
/// history.
#[utoipa::path(patch, path = "/api/v1/measures/{id}", tag = "measures",
    params(("id" = i64, Path, description = "the measure id"), NoParams),
    security(("bearer" = [])),
    request_body = MeasurePatch,
    responses((status = 200, description = "the measure as it now is, with its history", body = MeasureView),
        (status = 400, description = "what is wrong, naming the field"),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not coordinator or admin"),
        (status = 404, description = "no such measure")))]
async fn change_measure(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Q(NoParams {}): Q<NoParams>,
    b: Result<Json<MeasurePatch>, JsonRejection>,
) -> ApiResult<Json<MeasureView>> {
    caller.require(Role::Coordinator)?;
    let p = body(b)?;
    let who = super::reports::actor(&caller, &headers);
    let snap = state.spatial.load();
    Ok(Json(
        svc::change(state.store.as_ref(), &snap, id, p, &who, today()).await?,
    ))
}

/// What a done measure achieved: incidents in its target area before and after, against the
/// rest of its district, as the odds ratio of Welsh & Farrington (2008) with its 95 % interval.
#[utoipa::path(get, path = "/api/v1/measures/{id}/effect", tag = "measures",
    params(("id" = i64, Path, description = "the measure id"), NoParams),
    security(("bearer" = [])),
    responses((status = 200, body = MeasureEffect),
        (status = 400, description = "the measure has no place or no district to compare with"),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not police, coordinator or admin"),
        (status = 404, description = "no such measure")))]
async fn measure_effect(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Json<MeasureEffect>> {
    caller.require(Role::Police)?;
    let snap = state.spatial.load();
    let job = effect::prepare(
        state.store.as_ref(),
        snap,
        id,
        state.config.measure_buffer_m,
        today(),
    )
    .await?;
    // Counting is an analysis: a slot, the request's deadline, cancelled on disconnect.
    let answer = if job.counts_anything() {
        super::analysis(&state, move |cancel| Ok(job.run(cancel)?)).await?
    } else {
        job.run(&crate::analysis::cancel::Cancel::never())?
    };
    Ok(Json(answer))
}
