//! Open311 GeoReport v2 and the coordinators' report API, against a real server on port 0 over a
//! real SQLite file. Expected values come from the specification (element names, error shape)
//! and from the fixture geometry (snapping), computed here independently of the handlers.

use crate::support::reports::*;
use lagesbild::model::Role;
use serde_json::{Value, json};

/// The element names of a service request in GeoReport v2, in the specification's order.
const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

const CONTACT_WORDS: [&str; 8] = [
    "email",
    "first_name",
    "last_name",
    "phone",
    "anna.test@example.org",
    "Annasson",
    "0701234567",
    "Testanna",
];

fn s(v: f64) -> String {
    format!("{v:.7}")
}

/// A point 12 m north of the fixture way, 7 m from the lamp (hypot(0, 7)).
fn near_lamp() -> (String, String) {
    let (lat, long) = latlong(LAMP_AT.0, WAY_Y + 12.0);
    (s(lat), s(long))
}

fn xml_text<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.match_indices(&open)
        .map(|(i, _)| {
            let rest = &xml[i + open.len()..];
            &rest[..rest.find(&close).expect("closing tag")]
        })
        .collect()
}

/// The keys of the only object in `body`, in the order they appear in the text.
fn key_order(body: &str, v: &Value) -> Vec<String> {
    let obj = v.as_array().expect("a list")[0]
        .as_object()
        .expect("an object");
    let mut keys: Vec<(usize, String)> = obj
        .keys()
        .map(|k| {
            (
                body.find(&format!("\"{k}\":")).expect("key in text"),
                k.clone(),
            )
        })
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

fn assert_open311_error(a: &Answer, status: u16, needle: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    let v = a.json();
    let list = v.as_array().expect("errors are a list");
    assert!(!list.is_empty());
    for e in list {
        assert_eq!(e["code"], json!(status), "{e}");
        assert!(e["description"].is_string());
        assert_eq!(
            e.as_object().unwrap().len(),
            2,
            "only code and description: {e}"
        );
    }
    assert!(
        list.iter()
            .any(|e| e["description"].as_str().unwrap().contains(needle)),
        "no error mentions {needle:?}: {}",
        a.body
    );
}

#[test]
fn service_list_in_json_and_xml() {
    let srv = start(0);
    let a = srv.get("/open311/v2/services.json");
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("application/json"));
    let v = a.json();
    let list = v.as_array().unwrap();
    let codes: Vec<&str> = list
        .iter()
        .map(|s| s["service_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "dark_path",
            "broken_lamp",
            "vegetation",
            "unsafe_place",
            "other"
        ]
    );
    let names: Vec<&str> = list
        .iter()
        .map(|s| s["service_name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "Mörk gångväg");
    assert_eq!(names[1], "Trasig gatubelysning");
    assert_eq!(names[3], "Otrygg plats");
    for s in list {
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        ] {
            assert!(keys.contains(&k), "{k} missing in {s}");
        }
        assert_eq!(s["type"], "realtime");
    }
    assert_eq!(list[0]["metadata"], true);
    assert_eq!(list[4]["metadata"], false, "other has no attributes");

    let x = srv.get("/open311/v2/services.xml");
    assert_eq!(x.status, 200);
    assert!(x.content_type.contains("xml"));
    assert!(x.body.starts_with("<?xml"));
    assert!(
        x.body
            .contains("<services><service><service_code>dark_path</service_code>")
    );
    assert_eq!(xml_text(&x.body, "service_code").len(), 5);
    assert!(x.body.contains("<service_name>Mörk gångväg</service_name>"));
    assert!(x.body.ends_with("</service></services>"));
}

#[test]
fn service_definitions_in_json_and_xml() {
    let srv = start(0);
    let v = srv.get("/open311/v2/services/dark_path.json").json();
    assert_eq!(v["service_code"], "dark_path");
    let attrs = v["attributes"].as_array().unwrap();
    let darkness = attrs.iter().find(|a| a["code"] == "darkness").unwrap();
    for k in [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ] {
        assert!(darkness.get(k).is_some(), "{k} missing");
    }
    assert_eq!(darkness["datatype"], "singlevaluelist");
    assert_eq!(darkness["variable"], true);
    let keys: Vec<&str> = darkness["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["completely_dark", "dim", "flickering"]);
    assert!(attrs.iter().any(|a| a["code"] == "time_of_day"));

    let x = srv.get("/open311/v2/services/broken_lamp.xml");
    assert_eq!(x.status, 200);
    assert!(x.body.contains("<service_definition><service_code>broken_lamp</service_code><attributes><attribute><variable>true</variable><code>lamp_state</code><datatype>singlevaluelist</datatype>"));
    assert!(
        x.body
            .contains("<values><value><key>off</key><name>Lyser inte</name></value>")
    );

    let missing = srv.get("/open311/v2/services/potholes.json");
    assert_open311_error(&missing, 404, "potholes");
    let missing_xml = srv.get("/open311/v2/services/potholes.xml");
    assert_eq!(missing_xml.status, 404);
    assert!(
        missing_xml
            .body
            .contains("<errors><error><code>404</code><description>")
    );
}

#[test]
fn submit_and_read_back_in_json_and_xml() {
    let srv = start(0);
    let (lat, long) = near_lamp();
    let a = srv.post_form(
        "/open311/v2/requests.json",
        &[
            ("service_code", "broken_lamp"),
            ("lat", &lat),
            ("long", &long),
            ("description", "Lampan vid bron lyser inte."),
            ("attribute[lamp_state]", "off"),
            ("jurisdiction_id", "taby.se"),
            ("device_id", "test-device"),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    let first = &v.as_array().unwrap()[0];
    assert_eq!(
        key_order(&a.body, &v),
        ["service_request_id", "service_notice", "account_id"]
    );
    assert_eq!(first["account_id"], Value::Null);
    let id = first["service_request_id"].as_str().unwrap().to_string();
    // The notice names the lamp the report attached to, and the 12 m move to the path.
    let notice = first["service_notice"].as_str().unwrap();
    assert!(notice.contains(LAMP_ID), "{notice}");
    assert!(notice.contains("12 m"), "{notice}");

    // Read back: every GeoReport v2 element, in order, nothing else.
    let one_text = srv.get(&format!("/open311/v2/requests/{id}.json"));
    let one = one_text.json();
    let r = &one.as_array().unwrap()[0];
    assert_eq!(key_order(&one_text.body, &one), REQUEST_FIELDS);
    assert_eq!(r["service_request_id"], json!(id));
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], "broken_lamp");
    assert_eq!(r["service_name"], "Trasig gatubelysning");
    assert_eq!(r["description"], "Lampan vid bron lyser inte.");
    assert_eq!(r["service_notice"], format!("Gäller lampa {LAMP_ID}."));
    // Snapped onto the way: (674 000, 6 593 500) in EPSG:3006.
    let (elat, elong) = latlong(LAMP_AT.0, WAY_Y);
    assert!(
        (r["lat"].as_f64().unwrap() - elat).abs() < 2e-7,
        "{}",
        r["lat"]
    );
    assert!(
        (r["long"].as_f64().unwrap() - elong).abs() < 2e-7,
        "{}",
        r["long"]
    );
    // ISO 8601 with a zone: 2026-11-23T10:00:00+01:00.
    let dt = r["requested_datetime"].as_str().unwrap();
    assert_eq!(dt.len(), 25, "{dt}");
    assert!(dt.ends_with("+01:00") || dt.ends_with("+02:00"), "{dt}");
    assert!(chrono::DateTime::parse_from_rfc3339(dt).is_ok());
    assert_eq!(r["expected_datetime"], Value::Null);

    // With extensions: the fine status, the lamp, the walkway and the attributes.
    let ext = srv
        .get(&format!("/open311/v2/requests/{id}.json?extensions=true"))
        .json();
    let e = &ext[0]["extended_attributes"];
    assert_eq!(e["detailed_status"], "open");
    assert_eq!(e["lamp_id"], LAMP_ID);
    assert_eq!(e["walkway_id"], WAY_ID);
    assert_eq!(
        e["attributes"],
        json!([{"code": "lamp_state", "value": "off"}])
    );

    // The same in XML.
    let x = srv.get(&format!("/open311/v2/requests/{id}.xml"));
    assert_eq!(x.status, 200);
    assert!(
        x.body
            .contains("<service_requests><request><service_request_id>")
    );
    for f in REQUEST_FIELDS {
        assert!(
            x.body.contains(&format!("<{f}>")) || x.body.contains(&format!("<{f}/>")),
            "{f} missing in {}",
            x.body
        );
    }
    assert_eq!(xml_text(&x.body, "service_request_id"), [id.as_str()]);
    assert_eq!(xml_text(&x.body, "status"), ["open"]);

    // POST in XML answers in XML.
    let px = srv.post_form(
        "/open311/v2/requests.xml",
        &[
            ("service_code", "dark_path"),
            ("lat", &lat),
            ("long", &long),
            ("description", "Mörkt (xml)"),
        ],
    );
    assert_eq!(px.status, 200, "{}", px.body);
    assert!(
        px.body
            .contains("<service_requests><request><service_request_id>")
    );
    assert!(px.body.contains("<account_id/>"));
    let xid = xml_text(&px.body, "service_request_id")[0].to_string();
    assert_ne!(xid, id);

    // The list in both formats holds both.
    let list = srv.get("/open311/v2/requests.json").json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [xid.as_str(), id.as_str()], "newest first");
    let lx = srv.get("/open311/v2/requests.xml");
    assert_eq!(
        xml_text(&lx.body, "service_request_id"),
        [xid.as_str(), id.as_str()]
    );

    // The spatial snapshot has the report with its lamp off.
    let snap = srv.state.spatial.load();
    let rep = snap
        .reports
        .items
        .iter()
        .find(|r| r.id.to_string() == id)
        .expect("report in the snapshot");
    assert!(rep.keeps_lamp_off());
    // The citizen's point is kept (to the centimetre the 7 decimals carry), the shown one snapped.
    assert!((rep.original_location.y() - (WAY_Y + 12.0)).abs() < 0.05);
    assert!((rep.location.y() - WAY_Y).abs() < 1e-6);
    assert_eq!(rep.walkway_id, Some(WAY_ID));

    let unknown = srv.get("/open311/v2/requests/999999.json");
    assert_open311_error(&unknown, 404, "999999");
    let discovery = srv.get("/open311/v2/discovery.json");
    assert_eq!(discovery.status, 200);
}

#[test]
fn address_string_of_a_known_walkway_places_the_report() {
    let srv = start(0);
    let id = srv.submit(&[
        ("service_code", "dark_path"),
        ("address_string", "Provstigen"),
        ("description", "Mörkt på Provstigen"),
    ]);
    let r = srv.get(&format!("/open311/v2/requests/{id}.json")).json();
    // The midpoint of the fixture way.
    let (elat, elong) = latlong(674_000.0, WAY_Y);
    assert!((r[0]["lat"].as_f64().unwrap() - elat).abs() < 2e-7);
    assert!((r[0]["long"].as_f64().unwrap() - elong).abs() < 2e-7);
    assert_eq!(r[0]["address"], "Provstigen");
    let unknown = srv.post_form(
        "/open311/v2/requests.json",
        &[
            ("service_code", "dark_path"),
            ("address_string", "Okändgatan 1"),
        ],
    );
    assert_open311_error(&unknown, 400, "Okändgatan 1");
}

#[test]
fn filters_of_get_requests() {
    let srv = start(0);
    let coordinator = srv.token(Role::Coordinator);
    let (lat, long) = near_lamp();
    let mk = |code: &str, text: &str| {
        srv.submit(&[
            ("service_code", code),
            ("lat", &lat),
            ("long", &long),
            ("description", text),
        ])
    };
    let a = mk("dark_path", "ett");
    let b = mk("unsafe_place", "två");
    let c = mk("dark_path", "tre");
    let closed = srv.patch_json(
        &format!("/api/v1/reports/{c}"),
        Some(&coordinator),
        json!({"status": "closed", "reason": "Belysning uppsatt"}),
    );
    assert_eq!(closed.status, 200, "{}", closed.body);
    let ids = |path: &str| -> Vec<String> {
        let ans = srv.get(path);
        assert_eq!(ans.status, 200, "{path}: {}", ans.body);
        ans.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_string())
            .collect()
    };
    let base = "/open311/v2/requests.json";
    assert_eq!(ids(base), [c.clone(), b.clone(), a.clone()]);
    assert_eq!(
        ids(&format!("{base}?service_code=dark_path")),
        [c.clone(), a.clone()]
    );
    assert_eq!(ids(&format!("{base}?status=closed")), vec![c.clone()]);
    assert_eq!(ids(&format!("{base}?status=open")), [b.clone(), a.clone()]);
    assert_eq!(
        ids(&format!(
            "{base}?status=open&service_code=unsafe_place,dark_path"
        )),
        [b.clone(), a.clone()]
    );
    // service_request_id wins over every other filter.
    assert_eq!(
        ids(&format!(
            "{base}?service_request_id={a},{c}&status=open&service_code=other"
        )),
        [c.clone(), a.clone()]
    );
    // Dates: everything was requested today.
    let today = chrono::Utc::now();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let past = fmt(today - chrono::Duration::days(2));
    let future = fmt(today + chrono::Duration::days(1));
    assert_eq!(ids(&format!("{base}?start_date={past}")).len(), 3);
    assert!(ids(&format!("{base}?start_date={future}")).is_empty());
    assert!(ids(&format!("{base}?end_date={past}")).is_empty());
    assert_eq!(
        ids(&format!("{base}?start_date={past}&end_date={future}")).len(),
        3
    );
    // The closed one shows its status notes; status is only open|closed.
    let r = srv.get(&format!("/open311/v2/requests/{c}.json")).json();
    assert_eq!(r[0]["status"], "closed");
    assert_open311_error(
        &srv.get(&format!("{base}?start_date=yesterday")),
        400,
        "ISO 8601",
    );
    assert_open311_error(&srv.get(&format!("{base}?status=pending")), 400, "pending");
    assert_open311_error(
        &srv.get(&format!("{base}?service_code=potholes")),
        400,
        "potholes",
    );
    assert_open311_error(
        &srv.get(&format!("{base}?start_date={future}&end_date={past}")),
        400,
        "after",
    );
    let bad_xml = srv.get("/open311/v2/requests.xml?status=pending");
    assert_eq!(bad_xml.status, 400);
    assert!(bad_xml.body.contains("<errors><error><code>400</code>"));
}

#[test]
fn bad_submissions_are_rejected_with_the_spec_error_list() {
    let srv = start(0);
    let (lat, long) = near_lamp();
    let post = |form: &[(&str, &str)]| srv.post_form("/open311/v2/requests.json", form);

    assert_open311_error(
        &post(&[("lat", &lat), ("long", &long), ("description", "x")]),
        400,
        "service_code is required",
    );
    assert_open311_error(
        &post(&[
            ("service_code", "dark_path"),
            ("lat", "95"),
            ("long", &long),
        ]),
        400,
        "lat 95 is not a latitude",
    );
    let long_text = "m".repeat(5000);
    assert_open311_error(
        &post(&[
            ("service_code", "dark_path"),
            ("lat", &lat),
            ("long", &long),
            ("description", &long_text),
        ]),
        400,
        "description has 5000 characters; at most 4000",
    );
    assert_open311_error(
        &post(&[
            ("service_code", "dark_path"),
            ("lat", &lat),
            ("long", &long),
            ("media_url", "ftp://example.org/a.jpg"),
        ]),
        400,
        "http:// or https://",
    );
    // Stockholm's Gamla stan is in Sweden but outside the Täby service area.
    assert_open311_error(
        &post(&[
            ("service_code", "dark_path"),
            ("lat", "59.3250"),
            ("long", "18.0710"),
        ]),
        400,
        "outside the area",
    );
    assert_open311_error(
        &post(&[
            ("service_code", "dark_path"),
            ("lat", &lat),
            ("long", &long),
            ("attribute[darkness]", "pitch_black"),
        ]),
        400,
        "completely_dark, dim, flickering",
    );
    // Several problems: each reported.
    let many = post(&[("lat", "95"), ("long", "200")]);
    assert_eq!(many.status, 400);
    assert!(many.json().as_array().unwrap().len() >= 3, "{}", many.body);
    // XML errors.
    let x = srv.post_form(
        "/open311/v2/requests.xml",
        &[("lat", &lat), ("long", &long)],
    );
    assert_eq!(x.status, 400);
    assert!(
        x.body
            .contains("<errors><error><code>400</code><description>service_code is required")
    );
    // Nothing was stored.
    assert_eq!(srv.get("/open311/v2/requests.json").json(), json!([]));
}

#[test]
fn submissions_are_rate_limited_per_client() {
    let srv = start(3);
    let (lat, long) = near_lamp();
    for i in 0..3 {
        let text = format!("rapport {i}");
        srv.submit(&[
            ("service_code", "other"),
            ("lat", &lat),
            ("long", &long),
            ("description", &text),
        ]);
    }
    let a = srv.post_form(
        "/open311/v2/requests.json",
        &[
            ("service_code", "other"),
            ("lat", &lat),
            ("long", &long),
            ("description", "4"),
        ],
    );
    assert_open311_error(&a, 429, "at most 3 a minute");
    // 60 s / 3 = 20 s until the next token.
    let wait: u64 = a.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((19..=20).contains(&wait), "{wait}");
    let x = srv.post_form("/open311/v2/requests.xml", &[("service_code", "other")]);
    assert_eq!(x.status, 429);
    assert!(x.body.contains("<code>429</code>"));
    assert_eq!(
        srv.get("/open311/v2/requests.json")
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn repeated_submissions_return_the_first_report() {
    let srv = start(0);
    let (lat, long) = near_lamp();
    let form = [
        ("service_code", "dark_path"),
        ("lat", lat.as_str()),
        ("long", long.as_str()),
        ("description", "Mörkt vid lekparken"),
        ("attribute[darkness]", "dim"),
    ];
    let first = srv.submit(&form);
    let again = srv.post_form("/open311/v2/requests.json", &form);
    assert_eq!(again.json()[0]["service_request_id"], json!(first));
    assert!(
        again.json()[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains("redan mottagen")
    );
    // Different text: a new report.
    let mut other = form;
    other[3].1 = "Mörkt vid lekparken, igen";
    assert_ne!(srv.submit(&other), first);

    // A client token: the second submission is recognised even with other content.
    let t1 = srv.post_form_with(
        "/open311/v2/requests.json",
        ("Idempotency-Key", "app-7f3a"),
        &[
            ("service_code", "other"),
            ("lat", &lat),
            ("long", &long),
            ("description", "a"),
        ],
    );
    let tid = t1.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let t2 = srv.post_form(
        "/open311/v2/requests.json",
        &[
            ("service_code", "other"),
            ("lat", &lat),
            ("long", &long),
            ("description", "b"),
            ("client_token", "app-7f3a"),
        ],
    );
    assert_eq!(t2.json()[0]["service_request_id"], json!(tid));
    // GET tokens/{token}.
    let tok = srv.get("/open311/v2/tokens/app-7f3a.json").json();
    assert_eq!(
        tok,
        json!([{"service_request_id": tid, "token": "app-7f3a"}])
    );
    let tx = srv.get("/open311/v2/tokens/app-7f3a.xml");
    assert!(tx.body.contains(&format!(
        "<service_requests><request><service_request_id>{tid}</service_request_id><token>app-7f3a</token></request></service_requests>"
    )));
    assert_open311_error(&srv.get("/open311/v2/tokens/nope.json"), 404, "nope");
    assert_eq!(
        srv.get("/open311/v2/requests.json")
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn anonymous_answers_never_carry_contact_details() {
    let srv = start(0);
    let (lat, long) = near_lamp();
    let id = srv.submit(&[
        ("service_code", "unsafe_place"),
        ("lat", &lat),
        ("long", &long),
        ("description", "Otryggt vid tunneln"),
        ("email", "anna.test@example.org"),
        ("first_name", "Testanna"),
        ("last_name", "Annasson"),
        ("phone", "0701234567"),
    ]);
    for path in [
        format!("/open311/v2/requests/{id}.json"),
        format!("/open311/v2/requests/{id}.xml"),
        format!("/open311/v2/requests/{id}.json?extensions=true"),
        "/open311/v2/requests.json".to_string(),
        "/open311/v2/requests.xml?extensions=true".to_string(),
    ] {
        let a = srv.get(&path);
        assert_eq!(a.status, 200);
        for w in CONTACT_WORDS {
            assert!(!a.body.contains(w), "{path} contains {w}: {}", a.body);
        }
    }
    // Anonymous cannot use the coordinator API.
    assert_eq!(srv.get(&format!("/api/v1/reports/{id}")).status, 401);
    // A coordinator sees the contact details.
    let coordinator = srv.token(Role::Coordinator);
    let v = srv
        .get_auth(&format!("/api/v1/reports/{id}"), &coordinator)
        .json();
    assert_eq!(v["contact"]["email"], "anna.test@example.org");
    assert_eq!(v["contact"]["phone"], "0701234567");

    // Purging through the command line removes them for good.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args(["--db", &srv.db, "report", "purge-contact", &id])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = srv
        .get_auth(&format!("/api/v1/reports/{id}"), &coordinator)
        .json();
    assert_eq!(v["contact"], Value::Null);
    let actions: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "contact_purged"]);
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args(["--db", &srv.db, "report", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("Otryggt vid tunneln") && text.contains("unsafe_place"),
        "{text}"
    );
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args(["--db", &srv.db, "report", "purge-contact", "987654"])
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[test]
fn roles_and_tokens_guard_the_coordinator_api() {
    let srv = start(0);
    let police = srv.token(Role::Police);
    let coordinator = srv.token(Role::Coordinator);
    let admin = srv.token(Role::Admin);
    assert_eq!(srv.get("/api/v1/me").json(), json!({"role": "anonymous"}));
    assert_eq!(
        srv.get_auth("/api/v1/me", &police).json(),
        json!({"role": "police"})
    );
    assert_eq!(
        srv.get_auth("/api/v1/me", &admin).json(),
        json!({"role": "admin"})
    );
    let wrong = format!("{}x", &coordinator[..coordinator.len() - 1]);
    assert_eq!(srv.get_auth("/api/v1/me", &wrong).status, 401);

    assert_eq!(srv.get("/api/v1/reports").status, 401);
    assert_eq!(srv.get_auth("/api/v1/reports", &wrong).status, 401);
    assert_eq!(srv.get_auth("/api/v1/reports", &police).status, 403);
    assert_eq!(srv.get_auth("/api/v1/reports", &coordinator).status, 200);
    assert_eq!(srv.get_auth("/api/v1/reports", &admin).status, 200);
    assert_eq!(
        srv.patch_json("/api/v1/reports/1", None, json!({"hidden": true}))
            .status,
        401
    );
    assert_eq!(
        srv.patch_json("/api/v1/reports/1", Some(&police), json!({"hidden": true}))
            .status,
        403
    );
    assert_eq!(
        srv.patch_json(
            "/api/v1/reports/1",
            Some(&coordinator),
            json!({"hidden": true})
        )
        .status,
        404
    );
}

#[test]
fn moderation_keeps_a_history_and_turns_the_lamp_back_on() {
    let srv = start(0);
    let coordinator = srv.token(Role::Coordinator);
    let token_id = coordinator.split('_').nth(1).unwrap().to_string();
    let (lat, long) = near_lamp();
    let lamp = srv.submit(&[
        ("service_code", "broken_lamp"),
        ("lat", &lat),
        ("long", &long),
        ("description", "Släckt lampa"),
        ("email", "anna.test@example.org"),
    ]);
    let dup = srv.submit(&[
        ("service_code", "broken_lamp"),
        ("lat", &lat),
        ("long", &long),
        ("description", "Lampan är släckt, samma som förut"),
    ]);
    let rude = srv.submit(&[
        ("service_code", "other"),
        ("lat", &lat),
        ("long", &long),
        ("description", "Ovårdat språk som ska döljas"),
    ]);
    let patch = |id: &str, body: Value| {
        srv.patch_json(&format!("/api/v1/reports/{id}"), Some(&coordinator), body)
    };

    // The inbox shows all three, with contact details where given.
    let inbox = srv
        .get_auth("/api/v1/reports?status=open", &coordinator)
        .json();
    assert_eq!(inbox["count"], 3);
    let first = inbox["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(lamp.parse::<i64>().unwrap()))
        .unwrap();
    assert_eq!(first["contact"]["email"], "anna.test@example.org");
    assert_eq!(first["lamp_id"], LAMP_ID);

    // open → acknowledged → in_progress, with notes and an agency.
    let a = patch(
        &lamp,
        json!({"status": "acknowledged", "agency_responsible": "kommunen"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let pub_view = srv.get(&format!("/open311/v2/requests/{lamp}.json")).json();
    assert_eq!(pub_view[0]["status"], "open");
    assert_eq!(pub_view[0]["agency_responsible"], "kommunen");
    assert_eq!(pub_view[0]["status_notes"], "Bekräftad av kommunen");
    let ext = srv
        .get(&format!("/open311/v2/requests/{lamp}.json?extensions=true"))
        .json();
    assert_eq!(
        ext[0]["extended_attributes"]["detailed_status"],
        "acknowledged"
    );
    assert_eq!(
        patch(
            &lamp,
            json!({"status": "in_progress", "status_notes": "Entreprenör beställd"})
        )
        .status,
        200
    );
    assert_open_status_error(
        &patch(&lamp, json!({"agency_responsible": "brandkåren"})),
        400,
    );
    // Closing needs a reason.
    let no_reason = patch(&lamp, json!({"status": "closed"}));
    assert_eq!(no_reason.status, 400);
    assert!(no_reason.body.contains("reason"), "{}", no_reason.body);

    // The lamp is off in the snapshot until the report is closed.
    let lamp_off = |srv: &Server| {
        srv.state
            .spatial
            .load()
            .reports
            .items
            .iter()
            .any(|r| r.keeps_lamp_off() && r.lamp_id.as_deref() == Some(LAMP_ID))
    };
    assert!(lamp_off(&srv));
    // The duplicate is merged into the first (and closed by that).
    let m = patch(
        &dup,
        json!({"merged_into": lamp.parse::<i64>().unwrap(), "reason": "Samma lampa"}),
    );
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.json()["status"], "closed");
    assert_eq!(m.json()["merged_into"].to_string(), lamp);
    assert_eq!(
        patch(&dup, json!({"merged_into": dup.parse::<i64>().unwrap()})).status,
        409
    );
    assert_eq!(patch(&lamp, json!({"merged_into": 99999})).status, 404);
    assert!(lamp_off(&srv), "the first report still keeps it off");
    let closed = patch(&lamp, json!({"status": "closed", "reason": "Lampan bytt"}));
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert!(
        !lamp_off(&srv),
        "closing the broken-lamp report turns the lamp back on"
    );

    // Hiding abusive text: the public sees no description, the coordinator still does.
    assert_eq!(
        patch(&rude, json!({"hidden": true, "reason": "Kränkande"})).status,
        200
    );
    let p = srv.get(&format!("/open311/v2/requests/{rude}.json")).json();
    assert_eq!(p[0]["description"], "");
    let px = srv.get("/open311/v2/requests.xml");
    assert!(!px.body.contains("Ovårdat språk"));
    let c = srv
        .get_auth(&format!("/api/v1/reports/{rude}"), &coordinator)
        .json();
    assert_eq!(c["description"], "Ovårdat språk som ska döljas");
    assert_eq!(c["hidden"], true);

    // The history: who, when, what.
    let h = srv
        .get_auth(&format!("/api/v1/reports/{lamp}"), &coordinator)
        .json();
    let hist = h["history"].as_array().unwrap();
    let actions: Vec<&str> = hist.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "created",
            "status",
            "agency_responsible",
            "status",
            "status_notes",
            "status"
        ]
    );
    for e in &hist[1..] {
        assert_eq!(e["actor"], format!("token:{token_id}"));
        assert_eq!(e["role"], "coordinator");
        assert!(chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).is_ok());
    }
    assert_eq!(hist[1]["detail"]["from"], "open");
    assert_eq!(hist[1]["detail"]["to"], "acknowledged");
    assert_eq!(hist[5]["detail"]["to"], "closed");
    assert_eq!(hist[5]["detail"]["reason"], "Lampan bytt");
    let hd = srv
        .get_auth(&format!("/api/v1/reports/{dup}"), &coordinator)
        .json();
    let dup_actions: Vec<&str> = hd["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(dup_actions, ["created", "merged", "status", "status_notes"]);
}

fn assert_open_status_error(a: &Answer, status: u16) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(a.json()["error"].is_string());
}

#[test]
fn openapi_paths_cover_every_endpoint() {
    // The document is derived from the routes; each path below is the one a client calls.
    let doc = lagesbild::api::openapi_document();
    let paths = &doc["paths"];
    for (p, method) in [
        ("/open311/v2/services.{format}", "get"),
        ("/open311/v2/services/{file}", "get"),
        ("/open311/v2/requests.{format}", "get"),
        ("/open311/v2/requests.{format}", "post"),
        ("/open311/v2/requests/{file}", "get"),
        ("/open311/v2/tokens/{file}", "get"),
        ("/open311/v2/discovery.{format}", "get"),
        ("/api/v1/me", "get"),
        ("/api/v1/reports", "get"),
        ("/api/v1/reports/{id}", "get"),
        ("/api/v1/reports/{id}", "patch"),
    ] {
        assert!(paths[p][method].is_object(), "{method} {p}");
    }
    // The request schema names the specification's fields.
    let request = &doc["components"]["schemas"]["Request"]["properties"];
    for f in REQUEST_FIELDS {
        assert!(request[f].is_object(), "Request.{f}");
    }
    // Contact details are in the coordinators' schema only.
    let coordinator = &doc["components"]["schemas"]["CoordinatorReport"]["properties"];
    assert!(coordinator["contact"].is_object());
    assert!(request["contact"].is_null());
    let form = &doc["paths"]["/open311/v2/requests.{format}"]["post"]["requestBody"]["content"];
    assert!(
        form["application/x-www-form-urlencoded"].is_object(),
        "{form}"
    );
}

/// Parses an Open311 XML answer strictly and returns the direct children of each `<request>` as
/// (element, text). Every character must be an XML 1.0 `Char` (the production is written out
/// here, apart from the server's own check), tags must nest and close by name, entities must be
/// the predefined ones.
fn strict_xml_requests(body: &str) -> Vec<std::collections::HashMap<String, String>> {
    use quick_xml::events::Event;
    for (i, c) in body.chars().enumerate() {
        let ok = matches!(u32::from(c), 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
        assert!(
            ok,
            "character {i} (U+{:04X}) is not an XML Char",
            u32::from(c)
        );
    }
    let mut reader = quick_xml::Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut requests = Vec::new();
    let mut current = std::collections::HashMap::new();
    let mut text = String::new();
    let name_of = |raw: &[u8]| String::from_utf8(raw.to_vec()).expect("UTF-8 element name");
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed: {e}: {body}"))
        {
            Event::Decl(_) => assert!(stack.is_empty() && roots == 0),
            Event::Start(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                stack.push(name_of(e.name().as_ref()));
                text.clear();
            }
            Event::Empty(e) => {
                if stack.len() == 2 {
                    current.insert(name_of(e.name().as_ref()), String::new());
                }
            }
            Event::Text(t) => text.push_str(&t.xml_content().expect("UTF-8 text")),
            Event::GeneralRef(r) => {
                let name = r.decode().expect("UTF-8 entity");
                let c = match name.as_ref() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => r
                        .resolve_char_ref()
                        .expect("valid character reference")
                        .unwrap_or_else(|| panic!("undefined entity &{name};")),
                };
                text.push(c);
            }
            Event::End(e) => {
                let name = name_of(e.name().as_ref());
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()));
                if stack.len() == 2 {
                    current.insert(name, std::mem::take(&mut text));
                } else if stack.len() == 1 && name == "request" {
                    requests.push(std::mem::take(&mut current));
                }
            }
            Event::Eof => break,
            other => panic!("unexpected XML event {other:?} in {body}"),
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    assert_eq!(roots, 1, "one root element");
    requests
}

#[test]
fn characters_xml_cannot_carry_never_reach_requests_xml() {
    let srv = start(0);
    let coordinator = srv.token(Role::Coordinator);
    let (lat, long) = near_lamp();
    let good: Vec<(String, &str)> = vec![
        (
            srv.submit(&[
                ("service_code", "dark_path"),
                ("lat", &lat),
                ("long", &long),
                (
                    "description",
                    "Mörkt & <otryggt> vid tunneln\nrad två\tmed tab",
                ),
            ]),
            "Mörkt & <otryggt> vid tunneln\nrad två\tmed tab",
        ),
        (
            srv.submit(&[
                ("service_code", "broken_lamp"),
                ("lat", &lat),
                ("long", &long),
                ("description", "Lampan lyser inte"),
                ("attribute[lamp_ref]", "L1"),
            ]),
            "Lampan lyser inte",
        ),
    ];
    let bad_chars = ['\u{B}', '\u{1}', '\0', '\u{FFFE}', '\u{FFFF}'];
    for c in bad_chars {
        let code = format!("U+{:04X}", u32::from(c));
        // "Lampan är trasig" is 16 characters: the bad one is at position 17.
        let text = format!("Lampan är trasig{c}, igen");
        let a = srv.post_form(
            "/open311/v2/requests.json",
            &[
                ("service_code", "other"),
                ("lat", &lat),
                ("long", &long),
                ("description", &text),
            ],
        );
        assert_open311_error(
            &a,
            400,
            &format!("description contains {code} at position 17"),
        );
        let named = format!("An{c}na");
        for (field, form) in [
            (
                "first_name",
                vec![
                    ("service_code", "other"),
                    ("lat", lat.as_str()),
                    ("long", long.as_str()),
                    ("first_name", named.as_str()),
                ],
            ),
            (
                "address_string",
                vec![
                    ("service_code", "other"),
                    ("address_string", named.as_str()),
                ],
            ),
            (
                "attribute[lamp_ref]",
                vec![
                    ("service_code", "broken_lamp"),
                    ("lat", lat.as_str()),
                    ("long", long.as_str()),
                    ("attribute[lamp_ref]", named.as_str()),
                ],
            ),
        ] {
            let x = srv.post_form("/open311/v2/requests.xml", &form);
            assert_eq!(x.status, 400, "{field} {code}: {}", x.body);
            // The error document itself is well-formed and names the field and the character.
            assert!(strict_xml_requests(&x.body).is_empty());
            assert!(
                x.body
                    .contains(&format!("{field} contains {code} at position 3")),
                "{}",
                x.body
            );
        }
        for field in ["status_notes", "reason"] {
            let p = srv.patch_json(
                &format!("/api/v1/reports/{}", good[0].0),
                Some(&coordinator),
                json!({"status": "closed", field: format!("Klart{c}")}),
            );
            assert_eq!(p.status, 400, "{field} {code}: {}", p.body);
            let msg = p.json()["error"].as_str().unwrap().to_string();
            assert!(
                msg.contains(&format!("{field} contains {code} at position 6")),
                "{msg}"
            );
        }
    }
    // Nothing of that was stored or changed.
    let listed = srv.get("/open311/v2/requests.json").json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "open")
    );

    // A row stored before the check (written here straight into the file) cannot break the
    // document either: what XML cannot carry is shown as U+FFFD.
    let old = srv.submit(&[
        ("service_code", "other"),
        ("lat", &lat),
        ("long", &long),
        ("description", "gammal rad"),
    ]);
    srv.rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", srv.db))
            .await
            .unwrap();
        sqlx::query(
            "UPDATE reports SET description = ?, status_notes = ?, address = ?, attributes = ? WHERE id = ?",
        )
        .bind("före\u{B}\u{0}efter")
        .bind("not\u{FFFE}")
        .bind("Gata\u{1}1")
        .bind(r#"{"lamp_ref":"L\u0002"}"#)
        .bind(old.parse::<i64>().unwrap())
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
    for path in [
        "/open311/v2/requests.xml",
        "/open311/v2/requests.xml?extensions=true",
    ] {
        let x = srv.get(path);
        assert_eq!(x.status, 200);
        let requests = strict_xml_requests(&x.body);
        let by_id = |id: &str| {
            requests
                .iter()
                .find(|r| r["service_request_id"] == id)
                .unwrap_or_else(|| panic!("request {id} missing in {path}"))
        };
        assert_eq!(requests.len(), 3, "{path}");
        for (id, text) in &good {
            assert_eq!(by_id(id)["description"], *text);
        }
        let o = by_id(&old);
        assert_eq!(o["description"], "före\u{FFFD}\u{FFFD}efter");
        assert_eq!(o["status_notes"], "not\u{FFFD}");
        assert_eq!(o["address"], "Gata\u{FFFD}1");
        if path.contains("extensions") {
            assert!(x.body.contains("<value>L\u{FFFD}</value>"), "{}", x.body);
        }
    }
    let one = srv.get(&format!("/open311/v2/requests/{old}.xml"));
    assert_eq!(strict_xml_requests(&one.body).len(), 1);
}

/// Asks `/api/v1/reports` with `token` until it answers 401, for at most `limit` after `since`;
/// returns how long it took.
fn until_unauthorized(
    srv: &Server,
    token: &str,
    since: std::time::Instant,
    limit: std::time::Duration,
) -> std::time::Duration {
    loop {
        let status = srv.get_auth("/api/v1/reports", token).status;
        if status == 401 {
            return since.elapsed();
        }
        assert_eq!(status, 200);
        assert!(
            since.elapsed() < limit,
            "the revoked token still worked after {:?}",
            since.elapsed()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_revoked_token_stops_working_within_a_second_whoever_revokes_it() {
    let srv = start(0);
    let first = srv.token(Role::Coordinator);
    let second = srv.token(Role::Coordinator);
    let id = |t: &str| t.split('_').nth(1).unwrap().to_string();
    // Both work, and are remembered as verified (the second request of each is a cache hit).
    for t in [&first, &second, &first, &second] {
        assert_eq!(srv.get_auth("/api/v1/reports", t).status, 200);
    }
    let limit = std::time::Duration::from_secs(1);

    // Revoked through a second connection pool on the same file, as another server would.
    srv.rt.block_on(async {
        let other = lagesbild::store::open(&srv.db).await.unwrap();
        assert!(other.revoke_token(&id(&first)).await.unwrap());
    });
    let took = until_unauthorized(&srv, &first, std::time::Instant::now(), limit);
    eprintln!("revocation through another connection seen after {took:?}");
    assert_eq!(srv.get_auth("/api/v1/reports", &second).status, 200);

    // Revoked by the command line, in another process.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .args(["--db", &srv.db, "token", "revoke", &id(&second)])
        .output()
        .unwrap();
    let revoked_at = std::time::Instant::now();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = until_unauthorized(&srv, &second, revoked_at, limit);
    eprintln!("revocation by `lagesbild token revoke` seen after {took:?}");

    // They stay revoked; a token created afterwards works.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(srv.get_auth("/api/v1/reports", &first).status, 401);
    assert_eq!(srv.get_auth("/api/v1/reports", &second).status, 401);
    let third = srv.token(Role::Coordinator);
    assert_eq!(srv.get_auth("/api/v1/reports", &third).status, 200);
}

fn submit_from(srv: &Server, xff: Option<&str>, text: &str) -> u16 {
    let (lat, long) = near_lamp();
    let form = [
        ("service_code", "other"),
        ("lat", lat.as_str()),
        ("long", long.as_str()),
        ("description", text),
    ];
    match xff {
        Some(v) => srv.post_form_with("/open311/v2/requests.json", ("X-Forwarded-For", v), &form),
        None => srv.post_form("/open311/v2/requests.json", &form),
    }
    .status
}

#[test]
fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let srv = start(2);
    assert_eq!(submit_from(&srv, Some("198.51.100.1"), "ett"), 200);
    assert_eq!(submit_from(&srv, Some("198.51.100.2"), "två"), 200);
    // The bucket of the socket's address (127.0.0.1) is empty, whatever the header claims.
    assert_eq!(submit_from(&srv, Some("198.51.100.3"), "tre"), 429);
    assert_eq!(
        submit_from(&srv, Some("203.0.113.77, 198.51.100.4"), "fyra"),
        429
    );
    assert_eq!(submit_from(&srv, None, "fem"), 429);
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let srv = start_with(2, |c| {
        c.trusted_proxies = lagesbild::api::client::TrustedProxies::parse(&["127.0.0.1"]).unwrap();
    });
    let a = "198.51.100.1";
    let b = "198.51.100.2";
    assert_eq!(submit_from(&srv, Some(a), "a1"), 200);
    assert_eq!(submit_from(&srv, Some(a), "a2"), 200);
    assert_eq!(submit_from(&srv, Some(a), "a3"), 429);
    // Another client behind the same proxy is not held back by the first.
    assert_eq!(submit_from(&srv, Some(b), "b1"), 200);
    assert_eq!(submit_from(&srv, Some(b), "b2"), 200);
    // A client cannot escape its bucket by writing an address in front: the proxy appends the
    // real one, and the right-most untrusted address counts.
    assert_eq!(
        submit_from(&srv, Some(&format!("203.0.113.9, {a}")), "a4"),
        429
    );
    // The proxy's own bucket (no header) is a third one.
    assert_eq!(submit_from(&srv, None, "p1"), 200);

    // The duplicate guard keys on the same address: the same text from two clients is two
    // reports, from one client twice is one.
    let srv = start_with(0, |c| {
        c.trusted_proxies =
            lagesbild::api::client::TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
    });
    let (lat, long) = near_lamp();
    let form = [
        ("service_code", "other"),
        ("lat", lat.as_str()),
        ("long", long.as_str()),
        ("description", "Samma text"),
    ];
    let id_from = |xff: &str| {
        let r = srv.post_form_with("/open311/v2/requests.json", ("X-Forwarded-For", xff), &form);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()[0]["service_request_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = id_from(a);
    assert_eq!(id_from(a), first);
    assert_ne!(id_from(b), first);
}

/// Changes a report's description straight in the SQLite file, behind the server's back. The
/// server's snapshot learns of it only when it reads the reports from the store again, so it
/// tells a publish that reloaded the report layer from one that merged the committed change into
/// the layer it had.
fn rewrite_behind_the_server(srv: &Server, id: &str, description: &str) {
    srv.rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", srv.db))
            .await
            .unwrap();
        let done = sqlx::query("UPDATE reports SET description = ? WHERE id = ?")
            .bind(description)
            .bind(id.parse::<i64>().unwrap())
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        pool.close().await;
    });
}

/// Citizens (Open311) and coordinators (`PATCH /api/v1/reports/{id}`) publish through one
/// publisher: each publish after the other's builds the report layer from the one in memory (one
/// new snapshot version, the queued change merged in) instead of treating the other's snapshot
/// as foreign and reading every report from the store again.
#[test]
fn citizen_and_coordinator_changes_publish_incrementally_through_one_publisher() {
    let srv = start(0);
    let coordinator = srv.token(Role::Coordinator);
    let (lat, long) = near_lamp();
    let bystander = srv.submit(&[
        ("service_code", "dark_path"),
        ("lat", &lat),
        ("long", &long),
        ("description", "Mörkt vid bron"),
    ]);
    let lamp = srv.submit(&[
        ("service_code", "broken_lamp"),
        ("lat", &lat),
        ("long", &long),
        ("description", "Lampan är släckt"),
    ]);
    let snapshot = || srv.state.spatial.load();
    let report = |id: &str| {
        let id: i64 = id.parse().unwrap();
        snapshot()
            .reports
            .items
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("report {id} is not in the snapshot"))
    };
    assert_eq!(report(&bystander).description, "Mörkt vid bron");

    // Citizen, then coordinator.
    rewrite_behind_the_server(&srv, &bystander, "ändrad utanför servern 1");
    let before = snapshot().version;
    let a = srv.patch_json(
        &format!("/api/v1/reports/{lamp}"),
        Some(&coordinator),
        json!({"status": "acknowledged"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        snapshot().version,
        before + 1,
        "one publish, no full reload"
    );
    assert_eq!(
        report(&lamp).status,
        lagesbild::model::ReportStatus::Acknowledged,
        "the coordinator's change is published before the answer"
    );
    assert_eq!(
        report(&bystander).description,
        "Mörkt vid bron",
        "the coordinator's publish read the reports from the store again"
    );

    // Coordinator, then citizen.
    rewrite_behind_the_server(&srv, &bystander, "ändrad utanför servern 2");
    let before = snapshot().version;
    let third = srv.submit(&[
        ("service_code", "vegetation"),
        ("lat", &lat),
        ("long", &long),
        ("description", "Buskarna skymmer lampan"),
    ]);
    assert_eq!(
        snapshot().version,
        before + 1,
        "one publish, no full reload"
    );
    assert_eq!(report(&third).description, "Buskarna skymmer lampan");
    assert_eq!(
        report(&lamp).status,
        lagesbild::model::ReportStatus::Acknowledged
    );
    assert_eq!(
        report(&bystander).description,
        "Mörkt vid bron",
        "the citizen's publish read the reports from the store again"
    );

    // The store, read again (as after an import), has what was written behind the server.
    srv.rt
        .block_on(srv.state.spatial.reload(srv.state.store.as_ref()))
        .unwrap();
    assert_eq!(report(&bystander).description, "ändrad utanför servern 2");
}
