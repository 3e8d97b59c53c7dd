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
    crate::support::root().join("tests/fixtures").join(name)
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
            (4, "tid"),
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

// ---------------------------------------------------------------------------------------------
// Bad files (hardening: "Safe to put on the internet").

/// The incidents import of `file` with the columns of the generated CSVs below.
fn incidents_args(file: &Path) -> Vec<String> {
    [
        "incidents",
        file.to_str().unwrap(),
        "--id",
        "id",
        "--time",
        "time",
        "--category",
        "category",
        "--lat",
        "lat",
        "--lon",
        "lon",
        "--place",
        "place",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn import_incidents(db: &Path, file: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    args.extend(incidents_args(file));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    import(db, &refs)
}

/// A good incident row in Täby.
fn row(id: &str, category: &str, place: &str) -> String {
    format!("{id},2026-03-06 22:10,{category},59.4439,18.0686,{place}")
}

const HEADER: &str = "id,time,category,lat,lon,place";

#[test]
fn a_file_of_nul_bytes_fails_at_once_with_a_short_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = dir.path().join("zeros.csv");
    std::fs::write(&file, vec![0u8; 4 << 20]).unwrap();
    let started = std::time::Instant::now();
    let r = import_incidents(&db, &file, &[]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains("not a text file") && r.stderr.contains("zeros.csv"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.len() < 1_000, "{} bytes of error", r.stderr.len());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Runs in a child process (see the test below): imports `LAGESBILD_CHILD_FILE` in-process and
/// prints the growth of the peak resident memory and the error.
#[tokio::test]
async fn child_import_reporting_peak_memory() {
    let Ok(file) = std::env::var("LAGESBILD_CHILD_FILE") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = lagesbild::store::open(dir.path().join("m.sqlite").to_str().unwrap())
        .await
        .unwrap();
    let vm_hwm = || -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap()
    };
    let before = vm_hwm();
    let path = PathBuf::from(&file);
    let opts = lagesbild::ingest::incidents_csv::IncidentCsvOptions {
        path: path.clone(),
        source: "m".into(),
        id: "id".into(),
        time: Some("time".into()),
        window: None,
        category: "category".into(),
        coords: lagesbild::ingest::incidents_csv::CoordColumns::LatLon {
            lat: "lat".into(),
            lon: "lon".into(),
        },
        epsg: 4326,
        delimiter: None,
        encoding: None,
        time_format: None,
        precision: lagesbild::model::LocationPrecision::Exact,
        place: None,
        area: lagesbild::crs::ServiceArea::sweden(),
    };
    let r = lagesbild::ingest::run(store, &path, move |em| {
        lagesbild::ingest::incidents_csv::parse(opts, em)
    })
    .await;
    let msg = match r {
        Ok(s) => format!("ok: {}", s.human()),
        Err(e) => e.to_string(),
    };
    println!("GROWTH_KB={}", vm_hwm().saturating_sub(before));
    println!("RESULT={msg}");
}

fn peak_memory_growth_kb(file: &Path) -> (u64, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "import::child_import_reporting_peak_memory",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LAGESBILD_CHILD_FILE", file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let growth = stdout
        .lines()
        .find_map(|l| l.split_once("GROWTH_KB=").map(|(_, v)| v))
        .unwrap_or_else(|| panic!("no report from the child: {stdout}"))
        .parse()
        .unwrap();
    let result = stdout
        .lines()
        .find_map(|l| l.split_once("RESULT=").map(|(_, v)| v))
        .unwrap()
        .to_string();
    (growth, result)
}

#[test]
fn an_overlong_line_or_record_fails_the_file_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    // 16 MB on line 3 with no line end.
    let long_line = dir.path().join("long_line.csv");
    let mut text = format!("{HEADER}\n{}\n", row("A1", "Stöld", "Täby"));
    text.push_str(&"a".repeat(16 << 20));
    std::fs::write(&long_line, &text).unwrap();
    let (growth, result) = peak_memory_growth_kb(&long_line);
    assert!(
        result.contains("line 3 is longer than 1048576 bytes"),
        "{result}"
    );
    assert!(result.len() < 300, "{result}");
    assert!(
        growth < 24 * 1024,
        "peak memory grew by {growth} kB for a 16 MB line"
    );
    // An unclosed quote on line 3 makes the rest of the file (short lines) one record.
    let quote = dir.path().join("quote.csv");
    let mut text = format!("{HEADER}\n{}\nA2,\"", row("A1", "Stöld", "Täby"));
    text.push_str(&"a short line\n".repeat((16 << 20) / 13));
    std::fs::write(&quote, &text).unwrap();
    let (growth, result) = peak_memory_growth_kb(&quote);
    assert!(
        result.contains("the record that starts on line 3 is longer than"),
        "{result}"
    );
    assert!(growth < 24 * 1024, "peak memory grew by {growth} kB");
    // And through the CLI: a non-zero exit, a short message.
    let r = import_incidents(&dir.path().join("t.sqlite"), &long_line, &[]);
    assert!(!r.ok);
    assert!(r.stderr.len() < 1_000, "{}", r.stderr);
}

#[tokio::test]
async fn overlong_fields_are_skipped_with_a_short_error_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = dir.path().join("long_fields.csv");
    let long_label = "Misshandel".repeat(550); // 5 500 characters
    let long_id = "X".repeat(201);
    let text = [
        HEADER.to_string(),
        row("A1", "Stöld", "Täby"),
        row("A2", &long_label, "Täby"),
        row(&long_id, "Rån", "Täby"),
        row("A4", "Inbrott", &"Täby ".repeat(100)),
        row("A5", "Rån", "Täby"),
    ]
    .join("\n");
    std::fs::write(&file, text).unwrap();
    let r = import_incidents(&db, &file, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        (n(&r.summary, "imported"), n(&r.summary, "skipped")),
        (2, 3)
    );
    let errs = error_lines(&r.summary);
    assert_eq!(
        errs.iter()
            .map(|(l, f, _)| (*l, f.as_str()))
            .collect::<Vec<_>>(),
        vec![(3, "category"), (4, "id"), (5, "place")]
    );
    assert!(errs[0].2.contains("5500 characters"), "{}", errs[0].2);
    for e in r.summary["errors"].as_array().unwrap() {
        let v = e["value"].as_str().unwrap();
        assert!(v.chars().count() < 110, "value not truncated: {v}");
    }
    assert!(
        r.summary["errors"][0]["value"]
            .as_str()
            .unwrap()
            .ends_with(&format!("… ({} bytes)", long_label.len()))
    );
    // A Polisen summary over 4 000 characters is one skipped event.
    let mut events: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixture("polisen_events_slice.json")).unwrap(),
    )
    .unwrap();
    events.truncate(3);
    events[1]["summary"] = Value::String("å".repeat(4_001));
    let pf = dir.path().join("long_summary.json");
    std::fs::write(&pf, serde_json::to_string_pretty(&events).unwrap()).unwrap();
    let r = import(&db, &["polisen", pf.to_str().unwrap()]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        (n(&r.summary, "imported"), n(&r.summary, "skipped")),
        (2, 1)
    );
    assert_eq!(error_lines(&r.summary)[0].1, "summary");
}

#[tokio::test]
async fn windows_1252_needs_encoding_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = dir.path().join("excel.csv");
    let text = format!(
        "{HEADER}\r\n{}\r\n{}\r\n",
        row("E1", "Stöld", "Arninge"),
        row("E2", "Misshandel på gångväg", "Täby")
    );
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!unmappable);
    std::fs::write(&file, &bytes).unwrap();
    let r = import_incidents(&db, &file, &[]);
    assert!(!r.ok, "not UTF-8 must fail the file");
    assert!(
        r.stderr.contains("line 2")
            && r.stderr.contains("not UTF-8")
            && r.stderr.contains("try --encoding windows-1252"),
        "{}",
        r.stderr
    );
    let r = import_incidents(&db, &file, &["--encoding", "windows-1252"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(n(&r.summary, "imported"), 2);
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let inc = store.load_incidents().await.unwrap();
    let e2 = inc.iter().find(|i| i.source_id == "E2").unwrap();
    assert_eq!(e2.label, "Misshandel på gångväg");
    assert_eq!(e2.place.as_deref(), Some("Täby"));
    let e1 = inc.iter().find(|i| i.source_id == "E1").unwrap();
    assert_eq!(e1.label, "Stöld");
    let bad = import_incidents(&db, &file, &["--encoding", "klingon"]);
    assert!(!bad.ok && bad.stderr.contains("unknown encoding"));
}

#[tokio::test]
async fn utf16_with_a_bom_is_read_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let text = "Kommun;Antal;Per 100 000 inv.\r\nTäby;5 031;7 049\r\nDanderyd;2 495;7 414,5\r\n";
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for u in text.encode_utf16() {
        le.extend_from_slice(&u.to_le_bytes());
        be.extend_from_slice(&u.to_be_bytes());
    }
    let (f_le, f_be) = (dir.path().join("le.csv"), dir.path().join("be.csv"));
    std::fs::write(&f_le, &le).unwrap();
    std::fs::write(&f_be, &be).unwrap();
    let r = import(&db, &["bra", f_le.to_str().unwrap(), "--year", "2025"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        (n(&r.summary, "imported"), n(&r.summary, "skipped")),
        (2, 0)
    );
    let r = import(&db, &["bra", f_be.to_str().unwrap(), "--year", "2025"]);
    assert_eq!(n(&r.summary, "unchanged"), 2, "{}", r.stderr);
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let bra = store.load_bra().await.unwrap();
    let taby = bra.iter().find(|b| b.municipality == "Täby").unwrap();
    assert_eq!((taby.count, taby.per_100k), (5031, Some(7049.0)));
}

#[test]
fn line_numbers_are_physical_lines_in_lf_and_crlf_files() {
    let dir = tempfile::tempdir().unwrap();
    // Line 1 header, 2 good, 3–4 one record with a quoted line break, 5 bad time, 6 good,
    // 7 blank, 8 bad coordinate.
    let lines = [
        HEADER.to_string(),
        row("L1", "Stöld", "Täby"),
        "L2,2026-03-06 22:10,Stöld,59.4439,18.0686,\"Täby".to_string(),
        "centrum\"".to_string(),
        "L3,2026-13-06 22:10,Stöld,59.4439,18.0686,Täby".to_string(),
        row("L4", "Rån", "Täby"),
        String::new(),
        "L5,2026-03-06 22:10,Stöld,59.4439,abc,Täby".to_string(),
    ];
    for (name, end) in [("lf.csv", "\n"), ("crlf.csv", "\r\n")] {
        let file = dir.path().join(name);
        std::fs::write(&file, lines.join(end) + end).unwrap();
        let r = import_incidents(&dir.path().join(format!("{name}.sqlite")), &file, &[]);
        assert!(r.ok, "{}", r.stderr);
        assert_eq!(n(&r.summary, "imported"), 3, "{name}");
        let errs = error_lines(&r.summary);
        assert_eq!(
            errs.iter()
                .map(|(l, f, _)| (*l, f.as_str()))
                .collect::<Vec<_>>(),
            vec![(5, "time"), (8, "lon")],
            "{name}: {errs:?}"
        );
    }
}

#[test]
fn an_unreadable_polisen_file_fails_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let cases: [(&str, String, &str); 4] = [
        ("brackets.json", "[".repeat(100_000), "nested deeper"),
        (
            "cut.json",
            "[{\"id\": 1, \"datetime\": \"2026-".into(),
            "truncated",
        ),
        (
            "object.json",
            "{\"events\": []}".into(),
            "expected a JSON array",
        ),
        (
            "binary.json",
            "\0\u{1}\u{2}".repeat(1000),
            "not a text file",
        ),
    ];
    for (name, body, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        let r = import(&db, &["polisen", file.to_str().unwrap()]);
        assert!(!r.ok, "{name} must fail: {}", r.stderr);
        assert!(
            r.stderr.contains(expected) && r.stderr.contains(name),
            "{name}: {}",
            r.stderr
        );
        assert!(r.stderr.len() < 1_000, "{name}: {}", r.stderr);
    }
}

/// A GeoJSON FeatureCollection of named WGS84 polygons (one ring list each).
fn areas_file(path: &Path, features: &[(&str, Value)]) {
    let fc = serde_json::json!({
        "type": "FeatureCollection",
        "features": features.iter().map(|(name, rings)| serde_json::json!({
            "type": "Feature",
            "properties": {"name": name},
            "geometry": {"type": "Polygon", "coordinates": rings},
        })).collect::<Vec<_>>(),
    });
    std::fs::write(path, serde_json::to_string_pretty(&fc).unwrap()).unwrap();
}

#[tokio::test]
async fn invalid_district_polygons_are_repaired_or_rejected_with_the_place() {
    use geo::Area as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = dir.path().join("districts.geojson");
    let (x0, x1, y0, y1) = (18.05, 18.07, 59.43, 59.44);
    areas_file(
        &file,
        &[
            // Clockwise, a repeated vertex, not closed: repaired.
            (
                "Repaired",
                serde_json::json!([[[x0, y0], [x0, y1], [x0, y1], [x1, y1], [x1, y0]]]),
            ),
            // A bow tie: the segments 1→2 and 3→0 cross in the middle.
            (
                "Bowtie",
                serde_json::json!([[[x0, y0], [x1, y0], [x0, y1], [x1, y1], [x0, y0]]]),
            ),
            // A hole outside its exterior.
            (
                "Hole outside",
                serde_json::json!([
                    [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]],
                    [
                        [18.08, 59.45],
                        [18.09, 59.45],
                        [18.09, 59.46],
                        [18.08, 59.45]
                    ]
                ]),
            ),
            // Two distinct vertices only.
            (
                "Sliver",
                serde_json::json!([[[x0, y0], [x1, y1], [x0, y0], [x0, y0]]]),
            ),
        ],
    );
    let r = import(&db, &["areas", file.to_str().unwrap()]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        (n(&r.summary, "imported"), n(&r.summary, "skipped")),
        (1, 3)
    );
    let errs = r.summary["errors"].as_array().unwrap();
    let reasons: Vec<&str> = errs.iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert!(
        reasons[0].contains("exterior ring crosses itself")
            && reasons[0].contains("vertex 1 to 2")
            && reasons[0].contains("vertex 3 to 0"),
        "{}",
        reasons[0]
    );
    // The bow tie's crossing is its centre, given in the file's CRS (through EPSG:3006 and back).
    let at: Vec<f64> = errs[0]["value"]
        .as_str()
        .unwrap()
        .split(", ")
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        (at[0] - 18.06).abs() < 1e-5 && (at[1] - 59.435).abs() < 1e-5,
        "{at:?}"
    );
    assert!(
        reasons[1].contains("interior ring at index 0 is not contained"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("fewer than 3 distinct"),
        "{}",
        reasons[2]
    );
    // The repaired one: closed, without the repeated vertex, counter-clockwise.
    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let areas = store.load_areas().await.unwrap();
    let a = &areas[0];
    assert_eq!(a.name, "Repaired");
    let ext = a.geometry.0[0].exterior();
    assert_eq!(ext.0.len(), 5);
    assert_eq!(ext.0.first(), ext.0.last());
    assert!(
        a.geometry.signed_area() > 0.0,
        "exterior is counter-clockwise"
    );
    drop(store);
    let again = import(&db, &["areas", file.to_str().unwrap()]);
    assert_eq!(n(&again.summary, "unchanged"), 1);
}

/// `rows` incidents with ids `<prefix><i>`, scattered over Täby.
fn big_csv(path: &Path, prefix: &str, rows: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "{HEADER}").unwrap();
    for i in 0..rows {
        let lat = 59.40 + (i % 997) as f64 * 0.00008;
        let lon = 18.00 + (i % 1009) as f64 * 0.00012;
        writeln!(
            f,
            "{prefix}{i},2026-03-0{} 22:10,Stöld,{lat:.6},{lon:.6},Täby",
            1 + i % 9
        )
        .unwrap();
    }
}

#[tokio::test]
async fn two_imports_at_once_both_store_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    // Schema first, so both start writing rather than migrating.
    drop(lagesbild::store::open(db.to_str().unwrap()).await.unwrap());
    let rows = 3 * lagesbild::ingest::BATCH_SIZE;
    let (fa, fb) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    big_csv(&fa, "A", rows);
    big_csv(&fb, "B", rows);
    let (da, db2) = (db.clone(), db.clone());
    let a = tokio::task::spawn_blocking(move || import_incidents(&da, &fa, &[]));
    let b = tokio::task::spawn_blocking(move || import_incidents(&db2, &fb, &[]));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert!(a.ok, "{}", a.stderr);
    assert!(b.ok, "{}", b.stderr);
    assert_eq!(n(&a.summary, "imported"), rows as u64);
    assert_eq!(n(&b.summary, "imported"), rows as u64);
    assert_eq!(counts(&db).await.incidents, 2 * rows as u64);
}

#[tokio::test]
async fn an_import_waits_for_a_writer_that_holds_the_lock() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    drop(lagesbild::store::open(db.to_str().unwrap()).await.unwrap());
    let file = dir.path().join("w.csv");
    big_csv(&file, "W", 5_000);
    // Another writer (as the server storing a report would) holds the write lock for 3 s.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("INSERT INTO meta (key, value) VALUES ('lock_test', '1')")
        .execute(&mut other)
        .await
        .unwrap();
    let d = db.clone();
    let started = std::time::Instant::now();
    let import_task = tokio::task::spawn_blocking(move || import_incidents(&d, &file, &[]));
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let r = import_task.await.unwrap();
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(n(&r.summary, "imported"), 5_000);
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
    assert_eq!(counts(&db).await.incidents, 5_000);
}

/// Time as precisely as the register gives it: a date, a month, an hour and windows stored with
/// their precision; a window of one date is that date; the spring-forward and autumn rows
/// imported as PostgreSQL reads them, each with a warning naming line, field and value; windows
/// that end before they begin or have no end are refused by name.
#[tokio::test]
async fn dates_months_windows_and_clock_changes_keep_their_precision() {
    use lagesbild::model::TimePrecision::*;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.sqlite");
    let file = fixture("incidents_time_precision.csv");
    let args = [
        "incidents",
        file.to_str().unwrap(),
        "--id",
        "id",
        "--time",
        "tid",
        "--time-from",
        "fran",
        "--time-to",
        "till",
        "--category",
        "kategori",
        "--x",
        "x",
        "--y",
        "y",
        "--crs",
        "EPSG:3006",
        "--source",
        "reg",
    ];
    let r = import(&db, &args);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        (
            n(&r.summary, "read"),
            n(&r.summary, "imported"),
            n(&r.summary, "skipped")
        ),
        (12, 10, 2),
        "{}",
        r.summary
    );
    let errs = error_lines(&r.summary);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!((errs[0].0, errs[0].1.as_str()), (9, "till"));
    assert!(errs[0].2.contains("ends before it begins"), "{}", errs[0].2);
    assert_eq!((errs[1].0, errs[1].1.as_str()), (10, "till"));
    assert!(errs[1].2.contains("no end"), "{}", errs[1].2);
    let warnings: Vec<(u64, String, String, String)> = r.summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["line"].as_u64().unwrap(),
                w["field"].as_str().unwrap().into(),
                w["value"].as_str().unwrap().into(),
                w["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(
        (
            warnings[0].0,
            warnings[0].1.as_str(),
            warnings[0].2.as_str()
        ),
        (6, "tid", "2025-03-30 02:01")
    );
    assert!(warnings[0].3.contains("does not exist"), "{warnings:?}");
    assert_eq!(
        (
            warnings[1].0,
            warnings[1].1.as_str(),
            warnings[1].2.as_str()
        ),
        (7, "tid", "2025-10-26 02:30")
    );
    assert!(warnings[1].3.contains("occurs twice"), "{warnings:?}");
    assert!(r.stderr.contains("warning: line 6"), "{}", r.stderr);

    let store = lagesbild::store::open(db.to_str().unwrap()).await.unwrap();
    let inc = store.load_incidents().await.unwrap();
    let get = |id: &str| inc.iter().find(|i| i.source_id == id).unwrap();
    let utc = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let expect = [
        ("T1", "2026-03-06T22:10:00+01:00", Exact, None),
        ("T2", "2026-03-07T00:00:00+01:00", Date, None),
        ("T3", "2026-02-01T00:00:00+01:00", Month, None),
        (
            "T4",
            "2026-03-06T18:00:00+01:00",
            Window,
            Some("2026-03-09T07:00:00+01:00"),
        ),
        // 02:01 does not exist on 30 March 2025: 01:01Z, as PostgreSQL's
        // '2025-03-30 02:01'::timestamp AT TIME ZONE 'Europe/Stockholm'.
        ("T5", "2025-03-30T03:01:00+02:00", Exact, None),
        // 02:30 on 26 October 2025 happens twice: the first, CEST.
        ("T6", "2025-10-26T02:30:00+02:00", Exact, None),
        ("T7", "2026-03-10T00:00:00+01:00", Date, None),
        ("T10", "2026-03-07T14:00:00+01:00", Hour, None),
        // A window from a time to the same time is that time.
        ("T12", "2026-03-13T10:00:00+01:00", Exact, None),
        // A window of dates runs to the end of its last date, here across the spring change.
        (
            "T11",
            "2026-03-01T00:00:00+01:00",
            Window,
            Some("2026-04-01T00:00:00+02:00"),
        ),
    ];
    for (id, at, precision, to) in expect {
        let i = get(id);
        assert_eq!(i.occurred_at.to_rfc3339(), at, "{id}");
        assert_eq!(i.time_precision, precision, "{id}");
        assert_eq!(
            i.occurred_to.map(|t| t.with_timezone(&chrono::Utc)),
            to.map(utc),
            "{id}"
        );
    }
    drop(store);
    // Again: nothing changes, precision and windows included.
    let again = import(&db, &args);
    assert_eq!(
        (
            n(&again.summary, "imported"),
            n(&again.summary, "unchanged")
        ),
        (0, 10)
    );
}
