//! The HTTP API: translators between HTTP and the service core ([`crate::service`]). A handler
//! takes a typed query ([`query::Q`]), calls one service function, and serialises the typed
//! answer; it computes nothing itself. Every route is registered through `utoipa_axum`, so the
//! OpenAPI document at `/api/openapi.json` is derived from the same handlers and types.

pub mod auth;
pub mod cache;
pub mod client;
pub mod dosage;
pub mod error;
pub mod export;
pub mod hotspots;
pub mod lagesbild;
pub mod lighting;
pub mod measures;
pub mod near_repeat;
pub mod ogc;
pub mod open311;
pub mod openapi;
pub mod patrol;
pub mod pledges;
pub mod query;
pub mod reports;
pub mod tiles;
pub mod walks;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::analysis::cancel::Cancel;
use crate::config::Config;
use crate::reports::group_commit::GroupCommit;
use crate::reports::publish::ReportPublisher;
use crate::reports::rate_limit::RateLimiter;
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
    /// One permit per analysis that may run at once (`max_concurrent_analyses`).
    pub analyses: Arc<tokio::sync::Semaphore>,
    /// Tripped at shutdown: every running analysis holds a child of it.
    pub shutdown: Cancel,
    /// Computed answers, keyed on the snapshot version.
    pub cache: cache::ResultCache,
    /// Citizen reports, shared by the Open311 and the coordinators' routes: one group commit of
    /// submissions, one publisher of committed changes (two would each take the other's
    /// snapshots for foreign ones and read every report back), one per-client limit.
    pub report_writer: Arc<GroupCommit>,
    pub report_publisher: Arc<ReportPublisher>,
    pub report_limiter: Arc<RateLimiter>,
    /// The pledges' monthly patrol presence, kept per (snapshot version, day, patrol records):
    /// the public page would otherwise build the patrol plan on every visit.
    pub pledge_patrol: Arc<tokio::sync::Mutex<Option<pledges::PatrolMonths>>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, spatial: Arc<Spatial>, config: Config) -> Self {
        let reports_per_minute = config.reports_per_minute;
        Self {
            store,
            spatial,
            analyses: Arc::new(tokio::sync::Semaphore::new(config.analysis_slots())),
            config: Arc::new(config),
            tokens: Arc::new(auth::TokenCache::default()),
            shutdown: Cancel::new(),
            cache: cache::ResultCache::default(),
            report_writer: Arc::new(GroupCommit::default()),
            report_publisher: Arc::new(ReportPublisher::default()),
            pledge_patrol: Arc::default(),
            report_limiter: Arc::new(RateLimiter::new(reports_per_minute)),
        }
    }

    /// What the report handlers work with (see [`crate::service::reports::ReportDesk`]).
    pub fn report_desk(&self) -> crate::service::reports::ReportDesk<'_> {
        crate::service::reports::ReportDesk {
            store: &self.store,
            spatial: &self.spatial,
            writer: &self.report_writer,
            publisher: &self.report_publisher,
            config: &self.config,
        }
    }

    /// The caller's view: role and the configured public rules.
    pub fn viewer(&self, caller: &auth::Caller) -> crate::service::Viewer {
        crate::service::Viewer::new(caller.role, self.config.public_rules())
    }
}

/// The routes with their OpenAPI description.
/// `http(s)://host` of a request, for absolute links (OGC API, TileJSON): its `Host` when that
/// is a host name or address with a port (else `localhost`), `https` when a proxy says
/// `X-Forwarded-Proto: https`.
pub(crate) fn origin(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health))
        .merge(dosage::routes())
        .merge(export::routes())
        .merge(hotspots::routes())
        .merge(lagesbild::routes())
        .merge(lighting::routes())
        .merge(measures::routes())
        .merge(near_repeat::routes())
        .merge(open311::routes())
        .merge(patrol::routes())
        .merge(pledges::routes())
        .merge(walks::routes())
        .merge(reports::routes())
        .merge(tiles::routes())
        .merge(web::config_routes())
}

/// The OpenAPI document the router serves.
pub fn openapi_document() -> serde_json::Value {
    let (_, doc) = api_routes().split_for_parts();
    openapi::document(doc)
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
    let (derived, doc) = api_routes().split_for_parts();
    let doc = Arc::new(openapi::document(doc));
    derived
        .merge(web::routes())
        .merge(ogc::routes())
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc) }
            }),
        )
        .layer(limits)
        .layer(axum::middleware::from_fn(send_pre_gzipped))
        // Large answers are gzipped at the fastest level, the rest at the default one (the
        // outer layer leaves an answer the inner one encoded alone), unless the answer came
        // gzipped from the cache.
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Fastest)
                .compress_when(DefaultPredicate::new().and(LargeAnswer)),
        )
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(web::security_headers(&state.config))
        .with_state(state)
}

/// Answers from this size on are gzipped at level 1 rather than 6. On an 11.7 MB Gi\* answer
/// level 6 took 185 ms and level 1 51 ms, for 1.58 MB against 2.0 MB: the server's two cores
/// are worth more than a quarter of the bytes. Tiles and small answers keep level 6, where the
/// time is a millisecond and the bytes go to phones.
pub const LARGE_ANSWER_BYTES: u64 = 512 * 1024;

/// An answer of at least [`LARGE_ANSWER_BYTES`], by its `Content-Length` or its body's size.
#[derive(Debug, Clone, Copy)]
pub struct LargeAnswer;

impl Predicate for LargeAnswer {
    fn should_compress<B: axum::body::HttpBody>(&self, response: &axum::http::Response<B>) -> bool {
        let declared = response
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        declared.unwrap_or_else(|| response.body().size_hint().lower()) >= LARGE_ANSWER_BYTES
    }
}

/// Whether `Accept-Encoding` takes gzip: `gzip` listed without `q=0`, or, when gzip is not
/// named, `*` without `q=0`.
pub fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    for item in headers
        .get_all(axum::http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if coding.eq_ignore_ascii_case("gzip") {
            gzip = Some(!refused);
        } else if coding == "*" {
            any = Some(!refused);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Sends a cached answer's gzipped copy ([`cache::Gzipped`]) to a client that accepts gzip, or
/// when there is none yet ([`cache::GzipPending`]) compresses it in parallel as it is sent and
/// keeps the copy; the compression layers leave either as it is.
async fn send_pre_gzipped(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let gzip = accepts_gzip(req.headers());
    let mut resp = next.run(req).await;
    let pending = resp.extensions_mut().remove::<cache::GzipPending>();
    let copy = resp.extensions_mut().remove::<cache::Gzipped>();
    if !gzip || resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    if let Some(p) = pending {
        // No copy yet: compressed in parallel parts as it is sent, its length unknown.
        let h = resp.headers_mut();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.remove(header::CONTENT_LENGTH);
        h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        *resp.body_mut() = axum::body::Body::from_stream(cache::gzip_stream(p.body, p.lazy));
        return resp;
    }
    let Some(gz) = copy else {
        return resp;
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(gz.len()));
    h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    *resp.body_mut() = axum::body::Body::from_stream(futures_util::stream::iter(
        gz.0.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    resp
}

/// `Retry-After` when every analysis slot is taken.
pub const BUSY_RETRY_AFTER_S: u64 = 2;

/// Runs an analysis on the blocking pool, bounded and cancellable:
///
/// - it first takes one of `max_concurrent_analyses` slots; when none frees up within
///   `analysis_wait_ms` the answer is 503 with `Retry-After` ([`AppError::Busy`]);
/// - `f` gets a [`Cancel`] that is tripped when the future of this call is dropped (the
///   time-out layer gave up on the request, or the client went away), when
///   `request_timeout_s` has passed, and when the server shuts down. The kernels' `*_with`
///   functions look at it; their [`Cancelled`](crate::analysis::cancel::Cancelled) converts
///   into [`AppError::Timeout`] with `?`;
/// - the slot is held by the work itself, not by the request: it is free again only when `f`
///   has returned, so cancelled work still counts until it has stopped.
///
/// Answers from a cache should not come through here: they need no slot.
pub(crate) async fn analysis<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Cancel) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    if state.shutdown.is_cancelled() {
        return Err(AppError::ShuttingDown);
    }
    let wait = Duration::from_millis(state.config.analysis_wait_ms);
    let permit = match tokio::time::timeout(wait, state.analyses.clone().acquire_owned()).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Err(AppError::ShuttingDown),
        Err(_) => {
            tracing::warn!(
                slots = state.config.analysis_slots(),
                "every analysis slot is taken: answering 503"
            );
            return Err(AppError::Busy {
                retry_after_s: BUSY_RETRY_AFTER_S,
            });
        }
    };
    let cancel = state.shutdown.child();
    // Dropping this future (time-out, disconnect) drops the guard, which stops the work.
    let _guard = cancel.cancel_on_drop();
    let token = cancel.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(&token)
    });
    let deadline = tokio::time::sleep(Duration::from_secs(state.config.request_timeout_s));
    let result = tokio::select! {
        r = task => r.map_err(|e| AppError::Internal(anyhow::anyhow!("analysis task failed: {e}")))?,
        () = deadline => {
            cancel.cancel();
            Err(AppError::Timeout)
        }
    };
    match result {
        Err(AppError::Timeout) if state.shutdown.is_cancelled() => Err(AppError::ShuttingDown),
        other => other,
    }
}

/// Runs CPU-bound work that is not an analysis (rendering a cached result) on the blocking
/// pool, off the async threads. Analyses go through [`analysis`].
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("analysis task failed: {e}")))?
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: &'static str,
    /// The data is the fictitious demo dataset.
    pub demo: bool,
    /// The store's data version (changes with every import).
    pub data_version: i64,
    /// The in-memory snapshot's version.
    pub snapshot: u64,
    /// What is loaded: for signed-in roles only (polled, the counts would tell the public of
    /// each single import).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded: Option<Loaded>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Loaded {
    pub incidents: usize,
    pub walkways: usize,
    pub lamps: usize,
    pub reports: usize,
    pub areas: usize,
}

/// Liveness, and what the server has loaded.
#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    responses((status = 200, description = "The server is up", body = Health)),
    security((), ("bearer" = []))
)]
async fn health(State(state): State<AppState>, caller: auth::Caller) -> ApiResult<Json<Health>> {
    let snap = state.spatial.load();
    let data_version = state.store.data_version().await?;
    let loaded = caller.role.sees_points().then(|| Loaded {
        incidents: snap.incidents.items.len(),
        walkways: snap.walkways.items.len(),
        lamps: snap.lamps.items.len(),
        reports: snap.reports.items.len(),
        areas: snap.areas.items.len(),
    });
    Ok(Json(Health {
        status: "ok",
        demo: snap.demo,
        data_version,
        snapshot: snap.version,
        loaded,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let takes = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(
                axum::http::header::ACCEPT_ENCODING,
                axum::http::HeaderValue::from_str(v).unwrap(),
            );
            accepts_gzip(&h)
        };
        assert!(takes("gzip"));
        assert!(takes("gzip, deflate, br"));
        assert!(takes("br;q=1.0, GZIP;q=0.5"));
        assert!(takes("*"));
        assert!(!takes("gzip;q=0"));
        assert!(!takes("gzip; q=0.0, br"));
        assert!(!takes("*, gzip;q=0"), "gzip named and refused");
        assert!(!takes("*;q=0"));
        assert!(!takes("identity"));
        assert!(!takes("br, deflate"));
        assert!(!takes(""));
        assert!(!accepts_gzip(&axum::http::HeaderMap::new()));
    }
}
