//! Vector tiles as the web map and GIS clients meet them: a real server over a real SQLite file
//! holding the anchor network (224 × 224 cells of 100 m: 100 352 footway segments over
//! 22.4 × 22.4 km, 50 000 lamps of 5 m and 3 000 lm at seeded random points on random
//! segments), tiles asked for over loopback HTTP.
//!
//! Printed, in one run:
//! - the lighting answer through the API on this network (`/api/v1/lighting/stretches`, first
//!   and cached: issue 10's figure), then the first tile;
//! - per layer and zoom, every tile over the network (a sample of 300 at zoom 16): time per
//!   tile when first asked for (encoded) and again (from the answer cache), bytes as the
//!   protobuf and gzipped (flate2 at level 6, what the server's compression layer sends for
//!   answers under 512 KiB; the reference below is gzipped the same way, to compare contents);
//! - the reference: the GeoJSON the map would otherwise fetch for a 1280 × 860 view at zoom 13
//!   (`/api/v1/walkways?bbox=…`), against the tiles of the same view;
//! - what one replica holds in memory (the release server as a process) per 10 000 walkways.
//!
//! `cargo bench --bench tiles` runs the full size; `cargo test --benches` a 1/16 one.
//! `TILES_BENCH_DB=FILE` keeps the grid network's database in FILE (which must not exist yet),
//! e.g. for `/usr/bin/time -v lagesbild --db FILE lighting --out stretches.geojson`.

mod support;

use std::io::Write;
use std::time::Instant;
use support::{get, rss_mb, serve};

use geo::{Coord, LineString, Point};
use lagesbild::config::Config;
use lagesbild::model::{Lamp, LampStatus, Walkway};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ORIGIN: (f64, f64) = (650_000.0, 6_570_000.0);
const CELL: f64 = 100.0;

/// The grid network: a segment east and one north from every cell corner, and lamps at random
/// points of random segments, 2 m beside them.
fn network(cells: usize, lamps: usize) -> (Vec<Walkway>, Vec<Lamp>) {
    let mut ways = Vec::with_capacity(2 * cells * cells);
    for i in 0..cells {
        for j in 0..cells {
            let (x, y) = (ORIGIN.0 + CELL * j as f64, ORIGIN.1 + CELL * i as f64);
            for (dx, dy) in [(CELL, 0.0), (0.0, CELL)] {
                ways.push(Walkway {
                    id: ways.len() as i64 + 1,
                    geometry: LineString(vec![
                        Coord { x, y },
                        Coord {
                            x: x + dx,
                            y: y + dy,
                        },
                    ]),
                    kind: "footway".into(),
                    lit: None,
                    name: None,
                });
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let lamps = (0..lamps)
        .map(|k| {
            let w = &ways[rng.random_range(0..ways.len())].geometry.0;
            let t: f64 = rng.random_range(0.0..1.0);
            let (a, b) = (w[0], w[1]);
            let side = if b.x > a.x { (0.0, 2.0) } else { (2.0, 0.0) };
            Lamp {
                id: format!("bench:{k}"),
                location: Point::new(
                    a.x + t * (b.x - a.x) + side.0,
                    a.y + t * (b.y - a.y) + side.1,
                ),
                height_m: Some(5.0),
                lumen: Some(3000.0),
                watt: None,
                status: LampStatus::Working,
                source: "bench".into(),
                reference: None,
            }
        })
        .collect();
    (ways, lamps)
}

fn gzipped(bytes: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(bytes).unwrap();
    e.finish().unwrap().len()
}

/// WGS84 of an EPSG:3006 point.
fn lon_lat(x: f64, y: f64) -> (f64, f64) {
    let mut p = [(x, y)];
    lagesbild::crs::transform_in_place(
        lagesbild::crs::WORK_EPSG,
        lagesbild::crs::WGS84_EPSG,
        &mut p,
    )
    .unwrap();
    p[0]
}

/// The XYZ tile column and row of a WGS84 position.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let t = lagesbild::tiles::tile_of(lon, lat, z);
    (t.x, t.y)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let cells = if full { 224 } else { 56 };
    let lamps = if full { 50_000 } else { 50_000 / 16 };
    let dir = tempfile::tempdir().unwrap();
    // TILES_BENCH_DB keeps the grid network's database (e.g. to run `lagesbild lighting` on it
    // afterwards); the file must not exist yet.
    let db = std::env::var("TILES_BENCH_DB").unwrap_or_else(|_| {
        dir.path()
            .join("bench.sqlite")
            .to_str()
            .unwrap()
            .to_string()
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ways, lamps) = network(cells, lamps);
    let n_ways = ways.len();
    let n_lamps = lamps.len();
    // The same walkways alone, and no data at all, for what a replica holds per walkway.
    let ways_db = dir.path().join("ways.sqlite");
    let empty_db = dir.path().join("empty.sqlite");
    let (ways_db, empty_db) = (ways_db.to_str().unwrap(), empty_db.to_str().unwrap());
    let addr = rt.block_on(async {
        let store = lagesbild::store::open(&db).await.unwrap();
        store.upsert_walkways(&ways).await.unwrap();
        store.upsert_lamps(&lamps).await.unwrap();
        drop(store);
        let store = lagesbild::store::open(ways_db).await.unwrap();
        store.upsert_walkways(&ways).await.unwrap();
        drop(store);
        drop(lagesbild::store::open(empty_db).await.unwrap());
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
    drop(ways);
    let base = format!("http://{addr}");
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    println!("tiles: {n_ways} walkways, {n_lamps} lamps");

    let side = CELL * cells as f64;
    let (w, s) = lon_lat(ORIGIN.0, ORIGIN.1);
    let (e, n) = lon_lat(ORIGIN.0 + side, ORIGIN.1 + side);
    let (cx, cy) = lon_lat(ORIGIN.0 + side / 2.0, ORIGIN.1 + side / 2.0);
    // Issue 10's lighting figure on this network, through the API: the first answer holds the
    // whole analysis (5 M samples at 2 m, stretch assembly, nearest lamps, priorities).
    for round in ["first (the analysis)", "cached"] {
        let (body, secs) = get(&agent, &format!("{base}/api/v1/lighting/stretches"));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        println!(
            "lighting: GET /api/v1/lighting/stretches, {round}: {secs:.3} s, {} of {} stretches (the default limit), {:.1} MB",
            v["features"].as_array().map_or(0, Vec::len),
            v["meta"]["matching"],
            body.len() as f64 / 1e6
        );
    }
    let (x, y) = tile_of(cx, cy, 14);
    let (_, first) = get(&agent, &format!("{base}/tiles/walkways/14/{x}/{y}.mvt"));
    println!("tiles: first tile (the analysis already done): {first:.3} s");

    for layer in ["walkways", "stretches", "lamps"] {
        for z in [10u8, 12, 13, 14, 16] {
            // The tiles over the network (west-north to east-south corner).
            let (x0, y0) = tile_of(w.min(e), n.max(s), z);
            let (x1, y1) = tile_of(w.max(e), n.min(s), z);
            let mut addrs: Vec<(u32, u32)> = (x0..=x1)
                .flat_map(|x| (y0..=y1).map(move |y| (x, y)))
                .collect();
            if addrs.len() > 300 {
                // A seeded sample around the middle.
                let mut rng = ChaCha8Rng::seed_from_u64(u64::from(z));
                let (mx, my) = tile_of(cx, cy, z);
                addrs = (0..300)
                    .map(|_| {
                        (
                            mx - 10 + rng.random_range(0..20),
                            my - 10 + rng.random_range(0..20),
                        )
                    })
                    .collect();
                addrs.sort_unstable();
                addrs.dedup();
            }
            let (mut cold, mut warm, mut raw, mut gz) = (vec![], vec![], vec![], vec![]);
            for &(x, y) in &addrs {
                let url = format!("{base}/tiles/{layer}/{z}/{x}/{y}.mvt");
                let (body, secs) = get(&agent, &url);
                cold.push(secs * 1e3);
                raw.push(body.len());
                gz.push(gzipped(&body));
                warm.push(get(&agent, &url).1 * 1e3);
            }
            cold.sort_by(f64::total_cmp);
            warm.sort_by(f64::total_cmp);
            let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64 / 1024.0;
            println!(
                "tiles: {layer} z{z}: {} tiles; first ask median {:.1} ms, p95 {:.1}, max {:.1}; cached median {:.2} ms; \
                 {:.1} KiB mean, {:.1} KiB max, gzipped {:.1} KiB mean, {:.1} KiB max",
                addrs.len(),
                percentile(&cold, 0.5),
                percentile(&cold, 0.95),
                cold[cold.len() - 1],
                percentile(&warm, 0.5),
                mean(&raw),
                *raw.iter().max().unwrap() as f64 / 1024.0,
                mean(&gz),
                *gz.iter().max().unwrap() as f64 / 1024.0,
            );
        }
    }

    // The web map's first view at zoom 13 (1280 × 860 pixels) as tiles and as GeoJSON.
    let (mx, my) = lagesbild::tiles::lon_lat_to_world(cx, cy);
    let world_px = 256.0 * f64::from(1u32 << 13);
    let (hw, hh) = (640.0 / world_px, 430.0 / world_px);
    let (vw, vn) = lagesbild::tiles::world_to_lon_lat(mx - hw, my - hh);
    let (ve, vs) = lagesbild::tiles::world_to_lon_lat(mx + hw, my + hh);
    let (tx0, ty0) = tile_of(vw, vn, 13);
    let (tx1, ty1) = tile_of(ve, vs, 13);
    let (mut bytes, mut gz, mut count) = (0, 0, 0);
    let t = Instant::now();
    for x in tx0..=tx1 {
        for y in ty0..=ty1 {
            let (b, _) = get(&agent, &format!("{base}/tiles/walkways/13/{x}/{y}.mvt"));
            bytes += b.len();
            gz += gzipped(&b);
            count += 1;
        }
    }
    let tile_s = t.elapsed().as_secs_f64();
    println!(
        "view z13: {count} walkway tiles, {:.2} MB ({:.2} MB gzipped), {tile_s:.3} s (cached, one after another)",
        bytes as f64 / 1e6,
        gz as f64 / 1e6
    );
    let bbox = format!("{vw:.5},{vs:.5},{ve:.5},{vn:.5}");
    for round in ["first", "cached"] {
        let (body, secs) = get(
            &agent,
            &format!("{base}/api/v1/walkways?bbox={bbox}&limit=50000"),
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        println!(
            "reference: GET /api/v1/walkways for the view ({round}): {} pieces (truncated: {}), {:.2} MB ({:.2} MB gzipped), {secs:.3} s; tiles are {:.1}× smaller gzipped",
            v["features"].as_array().map_or(0, Vec::len),
            v["meta"]["truncated"],
            body.len() as f64 / 1e6,
            gzipped(&body) as f64 / 1e6,
            gzipped(&body) as f64 / gz as f64
        );
    }

    // What one replica holds in memory: the release server (its allocator returns freed pages)
    // over no data, over the walkways alone, and over walkways and lamps, after loading and after
    // the lighting analysis.
    let mut held = Vec::new();
    for (what, file) in [
        ("no data", empty_db),
        ("the walkways alone", ways_db),
        ("walkways and lamps", db.as_str()),
    ] {
        let (mut child, addr, _) = serve(file);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let loaded = rss_mb(child.id());
        get(&agent, &format!("http://{addr}/api/v1/lighting/stretches"));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let analysed = rss_mb(child.id());
        let _ = child.kill();
        let _ = child.wait();
        println!(
            "memory: a replica over {what}: {loaded:.0} MB resident after loading, {analysed:.0} MB after the lighting analysis"
        );
        held.push((loaded, analysed));
    }
    let per_10k = |mb: f64| mb / n_ways as f64 * 10_000.0;
    println!(
        "memory: per 10 000 walkways {:.1} MB loaded, {:.1} MB with their lighting analysis; {n_lamps} lamps add {:.0} MB",
        per_10k(held[1].0 - held[0].0),
        per_10k(held[1].1 - held[0].1),
        held[2].0 - held[1].0
    );
}
