//! Medborgarlöften over HTTP, a translator over [`crate::service::pledges`].
//!
//! - `GET /api/v1/pledges`: everyone (the public page `/loften` reads it); aggregates only,
//!   patrol presence as hours per whole month.
//! - `POST /api/v1/pledges`, `PATCH /api/v1/pledges/{id}`: coordinators.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, AppError, json_body as body};
use super::query::{NoParams, Q};
use std::sync::Arc;

use crate::model::Role;
use crate::service::dosage::MonthPresence;
use crate::service::pledges::{
    self as svc, FollowUp, NewPledge, PledgeList, PledgePatch, PledgeView,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pledges, create_pledge))
        .routes(routes!(change_pledge))
}

/// The configured class's lighting analysis of the current snapshot.
async fn lighting(
    state: &AppState,
) -> ApiResult<(
    std::sync::Arc<crate::spatial::Snapshot>,
    std::sync::Arc<crate::analysis::lighting::LightingResult>,
)> {
    let classes =
        super::lighting::class_plan(None, None, &state.config).map_err(AppError::BadRequest)?;
    super::lighting::analysis(state, classes).await
}

/// The patrol presence of the last twelve months, per month (see
/// [`crate::service::dosage::delivered_hours_per_month`]), with what it was computed for.
#[derive(Clone)]
pub struct PatrolMonths {
    key: (u64, chrono::NaiveDate, u64, u64),
    months: Arc<Vec<MonthPresence>>,
}

/// The patrol presence of the twelve months to today, as totals per whole month: computed
/// once per snapshot, day and patrol records, and empty when no patrol was recorded.
async fn patrol_months(state: &AppState) -> ApiResult<Arc<Vec<MonthPresence>>> {
    let counts = state.store.patrol_counts().await.map_err(AppError::Store)?;
    if counts.points + counts.visits == 0 {
        return Ok(Arc::default());
    }
    let snap = state.spatial.load();
    let today = crate::time::local_date(&Utc::now());
    let key = (snap.version, today, counts.points, counts.visits);
    let mut cached = state.pledge_patrol.lock().await;
    if let Some(c) = cached.as_ref().filter(|c| c.key == key) {
        return Ok(c.months.clone());
    }
    let period = crate::service::filter::Period {
        from: today - chrono::Duration::days(365),
        to: today,
    };
    // The plan is the police's (it clusters incident points); only totals leave this function.
    let viewer = crate::service::Viewer::new(Role::Police, state.config.public_rules());
    let planned = super::analysis(state, move |cancel| {
        Ok(crate::service::dosage::plan(
            &snap, &viewer, today, period, cancel,
        )?)
    })
    .await?;
    let job = planned.load(state.store.as_ref()).await?;
    let dosage = super::analysis(state, move |cancel| Ok(job.run(cancel)?)).await?;
    let months = Arc::new(crate::service::dosage::delivered_hours_per_month(&dosage));
    *cached = Some(PatrolMonths {
        key,
        months: months.clone(),
    });
    Ok(months)
}

/// One pledge with its indicators, computed now.
async fn one(state: &AppState, p: crate::store::pledges::Pledge) -> ApiResult<PledgeView> {
    let (snap, result) = lighting(state).await?;
    let mut f = FollowUp::load(
        state.store.as_ref(),
        std::slice::from_ref(&p),
        Utc::now(),
        i64::from(state.config.pledge_ack_days),
        state.config.min_public_count,
    )
    .await?;
    f.patrol = patrol_months(state).await?;
    super::analysis(state, move |_| Ok(svc::view(&p, &snap, &result, &f))).await
}

/// The medborgarlöften with their measures and indicators (public).
///
/// What each pledge promises, for which period, the measures that keep it (title, kind, status,
/// date: not their place), and indicators computed from the data: dark stretches lit on its
/// prioritised walkways, days to mend a broken lamp, citizen reports answered in time, the
/// change of incidents in its focus areas (shown only when both counts reach the public
/// minimum), and the share of its measures done. No incident, report text, contact or patrol
/// track is in the answer.
#[utoipa::path(get, path = "/api/v1/pledges", tag = "pledges", params(NoParams),
    responses((status = 200, body = PledgeList),
        (status = 408, description = "The indicators did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)")))]
async fn list_pledges(
    State(state): State<AppState>,
    Q(NoParams {}): Q<NoParams>,
) -> ApiResult<Json<PledgeList>> {
    let pledges = state.store.list_pledges().await.map_err(AppError::Store)?;
    Ok(Json(views(&state, pledges).await?))
}

/// `pledges` with their indicators, computed now (what `GET /api/v1/pledges` answers, and the
/// printed lägesbild's follow-up shows).
pub(super) async fn views(
    state: &AppState,
    pledges: Vec<crate::store::pledges::Pledge>,
) -> ApiResult<PledgeList> {
    let (snap, result) = lighting(state).await?;
    let mut f = FollowUp::load(
        state.store.as_ref(),
        &pledges,
        Utc::now(),
        i64::from(state.config.pledge_ack_days),
        state.config.min_public_count,
    )
    .await?;
    f.patrol = patrol_months(state).await?;
    super::analysis(state, move |_| Ok(svc::list(&pledges, &snap, &result, &f))).await
}

/// Gives a pledge; the dark stretches on its walkways today are its baseline.
#[utoipa::path(post, path = "/api/v1/pledges", tag = "pledges", params(NoParams),
    security(("bearer" = [])),
    request_body = NewPledge,
    responses((status = 201, description = "The pledge with its indicators", body = PledgeView),
        (status = 400, description = "What is wrong, naming the field"),
        (status = 401, description = "No or an invalid token"),
        (status = 403, description = "The role is not coordinator or admin")))]
async fn create_pledge(
    State(state): State<AppState>,
    caller: Caller,
    Q(NoParams {}): Q<NoParams>,
    b: Result<Json<NewPledge>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<PledgeView>)> {
    caller.require(Role::Coordinator)?;
    let p = body(b)?;
    let (snap, result) = lighting(&state).await?;
    let today = crate::time::local_date(&Utc::now());
    let stored = svc::create(state.store.as_ref(), &snap, &result, p, today).await?;
    Ok((StatusCode::CREATED, Json(one(&state, stored).await?)))
}

/// Changes a pledge.
#[utoipa::path(patch, path = "/api/v1/pledges/{id}", tag = "pledges",
    params(("id" = i64, Path, description = "the pledge id"), NoParams),
    security(("bearer" = [])),
    request_body = PledgePatch,
    responses((status = 200, description = "The pledge as it now is", body = PledgeView),
        (status = 400, description = "What is wrong, naming the field"),
        (status = 401, description = "No or an invalid token"),
        (status = 403, description = "The role is not coordinator or admin"),
        (status = 404, description = "No such pledge")))]
async fn change_pledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Q(NoParams {}): Q<NoParams>,
    b: Result<Json<PledgePatch>, JsonRejection>,
) -> ApiResult<Json<PledgeView>> {
    caller.require(Role::Coordinator)?;
    let p = body(b)?;
    let (snap, result) = lighting(&state).await?;
    let stored = svc::change(state.store.as_ref(), &snap, &result, id, p).await?;
    Ok(Json(one(&state, stored).await?))
}
