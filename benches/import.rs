//! Import throughput, end to end: a seeded CSV of 1 000 000 incidents in WGS84 is parsed,
//! transformed to SWEREF 99 TM with PROJ, checked, and upserted into a fresh SQLite file; and the
//! Helsinki OSM PBF. Reported: rows per second, and the peak resident memory of the import (the
//! process's high-water mark is reset before each run).
//!
//! The reference is what one would write first: the same rows stored with one INSERT statement
//! per row inside one transaction (parsing and PROJ excluded, so the comparison flatters it); and
//! the ceiling, SQLite's own `INSERT … SELECT` of the rows the importer stored into the same
//! table of a fresh database.
//!
//! Through `scripts/with-postgres.sh` the same CSV goes into PostgreSQL/PostGIS too, beside
//! `psql \copy` of the same rows into the same table.
//!
//! Run: `cargo bench --bench import` (N=… to change the row count).

#[path = "../tests/it/support/pg.rs"]
mod pg;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use lagesbild::crs::ServiceArea;
use lagesbild::ingest::{self, incidents_csv};
use lagesbild::model::LocationPrecision;
use rand::{Rng, SeedableRng};

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn write_csv(path: &Path, n: usize) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    writeln!(f, "id,time,category,lat,lon").unwrap();
    let cats = [
        "Misshandel",
        "Stöld",
        "Skadegörelse",
        "Narkotikabrott",
        "Inbrott",
        "Rån",
    ];
    for i in 0..n {
        let lat = 59.30 + rng.random::<f64>() * 0.2;
        let lon = 17.90 + rng.random::<f64>() * 0.35;
        writeln!(
            f,
            "I{i},2026-{:02}-{:02} {:02}:{:02}:{:02},{},{lat:.6},{lon:.6}",
            1 + rng.random_range(0..12),
            1 + rng.random_range(0..28),
            rng.random_range(0..24),
            rng.random_range(0..60),
            rng.random_range(0..60),
            cats[rng.random_range(0..cats.len())]
        )
        .unwrap();
    }
}

async fn import_csv(db: &str, csv: &Path) -> (f64, u64, u64) {
    let store = lagesbild::store::open(db).await.unwrap();
    let opts = incidents_csv::IncidentCsvOptions {
        path: csv.to_path_buf(),
        source: "bench".into(),
        id: "id".into(),
        time: Some("time".into()),
        window: None,
        category: "category".into(),
        coords: incidents_csv::CoordColumns::LatLon {
            lat: "lat".into(),
            lon: "lon".into(),
        },
        epsg: 4326,
        delimiter: Some(b','),
        encoding: None,
        time_format: None,
        precision: LocationPrecision::Exact,
        place: None,
        area: ServiceArea::sweden(),
    };
    reset_peak_rss();
    let t = Instant::now();
    let s = ingest::run(Arc::clone(&store), csv, move |em| {
        incidents_csv::parse(opts, em)
    })
    .await
    .unwrap();
    (t.elapsed().as_secs_f64(), s.imported, peak_rss_kb())
}

async fn naive_inserts(db: &Path, n: usize) -> f64 {
    let store = lagesbild::store::sqlite::SqliteStore::open(db.to_str().unwrap())
        .await
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let t = Instant::now();
    let mut tx = store.pool().begin().await.unwrap();
    for i in 0..n {
        sqlx::query(
            "INSERT INTO incidents (source, source_id, occurred_utc, utc_offset_s, category, grp, label, x, y, precision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, source_id) DO NOTHING",
        )
        .bind("naive")
        .bind(format!("I{i}"))
        .bind(1_770_000_000i64 + i as i64)
        .bind(3600)
        .bind("theft")
        .bind("property")
        .bind("Stöld")
        .bind(600_000.0 + rng.random::<f64>() * 50_000.0)
        .bind(6_560_000.0 + rng.random::<f64>() * 50_000.0)
        .bind("exact")
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    n as f64 / t.elapsed().as_secs_f64()
}

/// SQLite's fastest way to load rows it already has: `INSERT … SELECT` of every incident the
/// importer stored in `from` into the same (keyed, indexed, triggered) table of a fresh
/// database made by the store, in one transaction. No parsing, no PROJ, no checks.
async fn insert_select(dir: &Path, from: &Path, n: usize) -> f64 {
    let to = dir.join("insert_select.sqlite");
    let store = lagesbild::store::sqlite::SqliteStore::open(to.to_str().unwrap())
        .await
        .unwrap();
    let cols = "source, source_id, occurred_utc, utc_offset_s, category, grp, label, x, y, \
        precision, place, summary, time_precision, occurred_to_utc";
    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ATTACH DATABASE '{}' AS src",
        from.display()
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    let t = Instant::now();
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await.unwrap();
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO main.incidents ({cols}) SELECT {cols} FROM src.incidents"
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::raw_sql("COMMIT").execute(&mut *conn).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(done.rows_affected() as usize, n);
    sqlx::raw_sql("DETACH DATABASE src")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    drop(store);
    let _ = std::fs::remove_file(&to);
    n as f64 / secs
}

/// The same CSV into PostgreSQL/PostGIS through the importer (new rows, then the same file again:
/// all unchanged), beside `psql \copy` of the very rows it stored into the same table of a fresh
/// database: the fastest way a user has to load them by hand, with no parsing of the source and
/// no PROJ.
fn postgres(rt: &tokio::runtime::Runtime, csv: &Path, n: usize, runs: usize) {
    println!("  PostgreSQL/PostGIS (same CSV, same run):");
    let cols = "source, source_id, occurred_at, utc_offset_s, time_precision, category, \
        category_group, label, geom, location_precision";
    let dump = csv.with_extension("copy");
    let mut best = f64::INFINITY;
    let mut best_again = f64::INFINITY;
    for run in 0..runs {
        let db = pg::database("bench_import").expect("a cluster");
        let (secs, imported, peak_kb) = rt.block_on(import_csv(&db.url, csv));
        assert_eq!(imported as usize, n);
        assert_eq!(db.query("SELECT count(*) FROM incidents"), n.to_string());
        let (again, _, _) = rt.block_on(import_csv(&db.url, csv));
        println!(
            "    run {run}: new rows {secs:.2} s, {:.0} rows/s, peak RSS {:.0} MB; \
             the same file again (all unchanged) {again:.2} s, {:.0} rows/s",
            n as f64 / secs,
            peak_kb as f64 / 1024.0,
            n as f64 / again
        );
        best = best.min(secs);
        best_again = best_again.min(again);
        if run == 0 {
            db.query(&format!(
                "\\copy incidents ({cols}) TO '{}'",
                dump.display()
            ));
        }
    }
    let mut best_copy = f64::INFINITY;
    for _ in 0..runs {
        let db = pg::database("bench_copy").expect("a cluster");
        // The schema, as the importer's first open makes it.
        rt.block_on(lagesbild::store::open(&db.url)).unwrap();
        let t = Instant::now();
        db.query(&format!(
            "\\copy incidents ({cols}) FROM '{}'",
            dump.display()
        ));
        best_copy = best_copy.min(t.elapsed().as_secs_f64());
        assert_eq!(db.query("SELECT count(*) FROM incidents"), n.to_string());
    }
    let _ = std::fs::remove_file(&dump);
    let (ours, copy) = (n as f64 / best, n as f64 / best_copy);
    println!(
        "    best: {ours:.0} rows/s end to end (CSV, PROJ, checks, COPY), again {:.0} rows/s",
        n as f64 / best_again
    );
    println!(
        "    reference, psql \\copy of the stored rows into the same table: {copy:.0} rows/s; ratio {:.2}×",
        ours / copy
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too, at a small size.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 20_000 } else { 1_000_000 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("incidents.csv");
    write_csv(&csv, n);
    let mb = std::fs::metadata(&csv).unwrap().len() as f64 / 1e6;
    println!("import bench: {n} incidents, {mb:.1} MB CSV (WGS84 → EPSG:3006 → SQLite)");
    let mut best = f64::INFINITY;
    let mut best_insert_select = 0.0;
    for run in 0..if quick { 1 } else { 3 } {
        let db = dir.path().join(format!("run{run}.sqlite"));
        let (secs, imported, peak_kb) = rt.block_on(import_csv(db.to_str().unwrap(), &csv));
        assert_eq!(imported as usize, n);
        best = best.min(secs);
        println!(
            "  run {run}: {secs:.2} s, {:.0} rows/s, peak RSS {:.0} MB",
            n as f64 / secs,
            peak_kb as f64 / 1024.0
        );
        if run == 0 {
            let rate = rt.block_on(insert_select(dir.path(), &db, n));
            best_insert_select = rate;
        }
        let _ = std::fs::remove_file(&db);
    }
    let ours = n as f64 / best;
    let naive_n = (n / 10).max(1_000);
    let naive = rt.block_on(naive_inserts(&dir.path().join("naive.sqlite"), naive_n));
    println!("  best: {ours:.0} rows/s end to end");
    println!(
        "  reference, one INSERT per row (store only, {naive_n} rows): {naive:.0} rows/s; ratio {:.1}×",
        ours / naive
    );
    println!(
        "  reference, SQLite's own INSERT … SELECT of the stored rows into the same table of a \
         fresh database (store only): {best_insert_select:.0} rows/s; ratio {:.2}×",
        ours / best_insert_select
    );

    if std::env::var_os("LAGESBILD_TEST_PG").is_some() {
        postgres(&rt, &csv, n, if quick { 1 } else { 3 });
    } else {
        println!("  PostgreSQL: skipped (run through scripts/with-postgres.sh)");
    }

    // Read when the bench runs: the compile-time path would be another checkout's when several
    // share one target directory.
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let pbf = root.join("tests/fixtures/helsinki_center.osm.pbf");
    let db = dir.path().join("osm.sqlite");
    let secs = rt.block_on(async {
        let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
        let opts = ingest::osm::OsmOptions {
            path: pbf.clone(),
            area: ServiceArea::Unbounded,
        };
        reset_peak_rss();
        let t = Instant::now();
        let (w, l) = ingest::run_pair(store, &pbf, move |w, l| ingest::osm::parse(opts, w, l))
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  Helsinki PBF (685 kB): {} walkways + {} lamps in {:.3} s, peak RSS {:.0} MB",
            w.imported,
            l.imported,
            secs,
            peak_rss_kb() as f64 / 1024.0
        );
        secs
    });
    assert!(secs > 0.0);
}
