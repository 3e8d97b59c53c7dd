//! The lighting analysis at city scale: 100 000 walkway segments (10 000 walkways of 10
//! segments, a seeded random network over 30 × 30 km) and 50 000 lamps, 3 % of them broken,
//! with 2 000 citizen reports and 20 000 incidents, full analysis at 2 m sampling.
//!
//! The reference is the naive computation: every sample against every lamp, without the R-tree.
//! It is run on a subset of walkways (the full run would take minutes), checked to give the same
//! lux as the analysis, and scaled to the whole network; the ratio is printed.

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use geo::{Coord, LineString, Point};
use lagesbild::analysis::lighting::line::Measured;
use lagesbild::analysis::lighting::{self, LampModel, LightingInputs, LightingParams};
use lagesbild::category::CategoryGroup;
use lagesbild::model::{
    CitizenReport, Incident, Lamp, LampStatus, LocationPrecision, ReportStatus, ServiceCode,
    Walkway,
};
use lagesbild::spatial::{AreaLayer, IncidentLayer, LampLayer, ReportLayer, WalkwayLayer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEGMENTS_PER_WALKWAY: usize = 10;

/// The size of the seeded city. `cargo bench` passes `--bench`; `cargo test --benches` (part of
/// `make test`) runs this file too, and then a city of 1/50 the size, same density, is enough to
/// show the bench still works.
struct Scale {
    walkways: usize,
    lamps: usize,
    side_m: f64,
    reports: usize,
    incidents: usize,
}

fn scale() -> Scale {
    let full = std::env::args().any(|a| a == "--bench");
    let div = if full { 1 } else { 50 };
    Scale {
        walkways: 10_000 / div,
        lamps: 50_000 / div,
        side_m: 30_000.0 / (div as f64).sqrt(),
        reports: 2_000 / div,
        incidents: 20_000 / div,
    }
}
const ORIGIN: (f64, f64) = (650_000.0, 6_570_000.0);

struct World {
    walkways: WalkwayLayer,
    lamps: LampLayer,
    reports: ReportLayer,
    incidents: IncidentLayer,
    areas: AreaLayer,
}

impl World {
    fn inputs(&self) -> LightingInputs<'_> {
        LightingInputs {
            walkways: &self.walkways.items,
            walkway_tree: &self.walkways.tree,
            lamps: &self.lamps.items,
            lamp_tree: &self.lamps.tree,
            reports: &self.reports.items,
            report_tree: &self.reports.tree,
            incidents: &self.incidents.items,
            incident_tree: &self.incidents.tree,
            areas: &self.areas.items,
        }
    }
}

fn build() -> World {
    let Scale {
        walkways: n_walkways,
        lamps: n_lamps,
        side_m: side,
        reports: n_reports,
        incidents: n_incidents,
    } = scale();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let kinds = [
        "footway", "footway", "cycleway", "path", "sidewalk", "steps",
    ];
    let lits = [
        Some("yes"),
        Some("yes"),
        Some("no"),
        None,
        Some("automatic"),
    ];
    let mut walkways = Vec::with_capacity(n_walkways);
    for i in 0..n_walkways {
        let mut x = ORIGIN.0 + rng.random_range(0.0..side);
        let mut y = ORIGIN.1 + rng.random_range(0.0..side);
        let mut heading: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let mut pts = vec![Coord { x, y }];
        for _ in 0..SEGMENTS_PER_WALKWAY {
            heading += rng.random_range(-0.5..0.5);
            let len = rng.random_range(20.0..40.0);
            x += len * heading.cos();
            y += len * heading.sin();
            pts.push(Coord { x, y });
        }
        walkways.push(Walkway {
            id: 1_000_000 + i as i64,
            geometry: LineString(pts),
            kind: kinds[i % kinds.len()].into(),
            lit: lits[i % lits.len()].map(str::to_string),
            name: (i % 7 == 0).then(|| format!("Stråk {i}")),
        });
    }
    // Lamps along 60 % of the walkways, 2 m to the side, about every 36 m, then scattered.
    let mut lamps = Vec::with_capacity(n_lamps);
    'outer: for w in walkways.iter().filter(|w| w.id % 5 < 3) {
        let line = Measured::new(&w.geometry);
        let mut d = rng.random_range(0.0..20.0);
        while d < line.length() {
            if lamps.len() == n_lamps {
                break 'outer;
            }
            let p = line.point_at(d);
            lamps.push(lamp(&mut rng, lamps.len(), p.x + 2.0, p.y));
            d += rng.random_range(25.0..47.0);
        }
    }
    while lamps.len() < n_lamps {
        let (x, y) = (
            ORIGIN.0 + rng.random_range(0.0..side),
            ORIGIN.1 + rng.random_range(0.0..side),
        );
        lamps.push(lamp(&mut rng, lamps.len(), x, y));
    }
    let t: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 1, 17, 0, 0).unwrap();
    let reports: Vec<CitizenReport> = (0..n_reports)
        .map(|i| {
            let w = &walkways[rng.random_range(0..n_walkways)];
            let c = w.geometry.0[rng.random_range(0..=SEGMENTS_PER_WALKWAY)];
            let service = [
                ServiceCode::DarkPath,
                ServiceCode::BrokenLamp,
                ServiceCode::UnsafePlace,
            ][i % 3];
            CitizenReport {
                id: i as i64 + 1,
                service,
                status: if i % 4 == 0 {
                    ReportStatus::Closed
                } else {
                    ReportStatus::Open
                },
                description: String::new(),
                location: Point(c),
                original_location: Point(c),
                walkway_id: Some(w.id),
                lamp_id: (service == ServiceCode::BrokenLamp)
                    .then(|| format!("b:{}", rng.random_range(0..n_lamps))),
                address: None,
                media_url: None,
                status_notes: None,
                agency_responsible: None,
                requested_at: t,
                updated_at: t,
                hidden: false,
                merged_into: None,
                attributes: serde_json::Value::Null,
            }
        })
        .collect();
    let offset = FixedOffset::east_opt(3600).unwrap();
    let incidents: Vec<Incident> = (0..n_incidents)
        .map(|i| Incident {
            source: "bench".into(),
            source_id: i.to_string(),
            occurred_at: offset
                .with_ymd_and_hms(
                    2026,
                    rng.random_range(1..=12),
                    rng.random_range(1..=28),
                    rng.random_range(0..24),
                    0,
                    0,
                )
                .unwrap(),
            time_precision: Default::default(),
            occurred_to: None,
            category: "assault".into(),
            group: CategoryGroup::Violence,
            label: "Misshandel".into(),
            location: Point::new(
                ORIGIN.0 + rng.random_range(0.0..side),
                ORIGIN.1 + rng.random_range(0.0..side),
            ),
            precision: LocationPrecision::Exact,
            place: None,
            summary: None,
        })
        .collect();
    World {
        walkways: WalkwayLayer::new(walkways),
        lamps: LampLayer::new(lamps),
        reports: ReportLayer::new(reports),
        incidents: IncidentLayer::new(incidents),
        areas: AreaLayer::new(Vec::new()),
    }
}

fn lamp(rng: &mut ChaCha8Rng, i: usize, x: f64, y: f64) -> Lamp {
    // A third with register values, a third OSM-like without, a third with power only.
    let (height_m, lumen, watt) = match i % 3 {
        0 => (
            Some(rng.random_range(4.0..8.0)),
            Some(rng.random_range(1_500.0..6_000.0)),
            None,
        ),
        1 => (None, None, None),
        _ => (Some(6.0), None, Some(rng.random_range(15.0..50.0))),
    };
    Lamp {
        id: format!("b:{i}"),
        location: Point::new(x, y),
        height_m,
        lumen,
        watt,
        status: if rng.random_range(0..100) < 3 {
            LampStatus::Broken
        } else {
            LampStatus::Working
        },
        source: "bench".into(),
        reference: None,
    }
}

/// The reference: every sample of the walkways `subset` against every lamp (no R-tree).
fn naive_lux(
    world: &World,
    models: &[LampModel],
    params: &LightingParams,
    subset: &[usize],
) -> Vec<Vec<f64>> {
    subset
        .iter()
        .map(|&wi| {
            let line = Measured::new(&world.walkways.items[wi].geometry);
            let n = (line.length() / params.sample_step_m).ceil().max(1.0) as usize;
            let spacing = line.length() / n as f64;
            (0..=n)
                .map(|i| {
                    let p = line.point_at(i as f64 * spacing);
                    models
                        .iter()
                        .filter(|l| l.is_on())
                        .map(|l| {
                            let (dx, dy) = (l.x - p.x, l.y - p.y);
                            l.lux_at_d2(dx * dx + dy * dy)
                        })
                        .sum()
                })
                .collect()
        })
        .collect()
}

/// CPU seconds this process has used (user + system), from /proc: the machine is shared, so
/// wall time alone says little about the analysis.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) end with `)`.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks of 1/100 s.
    if f.len() > 13 {
        (f[11] + f[12]) / 100.0
    } else {
        f64::NAN
    }
}

fn bench(c: &mut Criterion) {
    let t0 = Instant::now();
    let world = build();
    let inputs = world.inputs();
    let params = LightingParams::default();
    let segments = world.walkways.tree.size();
    eprintln!(
        "setup: {} walkways, {} segments, {} lamps, {} reports, {} incidents in {:.1} s",
        inputs.walkways.len(),
        segments,
        inputs.lamps.len(),
        inputs.reports.len(),
        inputs.incidents.len(),
        t0.elapsed().as_secs_f64()
    );

    let mut group = c.benchmark_group("lighting");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("analyze_100k_segments_50k_lamps_2m", |b| {
        b.iter(|| lighting::analyze(&inputs, &params))
    });
    group.finish();

    // One more run, timed by hand, for the ratio and the figures.
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    let result = lighting::analyze(&inputs, &params);
    let full = t.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let samples: usize = result.profiles.iter().map(|p| p.len()).sum();
    eprintln!(
        "full analysis: {:.3} s wall, {:.2} s CPU, for {} samples on {} threads; {} stretches ({} dark, {} unknown, {} lit), {} lamps off, {} darken a stretch",
        full.as_secs_f64(),
        cpu,
        samples,
        rayon::current_num_threads(),
        result.stretches.len(),
        result.totals(lighting::LightState::Dark).stretches,
        result.totals(lighting::LightState::Unknown).stretches,
        result.totals(lighting::LightState::Lit).stretches,
        result.lamps.iter().filter(|l| !l.is_on()).count(),
        result.darkens.len()
    );

    // The naive reference on 1 % of the walkways, scaled to all of them.
    let subset: Vec<usize> = (0..inputs.walkways.len()).step_by(100).collect();
    let t = Instant::now();
    let naive = naive_lux(&world, &result.lamps, &params, &subset);
    let naive_subset = t.elapsed();
    let subset_samples: usize = naive.iter().map(Vec::len).sum();
    let mut worst = 0.0f64;
    for (k, &wi) in subset.iter().enumerate() {
        let p = &result.profiles[wi];
        assert_eq!(p.len(), naive[k].len());
        for (a, b) in p.lux.iter().zip(&naive[k]) {
            worst = worst.max((*a as f64 - b).abs() / b.max(0.01));
        }
    }
    assert!(
        worst < 1e-4,
        "the R-tree analysis and the naive sum disagree by {worst}"
    );
    let naive_full = naive_subset.as_secs_f64() * samples as f64 / subset_samples as f64;
    eprintln!(
        "naive reference: {:.3} s for {} samples × {} lamps ({} walkways, same lux within {:.1e}), scaled to the whole network ≈ {:.1} s",
        naive_subset.as_secs_f64(),
        subset_samples,
        inputs.lamps.len(),
        subset.len(),
        worst,
        naive_full
    );
    eprintln!(
        "ratio: naive illuminance alone (scaled) / full R-tree analysis = {:.0}×",
        naive_full / full.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
