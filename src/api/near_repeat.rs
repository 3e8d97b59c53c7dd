//! `GET /api/v1/near-repeat`: a translator over [`crate::service::near_repeat`] (police,
//! coordinators and admins). The test runs as an analysis: a slot, the request's deadline,
//! cancelled when the client goes away; its size is bounded before it starts.

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
use crate::service::near_repeat::{self as service, NearRepeat, NearRepeatParams};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(near_repeat))
}

/// Near repeats: the Knox test with Monte Carlo permutations (as Ratcliffe's Near Repeat
/// Calculator).
///
/// Pairs of the selected events (point-level places, times on one known date) counted by
/// spatial band × temporal band, against the mean count over `permutations` random shuffles of
/// the times among the places: observed, expected, the Knox ratio and a one-sided p per cell,
/// and a sentence in Swedish for the nearest significant cell, e.g. "risken för ett nytt fall
/// (bostadsinbrott) 0–200 m bort och 0–7 dagar efter ett annat är 2,4 gånger den förväntade".
/// Bands are half-open from 0, `[lo, hi)`, written out. Without `from`/`to` the last 365 days.
/// At most 4 000 000 pairs and 400 000 000 pair × permutation steps; beyond, 400 with the count.
#[utoipa::path(
    get,
    path = "/api/v1/near-repeat",
    tag = "hotspots",
    params(FilterParams, NearRepeatParams),
    responses(
        (status = 200, description = "The Knox table", body = NearRepeat),
        (status = 400, description = "A parameter is invalid, or the test too large; the message says which"),
        (status = 401, description = "No token, or not a valid one"),
        (status = 403, description = "The role may not see incident points"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn near_repeat(
    State(state): State<AppState>,
    caller: Caller,
    Q2(filter, params): Q2<FilterParams, NearRepeatParams>,
) -> ApiResult<Response> {
    caller.require(Role::Police)?;
    let snap = state.spatial.load();
    let viewer = state.viewer(&caller);
    let today = crate::time::local_date(&chrono::Utc::now());
    let answer = analysis(&state, move |cancel| {
        Ok(service::near_repeat(
            &snap, &filter, &params, &viewer, today, cancel,
        )?)
    })
    .await?;
    let mut resp = Json(answer).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}
