//! `GET /api/v1/lagesbild`: a translator over [`crate::service::lagesbild`] (police,
//! coordinators and admins). The lighting analysis comes from the shared cache of
//! [`super::lighting::analysis`]; the summary is computed in an analysis slot and not cached
//! (it says when it was made).

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::query::Q;
use super::{ApiResult, AppError, AppState, analysis};
use crate::model::Role;
use crate::service::filter::FilterParams;
use crate::service::lagesbild::{self as service, FollowUpMeasure, FollowUpSection, Lagesbild};
use crate::store::measures::MeasureStatus;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(lagesbild))
}

/// The one-page lägesbild: counts with change, top hotspots, dark stretches, reports, BRÅ.
///
/// Counts per crime group and per district for the period and the period of equal length
/// before it; the five largest DBSCAN clusters as hulls; the first five stretches of the
/// lighting action plan; citizen reports by status; the latest six BRÅ years; and the
/// follow-up as it stands today: measures in progress, planned and done in the last two years
/// (at most 12) with the effect of the done ones, and the medborgarlöften in force with their
/// indicators. Without
/// `from`/`to` the period is the last 365 days (local dates, both ends included). The answer
/// grows only with the districts (one row each) and the area's outline: tens of kilobytes.
#[utoipa::path(
    get,
    path = "/api/v1/lagesbild",
    tag = "lagesbild",
    params(FilterParams),
    responses(
        (status = 200, description = "The summary", body = Lagesbild),
        (status = 400, description = "A parameter is invalid; the message names it"),
        (status = 401, description = "No token, or not a valid one"),
        (status = 403, description = "The role may not see incident points"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn lagesbild(
    State(state): State<AppState>,
    caller: Caller,
    Q(filter): Q<FilterParams>,
) -> ApiResult<Json<Lagesbild>> {
    caller.require(Role::Police)?;
    let snap = state.spatial.load();
    let viewer = state.viewer(&caller);
    let today = crate::time::local_date(&chrono::Utc::now().fixed_offset());
    // A wrong filter is refused before the lighting analysis is asked for.
    filter.summary(&snap, today)?;
    let plan =
        super::lighting::class_plan(None, None, &state.config).map_err(AppError::BadRequest)?;
    let (lsnap, lighting) = super::lighting::analysis(&state, plan).await?;
    let body = analysis(&state, move |cancel| {
        Ok(service::lagesbild(
            &snap,
            &filter,
            &viewer,
            today,
            (&lsnap, &lighting),
            cancel,
        )?)
    })
    .await?;
    let mut body = body;
    body.follow_up = Some(follow_up(&state, today).await?);
    Ok(Json(body))
}

/// The follow-up section: the measures of [`service::follow_up_measures`] with the effect of
/// each done one (an analysis each), and the pledges in force on `day` with their indicators:
/// the plan as it stands on `day` (today), whatever period the counts cover.
async fn follow_up(state: &AppState, day: NaiveDate) -> ApiResult<FollowUpSection> {
    let all = state.store.list_measures().await.map_err(AppError::Store)?;
    let (chosen, measures_more) = service::follow_up_measures(&all, day);
    let mut measures = Vec::with_capacity(chosen.len());
    for m in chosen {
        let s = &m.spec;
        let effect = if s.status == MeasureStatus::Done {
            Some(effect_words(state, m.id, day).await?)
        } else {
            None
        };
        measures.push(FollowUpMeasure {
            id: m.id,
            title: s.title.clone(),
            kind: s.kind,
            status: s.status,
            agency: s.agency.clone(),
            planned_date: s.planned_date,
            done_date: s.done_date,
            effect,
        });
    }
    let pledges: Vec<_> = state
        .store
        .list_pledges()
        .await
        .map_err(AppError::Store)?
        .into_iter()
        .filter(|p| p.spec.period_start <= day && day <= p.spec.period_end)
        .collect();
    let pledges = super::pledges::views(state, pledges).await?.pledges;
    Ok(FollowUpSection {
        measures,
        measures_more,
        pledges,
    })
}

/// The effect of measure `id` as of `day`, in words; a measure the effect cannot be computed
/// for (no place, no district) says why.
async fn effect_words(state: &AppState, id: i64, day: NaiveDate) -> ApiResult<String> {
    match super::measures::effect_of(state, id, day).await {
        Ok(e) => Ok(e.estimate.words),
        // What prepare refuses (no place, no district) is said, not raised.
        Err(AppError::BadRequest(why)) => Ok(format!("Ingen effekt beräknad: {why}")),
        Err(e) => Err(e),
    }
}
