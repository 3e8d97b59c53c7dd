//! `GET /api/v1/patrol/dosage`: a translator over [`crate::service::dosage`], for police,
//! coordinators and admins. Building the plan and computing the doses are analyses (a slot, the
//! request's deadline, cancelled on disconnect); loading the fixes between them is bounded by
//! [`MAX_TRACK_POINTS`](crate::service::dosage::MAX_TRACK_POINTS). Not cached: patrol data is
//! not in the snapshot, whose version keys the cache.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::query::Q;
use super::{ApiResult, AppState, analysis};
use crate::model::Role;
use crate::service::dosage::{self as service, Dosage, DosageParams};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dosage))
}

/// Patrol dosage: the current patrol plan against the presence police delivered.
///
/// For each hotspot of the plan (built with its defaults) and each of its windows, every
/// occurrence in the period (local Europe/Stockholm time: a window on the night clocks go
/// forward is an hour shorter, on the night they go back an hour longer): planned seconds,
/// seconds someone was inside the hotspot's hull (from GPS tracks, exact to the crossing, and
/// from reported visits; several units at once count once), visits (stays; exits under a
/// minute do not end one), visits of 10–16 minutes (the Koper dose), the longest stretch
/// without a visit of at least 10 minutes and whether the dose was met (such visits at least
/// every two hours). Totals per window, per hotspot and per ISO week. No positions of units.
/// Without `from`/`to` the period is the last 28 days; at most 366 days, and at most two
/// million track points near the windows.
#[utoipa::path(
    get,
    path = "/api/v1/patrol/dosage",
    tag = "patrol",
    params(DosageParams),
    responses(
        (status = 200, description = "The dosage", body = Dosage),
        (status = 400, description = "A parameter is invalid, or the period holds too many track points; the message says which"),
        (status = 401, description = "No token, or not a valid one"),
        (status = 403, description = "The role may not see patrol data"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn dosage(
    State(state): State<AppState>,
    caller: Caller,
    Q(params): Q<DosageParams>,
) -> ApiResult<Response> {
    caller.require(Role::Police)?;
    let today = crate::time::local_date(&chrono::Utc::now());
    let period = params.period(today)?;
    let snap = state.spatial.load();
    let viewer = state.viewer(&caller);
    let started = std::time::Instant::now();
    let planned = analysis(&state, move |cancel| {
        Ok(service::plan(&snap, &viewer, today, period, cancel)?)
    })
    .await?;
    let plan_ms = started.elapsed().as_millis();
    let job = planned.load(state.store.as_ref()).await?;
    let load_ms = started.elapsed().as_millis() - plan_ms;
    let answer = analysis(&state, move |cancel| Ok(job.run(cancel)?)).await?;
    tracing::debug!(
        days = period.days(),
        track_points = answer.sources.track_points,
        plan_ms,
        load_ms,
        doses_ms = started.elapsed().as_millis() - plan_ms - load_ms,
        "patrol dosage"
    );
    let mut resp = Json(answer).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}
