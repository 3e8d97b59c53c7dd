//! The web app's routes: `/api/v1/config`, the app's own files, Leaflet under `/vendor/`, and
//! nothing else from `web/` (no `node_modules/`, `tests/`, `package.json`); API paths are never
//! answered by a file. Runs the whole router without a socket against a real SQLite file with
//! the demo data.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use lagesbild::config::Config;
use serde_json::Value;
use tower::ServiceExt;

async fn demo_app() -> (axum::Router, tempfile::TempDir) {
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
        let (status, got, body) = get(&app, path).await;
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
    ] {
        let (status, _, _) = get(&app, path).await;
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
