//! Open311 GeoReport v2 at `/open311/v2/`: how citizens (and any Open311 client) report. A
//! translator over [`crate::service::open311`]: every answer in `.json` and `.xml`, rendered
//! from the same typed document ([`xml`]), with the element names of the specification
//! (<https://wiki.open311.org/GeoReport_v2>).
//!
//! - `GET services.{format}`, `GET services/{code}.{format}`: the service list and definitions.
//! - `POST requests.{format}`: a form-encoded submission. The receipt
//!   `[{"service_request_id", "service_notice", "account_id"}]` comes only after the commit. A
//!   repeated submission (same `Idempotency-Key` header or `client_token` field, or the same
//!   content from the same address within a minute) answers with the first report's id.
//! - `GET requests.{format}`: filters `service_request_id`, `service_code`, `status`,
//!   `start_date`, `end_date` (see [`RequestsQuery`]); at most 1000 requests, newest first.
//! - `GET requests/{id}.{format}`, `GET tokens/{token}.{format}`, `GET discovery.{format}`.
//!
//! With `extensions=true` every request also carries `extended_attributes`. Errors are the
//! specification's list `[{"code": 400, "description": "…"}]` (XML `<errors><error>…`).
//! Reporters' contact details never appear in any answer here; the text of a report hidden by a
//! coordinator is not shown.

pub mod xml;

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::client::ClientAddr;
use super::error::AppError;
use crate::service::ServiceError;
use crate::service::open311::{
    self as svc, Discovery, ExtensionsQuery, Receipt, Request, RequestsQuery, Service,
    ServiceDefinition, SubmissionForm, TokenAnswer,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(services))
        .routes(routes!(service_definition))
        .routes(routes!(requests, submit))
        .routes(routes!(request))
        .routes(routes!(token))
        .routes(routes!(discovery))
}

// ---------------------------------------------------------------------------------------------
// Formats and errors

/// The response format, chosen by the file extension as the specification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    fn parse(ext: &str, what: &str) -> Result<Self, Open311Error> {
        match ext {
            "json" => Ok(Self::Json),
            "xml" => Ok(Self::Xml),
            _ => Err(Open311Error::new(
                Self::Json,
                StatusCode::NOT_FOUND,
                format!("{what:?}: add .json or .xml to choose the response format"),
            )),
        }
    }
}

/// Splits `name.fmt`; the format is required.
fn split_format(file: &str) -> Result<(&str, Format), Open311Error> {
    match file.rsplit_once('.') {
        Some((name, ext)) if !name.is_empty() => Ok((name, Format::parse(ext, file)?)),
        _ => Err(Format::parse("", file).unwrap_err()),
    }
}

/// One error of the specification's list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorItem {
    pub code: u16,
    pub description: String,
}

/// An error answered as the specification's list of errors.
#[derive(Debug)]
pub struct Open311Error {
    format: Format,
    status: StatusCode,
    messages: Vec<String>,
    retry_after_s: Option<u64>,
}

impl Open311Error {
    fn new(format: Format, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            format,
            status,
            messages: vec![message.into()],
            retry_after_s: None,
        }
    }

    /// A service error in the specification's form: status, message and `Retry-After` as the
    /// rest of the API gives them ([`AppError`]), except that a list of problems stays a list and
    /// a failure of ours says what a client of an Open311 endpoint can do about it.
    fn service(format: Format, e: ServiceError) -> Self {
        if let ServiceError::Problems(messages) = e {
            return Self {
                format,
                status: StatusCode::BAD_REQUEST,
                messages,
                retry_after_s: None,
            };
        }
        let app = AppError::from(e);
        let status = app.status();
        // public_message logs the cause of a failure of ours.
        let mut message = app.public_message();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            message = "the report store is unavailable; try again shortly".into();
        }
        Self {
            format,
            status,
            messages: vec![message],
            retry_after_s: app.retry_after_s(),
        }
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let code = self.status.as_u16();
        let list: Vec<ErrorItem> = self
            .messages
            .into_iter()
            .map(|description| ErrorItem { code, description })
            .collect();
        let mut resp = render(self.format, "errors", &list, self.status);
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

fn render<T: Serialize + ?Sized>(
    format: Format,
    root: &str,
    doc: &T,
    status: StatusCode,
) -> Response {
    let (body, content_type) = match format {
        Format::Json => (
            serde_json::to_string(doc).map_err(|e| e.to_string()),
            "application/json; charset=utf-8",
        ),
        Format::Xml => (
            xml::to_xml(root, doc).map_err(|e| e.to_string()),
            "text/xml; charset=utf-8",
        ),
    };
    match body {
        Ok(body) => (status, [(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, root, "an Open311 document did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

type Answer = Result<Response, Open311Error>;

fn answer<T: Serialize>(format: Format, root: &str, doc: Result<T, ServiceError>) -> Answer {
    doc.map(|d| render(format, root, &d, StatusCode::OK))
        .map_err(|e| Open311Error::service(format, e))
}

fn query<T>(format: Format, q: Result<Query<T>, QueryRejection>) -> Result<T, Open311Error> {
    q.map(|Query(q)| q)
        .map_err(|e| Open311Error::new(format, StatusCode::BAD_REQUEST, e.body_text()))
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// The service list.
#[utoipa::path(get, path = "/open311/v2/services.{format}", tag = "open311",
    params(("format" = inline(Format), Path, description = "json or xml")),
    responses(
        (status = 200, description = "services (XML `<services><service>`)",
            content((Vec<Service> = "application/json"), (Vec<Service> = "text/xml"))),
        (status = 404, description = "no such format", body = Vec<ErrorItem>)))]
async fn services(Path(format): Path<String>) -> Answer {
    let format = Format::parse(&format, &format!("services.{format}"))?;
    answer(format, "services", Ok(svc::service_list()))
}

/// A service definition with its attributes (the questions put to the citizen).
#[utoipa::path(get, path = "/open311/v2/services/{file}", tag = "open311",
    params(("file" = String, Path, description = "the service code and the format, e.g. `broken_lamp.json`")),
    responses(
        (status = 200, description = "service_definition",
            content((ServiceDefinition = "application/json"), (ServiceDefinition = "text/xml"))),
        (status = 404, description = "no such service or format", body = Vec<ErrorItem>)))]
async fn service_definition(Path(file): Path<String>) -> Answer {
    let (code, format) = split_format(&file)?;
    answer(format, "service_definition", svc::service_definition(code))
}

/// Service requests: newest first, by default the last 90 days, at most 1000.
#[utoipa::path(get, path = "/open311/v2/requests.{format}", tag = "open311",
    params(("format" = inline(Format), Path, description = "json or xml"), RequestsQuery),
    responses(
        (status = 200, description = "service_requests (XML `<service_requests><request>`)",
            content((Vec<Request> = "application/json"), (Vec<Request> = "text/xml"))),
        (status = 400, description = "a bad filter, each named", body = Vec<ErrorItem>)))]
async fn requests(
    State(state): State<AppState>,
    Path(format): Path<String>,
    q: Result<Query<RequestsQuery>, QueryRejection>,
) -> Answer {
    let format = Format::parse(&format, &format!("requests.{format}"))?;
    let q = query(format, q)?;
    let rows = svc::requests(&state.report_desk(), &q, Utc::now()).await;
    answer(format, "service_requests", rows)
}

/// Submits a citizen report; answered only after it is committed.
#[utoipa::path(post, path = "/open311/v2/requests.{format}", tag = "open311",
    params(("format" = inline(Format), Path, description = "json or xml"),
        ("Idempotency-Key" = Option<String>, Header, description = "a repeat with the same key answers with the first report")),
    request_body(content = SubmissionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the receipt",
            content((Vec<Receipt> = "application/json"), (Vec<Receipt> = "text/xml"))),
        (status = 400, description = "what is wrong with the form, each problem named", body = Vec<ErrorItem>),
        (status = 429, description = "too many reports from this address; see Retry-After", body = Vec<ErrorItem>)))]
async fn submit(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Path(format): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let format = Format::parse(&format, &format!("requests.{format}"))?;
    // Several server processes on one database share the limit through it; one process on a
    // file keeps its own. A database that cannot count refuses the submission (503) rather
    // than take it unlimited.
    let limited = if state.store.shares_submission_limit() {
        match state
            .store
            .take_submission(ip, state.config.reports_per_minute)
            .await
        {
            Ok(r) => r,
            Err(e) => return Err(Open311Error::service(format, e.into())),
        }
    } else {
        state.report_limiter.check(ip, Instant::now())
    };
    if let Err(wait) = limited {
        let secs = wait.0.as_secs_f64().ceil().max(1.0) as u64;
        let mut e = Open311Error::new(
            format,
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many reports from your address: at most {} a minute; try again in {secs} s",
                state.config.reports_per_minute
            ),
        );
        e.retry_after_s = Some(secs);
        return Err(e);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(Open311Error::new(
            format,
            StatusCode::BAD_REQUEST,
            format!(
                "the body must be form-encoded (Content-Type: application/x-www-form-urlencoded), not {content_type:?}"
            ),
        ));
    }
    let body = body.map_err(|e| Open311Error::new(format, e.status(), e.body_text()))?;
    let idempotency = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_string);
    let receipt = svc::submit(
        &state.report_desk(),
        &body,
        &ip.to_string(),
        idempotency,
        Utc::now(),
    )
    .await;
    answer(format, "service_requests", receipt)
}

/// One service request (a list of one, as the specification has it).
#[utoipa::path(get, path = "/open311/v2/requests/{file}", tag = "open311",
    params(("file" = String, Path, description = "the service_request_id and the format, e.g. `12.json`"), ExtensionsQuery),
    responses(
        (status = 200, description = "service_requests with one request",
            content((Vec<Request> = "application/json"), (Vec<Request> = "text/xml"))),
        (status = 404, description = "no such request", body = Vec<ErrorItem>)))]
async fn request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    q: Result<Query<ExtensionsQuery>, QueryRejection>,
) -> Answer {
    let (id, format) = split_format(&file)?;
    let q = query(format, q)?;
    let ext = svc::query::parse_extensions(q.extensions.as_deref())
        .map_err(|e| Open311Error::service(format, e))?;
    let r = svc::request(&state.report_desk(), id, ext).await;
    answer(format, "service_requests", r)
}

/// The request submitted with a client token.
#[utoipa::path(get, path = "/open311/v2/tokens/{file}", tag = "open311",
    params(("file" = String, Path, description = "the client_token and the format, e.g. `abc.json`")),
    responses(
        (status = 200, description = "service_request_id and token",
            content((Vec<TokenAnswer> = "application/json"), (Vec<TokenAnswer> = "text/xml"))),
        (status = 404, description = "no request with this token", body = Vec<ErrorItem>)))]
async fn token(State(state): State<AppState>, Path(file): Path<String>) -> Answer {
    let (token, format) = split_format(&file)?;
    let r = svc::token(&state.report_desk(), token).await;
    answer(format, "service_requests", r)
}

/// The endpoints and formats of this server.
#[utoipa::path(get, path = "/open311/v2/discovery.{format}", tag = "open311",
    params(("format" = inline(Format), Path, description = "json or xml")),
    responses(
        (status = 200, description = "discovery",
            content((Discovery = "application/json"), (Discovery = "text/xml"))),
        (status = 404, description = "no such format", body = Vec<ErrorItem>)))]
async fn discovery(Path(format): Path<String>) -> Answer {
    let format = Format::parse(&format, &format!("discovery.{format}"))?;
    answer(format, "discovery", Ok(svc::discovery()))
}
