//! A fictitious Täby dataset for demonstrations and first runs.
//!
//! **Nothing here is real.** The walkway network, lamps, districts, incidents and BRÅ figures are
//! generated from a fixed seed around Täby centrum and Roslags Näsby so that every run is the
//! same. They are shaped like real data: a grid of footpaths, cycle paths and sidewalks with
//! lamps every ~30 m and a few deliberate unlit gaps; two years of incidents with dense hotspots
//! (some grew, some shrank, one is new in the last year), evening and weekend rhythms, and events
//! known only to the municipality centre.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::category::{self, CategoryGroup};
use crate::model::{Area, BraStat, Incident, Lamp, LampStatus, LocationPrecision, Walkway};

pub const SEED: u64 = 20_261_123;
/// Täby centrum in EPSG:3006 (WGS84 18.0686 E, 59.4439 N).
pub const CENTRE: (f64, f64) = (673_983.5, 6_593_495.7);
/// The WGS84 box the demo lives in, used as its service area.
pub const BBOX_WGS84: [f64; 4] = [17.98, 59.40, 18.16, 59.49];
pub const SOURCE: &str = "demo";

pub struct DemoData {
    pub walkways: Vec<Walkway>,
    pub lamps: Vec<Lamp>,
    pub areas: Vec<Area>,
    pub incidents: Vec<Incident>,
    pub bra: Vec<BraStat>,
}

/// A named hotspot: where, how wide, how many events a year, and what happens there.
struct Hotspot {
    name: &'static str,
    dx: f64,
    dy: f64,
    sigma: f64,
    count: usize,
    /// (Polisen-style label, weight)
    mix: &'static [(&'static str, u32)],
    /// Evening and night (true) or daytime (false) rhythm.
    night: bool,
}

const HOTSPOTS: [Hotspot; 5] = [
    Hotspot {
        name: "Täby centrum",
        dx: 0.0,
        dy: 0.0,
        sigma: 70.0,
        count: 420,
        mix: &[
            ("Stöld", 5),
            ("Misshandel", 3),
            ("Rån", 1),
            ("Ofredande/förargelse", 2),
            ("Skadegörelse", 1),
        ],
        night: false,
    },
    Hotspot {
        name: "Roslags Näsby station",
        dx: -1_150.0,
        dy: -900.0,
        sigma: 60.0,
        count: 260,
        mix: &[
            ("Misshandel", 3),
            ("Narkotikabrott", 3),
            ("Rån", 2),
            ("Bråk", 2),
        ],
        night: true,
    },
    Hotspot {
        name: "Tibble idrottsplats",
        dx: 650.0,
        dy: 900.0,
        sigma: 90.0,
        count: 150,
        mix: &[("Skadegörelse", 4), ("Narkotikabrott", 2), ("Bråk", 2)],
        night: true,
    },
    Hotspot {
        name: "Skarpäng pendeltåg",
        dx: 1_300.0,
        dy: -700.0,
        sigma: 80.0,
        count: 110,
        mix: &[
            ("Stöld", 3),
            ("Skadegörelse", 2),
            ("Ofredande/förargelse", 1),
        ],
        night: true,
    },
    Hotspot {
        name: "Näsbyparken",
        dx: -1_600.0,
        dy: 500.0,
        sigma: 110.0,
        count: 90,
        mix: &[
            ("Narkotikabrott", 2),
            ("Misshandel", 1),
            ("Ofredande/förargelse", 2),
        ],
        night: true,
    },
];

const BACKGROUND: &[(&str, u32)] = &[
    ("Stöld", 6),
    ("Inbrott", 3),
    ("Skadegörelse", 3),
    ("Misshandel", 2),
    ("Bedrägeri", 1),
    ("Narkotikabrott", 1),
    ("Ofredande/förargelse", 1),
    ("Trafikolycka", 2),
    ("Brand", 1),
];

const ROUTE_NAMES: [&str; 8] = [
    "Centrumstråket",
    "Näsbyvägens gångbana",
    "Tibblestigen",
    "Skarpängsleden",
    "Parkstråket",
    "Stationsgången",
    "Gribbylundsstigen",
    "Ullbergsvägen",
];

fn pick<'a>(rng: &mut ChaCha8Rng, mix: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = mix.iter().map(|m| m.1).sum();
    let mut r = rng.random_range(0..total);
    for (label, w) in mix {
        if r < *w {
            return label;
        }
        r -= w;
    }
    mix[0].0
}

fn c(x: f64, y: f64) -> Coord<f64> {
    Coord {
        x: CENTRE.0 + x,
        y: CENTRE.1 + y,
    }
}

/// Builds the whole dataset. `now` anchors the two years of incidents (they end the day before).
pub fn generate(now: DateTime<Utc>) -> DemoData {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let (walkways, lamps) = network(&mut rng);
    DemoData {
        walkways,
        lamps,
        areas: districts(),
        incidents: incidents(&mut rng, now),
        bra: vec![
            BraStat {
                year: 2023,
                municipality: "Täby".into(),
                count: 5_412,
                per_100k: Some(7_642.0),
            },
            BraStat {
                year: 2024,
                municipality: "Täby".into(),
                count: 5_190,
                per_100k: Some(7_301.0),
            },
            BraStat {
                year: 2025,
                municipality: "Täby".into(),
                count: 5_031,
                per_100k: Some(7_049.0),
            },
        ],
    }
}

/// A grid of paths 2.8 × 2.2 km around the centre, every 200 m, with a few diagonals.
fn network(rng: &mut ChaCha8Rng) -> (Vec<Walkway>, Vec<Lamp>) {
    let mut ways = Vec::new();
    let mut lamps = Vec::new();
    let mut next_way = 900_000_001i64;
    let mut next_lamp = 1u32;
    let jitter = Normal::new(0.0, 6.0).expect("normal");
    let mut add_way = |pts: Vec<Coord<f64>>,
                       kind: &str,
                       lit: Option<&str>,
                       name: Option<&str>,
                       gap: Option<(f64, f64)>,
                       rng: &mut ChaCha8Rng,
                       ways: &mut Vec<Walkway>,
                       lamps: &mut Vec<Lamp>| {
        let ls = LineString(pts);
        let id = next_way;
        next_way += 1;
        // Lamps every 30 m on lit ways, 2 m beside the path, skipping the gap (metres along).
        if lit == Some("yes") {
            let total = ls.lines().map(|l| l.dx().hypot(l.dy())).sum::<f64>();
            let mut d = 10.0;
            while d < total {
                let in_gap = gap.is_some_and(|(a, b)| d >= a && d <= b);
                if !in_gap {
                    let (p, (ux, uy)) = along(&ls, d);
                    let status = if rng.random_range(0..100) < 3 {
                        LampStatus::Broken
                    } else {
                        LampStatus::Working
                    };
                    lamps.push(Lamp {
                        id: format!("demo:L{next_lamp:05}"),
                        location: Point::new(p.x - uy * 2.0, p.y + ux * 2.0),
                        height_m: Some(if kind == "sidewalk" { 8.0 } else { 5.0 }),
                        lumen: Some(if kind == "sidewalk" { 6_000.0 } else { 3_000.0 }),
                        watt: None,
                        status,
                        source: SOURCE.into(),
                        reference: Some(format!("L{next_lamp:05}")),
                    });
                    next_lamp += 1;
                }
                d += 30.0;
            }
        }
        ways.push(Walkway {
            id,
            geometry: ls,
            kind: kind.into(),
            lit: lit.map(str::to_string),
            name: name.map(str::to_string),
        });
    };
    let kinds = ["footway", "footway", "cycleway", "path", "sidewalk"];
    // East-west lines.
    for (row, y) in (-1_100..=1_100).step_by(200).enumerate() {
        let mut pts = Vec::new();
        let mut x = -1_400.0;
        while x <= 1_400.0 {
            pts.push(c(x + jitter.sample(rng), y as f64 + jitter.sample(rng)));
            x += 100.0;
        }
        let kind = kinds[row % kinds.len()];
        let name = (row % 3 == 0).then(|| ROUTE_NAMES[row % ROUTE_NAMES.len()]);
        let (lit, gap) = match row {
            2 => (Some("yes"), Some((900.0, 1_050.0))),
            6 => (Some("yes"), Some((1_500.0, 1_620.0))),
            9 => (Some("no"), None),
            4 => (None, None),
            _ => (Some("yes"), None),
        };
        add_way(pts, kind, lit, name, gap, rng, &mut ways, &mut lamps);
    }
    // North-south lines.
    for (col, x) in (-1_400..=1_400).step_by(200).enumerate() {
        let mut pts = Vec::new();
        let mut y = -1_100.0;
        while y <= 1_100.0 {
            pts.push(c(x as f64 + jitter.sample(rng), y + jitter.sample(rng)));
            y += 100.0;
        }
        let kind = kinds[(col + 2) % kinds.len()];
        let name = (col % 4 == 1).then(|| ROUTE_NAMES[(col + 3) % ROUTE_NAMES.len()]);
        let (lit, gap) = match col {
            3 => (Some("yes"), Some((700.0, 840.0))),
            8 => (Some("yes"), Some((1_200.0, 1_330.0))),
            11 => (Some("no"), None),
            13 => (Some("yes"), None),
            5 => (Some("automatic"), Some((0.0, 2_400.0))),
            _ => (Some("yes"), None),
        };
        add_way(pts, kind, lit, name, gap, rng, &mut ways, &mut lamps);
    }
    // Park paths: diagonals through Näsbyparken, untagged and unlit.
    add_way(
        vec![c(-1_900.0, 200.0), c(-1_600.0, 500.0), c(-1_300.0, 800.0)],
        "path",
        Some("no"),
        Some("Parkstråket"),
        None,
        rng,
        &mut ways,
        &mut lamps,
    );
    add_way(
        vec![c(-1_900.0, 800.0), c(-1_600.0, 500.0), c(-1_300.0, 200.0)],
        "path",
        None,
        None,
        None,
        rng,
        &mut ways,
        &mut lamps,
    );
    // The walk from Roslags Näsby station to the centre, lit but with a dark stretch.
    add_way(
        vec![c(-1_150.0, -900.0), c(-600.0, -450.0), c(0.0, 0.0)],
        "footway",
        Some("yes"),
        Some("Stationsgången"),
        Some((350.0, 520.0)),
        rng,
        &mut ways,
        &mut lamps,
    );
    (ways, lamps)
}

/// The point `d` metres along `ls` and the unit direction there.
fn along(ls: &LineString<f64>, d: f64) -> (Coord<f64>, (f64, f64)) {
    let mut rest = d;
    for l in ls.lines() {
        let len = l.dx().hypot(l.dy());
        if rest <= len && len > 0.0 {
            let t = rest / len;
            return (
                Coord {
                    x: l.start.x + l.dx() * t,
                    y: l.start.y + l.dy() * t,
                },
                (l.dx() / len, l.dy() / len),
            );
        }
        rest -= len;
    }
    let last = ls.0.last().copied().unwrap_or(Coord { x: 0.0, y: 0.0 });
    (last, (1.0, 0.0))
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(
        LineString(vec![c(x0, y0), c(x1, y0), c(x1, y1), c(x0, y1), c(x0, y0)]),
        vec![],
    )])
}

/// Four fictitious districts covering the network.
fn districts() -> Vec<Area> {
    let parts = [
        ("Täby centrum", rect(-300.0, -400.0, 1_700.0, 600.0)),
        ("Roslags Näsby", rect(-2_000.0, -1_300.0, -300.0, 200.0)),
        ("Näsbypark", rect(-2_000.0, 200.0, -300.0, 1_300.0)),
        ("Tibble", rect(-300.0, 600.0, 1_700.0, 1_300.0)),
        ("Skarpäng", rect(-300.0, -1_300.0, 1_700.0, -400.0)),
    ];
    parts
        .into_iter()
        .enumerate()
        .map(|(i, (name, geometry))| Area {
            id: i as i64 + 1,
            name: name.into(),
            geometry,
            source: SOURCE.into(),
        })
        .collect()
}

/// Hour of day: evenings and nights for `night` rhythms, else daytime, in Swedish local time.
fn hour(rng: &mut ChaCha8Rng, night: bool) -> u32 {
    let weights: [u32; 24] = if night {
        [
            8, 7, 5, 3, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 7, 9, 10, 10, 9,
        ]
    } else {
        [
            1, 1, 0, 0, 0, 0, 1, 2, 3, 4, 6, 8, 9, 9, 9, 9, 9, 8, 7, 5, 4, 3, 2, 1,
        ]
    };
    let total: u32 = weights.iter().sum();
    let mut r = rng.random_range(0..total);
    for (h, w) in weights.iter().enumerate() {
        if r < *w {
            return h as u32;
        }
        r -= w;
    }
    12
}

/// How busy each planted hotspot was in the year before the demo year, as a share of this
/// year's events (in the order of [`HOTSPOTS`]): Täby centrum a little busier, Roslags Näsby and
/// Tibble quieter, Skarpäng busier, Näsbyparken not yet a hotspot. The lägesbild's "change from
/// the previous period" and the period comparison then have something true to show.
const PREVIOUS_YEAR_SHARE: [f64; 5] = [1.1, 0.55, 0.7, 1.6, 0.0];

/// Two years of incidents: the demo year, ending the day before `now`, and the year before it.
/// The previous year comes from a generator of its own, so the demo year's events are the same
/// as they would be alone.
fn incidents(rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> Vec<Incident> {
    let start = (now - Duration::days(365)).date_naive();
    let mut out = year_of_incidents(rng, start, [1.0; 5], 1_400, 180, 0);
    let mut before = ChaCha8Rng::seed_from_u64(SEED ^ 0x0001_0000_0000);
    let n = out.len() as u32;
    out.extend(year_of_incidents(
        &mut before,
        start - Duration::days(365),
        PREVIOUS_YEAR_SHARE,
        1_250,
        170,
        n,
    ));
    out
}

/// Registers seldom know when a burglary or a theft happened: two in three of the background
/// burglaries are known only to a window (left home 2–48 hours before the time drawn, came
/// back 1–12 hours after it, within the year `start` begins), one in four thefts only to its
/// date. Drawn from a stream of their own, keyed by the event, so no other event changes.
fn register_time(inc: &mut Incident, key: u64, start: chrono::NaiveDate) {
    use crate::model::TimePrecision;
    let mut r = ChaCha8Rng::seed_from_u64(SEED ^ 0x7177_0000_0000 ^ key);
    match inc.category.as_str() {
        "burglary" if r.random_range(0..3) < 2 => {
            let first = crate::time::local_midnight_utc(start).fixed_offset();
            let last = crate::time::local_midnight_utc(start + Duration::days(365)).fixed_offset();
            let from = (inc.occurred_at - Duration::minutes(r.random_range(120..2_880))).max(first);
            let to = (inc.occurred_at + Duration::minutes(r.random_range(60..720)))
                .min(last.max(inc.occurred_at + Duration::minutes(1)));
            inc.occurred_at = from;
            inc.occurred_to = Some(to);
            inc.time_precision = TimePrecision::Window;
        }
        "theft" if r.random_range(0..4) == 0 => {
            let date = crate::time::local_date(&inc.occurred_at);
            inc.occurred_at = crate::time::local_midnight_utc(date)
                .with_timezone(&crate::time::ZONE)
                .fixed_offset();
            inc.time_precision = TimePrecision::Date;
        }
        _ => {}
    }
}

/// One year of incidents from `start`: the planted hotspots (their counts scaled by `share`),
/// `background` scattered events and `municipality` events placed on the municipality centre.
/// Source ids continue after `first_id`.
fn year_of_incidents(
    rng: &mut ChaCha8Rng,
    start: chrono::NaiveDate,
    share: [f64; 5],
    background: usize,
    municipality: usize,
    first_id: u32,
) -> Vec<Incident> {
    let mut out = Vec::new();
    let mut n = first_id;
    let mut make = |rng: &mut ChaCha8Rng,
                    label: &str,
                    x: f64,
                    y: f64,
                    night: bool,
                    precision: LocationPrecision| {
        // Nights and weekends: Friday and Saturday evenings carry more.
        let mut day = rng.random_range(0..365);
        if night && rng.random_range(0..10) < 4 {
            let d = start + Duration::days(day);
            let wd = chrono::Datelike::weekday(&d).num_days_from_monday() as i64;
            day = (day - wd + if rng.random_bool(0.5) { 4 } else { 5 }).clamp(0, 364);
        }
        let date = start + Duration::days(day);
        let local = date
            .and_hms_opt(
                hour(rng, night),
                rng.random_range(0..60),
                rng.random_range(0..60),
            )
            .expect("valid time");
        let at: DateTime<FixedOffset> = match crate::time::ZONE.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                t.fixed_offset()
            }
            chrono::LocalResult::None => {
                (crate::time::ZONE.from_utc_datetime(&local)).fixed_offset()
            }
        };
        let (code, group) = category::classify(label, CategoryGroup::OtherCrime);
        n += 1;
        Incident {
            source: SOURCE.into(),
            source_id: format!("D{n:06}"),
            occurred_at: at,
            time_precision: Default::default(),
            occurred_to: None,
            category: code,
            group,
            label: label.into(),
            location: Point::new(x, y),
            precision,
            place: Some("Täby".into()),
            summary: Some("Fiktiv händelse (demodata)".into()),
        }
    };
    for (h, share) in HOTSPOTS.iter().zip(share) {
        let spread = Normal::new(0.0, h.sigma).expect("normal");
        for _ in 0..(h.count as f64 * share).round() as usize {
            let label = pick(rng, h.mix);
            let (x, y) = (
                CENTRE.0 + h.dx + spread.sample(rng),
                CENTRE.1 + h.dy + spread.sample(rng),
            );
            out.push(make(rng, label, x, y, h.night, LocationPrecision::Exact));
        }
        let _ = h.name;
    }
    for _ in 0..background {
        let label = pick(rng, BACKGROUND);
        let (x, y) = (
            CENTRE.0 + rng.random_range(-2_000.0..1_700.0),
            CENTRE.1 + rng.random_range(-1_300.0..1_300.0),
        );
        let night = rng.random_bool(0.5);
        let precision = if rng.random_range(0..10) < 2 {
            LocationPrecision::Street
        } else {
            LocationPrecision::Exact
        };
        let mut inc = make(rng, label, x, y, night, precision);
        register_time(&mut inc, first_id as u64 + out.len() as u64, start);
        out.push(inc);
    }
    // Events Polisen places on the municipality centre: counted, never clustered.
    for _ in 0..municipality {
        let label = pick(rng, BACKGROUND);
        out.push(make(
            rng,
            label,
            CENTRE.0 + 120.0,
            CENTRE.1 + 80.0,
            true,
            LocationPrecision::Municipality,
        ));
    }
    out
}

/// Names of the hotspots planted in the demo data, with their centres in EPSG:3006.
pub fn planted_hotspots() -> Vec<(&'static str, (f64, f64))> {
    HOTSPOTS
        .iter()
        .map(|h| (h.name, (CENTRE.0 + h.dx, CENTRE.1 + h.dy)))
        .collect()
}

/// The demo's åtgärdsplan, all of it fictitious: visible police at two planted hotspots (one done
/// a year ago, so that its effect can be shown, one planned), a vegetation clearing in progress
/// and a new lamp planned.
pub fn measures(today: chrono::NaiveDate) -> Vec<crate::store::measures::MeasureSpec> {
    use crate::store::measures::{LampType, MeasureKind, MeasurePlace, MeasureSpec, MeasureStatus};
    let at = |name: &str| {
        planted_hotspots()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, (x, y))| vec![[x, y]])
            .unwrap_or_default()
    };
    let spec =
        |title: &str, kind, status, place: &str, planned: i64, done: Option<i64>| MeasureSpec {
            title: format!("{title} (fiktiv)"),
            kind,
            status,
            agency: Some(
                if kind == MeasureKind::PatrolEffort {
                    "polisen"
                } else {
                    "kommunen"
                }
                .into(),
            ),
            place: MeasurePlace {
                points: at(place),
                ..MeasurePlace::default()
            },
            planned_date: Some(today - Duration::days(planned)),
            done_date: done.map(|d| today - Duration::days(d)),
            cost_sek: None,
            notes: Some("Demodata: påhittad åtgärd.".into()),
            lamp: (kind == MeasureKind::NewLamp).then_some(LampType {
                height_m: 5.0,
                lumen: 3_000.0,
            }),
        };
    vec![
        spec(
            "Synlig polis fredag och lördag kväll",
            MeasureKind::PatrolEffort,
            MeasureStatus::Done,
            "Täby centrum",
            400,
            Some(365),
        ),
        spec(
            "Synlig polis vid stationen",
            MeasureKind::PatrolEffort,
            MeasureStatus::Planned,
            "Roslags Näsby station",
            -30,
            None,
        ),
        spec(
            "Röjning av buskage längs gångvägen",
            MeasureKind::VegetationClearing,
            MeasureStatus::InProgress,
            "Näsbyparken",
            20,
            None,
        ),
        spec(
            "Ny belysning vid idrottsplatsen",
            MeasureKind::NewLamp,
            MeasureStatus::Planned,
            "Tibble idrottsplats",
            -60,
            None,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let a = generate(now);
        let b = generate(now);
        assert_eq!(a.incidents, b.incidents);
        assert_eq!(a.lamps, b.lamps);
        // The demo year: 1 030 hotspot events + 1 400 background + 180 at the municipality
        // centre. The year before: 420·1.1 + 260·0.55 + 150·0.7 + 110·1.6 + 0 = 886 hotspot
        // events + 1 250 + 170.
        let year_start = (now - Duration::days(365)).date_naive();
        let (this, before): (Vec<&Incident>, Vec<&Incident>) = a
            .incidents
            .iter()
            .partition(|i| crate::time::local_date(&i.occurred_at) >= year_start);
        assert_eq!(this.len(), 1_030 + 1_400 + 180);
        assert_eq!(before.len(), 886 + 1_250 + 170);
        let municipality = |v: &[&Incident]| {
            v.iter()
                .filter(|i| i.precision == LocationPrecision::Municipality)
                .count()
        };
        assert_eq!((municipality(&this), municipality(&before)), (180, 170));
        // Register times: windows for burglaries, dates for thefts, nothing else uncertain; a
        // window ends after it begins and within its year.
        use crate::model::TimePrecision;
        let windows: Vec<&Incident> = a
            .incidents
            .iter()
            .filter(|i| i.time_precision == TimePrecision::Window)
            .collect();
        let dates = a
            .incidents
            .iter()
            .filter(|i| i.time_precision == TimePrecision::Date)
            .count();
        assert!(
            windows.len() > 100 && dates > 100,
            "{} {dates}",
            windows.len()
        );
        assert!(windows.iter().all(|i| i.category == "burglary"
            && i.occurred_to.is_some_and(|to| to > i.occurred_at)
            && crate::time::local_date(&i.occurred_to.unwrap()) <= now.date_naive()));
        assert!(a.incidents.iter().all(|i| matches!(
            i.time_precision,
            TimePrecision::Exact | TimePrecision::Window | TimePrecision::Date
        )));
        assert!(
            before.iter().all(
                |i| crate::time::local_date(&i.occurred_at) >= year_start - Duration::days(365)
            ),
            "the year before is one year"
        );
        // Ids are unique across both years.
        let ids: std::collections::HashSet<&str> =
            a.incidents.iter().map(|i| i.source_id.as_str()).collect();
        assert_eq!(ids.len(), a.incidents.len());
        assert!(a.lamps.len() > 1_000, "{} lamps", a.lamps.len());
        assert!(a.walkways.iter().any(|w| w.lit.as_deref() == Some("no")));
        assert!(a.walkways.iter().any(|w| w.lit.is_none()));
    }
}
