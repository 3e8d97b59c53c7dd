//! kill -9 in the middle of a large import: the database must open afterwards with its integrity
//! intact, and importing the same file again must complete it without duplicates.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: usize = 200_000;

fn write_csv(path: &std::path::Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "id,time,category,lat,lon").unwrap();
    for i in 0..ROWS {
        // A deterministic scatter over Täby.
        let lat = 59.40 + (i % 997) as f64 * 0.00008;
        let lon = 18.00 + (i % 1009) as f64 * 0.00012;
        writeln!(
            f,
            "R{i},2026-0{}-1{} 2{}:1{}:00,Stöld,{lat:.6},{lon:.6}",
            1 + i % 9,
            i % 10,
            i % 4,
            i % 10
        )
        .unwrap();
    }
}

#[tokio::test]
async fn killed_import_leaves_a_sound_database_and_can_be_completed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite");
    let csv = dir.path().join("big.csv");
    write_csv(&csv);
    let args = |db: &std::path::Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lagesbild"));
        c.arg("--db")
            .arg(db)
            .args(["import", "--json", "incidents"])
            .arg(&csv)
            .args([
                "--id",
                "id",
                "--time",
                "time",
                "--category",
                "category",
                "--lat",
                "lat",
                "--lon",
                "lon",
                "--source",
                "big",
            ]);
        c
    };
    // Create the schema first so that the progress can be watched.
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let mut child = args(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // Wait until at least one batch is committed, then kill without warning.
    loop {
        if store.data_version().await.unwrap() > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no batch committed in 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    drop(store);

    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let sqlite = lagesbild::store::sqlite::SqliteStore::open(db.to_str().unwrap())
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(sqlite.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let partial = store.counts().await.unwrap().incidents;
    assert!(partial > 0, "one batch was committed before the kill");
    // Whole batches or nothing: the count is a multiple of the batch size unless it finished.
    assert!(
        partial as usize % lagesbild::ingest::BATCH_SIZE == 0 || partial as usize == ROWS,
        "{partial} rows: a batch was half written"
    );

    let out = args(&db).output().unwrap();
    assert!(out.status.success());
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["imported"].as_u64().unwrap(), ROWS as u64 - partial);
    assert_eq!(summary["unchanged"].as_u64().unwrap(), partial);
    assert_eq!(store.counts().await.unwrap().incidents, ROWS as u64);
}
