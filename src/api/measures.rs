//! The åtgärdsplan over HTTP, a translator over [`crate::service::measures`].
//!
//! - `GET /api/v1/measures`, `GET /api/v1/measures/{id}` (with history): police and
//!   coordinators.
//! - `POST /api/v1/measures`, `PATCH /api/v1/measures/{id}`: coordinators.
//! - `GET /api/v1/measures/{id}/effect`: the odds ratio of target against comparison area.
//! - `GET /api/v1/measures.csv` (police and coordinators), `POST /api/v1/measures.csv`
//!   (coordinators): the åtgärdsplan as CSV ([`crate::service::measures::csv`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, AppError, json_body as body};
use super::query::{NoParams, Q};
use crate::model::Role;
use crate::service::measures::csv::ImportSummary;
use crate::service::measures::effect::{self, MeasureEffect};
use crate::service::measures::{self as svc, MeasureList, MeasurePatch, MeasureView, NewMeasure};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_measures, create_measure))
        .routes(routes!(measure, change_measure))
        .routes(routes!(measure_effect))
        .routes(routes!(export_measures, import_measures))
}

fn today() -> chrono::NaiveDate {
    crate::time::local_date(&chrono::Utc::now())
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
    let v = svc::create(&state.report_desk(), m, &who, today()).await?;
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
    Ok(Json(
        svc::change(&state.report_desk(), id, p, &who, today()).await?,
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
    Ok(Json(effect_of(&state, id, today()).await?))
}

/// The effect of measure `id` as of `day` (also the printed lägesbild's follow-up).
pub(super) async fn effect_of(
    state: &AppState,
    id: i64,
    day: chrono::NaiveDate,
) -> ApiResult<MeasureEffect> {
    let job = effect::prepare(
        state.store.as_ref(),
        state.spatial.load(),
        id,
        state.config.measure_buffer_m,
        day,
    )
    .await?;
    // Counting is an analysis: a slot, the request's deadline, cancelled on disconnect.
    Ok(if job.counts_anything() {
        super::analysis(state, move |cancel| Ok(job.run(cancel)?)).await?
    } else {
        job.run(&crate::analysis::cancel::Cancel::never())?
    })
}

/// The åtgärdsplan as CSV (RFC 4180, UTF-8): one row per measure, the columns of the import.
#[utoipa::path(get, path = "/api/v1/measures.csv", tag = "measures", params(NoParams),
    security(("bearer" = [])),
    responses((status = 200, description = "The measures, newest first", content_type = "text/csv", body = String),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not police, coordinator or admin")))]
async fn export_measures(
    State(state): State<AppState>,
    caller: Caller,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Response> {
    caller.require(Role::Police)?;
    let list = svc::list(state.store.as_ref()).await?;
    let mut r = (
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        svc::csv::export(&list.measures),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"atgardsplan.csv\""),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(r)
}

/// Imports measures from CSV: rows without an `id` are new measures, rows with one change that
/// measure to the row. Every row is checked before any is stored; a file with a bad row stores
/// nothing and the answer names each problem by line, column and value.
#[utoipa::path(post, path = "/api/v1/measures.csv", tag = "measures", params(NoParams),
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "the columns of the export; title and kind are required"),
    responses((status = 200, description = "What was created and changed", body = ImportSummary),
        (status = 400, description = "every problem, by line, column and value"),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not coordinator or admin")))]
async fn import_measures(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Q(NoParams {}): Q<NoParams>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ImportSummary>> {
    caller.require(Role::Coordinator)?;
    let body = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let text = std::str::from_utf8(&body).map_err(|e| {
        AppError::BadRequest(format!("the CSV is not UTF-8 (byte {})", e.valid_up_to()))
    })?;
    let who = super::reports::actor(&caller, &headers);
    Ok(Json(
        svc::import_csv(&state.report_desk(), text, &who, today()).await?,
    ))
}
