//! Hotspot benchmarks on seeded synthetic data, the reference in the same run.
//!
//! Data (as the issue asks): N points (default 1 000 000) on 20 × 20 km in SWEREF 99 TM
//! coordinates; 40 % in 200 gaussian hotspots of σ = 80 m, 60 % uniform.
//! - DBSCAN, eps 30 m, min 20: ours against `geo::Dbscan` (the labels are checked equal);
//! - Gi*, 100 m square cells, 300 m band (target < 50 ms);
//! - KDE, quartic, 200 m bandwidth, 50 m cells.
//!
//! `HOTSPOTS_BENCH_N=100000 cargo bench --bench hotspots` runs a smaller size. Before the
//! criterion runs, a direct timing prints the ratios; `cargo bench --bench hotspots -- none`
//! prints only those. Where PROJ has not been built in release yet, the same comparison runs
//! without rebuilding it: `CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_OPT_LEVEL=2 cargo bench
//! --profile dev --bench hotspots` (both `geo` and this crate then at opt-level 2).

use std::time::{Duration, Instant};

mod support;

use criterion::{Criterion, criterion_group};
use geo::{Dbscan, Point};
use lagesbild::analysis::hotspot::dbscan::dbscan;
use lagesbild::analysis::hotspot::gistar::{GiStarParams, hot_spots};
use lagesbild::analysis::hotspot::grid::GridKind;
use lagesbild::analysis::hotspot::kde::{KdeParams, density};

fn n_points() -> usize {
    // `cargo bench` passes --bench; `cargo test --benches` (part of `make test`) runs this file
    // too, and then a small size is enough to show it still works.
    let full = std::env::args().any(|a| a == "--bench");
    std::env::var("HOTSPOTS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 1_000_000 } else { 20_000 })
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

fn direct_comparison(pts: &[[f64; 2]]) {
    let n = pts.len();
    let geo_pts: Vec<Point<f64>> = pts.iter().map(|p| Point::new(p[0], p[1])).collect();
    let (t_geo, geo_labels) = best_of(2, || geo_pts.dbscan(30.0, 20));
    let (t_ours, ours) = best_of(3, || dbscan(pts, 30.0, 20));
    assert_eq!(ours.labels, geo_labels, "labels differ from geo's");
    println!(
        "DBSCAN n={n} eps=30 min=20: geo {:.1} ms, ours {:.1} ms, ratio {:.1}x ({} clusters, labels identical)",
        t_geo.as_secs_f64() * 1e3,
        t_ours.as_secs_f64() * 1e3,
        t_geo.as_secs_f64() / t_ours.as_secs_f64(),
        ours.clusters
    );
    let params = GiStarParams {
        grid: GridKind::Square,
        cell: Some(100.0),
        band: Some(300.0),
    };
    let (t_gi, gi) = best_of(5, || hot_spots(pts, &params, None));
    println!(
        "Gi* n={n} cell=100 band=300: {:.1} ms for {} cells ({} hot at 95 % FDR); target < 50 ms: {}",
        t_gi.as_secs_f64() * 1e3,
        gi.analysed,
        gi.cells.iter().filter(|c| c.bin >= 2).count(),
        if t_gi.as_secs_f64() < 0.05 {
            "met"
        } else {
            "missed"
        }
    );
    let kp = KdeParams {
        bandwidth: Some(200.0),
        cell: Some(50.0),
        frame: None,
    };
    let (t_kde, k) = best_of(3, || density(pts, &kp));
    println!(
        "KDE n={n} bandwidth=200 cell=50: {:.1} ms for {}x{} cells",
        t_kde.as_secs_f64() * 1e3,
        k.width,
        k.height
    );
}

fn benches(c: &mut Criterion) {
    let pts = support::hotspot_points(n_points());
    direct_comparison(&pts);
    let geo_pts: Vec<Point<f64>> = pts.iter().map(|p| Point::new(p[0], p[1])).collect();
    let mut g = c.benchmark_group("dbscan");
    g.sample_size(10).warm_up_time(Duration::from_millis(500));
    g.bench_function("ours_grid", |b| b.iter(|| dbscan(&pts, 30.0, 20)));
    g.bench_function("geo_rtree", |b| b.iter(|| geo_pts.dbscan(30.0, 20)));
    g.finish();
    let mut g = c.benchmark_group("gistar");
    g.sample_size(20);
    let params = GiStarParams {
        grid: GridKind::Square,
        cell: Some(100.0),
        band: Some(300.0),
    };
    g.bench_function("square_100m_band_300m", |b| {
        b.iter(|| hot_spots(&pts, &params, None))
    });
    let hex = GiStarParams {
        grid: GridKind::Hex,
        ..params
    };
    g.bench_function("hex_100m_band_300m", |b| {
        b.iter(|| hot_spots(&pts, &hex, None))
    });
    g.finish();
    let mut g = c.benchmark_group("kde");
    g.sample_size(10);
    let kp = KdeParams {
        bandwidth: Some(200.0),
        cell: Some(50.0),
        frame: None,
    };
    g.bench_function("quartic_200m_cell_50m", |b| b.iter(|| density(&pts, &kp)));
    g.finish();
}

criterion_group!(hotspot_benches, benches);

fn main() {
    hotspot_benches();
    Criterion::default().configure_from_args().final_summary();
}
