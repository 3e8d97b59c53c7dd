//! The HTTP API. Handlers translate requests into calls of the analysis and store modules and
//! their results into GeoJSON; they compute nothing themselves.

pub mod auth;
pub mod client;
pub mod error;
pub mod geometry;
pub mod hotspots;
pub mod lagesbild;
pub mod lighting;
pub mod open311;
pub mod openapi;
pub mod patrol;
pub mod public_hotspots;
pub mod reports;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::spatial::Spatial;
use crate::store::Store;

pub use error::{ApiResult, AppError};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub spatial: Arc<Spatial>,
    pub config: Arc<Config>,
    pub tokens: Arc<auth::TokenCache>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, spatial: Arc<Spatial>, config: Config) -> Self {
        Self {
            store,
            spatial,
            config: Arc::new(config),
            tokens: Arc::new(auth::TokenCache::default()),
        }
    }
}

/// The whole application; tests call it without a socket.
pub fn app(state: AppState) -> Router {
    let limits = (
        RequestBodyLimitLayer::new(state.config.max_body_bytes),
        TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(state.config.request_timeout_s),
        ),
    );
    Router::new()
        .route("/health", get(health))
        .merge(web::routes())
        .route(
            "/api/openapi.json",
            get(|| async { Json(openapi::document()) }),
        )
        .merge(hotspots::routes())
        .merge(lighting::routes())
        .merge(open311::routes())
        .merge(reports::routes())
        .merge(lagesbild::routes())
        .merge(patrol::routes())
        .layer(limits)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(web::security_headers(&state.config))
        .with_state(state)
}

/// Runs CPU-bound work (an analysis) on the blocking pool, off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("analysis task failed: {e}")))?
}

async fn health(
    State(state): State<AppState>,
    caller: auth::Caller,
) -> ApiResult<Json<serde_json::Value>> {
    let snap = state.spatial.load();
    let version = state.store.data_version().await?;
    if !caller.role.sees_points() {
        // The number of incidents loaded, polled, would tell the public of each single import.
        return Ok(Json(json!({
            "status": "ok",
            "demo": snap.demo,
            "data_version": version,
            "snapshot": snap.version,
        })));
    }
    Ok(Json(json!({
        "status": "ok",
        "demo": snap.demo,
        "data_version": version,
        "snapshot": snap.version,
        "loaded": {
            "incidents": snap.incidents.items.len(),
            "walkways": snap.walkways.items.len(),
            "lamps": snap.lamps.items.len(),
            "reports": snap.reports.items.len(),
            "areas": snap.areas.items.len(),
        }
    })))
}
