//! The one way integration tests meet a server: a real Lägesbild server on 127.0.0.1:0 over a
//! real SQLite file in a temporary folder, and a small HTTP client (ureq, on a blocking thread).
//!
//! [`TestServer`] is for `#[tokio::test]`s; [`reports::Server`] wraps it in its own runtime for
//! the synchronous Open311 tests.
#![allow(dead_code)]

pub mod pg;
pub mod reports;

use std::collections::HashMap;
use std::net::SocketAddr;

use lagesbild::config::Config;
use lagesbild::model::Role;
use serde_json::Value;
use tokio::sync::oneshot;

/// The checkout's root, read when the test runs (cargo sets `CARGO_MANIFEST_DIR` for the test
/// process): the compile-time path would point at another checkout when several share one
/// target directory and cargo reuses a test binary built in the other (CI and a work tree do).
pub fn root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: lagesbild::api::AppState,
    pub dir: tempfile::TempDir,
    /// The SQLite file.
    pub db: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// A server over an empty database with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server over an empty database; `cfg` adjusts the configuration.
    pub async fn start_with(cfg: impl FnOnce(&mut Config)) -> Self {
        Self::seeded(cfg, async |_| {}).await
    }

    /// A server whose database `seed` fills before the server loads it (as an import before
    /// `serve` would); `cfg` adjusts the configuration.
    pub async fn seeded(
        cfg: impl FnOnce(&mut Config),
        seed: impl AsyncFnOnce(&dyn lagesbild::store::Store),
    ) -> Self {
        Self::seeded_on(None, cfg, seed).await
    }

    /// [`TestServer::seeded`] over `db` (a PostgreSQL URL, say), or over a new SQLite file in a
    /// temporary folder when `None`.
    pub async fn seeded_on(
        db: Option<String>,
        cfg: impl FnOnce(&mut Config),
        seed: impl AsyncFnOnce(&dyn lagesbild::store::Store),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = db.unwrap_or_else(|| dir.path().join("test.sqlite").to_str().unwrap().to_string());
        {
            let store = lagesbild::store::open(&db).await.unwrap();
            seed(store.as_ref()).await;
        }
        let mut config = Config {
            db: db.clone(),
            addr: "127.0.0.1:0".into(),
            ..Config::default()
        };
        cfg(&mut config);
        let state = lagesbild::cli::serve::prepare(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(lagesbild::cli::serve::serve_on(
            listener,
            state.clone(),
            async {
                let _ = rx.await;
            },
        ));
        Self {
            addr,
            state,
            dir,
            db,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new bearer token with `role`, stored; returns its text.
    pub async fn token(&self, role: Role) -> String {
        let (text, stored) = lagesbild::api::auth::new_token(role, "test");
        self.state.store.insert_token(&stored).await.unwrap();
        text
    }

    /// Loads the snapshot again after the test wrote to the store.
    pub async fn reload(&self) {
        self.state
            .spatial
            .reload(self.state.store.as_ref())
            .await
            .unwrap();
    }

    /// Asks the server to stop and waits for it to drain.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap().await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The real binary's `lagesbild --db DB demo` on 127.0.0.1:0, in its own process: the child,
/// the address it serves at (waited for up to `start_within`), and its stderr lines from then
/// on.
pub fn spawn_demo(
    db: &std::path::Path,
    start_within: std::time::Duration,
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "demo",
            "--addr",
            "127.0.0.1:0",
        ])
        .env("LAGESBILD_LOG", "info,sqlx=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let t0 = std::time::Instant::now();
    let addr = loop {
        let line = rx
            .recv_timeout(start_within.saturating_sub(t0.elapsed()))
            .expect("the server starts");
        if let Some(rest) = line.split("serving Lägesbild at http://").nth(1) {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    (child, addr, rx)
}

/// An answer: status, headers (names in lower case) and body.
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET url`, with a bearer token when given.
pub async fn get(url: String, token: Option<String>) -> Reply {
    let (status, headers, body) = http("GET", url, None, token).await;
    Reply {
        status,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect(),
        body,
    }
}

/// A blocking HTTP call on a worker thread: (status, headers, body). `body` is (content type,
/// bytes).
pub async fn http(
    method: &'static str,
    url: String,
    body: Option<(String, Vec<u8>)>,
    bearer: Option<String>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = &bearer {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let resp = match body {
            Some((ct, bytes)) => {
                let r = req.header("Content-Type", ct).body(bytes).unwrap();
                agent.run(r)
            }
            None => agent.run(req.body(()).unwrap()),
        }
        .expect("request");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut resp = resp;
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_vec()
            .unwrap();
        (status, headers, bytes)
    })
    .await
    .unwrap()
}

/// A blocking HTTP call without a body but with these request headers: (status, headers,
/// body).
pub async fn http_with(
    method: &'static str,
    url: String,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let mut resp = agent.run(req.body(()).unwrap()).expect("request");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let bytes = resp.body_mut().read_to_vec().unwrap();
        (status, headers, bytes)
    })
    .await
    .unwrap()
}

/// (status, JSON body or null) of `GET url`.
pub async fn get_json(url: String, bearer: Option<String>) -> (u16, Value) {
    let (s, _, b) = http("GET", url, None, bearer).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// The Python with the GIS packages (OWSLib, mapbox-vector-tile, openapi-spec-validator) that
/// `scripts/setup.sh --browser` installs, or `LAGESBILD_GIS_PYTHON`.
pub fn gis_python() -> String {
    std::env::var("LAGESBILD_GIS_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/lagesbild/gis-venv/bin/python",
            std::env::var("HOME").unwrap()
        )
    })
}

/// EPSG:3006 `(e, n)` points in `target` by GDAL's `gdaltransform`, in its x/y order
/// (`-output_xy`: longitude first for CRS84, easting first for EPSG:3857).
pub fn gdaltransform(points: &[(f64, f64)], target: &str) -> Vec<(f64, f64)> {
    use std::io::Write;
    let input: String = points.iter().map(|(e, n)| format!("{e} {n}\n")).collect();
    let mut child = std::process::Command::new("gdaltransform")
        .args(["-s_srs", "EPSG:3006", "-t_srs", target, "-output_xy"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gdaltransform (gdal-bin; scripts/setup.sh --browser installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let pts: Vec<(f64, f64)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            (v[0], v[1])
        })
        .collect();
    assert_eq!(pts.len(), points.len(), "gdaltransform to {target}");
    pts
}
