//! OGC API – Features at `/ogc`, read by the outside clients GIS staff use: GDAL's OAPIF driver
//! (what QGIS's OGC API provider rests on; Debian's `gdal-bin`), OWSLib (`owslib.ogcapi.features`
//! from PyPI) and `openapi-spec-validator` on the OpenAPI 3.0 document. `scripts/setup.sh
//! --browser`, which the test command runs first, installs them (the Python ones in
//! `~/.cache/lagesbild/gis-venv`, or `LAGESBILD_GIS_PYTHON`).
//!
//! The data is planted at known EPSG:3006 positions: 250 unlit walkways of 40 m on a 100 m grid
//! (cut into pieces of at most 20 m), five lamps far away, six incidents one a month and a citizen report
//! with contact fields. Expected coordinates come from the planted values and from GDAL's own
//! transformations, never from the server.

use std::collections::BTreeSet;
use std::process::Command;

use geo::{LineString, MultiPolygon, Point, Polygon, coord};
use lagesbild::model::{
    Area, CategoryGroup, Incident, Lamp, LampStatus, LocationPrecision, Role, TimePrecision,
    Walkway,
};
use serde_json::Value;

use crate::support::{TestServer, get_json, gis_python, http};

const X0: f64 = 674_000.0;
const Y0: f64 = 6_593_000.0;
const ROWS: i64 = 10;
const COLS: i64 = 25;

fn way_id(r: i64, c: i64) -> i64 {
    1000 + r * 100 + c
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e}; scripts/setup.sh --browser installs it")
    });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn seed(store: &dyn lagesbild::store::Store) {
    let mut ways = Vec::new();
    for r in 0..ROWS {
        for c in 0..COLS {
            let (x, y) = (X0 + 100.0 * c as f64, Y0 + 100.0 * r as f64);
            ways.push(Walkway {
                id: way_id(r, c),
                geometry: LineString(vec![coord! {x: x, y: y}, coord! {x: x + 40.0, y: y}]),
                kind: "footway".into(),
                lit: Some("no".into()),
                name: Some(format!("Stig {r}-{c}")),
            });
        }
    }
    let lamps: Vec<Lamp> = (0..5)
        .map(|k| Lamp {
            id: format!("test:L{k}"),
            location: Point::new(X0 - 2000.0 + 10.0 * f64::from(k), Y0),
            height_m: Some(5.0),
            lumen: Some(3000.0),
            watt: None,
            status: LampStatus::Working,
            source: "test".into(),
            reference: None,
        })
        .collect();
    let square = Polygon::new(
        LineString(vec![
            coord! {x: X0 - 100.0, y: Y0 - 100.0},
            coord! {x: X0 + 2600.0, y: Y0 - 100.0},
            coord! {x: X0 + 2600.0, y: Y0 + 1100.0},
            coord! {x: X0 - 100.0, y: Y0 + 1100.0},
            coord! {x: X0 - 100.0, y: Y0 - 100.0},
        ]),
        vec![],
    );
    let area = Area {
        id: 1,
        name: "Provområdet".into(),
        geometry: MultiPolygon(vec![square]),
        source: "test".into(),
    };
    let incidents: Vec<Incident> = (1..=6)
        .map(|m| Incident {
            source: "t".into(),
            source_id: format!("m{m}"),
            occurred_at: chrono::DateTime::parse_from_rfc3339(&format!(
                "2026-{m:02}-15T12:00:00+01:00"
            ))
            .unwrap(),
            time_precision: TimePrecision::Exact,
            occurred_to: None,
            category: "assault".into(),
            group: CategoryGroup::Violence,
            label: "Misshandel".into(),
            location: Point::new(X0 + 10.0 * f64::from(m), Y0 + 5.0),
            precision: LocationPrecision::Exact,
            place: None,
            summary: None,
        })
        .collect();
    store.upsert_walkways(&ways).await.unwrap();
    store.upsert_lamps(&lamps).await.unwrap();
    store.upsert_areas(&[area]).await.unwrap();
    store.upsert_incidents(&incidents).await.unwrap();
}

/// The walkway ids the EPSG:3006 box `[e0, n0, e1, n1]` meets, from the planted geometry.
fn planted_in(e0: f64, n0: f64, e1: f64, n1: f64) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    for r in 0..ROWS {
        for c in 0..COLS {
            let (x, y) = (X0 + 100.0 * c as f64, Y0 + 100.0 * r as f64);
            if x <= e1 && x + 40.0 >= e0 && y >= n0 && y <= n1 {
                out.insert(way_id(r, c));
            }
        }
    }
    out
}

/// `lon lat` of EPSG:3006 `e n` by GDAL's `gdaltransform`.
fn gdal_lonlat(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    crate::support::gdaltransform(points, "OGC:CRS84")
}

/// The walkway ids of a GeoJSON file's pieces.
fn way_ids(features: &[Value]) -> BTreeSet<i64> {
    features
        .iter()
        .map(|f| f["properties"]["walkway_id"].as_i64().unwrap())
        .collect()
}

fn read_geojson(path: &std::path::Path) -> Vec<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["features"].as_array().unwrap().clone()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every page of `url` through its `next` links: (features, pages).
async fn all_pages(mut url: String, token: Option<String>) -> (Vec<Value>, usize) {
    let mut features = Vec::new();
    let mut pages = 0;
    loop {
        let (status, v) = get_json(url.clone(), token.clone()).await;
        assert_eq!(status, 200, "{url}: {v}");
        pages += 1;
        features.extend(v["features"].as_array().unwrap().iter().cloned());
        assert_eq!(
            v["numberReturned"].as_u64().unwrap() as usize,
            v["features"].as_array().unwrap().len()
        );
        match v["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
        {
            Some(l) => url = l["href"].as_str().unwrap().to_string(),
            None => break,
        }
        assert!(pages < 100, "runaway paging");
    }
    (features, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_reads_every_collection_pages_boxes_and_reprojects() {
    let s = TestServer::seeded(|_| {}, async |store| seed(store).await).await;
    let ogc = format!("OAPIF:{}", s.url("/ogc"));
    let work = tempfile::tempdir().unwrap();

    // A citizen's report with contact fields: the collection must not carry them.
    let (lon, lat) = gdal_lonlat(&[(X0 + 20.0, Y0 + 100.0)])[0];
    let form = format!(
        "service_code=dark_path&lat={lat}&long={lon}&description=M%C3%B6rkt%20h%C3%A4r&email=anna%40example.se&phone=0701234567&first_name=Anna&last_name=Svensson"
    );
    let (st, _, body) = http(
        "POST",
        s.url("/open311/v2/requests.json"),
        Some((
            "application/x-www-form-urlencoded".into(),
            form.into_bytes(),
        )),
        None,
    )
    .await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));

    // The public layer list: no incidents, no measures.
    let (ok, out, err) = run(Command::new("ogrinfo").args(["-ro", "-q", &ogc]));
    assert!(ok, "{err}");
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(_, r)| r.split(' ').next().unwrap())
        })
        .collect();
    assert_eq!(
        names,
        [
            "walkways",
            "lamps",
            "stretches",
            "hotspots",
            "reports",
            "districts"
        ],
        "{out}"
    );

    // Every collection through ogr2ogr, paging in pages of 37 (GDAL follows the next links).
    let expected: [(&str, usize); 4] = [
        ("lamps", 5),
        ("reports", 1),
        ("districts", 1),
        // One unlit walkway of 40 m without a lamp in reach is one stretch.
        ("stretches", (ROWS * COLS) as usize),
    ];
    for (layer, n) in expected {
        let out = work.path().join(format!("{layer}.geojson"));
        let (ok, _, err) = run(Command::new("ogr2ogr").args([
            "-f",
            "GeoJSON",
            out.to_str().unwrap(),
            &ogc,
            layer,
            "-oo",
            "PAGE_SIZE=37",
        ]));
        assert!(ok, "{layer}: {err}");
        assert_eq!(read_geojson(&out).len(), n, "{layer}");
    }
    // The walkways in pieces of at most 20 m: every planted walkway, its pieces tiling its
    // 40 m from 0 to the end without gap or overlap, as many as the server says it has.
    let walkways = work.path().join("walkways.geojson");
    let (ok, _, err) = run(Command::new("ogr2ogr").args([
        "-f",
        "GeoJSON",
        walkways.to_str().unwrap(),
        &ogc,
        "walkways",
        "-oo",
        "PAGE_SIZE=37",
    ]));
    assert!(ok, "{err}");
    let walk = read_geojson(&walkways);
    let all: BTreeSet<i64> = (0..ROWS)
        .flat_map(|r| (0..COLS).map(move |c| way_id(r, c)))
        .collect();
    assert_eq!(way_ids(&walk), all);
    let mut spans: std::collections::BTreeMap<i64, Vec<(f64, f64)>> = Default::default();
    for f in &walk {
        let p = &f["properties"];
        spans
            .entry(p["walkway_id"].as_i64().unwrap())
            .or_default()
            .push((p["from_m"].as_f64().unwrap(), p["to_m"].as_f64().unwrap()));
    }
    for (id, mut v) in spans {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(v.len() >= 2, "{id}: {v:?}");
        assert_eq!(v[0].0, 0.0, "{id}");
        assert_eq!(v.last().unwrap().1, 40.0, "{id}");
        for w in v.windows(2) {
            assert_eq!(w[0].1, w[1].0, "{id}: {v:?}");
        }
        assert!(v.iter().all(|(a, b)| b - a <= 20.0 + 1e-9), "{id}: {v:?}");
    }
    let (_, page) = get_json(s.url("/ogc/collections/walkways/items?limit=1"), None).await;
    let pieces = walk.len();
    assert_eq!(page["numberMatched"].as_u64().unwrap() as usize, pieces);
    let report = &read_geojson(&work.path().join("reports.geojson"))[0]["properties"];
    let text = report.to_string();
    for secret in [
        "anna@example.se",
        "0701234567",
        "Svensson",
        "email",
        "phone",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(report["description"], "Mörkt här");
    // The hot spot cells: exactly the anonymous Gi* answer's (so no more than the public map).
    let hot = work.path().join("hotspots.geojson");
    let (ok, _, err) = run(Command::new("ogr2ogr").args([
        "-f",
        "GeoJSON",
        hot.to_str().unwrap(),
        &ogc,
        "hotspots",
    ]));
    assert!(ok, "{err}");
    let (st, public) = get_json(s.url("/api/v1/hotspots?method=gistar"), None).await;
    assert_eq!(st, 200);
    let cells = |fs: &[Value]| -> BTreeSet<String> {
        fs.iter()
            .map(|f| {
                let p = &f["properties"];
                // GDAL types a field by the first features it reads: the count, null there
                // (below k), comes back as text.
                let count = match &p["count"] {
                    Value::String(t) => t.clone(),
                    other => other.to_string(),
                };
                format!("{} {count} {} {}", p["cell"], p["neighbours"], p["bin"])
            })
            .collect()
    };
    assert_eq!(
        cells(&read_geojson(&hot)),
        cells(public["features"].as_array().unwrap())
    );

    // A bbox: the EPSG:3006 box E X0+170 … X0+470, N Y0+150 … Y0+450 meets walkway columns 2–4
    // of rows 2–4 (30 m and more from every other), given to GDAL as the CRS84 envelope of its
    // corners as GDAL transforms them.
    let (e0, n0, e1, n1) = (X0 + 170.0, Y0 + 150.0, X0 + 470.0, Y0 + 450.0);
    let corners = gdal_lonlat(&[(e0, n0), (e1, n0), (e0, n1), (e1, n1)]);
    let lon0 = corners.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
    let lon1 = corners
        .iter()
        .map(|c| c.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let lat0 = corners.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    let lat1 = corners
        .iter()
        .map(|c| c.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let want = planted_in(e0, n0, e1, n1);
    assert_eq!(want.len(), 9);
    let boxed = work.path().join("boxed.geojson");
    let (ok, _, err) = run(Command::new("ogr2ogr").args([
        "-f",
        "GeoJSON",
        boxed.to_str().unwrap(),
        &ogc,
        "walkways",
        "-spat",
        &lon0.to_string(),
        &lat0.to_string(),
        &lon1.to_string(),
        &lat1.to_string(),
    ]));
    assert!(ok, "{err}");
    assert_eq!(way_ids(&read_geojson(&boxed)), want);
    // The same box in EPSG:3006 (northing first), through the API directly.
    let (st, v) = get_json(
        s.url(&format!(
            "/ogc/collections/walkways/items?bbox={n0},{e0},{n1},{e1}&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3006"
        )),
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(way_ids(v["features"].as_array().unwrap()), want);

    // EPSG:3006 by GDAL's reprojection of the CRS84 items: the planted metres back.
    let sweref = work.path().join("sweref.geojson");
    let (ok, _, err) = run(Command::new("ogr2ogr").args([
        "-f",
        "GeoJSON",
        "-t_srs",
        "EPSG:3006",
        "-lco",
        "COORDINATE_PRECISION=3",
        sweref.to_str().unwrap(),
        &ogc,
        "walkways",
    ]));
    assert!(ok, "{err}");
    for f in read_geojson(&sweref) {
        let id = f["properties"]["walkway_id"].as_i64().unwrap();
        let from = f["properties"]["from_m"].as_f64().unwrap();
        let (r, c) = ((id - 1000) / 100, (id - 1000) % 100);
        let p = &f["geometry"]["coordinates"][0];
        let (e, n) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        let (we, wn) = (X0 + 100.0 * c as f64 + from, Y0 + 100.0 * r as f64);
        assert!(
            (e - we).abs() < 0.03 && (n - wn).abs() < 0.03,
            "{id}: {e} {n} vs {we} {wn}"
        );
    }

    // EPSG:3006 from the server (`crs`), northing first, with Content-Crs; pages of 100 with
    // next and prev links.
    let crs = "http://www.opengis.net/def/crs/EPSG/0/3006";
    let first = s.url(&format!(
        "/ogc/collections/walkways/items?limit=100&crs={crs}"
    ));
    let (st, headers, _) = http("GET", first.clone(), None, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        header(&headers, "content-crs"),
        Some(format!("<{crs}>").as_str())
    );
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/geo+json")
    );
    let (features, pages) = all_pages(first, None).await;
    assert_eq!((features.len(), pages), (pieces, pieces.div_ceil(100)));
    for f in &features {
        let id = f["properties"]["walkway_id"].as_i64().unwrap();
        let from = f["properties"]["from_m"].as_f64().unwrap();
        let (r, c) = ((id - 1000) / 100, (id - 1000) % 100);
        let p = &f["geometry"]["coordinates"][0];
        let (n, e) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        let (we, wn) = (X0 + 100.0 * c as f64 + from, Y0 + 100.0 * r as f64);
        assert!(
            (e - we).abs() < 0.03 && (n - wn).abs() < 0.03,
            "{id}: {n} {e}"
        );
    }
    let (_, last) = get_json(
        s.url(&format!(
            "/ogc/collections/walkways/items?limit=100&offset={}&crs={crs}",
            pieces - 1
        )),
        None,
    )
    .await;
    let rels: Vec<&str> = last["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert!(
        rels.contains(&"prev") && !rels.contains(&"next"),
        "{rels:?}"
    );
    assert_eq!(last["numberMatched"].as_u64().unwrap() as usize, pieces);
    assert_eq!(last["numberReturned"], 1);

    // One item by its id, in both CRSs.
    let (st, one) = get_json(s.url("/ogc/collections/walkways/items/1203@0"), None).await;
    assert_eq!(st, 200, "{one}");
    let (elon, elat) = gdal_lonlat(&[(X0 + 300.0, Y0 + 200.0)])[0];
    let p = &one["geometry"]["coordinates"][0];
    assert!(
        (p[0].as_f64().unwrap() - elon).abs() < 2e-7
            && (p[1].as_f64().unwrap() - elat).abs() < 2e-7
    );
    let (st, _) = get_json(s.url("/ogc/collections/walkways/items/nope"), None).await;
    assert_eq!(st, 404);

    // Incidents: refused without a token, read by GDAL with one (as QGIS sends it).
    let (st, _) = get_json(s.url("/ogc/collections/incidents/items"), None).await;
    assert_eq!(st, 401);
    let (st, _) = get_json(s.url("/ogc/collections/incidents"), None).await;
    assert_eq!(st, 401);
    let token = s.token(Role::Police).await;
    let inc = work.path().join("incidents.geojson");
    let (ok, _, err) = run(Command::new("ogr2ogr").args([
        "--config",
        "GDAL_HTTP_HEADERS",
        &format!("Authorization: Bearer {token}"),
        "-f",
        "GeoJSON",
        inc.to_str().unwrap(),
        &ogc,
        "incidents",
    ]));
    assert!(ok, "{err}");
    assert_eq!(read_geojson(&inc).len(), 6);
    // datetime: February to April (dates are whole Stockholm days).
    let (st, v) = get_json(
        s.url("/ogc/collections/incidents/items?datetime=2026-02-01/2026-04-30"),
        Some(token.clone()),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let ids: BTreeSet<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from(["t:m2", "t:m3", "t:m4"]));
    let (_, v) = get_json(
        s.url("/ogc/collections/incidents/items?datetime=../2026-01-15T11:00:00Z"),
        Some(token.clone()),
    )
    .await;
    assert_eq!(v["numberMatched"], 1);

    // Errors name the parameter.
    for (q, word) in [
        ("limit=0", "limit"),
        ("bbox=1,2,3", "bbox"),
        ("crs=EPSG:3857", "crs"),
        ("colour=red", "colour"),
    ] {
        let (st, v) = get_json(s.url(&format!("/ogc/collections/walkways/items?{q}")), None).await;
        assert_eq!(st, 400, "{q}");
        assert!(v["error"].as_str().unwrap().contains(word), "{q}: {v}");
    }

    // OWSLib, and the OpenAPI 3.0 document through openapi-spec-validator.
    let script = r#"
import json, sys
from owslib.ogcapi.features import Features
url, token, n0, e0, n1, e1, pieces = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:7]), int(sys.argv[8])
anon = Features(url)
assert {c["id"] for c in anon.collections()["collections"]} == {"walkways", "lamps", "stretches", "hotspots", "reports", "districts"}
assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in anon.conformance()["conformsTo"]
page = anon.collection_items("walkways", limit=50)
assert page["numberMatched"] == pieces and len(page["features"]) == 50, page["numberMatched"]
boxed = anon.collection_items("walkways", bbox=[n0, e0, n1, e1], **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3006"})
assert sorted({f["properties"]["walkway_id"] for f in boxed["features"]}) == json.loads(sys.argv[7]), boxed
try:
    anon.collection_items("incidents")
    raise SystemExit("incidents without a token")
except Exception as e:
    assert "401" in str(e) or "Unauthorized" in str(e), e
police = Features(url, headers={"Authorization": "Bearer " + token})
inc = police.collection_items("incidents", limit=100)
assert inc["numberMatched"] == 6, inc
one = police.collection_item("incidents", "t:m3")
assert one["properties"]["source_id"] == "m3"
print("owslib ok")
"#;
    let want_json = serde_json::to_string(&want.iter().collect::<Vec<_>>()).unwrap();
    let (ok, out, err) = run(Command::new(gis_python()).args([
        "-c",
        script,
        &s.url("/ogc"),
        &token,
        &n0.to_string(),
        &e0.to_string(),
        &n1.to_string(),
        &e1.to_string(),
        &want_json,
        &pieces.to_string(),
    ]));
    assert!(ok && out.contains("owslib ok"), "{out}\n{err}");
    let (st, _, doc) = http("GET", s.url("/ogc/api"), None, None).await;
    assert_eq!(st, 200);
    let api = work.path().join("ogc-api.json");
    std::fs::write(&api, doc).unwrap();
    let (ok, out, err) = run(Command::new(gis_python()).args([
        "-m",
        "openapi_spec_validator",
        api.to_str().unwrap(),
    ]));
    assert!(ok, "{out}\n{err}");
}
