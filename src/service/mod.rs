//! The service core: for each question the system answers, one typed query (what the caller may
//! ask), one typed answer (what comes back) and the function between them, over a
//! [`Snapshot`](crate::spatial::Snapshot).
//!
//! The HTTP API ([`crate::api`]) only translates: query string → query type → call → answer
//! serialised; the CLI builds the same query types from its flags and calls the same functions.
//! The rules themselves (the public view, limits, the analyses) live in [`crate::analysis`];
//! this layer puts them together for one caller and shapes the answer.
//!
//! Query types derive `serde::Deserialize` (the query string), `utoipa::IntoParams` (the
//! OpenAPI document, which also names the parameters the API accepts) and, where the CLI has
//! the same question, `clap::Args`. Answer types derive `Serialize` and `utoipa::ToSchema` and
//! are serialised straight to the response bytes, without a `serde_json::Value` tree.

pub mod client_config;
pub mod dosage;
pub mod export;
pub mod filter;
pub mod geojson;
pub mod hotspots;
pub mod lagesbild;
pub mod lighting;
pub mod measures;
pub mod near_repeat;
pub mod ogc;
pub mod open311;
pub mod patrol;
pub mod pledges;
pub mod reports;
pub mod tiles;
pub mod walks;

use crate::analysis::cancel::Cancelled;
use crate::analysis::filter::FilterError;
use crate::analysis::limits::TooMuchWork;
use crate::analysis::privacy::{PublicRefusal, PublicRules};
use crate::model::Role;

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The query is wrong or asks for too much; the message names the parameter and value.
    #[error("{0}")]
    Invalid(String),
    /// Several things are wrong with the query at once, each named (a form, a filter).
    #[error("{}", .0.join("; "))]
    Problems(Vec<String>),
    /// The question is fine but there is nothing to answer it with.
    #[error("{0}")]
    NotFound(String),
    /// The caller's role may not ask this.
    #[error("this needs the role {0}")]
    Forbidden(&'static str),
    /// The change contradicts what is stored (a merge into itself, say).
    #[error("{0}")]
    Conflict(String),
    /// The store failed; logged, not shown.
    #[error("storage error")]
    Store(crate::store::StoreError),
    /// The work was stopped (deadline, disconnect, shutdown).
    #[error("cancelled")]
    Cancelled,
    /// Ours, not the caller's.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(anyhow::anyhow!("{e}"))
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<FilterError> for ServiceError {
    fn from(e: FilterError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<TooMuchWork> for ServiceError {
    fn from(e: TooMuchWork) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<PublicRefusal> for ServiceError {
    fn from(e: PublicRefusal) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<crate::store::StoreError> for ServiceError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound(what) => Self::NotFound(format!("no {what}")),
            crate::store::StoreError::Conflict(why) => Self::Conflict(why),
            other => Self::Store(other),
        }
    }
}

impl From<Cancelled> for ServiceError {
    fn from(_: Cancelled) -> Self {
        Self::Cancelled
    }
}

/// ISO 8601 with the Swedish offset, e.g. `2026-11-23T10:23:17+01:00`: how answers give an
/// instant.
pub fn datetime(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&crate::time::ZONE)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A coordinator's text as kept: at most `max` characters, only characters Open311's XML can
/// carry (it may be shown there), trimmed, empty meaning none. Errors name `field`.
pub fn note_text(field: &str, v: Option<String>, max: usize) -> ServiceResult<Option<String>> {
    let Some(s) = v else { return Ok(None) };
    if s.chars().count() > max {
        return Err(ServiceError::Invalid(format!(
            "{field} is longer than {max} characters"
        )));
    }
    crate::text::check_xml_text(field, &s).map_err(ServiceError::Invalid)?;
    let s = s.trim();
    Ok((!s.is_empty()).then(|| s.to_string()))
}

/// Who asks, and the public rules that apply when they are not signed in.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub role: Role,
    pub rules: PublicRules,
}

impl Viewer {
    pub fn new(role: Role, rules: PublicRules) -> Self {
        Self { role, rules }
    }

    /// Police, coordinators and admins see single events; the public sees the public product.
    pub fn sees_points(&self) -> bool {
        self.role.sees_points()
    }
}
