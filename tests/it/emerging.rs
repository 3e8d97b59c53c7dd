//! Emerging hot spots (`method=ehsa`) through the API on a planted cube, and the Mann–Kendall
//! test against pymannkendall on a recorded fixture.
//!
//! The cube: 30 × 30 cells of 100 m, two events in every cell in every month of 2025 (a flat
//! background no test can call hot), and seven cells with extra events that tell one story
//! each — in December only (new), more every month (intensifying), the same every month
//! (persistent), fewer every month (diminishing), January to November (historical), October to
//! December (consecutive), February, July and December (sporadic). The plants are ten cells
//! apart, far outside each other's 150 m band.

use chrono::{Duration, FixedOffset, TimeZone};
use geo::Point;
use lagesbild::analysis::hotspot::ehsa::mann_kendall;
use lagesbild::model::{CategoryGroup, Incident, LocationPrecision, Role, TimePrecision};
use serde_json::Value;

use crate::support::{TestServer, get_json};

const X0: f64 = 670_000.0;
const Y0: f64 = 6_590_000.0;

fn theft(id: usize, cell: (i32, i32), month: u32, day: u32) -> Incident {
    let at = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2025, month, day, 12, 0, 0)
        .unwrap();
    Incident {
        source: "t".into(),
        source_id: id.to_string(),
        occurred_at: at,
        time_precision: TimePrecision::Exact,
        occurred_to: None,
        category: "theft".into(),
        group: CategoryGroup::Property,
        label: "Stöld".into(),
        location: Point::new(
            X0 + 100.0 * f64::from(cell.0) + 50.0,
            Y0 + 100.0 * f64::from(cell.1) + 50.0,
        ),
        precision: LocationPrecision::Exact,
        place: None,
        summary: None,
    }
}

/// The planted cells, what each must come out as, and its extra events in month 0..12.
fn plants() -> Vec<((i32, i32), &'static str, Vec<u32>)> {
    let months = |f: &dyn Fn(u32) -> u32| (0..12).map(f).collect::<Vec<u32>>();
    vec![
        (
            (5, 5),
            "new_hot_spot",
            months(&|m| if m == 11 { 40 } else { 0 }),
        ),
        ((15, 5), "intensifying_hot_spot", months(&|m| 20 + 4 * m)),
        ((25, 5), "persistent_hot_spot", months(&|_| 30)),
        ((5, 15), "diminishing_hot_spot", months(&|m| 64 - 4 * m)),
        (
            (15, 15),
            "historical_hot_spot",
            months(&|m| if m < 11 { 30 } else { 0 }),
        ),
        (
            (25, 15),
            "consecutive_hot_spot",
            months(&|m| if m >= 9 { 40 } else { 0 }),
        ),
        (
            (5, 25),
            "sporadic_hot_spot",
            months(&|m| if [1, 6, 11].contains(&m) { 40 } else { 0 }),
        ),
    ]
}

fn cube() -> Vec<Incident> {
    let mut out = Vec::new();
    for j in 0..30 {
        for i in 0..30 {
            for m in 1..=12 {
                for day in [5, 20] {
                    out.push(theft(out.len(), (i, j), m, day));
                }
            }
        }
    }
    for (cell, _, extra) in plants() {
        for (m, n) in extra.iter().enumerate() {
            for k in 0..*n {
                out.push(theft(out.len(), cell, m as u32 + 1, 1 + k % 28));
            }
        }
    }
    out
}

fn feature_at(fc: &Value, cell: [i64; 2]) -> &Value {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            let c = &f["properties"]["cell"];
            c[0].as_i64() == Some(cell[0]) && c[1].as_i64() == Some(cell[1])
        })
        .unwrap_or_else(|| panic!("no feature for cell {cell:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_cube_through_the_api() {
    let mut incs = cube();
    let n_cube = incs.len();
    // One burglary known only to the window 31 January 20:00 – 1 February 08:00: in no month.
    let mut w = theft(incs.len(), (29, 29), 1, 31);
    w.occurred_at = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2025, 1, 31, 20, 0, 0)
        .unwrap();
    w.occurred_to = Some(w.occurred_at + Duration::hours(12));
    w.time_precision = TimePrecision::Window;
    incs.push(w);
    let s = TestServer::seeded(
        |_| {},
        async move |store| {
            store.upsert_incidents(&incs).await.unwrap();
        },
    )
    .await;
    let police = s.token(Role::Police).await;
    let q = "/api/v1/hotspots?method=ehsa&step=month&cell=100&band=150&from=2025-01-01&to=2025-12-31&groups=property";
    let (st, fc) = get_json(s.url(q), Some(police.clone())).await;
    assert_eq!(st, 200, "{fc}");
    let m = &fc["meta"];
    let p = &m["parameters"];
    assert_eq!(p["steps"], 12);
    assert_eq!(p["first_step"], "2025-01");
    assert_eq!(p["last_step"], "2025-12");
    assert_eq!(p["neighbourhood_steps"], 1);
    assert_eq!(p["locations"], 900);
    assert_eq!(p["bins"], 900 * 12);
    assert_eq!(m["included"].as_u64(), Some(n_cube as u64));
    assert_eq!(m["left_out"]["across_steps"], 1);
    assert_eq!(m["left_out"]["outside_steps"], 0);
    for (cell, want, extra) in plants() {
        let f = feature_at(&fc, [6700 + i64::from(cell.0), 65900 + i64::from(cell.1)]);
        let props = &f["properties"];
        assert_eq!(props["category"], want, "{cell:?}: {props}");
        assert_eq!(
            props["count"].as_u64().unwrap(),
            24 + extra.iter().map(|n| u64::from(*n)).sum::<u64>()
        );
        assert_eq!(props["history"].as_str().unwrap().len(), 12);
        assert!(props["label"].as_str().unwrap().contains("hotspot"));
        // τ and p are the Mann–Kendall of a series the answer does not carry; their sign and
        // range can be checked here, their values against pymannkendall below.
        let tau = props["mk_tau"].as_f64().unwrap();
        match want {
            "intensifying_hot_spot" => assert!(tau > 0.5, "{props}"),
            "diminishing_hot_spot" => assert!(tau < -0.5, "{props}"),
            _ => {}
        }
        assert!((0.0..=1.0).contains(&props["mk_p"].as_f64().unwrap()));
    }
    // The history of the consecutive hot spot: October, November, December (with k = 1 the
    // bin of October also holds September, which has nothing extra).
    let f = feature_at(&fc, [6725, 65915]);
    assert_eq!(f["properties"]["history"], ".........HHH");
    // Far from every plant: nothing.
    let f = feature_at(&fc, [6710 + 10, 65900 + 28]);
    assert_eq!(f["properties"]["category"], "no_pattern");
    let total: u64 = m["categories"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 900);
    assert_eq!(m["categories"].as_object().unwrap().len(), 17);

    // Weekly steps over 2025: Wednesday 1 January and Wednesday 31 December leave 51 whole
    // ISO weeks, 2025-W02 (6 January) to 2025-W52 (ending Sunday 28 December).
    let q =
        "/api/v1/hotspots?method=ehsa&step=week&cell=100&band=150&from=2025-01-01&to=2025-12-31";
    let (st, wk) = get_json(s.url(q), Some(police.clone())).await;
    assert_eq!(st, 200, "{wk}");
    assert_eq!(wk["meta"]["parameters"]["steps"], 51);
    assert_eq!(wk["meta"]["parameters"]["first_step"], "2025-W02");
    assert_eq!(wk["meta"]["parameters"]["last_step"], "2025-W52");
    // The 5th of January (Sunday) and the days 29–31 December are in no whole week.
    let outside = wk["meta"]["left_out"]["outside_steps"].as_u64().unwrap();
    assert!(outside >= 900, "{outside}");

    // Bad parameters name themselves.
    for (q, name) in [
        ("step=day", "step"),
        ("neighbourhood_steps=13", "neighbourhood_steps"),
        ("from=2025-01-01&to=2025-06-30", "at least 10"),
        ("eps=30", "eps"),
    ] {
        let (st, e) = get_json(
            s.url(&format!("/api/v1/hotspots?method=ehsa&{q}")),
            Some(police.clone()),
        )
        .await;
        assert_eq!(st, 400, "{q}: {e}");
        assert!(e.to_string().contains(name), "{q}: {e}");
    }
    let (st, e) = get_json(
        s.url("/api/v1/hotspots?method=ehsa&cell=10&band=5000&from=2025-01-01&to=2025-12-31"),
        Some(police.clone()),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    assert!(e.to_string().contains("ehsa: about"), "{e}");

    // The public: monthly steps only, public cells, the category and a count from k.
    let (st, e) = get_json(s.url("/api/v1/hotspots?method=ehsa&step=week"), None).await;
    assert_eq!(st, 400, "{e}");
    assert!(e.to_string().contains("step"), "{e}");
    let q = "/api/v1/hotspots?method=ehsa&from=2025-01&to=2025-12&groups=property";
    let (st, pub_fc) = get_json(s.url(q), None).await;
    assert_eq!(st, 200, "{pub_fc}");
    let body = pub_fc.to_string();
    for key in ["mk_tau", "mk_p", "history", "last_z", "\"z\""] {
        assert!(!body.contains(key), "{key} in the public answer");
    }
    assert_eq!(pub_fc["meta"]["parameters"]["step"], "month");
    // The persistent plant's 200 m public cell (its 100 m cell 25,5 is in public cell 12,2).
    let f = feature_at(&pub_fc, [3362, 32952]);
    let cat = f["properties"]["category"].as_str().unwrap();
    assert!(cat.ends_with("_hot_spot"), "{cat}");
    s.stop().await.unwrap();
}

/// S, Var(S), Z, p and τ equal pymannkendall's `original_test` on fourteen recorded series
/// (ties, constant, short and long ones).
#[test]
fn mann_kendall_agrees_with_pymannkendall() {
    let text = std::fs::read_to_string(
        crate::support::root().join("tests/fixtures/mann_kendall_pymannkendall.json"),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 14);
    for s in series {
        let name = s["name"].as_str().unwrap();
        let x: Vec<f64> = s["x"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let mk = mann_kendall(&x);
        let close = |got: f64, key: &str| {
            let want = s[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{name}: {key} {got} vs pymannkendall {want}"
            );
        };
        close(mk.s, "s");
        close(mk.var_s, "var_s");
        close(mk.z, "z");
        close(mk.p, "p");
        close(mk.tau, "tau");
        // pymannkendall's own verdict at 5 %.
        assert_eq!(mk.p <= 0.05, s["h"].as_bool().unwrap(), "{name}");
    }
}

/// The public emerging hot spots move only when an event changes its 200 m cell or its month:
/// two data sets that differ in where inside their cells and when inside their months three
/// events happened (the year's first event, one in May and the year's last) give byte-identical
/// public answers, with or without a period. (Without one, the steps are the whole months
/// between the events' first and last month, so moving the first event from the 1st to the 27th
/// of January, or the last from the 1st to the 31st of December, changes nothing.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_emerging_hot_spots_hide_the_place_and_day_inside_cell_and_month() {
    use rand::{Rng, SeedableRng};
    let data = |variant: u8| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut out = Vec::new();
        for k in 0..900 {
            let mut inc = theft(
                k,
                (rng.random_range(0..40), rng.random_range(0..40)),
                rng.random_range(2..=11),
                rng.random_range(1..=28),
            );
            inc.location = Point::new(
                inc.location.x() + rng.random_range(-50.0..49.0),
                inc.location.y() + rng.random_range(-50.0..49.0),
            );
            out.push(inc);
        }
        // A hot corner in the autumn, so that some cells have a pattern.
        for k in 0..120 {
            out.push(theft(
                900 + k,
                (30 + k as i32 % 3, 30),
                9 + k as u32 % 4,
                10,
            ));
        }
        // The probes: inside the public cell [X0+1000, X0+1200) × [Y0+1000, Y0+1200).
        let (dx, days) = if variant == 1 {
            (5.0, [1, 1, 1])
        } else {
            (190.0, [27, 27, 31])
        };
        for (k, (id, month)) in [(2000, 1), (2001, 5), (2002, 12)].into_iter().enumerate() {
            let mut e = theft(id, (10, 10), month, days[k]);
            e.location = Point::new(X0 + 1000.0 + dx, Y0 + 1000.0 + 200.0 - dx);
            out.push(e);
        }
        out
    };
    let (a, b) = (data(1), data(2));
    let sa = TestServer::seeded(
        |_| {},
        async move |st| {
            st.upsert_incidents(&a).await.unwrap();
        },
    )
    .await;
    let sb = TestServer::seeded(
        |_| {},
        async move |st| {
            st.upsert_incidents(&b).await.unwrap();
        },
    )
    .await;
    let mut categories = 0;
    for q in [
        "/api/v1/hotspots?method=ehsa",
        "/api/v1/hotspots?method=ehsa&groups=property",
        "/api/v1/hotspots?method=ehsa&from=2025-01&to=2025-12",
        "/api/v1/hotspots?method=ehsa&cell=400&band=1200&hours=6-18",
    ] {
        let (st1, mut v1) = get_json(sa.url(q), None).await;
        let (st2, mut v2) = get_json(sb.url(q), None).await;
        assert_eq!((st1, st2), (200, 200), "{q}: {v1}");
        for v in [&mut v1, &mut v2] {
            v["meta"]
                .as_object_mut()
                .unwrap()
                .remove("snapshot_version");
        }
        // Without a period, the data's first and last month (January and December) are left
        // out: they may hold only some of their days.
        let (first, last) = if q.contains("from=") {
            ("2025-01", "2025-12")
        } else {
            ("2025-02", "2025-11")
        };
        assert_eq!(v1["meta"]["parameters"]["first_step"], first, "{q}");
        assert_eq!(v1["meta"]["parameters"]["last_step"], last, "{q}");
        assert!(
            v1 == v2,
            "{q}: the public answer moved with an event inside its cell and month"
        );
        categories += v1["meta"]["categories"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, n)| *k != "no_pattern" && n.as_u64() > Some(0))
            .count();
    }
    assert!(
        categories > 0,
        "some cell has a pattern: the comparison is not of empty answers"
    );
    sa.stop().await.unwrap();
    sb.stop().await.unwrap();
}
