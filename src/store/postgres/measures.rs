//! The åtgärdsplan in PostgreSQL (`migrations/postgres/0003_measures.sql`): one row per measure
//! (its spec as `jsonb`, its points as a PostGIS MultiPoint), one per history entry.
//!
//! A change of a measure locks its row first (`FOR UPDATE`), so that two processes changing the
//! same measure apply their changes one after the other and each records the fields it really
//! changed; the lamps the measure puts up change in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, Row};

use super::reports::{history_from_row, whole_seconds};
use super::{Op, PgStore};
use crate::model::{Actor, Lamp};
use crate::store::measures::{
    MEASURE_LAMP_SOURCE, Measure, MeasureSpec, MeasureStore, field_changes, word,
};
use crate::store::reports::HistoryEntry;
use crate::store::{StoreError, StoreResult};

type Tx = sqlx::Transaction<'static, Postgres>;

const COLUMNS: &str = "id, spec::text, created_at, updated_at";

/// The MultiPoint of the measure's points from the arrays `$x` and `$y` (NULL without points).
fn points_sql(x: u8, y: u8) -> String {
    format!(
        "(SELECT ST_Multi(ST_SetSRID(ST_Collect(ST_MakePoint(px, py) ORDER BY n), 3006)) \
         FROM unnest(${x}::float8[], ${y}::float8[]) WITH ORDINALITY AS p (px, py, n))"
    )
}

fn point_columns(spec: &MeasureSpec) -> (Vec<f64>, Vec<f64>) {
    spec.place.points.iter().map(|&[x, y]| (x, y)).unzip()
}

fn measure_from_row(r: &PgRow) -> StoreResult<Measure> {
    let id: i64 = r.get(0);
    let spec: String = r.get(1);
    Ok(Measure {
        id,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Corrupt(format!("measure {id}: {e}")))?,
        created_at: r.get(2),
        updated_at: r.get(3),
    })
}

async fn record(
    tx: &mut Tx,
    id: i64,
    at: DateTime<Utc>,
    actor: &Actor,
    action: &str,
    detail: &serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO measure_history (measure_id, at, actor, role, action, detail) \
         VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
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

/// Brings the lamp layer in line with measure `id` (see [`MeasureStore`]): its lamps replace
/// those it had when they differ, and its repaired lamps are set working. Counts the data
/// version when a lamp changed.
async fn apply_lamps(tx: &mut Tx, id: i64, spec: &MeasureSpec) -> StoreResult<()> {
    let want = spec.lamps(id);
    let reference = id.to_string();
    // Lamp ids compared bytewise, as Rust sorts the wanted ones, whatever the collation.
    let rows = sqlx::query(
        "SELECT id, ST_X(geom), ST_Y(geom), height_m, lumen FROM lamps \
         WHERE source = $1 AND reference = $2 ORDER BY id COLLATE \"C\"",
    )
    .bind(MEASURE_LAMP_SOURCE)
    .bind(&reference)
    .fetch_all(&mut **tx)
    .await
    .op("reading a measure's lamps")?;
    type LampRow = (String, f64, f64, Option<f64>, Option<f64>);
    let have: Vec<LampRow> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let mut wanted: Vec<LampRow> = want
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
        sqlx::query("DELETE FROM lamps WHERE source = $1 AND reference = $2")
            .bind(MEASURE_LAMP_SOURCE)
            .bind(&reference)
            .execute(&mut **tx)
            .await
            .op("removing a measure's lamps")?;
        for l in &want {
            sqlx::query(
                "INSERT INTO lamps (id, geom, height_m, lumen, watt, status, source, reference) \
                 VALUES ($1, ST_SetSRID(ST_MakePoint($2, $3), 3006), $4, $5, NULL, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET geom = excluded.geom, \
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
    let repaired = spec.repaired_lamps();
    if !repaired.is_empty() {
        let n = sqlx::query(
            "UPDATE lamps SET status = 'working', version = version + 1 \
             WHERE id = ANY($1) AND status = 'broken'",
        )
        .bind(repaired)
        .execute(&mut **tx)
        .await
        .op("switching a repaired lamp on")?
        .rows_affected();
        changed |= n > 0;
    }
    if changed {
        sqlx::query("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'data_version'")
            .execute(&mut **tx)
            .await
            .op("counting the data version")?;
    }
    Ok(())
}

#[async_trait]
impl MeasureStore for PgStore {
    async fn create_measure(&self, spec: &MeasureSpec, actor: &Actor) -> StoreResult<Measure> {
        let now = whole_seconds(Utc::now())?;
        let text = serde_json::to_string(spec).expect("a spec serialises");
        let (xs, ys) = point_columns(spec);
        let mut tx = self
            .pool
            .begin()
            .await
            .op("starting a measure transaction")?;
        let id: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "INSERT INTO measures (kind, status, spec, points, created_at, updated_at) \
             VALUES ($1, $2, $3::jsonb, {}, $4, $4) RETURNING id",
            points_sql(5, 6)
        )))
        .bind(word(spec.kind))
        .bind(word(spec.status))
        .bind(&text)
        .bind(now)
        .bind(xs)
        .bind(ys)
        .fetch_one(&mut *tx)
        .await
        .op("storing a measure")?;
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
            created_at: now,
            updated_at: now,
        })
    }

    async fn get_measure(&self, id: i64) -> StoreResult<Option<Measure>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM measures WHERE id = $1"
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
            .begin()
            .await
            .op("starting a measure transaction")?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM measures WHERE id = $1 FOR UPDATE"
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
        let now = whole_seconds(Utc::now())?;
        let (xs, ys) = point_columns(spec);
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE measures SET kind = $1, status = $2, spec = $3::jsonb, updated_at = $4, \
             points = {} WHERE id = $7",
            points_sql(5, 6)
        )))
        .bind(word(spec.kind))
        .bind(word(spec.status))
        .bind(serde_json::to_string(spec).expect("a spec serialises"))
        .bind(now)
        .bind(xs)
        .bind(ys)
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
        m.updated_at = now;
        Ok(m)
    }

    async fn measure_history(&self, id: i64) -> StoreResult<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor, role, action, detail::text FROM measure_history \
             WHERE measure_id = $1 ORDER BY id",
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
    use geo::Point;

    use super::*;
    use crate::model::{LampStatus, Role};
    use crate::store::DataStore;
    use crate::store::measures::{LampType, MeasureKind, MeasurePlace, MeasureStatus};
    use crate::store::postgres::testdb::test_store;

    fn clearing() -> MeasureSpec {
        MeasureSpec {
            title: "Röj buskage vid gångtunneln".into(),
            kind: MeasureKind::VegetationClearing,
            status: MeasureStatus::Planned,
            agency: Some("kommunen".into()),
            place: MeasurePlace {
                points: vec![[673_900.5, 6_592_300.25]],
                ..MeasurePlace::default()
            },
            planned_date: NaiveDate::from_ymd_opt(2026, 5, 1),
            done_date: None,
            cost_sek: Some(8_000.0),
            notes: None,
            lamp: None,
        }
    }

    #[tokio::test]
    async fn a_measure_lives_with_its_history() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
        let who = Actor::new("token:abc", Role::Coordinator);
        let spec = clearing();
        let m = s.create_measure(&spec, &who).await.unwrap();
        let stored = s.get_measure(m.id).await.unwrap().unwrap();
        assert_eq!(stored.spec, spec);
        assert_eq!(stored, m);
        let mut done = spec.clone();
        done.status = MeasureStatus::Done;
        done.done_date = NaiveDate::from_ymd_opt(2026, 5, 3);
        let m2 = s.update_measure(m.id, &done, &who).await.unwrap();
        assert_eq!(m2.spec.status, MeasureStatus::Done);
        assert_eq!(s.get_measure(m.id).await.unwrap().unwrap().spec, done);
        // The same spec again changes nothing and records nothing.
        s.update_measure(m.id, &done, &who).await.unwrap();
        let h = s.measure_history(m.id).await.unwrap();
        let actions: Vec<&str> = h.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["created", "done_date", "status"]);
        assert_eq!(h[0].detail, json!({"title": "Röj buskage vid gångtunneln"}));
        assert_eq!(h[2].actor, "token:abc");
        assert_eq!(h[2].role, Role::Coordinator);
        assert_eq!(h[2].detail, json!({"from": "planned", "to": "done"}));
        assert_eq!(h[1].detail, json!({"from": null, "to": "2026-05-03"}));
        // The columns follow the spec; the points are a MultiPoint in EPSG:3006.
        let (status, kind, srid, points): (String, String, i32, String) = sqlx::query_as(
            "SELECT status, kind, ST_SRID(points), ST_AsText(points) FROM measures WHERE id = $1",
        )
        .bind(m.id)
        .fetch_one(s.pool())
        .await
        .unwrap();
        assert_eq!(
            (status.as_str(), kind.as_str(), srid, points.as_str()),
            (
                "done",
                "vegetation_clearing",
                3006,
                "MULTIPOINT((673900.5 6592300.25))"
            )
        );
        // Without points the geometry is NULL.
        let mut nowhere = done.clone();
        nowhere.place.points.clear();
        s.update_measure(m.id, &nowhere, &who).await.unwrap();
        let none: Option<String> =
            sqlx::query_scalar("SELECT ST_AsText(points) FROM measures WHERE id = $1")
                .bind(m.id)
                .fetch_one(s.pool())
                .await
                .unwrap();
        assert_eq!(none, None);
        assert!(matches!(
            s.update_measure(999, &done, &who).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(s.get_measure(999).await.unwrap(), None);
        let other = s.create_measure(&spec, &who).await.unwrap();
        let ids: Vec<i64> = s
            .list_measures()
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, [other.id, m.id]);
    }

    #[tokio::test]
    async fn done_lamp_measures_change_the_lamp_layer_in_their_transaction() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
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
        sqlx::query(
            "INSERT INTO lamps (id, geom, height_m, lumen, status, source, reference) \
             VALUES ('reg:7', ST_SetSRID(ST_MakePoint(674000, 6593000), 3006), 5, 3000, \
             'broken', 'reg', '7')",
        )
        .execute(s.pool())
        .await
        .unwrap();
        let lamps = |s: &PgStore| {
            let pool = s.pool().clone();
            async move {
                let rows = sqlx::query(
                    "SELECT id, ST_X(geom), ST_Y(geom), height_m, lumen, status, source, \
                     reference FROM lamps ORDER BY id COLLATE \"C\"",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
                rows.iter()
                    .map(|r| Lamp {
                        id: r.get(0),
                        location: Point::new(r.get(1), r.get(2)),
                        height_m: r.get(3),
                        lumen: r.get(4),
                        watt: None,
                        status: if r.get::<String, _>(5) == "broken" {
                            LampStatus::Broken
                        } else {
                            LampStatus::Working
                        },
                        source: r.get(6),
                        reference: r.get(7),
                    })
                    .collect::<Vec<Lamp>>()
            }
        };
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
        assert_eq!(lamps(&s).await.len(), 1);
        assert_eq!(s.data_version().await.unwrap(), v0);
        spec.status = MeasureStatus::Done;
        spec.done_date = NaiveDate::from_ymd_opt(2026, 5, 3);
        s.update_measure(m.id, &spec, &who).await.unwrap();
        let all = lamps(&s).await;
        let mine: Vec<&Lamp> = all.iter().filter(|l| l.source == "measure").collect();
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
        assert_eq!(mine[0].reference, Some(m.id.to_string()));
        let v1 = s.data_version().await.unwrap();
        assert!(v1 > v0);
        // A change of the notes leaves the lamps and the version alone.
        spec.notes = Some("klart".into());
        s.update_measure(m.id, &spec, &who).await.unwrap();
        assert_eq!(s.data_version().await.unwrap(), v1);
        // One point fewer: one lamp fewer.
        spec.place.points.pop();
        s.update_measure(m.id, &spec, &who).await.unwrap();
        assert_eq!(lamps(&s).await.len(), 2);
        // Cancelled: its lamps are gone.
        spec.status = MeasureStatus::Cancelled;
        s.update_measure(m.id, &spec, &who).await.unwrap();
        assert_eq!(lamps(&s).await, vec![broken.clone()]);

        // A done repair sets the broken register lamp working.
        let v2 = s.data_version().await.unwrap();
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
        let after = lamps(&s).await;
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].status, LampStatus::Working);
        assert!(s.data_version().await.unwrap() > v2);
    }
}
