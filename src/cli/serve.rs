//! `lagesbild serve`: binds, serves until Ctrl-C or SIGTERM, then drains in-flight requests.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::api::{AppState, app};
use crate::config::Config;
use crate::spatial::{Snapshot, Spatial};

/// Opens the store, loads the snapshot and serves on `cfg.addr`.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&cfg.addr)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.addr))?;
    let state = prepare(cfg).await?;
    serve_on(listener, state, shutdown_signal()).await
}

/// Opens the store named in the config and loads the first snapshot.
pub async fn prepare(cfg: Config) -> anyhow::Result<AppState> {
    let store = crate::store::open(&cfg.db)
        .await
        .with_context(|| format!("cannot open database {}", cfg.db))?;
    let t0 = std::time::Instant::now();
    let snap = Snapshot::load(store.as_ref()).await?;
    tracing::info!(
        incidents = snap.incidents.items.len(),
        walkways = snap.walkways.items.len(),
        lamps = snap.lamps.items.len(),
        reports = snap.reports.items.len(),
        ms = t0.elapsed().as_millis() as u64,
        "snapshot loaded"
    );
    let spatial = Arc::new(Spatial::new(snap));
    Ok(AppState::new(store, spatial, cfg))
}

/// Serves `state` on a bound listener until `shutdown` resolves. Also watches the store for
/// data written by other processes and reloads the snapshot when it changes.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, db = %state.config.db, "serving Lägesbild at http://{addr}/");
    let watcher = tokio::spawn(watch_store(state.clone()));
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    watcher.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn watch_store(state: AppState) {
    let mut seen = state.store.data_version().await.unwrap_or(0);
    let every = Duration::from_secs(state.config.reload_interval_s.max(1));
    loop {
        tokio::time::sleep(every).await;
        match state.store.data_version().await {
            Ok(v) if v != seen => {
                seen = v;
                match state.spatial.reload(state.store.as_ref()).await {
                    Ok(()) => tracing::info!(data_version = v, "data changed; snapshot reloaded"),
                    Err(e) => tracing::error!(error = %e, "snapshot reload failed"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read data version"),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
