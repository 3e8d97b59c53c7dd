//! `lagesbild migrate`: copies a SQLite file into a PostgreSQL/PostGIS database.
//!
//! Every table is copied explicitly, column by column, because the two schemas differ: SQLite
//! keeps positions as `x`/`y` REAL columns, walkways as coordinate BLOBs and areas as GeoJSON
//! text, instants as Unix seconds (or milliseconds for patrol data) and flags as integers, where
//! PostgreSQL has PostGIS `geometry` columns in EPSG:3006, `timestamptz`, `boolean` and `jsonb`.
//! Rows are read from SQLite as typed Rust values and written in batches of
//! [`Options::batch_rows`] rows, one multi-row `INSERT … SELECT … FROM unnest(…)` per batch, so
//! that memory stays bounded whatever the size of the file.
//!
//! What is kept:
//! - ids: a report id a citizen holds, a measure id in a link, keep naming the same row; the
//!   identity sequences are then set past the largest copied id, so that new rows get new ids;
//! - the order of every history (the history rows keep their ids, and histories are read by id);
//! - contacts stay in `report_contacts`, tokens only as their argon2 hashes (the SQLite file has
//!   no secrets to copy);
//! - the `meta` rows (`data_version`, `token_generation`, `demo`, …). The two counters never go
//!   backwards: when the target held data before (`--force`), each becomes the larger of the
//!   source's value and the target's old value plus one, so that servers already running on the
//!   target notice the change.
//!
//! All of it is ONE PostgreSQL transaction: the target is locked against writers, checked,
//! (with `force`) emptied by `TRUNCATE`, filled, and every table counted on both sides before
//! the commit. Any error, or any count that differs, rolls everything back: a failed migration
//! leaves the target as it was. The SQLite side is read inside one read transaction, so a server
//! writing to the file meanwhile does not make the copy inconsistent.
//!
//! A target that holds any imported data, reports, tokens, measures, pledges or patrol data is
//! refused unless `force` is set; with `force` those tables are truncated first, in the same
//! transaction (nothing is merged: afterwards the target holds exactly what the file holds).
//! The PostgreSQL-only `submission_buckets` (rate-limit state) are left alone.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use geo::{LineString, MultiPolygon};
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteRow;
use sqlx::{
    AssertSqlSafe, ConnectOptions, Connection, PgConnection, Postgres, Row, Sqlite,
    SqliteConnection,
};

use super::measures::MeasureSpec;
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{StoreError, StoreResult};

/// Rows per batch written to PostgreSQL.
pub const DEFAULT_BATCH_ROWS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Options {
    /// Truncate a target that already holds rows instead of refusing it.
    pub force: bool,
    /// Rows per batch (at least 1).
    pub batch_rows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            force: false,
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

/// The rows of one table on both sides, counted after the copy and before the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub sqlite: u64,
    pub postgres: u64,
}

/// What a successful migration did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub tables: Vec<TableCount>,
    /// The target held rows that were truncated (`force`).
    pub replaced: bool,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the source {0} does not exist (expected a Lägesbild SQLite file)")]
    NoSource(String),
    #[error("the target {0:?} is not a PostgreSQL URL (postgres://user@host:port/database)")]
    NotPostgres(String),
    #[error(
        "the target database is not empty ({}); nothing was written. Pass --force to truncate \
         these tables and copy the file over them",
        .0.iter().map(|(t, n)| format!("{t}: {n} rows")).collect::<Vec<_>>().join(", ")
    )]
    NotEmpty(Vec<(&'static str, u64)>),
    #[error(
        "table {table}: {sqlite} rows in the SQLite file but {postgres} in PostgreSQL after the \
         copy; rolled back, nothing was written"
    )]
    CountMismatch {
        table: &'static str,
        sqlite: u64,
        postgres: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The tables copied, in an order that satisfies the foreign keys. Every one has the same name
/// in both schemas; `meta` comes last (see [`copy_meta`]).
const DATA_TABLES: [&str; 15] = [
    "incidents",
    "walkways",
    "lamps",
    "areas",
    "bra_stats",
    "tokens",
    "reports",
    "report_contacts",
    "report_history",
    "measures",
    "measure_history",
    "pledges",
    "patrol_tracks",
    "patrol_points",
    "patrol_visits",
];

/// The tables whose `id` is an identity column in PostgreSQL.
const IDENTITY_TABLES: [&str; 9] = [
    "incidents",
    "areas",
    "reports",
    "report_history",
    "measures",
    "measure_history",
    "pledges",
    "patrol_tracks",
    "patrol_visits",
];

fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::Db {
        op,
        cause: Box::new(e),
    }
}

/// Copies the SQLite file `from` into the PostgreSQL database `to` (see the module
/// documentation). The target's schema is brought up to date first; so is the file's.
pub async fn migrate(from: &str, to: &str, opts: &Options) -> Result<Summary, MigrateError> {
    let started = Instant::now();
    let path = from.strip_prefix("sqlite://").unwrap_or(from);
    if !Path::new(path).is_file() {
        return Err(MigrateError::NoSource(path.to_string()));
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(MigrateError::NotPostgres(to.to_string()));
    }
    let source = SqliteStore::open(path).await?;
    let target = PgStore::open(to).await?;

    // One read transaction on a connection of its own: every table is read (and counted) in the
    // same snapshot. Its statements stream whole tables, so sqlx's slow-statement warnings,
    // meant for requests, are off.
    let mut conn = (*source.pool().connect_options())
        .clone()
        .disable_statement_logging()
        .connect()
        .await
        .map_err(db("opening the SQLite file for reading"))?;
    let mut src = conn
        .begin()
        .await
        .map_err(db("starting a read transaction on the SQLite file"))?;
    let mut dst = target
        .pool()
        .begin()
        .await
        .map_err(db("starting the PostgreSQL transaction"))?;
    let outcome = copy_all(&mut src, &mut dst, opts).await;
    // Only read: nothing to keep on the SQLite side.
    let _ = src.rollback().await;
    let _ = conn.close().await;
    match outcome {
        Ok((tables, replaced)) => {
            dst.commit().await.map_err(db("committing the migration"))?;
            Ok(Summary {
                tables,
                replaced,
                elapsed: started.elapsed(),
            })
        }
        Err(e) => {
            let _ = dst.rollback().await;
            Err(e)
        }
    }
}

async fn copy_all(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    opts: &Options,
) -> Result<(Vec<TableCount>, bool), MigrateError> {
    let batch = opts.batch_rows.max(1);
    // Writers wait until the commit; readers go on until the TRUNCATE (with force).
    let all: Vec<&'static str> = DATA_TABLES.iter().copied().chain(["meta"]).collect();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        all.join(", ")
    )))
    .execute(&mut *dst)
    .await
    .map_err(db("locking the target tables"))?;

    let mut held = Vec::new();
    for table in DATA_TABLES {
        let n = count_pg(dst, table).await?;
        if n > 0 {
            held.push((table, n));
        }
    }
    let replaced = !held.is_empty();
    if replaced && !opts.force {
        return Err(MigrateError::NotEmpty(held));
    }
    let before = (
        pg_counter(dst, "data_version").await?,
        pg_counter(dst, "token_generation").await?,
    );
    if replaced {
        tracing::info!(tables = ?held, "--force: truncating the target tables");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "TRUNCATE {} RESTART IDENTITY",
            DATA_TABLES.join(", ")
        )))
        .execute(&mut *dst)
        .await
        .map_err(db("truncating the target tables"))?;
    }

    copy::<Incidents>(src, dst, batch).await?;
    copy::<Walkways>(src, dst, batch).await?;
    copy::<Lamps>(src, dst, batch).await?;
    copy::<Areas>(src, dst, batch).await?;
    copy::<BraStats>(src, dst, batch).await?;
    copy::<Tokens>(src, dst, batch).await?;
    copy::<Reports>(src, dst, batch).await?;
    // A report may be merged into one with a larger id: the links once every report is there.
    copy::<ReportMerges>(src, dst, batch).await?;
    copy::<ReportContacts>(src, dst, batch).await?;
    copy::<ReportHistory>(src, dst, batch).await?;
    copy::<Measures>(src, dst, batch).await?;
    copy::<MeasureHistory>(src, dst, batch).await?;
    copy::<Pledges>(src, dst, batch).await?;
    copy::<PatrolTracks>(src, dst, batch).await?;
    copy::<PatrolPoints>(src, dst, batch).await?;
    copy::<PatrolVisits>(src, dst, batch).await?;
    copy_meta(src, dst, replaced, before).await?;

    for table in IDENTITY_TABLES {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             greatest(coalesce(max(id), 0) + 1, 1), false) FROM {table}"
        )))
        .execute(&mut *dst)
        .await
        .map_err(db("setting an identity sequence past the copied ids"))?;
    }

    let mut counts = Vec::new();
    for table in all {
        let sqlite = count_sqlite(src, table).await?;
        let postgres = count_pg(dst, table).await?;
        if sqlite != postgres {
            return Err(MigrateError::CountMismatch {
                table,
                sqlite,
                postgres,
            });
        }
        counts.push(TableCount {
            table,
            sqlite,
            postgres,
        });
    }
    Ok((counts, replaced))
}

async fn count_pg(dst: &mut PgConnection, table: &str) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut *dst)
        .await
        .map_err(db("counting rows in PostgreSQL"))?;
    Ok(n as u64)
}

async fn count_sqlite(src: &mut SqliteConnection, table: &str) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut *src)
        .await
        .map_err(db("counting rows in the SQLite file"))?;
    Ok(n as u64)
}

async fn pg_counter(dst: &mut PgConnection, key: &str) -> StoreResult<i64> {
    let v: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *dst)
        .await
        .map_err(db("reading the target's counters"))?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Replaces the target's `meta` rows by the file's, keeping the two counters monotonic.
async fn copy_meta(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    replaced: bool,
    (data_version, token_generation): (i64, i64),
) -> StoreResult<()> {
    let rows = sqlx::query("SELECT key, value FROM meta ORDER BY key")
        .fetch_all(&mut *src)
        .await
        .map_err(db("reading meta from the SQLite file"))?;
    let mut keys = Vec::with_capacity(rows.len());
    let mut values = Vec::with_capacity(rows.len());
    for r in &rows {
        let key: String = get(r, 0, "meta")?;
        let value: String = get(r, 1, "meta")?;
        let floor = match key.as_str() {
            "data_version" => Some(data_version),
            "token_generation" => Some(token_generation),
            _ => None,
        };
        let value = match floor {
            Some(old) => {
                let new: i64 = value.parse().map_err(|_| {
                    StoreError::Corrupt(format!("meta {key} = {value:?} is not a number"))
                })?;
                new.max(if replaced { old + 1 } else { old }).to_string()
            }
            None => value,
        };
        keys.push(key);
        values.push(value);
    }
    sqlx::query("DELETE FROM meta")
        .execute(&mut *dst)
        .await
        .map_err(db("replacing meta"))?;
    sqlx::query("INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::text[])")
        .bind(keys)
        .bind(values)
        .execute(&mut *dst)
        .await
        .map_err(db("writing meta"))?;
    Ok(())
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// One table's copy: the SQLite query that reads it (in key order), the rows of a batch column
/// by column, and the PostgreSQL statement that writes a batch from `unnest` of those columns.
trait Batch: Default {
    /// For messages.
    const TABLE: &'static str;
    const SELECT: &'static str;
    const INSERT: &'static str;
    fn push(&mut self, r: &SqliteRow) -> StoreResult<()>;
    fn len(&self) -> usize;
    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_>;
}

/// Streams `B`'s rows out of SQLite and writes them `batch` at a time.
async fn copy<B: Batch>(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    batch: usize,
) -> StoreResult<u64> {
    let started = Instant::now();
    let mut rows = sqlx::query(B::SELECT).fetch(&mut *src);
    let mut cols = B::default();
    let mut n = 0u64;
    while let Some(r) = rows
        .try_next()
        .await
        .map_err(db("reading the SQLite file"))?
    {
        cols.push(&r)?;
        if cols.len() >= batch {
            n += write(std::mem::take(&mut cols), dst).await?;
        }
    }
    if cols.len() > 0 {
        n += write(cols, dst).await?;
    }
    tracing::info!(table = B::TABLE, rows = n, elapsed = ?started.elapsed(), "copied");
    Ok(n)
}

async fn write<B: Batch>(cols: B, dst: &mut PgConnection) -> StoreResult<u64> {
    let rows = cols.len() as u64;
    cols.bind(sqlx::query(B::INSERT))
        .execute(&mut *dst)
        .await
        .map_err(|e| StoreError::Db {
            op: "writing a batch to PostgreSQL",
            cause: format!("{}: {e}", B::TABLE).into(),
        })?;
    Ok(rows)
}

fn get<'r, T>(r: &'r SqliteRow, i: usize, table: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    r.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("{table} in the SQLite file: {e}")))
}

fn secs(s: i64, table: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp(s, 0)
        .ok_or_else(|| StoreError::Corrupt(format!("{table}: instant {s} s out of range")))
}

fn millis(ms: i64, table: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("{table}: instant {ms} ms out of range")))
}

fn date(s: &str, table: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| StoreError::Corrupt(format!("{table}: date {s:?}: {e}")))
}

// Little-endian WKB, 2D, without SRID (`ST_GeomFromWKB(…, 3006)` adds it).
const WKB_LINESTRING: u32 = 2;
const WKB_POLYGON: u32 = 3;
const WKB_MULTIPOINT: u32 = 4;
const WKB_MULTIPOLYGON: u32 = 6;

fn wkb_header(out: &mut Vec<u8>, ty: u32) {
    out.push(1);
    out.extend_from_slice(&ty.to_le_bytes());
}

fn wkb_count(out: &mut Vec<u8>, n: usize, what: &str) -> StoreResult<()> {
    let n = u32::try_from(n)
        .map_err(|_| StoreError::Corrupt(format!("{what} of {n} parts is too large for WKB")))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

/// A walkway's SQLite coordinate BLOB (little-endian f64 pairs) as a WKB line string: the same
/// bytes after a header.
fn walkway_wkb(blob: &[u8]) -> StoreResult<Vec<u8>> {
    if blob.len() % 16 != 0 {
        return Err(StoreError::Corrupt(format!(
            "walkway geometry of {} bytes is not a list of coordinate pairs",
            blob.len()
        )));
    }
    let mut out = Vec::with_capacity(9 + blob.len());
    wkb_header(&mut out, WKB_LINESTRING);
    wkb_count(&mut out, blob.len() / 16, "walkway")?;
    out.extend_from_slice(blob);
    Ok(out)
}

fn ring_wkb(out: &mut Vec<u8>, ring: &LineString<f64>) -> StoreResult<()> {
    wkb_count(out, ring.0.len(), "polygon ring")?;
    for c in &ring.0 {
        out.extend_from_slice(&c.x.to_le_bytes());
        out.extend_from_slice(&c.y.to_le_bytes());
    }
    Ok(())
}

fn multipolygon_wkb(mp: &MultiPolygon<f64>) -> StoreResult<Vec<u8>> {
    let mut out = Vec::new();
    wkb_header(&mut out, WKB_MULTIPOLYGON);
    wkb_count(&mut out, mp.0.len(), "multipolygon")?;
    for poly in &mp.0 {
        wkb_header(&mut out, WKB_POLYGON);
        wkb_count(&mut out, 1 + poly.interiors().len(), "polygon")?;
        ring_wkb(&mut out, poly.exterior())?;
        for ring in poly.interiors() {
            ring_wkb(&mut out, ring)?;
        }
    }
    Ok(out)
}

/// A measure's points as a WKB MultiPoint, `None` without points (the column is then NULL).
fn multipoint_wkb(points: &[[f64; 2]]) -> StoreResult<Option<Vec<u8>>> {
    if points.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(9 + points.len() * 21);
    wkb_header(&mut out, WKB_MULTIPOINT);
    wkb_count(&mut out, points.len(), "multipoint")?;
    for [x, y] in points {
        wkb_header(&mut out, 1);
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
    }
    Ok(Some(out))
}

/// An area's GeoJSON (a MultiPolygon, or a Polygon) as WKB.
fn area_wkb(text: &str) -> StoreResult<Vec<u8>> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("area geometry: {e}"));
    let geom: geojson::Geometry = text.parse().map_err(|e| corrupt(&e))?;
    let geom: geo::Geometry<f64> = geom.try_into().map_err(|e| corrupt(&e))?;
    let mp = match geom {
        geo::Geometry::MultiPolygon(mp) => mp,
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        other => {
            return Err(corrupt(&format_args!(
                "a {} where a multipolygon was expected",
                geometry_name(&other)
            )));
        }
    };
    multipolygon_wkb(&mp)
}

fn geometry_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "line string",
        geo::Geometry::MultiPoint(_) => "multipoint",
        geo::Geometry::MultiLineString(_) => "multilinestring",
        geo::Geometry::GeometryCollection(_) => "geometry collection",
        _ => "geometry",
    }
}

#[derive(Default)]
struct Incidents {
    id: Vec<i64>,
    source: Vec<String>,
    source_id: Vec<String>,
    occurred: Vec<DateTime<Utc>>,
    offset: Vec<i32>,
    time_precision: Vec<String>,
    occurred_to: Vec<Option<DateTime<Utc>>>,
    category: Vec<String>,
    group: Vec<String>,
    label: Vec<String>,
    x: Vec<f64>,
    y: Vec<f64>,
    precision: Vec<String>,
    place: Vec<Option<String>>,
    summary: Vec<Option<String>>,
    version: Vec<i32>,
}

impl Batch for Incidents {
    const TABLE: &'static str = "incidents";
    const SELECT: &'static str = "SELECT id, source, source_id, occurred_utc, utc_offset_s, \
        time_precision, occurred_to_utc, category, grp, label, x, y, precision, place, summary, \
        version FROM incidents ORDER BY id";
    const INSERT: &'static str = "INSERT INTO incidents (id, source, source_id, occurred_at, \
        utc_offset_s, time_precision, occurred_to, category, category_group, label, geom, \
        location_precision, place, summary, version) OVERRIDING SYSTEM VALUE \
        SELECT i, s, si, o, u, tp, ot, c, g, l, ST_SetSRID(ST_MakePoint(x, y), 3006), lp, p, sm, v \
        FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], $5::int4[], $6::text[], \
        $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[], \
        $13::text[], $14::text[], $15::text[], $16::int4[]) \
        AS b (i, s, si, o, u, tp, ot, c, g, l, x, y, lp, p, sm, v)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.source.push(get(r, 1, t)?);
        self.source_id.push(get(r, 2, t)?);
        self.occurred.push(secs(get(r, 3, t)?, t)?);
        self.offset.push(get(r, 4, t)?);
        self.time_precision.push(get(r, 5, t)?);
        let to: Option<i64> = get(r, 6, t)?;
        self.occurred_to.push(to.map(|s| secs(s, t)).transpose()?);
        self.category.push(get(r, 7, t)?);
        self.group.push(get(r, 8, t)?);
        self.label.push(get(r, 9, t)?);
        self.x.push(get(r, 10, t)?);
        self.y.push(get(r, 11, t)?);
        self.precision.push(get(r, 12, t)?);
        self.place.push(get(r, 13, t)?);
        self.summary.push(get(r, 14, t)?);
        self.version.push(get(r, 15, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.source)
            .bind(self.source_id)
            .bind(self.occurred)
            .bind(self.offset)
            .bind(self.time_precision)
            .bind(self.occurred_to)
            .bind(self.category)
            .bind(self.group)
            .bind(self.label)
            .bind(self.x)
            .bind(self.y)
            .bind(self.precision)
            .bind(self.place)
            .bind(self.summary)
            .bind(self.version)
    }
}

#[derive(Default)]
struct Walkways {
    id: Vec<i64>,
    kind: Vec<String>,
    lit: Vec<Option<String>>,
    name: Vec<Option<String>>,
    geom: Vec<Vec<u8>>,
    version: Vec<i32>,
}

impl Batch for Walkways {
    const TABLE: &'static str = "walkways";
    const SELECT: &'static str =
        "SELECT id, kind, lit, name, coords, version FROM walkways ORDER BY id";
    const INSERT: &'static str = "INSERT INTO walkways (id, kind, lit, name, geom, version) \
        SELECT i, k, l, n, ST_GeomFromWKB(g, 3006), v \
        FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::int4[]) \
        AS b (i, k, l, n, g, v)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.kind.push(get(r, 1, t)?);
        self.lit.push(get(r, 2, t)?);
        self.name.push(get(r, 3, t)?);
        let blob: Vec<u8> = get(r, 4, t)?;
        self.geom.push(walkway_wkb(&blob)?);
        self.version.push(get(r, 5, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.kind)
            .bind(self.lit)
            .bind(self.name)
            .bind(self.geom)
            .bind(self.version)
    }
}

#[derive(Default)]
struct Lamps {
    id: Vec<String>,
    x: Vec<f64>,
    y: Vec<f64>,
    height_m: Vec<Option<f64>>,
    lumen: Vec<Option<f64>>,
    watt: Vec<Option<f64>>,
    status: Vec<String>,
    source: Vec<String>,
    reference: Vec<Option<String>>,
    version: Vec<i32>,
}

impl Batch for Lamps {
    const TABLE: &'static str = "lamps";
    const SELECT: &'static str = "SELECT id, x, y, height_m, lumen, watt, status, source, \
        reference, version FROM lamps ORDER BY id";
    const INSERT: &'static str = "INSERT INTO lamps (id, geom, height_m, lumen, watt, status, \
        source, reference, version) \
        SELECT i, ST_SetSRID(ST_MakePoint(x, y), 3006), h, l, w, st, s, r, v \
        FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], \
        $6::float8[], $7::text[], $8::text[], $9::text[], $10::int4[]) \
        AS b (i, x, y, h, l, w, st, s, r, v)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.x.push(get(r, 1, t)?);
        self.y.push(get(r, 2, t)?);
        self.height_m.push(get(r, 3, t)?);
        self.lumen.push(get(r, 4, t)?);
        self.watt.push(get(r, 5, t)?);
        self.status.push(get(r, 6, t)?);
        self.source.push(get(r, 7, t)?);
        self.reference.push(get(r, 8, t)?);
        self.version.push(get(r, 9, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.x)
            .bind(self.y)
            .bind(self.height_m)
            .bind(self.lumen)
            .bind(self.watt)
            .bind(self.status)
            .bind(self.source)
            .bind(self.reference)
            .bind(self.version)
    }
}

#[derive(Default)]
struct Areas {
    id: Vec<i64>,
    source: Vec<String>,
    name: Vec<String>,
    geom: Vec<Vec<u8>>,
    version: Vec<i32>,
}

impl Batch for Areas {
    const TABLE: &'static str = "areas";
    const SELECT: &'static str =
        "SELECT id, source, name, geometry, version FROM areas ORDER BY id";
    const INSERT: &'static str = "INSERT INTO areas (id, source, name, geom, version) \
        OVERRIDING SYSTEM VALUE SELECT i, s, n, ST_GeomFromWKB(g, 3006), v \
        FROM unnest($1::int8[], $2::text[], $3::text[], $4::bytea[], $5::int4[]) \
        AS b (i, s, n, g, v)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.source.push(get(r, 1, t)?);
        self.name.push(get(r, 2, t)?);
        let text: String = get(r, 3, t)?;
        self.geom.push(area_wkb(&text)?);
        self.version.push(get(r, 4, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.source)
            .bind(self.name)
            .bind(self.geom)
            .bind(self.version)
    }
}

#[derive(Default)]
struct BraStats {
    year: Vec<i32>,
    municipality: Vec<String>,
    count: Vec<i64>,
    per_100k: Vec<Option<f64>>,
    version: Vec<i32>,
}

impl Batch for BraStats {
    const TABLE: &'static str = "bra_stats";
    const SELECT: &'static str = "SELECT year, municipality, count, per_100k, version \
        FROM bra_stats ORDER BY year, municipality";
    const INSERT: &'static str = "INSERT INTO bra_stats (year, municipality, count, per_100k, \
        version) SELECT * FROM unnest($1::int4[], $2::text[], $3::int8[], $4::float8[], \
        $5::int4[])";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.year.push(get(r, 0, t)?);
        self.municipality.push(get(r, 1, t)?);
        self.count.push(get(r, 2, t)?);
        self.per_100k.push(get(r, 3, t)?);
        self.version.push(get(r, 4, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.year.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.year)
            .bind(self.municipality)
            .bind(self.count)
            .bind(self.per_100k)
            .bind(self.version)
    }
}

#[derive(Default)]
struct Tokens {
    id: Vec<String>,
    role: Vec<String>,
    secret_hash: Vec<String>,
    label: Vec<String>,
    created: Vec<DateTime<Utc>>,
    revoked: Vec<bool>,
}

impl Batch for Tokens {
    const TABLE: &'static str = "tokens";
    const SELECT: &'static str = "SELECT id, role, secret_hash, label, created_utc, revoked \
        FROM tokens ORDER BY created_utc, id";
    const INSERT: &'static str = "INSERT INTO tokens (id, role, secret_hash, label, created_at, \
        revoked) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
        $5::timestamptz[], $6::bool[])";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.role.push(get(r, 1, t)?);
        self.secret_hash.push(get(r, 2, t)?);
        self.label.push(get(r, 3, t)?);
        self.created.push(secs(get(r, 4, t)?, t)?);
        self.revoked.push(get::<i64>(r, 5, t)? != 0);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.role)
            .bind(self.secret_hash)
            .bind(self.label)
            .bind(self.created)
            .bind(self.revoked)
    }
}

/// Reports without their `merged_into` (see [`ReportMerges`]).
#[derive(Default)]
struct Reports {
    id: Vec<i64>,
    service_code: Vec<String>,
    status: Vec<String>,
    description: Vec<String>,
    x: Vec<f64>,
    y: Vec<f64>,
    original_x: Vec<f64>,
    original_y: Vec<f64>,
    walkway_id: Vec<Option<i64>>,
    lamp_id: Vec<Option<String>>,
    address: Vec<Option<String>>,
    media_url: Vec<Option<String>>,
    status_notes: Vec<Option<String>>,
    agency: Vec<Option<String>>,
    requested: Vec<DateTime<Utc>>,
    updated: Vec<DateTime<Utc>>,
    hidden: Vec<bool>,
    attributes: Vec<String>,
    client_token: Vec<Option<String>>,
    content_hash: Vec<String>,
}

impl Batch for Reports {
    const TABLE: &'static str = "reports";
    const SELECT: &'static str = "SELECT id, service_code, status, description, x, y, \
        original_x, original_y, walkway_id, lamp_id, address, media_url, status_notes, \
        agency_responsible, requested_utc, updated_utc, hidden, attributes, client_token, \
        content_hash FROM reports ORDER BY id";
    const INSERT: &'static str = "INSERT INTO reports (id, service_code, status, description, \
        location, original_location, walkway_id, lamp_id, address, media_url, status_notes, \
        agency_responsible, requested_at, updated_at, hidden, attributes, client_token, \
        content_hash) OVERRIDING SYSTEM VALUE \
        SELECT i, sc, st, d, ST_SetSRID(ST_MakePoint(x, y), 3006), \
        ST_SetSRID(ST_MakePoint(ox, oy), 3006), w, l, a, m, n, ag, rq, up, h, at::jsonb, ct, ch \
        FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], \
        $7::float8[], $8::float8[], $9::int8[], $10::text[], $11::text[], $12::text[], \
        $13::text[], $14::text[], $15::timestamptz[], $16::timestamptz[], $17::bool[], \
        $18::text[], $19::text[], $20::text[]) \
        AS b (i, sc, st, d, x, y, ox, oy, w, l, a, m, n, ag, rq, up, h, at, ct, ch)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.service_code.push(get(r, 1, t)?);
        self.status.push(get(r, 2, t)?);
        self.description.push(get(r, 3, t)?);
        self.x.push(get(r, 4, t)?);
        self.y.push(get(r, 5, t)?);
        self.original_x.push(get(r, 6, t)?);
        self.original_y.push(get(r, 7, t)?);
        self.walkway_id.push(get(r, 8, t)?);
        self.lamp_id.push(get(r, 9, t)?);
        self.address.push(get(r, 10, t)?);
        self.media_url.push(get(r, 11, t)?);
        self.status_notes.push(get(r, 12, t)?);
        self.agency.push(get(r, 13, t)?);
        self.requested.push(secs(get(r, 14, t)?, t)?);
        self.updated.push(secs(get(r, 15, t)?, t)?);
        self.hidden.push(get::<i64>(r, 16, t)? != 0);
        self.attributes.push(get(r, 17, t)?);
        self.client_token.push(get(r, 18, t)?);
        self.content_hash.push(get(r, 19, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.service_code)
            .bind(self.status)
            .bind(self.description)
            .bind(self.x)
            .bind(self.y)
            .bind(self.original_x)
            .bind(self.original_y)
            .bind(self.walkway_id)
            .bind(self.lamp_id)
            .bind(self.address)
            .bind(self.media_url)
            .bind(self.status_notes)
            .bind(self.agency)
            .bind(self.requested)
            .bind(self.updated)
            .bind(self.hidden)
            .bind(self.attributes)
            .bind(self.client_token)
            .bind(self.content_hash)
    }
}

/// `reports.merged_into`, set once every report is stored: the foreign key is checked per
/// statement, and a report may be merged into a later one.
#[derive(Default)]
struct ReportMerges {
    id: Vec<i64>,
    into: Vec<i64>,
}

impl Batch for ReportMerges {
    const TABLE: &'static str = "reports (merged_into)";
    const SELECT: &'static str =
        "SELECT id, merged_into FROM reports WHERE merged_into IS NOT NULL ORDER BY id";
    const INSERT: &'static str = "UPDATE reports r SET merged_into = b.m \
        FROM unnest($1::int8[], $2::int8[]) AS b (i, m) WHERE r.id = b.i";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        self.id.push(get(r, 0, Self::TABLE)?);
        self.into.push(get(r, 1, Self::TABLE)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id).bind(self.into)
    }
}

#[derive(Default)]
struct ReportContacts {
    report_id: Vec<i64>,
    email: Vec<Option<String>>,
    first_name: Vec<Option<String>>,
    last_name: Vec<Option<String>>,
    phone: Vec<Option<String>>,
}

impl Batch for ReportContacts {
    const TABLE: &'static str = "report_contacts";
    const SELECT: &'static str = "SELECT report_id, email, first_name, last_name, phone \
        FROM report_contacts ORDER BY report_id";
    const INSERT: &'static str = "INSERT INTO report_contacts (report_id, email, first_name, \
        last_name, phone) SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], \
        $5::text[])";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.report_id.push(get(r, 0, t)?);
        self.email.push(get(r, 1, t)?);
        self.first_name.push(get(r, 2, t)?);
        self.last_name.push(get(r, 3, t)?);
        self.phone.push(get(r, 4, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.report_id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.report_id)
            .bind(self.email)
            .bind(self.first_name)
            .bind(self.last_name)
            .bind(self.phone)
    }
}

/// The columns of `report_history` and `measure_history`, which differ only in the owner.
#[derive(Default)]
struct History {
    id: Vec<i64>,
    owner: Vec<i64>,
    at: Vec<DateTime<Utc>>,
    actor: Vec<String>,
    role: Vec<String>,
    action: Vec<String>,
    detail: Vec<String>,
}

impl History {
    fn push(&mut self, r: &SqliteRow, t: &str) -> StoreResult<()> {
        self.id.push(get(r, 0, t)?);
        self.owner.push(get(r, 1, t)?);
        self.at.push(secs(get(r, 2, t)?, t)?);
        self.actor.push(get(r, 3, t)?);
        self.role.push(get(r, 4, t)?);
        self.action.push(get(r, 5, t)?);
        self.detail.push(get(r, 6, t)?);
        Ok(())
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.owner)
            .bind(self.at)
            .bind(self.actor)
            .bind(self.role)
            .bind(self.action)
            .bind(self.detail)
    }
}

#[derive(Default)]
struct ReportHistory(History);

impl Batch for ReportHistory {
    const TABLE: &'static str = "report_history";
    const SELECT: &'static str = "SELECT id, report_id, at_utc, actor, role, action, detail \
        FROM report_history ORDER BY id";
    const INSERT: &'static str = "INSERT INTO report_history (id, report_id, at, actor, role, \
        action, detail) OVERRIDING SYSTEM VALUE SELECT i, o, a, ac, r, an, d::jsonb \
        FROM unnest($1::int8[], $2::int8[], $3::timestamptz[], $4::text[], $5::text[], \
        $6::text[], $7::text[]) AS b (i, o, a, ac, r, an, d)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        self.0.push(r, Self::TABLE)
    }

    fn len(&self) -> usize {
        self.0.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        self.0.bind(q)
    }
}

#[derive(Default)]
struct MeasureHistory(History);

impl Batch for MeasureHistory {
    const TABLE: &'static str = "measure_history";
    const SELECT: &'static str = "SELECT id, measure_id, at_utc, actor, role, action, detail \
        FROM measure_history ORDER BY id";
    const INSERT: &'static str = "INSERT INTO measure_history (id, measure_id, at, actor, role, \
        action, detail) OVERRIDING SYSTEM VALUE SELECT i, o, a, ac, r, an, d::jsonb \
        FROM unnest($1::int8[], $2::int8[], $3::timestamptz[], $4::text[], $5::text[], \
        $6::text[], $7::text[]) AS b (i, o, a, ac, r, an, d)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        self.0.push(r, Self::TABLE)
    }

    fn len(&self) -> usize {
        self.0.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        self.0.bind(q)
    }
}

#[derive(Default)]
struct Measures {
    id: Vec<i64>,
    kind: Vec<String>,
    status: Vec<String>,
    spec: Vec<String>,
    points: Vec<Option<Vec<u8>>>,
    created: Vec<DateTime<Utc>>,
    updated: Vec<DateTime<Utc>>,
}

impl Batch for Measures {
    const TABLE: &'static str = "measures";
    const SELECT: &'static str = "SELECT id, kind, status, spec, created_utc, updated_utc \
        FROM measures ORDER BY id";
    const INSERT: &'static str = "INSERT INTO measures (id, kind, status, spec, points, \
        created_at, updated_at) OVERRIDING SYSTEM VALUE \
        SELECT i, k, st, sp::jsonb, ST_GeomFromWKB(p, 3006), c, u \
        FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::bytea[], \
        $6::timestamptz[], $7::timestamptz[]) AS b (i, k, st, sp, p, c, u)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        let id: i64 = get(r, 0, t)?;
        let spec: String = get(r, 3, t)?;
        // The points column is derived from the spec, as the PostgreSQL store writes it.
        let parsed: MeasureSpec = serde_json::from_str(&spec)
            .map_err(|e| StoreError::Corrupt(format!("measure {id} in the SQLite file: {e}")))?;
        self.points.push(multipoint_wkb(&parsed.place.points)?);
        self.id.push(id);
        self.kind.push(get(r, 1, t)?);
        self.status.push(get(r, 2, t)?);
        self.spec.push(spec);
        self.created.push(secs(get(r, 4, t)?, t)?);
        self.updated.push(secs(get(r, 5, t)?, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.kind)
            .bind(self.status)
            .bind(self.spec)
            .bind(self.points)
            .bind(self.created)
            .bind(self.updated)
    }
}

#[derive(Default)]
struct Pledges {
    id: Vec<i64>,
    period_start: Vec<NaiveDate>,
    period_end: Vec<NaiveDate>,
    spec: Vec<String>,
    created: Vec<DateTime<Utc>>,
    updated: Vec<DateTime<Utc>>,
}

impl Batch for Pledges {
    const TABLE: &'static str = "pledges";
    const SELECT: &'static str = "SELECT id, period_start, period_end, spec, created_utc, \
        updated_utc FROM pledges ORDER BY id";
    const INSERT: &'static str = "INSERT INTO pledges (id, period_start, period_end, spec, \
        created_at, updated_at) OVERRIDING SYSTEM VALUE SELECT i, ps, pe, sp::jsonb, c, u \
        FROM unnest($1::int8[], $2::date[], $3::date[], $4::text[], $5::timestamptz[], \
        $6::timestamptz[]) AS b (i, ps, pe, sp, c, u)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.period_start.push(date(&get::<String>(r, 1, t)?, t)?);
        self.period_end.push(date(&get::<String>(r, 2, t)?, t)?);
        self.spec.push(get(r, 3, t)?);
        self.created.push(secs(get(r, 4, t)?, t)?);
        self.updated.push(secs(get(r, 5, t)?, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.period_start)
            .bind(self.period_end)
            .bind(self.spec)
            .bind(self.created)
            .bind(self.updated)
    }
}

#[derive(Default)]
struct PatrolTracks {
    id: Vec<i64>,
    unit: Vec<String>,
    source: Vec<String>,
    first: Vec<DateTime<Utc>>,
    last: Vec<DateTime<Utc>>,
}

impl Batch for PatrolTracks {
    const TABLE: &'static str = "patrol_tracks";
    const SELECT: &'static str = "SELECT id, unit, source, first_imported_utc, \
        last_imported_utc FROM patrol_tracks ORDER BY id";
    const INSERT: &'static str = "INSERT INTO patrol_tracks (id, unit, source, \
        first_imported_at, last_imported_at) OVERRIDING SYSTEM VALUE \
        SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], \
        $5::timestamptz[])";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.unit.push(get(r, 1, t)?);
        self.source.push(get(r, 2, t)?);
        self.first.push(secs(get(r, 3, t)?, t)?);
        self.last.push(secs(get(r, 4, t)?, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.unit)
            .bind(self.source)
            .bind(self.first)
            .bind(self.last)
    }
}

#[derive(Default)]
struct PatrolPoints {
    unit: Vec<String>,
    at: Vec<DateTime<Utc>>,
    x: Vec<f64>,
    y: Vec<f64>,
    run_start: Vec<bool>,
    track_id: Vec<i64>,
    version: Vec<i32>,
}

impl Batch for PatrolPoints {
    const TABLE: &'static str = "patrol_points";
    const SELECT: &'static str = "SELECT unit, t_ms, x, y, run_start, track_id, version \
        FROM patrol_points ORDER BY unit, t_ms";
    const INSERT: &'static str = "INSERT INTO patrol_points (unit, at, location, run_start, \
        track_id, version) SELECT u, a, ST_SetSRID(ST_MakePoint(x, y), 3006), r, k, v \
        FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::float8[], $5::bool[], \
        $6::int8[], $7::int4[]) AS b (u, a, x, y, r, k, v)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.unit.push(get(r, 0, t)?);
        self.at.push(millis(get(r, 1, t)?, t)?);
        self.x.push(get(r, 2, t)?);
        self.y.push(get(r, 3, t)?);
        self.run_start.push(get::<i64>(r, 4, t)? != 0);
        self.track_id.push(get(r, 5, t)?);
        self.version.push(get(r, 6, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.unit.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.unit)
            .bind(self.at)
            .bind(self.x)
            .bind(self.y)
            .bind(self.run_start)
            .bind(self.track_id)
            .bind(self.version)
    }
}

#[derive(Default)]
struct PatrolVisits {
    id: Vec<i64>,
    unit: Vec<String>,
    source: Vec<String>,
    start: Vec<DateTime<Utc>>,
    end: Vec<DateTime<Utc>>,
    place: Vec<String>,
    hotspot: Vec<Option<String>>,
    x: Vec<Option<f64>>,
    y: Vec<Option<f64>>,
    imported: Vec<DateTime<Utc>>,
    version: Vec<i32>,
}

impl Batch for PatrolVisits {
    const TABLE: &'static str = "patrol_visits";
    const SELECT: &'static str = "SELECT id, unit, source, start_ms, end_ms, place, hotspot, \
        x, y, imported_utc, version FROM patrol_visits ORDER BY id";
    const INSERT: &'static str = "INSERT INTO patrol_visits (id, unit, source, start_at, end_at, \
        place, hotspot, location, imported_at, version) OVERRIDING SYSTEM VALUE \
        SELECT i, u, s, a, e, p, h, \
        CASE WHEN x IS NULL OR y IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(x, y), 3006) END, \
        im, v FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], \
        $5::timestamptz[], $6::text[], $7::text[], $8::float8[], $9::float8[], \
        $10::timestamptz[], $11::int4[]) AS b (i, u, s, a, e, p, h, x, y, im, v)";

    fn push(&mut self, r: &SqliteRow) -> StoreResult<()> {
        let t = Self::TABLE;
        self.id.push(get(r, 0, t)?);
        self.unit.push(get(r, 1, t)?);
        self.source.push(get(r, 2, t)?);
        self.start.push(millis(get(r, 3, t)?, t)?);
        self.end.push(millis(get(r, 4, t)?, t)?);
        self.place.push(get(r, 5, t)?);
        self.hotspot.push(get(r, 6, t)?);
        self.x.push(get(r, 7, t)?);
        self.y.push(get(r, 8, t)?);
        self.imported.push(secs(get(r, 9, t)?, t)?);
        self.version.push(get(r, 10, t)?);
        Ok(())
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn bind(self, q: PgQuery<'_>) -> PgQuery<'_> {
        q.bind(self.id)
            .bind(self.unit)
            .bind(self.source)
            .bind(self.start)
            .bind(self.end)
            .bind(self.place)
            .bind(self.hotspot)
            .bind(self.x)
            .bind(self.y)
            .bind(self.imported)
            .bind(self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Coord, Polygon};

    #[test]
    fn walkway_blob_becomes_wkb_with_the_same_coordinates() {
        let ls = LineString(vec![
            Coord {
                x: 673_900.25,
                y: 6_593_500.5,
            },
            Coord {
                x: 674_100.0,
                y: 6_593_501.0,
            },
        ]);
        let blob = crate::store::sqlite::coords_to_blob(&ls);
        let wkb = walkway_wkb(&blob).unwrap();
        assert_eq!(&wkb[..5], &[1, 2, 0, 0, 0]);
        assert_eq!(u32::from_le_bytes(wkb[5..9].try_into().unwrap()), 2);
        assert_eq!(&wkb[9..], &blob[..]);
        assert!(walkway_wkb(&blob[..15]).is_err());
    }

    #[test]
    fn area_geojson_becomes_multipolygon_wkb() {
        let square = LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]);
        let mp = MultiPolygon(vec![Polygon::new(square, vec![])]);
        let text = geojson::Geometry::from(&mp).to_string();
        let wkb = area_wkb(&text).unwrap();
        assert_eq!(wkb, multipolygon_wkb(&mp).unwrap());
        // header 5 + count 4 + polygon header 5 + rings 4 + points 4 + 4 × 16
        assert_eq!(wkb.len(), 5 + 4 + 5 + 4 + 4 + 64);
        assert!(area_wkb(r#"{"type":"Point","coordinates":[1,2]}"#).is_err());
    }

    #[test]
    fn measures_without_points_have_no_multipoint() {
        assert_eq!(multipoint_wkb(&[]).unwrap(), None);
        let w = multipoint_wkb(&[[1.0, 2.0], [3.0, 4.0]]).unwrap().unwrap();
        assert_eq!(w.len(), 9 + 2 * 21);
    }
}
