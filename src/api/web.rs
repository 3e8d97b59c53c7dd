//! The web app: the files in `web/` (the public map, the report form, the coordinators' and
//! police's views, the printable lägesbild, the public pledge page `/loften`), Leaflet and its plugins from `web/node_modules`
//! under `/vendor/…`, and `GET /api/v1/config`, which tells the app the base map, the service
//! area and the districts.
//!
//! The files are built into the binary (`rust-embed`, in every profile), so an installed binary
//! serves the same app from any directory; `build.rs` refuses to build without Leaflet in
//! `web/node_modules`. For working on the app, `LAGESBILD_WEB_DIR=web` serves a directory
//! instead, read on every request.
//!
//! Only the app's own files are served, by name: `node_modules/`, `tests/` and `package.json`
//! are neither embedded nor served from a directory.
//!
//! [`security_headers`] is the layer that puts the security headers (Content-Security-Policy and
//! friends) on every response of the whole application, pages and API alike.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, get_service};
use axum::{Json, Router};
use rust_embed::RustEmbed;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::{MakeHeaderValue, SetResponseHeaderLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::query::{NoParams, Q};
use crate::config::Config;
use crate::service::client_config::{ClientConfig, client_config};

/// The app's own files change with every release: browsers must revalidate (cheap, with the
/// ETag, or Last-Modified from a directory).
const REVALIDATE: &str = "no-cache";
/// Vendor files are pinned versions and may be cached for a day.
const CACHE_DAY: &str = "public, max-age=86400";

/// The app's own files, as `web/` held them at build time.
#[derive(RustEmbed)]
#[folder = "web/"]
#[include = "index.html"]
#[include = "print.html"]
#[include = "style.css"]
#[include = "print.css"]
#[include = "loften.html"]
#[include = "loften.css"]
#[include = "js/**"]
struct AppFiles;

/// Leaflet's `dist/`, as `npm ci` installed it.
#[derive(RustEmbed)]
#[folder = "web/node_modules/leaflet/dist/"]
struct LeafletFiles;

/// Leaflet.markercluster's `dist/`, as `npm ci` installed it.
#[derive(RustEmbed)]
#[folder = "web/node_modules/leaflet.markercluster/dist/"]
struct MarkerclusterFiles;

/// The directory `LAGESBILD_WEB_DIR` names, if set: the app is served from there instead of
/// from the binary.
pub fn web_dir_override() -> Option<PathBuf> {
    match std::env::var_os("LAGESBILD_WEB_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => None,
    }
}

/// The web app's routes: from [`web_dir_override`] when set, else the files built in.
pub fn routes() -> Router<AppState> {
    match web_dir_override() {
        Some(dir) => {
            tracing::info!(dir = %dir.display(), "serving the web app from LAGESBILD_WEB_DIR");
            routes_from(&dir)
        }
        None => embedded_routes(),
    }
}

/// The web app's routes, served from the files built into the binary. The same paths as
/// [`routes_from`]; nothing here is a fallback, so no API path can be shadowed by a file.
pub fn embedded_routes() -> Router<AppState> {
    let app = |name: &'static str| {
        get(
            move |headers: HeaderMap| async move { embedded::<AppFiles>(name, &headers, REVALIDATE) },
        )
    };
    Router::new()
        .route("/", app("index.html"))
        .route("/index.html", app("index.html"))
        .route("/print.html", app("print.html"))
        .route("/style.css", app("style.css"))
        .route("/print.css", app("print.css"))
        .route("/loften", app("loften.html"))
        .route("/loften.css", app("loften.css"))
        .route(
            "/js/{*path}",
            get(
                |UrlPath(path): UrlPath<String>, headers: HeaderMap| async move {
                    embedded::<AppFiles>(&format!("js/{path}"), &headers, REVALIDATE)
                },
            ),
        )
        .route(
            "/vendor/leaflet/{*path}",
            get(
                |UrlPath(path): UrlPath<String>, headers: HeaderMap| async move {
                    embedded::<LeafletFiles>(&path, &headers, CACHE_DAY)
                },
            ),
        )
        .route(
            "/vendor/markercluster/{*path}",
            get(
                |UrlPath(path): UrlPath<String>, headers: HeaderMap| async move {
                    embedded::<MarkerclusterFiles>(&path, &headers, CACHE_DAY)
                },
            ),
        )
}

/// One embedded file: its content type (by extension, as a directory would give it), the
/// `Cache-Control` of its kind, a strong ETag from its SHA-256, and 304 when the client's
/// `If-None-Match` names it. Anything not embedded under exactly that name is 404; `..`, `.` and
/// empty segments never match.
fn embedded<E: RustEmbed>(
    path: &str,
    headers: &HeaderMap,
    cache: &'static str,
) -> Response<axum::body::Body> {
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == ".." || seg.contains('\\'))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(file) = E::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let etag = HeaderValue::from_str(&etag).expect("hex is a valid header value");
    let cache = HeaderValue::from_static(cache);
    if if_none_match(headers, &etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    let ctype = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let body = match file.data {
        std::borrow::Cow::Borrowed(b) => axum::body::Bytes::from_static(b),
        std::borrow::Cow::Owned(v) => axum::body::Bytes::from(v),
    };
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// Whether `If-None-Match` names `etag` (weakly compared, as RFC 9110 asks for GET) or is `*`.
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
}

/// The web app's routes, served from `dir` on every request (for `LAGESBILD_WEB_DIR`). Nothing
/// here is a fallback, so no API path can be shadowed by a file.
pub fn routes_from(dir: &Path) -> Router<AppState> {
    let modules = dir.join("node_modules");
    let revalidate = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static(REVALIDATE),
    );
    let cache_day = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_DAY),
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
        .route("/", file("index.html"))
        .route("/index.html", file("index.html"))
        .route("/print.html", file("print.html"))
        .route("/style.css", file("style.css"))
        .route("/print.css", file("print.css"))
        .route("/loften", file("loften.html"))
        .route("/loften.css", file("loften.css"))
        .nest_service(
            "/js",
            tower::ServiceBuilder::new()
                .layer(revalidate.clone())
                .service(ServeDir::new(dir.join("js"))),
        )
        .merge(vendor)
}

/// `GET /api/v1/config`, documented and registered with the API's routes.
pub fn config_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(config))
}

/// What the web app needs to start: base map, privacy threshold, where to look, districts.
///
/// Public. The answer grows with the districts loaded (one name and box each) and the
/// category table: a few kilobytes for a municipality.
#[utoipa::path(
    get,
    path = "/api/v1/config",
    tag = "meta",
    responses(
        (status = 200, description = "The web app's configuration", body = ClientConfig),
        (status = 400, description = "A query parameter was given; this endpoint takes none"),
    ),
    security(())
)]
async fn config(State(state): State<AppState>, Q(NoParams {}): Q<NoParams>) -> Json<ClientConfig> {
    Json(client_config(&state.spatial.load(), &state.config))
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
