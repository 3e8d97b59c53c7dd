//! Importers end to end: the real binary, real files (slices of published data and hand-made bad
//! ones), a real SQLite file. Counts and reported lines are what the files say, worked out by
//! hand.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_lagesbild")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

struct Run {
    ok: bool,
    summary: Value,
    stderr: String,
}

fn import(db: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(bin())
        .arg("--db")
        .arg(db)
        .args(["import", "--json"])
        .args(args)
        .output()
        .expect("run lagesbild");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    Run {
        ok: out.status.success(),
        summary,
        stderr,
    }
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

fn error_lines(v: &Value) -> Vec<(u64, String, String)> {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn counts(db: &Path) -> lagesbild::store::DataCounts {
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    store.counts().await.unwrap()
}

#[tokio::test]
async fn polisen_events_import_once_and_replace_edits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = fixture("polisen_events_slice.json");
    let r = import(&db, &["polisen", file.to_str().unwrap()]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        (
            n(&r.summary, "read"),
            n(&r.summary, "imported"),
            n(&r.summary, "skipped")
        ),
        (60, 60, 0)
    );

    // Every event in the slice is placed on its county's centre.
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let incidents = store.load_incidents().await.unwrap();
    assert!(
        incidents
            .iter()
            .all(|i| i.precision == lagesbild::model::LocationPrecision::County)
    );
    // "22 augusti 17.59, Brand, Kävlinge": municipality from the name, not the county.
    let first = incidents.iter().find(|i| i.source_id == "650297").unwrap();
    assert_eq!(first.place.as_deref(), Some("Kävlinge"));
    assert_eq!(first.occurred_at.to_rfc3339(), "2026-08-22T19:51:41+02:00");
    drop(store);

    // The same file again adds nothing.
    let again = import(&db, &["polisen", file.to_str().unwrap()]);
    assert_eq!(
        (
            n(&again.summary, "imported"),
            n(&again.summary, "updated"),
            n(&again.summary, "unchanged")
        ),
        (0, 0, 60)
    );
    assert_eq!(counts(&db).await.incidents, 60);

    // Polisen re-publishes an edited event with the same id: it replaces the stored one.
    let mut events: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    events[0]["summary"] = Value::String("Uppdaterad: försök till mordbrand.".into());
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_string(&events).unwrap()).unwrap();
    let r = import(&db, &["polisen", edited.to_str().unwrap()]);
    assert_eq!(
        (
            n(&r.summary, "imported"),
            n(&r.summary, "updated"),
            n(&r.summary, "unchanged")
        ),
        (0, 1, 59)
    );
    assert_eq!(counts(&db).await.incidents, 60);
}

#[tokio::test]
async fn truncated_polisen_file_keeps_complete_events_and_reports_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let r = import(
        &db,
        &[
            "polisen",
            fixture("bad/polisen_truncated.json").to_str().unwrap(),
        ],
    );
    assert!(
        r.ok,
        "a partly readable file is not a failure: {}",
        r.stderr
    );
    // 10 complete events before the cut; the 11th starts on line 122.
    assert_eq!(n(&r.summary, "imported"), 10);
    assert_eq!(n(&r.summary, "skipped"), 1);
    let errs = error_lines(&r.summary);
    assert_eq!(errs[0].0, 122);
    assert!(errs[0].2.contains("truncated"), "{errs:?}");
}

#[tokio::test]
async fn sweref_csv_with_decimal_commas_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = fixture("bad/incidents_sweref.csv");
    let args = [
        "incidents",
        file.to_str().unwrap(),
        "--id",
        "id",
        "--time",
        "tid",
        "--category",
        "kategori",
        "--x",
        "x",
        "--y",
        "y",
        "--crs",
        "EPSG:3006",
        "--source",
        "rar",
    ];
    let r = import(&db, &args);
    assert!(r.ok, "{}", r.stderr);
    // Lines 2 and 3 are good (decimal commas, spaces as thousands separators).
    assert_eq!(
        (
            n(&r.summary, "read"),
            n(&r.summary, "imported"),
            n(&r.summary, "skipped")
        ),
        (8, 2, 6)
    );
    let errs = error_lines(&r.summary);
    let by_line: Vec<(u64, &str)> = errs.iter().map(|(l, f, _)| (*l, f.as_str())).collect();
    assert_eq!(
        by_line,
        vec![
            (4, "time"),
            (5, "x"),
            (6, "id"),
            (7, "x"),
            (8, "x/y"),
            (9, "x/y")
        ],
        "{errs:?}"
    );
    assert!(errs[0].2.contains("not a date"), "month 13: {}", errs[0].2);
    assert!(errs[1].2.contains("not a number"), "NaN: {}", errs[1].2);
    assert!(
        errs[2].2.contains("first seen on line 2"),
        "duplicate: {}",
        errs[2].2
    );
    assert!(errs[3].2.contains("missing"), "short row: {}", errs[3].2);
    assert!(
        errs[4].2.contains("outside the service area"),
        "{}",
        errs[4].2
    );
    // The first good row is the design's check point: stored as given, in EPSG:3006.
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let inc = store.load_incidents().await.unwrap();
    let a1 = inc.iter().find(|i| i.source_id == "A1").unwrap();
    assert_eq!(
        (a1.location.x(), a1.location.y()),
        (673_983.50, 6_593_495.74)
    );
    assert_eq!(a1.occurred_at.to_rfc3339(), "2026-03-06T22:10:00+01:00");
    assert_eq!(a1.category, "assault");
    let a2 = inc.iter().find(|i| i.source_id == "A2").unwrap();
    assert_eq!((a2.location.x(), a2.location.y()), (674_120.0, 6_593_610.5));
    drop(store);

    let again = import(&db, &args);
    assert_eq!(
        (
            n(&again.summary, "imported"),
            n(&again.summary, "unchanged")
        ),
        (0, 2)
    );
    assert_eq!(counts(&db).await.incidents, 2);
}

#[tokio::test]
async fn wgs84_csv_swapped_sea_and_truncated_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = fixture("bad/incidents_wgs84_truncated.csv");
    let r = import(
        &db,
        &[
            "incidents",
            file.to_str().unwrap(),
            "--id",
            "nr",
            "--time",
            "time",
            "--category",
            "type",
            "--lat",
            "lat",
            "--lon",
            "lon",
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        (
            n(&r.summary, "read"),
            n(&r.summary, "imported"),
            n(&r.summary, "skipped")
        ),
        (5, 2, 3)
    );
    let errs = error_lines(&r.summary);
    assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 4, 6]);
    assert!(
        errs[0].2.contains("swapped"),
        "swapped lat/lon is named: {}",
        errs[0].2
    );
    assert!(
        errs[1].2.contains("outside the service area"),
        "off Africa: {}",
        errs[1].2
    );
    // The last line is cut after "59.": no longitude.
    assert_eq!(errs[2].1, "lon");
}

#[test]
fn missing_column_and_empty_file_fail_the_import_with_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = fixture("bad/incidents_sweref.csv");
    let r = import(
        &db,
        &[
            "incidents",
            file.to_str().unwrap(),
            "--id",
            "id",
            "--time",
            "datum",
            "--category",
            "kategori",
            "--x",
            "x",
            "--y",
            "y",
            "--crs",
            "EPSG:3006",
        ],
    );
    assert!(!r.ok);
    assert!(
        r.stderr.contains("no column \"datum\"") && r.stderr.contains("incidents_sweref.csv"),
        "{}",
        r.stderr
    );
    let empty = fixture("bad/empty.csv");
    let r = import(
        &db,
        &[
            "incidents",
            empty.to_str().unwrap(),
            "--id",
            "id",
            "--time",
            "t",
            "--category",
            "c",
            "--lat",
            "a",
            "--lon",
            "b",
        ],
    );
    assert!(!r.ok);
    assert!(r.stderr.contains("empty"), "{}", r.stderr);
}

#[tokio::test]
async fn bra_table_with_bom_and_space_separated_thousands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let r = import(
        &db,
        &[
            "bra",
            fixture("bad/bra_2025.csv").to_str().unwrap(),
            "--year",
            "2025",
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        (n(&r.summary, "imported"), n(&r.summary, "skipped")),
        (2, 2)
    );
    let errs = error_lines(&r.summary);
    assert_eq!((errs[0].0, errs[0].1.as_str()), (4, "Antal"));
    assert_eq!((errs[1].0, errs[1].1.as_str()), (5, "Kommun"));
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let bra = store.load_bra().await.unwrap();
    let taby = bra.iter().find(|b| b.municipality == "Täby").unwrap();
    assert_eq!(
        (taby.year, taby.count, taby.per_100k),
        (2025, 5031, Some(7049.0))
    );
    let dand = bra.iter().find(|b| b.municipality == "Danderyd").unwrap();
    assert_eq!(dand.per_100k, Some(7414.5));
}

#[tokio::test]
async fn areas_from_geojson_with_array_properties() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let r = import(
        &db,
        &[
            "areas",
            fixture("municipalities_taby_slice.geojson")
                .to_str()
                .unwrap(),
            "--name-field",
            "kom_name",
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(n(&r.summary, "imported"), 3);
    let r = import(
        &db,
        &[
            "areas",
            fixture("stockholm_stadsdelar_slice.geojson")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(n(&r.summary, "imported"), 6);
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let snap = lagesbild::spatial::Snapshot::load(store.as_ref())
        .await
        .unwrap();
    // Täby centrum lies in Täby, and the design's check point too.
    let p = geo::Point::new(673_983.5, 6_593_495.7);
    assert_eq!(
        snap.areas.containing(p).map(|a| a.name.as_str()),
        Some("Täby")
    );
    assert!(snap.areas.by_name("norrmalm").is_some());
}

#[tokio::test]
async fn british_grid_lamp_register_agrees_with_its_own_lat_lon() {
    let dir = tempfile::tempdir().unwrap();
    let (db_bng, db_ll) = (dir.path().join("bng.sqlite"), dir.path().join("ll.sqlite"));
    let file = fixture("camden_lamps_slice.csv");
    let f = file.to_str().unwrap();
    let a = import(
        &db_bng,
        &[
            "--anywhere",
            "lamps",
            f,
            "--id",
            "Street Name",
            "--x",
            "Easting",
            "--y",
            "Northing",
            "--crs",
            "EPSG:27700",
            "--watt",
            "Wattage",
            "--source",
            "camden",
        ],
    );
    let b = import(
        &db_ll,
        &[
            "--anywhere",
            "lamps",
            f,
            "--id",
            "Street Name",
            "--lat",
            "Latitude",
            "--lon",
            "Longitude",
            "--watt",
            "Wattage",
            "--source",
            "camden",
        ],
    );
    assert!(a.ok && b.ok, "{} {}", a.stderr, b.stderr);
    // Street names repeat in the register: the id column is not unique, and duplicates are
    // reported, identically for both coordinate pairs.
    assert_eq!(a.summary["imported"], b.summary["imported"]);
    assert!(n(&a.summary, "skipped") > 0);
    let sa = lagesbild::store::open(db_bng.to_str().unwrap())
        .await
        .unwrap();
    let sb = lagesbild::store::open(db_ll.to_str().unwrap())
        .await
        .unwrap();
    let (la, lb) = (
        sa.load_lamps().await.unwrap(),
        sb.load_lamps().await.unwrap(),
    );
    for (x, y) in la.iter().zip(lb.iter()) {
        assert_eq!(x.id, y.id);
        let d = (x.location.x() - y.location.x()).hypot(x.location.y() - y.location.y());
        // OSGB36 → ETRS89 without the OSTN15 grid is good to a few metres.
        assert!(
            d < 5.0,
            "{}: {d} m between the grid and lat/lon positions",
            x.id
        );
        assert!(x.watt.is_some());
    }
}

#[tokio::test]
async fn osm_xml_and_pbf_walkways_and_lamps() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let r = import(
        &db,
        &["osm", fixture("ostermalm_slice.osm").to_str().unwrap()],
    );
    assert!(r.ok, "{}", r.stderr);
    // The slice: 116 footway + 10 steps + 5 cycleway + 3 pedestrian ways, 6 street lamps; its
    // streets have no sidewalk tags.
    let parts = r.summary["parts"].as_array().unwrap();
    assert_eq!(n(&parts[0], "imported"), 134);
    assert_eq!(n(&parts[1], "imported"), 6);
    let c = counts(&db).await;
    assert_eq!((c.walkways, c.lamps), (134, 6));
    let again = import(
        &db,
        &["osm", fixture("ostermalm_slice.osm").to_str().unwrap()],
    );
    assert_eq!(n(&again.summary, "unchanged"), 140);

    let db2 = dir.path().join("h.sqlite");
    let r = import(
        &db2,
        &[
            "--anywhere",
            "osm",
            fixture("helsinki_center.osm.pbf").to_str().unwrap(),
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    let parts = r.summary["parts"].as_array().unwrap();
    // 586 highway=street_lamp nodes (shared/data/README.md).
    assert_eq!(n(&parts[1], "imported"), 586);
    // Ways cut by the extract's edge with fewer than two nodes inside are reported, not guessed.
    let skipped = n(&parts[0], "skipped");
    assert_eq!(n(&parts[0], "read"), n(&parts[0], "imported") + skipped);
    assert!(
        error_lines(&parts[0])
            .iter()
            .all(|e| e.2.contains("fewer than two"))
    );
}

#[test]
fn helsinki_is_outside_the_swedish_service_area() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let r = import(
        &db,
        &["osm", fixture("helsinki_center.osm.pbf").to_str().unwrap()],
    );
    assert!(r.ok);
    assert_eq!(n(&r.summary, "imported"), 0);
}

#[tokio::test]
async fn polisen_feed_is_fetched_from_a_url() {
    // A stand-in for the live API on loopback, serving the recorded slice.
    let body = std::fs::read(fixture("polisen_events_slice.json")).unwrap();
    let app = axum::Router::new().route(
        "/api/events",
        axum::routing::get(move || {
            let b = body.clone();
            async move { ([("content-type", "application/json")], b) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let url = format!("http://{addr}/api/events");
    let r = tokio::task::spawn_blocking(move || import(&db, &["polisen", &url]))
        .await
        .unwrap();
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(n(&r.summary, "imported"), 60);
    let bad = import(
        &dir.path().join("u.sqlite"),
        &["polisen", "http://127.0.0.1:9/none", "--poll", "5s"],
    );
    assert!(!bad.ok);
    assert!(bad.stderr.contains("at least 10 seconds"), "{}", bad.stderr);
}
