//! Citizen reports in PostgreSQL (`migrations/postgres/0002_reports.sql`).
//!
//! Several server processes write here at once, so the dedupe cannot be a plain read followed by
//! a write. A submission transaction first takes a transaction-scoped advisory lock for its
//! client token and one for its content hash (all keys of a batch at once, in ascending order,
//! so that two batches never wait on each other in a circle); whoever holds them looks up the
//! earlier report and inserts only when there is none. Under READ COMMITTED every statement sees
//! what was committed before it began, and a lock is released only after its holder's commit is
//! visible, so the second of two simultaneous submissions finds the first. The unique index on
//! `client_token` is the backstop.
//!
//! Changes of stored reports (status, merge, hide, purge) take one advisory lock shared by all
//! of them: like the single writer of the SQLite file, they cannot interleave, so a merge never
//! sees a target that another process is merging away at the same moment.
//!
//! Instants are stored in whole seconds, as the SQLite file keeps them, so both backends give
//! back the same report and apply the dedupe window alike.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use geo::Point;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row};

use super::{Op, PgStore};
use crate::model::{Actor, CitizenReport, Contact, ReportChange, ReportStatus, Role, ServiceCode};
use crate::store::reports::{
    Created, DEDUPE_WINDOW_S, HistoryEntry, NewReport, ReportFilter, ReportStore, StatusChange,
};
use crate::store::{StoreError, StoreResult};

pub(super) const REPORT_COLUMNS: &str = "id, service_code, status, description, \
     ST_X(location), ST_Y(location), ST_X(original_location), ST_Y(original_location), \
     walkway_id, lamp_id, address, media_url, status_notes, agency_responsible, requested_at, \
     updated_at, hidden, merged_into, attributes::text";

/// The advisory lock that every change of a stored report holds (see the module documentation).
const REPORT_CHANGE_LOCK: i64 = 0x4c_6167_6573_0001;

type Tx = sqlx::Transaction<'static, Postgres>;

/// `t` to the whole second, as instants are stored.
pub(super) fn whole_seconds(t: DateTime<Utc>) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp(t.timestamp(), 0)
        .ok_or_else(|| StoreError::Corrupt(format!("instant {t} out of range")))
}

pub(super) fn report_from_row(r: &PgRow) -> StoreResult<CitizenReport> {
    let code: String = r.get(1);
    let status: String = r.get(2);
    let attrs: String = r.get(18);
    Ok(CitizenReport {
        id: r.get(0),
        service: ServiceCode::parse(&code)
            .ok_or_else(|| StoreError::Corrupt(format!("service code {code:?}")))?,
        status: ReportStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("report status {status:?}")))?,
        description: r.get(3),
        location: Point::new(r.get(4), r.get(5)),
        original_location: Point::new(r.get(6), r.get(7)),
        walkway_id: r.get(8),
        lamp_id: r.get(9),
        address: r.get(10),
        media_url: r.get(11),
        status_notes: r.get(12),
        agency_responsible: r.get(13),
        requested_at: r.get(14),
        updated_at: r.get(15),
        hidden: r.get(16),
        merged_into: r.get(17),
        attributes: serde_json::from_str(&attrs)
            .map_err(|e| StoreError::Corrupt(format!("report attributes: {e}")))?,
    })
}

/// One history row: `at, actor, role, action, detail::text` (reports and measures alike).
pub(super) fn history_from_row(r: &PgRow) -> StoreResult<HistoryEntry> {
    let role: String = r.get(2);
    let detail: String = r.get(4);
    Ok(HistoryEntry {
        at: r.get(0),
        actor: r.get(1),
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("history role {role:?}")))?,
        action: r.get(3),
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("history detail: {e}")))?,
    })
}

/// The advisory lock key of a dedupe key: the first 8 bytes of SHA-256 over a kind prefix and
/// the value, so that a token and a content hash that happen to be the same text do not share
/// a lock, and any text maps to a stable key in every process.
fn lock_key(kind: &str, value: &str) -> i64 {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    let d = h.finalize();
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Takes the advisory locks of `keys`, sorted and without repeats, inside `tx`.
async fn lock_all(tx: &mut Tx, mut keys: Vec<i64>) -> StoreResult<()> {
    keys.sort_unstable();
    keys.dedup();
    // The function scan yields the array's elements in order: the locks are taken ascending.
    sqlx::query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k")
        .bind(keys)
        .execute(&mut **tx)
        .await
        .op("waiting for concurrent submissions")?;
    Ok(())
}

async fn select_by_id(tx: &mut Tx, id: i64) -> StoreResult<Option<CitizenReport>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .op("reading a report")?
    .map(|r| report_from_row(&r))
    .transpose()
}

async fn add_history(
    tx: &mut Tx,
    report_id: i64,
    at: DateTime<Utc>,
    actor: &Actor,
    action: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO report_history (report_id, at, actor, role, action, detail) \
         VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
    )
    .bind(report_id)
    .bind(at)
    .bind(&actor.id)
    .bind(actor.role.as_str())
    .bind(action)
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await
    .op("recording report history")?;
    Ok(())
}

/// Stores one report inside `tx`, or returns the one it repeats. The caller holds the advisory
/// locks of its token and content hash.
async fn insert_one(tx: &mut Tx, r: &NewReport) -> StoreResult<Created> {
    if let Some(token) = &r.client_token {
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE client_token = $1"
        )))
        .bind(token)
        .fetch_optional(&mut **tx)
        .await
        .op("reading a report")?;
        if let Some(row) = existing {
            return Ok(Created {
                report: report_from_row(&row)?,
                new: false,
            });
        }
    }
    let now = whole_seconds(r.requested_at)?;
    let since = now - chrono::Duration::seconds(DEDUPE_WINDOW_S);
    let existing = sqlx::query(AssertSqlSafe(format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE content_hash = $1 AND requested_at >= $2 \
         ORDER BY id LIMIT 1"
    )))
    .bind(&r.content_hash)
    .bind(since)
    .fetch_optional(&mut **tx)
    .await
    .op("reading a report")?;
    if let Some(row) = existing {
        return Ok(Created {
            report: report_from_row(&row)?,
            new: false,
        });
    }
    // The report, its contact (if any) and its first history entry in one statement: one
    // round trip to the server instead of three.
    let actor = Actor::new("citizen", Role::Anonymous);
    let detail = json!({
        "service_code": r.service.as_str(),
        "walkway_id": r.walkway_id,
        "lamp_id": r.lamp_id,
        "contact": !r.contact.is_empty(),
    });
    let id: i64 = sqlx::query_scalar(
        "WITH r AS (INSERT INTO reports (service_code, status, description, location, \
         original_location, walkway_id, lamp_id, address, media_url, requested_at, updated_at, \
         attributes, client_token, content_hash) \
         VALUES ($1, 'open', $2, ST_SetSRID(ST_MakePoint($3, $4), 3006), \
         ST_SetSRID(ST_MakePoint($5, $6), 3006), $7, $8, $9, $10, $11, $11, $12::jsonb, $13, $14) \
         RETURNING id), \
         c AS (INSERT INTO report_contacts (report_id, email, first_name, last_name, phone) \
         SELECT id, $15, $16, $17, $18 FROM r WHERE $19), \
         h AS (INSERT INTO report_history (report_id, at, actor, role, action, detail) \
         SELECT id, $11, $20, $21, 'created', $22::jsonb FROM r) \
         SELECT id FROM r",
    )
    .bind(r.service.as_str())
    .bind(&r.description)
    .bind(r.location.x())
    .bind(r.location.y())
    .bind(r.original_location.x())
    .bind(r.original_location.y())
    .bind(r.walkway_id)
    .bind(&r.lamp_id)
    .bind(&r.address)
    .bind(&r.media_url)
    .bind(now)
    .bind(r.attributes.to_string())
    .bind(&r.client_token)
    .bind(&r.content_hash)
    .bind(&r.contact.email)
    .bind(&r.contact.first_name)
    .bind(&r.contact.last_name)
    .bind(&r.contact.phone)
    .bind(!r.contact.is_empty())
    .bind(&actor.id)
    .bind(actor.role.as_str())
    .bind(detail.to_string())
    .fetch_one(&mut **tx)
    .await
    .op("storing a report")?;
    Ok(Created {
        report: CitizenReport {
            id,
            service: r.service,
            status: ReportStatus::Open,
            description: r.description.clone(),
            location: r.location,
            original_location: r.original_location,
            walkway_id: r.walkway_id,
            lamp_id: r.lamp_id.clone(),
            address: r.address.clone(),
            media_url: r.media_url.clone(),
            status_notes: None,
            agency_responsible: None,
            requested_at: now,
            updated_at: now,
            hidden: false,
            merged_into: None,
            attributes: r.attributes.clone(),
        },
        new: true,
    })
}

impl PgStore {
    /// A transaction holding [`REPORT_CHANGE_LOCK`].
    async fn report_change(&self) -> StoreResult<Tx> {
        let mut tx = self
            .pool
            .begin()
            .await
            .op("starting a report transaction")?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(REPORT_CHANGE_LOCK)
            .execute(&mut *tx)
            .await
            .op("waiting for concurrent report changes")?;
        Ok(tx)
    }
}

#[async_trait]
impl ReportStore for PgStore {
    async fn load_reports(&self) -> StoreResult<Vec<CitizenReport>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await
        .op("loading reports")?;
        rows.iter().map(report_from_row).collect()
    }

    async fn create_report(&self, r: &NewReport) -> StoreResult<Created> {
        let mut out = self.create_reports(std::slice::from_ref(r)).await?;
        Ok(out.pop().expect("one result per report"))
    }

    async fn create_reports(&self, batch: &[NewReport]) -> StoreResult<Vec<Created>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .op("starting a report transaction")?;
        let keys = batch
            .iter()
            .flat_map(|r| {
                let token = r
                    .client_token
                    .as_deref()
                    .map(|t| lock_key("client_token", t));
                token
                    .into_iter()
                    .chain([lock_key("content_hash", &r.content_hash)])
            })
            .collect();
        lock_all(&mut tx, keys).await?;
        let mut out = Vec::with_capacity(batch.len());
        for r in batch {
            // Dedupe lookups see the earlier reports of the batch: same transaction.
            out.push(insert_one(&mut tx, r).await?);
        }
        tx.commit().await.op("committing reports")?;
        Ok(out)
    }

    async fn get_report(&self, id: i64) -> StoreResult<Option<CitizenReport>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .op("reading a report")?
        .map(|r| report_from_row(&r))
        .transpose()
    }

    async fn get_reports(&self, ids: &[i64]) -> StoreResult<Vec<CitizenReport>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE id = ANY($1) ORDER BY id"
        )))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .op("reading reports")?;
        rows.iter().map(report_from_row).collect()
    }

    async fn list_reports(&self, f: &ReportFilter) -> StoreResult<Vec<CitizenReport>> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {REPORT_COLUMNS} FROM reports WHERE true"));
        if !f.ids.is_empty() {
            qb.push(" AND id = ANY(").push_bind(f.ids.clone()).push(")");
        } else {
            if !f.services.is_empty() {
                let codes: Vec<String> = f.services.iter().map(|s| s.as_str().into()).collect();
                qb.push(" AND service_code = ANY(")
                    .push_bind(codes)
                    .push(")");
            }
            if !f.statuses.is_empty() {
                let words: Vec<String> = f.statuses.iter().map(|s| s.as_str().into()).collect();
                qb.push(" AND status = ANY(").push_bind(words).push(")");
            }
            // Stored instants are whole seconds and so are the bounds, as in the SQLite file.
            if let Some(s) = f.start {
                qb.push(" AND requested_at >= ")
                    .push_bind(whole_seconds(s)?);
            }
            if let Some(e) = f.end {
                qb.push(" AND requested_at <= ")
                    .push_bind(whole_seconds(e)?);
            }
        }
        qb.push(" ORDER BY requested_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = qb
            .build()
            .fetch_all(&self.pool)
            .await
            .op("listing reports")?;
        rows.iter().map(report_from_row).collect()
    }

    async fn report_by_client_token(&self, token: &str) -> StoreResult<Option<CitizenReport>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE client_token = $1"
        )))
        .bind(token)
        .fetch_optional(&self.pool)
        .await
        .op("finding a report by client token")?
        .map(|r| report_from_row(&r))
        .transpose()
    }

    async fn update_report(
        &self,
        id: i64,
        change: &ReportChange,
        actor: &Actor,
    ) -> StoreResult<CitizenReport> {
        let mut tx = self.report_change().await?;
        let mut r = select_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("report {id}")))?;
        let now = whole_seconds(Utc::now())?;
        let reason = change.reason.clone();
        let mut entries: Vec<(&str, serde_json::Value)> = Vec::new();

        if let Some(target) = change.merged_into {
            if target == id {
                return Err(StoreError::Conflict(format!(
                    "report {id} cannot be merged into itself"
                )));
            }
            let t = select_by_id(&mut tx, target)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("report {target} to merge into")))?;
            if let Some(further) = t.merged_into {
                return Err(StoreError::Conflict(format!(
                    "report {target} is itself merged into {further}: merge into {further} instead"
                )));
            }
            if r.merged_into != Some(target) {
                entries.push((
                    "merged",
                    json!({"from": r.merged_into, "into": target, "reason": reason}),
                ));
                r.merged_into = Some(target);
                // Reports merged into this one follow it, so that no chain forms.
                let moved = sqlx::query(
                    "UPDATE reports SET merged_into = $1, updated_at = $2 WHERE merged_into = $3",
                )
                .bind(target)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await
                .op("moving merged reports")?
                .rows_affected();
                if moved > 0 {
                    entries.push(("merged_followers", json!({"into": target, "count": moved})));
                }
            }
        }
        // A duplicate is closed unless the change says otherwise.
        let new_status = change
            .status
            .or(change.merged_into.map(|_| ReportStatus::Closed));
        if let Some(s) = new_status.filter(|s| *s != r.status) {
            entries.push((
                "status",
                json!({"from": r.status.as_str(), "to": s.as_str(), "reason": reason}),
            ));
            r.status = s;
        }
        let default_notes = change
            .merged_into
            .filter(|_| change.status_notes.is_none())
            .map(|t| Some(format!("Dubblett av ärende {t}.")));
        if let Some(notes) = change
            .status_notes
            .clone()
            .or(default_notes)
            .filter(|n| *n != r.status_notes)
        {
            entries.push(("status_notes", json!({"from": r.status_notes, "to": notes})));
            r.status_notes = notes;
        }
        if let Some(agency) = change
            .agency_responsible
            .clone()
            .filter(|a| *a != r.agency_responsible)
        {
            entries.push((
                "agency_responsible",
                json!({"from": r.agency_responsible, "to": agency}),
            ));
            r.agency_responsible = agency;
        }
        if let Some(h) = change.hidden.filter(|h| *h != r.hidden) {
            entries.push((
                if h { "hidden" } else { "shown" },
                json!({"reason": reason}),
            ));
            r.hidden = h;
        }
        if entries.is_empty() {
            return Ok(r);
        }
        sqlx::query(
            "UPDATE reports SET status = $1, status_notes = $2, agency_responsible = $3, \
             hidden = $4, merged_into = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(r.status.as_str())
        .bind(&r.status_notes)
        .bind(&r.agency_responsible)
        .bind(r.hidden)
        .bind(r.merged_into)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .op("updating a report")?;
        for (action, detail) in entries {
            add_history(&mut tx, id, now, actor, action, detail).await?;
        }
        tx.commit().await.op("committing a report change")?;
        r.updated_at = now;
        Ok(r)
    }

    async fn status_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusChange>> {
        let rows = sqlx::query(
            "SELECT h.report_id, h.at, h.detail ->> 'to' FROM report_history h \
             JOIN reports r ON r.id = h.report_id \
             WHERE h.action = 'status' AND r.requested_at >= $1 AND r.requested_at < $2 \
             ORDER BY h.id",
        )
        .bind(whole_seconds(from)?)
        .bind(whole_seconds(to)?)
        .fetch_all(&self.pool)
        .await
        .op("reading status changes")?;
        rows.iter()
            .map(|r| {
                let to: Option<String> = r.get(2);
                let status = to
                    .as_deref()
                    .and_then(ReportStatus::parse)
                    .ok_or_else(|| StoreError::Corrupt(format!("report history status {to:?}")))?;
                Ok(StatusChange {
                    report_id: r.get(0),
                    at: r.get(1),
                    to: status,
                })
            })
            .collect()
    }

    async fn report_history(&self, id: i64) -> StoreResult<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor, role, action, detail::text FROM report_history \
             WHERE report_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .op("reading report history")?;
        rows.iter().map(history_from_row).collect()
    }

    async fn get_contact(&self, id: i64) -> StoreResult<Option<Contact>> {
        let row = sqlx::query(
            "SELECT email, first_name, last_name, phone FROM report_contacts WHERE report_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .op("reading a reporter's contact")?;
        Ok(row.map(|r| Contact {
            email: r.get(0),
            first_name: r.get(1),
            last_name: r.get(2),
            phone: r.get(3),
        }))
    }

    async fn get_contacts(
        &self,
        ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, Contact>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let rows = sqlx::query(
            "SELECT report_id, email, first_name, last_name, phone FROM report_contacts \
             WHERE report_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .op("reading reporters' contacts")?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.get::<i64, _>(0),
                    Contact {
                        email: r.get(1),
                        first_name: r.get(2),
                        last_name: r.get(3),
                        phone: r.get(4),
                    },
                )
            })
            .collect())
    }

    async fn purge_contact(&self, id: i64, actor: &Actor) -> StoreResult<bool> {
        let mut tx = self.report_change().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM reports WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .op("reading a report")?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("report {id}")));
        }
        let gone = sqlx::query("DELETE FROM report_contacts WHERE report_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .op("deleting a reporter's contact")?
            .rows_affected()
            > 0;
        if gone {
            add_history(
                &mut tx,
                id,
                whole_seconds(Utc::now())?,
                actor,
                "contact_purged",
                json!({}),
            )
            .await?;
        }
        tx.commit().await.op("committing a contact purge")?;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::store::postgres::testdb::test_store;

    fn new_report(hash: &str, token: Option<&str>, at: DateTime<Utc>) -> NewReport {
        NewReport {
            service: ServiceCode::DarkPath,
            description: "Mörkt".into(),
            location: Point::new(674_000.25, 6_593_500.5),
            original_location: Point::new(674_000.0, 6_593_512.0),
            walkway_id: Some(7),
            lamp_id: None,
            address: None,
            media_url: None,
            attributes: json!({"darkness": "dim"}),
            requested_at: at,
            client_token: token.map(str::to_string),
            content_hash: hash.into(),
            contact: Contact {
                email: Some("a@example.org".into()),
                ..Contact::default()
            },
        }
    }

    fn secs(t: DateTime<Utc>) -> DateTime<Utc> {
        whole_seconds(t).unwrap()
    }

    #[tokio::test]
    async fn same_content_dedupes_only_within_a_minute() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
        let t0 = Utc::now() - Duration::seconds(300);
        let a = s.create_report(&new_report("h", None, t0)).await.unwrap();
        assert!(a.new);
        // 59 s later: the same report.
        let b = s
            .create_report(&new_report("h", None, t0 + Duration::seconds(59)))
            .await
            .unwrap();
        assert!(!b.new);
        assert_eq!(b.report.id, a.report.id);
        // 61 s after the first: a new report.
        let c = s
            .create_report(&new_report("h", None, t0 + Duration::seconds(61)))
            .await
            .unwrap();
        assert!(c.new);
        assert_ne!(c.report.id, a.report.id);
        // A client token dedupes whatever the content and time.
        let d = s
            .create_report(&new_report("x", Some("tok"), t0))
            .await
            .unwrap();
        let e = s
            .create_report(&new_report("y", Some("tok"), t0 + Duration::hours(2)))
            .await
            .unwrap();
        assert_eq!((d.new, e.new), (true, false));
        assert_eq!(e.report.id, d.report.id);
        assert_eq!(s.load_reports().await.unwrap().len(), 3);
        // The stored report reads back as it was created, with the planted values.
        let stored = s.get_report(a.report.id).await.unwrap().unwrap();
        assert_eq!(stored, a.report);
        assert_eq!(stored.location, Point::new(674_000.25, 6_593_500.5));
        assert_eq!(stored.original_location, Point::new(674_000.0, 6_593_512.0));
        assert_eq!(stored.requested_at, secs(t0));
        assert_eq!(stored.status, ReportStatus::Open);
        assert_eq!(stored.walkway_id, Some(7));
        assert_eq!(stored.attributes, json!({"darkness": "dim"}));
        assert_eq!(
            s.report_by_client_token("tok").await.unwrap().unwrap().id,
            d.report.id
        );
        assert_eq!(s.report_by_client_token("nope").await.unwrap(), None);
        assert_eq!(
            s.get_contact(a.report.id)
                .await
                .unwrap()
                .unwrap()
                .email
                .as_deref(),
            Some("a@example.org")
        );
        let h = s.report_history(a.report.id).await.unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].action.as_str(), h[0].actor.as_str(), h[0].role),
            ("created", "citizen", Role::Anonymous)
        );
        assert_eq!(
            h[0].detail,
            json!({"service_code": "dark_path", "walkway_id": 7, "lamp_id": null, "contact": true})
        );
        assert_eq!(h[0].at, secs(t0));
    }

    #[tokio::test]
    async fn a_group_commit_is_whole_and_dedupes_within_itself() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
        let now = Utc::now();
        let mut anonymous = new_report("b", None, now);
        anonymous.contact = Contact::default();
        let batch = vec![
            new_report("a", Some("t1"), now),
            anonymous,
            new_report("a", None, now),
            new_report("c", Some("t1"), now),
        ];
        let out = s.create_reports(&batch).await.unwrap();
        let news: Vec<bool> = out.iter().map(|c| c.new).collect();
        assert_eq!(news, [true, true, false, false]);
        assert_eq!(out[2].report.id, out[0].report.id);
        assert_eq!(out[3].report.id, out[0].report.id);
        assert!(out[1].report.id > out[0].report.id);
        assert_eq!(s.get_contact(out[1].report.id).await.unwrap(), None);
        let contacts = s
            .get_contacts(&[out[0].report.id, out[1].report.id, 9999])
            .await
            .unwrap();
        assert_eq!(contacts.len(), 1);
        assert_eq!(
            contacts[&out[0].report.id].email.as_deref(),
            Some("a@example.org")
        );
        // A report the database refuses (PostgreSQL text holds no NUL) takes the whole batch
        // with it.
        let mut bad = new_report("e", None, now);
        bad.description = "Mörkt\0".into();
        let batch = vec![new_report("d", None, now), bad];
        assert!(matches!(
            s.create_reports(&batch).await,
            Err(StoreError::Db { .. })
        ));
        assert_eq!(s.load_reports().await.unwrap().len(), 2);
        assert!(s.create_reports(&[]).await.unwrap().is_empty());
    }

    /// Two server processes (two stores, two pools) that receive the same submission at the same
    /// instant store it once, and both answer with its id.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn simultaneous_submissions_from_two_processes_store_one_report() {
        let Some((s1, db)) = test_store().await else {
            return;
        };
        let s2 = std::sync::Arc::new(db.open_again().await);
        let s1 = std::sync::Arc::new(s1);
        let now = Utc::now();
        for round in 0..20 {
            // Same client token, different content (a retry after an edit).
            let token = format!("tok-{round}");
            let a = new_report(&format!("ha-{round}"), Some(&token), now);
            let b = new_report(&format!("hb-{round}"), Some(&token), now);
            // Same content, no token (a double click).
            let c = new_report(&format!("hc-{round}"), None, now);
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(4));
            let go = |s: std::sync::Arc<PgStore>, r: NewReport| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    s.create_report(&r).await.unwrap()
                })
            };
            let ta = go(s1.clone(), a);
            let tb = go(s2.clone(), b);
            let tc1 = go(s1.clone(), c.clone());
            let tc2 = go(s2.clone(), c);
            let (ra, rb, rc1, rc2) = (
                ta.await.unwrap(),
                tb.await.unwrap(),
                tc1.await.unwrap(),
                tc2.await.unwrap(),
            );
            assert_eq!(ra.report.id, rb.report.id, "round {round}");
            assert_eq!(u8::from(ra.new) + u8::from(rb.new), 1, "round {round}");
            assert_eq!(rc1.report.id, rc2.report.id, "round {round}");
            assert_eq!(u8::from(rc1.new) + u8::from(rc2.new), 1, "round {round}");
        }
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM reports")
            .fetch_one(s2.pool())
            .await
            .unwrap();
        assert_eq!(n, 40);
        let created: i64 =
            sqlx::query_scalar("SELECT count(*) FROM report_history WHERE action = 'created'")
                .fetch_one(s1.pool())
                .await
                .unwrap();
        assert_eq!(created, 40);
    }

    #[tokio::test]
    async fn reports_are_postgis_points_and_contacts_live_apart() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
        let r = s
            .create_report(&new_report("g", None, Utc::now()))
            .await
            .unwrap()
            .report;
        let (srid, text, original): (i32, String, String) = sqlx::query_as(
            "SELECT ST_SRID(location), ST_AsText(location), ST_AsText(original_location) \
             FROM reports WHERE id = $1",
        )
        .bind(r.id)
        .fetch_one(s.pool())
        .await
        .unwrap();
        assert_eq!(srid, 3006);
        assert_eq!(text, "POINT(674000.25 6593500.5)");
        assert_eq!(original, "POINT(674000 6593512)");
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'reports'",
        )
        .fetch_all(s.pool())
        .await
        .unwrap();
        assert!(columns.contains(&"location".to_string()), "{columns:?}");
        for private in ["email", "first_name", "last_name", "phone", "contact"] {
            assert!(
                !columns.iter().any(|c| c.contains(private)),
                "{private} in {columns:?}"
            );
        }
        let email: String =
            sqlx::query_scalar("SELECT email FROM report_contacts WHERE report_id = $1")
                .bind(r.id)
                .fetch_one(s.pool())
                .await
                .unwrap();
        assert_eq!(email, "a@example.org");
        // The geometry columns carry their SRID in the type and have a GiST index each.
        let indexed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'reports' \
             AND indexdef LIKE '%USING gist%'",
        )
        .fetch_one(s.pool())
        .await
        .unwrap();
        assert_eq!(indexed, 2);
        assert!(
            sqlx::query(
                "INSERT INTO reports (service_code, status, description, location, \
                 original_location, requested_at, updated_at, content_hash) VALUES ('other', \
                 'open', 'x', ST_SetSRID(ST_MakePoint(1, 2), 4326), \
                 ST_SetSRID(ST_MakePoint(1, 2), 3006), now(), now(), 'z')"
            )
            .execute(s.pool())
            .await
            .is_err()
        );
    }

    #[tokio::test]
    async fn changes_are_atomic_and_recorded() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
        let now = Utc::now();
        let a = s
            .create_report(&new_report("a", None, now))
            .await
            .unwrap()
            .report;
        let b = s
            .create_report(&new_report("b", None, now))
            .await
            .unwrap()
            .report;
        let c = s
            .create_report(&new_report("c", None, now))
            .await
            .unwrap()
            .report;
        let who = Actor::new("token:abc", Role::Coordinator);
        // c merged into b, then b into a: c follows to a, no chain.
        let merge = |into| ReportChange {
            merged_into: Some(into),
            ..ReportChange::default()
        };
        let c2 = s.update_report(c.id, &merge(b.id), &who).await.unwrap();
        assert_eq!(
            c2.status_notes,
            Some(format!("Dubblett av ärende {}.", b.id))
        );
        let b2 = s.update_report(b.id, &merge(a.id), &who).await.unwrap();
        assert_eq!(b2.merged_into, Some(a.id));
        assert_eq!(b2.status, ReportStatus::Closed);
        assert_eq!(s.get_report(b.id).await.unwrap().unwrap(), b2);
        assert_eq!(
            s.get_report(c.id).await.unwrap().unwrap().merged_into,
            Some(a.id)
        );
        let hb: Vec<(String, serde_json::Value)> = s
            .report_history(b.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.detail))
            .collect();
        assert_eq!(
            hb[1..],
            [
                (
                    "merged".to_string(),
                    json!({"from": null, "into": a.id, "reason": null})
                ),
                (
                    "merged_followers".to_string(),
                    json!({"into": a.id, "count": 1})
                ),
                (
                    "status".to_string(),
                    json!({"from": "open", "to": "closed", "reason": null})
                ),
                (
                    "status_notes".to_string(),
                    json!({"from": null, "to": format!("Dubblett av ärende {}.", a.id)})
                ),
            ]
        );
        assert!(matches!(
            s.update_report(a.id, &merge(a.id), &who).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.update_report(a.id, &merge(b.id), &who).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.update_report(a.id, &merge(9999), &who).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.update_report(9999, &merge(a.id), &who).await,
            Err(StoreError::NotFound(_))
        ));
        // A change that changes nothing records nothing.
        let before = s.report_history(a.id).await.unwrap().len();
        s.update_report(
            a.id,
            &ReportChange {
                status: Some(ReportStatus::Open),
                ..ReportChange::default()
            },
            &who,
        )
        .await
        .unwrap();
        assert_eq!(s.report_history(a.id).await.unwrap().len(), before);
        // Hide, show, agency, notes: one entry each, with who did it.
        let hide = ReportChange {
            hidden: Some(true),
            agency_responsible: Some(Some("kommunen".into())),
            status: Some(ReportStatus::Acknowledged),
            reason: Some("kränkande text".into()),
            ..ReportChange::default()
        };
        let a2 = s.update_report(a.id, &hide, &who).await.unwrap();
        assert!(a2.hidden);
        assert_eq!(a2.agency_responsible.as_deref(), Some("kommunen"));
        assert_eq!(s.get_report(a.id).await.unwrap().unwrap(), a2);
        let show = ReportChange {
            hidden: Some(false),
            ..ReportChange::default()
        };
        assert!(!s.update_report(a.id, &show, &who).await.unwrap().hidden);
        let h = s.report_history(a.id).await.unwrap();
        let actions: Vec<&str> = h.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["created", "status", "agency_responsible", "hidden", "shown"]
        );
        assert_eq!(h[3].detail, json!({"reason": "kränkande text"}));
        assert_eq!(
            (h[4].actor.as_str(), h[4].role),
            ("token:abc", Role::Coordinator)
        );
        // An agency the schema does not know is refused, and nothing of the change is kept.
        let wrong = ReportChange {
            agency_responsible: Some(Some("grannen".into())),
            status: Some(ReportStatus::Closed),
            ..ReportChange::default()
        };
        assert!(s.update_report(a.id, &wrong, &who).await.is_err());
        assert_eq!(
            s.get_report(a.id).await.unwrap().unwrap().status,
            ReportStatus::Acknowledged
        );
        assert_eq!(s.report_history(a.id).await.unwrap().len(), 5);
        // The status changes of the reports requested in the period, oldest first.
        let changes = s
            .status_changes(now - Duration::hours(1), now + Duration::hours(1))
            .await
            .unwrap();
        let seen: Vec<(i64, ReportStatus)> = changes.iter().map(|c| (c.report_id, c.to)).collect();
        assert_eq!(
            seen,
            [
                (c.id, ReportStatus::Closed),
                (b.id, ReportStatus::Closed),
                (a.id, ReportStatus::Acknowledged)
            ]
        );
        assert!(
            s.status_changes(now + Duration::hours(1), now + Duration::hours(2))
                .await
                .unwrap()
                .is_empty()
        );
        // Purge: once, recorded.
        assert!(s.purge_contact(a.id, &who).await.unwrap());
        assert!(!s.purge_contact(a.id, &who).await.unwrap());
        assert_eq!(s.get_contact(a.id).await.unwrap(), None);
        let h = s.report_history(a.id).await.unwrap();
        assert_eq!(h.last().unwrap().action, "contact_purged");
        assert_eq!(h.last().unwrap().actor, "token:abc");
        assert_eq!(h.len(), 6);
        assert!(matches!(
            s.purge_contact(9999, &who).await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn lists_filter_and_come_newest_first() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
        let t0 = Utc::now() - Duration::days(10);
        let mut ids = Vec::new();
        for (k, service) in [
            ServiceCode::DarkPath,
            ServiceCode::BrokenLamp,
            ServiceCode::DarkPath,
            ServiceCode::Other,
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = new_report(&format!("l{k}"), None, t0 + Duration::days(k as i64));
            r.service = service;
            ids.push(s.create_report(&r).await.unwrap().report.id);
        }
        let who = Actor::new("cli", Role::Admin);
        s.update_report(
            ids[2],
            &ReportChange {
                status: Some(ReportStatus::Closed),
                ..ReportChange::default()
            },
            &who,
        )
        .await
        .unwrap();
        let list = |f: ReportFilter| {
            let s = &s;
            async move {
                s.list_reports(&f)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.id)
                    .collect::<Vec<i64>>()
            }
        };
        let all = ReportFilter {
            limit: 100,
            ..ReportFilter::default()
        };
        assert_eq!(list(all.clone()).await, [ids[3], ids[2], ids[1], ids[0]]);
        assert_eq!(
            list(ReportFilter {
                limit: 2,
                ..all.clone()
            })
            .await,
            [ids[3], ids[2]]
        );
        assert_eq!(
            list(ReportFilter {
                services: vec![ServiceCode::DarkPath],
                ..all.clone()
            })
            .await,
            [ids[2], ids[0]]
        );
        assert_eq!(
            list(ReportFilter {
                statuses: vec![ReportStatus::Open],
                services: vec![ServiceCode::DarkPath],
                ..all.clone()
            })
            .await,
            [ids[0]]
        );
        // Inclusive bounds.
        assert_eq!(
            list(ReportFilter {
                start: Some(t0 + Duration::days(1)),
                end: Some(t0 + Duration::days(2)),
                ..all.clone()
            })
            .await,
            [ids[2], ids[1]]
        );
        // Ids override every other filter.
        assert_eq!(
            list(ReportFilter {
                ids: vec![ids[0], ids[3]],
                statuses: vec![ReportStatus::Closed],
                ..all.clone()
            })
            .await,
            [ids[3], ids[0]]
        );
    }
}
