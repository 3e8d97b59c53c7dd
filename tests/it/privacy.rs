//! The public product against an adversary, through a real server on a real SQLite file.
//!
//! The strongest form of "no event can be placed": two datasets that differ only in where,
//! inside one 200 m public cell, and when, inside one month and part of day, two events
//! happened (once in a cell with two other events, so its count is shown; once alone) give
//! **byte-identical** anonymous answers to every question the public may ask. The two
//! positions of each event are over 200 m apart, so no function of the answers can put the
//! event within 100 m of where it was. A third dataset without the events shows that the same
//! questions do see them (the battery is not blind), and the fine-grained questions of the
//! outsider who placed an event to 1 cm (one day, one hour, a bbox halved, 10 m cells, a 10 m
//! bandwidth, DBSCAN hulls) are refused with the rule.

use chrono::{DateTime, FixedOffset, TimeZone};
use geo::{LineString, MultiPolygon, Point, Polygon};
use lagesbild::model::{Area, CategoryGroup, Incident, LocationPrecision, Role, Walkway};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::support::{Reply, TestServer, get};

/// A corner of the public grid (multiples of 200 m in EPSG:3006) in Täby.
const X0: f64 = 674_400.0;
const Y0: f64 = 6_596_400.0;

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<FixedOffset> {
    // Stockholm summer time (May, June) is UTC+2.
    FixedOffset::east_opt(2 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
}

fn incident(
    id: &str,
    p: [f64; 2],
    at: DateTime<FixedOffset>,
    precision: LocationPrecision,
) -> Incident {
    Incident {
        source: "test".into(),
        source_id: id.into(),
        occurred_at: at,
        time_precision: Default::default(),
        occurred_to: None,
        category: "assault".into(),
        group: CategoryGroup::Violence,
        label: "Misshandel".into(),
        location: Point::new(p[0], p[1]),
        precision,
        place: Some("Täby".into()),
        summary: None,
    }
}

/// Where and when the two probe events are, in one variant of the data.
struct Probe {
    e: ([f64; 2], DateTime<FixedOffset>),
    f: ([f64; 2], DateTime<FixedOffset>),
}

/// Cell C = [X0+1000, X0+1200) × [Y0+1000, Y0+1200) holds E and two companions; cell D =
/// [X0+2200, X0+2400) × [Y0+200, Y0+400) holds F alone. Variant 1 and 2 move both events
/// across their cell (≈ 240 m) and in time within May and the evening part (18–24).
fn probe(variant: u8) -> Probe {
    match variant {
        1 => Probe {
            e: ([X0 + 1010.0, Y0 + 1015.0], local(2026, 5, 12, 19, 5)),
            f: ([X0 + 2215.0, Y0 + 210.0], local(2026, 5, 3, 18, 1)),
        },
        _ => Probe {
            e: ([X0 + 1190.0, Y0 + 1185.0], local(2026, 5, 27, 23, 50)),
            f: ([X0 + 2390.0, Y0 + 395.0], local(2026, 5, 30, 23, 59)),
        },
    }
}

fn dataset(probe: Option<Probe>) -> Vec<Incident> {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut out = Vec::new();
    // Background: 300 events over 4 × 4 km, April to June, any hour.
    for i in 0..300 {
        let p = [
            X0 - 1000.0 + rng.random_range(0.0..4000.0),
            Y0 - 1000.0 + rng.random_range(0.0..4000.0),
        ];
        // Keep the probe cells to the probes and their companions.
        let in_c = (X0 + 1000.0..X0 + 1200.0).contains(&p[0])
            && (Y0 + 1000.0..Y0 + 1200.0).contains(&p[1]);
        let in_d =
            (X0 + 2200.0..X0 + 2400.0).contains(&p[0]) && (Y0 + 200.0..Y0 + 400.0).contains(&p[1]);
        if in_c || in_d {
            continue;
        }
        let at = local(
            2026,
            rng.random_range(4..=6),
            rng.random_range(1..=28),
            rng.random_range(0..24),
            rng.random_range(0..60),
        );
        out.push(incident(&format!("bg{i}"), p, at, LocationPrecision::Exact));
    }
    // A dense spot of 40 evening events in May, 400 m west of C.
    for i in 0..40 {
        let p = [
            X0 + 600.0 + rng.random_range(0.0..150.0),
            Y0 + 1050.0 + rng.random_range(0.0..150.0),
        ];
        out.push(incident(
            &format!("spot{i}"),
            p,
            local(2026, 5, 1 + i % 28, 20, i),
            LocationPrecision::Exact,
        ));
    }
    // E's two companions in cell C, fixed.
    out.push(incident(
        "c1",
        [X0 + 1100.0, Y0 + 1100.0],
        local(2026, 5, 15, 21, 0),
        LocationPrecision::Exact,
    ));
    out.push(incident(
        "c2",
        [X0 + 1050.0, Y0 + 1150.0],
        local(2026, 5, 20, 22, 30),
        LocationPrecision::Exact,
    ));
    // 25 events Polisen put on the municipality's centre.
    for i in 0..25 {
        out.push(incident(
            &format!("m{i}"),
            [X0, Y0],
            local(2026, 5, 2 + i, 12, 0),
            LocationPrecision::Municipality,
        ));
    }
    if let Some(p) = probe {
        out.push(incident("E", p.e.0, p.e.1, LocationPrecision::Exact));
        out.push(incident("F", p.f.0, p.f.1, LocationPrecision::Exact));
    }
    out
}

/// A district whose edge runs through cell C between E's two positions (X0 + 1150): the public
/// decides membership by the cell's centre (X0 + 1100, inside), never by the point.
fn district() -> Area {
    let ring = LineString::from(vec![
        (X0 - 2000.0, Y0 - 2000.0),
        (X0 + 1150.0, Y0 - 2000.0),
        (X0 + 1150.0, Y0 + 3000.0),
        (X0 - 2000.0, Y0 + 3000.0),
        (X0 - 2000.0, Y0 - 2000.0),
    ]);
    Area {
        id: 1,
        name: "Väst".into(),
        geometry: MultiPolygon::new(vec![Polygon::new(ring, vec![])]),
        source: "test".into(),
    }
}

/// A real server on port 0 (the shared test server) with the data loaded, and a police token.
struct Server {
    base: String,
    police: String,
    _srv: TestServer,
}

async fn start(incs: &[Incident], walkways: &[Walkway]) -> Server {
    let srv = TestServer::seeded(
        |_| {},
        async |store| {
            store.upsert_incidents(incs).await.unwrap();
            store.upsert_areas(&[district()]).await.unwrap();
            if !walkways.is_empty() {
                store.upsert_walkways(walkways).await.unwrap();
            }
        },
    )
    .await;
    Server {
        base: srv.url(""),
        police: srv.token(Role::Police).await,
        _srv: srv,
    }
}

/// Every question the public may ask of the hotspot endpoints, in its allowed forms.
const BATTERY: [&str; 14] = [
    "/api/v1/hotspots?method=gistar",
    "/api/v1/hotspots?method=gistar&cell=400&band=1200",
    "/api/v1/hotspots?method=gistar&cell=200&band=200",
    "/api/v1/hotspots?method=gistar&area=V%C3%A4st",
    "/api/v1/hotspots?method=gistar&groups=violence&hours=18-24&from=2026-05&to=2026-05",
    "/api/v1/hotspots?method=gistar&from=2026-05-01&to=2026-05-31&hours=18-6",
    "/api/v1/hotspots?method=kde",
    "/api/v1/hotspots?method=kde&bandwidth=300&area=V%C3%A4st",
    "/api/v1/hotspots?method=kde&hours=18-24&from=2026-05&to=2026-06",
    "/api/v1/hotspots/kde.png",
    "/api/v1/hotspots/kde.png?bandwidth=300&groups=violence&from=2026-05&to=2026-05",
    "/api/v1/hotspots/compare?method=gistar&a_from=2026-04&a_to=2026-04&b_from=2026-05&b_to=2026-05",
    "/api/v1/hotspots/compare?method=gistar&a_from=2026-04&a_to=2026-04&b_from=2026-05&b_to=2026-05&area=V%C3%A4st&hours=18-24",
    "/api/v1/hotspots?method=gistar&cell=1600&band=3200&groups=violence",
];

/// An answer with what may differ between two servers on the same data removed.
fn comparable(r: &Reply) -> Vec<u8> {
    if r.headers
        .get("content-type")
        .is_some_and(|c| c.contains("json"))
    {
        let mut v = r.json();
        if let Some(m) = v.get_mut("meta").and_then(Value::as_object_mut) {
            m.remove("snapshot_version");
        }
        return serde_json::to_vec(&v).unwrap();
    }
    let mut out = r.body.clone();
    out.extend(
        r.headers
            .get("x-bounds")
            .cloned()
            .unwrap_or_default()
            .into_bytes(),
    );
    out
}

/// Walks a JSON tree and checks the public rules on every meta and feature.
fn assert_public_shape(url: &str, v: &Value) {
    let meta = &v["meta"];
    for hidden in [
        "filtered_out",
        "suppressed",
        "suppressed_counts",
        "clustered",
    ] {
        assert!(meta.get(hidden).is_none(), "{url}: meta.{hidden} is public");
    }
    let tens = |x: &Value| x.is_null() || x.as_u64().is_some_and(|n| n % 10 == 0 && n >= 10);
    match &meta["included"] {
        Value::Object(ab) => assert!(ab.values().all(tens), "{url}: included {ab:?}"),
        other => assert!(tens(other), "{url}: included {other}"),
    }
    assert!(
        tens(&meta["excluded_by_precision"]["total"])
            || meta["excluded_by_precision"]["a"].is_object(),
        "{url}"
    );
    for f in v["features"].as_array().unwrap() {
        let p = &f["properties"];
        assert!(
            p.get("z").is_none() && p.get("p").is_none(),
            "{url}: z/p are public"
        );
        assert!(p.get("support").is_none(), "{url}: support is public");
        for key in ["count", "count_a", "count_b"] {
            if let Some(c) = p.get(key) {
                assert!(c.is_null() || c.as_u64().unwrap() >= 3, "{url}: {key} {c}");
            }
        }
    }
}

/// The `count` of the public 200 m cell whose south-west corner is `corner`, in a Gi* answer;
/// the cell must be in the answer (the public grid does not depend on the events).
fn count_in_cell(v: &Value, corner: [f64; 2]) -> Value {
    let id = serde_json::json!([(corner[0] / 200.0) as i64, (corner[1] / 200.0) as i64]);
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["cell"] == id)
        .map(|f| f["properties"]["count"].clone())
        .unwrap_or_else(|| panic!("cell {id} is in the public grid with or without events"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_an_event_inside_its_cell_month_and_day_part_changes_no_public_answer() {
    let d1 = start(&dataset(Some(probe(1))), &[]).await;
    let d2 = start(&dataset(Some(probe(2))), &[]).await;
    let d0 = start(&dataset(None), &[]).await;
    let mut seen_difference = false;
    for q in BATTERY {
        let (a, b, z) = (
            get(format!("{}{q}", d1.base), None).await,
            get(format!("{}{q}", d2.base), None).await,
            get(format!("{}{q}", d0.base), None).await,
        );
        assert_eq!(a.status, 200, "{q}: {}", a.text());
        assert_eq!(b.status, 200, "{q}: {}", b.text());
        if a.headers["content-type"].contains("json") {
            assert_public_shape(q, &a.json());
        }
        assert!(
            comparable(&a) == comparable(&b),
            "{q}: the answer moved with the event inside its cell"
        );
        seen_difference |= comparable(&a) != comparable(&z);
    }
    assert!(
        seen_difference,
        "the battery does not see the events at all"
    );

    // The battery sees E's cell: with E and its two companions the evening count of cell C is
    // 3 (shown); without E it would be 2 (null).
    let q = "/api/v1/hotspots?method=gistar&groups=violence&hours=18-24&from=2026-05&to=2026-05";
    let c = [X0 + 1000.0, Y0 + 1000.0];
    let answer = |srv: &Server| get(format!("{}{q}", srv.base), None);
    assert_eq!(count_in_cell(&answer(&d1).await.json(), c), 3);
    assert_eq!(count_in_cell(&answer(&d0).await.json(), c), Value::Null);
    // Cell D (F alone) is in the grid, its count hidden, in both variants.
    let d = [X0 + 2200.0, Y0 + 200.0];
    assert_eq!(count_in_cell(&answer(&d1).await.json(), d), Value::Null);
    assert_eq!(count_in_cell(&answer(&d2).await.json(), d), Value::Null);

    // The municipality-level events: 25, shown as 20 (tens, rounded down).
    let g = get(format!("{}/api/v1/hotspots?method=gistar", d1.base), None)
        .await
        .json();
    assert_eq!(g["meta"]["excluded_by_precision"]["total"], 20);
    // Signed-in roles still see exact numbers and z.
    let police = get(
        format!(
            "{}/api/v1/hotspots?method=gistar&cell=200&band=500",
            d1.base
        ),
        Some(d1.police.clone()),
    )
    .await
    .json();
    assert_eq!(police["meta"]["excluded_by_precision"]["total"], 25);
    assert!(police["features"][0]["properties"]["z"].is_number());
    assert!(police["meta"]["included"].as_u64().unwrap() > 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outsiders_fine_questions_are_refused_with_the_rule() {
    let s = start(&dataset(Some(probe(1))), &[]).await;
    let refused = [
        (
            "/api/v1/hotspots?method=gistar&from=2026-05-12&to=2026-05-12",
            "from",
        ),
        (
            "/api/v1/hotspots?method=gistar&from=2026-05-01&to=2026-05-12",
            "to",
        ),
        ("/api/v1/hotspots?method=gistar&hours=20-21", "hours"),
        ("/api/v1/hotspots?method=gistar&hours=22-04", "hours"),
        ("/api/v1/hotspots?method=gistar&weekdays=tue", "weekdays"),
        (
            "/api/v1/hotspots?method=gistar&categories=assault",
            "categories",
        ),
        (
            "/api/v1/hotspots?method=gistar&bbox=18.07,59.47,18.08,59.48",
            "bbox",
        ),
        ("/api/v1/hotspots?method=gistar&cell=10&band=10", "cell"),
        ("/api/v1/hotspots?method=gistar&cell=300", "cell"),
        ("/api/v1/hotspots?method=gistar&cell=200&band=50000", "band"),
        ("/api/v1/hotspots?method=gistar&grid=hex", "grid"),
        ("/api/v1/hotspots?method=kde&bandwidth=10", "bandwidth"),
        ("/api/v1/hotspots?method=kde&bandwidth=300&cell=2", "cell"),
        ("/api/v1/hotspots/kde.png?bandwidth=10", "bandwidth"),
        (
            "/api/v1/hotspots?method=dbscan&eps=30&min_points=3",
            "dbscan",
        ),
        (
            "/api/v1/hotspots/compare?method=dbscan&a_from=2026-04&a_to=2026-04&b_from=2026-05&b_to=2026-05",
            "dbscan",
        ),
        (
            "/api/v1/hotspots/compare?method=gistar&a_from=2026-04-02&a_to=2026-04-30&b_from=2026-05&b_to=2026-05",
            "a_from",
        ),
    ];
    for (q, names) in refused {
        let r = get(format!("{}{q}", s.base), None).await;
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert!(r.text().contains(names), "{q}: {}", r.text());
    }
    // The same questions are a signed-in role's to ask (those that are not too big).
    for q in [
        "/api/v1/hotspots?method=gistar&from=2026-05-12&to=2026-05-12&hours=20-21",
        "/api/v1/hotspots?method=dbscan&eps=30&min_points=3",
        "/api/v1/hotspots?method=kde&bandwidth=50&cell=10",
    ] {
        let r = get(format!("{}{q}", s.base), Some(s.police.clone())).await;
        assert_eq!(r.status, 200, "{q}: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_big_requests_are_refused_before_they_start_for_every_role() {
    let s = start(&dataset(Some(probe(1))), &[]).await;
    for (q, who) in [
        (
            "/api/v1/hotspots?method=gistar&cell=10&band=50000",
            Some(s.police.clone()),
        ),
        (
            "/api/v1/hotspots?method=kde&bandwidth=20000&cell=2",
            Some(s.police.clone()),
        ),
        ("/api/v1/hotspots?method=kde&bandwidth=20000&cell=2", None),
        (
            "/api/v1/hotspots?method=kde&bandwidth=5000&cell=2",
            Some(s.police.clone()),
        ),
        (
            "/api/v1/hotspots/kde.png?bandwidth=5000&cell=2",
            Some(s.police.clone()),
        ),
        (
            "/api/v1/hotspots/compare?method=gistar&cell=10&band=20000&a_from=2026-04&a_to=2026-04&b_from=2026-05&b_to=2026-05",
            Some(s.police.clone()),
        ),
    ] {
        let t0 = std::time::Instant::now();
        let r = get(format!("{}{q}", s.base), who).await;
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(1),
            "{q} took {:?}",
            t0.elapsed()
        );
        assert!(
            r.text().contains("limit") || r.text().contains("public"),
            "{q}: {}",
            r.text()
        );
        // A cheap request is served meanwhile.
        let t1 = std::time::Instant::now();
        assert_eq!(get(format!("{}/health", s.base), None).await.status, 200);
        assert!(t1.elapsed() < std::time::Duration::from_secs(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dark_stretches_show_the_public_incident_counts_of_k_or_more_on_long_stretches_only() {
    // Three unlit footways without lamps (dark): 400 m with two incidents after dark, 400 m with
    // three, and 60 m with five. January evenings at 20:00 are after sunset in Täby.
    let way = |id: i64, y: f64, len: f64| Walkway {
        id,
        geometry: LineString::from(vec![(X0, Y0 + y), (X0 + len, Y0 + y)]),
        kind: "footway".into(),
        lit: Some("no".into()),
        name: None,
    };
    let ways = [
        way(1, 0.0, 400.0),
        way(2, 1000.0, 400.0),
        way(3, 2000.0, 60.0),
    ];
    let winter = |d: u32| {
        FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2026, 1, d, 20, 0, 0)
            .unwrap()
    };
    let mut incs = Vec::new();
    for (n, (y, x)) in [(2, (0.0, 100.0)), (3, (1000.0, 100.0)), (5, (2000.0, 30.0))] {
        for i in 0..n {
            incs.push(incident(
                &format!("w{y}-{i}"),
                [X0 + x + 10.0 * i as f64, Y0 + y + 5.0],
                winter(1 + i as u32),
                LocationPrecision::Exact,
            ));
        }
    }
    let s = start(&incs, &ways).await;
    let url = format!("{}/api/v1/lighting/stretches", s.base);
    let public = get(url.clone(), None).await.json();
    let police = get(url, Some(s.police.clone())).await.json();
    let by_way = |v: &Value, w: i64| -> Value {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["walkway_id"] == w)
            .unwrap_or_else(|| panic!("walkway {w}: {v}"))["properties"]
            .clone()
    };
    // Signed-in: the counts as they are.
    assert_eq!(by_way(&police, 1)["incidents_after_dark"], 2);
    assert_eq!(by_way(&police, 2)["incidents_after_dark"], 3);
    assert_eq!(by_way(&police, 3)["incidents_after_dark"], 5);
    // Public: 2 < k and a 60 m stretch are hidden, and so are their traces in priority and reasons.
    let (p1, p2, p3) = (by_way(&public, 1), by_way(&public, 2), by_way(&public, 3));
    assert!(p1["incidents_after_dark"].is_null());
    assert_eq!(p2["incidents_after_dark"], 3);
    assert!(p3["incidents_after_dark"].is_null());
    for p in [&p1, &p3] {
        assert!(
            !p["reasons"].to_string().contains("mörkrets"),
            "{}",
            p["reasons"]
        );
    }
    // Priority: 5 points per incident (at most 4) for the police; nothing for a hidden count.
    let police_1 = by_way(&police, 1)["priority"].as_f64().unwrap();
    assert!((police_1 - p1["priority"].as_f64().unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(p2["priority"], by_way(&police, 2)["priority"]);
    // Another class than the configured one, or kind classes, are a signed-in role's choice.
    for q in ["class=P1", "kind_class=footway=P2"] {
        let r = get(format!("{}/api/v1/lighting/stretches?{q}", s.base), None).await;
        assert_eq!(r.status, 400, "{q}");
        let r = get(
            format!("{}/api/v1/lighting/stretches?{q}", s.base),
            Some(s.police.clone()),
        )
        .await;
        assert_eq!(r.status, 200, "{q}");
    }
}
