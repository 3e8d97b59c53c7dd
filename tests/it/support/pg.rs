//! A fresh PostgreSQL database per test, on the throwaway cluster that `scripts/with-postgres.sh`
//! (run by `make test`) starts: created from the template that has PostGIS, dropped at the end.
//! Without that cluster (`LAGESBILD_TEST_PG` unset) a test skips, unless
//! `LAGESBILD_TEST_PG_REQUIRED=1`, which `make test` sets, makes it fail.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct PgDb {
    /// `postgres://…/<name>`: what `--db` takes.
    pub url: String,
    name: String,
    admin: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One statement on the database at `url`: what it printed (unaligned), or psql's complaint.
pub fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A new database, or `None` (the test should return) when no cluster is given.
pub fn database(test: &str) -> Option<PgDb> {
    let Ok(admin) = std::env::var("LAGESBILD_TEST_PG") else {
        if std::env::var("LAGESBILD_TEST_PG_REQUIRED").as_deref() == Ok("1") {
            panic!("LAGESBILD_TEST_PG is not set; run the tests through scripts/with-postgres.sh");
        }
        eprintln!("{test}: skipped, no PostgreSQL (run through scripts/with-postgres.sh)");
        return None;
    };
    let template =
        std::env::var("LAGESBILD_TEST_PG_TEMPLATE").unwrap_or_else(|_| "template1".into());
    let name = format!(
        "lb_{}_{}_{}",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    psql(
        &admin,
        &format!("CREATE DATABASE {name} TEMPLATE {template}"),
    )
    .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
    let base = admin.rsplit_once('/').expect("URL has a database").0;
    Some(PgDb {
        url: format!("{base}/{name}"),
        name,
        admin,
    })
}

impl PgDb {
    /// One value from a query on this database.
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}
