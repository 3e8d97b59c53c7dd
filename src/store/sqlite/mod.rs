//! The embedded default: one SQLite file in WAL mode with foreign keys on.
//!
//! Batches are written in one transaction each with multi-row upserts; `version` columns count
//! real changes so that re-importing identical rows is reported as `unchanged` and costs no write.

mod measures;
mod patrol;
mod pledges;
mod reports;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use futures_util::TryStreamExt;
use geo::{Coord, LineString, MultiPolygon, Point};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::{DataCounts, DataStore, StoreError, StoreResult, StoredToken, TokenStore, WriteCounts};
use crate::category::CategoryGroup;
use crate::model::{
    Area, BraStat, Incident, Lamp, LampStatus, LocationPrecision, Role, TimePrecision, Walkway,
};

/// SQLite allows 32 766 bound parameters per statement; rows per upsert statement stay below it.
const MAX_PARAMS: usize = 30_000;

/// How long one statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at a batch transaction that finds the database busy or locked, and the first pause
/// between them (doubled each time, so about 6 s of backoff on top of the busy timeouts).
const BUSY_ATTEMPTS: u32 = 6;
const BUSY_BACKOFF: Duration = Duration::from_millis(200);

/// sqlx's errors become [`StoreError`]s here and nowhere else, so that no sqlx type is part of
/// the store's public face: `op` says what was being done, a unique or primary key violation is
/// a [`StoreError::Conflict`], anything else a [`StoreError::Db`] carrying the driver's error.
trait Op<T> {
    fn op(self, op: &'static str) -> StoreResult<T>;
}

impl<T> Op<T> for Result<T, sqlx::Error> {
    fn op(self, op: &'static str) -> StoreResult<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("{op}: {}", d.message()))
            }
            _ => StoreError::Db {
                op,
                cause: Box::new(e),
            },
        })
    }
}

impl<T> Op<T> for Result<T, sqlx::migrate::MigrateError> {
    fn op(self, op: &'static str) -> StoreResult<T> {
        self.map_err(|e| StoreError::Db {
            op,
            cause: Box::new(e),
        })
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), with any extended code (BUSY_SNAPSHOT, …).
fn is_busy(e: &StoreError) -> bool {
    let StoreError::Db { cause, .. } = e else {
        return false;
    };
    match cause.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(d)) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

/// Runs `attempt` (one whole transaction) again when it fails because the database is busy or
/// locked: the failed attempt rolled back, so a retry writes the batch exactly once.
async fn retry_busy<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut pause = BUSY_BACKOFF;
    for _ in 1..BUSY_ATTEMPTS {
        match attempt().await {
            Err(e) if is_busy(&e) => {
                tracing::warn!(error = %e, "database busy; retrying the batch in {pause:?}");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            other => return other,
        }
    }
    attempt().await
}

pub struct SqliteStore {
    pool: SqlitePool,
    /// SQLite admits one writer at a time. A connection that meets a locked database waits in
    /// SQLite's busy handler, which sleeps in growing steps (up to 100 ms each) instead of being
    /// woken when the lock frees: under a burst of submissions that sleeping, not the work, would
    /// set the latency. Report writes through this store therefore queue on this async mutex
    /// first (fair, and woken at once) and meet SQLite's own lock only when another process (or
    /// another `SqliteStore` on the same file) writes.
    report_writer: tokio::sync::Mutex<()>,
}

impl SqliteStore {
    /// Opens or creates the file and runs the migrations.
    pub async fn open(path: &str) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .op("reading the database path")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit survives a process crash (kill -9); only power loss
            // can take back the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Another process (the server taking a report, a second import) may hold the write
            // lock: wait for it rather than fail. Import batches also begin IMMEDIATE (below), so
            // the wait happens here and not as an instant SQLITE_BUSY on a read-to-write upgrade.
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(opts)
            .await
            .op("opening the database")?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .op("bringing the schema up to date")?;
        Ok(Self {
            pool,
            report_writer: tokio::sync::Mutex::new(()),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn bump_version(tx: &mut sqlx::Transaction<'_, Sqlite>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_version'",
        )
        .execute(&mut **tx)
        .await
        .op("counting the data version")?;
        Ok(())
    }

    /// Runs a multi-row upsert in one transaction and counts what it did.
    ///
    /// With [`Counting::Returning`], the statement's `RETURNING version` yields 1 for a new row
    /// and more for a changed one; rows whose content is already stored return nothing. With
    /// [`Counting::RowidGrowth`] (tables whose rows get their rowid from SQLite), nothing is
    /// returned — SQLite buffers `RETURNING` rows in a temporary table, which cost a third of an
    /// incident import — and the new rows are counted as the growth of `max(rowid)`: new rows
    /// take the rowids after the largest one, one each, and updates keep theirs. Rows affected
    /// minus rows inserted are the updated ones.
    async fn upsert_chunks<T>(
        &self,
        batch: &[T],
        params_per_row: usize,
        head: &str,
        tail: &str,
        counting: Counting,
        push: impl Fn(sqlx::query_builder::Separated<'_, Sqlite, &'static str>, &T) + Copy,
    ) -> StoreResult<WriteCounts> {
        retry_busy(|| self.upsert_chunks_once(batch, params_per_row, head, tail, counting, push))
            .await
    }

    /// One attempt of [`Self::upsert_chunks`]: one IMMEDIATE transaction, which takes the write
    /// lock at its start (waiting up to the busy timeout) instead of failing on its first write.
    async fn upsert_chunks_once<T>(
        &self,
        batch: &[T],
        params_per_row: usize,
        head: &str,
        tail: &str,
        counting: Counting,
        push: impl Fn(sqlx::query_builder::Separated<'_, Sqlite, &'static str>, &T) + Copy,
    ) -> StoreResult<WriteCounts> {
        let mut counts = WriteCounts::default();
        if batch.is_empty() {
            return Ok(counts);
        }
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .op("starting a write transaction")?;
        // `table` is a &'static name from this file, never input.
        let max_rowid = |table: &'static str| {
            sqlx::AssertSqlSafe(format!("SELECT coalesce(max(rowid), 0) FROM {table}"))
        };
        let rowid_before: i64 = match counting {
            Counting::RowidGrowth(table) => sqlx::query_scalar(max_rowid(table))
                .fetch_one(&mut *tx)
                .await
                .op("reading the largest rowid")?,
            Counting::Returning => 0,
        };
        let rows_per_stmt = (MAX_PARAMS / params_per_row).max(1);
        let mut touched = 0u64;
        for chunk in batch.chunks(rows_per_stmt) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
            qb.push_values(chunk, push);
            qb.push(tail);
            match counting {
                Counting::Returning => {
                    qb.push(" RETURNING version");
                    let versions: Vec<i64> = qb
                        .build()
                        .fetch_all(&mut *tx)
                        .await
                        .op("writing a batch")?
                        .iter()
                        .map(|r| r.get::<i64, _>(0))
                        .collect();
                    for v in versions {
                        touched += 1;
                        if v == 1 {
                            counts.inserted += 1;
                        } else {
                            counts.updated += 1;
                        }
                    }
                }
                Counting::RowidGrowth(_) => {
                    touched += qb
                        .build()
                        .execute(&mut *tx)
                        .await
                        .op("writing a batch")?
                        .rows_affected();
                }
            }
        }
        if let Counting::RowidGrowth(table) = counting {
            let rowid_after: i64 = sqlx::query_scalar(max_rowid(table))
                .fetch_one(&mut *tx)
                .await
                .op("reading the largest rowid")?;
            counts.inserted = (rowid_after - rowid_before).max(0) as u64;
            counts.updated = touched.saturating_sub(counts.inserted);
        }
        counts.unchanged = batch.len() as u64 - touched.min(batch.len() as u64);
        if touched > 0 {
            Self::bump_version(&mut tx).await?;
        }
        tx.commit().await.op("committing a batch")?;
        Ok(counts)
    }
}

/// How [`SqliteStore::upsert_chunks`] tells new rows from updated ones.
#[derive(Clone, Copy)]
enum Counting {
    /// `RETURNING version`: works for every table.
    Returning,
    /// The growth of `max(rowid)` of this table, whose rowids SQLite assigns.
    RowidGrowth(&'static str),
}

fn changed_clause(table: &str, cols: &[&str]) -> String {
    let set: Vec<String> = cols.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    let differs: Vec<String> = cols
        .iter()
        .map(|c| format!("{table}.{c} IS NOT excluded.{c}"))
        .collect();
    format!(
        " SET {}, version = {table}.version + 1 WHERE {}",
        set.join(", "),
        differs.join(" OR ")
    )
}

pub(crate) fn coords_to_blob(ls: &LineString<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(ls.0.len() * 16);
    for c in &ls.0 {
        out.extend_from_slice(&c.x.to_le_bytes());
        out.extend_from_slice(&c.y.to_le_bytes());
    }
    out
}

pub(crate) fn blob_to_coords(b: &[u8]) -> StoreResult<LineString<f64>> {
    if b.len() % 16 != 0 {
        return Err(StoreError::Corrupt(format!(
            "walkway geometry of {} bytes is not a list of coordinate pairs",
            b.len()
        )));
    }
    Ok(LineString(
        b.chunks_exact(16)
            .map(|c| Coord {
                x: f64::from_le_bytes(c[0..8].try_into().expect("8 bytes")),
                y: f64::from_le_bytes(c[8..16].try_into().expect("8 bytes")),
            })
            .collect(),
    ))
}

pub(crate) fn utc_from_secs(secs: i64) -> StoreResult<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {secs} out of range")))
}

/// One process on the file: the defaults (polling, the process's own submission limit, every job
/// lock granted).
impl super::Coordination for SqliteStore {}

/// An incident as the `incidents` table holds it.
fn incident_from_row(r: &SqliteRow) -> StoreResult<Incident> {
    let secs: i64 = r.get(2);
    let off: i32 = r.get(3);
    let offset = FixedOffset::east_opt(off)
        .ok_or_else(|| StoreError::Corrupt(format!("UTC offset {off} s")))?;
    let grp: String = r.get(5);
    let prec: String = r.get(9);
    let tp: String = r.get(12);
    let to: Option<i64> = r.get(13);
    Ok(Incident {
        source: r.get(0),
        source_id: r.get(1),
        occurred_at: utc_from_secs(secs)?.with_timezone(&offset),
        time_precision: TimePrecision::parse(&tp)
            .ok_or_else(|| StoreError::Corrupt(format!("time precision {tp:?}")))?,
        occurred_to: to
            .map(|t| utc_from_secs(t).map(|t| t.with_timezone(&offset)))
            .transpose()?,
        category: r.get(4),
        group: CategoryGroup::parse(&grp)
            .ok_or_else(|| StoreError::Corrupt(format!("category group {grp:?}")))?,
        label: r.get(6),
        location: Point::new(r.get(7), r.get(8)),
        precision: LocationPrecision::parse(&prec)
            .ok_or_else(|| StoreError::Corrupt(format!("precision {prec:?}")))?,
        place: r.get(10),
        summary: r.get(11),
    })
}

#[async_trait]
impl DataStore for SqliteStore {
    async fn upsert_incidents(&self, batch: &[Incident]) -> StoreResult<WriteCounts> {
        const COLS: [&str; 13] = [
            "occurred_utc",
            "utc_offset_s",
            "time_precision",
            "occurred_to_utc",
            "category",
            "grp",
            "label",
            "x",
            "y",
            "precision",
            "place",
            "summary",
            "source_id",
        ];
        let tail = format!(
            " ON CONFLICT (source, source_id) DO UPDATE{}",
            changed_clause("incidents", &COLS[..12])
        );
        self.upsert_chunks(
            batch,
            14,
            "INSERT INTO incidents (source, source_id, occurred_utc, utc_offset_s, time_precision, occurred_to_utc, category, grp, label, x, y, precision, place, summary) ",
            &tail,
            Counting::RowidGrowth("incidents"),
            |mut b, i: &Incident| {
                b.push_bind(i.source.clone())
                    .push_bind(i.source_id.clone())
                    .push_bind(i.occurred_at.timestamp())
                    .push_bind(i.occurred_at.offset().local_minus_utc())
                    .push_bind(i.time_precision.as_str())
                    .push_bind(i.occurred_to.map(|t| t.timestamp()))
                    .push_bind(i.category.clone())
                    .push_bind(i.group.as_str())
                    .push_bind(i.label.clone())
                    .push_bind(i.location.x())
                    .push_bind(i.location.y())
                    .push_bind(i.precision.as_str())
                    .push_bind(i.place.clone())
                    .push_bind(i.summary.clone());
            },
        )
        .await
    }

    async fn upsert_walkways(&self, batch: &[Walkway]) -> StoreResult<WriteCounts> {
        let tail = format!(
            " ON CONFLICT (id) DO UPDATE{}",
            changed_clause("walkways", &["kind", "lit", "name", "coords"])
        );
        self.upsert_chunks(
            batch,
            5,
            "INSERT INTO walkways (id, kind, lit, name, coords) ",
            &tail,
            Counting::Returning,
            |mut b, w: &Walkway| {
                b.push_bind(w.id)
                    .push_bind(w.kind.clone())
                    .push_bind(w.lit.clone())
                    .push_bind(w.name.clone())
                    .push_bind(coords_to_blob(&w.geometry));
            },
        )
        .await
    }

    async fn upsert_lamps(&self, batch: &[Lamp]) -> StoreResult<WriteCounts> {
        let tail = format!(
            " ON CONFLICT (id) DO UPDATE{}",
            changed_clause(
                "lamps",
                &[
                    "x",
                    "y",
                    "height_m",
                    "lumen",
                    "watt",
                    "status",
                    "source",
                    "reference"
                ]
            )
        );
        self.upsert_chunks(
            batch,
            9,
            "INSERT INTO lamps (id, x, y, height_m, lumen, watt, status, source, reference) ",
            &tail,
            Counting::Returning,
            |mut b, l: &Lamp| {
                b.push_bind(l.id.clone())
                    .push_bind(l.location.x())
                    .push_bind(l.location.y())
                    .push_bind(l.height_m)
                    .push_bind(l.lumen)
                    .push_bind(l.watt)
                    .push_bind(l.status.as_str())
                    .push_bind(l.source.clone())
                    .push_bind(l.reference.clone());
            },
        )
        .await
    }

    async fn upsert_areas(&self, batch: &[Area]) -> StoreResult<WriteCounts> {
        let tail = format!(
            " ON CONFLICT (source, name) DO UPDATE{}",
            changed_clause("areas", &["geometry"])
        );
        let encoded: Vec<(String, String, String)> = batch
            .iter()
            .map(|a| {
                let g = geojson::Geometry::from(&a.geometry);
                (a.source.clone(), a.name.clone(), g.to_string())
            })
            .collect();
        self.upsert_chunks(
            &encoded,
            3,
            "INSERT INTO areas (source, name, geometry) ",
            &tail,
            Counting::Returning,
            |mut b, (source, name, geom)| {
                b.push_bind(source.clone())
                    .push_bind(name.clone())
                    .push_bind(geom.clone());
            },
        )
        .await
    }

    async fn upsert_bra(&self, batch: &[BraStat]) -> StoreResult<WriteCounts> {
        let tail = format!(
            " ON CONFLICT (year, municipality) DO UPDATE{}",
            changed_clause("bra_stats", &["count", "per_100k"])
        );
        self.upsert_chunks(
            batch,
            4,
            "INSERT INTO bra_stats (year, municipality, count, per_100k) ",
            &tail,
            Counting::Returning,
            |mut b, s: &BraStat| {
                b.push_bind(s.year)
                    .push_bind(s.municipality.clone())
                    .push_bind(s.count)
                    .push_bind(s.per_100k);
            },
        )
        .await
    }

    async fn for_each_incident(
        &self,
        each: &mut (dyn FnMut(Incident) -> StoreResult<()> + Send),
    ) -> StoreResult<()> {
        let mut rows = sqlx::query(
            "SELECT source, source_id, occurred_utc, utc_offset_s, category, grp, label, x, y, precision, place, summary, time_precision, occurred_to_utc FROM incidents ORDER BY id",
        )
        .fetch(&self.pool);
        while let Some(r) = rows.try_next().await.op("loading incidents")? {
            each(incident_from_row(&r)?)?;
        }
        Ok(())
    }

    async fn load_walkways(&self) -> StoreResult<Vec<Walkway>> {
        let rows = sqlx::query("SELECT id, kind, lit, name, coords FROM walkways ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .op("loading walkways")?;
        rows.iter()
            .map(|r| {
                let blob: Vec<u8> = r.get(4);
                Ok(Walkway {
                    id: r.get(0),
                    kind: r.get(1),
                    lit: r.get(2),
                    name: r.get(3),
                    geometry: blob_to_coords(&blob)?,
                })
            })
            .collect()
    }

    async fn load_lamps(&self) -> StoreResult<Vec<Lamp>> {
        let rows = sqlx::query(
            "SELECT id, x, y, height_m, lumen, watt, status, source, reference FROM lamps ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .op("loading lamps")?;
        rows.iter()
            .map(|r| {
                let status: String = r.get(6);
                Ok(Lamp {
                    id: r.get(0),
                    location: Point::new(r.get(1), r.get(2)),
                    height_m: r.get(3),
                    lumen: r.get(4),
                    watt: r.get(5),
                    status: match status.as_str() {
                        "broken" => LampStatus::Broken,
                        _ => LampStatus::Working,
                    },
                    source: r.get(7),
                    reference: r.get(8),
                })
            })
            .collect()
    }

    async fn load_areas(&self) -> StoreResult<Vec<Area>> {
        let rows = sqlx::query("SELECT id, source, name, geometry FROM areas ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .op("loading areas")?;
        rows.iter()
            .map(|r| {
                let text: String = r.get(3);
                let geom: geojson::Geometry = text
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("area geometry: {e}")))?;
                let mp: MultiPolygon<f64> = geom
                    .try_into()
                    .map_err(|e| StoreError::Corrupt(format!("area geometry: {e}")))?;
                Ok(Area {
                    id: r.get(0),
                    source: r.get(1),
                    name: r.get(2),
                    geometry: mp,
                })
            })
            .collect()
    }

    async fn load_bra(&self) -> StoreResult<Vec<BraStat>> {
        let rows = sqlx::query(
            "SELECT year, municipality, count, per_100k FROM bra_stats ORDER BY year, municipality",
        )
        .fetch_all(&self.pool)
        .await
        .op("loading BRÅ statistics")?;
        Ok(rows
            .iter()
            .map(|r| BraStat {
                year: r.get(0),
                municipality: r.get(1),
                count: r.get(2),
                per_100k: r.get(3),
            })
            .collect())
    }

    async fn counts(&self) -> StoreResult<DataCounts> {
        let r = sqlx::query(
            "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM walkways), (SELECT count(*) FROM lamps), (SELECT count(*) FROM areas), (SELECT count(*) FROM bra_stats), (SELECT count(*) FROM reports)",
        )
        .fetch_one(&self.pool)
        .await
        .op("counting rows")?;
        let n = |i: usize| r.get::<i64, _>(i) as u64;
        Ok(DataCounts {
            incidents: n(0),
            walkways: n(1),
            lamps: n(2),
            areas: n(3),
            bra_stats: n(4),
            reports: n(5),
        })
    }

    async fn data_version(&self) -> StoreResult<i64> {
        let v: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'data_version'")
            .fetch_one(&self.pool)
            .await
            .op("reading the data version")?;
        v.parse()
            .map_err(|_| StoreError::Corrupt(format!("data_version {v:?}")))
    }

    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .op("reading meta data")?)
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .op("writing meta data")?;
        Ok(())
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, t: &StoredToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tokens (id, role, secret_hash, label, created_utc, revoked) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.id)
        .bind(t.role.as_str())
        .bind(&t.secret_hash)
        .bind(&t.label)
        .bind(Utc::now().timestamp())
        .bind(t.revoked)
        .execute(&self.pool)
        .await
        .op("storing a token")?;
        Ok(())
    }

    async fn find_token(&self, id: &str) -> StoreResult<Option<StoredToken>> {
        let row =
            sqlx::query("SELECT id, role, secret_hash, label, revoked FROM tokens WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .op("finding a token")?;
        row.map(|r| token_from_row(&r)).transpose()
    }

    async fn revoke_token(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tokens SET revoked = 1 WHERE id = ? AND revoked = 0")
            .bind(id)
            .execute(&self.pool)
            .await
            .op("revoking a token")?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_tokens(&self) -> StoreResult<Vec<StoredToken>> {
        let rows = sqlx::query(
            "SELECT id, role, secret_hash, label, revoked FROM tokens ORDER BY created_utc",
        )
        .fetch_all(&self.pool)
        .await
        .op("listing tokens")?;
        rows.iter().map(token_from_row).collect()
    }

    async fn token_generation(&self) -> StoreResult<i64> {
        // Kept by the triggers of migration 0003 on every insert, update and delete of tokens.
        let v: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'token_generation'")
            .fetch_one(&self.pool)
            .await
            .op("reading the token generation")?;
        v.parse()
            .map_err(|_| StoreError::Corrupt(format!("token_generation {v:?}")))
    }
}

fn token_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<StoredToken> {
    let role: String = r.get(1);
    Ok(StoredToken {
        id: r.get(0),
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        secret_hash: r.get(2),
        label: r.get(3),
        revoked: r.get(4),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use geo::Point;

    use super::*;
    use crate::category::CategoryGroup;
    use crate::model::LocationPrecision;

    fn incident(id: &str, label: &str) -> Incident {
        Incident {
            source: "test".into(),
            source_id: id.into(),
            occurred_at: chrono::FixedOffset::east_opt(3600)
                .unwrap()
                .with_ymd_and_hms(2026, 1, 15, 22, 10, 0)
                .unwrap(),
            time_precision: Default::default(),
            occurred_to: None,
            category: "theft".into(),
            group: CategoryGroup::Property,
            label: label.into(),
            location: Point::new(674_000.0, 6_593_000.0),
            precision: LocationPrecision::Exact,
            place: None,
            summary: None,
        }
    }

    /// New, changed and unchanged rows in one batch are counted apart, also when the rows
    /// with the largest rowids are gone (new rows then continue after the largest left).
    #[tokio::test]
    async fn incident_upserts_count_new_changed_and_unchanged_rows() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.sqlite");
        let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
        let first: Vec<Incident> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| incident(id, "Stöld"))
            .collect();
        let c = store.upsert_incidents(&first).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (4, 0, 0));
        sqlx::query("DELETE FROM incidents WHERE source_id = 'd'")
            .execute(&store.pool)
            .await
            .unwrap();
        let second = vec![
            incident("a", "Stöld"),
            incident("b", "Inbrott"),
            incident("d", "Stöld"),
            incident("e", "Stöld"),
            incident("c", "Stöld"),
        ];
        let c = store.upsert_incidents(&second).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (2, 1, 2));
        let c = store.upsert_incidents(&second).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (0, 0, 5));
    }

    /// The sqlx error stays inside this module: a locked database is a `Db` error that the
    /// batch retry still recognises as busy, a taken key is a `Conflict`.
    #[tokio::test]
    async fn driver_errors_are_classified_without_showing_sqlx() {
        use sqlx::Connection;

        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("e.sqlite");
        let store = SqliteStore::open(db.to_str().unwrap()).await.unwrap();
        let token = StoredToken {
            id: "t1".into(),
            role: Role::Coordinator,
            secret_hash: "x".into(),
            label: "test".into(),
            revoked: false,
        };
        store.insert_token(&token).await.unwrap();
        match store.insert_token(&token).await {
            Err(StoreError::Conflict(why)) => assert!(why.starts_with("storing a token"), "{why}"),
            other => panic!("a second token with the same id gave {other:?}"),
        }

        let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let impatient = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
            .unwrap()
            .busy_timeout(Duration::ZERO);
        let mut other = sqlx::SqliteConnection::connect_with(&impatient)
            .await
            .unwrap();
        let e = sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .op("starting a write transaction")
            .unwrap_err();
        assert!(is_busy(&e), "{e}");
        assert!(matches!(
            e,
            StoreError::Db {
                op: "starting a write transaction",
                ..
            }
        ));
        assert!(e.to_string().contains("locked"), "{e}");
        assert!(std::error::Error::source(&e).is_none());
        // Not every database error is busy.
        let other_error = sqlx::query("SELECT * FROM no_such_table")
            .execute(&mut other)
            .await
            .op("reading")
            .unwrap_err();
        assert!(!is_busy(&other_error), "{other_error}");
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    }
}
