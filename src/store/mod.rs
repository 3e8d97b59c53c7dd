//! The durable store: the system of record.
//!
//! Storage is a set of traits ([`DataStore`] for imported data, [`ReportStore`] for citizen
//! reports, [`TokenStore`] for API tokens, [`MeasureStore`] for the åtgärdsplan,
//! [`PledgeStore`] for the medborgarlöften, [`PatrolStore`] for patrol presence, police-only)
//! with one implementation per backend beside them. The
//! SQLite file ([`sqlite::SqliteStore`]) is the default; a PostgreSQL/PostGIS backend implements
//! the same traits, and [`open`] picks one by the URL's scheme. Analysis and HTTP code see only
//! `Arc<dyn Store>`, never SQL, and errors as [`StoreError`], which names no driver's types.
//! Each backend's schema is in `migrations/<backend>/`.
//!
//! [`snapshot`] builds the in-memory [`Snapshot`](crate::spatial::Snapshot) from a store and
//! replaces the one a [`Spatial`](crate::spatial::Spatial) holds; `crate::spatial` itself knows
//! nothing of storage.

pub mod coord;
pub mod measures;
pub mod migrate;
pub mod patrol;
pub mod pledges;
pub mod postgres;
pub mod reports;
pub mod snapshot;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::model::{Area, BraStat, Incident, Lamp, Role, Walkway};

pub use coord::{Changed, Coordination, JobLock};
pub use measures::MeasureStore;
pub use patrol::PatrolStore;
pub use pledges::PledgeStore;
pub use reports::ReportStore;

/// What a backend's driver reported, kept for the logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not do `op` (unreachable, locked past every retry, out of space,
    /// broken, …). `cause` is the driver's error; the message shows it, for the logs, so it is
    /// not also given as the error's `source`.
    #[error("database error while {op}: {cause}")]
    Db { op: &'static str, cause: BoxError },
    /// The database cannot be reached just now (refused, restarting, no connection free within
    /// the wait): nothing was written, and the same call may succeed shortly.
    #[error("database unavailable while {op}: {cause}")]
    Unavailable { op: &'static str, cause: BoxError },
    #[error("not found: {0}")]
    NotFound(String),
    /// The write contradicts what is stored (a merge into itself, a key already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error(
        "unsupported database URL {0:?}: use a file path, sqlite://PATH or postgres://user@host:port/db"
    )]
    UnsupportedUrl(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a batch write did. Rows whose content was already stored count as `unchanged`: importing
/// the same file twice changes nothing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WriteCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for WriteCounts {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

/// How many rows of each kind are stored.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DataCounts {
    pub incidents: u64,
    pub walkways: u64,
    pub lamps: u64,
    pub areas: u64,
    pub bra_stats: u64,
    pub reports: u64,
}

/// Imported data: incidents, walkways, lamps, areas and BRÅ statistics.
///
/// Every `upsert_*` is one transaction: a batch is stored whole or not at all. Keys: incidents by
/// `(source, source_id)`, walkways by OSM way id, lamps by `id`, areas by `(source, name)`, BRÅ
/// rows by `(year, municipality)`.
#[async_trait]
pub trait DataStore: Send + Sync {
    async fn upsert_incidents(&self, batch: &[Incident]) -> StoreResult<WriteCounts>;
    async fn upsert_walkways(&self, batch: &[Walkway]) -> StoreResult<WriteCounts>;
    async fn upsert_lamps(&self, batch: &[Lamp]) -> StoreResult<WriteCounts>;
    async fn upsert_areas(&self, batch: &[Area]) -> StoreResult<WriteCounts>;
    async fn upsert_bra(&self, batch: &[BraStat]) -> StoreResult<WriteCounts>;

    /// Every incident in the order stored, handed to `each` one at a time as it is read, so that
    /// a million of them are never all in memory as rows and as incidents at once. An error
    /// from `each` stops the reading and is returned.
    async fn for_each_incident(
        &self,
        each: &mut (dyn FnMut(Incident) -> StoreResult<()> + Send),
    ) -> StoreResult<()>;
    /// Every incident, in the order stored.
    async fn load_incidents(&self) -> StoreResult<Vec<Incident>> {
        let mut all = Vec::new();
        self.for_each_incident(&mut |i| {
            all.push(i);
            Ok(())
        })
        .await?;
        Ok(all)
    }
    async fn load_walkways(&self) -> StoreResult<Vec<Walkway>>;
    async fn load_lamps(&self) -> StoreResult<Vec<Lamp>>;
    async fn load_areas(&self) -> StoreResult<Vec<Area>>;
    async fn load_bra(&self) -> StoreResult<Vec<BraStat>>;

    async fn counts(&self) -> StoreResult<DataCounts>;
    /// Increases with every committed write of imported data; servers poll it to notice imports
    /// made by other processes.
    async fn data_version(&self) -> StoreResult<i64>;
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>>;
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;
}

/// An API token as stored: only the hash of its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredToken {
    pub id: String,
    pub role: Role,
    /// PHC string (argon2id) of the secret.
    pub secret_hash: String,
    pub label: String,
    pub revoked: bool,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_token(&self, token: &StoredToken) -> StoreResult<()>;
    async fn find_token(&self, id: &str) -> StoreResult<Option<StoredToken>>;
    async fn revoke_token(&self, id: &str) -> StoreResult<bool>;
    async fn list_tokens(&self) -> StoreResult<Vec<StoredToken>>;
    /// Increases with every change of the stored tokens (create, revoke, delete), whichever
    /// process made it, in the same transaction as the change. Servers compare it to drop their
    /// cache of verified tokens; reading it must be cheap (one indexed row).
    async fn token_generation(&self) -> StoreResult<i64>;
}

/// Everything a backend offers.
pub trait Store:
    DataStore + ReportStore + TokenStore + MeasureStore + PledgeStore + PatrolStore + Coordination
{
}
impl<
    T: DataStore + ReportStore + TokenStore + MeasureStore + PledgeStore + PatrolStore + Coordination,
> Store for T
{
}

/// Opens the store named by `db` and brings its schema up to date: `postgres://…` or
/// `postgresql://…` connects to PostgreSQL (PostGIS must be installed on the server), a file path
/// or `sqlite://PATH` opens (and creates) a SQLite file.
pub async fn open(db: &str) -> StoreResult<Arc<dyn Store>> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PgStore::open(db).await?));
    }
    let path = match db.strip_prefix("sqlite://") {
        Some(path) => path,
        None if db.contains("://") => return Err(StoreError::UnsupportedUrl(db.to_string())),
        None => db,
    };
    Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
}
