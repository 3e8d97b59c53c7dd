//! `GET /api/v1/lagesbild` and `GET /api/v1/patrol-plan.{json,csv,gpx}` on the demo data:
//! roles, the arithmetic of the counts (checked against the incidents themselves), the planted
//! demo hotspots showing up, and the three patrol-plan formats agreeing with each other.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use lagesbild::config::Config;
use lagesbild::model::Role;
use serde_json::Value;
use tower::ServiceExt;

struct Demo {
    app: axum::Router,
    state: lagesbild::api::AppState,
    police: String,
    _dir: tempfile::TempDir,
}

async fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        db: dir.path().join("lb.sqlite").to_str().unwrap().to_string(),
        service_area: Some(lagesbild::demo::BBOX_WGS84),
        ..Config::default()
    };
    let store = lagesbild::store::open(&config.db).await.unwrap();
    lagesbild::cli::demo::seed(store.as_ref()).await.unwrap();
    let (police, stored) = lagesbild::api::auth::new_token(Role::Police, "test");
    store.insert_token(&stored).await.unwrap();
    drop(store);
    let state = lagesbild::cli::serve::prepare(config).await.unwrap();
    Demo {
        app: lagesbild::api::app(state.clone()),
        state,
        police,
        _dir: dir,
    }
}

async fn get(d: &Demo, path: &str, token: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = d
        .app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        status,
        ctype,
        to_bytes(resp.into_body(), 50 << 20).await.unwrap().to_vec(),
    )
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test]
async fn lagesbild_needs_police_or_coordinator() {
    let d = demo().await;
    assert_eq!(
        get(&d, "/api/v1/lagesbild", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&d, "/api/v1/patrol-plan.csv", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(
            &d,
            "/api/v1/lagesbild?from=2026-05-01&to=2026-04-01",
            Some(&d.police)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&d, "/api/v1/lagesbild?colour=red", Some(&d.police))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn lagesbild_counts_add_up_to_the_incidents() {
    let d = demo().await;
    let (status, _, body) = get(&d, "/api/v1/lagesbild", Some(&d.police)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let lb: Value = serde_json::from_slice(&body).unwrap();

    // The default period: the last 365 days, and the 365 before.
    let p = &lb["period"];
    let from: NaiveDate = p["from"].as_str().unwrap().parse().unwrap();
    let to: NaiveDate = p["to"].as_str().unwrap().parse().unwrap();
    let pf: NaiveDate = p["previous_from"].as_str().unwrap().parse().unwrap();
    let pt: NaiveDate = p["previous_to"].as_str().unwrap().parse().unwrap();
    assert_eq!((to - from).num_days() + 1, 365);
    assert_eq!((pt - pf).num_days() + 1, 365);
    assert_eq!((from - pt).num_days(), 1);

    // Count the crime incidents of the period directly from the snapshot.
    let snap = d.state.spatial.load();
    let in_period = |i: &&lagesbild::spatial::SnapIncident| {
        let day = lagesbild::time::local_date(&i.occurred_at);
        i.group.is_crime() && day >= from && day <= to
    };
    let expected_total = snap.incidents.items.iter().filter(in_period).count() as i64;
    let expected_unplaced = snap
        .incidents
        .items
        .iter()
        .filter(in_period)
        .filter(|i| !i.precision.is_point_level())
        .count() as i64;
    assert!(expected_total > 1000, "the demo has a year of incidents");
    assert_eq!(n(&lb["total"]["count"]), expected_total);
    let by_group: i64 = lb["counts_by_group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| n(&g["count"]))
        .sum();
    assert_eq!(by_group, expected_total);
    // Districts hold exactly the placed events; the unplaced ones are counted apart.
    let by_district: i64 = lb["counts_by_district"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| n(&g["count"]))
        .sum();
    assert_eq!(n(&lb["municipality_only"]), expected_unplaced);
    assert_eq!(by_district, expected_total - expected_unplaced);

    // The previous period, counted the same way, and the demo's planted change: the Näsbyparken
    // hotspot is new this year, so its district grew.
    let in_previous = |i: &&lagesbild::spatial::SnapIncident| {
        let day = lagesbild::time::local_date(&i.occurred_at);
        i.group.is_crime() && day >= pf && day <= pt
    };
    let expected_previous = snap.incidents.items.iter().filter(in_previous).count() as i64;
    assert!(expected_previous > 1000, "the demo has the year before too");
    assert_eq!(n(&lb["total"]["previous"]), expected_previous);
    let previous_by_group: i64 = lb["counts_by_group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| n(&g["previous"]))
        .sum();
    assert_eq!(previous_by_group, expected_previous);
    let park = lb["counts_by_district"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["district"] == "Näsbypark")
        .expect("Näsbypark row");
    assert!(
        n(&park["count"]) > n(&park["previous"]),
        "Näsbypark grew: {park}"
    );

    // The planted demo hotspots: the biggest cluster is at Täby centrum.
    let hs = lb["hotspots"]["features"].as_array().unwrap();
    assert_eq!(hs.len(), 5);
    assert_eq!(hs[0]["properties"]["rank"], 1);
    assert_eq!(hs[0]["properties"]["name"], "Täby centrum");
    assert_eq!(hs[0]["geometry"]["type"], "Polygon");
    let counts: Vec<i64> = hs.iter().map(|h| n(&h["properties"]["count"])).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");

    let ds = lb["dark_stretches"]["features"].as_array().unwrap();
    assert!(!ds.is_empty() && ds.len() <= 5);
    assert_eq!(ds[0]["properties"]["rank"], 1);
    assert!(lb["bra"].as_array().is_some_and(|b| !b.is_empty()));
    for s in ["open", "acknowledged", "in_progress", "closed"] {
        assert!(lb["reports_by_status"][s].is_number(), "{s}");
    }

    // One district: only its events, and no event known only to the municipality among them.
    let (_, _, body) = get(
        &d,
        "/api/v1/lagesbild?area=T%C3%A4by%20centrum",
        Some(&d.police),
    )
    .await;
    let one: Value = serde_json::from_slice(&body).unwrap();
    let row = lb["counts_by_district"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["district"] == "Täby centrum")
        .unwrap()
        .clone();
    assert_eq!(one["total"]["count"], row["count"]);
    assert_eq!(one["area_geometry"]["type"], "MultiPolygon");
}

#[tokio::test]
async fn patrol_plan_formats_agree() {
    let d = demo().await;
    let (status, ctype, body) = get(&d, "/api/v1/patrol-plan.json", Some(&d.police)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert!(ctype.starts_with("application/json"));
    let plan: Value = serde_json::from_slice(&body).unwrap();
    let hs = plan["hotspots"].as_array().unwrap();
    assert!(!hs.is_empty(), "the planted demo hotspots are significant");
    let mut patterned = 0;
    for (i, h) in hs.iter().enumerate() {
        assert_eq!(n(&h["rank"]), i as i64 + 1);
        assert!(n(&h["max_bin"]) >= 2);
        let profile: Vec<Vec<f64>> = serde_json::from_value(h["profile"].clone()).unwrap();
        assert_eq!(profile.len(), 7);
        assert!(profile.iter().all(|r| r.len() == 24));
        // Aoristic: every event with an hour or a window adds a weight of 1 in all, spread
        // over its hours; one known only to a date adds none (each cell is rounded to 4
        // decimals: 168 of them are off by less than 0.01).
        let total: f64 = profile.iter().flatten().sum();
        let without_hour = h["without_hour"].as_u64().unwrap() as f64;
        let uncertain = h["uncertain_weight"].as_f64().unwrap();
        assert!(
            (total - (n(&h["count"]) as f64 - without_hour)).abs() < 0.01,
            "{total} {h}"
        );
        assert!(uncertain >= 0.0 && uncertain <= total + 0.01, "{h}");
        let windows = h["windows"].as_array().unwrap();
        let peak_p = h["peak_p"].as_f64().unwrap();
        if peak_p > 0.05 {
            assert!(windows.is_empty(), "{h}");
            assert!(h["peak"].is_null());
            assert_eq!(h["peak_note"], "för få händelser för ett tidsmönster");
            continue;
        }
        patterned += 1;
        assert!(h["peak_note"].is_null());
        assert!(!windows.is_empty() && windows.len() <= 3);
        // The first window is the busiest and holds at least as much as the others.
        let count = |w: &Value| w["count"].as_f64().unwrap();
        let w0 = count(&windows[0]);
        assert!(windows.iter().all(|w| count(w) <= w0));
        // Its p, summed here in log space: 168 · Σ_{i≥k} C(n,i) qⁱ(1−q)ⁿ⁻ⁱ, q = 4/168.
        let (nn, k) = ((total - 0.01).ceil() as u64, (w0 + 1e-9).floor() as u64);
        let q: f64 = 4.0 / 168.0;
        let ln_c = |i: u64| -> f64 { (1..=i).map(|j| ((nn - i + j) as f64 / j as f64).ln()).sum() };
        let tail: f64 = (k..=nn)
            .map(|i| (ln_c(i) + i as f64 * q.ln() + (nn - i) as f64 * (1.0 - q).ln()).exp())
            .sum();
        let expected = (168.0 * tail).min(1.0);
        let got = windows[0]["p"].as_f64().unwrap();
        assert!(
            (got - expected).abs() <= 1e-9 * expected.max(1e-300),
            "{got} {expected}"
        );
        assert!(windows.iter().all(|w| w["p"].as_f64().unwrap() <= 0.05));
    }
    assert!(
        patterned > 0,
        "the planted demo hotspots have their time pattern"
    );
    // Ranked by confidence, then by size.
    for w in hs.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            n(&a["max_bin"]) > n(&b["max_bin"])
                || (a["max_bin"] == b["max_bin"] && n(&a["count"]) >= n(&b["count"]))
        );
    }

    let (status, ctype, body) = get(&d, "/api/v1/patrol-plan.csv", Some(&d.police)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/csv"));
    let csv = String::from_utf8(body).unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), hs.len());
    for (r, h) in records.iter().zip(hs) {
        assert_eq!(&r[0], h["rank"].to_string());
        assert_eq!(&r[1], h["id"].as_str().unwrap());
        assert_eq!(
            r[3].parse::<f64>().unwrap(),
            h["centre"][0].as_f64().unwrap()
        );
        assert_eq!(
            r[4].parse::<f64>().unwrap(),
            h["centre"][1].as_f64().unwrap()
        );
    }

    let (status, ctype, body) = get(&d, "/api/v1/patrol-plan.gpx", Some(&d.police)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/gpx+xml"));
    let gpx = String::from_utf8(body).unwrap();
    // Well-formed XML with one waypoint per hotspot.
    let mut reader = quick_xml::Reader::from_str(&gpx);
    let mut wpts = 0;
    loop {
        match reader.read_event().expect("well-formed GPX") {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"wpt" => wpts += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(wpts, hs.len());
}

/// `lagesbild patrol-plan` calls the same service function with the same typed flags: its CSV
/// is the API's CSV for the same query, byte for byte (the CSV has no generation time).
#[tokio::test]
async fn the_cli_writes_the_plan_the_api_serves() {
    let d = demo().await;
    let query = "groups=violence,property&limit=5";
    let (status, _, api) = get(
        &d,
        &format!("/api/v1/patrol-plan.csv?{query}"),
        Some(&d.police),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let out = d._dir.path().join("plan.csv");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args(["--db", d.state.config.db.as_str(), "patrol-plan"])
        .args(["--groups", "violence,property", "--limit", "5", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let cli = std::fs::read(&out).unwrap();
    assert!(
        String::from_utf8_lossy(&cli).lines().count() > 1,
        "the demo has significant hotspots in the last 365 days"
    );
    assert_eq!(
        String::from_utf8(cli).unwrap(),
        String::from_utf8(api).unwrap()
    );
    // A flag out of range is refused naming it.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args([
            "--db",
            d.state.config.db.as_str(),
            "patrol-plan",
            "--limit",
            "501",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("limit=501: expected a number from 1 to 500"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// The follow-up section: the demo's five measures in the documented order (in progress, then
/// planned by date, then done, newest first), each done one with the words its effect endpoint
/// gives, and the pledge in force as the public list shows it. A past period changes the counts,
/// not the follow-up, which is the plan as it stands today.
#[tokio::test]
async fn the_lagesbild_follows_up_the_plan_and_the_pledges() {
    let d = demo().await;
    let json = |b: &[u8]| -> Value { serde_json::from_slice(b).unwrap() };
    let (status, _, body) = get(&d, "/api/v1/lagesbild", Some(&d.police)).await;
    assert_eq!(status, StatusCode::OK);
    let f = json(&body)["follow_up"].clone();
    let stored = d.state.store.list_measures().await.unwrap();
    assert_eq!(stored.len(), 5);
    let shown: Vec<&Value> = f["measures"].as_array().unwrap().iter().collect();
    assert_eq!(shown.len(), 5, "{f}");
    assert_eq!(f["measures_more"], 0);
    let rank = |s: &str| match s {
        "in_progress" => 0,
        "planned" => 1,
        "done" => 2,
        other => panic!("{other} shown"),
    };
    for w in shown.windows(2) {
        let (a, b) = (
            w[0]["status"].as_str().unwrap(),
            w[1]["status"].as_str().unwrap(),
        );
        assert!(rank(a) <= rank(b), "{a} before {b}");
        if a == "done" && b == "done" {
            assert!(w[0]["done_date"].as_str() >= w[1]["done_date"].as_str());
        }
        if a == "planned" && b == "planned" {
            assert!(w[0]["planned_date"].as_str() <= w[1]["planned_date"].as_str());
        }
    }
    let mut done = 0;
    for m in &shown {
        let id = m["id"].as_i64().unwrap();
        let s = stored.iter().find(|s| s.id == id).unwrap();
        assert_eq!(m["title"], s.spec.title.as_str());
        if m["status"] == "done" {
            done += 1;
            let (st, _, e) = get(
                &d,
                &format!("/api/v1/measures/{id}/effect"),
                Some(&d.police),
            )
            .await;
            assert_eq!(st, StatusCode::OK);
            assert_eq!(m["effect"], json(&e)["words"], "{m}");
        } else {
            assert!(m["effect"].is_null(), "{m}");
        }
    }
    assert_eq!(done, 2);
    let (_, _, p) = get(&d, "/api/v1/pledges", None).await;
    let public = json(&p);
    assert_eq!(f["pledges"].as_array().unwrap().len(), 1);
    assert_eq!(f["pledges"][0]["title"], public["pledges"][0]["title"]);
    assert_eq!(
        f["pledges"][0]["indicators"].as_array().unwrap().len(),
        public["pledges"][0]["indicators"].as_array().unwrap().len()
    );

    let (status, _, body) = get(
        &d,
        "/api/v1/lagesbild?from=2020-01-01&to=2020-12-31",
        Some(&d.police),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let old = json(&body);
    assert_eq!(old["total"]["count"], 0);
    assert_eq!(old["follow_up"]["measures"], f["measures"]);
}
