//! Near-repeat (Knox) benchmark on seeded synthetic data, the reference in the same run.
//!
//! Data (as the issue asks): N events (default 10 000) uniform on 10 × 10 km over 365 days, a
//! tenth of them followed within 100 m and 7 days by a repeat; the default bands (100–400 m,
//! 7–28 days) and 999 permutations.
//! - ours: the pairs within 400 m found once on a grid, then 999 permutations re-reading their
//!   times, in parallel ([`lagesbild::analysis::near_repeat`]);
//! - the naive pair loop a user would write: for every permutation, every pair of events, its
//!   distance and time apart. It is timed on a few permutations and scaled to 999 (its cost is
//!   linear in them); its observed table is checked equal to ours.
//!
//! `NEAR_REPEAT_BENCH_N=2000 cargo bench --bench near_repeat` runs a smaller size;
//! `cargo bench --bench near_repeat -- none` prints only the direct comparison.

use std::time::Instant;

use criterion::{Criterion, criterion_group};
use lagesbild::analysis::cancel::Cancel;
use lagesbild::analysis::near_repeat::{Event, close_pairs, knox};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SPACE: [f64; 4] = [100.0, 200.0, 300.0, 400.0];
const TIME: [f64; 4] = [7.0, 14.0, 21.0, 28.0];
const PERMUTATIONS: usize = 999;

fn n_events() -> usize {
    // `cargo test --benches` (part of `make test`) runs this file too, at a small size.
    let full = std::env::args().any(|a| a == "--bench");
    std::env::var("NEAR_REPEAT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000 } else { 1_000 })
}

fn data(n: usize) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let e = Event {
            x: rng.random_range(0.0..10_000.0),
            y: rng.random_range(0.0..10_000.0),
            t: rng.random_range(0.0..365.0),
        };
        out.push(e);
        if out.len() < n && rng.random_bool(0.1) {
            out.push(Event {
                x: e.x + rng.random_range(-70.0..70.0),
                y: e.y + rng.random_range(-70.0..70.0),
                t: e.t + rng.random_range(0.0..7.0),
            });
        }
    }
    out
}

fn band(v: f64, edges: &[f64]) -> Option<usize> {
    edges.iter().position(|&hi| v < hi)
}

/// The naive table for one arrangement of times: every pair, every time.
fn naive_table(events: &[Event], times: &[f64]) -> Vec<u64> {
    let mut c = vec![0u64; SPACE.len() * TIME.len()];
    for i in 0..events.len() {
        for j in i + 1..events.len() {
            let d = (events[i].x - events[j].x).hypot(events[i].y - events[j].y);
            if let (Some(s), Some(t)) = (band(d, &SPACE), band((times[i] - times[j]).abs(), &TIME))
            {
                c[s * TIME.len() + t] += 1;
            }
        }
    }
    c
}

fn direct_comparison(events: &[Event]) {
    let cancel = Cancel::never();
    let started = Instant::now();
    let pairs = close_pairs(events, &SPACE, usize::MAX, &cancel).expect("pairs");
    let table = knox(events, &pairs, SPACE.len(), &TIME, PERMUTATIONS, 1, &cancel).expect("knox");
    let ours = started.elapsed().as_secs_f64();

    let times: Vec<f64> = events.iter().map(|e| e.t).collect();
    let observed = naive_table(events, &times);
    let ours_observed: Vec<u64> = table.iter().map(|c| c.observed).collect();
    assert_eq!(
        observed, ours_observed,
        "the naive loop and ours count the same pairs"
    );
    let sample = 3;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let started = Instant::now();
    for _ in 0..sample {
        let mut t = times.clone();
        t.shuffle(&mut rng);
        std::hint::black_box(naive_table(events, &t));
    }
    let per_permutation = started.elapsed().as_secs_f64() / sample as f64;
    let naive = per_permutation * (PERMUTATIONS + 1) as f64;
    println!(
        "near repeat, {} events, {} pairs within 400 m, {PERMUTATIONS} permutations: ours {ours:.3} s; \
         naive pair loop {naive:.1} s ({per_permutation:.3} s a permutation × {}); ratio {:.0}×",
        events.len(),
        pairs.len(),
        PERMUTATIONS + 1,
        naive / ours
    );
}

fn benches(c: &mut Criterion) {
    let events = data(n_events());
    direct_comparison(&events);
    let cancel = Cancel::never();
    let mut g = c.benchmark_group("near_repeat");
    g.sample_size(10);
    g.bench_function("pairs_and_999_permutations", |b| {
        b.iter(|| {
            let pairs = close_pairs(&events, &SPACE, usize::MAX, &cancel).unwrap();
            knox(
                &events,
                &pairs,
                SPACE.len(),
                &TIME,
                PERMUTATIONS,
                1,
                &cancel,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(near_repeat_benches, benches);

fn main() {
    near_repeat_benches();
    Criterion::default().configure_from_args().final_summary();
}
