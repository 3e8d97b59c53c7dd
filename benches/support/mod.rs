//! What several benches share: the hotspot bench's seeded incident positions, a timed GET, and
//! the release server started as a process with its resident memory read.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

pub const ORIGIN: [f64; 2] = [660_000.0, 6_580_000.0];
pub const SIDE: f64 = 20_000.0;

/// N seeded points on 20 × 20 km in SWEREF 99 TM from [`ORIGIN`]: 40 % in 200 gaussian
/// hotspots of σ = 80 m, 60 % uniform, shuffled.
pub fn hotspot_points(n: usize) -> Vec<[f64; 2]> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let centres: Vec<[f64; 2]> = (0..200)
        .map(|_| {
            [
                ORIGIN[0] + rng.random_range(500.0..SIDE - 500.0),
                ORIGIN[1] + rng.random_range(500.0..SIDE - 500.0),
            ]
        })
        .collect();
    let g = Normal::new(0.0, 80.0).unwrap();
    let clustered = n * 2 / 5;
    let mut pts = Vec::with_capacity(n);
    for k in 0..clustered {
        let c = centres[k % centres.len()];
        pts.push([c[0] + g.sample(&mut rng), c[1] + g.sample(&mut rng)]);
    }
    for _ in clustered..n {
        pts.push([
            ORIGIN[0] + rng.random_range(0.0..SIDE),
            ORIGIN[1] + rng.random_range(0.0..SIDE),
        ]);
    }
    // Shuffle so that input order carries no locality.
    for i in (1..pts.len()).rev() {
        let j = rng.random_range(0..=i);
        pts.swap(i, j);
    }
    pts
}

/// `GET url` over `agent`: the body and the seconds it took.
pub fn get(agent: &ureq::Agent, url: &str) -> (Vec<u8>, f64) {
    let t = Instant::now();
    let mut r = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let body = r
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap();
    (body, t.elapsed().as_secs_f64())
}

/// `lagesbild serve` on 127.0.0.1:0 over `db`: the child, its address, and seconds to serving.
pub fn serve(db: &str) -> (Child, String, f64) {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args(["--db", db, "serve", "--addr", "127.0.0.1:0"])
        .env("NO_COLOR", "1")
        .env("LAGESBILD_LOG", "info,sqlx=warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server stopped before serving")
            .unwrap();
        if let Some(rest) = line.split("serving Lägesbild at http://").nth(1) {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr, t.elapsed().as_secs_f64())
}

pub fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

/// The peak resident memory of process `pid` so far in MB (its high-water mark).
pub fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM:")
}

fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
