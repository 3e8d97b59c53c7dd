//! Patrol presence in PostgreSQL (`migrations/postgres/0005_patrol.sql`): fixes keyed by unit and
//! instant, the track files they came from, reported visits keyed by unit, start and place.
//! Positions are PostGIS points in EPSG:3006; instants are kept to the millisecond, as the SQLite
//! file keeps them, so that the same fixes collide on the same key in both backends.
//!
//! A batch is written with one multi-row upsert per round: PostgreSQL refuses an `ON CONFLICT DO
//! UPDATE` that meets the same key twice in one statement, so a batch that repeats a key is
//! split into rounds in which no key repeats, each later occurrence in a later round. That gives
//! what the SQLite file gives, which applies the rows one after another: the last occurrence
//! wins and each occurrence is counted as inserted, updated or unchanged. Within a round the rows
//! go in key order, so that two processes writing overlapping batches lock the rows in the same
//! order and never deadlock.
//!
//! Patrol writes do not count as a change of the data version: nothing of them is in the
//! snapshot, so a server has nothing to reload.

use std::collections::HashMap;
use std::hash::Hash;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::reports::whole_seconds;
use super::{Op, PgStore};
use crate::store::patrol::{
    PatrolCounts, PatrolPoint, PatrolStore, PatrolVisit, PointLoad, StoredPoint, UnitPoints,
    VisitPlace,
};
use crate::store::{StoreError, StoreResult, WriteCounts};

/// `t` to the millisecond, as patrol instants are stored.
fn millis(t: DateTime<Utc>) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(t.timestamp_millis())
        .ok_or_else(|| StoreError::Corrupt(format!("patrol instant {t} out of range")))
}

/// Counts what an upsert with `RETURNING version` did: 1 is a new row, more an updated one;
/// rows that were already stored so return nothing.
fn count(versions: &[i32], batch: usize, counts: &mut WriteCounts) {
    for &v in versions {
        if v == 1 {
            counts.inserted += 1;
        } else {
            counts.updated += 1;
        }
    }
    counts.unchanged += (batch as u64).saturating_sub(versions.len() as u64);
}

/// `items` split into rounds in which no key repeats: the n-th occurrence of a key is in round
/// n, and each round is sorted by key.
fn rounds<T, K: Hash + Eq + Ord + Clone>(items: Vec<(K, T)>) -> Vec<Vec<(K, T)>> {
    let mut seen: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<Vec<(K, T)>> = Vec::new();
    for (key, item) in items {
        let n = seen.entry(key.clone()).or_insert(0);
        if out.len() <= *n {
            out.push(Vec::new());
        }
        out[*n].push((key, item));
        *n += 1;
    }
    for round in &mut out {
        round.sort_by(|a, b| a.0.cmp(&b.0));
    }
    out
}

/// Rows of one round of points, column by column, for `unnest`.
#[derive(Default)]
struct PointColumns {
    unit: Vec<String>,
    at: Vec<DateTime<Utc>>,
    x: Vec<f64>,
    y: Vec<f64>,
    run_start: Vec<bool>,
    track: Vec<i64>,
}

/// Rows of one round of visits, column by column, for `unnest`.
#[derive(Default)]
struct VisitColumns {
    unit: Vec<String>,
    source: Vec<String>,
    start: Vec<DateTime<Utc>>,
    end: Vec<DateTime<Utc>>,
    place: Vec<String>,
    hotspot: Vec<Option<String>>,
    x: Vec<Option<f64>>,
    y: Vec<Option<f64>>,
}

#[async_trait]
impl PatrolStore for PgStore {
    async fn upsert_patrol_points(&self, batch: &[PatrolPoint]) -> StoreResult<WriteCounts> {
        let mut counts = WriteCounts::default();
        if batch.is_empty() {
            return Ok(counts);
        }
        let now = whole_seconds(Utc::now())?;
        let mut tx = self
            .pool
            .begin()
            .await
            .op("starting a patrol transaction")?;
        // The tracks this batch comes from (usually one), by (unit, source), in key order.
        let mut keys: Vec<(&str, &str)> = batch
            .iter()
            .map(|p| (p.unit.as_str(), p.source.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut tracks: HashMap<(&str, &str), i64> = HashMap::new();
        for key in keys {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO patrol_tracks (unit, source, first_imported_at, last_imported_at) \
                 VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (unit, source) DO UPDATE SET last_imported_at = excluded.last_imported_at \
                 RETURNING id",
            )
            .bind(key.0)
            .bind(key.1)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .op("recording a patrol track")?;
            tracks.insert(key, id);
        }
        let keyed = batch
            .iter()
            .map(|p| Ok(((p.unit.as_str(), millis(p.at)?), p)))
            .collect::<StoreResult<Vec<_>>>()?;
        for round in rounds(keyed) {
            let mut c = PointColumns::default();
            for ((unit, at), p) in &round {
                c.unit.push(unit.to_string());
                c.at.push(*at);
                c.x.push(p.x);
                c.y.push(p.y);
                c.run_start.push(p.run_start);
                c.track.push(tracks[&(p.unit.as_str(), p.source.as_str())]);
            }
            let versions: Vec<i32> = sqlx::query_scalar(
                "INSERT INTO patrol_points (unit, at, location, run_start, track_id) \
                 SELECT u, t, ST_SetSRID(ST_MakePoint(x, y), 3006), r, k \
                 FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::float8[], \
                 $5::bool[], $6::int8[]) AS b (u, t, x, y, r, k) \
                 ON CONFLICT (unit, at) DO UPDATE SET location = excluded.location, \
                 run_start = excluded.run_start, track_id = excluded.track_id, \
                 version = patrol_points.version + 1 \
                 WHERE ST_X(patrol_points.location) IS DISTINCT FROM ST_X(excluded.location) \
                 OR ST_Y(patrol_points.location) IS DISTINCT FROM ST_Y(excluded.location) \
                 OR patrol_points.run_start IS DISTINCT FROM excluded.run_start \
                 RETURNING version",
            )
            .bind(c.unit)
            .bind(c.at)
            .bind(c.x)
            .bind(c.y)
            .bind(c.run_start)
            .bind(c.track)
            .fetch_all(&mut *tx)
            .await
            .op("writing patrol points")?;
            count(&versions, round.len(), &mut counts);
        }
        tx.commit().await.op("committing patrol points")?;
        Ok(counts)
    }

    async fn upsert_patrol_visits(&self, batch: &[PatrolVisit]) -> StoreResult<WriteCounts> {
        let mut counts = WriteCounts::default();
        if batch.is_empty() {
            return Ok(counts);
        }
        let now = whole_seconds(Utc::now())?;
        let mut tx = self
            .pool
            .begin()
            .await
            .op("starting a patrol transaction")?;
        let keyed = batch
            .iter()
            .map(|v| Ok(((v.unit.as_str(), millis(v.start)?, v.place.key()), v)))
            .collect::<StoreResult<Vec<_>>>()?;
        for round in rounds(keyed) {
            let mut c = VisitColumns::default();
            for ((unit, start, place), v) in &round {
                let (hotspot, x, y) = match &v.place {
                    VisitPlace::Hotspot(id) => (Some(id.clone()), None, None),
                    VisitPlace::Point { x, y } => (None, Some(*x), Some(*y)),
                };
                c.unit.push(unit.to_string());
                c.source.push(v.source.clone());
                c.start.push(*start);
                c.end.push(millis(v.end)?);
                c.place.push(place.clone());
                c.hotspot.push(hotspot);
                c.x.push(x);
                c.y.push(y);
            }
            let versions: Vec<i32> = sqlx::query_scalar(
                "INSERT INTO patrol_visits (unit, source, start_at, end_at, place, hotspot, \
                 location, imported_at) \
                 SELECT u, s, a, e, p, h, ST_SetSRID(ST_MakePoint(x, y), 3006), $9 \
                 FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], \
                 $5::text[], $6::text[], $7::float8[], $8::float8[]) AS b (u, s, a, e, p, h, x, y) \
                 ON CONFLICT (unit, start_at, place) DO UPDATE SET end_at = excluded.end_at, \
                 source = excluded.source, imported_at = excluded.imported_at, \
                 version = patrol_visits.version + 1 \
                 WHERE patrol_visits.end_at IS DISTINCT FROM excluded.end_at \
                 RETURNING version",
            )
            .bind(c.unit)
            .bind(c.source)
            .bind(c.start)
            .bind(c.end)
            .bind(c.place)
            .bind(c.hotspot)
            .bind(c.x)
            .bind(c.y)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .op("writing patrol visits")?;
            count(&versions, round.len(), &mut counts);
        }
        tx.commit().await.op("committing patrol visits")?;
        Ok(counts)
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
        let mut from = Vec::with_capacity(ranges.len());
        let mut to = Vec::with_capacity(ranges.len());
        for (f, t) in ranges {
            from.push(millis(*f)?);
            to.push(millis(*t)?);
        }
        // The ranges are disjoint, so a fix lies in one at most, and unit then instant is the
        // order of the SQLite file (units compared bytewise, whatever the database's collation).
        let rows = sqlx::query(
            "SELECT p.unit, p.at, ST_X(p.location), ST_Y(p.location), p.run_start \
             FROM unnest($1::timestamptz[], $2::timestamptz[]) AS r (f, t) \
             JOIN patrol_points p ON p.at >= r.f AND p.at < r.t \
             ORDER BY p.unit COLLATE \"C\", p.at LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .op("loading patrol points")?;
        load.more = rows.len() > limit;
        for r in rows.iter().take(limit) {
            let unit: String = r.get(0);
            let point = StoredPoint {
                at: r.get(1),
                x: r.get(2),
                y: r.get(3),
                run_start: r.get(4),
            };
            match load.units.last_mut() {
                Some(u) if u.unit == unit => u.points.push(point),
                _ => load.units.push(UnitPoints {
                    unit,
                    points: vec![point],
                }),
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
            "SELECT unit, source, start_at, end_at, hotspot, ST_X(location), ST_Y(location) \
             FROM patrol_visits WHERE start_at < $1 AND end_at > $2 \
             ORDER BY start_at, id LIMIT $3",
        )
        .bind(millis(to)?)
        .bind(millis(from)?)
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
                    start: r.get(2),
                    end: r.get(3),
                    place,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((visits, more))
    }

    async fn patrol_counts(&self) -> StoreResult<PatrolCounts> {
        let r = sqlx::query(
            "SELECT (SELECT count(*) FROM (SELECT unit FROM patrol_tracks \
             UNION SELECT unit FROM patrol_visits) AS u), \
             (SELECT count(*) FROM patrol_tracks), (SELECT count(*) FROM patrol_points), \
             (SELECT count(*) FROM patrol_visits)",
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
    use crate::store::postgres::testdb::test_store;

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
        let Some((s, _db)) = test_store().await else {
            return;
        };
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
        // The moved fix names the track that moved it; the others keep theirs.
        let tracks: Vec<(i64, String)> = sqlx::query_as(
            "SELECT (extract(epoch FROM p.at)::bigint - 1750000000), t.source \
             FROM patrol_points p JOIN patrol_tracks t ON t.id = p.track_id \
             WHERE p.unit = 'P1' ORDER BY p.at",
        )
        .fetch_all(s.pool())
        .await
        .unwrap();
        let sources: Vec<&str> = tracks.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            sources,
            [
                "a.gpx", "a.gpx", "b.gpx", "a.gpx", "a.gpx", "b.gpx", "b.gpx"
            ]
        );
        let (srid, text): (i32, String) = sqlx::query_as(
            "SELECT ST_SRID(location), ST_AsText(location) FROM patrol_points \
             WHERE unit = 'P1' AND at = $1",
        )
        .bind(at(20))
        .fetch_one(s.pool())
        .await
        .unwrap();
        assert_eq!((srid, text.as_str()), (3006, "POINT(674003 6593000)"));

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
        assert_eq!(load.units[0].points[2].x, 674_004.0);
        assert!(load.units[0].points[0].run_start && !load.units[0].points[1].run_start);
        assert_eq!(load.units[1].unit, "P2");
        assert_eq!(load.units[1].points.len(), 2);
        // The limit stops the load and says so.
        let load = s.load_patrol_points(&ranges, 4).await.unwrap();
        assert!(load.more);
        assert_eq!(load.len(), 4);
        let load = s.load_patrol_points(&ranges, 7).await.unwrap();
        assert!(!load.more);
        assert_eq!(load.len(), 7);
        assert!(s.load_patrol_points(&[], 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_batch_that_repeats_a_fix_counts_each_occurrence() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
        // As the SQLite file applies them one after another: the first is new, an identical
        // repeat unchanged, a moved repeat an update, and the last one stays.
        let batch = vec![
            point("P1", "a.gpx", 0, 674_000.0),
            point("P1", "a.gpx", 0, 674_000.0),
            point("P1", "a.gpx", 10, 674_001.0),
            point("P1", "a.gpx", 0, 674_009.0),
        ];
        let c = s.upsert_patrol_points(&batch).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (2, 1, 1));
        let load = s.load_patrol_points(&[(at(0), at(100))], 10).await.unwrap();
        let xs: Vec<f64> = load.units[0].points.iter().map(|p| p.x).collect();
        assert_eq!(xs, [674_009.0, 674_001.0]);
        assert_eq!(s.patrol_counts().await.unwrap().points, 2);
    }

    #[tokio::test]
    async fn visits_are_keyed_by_unit_start_and_place() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
        let visit = |start: i64, end: i64, place: VisitPlace| PatrolVisit {
            unit: "P1".into(),
            source: "v.csv".into(),
            start: at(start),
            end: at(end),
            place,
        };
        let hot = VisitPlace::Hotspot("cabc".into());
        let here = VisitPlace::Point {
            x: 674_000.5,
            y: 6_593_000.25,
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
        let stored_hot = v.iter().find(|v| v.place == hot).unwrap();
        assert_eq!(stored_hot.end, at(900));
        assert_eq!(stored_hot.source, "v.csv");
        assert!(v.iter().any(|v| v.place == here));
        let text: String = sqlx::query_scalar(
            "SELECT ST_AsText(location) FROM patrol_visits WHERE location IS NOT NULL",
        )
        .fetch_one(s.pool())
        .await
        .unwrap();
        assert_eq!(text, "POINT(674000.5 6593000.25)");
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
        // A visit that ends before it starts is refused, and its batch with it.
        let wrong = vec![
            visit(5000, 6000, hot.clone()),
            visit(7000, 6000, hot.clone()),
        ];
        assert!(s.upsert_patrol_visits(&wrong).await.is_err());
        assert_eq!(
            s.patrol_counts().await.unwrap(),
            PatrolCounts {
                units: 1,
                tracks: 0,
                points: 0,
                visits: 2
            }
        );
    }
}
