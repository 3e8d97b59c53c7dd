//! Open311 GeoReport v2 at `/open311/v2/`: how citizens (and any Open311 client) report.
//!
//! Endpoints, each in `.json` and `.xml`, with the element names of the specification
//! (<https://wiki.open311.org/GeoReport_v2>):
//!
//! - `GET services.{fmt}`: the service list; `GET services/{code}.{fmt}`: a service definition.
//! - `POST requests.{fmt}`: form-encoded submission. The answer
//!   `[{"service_request_id", "service_notice", "account_id"}]` comes only after the commit. A
//!   repeated submission (same `Idempotency-Key` header or `client_token` field, or the same
//!   content from the same address within a minute) answers with the first report's id.
//! - `GET requests.{fmt}`: filters `service_request_id` (comma list; other filters are then
//!   ignored), `service_code` (comma list), `status` (`open`, `closed`, comma list), `start_date`,
//!   `end_date` (ISO 8601). Without dates: the last 90 days. At most 1000 requests, newest first.
//! - `GET requests/{id}.{fmt}`, `GET tokens/{token}.{fmt}` (the client token of a submission).
//! - `GET discovery.{fmt}`.
//!
//! Open311 knows the statuses `open` and `closed`; `acknowledged` and `in_progress` are shown as
//! `open` with a Swedish `status_notes` unless a coordinator wrote one. With `extensions=true`
//! every request also carries `extended_attributes` (`detailed_status`, `lamp_id`, `walkway_id`,
//! `merged_into`, `attributes`), the convention of the GeoReport v2 extensions. Errors are the
//! specification's list `[{"code": 400, "description": "…"}]` (XML `<errors><error>…`).
//!
//! Reporters' contact details are stored apart and never appear in any answer here; the text of a
//! report hidden by a coordinator is not shown.

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde_json::json;

use super::AppState;
use super::client::ClientAddr;
use crate::crs;
use crate::model::{CitizenReport, ReportStatus, ServiceCode};
use crate::reports::services::{self, ServiceDef};
use crate::reports::submit;
use crate::store::StoreError;
use crate::store::reports::ReportFilter;

/// Requests answered by `GET requests` at most.
pub const MAX_REQUESTS: u32 = 1000;
/// Default window of `GET requests` without dates.
pub const DEFAULT_DAYS: i64 = 90;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(get_top).post(post_top))
        .route("/open311/v2/services/{file}", get(get_service))
        .route("/open311/v2/requests/{file}", get(get_request))
        .route("/open311/v2/tokens/{file}", get(get_token))
}

// ---------------------------------------------------------------------------------------------
// Formats and errors

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

/// Splits `name.fmt`; the format is required, as in the specification.
fn split_format(file: &str) -> Result<(&str, Format), Open311Error> {
    match file.rsplit_once('.') {
        Some((name, "json")) => Ok((name, Format::Json)),
        Some((name, "xml")) => Ok((name, Format::Xml)),
        _ => Err(Open311Error::new(
            Format::Json,
            StatusCode::NOT_FOUND,
            format!("{file:?}: add .json or .xml to choose the response format"),
        )),
    }
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

    fn bad(format: Format, messages: Vec<String>) -> Self {
        Self {
            format,
            status: StatusCode::BAD_REQUEST,
            messages,
            retry_after_s: None,
        }
    }

    fn store(format: Format, e: StoreError) -> Self {
        tracing::error!(error = %e, "storage error in Open311");
        Self::new(
            format,
            StatusCode::INTERNAL_SERVER_ERROR,
            "the report store is unavailable; try again shortly",
        )
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let code = self.status.as_u16();
        let list = Node::List(
            "error",
            self.messages
                .into_iter()
                .map(|m| {
                    Node::obj([
                        ("code", Node::Int(i64::from(code))),
                        ("description", m.into()),
                    ])
                })
                .collect(),
        );
        let mut resp = render(self.format, "errors", &list, self.status);
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

// ---------------------------------------------------------------------------------------------
// One tree, two renderings

/// A response document: JSON and XML are rendered from the same tree so that their element
/// names cannot drift apart. A `List` knows the XML name of its items.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(&'static str, Vec<Node>),
    Obj(Vec<(&'static str, Node)>),
}

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Node::Null => s.serialize_none(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Float(f) => s.serialize_f64(*f),
            Node::Str(v) => s.serialize_str(v),
            Node::List(_, items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for it in items {
                    seq.serialize_element(it)?;
                }
                seq.end()
            }
            Node::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl From<String> for Node {
    fn from(s: String) -> Self {
        Node::Str(s)
    }
}
impl From<&str> for Node {
    fn from(s: &str) -> Self {
        Node::Str(s.to_string())
    }
}
impl From<Option<String>> for Node {
    fn from(s: Option<String>) -> Self {
        s.map_or(Node::Null, Node::Str)
    }
}

impl Node {
    fn obj<const N: usize>(fields: [(&'static str, Node); N]) -> Self {
        Node::Obj(fields.into())
    }

    /// JSON text with the fields in the specification's order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a response tree serialises")
    }

    fn write_xml(&self, name: &str, out: &mut String) {
        match self {
            Node::Null => {
                out.push('<');
                out.push_str(name);
                out.push_str("/>");
            }
            other => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                match other {
                    Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                    Node::Int(i) => out.push_str(&i.to_string()),
                    Node::Float(f) => out.push_str(&f.to_string()),
                    // Whatever was stored, the document stays well-formed: characters XML cannot
                    // carry become U+FFFD (input is checked too, see `crate::text`).
                    Node::Str(s) => out.push_str(&quick_xml::escape::escape(
                        crate::text::xml_safe(s.as_str()).as_ref(),
                    )),
                    Node::List(item, items) => {
                        for it in items {
                            it.write_xml(item, out);
                        }
                    }
                    Node::Obj(fields) => {
                        for (k, v) in fields {
                            v.write_xml(k, out);
                        }
                    }
                    Node::Null => {}
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }

    pub fn to_xml(&self, root: &str) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        self.write_xml(root, &mut out);
        out
    }
}

fn render(format: Format, root: &str, node: &Node, status: StatusCode) -> Response {
    match format {
        Format::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            node.to_json(),
        )
            .into_response(),
        Format::Xml => (
            status,
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            node.to_xml(root),
        )
            .into_response(),
    }
}

fn ok(format: Format, root: &str, node: Node) -> Response {
    render(format, root, &node, StatusCode::OK)
}

/// ISO 8601 with the Swedish offset, e.g. `2026-11-23T10:23:17+01:00`.
pub fn datetime(t: DateTime<Utc>) -> String {
    t.with_timezone(&crate::time::ZONE)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

// ---------------------------------------------------------------------------------------------
// Documents

fn service_node(d: &ServiceDef) -> Node {
    Node::obj([
        ("service_code", d.code.as_str().into()),
        ("service_name", d.name.into()),
        ("description", d.description.into()),
        ("metadata", Node::Bool(d.metadata())),
        ("type", "realtime".into()),
        ("keywords", d.keywords.into()),
        ("group", d.group.into()),
    ])
}

fn definition_node(d: &ServiceDef) -> Node {
    let attrs = d
        .attributes
        .iter()
        .map(|a| {
            Node::obj([
                ("variable", Node::Bool(true)),
                ("code", a.code.into()),
                ("datatype", a.datatype.as_str().into()),
                ("required", Node::Bool(a.required)),
                (
                    "datatype_description",
                    a.datatype_description.map(String::from).into(),
                ),
                ("order", Node::Int(i64::from(a.order))),
                ("description", a.description.into()),
                (
                    "values",
                    Node::List(
                        "value",
                        a.values
                            .iter()
                            .map(|(k, n)| Node::obj([("key", (*k).into()), ("name", (*n).into())]))
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    Node::obj([
        ("service_code", d.code.as_str().into()),
        ("attributes", Node::List("attribute", attrs)),
    ])
}

/// Swedish words for the statuses Open311 cannot express.
fn status_words(s: ReportStatus) -> &'static str {
    match s {
        ReportStatus::Open => "Mottagen",
        ReportStatus::Acknowledged => "Bekräftad av kommunen",
        ReportStatus::InProgress => "Åtgärd pågår",
        ReportStatus::Closed => "Avslutad",
    }
}

/// What a citizen is told about where the report was put.
fn notice(r: &CitizenReport) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(l) = &r.lamp_id {
        parts.push(format!("Gäller lampa {l}."));
    }
    if let Some(m) = r.merged_into {
        parts.push(format!("Samma sak som ärende {m}."));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// One request as the public sees it: no contact fields, no text of hidden reports.
pub fn request_node(r: &CitizenReport, extensions: bool) -> Node {
    let (lon, lat) = crs::to_wgs84(r.location.x(), r.location.y()).unwrap_or((f64::NAN, f64::NAN));
    let coord = |v: f64| {
        if v.is_finite() {
            Node::Float(crs::round7(v))
        } else {
            Node::Null
        }
    };
    let status_notes = r.status_notes.clone().or_else(|| {
        (r.status.open311() != r.status.as_str()).then(|| status_words(r.status).into())
    });
    let (description, media_url) = if r.hidden {
        (Node::Str(String::new()), Node::Null)
    } else {
        (r.description.clone().into(), r.media_url.clone().into())
    };
    let mut fields: Vec<(&'static str, Node)> = vec![
        ("service_request_id", r.id.to_string().into()),
        ("status", r.status.open311().into()),
        ("status_notes", status_notes.into()),
        ("service_name", r.service.name_sv().into()),
        ("service_code", r.service.as_str().into()),
        ("description", description),
        ("agency_responsible", r.agency_responsible.clone().into()),
        ("service_notice", notice(r).into()),
        ("requested_datetime", datetime(r.requested_at).into()),
        ("updated_datetime", datetime(r.updated_at).into()),
        ("expected_datetime", Node::Null),
        ("address", r.address.clone().into()),
        ("address_id", Node::Null),
        ("zipcode", Node::Null),
        ("lat", coord(lat)),
        ("long", coord(lon)),
        ("media_url", media_url),
    ];
    if extensions {
        let attrs = r
            .attributes
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .map(|(k, v)| Node::obj([("code", k.into()), ("value", v.into())]))
                    .collect()
            })
            .unwrap_or_default();
        fields.push((
            "extended_attributes",
            Node::obj([
                ("detailed_status", r.status.as_str().into()),
                ("hidden", Node::Bool(r.hidden)),
                ("lamp_id", r.lamp_id.clone().into()),
                ("walkway_id", r.walkway_id.map_or(Node::Null, Node::Int)),
                (
                    "merged_into",
                    r.merged_into.map_or(Node::Null, |m| m.to_string().into()),
                ),
                ("attributes", Node::List("attribute", attrs)),
            ]),
        ));
    }
    Node::Obj(fields)
}

// ---------------------------------------------------------------------------------------------
// Handlers

type Params = Query<Vec<(String, String)>>;

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

async fn get_top(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Params,
) -> Result<Response, Open311Error> {
    let (name, format) = split_format(&file)?;
    match name {
        "services" => Ok(ok(
            format,
            "services",
            Node::List(
                "service",
                services::all().iter().map(service_node).collect(),
            ),
        )),
        "requests" => list_requests(&state, format, &q).await,
        "discovery" => Ok(ok(format, "discovery", discovery_node())),
        _ => Err(Open311Error::new(
            format,
            StatusCode::NOT_FOUND,
            format!("no such resource {name:?}: see discovery.{}", ext(format)),
        )),
    }
}

fn ext(f: Format) -> &'static str {
    match f {
        Format::Json => "json",
        Format::Xml => "xml",
    }
}

fn discovery_node() -> Node {
    let endpoint = |format: &str| {
        Node::obj([
            (
                "specification",
                "http://wiki.open311.org/GeoReport_v2".into(),
            ),
            ("url", "/open311/v2/".into()),
            ("changeset", "2026-11-23T00:00:00+01:00".into()),
            ("type", "production".into()),
            ("formats", Node::List("format", vec![format.into()])),
        ])
    };
    Node::obj([
        ("changeset", "2026-11-23T00:00:00+01:00".into()),
        ("contact", "Lägesbild".into()),
        ("key_service", Node::Null),
        (
            "endpoints",
            Node::List(
                "endpoint",
                vec![endpoint("application/json"), endpoint("text/xml")],
            ),
        ),
    ])
}

async fn get_service(Path(file): Path<String>) -> Result<Response, Open311Error> {
    let (code, format) = split_format(&file)?;
    let service = ServiceCode::parse(code).ok_or_else(|| {
        Open311Error::new(
            format,
            StatusCode::NOT_FOUND,
            format!("no service with service_code {code:?}"),
        )
    })?;
    Ok(ok(
        format,
        "service_definition",
        definition_node(&services::definition(service)),
    ))
}

async fn get_request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Params,
) -> Result<Response, Open311Error> {
    let (id, format) = split_format(&file)?;
    let not_found = || {
        Open311Error::new(
            format,
            StatusCode::NOT_FOUND,
            format!("no service request with id {id:?}"),
        )
    };
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let r = state
        .store
        .get_report(id)
        .await
        .map_err(|e| Open311Error::store(format, e))?
        .ok_or_else(not_found)?;
    let ext = param(&q, "extensions") == Some("true");
    Ok(ok(
        format,
        "service_requests",
        Node::List("request", vec![request_node(&r, ext)]),
    ))
}

async fn get_token(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, Open311Error> {
    let (token, format) = split_format(&file)?;
    let r = state
        .store
        .report_by_client_token(token)
        .await
        .map_err(|e| Open311Error::store(format, e))?
        .ok_or_else(|| {
            Open311Error::new(
                format,
                StatusCode::NOT_FOUND,
                format!("no service request was submitted with token {token:?}"),
            )
        })?;
    Ok(ok(
        format,
        "service_requests",
        Node::List(
            "request",
            vec![Node::obj([
                ("service_request_id", r.id.to_string().into()),
                ("token", token.into()),
            ])],
        ),
    ))
}

/// Parses `start_date`/`end_date`: RFC 3339 / ISO 8601 with a zone, or a plain date (midnight
/// in Sweden).
fn parse_when(v: &str, name: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        if let Some(t) = crate::time::ZONE
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
        {
            return Ok(t.with_timezone(&Utc));
        }
    }
    Err(format!(
        "{name} {v:?} is not an ISO 8601 date-time such as 2026-11-01T00:00:00+01:00"
    ))
}

/// The filters of `GET requests` as the specification defines them.
pub fn parse_filter(
    q: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<ReportFilter, Vec<String>> {
    let mut errors = Vec::new();
    let mut f = ReportFilter {
        limit: MAX_REQUESTS,
        ..ReportFilter::default()
    };
    if let Some(ids) = param(q, "service_request_id") {
        for s in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match s.parse() {
                Ok(id) => f.ids.push(id),
                Err(_) => errors.push(format!("service_request_id {s:?} is not a request id")),
            }
        }
        return if errors.is_empty() {
            Ok(f)
        } else {
            Err(errors)
        };
    }
    if let Some(codes) = param(q, "service_code") {
        for s in codes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match ServiceCode::parse(s) {
                Some(c) => f.services.push(c),
                None => errors.push(format!("service_code {s:?} is not a service here")),
            }
        }
    }
    if let Some(st) = param(q, "status") {
        for s in st.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match s {
                "open" => f.statuses.extend([
                    ReportStatus::Open,
                    ReportStatus::Acknowledged,
                    ReportStatus::InProgress,
                ]),
                "closed" => f.statuses.push(ReportStatus::Closed),
                other => match ReportStatus::parse(other) {
                    Some(fine) => f.statuses.push(fine),
                    None => errors.push(format!("status {other:?}: use open or closed")),
                },
            }
        }
    }
    let mut when = |name: &str| {
        param(q, name).and_then(|v| match parse_when(v, name) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(e);
                None
            }
        })
    };
    let start = when("start_date");
    let end = when("end_date");
    f.start = match (start, end) {
        (Some(s), _) => Some(s),
        (None, Some(e)) => Some(e - Duration::days(DEFAULT_DAYS)),
        (None, None) => Some(now - Duration::days(DEFAULT_DAYS)),
    };
    f.end = end;
    if matches!((f.start, f.end), (Some(s), Some(e)) if s > e) {
        errors.push("start_date is after end_date".to_string());
    }
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(errors)
    }
}

async fn list_requests(
    state: &AppState,
    format: Format,
    q: &[(String, String)],
) -> Result<Response, Open311Error> {
    let filter = parse_filter(q, Utc::now()).map_err(|e| Open311Error::bad(format, e))?;
    let rows = state
        .store
        .list_reports(&filter)
        .await
        .map_err(|e| Open311Error::store(format, e))?;
    let ext = param(q, "extensions") == Some("true");
    Ok(ok(
        format,
        "service_requests",
        Node::List(
            "request",
            rows.iter().map(|r| request_node(r, ext)).collect(),
        ),
    ))
}

async fn post_top(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Open311Error> {
    let (name, format) = split_format(&file)?;
    if name != "requests" {
        return Err(Open311Error::new(
            format,
            StatusCode::METHOD_NOT_ALLOWED,
            format!("POST is accepted only at requests.{}", ext(format)),
        ));
    }
    if let Err(wait) = state.report_limiter.check(ip, Instant::now()) {
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
        return Err(Open311Error::bad(
            format,
            vec![format!(
                "the body must be form-encoded (Content-Type: application/x-www-form-urlencoded), not {content_type:?}"
            )],
        ));
    }
    let body = body.map_err(|e| Open311Error::new(format, e.status(), e.body_text()))?;
    let sub = submit::parse_body(&body).map_err(|e| Open311Error::bad(format, e))?;
    let idempotency = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_string);
    let snapshot = state.spatial.load();
    let new = submit::prepare(
        sub,
        &snapshot,
        &state.config.service_area(),
        &ip.to_string(),
        idempotency,
        Utc::now(),
    )
    .map_err(|e| Open311Error::bad(format, vec![e.0]))?;
    drop(snapshot);
    let created = state
        .report_writer
        .submit(&state.store, new)
        .await
        .map_err(|e| Open311Error::store(format, e))?;
    if created.new {
        // Committed: the report is safe even if the snapshot cannot be refreshed now (the next
        // reload picks it up), so a failure here is logged, not answered.
        if let Err(e) = state
            .report_publisher
            .after_commit(&state.spatial, state.store.as_ref(), created.report.clone())
            .await
        {
            tracing::error!(error = %e, id = created.report.id, "report stored but snapshot not refreshed");
        }
        tracing::info!(
            id = created.report.id,
            service = created.report.service.as_str(),
            "citizen report stored"
        );
    }
    let r = &created.report;
    let mut text = if created.new {
        String::from("Tack! Din rapport är mottagen.")
    } else {
        String::from("Rapporten var redan mottagen; detta är samma ärende.")
    };
    if let Some(l) = &r.lamp_id {
        text.push_str(&format!(" Den gäller lampa {l}."));
    }
    if r.walkway_id.is_some() && r.location != r.original_location {
        let d = geo::Distance::distance(&geo::Euclidean, r.location, r.original_location);
        text.push_str(&format!(
            " Platsen flyttades {d:.0} m till närmaste gångväg."
        ));
    }
    Ok(ok(
        format,
        "service_requests",
        Node::List(
            "request",
            vec![Node::obj([
                ("service_request_id", r.id.to_string().into()),
                ("service_notice", text.into()),
                ("account_id", Node::Null),
            ])],
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

/// OpenAPI 3.1 `paths` entries of the Open311 endpoints.
pub fn openapi_paths() -> serde_json::Value {
    let fmt_param = json!({"name": "format", "in": "path", "required": true,
        "schema": {"type": "string", "enum": ["json", "xml"]}});
    let errors = json!({"description": "Open311 error list",
        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object",
            "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}}}}});
    let request_schema = json!({"type": "object", "properties": {
        "service_request_id": {"type": "string"}, "status": {"type": "string", "enum": ["open", "closed"]},
        "status_notes": {"type": ["string", "null"]}, "service_name": {"type": "string"},
        "service_code": {"type": "string"}, "description": {"type": "string"},
        "agency_responsible": {"type": ["string", "null"]}, "service_notice": {"type": ["string", "null"]},
        "requested_datetime": {"type": "string", "format": "date-time"},
        "updated_datetime": {"type": "string", "format": "date-time"},
        "expected_datetime": {"type": ["string", "null"]}, "address": {"type": ["string", "null"]},
        "address_id": {"type": ["string", "null"]}, "zipcode": {"type": ["string", "null"]},
        "lat": {"type": "number"}, "long": {"type": "number"}, "media_url": {"type": ["string", "null"]}}});
    let q = |name: &str, desc: &str| {
        json!({"name": name, "in": "query", "required": false,
        "schema": {"type": "string"}, "description": desc})
    };
    json!({
        "/open311/v2/services.{format}": {"get": {
            "summary": "Open311 service list", "tags": ["open311"], "parameters": [fmt_param],
            "responses": {"200": {"description": "services (XML root <services><service>)"}}}},
        "/open311/v2/services/{service_code}.{format}": {"get": {
            "summary": "Open311 service definition with attributes", "tags": ["open311"],
            "parameters": [{"name": "service_code", "in": "path", "required": true, "schema": {"type": "string"}}, fmt_param],
            "responses": {"200": {"description": "service_definition"}, "404": errors}}},
        "/open311/v2/requests.{format}": {
            "get": {"summary": "Open311 service requests (default: last 90 days, at most 1000)", "tags": ["open311"],
                "parameters": [fmt_param, q("service_request_id", "comma-separated ids; other filters ignored"),
                    q("service_code", "comma-separated codes"), q("status", "open, closed"),
                    q("start_date", "ISO 8601"), q("end_date", "ISO 8601"),
                    q("extensions", "true adds extended_attributes")],
                "responses": {"200": {"description": "requests", "content": {"application/json": {"schema": {"type": "array", "items": request_schema}}}}, "400": errors}},
            "post": {"summary": "Submit a citizen report (answered after commit)", "tags": ["open311"],
                "parameters": [fmt_param, {"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object",
                    "required": ["service_code"], "properties": {
                        "service_code": {"type": "string"}, "lat": {"type": "number"}, "long": {"type": "number"},
                        "address_string": {"type": "string"}, "description": {"type": "string", "maxLength": 4000},
                        "email": {"type": "string"}, "first_name": {"type": "string"}, "last_name": {"type": "string"},
                        "phone": {"type": "string"}, "media_url": {"type": "string", "format": "uri"},
                        "client_token": {"type": "string"}, "device_id": {"type": "string"},
                        "account_id": {"type": "string"}, "api_key": {"type": "string"}},
                    "additionalProperties": {"type": "string", "description": "attribute[code]"}}}}},
                "responses": {"200": {"description": "[{service_request_id, service_notice, account_id}]"},
                    "400": errors, "429": errors}}},
        "/open311/v2/requests/{service_request_id}.{format}": {"get": {
            "summary": "One Open311 service request", "tags": ["open311"],
            "parameters": [{"name": "service_request_id", "in": "path", "required": true, "schema": {"type": "string"}}, fmt_param],
            "responses": {"200": {"description": "a list of one request"}, "404": errors}}},
        "/open311/v2/tokens/{token}.{format}": {"get": {
            "summary": "The service request submitted with a client token", "tags": ["open311"],
            "parameters": [{"name": "token", "in": "path", "required": true, "schema": {"type": "string"}}, fmt_param],
            "responses": {"200": {"description": "[{service_request_id, token}]"}, "404": errors}}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_xml_come_from_the_same_tree() {
        let n = Node::List(
            "request",
            vec![Node::obj([
                ("service_request_id", "7".into()),
                ("status_notes", Node::Null),
                ("description", "a < b & c".into()),
                ("lat", Node::Float(59.5)),
            ])],
        );
        assert_eq!(
            n.to_json(),
            r#"[{"service_request_id":"7","status_notes":null,"description":"a < b & c","lat":59.5}]"#
        );
        assert_eq!(
            n.to_xml("service_requests"),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><service_request_id>7</service_request_id><status_notes/><description>a &lt; b &amp; c</description><lat>59.5</lat></request></service_requests>"
        );
    }

    #[test]
    fn datetimes_carry_the_swedish_offset() {
        let winter = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        assert_eq!(datetime(winter), "2026-11-23T10:00:00+01:00");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 9, 0, 0).unwrap();
        assert_eq!(datetime(summer), "2026-07-01T11:00:00+02:00");
    }

    #[test]
    fn default_window_is_90_days_and_ids_override_filters() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let f = parse_filter(&[], now).unwrap();
        assert_eq!(f.start, Some(now - Duration::days(90)));
        assert_eq!(f.end, None);
        assert_eq!(f.limit, 1000);
        let q = vec![
            ("service_request_id".to_string(), "3, 5".to_string()),
            ("status".to_string(), "bogus".to_string()),
        ];
        let f = parse_filter(&q, now).unwrap();
        assert_eq!(f.ids, vec![3, 5]);
        let q = vec![("status".to_string(), "open".to_string())];
        assert_eq!(parse_filter(&q, now).unwrap().statuses.len(), 3);
        let q = vec![("start_date".to_string(), "yesterday".to_string())];
        assert!(parse_filter(&q, now).unwrap_err()[0].contains("ISO 8601"));
        let q = vec![("start_date".to_string(), "2026-11-01".to_string())];
        assert_eq!(
            parse_filter(&q, now).unwrap().start,
            Some(Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).unwrap())
        );
    }
}
