//! Vector tiles at `/tiles/{layer}/{z}/{x}/{y}.mvt` and their TileJSON, read by the reference
//! decoder (`mapbox-vector-tile` from PyPI, in `~/.cache/lagesbild/gis-venv`, which `scripts/setup.sh
//! --browser` installs; or `LAGESBILD_GIS_PYTHON`).
//!
//! The data is planted at known EPSG:3006 positions near Täby: 50 walkways of 40 m going east on a
//! 100 m grid (the first row without a `lit` tag, so `unknown`; the others `lit=no`, so `dark`),
//! three lamps far from them (one broken), and two more unlit walkways with four incidents after
//! dark each: one of 120 m (long enough for the public to see its count) and one of 40 m (too
//! short: the public gets no count). Where a feature must be in a tile is computed from GDAL's
//! own transformation to Web Mercator (`gdaltransform -t_srs EPSG:3857`) and the tile grid's
//! definition, never from the server.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use geo::{LineString, Point, coord};
use lagesbild::model::{
    CategoryGroup, Incident, Lamp, LampStatus, LocationPrecision, Role, TimePrecision, Walkway,
};
use serde_json::Value;

use crate::support::{TestServer, gdaltransform, get, get_json, gis_python, http_with};

const X0: f64 = 674_000.0;
const Y0: f64 = 6_593_000.0;
const ROWS: i64 = 5;
const COLS: i64 = 10;
/// Web Mercator's half world (m).
const R: f64 = 20_037_508.342_789_244;
const EXTENT: f64 = 4096.0;
const BUFFER: f64 = 64.0;
/// The walkway of 120 m and the one of 40 m with four incidents after dark each.
const LONG: i64 = 9001;
const SHORT: i64 = 9002;

fn way_id(r: i64, c: i64) -> i64 {
    1000 + r * 100 + c
}

/// A planted walkway: id, start and end in EPSG:3006, `lit` tag.
type Planted = (i64, (f64, f64), (f64, f64), Option<&'static str>);

/// Every planted walkway.
fn planted() -> Vec<Planted> {
    let mut out = Vec::new();
    for r in 0..ROWS {
        for c in 0..COLS {
            let (x, y) = (X0 + 100.0 * c as f64, Y0 + 100.0 * r as f64);
            let lit = if r == 0 { None } else { Some("no") };
            out.push((way_id(r, c), (x, y), (x + 40.0, y), lit));
        }
    }
    out.push((LONG, (X0, Y0 - 300.0), (X0 + 120.0, Y0 - 300.0), Some("no")));
    out.push((
        SHORT,
        (X0 + 500.0, Y0 - 300.0),
        (X0 + 540.0, Y0 - 300.0),
        Some("no"),
    ));
    out
}

fn lamps() -> Vec<(String, (f64, f64), LampStatus)> {
    (0..3)
        .map(|k| {
            (
                format!("test:L{k}"),
                (X0 - 600.0 + 30.0 * f64::from(k), Y0 + 50.0),
                if k == 1 {
                    LampStatus::Broken
                } else {
                    LampStatus::Working
                },
            )
        })
        .collect()
}

async fn seed(store: &dyn lagesbild::store::Store) {
    let ways: Vec<Walkway> = planted()
        .into_iter()
        .map(|(id, a, b, lit)| Walkway {
            id,
            geometry: LineString(vec![coord! {x: a.0, y: a.1}, coord! {x: b.0, y: b.1}]),
            kind: "footway".into(),
            lit: lit.map(String::from),
            name: Some(format!("Stig {id}")),
        })
        .collect();
    let lamps: Vec<Lamp> = lamps()
        .into_iter()
        .map(|(id, (x, y), status)| Lamp {
            id,
            location: Point::new(x, y),
            height_m: Some(5.0),
            lumen: Some(3000.0),
            watt: None,
            status,
            source: "test".into(),
            reference: None,
        })
        .collect();
    // Four incidents at 23:00 in January (dark in Täby) 10 m north of the middle of each of the
    // two walkways.
    let mut incidents = Vec::new();
    for (way, x) in [(LONG, X0 + 60.0), (SHORT, X0 + 520.0)] {
        for d in 1..=4 {
            incidents.push(Incident {
                source: "t".into(),
                source_id: format!("{way}-{d}"),
                occurred_at: chrono::DateTime::parse_from_rfc3339(&format!(
                    "2026-01-{:02}T23:00:00+01:00",
                    d * 3
                ))
                .unwrap(),
                time_precision: TimePrecision::Exact,
                occurred_to: None,
                category: "assault".into(),
                group: CategoryGroup::Violence,
                label: "Misshandel".into(),
                location: Point::new(x, Y0 - 290.0),
                precision: LocationPrecision::Exact,
                place: None,
                summary: None,
            });
        }
    }
    store.upsert_walkways(&ways).await.unwrap();
    store.upsert_lamps(&lamps).await.unwrap();
    store.upsert_incidents(&incidents).await.unwrap();
}

/// Web Mercator metres of EPSG:3006 points, by GDAL.
fn mercator(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    gdaltransform(points, "EPSG:3857")
}

/// The XYZ tile at zoom `z` holding Web Mercator point `m`.
fn tile_of(z: u32, m: (f64, f64)) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    (
        ((m.0 + R) / (2.0 * R) * n).floor() as u32,
        ((R - m.1) / (2.0 * R) * n).floor() as u32,
    )
}

/// Web Mercator point `m` in the units of tile `z/x/y` (origin top left, 4096 to the side).
fn units(z: u32, (x, y): (u32, u32), m: (f64, f64)) -> (f64, f64) {
    let n = f64::from(1u32 << z);
    (
        ((m.0 + R) / (2.0 * R) * n - f64::from(x)) * EXTENT,
        ((R - m.1) / (2.0 * R) * n - f64::from(y)) * EXTENT,
    )
}

/// Whether a walkway from `a` to `b` (tile units) must be in the tile (`Some(true)`), must not
/// (`Some(false)`), or lies within a unit of the buffer's edge (`None`: either is right).
fn expected_in(a: (f64, f64), b: (f64, f64)) -> Option<bool> {
    let inside = |p: (f64, f64), slack: f64| {
        (-BUFFER - slack..=EXTENT + BUFFER + slack).contains(&p.0)
            && (-BUFFER - slack..=EXTENT + BUFFER + slack).contains(&p.1)
    };
    let samples: Vec<(f64, f64)> = (0..=400)
        .map(|i| {
            let t = f64::from(i) / 400.0;
            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
        })
        .collect();
    if samples.iter().any(|&p| inside(p, -1.0)) {
        Some(true)
    } else if samples.iter().all(|&p| !inside(p, 1.0)) {
        Some(false)
    } else {
        None
    }
}

fn distance_to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

/// The tiles decoded by `mapbox_vector_tile.decode` (y down, as on the wire), one JSON value
/// each: layer name → `{extent, version, features: [{geometry, properties, id, type}]}`.
fn decode(tiles: &[Vec<u8>]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = tiles
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let p = dir.path().join(format!("{i}.mvt"));
            std::fs::write(&p, b).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    let script = r#"
import json, sys
import mapbox_vector_tile
out = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    out.append(mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}) if data else {})
print(json.dumps(out))
"#;
    let out = Command::new(gis_python())
        .arg("-c")
        .arg(script)
        .args(&paths)
        .output()
        .expect("the GIS Python (scripts/setup.sh --browser installs it)");
    assert!(
        out.status.success(),
        "mapbox_vector_tile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// The lines of a decoded feature (LineString or MultiLineString).
fn lines(f: &Value) -> Vec<Vec<(f64, f64)>> {
    let g = &f["geometry"];
    let pt = |c: &Value| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    match g["type"].as_str().unwrap() {
        "LineString" => vec![
            g["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(pt)
                .collect(),
        ],
        "MultiLineString" => g["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_array().unwrap().iter().map(pt).collect())
            .collect(),
        other => panic!("not a line: {other}"),
    }
}

async fn tile(s: &TestServer, path: &str, token: Option<String>) -> Vec<u8> {
    let r = get(s.url(path), token).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("application/vnd.mapbox-vector-tile"),
        "{path}"
    );
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkways_decode_to_the_planted_lines_at_two_zooms() {
    let s = TestServer::seeded(|_| {}, async |store| seed(store).await).await;
    let ways = planted();
    let ends: Vec<(f64, f64)> = ways.iter().flat_map(|w| [w.1, w.2]).collect();
    let merc = mercator(&ends);
    // The tile of a point 5 m along the grid's first walkway, at zoom 16 (about 300 m of ground
    // here: part of the grid) and at zoom 13 (all of it).
    let anchor = mercator(&[(X0 + 5.0, Y0 + 1.0)])[0];
    for z in [16u32, 14] {
        let t = tile_of(z, anchor);
        let bytes = tile(
            &s,
            &format!("/tiles/walkways/{z}/{}/{}.mvt", t.0, t.1),
            None,
        )
        .await;
        let decoded = &decode(&[bytes])[0];
        let layer = &decoded["walkways"];
        assert_eq!(layer["extent"], 4096, "z{z}");
        assert_eq!(layer["version"], 2, "z{z}");
        let mut by_way: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
        for f in layer["features"].as_array().unwrap() {
            by_way
                .entry(f["properties"]["walkway_id"].as_i64().unwrap())
                .or_default()
                .push(f);
        }
        let mut must = BTreeSet::new();
        for (i, (id, _, _, lit)) in ways.iter().enumerate() {
            let (a, b) = (units(z, t, merc[2 * i]), units(z, t, merc[2 * i + 1]));
            match expected_in(a, b) {
                Some(true) => {
                    must.insert(*id);
                }
                Some(false) => {
                    assert!(!by_way.contains_key(id), "z{z}: walkway {id} is outside");
                    continue;
                }
                None => continue,
            }
            let Some(features) = by_way.get(id) else {
                panic!(
                    "z{z}: walkway {id} ({a:?}–{b:?}) is missing from the tile {t:?}, which holds {:?}",
                    by_way.keys().collect::<Vec<_>>()
                );
            };
            let want_state = if lit.is_some() { "dark" } else { "unknown" };
            let mut pts = Vec::new();
            for f in features {
                let p = &f["properties"];
                assert_eq!(p["state"], want_state, "z{z} {id}");
                assert_eq!(p["class"], "P5", "the configured class: z{z} {id}");
                assert!(p.get("lux").is_none(), "no lamp in reach: no lux, {p}");
                for l in lines(f) {
                    pts.extend(l);
                }
            }
            // Every point lies on the planted line (rounded to whole units).
            for &p in &pts {
                assert!(
                    distance_to_segment(p, a, b) <= 0.75,
                    "z{z} {id}: {p:?} is off the line {a:?}–{b:?}"
                );
            }
            // Walkways wholly inside the tile start and end where they were planted.
            let inside =
                |p: (f64, f64)| (0.0..=EXTENT).contains(&p.0) && (0.0..=EXTENT).contains(&p.1);
            if inside(a) && inside(b) {
                let west = pts
                    .iter()
                    .cloned()
                    .fold((f64::MAX, 0.0), |m, p| if p.0 < m.0 { p } else { m });
                let east = pts
                    .iter()
                    .cloned()
                    .fold((f64::MIN, 0.0), |m, p| if p.0 > m.0 { p } else { m });
                assert!(
                    (west.0 - a.0).abs() <= 0.5 && (west.1 - a.1).abs() <= 0.5,
                    "z{z} {id}: starts at {west:?}, planted {a:?}"
                );
                assert!(
                    (east.0 - b.0).abs() <= 0.5 && (east.1 - b.1).abs() <= 0.5,
                    "z{z} {id}: ends at {east:?}, planted {b:?}"
                );
                if z == 16 {
                    // Pieces of at most 20 m, as the GeoJSON: a walkway of 40 m is two or
                    // three, one of 120 m six or seven.
                    let (_, p0, p1, _) = ways[i];
                    let least = ((p1.0 - p0.0).hypot(p1.1 - p0.1) / 20.0).ceil() as usize;
                    assert!(
                        (least..=least + 1).contains(&features.len()),
                        "z16 {id}: {} pieces",
                        features.len()
                    );
                } else {
                    // One run of one state: one feature.
                    assert_eq!(features.len(), 1, "z14 {id}");
                }
            }
        }
        let got: BTreeSet<i64> = by_way.keys().copied().collect();
        assert!(
            must.is_subset(&got),
            "z{z}: missing {:?}",
            must.difference(&got)
        );
        assert!(!must.is_empty(), "z{z}: the tile holds planted walkways");
        if z == 16 {
            assert!(must.len() < ways.len(), "z16 holds part of the grid");
        }
    }

    // Zoom 12, generalised: one feature per state and class, no ids; every planted walkway is
    // drawn (its middle is on a decoded line) and every decoded point is on a planted one.
    let t = tile_of(12, anchor);
    let bytes = tile(&s, &format!("/tiles/walkways/12/{}/{}.mvt", t.0, t.1), None).await;
    let features = decode(&[bytes])[0]["walkways"]["features"]
        .as_array()
        .unwrap()
        .clone();
    let kinds: BTreeSet<(String, String)> = features
        .iter()
        .map(|f| {
            let p = &f["properties"];
            assert!(p.get("walkway_id").is_none(), "{p}");
            (
                p["state"].as_str().unwrap().to_string(),
                p["class"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        features.len(),
        kinds.len(),
        "one feature per state and class"
    );
    assert_eq!(
        kinds,
        [("dark", "P5"), ("unknown", "P5")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .into()
    );
    let segments: Vec<((f64, f64), (f64, f64))> = (0..ways.len())
        .map(|i| (units(12, t, merc[2 * i]), units(12, t, merc[2 * i + 1])))
        .collect();
    let decoded: Vec<Vec<(f64, f64)>> = features.iter().flat_map(lines).collect();
    for l in &decoded {
        for &p in l {
            let d = segments
                .iter()
                .map(|&(a, b)| distance_to_segment(p, a, b))
                .fold(f64::MAX, f64::min);
            assert!(
                d <= 0.75,
                "z12: {p:?} is {d} units from every planted walkway"
            );
        }
    }
    for (i, &(a, b)) in segments.iter().enumerate() {
        let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        let d = decoded
            .iter()
            .flat_map(|l| l.windows(2).map(|w| distance_to_segment(mid, w[0], w[1])))
            .fold(f64::MAX, f64::min);
        assert!(
            d <= 1.0,
            "z12: walkway {} is not drawn ({d} units)",
            ways[i].0
        );
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lamps_and_stretches_decode_with_the_public_rules() {
    let s = TestServer::seeded(|_| {}, async |store| seed(store).await).await;
    let police = s.token(Role::Police).await;

    // Lamps at zoom 15: every planted lamp at its position (whole units), with its status.
    let planted_lamps = lamps();
    let pos: Vec<(f64, f64)> = planted_lamps.iter().map(|l| l.1).collect();
    let merc = mercator(&pos);
    let t = tile_of(15, merc[0]);
    let bytes = tile(&s, &format!("/tiles/lamps/15/{}/{}.mvt", t.0, t.1), None).await;
    let layer = decode(&[bytes])[0]["lamps"].clone();
    assert_eq!(layer["extent"], 4096);
    let features = layer["features"].as_array().unwrap();
    assert_eq!(features.len(), 3, "{layer}");
    for (i, (id, _, status)) in planted_lamps.iter().enumerate() {
        let f = features
            .iter()
            .find(|f| f["properties"]["id"] == id.as_str())
            .unwrap_or_else(|| panic!("lamp {id} missing"));
        let want = units(15, t, merc[i]);
        let c = &f["geometry"]["coordinates"];
        assert_eq!(f["geometry"]["type"], "Point");
        let got = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!(
            (got.0 - want.0).abs() <= 0.5 && (got.1 - want.1).abs() <= 0.5,
            "lamp {id} at {got:?}, planted {want:?}"
        );
        assert_eq!(f["properties"]["status"], status.as_str());
    }

    // Stretches at zoom 14 around the two walkways with incidents.
    let m = mercator(&[(X0 + 60.0, Y0 - 300.0), (X0 + 520.0, Y0 - 300.0)]);
    let t = tile_of(14, m[0]);
    assert_eq!(tile_of(14, m[1]), t, "both walkways in one tile");
    let path = format!("/tiles/stretches/14/{}/{}.mvt", t.0, t.1);
    let public = tile(&s, &path, None).await;
    let full = tile(&s, &path, Some(police.clone())).await;
    let decoded = decode(&[public, full]);
    let find = |d: &Value, way: i64| -> Value {
        d["stretches"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["walkway_id"] == way)
            .unwrap_or_else(|| panic!("no stretch of {way}"))["properties"]
            .clone()
    };
    let (pub_long, pub_short) = (find(&decoded[0], LONG), find(&decoded[0], SHORT));
    let (full_long, full_short) = (find(&decoded[1], LONG), find(&decoded[1], SHORT));
    // The police see both counts; the public only the long stretch's (k = 3, and at least half
    // a public cell long).
    assert_eq!(full_long["incidents_after_dark"], 4);
    assert_eq!(full_short["incidents_after_dark"], 4);
    assert_eq!(pub_long["incidents_after_dark"], 4);
    assert!(
        pub_short.get("incidents_after_dark").is_none(),
        "the short stretch's count is hidden from the public: {pub_short}"
    );
    assert_eq!(full_long["length_m"], 120.0);
    assert_eq!(full_short["length_m"], 40.0);
    assert_eq!(full_short["state"], "dark");
    // The public's priority of the short stretch does not move with the hidden count: it is the
    // priority of a stretch without incidents, as the public GeoJSON gives it.
    let (st, geo) = get_json(s.url("/api/v1/lighting/stretches?state=dark,unknown"), None).await;
    assert_eq!(st, 200, "{geo}");
    let geo_short = geo["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["walkway_id"] == SHORT)
        .unwrap()["properties"]
        .clone();
    assert_eq!(pub_short["priority"], geo_short["priority"]);
    assert!(
        full_short["priority"].as_f64().unwrap() > pub_short["priority"].as_f64().unwrap(),
        "the incidents raise the full priority: {full_short} vs {pub_short}"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tile_addresses_tilejson_caching_and_new_data() {
    let s = TestServer::seeded(|_| {}, async |store| seed(store).await).await;
    let anchor = mercator(&[(X0 + 5.0, Y0 + 1.0)])[0];
    let (x, y) = tile_of(14, anchor);

    // Addresses outside the grid or the served zooms, and bad names.
    for (path, status) in [
        (format!("/tiles/walkways/9/{}/{}.mvt", x / 32, y / 32), 404),
        (format!("/tiles/walkways/17/{x}/{y}.mvt"), 404),
        ("/tiles/walkways/12/4096/0.mvt".to_string(), 404),
        (format!("/tiles/walkways/14/{x}/{y}.png"), 404),
        (format!("/tiles/roads/14/{x}/{y}.mvt"), 404),
        (format!("/tiles/walkways/14/x/{y}.mvt"), 400),
        (format!("/tiles/walkways/14/{x}/{y}.mvt?f=json"), 400),
    ] {
        let r = get(s.url(&path), None).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
    }
    // A tile far from the data is empty: 200 with no bytes.
    let r = get(s.url("/tiles/walkways/12/0/0.mvt"), None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());

    // TileJSON: the template, the zooms and bounds that hold the planted data.
    let (st, tj) = get_json(s.url("/tiles/walkways/tilejson.json"), None).await;
    assert_eq!(st, 200, "{tj}");
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(
        tj["tiles"][0],
        format!("http://{}/tiles/walkways/{{z}}/{{x}}/{{y}}.mvt", s.addr)
    );
    assert_eq!(
        (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
        (Some(10), Some(16))
    );
    assert_eq!(tj["vector_layers"][0]["id"], "walkways");
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // Every planted walkway end and lamp lies within the bounds, and the bounds are tight:
    // within 0.001° (50–110 m here) of the outermost ones.
    let mut pts: Vec<(f64, f64)> = planted().iter().flat_map(|w| [w.1, w.2]).collect();
    pts.extend(lamps().iter().map(|l| l.1));
    let lonlat: Vec<(f64, f64)> = mercator(&pts)
        .into_iter()
        .map(|(mx, my)| {
            let lat =
                2.0 * (my / R * std::f64::consts::PI).exp().atan() - std::f64::consts::FRAC_PI_2;
            (mx / R * 180.0, lat.to_degrees())
        })
        .collect();
    for (lon, lat) in &lonlat {
        assert!(
            b[0] <= *lon && *lon <= b[2] && b[1] <= *lat && *lat <= b[3],
            "{lon},{lat} outside {b:?}"
        );
    }
    let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
        lonlat.iter().map(pick).fold(init, f)
    };
    let outer = [
        fold(f64::min, f64::MAX, |p| p.0),
        fold(f64::min, f64::MAX, |p| p.1),
        fold(f64::max, f64::MIN, |p| p.0),
        fold(f64::max, f64::MIN, |p| p.1),
    ];
    for k in 0..4 {
        assert!(
            (b[k] - outer[k]).abs() < 0.001,
            "{b:?} vs the data's {outer:?}"
        );
    }

    // Revalidation: the same snapshot answers 304 to its ETag; the stretches' views differ.
    let path = format!("/tiles/walkways/14/{x}/{y}.mvt");
    let first = get(s.url(&path), None).await;
    let etag = first.headers.get("etag").cloned().expect("an ETag");
    let (st, _, body) = http_with("GET", s.url(&path), &[("If-None-Match", etag.as_str())]).await;
    assert_eq!(st, 304);
    assert!(body.is_empty());
    let police = s.token(Role::Police).await;
    let sp = format!("/tiles/stretches/14/{x}/{y}.mvt");
    let e_pub = get(s.url(&sp), None).await.headers["etag"].clone();
    let e_full = get(s.url(&sp), Some(police)).await.headers["etag"].clone();
    assert_ne!(e_pub, e_full);

    // New data: a walkway added and the snapshot reloaded gives a new ETag and the walkway.
    s.state
        .store
        .upsert_walkways(&[Walkway {
            id: 7777,
            geometry: LineString(vec![
                coord! {x: X0 + 20.0, y: Y0 + 50.0},
                coord! {x: X0 + 60.0, y: Y0 + 50.0},
            ]),
            kind: "footway".into(),
            lit: Some("no".into()),
            name: None,
        }])
        .await
        .unwrap();
    s.reload().await;
    let (st, headers, body) =
        http_with("GET", s.url(&path), &[("If-None-Match", etag.as_str())]).await;
    assert_eq!(st, 200);
    assert_ne!(
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
            .map(|(_, v)| v.as_str()),
        Some(etag.as_str())
    );
    let ids: BTreeSet<i64> = decode(&[body])[0]["walkways"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["walkway_id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&7777), "{ids:?}");
    s.stop().await.unwrap();
}
