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
            time_precision: Default::default(),
            occurred_to: None,
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
    assert_eq!(all.len(), 5);
    for m in all {
        assert!(m["title"].as_str().unwrap().ends_with("(fiktiv)"), "{m}");
        assert!(!m["place"]["points"].as_array().unwrap().is_empty(), "{m}");
    }
    let done: Vec<&Value> = all.iter().filter(|m| m["status"] == "done").collect();
    assert_eq!(done.len(), 2);
    // The lamps proposed for the first dark stretch, put up ten months ago.
    let lamps: Vec<&Value> = done
        .iter()
        .copied()
        .filter(|m| m["kind"] == "new_lamp")
        .collect();
    assert_eq!(lamps.len(), 1, "{l}");
    let patrol: Vec<&Value> = done
        .iter()
        .copied()
        .filter(|m| m["kind"] == "patrol_effort")
        .collect();
    let id = patrol[0]["id"].as_i64().unwrap();

    // The pledge, as everyone sees it: its baseline is the picture before those lamps, so part
    // of its dark metres are lit now; no place, point or person in the answer.
    let (st, p) = get(&s, "/api/v1/pledges", None).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["count"], 1, "{p}");
    let pledge = &p["pledges"][0];
    assert!(pledge["title"].as_str().unwrap().ends_with("(fiktivt)"));
    assert_eq!(pledge["measures"].as_array().unwrap().len(), 5);
    let lit = pledge["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "dark_lit_share")
        .unwrap();
    let share = lit["value"].as_f64().unwrap();
    assert!(share > 0.0 && share < 100.0, "{lit}");
    // The demo's fictitious visits: at most 12 + 14 minutes in two of three window occurrences
    // (2–4 hours) of the last 120 days, so at most 26/120 of the planned hours of any month are
    // delivered, and less over twelve months of which about four have visits.
    let patrol = pledge["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "patrol_delivered")
        .unwrap();
    let share = patrol["value"].as_f64().unwrap();
    assert!(share > 0.0 && share < 26.0 / 120.0 * 100.0, "{patrol}");
    let months = pledge["patrol_months"].as_array().unwrap();
    assert!(months.len() >= 3, "{pledge}");
    assert!(
        months
            .iter()
            .all(|m| m["month"].as_str().unwrap().len() == 7
                && m["planned_hours"].as_f64().unwrap() > 0.0),
        "{pledge}"
    );
    assert!(
        months
            .iter()
            .any(|m| m["delivered_hours"].as_f64().unwrap() > 0.0),
        "{pledge}"
    );
    let text = p.to_string();
    for key in [
        "points",
        "location",
        "email",
        "phone",
        "lat",
        "long",
        "description",
    ] {
        assert!(!text.contains(&format!("\"{key}\"")), "{key} in {text}");
    }
    // The police view of the same visits over the default four weeks: every visit is in the
    // dose, and the third occurrence of each window got none, so some occurrences meet the dose
    // and some do not.
    let (st, d) = get(&s, "/api/v1/patrol/dosage", Some(&police)).await;
    assert_eq!(st, 200, "{d}");
    let visits = d["sources"]["visits"].as_u64().unwrap();
    assert!(visits > 0, "{d}");
    assert_eq!(d["sources"]["visits_unmatched"], 0, "{d}");
    let t = &d["totals"];
    assert_eq!(t["dose_visits"], t["visits"], "{d}");
    let (met, occ) = (
        t["meeting_dose"].as_u64().unwrap(),
        t["occurrences"].as_u64().unwrap(),
    );
    assert!(met > 0 && met < occ, "{d}");
    let (st, _) = get(&s, "/api/v1/patrol/dosage", None).await;
    assert_eq!(st, 401);
    let (st, e) = get(&s, &format!("/api/v1/measures/{id}/effect"), Some(&police)).await;
    assert_eq!(st, 200, "{e}");
    // Done a year ago: two full windows, over the planted hotspot's events.
    assert_eq!(e["windows"]["days"], 365);
    let c = &e["counts"];
    let target = c["target_before"].as_u64().unwrap() + c["target_after"].as_u64().unwrap();
    assert!(target > 0, "{e}");
    s.stop().await.unwrap();
}

/// A lamp of a test register: 5 m, 3 000 lm, 2 m beside the path at `x`.
fn register_lamp(id: &str, x: f64, status: lagesbild::model::LampStatus) -> lagesbild::model::Lamp {
    lagesbild::model::Lamp {
        id: id.into(),
        location: Point::new(x, Y0 + 2.0),
        height_m: Some(5.0),
        lumen: Some(3_000.0),
        watt: None,
        status,
        source: "reg".into(),
        reference: None,
    }
}

/// E = I·h/(h² + d²)^1.5 with I = Φ·0,8/2π (the documented model), for a 5 m, 3 000 lm lamp,
/// and nothing beyond its reach, where it adds less than 0,005 lx:
/// x = √((I·h/0,005)^(2/3) − h²).
fn lux(dx: f64, dy: f64) -> f64 {
    let i = 3_000.0 * 0.8 / (2.0 * std::f64::consts::PI);
    let reach2 = (i * 5.0 / 0.005f64).powf(2.0 / 3.0) - 25.0;
    let d2 = dx * dx + dy * dy;
    if d2 > reach2 {
        return 0.0;
    }
    i * 5.0 / (25.0 + d2).powf(1.5)
}

fn stretches_of(v: &Value, walkway: i64) -> Vec<&Value> {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["walkway_id"] == walkway)
        .map(|f| &f["properties"])
        .collect()
}

#[tokio::test]
async fn a_proposal_becomes_a_measure_whose_lamps_light_the_stretch_when_done() {
    use lagesbild::model::{LampStatus, Walkway};
    // A 330 m path lit every 30 m except for a 150 m gap between the lamps at 90 and 240 m.
    let xs: Vec<f64> = (0..=11)
        .map(|k| k as f64 * 30.0)
        .filter(|x| !(100.0..=230.0).contains(x))
        .collect();
    let lamps: Vec<_> = xs
        .iter()
        .map(|&x| register_lamp(&format!("reg:{x}"), X0 + x, LampStatus::Working))
        .collect();
    let way = Walkway {
        id: 10,
        geometry: LineString::from(vec![(X0, Y0), (X0 + 330.0, Y0)]),
        kind: "footway".into(),
        lit: Some("yes".into()),
        name: Some("Provstigen".into()),
    };
    let s = TestServer::seeded(
        |_| {},
        async |store| {
            store.upsert_areas(&[district()]).await.unwrap();
            store.upsert_walkways(&[way]).await.unwrap();
            store.upsert_lamps(&lamps).await.unwrap();
        },
    )
    .await;
    let coordinator = s.token(Role::Coordinator).await;
    let (st, v) = get(&s, "/api/v1/lighting/stretches?state=dark", None).await;
    assert_eq!(st, 200, "{v}");
    let dark = stretches_of(&v, 10);
    assert_eq!(dark.len(), 1, "{v}");
    let stretch_id = dark[0]["id"].as_str().unwrap().to_string();

    // The proposal, stored as a planned measure in the same request.
    let (st, p) = send(
        &s,
        "POST",
        "/api/v1/lighting/proposal",
        json!({"stretch_id": stretch_id, "plan": true}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["count"], 4, "{p}");
    assert_eq!(p["along_m"], json!([120.0, 150.0, 180.0, 210.0]));
    assert_eq!(p["cost_sek"], 160_000.0);
    let m = &p["measure"];
    assert_eq!(
        (m["kind"].as_str(), m["status"].as_str()),
        (Some("new_lamp"), Some("planned"))
    );
    assert_eq!(m["place"]["walkway_ids"], json!([10]));
    assert_eq!(m["lamp"], json!({"height_m": 5.0, "lumen": 3000.0}));
    let id = m["id"].as_i64().unwrap();
    // Anonymous and police callers cannot propose.
    let police = s.token(Role::Police).await;
    assert_eq!(
        send(
            &s,
            "POST",
            "/api/v1/lighting/proposal",
            json!({"stretch_id": stretch_id}),
            &police
        )
        .await
        .0,
        403
    );

    // Planned: the stretch is still dark.
    let (_, v) = get(&s, "/api/v1/lighting/stretches?state=dark", None).await;
    assert_eq!(stretches_of(&v, 10).len(), 1);

    // Done: the lamps stand in the lighting model, and the path is lit from end to end.
    let today = lagesbild::time::local_date(&Utc::now());
    let (st, done) = send(
        &s,
        "PATCH",
        &format!("/api/v1/measures/{id}"),
        json!({"status": "done", "done_date": today.to_string()}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 200, "{done}");
    let (_, v) = get(&s, "/api/v1/lighting/stretches?state=dark,unknown", None).await;
    assert!(stretches_of(&v, 10).is_empty(), "{v}");
    let (_, v) = get(&s, "/api/v1/lighting/stretches?state=lit", None).await;
    let lit = stretches_of(&v, 10);
    assert_eq!(lit.len(), 1, "{v}");
    // Its minimum, by hand over the samples every 2 m: the register lamps 2 m beside the path,
    // the new ones on it at 120, 150, 180 and 210 m.
    let new = [120.0, 150.0, 180.0, 210.0];
    let min = (0..=165)
        .map(|j| j as f64 * 2.0)
        .map(|x| {
            xs.iter().map(|&l| lux(l - x, 2.0)).sum::<f64>()
                + new.iter().map(|&l| lux(l - x, 0.0)).sum::<f64>()
        })
        .fold(f64::INFINITY, f64::min);
    let got = lit[0]["min_lux"].as_f64().unwrap();
    assert!((got - min).abs() < 0.001, "min_lux {got}, by hand {min}");
    let (_, l) = get(&s, "/api/v1/lighting/lamps", None).await;
    let ids: Vec<&str> = l["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["properties"]["id"].as_str())
        .filter(|i| i.starts_with("measure:"))
        .collect();
    assert_eq!(
        ids,
        (1..=4)
            .map(|n| format!("measure:{id}:{n}"))
            .collect::<Vec<_>>()
    );

    // Cancelled after all: the lamps are gone and the gap is dark again.
    let (st, _) = send(
        &s,
        "PATCH",
        &format!("/api/v1/measures/{id}"),
        json!({"status": "cancelled"}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 200);
    let (_, v) = get(&s, "/api/v1/lighting/stretches?state=dark", None).await;
    assert_eq!(stretches_of(&v, 10).len(), 1);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn a_done_repair_turns_its_lamps_on_and_closes_its_reports_with_the_measure_as_reason() {
    use lagesbild::model::{Contact, LampStatus, ServiceCode};
    use lagesbild::store::reports::NewReport;
    let way = lagesbild::model::Walkway {
        id: 11,
        geometry: LineString::from(vec![(X0, Y0), (X0 + 120.0, Y0)]),
        kind: "footway".into(),
        lit: Some("yes".into()),
        name: None,
    };
    let lamps = vec![
        register_lamp("reg:a", X0 + 30.0, LampStatus::Broken),
        register_lamp("reg:b", X0 + 90.0, LampStatus::Working),
    ];
    let report = NewReport {
        service: ServiceCode::BrokenLamp,
        description: "Lampan är trasig".into(),
        location: Point::new(X0 + 90.0, Y0),
        original_location: Point::new(X0 + 90.0, Y0),
        walkway_id: Some(11),
        lamp_id: Some("reg:b".into()),
        address: None,
        media_url: None,
        attributes: json!({}),
        requested_at: Utc::now(),
        client_token: None,
        content_hash: "repair-test".into(),
        contact: Contact::default(),
    };
    let rid = std::sync::Arc::new(std::sync::Mutex::new(0i64));
    let r2 = rid.clone();
    let s = TestServer::seeded(
        |_| {},
        async move |store| {
            store.upsert_walkways(&[way]).await.unwrap();
            store.upsert_lamps(&lamps).await.unwrap();
            *r2.lock().unwrap() = store.create_report(&report).await.unwrap().report.id;
        },
    )
    .await;
    let rid = *rid.lock().unwrap();
    let coordinator = s.token(Role::Coordinator).await;
    let status = |v: &Value, id: &str| -> String {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["id"] == id)
            .map(|f| f["properties"]["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (_, l) = get(&s, "/api/v1/lighting/lamps", None).await;
    assert_eq!(
        (status(&l, "reg:a"), status(&l, "reg:b")),
        ("broken".into(), "broken".into()),
        "{l}"
    );

    // The lamp of the linked report joins the lamps repaired; a lamp that does not exist is
    // refused by name.
    let today = lagesbild::time::local_date(&Utc::now());
    let body = |lamps: Value| {
        json!({
            "title": "Byt armaturer längs stigen",
            "kind": "lamp_repair",
            "status": "done",
            "done_date": today.to_string(),
            "place": {"lamp_ids": lamps, "report_ids": [rid]},
            "close_reports": true,
        })
    };
    let (st, e) = send(
        &s,
        "POST",
        "/api/v1/measures",
        body(json!(["reg:zz"])),
        &coordinator,
    )
    .await;
    assert_eq!(st, 400);
    assert!(e.to_string().contains("no lamp \\\"reg:zz\\\""), "{e}");
    let (st, m) = send(
        &s,
        "POST",
        "/api/v1/measures",
        body(json!(["reg:a"])),
        &coordinator,
    )
    .await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(m["place"]["lamp_ids"], json!(["reg:a", "reg:b"]));
    assert_eq!(m["closed_reports"], json!([rid]));
    let (_, l) = get(&s, "/api/v1/lighting/lamps", None).await;
    assert_eq!(
        (status(&l, "reg:a"), status(&l, "reg:b")),
        ("working".into(), "working".into()),
        "{l}"
    );
    let (_, r) = get(&s, &format!("/api/v1/reports/{rid}"), Some(&coordinator)).await;
    assert_eq!(r["status"], "closed", "{r}");
    let reason = format!("Åtgärdat: Byt armaturer längs stigen (åtgärd {})", m["id"]);
    assert_eq!(r["status_notes"], reason.as_str(), "{r}");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn the_action_plan_goes_out_as_csv_and_comes_back_unchanged_or_not_at_all() {
    let s = TestServer::seeded(
        |_| {},
        async |store| {
            assert!(lagesbild::cli::demo::seed(store).await.unwrap());
        },
    )
    .await;
    let coordinator = s.token(Role::Coordinator).await;
    let post_csv = |body: String| {
        let url = s.url("/api/v1/measures.csv");
        let token = coordinator.clone();
        async move {
            let (st, _, b) = http(
                "POST",
                url,
                Some(("text/csv".into(), body.into_bytes())),
                Some(token),
            )
            .await;
            (
                st,
                serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null),
            )
        }
    };
    assert_eq!(
        crate::support::get(s.url("/api/v1/measures.csv"), None)
            .await
            .status,
        401
    );
    let out = crate::support::get(s.url("/api/v1/measures.csv"), Some(coordinator.clone())).await;
    assert_eq!(out.status, 200);
    let csv = out.text();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,title,kind,status,agency,planned_date,done_date,cost_sek,district,buffer_m,points,walkway_ids,report_ids,lamp_ids,lamp_height_m,lamp_lumen,notes"
    );
    assert_eq!(lines.count(), 5);
    let (_, before) = get(&s, "/api/v1/measures", Some(&coordinator)).await;

    // Back in as it came out: every measure "changed" to itself, no history entry, no new one.
    let (st, sum) = post_csv(csv.clone()).await;
    assert_eq!(st, 200, "{sum}");
    assert_eq!(sum["created"], json!([]));
    assert_eq!(sum["changed"].as_array().unwrap().len(), 5);
    let (_, after) = get(&s, "/api/v1/measures", Some(&coordinator)).await;
    assert_eq!(before, after);

    // One bad row among good ones: nothing is stored, and each problem is named.
    let (lon, lat) = lagesbild::crs::to_wgs84(673_900.0, 6_592_300.0).unwrap();
    let bad = format!(
        "title,kind,points,status,done_date\n\
         Ny lampa vid skolan,new_lamp,{lon} {lat},planned,\n\
         Trasig rad,camera,,done,\n\
         Annan rad,laser,,,\n"
    );
    let (st, e) = post_csv(bad).await;
    assert_eq!(st, 400, "{e}");
    let msg = e["error"].as_str().unwrap();
    assert!(
        msg.contains("line 4, column kind, value \"laser\": unknown value"),
        "{msg}"
    );
    let (_, same) = get(&s, "/api/v1/measures", Some(&coordinator)).await;
    assert_eq!(same["count"], 5);
    // The second row alone is wrong after parsing: a done measure needs its date.
    let (st, e) = post_csv(format!(
        "title,kind,points,status,done_date\n\
         Ny lampa vid skolan,new_lamp,{lon} {lat},planned,\n\
         Trasig rad,camera,,done,\n"
    ))
    .await;
    assert_eq!(st, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with("line 3: a done measure needs its done_date"),
        "{e}"
    );
    assert_eq!(
        get(&s, "/api/v1/measures", Some(&coordinator)).await.1["count"],
        5
    );

    // The good row alone is created, with its lamp type defaulted.
    let (st, sum) = post_csv(format!(
        "title,kind,points\nNy lampa vid skolan,new_lamp,{lon} {lat}\n"
    ))
    .await;
    assert_eq!(st, 200, "{sum}");
    let id = sum["created"][0].as_i64().unwrap();
    let (_, m) = get(&s, &format!("/api/v1/measures/{id}"), Some(&coordinator)).await;
    assert_eq!(m["status"], "planned");
    assert_eq!(m["lamp"], json!({"height_m": 5.0, "lumen": 3000.0}));
    assert_eq!(m["history"][0]["action"], "created");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn a_safety_walk_records_observations_as_reports_that_enter_triage_and_the_lighting() {
    use lagesbild::model::{LampStatus, Walkway};
    // The path with a 150 m dark gap between 90 and 240 m.
    let lamps: Vec<_> = (0..=11)
        .map(|k| k as f64 * 30.0)
        .filter(|x| !(100.0..=230.0).contains(x))
        .map(|x| register_lamp(&format!("reg:{x}"), X0 + x, LampStatus::Working))
        .collect();
    let way = Walkway {
        id: 12,
        geometry: LineString::from(vec![(X0, Y0), (X0 + 330.0, Y0)]),
        kind: "footway".into(),
        lit: Some("yes".into()),
        name: Some("Vandringsstigen".into()),
    };
    let s = TestServer::seeded(
        |_| {},
        async |store| {
            store.upsert_areas(&[district()]).await.unwrap();
            store.upsert_walkways(&[way]).await.unwrap();
            store.upsert_lamps(&lamps).await.unwrap();
        },
    )
    .await;
    let coordinator = s.token(Role::Coordinator).await;
    assert_eq!(
        send(
            &s,
            "POST",
            "/api/v1/walks",
            json!({"title": "x"}),
            "lb_nope"
        )
        .await
        .0,
        401
    );
    let (st, w) = send(
        &s,
        "POST",
        "/api/v1/walks",
        json!({"title": "Trygghetsvandring längs stigen", "district": "provområdet"}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 201, "{w}");
    assert_eq!(
        (w["kind"].as_str(), w["status"].as_str()),
        (Some("trygghetsvandring"), Some("in_progress"))
    );
    assert_eq!(w["place"]["district"], "Provområdet");
    let id = w["id"].as_i64().unwrap();
    let path = format!("/api/v1/walks/{id}/observations");

    // 3 m beside the middle of the gap: snapped onto the path.
    let (lon, lat) = lagesbild::crs::to_wgs84(X0 + 165.0, Y0 + 3.0).unwrap();
    let dark = json!({"category": "lighting", "lon": lon, "lat": lat,
        "description": "Helt mörkt mellan lamporna", "media_url": "https://example.org/mork.jpg",
        "client_token": "obs-1"});
    let (st, a) = send(&s, "POST", &path, dark.clone(), &coordinator).await;
    assert_eq!(st, 201, "{a}");
    let rid = a["observations"][0]["report_id"].as_i64().unwrap();
    assert_eq!(a["observations"][0]["service_code"], "dark_path");
    assert_eq!(a["observations"][0]["walkway_id"], 12);
    // Sent again (the phone lost the answer): the same report, not a second.
    let (st, again) = send(&s, "POST", &path, dark, &coordinator).await;
    assert_eq!(st, 201);
    assert_eq!(again["observations"].as_array().unwrap().len(), 1);
    let (lon2, lat2) = lagesbild::crs::to_wgs84(X0 + 40.0, Y0 + 5.0).unwrap();
    for (cat, text) in [
        ("vegetation", "Buskarna skymmer"),
        ("visibility", "Ingen sikt runt hörnet"),
    ] {
        let (st, v) = send(
            &s,
            "POST",
            &path,
            json!({"category": cat, "lon": lon2, "lat": lat2, "description": text}),
            &coordinator,
        )
        .await;
        assert_eq!(st, 201, "{v}");
    }
    let (st, sum) = get(&s, &format!("/api/v1/walks/{id}"), Some(&coordinator)).await;
    assert_eq!(st, 200, "{sum}");
    assert_eq!(
        sum["counts"],
        json!({"lighting": 1, "vegetation": 1, "visibility": 1})
    );
    let codes: Vec<&str> = sum["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["service_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["dark_path", "vegetation", "unsafe_place"]);
    assert_eq!(
        sum["walk"]["place"]["report_ids"].as_array().unwrap().len(),
        3
    );

    // In triage like any report, tagged with the walk.
    let (_, r) = get(&s, &format!("/api/v1/reports/{rid}"), Some(&coordinator)).await;
    assert_eq!(r["attributes"]["walk_id"], id, "{r}");
    assert_eq!(r["status"], "open");
    // And in the lighting: the dark stretch names the report.
    let (_, v) = get(&s, "/api/v1/lighting/stretches?state=dark", None).await;
    let dark = stretches_of(&v, 12);
    assert_eq!(dark.len(), 1);
    assert_eq!(dark[0]["report_ids"], json!([rid]), "{v}");

    // Done: no more observations.
    let today = lagesbild::time::local_date(&Utc::now());
    let (st, _) = send(
        &s,
        "PATCH",
        &format!("/api/v1/measures/{id}"),
        json!({"status": "done", "done_date": today.to_string()}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 200);
    let (st, e) = send(
        &s,
        "POST",
        &path,
        json!({"category": "other", "lon": lon2, "lat": lat2}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 409, "{e}");
    // A measure that is no walk is not one.
    let (st, m) = send(
        &s,
        "POST",
        "/api/v1/measures",
        json!({"title": "Kamera", "kind": "camera"}),
        &coordinator,
    )
    .await;
    assert_eq!(st, 201);
    assert_eq!(
        get(
            &s,
            &format!("/api/v1/walks/{}", m["id"]),
            Some(&coordinator)
        )
        .await
        .0,
        404
    );
    s.stop().await.unwrap();
}
