//! OGC API – Features as GIS clients meet it: a real server over a real SQLite file with
//! 100 000 walkways (two segments each, 40–80 m, over 30 × 30 km) and 100 000 lamps, read page by
//! page over loopback HTTP.
//!
//! Printed, in one run:
//! - the first request of the collection (the lighting analysis and the collection built);
//! - every item paged through `next` links at `limit=10000`, in CRS84 and in EPSG:3006:
//!   features per second and bytes;
//! - the reference a user has without OGC API: `GET /api/v1/walkways`, the web map's GeoJSON,
//!   one answer of at most 50 000 pieces (features per second, same server, warm);
//! - GDAL's `ogr2ogr` copying the whole collection through its OAPIF driver to a GeoPackage, as
//!   QGIS users would (when `ogr2ogr` is installed).
//!
//! `cargo bench --bench ogc` runs the full size; `cargo test --benches` a 1/50 one.

mod support;

use std::process::Command;
use std::time::Instant;
use support::get;

use geo::{Coord, LineString, Point};
use lagesbild::config::Config;
use lagesbild::model::{Lamp, LampStatus, Walkway};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const ORIGIN: (f64, f64) = (650_000.0, 6_570_000.0);

fn world(n: usize, side: f64) -> (Vec<Walkway>, Vec<Lamp>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut ways = Vec::with_capacity(n);
    let mut lamps = Vec::with_capacity(n);
    for i in 0..n {
        let mut x = ORIGIN.0 + rng.random_range(0.0..side);
        let mut y = ORIGIN.1 + rng.random_range(0.0..side);
        let mut h: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let mut pts = vec![Coord { x, y }];
        for _ in 0..2 {
            h += rng.random_range(-0.5..0.5);
            let len = rng.random_range(20.0..40.0);
            x += len * h.cos();
            y += len * h.sin();
            pts.push(Coord { x, y });
        }
        lamps.push(Lamp {
            id: format!("b:{i}"),
            location: Point::new(pts[1].x + 3.0, pts[1].y),
            height_m: Some(5.0),
            lumen: Some(3000.0),
            watt: None,
            status: LampStatus::Working,
            source: "bench".into(),
            reference: None,
        });
        ways.push(Walkway {
            id: i as i64 + 1,
            geometry: LineString(pts),
            kind: "footway".into(),
            lit: Some(if i % 3 == 0 { "no" } else { "yes" }.into()),
            name: None,
        });
    }
    (ways, lamps)
}

/// Every page from `url`: (features, bytes, seconds).
fn page_all(agent: &ureq::Agent, mut url: String) -> (usize, usize, f64) {
    let (mut n, mut bytes, mut secs) = (0, 0, 0.0);
    loop {
        let (body, s) = get(agent, &url);
        secs += s;
        bytes += body.len();
        let v: Value = serde_json::from_slice(&body).unwrap();
        n += v["features"].as_array().unwrap().len();
        match v["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
        {
            Some(l) => url = l["href"].as_str().unwrap().to_string(),
            None => return (n, bytes, secs),
        }
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let div = if full { 1 } else { 50 };
    let n = 100_000 / div;
    let side = 30_000.0 / (div as f64).sqrt();
    let dir = tempfile::tempdir().unwrap();
    let db = dir
        .path()
        .join("bench.sqlite")
        .to_str()
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ways, lamps) = world(n, side);
    let addr = rt.block_on(async {
        let store = lagesbild::store::open(&db).await.unwrap();
        store.upsert_walkways(&ways).await.unwrap();
        store.upsert_lamps(&lamps).await.unwrap();
        drop(store);
        let config = Config {
            db: db.clone(),
            addr: "127.0.0.1:0".into(),
            request_timeout_s: 300,
            ..Config::default()
        };
        let state = lagesbild::cli::serve::prepare(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(lagesbild::cli::serve::serve_on(
            listener,
            state,
            std::future::pending(),
        ));
        addr
    });
    let base = format!("http://{addr}");
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    println!("ogc: {n} walkways, {n} lamps");

    let (_, cold) = get(&agent, &format!("{base}/ogc/collections/walkways"));
    println!("ogc: first request of the collection (analysis and build): {cold:.3} s");

    for (name, q) in [
        ("CRS84", ""),
        (
            "EPSG:3006",
            "&crs=http://www.opengis.net/def/crs/EPSG/0/3006",
        ),
    ] {
        let (items, bytes, secs) = page_all(
            &agent,
            format!("{base}/ogc/collections/walkways/items?limit=10000{q}"),
        );
        println!(
            "ogc: items paged ({name}, limit 10000): {items} features, {:.1} MB, {secs:.3} s, {:.0} features/s",
            bytes as f64 / 1e6,
            items as f64 / secs
        );
    }
    let (lamps_n, _, lamps_s) = page_all(
        &agent,
        format!("{base}/ogc/collections/lamps/items?limit=10000"),
    );
    println!(
        "ogc: lamps paged: {lamps_n} features in {lamps_s:.3} s (first page builds), {:.0} features/s",
        lamps_n as f64 / lamps_s
    );

    // The reference: the map's GeoJSON endpoint, one answer, twice (the second from its cache).
    for round in ["first", "cached"] {
        let (body, secs) = get(&agent, &format!("{base}/api/v1/walkways?limit=50000"));
        let v: Value = serde_json::from_slice(&body).unwrap();
        let k = v["features"].as_array().unwrap().len();
        println!(
            "reference: GET /api/v1/walkways ({round}): {k} features, {:.1} MB, {secs:.3} s, {:.0} features/s",
            body.len() as f64 / 1e6,
            k as f64 / secs
        );
    }

    if Command::new("ogr2ogr").arg("--version").output().is_ok() {
        let out = dir.path().join("copy.gpkg");
        let t = Instant::now();
        let st = Command::new("ogr2ogr")
            .args(["-f", "GPKG", out.to_str().unwrap()])
            .arg(format!("OAPIF:{base}/ogc"))
            .args(["walkways", "-oo", "PAGE_SIZE=10000"])
            .status()
            .unwrap();
        assert!(st.success());
        let secs = t.elapsed().as_secs_f64();
        let info = Command::new("ogrinfo")
            .args(["-so", out.to_str().unwrap(), "walkways"])
            .output()
            .unwrap();
        let count = String::from_utf8_lossy(&info.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("Feature Count: ")
                    .map(|c| c.trim().to_string())
            })
            .unwrap_or_default();
        println!("gdal: ogr2ogr OAPIF walkways -> GeoPackage: {count} features in {secs:.3} s");
    }
}
