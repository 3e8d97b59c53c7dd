//! `GET /api/v1/lagesbild`: a translator over [`crate::service::lagesbild`] (police,
//! coordinators and admins). The lighting analysis comes from the shared cache of
//! [`super::lighting::analysis`]; the summary is computed in an analysis slot and not cached
//! (it says when it was made).

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::query::Q;
use super::{ApiResult, AppError, AppState, analysis};
use crate::model::Role;
use crate::service::filter::FilterParams;
use crate::service::lagesbild::{self as service, Lagesbild};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(lagesbild))
}

/// The one-page lägesbild: counts with change, top hotspots, dark stretches, reports, BRÅ.
///
/// Counts per crime group and per district for the period and the period of equal length
/// before it; the five largest DBSCAN clusters as hulls; the first five stretches of the
/// lighting action plan; citizen reports by status; the latest six BRÅ years. Without
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
    Ok(Json(body))
}
