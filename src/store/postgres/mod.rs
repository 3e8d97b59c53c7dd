//! PostgreSQL with PostGIS, for several server processes sharing one database.
//!
//! Tables carry PostGIS geometry columns in EPSG:3006 with GiST indexes and readable column names
//! (`migrations/postgres/`), so that a GIS officer can open them in QGIS or psql. Contacts stay in
//! their own table and tokens are kept only as hashes, as in the SQLite file.

mod coord;
mod copy;
mod measures;
mod patrol;
mod pledges;
mod reports;
#[cfg(test)]
pub(crate) mod testdb;
mod wkb;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Utc};
use futures_util::TryStreamExt;
use sqlx::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, PgPool, Row};

use self::copy::CopyBuf;
use super::{DataCounts, DataStore, StoreError, StoreResult, StoredToken, TokenStore, WriteCounts};
use crate::category::CategoryGroup;
use crate::model::{
    Area, BraStat, Incident, Lamp, LampStatus, LocationPrecision, Role, TimePrecision, Walkway,
};

/// How long a request waits for a free connection before the store reports the database as
/// unavailable (never a hang).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// sqlx's errors become [`StoreError`]s here and nowhere else: `op` says what was being done, a
/// unique or primary key violation is a [`StoreError::Conflict`], anything else a
/// [`StoreError::Db`] carrying the driver's error.
pub(crate) trait Op<T> {
    fn op(self, op: &'static str) -> StoreResult<T>;
}

impl<T> Op<T> for Result<T, sqlx::Error> {
    fn op(self, op: &'static str) -> StoreResult<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("{op}: {}", d.message()))
            }
            _ if unavailable(&e) => StoreError::Unavailable {
                op,
                cause: Box::new(e),
            },
            _ => StoreError::Db {
                op,
                cause: Box::new(e),
            },
        })
    }
}

/// Errors that mean the server is out of reach for now, not that the statement was wrong: no
/// connection (refused, reset, timed out, none free within [`ACQUIRE_TIMEOUT`]) or PostgreSQL's
/// classes 08 (connection exception) and 57P (shutting down, starting up).
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
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

pub struct PgStore {
    pool: PgPool,
    /// What the connection that `LISTEN`s for other processes' commits has heard (see
    /// `coord.rs`), started on the first wait.
    feed: tokio::sync::OnceCell<std::sync::Arc<coord::Feed>>,
    /// Per imported table (`Table::slot`): the last batch met keys already stored, so the next
    /// one goes through the staging table rather than trying a straight `COPY` first.
    expect_conflicts: [AtomicBool; 5],
    /// This store's connections' `application_name`, "lagesbild <random id>": the change
    /// notifications name it, so that the server can tell its own commits from the others'.
    origin: String,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and brings the schema up to date.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let opts: PgConnectOptions = url
            .parse::<PgConnectOptions>()
            .op("reading the database URL")?;
        Self::open_with(opts).await
    }

    /// Connects with `opts` and brings the schema up to date.
    pub async fn open_with(opts: PgConnectOptions) -> StoreResult<Self> {
        let origin = format!("lagesbild {:016x}", rand::random::<u64>());
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts.application_name(&origin))
            .await
            .op("connecting to PostgreSQL")?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .op("bringing the schema up to date")?;
        Ok(Self {
            pool,
            feed: tokio::sync::OnceCell::new(),
            expect_conflicts: Default::default(),
            origin,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Rows are encoded into the COPY stream this many bytes at a time, so that a batch is never held
/// twice in memory.
const COPY_CHUNK: usize = 1 << 20;

/// The staging table every batch is copied into first; temporary, so private to the connection,
/// and dropped at the end of the batch's transaction.
const STAGE: &str = "lagesbild_stage";
/// The staging rows numbered by their occurrence of a key, when a batch holds a key twice.
const STAGE_ROUNDS: &str = "lagesbild_stage_rounds";

/// "ON CONFLICT DO UPDATE command cannot affect row a second time": a key twice in one batch.
const CARDINALITY_VIOLATION: &str = "21000";

/// How one kind of imported row is staged and upserted.
struct Table {
    /// The target table.
    name: &'static str,
    /// Its place in [`PgStore::expect_conflicts`].
    slot: usize,
    /// The staging table's columns: `ord bigint` (the row's place in the batch) first, then one
    /// per field the encoder writes, in its order.
    stage_columns: &'static str,
    /// The unique key the upsert conflicts on.
    key: &'static str,
    /// The target's key columns, then the columns that an update compares and sets.
    key_columns: &'static [&'static str],
    value_columns: &'static [&'static str],
    /// What is selected from the staging table for `key_columns` and `value_columns`, in order.
    select: &'static str,
}

impl Table {
    /// One set-based upsert from `source` (`filter` picks the rows), answering the rows inserted
    /// (version 1) and the rows written: unchanged rows are skipped by the `WHERE` and return
    /// nothing.
    fn upsert_sql(&self, source: &str, filter: &str) -> String {
        let cols: Vec<&str> = self
            .key_columns
            .iter()
            .chain(self.value_columns)
            .copied()
            .collect();
        let set: Vec<String> = self
            .value_columns
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let old: Vec<String> = self
            .value_columns
            .iter()
            .map(|c| format!("t.{c}"))
            .collect();
        let new: Vec<String> = self
            .value_columns
            .iter()
            .map(|c| format!("excluded.{c}"))
            .collect();
        format!(
            "WITH written AS (INSERT INTO {name} AS t ({cols}) SELECT {select} FROM {source} {filter} \
             ON CONFLICT ({key}) DO UPDATE SET {set}, version = t.version + 1 \
             WHERE ({old}) IS DISTINCT FROM ({new}) RETURNING t.version) \
             SELECT count(*) FILTER (WHERE version = 1), count(*) FROM written",
            name = self.name,
            cols = cols.join(", "),
            select = self.select,
            key = self.key,
            set = set.join(", "),
            old = old.join(", "),
            new = new.join(", "),
        )
    }
}

const INCIDENTS: Table = Table {
    slot: 0,
    name: "incidents",
    stage_columns: "ord bigint, source text, source_id text, occurred_at timestamptz, \
        utc_offset_s integer, time_precision text, occurred_to timestamptz, category text, \
        category_group text, label text, geom bytea, location_precision text, place text, \
        summary text",
    key: "source, source_id",
    key_columns: &["source", "source_id"],
    value_columns: &[
        "occurred_at",
        "utc_offset_s",
        "time_precision",
        "occurred_to",
        "category",
        "category_group",
        "label",
        "geom",
        "location_precision",
        "place",
        "summary",
    ],
    select: "source, source_id, occurred_at, utc_offset_s, time_precision, occurred_to, \
        category, category_group, label, ST_GeomFromWKB(geom, 3006), location_precision, place, \
        summary",
};

const WALKWAYS: Table = Table {
    slot: 1,
    name: "walkways",
    stage_columns: "ord bigint, id bigint, kind text, lit text, name text, geom bytea",
    key: "id",
    key_columns: &["id"],
    value_columns: &["kind", "lit", "name", "geom"],
    select: "id, kind, lit, name, ST_GeomFromWKB(geom, 3006)",
};

const LAMPS: Table = Table {
    slot: 2,
    name: "lamps",
    stage_columns: "ord bigint, id text, geom bytea, height_m double precision, \
        lumen double precision, watt double precision, status text, source text, reference text",
    key: "id",
    key_columns: &["id"],
    value_columns: &[
        "geom",
        "height_m",
        "lumen",
        "watt",
        "status",
        "source",
        "reference",
    ],
    select: "id, ST_GeomFromWKB(geom, 3006), height_m, lumen, watt, status, source, reference",
};

const AREAS: Table = Table {
    slot: 3,
    name: "areas",
    stage_columns: "ord bigint, source text, name text, geom bytea",
    key: "source, name",
    key_columns: &["source", "name"],
    value_columns: &["geom"],
    select: "source, name, ST_GeomFromWKB(geom, 3006)",
};

const BRA: Table = Table {
    slot: 4,
    name: "bra_stats",
    stage_columns: "ord bigint, year integer, municipality text, count bigint, \
        per_100k double precision",
    key: "year, municipality",
    key_columns: &["year", "municipality"],
    value_columns: &["count", "per_100k"],
    select: "year, municipality, count, per_100k",
};

fn is_cardinality_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some(CARDINALITY_VIOLATION))
}

/// Counts a change of the imported data, in the transaction that makes it.
async fn bump_data_version(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'data_version'")
        .execute(conn)
        .await
        .op("counting the data version")?;
    Ok(())
}

/// Streams `batch` through `statement` (a `COPY … FROM STDIN (FORMAT binary)`) in chunks of
/// [`COPY_CHUNK`], each row numbered first when `ord`. A row that cannot be encoded aborts the
/// `COPY` and is the outer error; what the server says of the rows is the inner result (the rows
/// copied), so that the caller can tell a key already stored from other failures.
async fn copy_rows<T>(
    conn: &mut PgConnection,
    statement: &str,
    mut buf: CopyBuf,
    batch: &[T],
    fields: i16,
    ord: bool,
    encode: &impl Fn(&mut CopyBuf, &T) -> StoreResult<()>,
) -> StoreResult<Result<u64, sqlx::Error>> {
    let mut copy = match conn.copy_in_raw(statement).await {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    for (i, row) in batch.iter().enumerate() {
        if ord {
            buf.row(fields + 1);
            buf.i64(i as i64);
        } else {
            buf.row(fields);
        }
        if let Err(e) = encode(&mut buf, row).and_then(|()| buf.check()) {
            copy.abort("a row could not be encoded")
                .await
                .op("aborting the COPY of a batch")?;
            return Err(e);
        }
        if buf.len() >= COPY_CHUNK {
            if let Err(e) = copy.send(buf.chunk()).await {
                return Ok(Err(e));
            }
            buf.clear();
        }
    }
    buf.trailer();
    if let Err(e) = copy.send(buf.chunk()).await {
        return Ok(Err(e));
    }
    drop(buf);
    Ok(copy.finish().await)
}

impl PgStore {
    /// Writes `batch` into `table` in one transaction (`encode` writes one row's fields, in
    /// `stage_columns` order after `ord`, `fields` of them).
    ///
    /// While the batches of a table bring only new keys, each one is copied straight into the
    /// table with binary `COPY`, which is what `psql \copy` does and the fastest way in. When a
    /// batch holds a key already stored (or one key twice), that `COPY` fails on the unique key;
    /// it is rolled back to a savepoint, and the batch goes the general way: `COPY` into a
    /// temporary staging table, then one `INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE … IS
    /// DISTINCT FROM …`, so that unchanged rows cost no write. The store then stays on the
    /// general way for that table until a batch inserts nothing but new rows again.
    ///
    /// A key that occurs more than once in the batch cannot be upserted by one statement;
    /// then the rows are applied in rounds (every key's first occurrence, then every second…),
    /// which counts and stores exactly what applying them one after the other would.
    async fn upsert_staged<T>(
        &self,
        table: &Table,
        batch: &[T],
        fields: i16,
        encode: impl Fn(&mut CopyBuf, &T) -> StoreResult<()>,
    ) -> StoreResult<WriteCounts> {
        let mut counts = WriteCounts::default();
        if batch.is_empty() {
            return Ok(counts);
        }
        let mut tx = self.pool.begin().await.op("starting a write transaction")?;
        let expect_conflicts = &self.expect_conflicts[table.slot];
        if !expect_conflicts.load(Ordering::Relaxed) {
            sqlx::raw_sql("SAVEPOINT lagesbild_direct")
                .execute(&mut *tx)
                .await
                .op("writing a batch")?;
            let copied = copy_rows(
                &mut tx,
                &format!(
                    "COPY {} ({}, {}) FROM STDIN (FORMAT binary)",
                    table.name,
                    table.key_columns.join(", "),
                    table.value_columns.join(", ")
                ),
                CopyBuf::for_geometry_columns(COPY_CHUNK + COPY_CHUNK / 4, 3006),
                batch,
                fields,
                false,
                &encode,
            )
            .await?;
            match copied {
                Ok(n) => {
                    counts.inserted = n;
                    bump_data_version(&mut tx).await?;
                    tx.commit().await.op("committing a batch")?;
                    return Ok(counts);
                }
                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                    sqlx::raw_sql("ROLLBACK TO SAVEPOINT lagesbild_direct")
                        .execute(&mut *tx)
                        .await
                        .op("writing a batch")?;
                    expect_conflicts.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e).op("copying a batch"),
            }
        }

        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE TEMPORARY TABLE {STAGE} ({}) ON COMMIT DROP",
            table.stage_columns
        )))
        .execute(&mut *tx)
        .await
        .op("creating the staging table")?;
        copy_rows(
            &mut tx,
            &format!("COPY {STAGE} FROM STDIN (FORMAT binary)"),
            CopyBuf::new(COPY_CHUNK + COPY_CHUNK / 4),
            batch,
            fields,
            true,
            &encode,
        )
        .await?
        .op("copying a batch")?;

        sqlx::raw_sql("SAVEPOINT lagesbild_upsert")
            .execute(&mut *tx)
            .await
            .op("writing a batch")?;
        let sql = table.upsert_sql(STAGE, "");
        let (inserted, touched): (i64, i64) =
            match sqlx::query_as(AssertSqlSafe(sql)).fetch_one(&mut *tx).await {
                Ok(r) => r,
                Err(e) if is_cardinality_violation(&e) => {
                    sqlx::raw_sql("ROLLBACK TO SAVEPOINT lagesbild_upsert")
                        .execute(&mut *tx)
                        .await
                        .op("writing a batch")?;
                    Self::upsert_rounds(&mut tx, table).await?
                }
                Err(e) => return Err(e).op("writing a batch"),
            };
        counts.inserted = inserted as u64;
        counts.updated = (touched - inserted) as u64;
        counts.unchanged = batch.len() as u64 - (touched as u64).min(batch.len() as u64);
        if touched > 0 {
            bump_data_version(&mut tx).await?;
        }
        tx.commit().await.op("committing a batch")?;
        if counts.inserted == batch.len() as u64 {
            expect_conflicts.store(false, Ordering::Relaxed);
        }
        Ok(counts)
    }

    /// The staged rows of a batch that holds some key more than once, upserted in rounds of
    /// distinct keys in the order of the batch. Answers (inserted, written) like one upsert.
    async fn upsert_rounds(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        table: &Table,
    ) -> StoreResult<(i64, i64)> {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE TEMPORARY TABLE {STAGE_ROUNDS} ON COMMIT DROP AS \
             SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY ord) AS round FROM {STAGE}; \
             CREATE INDEX ON {STAGE_ROUNDS} (round); ANALYZE {STAGE_ROUNDS}",
            key = table.key
        )))
        .execute(&mut **tx)
        .await
        .op("numbering the repeated keys of a batch")?;
        let rounds: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT coalesce(max(round), 0) FROM {STAGE_ROUNDS}"
        )))
        .fetch_one(&mut **tx)
        .await
        .op("numbering the repeated keys of a batch")?;
        let sql = table.upsert_sql(STAGE_ROUNDS, "WHERE round = $1");
        let (mut inserted, mut touched) = (0, 0);
        for round in 1..=rounds {
            let (i, t): (i64, i64) = sqlx::query_as(AssertSqlSafe(sql.clone()))
                .bind(round)
                .fetch_one(&mut **tx)
                .await
                .op("writing a batch")?;
            inserted += i;
            touched += t;
        }
        Ok((inserted, touched))
    }

    async fn meta_counter(&self, key: &'static str, op: &'static str) -> StoreResult<i64> {
        let v: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .op(op)?;
        v.parse()
            .map_err(|_| StoreError::Corrupt(format!("{key} {v:?}")))
    }
}

fn with_offset(t: DateTime<Utc>, offset: FixedOffset) -> DateTime<FixedOffset> {
    t.with_timezone(&offset)
}

fn incident_from_row(r: &PgRow) -> StoreResult<Incident> {
    let get = |e: sqlx::Error| StoreError::Corrupt(format!("incident row: {e}"));
    let off: i32 = r.try_get("utc_offset_s").map_err(get)?;
    let offset = FixedOffset::east_opt(off)
        .ok_or_else(|| StoreError::Corrupt(format!("UTC offset {off} s")))?;
    let group: String = r.try_get("category_group").map_err(get)?;
    let prec: String = r.try_get("location_precision").map_err(get)?;
    let tp: String = r.try_get("time_precision").map_err(get)?;
    let at: DateTime<Utc> = r.try_get("occurred_at").map_err(get)?;
    let to: Option<DateTime<Utc>> = r.try_get("occurred_to").map_err(get)?;
    let geom: &[u8] = r.try_get("geom").map_err(get)?;
    Ok(Incident {
        source: r.try_get("source").map_err(get)?,
        source_id: r.try_get("source_id").map_err(get)?,
        occurred_at: with_offset(at, offset),
        time_precision: TimePrecision::parse(&tp)
            .ok_or_else(|| StoreError::Corrupt(format!("time precision {tp:?}")))?,
        occurred_to: to.map(|t| with_offset(t, offset)),
        category: r.try_get("category").map_err(get)?,
        group: CategoryGroup::parse(&group)
            .ok_or_else(|| StoreError::Corrupt(format!("category group {group:?}")))?,
        label: r.try_get("label").map_err(get)?,
        location: wkb::read_point(geom, "incident")?,
        precision: LocationPrecision::parse(&prec)
            .ok_or_else(|| StoreError::Corrupt(format!("location precision {prec:?}")))?,
        place: r.try_get("place").map_err(get)?,
        summary: r.try_get("summary").map_err(get)?,
    })
}

/// Streams the rows of `sql` through `convert`, never holding more than one row of the driver's.
async fn load_all<T>(
    pool: &PgPool,
    sql: &'static str,
    op: &'static str,
    capacity_sql: &'static str,
    convert: impl Fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let n: i64 = sqlx::query_scalar(capacity_sql)
        .fetch_one(pool)
        .await
        .op(op)?;
    let mut out = Vec::with_capacity(n.max(0) as usize);
    let mut rows = sqlx::query(sql).fetch(pool);
    while let Some(r) = rows.try_next().await.op(op)? {
        out.push(convert(&r)?);
    }
    Ok(out)
}

#[async_trait]
impl DataStore for PgStore {
    async fn upsert_incidents(&self, batch: &[Incident]) -> StoreResult<WriteCounts> {
        self.upsert_staged(&INCIDENTS, batch, 13, |b, i| {
            b.text(&i.source);
            b.text(&i.source_id);
            b.timestamptz(&i.occurred_at);
            b.i32(i.occurred_at.offset().local_minus_utc());
            b.text(i.time_precision.as_str());
            b.opt_timestamptz(i.occurred_to.as_ref());
            b.text(&i.category);
            b.text(i.group.as_str());
            b.text(&i.label);
            b.geometry(|out| {
                wkb::point(out, i.location);
                Ok(())
            })?;
            b.text(i.precision.as_str());
            b.opt_text(i.place.as_deref());
            b.opt_text(i.summary.as_deref());
            Ok(())
        })
        .await
    }

    async fn upsert_walkways(&self, batch: &[Walkway]) -> StoreResult<WriteCounts> {
        self.upsert_staged(&WALKWAYS, batch, 5, |b, w| {
            b.i64(w.id);
            b.text(&w.kind);
            b.opt_text(w.lit.as_deref());
            b.opt_text(w.name.as_deref());
            b.geometry(|out| wkb::linestring(out, &w.geometry))
        })
        .await
    }

    async fn upsert_lamps(&self, batch: &[Lamp]) -> StoreResult<WriteCounts> {
        self.upsert_staged(&LAMPS, batch, 8, |b, l| {
            b.text(&l.id);
            b.geometry(|out| {
                wkb::point(out, l.location);
                Ok(())
            })?;
            b.opt_f64(l.height_m);
            b.opt_f64(l.lumen);
            b.opt_f64(l.watt);
            b.text(l.status.as_str());
            b.text(&l.source);
            b.opt_text(l.reference.as_deref());
            Ok(())
        })
        .await
    }

    async fn upsert_areas(&self, batch: &[Area]) -> StoreResult<WriteCounts> {
        self.upsert_staged(&AREAS, batch, 3, |b, a| {
            b.text(&a.source);
            b.text(&a.name);
            b.geometry(|out| wkb::multipolygon(out, &a.geometry))
        })
        .await
    }

    async fn upsert_bra(&self, batch: &[BraStat]) -> StoreResult<WriteCounts> {
        self.upsert_staged(&BRA, batch, 4, |b, s| {
            b.i32(s.year);
            b.text(&s.municipality);
            b.i64(s.count);
            b.opt_f64(s.per_100k);
            Ok(())
        })
        .await
    }

    async fn for_each_incident(
        &self,
        each: &mut (dyn FnMut(Incident) -> StoreResult<()> + Send),
    ) -> StoreResult<()> {
        let mut rows = sqlx::query(
            "SELECT source, source_id, occurred_at, utc_offset_s, time_precision, occurred_to, \
             category, category_group, label, ST_AsBinary(geom) AS geom, location_precision, \
             place, summary FROM incidents ORDER BY id",
        )
        .fetch(&self.pool);
        while let Some(r) = rows.try_next().await.op("loading incidents")? {
            each(incident_from_row(&r)?)?;
        }
        Ok(())
    }

    async fn load_walkways(&self) -> StoreResult<Vec<Walkway>> {
        load_all(
            &self.pool,
            "SELECT id, kind, lit, name, ST_AsBinary(geom) AS geom FROM walkways ORDER BY id",
            "loading walkways",
            "SELECT count(*) FROM walkways",
            |r| {
                let get = |e: sqlx::Error| StoreError::Corrupt(format!("walkway row: {e}"));
                let geom: &[u8] = r.try_get("geom").map_err(get)?;
                Ok(Walkway {
                    id: r.try_get("id").map_err(get)?,
                    kind: r.try_get("kind").map_err(get)?,
                    lit: r.try_get("lit").map_err(get)?,
                    name: r.try_get("name").map_err(get)?,
                    geometry: wkb::read_linestring(geom, "walkway")?,
                })
            },
        )
        .await
    }

    async fn load_lamps(&self) -> StoreResult<Vec<Lamp>> {
        load_all(
            &self.pool,
            "SELECT id, ST_AsBinary(geom) AS geom, height_m, lumen, watt, status, source, \
             reference FROM lamps ORDER BY id",
            "loading lamps",
            "SELECT count(*) FROM lamps",
            |r| {
                let get = |e: sqlx::Error| StoreError::Corrupt(format!("lamp row: {e}"));
                let geom: &[u8] = r.try_get("geom").map_err(get)?;
                let status: String = r.try_get("status").map_err(get)?;
                Ok(Lamp {
                    id: r.try_get("id").map_err(get)?,
                    location: wkb::read_point(geom, "lamp")?,
                    height_m: r.try_get("height_m").map_err(get)?,
                    lumen: r.try_get("lumen").map_err(get)?,
                    watt: r.try_get("watt").map_err(get)?,
                    status: match status.as_str() {
                        "working" => LampStatus::Working,
                        "broken" => LampStatus::Broken,
                        other => {
                            return Err(StoreError::Corrupt(format!("lamp status {other:?}")));
                        }
                    },
                    source: r.try_get("source").map_err(get)?,
                    reference: r.try_get("reference").map_err(get)?,
                })
            },
        )
        .await
    }

    async fn load_areas(&self) -> StoreResult<Vec<Area>> {
        load_all(
            &self.pool,
            "SELECT id, source, name, ST_AsBinary(geom) AS geom FROM areas ORDER BY id",
            "loading areas",
            "SELECT count(*) FROM areas",
            |r| {
                let get = |e: sqlx::Error| StoreError::Corrupt(format!("area row: {e}"));
                let geom: &[u8] = r.try_get("geom").map_err(get)?;
                Ok(Area {
                    id: r.try_get("id").map_err(get)?,
                    source: r.try_get("source").map_err(get)?,
                    name: r.try_get("name").map_err(get)?,
                    geometry: wkb::read_multipolygon(geom, "area")?,
                })
            },
        )
        .await
    }

    async fn load_bra(&self) -> StoreResult<Vec<BraStat>> {
        load_all(
            &self.pool,
            "SELECT year, municipality, count, per_100k FROM bra_stats ORDER BY year, municipality",
            "loading BRÅ statistics",
            "SELECT count(*) FROM bra_stats",
            |r| {
                let get = |e: sqlx::Error| StoreError::Corrupt(format!("BRÅ row: {e}"));
                Ok(BraStat {
                    year: r.try_get("year").map_err(get)?,
                    municipality: r.try_get("municipality").map_err(get)?,
                    count: r.try_get("count").map_err(get)?,
                    per_100k: r.try_get("per_100k").map_err(get)?,
                })
            },
        )
        .await
    }

    async fn counts(&self) -> StoreResult<DataCounts> {
        let r = sqlx::query(
            "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM walkways), \
             (SELECT count(*) FROM lamps), (SELECT count(*) FROM areas), \
             (SELECT count(*) FROM bra_stats), (SELECT count(*) FROM reports)",
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
        self.meta_counter("data_version", "reading the data version")
            .await
    }

    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .op("reading meta data")
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
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
impl TokenStore for PgStore {
    async fn insert_token(&self, t: &StoredToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tokens (id, role, secret_hash, label, revoked) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&t.id)
        .bind(t.role.as_str())
        .bind(&t.secret_hash)
        .bind(&t.label)
        .bind(t.revoked)
        .execute(&self.pool)
        .await
        .op("storing a token")?;
        Ok(())
    }

    async fn find_token(&self, id: &str) -> StoreResult<Option<StoredToken>> {
        let row =
            sqlx::query("SELECT id, role, secret_hash, label, revoked FROM tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .op("finding a token")?;
        row.map(|r| token_from_row(&r)).transpose()
    }

    async fn revoke_token(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tokens SET revoked = true WHERE id = $1 AND NOT revoked")
            .bind(id)
            .execute(&self.pool)
            .await
            .op("revoking a token")?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_tokens(&self) -> StoreResult<Vec<StoredToken>> {
        let rows = sqlx::query(
            "SELECT id, role, secret_hash, label, revoked FROM tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .op("listing tokens")?;
        rows.iter().map(token_from_row).collect()
    }

    async fn token_generation(&self) -> StoreResult<i64> {
        // Kept by the trigger of migration 0001 on every insert, update and delete of tokens.
        self.meta_counter("token_generation", "reading the token generation")
            .await
    }
}

fn token_from_row(r: &PgRow) -> StoreResult<StoredToken> {
    let get = |e: sqlx::Error| StoreError::Corrupt(format!("token row: {e}"));
    let role: String = r.try_get("role").map_err(get)?;
    Ok(StoredToken {
        id: r.try_get("id").map_err(get)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        secret_hash: r.try_get("secret_hash").map_err(get)?,
        label: r.try_get("label").map_err(get)?,
        revoked: r.try_get("revoked").map_err(get)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use geo::{LineString, MultiPolygon, Point, Polygon};

    use super::testdb::test_store;
    use super::*;

    fn incident(id: &str, label: &str) -> Incident {
        Incident {
            source: "test".into(),
            source_id: id.into(),
            occurred_at: FixedOffset::east_opt(3600)
                .unwrap()
                .with_ymd_and_hms(2026, 1, 15, 22, 10, 0)
                .unwrap(),
            time_precision: TimePrecision::Exact,
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

    fn counts(c: WriteCounts) -> (u64, u64, u64) {
        (c.inserted, c.updated, c.unchanged)
    }

    /// New, changed and unchanged rows in one batch are counted apart; the same batch again
    /// changes nothing and leaves the data version alone.
    #[tokio::test]
    async fn incident_upserts_count_new_changed_and_unchanged_rows() {
        let Some((store, _db)) = test_store().await else {
            return;
        };
        let v0 = store.data_version().await.unwrap();
        let first: Vec<Incident> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| incident(id, "Stöld"))
            .collect();
        assert_eq!(
            counts(store.upsert_incidents(&first).await.unwrap()),
            (4, 0, 0)
        );
        let v1 = store.data_version().await.unwrap();
        assert_eq!(v1, v0 + 1);
        sqlx::query("DELETE FROM incidents WHERE source_id = 'd'")
            .execute(store.pool())
            .await
            .unwrap();
        let mut moved = incident("c", "Stöld");
        moved.location = Point::new(674_000.0, 6_593_000.5);
        let second = vec![
            incident("a", "Stöld"),
            incident("b", "Inbrott"),
            incident("d", "Stöld"),
            incident("e", "Stöld"),
            moved,
        ];
        assert_eq!(
            counts(store.upsert_incidents(&second).await.unwrap()),
            (2, 2, 1)
        );
        let v2 = store.data_version().await.unwrap();
        assert_eq!(v2, v1 + 1);
        assert_eq!(
            counts(store.upsert_incidents(&second).await.unwrap()),
            (0, 0, 5)
        );
        assert_eq!(store.data_version().await.unwrap(), v2, "nothing changed");
        let version: i32 =
            sqlx::query_scalar("SELECT version FROM incidents WHERE source_id = 'b'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(version, 2);
        assert_eq!(store.counts().await.unwrap().incidents, 5);
        assert_eq!(
            counts(store.upsert_incidents(&[]).await.unwrap()),
            (0, 0, 0)
        );
    }

    /// A key twice in one batch is applied in the batch's order, counted as SQLite counts it:
    /// the first occurrence inserts, a different second one updates, an identical one changes
    /// nothing.
    #[tokio::test]
    async fn repeated_keys_in_a_batch_apply_in_order() {
        let Some((store, _db)) = test_store().await else {
            return;
        };
        let batch = vec![
            incident("a", "Stöld"),
            incident("b", "Stöld"),
            incident("a", "Rån"),
            incident("b", "Stöld"),
            incident("a", "Inbrott"),
        ];
        assert_eq!(
            counts(store.upsert_incidents(&batch).await.unwrap()),
            (2, 2, 1)
        );
        let loaded = store.load_incidents().await.unwrap();
        let labels: Vec<(&str, &str)> = loaded
            .iter()
            .map(|i| (i.source_id.as_str(), i.label.as_str()))
            .collect();
        assert_eq!(labels, [("a", "Inbrott"), ("b", "Stöld")]);
        assert_eq!(
            counts(store.upsert_incidents(&batch).await.unwrap()),
            (0, 3, 2),
            "a goes Inbrott → Stöld → Rån → Inbrott, b stays"
        );
    }

    /// What is loaded is what was stored, to the bit: instants with their offsets, windows,
    /// optional fields, and every coordinate as the same f64.
    #[tokio::test]
    async fn rows_round_trip_exactly() {
        let Some((store, _db)) = test_store().await else {
            return;
        };
        let mut a = incident("a", "Misshandel, grov");
        a.location = Point::new(674_032.123_456_789_1, 6_580_321.987_654_321);
        a.place = Some("Upplands Väsby".into());
        a.summary = Some("Tab\there, \\backslash, \"quotes\"\nand a new line".into());
        let mut b = incident("b", "Inbrott");
        let tz = FixedOffset::east_opt(7200).unwrap();
        b.occurred_at = tz.with_ymd_and_hms(2026, 6, 5, 18, 0, 0).unwrap();
        b.time_precision = TimePrecision::Window;
        b.occurred_to = Some(tz.with_ymd_and_hms(2026, 6, 8, 7, 0, 0).unwrap());
        b.precision = LocationPrecision::Municipality;
        b.group = CategoryGroup::Violence;
        b.location = Point::new(0.1 + 0.2, -1e-9);
        store
            .upsert_incidents(&[a.clone(), b.clone()])
            .await
            .unwrap();
        assert_eq!(store.load_incidents().await.unwrap(), vec![a, b]);

        let walkways = vec![
            Walkway {
                id: 42,
                geometry: LineString::from(vec![
                    (674_000.25, 6_593_000.125),
                    (674_010.333_333_333_4, 6_593_020.666_666_666),
                    (674_030.1, 6_593_040.7),
                ]),
                kind: "footway".into(),
                lit: Some("yes".into()),
                name: Some("Gångvägen".into()),
            },
            Walkway {
                id: 7,
                geometry: LineString::from(vec![(1.0, 2.0), (3.0, 4.0)]),
                kind: "path".into(),
                lit: None,
                name: None,
            },
        ];
        assert_eq!(
            counts(store.upsert_walkways(&walkways).await.unwrap()),
            (2, 0, 0)
        );
        let mut by_id = walkways.clone();
        by_id.sort_by_key(|w| w.id);
        assert_eq!(store.load_walkways().await.unwrap(), by_id);
        assert_eq!(
            counts(store.upsert_walkways(&walkways).await.unwrap()),
            (0, 0, 2)
        );

        let lamps = vec![
            Lamp {
                id: "osm:1".into(),
                location: Point::new(674_001.5, 6_593_001.25),
                height_m: Some(6.0),
                lumen: None,
                watt: Some(35.5),
                status: LampStatus::Broken,
                source: "osm".into(),
                reference: Some("L-17".into()),
            },
            Lamp {
                id: "reg:2".into(),
                location: Point::new(674_002.0, 6_593_002.0),
                height_m: None,
                lumen: Some(3000.0),
                watt: None,
                status: LampStatus::Working,
                source: "reg".into(),
                reference: None,
            },
        ];
        assert_eq!(counts(store.upsert_lamps(&lamps).await.unwrap()), (2, 0, 0));
        assert_eq!(store.load_lamps().await.unwrap(), lamps);
        let mut dimmer = lamps.clone();
        dimmer[1].lumen = Some(2500.0);
        assert_eq!(
            counts(store.upsert_lamps(&dimmer).await.unwrap()),
            (0, 1, 1)
        );

        let ring = |x: f64, y: f64, d: f64| {
            LineString::from(vec![(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)])
        };
        let area = Area {
            id: 0,
            name: "Centrum".into(),
            geometry: MultiPolygon(vec![
                Polygon::new(
                    ring(674_000.0, 6_593_000.0, 100.0),
                    vec![ring(674_010.0, 6_593_010.0, 10.5)],
                ),
                Polygon::new(ring(675_000.0, 6_594_000.0, 50.25), vec![]),
            ]),
            source: "test".into(),
        };
        assert_eq!(
            counts(
                store
                    .upsert_areas(std::slice::from_ref(&area))
                    .await
                    .unwrap()
            ),
            (1, 0, 0)
        );
        let loaded = store.load_areas().await.unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(
            (loaded[0].name.as_str(), loaded[0].source.as_str()),
            ("Centrum", "test")
        );
        assert_eq!(loaded[0].geometry, area.geometry);
        assert_eq!(
            counts(store.upsert_areas(&[area]).await.unwrap()),
            (0, 0, 1)
        );

        let bra = vec![
            BraStat {
                year: 2024,
                municipality: "Sollentuna".into(),
                count: 7_012,
                per_100k: Some(9_876.5),
            },
            BraStat {
                year: 2023,
                municipality: "Sollentuna".into(),
                count: 6_900,
                per_100k: None,
            },
        ];
        assert_eq!(counts(store.upsert_bra(&bra).await.unwrap()), (2, 0, 0));
        assert_eq!(
            store.load_bra().await.unwrap(),
            vec![bra[1].clone(), bra[0].clone()]
        );
        let c = store.counts().await.unwrap();
        assert_eq!(
            (c.incidents, c.walkways, c.lamps, c.areas, c.bra_stats),
            (2, 2, 2, 1, 2)
        );
    }

    /// A GIS tool sees real geometry in EPSG:3006 at the coordinates imported.
    #[tokio::test]
    async fn gis_tools_see_points_in_sweref() {
        let Some((store, _db)) = test_store().await else {
            return;
        };
        let mut a = incident("a", "Stöld");
        a.location = Point::new(674_123.5, 6_580_456.25);
        let mut b = incident("b", "Stöld");
        b.location = Point::new(667_000.0, 6_591_000.75);
        store.upsert_incidents(&[a, b]).await.unwrap();
        let rows: Vec<(i32, String)> = sqlx::query_as(
            "SELECT ST_SRID(geom), ST_AsText(geom) FROM incidents ORDER BY source_id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(
            rows,
            [
                (3006, "POINT(674123.5 6580456.25)".to_string()),
                (3006, "POINT(667000 6591000.75)".to_string())
            ]
        );
        let w = Walkway {
            id: 1,
            geometry: LineString::from(vec![(674_000.0, 6_593_000.0), (674_003.0, 6_593_004.0)]),
            kind: "footway".into(),
            lit: None,
            name: None,
        };
        store.upsert_walkways(&[w]).await.unwrap();
        let (srid, len, ty): (i32, f64, String) = sqlx::query_as(
            "SELECT ST_SRID(geom), ST_Length(geom), GeometryType(geom) FROM walkways",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!((srid, len, ty.as_str()), (3006, 5.0, "LINESTRING"));
        // The spatial index is there for QGIS and for ST_DWithin.
        let indexed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%USING gist (geom)%'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(indexed, 4);
    }

    /// A batch with a row the schema refuses stores none of its rows and moves no version.
    #[tokio::test]
    async fn a_bad_row_stores_nothing() {
        let Some((store, _db)) = test_store().await else {
            return;
        };
        let v0 = store.data_version().await.unwrap();
        let mut bad = incident("b", "Stöld");
        // A window end on an exact time breaks the CHECK of occurred_to.
        bad.occurred_to = Some(bad.occurred_at + chrono::Duration::hours(1));
        let batch = vec![incident("a", "Stöld"), bad, incident("c", "Stöld")];
        let e = store.upsert_incidents(&batch).await.unwrap_err();
        assert!(matches!(e, StoreError::Db { .. }), "{e:?}");
        assert!(e.to_string().contains("check constraint"), "{e}");
        assert_eq!(store.counts().await.unwrap().incidents, 0);
        assert_eq!(store.data_version().await.unwrap(), v0);
        // The store (and its pooled connection) is usable afterwards.
        assert_eq!(
            counts(store.upsert_incidents(&batch[..1]).await.unwrap()),
            (1, 0, 0)
        );
        // A walkway PostGIS cannot hold (one point) fails its batch the same way.
        let one = Walkway {
            id: 1,
            geometry: LineString::from(vec![(1.0, 2.0)]),
            kind: "path".into(),
            lit: None,
            name: None,
        };
        assert!(store.upsert_walkways(&[one]).await.is_err());
        assert_eq!(store.counts().await.unwrap().walkways, 0);
    }

    /// Stored geometry that is not what the column promises is reported as corrupt, naming it.
    #[tokio::test]
    async fn foreign_geometry_is_corrupt() {
        let Some((store, _db)) = test_store().await else {
            return;
        };
        store
            .upsert_incidents(&[incident("a", "Stöld")])
            .await
            .unwrap();
        sqlx::query("ALTER TABLE incidents ALTER COLUMN geom TYPE geometry(PointZ, 3006) USING ST_Force3D(geom)")
            .execute(store.pool())
            .await
            .unwrap();
        match store.load_incidents().await {
            Err(StoreError::Corrupt(m)) => assert!(m.contains("incident"), "{m}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    /// Every change of the tokens moves the generation, also one made by plain SQL; a revoke of
    /// a revoked token changes nothing.
    #[tokio::test]
    async fn token_generation_moves_with_every_token_change() {
        let Some((store, db)) = test_store().await else {
            return;
        };
        let g0 = store.token_generation().await.unwrap();
        let token = StoredToken {
            id: "t1".into(),
            role: Role::Police,
            secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            label: "Närpolis".into(),
            revoked: false,
        };
        store.insert_token(&token).await.unwrap();
        let g1 = store.token_generation().await.unwrap();
        assert!(g1 > g0);
        assert_eq!(store.find_token("t1").await.unwrap(), Some(token.clone()));
        assert_eq!(store.find_token("nope").await.unwrap(), None);
        match store.insert_token(&token).await {
            Err(StoreError::Conflict(why)) => assert!(why.starts_with("storing a token"), "{why}"),
            other => panic!("a second token with the same id gave {other:?}"),
        }
        assert_eq!(store.token_generation().await.unwrap(), g1, "rolled back");

        assert!(store.revoke_token("t1").await.unwrap());
        let g2 = store.token_generation().await.unwrap();
        assert!(g2 > g1);
        assert!(!store.revoke_token("t1").await.unwrap());
        assert_eq!(store.token_generation().await.unwrap(), g2);
        let listed = store.list_tokens().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].revoked);

        // Another process (here a second store) sees it; so does an operator's DELETE.
        let other = db.open_again().await;
        assert_eq!(other.token_generation().await.unwrap(), g2);
        sqlx::query("DELETE FROM tokens")
            .execute(other.pool())
            .await
            .unwrap();
        assert!(store.token_generation().await.unwrap() > g2);
        // The data version is a counter of its own.
        assert_eq!(store.data_version().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn meta_values_are_kept() {
        let Some((store, _db)) = test_store().await else {
            return;
        };
        assert_eq!(store.get_meta("last_import").await.unwrap(), None);
        store.set_meta("last_import", "2026-01-01").await.unwrap();
        store.set_meta("last_import", "2026-02-01").await.unwrap();
        assert_eq!(
            store.get_meta("last_import").await.unwrap().as_deref(),
            Some("2026-02-01")
        );
    }
}

/// The import path timed: `cargo test --release --lib store::postgres::timing -- --ignored
/// --nocapture` beside a test cluster.
#[cfg(test)]
mod timing {
    use std::time::Instant;

    use chrono::TimeZone;
    use geo::Point;

    use super::testdb::test_store;
    use super::*;

    #[tokio::test]
    #[ignore = "takes a minute; run by hand in release mode"]
    async fn a_million_incidents() {
        let Some((store, _db)) = test_store().await else {
            return;
        };
        let n = 1_000_000;
        let tz = FixedOffset::east_opt(3600).unwrap();
        let start = tz.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let batch: Vec<Incident> = (0..n)
            .map(|i| Incident {
                source: "bench".into(),
                source_id: format!("ev-{i:08}"),
                occurred_at: start + chrono::Duration::minutes(i as i64),
                time_precision: TimePrecision::Exact,
                occurred_to: None,
                category: "theft".into(),
                group: CategoryGroup::Property,
                label: "Stöld".into(),
                location: Point::new(
                    660_000.0 + (i % 1000) as f64 * 17.3,
                    6_570_000.0 + (i / 1000) as f64 * 23.9,
                ),
                precision: LocationPrecision::Exact,
                place: Some("Sollentuna".into()),
                summary: None,
            })
            .collect();
        let t = Instant::now();
        let c = store.upsert_incidents(&batch).await.unwrap();
        let first = t.elapsed();
        assert_eq!(c.inserted, n as u64);
        let t = Instant::now();
        let c = store.upsert_incidents(&batch).await.unwrap();
        let again = t.elapsed();
        assert_eq!(c.unchanged, n as u64);
        let t = Instant::now();
        let loaded = store.load_incidents().await.unwrap();
        let load = t.elapsed();
        assert_eq!(loaded.len(), n);
        let rate = |d: std::time::Duration| n as f64 / d.as_secs_f64();
        eprintln!(
            "1M incidents: new {first:?} ({:.0} rows/s), unchanged {again:?} ({:.0} rows/s), load {load:?} ({:.0} rows/s)",
            rate(first),
            rate(again),
            rate(load)
        );
    }
}
