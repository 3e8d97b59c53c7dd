//! Patrol presence in SQLite (`migrations/sqlite/0006_patrol.sql`): fixes keyed by unit and
//! instant, the track files they came from, reported visits keyed by unit, start and place.
//!
//! Patrol writes do not count as a change of the data version: nothing of them is in the
//! snapshot, so a server has nothing to reload (and no cached public answer changes).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{MAX_PARAMS, Op, SqliteStore, retry_busy};
use crate::store::patrol::{
    PatrolCounts, PatrolPoint, PatrolStore, PatrolVisit, PointLoad, StoredPoint, UnitPoints,
    VisitPlace,
};
use crate::store::{StoreError, StoreResult, WriteCounts};

fn utc_ms(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("patrol instant {ms} ms out of range")))
}

/// Counts what an upsert with `RETURNING version` did: 1 is a new row, more an updated one;
/// rows that were already stored so return nothing.
fn count(versions: &[i64], batch: usize, counts: &mut WriteCounts) {
    for &v in versions {
        if v == 1 {
            counts.inserted += 1;
        } else {
            counts.updated += 1;
        }
    }
    counts.unchanged += (batch as u64).saturating_sub(versions.len() as u64);
}

impl SqliteStore {
    async fn upsert_points_once(&self, batch: &[PatrolPoint]) -> StoreResult<WriteCounts> {
        let mut counts = WriteCounts::default();
        if batch.is_empty() {
            return Ok(counts);
        }
        let now = Utc::now().timestamp();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .op("starting a patrol transaction")?;
        // The tracks this batch comes from (usually one), by (unit, source).
        let mut tracks: HashMap<(&str, &str), i64> = HashMap::new();
        for p in batch {
            let key = (p.unit.as_str(), p.source.as_str());
            if tracks.contains_key(&key) {
                continue;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO patrol_tracks (unit, source, first_imported_utc, last_imported_utc) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (unit, source) DO UPDATE SET last_imported_utc = excluded.last_imported_utc RETURNING id",
            )
            .bind(&p.unit)
            .bind(&p.source)
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .op("recording a patrol track")?;
            tracks.insert(key, id);
        }
        const PER_ROW: usize = 6;
        for chunk in batch.chunks(MAX_PARAMS / PER_ROW) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO patrol_points (unit, t_ms, x, y, run_start, track_id) ",
            );
            qb.push_values(chunk, |mut b, p| {
                b.push_bind(p.unit.clone())
                    .push_bind(p.at.timestamp_millis())
                    .push_bind(p.x)
                    .push_bind(p.y)
                    .push_bind(i64::from(p.run_start))
                    .push_bind(tracks[&(p.unit.as_str(), p.source.as_str())]);
            });
            qb.push(
                " ON CONFLICT (unit, t_ms) DO UPDATE SET x = excluded.x, y = excluded.y, \
                 run_start = excluded.run_start, track_id = excluded.track_id, \
                 version = patrol_points.version + 1 \
                 WHERE patrol_points.x IS NOT excluded.x OR patrol_points.y IS NOT excluded.y \
                 OR patrol_points.run_start IS NOT excluded.run_start RETURNING version",
            );
            let versions: Vec<i64> = qb
                .build()
                .fetch_all(&mut *tx)
                .await
                .op("writing patrol points")?
                .iter()
                .map(|r| r.get(0))
                .collect();
            count(&versions, chunk.len(), &mut counts);
        }
        tx.commit().await.op("committing patrol points")?;
        Ok(counts)
    }

    async fn upsert_visits_once(&self, batch: &[PatrolVisit]) -> StoreResult<WriteCounts> {
        let mut counts = WriteCounts::default();
        if batch.is_empty() {
            return Ok(counts);
        }
        let now = Utc::now().timestamp();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .op("starting a patrol transaction")?;
        const PER_ROW: usize = 9;
        for chunk in batch.chunks(MAX_PARAMS / PER_ROW) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO patrol_visits (unit, source, start_ms, end_ms, place, hotspot, x, y, imported_utc) ",
            );
            qb.push_values(chunk, |mut b, v| {
                let (hotspot, x, y) = match &v.place {
                    VisitPlace::Hotspot(id) => (Some(id.clone()), None, None),
                    VisitPlace::Point { x, y } => (None, Some(*x), Some(*y)),
                };
                b.push_bind(v.unit.clone())
                    .push_bind(v.source.clone())
                    .push_bind(v.start.timestamp_millis())
                    .push_bind(v.end.timestamp_millis())
                    .push_bind(v.place.key())
                    .push_bind(hotspot)
                    .push_bind(x)
                    .push_bind(y)
                    .push_bind(now);
            });
            qb.push(
                " ON CONFLICT (unit, start_ms, place) DO UPDATE SET end_ms = excluded.end_ms, \
                 source = excluded.source, imported_utc = excluded.imported_utc, \
                 version = patrol_visits.version + 1 \
                 WHERE patrol_visits.end_ms IS NOT excluded.end_ms RETURNING version",
            );
            let versions: Vec<i64> = qb
                .build()
                .fetch_all(&mut *tx)
                .await
                .op("writing patrol visits")?
                .iter()
                .map(|r| r.get(0))
                .collect();
            count(&versions, chunk.len(), &mut counts);
        }
        tx.commit().await.op("committing patrol visits")?;
        Ok(counts)
    }
}

#[async_trait]
impl PatrolStore for SqliteStore {
    async fn upsert_patrol_points(&self, batch: &[PatrolPoint]) -> StoreResult<WriteCounts> {
        retry_busy(|| self.upsert_points_once(batch)).await
    }

    async fn upsert_patrol_visits(&self, batch: &[PatrolVisit]) -> StoreResult<WriteCounts> {
        retry_busy(|| self.upsert_visits_once(batch)).await
    }

    async fn load_patrol_points(
        &self,
        ranges: &[(DateTime<Utc>, DateTime<Utc>)],
        limit: usize,
    ) -> StoreResult<PointLoad> {
        let mut load = PointLoad::default();
        if ranges.is_empty() {
            return Ok(load);
        }
        let units: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT unit FROM patrol_tracks ORDER BY unit")
                .fetch_all(&self.pool)
                .await
                .op("listing patrol units")?;
        let mut loaded = 0usize;
        for unit in units {
            let mut points = Vec::new();
            // One range scan of the primary key (unit, t_ms) per range, in its order: the rows
            // come in time order without a sort (a join with the ranges as a table needs one).
            for (from, to) in ranges {
                let mut rows = sqlx::query(
                    "SELECT t_ms, x, y, run_start FROM patrol_points \
                     WHERE unit = ? AND t_ms >= ? AND t_ms < ? ORDER BY t_ms",
                )
                .bind(&unit)
                .bind(from.timestamp_millis())
                .bind(to.timestamp_millis())
                .fetch(&self.pool);
                while let Some(r) = rows.try_next().await.op("loading patrol points")? {
                    if loaded == limit {
                        load.more = true;
                        break;
                    }
                    loaded += 1;
                    points.push(StoredPoint {
                        at: utc_ms(r.get(0))?,
                        x: r.get(1),
                        y: r.get(2),
                        run_start: r.get::<i64, _>(3) != 0,
                    });
                }
                drop(rows);
                if load.more {
                    break;
                }
            }
            if !points.is_empty() {
                load.units.push(UnitPoints { unit, points });
            }
            if load.more {
                break;
            }
        }
        Ok(load)
    }

    async fn load_patrol_visits(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<(Vec<PatrolVisit>, bool)> {
        let rows = sqlx::query(
            "SELECT unit, source, start_ms, end_ms, hotspot, x, y FROM patrol_visits \
             WHERE start_ms < ? AND end_ms > ? ORDER BY start_ms, id LIMIT ?",
        )
        .bind(to.timestamp_millis())
        .bind(from.timestamp_millis())
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .op("loading patrol visits")?;
        let more = rows.len() > limit;
        let visits = rows
            .iter()
            .take(limit)
            .map(|r| {
                let hotspot: Option<String> = r.get(4);
                let (x, y): (Option<f64>, Option<f64>) = (r.get(5), r.get(6));
                let place = match (hotspot, x, y) {
                    (Some(id), _, _) => VisitPlace::Hotspot(id),
                    (None, Some(x), Some(y)) => VisitPlace::Point { x, y },
                    _ => {
                        return Err(StoreError::Corrupt(
                            "a patrol visit with neither a hotspot nor a point".into(),
                        ));
                    }
                };
                Ok(PatrolVisit {
                    unit: r.get(0),
                    source: r.get(1),
                    start: utc_ms(r.get(2))?,
                    end: utc_ms(r.get(3))?,
                    place,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((visits, more))
    }

    async fn patrol_counts(&self) -> StoreResult<PatrolCounts> {
        let r = sqlx::query(
            "SELECT (SELECT count(*) FROM (SELECT unit FROM patrol_tracks UNION SELECT unit FROM patrol_visits)), \
             (SELECT count(*) FROM patrol_tracks), (SELECT count(*) FROM patrol_points), (SELECT count(*) FROM patrol_visits)",
        )
        .fetch_one(&self.pool)
        .await
        .op("counting patrol rows")?;
        let n = |i: usize| r.get::<i64, _>(i) as u64;
        Ok(PatrolCounts {
            units: n(0),
            tracks: n(1),
            points: n(2),
            visits: n(3),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::DataStore;

    async fn store(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(dir.path().join("p.sqlite").to_str().unwrap())
            .await
            .unwrap()
    }

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000 + s, 0).unwrap()
    }

    fn point(unit: &str, source: &str, s: i64, x: f64) -> PatrolPoint {
        PatrolPoint {
            unit: unit.into(),
            source: source.into(),
            at: at(s),
            x,
            y: 6_593_000.0,
            run_start: s == 0,
        }
    }

    #[tokio::test]
    async fn points_are_keyed_by_unit_and_instant() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let version = s.data_version().await.unwrap();
        let first: Vec<PatrolPoint> = (0..5)
            .map(|k| point("P1", "a.gpx", k * 10, 674_000.0 + k as f64))
            .collect();
        let c = s.upsert_patrol_points(&first).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (5, 0, 0));
        // The same file again changes nothing; a renamed copy that overlaps by three fixes, one
        // moved, adds two and updates one; another unit at the same instants is apart.
        assert_eq!(s.upsert_patrol_points(&first).await.unwrap().unchanged, 5);
        let mut copy: Vec<PatrolPoint> = (2..7)
            .map(|k| point("P1", "b.gpx", k * 10, 674_000.0 + k as f64))
            .collect();
        copy[0].x += 1.0;
        let c = s.upsert_patrol_points(&copy).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (2, 1, 2));
        let other: Vec<PatrolPoint> = (0..3)
            .map(|k| point("P2", "a.gpx", k * 10, 675_000.0))
            .collect();
        s.upsert_patrol_points(&other).await.unwrap();
        let counts = s.patrol_counts().await.unwrap();
        assert_eq!(
            counts,
            PatrolCounts {
                units: 2,
                tracks: 3,
                points: 10,
                visits: 0
            }
        );
        // Patrol data is not in the snapshot: no reload is asked for.
        assert_eq!(s.data_version().await.unwrap(), version);

        // Two ranges: 0–15 s and 40–1000 s (P1 has fixes at 0, 10, 20 … 60; P2 at 0, 10, 20).
        let ranges = [(at(0), at(15)), (at(40), at(1000))];
        let load = s.load_patrol_points(&ranges, 100).await.unwrap();
        assert!(!load.more);
        let p1: Vec<i64> = load.units[0]
            .points
            .iter()
            .map(|p| p.at.timestamp() - 1_750_000_000)
            .collect();
        assert_eq!(load.units[0].unit, "P1");
        assert_eq!(p1, [0, 10, 40, 50, 60]);
        assert!(load.units[0].points[0].run_start && !load.units[0].points[1].run_start);
        assert_eq!(load.units[1].points.len(), 2);
        // The limit stops the load and says so.
        let load = s.load_patrol_points(&ranges, 4).await.unwrap();
        assert!(load.more);
        assert_eq!(load.len(), 4);
    }

    #[tokio::test]
    async fn visits_are_keyed_by_unit_start_and_place() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let visit = |start: i64, end: i64, place: VisitPlace| PatrolVisit {
            unit: "P1".into(),
            source: "v.csv".into(),
            start: at(start),
            end: at(end),
            place,
        };
        let hot = VisitPlace::Hotspot("cabc".into());
        let here = VisitPlace::Point {
            x: 674_000.0,
            y: 6_593_000.0,
        };
        let batch = vec![visit(0, 600, hot.clone()), visit(0, 700, here.clone())];
        let c = s.upsert_patrol_visits(&batch).await.unwrap();
        assert_eq!((c.inserted, c.unchanged), (2, 0));
        assert_eq!(s.upsert_patrol_visits(&batch).await.unwrap().unchanged, 2);
        // A corrected end replaces the stored one.
        let c = s
            .upsert_patrol_visits(&[visit(0, 900, hot.clone())])
            .await
            .unwrap();
        assert_eq!(c.updated, 1);
        let (v, more) = s.load_patrol_visits(at(500), at(2000), 10).await.unwrap();
        assert!(!more);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].end, at(900));
        assert!(v.iter().any(|v| v.place == here));
        // Visits that end before the range are not loaded; the limit says when it cut.
        assert!(
            s.load_patrol_visits(at(900), at(2000), 10)
                .await
                .unwrap()
                .0
                .is_empty()
        );
        let (v, more) = s.load_patrol_visits(at(0), at(2000), 1).await.unwrap();
        assert_eq!((v.len(), more), (1, true));
    }
}
