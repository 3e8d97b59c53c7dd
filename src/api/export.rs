//! `GET /api/v1/export.gpkg`: the current picture as a GeoPackage download for police and
//! coordinators ([`crate::service::export`], written by [`crate::gpkg`]).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::{ApiResult, AppError, AppState};
use crate::model::Role;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_gpkg))
}

/// The current picture as a GeoPackage (EPSG:3006) for QGIS and other GIS tools.
///
/// One layer per kind of feature: `walkways` (with their EN 13201 class), `lamps` (with the
/// modelled status), `stretches` (dark, unknown and lit, with light, priority and reasons),
/// `districts`, `citizen_reports` (no contact fields; hidden texts left out) and `incidents`
/// (point-level events). The file is as large as the data (about 200 bytes a feature); it is
/// sent in chunks from a temporary file, not held in memory.
#[utoipa::path(
    get,
    path = "/api/v1/export.gpkg",
    tag = "export",
    responses(
        (status = 200, description = "The GeoPackage", content_type = "application/geopackage+sqlite3", body = Vec<u8>),
        (status = 401, description = "No token, or not a valid one"),
        (status = 403, description = "The role may not see incident points"),
        (status = 408, description = "The analysis did not finish in time"),
        (status = 503, description = "Every analysis slot is taken (Retry-After)"),
    ),
    security(("bearer" = []))
)]
async fn export_gpkg(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Police)?;
    let plan =
        super::lighting::class_plan(None, None, &state.config).map_err(AppError::BadRequest)?;
    let (snap, lighting) = super::lighting::analysis(&state, plan).await?;
    let version = snap.version;
    let layers =
        super::blocking(move || Ok(crate::service::export::layers(&snap, &lighting, true))).await?;
    // The GeoPackage is an SQLite file: written to a private temporary directory, sent in
    // chunks, and removed when the answer is sent, fails or is dropped (time-out, client gone).
    let dir = TempDir::new()?;
    let path = dir.0.join("export.gpkg");
    crate::gpkg::write(&path, &layers)
        .await
        .map_err(AppError::internal)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(AppError::internal)?;
    let chunks = futures_util::stream::unfold((file, dir), |(mut file, dir)| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), (file, dir)))
            }
            Err(e) => Some((Err(e), (file, dir))),
        }
    });
    let day = crate::time::local_date(&chrono::Utc::now());
    // Fused: the compression layer may poll again after the end.
    let mut resp = Response::new(Body::from_stream(futures_util::StreamExt::fuse(chunks)));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geopackage+sqlite3"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!(
            "attachment; filename=\"lagesbild-{day}-v{version}.gpkg\""
        ))
        .map_err(AppError::internal)?,
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> ApiResult<Self> {
        let dir = std::env::temp_dir().join(format!(
            "lagesbild-export-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir(&dir).map_err(AppError::internal)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
