//! PostgreSQL with PostGIS, for several server processes sharing one database.
//!
//! Tables carry PostGIS geometry columns in EPSG:3006 with GiST indexes and readable column names
//! (`migrations/postgres/`), so that a GIS officer can open them in QGIS or psql. Contacts stay in
//! their own table and tokens are kept only as hashes, as in the SQLite file.

mod measures;
mod patrol;
mod pledges;
mod reports;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{StoreError, StoreResult};

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

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and brings the schema up to date.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let opts: PgConnectOptions = url
            .parse::<PgConnectOptions>()
            .op("reading the database URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts.application_name("lagesbild"))
            .await
            .op("connecting to PostgreSQL")?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .op("bringing the schema up to date")?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
