//! The server on the internet: bounded analyses (503 with Retry-After when all slots are
//! taken), work that stops when its request is dropped, header time-outs, the connection
//! limit and shutdown within the grace period, against real servers on port 0.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{TestServer, http};
use chrono::Utc;
use geo::Point;
use lagesbild::config::Config;
use lagesbild::model::{Incident, LocationPrecision, Role};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A patrol plan whose DBSCAN takes minutes on [`many_incidents`]: no cell holds `min_points`
/// and no neighbourhood reaches it, so every point measures its distance to some 40 000 others.
const SLOW_PLAN: &str = "/api/v1/patrol-plan.json?eps=2000&min_points=10000";
/// An analysis that is quick (nothing in the period) but not cached.
fn quick_plan(k: usize) -> String {
    format!(
        "/api/v1/patrol-plan.json?from=2001-01-{:02}&to=2001-02-01",
        k % 28 + 1
    )
}

/// 500 000 incidents spread evenly over 30 × 30 km around Täby, all in the last year: some
/// 7 000 within 2 km of each.
fn many_incidents() -> Vec<Incident> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let now = Utc::now();
    (0..500_000)
        .map(|i| Incident {
            source: "t".into(),
            source_id: i.to_string(),
            occurred_at: (now - chrono::Duration::hours(1 + (i as i64 % 8000))).fixed_offset(),
            time_precision: Default::default(),
            occurred_to: None,
            category: "assault".into(),
            group: lagesbild::category::CategoryGroup::Violence,
            label: "Misshandel".into(),
            location: Point::new(
                659_000.0 + rng.random_range(0.0..30_000.0),
                6_579_000.0 + rng.random_range(0.0..30_000.0),
            ),
            precision: LocationPrecision::Exact,
            place: None,
            summary: None,
        })
        .collect()
}

/// A server with one analysis slot, the incidents above and a police token.
async fn busy_server(cfg: impl FnOnce(&mut Config)) -> (TestServer, String) {
    let srv = TestServer::start_with(|c| {
        c.max_concurrent_analyses = Some(1);
        c.reload_interval_s = 3600;
        cfg(c);
    })
    .await;
    let (token, stored) = lagesbild::api::auth::new_token(Role::Police, "limits test");
    srv.state.store.insert_token(&stored).await.unwrap();
    let incs = tokio::task::spawn_blocking(many_incidents).await.unwrap();
    let layer = tokio::task::spawn_blocking(move || lagesbild::spatial::IncidentLayer::new(incs))
        .await
        .unwrap();
    let mut snap = lagesbild::spatial::Snapshot::empty();
    snap.incidents = Arc::new(layer);
    srv.state.spatial.publish(snap);
    (srv, token)
}

/// Sends a GET on a raw connection, for a client that goes away without reading.
async fn raw_get(addr: SocketAddr, path: &str, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

async fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if ok() {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ok().then(|| t0.elapsed())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_slot_gives_503_while_health_and_cached_answers_are_served_and_a_disconnect_frees_it()
 {
    let (srv, token) = busy_server(|_| {}).await;
    // A cached answer to ask for later: the lighting analysis, computed once now.
    let (status, _, _) = http("GET", srv.url("/api/v1/lighting/stretches"), None, None).await;
    assert_eq!(status, 200);
    assert_eq!(srv.state.analyses.available_permits(), 1);

    let slow = raw_get(srv.addr, SLOW_PLAN, &token).await;
    let state = srv.state.clone();
    wait_until(Duration::from_secs(10), || {
        state.analyses.available_permits() == 0
    })
    .await
    .expect("the slow analysis took the slot");

    let t = Instant::now();
    let (status, headers, body) =
        http("GET", srv.url(&quick_plan(1)), None, Some(token.clone())).await;
    let to_503 = t.elapsed();
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "retry-after"), Some("2"));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], 503);
    assert!(to_503 < Duration::from_secs(2), "503 after {to_503:?}");

    let t = Instant::now();
    let (status, _, _) = http("GET", srv.url("/health"), None, None).await;
    let health = t.elapsed();
    assert_eq!(status, 200);
    let t = Instant::now();
    let (status, _, _) = http("GET", srv.url("/api/v1/lighting/stretches"), None, None).await;
    let cached = t.elapsed();
    assert_eq!(status, 200);
    assert!(health < Duration::from_secs(1), "/health took {health:?}");
    assert!(
        cached < Duration::from_secs(1),
        "the cached answer took {cached:?}"
    );

    // The client goes away: the work stops and the slot is free again.
    assert_eq!(srv.state.analyses.available_permits(), 0, "still computing");
    drop(slow);
    let freed = wait_until(Duration::from_secs(5), || {
        state.analyses.available_permits() == 1
    })
    .await
    .expect("the slot is freed after the disconnect");
    let (status, _, body) = http("GET", srv.url(&quick_plan(2)), None, Some(token.clone())).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    eprintln!(
        "503 after {to_503:?}; /health {health:?}; cached {cached:?}; slot free {freed:?} after the disconnect"
    );
    assert!(freed < Duration::from_secs(1), "slot freed after {freed:?}");
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_analysis_stops_and_shutdown_cancels_the_rest() {
    let (srv, token) = busy_server(|c| c.request_timeout_s = 2).await;
    let t = Instant::now();
    let (status, _, _) = http("GET", srv.url(SLOW_PLAN), None, Some(token.clone())).await;
    let answered = t.elapsed();
    assert_eq!(status, 408);
    assert!(answered < Duration::from_secs(4), "408 after {answered:?}");
    let state = srv.state.clone();
    let freed = wait_until(Duration::from_secs(5), || {
        state.analyses.available_permits() == 1
    })
    .await
    .expect("the slot is freed after the time-out");
    eprintln!("408 after {answered:?}; slot free {freed:?} later");
    assert!(freed < Duration::from_secs(1), "slot freed after {freed:?}");

    // Shutdown while an analysis runs: it is cancelled and the server is gone at once.
    let slow = raw_get(srv.addr, SLOW_PLAN, &token).await;
    wait_until(Duration::from_secs(10), || {
        state.analyses.available_permits() == 0
    })
    .await
    .expect("the slow analysis took the slot");
    let t = Instant::now();
    srv.stop().await.unwrap();
    let stopped = t.elapsed();
    wait_until(Duration::from_secs(5), || {
        state.analyses.available_permits() == 1
    })
    .await
    .expect("the analysis stopped");
    eprintln!("stopped {stopped:?} after the shutdown signal");
    assert!(stopped < Duration::from_secs(2), "stop took {stopped:?}");
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_headers_is_cut_off() {
    let srv = TestServer::start_with(|c| c.header_read_timeout_s = 2).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let t0 = Instant::now();
    let request =
        b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed = None;
    let mut buf = [0u8; 512];
    for byte in request.iter().take(20) {
        if s.write_all(&[*byte]).await.is_err() {
            closed = Some(t0.elapsed());
            break;
        }
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = Some(t0.elapsed());
                break;
            }
            Ok(Ok(n)) => panic!("unexpected answer: {}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    let closed = closed.expect("the trickling connection is closed");
    eprintln!("trickling client cut after {closed:?}");
    assert!(
        closed >= Duration::from_millis(1500) && closed <= Duration::from_secs(3),
        "closed after {closed:?}"
    );
    // A normal client is served as ever.
    let (status, _, _) = http("GET", srv.url("/health"), None, None).await;
    assert_eq!(status, 200);
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_refused_until_others_close() {
    let srv = TestServer::start_with(|c| c.max_connections = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    // Let the server accept them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let addr = srv.addr;
    let t = Instant::now();
    let refused = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
        let mut out = Vec::new();
        match s.read_to_end(&mut out) {
            // The 503 was read, or the connection was reset after it: refused either way.
            Ok(_) => String::from_utf8_lossy(&out).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("the connection beyond the limit was left open")
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                panic!("the connection beyond the limit was left open")
            }
            Err(_) => String::from_utf8_lossy(&out).into_owned(),
        }
    })
    .await
    .unwrap();
    let refused_in = t.elapsed();
    assert!(
        refused.is_empty() || refused.starts_with("HTTP/1.1 503"),
        "{refused}"
    );
    assert!(refused_in < Duration::from_secs(1), "{refused_in:?}");
    // One closes: a normal client is served.
    drop(held.pop());
    let t = Instant::now();
    let mut served = None;
    while t.elapsed() < Duration::from_secs(2) {
        let (status, _, _) = http("GET", srv.url("/health"), None, None).await;
        if status == 200 {
            served = Some(t.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let served = served.expect("served once a connection closed");
    eprintln!("refused in {refused_in:?}; served {served:?} after one closed");
    drop(held);
    srv.stop().await.unwrap();
}

/// The binary with the demo data: a request that never finishes by itself is in flight when
/// SIGTERM comes, and the process is gone within 10 s.
#[test]
fn sigterm_stops_the_server_within_ten_seconds_whatever_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let (mut child, addr, rx) = crate::support::spawn_demo(&db, Duration::from_secs(120));
    // The outsider's analysis (10 m Gi* cells, a 5 km band) is now refused before it starts, so
    // what runs when SIGTERM comes is a request that never ends by itself: a POST whose body
    // trickles in a byte every 200 ms, with 100 kB announced.
    let refused = {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(
            b"GET /api/v1/hotspots?method=gistar&cell=10&band=5000 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut answer = String::new();
        use std::io::Read;
        let _ = s.read_to_string(&mut answer);
        answer
    };
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(
        b"POST /api/v1/lighting/what-if HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"lamps\": [",
    )
    .unwrap();
    let mut trickle = s.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..500 {
            if trickle.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(child.try_wait().unwrap().is_none());
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status, t.elapsed());
        }
        if t.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("still running 15 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let log: Vec<String> = rx.try_iter().collect();
    eprintln!("exited {:?} after SIGTERM ({})", exited.1, exited.0);
    assert!(
        exited.1 < Duration::from_secs(10),
        "exit after {:?}\n{}",
        exited.1,
        log.join("\n")
    );
    assert!(exited.0.success(), "{}\n{}", exited.0, log.join("\n"));
}
