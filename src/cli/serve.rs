//! `lagesbild serve`: binds, serves until Ctrl-C or SIGTERM, then drains in-flight requests.
//!
//! The accept loop is ours (hyper's HTTP/1 connections, one task each) rather than
//! `axum::serve`, for the limits a server on the internet needs:
//! - a client must send a request's complete headers within `header_read_timeout_s` (the same
//!   bound closes keep-alive connections idle for as long), so trickling sockets are cut;
//! - at most `max_connections` connections are served at once; one beyond that is answered
//!   `503` with `Retry-After` and closed at once (it does not wait in a queue);
//! - at shutdown the listener closes, running analyses are cancelled, idle connections close,
//!   and requests in flight get at most `shutdown_grace_s` less a second (for the runtime to
//!   wind down and the process to exit) before their connections are dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

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
    release_freed_pages();
    let spatial = Arc::new(Spatial::new(snap));
    Ok(AppState::new(store, spatial, cfg))
}

/// Gives back at once the pages freed while the snapshot was loaded (the store's rows, some
/// 40 MB at 1M incidents), instead of over the next second as jemalloc's decay would
/// (`main.rs`): a dirty decay of 0 purges an arena's dirty pages when it is set.
fn release_freed_pages() {
    #[cfg(target_os = "linux")]
    {
        use tikv_jemalloc_ctl::{Access, AsName};
        let Ok(n) = tikv_jemalloc_ctl::arenas::narenas::read() else {
            return;
        };
        for i in 0..n {
            let key = format!("arena.{i}.dirty_decay_ms\0");
            let name = key.as_bytes().name();
            if let Ok(ms) = Access::<isize>::read(name) {
                let _ = name.write(0isize);
                let _ = name.write(ms);
            }
        }
    }
}

/// What the runtime gets after the drain to end its blocking threads (see `cli::main`).
pub const RUNTIME_WIND_DOWN: Duration = Duration::from_millis(500);

/// The drain is shorter than `shutdown_grace_s` by this much (the runtime's wind-down and the
/// process's exit), so that the process is gone within `shutdown_grace_s` of the signal.
const DRAIN_MARGIN: Duration = Duration::from_secs(1);

/// The answer to a connection beyond `max_connections`, written without reading its request.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 68\r\nConnection: close\r\n\r\n{\"error\":\"too many connections; try again in a moment\",\"status\":503}";

/// Serves `state` on a bound listener until `shutdown` resolves (see the module
/// documentation). Also watches the store for data written by other processes and reloads
/// the snapshot when it changes.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, db = %state.config.db, "serving Lägesbild at http://{addr}/");
    let watcher = tokio::spawn(watch_store(state.clone()));
    let router = app(state.clone());
    let cfg = state.config.clone();
    let header_timeout = Duration::from_secs(cfg.header_read_timeout_s);
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let (closing_tx, closing) = watch::channel(false);
    let mut connections: JoinSet<()> = JoinSet::new();
    let mut refused = Refusals::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: do not spin on it.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        connections.spawn(connection(
                            stream,
                            peer,
                            router.clone(),
                            slot,
                            closing.clone(),
                            header_timeout,
                        ));
                    }
                    Err(_) => refused.refuse(stream, cfg.max_connections),
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let started = Instant::now();
    drop(listener);
    state.shutdown.cancel();
    let _ = closing_tx.send(true);
    let grace = Duration::from_secs(cfg.shutdown_grace_s).saturating_sub(DRAIN_MARGIN);
    let open = connections.len();
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        tracing::warn!(
            left = connections.len(),
            "shutdown: requests still open after the grace period; closing their connections"
        );
        connections.shutdown().await;
    }
    watcher.abort();
    tracing::info!(
        connections = open,
        ms = started.elapsed().as_millis() as u64,
        "stopped"
    );
    Ok(())
}

/// Serves one connection until it ends, or until `closing` turns true: then it finishes the
/// request in flight, if any, and closes.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    _slot: OwnedSemaphorePermit,
    mut closing: watch::Receiver<bool>,
    header_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // The handlers (the rate limiter) read the peer address as axum's ConnectInfo.
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => Some(r),
        _ = closing.wait_for(|c| *c) => None,
    };
    let result = match ended {
        Some(r) => r,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Header time-outs, resets, clients that went away: theirs, not ours.
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Connections turned away at `max_connections`, logged at most every ten seconds.
#[derive(Default)]
struct Refusals {
    count: u64,
    logged: Option<Instant>,
}

impl Refusals {
    fn refuse(&mut self, stream: TcpStream, limit: usize) {
        // Best effort and never waiting: the socket's send buffer takes these few bytes.
        let _ = stream.try_write(TOO_MANY_CONNECTIONS);
        drop(stream);
        self.count += 1;
        if self
            .logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            tracing::warn!(
                max_connections = limit,
                refused = self.count,
                "connection limit reached: refusing new connections"
            );
            self.logged = Some(Instant::now());
            self.count = 0;
        }
    }
}

/// Keeps the snapshot in step with what other processes commit. A backend that hears commits
/// (PostgreSQL's `LISTEN/NOTIFY`) wakes this at once and says what changed; otherwise, and at
/// least every `reload_interval_s`, the data version is compared.
async fn watch_store(state: AppState) {
    let mut seen = state.store.data_version().await.unwrap_or(0);
    let every = Duration::from_secs(state.config.reload_interval_s.max(1));
    loop {
        let changed = match state.store.wait_for_change(every).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot wait for changes; polling");
                tokio::time::sleep(every).await;
                crate::store::Changed::TIMED_OUT
            }
        };
        if changed.tokens {
            state.tokens.clear();
        }
        if changed.data || changed.timed_out {
            match state.store.data_version().await {
                Ok(v) if v != seen => {
                    seen = v;
                    match state.spatial.reload(state.store.as_ref()).await {
                        Ok(()) => {
                            tracing::info!(data_version = v, "data changed; snapshot reloaded")
                        }
                        Err(e) => tracing::error!(error = %e, "snapshot reload failed"),
                    }
                    // A whole reload includes the reports and the lamps.
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read data version"),
            }
        }
        // Reports go through the one report publisher, so that it keeps merging into a layer it
        // knows rather than reading every report after each of another replica's commits.
        let publisher = &state.report_publisher;
        if changed.measures {
            if let Err(e) = state.spatial.reload_lamps(state.store.as_ref()).await {
                tracing::error!(error = %e, "reloading lamps and reports after a measure failed");
            }
        } else if changed.reports {
            if let Err(e) = publisher
                .after_commit_reload(&state.spatial, state.store.as_ref())
                .await
            {
                tracing::error!(error = %e, "reloading reports failed");
            }
        } else if !changed.report_ids.is_empty()
            && let Err(e) = publisher
                .after_foreign_change(&state.spatial, state.store.as_ref(), &changed.report_ids)
                .await
        {
            tracing::error!(error = %e, "reading reports changed elsewhere failed");
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
