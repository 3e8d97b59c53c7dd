//! The åtgärdsplan against a real server on port 0 over a real SQLite file: a measure's life with
//! its history, the roles, and its effect from planted incidents, checked against the odds ratio
//! computed by hand (Welsh & Farrington 2008).

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use geo::{LineString, MultiPolygon, Point, Polygon};
use lagesbild::category::CategoryGroup;
use lagesbild::model::{Area, Incident, LocationPrecision, Role};
use serde_json::{Value, json};

use crate::support::{TestServer, http};

// A district of 2 × 2 km in Täby (EPSG:3006); the measure's target is 100 m around its centre.
const X0: f64 = 672_000.0;
const Y0: f64 = 6_591_000.0;
const C: (f64, f64) = (X0 + 1_000.0, Y0 + 1_000.0);

fn district() -> Area {
    let ring = LineString::from(vec![
        (X0, Y0),
        (X0 + 2_000.0, Y0),
        (X0 + 2_000.0, Y0 + 2_000.0),
        (X0, Y0 + 2_000.0),
        (X0, Y0),
    ]);
    Area {
        id: 1,
        name: "Provområdet".into(),
        geometry: MultiPolygon::new(vec![Polygon::new(ring, vec![])]),
        source: "test".into(),
    }
}

/// `n` incidents near `(x, y)` at 14:00 local time on `day`.
fn plant(out: &mut Vec<Incident>, n: usize, (x, y): (f64, f64), day: NaiveDate) {
    let at = lagesbild::time::ZONE
        .from_local_datetime(&day.and_hms_opt(14, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .fixed_offset();
    for k in 0..n {
        let i = out.len();
        out.push(Incident {
            source: "test".into(),
            source_id: format!("{i}"),
            occurred_at: at,
            category: "assault".into(),
            group: CategoryGroup::Violence,
            label: "Misshandel".into(),
            location: Point::new(x + (k % 10) as f64 * 0.5, y),
            precision: LocationPrecision::Exact,
            place: None,
            summary: None,
        });
    }
}

async fn send(
    s: &TestServer,
    method: &'static str,
    path: &str,
    body: Value,
    token: &str,
) -> (u16, Value) {
    let (status, _, b) = http(
        method,
        s.url(path),
        Some(("application/json".into(), body.to_string().into_bytes())),
        Some(token.to_string()),
    )
    .await;
    (status, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn get(s: &TestServer, path: &str, token: Option<&str>) -> (u16, Value) {
    crate::support::get_json(s.url(path), token.map(String::from)).await
}

#[tokio::test]
async fn a_measure_is_planned_done_and_judged_against_its_comparison_area() {
    let today = lagesbild::time::local_date(&Utc::now());
    let done = today - Duration::days(200);
    let (before, after) = (done - Duration::days(100), done + Duration::days(100));
    let mut incidents = Vec::new();
    // Target (60 m from the centre): 40 before, 20 after. Comparison: 400 and 400.
    plant(&mut incidents, 40, (C.0 + 60.0, C.1), before);
    plant(&mut incidents, 20, (C.0, C.1 - 60.0), after);
    plant(&mut incidents, 400, (X0 + 300.0, Y0 + 300.0), before);
    plant(&mut incidents, 400, (X0 + 1_700.0, Y0 + 400.0), after);
    // Outside the district and outside the windows: not counted.
    plant(&mut incidents, 50, (X0 - 500.0, Y0), before);
    plant(&mut incidents, 30, C, done - Duration::days(300));
    let s = TestServer::seeded(
        |_| {},
        async |store| {
            store.upsert_areas(&[district()]).await.unwrap();
            store.upsert_incidents(&incidents).await.unwrap();
        },
    )
    .await;
    let coordinator = s.token(Role::Coordinator).await;
    let police = s.token(Role::Police).await;

    // Roles: anonymous callers see nothing, police may read but not write.
    assert_eq!(get(&s, "/api/v1/measures", None).await.0, 401);
    let (lon, lat) = lagesbild::crs::to_wgs84(C.0, C.1).unwrap();
    let new = json!({
        "title": "Synlig polis vid torget",
        "kind": "patrol_effort",
        "agency": "polisen",
        "place": {"points": [[lon, lat]]},
        "planned_date": done.to_string(),
        "cost_sek": 0,
    });
    assert_eq!(
        send(&s, "POST", "/api/v1/measures", new.clone(), &police)
            .await
            .0,
        403
    );

    // Bad input names the field and the value.
    let (st, e) = send(
        &s,
        "POST",
        "/api/v1/measures",
        json!({"title": "x", "kind": "laser"}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("laser"), "{e}");
    let (st, e) = send(
        &s,
        "POST",
        "/api/v1/measures",
        json!({"title": "x", "kind": "camera", "place": {"points": [[59.4, 18.0]]}}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        e["error"].as_str().unwrap().contains("place.points[0]"),
        "{e}"
    );

    // Planned: no effect yet.
    let (st, m) = send(&s, "POST", "/api/v1/measures", new, &coordinator).await;
    assert_eq!(st, 201, "{m}");
    let id = m["id"].as_i64().unwrap();
    assert_eq!(m["status"], "planned");
    let p = &m["place"]["points"][0];
    assert!(
        (p[0].as_f64().unwrap() - lon).abs() < 1e-6 && (p[1].as_f64().unwrap() - lat).abs() < 1e-6
    );
    let (st, e) = get(&s, &format!("/api/v1/measures/{id}/effect"), Some(&police)).await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(e["verdict"], "too_early");
    assert!(e["odds_ratio"].is_null());

    // Done needs its date; then the history says what changed, by whom.
    let path = format!("/api/v1/measures/{id}");
    let (st, e) = send(&s, "PATCH", &path, json!({"status": "done"}), &coordinator).await;
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("done_date"), "{e}");
    let (st, m) = send(
        &s,
        "PATCH",
        &path,
        json!({"status": "done", "done_date": done.to_string()}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 200, "{m}");
    let actions: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "done_date", "status"]);
    assert_eq!(
        m["history"][2]["detail"],
        json!({"from": "planned", "to": "done"})
    );
    assert_eq!(m["history"][2]["role"], "coordinator");

    // The effect: OR = 40·400 / (20·400) = 2; 95 % CI exp(ln 2 ± 1.96·√0.08) = 1.15 … 3.48.
    let (st, e) = get(&s, &format!("/api/v1/measures/{id}/effect"), Some(&police)).await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(
        e["counts"],
        json!({"target_before": 40, "target_after": 20, "comparison_before": 400, "comparison_after": 400})
    );
    assert!(
        (e["odds_ratio"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{e}"
    );
    let ci: Vec<f64> = e["ci95"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        (ci[0] - 1.15).abs() < 0.01 && (ci[1] - 3.48).abs() < 0.01,
        "{ci:?}"
    );
    assert_eq!(e["verdict"], "better");
    assert_eq!(e["district"], "Provområdet");
    assert_eq!(e["windows"]["days"], 200);
    assert!(
        e["words"]
            .as_str()
            .unwrap()
            .starts_with("−50 % mot jämförelseområdet"),
        "{e}"
    );
    assert_eq!(e["after_dark"], false);

    // The list, for police too; an unknown measure is 404.
    let (st, l) = get(&s, "/api/v1/measures", Some(&police)).await;
    assert_eq!((st, l["count"].as_u64()), (200, Some(1)));
    assert_eq!(get(&s, "/api/v1/measures/999", Some(&police)).await.0, 404);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn the_demo_has_an_action_plan_with_an_effect_to_show() {
    let s = TestServer::seeded(
        |_| {},
        async |store| {
            assert!(lagesbild::cli::demo::seed(store).await.unwrap());
        },
    )
    .await;
    let police = s.token(Role::Police).await;
    let (st, l) = get(&s, "/api/v1/measures", Some(&police)).await;
    assert_eq!(st, 200, "{l}");
    let all = l["measures"].as_array().unwrap();
    assert_eq!(all.len(), 4);
    for m in all {
        assert!(m["title"].as_str().unwrap().ends_with("(fiktiv)"), "{m}");
        assert_eq!(m["place"]["points"].as_array().unwrap().len(), 1, "{m}");
    }
    let done: Vec<&Value> = all.iter().filter(|m| m["status"] == "done").collect();
    assert_eq!(done.len(), 1);
    let id = done[0]["id"].as_i64().unwrap();
    let (st, e) = get(&s, &format!("/api/v1/measures/{id}/effect"), Some(&police)).await;
    assert_eq!(st, 200, "{e}");
    // Done a year ago: two full windows, over the planted hotspot's events.
    assert_eq!(e["windows"]["days"], 365);
    let c = &e["counts"];
    let target = c["target_before"].as_u64().unwrap() + c["target_after"].as_u64().unwrap();
    assert!(target > 0, "{e}");
    s.stop().await.unwrap();
}
