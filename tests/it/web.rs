//! The web app's routes: `/api/v1/config`, the app's own files, Leaflet under `/vendor/`, and
//! nothing else from `web/` (no `node_modules/`, `tests/`, `package.json`); API paths are never
//! answered by a file. The files are built into the binary; `LAGESBILD_WEB_DIR` serves a
//! directory instead ([`lagesbild::api::web::routes_from`]), and both are checked here. Runs the
//! whole router without a socket against a real SQLite file with the demo data.
//! `scripts/install-check.sh` checks the installed binary from another directory.

use std::path::{Path, PathBuf};

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use lagesbild::config::Config;
use serde_json::Value;
use tower::ServiceExt;

fn web() -> PathBuf {
    crate::support::root().join("web")
}

async fn demo_state() -> (lagesbild::api::AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        db: dir.path().join("web.sqlite").to_str().unwrap().to_string(),
        service_area: Some(lagesbild::demo::BBOX_WGS84),
        ..Config::default()
    };
    let store = lagesbild::store::open(&config.db).await.unwrap();
    lagesbild::cli::demo::seed(store.as_ref()).await.unwrap();
    drop(store);
    let state = lagesbild::cli::serve::prepare(config).await.unwrap();
    (state, dir)
}

/// The routes of `LAGESBILD_WEB_DIR=dir`, on the demo state.
async fn dir_app(dir: &Path) -> (axum::Router, tempfile::TempDir) {
    let (state, tmp) = demo_state().await;
    (lagesbild::api::web::routes_from(dir).with_state(state), tmp)
}

async fn request(app: &axum::Router, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = to_bytes(resp.into_body(), 50 << 20).await.unwrap().to_vec();
    (status, headers, body)
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn demo_app() -> (axum::Router, tempfile::TempDir) {
    let (state, dir) = demo_state().await;
    (lagesbild::api::app(state), dir)
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String, Vec<u8>) {
    let resp = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = to_bytes(resp.into_body(), 50 << 20).await.unwrap().to_vec();
    (status, ctype, body)
}

#[tokio::test]
async fn config_tells_the_app_the_base_map_the_area_and_the_districts() {
    let (app, _dir) = demo_app().await;
    let (status, ctype, body) = get(&app, "/api/v1/config").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let c: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        c["tile_url"],
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    );
    assert!(
        c["tile_attribution"]
            .as_str()
            .unwrap()
            .contains("OpenStreetMap")
    );
    assert_eq!(c["demo"], true);
    assert_eq!(c["min_public_count"], 3);
    assert_eq!(c["lighting_class"], "P5");
    let area: Vec<f64> = serde_json::from_value(c["service_area_wgs84"].clone()).unwrap();
    assert_eq!(area, lagesbild::demo::BBOX_WGS84.to_vec());
    let districts = c["districts"].as_array().unwrap();
    assert_eq!(districts.len(), 5, "{districts:?}");
    for d in districts {
        let b: Vec<f64> = serde_json::from_value(d["bbox"].clone()).unwrap();
        // Every district lies inside the demo's service area, west < east, south < north.
        assert!(b[0] < b[2] && b[1] < b[3], "{d}");
        assert!(
            b[0] >= area[0] && b[2] <= area[2] && b[1] >= area[1] && b[3] <= area[3],
            "{d}"
        );
    }
    assert!(districts.iter().any(|d| d["name"] == "Täby centrum"));
    // Category codes come with their Swedish names, for tables people read.
    assert_eq!(c["categories"]["theft"], "Stöld");
    assert_eq!(c["categories"]["drug_offence"], "Narkotikabrott");
}

#[tokio::test]
async fn the_app_and_leaflet_are_served_and_nothing_else() {
    let (app, _dir) = demo_app().await;
    app_and_leaflet_and_nothing_else(&app).await;
}

#[tokio::test]
async fn a_web_dir_serves_the_same_and_nothing_else() {
    let (app, _dir) = dir_app(&web()).await;
    app_and_leaflet_and_nothing_else(&app).await;
}

async fn app_and_leaflet_and_nothing_else(app: &axum::Router) {
    for (path, ctype, needle) in [
        ("/", "text/html", "js/app.js"),
        ("/index.html", "text/html", "Rapportera"),
        ("/print.html", "text/html", "js/print.js"),
        ("/style.css", "text/css", ".topbar"),
        ("/print.css", "text/css", "@page"),
        ("/js/app.js", "text/javascript", "enterRole"),
        ("/js/i18n.js", "text/javascript", "Mörk gångväg"),
        ("/vendor/leaflet/leaflet.js", "text/javascript", "Leaflet"),
        ("/vendor/leaflet/leaflet.css", "text/css", ".leaflet-pane"),
        (
            "/vendor/markercluster/leaflet.markercluster.js",
            "text/javascript",
            "MarkerClusterGroup",
        ),
    ] {
        let (status, got, body) = get(app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(got.starts_with(ctype), "{path}: {got}");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(needle), "{path} lacks {needle:?}");
    }
    for path in [
        "/package.json",
        "/package-lock.json",
        "/node_modules/leaflet/package.json",
        "/tests/harness.mjs",
        "/vendor/leaflet/../../package.json",
        "/js/../package.json",
        "/js/%2e%2e/package.json",
        "/vendor/leaflet/..%2fpackage.json",
        "/vendor/nothing.js",
        "/js/no-such-file.js",
        "/build.rs",
        "/data/polisen_categories.csv",
    ] {
        let (status, _, _) = get(app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} must not be served");
    }
}

#[tokio::test]
async fn api_paths_are_never_answered_by_a_file() {
    let (app, _dir) = demo_app().await;
    let (status, ctype, body) = get(&app, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["status"],
        "ok"
    );
    for path in ["/api/v1/nothing-here", "/open311/v2/nothing/here/at/all"] {
        let (status, ctype, _) = get(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!ctype.starts_with("text/html"), "{path} answered with HTML");
    }
}

#[tokio::test]
async fn built_in_files_are_the_files_in_web_and_node_modules() {
    let (app, _dir) = demo_app().await;
    // Every file of the app's js/ (the build watches the directory, so a new file is built in).
    let mut checked = 0;
    for entry in std::fs::read_dir(web().join("js")).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let (status, ctype, body) = get(&app, &format!("/js/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        if name.ends_with(".js") {
            assert!(ctype.starts_with("text/javascript"), "{name}: {ctype}");
        }
        assert!(
            body == std::fs::read(&path).unwrap(),
            "/js/{name} differs from web/js"
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} files in web/js");
    let modules = web().join("node_modules");
    for (url, file, ctype) in [
        ("/index.html", web().join("index.html"), "text/html"),
        ("/print.css", web().join("print.css"), "text/css"),
        (
            "/vendor/leaflet/leaflet.css",
            modules.join("leaflet/dist/leaflet.css"),
            "text/css",
        ),
        (
            "/vendor/leaflet/images/marker-icon.png",
            modules.join("leaflet/dist/images/marker-icon.png"),
            "image/png",
        ),
        (
            "/vendor/markercluster/MarkerCluster.Default.css",
            modules.join("leaflet.markercluster/dist/MarkerCluster.Default.css"),
            "text/css",
        ),
    ] {
        let (status, got, body) = get(&app, url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(got.starts_with(ctype), "{url}: {got}");
        assert!(
            body == std::fs::read(&file).unwrap(),
            "{url} differs from {file:?}"
        );
    }
}

#[tokio::test]
async fn built_in_files_carry_etags_cache_control_and_the_security_headers() {
    let (app, _dir) = demo_app().await;
    let get_with = |path: &str, etag: Option<&str>| {
        let mut req = Request::get(path);
        if let Some(e) = etag {
            req = req.header("if-none-match", e);
        }
        req.body(Body::empty()).unwrap()
    };
    for (path, cache, page) in [
        ("/", "no-cache", true),
        ("/js/app.js", "no-cache", false),
        ("/vendor/leaflet/leaflet.js", "public, max-age=86400", false),
    ] {
        let (status, h, body) = request(&app, get_with(path, None)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&h, "cache-control"), cache, "{path}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&h, "x-frame-options"), "DENY", "{path}");
        let csp = header(&h, "content-security-policy");
        if page {
            assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        } else {
            assert_eq!(csp, lagesbild::api::web::NON_PAGE_POLICY, "{path}");
        }
        let etag = header(&h, "etag");
        assert!(
            etag.len() > 10 && etag.starts_with('"') && etag.ends_with('"'),
            "{path}: {etag:?}"
        );
        assert!(!body.is_empty());
        // The same ETag back: 304, no body, the same caching headers.
        let (status, h2, body) = request(&app, get_with(path, Some(&etag))).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(body.is_empty(), "{path}");
        assert_eq!(header(&h2, "etag"), etag);
        assert_eq!(header(&h2, "cache-control"), cache);
        // In a list, weak, or `*`: still a match. Another tag: the whole file.
        let listed = format!("\"0000\", W/{etag}");
        let (status, _, _) = request(&app, get_with(path, Some(&listed))).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path} {listed}");
        let (status, _, _) = request(&app, get_with(path, Some("*"))).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path} *");
        let (status, _, body) = request(&app, get_with(path, Some("\"0000\""))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!body.is_empty());
    }
    // Different files, different tags.
    let (_, a, _) = request(&app, get_with("/js/app.js", None)).await;
    let (_, b, _) = request(&app, get_with("/js/i18n.js", None)).await;
    assert_ne!(header(&a, "etag"), header(&b, "etag"));
    // HEAD answers like GET, without the file.
    let (status, h, body) = request(&app, Request::head("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&h, "content-type").starts_with("text/html"));
    assert!(body.is_empty());
}

#[tokio::test]
async fn a_web_dir_is_read_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let leaflet = dir.path().join("node_modules/leaflet/dist");
    std::fs::create_dir_all(&leaflet).unwrap();
    std::fs::create_dir_all(dir.path().join("js")).unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>first</p>").unwrap();
    std::fs::write(leaflet.join("leaflet.js"), "/* a local Leaflet */").unwrap();
    std::fs::write(dir.path().join("package.json"), "{}").unwrap();
    let (app, _tmp) = dir_app(dir.path()).await;
    let (status, _, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"<p>first</p>");
    std::fs::write(dir.path().join("index.html"), "<p>second</p>").unwrap();
    std::fs::write(dir.path().join("js/new.js"), "export const x = 1;").unwrap();
    let (_, ctype, body) = get(&app, "/").await;
    assert_eq!(body, b"<p>second</p>");
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let (status, _, body) = get(&app, "/js/new.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"export const x = 1;");
    let (status, _, body) = get(&app, "/vendor/leaflet/leaflet.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"/* a local Leaflet */");
    let (status, _, _) = get(&app, "/package.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
