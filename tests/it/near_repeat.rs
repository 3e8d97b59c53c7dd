//! Near repeats through the API on planted data: 36 burglaries on a 1 km grid at random days,
//! and 40 burglaries each followed 2 days later by another 50 m away, half-way between grid
//! points. The only pairs within 400 m are the 40 planted ones (every other pair is at least
//! 707 m apart), so the observed table is known exactly: 40 in 0–100 m × 0–7 days, 0 elsewhere.
//! The expected count of that cell under the permutation null is 40 × the share of ordered
//! pairs of distinct events whose times are less than 7 days apart, counted here from the
//! times themselves.

use chrono::{Duration, FixedOffset, TimeZone, Utc};
use geo::Point;
use lagesbild::model::{CategoryGroup, Incident, LocationPrecision, Role};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::support::{TestServer, get_json};

const X0: f64 = 670_000.0;
const Y0: f64 = 6_590_000.0;

/// A burglary `day` days after 1 January 2026 at `hour` (CET).
fn burglary(id: usize, x: f64, y: f64, day: i64, hour: u32) -> Incident {
    let start = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2026, 1, 1, hour, 0, 0)
        .unwrap();
    Incident {
        source: "t".into(),
        source_id: id.to_string(),
        occurred_at: start + Duration::days(day),
        time_precision: Default::default(),
        occurred_to: None,
        category: "burglary".into(),
        group: CategoryGroup::Property,
        label: "Inbrott".into(),
        location: Point::new(x, y),
        precision: LocationPrecision::Exact,
        place: None,
        summary: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_near_repeats_are_found_and_nothing_else() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut incs = Vec::new();
    for i in 0..6 {
        for j in 0..6 {
            let day = rng.random_range(0..300);
            incs.push(burglary(
                incs.len(),
                X0 + 1000.0 * i as f64,
                Y0 + 1000.0 * j as f64,
                day,
                6,
            ));
        }
    }
    for k in 0..40 {
        let (i, j) = (k % 6, (k / 6) % 6 + if k >= 36 { 6 } else { 0 });
        let (x, y) = (
            X0 + 1000.0 * i as f64 + 500.0,
            Y0 + 1000.0 * j as f64 + 500.0,
        );
        let day = rng.random_range(0..290);
        incs.push(burglary(incs.len(), x, y, day, 18));
        incs.push(burglary(incs.len(), x + 50.0, y, day + 2, 18));
    }
    let days: Vec<f64> = incs
        .iter()
        .map(|i| {
            (i.occurred_at.with_timezone(&Utc)
                - Utc.with_ymd_and_hms(2026, 1, 1, 11, 0, 0).unwrap())
            .num_seconds() as f64
                / 86_400.0
        })
        .collect();
    let n = days.len();
    let mut near = 0u64;
    for a in 0..n {
        for b in 0..n {
            if a != b && (days[a] - days[b]).abs() < 7.0 {
                near += 1;
            }
        }
    }
    let expected = 40.0 * near as f64 / (n * (n - 1)) as f64;

    let s = TestServer::seeded(
        |_| {},
        async move |store| {
            store.upsert_incidents(&incs).await.unwrap();
        },
    )
    .await;
    let police = s.token(Role::Police).await;
    let q =
        "/api/v1/near-repeat?categories=burglary&from=2026-01-01&to=2026-12-31&permutations=999";
    let (st, v) = get_json(s.url(q), Some(police.clone())).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["events"], 116);
    assert_eq!(v["pairs"], 40);
    assert_eq!(v["permutations"], 999);
    let labels: Vec<&str> = v["space_bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["0–100 m", "100–200 m", "200–300 m", "300–400 m"]);
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 16);
    let first = &cells[0];
    assert_eq!(
        (first["space"].as_u64(), first["time"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(first["observed"], 40);
    let got = first["expected"].as_f64().unwrap();
    assert!(
        (got - expected).abs() < 0.25,
        "expected {expected}, Monte Carlo {got}"
    );
    let ratio = first["knox_ratio"].as_f64().unwrap();
    assert!((ratio - 40.0 / got).abs() < 0.01 * ratio, "{ratio}");
    // No permutation reaches 40: the smallest p there is, within the Benjamini–Hochberg
    // cut-off for the first of 16 cells (0.05/16).
    assert_eq!(first["p"], 1.0 / 1000.0);
    assert_eq!(first["significant"], true);
    for c in &cells[1..] {
        assert_eq!(c["observed"], 0, "{c}");
        assert_eq!(c["significant"], false, "{c}");
    }
    let text = v["statement"].as_str().unwrap();
    assert!(
        text.starts_with(
            "Risken för ett nytt fall (inbrott) 0–100 m bort och 0–7 dagar efter ett annat är "
        ),
        "{text}"
    );
    // The answer carries counts of pairs, not events or places.
    let body = v.to_string();
    for key in ["\"coordinates\"", "\"source_id\"", "\"x\"", "\"lat\""] {
        assert!(!body.contains(key), "{key} in {body}");
    }

    // The grid alone (at 06:00 CET, 06 or 07 local; the planted pairs at 18 or 19): no pair within
    // 200 m, nothing expected, nothing significant, and the answer says so.
    let q = "/api/v1/near-repeat?categories=burglary&hours=5-9&from=2026-01-01&to=2026-12-31&space_bands=100,200&time_bands=7";
    let (st, v2) = get_json(s.url(q), Some(police.clone())).await;
    assert_eq!(st, 200, "{v2}");
    assert_eq!(
        (v2["events"].as_u64(), v2["pairs"].as_u64()),
        (Some(36), Some(0)),
        "{v2}"
    );
    assert_eq!(v2["permutations"], 999);
    let cells = v2["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    assert!(
        cells
            .iter()
            .all(|c| c["observed"] == 0 && c["knox_ratio"].is_null() && c["significant"] == false)
    );
    assert!(
        v2["statement"]
            .as_str()
            .unwrap()
            .starts_with("Inga nära upprepningar"),
        "{v2}"
    );

    // Bounds name the parameter; anonymous callers get 401.
    for q in [
        "space_bands=100,50",
        "time_bands=400",
        "permutations=5",
        "permutations=10000",
        "space_bands=100,x",
    ] {
        let (st, e) = get_json(
            s.url(&format!("/api/v1/near-repeat?{q}")),
            Some(police.clone()),
        )
        .await;
        assert_eq!(st, 400, "{q}: {e}");
        let name = q.split('=').next().unwrap();
        assert!(e.to_string().contains(name), "{q}: {e}");
    }
    let (st, _) = get_json(s.url("/api/v1/near-repeat"), None).await;
    assert_eq!(st, 401);
}

/// The Knox kernel against pointpats' `spacetime.Knox` on a recorded fixture (330 events, four
/// distance × time thresholds): one table with the thresholds as band edges holds, summed over
/// the cells below each threshold, pointpats' observed count of pairs close in both; its
/// pairs within the distance are pointpats' close-in-space count; the permutation mean is
/// pointpats' expected count (ns · nt / N, which the permutation null has as its mean) and the
/// p-value its `p_sim`, each within Monte Carlo error.
#[test]
fn the_knox_table_agrees_with_pointpats() {
    use lagesbild::analysis::cancel::Cancel;
    use lagesbild::analysis::near_repeat::{Event, close_pairs, knox};
    let fx: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/knox_pointpats.json")).unwrap();
    let col = |k: &str| -> Vec<f64> {
        fx[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (x, y, t) = (col("x"), col("y"), col("t"));
    let events: Vec<Event> = (0..x.len())
        .map(|i| Event {
            x: x[i],
            y: y[i],
            t: t[i],
        })
        .collect();
    assert_eq!(events.len(), 330);
    let space = [100.0, 200.0, 300.0, 400.0];
    let time = [3.0, 7.0, 14.0, 28.0, 365.0];
    let never = Cancel::never();
    let pairs = close_pairs(&events, &space, usize::MAX, &never).unwrap();
    let r = 9_999;
    for case in fx["cases"].as_array().unwrap() {
        let (delta, tau) = (
            case["delta"].as_f64().unwrap(),
            case["tau"].as_f64().unwrap(),
        );
        let s = space.iter().position(|&e| e == delta).unwrap() + 1;
        let tb = time.iter().position(|&e| e == tau).unwrap() + 1;
        let observed = case["observed"][0][0].as_u64().unwrap();
        let close_in_space = observed + case["observed"][0][1].as_u64().unwrap();
        // One band each, for the permutation test of this threshold.
        let near: Vec<_> = pairs
            .iter()
            .copied()
            .filter(|p| (p.band as usize) < s)
            .map(|mut p| {
                p.band = 0;
                p
            })
            .collect();
        assert_eq!(near.len() as u64, close_in_space, "pairs within {delta} m");
        let table = knox(&events, &near, 1, &[tau], r, 3, &never).unwrap();
        assert_eq!(table[0].observed, observed, "{delta} m, {tau} days");
        let expected = case["expected"][0][0].as_f64().unwrap();
        let tol = 4.0 * (expected / r as f64).sqrt() + 0.01;
        assert!(
            (table[0].expected - expected).abs() < tol,
            "{delta}/{tau}: {} vs {expected}",
            table[0].expected
        );
        let p = case["p_sim"].as_f64().unwrap();
        let p_tol = 4.0 * (2.0 * p.max(1e-4) * (1.0 - p) / r as f64).sqrt() + 2.0 / r as f64;
        assert!(
            (table[0].p - p).abs() < p_tol,
            "{delta}/{tau}: p {} vs {p}",
            table[0].p
        );
        // The banded table holds the same count in its cells below the thresholds.
        let full = knox(&events, &pairs, space.len(), &time, 19, 3, &never).unwrap();
        let summed: u64 = full
            .iter()
            .filter(|c| c.space < s && c.time < tb)
            .map(|c| c.observed)
            .sum();
        assert_eq!(summed, observed, "{delta} m, {tau} days, summed over bands");
    }
}
