//! Citizen reports in SQLite.
//!
//! Writes start with `BEGIN IMMEDIATE`: the transaction holds the write lock from its first
//! statement, so the dedupe lookup and the insert that follows cannot interleave with another
//! submission, and a deferred read-then-write transaction can never fail with `SQLITE_BUSY`
//! on upgrading its lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use geo::Point;
use serde_json::json;
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite};

use super::{Op, SqliteStore, utc_from_secs};
use crate::model::{Actor, CitizenReport, Contact, ReportChange, ReportStatus, Role, ServiceCode};
use crate::store::reports::{
    Created, DEDUPE_WINDOW_S, HistoryEntry, NewReport, ReportFilter, ReportStore, StatusChange,
};
use crate::store::{StoreError, StoreResult};

pub(super) const REPORT_COLUMNS: &str = "id, service_code, status, description, x, y, original_x, original_y, walkway_id, lamp_id, address, media_url, status_notes, agency_responsible, requested_utc, updated_utc, hidden, merged_into, attributes";

pub(super) fn report_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<CitizenReport> {
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
        requested_at: utc_from_secs(r.get(14))?,
        updated_at: utc_from_secs(r.get(15))?,
        hidden: r.get(16),
        merged_into: r.get(17),
        attributes: serde_json::from_str(&attrs)
            .map_err(|e| StoreError::Corrupt(format!("report attributes: {e}")))?,
    })
}

/// One history row: `at_utc, actor, role, action, detail` (reports and measures alike).
pub(super) fn history_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<HistoryEntry> {
    let role: String = r.get(2);
    let detail: String = r.get(4);
    Ok(HistoryEntry {
        at: utc_from_secs(r.get(0))?,
        actor: r.get(1),
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("history role {role:?}")))?,
        action: r.get(3),
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("history detail: {e}")))?,
    })
}

type Tx = sqlx::Transaction<'static, Sqlite>;

async fn select_one(
    tx: &mut Tx,
    where_clause: &str,
    bind: BindValue<'_>,
) -> StoreResult<Option<CitizenReport>> {
    let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE {where_clause}");
    let q = sqlx::query(AssertSqlSafe(sql));
    let q = match bind {
        BindValue::Id(id) => q.bind(id),
        BindValue::Text(t) => q.bind(t.to_string()),
        BindValue::TextAndTime(t, s) => q.bind(t.to_string()).bind(s),
    };
    q.fetch_optional(&mut **tx)
        .await
        .op("reading a report")?
        .map(|r| report_from_row(&r))
        .transpose()
}

enum BindValue<'a> {
    Id(i64),
    Text(&'a str),
    TextAndTime(&'a str, i64),
}

async fn add_history(
    tx: &mut Tx,
    report_id: i64,
    at: i64,
    actor: &Actor,
    action: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO report_history (report_id, at_utc, actor, role, action, detail) VALUES (?, ?, ?, ?, ?, ?)",
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

/// Stores one report inside `tx`, or returns the one it repeats.
async fn insert_one(tx: &mut Tx, r: &NewReport) -> StoreResult<Created> {
    if let Some(token) = &r.client_token {
        if let Some(existing) = select_one(tx, "client_token = ?", BindValue::Text(token)).await? {
            return Ok(Created {
                report: existing,
                new: false,
            });
        }
    }
    let now = r.requested_at.timestamp();
    if let Some(existing) = select_one(
        tx,
        "content_hash = ? AND requested_utc >= ? ORDER BY id LIMIT 1",
        BindValue::TextAndTime(&r.content_hash, now - DEDUPE_WINDOW_S),
    )
    .await?
    {
        return Ok(Created {
            report: existing,
            new: false,
        });
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO reports (service_code, status, description, x, y, original_x, original_y, walkway_id, lamp_id, address, media_url, requested_utc, updated_utc, attributes, client_token, content_hash) \
         VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
    .bind(now)
    .bind(r.attributes.to_string())
    .bind(&r.client_token)
    .bind(&r.content_hash)
    .fetch_one(&mut **tx)
    .await
    .op("storing a report")?;
    if !r.contact.is_empty() {
        sqlx::query(
            "INSERT INTO report_contacts (report_id, email, first_name, last_name, phone) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&r.contact.email)
        .bind(&r.contact.first_name)
        .bind(&r.contact.last_name)
        .bind(&r.contact.phone)
        .execute(&mut **tx)
        .await
        .op("storing a reporter's contact")?;
    }
    add_history(
        tx,
        id,
        now,
        &Actor::new("citizen", Role::Anonymous),
        "created",
        json!({
            "service_code": r.service.as_str(),
            "walkway_id": r.walkway_id,
            "lamp_id": r.lamp_id,
            "contact": !r.contact.is_empty(),
        }),
    )
    .await?;
    let at = utc_from_secs(now)?;
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
            requested_at: at,
            updated_at: at,
            hidden: false,
            merged_into: None,
            attributes: r.attributes.clone(),
        },
        new: true,
    })
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn load_reports(&self) -> StoreResult<Vec<CitizenReport>> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql))
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
        let _writer = self.report_writer.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .op("starting a report transaction")?;
        let mut out = Vec::with_capacity(batch.len());
        for r in batch {
            // Dedupe lookups see the earlier reports of the batch: same transaction.
            out.push(insert_one(&mut tx, r).await?);
        }
        tx.commit().await.op("committing reports")?;
        Ok(out)
    }

    async fn get_report(&self, id: i64) -> StoreResult<Option<CitizenReport>> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = ?");
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .op("reading a report")?
            .map(|r| report_from_row(&r))
            .transpose()
    }

    async fn list_reports(&self, f: &ReportFilter) -> StoreResult<Vec<CitizenReport>> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {REPORT_COLUMNS} FROM reports WHERE 1 = 1"));
        if !f.ids.is_empty() {
            qb.push(" AND id IN (");
            let mut sep = qb.separated(", ");
            for id in &f.ids {
                sep.push_bind(*id);
            }
            qb.push(")");
        } else {
            if !f.services.is_empty() {
                qb.push(" AND service_code IN (");
                let mut sep = qb.separated(", ");
                for s in &f.services {
                    sep.push_bind(s.as_str());
                }
                qb.push(")");
            }
            if !f.statuses.is_empty() {
                qb.push(" AND status IN (");
                let mut sep = qb.separated(", ");
                for s in &f.statuses {
                    sep.push_bind(s.as_str());
                }
                qb.push(")");
            }
            if let Some(s) = f.start {
                qb.push(" AND requested_utc >= ").push_bind(s.timestamp());
            }
            if let Some(e) = f.end {
                qb.push(" AND requested_utc <= ").push_bind(e.timestamp());
            }
        }
        qb.push(" ORDER BY requested_utc DESC, id DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = qb
            .build()
            .fetch_all(&self.pool)
            .await
            .op("listing reports")?;
        rows.iter().map(report_from_row).collect()
    }

    async fn report_by_client_token(&self, token: &str) -> StoreResult<Option<CitizenReport>> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE client_token = ?");
        sqlx::query(AssertSqlSafe(sql))
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
        let _writer = self.report_writer.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .op("starting a report transaction")?;
        let mut r = select_one(&mut tx, "id = ?", BindValue::Id(id))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("report {id}")))?;
        let now = Utc::now().timestamp();
        let reason = change.reason.clone();
        let mut entries: Vec<(&str, serde_json::Value)> = Vec::new();

        if let Some(target) = change.merged_into {
            if target == id {
                return Err(StoreError::Conflict(format!(
                    "report {id} cannot be merged into itself"
                )));
            }
            let t = select_one(&mut tx, "id = ?", BindValue::Id(target))
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
                    "UPDATE reports SET merged_into = ?, updated_utc = ? WHERE merged_into = ?",
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
            "UPDATE reports SET status = ?, status_notes = ?, agency_responsible = ?, hidden = ?, merged_into = ?, updated_utc = ? WHERE id = ?",
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
        r.updated_at = utc_from_secs(now)?;
        Ok(r)
    }

    async fn status_changes(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<StatusChange>> {
        let rows = sqlx::query(
            "SELECT h.report_id, h.at_utc, json_extract(h.detail, '$.to') FROM report_history h \
             JOIN reports r ON r.id = h.report_id \
             WHERE h.action = 'status' AND r.requested_utc >= ? AND r.requested_utc < ? \
             ORDER BY h.id",
        )
        .bind(from.timestamp())
        .bind(to.timestamp())
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
                    at: utc_from_secs(r.get(1))?,
                    to: status,
                })
            })
            .collect()
    }

    async fn report_history(&self, id: i64) -> StoreResult<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT at_utc, actor, role, action, detail FROM report_history WHERE report_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .op("reading report history")?;
        rows.iter().map(history_from_row).collect()
    }

    async fn get_contact(&self, id: i64) -> StoreResult<Option<Contact>> {
        let row = sqlx::query(
            "SELECT email, first_name, last_name, phone FROM report_contacts WHERE report_id = ?",
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
        // The ids travel as one JSON array parameter, so the statement is the same for any
        // number of them.
        let list = serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rows = sqlx::query(
            "SELECT report_id, email, first_name, last_name, phone FROM report_contacts \
             WHERE report_id IN (SELECT value FROM json_each(?))",
        )
        .bind(list)
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
        let _writer = self.report_writer.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .op("starting a report transaction")?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM reports WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .op("reading a report")?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("report {id}")));
        }
        let gone = sqlx::query("DELETE FROM report_contacts WHERE report_id = ?")
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
                Utc::now().timestamp(),
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

    fn new_report(hash: &str, token: Option<&str>, at: chrono::DateTime<Utc>) -> NewReport {
        NewReport {
            service: ServiceCode::DarkPath,
            description: "Mörkt".into(),
            location: Point::new(674_000.0, 6_593_500.0),
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

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sqlite").display().to_string();
        let s = SqliteStore::open(&path).await.unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn same_content_dedupes_only_within_a_minute() {
        let (_d, s) = store().await;
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
        // The stored report reads back as it was created.
        assert_eq!(s.get_report(a.report.id).await.unwrap().unwrap(), a.report);
        assert_eq!(
            s.get_contact(a.report.id)
                .await
                .unwrap()
                .unwrap()
                .email
                .as_deref(),
            Some("a@example.org")
        );
    }

    #[tokio::test]
    async fn changes_are_atomic_and_recorded() {
        let (_d, s) = store().await;
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
        s.update_report(c.id, &merge(b.id), &who).await.unwrap();
        let b2 = s.update_report(b.id, &merge(a.id), &who).await.unwrap();
        assert_eq!(b2.merged_into, Some(a.id));
        assert_eq!(b2.status, ReportStatus::Closed);
        assert_eq!(
            s.get_report(c.id).await.unwrap().unwrap().merged_into,
            Some(a.id)
        );
        assert!(matches!(
            s.update_report(a.id, &merge(a.id), &who).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.update_report(a.id, &merge(9999), &who).await,
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
        // Purge: once, recorded.
        assert!(s.purge_contact(a.id, &who).await.unwrap());
        assert!(!s.purge_contact(a.id, &who).await.unwrap());
        assert_eq!(s.get_contact(a.id).await.unwrap(), None);
        let h = s.report_history(a.id).await.unwrap();
        assert_eq!(h.last().unwrap().action, "contact_purged");
        assert_eq!(h.last().unwrap().actor, "token:abc");
        assert!(matches!(
            s.purge_contact(9999, &who).await,
            Err(StoreError::NotFound(_))
        ));
    }
}
