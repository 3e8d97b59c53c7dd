//! The åtgärdsplan in SQLite: one row per measure (its spec as JSON), one per history entry.

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row, Sqlite};

use super::reports::history_from_row;
use super::{Op, SqliteStore, utc_from_secs};
use crate::model::{Actor, Lamp};
use crate::store::measures::{
    MEASURE_LAMP_SOURCE, Measure, MeasureSpec, MeasureStore, field_changes, word,
};
use crate::store::reports::HistoryEntry;
use crate::store::{StoreError, StoreResult};

type Tx = sqlx::Transaction<'static, Sqlite>;

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

/// Brings the lamp layer in line with measure `id` (see [`MeasureStore`]): its lamps replace
/// those it had when they differ, and its repaired lamps are set working. Counts the data
/// version when a lamp changed.
async fn apply_lamps(tx: &mut Tx, id: i64, spec: &MeasureSpec) -> StoreResult<()> {
    let want = spec.lamps(id);
    let reference = id.to_string();
    let rows = sqlx::query(
        "SELECT id, x, y, height_m, lumen FROM lamps WHERE source = ? AND reference = ? ORDER BY id",
    )
    .bind(MEASURE_LAMP_SOURCE)
    .bind(&reference)
    .fetch_all(&mut **tx)
    .await
    .op("reading a measure's lamps")?;
    type Row = (String, f64, f64, Option<f64>, Option<f64>);
    let have: Vec<Row> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let mut wanted: Vec<Row> = want
        .iter()
        .map(|l: &Lamp| {
            (
                l.id.clone(),
                l.location.x(),
                l.location.y(),
                l.height_m,
                l.lumen,
            )
        })
        .collect();
    wanted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut changed = false;
    if have != wanted {
        sqlx::query("DELETE FROM lamps WHERE source = ? AND reference = ?")
            .bind(MEASURE_LAMP_SOURCE)
            .bind(&reference)
            .execute(&mut **tx)
            .await
            .op("removing a measure's lamps")?;
        for l in &want {
            sqlx::query(
                "INSERT INTO lamps (id, x, y, height_m, lumen, watt, status, source, reference) \
                 VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET x = excluded.x, y = excluded.y, \
                 height_m = excluded.height_m, lumen = excluded.lumen, watt = NULL, \
                 status = excluded.status, source = excluded.source, \
                 reference = excluded.reference, version = lamps.version + 1",
            )
            .bind(&l.id)
            .bind(l.location.x())
            .bind(l.location.y())
            .bind(l.height_m)
            .bind(l.lumen)
            .bind(l.status.as_str())
            .bind(&l.source)
            .bind(&l.reference)
            .execute(&mut **tx)
            .await
            .op("putting up a measure's lamps")?;
        }
        changed = true;
    }
    for lamp in spec.repaired_lamps() {
        let n = sqlx::query(
            "UPDATE lamps SET status = 'working', version = version + 1 \
             WHERE id = ? AND status = 'broken'",
        )
        .bind(lamp)
        .execute(&mut **tx)
        .await
        .op("switching a repaired lamp on")?
        .rows_affected();
        changed |= n > 0;
    }
    if changed {
        SqliteStore::bump_version(tx).await?;
    }
    Ok(())
}

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
        apply_lamps(&mut tx, id, spec).await?;
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
        apply_lamps(&mut tx, id, spec).await?;
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
            lamp: None,
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

    #[tokio::test]
    async fn done_lamp_measures_change_the_lamp_layer_in_their_transaction() {
        use crate::model::{Lamp, LampStatus};
        use crate::store::DataStore;
        use crate::store::measures::LampType;
        use geo::Point;

        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("l.sqlite").to_str().unwrap())
            .await
            .unwrap();
        let who = Actor::new("token:abc", Role::Coordinator);
        let broken = Lamp {
            id: "reg:7".into(),
            location: Point::new(674_000.0, 6_593_000.0),
            height_m: Some(5.0),
            lumen: Some(3_000.0),
            watt: None,
            status: LampStatus::Broken,
            source: "reg".into(),
            reference: Some("7".into()),
        };
        s.upsert_lamps(std::slice::from_ref(&broken)).await.unwrap();
        let v0 = s.data_version().await.unwrap();
        let mut spec = MeasureSpec {
            title: "Två nya lampor".into(),
            kind: MeasureKind::NewLamp,
            status: MeasureStatus::Planned,
            agency: None,
            place: MeasurePlace {
                points: vec![[674_010.0, 6_593_000.0], [674_040.0, 6_593_000.0]],
                ..MeasurePlace::default()
            },
            planned_date: None,
            done_date: None,
            cost_sek: None,
            notes: None,
            lamp: Some(LampType {
                height_m: 4.0,
                lumen: 2_000.0,
            }),
        };
        // Planned: no lamp, no new version.
        let m = s.create_measure(&spec, &who).await.unwrap();
        assert_eq!(s.load_lamps().await.unwrap().len(), 1);
        assert_eq!(s.data_version().await.unwrap(), v0);
        spec.status = MeasureStatus::Done;
        spec.done_date = NaiveDate::from_ymd_opt(2026, 5, 3);
        s.update_measure(m.id, &spec, &who).await.unwrap();
        let lamps = s.load_lamps().await.unwrap();
        let mine: Vec<&Lamp> = lamps.iter().filter(|l| l.source == "measure").collect();
        let ids: Vec<String> = mine.iter().map(|l| l.id.clone()).collect();
        assert_eq!(
            ids,
            [format!("measure:{}:1", m.id), format!("measure:{}:2", m.id)]
        );
        assert_eq!(mine[1].location, Point::new(674_040.0, 6_593_000.0));
        assert_eq!(
            (mine[0].height_m, mine[0].lumen),
            (Some(4.0), Some(2_000.0))
        );
        let v1 = s.data_version().await.unwrap();
        assert!(v1 > v0);
        // A change of the notes leaves the lamps and the version alone.
        spec.notes = Some("klart".into());
        s.update_measure(m.id, &spec, &who).await.unwrap();
        assert_eq!(s.data_version().await.unwrap(), v1);
        // One point fewer: one lamp fewer.
        spec.place.points.pop();
        s.update_measure(m.id, &spec, &who).await.unwrap();
        assert_eq!(s.load_lamps().await.unwrap().len(), 2);
        // Cancelled: its lamps are gone.
        spec.status = MeasureStatus::Cancelled;
        s.update_measure(m.id, &spec, &who).await.unwrap();
        assert_eq!(s.load_lamps().await.unwrap(), vec![broken.clone()]);

        // A done repair sets the broken register lamp working.
        let repair = MeasureSpec {
            title: "Laga lampan".into(),
            kind: MeasureKind::LampRepair,
            status: MeasureStatus::Done,
            done_date: NaiveDate::from_ymd_opt(2026, 5, 4),
            lamp: None,
            place: MeasurePlace {
                lamp_ids: vec!["reg:7".into(), "reg:404".into()],
                ..MeasurePlace::default()
            },
            ..spec.clone()
        };
        s.create_measure(&repair, &who).await.unwrap();
        let after = s.load_lamps().await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].status, LampStatus::Working);
    }
}
