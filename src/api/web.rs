//! The web app: the files in `web/` (the public map, the report form, the coordinators' and
//! police's views, the printable lägesbild), Leaflet and its plugins from `web/node_modules`
//! under `/vendor/…`, and `GET /api/v1/config`, which tells the app the base map, the service
//! area and the districts.
//!
//! Only the app's own files are served, by name: `node_modules/`, `tests/` and `package.json`
//! stay private. The directory is `web/` beside `Cargo.toml` when run from the repository, or
//! `LAGESBILD_WEB_DIR` when the binary is installed elsewhere.
//!
//! [`security_headers`] is the layer that puts the security headers (Content-Security-Policy and
//! friends) on every response of the whole application, pages and API alike.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{HeaderValue, Response, header};
use axum::routing::{get, get_service};
use axum::{Json, Router};
use geo::BoundingRect;
use serde_json::{Value, json};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::{MakeHeaderValue, SetResponseHeaderLayer};

use super::{ApiResult, AppState};
use crate::config::Config;
use crate::crs;

/// Sweden in WGS84 `[west, south, east, north]`, the service area when none is configured.
pub const SWEDEN_WGS84: [f64; 4] = [10.5, 55.0, 24.2, 69.1];

/// Where the web app's files are: `LAGESBILD_WEB_DIR`, else the repository's `web/`.
pub fn web_dir() -> PathBuf {
    match std::env::var_os("LAGESBILD_WEB_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("web"),
    }
}

/// The web app's routes, served from [`web_dir`].
pub fn routes() -> Router<AppState> {
    routes_from(&web_dir())
}

/// The web app's routes, served from `dir`. Nothing here is a fallback, so no API path can be
/// shadowed by a file.
pub fn routes_from(dir: &Path) -> Router<AppState> {
    let modules = dir.join("node_modules");
    // The app's own files change with every release: browsers must revalidate (cheap, with
    // Last-Modified). Vendor files are pinned versions and may be cached for a day.
    let revalidate = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    let cache_day = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    let file = |name: &str| get_service(ServeFile::new(dir.join(name))).layer(revalidate.clone());
    let vendor = Router::new()
        .nest_service(
            "/vendor/leaflet",
            ServeDir::new(modules.join("leaflet").join("dist")),
        )
        .nest_service(
            "/vendor/markercluster",
            ServeDir::new(modules.join("leaflet.markercluster").join("dist")),
        )
        .layer(cache_day);
    Router::new()
        .route("/api/v1/config", get(config))
        .route("/", file("index.html"))
        .route("/index.html", file("index.html"))
        .route("/print.html", file("print.html"))
        .route("/style.css", file("style.css"))
        .route("/print.css", file("print.css"))
        .nest_service(
            "/js",
            tower::ServiceBuilder::new()
                .layer(revalidate.clone())
                .service(ServeDir::new(dir.join("js"))),
        )
        .merge(vendor)
}

/// What the web app needs to start: base map, privacy threshold, where to look, districts.
async fn config(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let snap = state.spatial.load();
    let cfg = &state.config;
    let service_area = cfg.service_area.unwrap_or(SWEDEN_WGS84);
    let districts: Vec<Value> = snap
        .areas
        .items
        .iter()
        .map(|a| {
            let bbox = a.geometry.bounding_rect().and_then(|r| {
                let (w, s) = crs::to_wgs84(r.min().x, r.min().y).ok()?;
                let (e, n) = crs::to_wgs84(r.max().x, r.max().y).ok()?;
                Some([
                    crs::round7(w),
                    crs::round7(s),
                    crs::round7(e),
                    crs::round7(n),
                ])
            });
            json!({ "id": a.id, "name": a.name, "bbox": bbox })
        })
        .collect();
    Ok(Json(json!({
        "tile_url": cfg.tile_url,
        "tile_attribution": cfg.tile_attribution,
        "demo": snap.demo,
        "min_public_count": cfg.min_public_count,
        "service_area_wgs84": service_area,
        "lighting_class": cfg.lighting_class,
        "districts": districts,
        "categories": crate::category::labels_sv()
            .into_iter()
            .map(|(code, name)| (code.to_string(), Value::String(name)))
            .collect::<serde_json::Map<String, Value>>(),
    })))
}

/// OpenAPI 3.1 `paths` entries of these endpoints.
pub fn openapi_paths() -> Value {
    json!({
        "/api/v1/config": { "get": {
            "summary": "What the web app needs to start",
            "description": "`{tile_url, tile_attribution, demo, min_public_count, service_area_wgs84: [w,s,e,n], lighting_class, districts: [{id, name, bbox}], categories: {code: Swedish name}}`",
            "responses": { "200": { "description": "JSON object" } }
        }}
    })
}

// ---- security headers ------------------------------------------------------------------------

/// The security headers of every response, as one layer for [`super::app`]:
///
/// * `Content-Security-Policy`: for HTML pages, [`page_policy`] (scripts, styles, fetches only
///   from this origin, no inline script or style attribute, images also from the base map's tile
///   host, no framing, no plugins); for everything else (JSON, CSV, GPX, PNG, the JS and CSS
///   files, errors) `default-src 'none'`, so an API answer opened as a document runs nothing.
/// * `X-Frame-Options: DENY`, for browsers older than `frame-ancestors`.
/// * `X-Content-Type-Options: nosniff`: a JSON answer holding `<script>` is never sniffed as
///   HTML, and a report text is never run as a script.
/// * `Referrer-Policy: strict-origin-when-cross-origin`, not `no-referrer`: the base map's
///   tile servers may require a Referer (OpenStreetMap's tile usage policy does, and blocks
///   requests without one); this policy sends them only the origin, never a path or query
///   (the print view's period and district), and nothing at all over plain HTTP from HTTPS.
///
/// The headers override any a handler set: this is the one place that decides them.
pub fn security_headers(config: &Config) -> SecurityHeaders {
    let policy = ContentSecurityPolicy {
        page: HeaderValue::from_str(&page_policy(&config.tile_url))
            .expect("the page policy is ASCII without control characters"),
    };
    (
        SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, policy),
        SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ),
        SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
    )
}

/// The layer [`security_headers`] returns.
pub type SecurityHeaders = (
    SetResponseHeaderLayer<ContentSecurityPolicy>,
    SetResponseHeaderLayer<HeaderValue>,
    SetResponseHeaderLayer<HeaderValue>,
    SetResponseHeaderLayer<HeaderValue>,
);

/// The policy of answers that are not HTML pages: nothing may load or run.
pub const NON_PAGE_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Picks the Content-Security-Policy by the answer's type: pages get [`page_policy`], all else
/// [`NON_PAGE_POLICY`].
#[derive(Clone, Debug)]
pub struct ContentSecurityPolicy {
    page: HeaderValue,
}

impl<B> MakeHeaderValue<Response<B>> for ContentSecurityPolicy {
    fn make_header_value(&mut self, response: &Response<B>) -> Option<HeaderValue> {
        let html = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
        Some(if html {
            self.page.clone()
        } else {
            HeaderValue::from_static(NON_PAGE_POLICY)
        })
    }
}

/// The web app's Content-Security-Policy.
///
/// * `script-src 'self'`: the app's modules and Leaflet from `/vendor/`; no inline script, no
///   event-handler attribute, no `eval`. A name that slipped into markup could not run.
/// * `style-src 'self'`: the stylesheets. Leaflet and the app set element styles through the
///   DOM (`el.style.x = …`), which a policy does not restrict; a `style="…"` attribute in markup
///   would be refused, and there is none.
/// * `img-src 'self' data: blob:` and the tile host: `blob:` is the density overlay (a PNG the
///   app fetches and shows from an object URL), `data:` the empty favicon.
/// * `connect-src 'self'`: the API. `object-src 'none'`, `base-uri 'self'`,
///   `form-action 'self'`, `frame-ancestors 'none'`.
pub fn page_policy(tile_url: &str) -> String {
    let tiles = match tile_source(tile_url) {
        TileSource::SameOrigin => String::new(),
        TileSource::Host(h) => format!(" {h}"),
        TileSource::Unusable => {
            tracing::warn!(
                tile_url,
                "the base map's tile URL names no host a Content-Security-Policy can allow: \
                 browsers will not load its tiles"
            );
            String::new()
        }
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{tiles}; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Where the base map's tiles come from, as a CSP source.
#[derive(Debug, PartialEq, Eq)]
pub enum TileSource {
    /// A relative URL: tiles served by this origin, which `'self'` allows.
    SameOrigin,
    /// `scheme://host[:port]`, the `{s}` subdomain as `*.` (`https://*.tile.example.org`).
    Host(String),
    /// Not an http(s) URL, or a host a policy cannot name.
    Unusable,
}

/// The CSP source of a Leaflet tile URL template (`https://{s}.tile.example.org/{z}/{x}/{y}.png`).
pub fn tile_source(url: &str) -> TileSource {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        // A path on this server ("/tiles/{z}/{x}/{y}.png"); "//host/…" borrows our scheme.
        return match url.strip_prefix("//") {
            Some(rest) => host_source("", rest),
            None if url.starts_with('/') || !url.contains(':') => TileSource::SameOrigin,
            None => TileSource::Unusable,
        };
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return TileSource::Unusable;
    }
    host_source(&format!("{scheme}://"), rest)
}

fn host_source(prefix: &str, rest: &str) -> TileSource {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return TileSource::Unusable;
    }
    // The port follows the last colon, outside an IPv6 literal's brackets.
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return TileSource::Unusable;
    }
    let host = if let Some(ip6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if ip6.is_empty()
            || !ip6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return TileSource::Unusable;
        }
        host.to_string()
    } else {
        let mut labels = Vec::new();
        for (i, label) in host.split('.').enumerate() {
            if i == 0 && label.contains('{') {
                // {s}.tile.example.org, or tile-{s}.example.org: any subdomain of the rest.
                labels.push("*");
            } else if !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                labels.push(label);
            } else {
                return TileSource::Unusable;
            }
        }
        if labels.len() < 2 && labels.first() == Some(&"*") {
            return TileSource::Unusable;
        }
        labels.join(".").to_ascii_lowercase()
    };
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    TileSource::Host(format!("{prefix}{host}{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_sources() {
        let host = |s: &str| TileSource::Host(s.to_string());
        assert_eq!(
            tile_source("https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
            host("https://tile.openstreetmap.org")
        );
        assert_eq!(
            tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png"),
            host("https://*.tile.example.org")
        );
        assert_eq!(
            tile_source("HTTP://Tiles.Example.org:8080/{z}/{x}/{y}.png?key=k"),
            host("http://tiles.example.org:8080")
        );
        assert_eq!(
            tile_source("//tiles.example.org/{z}/{x}/{y}.png"),
            host("tiles.example.org")
        );
        assert_eq!(
            tile_source("http://[::1]:9000/{z}/{x}/{y}.png"),
            host("http://[::1]:9000")
        );
        assert_eq!(
            tile_source("/tiles/{z}/{x}/{y}.png"),
            TileSource::SameOrigin
        );
        assert_eq!(tile_source("tiles/{z}/{x}/{y}.png"), TileSource::SameOrigin);
        for bad in [
            "javascript:alert(1)",
            "ftp://tiles.example.org/{z}.png",
            "https://{s}/{z}.png",
            "https://a.{s}.example.org/{z}.png",
            "https://user@tiles.example.org/{z}.png",
            "https://tiles.example.org:{port}/{z}.png",
            "https://tiles.example.org; script-src */{z}.png",
            "https://tiles.example.org'/{z}.png",
        ] {
            assert_eq!(tile_source(bad), TileSource::Unusable, "{bad}");
        }
    }

    #[test]
    fn the_page_policy_allows_the_tile_host_and_no_inline_code() {
        let p = page_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png");
        assert!(
            p.contains("img-src 'self' data: blob: https://*.tile.example.org;"),
            "{p}"
        );
        assert!(p.contains("script-src 'self';"), "{p}");
        assert!(!p.contains("unsafe"), "{p}");
        assert!(HeaderValue::from_str(&p).is_ok());
        // A tile URL that cannot be named leaves the tiles out, never the policy broken.
        let p = page_policy("https://x.org; script-src *");
        assert!(p.contains("img-src 'self' data: blob:;"), "{p}");
    }
}
