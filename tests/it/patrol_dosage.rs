//! Patrol dosage end to end: a planted hotspot whose hull is a known 60 m square, a GPX track
//! and a CSV of visits imported through the real `lagesbild import patrol`, and
//! `GET /api/v1/patrol/dosage` on a real server, checked to the second against times worked out
//! by hand — on the night the clocks go back (2025-10-25/26, a visit across midnight) and the
//! night they go forward (2025-03-29/30, a visit across the change). Patrol data is for signed-in
//! roles only: anonymous callers get 401 here, and no anonymous answer anywhere carries a fix.

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use geo::Point;
use lagesbild::category::CategoryGroup;
use lagesbild::model::{Incident, LocationPrecision, Role};
use serde_json::Value;

use crate::support::{TestServer, get_json, http};

/// The hotspot: a 7 × 7 grid of incident places 10 m apart, the square HX..HX+60 × HY..HY+60
/// (EPSG:3006), its centre on the centre of a 500 m Gi\* cell (the size the data below
/// derives: twice the mean nearest-neighbour distance, about 270 m, rounded up).
const HX: f64 = 673_220.0;
const HY: f64 = 6_592_220.0;

fn incident(id: usize, at: DateTime<Utc>, (x, y): (f64, f64), violent: bool) -> Incident {
    let (category, group, label) = if violent {
        ("assault", CategoryGroup::Violence, "Misshandel")
    } else {
        ("theft", CategoryGroup::Property, "Stöld")
    };
    Incident {
        source: "test".into(),
        source_id: id.to_string(),
        occurred_at: at.fixed_offset(),
        time_precision: Default::default(),
        occurred_to: None,
        category: category.into(),
        group,
        label: label.into(),
        location: Point::new(x, y),
        precision: LocationPrecision::Exact,
        place: None,
        summary: None,
    }
}

/// Wall-clock Stockholm time as an instant (a time the spring skips moves an hour on).
fn local(d: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    let t = d.and_hms_opt(h, m, 0).unwrap();
    let z = lagesbild::time::ZONE;
    z.from_local_datetime(&t)
        .earliest()
        .or_else(|| z.from_local_datetime(&(t + Duration::hours(1))).earliest())
        .unwrap()
        .with_timezone(&Utc)
}

/// The hotspot's events on the twelve weekends before today, Saturday 23:15 and Sunday 00:15,
/// 01:15 and 02:15 (its one patrol window is Saturday 23–03), every grid place at every hour;
/// and 400 lone thefts on Tuesday noons on a 150 m grid around it (none within 100 m of
/// another, so DBSCAN leaves them as noise), none within 250 m of the hotspot.
fn incidents() -> Vec<Incident> {
    let today = lagesbild::time::local_date(&Utc::now());
    let mut saturday = today - Duration::days(2);
    while saturday.weekday() != chrono::Weekday::Sat {
        saturday -= Duration::days(1);
    }
    let mut out = Vec::new();
    for g in 0..49 {
        let place = (HX + 10.0 * (g % 7) as f64, HY + 10.0 * (g / 7) as f64);
        for slot in 0..4 {
            let sat = saturday - Duration::weeks(((g + slot) % 12) as i64);
            let at = match slot {
                0 => local(sat, 23, 15),
                k => local(sat + Duration::days(1), k as u32 - 1, 15),
            };
            out.push(incident(out.len(), at, place, true));
        }
    }
    let tuesday = saturday - Duration::days(4);
    for i in -10i64..10 {
        for j in -10i64..10 {
            let (x, y) = (
                HX + 30.0 + 150.0 * i as f64 + 75.0,
                HY + 30.0 + 150.0 * j as f64 + 75.0,
            );
            if (x - HX - 30.0).abs() < 250.0 && (y - HY - 30.0).abs() < 250.0 {
                continue;
            }
            let day = tuesday - Duration::weeks((i + j).rem_euclid(20));
            out.push(incident(out.len(), local(day, 12, 0), (x, y), false));
        }
    }
    out
}

/// One pass of a foot patrol along y = HY + 30 from t0: 10 m every 10 s from x = HX − 205 to
/// HX + 25 (in the hull from HX, at t0 + 205 s), standing there 720 s (a fix every 30 s), then
/// 10 m every 10 s out to HX + 265 (out of the hull at HX + 60, at t0 + 985 s): 780 s inside,
/// 72 fixes.
fn pass(t0: i64) -> Vec<(i64, f64, f64)> {
    let y = HY + 30.0;
    let mut v = Vec::new();
    for k in 0..=23 {
        v.push((t0 + 10 * k, HX - 205.0 + 10.0 * k as f64, y));
    }
    for k in 1..=24 {
        v.push((t0 + 230 + 30 * k, HX + 25.0, y));
    }
    for j in 1..=24 {
        v.push((t0 + 950 + 10 * j, HX + 25.0 + 10.0 * j as f64, y));
    }
    v
}

fn unix(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

/// GPX 1.1 with each pass as a track segment; positions in WGS84 to 1e-9 degrees (0.1 mm).
fn gpx(passes: &[Vec<(i64, f64, f64)>]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"test\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n<trk><name>Bil 3</name>\n",
    );
    for p in passes {
        out.push_str("<trkseg>\n");
        for &(t, x, y) in p {
            let (lon, lat) = lagesbild::crs::to_wgs84(x, y).unwrap();
            let time = DateTime::from_timestamp(t, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            out.push_str(&format!(
                "<trkpt lat=\"{lat:.9}\" lon=\"{lon:.9}\"><time>{time}</time></trkpt>\n"
            ));
        }
        out.push_str("</trkseg>\n");
    }
    out.push_str("</trk>\n</gpx>\n");
    out
}

/// `lagesbild --db DB import --json patrol FILE --unit "Bil 3"`: its JSON summary.
fn import(db: &str, file: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args(["--db", db, "import", "--json", "patrol"])
        .arg(file)
        .args(["--unit", "Bil 3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("patrol data (police only): 1 units"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

fn counts(v: &Value) -> [u64; 4] {
    ["read", "imported", "unchanged", "skipped"].map(|k| v[k].as_u64().unwrap())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Every array of exactly two numbers in `v` (the shape of a position).
fn pairs(v: &Value, out: &mut Vec<[f64; 2]>) {
    match v {
        Value::Array(a) => {
            if let [Value::Number(x), Value::Number(y)] = a.as_slice() {
                out.push([x.as_f64().unwrap(), y.as_f64().unwrap()]);
            }
            a.iter().for_each(|x| pairs(x, out));
        }
        Value::Object(m) => m.values().for_each(|x| pairs(x, out)),
        _ => {}
    }
}

/// What in `body` gives a fix away: the unit's name, or a position within a metre of a fix
/// (as `[lon, lat]` or in EPSG:3006).
fn fix_in(body: &[u8], fixes: &[(i64, f64, f64)]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    if text.contains("Bil 3") {
        return Some("the unit's name".into());
    }
    let v = serde_json::from_slice::<Value>(body).ok()?;
    let mut found = Vec::new();
    pairs(&v, &mut found);
    for &(_, x, y) in fixes {
        let (lon, lat) = lagesbild::crs::to_wgs84(x, y).unwrap();
        for p in &found {
            let wgs = (p[0] - lon).abs() < 1e-5 && (p[1] - lat).abs() < 1e-5;
            let metric = (p[0] - x).abs() < 1.0 && (p[1] - y).abs() < 1.0;
            if wgs || metric {
                return Some(format!("{p:?}, the fix at ({x}, {y})"));
            }
        }
    }
    None
}

fn assert_no_fix(what: &str, body: &[u8], fixes: &[(i64, f64, f64)]) {
    if let Some(leak) = fix_in(body, fixes) {
        panic!("{what} carries {leak}: {}", String::from_utf8_lossy(body));
    }
}

/// A server on the planted hotspot's incidents, with a police and a coordinator token.
async fn planted() -> (TestServer, String, String) {
    let s = TestServer::seeded(
        |_| {},
        async |store| {
            store.upsert_incidents(&incidents()).await.unwrap();
        },
    )
    .await;
    let police = s.token(Role::Police).await;
    let coordinator = s.token(Role::Coordinator).await;
    (s, police, coordinator)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dosage_from_a_gpx_track_and_a_visit_list_to_the_second() {
    let (s, police, coordinator) = planted().await;

    // The plan has the planted hotspot, with its window and its square hull.
    let (st, plan) = get_json(s.url("/api/v1/patrol-plan.json"), Some(police.clone())).await;
    assert_eq!(st, 200, "{plan}");
    assert_eq!(plan["hotspots"].as_array().unwrap().len(), 1, "{plan}");
    let h = &plan["hotspots"][0];
    let id = h["id"].as_str().unwrap().to_string();
    let w = &h["windows"][0];
    assert_eq!(
        (
            w["weekday"].as_u64(),
            w["hour"].as_u64(),
            w["hours"].as_u64()
        ),
        (Some(5), Some(23), Some(4))
    );
    assert_eq!(w["label"], "lör–sön 23–03");
    let ring: Vec<(f64, f64)> = h["hull"]["coordinates"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| lagesbild::crs::to_work(4326, f(&p[0]), f(&p[1])).unwrap())
        .collect();
    for (x, y) in &ring {
        let on_edge = |v: f64, lo: f64| (v - lo).abs() < 0.01 || (v - lo - 60.0).abs() < 0.01;
        assert!(
            on_edge(*x, HX) || on_edge(*y, HY),
            "({x}, {y}) is off the square"
        );
        assert!((HX - 0.01..=HX + 60.01).contains(x) && (HY - 0.01..=HY + 60.01).contains(y));
    }

    // The GPX: two passes on the autumn night. 21:55–22:08Z is 23:55–00:08 CEST, across
    // midnight; 00:50–01:03Z is 02:50 CEST to 02:03 CET, across the change.
    let t0 = unix("2025-10-25T21:51:35Z");
    let t1 = unix("2025-10-26T00:46:35Z");
    let passes = [pass(t0), pass(t1)];
    let track = s.dir.path().join("natt.gpx");
    std::fs::write(&track, gpx(&passes)).unwrap();
    assert_eq!(counts(&import(&s.db, &track)), [144, 144, 0, 0]);
    // Again: nothing new.
    assert_eq!(counts(&import(&s.db, &track)), [144, 0, 144, 0]);

    // The visits: one reported for the hotspot in local time (01:20–01:32 CEST is
    // 23:20–23:32Z), one at a point in the hull across the spring change (01:50 CET to
    // 03:05 CEST is 00:50–01:05Z, 15 minutes).
    let (lon, lat) = lagesbild::crs::to_wgs84(HX + 40.0, HY + 40.0).unwrap();
    let csv = format!(
        "start;end;hotspot;lat;lon\n2025-10-26 01:20;2025-10-26 01:32;{id};;\n2025-03-30 01:50;2025-03-30 03:05;;{lat:.9};{lon:.9}\n"
    );
    let visits = s.dir.path().join("besok.csv");
    std::fs::write(&visits, csv).unwrap();
    assert_eq!(counts(&import(&s.db, &visits)), [2, 2, 0, 0]);
    assert_eq!(counts(&import(&s.db, &visits)), [2, 0, 2, 0]);

    // The autumn week. Saturday 23–03 is 23:00 CEST to 03:00 CET: 21:00–02:00Z, 18 000 s.
    // Inside: 780 + 720 + 780 = 2 280 s in three visits of 10–16 minutes. Without one:
    // 21:00–21:55 (3 300 s), 22:08–23:20 (4 320 s), 23:32–00:50 (4 680 s), 01:03–02:00.
    let (st, d) = get_json(
        s.url("/api/v1/patrol/dosage?from=2025-10-20&to=2025-10-26"),
        Some(police.clone()),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["sources"]["track_points"], 144);
    assert_eq!(d["sources"]["units"], 1);
    assert_eq!(d["sources"]["visits"], 1);
    assert_eq!(d["sources"]["visits_unmatched"], 0);
    let dh = &d["hotspots"][0];
    assert_eq!(dh["id"], id.as_str());
    let occ = dh["windows"][0]["occurrences"].as_array().unwrap();
    assert_eq!(occ.len(), 1);
    let o = &occ[0];
    assert_eq!(o["date"], "2025-10-25");
    assert_eq!(o["start"], "2025-10-25T23:00:00+02:00");
    assert_eq!(o["end"], "2025-10-26T03:00:00+01:00");
    assert_eq!(f(&o["planned_s"]), 18_000.0);
    // The fixes went to WGS84 and back: exact to well below a millisecond at walking pace.
    assert!((f(&o["delivered_s"]) - 2_280.0).abs() < 0.01, "{o}");
    assert_eq!(
        (o["visits"].as_u64(), o["dose_visits"].as_u64()),
        (Some(3), Some(3))
    );
    assert!((f(&o["longest_gap_s"]) - 4_680.0).abs() < 0.01, "{o}");
    assert_eq!(o["meets_dose"], true);
    assert_eq!(dh["windows"][0]["meets_dose"], true);
    assert_eq!(d["weeks"][0]["week"], "2025-W43");
    assert_eq!(f(&d["weeks"][0]["planned_s"]), 18_000.0);
    assert!((f(&d["weeks"][0]["delivered_s"]) - 2_280.0).abs() < 0.01);
    assert_no_fix(
        "the police dosage",
        d.to_string().as_bytes(),
        &passes.concat(),
    );

    // The spring night: Saturday 23–03 is 23:00 CET to 03:00 CEST, 22:00–01:00Z, 10 800 s;
    // the visit 00:50–01:05Z has 600 s of it, and the three hours before it had no one.
    let (st, d) = get_json(
        s.url("/api/v1/patrol/dosage?from=2025-03-29&to=2025-03-29"),
        Some(coordinator),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    let o = &d["hotspots"][0]["windows"][0]["occurrences"][0];
    assert_eq!(o["end"], "2025-03-30T03:00:00+02:00");
    assert_eq!(f(&o["planned_s"]), 10_800.0);
    assert!((f(&o["delivered_s"]) - 600.0).abs() < 0.01, "{o}");
    assert_eq!(
        (o["visits"].as_u64(), o["dose_visits"].as_u64()),
        (Some(1), Some(1))
    );
    assert!((f(&o["longest_gap_s"]) - 10_200.0).abs() < 0.01, "{o}");
    assert_eq!(o["meets_dose"], false);
    assert_eq!(d["sources"]["track_points"], 0);

    // Bounds name the parameter.
    let (st, e) = get_json(
        s.url("/api/v1/patrol/dosage?from=2024-01-01&to=2025-06-01"),
        Some(police.clone()),
    )
    .await;
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("at most 366"), "{e}");

    // Anonymous callers: 401 here, and no public answer anywhere carries a fix or the unit
    // (the check does see one where there is one).
    let fixes = passes.concat();
    let (lon, lat) = lagesbild::crs::to_wgs84(fixes[3].1, fixes[3].2).unwrap();
    let leak = format!("{{\"type\":\"Point\",\"coordinates\":[{lon:.7},{lat:.7}]}}");
    assert!(fix_in(leak.as_bytes(), &fixes).is_some());
    assert!(fix_in(b"[[1.0, 2.0], {\"x\": [673015.5, 6592250.2]}]", &fixes).is_some());
    let (st, headers, body) = http("GET", s.url("/api/v1/patrol/dosage"), None, None).await;
    assert_eq!(st, 401);
    assert!(
        headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
    );
    assert_no_fix("the anonymous dosage", &body, &fixes);
    let (_, _, doc) = http("GET", s.url("/api/openapi.json"), None, None).await;
    let doc: Value = serde_json::from_slice(&doc).unwrap();
    let mut asked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if ops.get("get").is_none() {
            continue;
        }
        let concrete = path
            .replace("{format}", "json")
            .replace("{id}", "1")
            .replace("{service_request_id}", "1")
            .replace("{service_code}", "dark_path")
            .replace("{token}", "1")
            .replace("{file}", "1.json");
        let (_, _, body) = http("GET", s.url(&concrete), None, None).await;
        assert_no_fix(&format!("anonymous GET {concrete}"), &body, &fixes);
        asked += 1;
    }
    assert!(asked >= 15, "{asked} public GETs");
}

/// The joint pledge's `patrol_delivered` from reported visits, against a value worked out by
/// hand: 12-minute visits on every Saturday night of last month and one the month before the
/// pledge begins, which must not count; the planned hours are the Saturday 23–03 occurrences of
/// the pledge's two whole months (four hours each, three or five on the nights the clocks
/// change), each month rounded to a tenth of an hour as the public sees it. The public answer
/// carries hours per month and nothing of the hotspot, the unit or the times.
#[tokio::test]
async fn a_joint_pledge_shows_the_share_of_planned_presence_delivered() {
    let (s, police, coordinator) = planted().await;
    let (st, plan) = get_json(s.url("/api/v1/patrol-plan.json"), Some(police)).await;
    assert_eq!(st, 200, "{plan}");
    let id = plan["hotspots"][0]["id"].as_str().unwrap().to_string();

    let today = lagesbild::time::local_date(&Utc::now());
    let this_month = today.with_day(1).unwrap();
    let last = this_month - chrono::Months::new(1);
    let before = this_month - chrono::Months::new(2);
    let outside = this_month - chrono::Months::new(3);
    let saturdays = |first: NaiveDate| -> Vec<NaiveDate> {
        first
            .iter_days()
            .take_while(|d| d.month() == first.month())
            .filter(|d| d.weekday() == chrono::Weekday::Sat)
            .collect()
    };
    let mut csv = String::from("start;end;hotspot\n");
    for d in saturdays(last) {
        csv.push_str(&format!("{d} 23:10;{d} 23:22;{id}\n"));
    }
    let d = saturdays(outside)[0];
    csv.push_str(&format!("{d} 23:10;{d} 23:22;{id}\n"));
    let visits = s.dir.path().join("besok.csv");
    std::fs::write(&visits, csv).unwrap();
    let n = saturdays(last).len() as u64;
    assert_eq!(counts(&import(&s.db, &visits))[1], n + 1);

    let planned = |first: NaiveDate| -> f64 {
        let secs: i64 = saturdays(first)
            .into_iter()
            .map(|d| (local(d + Duration::days(1), 3, 0) - local(d, 23, 0)).num_seconds())
            .sum();
        (secs as f64 / 360.0).round() / 10.0
    };
    let (p_before, p_last) = (planned(before), planned(last));
    let delivered = n as f64 * 0.2;
    let share = (delivered / (p_before + p_last) * 1000.0).round() / 10.0;

    let new = |owner: &str| {
        serde_json::json!({
            "title": format!("Synlig polis ({owner})"),
            "text": "Polisen syns på lördagsnätterna.",
            "owner": owner,
            "period_start": before.to_string(),
            "period_end": (today + Duration::days(365)).to_string(),
        })
        .to_string()
        .into_bytes()
    };
    for owner in ["gemensamt", "kommunen"] {
        let (st, _, b) = http(
            "POST",
            s.url("/api/v1/pledges"),
            Some(("application/json".into(), new(owner))),
            Some(coordinator.clone()),
        )
        .await;
        assert_eq!(st, 201, "{}", String::from_utf8_lossy(&b));
    }
    let (st, _, body) = http("GET", s.url("/api/v1/pledges"), None, None).await;
    assert_eq!(st, 200);
    let text = String::from_utf8_lossy(&body).to_string();
    let list: Value = serde_json::from_str(&text).unwrap();
    let pledge = |owner: &str| {
        list["pledges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["owner"] == owner)
            .unwrap()
            .clone()
    };
    let joint = pledge("gemensamt");
    let ind = joint["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "patrol_delivered")
        .unwrap()
        .clone();
    assert_eq!(f(&ind["value"]), share, "{ind}");
    assert!(
        ind["text"]
            .as_str()
            .unwrap()
            .ends_with("planerade timmar på brottsplatserna under 2 hela månader."),
        "{ind}"
    );
    let months = joint["patrol_months"].as_array().unwrap();
    let month = |d: NaiveDate| d.format("%Y-%m").to_string();
    assert_eq!(months.len(), 2, "{joint}");
    assert_eq!(months[0]["month"], month(before).as_str());
    assert_eq!(
        (
            f(&months[0]["planned_hours"]),
            f(&months[0]["delivered_hours"])
        ),
        (p_before, 0.0)
    );
    assert_eq!(months[1]["month"], month(last).as_str());
    assert_eq!(
        (
            f(&months[1]["planned_hours"]),
            f(&months[1]["delivered_hours"])
        ),
        (p_last, delivered)
    );
    // The municipality's own pledge promises no police.
    let own = pledge("kommunen");
    assert!(own["patrol_months"].as_array().unwrap().is_empty(), "{own}");
    assert!(
        own["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["key"] != "patrol_delivered")
    );
    for secret in [id.as_str(), "Bil 3", "23:10", "hotspot"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
