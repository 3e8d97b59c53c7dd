//! Storage of citizen reports, implemented by each backend in `crate::store`.
//!
//! The store is the system of record: [`ReportStore::create_report`] returns only after the
//! report, its contact row and its first history entry are committed in one transaction, and it
//! recognises a repeated submission (same client token, or same content from the same client
//! within [`DEDUPE_WINDOW_S`] seconds) by returning the report already stored.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use geo::Point;
use serde::Serialize;

use crate::model::{CitizenReport, ReportStatus, Role, ServiceCode};
use crate::store::StoreResult;

/// A second submission of the same content from the same client within this many seconds
/// returns the first report.
pub const DEDUPE_WINDOW_S: i64 = 60;

/// Who may be held responsible for acting on a report.
pub const AGENCIES: [&str; 3] = ["kommunen", "polisen", "fastighetsägare"];

/// A reporter's contact details. Stored apart from the report and shown only to coordinators.
///
/// `Debug` prints which fields are present, never their values, so that a stray `?contact` in a
/// log line cannot leak them.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.phone.is_none()
    }
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = |o: &Option<String>| if o.is_some() { "<redacted>" } else { "-" };
        f.debug_struct("Contact")
            .field("email", &mark(&self.email))
            .field("first_name", &mark(&self.first_name))
            .field("last_name", &mark(&self.last_name))
            .field("phone", &mark(&self.phone))
            .finish()
    }
}

/// A validated and placed submission, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub service: ServiceCode,
    pub description: String,
    /// EPSG:3006, snapped to a walkway when one was near.
    pub location: Point<f64>,
    /// EPSG:3006, where the citizen put it.
    pub original_location: Point<f64>,
    pub walkway_id: Option<i64>,
    pub lamp_id: Option<String>,
    pub address: Option<String>,
    pub media_url: Option<String>,
    pub attributes: serde_json::Value,
    pub requested_at: DateTime<Utc>,
    /// The client's own key for this submission, if it sent one.
    pub client_token: Option<String>,
    /// Hash of the content and the submitting client, see [`content_hash`].
    pub content_hash: String,
    pub contact: Contact,
}

/// The dedupe hash of a submission: the same client sending the same thing twice gives the same
/// hash. `client` is whatever identifies the sender (its IP address); it is hashed, not stored.
pub fn content_hash(
    client: &str,
    service: ServiceCode,
    description: &str,
    original_location: Point<f64>,
    address: Option<&str>,
    media_url: Option<&str>,
    attributes: &serde_json::Value,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        client,
        service.as_str(),
        description,
        // Centimetres: a client re-sending the same form gives the same numbers.
        &format!("{:.2},{:.2}", original_location.x(), original_location.y()),
        address.unwrap_or(""),
        media_url.unwrap_or(""),
        &attributes.to_string(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The outcome of [`ReportStore::create_report`].
#[derive(Debug, Clone)]
pub struct Created {
    pub report: CitizenReport,
    /// False when the submission repeated one already stored and `report` is that one.
    pub new: bool,
}

/// Filters of Open311's `GET requests` and the coordinator inbox. Empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// When given, every other filter is ignored (as Open311 says).
    pub ids: Vec<i64>,
    pub services: Vec<ServiceCode>,
    pub statuses: Vec<ReportStatus>,
    /// Inclusive bounds on `requested_at`.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Newest first, at most this many.
    pub limit: u32,
}

/// Who changes a report, for the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// A token id, `cli`, `citizen` or `demo`.
    pub id: String,
    pub role: Role,
}

impl Actor {
    pub fn new(id: impl Into<String>, role: Role) -> Self {
        Self {
            id: id.into(),
            role,
        }
    }
}

/// A coordinator's change of a report; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportChange {
    pub status: Option<ReportStatus>,
    /// `Some(None)` clears the notes.
    pub status_notes: Option<Option<String>>,
    pub agency_responsible: Option<Option<String>>,
    pub hidden: Option<bool>,
    /// Marks the report as a duplicate of another one (and closes it).
    pub merged_into: Option<i64>,
    /// Why: kept in the history (required when closing).
    pub reason: Option<String>,
}

impl ReportChange {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.status_notes.is_none()
            && self.agency_responsible.is_none()
            && self.hidden.is_none()
            && self.merged_into.is_none()
    }
}

/// One entry of a report's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: Role,
    /// `created`, `status`, `status_notes`, `agency_responsible`, `hidden`, `shown`, `merged`,
    /// `contact_purged`.
    pub action: String,
    /// What changed: e.g. `{"from": "open", "to": "closed", "reason": "…"}`.
    pub detail: serde_json::Value,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Every report, hidden and merged ones included, for the in-memory snapshot.
    async fn load_reports(&self) -> StoreResult<Vec<CitizenReport>>;

    /// Stores a report with its contact row and a `created` history entry in one transaction,
    /// unless it repeats one already stored (see the module documentation).
    async fn create_report(&self, report: &NewReport) -> StoreResult<Created>;

    /// [`create_report`](Self::create_report) for several reports in one transaction (group
    /// commit): all are stored or none, and each result is in the order of `batch`.
    async fn create_reports(&self, batch: &[NewReport]) -> StoreResult<Vec<Created>>;

    async fn get_report(&self, id: i64) -> StoreResult<Option<CitizenReport>>;

    /// Reports matching the filter, newest first.
    async fn list_reports(&self, filter: &ReportFilter) -> StoreResult<Vec<CitizenReport>>;

    /// The report whose submission carried this client token.
    async fn report_by_client_token(&self, token: &str) -> StoreResult<Option<CitizenReport>>;

    /// Applies a change and records one history entry per changed field, atomically.
    /// `NotFound` when the report (or the report to merge into) does not exist, `Conflict` when
    /// a merge would point at itself or at a report that is itself merged.
    async fn update_report(
        &self,
        id: i64,
        change: &ReportChange,
        actor: &Actor,
    ) -> StoreResult<CitizenReport>;

    /// Oldest first.
    async fn report_history(&self, id: i64) -> StoreResult<Vec<HistoryEntry>>;

    async fn get_contact(&self, id: i64) -> StoreResult<Option<Contact>>;

    /// The contacts of these reports, by report id (reports without one are absent). One query
    /// for a whole inbox page instead of one per report; the default asks one by one.
    async fn get_contacts(
        &self,
        ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, Contact>> {
        let mut out = std::collections::HashMap::new();
        for &id in ids {
            if let Some(c) = self.get_contact(id).await? {
                out.insert(id, c);
            }
        }
        Ok(out)
    }

    /// Deletes the contact row; returns whether there was one. Recorded in the history.
    async fn purge_contact(&self, id: i64, actor: &Actor) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_debug_never_shows_values() {
        let c = Contact {
            email: Some("anna@example.org".into()),
            first_name: Some("Anna".into()),
            last_name: None,
            phone: Some("070-1234567".into()),
        };
        let s = format!("{c:?}");
        assert!(!s.contains("anna") && !s.contains("Anna") && !s.contains("070"));
        assert!(s.contains("<redacted>"));
    }

    #[test]
    fn content_hash_depends_on_client_and_content() {
        let p = Point::new(674_000.0, 6_593_500.0);
        let a = serde_json::json!({"darkness": "dim"});
        let h = |client: &str, d: &str| {
            content_hash(client, ServiceCode::DarkPath, d, p, None, None, &a)
        };
        assert_eq!(h("10.0.0.1", "Mörkt"), h("10.0.0.1", "Mörkt"));
        assert_ne!(h("10.0.0.1", "Mörkt"), h("10.0.0.2", "Mörkt"));
        assert_ne!(h("10.0.0.1", "Mörkt"), h("10.0.0.1", "Mörkt här"));
        // Length-prefixed parts: moving text between fields changes the hash.
        assert_ne!(h("10.0.0.1a", "b"), h("10.0.0.1", "ab"));
    }
}
