//! `/api/openapi.json` against the router it describes, on a real server: every documented
//! operation is answered by a route (not axum's bare 404/405), every API path the web app calls
//! is documented, and the derived parts carry the parameters of their query types.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{TestServer, http};

/// `{name}` segments filled with a value a route accepts.
fn concrete(path: &str) -> String {
    path.replace("{format}", "json")
        .replace("{id}", "1")
        .replace("{service_request_id}", "1")
        .replace("{service_code}", "streetlight")
        .replace("{token}", "1")
        .replace("{file}", "1.json")
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_operation_ids_are_unique() {
    let doc = lagesbild::api::openapi_document();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "{} references", all.len());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} is not a schema reference"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} does not resolve"
        );
    }
    let mut ids = BTreeSet::new();
    for ops in doc["paths"].as_object().unwrap().values() {
        for op in ops.as_object().unwrap().values() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(ids.insert(id.to_string()), "operationId {id} twice");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_has_a_route() {
    let srv = TestServer::start().await;
    let (status, _, body) = http("GET", srv.url("/api/openapi.json"), None, None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    // The predicate below must tell a missing route: a path nobody serves.
    let (s404, h404, b404) = http("GET", srv.url("/api/v1/no-such-route"), None, None).await;
    let typed404 = h404
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && !v.is_empty());
    assert!(
        s404 == 404 && b404.is_empty() && !typed404,
        "{s404} {h404:?}"
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{} paths", paths.len());
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let m: &'static str = match method.as_str() {
                "get" => "GET",
                "post" => "POST",
                "patch" => "PATCH",
                _ => continue,
            };
            let body = (m != "GET").then(|| ("application/json".to_string(), b"{}".to_vec()));
            let (status, headers, bytes) = http(m, srv.url(&concrete(path)), body, None).await;
            // axum answers a path without a route with an empty 404 and a method without one
            // with 405; handlers' own 404s carry a JSON or XML body.
            assert_ne!(status, 405, "{m} {path}: no such method on the route");
            let typed = headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && !v.is_empty());
            assert!(
                !(status == 404 && bytes.is_empty() && !typed),
                "{m} {path}: no route"
            );
        }
    }
}

#[test]
fn the_web_apps_api_calls_are_documented() {
    let doc = lagesbild::api::openapi_document();
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let dir = crate::support::root().join("web/js");
    let mut called = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (i, _) in text.match_indices("/api/v1/") {
            let rest = &text[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "/.-_".contains(c)))
                .unwrap_or(rest.len());
            let p = rest[..end].trim_end_matches(['/', '.']);
            if p.len() > "/api/v1/".len() {
                called.insert(p.to_string());
            }
        }
    }
    assert!(called.contains("/api/v1/hotspots"), "{called:?}");
    for p in &called {
        let ok = documented.contains(p)
            || documented
                .iter()
                .any(|d| d.starts_with(&format!("{p}/")) || d.starts_with(&format!("{p}.")));
        assert!(
            ok,
            "the web app calls {p}, which /api/openapi.json does not describe"
        );
    }
}

#[test]
fn derived_operations_document_their_query_types() {
    let doc = lagesbild::api::openapi_document();
    let names = |path: &str| -> BTreeSet<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has no parameters"))
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let hotspots = names("/api/v1/hotspots");
    for p in [
        "method",
        "from",
        "to",
        "groups",
        "hours",
        "area",
        "eps",
        "cell",
        "band",
        "bandwidth",
    ] {
        assert!(hotspots.contains(p), "{p} missing from /api/v1/hotspots");
    }
    // The comparison has periods of its own: from/to are neither documented nor accepted.
    let compare = names("/api/v1/hotspots/compare");
    assert!(compare.contains("a_from") && compare.contains("b_to"));
    assert!(!compare.contains("from") && !compare.contains("to"));
    // Answers are typed: the hotspot answer names its shapes.
    let schema = &doc["paths"]["/api/v1/hotspots"]["get"]["responses"]["200"];
    assert!(schema.to_string().contains("oneOf"), "{schema}");
}
