//! Cancellation of the analysis kernels: a cancelled token stops each of them quickly, also
//! in the middle of work that would otherwise take minutes, and a token that is never
//! cancelled gives exactly what the plain functions give.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use geo::Point;
use lagesbild::analysis::cancel::{Cancel, Cancelled};
use lagesbild::analysis::hotspot::compare::{self, ClusterOutline};
use lagesbild::analysis::hotspot::gistar::{self, GiStarParams};
use lagesbild::analysis::hotspot::grid::{CellId, Grid, GridKind};
use lagesbild::analysis::hotspot::kde::{self, KdeParams};
use lagesbild::analysis::hotspot::{self, dbscan};
use lagesbild::analysis::lighting::{self, LightingInputs, LightingParams, whatif};
use lagesbild::model::{Incident, LocationPrecision};
use lagesbild::spatial::SnapIncident;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Täby centrum in EPSG:3006.
const X0: f64 = 673_983.5;
const Y0: f64 = 6_593_495.7;

/// `n` points: half in a few tight groups, half spread over 4 × 4 km.
fn points(n: usize, seed: u64) -> Vec<[f64; 2]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<[f64; 2]> = (0..6)
        .map(|_| {
            [
                X0 + rng.random_range(-1500.0..1500.0),
                Y0 + rng.random_range(-1500.0..1500.0),
            ]
        })
        .collect();
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let c = centres[i % centres.len()];
                [
                    c[0] + rng.random_range(-60.0..60.0),
                    c[1] + rng.random_range(-60.0..60.0),
                ]
            } else {
                [
                    X0 + rng.random_range(-2000.0..2000.0),
                    Y0 + rng.random_range(-2000.0..2000.0),
                ]
            }
        })
        .collect()
}

fn incidents(pts: &[[f64; 2]]) -> Vec<Incident> {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 6, 21, 0, 0).unwrap();
    pts.iter()
        .enumerate()
        .map(|(i, p)| Incident {
            source: "t".into(),
            source_id: i.to_string(),
            occurred_at: (t0 + chrono::Duration::hours(i as i64 % 500)).fixed_offset(),
            time_precision: Default::default(),
            occurred_to: None,
            category: if i % 3 == 0 { "robbery" } else { "assault" }.into(),
            group: lagesbild::category::CategoryGroup::Violence,
            label: "x".into(),
            location: Point::new(p[0], p[1]),
            precision: LocationPrecision::Exact,
            place: None,
            summary: None,
        })
        .collect()
}

fn cancelled() -> Cancel {
    let c = Cancel::new();
    c.cancel();
    c
}

/// Runs `f` with a token tripped `after` from now on another thread; returns its result and
/// how long after the trip it returned.
fn cancel_midway<T>(after: Duration, f: impl FnOnce(&Cancel) -> T) -> (T, Duration) {
    let c = Cancel::new();
    let tripped = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    let (c2, t2) = (c.clone(), tripped.clone());
    let trip = std::thread::spawn(move || {
        std::thread::sleep(after);
        *t2.lock().unwrap() = Some(Instant::now());
        c2.cancel();
    });
    let out = f(&c);
    let done = Instant::now();
    trip.join().unwrap();
    let at = tripped
        .lock()
        .unwrap()
        .expect("the token was tripped before the work ended");
    let stop = done.duration_since(at);
    eprintln!("stopped {stop:?} after the cancel");
    (out, stop)
}

/// Quick: well under a second, with room for a loaded test machine.
const QUICK: Duration = Duration::from_millis(1500);

#[test]
fn gistar_stops_when_cancelled_and_is_unchanged_otherwise() {
    let pts = points(200_000, 1);
    let t = Instant::now();
    let r = gistar::hot_spots_with(&pts, &GiStarParams::default(), None, &cancelled());
    assert_eq!(r.unwrap_err(), Cancelled);
    assert!(
        t.elapsed() < QUICK,
        "pre-cancelled Gi* took {:?}",
        t.elapsed()
    );

    // The request from the report: 10 m cells and a 5 km band (here 5 km: 785 000 offsets for
    // each of the tens of thousands of cells, minutes of work).
    let wide = GiStarParams {
        grid: GridKind::Square,
        cell: Some(10.0),
        band: Some(5_000.0),
    };
    let few = &pts[..20_000];
    let (r, stop) = cancel_midway(Duration::from_millis(300), |c| {
        gistar::hot_spots_with(few, &wide, None, c)
    });
    assert_eq!(r.unwrap_err(), Cancelled);
    assert!(stop < QUICK, "Gi* went on for {stop:?} after the cancel");

    // Unchanged results, derived and given parameters, square and hex.
    let some = &pts[..30_000];
    for params in [
        GiStarParams::default(),
        GiStarParams {
            grid: GridKind::Hex,
            cell: Some(150.0),
            band: Some(400.0),
        },
    ] {
        let plain = gistar::hot_spots(some, &params, None);
        let with = gistar::hot_spots_with(some, &params, None, &Cancel::never()).unwrap();
        assert_eq!(plain, with);
        assert!(plain.cells.iter().any(|c| c.bin == 3));
    }
}

/// Non-integer values keep the nearest-first summation order; counts may take any order
/// without changing a bit.
#[test]
fn gistar_on_cells_gives_the_same_numbers_for_counts_and_fractions() {
    let g = Grid::new(GridKind::Square, 50.0);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let counts: Vec<(CellId, f64)> = (0..40)
        .flat_map(|i| (0..40).map(move |j| (i, j)))
        .map(|id| (id, rng.random_range(0..20) as f64))
        .collect();
    let fractions: Vec<(CellId, f64)> = counts
        .iter()
        .map(|(id, v)| (*id, v * 0.37 + 0.011))
        .collect();
    for cells in [&counts, &fractions] {
        let with = gistar::gi_star_on_cells_with(&g, cells, 180.0, &Cancel::never()).unwrap();
        // The definition, summed nearest first.
        let offsets = g.offsets_within(180.0);
        let map: std::collections::HashMap<CellId, f64> = cells.iter().copied().collect();
        for (k, (id, _)) in cells.iter().enumerate() {
            let mut lag = 0.0;
            let mut card = 0;
            for (off, _) in &offsets {
                if let Some(v) = map.get(&(id.0 + off.0, id.1 + off.1)) {
                    lag += v;
                    card += 1;
                }
            }
            assert_eq!(with[k].1, card);
            let n = cells.len() as f64;
            let sum: f64 = cells.iter().map(|c| c.1).sum();
            let mean = sum / n;
            let var_y = cells.iter().map(|c| c.1 * c.1).sum::<f64>() / n - mean * mean;
            let w = card as f64;
            let var = w * (n - w) / (n - 1.0) * (1.0 / (n * n)) * (var_y / (mean * mean));
            let z = (lag / sum - w / n) / var.sqrt();
            assert_eq!(with[k].0, z, "cell {id:?}");
        }
        assert_eq!(
            gistar::gi_star_on_cells_with(&g, cells, 180.0, &cancelled()).unwrap_err(),
            Cancelled
        );
    }
}

#[test]
fn kde_stops_when_cancelled_and_is_unchanged_otherwise() {
    let pts = points(200_000, 2);
    let t = Instant::now();
    let r = kde::density_with(&pts, &KdeParams::default(), &cancelled());
    assert_eq!(r.unwrap_err(), Cancelled);
    assert!(
        t.elapsed() < QUICK,
        "pre-cancelled KDE took {:?}",
        t.elapsed()
    );

    // A 2 km bandwidth on 5 m cells: each point touches a million cells.
    let heavy = KdeParams {
        bandwidth: Some(2_000.0),
        cell: Some(5.0),
        frame: None,
    };
    let (r, stop) = cancel_midway(Duration::from_millis(300), |c| {
        kde::density_with(&pts[..20_000], &heavy, c)
    });
    assert_eq!(r.unwrap_err(), Cancelled);
    assert!(stop < QUICK, "KDE went on for {stop:?} after the cancel");

    // Fewer points than one parallel chunk: the same sums in the same order.
    let few = &pts[..4_000];
    let params = KdeParams {
        bandwidth: Some(150.0),
        cell: Some(20.0),
        frame: None,
    };
    assert_eq!(
        kde::density(few, &params),
        kde::density_with(few, &params, &Cancel::never()).unwrap()
    );
}

#[test]
fn dbscan_and_clusters_stop_when_cancelled_and_are_unchanged_otherwise() {
    let pts = points(200_000, 4);
    let t = Instant::now();
    assert_eq!(
        dbscan::dbscan_with(&pts, 30.0, 5, &cancelled()).unwrap_err(),
        Cancelled
    );
    // eps = 0 takes the R-tree path.
    assert_eq!(
        dbscan::dbscan_with(&pts, 0.0, 2, &cancelled()).unwrap_err(),
        Cancelled
    );
    let incs: Vec<SnapIncident> = incidents(&pts).iter().map(SnapIncident::of).collect();
    let refs: Vec<&SnapIncident> = incs.iter().collect();
    assert_eq!(
        hotspot::clusters_with(&refs, 30.0, 5, &cancelled()).unwrap_err(),
        Cancelled
    );
    assert!(
        t.elapsed() < QUICK,
        "pre-cancelled DBSCAN took {:?}",
        t.elapsed()
    );

    // 100 000 points on 5 × 5 cells, none of them holding min_points: every point counts its
    // neighbours in up to 24 cells of 4 000 points each, billions of distances.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let strip: Vec<[f64; 2]> = (0..100_000)
        .map(|_| [rng.random_range(0.0..350.0), rng.random_range(0.0..350.0)])
        .collect();
    let (r, stop) = cancel_midway(Duration::from_millis(300), |c| {
        dbscan::dbscan_with(&strip, 100.0, 50_000, c)
    });
    assert_eq!(r.unwrap_err(), Cancelled);
    assert!(stop < QUICK, "DBSCAN went on for {stop:?} after the cancel");

    let some = &pts[..30_000];
    for eps in [0.0, 30.0] {
        assert_eq!(
            dbscan::dbscan(some, eps, 5),
            dbscan::dbscan_with(some, eps, 5, &Cancel::never()).unwrap()
        );
    }
    let some_refs = &refs[..30_000];
    let plain = hotspot::clusters(some_refs, 30.0, 5);
    assert!(!plain.is_empty());
    assert_eq!(
        plain,
        hotspot::clusters_with(some_refs, 30.0, 5, &Cancel::never()).unwrap()
    );
}

#[test]
fn comparisons_stop_when_cancelled_and_are_unchanged_otherwise() {
    let a = points(40_000, 6);
    let b = points(40_000, 7);
    let params = GiStarParams::default();
    assert_eq!(
        compare::compare_gistar_with(&a, &b, (30.0, 30.0), &params, None, &cancelled())
            .unwrap_err(),
        Cancelled
    );
    assert_eq!(
        compare::compare_gistar(&a, &b, (30.0, 30.0), &params, None),
        compare::compare_gistar_with(&a, &b, (30.0, 30.0), &params, None, &Cancel::never())
            .unwrap()
    );
    let outline = |pts: &[[f64; 2]], seed: u64| -> Vec<ClusterOutline> {
        let incs: Vec<SnapIncident> = incidents(pts).iter().map(SnapIncident::of).collect();
        let refs: Vec<&SnapIncident> = incs.iter().collect();
        hotspot::clusters(&refs, 30.0, 5)
            .into_iter()
            .map(|c| ClusterOutline {
                id: format!("{seed}-{}", c.id),
                hull: c.hull.clone(),
                count: c.count(),
                centre: c.centre,
            })
            .collect()
    };
    let (oa, ob) = (outline(&a, 6), outline(&b, 7));
    assert_eq!(
        compare::compare_clusters_with(&oa, &ob, (30.0, 30.0), &cancelled()).unwrap_err(),
        Cancelled
    );
    assert_eq!(
        compare::compare_clusters(&oa, &ob, (30.0, 30.0)),
        compare::compare_clusters_with(&oa, &ob, (30.0, 30.0), &Cancel::never()).unwrap()
    );
}

#[test]
fn lighting_stops_when_cancelled_and_is_unchanged_otherwise() {
    use lagesbild::spatial::{AreaLayer, IncidentLayer, LampLayer, ReportLayer, WalkwayLayer};
    let data = lagesbild::demo::generate(Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap());
    let walkways = WalkwayLayer::new(data.walkways);
    let lamps = LampLayer::new(data.lamps);
    let reports = ReportLayer::new(Vec::new());
    let incs = IncidentLayer::new(data.incidents);
    let areas = AreaLayer::new(data.areas);
    let inputs = LightingInputs {
        walkways: &walkways.items,
        walkway_tree: &walkways.tree,
        lamps: &lamps.items,
        lamp_tree: &lamps.tree,
        reports: &reports.items,
        report_tree: &reports.tree,
        incidents: &incs.items,
        incident_tree: &incs.tree,
        areas: &areas.items,
    };
    let params = LightingParams::default();
    let t = Instant::now();
    assert_eq!(
        lighting::analyze_with(&inputs, &params, &cancelled()).unwrap_err(),
        Cancelled
    );
    assert!(
        t.elapsed() < QUICK,
        "pre-cancelled lighting took {:?}",
        t.elapsed()
    );

    let plain = lighting::analyze(&inputs, &params);
    let with = lighting::analyze_with(&inputs, &params, &Cancel::never()).unwrap();
    assert!(!plain.stretches.is_empty());
    assert_eq!(
        serde_json::to_value(&plain.stretches).unwrap(),
        serde_json::to_value(&with.stretches).unwrap()
    );
    assert_eq!(plain.ranking, with.ranking);
    assert_eq!(plain.darkens, with.darkens);

    // A lamp proposed in the middle of the first dark stretch.
    let dark = &plain.stretches[plain.ranking[0]];
    let mid = dark.geometry.0[dark.geometry.0.len() / 2];
    let proposed = [whatif::ProposedLamp {
        x: mid.x,
        y: mid.y,
        height_m: None,
        lumen: None,
        watt: None,
    }];
    assert!(whatif::what_if_with(&plain, &inputs, &proposed, &cancelled()).is_err());
    let a = whatif::what_if(&plain, &inputs, &proposed);
    let b = whatif::what_if_with(&plain, &inputs, &proposed, &Cancel::never()).unwrap();
    assert_eq!(
        (a.fixed, a.improved, a.walkways),
        (b.fixed, b.improved, b.walkways)
    );
}
