//! A real server on port 0 against a real SQLite file, for integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use lagesbild::config::Config;
use tokio::sync::oneshot;

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: lagesbild::api::AppState,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1:0; `prepare` may fill the store first.
    pub async fn start_with(cfg: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            db: dir.path().join("test.sqlite").to_str().unwrap().to_string(),
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
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Asks the server to stop and waits for it to drain.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap().await.unwrap()
    }
}

/// A blocking HTTP call on a worker thread: (status, headers, body).
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

pub async fn get_json(url: String, bearer: Option<String>) -> (u16, serde_json::Value) {
    let (s, _, b) = http("GET", url, None, bearer).await;
    (
        s,
        serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
    )
}
