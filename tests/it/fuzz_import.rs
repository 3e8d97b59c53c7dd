//! Property ("fuzz") tests of every importer's record parser, on stable Rust with `arbtest`.
//!
//! Each target takes bytes, as a file would give them, and must never panic: it gives records or
//! errors, and every error's text is bounded. A target first replays its seed corpus
//! (`fuzz/corpus/<target>/`, one input per file), then runs random inputs — half built to look
//! like the real thing with random damage, half raw bytes — for its share of the time budget.
//!
//! Budget: 2 s for the whole file by default, so `cargo test` stays quick;
//! `LAGESBILD_FUZZ_SECONDS=N` gives the file N seconds (shared by the targets). A failure prints
//! arbtest's seed; `ARBTEST_SEED=0x… cargo test --test it fuzz_import::TARGET` replays it. A new
//! crashing input belongs in the corpus once fixed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arbtest::arbitrary::{Result, Unstructured};
use lagesbild::crs::ServiceArea;
use lagesbild::ingest::csvutil::{self, Next};
use lagesbild::ingest::geojson_file::{self, GeoJsonOptions, IncidentFields};
use lagesbild::ingest::incidents_csv::{self, CoordColumns, RowLayout};
use lagesbild::ingest::jsonstream::ArrayElements;
use lagesbild::ingest::lamps::{self, LampCsvOptions, LampLayout};
use lagesbild::ingest::{ImportError, RowError, bra, osm, polisen, textio};
use lagesbild::model::LocationPrecision;

/// How many targets share the budget.
const TARGETS: u32 = 8;

fn budget() -> Duration {
    let total = std::env::var("LAGESBILD_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(total / f64::from(TARGETS))
}

/// Replays `fuzz/corpus/<name>/*`, then random inputs from `generate` (or raw bytes).
fn fuzz(name: &str, target: fn(&[u8]), generate: fn(&mut Unstructured) -> Result<Vec<u8>>) {
    let dir = crate::support::root().join("fuzz/corpus").join(name);
    let mut seeds: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{}: no seeds", dir.display());
    for seed in &seeds {
        let bytes = std::fs::read(seed).unwrap();
        let r = std::panic::catch_unwind(|| target(&bytes));
        assert!(r.is_ok(), "seed {} panicked", seed.display());
    }
    arbtest::arbtest(|u| {
        let input = if u.arbitrary::<bool>()? {
            generate(u)?
        } else {
            let n = u.arbitrary_len::<u8>()?;
            u.bytes(n)?.to_vec()
        };
        target(&input);
        Ok(())
    })
    .budget(budget())
    .run();
}

fn bounded_row_error(e: &RowError) {
    assert!(e.field.chars().count() <= 100, "field: {:?}", e.field);
    assert!(e.value.chars().count() <= 100, "value: {:?}", e.value);
    assert!(e.reason.chars().count() <= 430, "reason: {:?}", e.reason);
}

fn bounded_import_error(e: &ImportError) {
    let text = e.to_string();
    assert!(
        text.chars().count() <= 1_300,
        "{} chars: {text:.200}",
        text.len()
    );
}

// --- generators ------------------------------------------------------------------------------

/// A piece of text from a dictionary of what files hold, or random text.
fn word(u: &mut Unstructured) -> Result<String> {
    const WORDS: &[&str] = &[
        "Täby",
        "Misshandel på gångväg",
        "Stöld",
        "2026-03-06 22:10",
        "2026-04-29 14:28:38 +02:00",
        "2026-03-29 02:30",
        "59.4439",
        "18.0686",
        "673983,50",
        "6 593 495,74",
        "NaN",
        "-inf",
        "1e308",
        "\"",
        "\"\"",
        ";",
        ",",
        "\r",
        "\n",
        "\u{feff}",
        "i drift",
        "trasig",
        "5 031",
        "",
        " ",
    ];
    Ok(match u.int_in_range(0..=3)? {
        0 => random_text(u, 40)?,
        1 => "x".repeat(u.int_in_range(150..=260)?),
        _ => u.choose(WORDS)?.to_string(),
    })
}

fn random_text(u: &mut Unstructured, max: usize) -> Result<String> {
    let s: String = u.arbitrary()?;
    Ok(s.chars().take(max).collect())
}

/// A CSV file: `header`, then rows of dictionary words joined by the delimiter, with random
/// line ends and, sometimes, a random encoding.
fn csv_file(u: &mut Unstructured, header: &str, fields: usize, delim: char) -> Result<Vec<u8>> {
    let mut text = String::from(header);
    let rows = u.int_in_range(0..=12)?;
    for _ in 0..rows {
        text.push_str(if u.arbitrary()? { "\r\n" } else { "\n" });
        let n = u.int_in_range(0..=fields + 1)?;
        let mut cells = Vec::with_capacity(n);
        for _ in 0..n {
            cells.push(word(u)?);
        }
        text.push_str(&cells.join(&delim.to_string()));
    }
    Ok(match u.int_in_range(0..=5)? {
        0 => encoding_rs::WINDOWS_1252.encode(&text).0.into_owned(),
        1 => {
            let mut b = vec![0xFF, 0xFE];
            for c in text.encode_utf16() {
                b.extend_from_slice(&c.to_le_bytes());
            }
            b
        }
        _ => text.into_bytes(),
    })
}

fn gen_incidents(u: &mut Unstructured) -> Result<Vec<u8>> {
    csv_file(u, "id,time,category,lat,lon,place", 6, ',')
}

fn gen_lamps(u: &mut Unstructured) -> Result<Vec<u8>> {
    csv_file(u, "id;x;y;height;lumen;watt;status", 7, ';')
}

fn gen_bra(u: &mut Unstructured) -> Result<Vec<u8>> {
    csv_file(u, "Kommun;Antal;Per 100 000 inv.;År", 4, ';')
}

fn json_scalar(u: &mut Unstructured) -> Result<serde_json::Value> {
    Ok(match u.int_in_range(0..=4)? {
        0 => serde_json::Value::Null,
        1 => serde_json::json!(u.arbitrary::<i64>()?),
        2 => serde_json::json!(u.arbitrary::<f64>()?),
        _ => serde_json::Value::String(word(u)?),
    })
}

fn gen_polisen(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut events = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let mut ev = serde_json::json!({
            "id": u.arbitrary::<u32>()?,
            "datetime": "2026-08-22 19:51:41 +02:00",
            "name": "22 augusti 17.59, Misshandel, Täby",
            "summary": "Man slagen.",
            "url": "/aktuellt/",
            "type": "Misshandel",
            "location": {"name": "Täby", "gps": "59.443913,18.068703"},
        });
        for _ in 0..u.int_in_range(0..=3)? {
            let key = *u.choose(&["id", "datetime", "name", "summary", "type", "location"])?;
            ev[key] = json_scalar(u)?;
        }
        if u.arbitrary()? && ev["location"].is_object() {
            ev["location"]["gps"] = serde_json::Value::String(format!(
                "{},{}",
                u.arbitrary::<f32>()?,
                u.arbitrary::<f32>()?
            ));
        }
        events.push(ev);
    }
    let mut text = serde_json::to_string_pretty(&events).unwrap();
    if u.arbitrary()? {
        let cut = u.int_in_range(0..=text.len())?;
        while !text.is_char_boundary(cut.min(text.len())) {
            text.pop();
        }
        text.truncate(cut.min(text.len()));
    }
    Ok(text.into_bytes())
}

/// A ring near Täby on a coarse grid, so that crossings, repeats and collinear spikes are common.
fn ring(u: &mut Unstructured) -> Result<serde_json::Value> {
    let n = u.int_in_range(0..=9)?;
    let mut pts = Vec::with_capacity(n + 1);
    for _ in 0..n {
        let (i, j) = (u.int_in_range(0..=4)?, u.int_in_range(0..=4)?);
        pts.push(serde_json::json!([
            18.05 + f64::from(i) * 0.005,
            59.43 + f64::from(j) * 0.003
        ]));
    }
    if u.arbitrary()? && !pts.is_empty() {
        pts.push(pts[0].clone());
    }
    Ok(serde_json::Value::Array(pts))
}

fn gen_feature(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut polys = Vec::new();
    for _ in 0..u.int_in_range(1..=3)? {
        let mut rings = Vec::new();
        for _ in 0..u.int_in_range(0..=3)? {
            rings.push(ring(u)?);
        }
        polys.push(serde_json::Value::Array(rings));
    }
    let geometry = if polys.len() == 1 && u.arbitrary()? {
        serde_json::json!({"type": "Polygon", "coordinates": polys[0]})
    } else if u.arbitrary()? {
        serde_json::json!({"type": "MultiPolygon", "coordinates": polys})
    } else {
        serde_json::json!({"type": "Point", "coordinates": [18.06, 59.44]})
    };
    let f = serde_json::json!({
        "type": "Feature",
        "id": u.arbitrary::<u16>()?,
        "properties": {"name": word(u)?, "time": word(u)?, "category": word(u)?},
        "geometry": geometry,
    });
    Ok(serde_json::to_vec(&f).unwrap())
}

fn gen_osm(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut text = format!("{},{}\n", u.arbitrary::<f32>()?, u.arbitrary::<f32>()?);
    const KEYS: &[&str] = &[
        "highway",
        "lit",
        "name",
        "ref",
        "access",
        "sidewalk",
        "height",
        "light:power",
        "light:status",
        "disused",
    ];
    const VALUES: &[&str] = &[
        "footway",
        "street_lamp",
        "residential",
        "both",
        "yes",
        "no",
        "private",
        "5 m",
        "60W",
        "broken",
    ];
    for _ in 0..u.int_in_range(0..=6)? {
        let k = u.choose(KEYS)?;
        let v = if u.arbitrary()? {
            u.choose(VALUES)?.to_string()
        } else {
            word(u)?
        };
        text.push_str(&format!("{k}={v}\n"));
    }
    Ok(text.into_bytes())
}

fn gen_text(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut b = gen_incidents(u)?;
    if u.arbitrary()? && !b.is_empty() {
        let at = u.int_in_range(0..=b.len() - 1)?;
        b[at] = u.arbitrary()?;
    }
    Ok(b)
}

// --- targets ---------------------------------------------------------------------------------

/// Reads `bytes` as a CSV file and hands each record to `row`.
fn csv_records(bytes: &[u8], delimiter: Option<u8>, mut row: impl FnMut(&csv::StringRecord, u64)) {
    let path = Path::new("fuzz.csv");
    let mut src =
        match csvutil::open_reader(path, std::io::Cursor::new(bytes.to_vec()), delimiter, None) {
            Ok(s) => s,
            Err(e) => return bounded_import_error(&e),
        };
    let mut rec = csv::StringRecord::new();
    loop {
        match src.next(&mut rec) {
            Ok(Next::End) => break,
            Ok(Next::Bad(e)) => bounded_row_error(&e),
            Ok(Next::Record(line)) => row(&rec, line),
            Err(e) => return bounded_import_error(&e),
        }
    }
}

fn incident_rows(bytes: &[u8]) {
    let layout = RowLayout {
        id: 0,
        time: Some((1, "time".into())),
        window: None,
        category: 2,
        place: Some(5),
        xy: (4, 3),
        xy_names: ("lon".into(), "lat".into()),
        time_format: None,
    };
    // And read as a window (columns 1 to 6), --time for rows without one.
    let windowed = RowLayout {
        window: Some(((1, "from".into()), (6, "to".into()))),
        ..layout.clone()
    };
    csv_records(bytes, None, |rec, line| {
        for l in [&layout, &windowed] {
            match incidents_csv::parse_record(rec, line, l) {
                Err(e) => bounded_row_error(&e),
                Ok(r) => {
                    // A window is stored only when it ends after it begins.
                    if let Some(to) = r.occurred_to {
                        assert!(to > r.at, "line {line}: window {} to {to}", r.at);
                    }
                }
            }
        }
    });
}

fn lamp_rows(bytes: &[u8]) {
    let opts = LampCsvOptions {
        path: PathBuf::from("fuzz.csv"),
        source: "fuzz".into(),
        id: "id".into(),
        coords: CoordColumns::Xy {
            x: "x".into(),
            y: "y".into(),
        },
        epsg: 3006,
        height: Some("height".into()),
        lumen: Some("lumen".into()),
        watt: Some("watt".into()),
        status: Some("status".into()),
        delimiter: Some(b';'),
        encoding: None,
        area: ServiceArea::sweden(),
    };
    let layout = LampLayout {
        id: 0,
        xy: (1, 2),
        xy_names: ("x".into(), "y".into()),
        height: Some(3),
        lumen: Some(4),
        watt: Some(5),
        status: Some(6),
    };
    csv_records(bytes, Some(b';'), |rec, line| {
        if let Err(e) = lamps::lamp_row(rec, line, &layout, &opts) {
            bounded_row_error(&e);
        }
    });
}

fn bra_rows(bytes: &[u8]) {
    let layout = bra::BraLayout {
        kommun: 0,
        antal: 1,
        per_100k: Some(2),
        year: Some(3),
    };
    csv_records(bytes, Some(b';'), |rec, line| {
        if let Err(e) = bra::bra_row(rec, line, &layout, Some(2025)) {
            bounded_row_error(&e);
        }
    });
}

fn polisen_events(bytes: &[u8]) {
    let area = ServiceArea::sweden();
    // The element alone, and the element stream of the whole input.
    if let Err(e) = polisen::event(1, bytes, &area) {
        bounded_row_error(&e);
    }
    let Ok(text) = textio::open(
        std::io::Cursor::new(bytes.to_vec()),
        textio::TextOptions::default(),
        None,
    ) else {
        return;
    };
    let Ok(stream) = ArrayElements::top_level(text) else {
        return;
    };
    for item in stream.with_limit(polisen::MAX_EVENT_BYTES) {
        match item {
            Ok((line, b)) => {
                if let Err(e) = polisen::event(line, &b, &area) {
                    bounded_row_error(&e);
                }
            }
            Err(e) => assert!(e.to_string().len() < 1_000, "{e}"),
        }
    }
}

fn geojson_features(bytes: &[u8]) {
    let Ok(f) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let opts = GeoJsonOptions {
        path: PathBuf::from("fuzz.geojson"),
        source: "fuzz".into(),
        epsg: None,
        area: ServiceArea::sweden(),
        encoding: None,
    };
    let fields = IncidentFields {
        id: "id".into(),
        time: "time".into(),
        category: "category".into(),
        time_format: None,
        precision: LocationPrecision::Exact,
    };
    match geojson_file::area_feature(1, &f, 4326, &opts, "name") {
        Ok(a) => {
            use geo::Validation;
            assert!(a.geometry.is_valid(), "an accepted area is valid");
        }
        Err(e) => bounded_row_error(&e),
    }
    if let Err(e) = geojson_file::incident_feature(1, &f, 4326, &opts, &fields) {
        bounded_row_error(&e);
    }
}

/// First line `lon,lat`, then `key=value` lines: an OSM node's or way's tags.
fn osm_tags(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    let (lon, lat) = lines
        .next()
        .and_then(|l| l.split_once(','))
        .map(|(a, b)| {
            (
                a.trim().parse().unwrap_or(0.0),
                b.trim().parse().unwrap_or(0.0),
            )
        })
        .unwrap_or((18.06, 59.44));
    let tags: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let _ = osm::walkway_kind(&tags);
    if let Err(e) = osm::check_tags("way/1", &tags) {
        bounded_row_error(&e);
    }
    if let Err(e) = osm::lamp(1, lon, lat, &tags, &ServiceArea::sweden()) {
        bounded_row_error(&e);
    }
}

/// The text layer alone, with each encoding choice.
fn text_stream(bytes: &[u8]) {
    for encoding in [
        None,
        Some(encoding_rs::WINDOWS_1252),
        Some(encoding_rs::UTF_16BE),
    ] {
        for line_limit in [true, false] {
            let opts = textio::TextOptions {
                encoding,
                line_limit,
            };
            match textio::open(std::io::Cursor::new(bytes.to_vec()), opts, None) {
                Ok(mut r) => {
                    let mut s = String::new();
                    if let Err(e) = r.read_to_string(&mut s) {
                        assert!(e.to_string().len() < 1_000, "{e}");
                    } else if encoding.is_none() && !bytes.starts_with(&[0xFF, 0xFE]) {
                        // Passed as UTF-8: exactly the input, less a BOM.
                        let plain = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
                        if !bytes.starts_with(&[0xFE, 0xFF]) {
                            assert_eq!(s.as_bytes(), plain);
                        }
                    }
                }
                Err(e) => assert!(e.to_string().len() < 1_000, "{e}"),
            }
        }
    }
}

#[test]
fn fuzz_csv_incident_row() {
    fuzz("csv_incident_row", incident_rows, gen_incidents);
}

#[test]
fn fuzz_csv_lamp_row() {
    fuzz("csv_lamp_row", lamp_rows, gen_lamps);
}

#[test]
fn fuzz_csv_bra_row() {
    fuzz("csv_bra_row", bra_rows, gen_bra);
}

#[test]
fn fuzz_polisen_event() {
    fuzz("polisen_event", polisen_events, gen_polisen);
}

#[test]
fn fuzz_geojson_feature() {
    fuzz("geojson_feature", geojson_features, gen_feature);
}

#[test]
fn fuzz_osm_tags() {
    fuzz("osm_tags", osm_tags, gen_osm);
}

#[test]
fn fuzz_text_stream() {
    fuzz("text_stream", text_stream, gen_text);
}

#[test]
fn fuzz_json_stream() {
    fuzz("json_stream", json_stream, gen_polisen);
}

/// The element splitter alone, with a small element limit so that skipping is exercised.
fn json_stream(bytes: &[u8]) {
    for member in [false, true] {
        let stream = if member {
            ArrayElements::member(bytes, "features", &["crs"])
        } else {
            ArrayElements::top_level(bytes)
        };
        let Ok(stream) = stream else { continue };
        for item in stream.with_limit(64).take(10_000) {
            match item {
                Ok((_, b)) => assert!(b.len() <= 64),
                Err(e) => assert!(e.to_string().len() < 1_000, "{e}"),
            }
        }
    }
}
