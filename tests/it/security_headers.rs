//! Security headers on every answer of the whole router: the strict Content-Security-Policy on
//! the pages (with the configured tile host in img-src), `default-src 'none'` on the rest, and
//! X-Frame-Options, nosniff and Referrer-Policy everywhere, errors included. Runs the router
//! without a socket against an empty SQLite file.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use lagesbild::config::Config;
use tower::ServiceExt;

async fn app_with(tile_url: &str) -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        db: dir
            .path()
            .join("headers.sqlite")
            .to_str()
            .unwrap()
            .to_string(),
        tile_url: tile_url.to_string(),
        ..Config::default()
    };
    let state = lagesbild::cli::serve::prepare(config).await.unwrap();
    (lagesbild::api::app(state), dir)
}

async fn head(app: &axum::Router, path: &str) -> (StatusCode, HeaderMap) {
    let resp = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    (resp.status(), resp.headers().clone())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} in {h:?}"))
        .to_str()
        .unwrap()
}

/// The directives of a policy, by name.
fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_string);
            (words.next().unwrap(), words.collect())
        })
        .collect()
}

fn directive(csp: &str, name: &str) -> Vec<String> {
    directives(csp)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {csp}"))
        .1
}

fn assert_common(path: &str, h: &HeaderMap) {
    assert_eq!(header(h, "x-frame-options"), "DENY", "{path}");
    assert_eq!(header(h, "x-content-type-options"), "nosniff", "{path}");
    assert_eq!(
        header(h, "referrer-policy"),
        "strict-origin-when-cross-origin",
        "{path}"
    );
}

#[tokio::test]
async fn pages_and_their_files_get_the_strict_policy_and_the_tile_host() {
    let (app, _dir) = app_with("https://tile.openstreetmap.org/{z}/{x}/{y}.png").await;
    for path in ["/", "/index.html", "/print.html"] {
        let (status, h) = head(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            header(&h, "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_common(path, &h);
        let csp = header(&h, "content-security-policy");
        assert!(!csp.contains("unsafe-"), "{path}: {csp}");
        assert_eq!(directive(csp, "default-src"), ["'self'"], "{csp}");
        assert_eq!(directive(csp, "script-src"), ["'self'"], "{csp}");
        assert_eq!(directive(csp, "style-src"), ["'self'"], "{csp}");
        assert_eq!(
            directive(csp, "img-src"),
            ["'self'", "data:", "blob:", "https://tile.openstreetmap.org"],
            "{csp}"
        );
        assert_eq!(directive(csp, "object-src"), ["'none'"], "{csp}");
        assert_eq!(directive(csp, "frame-ancestors"), ["'none'"], "{csp}");
        assert_eq!(directive(csp, "base-uri"), ["'self'"], "{csp}");
        assert_eq!(directive(csp, "form-action"), ["'self'"], "{csp}");
    }
    // The app's files: no document, but nosniff matters most for them.
    for path in [
        "/js/app.js",
        "/js/early.js",
        "/style.css",
        "/vendor/leaflet/leaflet.js",
    ] {
        let (status, h) = head(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_common(path, &h);
        assert_eq!(
            directive(header(&h, "content-security-policy"), "default-src"),
            ["'none'"],
            "{path}"
        );
    }
}

#[tokio::test]
async fn api_answers_and_errors_get_nosniff_and_a_policy_that_allows_nothing() {
    let (app, _dir) = app_with("https://tile.openstreetmap.org/{z}/{x}/{y}.png").await;
    for (path, want) in [
        ("/api/v1/config", StatusCode::OK),
        ("/health", StatusCode::OK),
        ("/open311/v2/requests.json", StatusCode::OK),
        ("/api/v1/reports", StatusCode::UNAUTHORIZED),
        (
            "/api/v1/lighting/stretches?bbox=nonsense",
            StatusCode::BAD_REQUEST,
        ),
        ("/no/such/page", StatusCode::NOT_FOUND),
        ("/js/no-such-file.js", StatusCode::NOT_FOUND),
    ] {
        let (status, h) = head(&app, path).await;
        assert_eq!(status, want, "{path}");
        assert_common(path, &h);
        let csp = header(&h, "content-security-policy");
        assert_eq!(directive(csp, "default-src"), ["'none'"], "{path}: {csp}");
        assert_eq!(
            directive(csp, "frame-ancestors"),
            ["'none'"],
            "{path}: {csp}"
        );
    }
}

#[tokio::test]
async fn a_tile_url_with_subdomains_allows_any_of_them() {
    let (app, _dir) = app_with("https://{s}.tiles.example.org/{z}/{x}/{y}.png").await;
    let (_, h) = head(&app, "/").await;
    let img = directive(header(&h, "content-security-policy"), "img-src");
    assert!(
        img.contains(&"https://*.tiles.example.org".to_string()),
        "{img:?}"
    );
}
