//! Trygghetsvandring over HTTP (coordinators), a translator over [`crate::service::walks`].
//!
//! - `POST /api/v1/walks`: start a walk (a measure of kind `trygghetsvandring`, in progress).
//! - `POST /api/v1/walks/{id}/observations`: one observation, saved as a citizen report.
//! - `GET /api/v1/walks/{id}`: the walk and its observations.
//!
//! A walk ends as any measure does: `PATCH /api/v1/measures/{id}` with `status: done`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, json_body as body};
use super::query::{NoParams, Q};
use crate::model::Role;
use crate::service::measures::MeasureView;
use crate::service::walks::{self as svc, NewObservation, NewWalk, WalkSummary};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_walk))
        .routes(routes!(walk))
        .routes(routes!(observe))
}

/// Starts a trygghetsvandring.
#[utoipa::path(post, path = "/api/v1/walks", tag = "walks", params(NoParams),
    security(("bearer" = [])),
    request_body = NewWalk,
    responses((status = 201, description = "The walk, a measure in progress", body = MeasureView),
        (status = 400, description = "What is wrong, naming the field"),
        (status = 401, description = "No or an invalid token"),
        (status = 403, description = "The role is not coordinator or admin")))]
async fn start_walk(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Q(NoParams {}): Q<NoParams>,
    b: Result<Json<NewWalk>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<MeasureView>)> {
    caller.require(Role::Coordinator)?;
    let w = body(b)?;
    let who = super::reports::actor(&caller, &headers);
    let today = crate::time::local_date(&chrono::Utc::now());
    let v = svc::start(&state.report_desk(), w, &who, today).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// A walk with its observations.
#[utoipa::path(get, path = "/api/v1/walks/{id}", tag = "walks",
    params(("id" = i64, Path, description = "the walk's measure id"), NoParams),
    security(("bearer" = [])),
    responses((status = 200, body = WalkSummary),
        (status = 401, description = "No or an invalid token"),
        (status = 403, description = "The role is not coordinator or admin"),
        (status = 404, description = "No such walk")))]
async fn walk(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Json<WalkSummary>> {
    caller.require(Role::Coordinator)?;
    Ok(Json(svc::summary(&state.report_desk(), id).await?))
}

/// Records an observation of a walk: saved as a citizen report (committed before the answer),
/// tagged with the walk and linked to it.
#[utoipa::path(post, path = "/api/v1/walks/{id}/observations", tag = "walks",
    params(("id" = i64, Path, description = "the walk's measure id"), NoParams),
    security(("bearer" = [])),
    request_body = NewObservation,
    responses((status = 201, description = "The walk with its observations, the new one last", body = WalkSummary),
        (status = 400, description = "What is wrong, naming the field"),
        (status = 401, description = "No or an invalid token"),
        (status = 403, description = "The role is not coordinator or admin"),
        (status = 404, description = "No such walk"),
        (status = 409, description = "The walk is done or cancelled")))]
async fn observe(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Q(NoParams {}): Q<NoParams>,
    b: Result<Json<NewObservation>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<WalkSummary>)> {
    caller.require(Role::Coordinator)?;
    let o = body(b)?;
    let who = super::reports::actor(&caller, &headers);
    let (_, s) = svc::observe(&state.report_desk(), id, o, &who, chrono::Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(s)))
}
