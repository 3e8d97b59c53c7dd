//! The answers people wait for, through the real server as they meet them, beside the
//! references in the same run: the release binary (`lagesbild serve`) over a real SQLite file of
//! 1 000 000 seeded incidents (the hotspot bench's data: 20 × 20 km, 40 % in 200 gaussian
//! hotspots of σ = 80 m, 60 % uniform, `support::hotspot_points`, spread over 2025), asked over loopback HTTP with a police
//! token.
//!
//! Printed:
//! - the server's start (snapshot load), its RSS after loading and its peak while loading, and
//!   its RSS after the requests;
//! - DBSCAN eps 30 m, min 20, five uncached requests (eps 30, 30.001, …) beside `geo::Dbscan`
//!   on the same points (cluster counts checked equal), each and their median;
//! - Gi\* 100 m cells, 300 m band, nine uncached requests (band 300, 300.001, …) beside esda's
//!   `G_Local` on the same size, recorded (6.4 s on this machine, issue 10), each and their
//!   median: three were too few on this noisy machine to tell a 10 % change;
//! - the first DBSCAN answer after a restart against a warm one.
//!
//! `cargo bench --bench api` runs the full size; `cargo test --benches` a 1/50 one;
//! `API_BENCH_DB=FILE` keeps the seeded database in FILE (which must not exist yet). The grid
//! network's lighting answers are in `benches/tiles.rs` and `benches/lighting.rs`.

mod support;

use support::{peak_rss_mb, rss_mb, serve};

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, TimeZone};
use geo::{Dbscan, Point};
use lagesbild::model::{CategoryGroup, Incident, LocationPrecision, TimePrecision};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// esda `G_Local` on 1M points, 100 m cells, 300 m band, recorded on this machine (issue 10).
const ESDA_GISTAR_S: f64 = 6.4;

fn incidents(pts: &[[f64; 2]]) -> Vec<Incident> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start = chrono::FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .unwrap();
    pts.iter()
        .enumerate()
        .map(|(i, p)| Incident {
            source: "bench".into(),
            source_id: i.to_string(),
            occurred_at: start + Days::minutes(rng.random_range(0..364 * 24 * 60)),
            time_precision: TimePrecision::Exact,
            occurred_to: None,
            category: "assault".into(),
            group: CategoryGroup::Violence,
            label: "Misshandel".into(),
            location: Point::new(p[0], p[1]),
            precision: LocationPrecision::Exact,
            place: None,
            summary: None,
        })
        .collect()
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(ms: &[f64]) -> f64 {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn get(agent: &ureq::Agent, url: &str, token: &str) -> (Value, f64) {
    let t = Instant::now();
    let mut r = agent
        .get(url)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let body = r
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    (serde_json::from_slice(&body).unwrap(), secs)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 1_000_000 } else { 20_000 };
    let dir = tempfile::tempdir().unwrap();
    // API_BENCH_DB keeps the seeded database (e.g. to profile the server on it afterwards).
    let db = std::env::var("API_BENCH_DB").unwrap_or_else(|_| {
        dir.path()
            .join("bench.sqlite")
            .to_str()
            .unwrap()
            .to_string()
    });
    let pts = support::hotspot_points(n);
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let rows = incidents(&pts);
        let t = Instant::now();
        rt.block_on(async {
            let store = lagesbild::store::open(&db).await.unwrap();
            for chunk in rows.chunks(100_000) {
                store.upsert_incidents(chunk).await.unwrap();
            }
        });
        let secs = t.elapsed().as_secs_f64();
        println!(
            "api: {n} incidents stored through the store in {secs:.1} s ({:.0} rows/s)",
            n as f64 / secs
        );
    }
    let token = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_lagesbild"))
            .args(["--db", &db, "token", "create", "--role", "police"])
            .args(["--label", "bench"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();

    let (mut child, addr, started) = serve(&db);
    std::thread::sleep(Duration::from_millis(500));
    println!(
        "api: server serving after {started:.2} s; RSS {:.0} MB with {n} incidents loaded (peak while loading {:.0} MB)",
        rss_mb(child.id()),
        peak_rss_mb(child.id())
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let base = format!("http://{addr}/api/v1/hotspots?from=2025-01-01&to=2025-12-31");

    // DBSCAN beside geo's.
    let mut dbscan_ms = Vec::new();
    let mut clusters = 0;
    for eps in ["30", "30.001", "30.002", "30.0021", "30.0022"] {
        let (v, secs) = get(
            &agent,
            &format!("{base}&method=dbscan&eps={eps}&min_points=20"),
            &token,
        );
        clusters = v["meta"]["clusters"].as_u64().unwrap() as usize;
        dbscan_ms.push(secs * 1e3);
    }
    let geo_pts: Vec<Point<f64>> = pts.iter().map(|p| Point::new(p[0], p[1])).collect();
    let t = Instant::now();
    let labels = geo_pts.dbscan(30.0, 20);
    let geo_s = t.elapsed().as_secs_f64();
    let geo_clusters = labels.iter().flatten().max().map_or(0, |m| m + 1);
    let best = dbscan_ms.iter().cloned().fold(f64::MAX, f64::min);
    println!(
        "api: DBSCAN eps 30 min 20 through the API: {} ms, median {:.0} ({clusters} clusters); geo::Dbscan {:.0} ms ({geo_clusters} clusters): {:.1}× geo",
        dbscan_ms
            .iter()
            .map(|m| format!("{m:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        median(&dbscan_ms),
        geo_s * 1e3,
        geo_s * 1e3 / best
    );
    assert_eq!(clusters, geo_clusters, "the API's clusters are geo's");

    // Gi* beside esda's recorded time.
    let mut gi_ms = Vec::new();
    for band in [
        "300", "300.001", "300.002", "300.0021", "300.0022", "300.0023", "300.0024", "300.0025",
        "300.0026",
    ] {
        let (v, secs) = get(
            &agent,
            &format!("{base}&method=gistar&cell=100&band={band}"),
            &token,
        );
        assert!(v["features"].as_array().is_some_and(|f| !f.is_empty()));
        gi_ms.push(secs * 1e3);
    }
    let best = gi_ms.iter().cloned().fold(f64::MAX, f64::min);
    println!(
        "api: Gi* 100 m cells, 300 m band through the API: {} ms, median {:.0}; esda G_Local {ESDA_GISTAR_S} s (recorded): {:.0}× esda (best), {:.0}× (median)",
        gi_ms
            .iter()
            .map(|m| format!("{m:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        median(&gi_ms),
        ESDA_GISTAR_S * 1e3 / best,
        ESDA_GISTAR_S * 1e3 / median(&gi_ms)
    );
    println!("api: RSS after the requests {:.0} MB", rss_mb(child.id()));
    let (_, warm) = get(
        &agent,
        &format!("{base}&method=dbscan&eps=30.003&min_points=20"),
        &token,
    );
    let _ = child.kill();
    let _ = child.wait();

    // A restart: the first answer against a warm one.
    let (mut child, addr, started) = serve(&db);
    let (_, first) = get(
        &agent,
        &format!(
            "http://{addr}/api/v1/hotspots?from=2025-01-01&to=2025-12-31&method=dbscan&eps=30.004&min_points=20"
        ),
        &token,
    );
    println!(
        "api: after a restart (serving in {started:.2} s) the first DBSCAN answer {:.0} ms, a warm one {:.0} ms: {:.2}×",
        first * 1e3,
        warm * 1e3,
        first / warm
    );
    let _ = child.kill();
    let _ = child.wait();
}
