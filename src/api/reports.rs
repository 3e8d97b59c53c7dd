//! Coordinators' side of citizen reports, a translator over [`crate::service::reports`]: the
//! inbox, one report with its history, and triage.
//!
//! - `GET /api/v1/me`: `{"role": …}` for any caller (anonymous without a token).
//! - `GET /api/v1/reports?status=…&service_code=…&limit=…`: the inbox with contact details.
//! - `GET /api/v1/reports/{id}`: one report with contact details and its history.
//! - `PATCH /api/v1/reports/{id}` with a JSON [`ReportPatch`]. Closing needs a `reason` (or
//!   `status_notes`); merging marks the report a duplicate and closes it. Every change is kept
//!   in the history with the token id and role of who made it.
//!
//! All but `/me` need the coordinator or admin role: 401 without a token, 403 with another role.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, AppError};
use super::query::{NoParams, Q};
use crate::model::{Actor, Role};
use crate::service::reports::{self as svc, CoordinatorReport, Inbox, InboxQuery, Me, ReportPatch};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(inbox))
        .routes(routes!(report, change_report))
}

/// The caller's role.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", params(NoParams),
    responses((status = 200, body = Me), (status = 401, description = "an invalid token")))]
async fn me(caller: Caller, Q(NoParams {}): Q<NoParams>) -> Json<Me> {
    Json(Me { role: caller.role })
}

/// The token id of the caller (`lb_<id>_<secret>`), for the history; the secret is not kept.
pub(crate) fn actor(caller: &Caller, headers: &HeaderMap) -> Actor {
    let id = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| t.trim().strip_prefix("lb_"))
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| format!("token:{id}"))
        .unwrap_or_else(|| caller.role.as_str().to_string());
    Actor::new(id, caller.role)
}

/// The report inbox with contact details, newest first.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(InboxQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Inbox),
        (status = 400, description = "a bad filter, named"),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not coordinator or admin")))]
async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    Q(q): Q<InboxQuery>,
) -> ApiResult<Json<Inbox>> {
    caller.require(Role::Coordinator)?;
    Ok(Json(svc::inbox(&state.report_desk(), &q).await?))
}

/// One report with contact details and its history.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports",
    params(("id" = i64, Path, description = "the report id (Open311 service_request_id)"), NoParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CoordinatorReport),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not coordinator or admin"),
        (status = 404, description = "no such report")))]
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Json<CoordinatorReport>> {
    caller.require(Role::Coordinator)?;
    Ok(Json(svc::report(&state.report_desk(), id).await?))
}

/// Triage: status, notes, agency, hide, merge, close with a reason.
#[utoipa::path(patch, path = "/api/v1/reports/{id}", tag = "reports",
    params(("id" = i64, Path, description = "the report id (Open311 service_request_id)"), NoParams),
    security(("bearer" = [])),
    request_body = ReportPatch,
    responses(
        (status = 200, description = "the report as it now is, with its history", body = CoordinatorReport),
        (status = 400, description = "what is wrong with the change, naming the field"),
        (status = 401, description = "no or an invalid token"),
        (status = 403, description = "the role is not coordinator or admin"),
        (status = 404, description = "no such report (or none to merge into)"),
        (status = 409, description = "a merge into itself or into a merged report")))]
async fn change_report(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Q(NoParams {}): Q<NoParams>,
    body: Result<Json<ReportPatch>, JsonRejection>,
) -> ApiResult<Json<CoordinatorReport>> {
    caller.require(Role::Coordinator)?;
    let Json(patch) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let who = actor(&caller, &headers);
    Ok(Json(
        svc::change(&state.report_desk(), id, patch, &who).await?,
    ))
}
