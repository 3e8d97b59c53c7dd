//! Load test of citizen report submission over loopback: N form-encoded Open311 submissions from
//! C concurrent keep-alive clients against a real server on a real SQLite file (WAL), then reads.
//!
//! Run: `cargo bench --bench report_load` (release build). Scale with `REPORT_LOAD_N` (default
//! 5000) and `REPORT_LOAD_CLIENTS` (default 16). The reference is the target of issue 5:
//! ≥ 1000 committed reports/s with p99 < 50 ms; the ratios against it are printed.
//!
//! Every submission is answered only after its commit and after the spatial snapshot includes it
//! (see `lagesbild::reports::publish`), so the throughput printed is committed-and-visible
//! reports per second. The server uses the fictitious demo walkways and lamps so that snapping
//! and lamp attachment do real R-tree work; the rate limit is off (`reports_per_minute = 0`).
//!
//! Without a release build of PROJ at hand, an optimised build of the same code is
//! `CARGO_PROFILE_DEV_OPT_LEVEL=2 cargo bench --profile dev --bench report_load` (dependencies are
//! already built at opt-level 2 in the dev profile).
//! Measured 2026-11-23 that way, on 2 cores shared with other builds (load average ≈ 10), with
//! group commit: 5000 submissions in 3.7–4.1 s = 1210–1340/s, p50 10–11 ms, p99 52 ms; single
//! reads ≈ 5600/s, p99 7–8 ms. (Before group commit, one transaction per report: 661/s, p99
//! 103 ms.)

#[path = "../tests/it/support/mod.rs"]
mod support;

use support::reports as common_reports;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TARGET_PER_S: f64 = 1000.0;
const TARGET_P99_MS: f64 = 50.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(label: &str, n: usize, wall: Duration, mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort();
    let rate = n as f64 / wall.as_secs_f64();
    let p99 = percentile(&lat, 0.99);
    println!(
        "{label:<36} {n:>6} in {:>6.2} s = {rate:>8.0}/s   p50 {:>6.2} ms  p99 {p99:>6.2} ms  max {:>7.2} ms",
        wall.as_secs_f64(),
        percentile(&lat, 0.50),
        percentile(&lat, 1.0),
    );
    (rate, p99)
}

/// Runs `f(client, agent, index)` for `index` in `0..n`, spread over `clients` threads, each with
/// its own keep-alive connection; returns the wall time and every call's latency.
fn run<F>(n: usize, clients: usize, f: F) -> (Duration, Vec<Duration>)
where
    F: Fn(usize, &ureq::Agent, usize) + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (f, next) = (f.clone(), next.clone());
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let t = Instant::now();
                    f(c, &agent, i);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in threads {
        all.extend(t.join().unwrap());
    }
    (t0.elapsed(), all)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` (part of `make test`) runs this file
    // too, and then a tenth of the load shows it still works.
    let full = std::env::args().any(|a| a == "--bench");
    let n = env_usize("REPORT_LOAD_N", if full { 5000 } else { 500 });
    let clients = env_usize("REPORT_LOAD_CLIENTS", 16);
    let srv = common_reports::start(0);
    let data = lagesbild::demo::generate(chrono::Utc::now());
    srv.rt.block_on(async {
        srv.state
            .store
            .upsert_walkways(&data.walkways)
            .await
            .unwrap();
        srv.state.store.upsert_lamps(&data.lamps).await.unwrap();
        srv.state
            .spatial
            .reload(srv.state.store.as_ref())
            .await
            .unwrap();
    });
    println!(
        "report load test: {n} submissions from {clients} clients over loopback ({}), {} walkways, {} lamps",
        srv.base,
        data.walkways.len(),
        data.lamps.len()
    );

    // Seeded points around the demo centre (EPSG:3006 → WGS84 once, before timing).
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let points: Arc<Vec<(String, String)>> = Arc::new(
        (0..n)
            .map(|_| {
                let x = lagesbild::demo::CENTRE.0 + rng.random_range(-1400.0..1400.0);
                let y = lagesbild::demo::CENTRE.1 + rng.random_range(-1100.0..1100.0);
                let (lat, long) = common_reports::latlong(x, y);
                (format!("{lat:.7}"), format!("{long:.7}"))
            })
            .collect(),
    );
    let codes = [
        "dark_path",
        "broken_lamp",
        "unsafe_place",
        "vegetation",
        "other",
    ];
    let base = srv.base.clone();
    let ids = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n)));
    let (pts, ids_w) = (points.clone(), ids.clone());
    let (wall, lat) = run(n, clients, move |c, agent, i| {
        let text = format!("Lasttest klient {c} rapport {i}: mörkt och otryggt här.");
        let mut r = agent
            .post(format!("{base}/open311/v2/requests.json"))
            .send_form([
                ("service_code", codes[i % codes.len()]),
                ("lat", pts[i].0.as_str()),
                ("long", pts[i].1.as_str()),
                ("description", text.as_str()),
                ("email", "last@example.org"),
            ])
            .expect("submit");
        assert_eq!(r.status(), 200);
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        ids_w
            .lock()
            .unwrap()
            .push(v[0]["service_request_id"].as_str().unwrap().to_string());
    });
    let (rate, p99) = report("POST requests.json (commit+publish)", n, wall, lat);
    let ids: Arc<Vec<String>> = Arc::new(ids.lock().unwrap().clone());
    let stored = srv.rt.block_on(srv.state.store.counts()).unwrap().reports as usize;
    assert_eq!(stored, n, "every submission is one stored report");
    assert_eq!(srv.state.spatial.load().reports.items.len(), n);

    let reads = n.min(5000);
    let base = srv.base.clone();
    let ids_r = ids.clone();
    let (wall, lat) = run(reads, clients, move |_, agent, i| {
        let id = &ids_r[(i * 7919) % ids_r.len()];
        let mut r = agent
            .get(format!("{base}/open311/v2/requests/{id}.json"))
            .call()
            .expect("get");
        assert_eq!(r.status(), 200);
        let _ = r.body_mut().read_to_string().unwrap();
    });
    report("GET requests/{id}.json", reads, wall, lat);

    let lists = 200;
    let base = srv.base.clone();
    let (wall, lat) = run(lists, clients, move |_, agent, i| {
        let fmt = if i % 2 == 0 { "json" } else { "xml" };
        let mut r = agent
            .get(format!("{base}/open311/v2/requests.{fmt}?status=open"))
            .call()
            .expect("list");
        assert_eq!(r.status(), 200);
        let _ = r.body_mut().read_to_string().unwrap();
    });
    report("GET requests.{json,xml} (≤1000 each)", lists, wall, lat);

    println!(
        "reference (issue 5): {TARGET_PER_S:.0} committed reports/s with p99 < {TARGET_P99_MS:.0} ms → throughput {:.2}× the target, p99 at {:.2} of the budget",
        rate / TARGET_PER_S,
        p99 / TARGET_P99_MS
    );
}
