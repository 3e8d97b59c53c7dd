//! The coordinators' side of citizen reports: the inbox, one report with its history, triage.
//!
//! A coordinator sees everything of a report, the reporter's contact details included; the
//! public sees [`crate::service::open311::Request`]. Every change is committed with a history
//! entry naming who made it, then published to the snapshot before it is answered, so the map a
//! coordinator reloads already shows it.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::config::Config;
use crate::crs;
use crate::model::{
    AGENCIES, Actor, CitizenReport, Contact, ReportChange, ReportStatus, Role, ServiceCode,
};
use crate::reports::group_commit::GroupCommit;
use crate::reports::publish::ReportPublisher;
use crate::spatial::Spatial;
use crate::store::Store;
use crate::store::reports::{HistoryEntry, ReportFilter};

use super::{ServiceError, ServiceResult, datetime, note_text as note};

/// Longest `status_notes` and `reason` of a change.
pub const MAX_NOTES: usize = 2000;
pub const MAX_REASON: usize = 1000;
/// Longest inbox page.
pub const MAX_INBOX: u32 = 5000;
/// Inbox page without `limit`.
pub const DEFAULT_INBOX: u32 = 1000;

/// What reading and changing reports needs: the store, the snapshot it is published to, the one
/// group commit of submissions and the one publisher of committed changes.
pub struct ReportDesk<'a> {
    pub store: &'a Arc<dyn Store>,
    pub spatial: &'a Spatial,
    pub writer: &'a GroupCommit,
    pub publisher: &'a ReportPublisher,
    /// Where citizens' reports are accepted ([`Config::service_area`]).
    pub config: &'a Config,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub role: Role,
}

/// The inbox's filters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// `open`, `acknowledged`, `in_progress`, `closed`, comma separated; default: all but
    /// `closed`.
    pub status: Option<String>,
    /// Service codes, comma separated; default: all.
    pub service_code: Option<String>,
    /// Newest first, at most this many (1 to 5000, default 1000).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<u32>,
}

impl InboxQuery {
    pub fn filter(&self) -> ServiceResult<ReportFilter> {
        let list = |v: &Option<String>| -> Vec<String> {
            v.as_deref()
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut statuses = Vec::new();
        for s in list(&self.status) {
            statuses.push(ReportStatus::parse(&s).ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "status {s:?}: use open, acknowledged, in_progress or closed"
                ))
            })?);
        }
        if statuses.is_empty() {
            statuses = vec![
                ReportStatus::Open,
                ReportStatus::Acknowledged,
                ReportStatus::InProgress,
            ];
        }
        let mut services = Vec::new();
        for s in list(&self.service_code) {
            services.push(
                ServiceCode::parse(&s).ok_or_else(|| {
                    ServiceError::Invalid(format!("service_code {s:?} is unknown"))
                })?,
            );
        }
        let limit = self.limit.unwrap_or(DEFAULT_INBOX);
        if !(1..=MAX_INBOX).contains(&limit) {
            return Err(ServiceError::Invalid(format!(
                "limit={limit}: 1 to {MAX_INBOX}"
            )));
        }
        Ok(ReportFilter {
            statuses,
            services,
            limit,
            ..ReportFilter::default()
        })
    }
}

/// A report as coordinators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CoordinatorReport {
    pub id: i64,
    pub service_code: ServiceCode,
    pub service_name: &'static str,
    pub status: ReportStatus,
    /// What the public sees: `open` or `closed`.
    pub open311_status: &'static str,
    pub status_notes: Option<String>,
    pub agency_responsible: Option<String>,
    /// The citizen's text, also when hidden from the public.
    pub description: String,
    pub hidden: bool,
    pub merged_into: Option<i64>,
    pub lamp_id: Option<String>,
    pub walkway_id: Option<i64>,
    pub address: Option<String>,
    pub media_url: Option<String>,
    /// `attribute[code]` answers as given.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    #[schema(format = DateTime)]
    pub requested_datetime: String,
    #[schema(format = DateTime)]
    pub updated_datetime: String,
    /// WGS84 where the report is (on the walkway it was moved to, if any) …
    pub lat: Option<f64>,
    pub long: Option<f64>,
    /// … and where the citizen put it.
    pub original_lat: Option<f64>,
    pub original_long: Option<f64>,
    /// The reporter's contact details, when they gave any.
    pub contact: Option<Contact>,
    /// Oldest first; in the answers about one report only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEntry>>,
}

fn wgs84(p: geo::Point<f64>) -> (Option<f64>, Option<f64>) {
    match crs::to_wgs84(p.x(), p.y()) {
        Ok((lon, lat)) => (Some(crs::round7(lat)), Some(crs::round7(lon))),
        Err(_) => (None, None),
    }
}

impl CoordinatorReport {
    pub fn of(r: &CitizenReport, contact: Option<Contact>) -> Self {
        let (lat, long) = wgs84(r.location);
        let (original_lat, original_long) = wgs84(r.original_location);
        Self {
            id: r.id,
            service_code: r.service,
            service_name: r.service.name_sv(),
            status: r.status,
            open311_status: r.status.open311(),
            status_notes: r.status_notes.clone(),
            agency_responsible: r.agency_responsible.clone(),
            description: r.description.clone(),
            hidden: r.hidden,
            merged_into: r.merged_into,
            lamp_id: r.lamp_id.clone(),
            walkway_id: r.walkway_id,
            address: r.address.clone(),
            media_url: r.media_url.clone(),
            attributes: r.attributes.clone(),
            requested_datetime: datetime(r.requested_at),
            updated_datetime: datetime(r.updated_at),
            lat,
            long,
            original_lat,
            original_long,
            contact,
            history: None,
        }
    }
}

/// An inbox page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Inbox {
    pub reports: Vec<CoordinatorReport>,
    pub count: usize,
}

/// `GET /api/v1/reports`: newest first, with contact details (one query for the page).
pub async fn inbox(desk: &ReportDesk<'_>, q: &InboxQuery) -> ServiceResult<Inbox> {
    let filter = q.filter()?;
    let rows = desk.store.list_reports(&filter).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut contacts = desk.store.get_contacts(&ids).await?;
    let reports: Vec<CoordinatorReport> = rows
        .iter()
        .map(|r| CoordinatorReport::of(r, contacts.remove(&r.id)))
        .collect();
    Ok(Inbox {
        count: reports.len(),
        reports,
    })
}

async fn with_history(
    desk: &ReportDesk<'_>,
    r: &CitizenReport,
) -> ServiceResult<CoordinatorReport> {
    let contact = desk.store.get_contact(r.id).await?;
    let mut out = CoordinatorReport::of(r, contact);
    out.history = Some(desk.store.report_history(r.id).await?);
    Ok(out)
}

/// `GET /api/v1/reports/{id}`: with contact details and history.
pub async fn report(desk: &ReportDesk<'_>, id: i64) -> ServiceResult<CoordinatorReport> {
    let r = desk
        .store
        .get_report(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no report {id}")))?;
    with_history(desk, &r).await
}

/// `Some(v)` whenever the field is present, `null` included: `Option<Option<_>>` tells "leave
/// as it is" (absent) from "clear" (`null`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The body of `PATCH /api/v1/reports/{id}`: every field optional, at least one change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportPatch {
    pub status: Option<ReportStatus>,
    /// Shown to the public; `null` clears them. At most 2000 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub status_notes: Option<Option<String>>,
    /// `kommunen`, `polisen`, `fastighetsägare`; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub agency_responsible: Option<Option<String>>,
    /// Hides the text and photo from the public (abusive text).
    pub hidden: Option<bool>,
    /// Marks the report a duplicate of this one and closes it.
    pub merged_into: Option<i64>,
    /// Why, for the history; closing needs one (or `status_notes`). At most 1000 characters.
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

impl ReportPatch {
    /// The change it asks for, each field checked.
    pub fn change(self) -> ServiceResult<ReportChange> {
        let agency = match self.agency_responsible {
            None => None,
            Some(a) => {
                let a = note("agency_responsible", a, 100)?;
                if let Some(a) = a.as_ref().filter(|a| !AGENCIES.contains(&a.as_str())) {
                    return Err(ServiceError::Invalid(format!(
                        "agency_responsible {a:?}: use {} or null",
                        AGENCIES.join(", ")
                    )));
                }
                Some(a)
            }
        };
        let c = ReportChange {
            status: self.status,
            status_notes: match self.status_notes {
                None => None,
                Some(n) => Some(note("status_notes", n, MAX_NOTES)?),
            },
            agency_responsible: agency,
            hidden: self.hidden,
            merged_into: self.merged_into,
            reason: note("reason", self.reason, MAX_REASON)?,
        };
        if c.is_empty() {
            return Err(ServiceError::Invalid(
                "nothing to change: give status, status_notes, agency_responsible, hidden or merged_into"
                    .into(),
            ));
        }
        Ok(c)
    }
}

/// `PATCH /api/v1/reports/{id}`: committed with its history entries by `who`, published, and
/// answered with the report as it now is.
pub async fn change(
    desk: &ReportDesk<'_>,
    id: i64,
    patch: ReportPatch,
    who: &Actor,
) -> ServiceResult<CoordinatorReport> {
    let mut c = patch.change()?;
    let current = desk
        .store
        .get_report(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no report {id}")))?;
    let closes = c.status == Some(ReportStatus::Closed) && current.status != ReportStatus::Closed;
    if closes && c.merged_into.is_none() {
        if c.reason.is_none() {
            c.reason = c.status_notes.clone().flatten();
        }
        if c.reason.is_none() {
            return Err(ServiceError::Invalid(
                "closing a report needs a reason (or status_notes) saying what was done".into(),
            ));
        }
    }
    let updated = desk.store.update_report(id, &c, who).await?;
    if c.merged_into.is_some() {
        // A merge may move other reports too (those merged into this one follow it).
        desk.publisher
            .after_commit_reload(desk.spatial, desk.store.as_ref())
            .await?;
    } else {
        desk.publisher
            .after_commit(desk.spatial, desk.store.as_ref(), updated.clone())
            .await?;
    }
    tracing::info!(id, actor = %who.id, status = updated.status.as_str(), "report changed");
    with_history(desk, &updated).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(v: serde_json::Value) -> ServiceResult<ReportChange> {
        serde_json::from_value::<ReportPatch>(v)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?
            .change()
    }

    #[test]
    fn patch_bodies_are_checked_field_by_field() {
        let c = patch(json!({"status": "in_progress", "agency_responsible": "polisen"})).unwrap();
        assert_eq!(c.status, Some(ReportStatus::InProgress));
        assert_eq!(c.agency_responsible, Some(Some("polisen".into())));
        // Absent leaves a field alone, null clears it.
        assert_eq!(c.status_notes, None);
        let c = patch(json!({"agency_responsible": null})).unwrap();
        assert_eq!(c.agency_responsible, Some(None));
        for bad in [
            json!({"status": "done"}),
            json!({"agency_responsible": "brandkåren"}),
            json!({"hidden": "yes"}),
            json!({"merged_into": "seven"}),
            json!({"colour": "red"}),
            json!({"reason": "only a reason"}),
            json!({}),
            json!([1, 2]),
        ] {
            assert!(patch(bad.clone()).is_err(), "{bad}");
        }
        let long = "x".repeat(MAX_NOTES + 1);
        match patch(json!({ "status_notes": long })) {
            Err(ServiceError::Invalid(m)) => assert!(m.contains("longer than 2000"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn notes_and_reasons_must_be_text_xml_can_carry() {
        for (field, bad) in [
            ("status_notes", "Åtgärdat\u{B}"),
            ("reason", "Dubblett\u{0}"),
            ("status_notes", "Klart\u{FFFE}"),
        ] {
            match patch(json!({ "status": "closed", field: bad })) {
                Err(ServiceError::Invalid(m)) => {
                    assert!(m.starts_with(&format!("{field} contains U+")), "{m}");
                    let at = bad.chars().count();
                    assert!(m.contains(&format!("at position {at} ")), "{m}");
                }
                other => panic!("{field} {bad:?}: {other:?}"),
            }
        }
        assert!(patch(json!({"status_notes": "rad 1\nrad 2\ttab"})).is_ok());
    }

    #[test]
    fn the_inbox_defaults_to_what_is_not_closed() {
        let f = InboxQuery::default().filter().unwrap();
        assert_eq!(f.limit, 1000);
        assert!(!f.statuses.contains(&ReportStatus::Closed));
        assert_eq!(f.statuses.len(), 3);
        let q = InboxQuery {
            status: Some("closed, in_progress".into()),
            service_code: Some("dark_path".into()),
            limit: Some(5000),
        };
        let f = q.filter().unwrap();
        assert_eq!(f.statuses, [ReportStatus::Closed, ReportStatus::InProgress]);
        assert_eq!(f.services, [ServiceCode::DarkPath]);
        for bad in [
            InboxQuery {
                limit: Some(5001),
                ..InboxQuery::default()
            },
            InboxQuery {
                limit: Some(0),
                ..InboxQuery::default()
            },
            InboxQuery {
                status: Some("done".into()),
                ..InboxQuery::default()
            },
            InboxQuery {
                service_code: Some("graffiti".into()),
                ..InboxQuery::default()
            },
        ] {
            assert!(bad.filter().is_err(), "{bad:?}");
        }
    }
}
