//! Storage of citizen reports: the trait each backend implements (`sqlite::SqliteStore` for the
//! SQLite file) and the rows it takes and gives. What a report is and how it changes
//! ([`CitizenReport`], [`Contact`], [`ReportChange`], [`Actor`]) is in `crate::model`.
//!
//! The store is the system of record: [`ReportStore::create_report`] returns only after the
//! report, its contact row and its first history entry are committed in one transaction, and it
//! recognises a repeated submission (same client token, or same content from the same client
//! within [`DEDUPE_WINDOW_S`] seconds) by returning the report already stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use geo::Point;
use serde::Serialize;

use super::StoreResult;
use crate::model::{Actor, CitizenReport, Contact, ReportChange, ReportStatus, Role, ServiceCode};

/// A second submission of the same content from the same client within this many seconds
/// returns the first report.
pub const DEDUPE_WINDOW_S: i64 = 60;

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
    /// Hash of the content and the submitting client (`crate::reports::submit::content_hash`).
    pub content_hash: String,
    pub contact: Contact,
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

/// One entry of a report's history.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: Role,
    /// `created`, `status`, `status_notes`, `agency_responsible`, `hidden`, `shown`, `merged`,
    /// `contact_purged`.
    pub action: String,
    /// What changed: e.g. `{"from": "open", "to": "closed", "reason": "…"}`.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// One status change of a report (see [`ReportStore::status_changes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub report_id: i64,
    pub at: DateTime<Utc>,
    pub to: ReportStatus,
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

    /// The reports of `ids` that exist (any order, each once), whatever their state: what the
    /// snapshot needs after another process changed them.
    async fn get_reports(&self, ids: &[i64]) -> StoreResult<Vec<CitizenReport>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.get_report(id).await?);
        }
        Ok(out)
    }

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

    /// Every status change of the reports requested in `[from, to)`, oldest first: what the
    /// follow-up of the medborgarlöften measures (days to acknowledge, to close).
    async fn status_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusChange>>;

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
