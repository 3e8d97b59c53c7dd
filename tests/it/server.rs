//! The server's life: health, limits, authentication, graceful shutdown.

use crate::support::{TestServer, get_json, http};
use lagesbild::model::Role;

async fn police_token(srv: &TestServer) -> Option<String> {
    let (token, stored) = lagesbild::api::auth::new_token(Role::Police, "health");
    srv.state.store.insert_token(&stored).await.unwrap();
    Some(token)
}

#[tokio::test]
async fn health_reports_what_is_loaded() {
    let srv = TestServer::start().await;
    let (status, body) = get_json(srv.url("/health"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["demo"], false);
    // Polled, the public's count of incidents would tell of every import.
    assert!(body.get("loaded").is_none(), "{body}");
    let (_, body) = get_json(srv.url("/health"), police_token(&srv).await).await;
    assert_eq!(body["loaded"]["incidents"], 0);
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn demo_data_is_labelled_and_loaded() {
    let srv = TestServer::start().await;
    assert!(
        lagesbild::cli::demo::seed(srv.state.store.as_ref())
            .await
            .unwrap()
    );
    // A second call must not write the data twice.
    assert!(
        !lagesbild::cli::demo::seed(srv.state.store.as_ref())
            .await
            .unwrap()
    );
    srv.state
        .spatial
        .reload(srv.state.store.as_ref())
        .await
        .unwrap();
    let (_, body) = get_json(srv.url("/health"), police_token(&srv).await).await;
    assert_eq!(body["demo"], true);
    // Two years: this one (hotspots, background, municipality centre) and the one before.
    assert_eq!(
        body["loaded"]["incidents"],
        (1_030 + 1_400 + 180) + (886 + 1_250 + 170)
    );
    assert_eq!(body["loaded"]["areas"], 5);
    srv.stop().await.unwrap();
}

/// A demo seeding killed half-way (walkways written, the rest not) is finished at the next
/// start instead of being taken for a real database.
#[tokio::test]
async fn an_interrupted_demo_seeding_is_finished_next_time() {
    let srv = TestServer::start().await;
    let store = srv.state.store.as_ref();
    let data = lagesbild::demo::generate(chrono::Utc::now());
    store.set_meta("demo", "seeding").await.unwrap();
    store.upsert_walkways(&data.walkways).await.unwrap();
    assert!(lagesbild::cli::demo::seed(store).await.unwrap());
    let c = store.counts().await.unwrap();
    assert_eq!(c.incidents as usize, data.incidents.len());
    assert_eq!(c.walkways as usize, data.walkways.len());
    // The demo's lamps and those its done new-lamp measure put up, one per point.
    let put_up: usize = store
        .list_measures()
        .await
        .unwrap()
        .iter()
        .filter(|m| {
            m.spec.kind == lagesbild::store::measures::MeasureKind::NewLamp
                && m.spec.status == lagesbild::store::measures::MeasureStatus::Done
        })
        .map(|m| m.spec.place.points.len())
        .sum();
    assert!(put_up > 0);
    assert_eq!(c.lamps as usize, data.lamps.len() + put_up);
    assert_eq!(
        store.get_meta("demo").await.unwrap().as_deref(),
        Some("true")
    );
    // Finished: the next start leaves it alone.
    assert!(!lagesbild::cli::demo::seed(store).await.unwrap());
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let srv = TestServer::start_with(|c| c.max_body_bytes = 1024).await;
    let (status, _, _) = http(
        "POST",
        srv.url("/health"),
        Some(("application/json".into(), vec![b' '; 4096])),
        None,
    )
    .await;
    // /health takes no POST; either way the server must not read 4 kB into a 1 kB limit.
    assert!(status == 413 || status == 405, "status {status}");
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn tokens_are_stored_hashed_and_checked() {
    let srv = TestServer::start().await;
    let (token, stored) = lagesbild::api::auth::new_token(Role::Coordinator, "test");
    assert!(
        !stored
            .secret_hash
            .contains(token.rsplit('_').next().unwrap())
    );
    assert!(stored.secret_hash.starts_with("$argon2id$"));
    srv.state.store.insert_token(&stored).await.unwrap();
    let cache = lagesbild::api::auth::TokenCache::default();
    let role = lagesbild::api::auth::verify(srv.state.store.as_ref(), &cache, &token)
        .await
        .unwrap();
    assert_eq!(role, Some(Role::Coordinator));
    let wrong = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(
        lagesbild::api::auth::verify(srv.state.store.as_ref(), &cache, &wrong)
            .await
            .unwrap(),
        None
    );
    srv.state.store.revoke_token(&stored.id).await.unwrap();
    let fresh = lagesbild::api::auth::TokenCache::default();
    assert_eq!(
        lagesbild::api::auth::verify(srv.state.store.as_ref(), &fresh, &token)
            .await
            .unwrap(),
        None
    );
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_and_returns() {
    let srv = TestServer::start().await;
    let (status, _) = get_json(srv.url("/health"), None).await;
    assert_eq!(status, 200);
    let addr = srv.addr;
    srv.stop().await.unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener closed after shutdown"
    );
}

/// `GET path` over a bare connection asking for gzip: the headers (names in lower case) and the
/// body as sent, chunked transfer undone but not decompressed (the test clients decompress).
async fn gzip_get(addr: std::net::SocketAddr, path: &str) -> (Vec<(String, String)>, Vec<u8>) {
    raw_get(addr, path, "gzip").await
}

/// `GET path` over a bare connection with this `Accept-Encoding`: the headers (names in lower
/// case) and the body as sent, chunked transfer undone.
async fn raw_get(
    addr: std::net::SocketAddr,
    path: &str,
    accept: &str,
) -> (Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nAccept-Encoding: {accept}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_lowercase(), v.to_string()))
        .collect();
    let mut rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked");
    if !chunked {
        return (headers, rest.to_vec());
    }
    let mut body = Vec::new();
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line]).unwrap(), 16).unwrap();
        rest = &rest[line + 2..];
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
    (headers, body)
}

/// Large answers are gzipped at level 1 (the gzip header's XFL byte says 4, "fastest"), small
/// ones at the default level 6 (XFL 0); both decompress to the answer sent uncompressed.
#[tokio::test]
async fn large_answers_are_gzipped_fast_and_small_ones_tightly() {
    use std::io::Read;
    // 3 000 zigzag walkways of 40 vertices around Täby: well over the 512 KiB threshold.
    let ways: Vec<lagesbild::model::Walkway> = (0..3_000)
        .map(|i| {
            let (x0, y0) = (
                670_000.0 + (i % 60) as f64 * 100.0,
                6_590_000.0 + (i / 60) as f64 * 100.0,
            );
            lagesbild::model::Walkway {
                id: i,
                geometry: geo::LineString::from(
                    (0..40)
                        .map(|k| (x0 + k as f64 * 2.0, y0 + (k % 2) as f64 * 3.0))
                        .collect::<Vec<_>>(),
                ),
                kind: "footway".into(),
                lit: Some("no".into()),
                name: None,
            }
        })
        .collect();
    let srv = TestServer::seeded(
        |_| {},
        async |store| {
            store.upsert_walkways(&ways).await.unwrap();
        },
    )
    .await;
    let big = "/api/v1/walkways?bbox=17.5,59.2,18.5,59.7";
    let small = "/health";
    for (path, xfl, at_least) in [
        (big, 4u8, lagesbild::api::LARGE_ANSWER_BYTES),
        (small, 0, 0),
    ] {
        let (headers, sent) = gzip_get(srv.addr, path).await;
        let encoding = headers.iter().find(|(k, _)| k == "content-encoding");
        assert_eq!(
            encoding.map(|(_, v)| v.as_str()),
            Some("gzip"),
            "{path}: {headers:?}"
        );
        assert_eq!(&sent[..3], &[0x1f, 0x8b, 0x08], "{path}: a gzip stream");
        assert_eq!(sent[8], xfl, "{path}: the gzip header's XFL byte");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&sent[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert!(
            plain.len() as u64 >= at_least,
            "{path}: {} bytes",
            plain.len()
        );
        let (status, direct) = get_json(srv.url(path), None).await;
        assert_eq!(status, 200);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&plain).unwrap(),
            direct
        );
        // Asked again: the large answer from the cache, its gzipped copy kept from the first
        // gzipped send (streamed without a length) and now sent with its length; the same
        // answer either way.
        if at_least > 0 {
            let start = std::time::Instant::now();
            loop {
                let (headers, again) = gzip_get(srv.addr, path).await;
                let mut back = Vec::new();
                flate2::read::GzDecoder::new(&again[..])
                    .read_to_end(&mut back)
                    .unwrap();
                assert_eq!(back, plain, "{path}: the cached answer");
                if let Some((_, n)) = headers.iter().find(|(k, _)| k == "content-length") {
                    assert_eq!(n.parse::<usize>().unwrap(), again.len());
                    assert_eq!(again[8], 4, "level 1");
                    break;
                }
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(10),
                    "{path}: never sent gzipped from the cache"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let (headers, identity) = raw_get(srv.addr, path, "identity").await;
        assert!(
            !headers.iter().any(|(k, _)| k == "content-encoding"),
            "{headers:?}"
        );
        assert_eq!(
            identity, plain,
            "{path}: uncompressed for a client that takes no gzip"
        );
    }
    srv.stop().await.unwrap();
}
