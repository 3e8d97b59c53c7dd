//! `lagesbild export --gpkg` read by GDAL, the outside client QGIS uses: `ogrinfo` gives the
//! layer names, feature counts and SRS; `ogr2ogr` gives back the coordinates stored; GDAL's
//! own `validate_gpkg.py` checks the file against the GeoPackage standard (warnings as
//! errors). Debian's `gdal-bin` (with `python3-gdal`) provides them; `scripts/setup.sh
//! --browser`, which the test command runs first, installs it.

use std::process::Command;

use geo::{LineString, MultiPolygon, Point, Polygon, coord};
use lagesbild::model::{
    Area, CategoryGroup, Incident, Lamp, LampStatus, LocationPrecision, TimePrecision, Walkway,
};

const X0: f64 = 674_000.0;
const Y0: f64 = 6_593_000.0;

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {cmd:?}: {e}; install Debian's gdal-bin (scripts/setup.sh --browser does)"
        )
    });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Stores [`seed`]'s data.
async fn store_seed(store: &dyn lagesbild::store::Store) {
    let (ways, lamps, areas, incidents) = seed();
    store.upsert_walkways(&ways).await.unwrap();
    store.upsert_lamps(&lamps).await.unwrap();
    store.upsert_areas(&areas).await.unwrap();
    store.upsert_incidents(&incidents).await.unwrap();
}

fn seed() -> (Vec<Walkway>, Vec<Lamp>, Vec<Area>, Vec<Incident>) {
    // An unlit path of 200 m without a lamp in reach: one dark stretch of 200 m. A lit street
    // 500 m north with a lamp every 10 m: one lit stretch.
    let dark = Walkway {
        id: 1,
        geometry: LineString(vec![coord! {x: X0, y: Y0}, coord! {x: X0 + 200.0, y: Y0}]),
        kind: "footway".into(),
        lit: Some("no".into()),
        name: Some("Mörka stigen".into()),
    };
    let lit = Walkway {
        id: 2,
        geometry: LineString(vec![
            coord! {x: X0, y: Y0 + 500.0},
            coord! {x: X0 + 200.0, y: Y0 + 500.0},
        ]),
        kind: "footway".into(),
        lit: Some("yes".into()),
        name: Some("Ljusa gatan".into()),
    };
    let lamps: Vec<Lamp> = (0..=20)
        .map(|k| Lamp {
            id: format!("test:L{k:02}"),
            location: Point::new(X0 + 10.0 * f64::from(k), Y0 + 502.0),
            height_m: Some(5.0),
            lumen: Some(3000.0),
            watt: None,
            status: LampStatus::Working,
            source: "test".into(),
            reference: Some(format!("L{k}")),
        })
        .collect();
    let square = Polygon::new(
        LineString(vec![
            coord! {x: X0 - 100.0, y: Y0 - 100.0},
            coord! {x: X0 + 300.0, y: Y0 - 100.0},
            coord! {x: X0 + 300.0, y: Y0 + 600.0},
            coord! {x: X0 - 100.0, y: Y0 + 600.0},
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
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-07T22:15:00+01:00").unwrap();
    let incidents = (0..3)
        .map(|k| Incident {
            source: "t".into(),
            source_id: format!("i{k}"),
            occurred_at: at,
            time_precision: TimePrecision::Exact,
            occurred_to: None,
            category: "assault".into(),
            group: CategoryGroup::Violence,
            label: "Misshandel".into(),
            location: Point::new(X0 + 50.0 * f64::from(k), Y0 + 10.0),
            precision: LocationPrecision::Exact,
            place: None,
            summary: None,
        })
        .collect();
    (vec![dark, lit], lamps, vec![area], incidents)
}

/// `Layer name` → `Feature Count` from `ogrinfo -so -al`.
fn counts(summary: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut name = None;
    for line in summary.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            name = Some(n.trim().to_string());
        }
        if let Some(c) = line.strip_prefix("Feature Count: ") {
            out.push((name.take().unwrap(), c.trim().parse().unwrap()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_reads_the_geopackage_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let db = db.to_str().unwrap();
    {
        let store = lagesbild::store::open(db).await.unwrap();
        store_seed(store.as_ref()).await;
    }
    let bin = env!("CARGO_BIN_EXE_lagesbild");
    let public = dir.path().join("bild.gpkg");
    let full = dir.path().join("polis.gpkg");
    for (file, extra) in [(&public, None), (&full, Some("--incidents"))] {
        let mut cmd = Command::new(bin);
        cmd.args(["--db", db, "export", "--gpkg", file.to_str().unwrap()]);
        if let Some(e) = extra {
            cmd.arg(e);
        }
        let (ok, _, err) = run(&mut cmd);
        assert!(ok, "export failed: {err}");
        assert!(!file.with_extension("gpkg.partial").exists());
    }

    let (ok, summary, err) = run(Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .arg(&public));
    assert!(ok, "ogrinfo: {err}");
    assert!(!err.contains("Warning") && !err.contains("ERROR"), "{err}");
    assert_eq!(
        counts(&summary),
        [
            ("walkways".to_string(), 2),
            ("lamps".to_string(), 21),
            ("stretches".to_string(), 2),
            ("districts".to_string(), 1),
            ("citizen_reports".to_string(), 0),
        ]
    );
    assert!(summary.contains("PROJCRS[\"SWEREF99 TM\""), "{summary}");
    assert!(summary.contains("ID[\"EPSG\",3006]"), "{summary}");
    // Incidents only when asked for.
    let (_, full_summary, _) = run(Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .arg(&full));
    assert!(counts(&full_summary).contains(&("incidents".to_string(), 3)));

    // The coordinators' values come back as stored: lamp positions in EPSG:3006 and the dark
    // stretch's length and state.
    let (ok, json, err) = run(Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/"])
        .arg(&public)
        .arg("lamps"));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), 21);
    for (k, f) in feats.iter().enumerate() {
        assert_eq!(f["properties"]["lamp_id"], format!("test:L{k:02}"));
        assert_eq!(f["properties"]["status"], "working");
        let c = &f["geometry"]["coordinates"];
        assert_eq!(c[0].as_f64().unwrap(), X0 + 10.0 * k as f64);
        assert_eq!(c[1].as_f64().unwrap(), Y0 + 502.0);
    }
    let (_, json, _) = run(Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/"])
        .arg(&public)
        .arg("stretches"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let f = v["features"].as_array().unwrap();
    assert_eq!(f.len(), 2, "{v}");
    let (d, l) = (&f[0]["properties"], &f[1]["properties"]);
    assert_eq!(
        (d["walkway_id"].as_i64(), d["state"].as_str()),
        (Some(1), Some("dark")),
        "{d}"
    );
    assert!(
        (d["length_m"].as_f64().unwrap() - 200.0).abs() < 1e-6,
        "{d}"
    );
    assert_eq!(d["rank"], 1);
    assert!(d["reasons"].as_str().unwrap().contains("lit=no"), "{d}");
    assert_eq!(
        (l["walkway_id"].as_i64(), l["state"].as_str()),
        (Some(2), Some("lit")),
        "{l}"
    );
    assert!(l["rank"].is_null());

    // GDAL's validator of the GeoPackage standard, strict.
    for file in [&public, &full] {
        let (ok, out, err) = run(Command::new("python3")
            .arg("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")
            .args(["--extra", "--warning-as-error"])
            .arg(file));
        assert!(ok, "validate_gpkg.py {}: {out}{err}", file.display());
    }
}

/// The download for police and coordinators (`GET /api/v1/export.gpkg`): refused without a
/// token, and with one a GeoPackage GDAL reads with the incidents in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_download_is_for_signed_in_roles_and_gdal_reads_it() {
    use crate::support::{TestServer, get};
    use lagesbild::model::Role;
    let s = TestServer::seeded(|_| {}, async |store| store_seed(store).await).await;
    let r = get(s.url("/api/v1/export.gpkg"), None).await;
    assert_eq!(r.status, 401);
    let r = get(
        s.url("/api/v1/export.gpkg"),
        Some(s.token(Role::Coordinator).await),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/geopackage+sqlite3");
    assert!(
        r.headers["content-disposition"].starts_with("attachment; filename=\"lagesbild-"),
        "{:?}",
        r.headers
    );
    // Sent from a temporary file, which is gone once the answer is.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("lagesbild-export-{}-", std::process::id()))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // An SQLite file whose application id is GPKG.
    assert_eq!(&r.body[..16], b"SQLite format 3\0");
    assert_eq!(&r.body[68..72], b"GPKG");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("download.gpkg");
    std::fs::write(&file, &r.body).unwrap();
    let (ok, summary, err) = run(Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .arg(&file));
    assert!(ok, "ogrinfo: {err}");
    assert_eq!(
        counts(&summary),
        [
            ("walkways".to_string(), 2),
            ("lamps".to_string(), 21),
            ("stretches".to_string(), 2),
            ("districts".to_string(), 1),
            ("citizen_reports".to_string(), 0),
            ("incidents".to_string(), 3),
        ]
    );
    s.stop().await.unwrap();
}
