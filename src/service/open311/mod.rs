//! Open311 GeoReport v2 (<https://wiki.open311.org/GeoReport_v2>): the citizens' side of reports,
//! as typed answers with the element names of the specification.
//!
//! The answers are the documents of the specification; the HTTP layer renders each as JSON or
//! XML from the same `Serialize` (see `crate::api::open311`), so the two cannot drift apart.
//! What the public may see of a report is decided here ([`Request::public`]): never a contact
//! field, never the text or photo of a report a coordinator hid. The status words, the notice
//! about where a report was put and the receipt of a submission are the rules of this module.

pub mod query;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::crs;
use crate::model::{CitizenReport, ReportStatus, ServiceCode};
use crate::reports::services::{self, Datatype, ServiceDef};
use crate::store::reports::Created;

use super::reports::ReportDesk;
use super::{ServiceError, ServiceResult, datetime};

pub use query::{DEFAULT_DAYS, ExtensionsQuery, MAX_REQUESTS, RequestsQuery};

// ---------------------------------------------------------------------------------------------
// Services

/// One service of the list (`services.{format}`, XML `<services><service>`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Service {
    pub service_code: ServiceCode,
    pub service_name: &'static str,
    pub description: &'static str,
    /// Whether the service has attributes (`services/{code}`).
    pub metadata: bool,
    /// Always `realtime`: a report is stored and answered at once.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub keywords: &'static str,
    pub group: &'static str,
}

/// A service definition (`services/{code}.{format}`, XML `<service_definition>`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceDefinition {
    pub service_code: ServiceCode,
    pub attributes: Vec<Attribute>,
}

/// One question of a service definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attribute {
    /// Always true: the citizen answers it.
    pub variable: bool,
    pub code: &'static str,
    pub datatype: Datatype,
    pub required: bool,
    pub datatype_description: Option<&'static str>,
    pub order: u32,
    pub description: &'static str,
    pub values: Vec<AttributeValue>,
}

/// One answer of a `singlevaluelist` attribute.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttributeValue {
    pub key: &'static str,
    pub name: &'static str,
}

impl From<&ServiceDef> for Service {
    fn from(d: &ServiceDef) -> Self {
        Self {
            service_code: d.code,
            service_name: d.name,
            description: d.description,
            metadata: d.metadata(),
            kind: "realtime",
            keywords: d.keywords,
            group: d.group,
        }
    }
}

impl From<&ServiceDef> for ServiceDefinition {
    fn from(d: &ServiceDef) -> Self {
        let attributes = d
            .attributes
            .iter()
            .map(|a| Attribute {
                variable: true,
                code: a.code,
                datatype: a.datatype,
                required: a.required,
                datatype_description: a.datatype_description,
                order: a.order,
                description: a.description,
                values: a
                    .values
                    .iter()
                    .map(|&(key, name)| AttributeValue { key, name })
                    .collect(),
            })
            .collect();
        Self {
            service_code: d.code,
            attributes,
        }
    }
}

/// The service list.
pub fn service_list() -> Vec<Service> {
    services::all().iter().map(Service::from).collect()
}

/// The definition of the service `code`.
pub fn service_definition(code: &str) -> ServiceResult<ServiceDefinition> {
    let service = ServiceCode::parse(code)
        .ok_or_else(|| ServiceError::NotFound(format!("no service with service_code {code:?}")))?;
    Ok(ServiceDefinition::from(&services::definition(service)))
}

// ---------------------------------------------------------------------------------------------
// Requests

/// Open311's two statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Open311Status {
    Open,
    Closed,
}

/// One service request as the public sees it (XML `<service_requests><request>`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Request {
    pub service_request_id: String,
    pub status: Open311Status,
    /// A coordinator's note; otherwise, for the statuses Open311 cannot express, Swedish words
    /// for them (`Bekräftad av kommunen`, `Åtgärd pågår`).
    pub status_notes: Option<String>,
    pub service_name: &'static str,
    pub service_code: ServiceCode,
    /// Empty when a coordinator hid the report.
    pub description: String,
    pub agency_responsible: Option<String>,
    /// Where the report was put: the lamp it concerns, the report it duplicates.
    pub service_notice: Option<String>,
    #[schema(format = DateTime)]
    pub requested_datetime: String,
    #[schema(format = DateTime)]
    pub updated_datetime: String,
    pub expected_datetime: Option<String>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    /// WGS84, 7 decimals; on the walkway when the report was moved to one.
    pub lat: Option<f64>,
    pub long: Option<f64>,
    /// Null when a coordinator hid the report.
    pub media_url: Option<String>,
    /// With `extensions=true` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_attributes: Option<ExtendedAttributes>,
}

/// What GeoReport v2's extensions add to a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExtendedAttributes {
    pub detailed_status: ReportStatus,
    pub hidden: bool,
    pub lamp_id: Option<String>,
    pub walkway_id: Option<i64>,
    pub merged_into: Option<String>,
    pub attributes: Vec<AttributeAnswer>,
}

/// A citizen's answer to one attribute.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttributeAnswer {
    pub code: String,
    pub value: String,
}

/// Swedish words for the statuses Open311 cannot express.
pub fn status_words(s: ReportStatus) -> &'static str {
    match s {
        ReportStatus::Open => "Mottagen",
        ReportStatus::Acknowledged => "Bekräftad av kommunen",
        ReportStatus::InProgress => "Åtgärd pågår",
        ReportStatus::Closed => "Avslutad",
    }
}

/// What a citizen is told about where the report was put.
pub fn notice(r: &CitizenReport) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(l) = &r.lamp_id {
        parts.push(format!("Gäller lampa {l}."));
    }
    if let Some(m) = r.merged_into {
        parts.push(format!("Samma sak som ärende {m}."));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

impl Request {
    /// The public view of `r`: no contact fields (they are not in a `CitizenReport`), no text or
    /// photo of a hidden report.
    pub fn public(r: &CitizenReport, extensions: bool) -> Self {
        let (long, lat) = match crs::to_wgs84(r.location.x(), r.location.y()) {
            Ok((lon, lat)) if lon.is_finite() && lat.is_finite() => {
                (Some(crs::round7(lon)), Some(crs::round7(lat)))
            }
            _ => (None, None),
        };
        let status_notes = r.status_notes.clone().or_else(|| {
            (r.status.open311() != r.status.as_str()).then(|| status_words(r.status).into())
        });
        let (description, media_url) = if r.hidden {
            (String::new(), None)
        } else {
            (r.description.clone(), r.media_url.clone())
        };
        let extended_attributes = extensions.then(|| ExtendedAttributes {
            detailed_status: r.status,
            hidden: r.hidden,
            lamp_id: r.lamp_id.clone(),
            walkway_id: r.walkway_id,
            merged_into: r.merged_into.map(|m| m.to_string()),
            attributes: r
                .attributes
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| {
                            Some(AttributeAnswer {
                                code: k.clone(),
                                value: v.as_str()?.to_string(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
        Self {
            service_request_id: r.id.to_string(),
            status: if r.status == ReportStatus::Closed {
                Open311Status::Closed
            } else {
                Open311Status::Open
            },
            status_notes,
            service_name: r.service.name_sv(),
            service_code: r.service,
            description,
            agency_responsible: r.agency_responsible.clone(),
            service_notice: notice(r),
            requested_datetime: datetime(r.requested_at),
            updated_datetime: datetime(r.updated_at),
            expected_datetime: None,
            address: r.address.clone(),
            address_id: None,
            zipcode: None,
            lat,
            long,
            media_url,
            extended_attributes,
        }
    }
}

/// `GET requests`: the reports the filter selects, newest first, at most [`MAX_REQUESTS`].
pub async fn requests(
    desk: &ReportDesk<'_>,
    q: &RequestsQuery,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<Request>> {
    let filter = q.filter(now).map_err(ServiceError::Problems)?;
    let extensions = q.extensions()?;
    let rows = desk.store.list_reports(&filter).await?;
    Ok(rows
        .iter()
        .map(|r| Request::public(r, extensions))
        .collect())
}

/// `GET requests/{id}`: a list of one request.
pub async fn request(
    desk: &ReportDesk<'_>,
    id: &str,
    extensions: bool,
) -> ServiceResult<Vec<Request>> {
    let not_found = || ServiceError::NotFound(format!("no service request with id {id:?}"));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let r = desk.store.get_report(n).await?.ok_or_else(not_found)?;
    Ok(vec![Request::public(&r, extensions)])
}

/// The answer of `GET tokens/{token}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenAnswer {
    pub service_request_id: String,
    pub token: String,
}

/// `GET tokens/{token}`: the request submitted with a client token.
pub async fn token(desk: &ReportDesk<'_>, token: &str) -> ServiceResult<Vec<TokenAnswer>> {
    let r = desk
        .store
        .report_by_client_token(token)
        .await?
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no service request was submitted with token {token:?}"
            ))
        })?;
    Ok(vec![TokenAnswer {
        service_request_id: r.id.to_string(),
        token: token.to_string(),
    }])
}

// ---------------------------------------------------------------------------------------------
// Submissions

/// The receipt of `POST requests`, given only after the commit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Receipt {
    pub service_request_id: String,
    /// Swedish: received (or already received), the lamp it concerns, how far it was moved to
    /// the nearest walkway.
    pub service_notice: String,
    /// Always null: there are no citizen accounts.
    pub account_id: Option<String>,
}

impl Receipt {
    pub fn of(created: &Created) -> Self {
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
        Self {
            service_request_id: r.id.to_string(),
            service_notice: text,
            account_id: None,
        }
    }
}

/// The form of `POST requests` (`application/x-www-form-urlencoded`), as
/// [`crate::reports::submit::parse_form`] reads it; answers to a service's questions come as
/// `attribute[code]=key`. `api_key`, `jurisdiction_id`, `device_id` and `account_id` are
/// accepted and ignored (one jurisdiction, no accounts).
#[derive(Debug, Clone, ToSchema)]
#[allow(dead_code)] // the form's description; `parse_form` reads the fields
pub struct SubmissionForm {
    pub service_code: ServiceCode,
    /// WGS84 decimal degrees; with `long`, or give `address_string`.
    pub lat: Option<f64>,
    pub long: Option<f64>,
    /// A walkway or district name, when there are no coordinates.
    pub address_string: Option<String>,
    /// At most 4000 characters.
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    /// An `https` address of a photo.
    #[schema(format = "uri")]
    pub media_url: Option<String>,
    /// Contact details: kept apart, seen by coordinators only, never published.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// The client's own id of this submission: a repeat answers with the first report, and
    /// `tokens/{token}` finds it.
    pub client_token: Option<String>,
}

/// `POST requests`: the form body parsed, placed on the map, committed (in a group commit with
/// others), then published to the snapshot. `client` identifies the sender for the content
/// dedupe (hashed, never stored); `idempotency` is the `Idempotency-Key` header.
pub async fn submit(
    desk: &ReportDesk<'_>,
    body: &[u8],
    client: &str,
    idempotency: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<Receipt>> {
    use crate::reports::submit;
    let sub = submit::parse_body(body).map_err(ServiceError::Problems)?;
    let new = {
        let snapshot = desk.spatial.load();
        submit::prepare(
            sub,
            &snapshot,
            &desk.config.service_area(),
            client,
            idempotency,
            now,
        )
        .map_err(|e| ServiceError::Invalid(e.0))?
    };
    let created = desk
        .writer
        .submit(desk.store, new)
        .await
        .map_err(ServiceError::from)?;
    if created.new {
        // Committed: the report is safe even if the snapshot cannot be refreshed now (the next
        // reload picks it up), so a failure here is logged, not answered.
        if let Err(e) = desk
            .publisher
            .after_commit(desk.spatial, desk.store.as_ref(), created.report.clone())
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
    Ok(vec![Receipt::of(&created)])
}

// ---------------------------------------------------------------------------------------------
// Discovery

/// `discovery.{format}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Discovery {
    pub changeset: &'static str,
    pub contact: &'static str,
    pub key_service: Option<String>,
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of the discovery document: one per format.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoint {
    pub specification: &'static str,
    pub url: &'static str,
    pub changeset: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub formats: Vec<&'static str>,
}

/// When the endpoints last changed.
const CHANGESET: &str = "2026-11-23T00:00:00+01:00";

pub fn discovery() -> Discovery {
    let endpoint = |format| Endpoint {
        specification: "http://wiki.open311.org/GeoReport_v2",
        url: "/open311/v2/",
        changeset: CHANGESET,
        kind: "production",
        formats: vec![format],
    };
    Discovery {
        changeset: CHANGESET,
        contact: "Lägesbild",
        key_service: None,
        endpoints: vec![endpoint("application/json"), endpoint("text/xml")],
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use geo::Point;

    use super::*;

    #[test]
    fn datetimes_carry_the_swedish_offset() {
        let winter = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        assert_eq!(datetime(winter), "2026-11-23T10:00:00+01:00");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 9, 0, 0).unwrap();
        assert_eq!(datetime(summer), "2026-07-01T11:00:00+02:00");
    }

    fn report() -> CitizenReport {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        // Täby centrum in SWEREF 99 TM.
        let p = Point::new(673_900.0, 6_592_300.0);
        CitizenReport {
            id: 7,
            service: ServiceCode::BrokenLamp,
            status: ReportStatus::InProgress,
            description: "Lampan vid skolan".into(),
            location: p,
            original_location: p,
            walkway_id: Some(3),
            lamp_id: Some("L00123".into()),
            address: None,
            media_url: Some("https://example.org/a.jpg".into()),
            status_notes: None,
            agency_responsible: Some("kommunen".into()),
            requested_at: t,
            updated_at: t,
            hidden: false,
            merged_into: Some(5),
            attributes: serde_json::json!({"lamp_state": "off", "n": 3}),
        }
    }

    #[test]
    fn the_public_view_words_fine_statuses_and_hides_hidden_text() {
        let r = report();
        let v = Request::public(&r, false);
        assert_eq!(v.status, Open311Status::Open);
        assert_eq!(v.status_notes.as_deref(), Some("Åtgärd pågår"));
        assert_eq!(
            v.service_notice.as_deref(),
            Some("Gäller lampa L00123. Samma sak som ärende 5.")
        );
        assert!(v.extended_attributes.is_none());
        // 673 900 E, 6 592 300 N is about 59.44° N, 18.07° E.
        assert!((v.lat.unwrap() - 59.44).abs() < 0.02, "{:?}", v.lat);
        assert!((v.long.unwrap() - 18.07).abs() < 0.03, "{:?}", v.long);
        let hidden = CitizenReport {
            hidden: true,
            status_notes: Some("Flyttad".into()),
            ..r.clone()
        };
        let v = Request::public(&hidden, true);
        assert_eq!(v.description, "");
        assert_eq!(v.media_url, None);
        assert_eq!(v.status_notes.as_deref(), Some("Flyttad"));
        let ext = v.extended_attributes.unwrap();
        assert_eq!(ext.detailed_status, ReportStatus::InProgress);
        assert_eq!(ext.merged_into.as_deref(), Some("5"));
        // Only text answers are attributes; the stray number is not.
        assert_eq!(ext.attributes.len(), 1);
        assert_eq!(ext.attributes[0].code, "lamp_state");
    }

    #[test]
    fn a_receipt_says_what_happened_to_the_report() {
        let mut r = report();
        r.original_location = Point::new(673_900.0, 6_592_312.0);
        let new = Receipt::of(&Created {
            report: r.clone(),
            new: true,
        });
        assert_eq!(
            new.service_notice,
            "Tack! Din rapport är mottagen. Den gäller lampa L00123. Platsen flyttades 12 m till närmaste gångväg."
        );
        r.lamp_id = None;
        r.walkway_id = None;
        let again = Receipt::of(&Created {
            report: r,
            new: false,
        });
        assert_eq!(
            again.service_notice,
            "Rapporten var redan mottagen; detta är samma ärende."
        );
        assert_eq!(again.service_request_id, "7");
    }

    #[test]
    fn every_service_is_listed_and_defined() {
        let list = service_list();
        assert_eq!(list.len(), ServiceCode::ALL.len());
        let lamp = service_definition("broken_lamp").unwrap();
        let codes: Vec<&str> = lamp.attributes.iter().map(|a| a.code).collect();
        assert_eq!(codes, ["lamp_state", "time_of_day", "lamp_ref"]);
        assert!(matches!(
            service_definition("graffiti"),
            Err(ServiceError::NotFound(m)) if m.contains("graffiti")
        ));
    }

    #[test]
    fn every_documented_form_field_is_read() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(SubmissionForm::schema()).unwrap();
        let names: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let value = |name: &str| match name {
            "service_code" => "dark_path",
            "lat" => "59.44",
            "long" => "18.07",
            "address_string" => "Täby centrum",
            "description" => "Mörkt",
            "media_url" => "https://example.org/a.jpg",
            "email" => "a@example.org",
            "first_name" => "Anna",
            "last_name" => "Berg",
            "phone" => "08-555 00 00",
            "client_token" => "t-1",
            other => panic!("documented field {other} has no value in this test"),
        };
        let form: Vec<(String, String)> = names
            .iter()
            .map(|n| (n.clone(), value(n).to_string()))
            .collect();
        let sub = crate::reports::submit::parse_form(&form).unwrap();
        assert_eq!(sub.service, ServiceCode::DarkPath);
        assert_eq!(sub.lat_long, Some((59.44, 18.07)));
        assert_eq!(sub.address_string.as_deref(), Some("Täby centrum"));
        assert_eq!(sub.description, "Mörkt");
        assert_eq!(sub.media_url.as_deref(), Some("https://example.org/a.jpg"));
        assert_eq!(sub.contact.email.as_deref(), Some("a@example.org"));
        assert_eq!(sub.contact.first_name.as_deref(), Some("Anna"));
        assert_eq!(sub.contact.last_name.as_deref(), Some("Berg"));
        assert_eq!(sub.contact.phone.as_deref(), Some("08-555 00 00"));
        assert_eq!(sub.client_token.as_deref(), Some("t-1"));
        assert_eq!(names.len(), 11);
    }
}
