//! A database of its own for every PostgreSQL test.
//!
//! `LAGESBILD_TEST_PG` is the URL of a superuser on a test cluster (see
//! `scripts/with-postgres.sh`); each [`test_store`] creates a new database from the template
//! `LAGESBILD_TEST_PG_TEMPLATE` (PostGIS already created, default `lagesbild_template`), opens a
//! [`PgStore`] on it (which runs the migrations) and hands back a [`TestDb`] that drops the
//! database when it goes out of scope. Without `LAGESBILD_TEST_PG` the test is skipped, unless
//! `LAGESBILD_TEST_PG_REQUIRED=1`, when it fails.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection};

use super::PgStore;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The test's database; dropping it drops the database (closing what is still connected).
pub(crate) struct TestDb {
    admin: PgConnectOptions,
    name: String,
    opts: PgConnectOptions,
}

impl TestDb {
    /// A second store on the same database (as a second server process would open it).
    pub(crate) async fn open_again(&self) -> PgStore {
        PgStore::open_with(self.opts.clone())
            .await
            .expect("opening a second store on the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; the database is
        // dropped from a thread with a runtime of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping the test database");
            rt.block_on(async move {
                let mut conn = PgConnection::connect_with(&admin).await?;
                // The name is made by test_store, never input.
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            })
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

/// A [`PgStore`] on a new, migrated database, or `None` (after saying so) when no test cluster is
/// configured and none is required.
pub(crate) async fn test_store() -> Option<(PgStore, TestDb)> {
    let Ok(url) = std::env::var("LAGESBILD_TEST_PG") else {
        if std::env::var("LAGESBILD_TEST_PG_REQUIRED").as_deref() == Ok("1") {
            panic!("LAGESBILD_TEST_PG is not set but LAGESBILD_TEST_PG_REQUIRED=1");
        }
        eprintln!("skipped: LAGESBILD_TEST_PG is not set (see scripts/with-postgres.sh)");
        return None;
    };
    let template = std::env::var("LAGESBILD_TEST_PG_TEMPLATE")
        .unwrap_or_else(|_| "lagesbild_template".to_string());
    let admin = PgConnectOptions::from_str(&url).expect("LAGESBILD_TEST_PG is a postgres:// URL");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "lagesbild_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = PgConnection::connect_with(&admin)
        .await
        .expect("connecting to LAGESBILD_TEST_PG");
    // CREATE DATABASE fails while anything else is connected to the template (another test's
    // CREATE reading it, a psql left open): try again for a while.
    let create = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
    let mut tries = 0;
    loop {
        match sqlx::raw_sql(AssertSqlSafe(create.clone()))
            .execute(&mut conn)
            .await
        {
            Ok(_) => break,
            Err(sqlx::Error::Database(d))
                if d.code().as_deref() == Some("55006") && tries < 100 =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("creating test database {name} from {template}: {e}"),
        }
    }
    conn.close().await.ok();
    let opts = admin.clone().database(&name);
    let db = TestDb {
        admin,
        name,
        opts: opts.clone(),
    };
    let store = PgStore::open_with(opts)
        .await
        .unwrap_or_else(|e| panic!("opening the test database {}: {e}", db.name));
    Some((store, db))
}
