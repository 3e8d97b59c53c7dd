//! `lagesbild migrate --from FILE --to postgres://…`: the demo database with a report that has a
//! history and a contact, a report merged into a later one, and a coordinator token, copied
//! into PostgreSQL/PostGIS. Every table's rows are counted on both sides here (with sqlx on the
//! file, psql on the target), what each backend's own store reads back is compared, the token
//! still verifies, a non-empty target is refused without `--force` and replaced with it.

use std::process::{Command, Output};
use std::time::Instant;

use chrono::{DateTime, Utc};
use geo::Point;
use lagesbild::api::auth::{TokenCache, new_token, verify};
use lagesbild::model::{Actor, Contact, ReportChange, ReportStatus, Role, ServiceCode};
use lagesbild::store::postgres::PgStore;
use lagesbild::store::reports::NewReport;
use lagesbild::store::{ReportStore, Store, TokenStore};

use crate::support::pg;

/// Every table of the SQLite schema; each has the same name in PostgreSQL.
const TABLES: [&str; 16] = [
    "incidents",
    "walkways",
    "lamps",
    "areas",
    "bra_stats",
    "tokens",
    "meta",
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

fn migrate(file: &str, url: &str, force: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lagesbild"));
    cmd.args(["migrate", "--from", file, "--to", url])
        .env("LAGESBILD_LOG", "warn");
    if force {
        cmd.arg("--force");
    }
    cmd.output().expect("run lagesbild migrate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn sqlite_counts(file: &str) -> Vec<(&'static str, i64)> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{file}"))
        .await
        .unwrap();
    let mut out = Vec::new();
    for t in TABLES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(&pool)
            .await
            .unwrap();
        out.push((t, n));
    }
    pool.close().await;
    out
}

fn pg_counts(db: &pg::PgDb) -> Vec<(&'static str, i64)> {
    TABLES
        .iter()
        .map(|t| {
            let n = db.query(&format!("SELECT count(*) FROM {t}"));
            (*t, n.parse().unwrap())
        })
        .collect()
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn new_report(description: &str, client_token: &str, contact: Contact) -> NewReport {
    let at = Point::new(674_010.0, 6_593_480.0);
    NewReport {
        service: ServiceCode::DarkPath,
        description: description.into(),
        location: at,
        original_location: Point::new(674_012.5, 6_593_477.25),
        walkway_id: None,
        lamp_id: None,
        address: Some("Stationsvägen 1".into()),
        media_url: None,
        attributes: serde_json::json!({"time_of_day": "evening"}),
        requested_at: whole_second(Utc::now()),
        client_token: Some(client_token.into()),
        content_hash: format!("migrate-test-{client_token}"),
        contact,
    }
}

/// What both backends read back through their own stores must be the same.
async fn same_content(sqlite: &dyn Store, pg: &dyn Store) {
    assert_eq!(
        sqlite.load_incidents().await.unwrap(),
        pg.load_incidents().await.unwrap(),
        "incidents"
    );
    assert_eq!(
        sqlite.load_walkways().await.unwrap(),
        pg.load_walkways().await.unwrap()
    );
    assert_eq!(
        sqlite.load_lamps().await.unwrap(),
        pg.load_lamps().await.unwrap()
    );
    assert_eq!(
        sqlite.load_areas().await.unwrap(),
        pg.load_areas().await.unwrap()
    );
    assert_eq!(
        sqlite.load_bra().await.unwrap(),
        pg.load_bra().await.unwrap()
    );
    assert_eq!(
        sqlite.load_reports().await.unwrap(),
        pg.load_reports().await.unwrap(),
        "reports"
    );
    let measures = sqlite.list_measures().await.unwrap();
    assert!(!measures.is_empty(), "the demo has measures");
    assert_eq!(measures, pg.list_measures().await.unwrap());
    for m in &measures {
        assert_eq!(
            sqlite.measure_history(m.id).await.unwrap(),
            pg.measure_history(m.id).await.unwrap(),
            "history of measure {}",
            m.id
        );
    }
    assert_eq!(
        sqlite.list_pledges().await.unwrap(),
        pg.list_pledges().await.unwrap()
    );
    assert_eq!(
        sqlite.patrol_counts().await.unwrap(),
        pg.patrol_counts().await.unwrap()
    );
    assert_eq!(
        sqlite.list_tokens().await.unwrap(),
        pg.list_tokens().await.unwrap()
    );
    assert_eq!(
        sqlite.data_version().await.unwrap(),
        pg.data_version().await.unwrap()
    );
    assert_eq!(
        sqlite.get_meta("demo").await.unwrap(),
        pg.get_meta("demo").await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_database_migrates_whole_and_verified() {
    let Some(db) = pg::database("migrate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lagesbild.sqlite");
    let file = file.to_str().unwrap().to_string();

    // The demo database, as `make run` makes it, plus a report with a status change and a
    // contact, one merged into a report with a larger id, and a coordinator token.
    let sqlite = lagesbild::store::open(&file).await.unwrap();
    assert!(lagesbild::cli::demo::seed(sqlite.as_ref()).await.unwrap());
    let email = "anna.andersson@example.se";
    let contact = Contact {
        email: Some(email.into()),
        first_name: Some("Anna".into()),
        phone: Some("070-000 00 00".into()),
        ..Contact::default()
    };
    let report = sqlite
        .create_report(&new_report(
            "Mörkt vid tunneln, lampan är släckt",
            "mig-1",
            contact,
        ))
        .await
        .unwrap()
        .report;
    let coordinator = Actor::new("cli", Role::Coordinator);
    let change = |status, reason: &str| ReportChange {
        status: Some(status),
        reason: Some(reason.into()),
        ..ReportChange::default()
    };
    sqlite
        .update_report(
            report.id,
            &change(ReportStatus::Acknowledged, "sett"),
            &coordinator,
        )
        .await
        .unwrap();
    sqlite
        .update_report(
            report.id,
            &change(ReportStatus::InProgress, "beställt"),
            &coordinator,
        )
        .await
        .unwrap();
    let dup = sqlite
        .create_report(&new_report("Samma tunnel", "mig-2", Contact::default()))
        .await
        .unwrap()
        .report;
    let later = sqlite
        .create_report(&new_report("Tunneln igen", "mig-3", Contact::default()))
        .await
        .unwrap()
        .report;
    assert!(later.id > dup.id);
    sqlite
        .update_report(
            dup.id,
            &ReportChange {
                merged_into: Some(later.id),
                reason: Some("dubblett".into()),
                ..ReportChange::default()
            },
            &coordinator,
        )
        .await
        .unwrap();
    let (token, stored) = new_token(Role::Coordinator, "samordnare");
    sqlite.insert_token(&stored).await.unwrap();
    let history = sqlite.report_history(report.id).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["created", "status", "status"], "{history:?}");

    let before = sqlite_counts(&file).await;
    for t in [
        "incidents",
        "walkways",
        "lamps",
        "areas",
        "bra_stats",
        "reports",
    ] {
        assert!(
            before.iter().any(|(n, c)| *n == t && *c > 0),
            "the demo has {t}"
        );
    }

    let started = Instant::now();
    let out = migrate(&file, &db.url, false);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "migrate failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    eprintln!(
        "migrated the demo database ({} rows) in {took:.2?}",
        before.iter().map(|(_, n)| n).sum::<i64>()
    );
    let summary = text(&out.stdout);
    for (t, n) in &before {
        assert!(
            summary
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == [*t, &n.to_string(), &n.to_string()]),
            "summary row for {t} ({n}): {summary}"
        );
    }
    assert_eq!(
        pg_counts(&db),
        before,
        "rows per table, SQLite vs PostgreSQL"
    );

    let pg = PgStore::open(&db.url).await.unwrap();
    // The report keeps its id, its history (actions, order, instants, details) and its contact.
    let copied = pg.get_report(report.id).await.unwrap().expect("same id");
    assert_eq!(copied.description, report.description);
    assert_eq!(copied.status, ReportStatus::InProgress);
    assert_eq!(pg.report_history(report.id).await.unwrap(), history);
    let c = pg.get_contact(report.id).await.unwrap().expect("contact");
    assert_eq!(c.email.as_deref(), Some(email));
    assert_eq!(c.first_name.as_deref(), Some("Anna"));
    assert_eq!(
        db.query(&format!(
            "SELECT email FROM report_contacts WHERE report_id = {}",
            report.id
        )),
        email
    );
    assert_eq!(
        pg.get_report(dup.id).await.unwrap().unwrap().merged_into,
        Some(later.id)
    );
    // The token: the same hash, and its text still authenticates against PostgreSQL.
    let found = pg.find_token(&stored.id).await.unwrap().expect("token");
    assert_eq!(found.secret_hash, stored.secret_hash);
    assert_eq!(found.role, Role::Coordinator);
    assert_eq!(
        verify(&pg, &TokenCache::default(), &token).await.unwrap(),
        Some(Role::Coordinator)
    );
    same_content(sqlite.as_ref(), &pg).await;

    // PostGIS: EPSG:3006 geometries with the coordinates of the file, bit for bit.
    assert_eq!(
        db.query("SELECT ST_SRID(geom) FROM incidents LIMIT 1"),
        "3006"
    );
    assert_eq!(
        db.query(
            "SELECT string_agg(DISTINCT ST_SRID(g)::text, ',') FROM (SELECT geom AS g FROM \
             walkways UNION ALL SELECT geom FROM lamps UNION ALL SELECT geom FROM areas \
             UNION ALL SELECT location FROM reports) s"
        ),
        "3006"
    );
    let src = sqlx::SqlitePool::connect(&format!("sqlite://{file}"))
        .await
        .unwrap();
    let (id, x, y): (i64, f64, f64) =
        sqlx::query_as("SELECT id, x, y FROM incidents ORDER BY id LIMIT 1 OFFSET 7")
            .fetch_one(&src)
            .await
            .unwrap();
    let xy = db.query(&format!(
        "SELECT ST_X(geom) || ' ' || ST_Y(geom) FROM incidents WHERE id = {id}"
    ));
    let (px, py) = xy.split_once(' ').unwrap();
    assert_eq!(
        (px.parse::<f64>().unwrap(), py.parse::<f64>().unwrap()),
        (x, y)
    );
    let (wid, blob): (i64, Vec<u8>) =
        sqlx::query_as("SELECT id, coords FROM walkways ORDER BY id LIMIT 1")
            .fetch_one(&src)
            .await
            .unwrap();
    assert_eq!(
        db.query(&format!(
            "SELECT ST_NPoints(geom) FROM walkways WHERE id = {wid}"
        )),
        (blob.len() / 16).to_string()
    );
    src.close().await;

    // A second run without --force: refused, nothing changed.
    let out = migrate(&file, &db.url, false);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(pg_counts(&db), before);

    // With --force: the target is truncated and filled again in one transaction.
    let out = migrate(&file, &db.url, true);
    assert!(
        out.status.success(),
        "migrate --force failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(pg_counts(&db), before);
    assert_eq!(pg.report_history(report.id).await.unwrap(), history);
    assert_eq!(
        verify(&pg, &TokenCache::default(), &token).await.unwrap(),
        Some(Role::Coordinator)
    );

    // A row that cannot be copied (a walkway BLOB cut short) fails the migration after the
    // truncation and the first tables: all of it is rolled back, the target is as it was.
    let walkways_before =
        db.query("SELECT md5(string_agg(ST_AsText(geom), ',' ORDER BY id)) FROM walkways");
    let src = sqlx::SqlitePool::connect(&format!("sqlite://{file}"))
        .await
        .unwrap();
    let last: i64 = sqlx::query_scalar("SELECT max(id) FROM walkways")
        .fetch_one(&src)
        .await
        .unwrap();
    sqlx::query("UPDATE walkways SET coords = x'0001020304' WHERE id = ?")
        .bind(last)
        .execute(&src)
        .await
        .unwrap();
    src.close().await;
    let out = migrate(&file, &db.url, true);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("walkway geometry"), "{err}");
    assert_eq!(pg_counts(&db), before);
    assert_eq!(
        db.query("SELECT md5(string_agg(ST_AsText(geom), ',' ORDER BY id)) FROM walkways"),
        walkways_before
    );
    assert_eq!(
        verify(&pg, &TokenCache::default(), &token).await.unwrap(),
        Some(Role::Coordinator)
    );

    // New rows get ids past the copied ones: the identity sequences were moved.
    let max_id: i64 = before_max(&file).await;
    let fresh = pg
        .create_report(&new_report("Efter flytten", "mig-4", Contact::default()))
        .await
        .unwrap()
        .report;
    assert!(fresh.id > max_id, "{} after {max_id}", fresh.id);
}

async fn before_max(file: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{file}"))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT max(id) FROM reports")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[test]
fn a_missing_file_or_a_non_postgres_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sqlite");
    let out = migrate(missing.to_str().unwrap(), "postgres://localhost/x", false);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
    assert!(!missing.exists(), "the source is not created");
    let file = dir.path().join("empty.sqlite");
    std::fs::write(&file, b"").unwrap();
    let out = migrate(file.to_str().unwrap(), "mysql://localhost/x", false);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a PostgreSQL URL"),
        "{}",
        text(&out.stderr)
    );
}
