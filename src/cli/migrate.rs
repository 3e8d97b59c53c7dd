//! `lagesbild migrate --from FILE.sqlite --to postgres://…`: copies a SQLite file into
//! PostgreSQL/PostGIS in one transaction and prints the rows of every table on both sides (see
//! `crate::store::migrate`). The global `--db` is not used.

use crate::store::migrate::{self, MigrateError, Options};

pub async fn run(from: &str, to: &str, force: bool) -> anyhow::Result<()> {
    let opts = Options {
        force,
        ..Options::default()
    };
    eprintln!("Copying {from} into {} …", redact(to));
    let summary = match migrate::migrate(from, to, &opts).await {
        Ok(s) => s,
        Err(e @ MigrateError::NotEmpty(_)) => anyhow::bail!("{e}"),
        Err(e) => return Err(anyhow::Error::new(e).context("the migration failed")),
    };
    let width = summary
        .tables
        .iter()
        .map(|t| t.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:<width$}  {:>12}  {:>12}", "table", "sqlite", "postgres");
    for t in &summary.tables {
        println!("{:<width$}  {:>12}  {:>12}", t.table, t.sqlite, t.postgres);
    }
    let total: u64 = summary.tables.iter().map(|t| t.postgres).sum();
    eprintln!(
        "Migrated {total} rows in {:.2} s{}: every count matches.",
        summary.elapsed.as_secs_f64(),
        if summary.replaced {
            " (--force: the target's previous rows were truncated)"
        } else {
            ""
        }
    );
    Ok(())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            super::redact("postgres://lb:secret@db:5432/lagesbild"),
            "postgres://lb:***@db:5432/lagesbild"
        );
        assert_eq!(
            super::redact("postgres://db/lagesbild"),
            "postgres://db/lagesbild"
        );
    }
}
