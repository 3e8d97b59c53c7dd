//! Hotspots: reference numbers (esda), planted data, and the HTTP API against a real SQLite file.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use geo::Point;
use lagesbild::analysis::filter::IncidentFilter;
use lagesbild::analysis::hotspot::gistar::{self, GiStarParams, gi_star_on_cells};
use lagesbild::analysis::hotspot::grid::{CellId, Grid, GridKind};
use lagesbild::analysis::hotspot::kde::{self, KdeParams};
use lagesbild::analysis::hotspot::{self, clusters};
use lagesbild::model::{CategoryGroup, Incident, LocationPrecision, Role};
use lagesbild::spatial::SnapIncident;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::Value;

use crate::support::{TestServer, get};

/// Täby centrum, roughly, in SWEREF 99 TM.
const TABY: [f64; 2] = [674_500.0, 6_596_500.0];

fn incident(id: usize, p: [f64; 2], at: DateTime<Utc>, precision: LocationPrecision) -> Incident {
    Incident {
        source: "test".into(),
        source_id: format!("e{id}"),
        occurred_at: at.with_timezone(&FixedOffset::east_opt(0).unwrap()),
        time_precision: Default::default(),
        occurred_to: None,
        category: if id % 4 == 0 { "robbery" } else { "assault" }.into(),
        group: CategoryGroup::Violence,
        label: "Misshandel".into(),
        location: Point::new(p[0], p[1]),
        precision,
        place: Some("Täby".into()),
        summary: None,
    }
}

fn friday_night(k: usize) -> DateTime<Utc> {
    // Fridays 22:00–01:59 local (CEST in May: 20:00–23:59 UTC), spread over May 2026.
    Utc.with_ymd_and_hms(2026, 5, 1, 20, 0, 0).unwrap()
        + Duration::days(7 * (k as i64 % 4))
        + Duration::minutes((k as i64 * 37) % 240)
}

// ---------------------------------------------------------------------------------------------
// Reference numbers

#[test]
fn gistar_matches_esda() {
    let text = include_str!("../fixtures/esda_gistar.json");
    let fx: Value = serde_json::from_str(text).unwrap();
    for case in fx["cases"].as_array().unwrap() {
        let kind = GridKind::parse(case["grid"].as_str().unwrap()).unwrap();
        let origin = [
            case["origin"][0].as_f64().unwrap(),
            case["origin"][1].as_f64().unwrap(),
        ];
        let grid = Grid::with_origin(kind, origin, case["cell"].as_f64().unwrap());
        let band = case["band"].as_f64().unwrap();
        let cells: Vec<(CellId, f64)> = case["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let p = [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()];
                let id = grid.cell_of(p);
                let centre = grid.centre(id);
                assert!((centre[0] - p[0]).abs() < 1e-6 && (centre[1] - p[1]).abs() < 1e-6);
                (id, c[2].as_f64().unwrap())
            })
            .collect();
        let ours = gi_star_on_cells(&grid, &cells, band);
        let expected: Vec<f64> = case["z"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(ours.len(), expected.len());
        for (i, ((z, _), e)) in ours.iter().zip(&expected).enumerate() {
            assert!(
                (z - e).abs() < 1e-6,
                "{} band {band} cell {i}: ours {z}, esda {e}",
                case["grid"]
            );
        }
        // esda's p_norm is one-sided; ours is two-sided, twice it.
        let p_one: Vec<f64> = case["p_norm_one_sided"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for ((z, _), p1) in ours.iter().zip(&p_one) {
            let p2 = gistar::two_sided_p(*z);
            assert!(
                (p2 - 2.0 * p1).abs() <= 1e-12 * p2.max(1e-300),
                "p {p2} vs 2 × {p1}"
            );
        }
    }
}

#[test]
fn kde_equals_a_hand_computed_quartic_sum() {
    let pts = [
        [1000.0, 1000.0],
        [1040.0, 1010.0],
        [1100.0, 900.0],
        [1500.0, 1500.0],
        [1003.0, 997.0],
    ];
    let h = 120.0;
    let g = kde::density(
        &pts,
        &KdeParams {
            bandwidth: Some(h),
            cell: Some(10.0),
            frame: None,
        },
    );
    let hand = |x: f64, y: f64| -> (f64, u32) {
        let mut sum = 0.0;
        let mut n = 0;
        for p in &pts {
            let d2 = (x - p[0]).powi(2) + (y - p[1]).powi(2);
            if d2 < h * h {
                let u = 1.0 - d2 / (h * h);
                sum += 3.0 / (std::f64::consts::PI * h * h) * u * u;
                n += 1;
            }
        }
        (sum * 1e6, n)
    };
    let mut checked = 0;
    for (col, row) in [
        (10, 10),
        (15, 12),
        (20, 5),
        (30, 30),
        (60, 61),
        (0, 0),
        (5, 40),
    ] {
        if col >= g.width || row >= g.height {
            continue;
        }
        let [x, y] = g.centre(col, row);
        let (want, support) = hand(x, y);
        let got = g.density[row * g.width + col];
        assert!(
            (got - want).abs() < 1e-9 * (1.0 + want),
            "cell ({col},{row}) at ({x},{y}): {got} vs {want}"
        );
        assert_eq!(g.support[row * g.width + col], support);
        checked += 1;
    }
    assert!(checked >= 6);
    // The cell holding the first point: at its centre, three of the five points are in reach.
    let (d, s) = g.at([1000.0, 1000.0]);
    assert!(d > 0.0 && s == 3, "support {s}");
}

// ---------------------------------------------------------------------------------------------
// Planted data

fn planted() -> (Vec<Incident>, Vec<[f64; 2]>, Vec<BTreeSet<String>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let centres = vec![
        [TABY[0] - 1200.0, TABY[1] + 800.0],
        [TABY[0] + 300.0, TABY[1] - 200.0],
        [TABY[0] + 1500.0, TABY[1] + 1400.0],
    ];
    let mut incs = Vec::new();
    let mut members = Vec::new();
    let mut id = 0;
    for c in &centres {
        let mut m = BTreeSet::new();
        for _ in 0..60 {
            // Uniform in a disk of 20 m.
            let r = 20.0 * rng.random::<f64>().sqrt();
            let a = rng.random_range(0.0..std::f64::consts::TAU);
            incs.push(incident(
                id,
                [c[0] + r * a.cos(), c[1] + r * a.sin()],
                friday_night(id),
                LocationPrecision::Exact,
            ));
            m.insert(format!("e{id}"));
            id += 1;
        }
        members.push(m);
    }
    // Sparse noise at least 150 m from every planted centre and 60 m from each other, on
    // weekdays Monday to Wednesday by day.
    while incs.len() < 180 + 300 {
        let p = [
            TABY[0] + rng.random_range(-2500.0..2500.0),
            TABY[1] + rng.random_range(-2500.0..2500.0),
        ];
        let clear = incs[180..]
            .iter()
            .all(|i: &Incident| (i.location.x() - p[0]).hypot(i.location.y() - p[1]) > 60.0);
        if clear
            && centres
                .iter()
                .all(|c| (c[0] - p[0]).hypot(c[1] - p[1]) > 150.0)
        {
            let at = Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap()
                + Duration::hours(id as i64 % 50);
            incs.push(incident(id, p, at, LocationPrecision::Street));
            id += 1;
        }
    }
    (incs, centres, members)
}

#[test]
fn planted_clusters_are_found_with_the_right_members() {
    let (incs, centres, members) = planted();
    let incs = snap_incidents(&incs);
    let sel = IncidentFilter::default().select(&incs);
    let found = clusters(&sel.points, 30.0, 8);
    assert_eq!(found.len(), 3, "exactly the planted clusters");
    for (c, want) in centres.iter().zip(&members) {
        let cl = found
            .iter()
            .find(|f| (f.centre[0] - c[0]).hypot(f.centre[1] - c[1]) < 10.0)
            .expect("a cluster at each planted place");
        let got: BTreeSet<String> = cl
            .members
            .iter()
            .map(|&i| sel.points[i].source_id.to_string())
            .collect();
        assert_eq!(&got, want);
        assert_eq!(cl.count(), 60);
        assert_eq!(cl.categories.values().sum::<usize>(), 60);
        // Fridays 22–02 local.
        let peak = cl.peak.as_ref().unwrap();
        assert!(peak.text.starts_with("fre"), "{}", peak.text);
        assert_eq!(
            cl.profile.0[4][22..].iter().sum::<f64>() + cl.profile.0[5][..2].iter().sum::<f64>(),
            60.0
        );
        use geo::Contains;
        for &i in &cl.members {
            let p = sel.points[i].location;
            assert!(cl.hull.contains(&p) || geo::Intersects::intersects(&cl.hull, &p));
        }
    }
}

#[test]
fn a_planted_hot_area_is_a_99_percent_hot_spot() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut pts: Vec<[f64; 2]> = (0..6000)
        .map(|_| {
            [
                TABY[0] + rng.random_range(0.0..3000.0),
                TABY[1] + rng.random_range(0.0..3000.0),
            ]
        })
        .collect();
    let hot = [TABY[0] + 1450.0, TABY[1] + 1450.0];
    let g = Normal::new(0.0, 60.0).unwrap();
    for _ in 0..400 {
        pts.push([hot[0] + g.sample(&mut rng), hot[1] + g.sample(&mut rng)]);
    }
    let res = gistar::hot_spots(
        &pts,
        &GiStarParams {
            grid: GridKind::Square,
            cell: Some(100.0),
            band: Some(300.0),
        },
        None,
    );
    let grid = Grid::new(GridKind::Square, 100.0);
    let at_hot = res
        .cells
        .iter()
        .find(|c| c.id == grid.cell_of(hot))
        .unwrap();
    assert_eq!(at_hot.bin, 3);
    // Every 99 % hot cell lies near the planted area.
    for c in res.cells.iter().filter(|c| c.bin == 3) {
        assert!((c.centre[0] - hot[0]).hypot(c.centre[1] - hot[1]) < 450.0);
    }
}

#[test]
fn uniform_noise_has_no_fdr_significant_cell_at_95_percent() {
    for grid in [GridKind::Square, GridKind::Hex] {
        // Uniform over a region made of whole cells (those whose centre lies in a 3 km
        // square): cells cut by the edge of the data would be genuinely cold.
        let g = Grid::new(grid, 100.0);
        let inside = |c: [f64; 2]| {
            (TABY[0]..TABY[0] + 3000.0).contains(&c[0])
                && (TABY[1]..TABY[1] + 3000.0).contains(&c[1])
        };
        let mut rng = ChaCha8Rng::seed_from_u64(2026);
        let pts: Vec<[f64; 2]> = (0..40_000)
            .map(|_| {
                [
                    TABY[0] + rng.random_range(-200.0..3200.0),
                    TABY[1] + rng.random_range(-200.0..3200.0),
                ]
            })
            .filter(|p| inside(g.centre(g.cell_of(*p))))
            .collect();
        let res = gistar::hot_spots(
            &pts,
            &GiStarParams {
                grid,
                cell: Some(100.0),
                band: Some(300.0),
            },
            None,
        );
        assert!(res.analysed > 800);
        let significant = res.cells.iter().filter(|c| c.bin.abs() >= 2).count();
        assert_eq!(significant, 0, "{grid:?}");
        // Without the correction, some cells would pass p < 0.05 by chance.
        let raw = res.cells.iter().filter(|c| c.p < 0.05).count();
        assert!(
            raw > 0,
            "{grid:?}: the test should have had something to correct"
        );
    }
}

#[test]
fn hex_cells_cut_by_the_edge_of_the_data_are_cold() {
    // The same uniform noise cut to a square: the hexagons along its edges are partly empty.
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let pts: Vec<[f64; 2]> = (0..30_000)
        .map(|_| {
            [
                TABY[0] + rng.random_range(0.0..3000.0),
                TABY[1] + rng.random_range(0.0..3000.0),
            ]
        })
        .collect();
    let res = gistar::hot_spots(
        &pts,
        &GiStarParams {
            grid: GridKind::Hex,
            cell: Some(100.0),
            band: Some(300.0),
        },
        None,
    );
    for c in res.cells.iter().filter(|c| c.bin.abs() >= 2) {
        assert!(c.bin < 0, "only cold spots");
        let d_edge = [
            c.centre[0] - TABY[0],
            TABY[0] + 3000.0 - c.centre[0],
            c.centre[1] - TABY[1],
            TABY[1] + 3000.0 - c.centre[1],
        ]
        .into_iter()
        .fold(f64::MAX, f64::min);
        assert!(
            d_edge < 300.0,
            "cold cell {:?} is {d_edge} m from the edge",
            c.id
        );
    }
}

#[test]
fn events_on_a_municipality_centre_make_no_cluster_and_no_hot_cell() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut incs: Vec<Incident> = (0..300)
        .map(|i| incident(i, TABY, friday_night(i), LocationPrecision::Municipality))
        .collect();
    for i in 300..700 {
        let p = [
            TABY[0] + rng.random_range(-2000.0..2000.0),
            TABY[1] + rng.random_range(-2000.0..2000.0),
        ];
        incs.push(incident(i, p, friday_night(i), LocationPrecision::Street));
    }
    let incs = snap_incidents(&incs);
    let sel = IncidentFilter::default().select(&incs);
    assert_eq!(sel.municipality_only, 300);
    assert_eq!(sel.points.len(), 400);
    let cs = clusters(&sel.points, 30.0, 5);
    assert!(
        cs.iter()
            .all(|c| (c.centre[0] - TABY[0]).hypot(c.centre[1] - TABY[1]) > 30.0)
    );
    let res = gistar::hot_spots(
        &sel.coords(),
        &GiStarParams {
            grid: GridKind::Square,
            cell: Some(100.0),
            band: Some(300.0),
        },
        None,
    );
    let centre_cell = Grid::new(GridKind::Square, 100.0).cell_of(TABY);
    assert!(
        res.cells
            .iter()
            .filter(|c| c.bin >= 2)
            .all(|c| c.id != centre_cell)
    );
    assert!(
        res.cells.iter().all(|c| c.count < 10),
        "no cell holds the centre's 300 events"
    );
    // Had they been treated as points, they would be the top hotspot.
    let naive: Vec<&SnapIncident> = incs.iter().collect();
    assert!(clusters(&naive, 30.0, 5)[0].count() >= 300);
}

#[test]
fn top_hotspots_summarise_the_largest_clusters() {
    let (incs, centres, _) = planted();
    let snap = snapshot_of(incs);
    let top = hotspot::top_hotspots(&snap, &IncidentFilter::default(), 2);
    assert_eq!(top.len(), 2);
    assert!(
        top.iter()
            .all(|t| t.count == 60 && t.peak.as_deref().is_some_and(|p| p.starts_with("fre")))
    );
    assert!(top.iter().all(|t| {
        centres
            .iter()
            .any(|c| (c[0] - t.centre[0]).hypot(c[1] - t.centre[1]) < 10.0)
    }));
    let [lon, lat] = top[0].centre_wgs84.unwrap();
    assert!(
        (17.9..18.2).contains(&lon) && (59.3..59.6).contains(&lat),
        "{lon} {lat}"
    );
}

/// The incidents as a snapshot holds them.
fn snap_incidents(incs: &[Incident]) -> Vec<SnapIncident> {
    incs.iter().map(SnapIncident::of).collect()
}

fn snapshot_of(incs: Vec<Incident>) -> lagesbild::spatial::Snapshot {
    let mut s = lagesbild::spatial::Snapshot::empty();
    s.incidents = std::sync::Arc::new(lagesbild::spatial::IncidentLayer::new(incs));
    s.version = 1;
    s
}

// ---------------------------------------------------------------------------------------------
// The HTTP API, against a real server and a real SQLite file

/// The shared test server with `incs` loaded, and a police token.
struct Server {
    base: String,
    state: lagesbild::api::AppState,
    police_token: String,
    _srv: TestServer,
}

async fn start(incs: &[Incident]) -> Server {
    let srv = TestServer::seeded(
        |_| {},
        async |store| {
            store.upsert_incidents(incs).await.unwrap();
        },
    )
    .await;
    Server {
        base: srv.url(""),
        state: srv.state.clone(),
        police_token: srv.token(Role::Police).await,
        _srv: srv,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_serves_hotspots_with_privacy_by_role() {
    let (mut incs, _, _) = planted();
    // A small group of 2 events, far away: a cluster at min_points 2 that the public must not see.
    incs.push(incident(
        9001,
        [TABY[0] - 2700.0, TABY[1] - 2700.0],
        friday_night(1),
        LocationPrecision::Exact,
    ));
    incs.push(incident(
        9002,
        [TABY[0] - 2701.0, TABY[1] - 2700.0],
        friday_night(2),
        LocationPrecision::Exact,
    ));
    // And 50 events known only to the municipality.
    for i in 0..50 {
        incs.push(incident(
            10_000 + i,
            TABY,
            friday_night(i),
            LocationPrecision::Municipality,
        ));
    }
    let s = start(&incs).await;
    let police = Some(s.police_token.clone());

    let url = format!(
        "{}/api/v1/hotspots?method=dbscan&eps=30&min_points=2",
        s.base
    );
    // DBSCAN hulls are drawn through incident points: not for the public.
    let public = get(url.clone(), None).await;
    assert_eq!(public.status, 400);
    assert!(String::from_utf8_lossy(&public.body).contains("signed-in"));
    let pv = get(format!("{}/api/v1/hotspots?method=gistar", s.base), None).await;
    assert_eq!(pv.status, 200);
    assert_eq!(pv.headers["content-type"], "application/geo+json");
    let pv = pv.json();
    assert_eq!(pv["type"], "FeatureCollection");
    assert_eq!(pv["meta"]["excluded_by_precision"]["municipality"], 50);
    assert_eq!(pv["meta"]["k"], 3);
    assert_eq!(pv["meta"]["role"], "anonymous");
    assert_eq!(pv["meta"]["parameters"]["cell"], 200.0);
    assert_eq!(pv["meta"]["parameters"]["band"], 500.0);
    for f in pv["features"].as_array().unwrap() {
        let p = &f["properties"];
        assert!(p["count"].is_null() || p["count"].as_u64().unwrap() >= 3);
        assert!(p.get("z").is_none());
        assert_eq!(f["geometry"]["coordinates"][0].as_array().unwrap().len(), 5);
    }

    let full = get(url, police.clone()).await.json();
    let feats = full["features"].as_array().unwrap();
    assert_eq!(feats.len(), 4);
    let big = &feats[0]["properties"];
    assert_eq!(big["count"], 60);
    assert_eq!(big["profile"].as_array().unwrap().len(), 7);
    assert_eq!(big["profile"][0].as_array().unwrap().len(), 24);
    assert_eq!(big["first"].as_str().unwrap().len(), 10);
    assert!(big["peak"].as_str().unwrap().starts_with("fre"));
    let centre = big["centre"].as_array().unwrap();
    assert!((17.9..18.2).contains(&centre[0].as_f64().unwrap()));
    // Ids are stable across calls (and across the cache).
    let again = get(
        format!(
            "{}/api/v1/hotspots?min_points=2&eps=30&method=dbscan",
            s.base
        ),
        police.clone(),
    )
    .await
    .json();
    assert_eq!(again["features"][0]["properties"]["id"], big["id"]);

    // Gi* with derived parameters, reported in meta (signed in: the public grid is fixed).
    let gi = get(
        format!("{}/api/v1/hotspots?method=gistar&grid=hex", s.base),
        police.clone(),
    )
    .await
    .json();
    let params = &gi["meta"]["parameters"];
    assert_eq!(params["cell_derived"], true);
    assert_eq!(params["band_derived"], true);
    assert_eq!(params["grid"], "hex");
    for f in gi["features"].as_array().unwrap() {
        let p = &f["properties"];
        assert!(p["count"].as_u64().is_some(), "signed in: every count");
        assert!(p["z"].is_number());
        assert!((-3..=3).contains(&p["bin"].as_i64().unwrap()));
        assert_eq!(f["geometry"]["coordinates"][0].as_array().unwrap().len(), 7);
    }

    // KDE: GeoJSON with bounds, and the PNG with X-Bounds; free parameters when signed in,
    // the public heat map's own otherwise.
    let k = get(
        format!(
            "{}/api/v1/hotspots?method=kde&bandwidth=150&cell=25",
            s.base
        ),
        police.clone(),
    )
    .await
    .json();
    assert_eq!(k["meta"]["bounds"].as_array().unwrap().len(), 4);
    assert!(
        k["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["properties"]["density"].as_f64().unwrap() > 0.0)
    );
    let public_kde = get(format!("{}/api/v1/hotspots?method=kde", s.base), None)
        .await
        .json();
    assert_eq!(public_kde["meta"]["parameters"]["bandwidth"], 400.0);
    assert_eq!(public_kde["meta"]["parameters"]["cell"], 50.0);
    assert!(!public_kde["features"].as_array().unwrap().is_empty());
    let png = get(format!("{}/api/v1/hotspots/kde.png", s.base), None).await;
    assert_eq!(png.status, 200);
    assert_eq!(png.headers["content-type"], "image/png");
    assert_eq!(&png.body[..8], b"\x89PNG\r\n\x1a\n");
    let b: Vec<f64> = png.headers["x-bounds"]
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(b[0] < b[2] && b[1] < b[3] && (17.8..18.3).contains(&b[0]));

    // Points: police only.
    let anon = get(format!("{}/api/v1/incidents", s.base), None).await;
    assert_eq!(anon.status, 401);
    let pts = get(
        format!("{}/api/v1/incidents?weekdays=fri,sat&hours=22-02", s.base),
        police.clone(),
    )
    .await;
    assert_eq!(pts.status, 200);
    let pv = pts.json();
    let f0 = &pv["features"][0];
    assert_eq!(f0["geometry"]["type"], "Point");
    for key in [
        "source",
        "source_id",
        "time",
        "category",
        "group",
        "label",
        "precision",
        "time_precision",
        "time_to",
    ] {
        assert!(f0["properties"].get(key).is_some(), "{key}");
    }
    assert_eq!(pv["meta"]["returned"], 182);
    // These events were given to the minute: exact, no window.
    assert!(pv["features"].as_array().unwrap().iter().all(|f| {
        f["properties"]["time_precision"] == "exact" && f["properties"]["time_to"].is_null()
    }));

    // Bad input names the parameter.
    let bad = get(
        format!("{}/api/v1/hotspots?method=dbscan&hours=25", s.base),
        None,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("hours"));
    let unknown = get(
        format!("{}/api/v1/hotspots?method=gistar&epsilon=3", s.base),
        None,
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert!(String::from_utf8_lossy(&unknown.body).contains("epsilon"));
    let _ = &s.state;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_compares_periods_and_data_changes_invalidate_the_cache() {
    // Period A (April): one cluster; period B (May): that cluster tripled, and a new one.
    let mut incs = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let a_place = [TABY[0], TABY[1]];
    let new_place = [TABY[0] + 1500.0, TABY[1]];
    let mut id = 0;
    let mut put = |p: [f64; 2], at: DateTime<Utc>, incs: &mut Vec<Incident>| {
        let r = 15.0 * rng.random::<f64>().sqrt();
        let a = rng.random_range(0.0..std::f64::consts::TAU);
        incs.push(incident(
            id,
            [p[0] + r * a.cos(), p[1] + r * a.sin()],
            at,
            LocationPrecision::Exact,
        ));
        id += 1;
    };
    let april = Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0).unwrap();
    let may = Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap();
    for _ in 0..10 {
        put(a_place, april, &mut incs);
    }
    for _ in 0..40 {
        put(a_place, may, &mut incs);
    }
    for _ in 0..12 {
        put(new_place, may, &mut incs);
    }
    let s = start(&incs).await;
    let q = "a_from=2026-04-01&a_to=2026-04-30&b_from=2026-05-01&b_to=2026-05-30";
    let v = get(
        format!(
            "{}/api/v1/hotspots/compare?method=dbscan&eps=30&min_points=5&{q}",
            s.base
        ),
        Some(s.police_token.clone()),
    )
    .await
    .json();
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), 2);
    let up = feats
        .iter()
        .find(|f| f["properties"]["change"] == "up")
        .expect("an up cluster");
    assert_eq!(up["properties"]["count_a"], 10);
    assert_eq!(up["properties"]["count_b"], 40);
    let new = feats
        .iter()
        .find(|f| f["properties"]["change"] == "new")
        .expect("a new cluster");
    assert_eq!(new["properties"]["count_b"], 12);
    assert_eq!(new["properties"]["count_a"], 0);

    let gi = get(
        format!(
            "{}/api/v1/hotspots/compare?method=gistar&cell=100&band=300&{q}",
            s.base
        ),
        Some(s.police_token.clone()),
    )
    .await;
    assert_eq!(gi.status, 200);
    assert!(
        gi.json()["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["properties"]["change"].is_string())
    );
    let wrong = get(
        format!(
            "{}/api/v1/hotspots/compare?method=dbscan&from=2026-01-01&{q}",
            s.base
        ),
        None,
    )
    .await;
    assert_eq!(wrong.status, 400);

    // Cache: the same query twice is the same; after new data is loaded it changes.
    let url = format!(
        "{}/api/v1/hotspots?method=dbscan&eps=30&min_points=5",
        s.base
    );
    let before = get(url.clone(), Some(s.police_token.clone())).await.json();
    assert_eq!(before["features"].as_array().unwrap().len(), 2);
    let more: Vec<Incident> = (0..8)
        .map(|i| {
            incident(
                50_000 + i,
                [TABY[0] - 1500.0 + i as f64, TABY[1]],
                may,
                LocationPrecision::Exact,
            )
        })
        .collect();
    s.state.store.upsert_incidents(&more).await.unwrap();
    s.state
        .spatial
        .reload(s.state.store.as_ref())
        .await
        .unwrap();
    let after = get(url, Some(s.police_token.clone())).await.json();
    assert_eq!(after["features"].as_array().unwrap().len(), 3);
    assert_ne!(
        before["meta"]["snapshot_version"],
        after["meta"]["snapshot_version"]
    );
}

#[test]
fn openapi_paths_cover_the_endpoints() {
    let doc = lagesbild::api::openapi_document();
    let paths = &doc["paths"];
    for p in [
        "/api/v1/hotspots",
        "/api/v1/hotspots/kde.png",
        "/api/v1/hotspots/compare",
        "/api/v1/incidents",
    ] {
        let get = &paths[p]["get"];
        assert!(get["summary"].is_string(), "{p}");
        assert!(
            get["parameters"].as_array().is_some_and(|a| !a.is_empty()),
            "{p}"
        );
        assert!(get["responses"]["200"].is_object(), "{p}");
    }
    let names: Vec<&str> = paths["/api/v1/hotspots/compare"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"a_from") && !names.contains(&"from"));
}

/// Aoristic weights through the API (Ratcliffe 2002): 30 burglaries known only to "fre 18:00 –
/// mån 07:00" spread 1/61 over each of those 61 hours, 10 assaults on Friday at 22:30 add 1
/// each at 22, and 5 events known only to the date are in the cluster but in no hour. The peak
/// is the busiest four hours of the weights: Friday 19–23 and 22–02 tie at 10 + 4 · 30/61, and
/// a tie goes to the earlier.
#[tokio::test]
async fn windows_spread_over_their_hours_in_the_cluster_profile() {
    use lagesbild::model::TimePrecision;
    let cet = FixedOffset::east_opt(3600).unwrap();
    let at = |d: u32, h: u32, m: u32| cet.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap();
    let mut incs = Vec::new();
    let place = |k: usize| {
        [
            TABY[0] + (k % 7) as f64 * 3.0,
            TABY[1] + (k / 7) as f64 * 3.0,
        ]
    };
    for k in 0..45 {
        let mut i = incident(k, place(k), Utc::now(), LocationPrecision::Exact);
        match k {
            0..30 => {
                i.occurred_at = at(6, 18, 0);
                i.occurred_to = Some(at(9, 7, 0));
                i.time_precision = TimePrecision::Window;
            }
            30..40 => i.occurred_at = at(6, 22, 30),
            _ => {
                i.occurred_at = at(7, 0, 0);
                i.time_precision = TimePrecision::Date;
            }
        }
        incs.push(i);
    }
    let s = TestServer::seeded(
        |_| {},
        async move |store| {
            store.upsert_incidents(&incs).await.unwrap();
        },
    )
    .await;
    let police = s.token(Role::Police).await;
    let r = get(
        s.url("/api/v1/hotspots?method=dbscan&eps=30&min_points=5&from=2026-03-01&to=2026-03-31"),
        Some(police),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let fs = v["features"].as_array().unwrap();
    assert_eq!(fs.len(), 1, "{v}");
    let p = &fs[0]["properties"];
    assert_eq!(p["count"], 45);
    assert_eq!(p["without_hour"], 5);
    assert_eq!(p["uncertain_weight"], 30.0);
    let cell = |d: usize, h: usize| p["profile"][d][h].as_f64().unwrap();
    let w = 30.0 / 61.0;
    let r4 = |x: f64| (x * 1e4).round() / 1e4;
    assert_eq!(cell(4, 17), 0.0);
    assert_eq!(cell(4, 18), r4(w));
    assert_eq!(cell(4, 22), r4(10.0 + w));
    assert_eq!(
        cell(5, 0),
        r4(w),
        "Saturday midnight: the window's share, not the dates"
    );
    assert_eq!(cell(0, 6), r4(w));
    assert_eq!(cell(0, 7), 0.0);
    let total: f64 = (0..7)
        .flat_map(|d| (0..24).map(move |h| (d, h)))
        .map(|(d, h)| cell(d, h))
        .sum();
    assert!((total - 40.0).abs() < 0.01, "{total}");
    assert_eq!(p["peak"], "fre 19–23");
}
