//! The åtgärdsplan in SQLite: one row per measure (its spec as JSON), one per history entry.

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row, Sqlite};

use super::reports::history_from_row;
use super::{Op, SqliteStore, utc_from_secs};
use crate::model::Actor;
use crate::store::measures::{Measure, MeasureSpec, MeasureStore, field_changes};
use crate::store::reports::HistoryEntry;
use crate::store::{StoreError, StoreResult};

type Tx = sqlx::Transaction<'static, Sqlite>;

fn word<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn measure_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<Measure> {
    let id: i64 = r.get(0);
    let spec: String = r.get(1);
    Ok(Measure {
        id,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Corrupt(format!("measure {id}: {e}")))?,
        created_at: utc_from_secs(r.get(2))?,
        updated_at: utc_from_secs(r.get(3))?,
    })
}

async fn record(
    tx: &mut Tx,
    id: i64,
    at: i64,
    actor: &Actor,
    action: &str,
    detail: &serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO measure_history (measure_id, at_utc, actor, role, action, detail) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(at)
    .bind(&actor.id)
    .bind(actor.role.as_str())
    .bind(action)
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await
    .op("recording measure history")?;
    Ok(())
}

const COLUMNS: &str = "id, spec, created_utc, updated_utc";

#[async_trait]
impl MeasureStore for SqliteStore {
    async fn create_measure(&self, spec: &MeasureSpec, actor: &Actor) -> StoreResult<Measure> {
        let now = Utc::now().timestamp();
        let text = serde_json::to_string(spec).expect("a spec serialises");
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .op("starting a measure transaction")?;
        let id: i64 = sqlx::query(
            "INSERT INTO measures (kind, status, spec, created_utc, updated_utc) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(word(spec.kind))
        .bind(word(spec.status))
        .bind(&text)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .op("storing a measure")?
        .get(0);
        record(
            &mut tx,
            id,
            now,
            actor,
            "created",
            &json!({"title": spec.title}),
        )
        .await?;
        tx.commit().await.op("committing a measure")?;
        Ok(Measure {
            id,
            spec: spec.clone(),
            created_at: utc_from_secs(now)?,
            updated_at: utc_from_secs(now)?,
        })
    }

    async fn get_measure(&self, id: i64) -> StoreResult<Option<Measure>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM measures WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .op("reading a measure")?;
        row.as_ref().map(measure_from_row).transpose()
    }

    async fn list_measures(&self) -> StoreResult<Vec<Measure>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM measures ORDER BY id DESC"
        )))
        .fetch_all(&self.pool)
        .await
        .op("listing measures")?;
        rows.iter().map(measure_from_row).collect()
    }

    async fn update_measure(
        &self,
        id: i64,
        spec: &MeasureSpec,
        actor: &Actor,
    ) -> StoreResult<Measure> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .op("starting a measure transaction")?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM measures WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .op("reading a measure")?
        .ok_or_else(|| StoreError::NotFound(format!("measure {id}")))?;
        let mut m = measure_from_row(&row)?;
        let changes = field_changes(&m.spec, spec);
        if changes.is_empty() {
            return Ok(m);
        }
        let now = Utc::now().timestamp();
        sqlx::query(
            "UPDATE measures SET kind = ?, status = ?, spec = ?, updated_utc = ? WHERE id = ?",
        )
        .bind(word(spec.kind))
        .bind(word(spec.status))
        .bind(serde_json::to_string(spec).expect("a spec serialises"))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .op("changing a measure")?;
        for (field, detail) in &changes {
            record(&mut tx, id, now, actor, field, detail).await?;
        }
        tx.commit().await.op("committing a measure change")?;
        m.spec = spec.clone();
        m.updated_at = utc_from_secs(now)?;
        Ok(m)
    }

    async fn measure_history(&self, id: i64) -> StoreResult<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT at_utc, actor, role, action, detail FROM measure_history WHERE measure_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .op("reading measure history")?;
        rows.iter().map(history_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::model::Role;
    use crate::store::measures::{MeasureKind, MeasurePlace, MeasureStatus};

    #[tokio::test]
    async fn a_measure_lives_with_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("m.sqlite").to_str().unwrap())
            .await
            .unwrap();
        let who = Actor::new("token:abc", Role::Coordinator);
        let spec = MeasureSpec {
            title: "Röj buskage vid gångtunneln".into(),
            kind: MeasureKind::VegetationClearing,
            status: MeasureStatus::Planned,
            agency: Some("kommunen".into()),
            place: MeasurePlace {
                points: vec![[673_900.0, 6_592_300.0]],
                ..MeasurePlace::default()
            },
            planned_date: NaiveDate::from_ymd_opt(2026, 5, 1),
            done_date: None,
            cost_sek: Some(8_000.0),
            notes: None,
        };
        let m = s.create_measure(&spec, &who).await.unwrap();
        assert_eq!(s.get_measure(m.id).await.unwrap().unwrap().spec, spec);
        let mut done = spec.clone();
        done.status = MeasureStatus::Done;
        done.done_date = NaiveDate::from_ymd_opt(2026, 5, 3);
        let m2 = s.update_measure(m.id, &done, &who).await.unwrap();
        assert_eq!(m2.spec.status, MeasureStatus::Done);
        // The same spec again changes nothing and records nothing.
        s.update_measure(m.id, &done, &who).await.unwrap();
        let h = s.measure_history(m.id).await.unwrap();
        let actions: Vec<&str> = h.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["created", "done_date", "status"]);
        assert_eq!(h[2].actor, "token:abc");
        assert_eq!(h[2].detail["to"], "done");
        // The columns follow the spec.
        let status: String = sqlx::query_scalar("SELECT status FROM measures WHERE id = ?")
            .bind(m.id)
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(status, "done");
        assert!(matches!(
            s.update_measure(999, &done, &who).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(s.list_measures().await.unwrap().len(), 1);
    }
}
