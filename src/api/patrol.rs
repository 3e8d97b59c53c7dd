//! The patrol plan: where and when visible police presence matters most.
//!
//! `GET /api/v1/patrol-plan.{json,csv,gpx}` with the hotspot filters (`from`, `to`, `groups`,
//! `categories`, `hours`, `weekdays`, `area`, `bbox`) and optionally `eps`, `min_points` and
//! `limit` (police, coordinators and admins only: the plan is built from incident points).
//!
//! **What is a significant hotspot here.** DBSCAN clusters (issue 3) say where incidents are
//! dense; Getis-Ord Gi* with Benjamini–Hochberg FDR says where the density is more than chance.
//! A cluster enters the plan when a Gi* cell at 95 % or more (bin ≥ 2) lies in it: the cell's
//! centre inside the cluster's hull, or the cluster's centre inside the cell. Clusters are ranked
//! by that confidence (99 % before 95 %) and then by their number of incidents.
//!
//! **When.** Each cluster's weekday × hour profile (Europe/Stockholm local time) gives up to
//! three patrol windows: the busiest [`WINDOW_HOURS`]-hour stretch of the week, then the busiest
//! one not overlapping it, and so on, each trimmed of empty hours at its ends (the rule the
//! cluster's `peak` follows) and kept only while it holds at least [`MIN_WINDOW_EVENTS`] events.
//!
//! The CSV has one row per hotspot; the GPX 1.1 file one waypoint per hotspot centre, its name
//! the rank and district, its description the windows, for GPS units and planning tools.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use geo::{Contains, Point};
use serde::Serialize;
use serde_json::{Value, json};

use super::analysis;
use super::auth::Caller;
use super::geometry::{lonlat, polygon_json};
use super::lagesbild::SummaryQuery;
use super::{ApiResult, AppError, AppState};
use crate::analysis::hotspot::gistar::{self, GiStarParams, GiStarResult};
use crate::analysis::hotspot::profile::{Profile, window_text};
use crate::analysis::hotspot::{self, Cluster};
use crate::model::Role;
use crate::text::{csv_text, xml_safe};

/// Length of a patrol window in hours.
pub const WINDOW_HOURS: usize = 4;
/// A window with fewer events is not worth a patrol of its own.
pub const MIN_WINDOW_EVENTS: u32 = 2;
/// Windows per hotspot.
pub const MAX_WINDOWS: usize = 3;
/// Hotspots in a plan unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/patrol-plan.json",
            get(|s: State<AppState>, c: Caller, q: PlanQuery| patrol_plan(s, c, Format::Json, q)),
        )
        .route(
            "/api/v1/patrol-plan.csv",
            get(|s: State<AppState>, c: Caller, q: PlanQuery| patrol_plan(s, c, Format::Csv, q)),
        )
        .route(
            "/api/v1/patrol-plan.gpx",
            get(|s: State<AppState>, c: Caller, q: PlanQuery| patrol_plan(s, c, Format::Gpx, q)),
        )
}

type PlanQuery = Query<HashMap<String, String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Gpx,
}

/// One time window of the week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Start weekday (0 = Monday) and hour, local time.
    pub weekday: usize,
    pub hour: usize,
    pub hours: usize,
    pub count: u32,
    /// In Swedish, e.g. `fre–lör 22–02`.
    pub label: String,
}

/// The busiest non-overlapping windows of a weekday × hour profile, busiest first.
pub fn patrol_windows(profile: &Profile, width: usize, max: usize, min_events: u32) -> Vec<Window> {
    let at = |k: usize| profile.0[(k % 168) / 24][k % 24];
    let mut used = [false; 168];
    let mut out = Vec::new();
    while out.len() < max {
        let mut best: Option<(usize, u32)> = None;
        for start in 0..168 {
            if (0..width).any(|j| used[(start + j) % 168]) {
                continue;
            }
            let sum: u32 = (0..width).map(|j| at(start + j)).sum();
            if best.is_none_or(|(_, b)| sum > b) {
                best = Some((start, sum));
            }
        }
        let Some((mut start, count)) = best else {
            break;
        };
        if count < min_events.max(1) {
            break;
        }
        let mut hours = width;
        while hours > 1 && at(start) == 0 {
            start = (start + 1) % 168;
            hours -= 1;
        }
        while hours > 1 && at(start + hours - 1) == 0 {
            hours -= 1;
        }
        for j in 0..hours {
            used[(start + j) % 168] = true;
        }
        out.push(Window {
            weekday: start / 24,
            hour: start % 24,
            hours,
            count,
            label: window_text(start, hours),
        });
    }
    out
}

/// The strongest Gi* confidence bin (2 or 3) of a cell that lies in the cluster, if any.
pub fn significance(cluster: &Cluster, gi: &GiStarResult) -> Option<i8> {
    let half = gi.cell / 2.0;
    gi.cells
        .iter()
        .filter(|c| c.bin >= 2)
        .filter(|c| {
            let centre_in_hull = cluster.hull.contains(&Point::new(c.centre[0], c.centre[1]));
            // The cluster's centre in the cell (square or hexagon: the inscribed square is a
            // safe test for both, the circumscribed one would claim neighbours).
            let centre_in_cell = (cluster.centre[0] - c.centre[0]).abs() <= half * 0.866
                && (cluster.centre[1] - c.centre[1]).abs() <= half * 0.866;
            centre_in_hull || centre_in_cell
        })
        .map(|c| c.bin)
        .max()
}

/// A hotspot in the plan.
pub struct PlannedHotspot<'a> {
    pub rank: usize,
    pub bin: i8,
    pub cluster: &'a Cluster,
    pub windows: Vec<Window>,
}

/// Significant clusters ranked by confidence, then size; at most `limit`.
pub fn rank_hotspots<'a>(
    clusters: &'a [Cluster],
    gi: &GiStarResult,
    limit: usize,
) -> Vec<PlannedHotspot<'a>> {
    let mut sig: Vec<(i8, &Cluster)> = clusters
        .iter()
        .filter_map(|c| significance(c, gi).map(|b| (b, c)))
        .collect();
    sig.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.count().cmp(&a.1.count()))
            .then(a.1.id.cmp(&b.1.id))
    });
    sig.into_iter()
        .take(limit)
        .enumerate()
        .map(|(i, (bin, c))| PlannedHotspot {
            rank: i + 1,
            bin,
            cluster: c,
            windows: patrol_windows(&c.profile, WINDOW_HOURS, MAX_WINDOWS, MIN_WINDOW_EVENTS),
        })
        .collect()
}

async fn patrol_plan(
    State(state): State<AppState>,
    caller: Caller,
    format: Format,
    Query(q): PlanQuery,
) -> ApiResult<Response> {
    caller.require(Role::Police)?;
    let snap = state.spatial.load();
    let query = SummaryQuery::parse(&q, &snap, &["eps", "min_points", "limit"], true)?;
    let eps = num(&q, "eps", 5.0, 2_000.0)?.unwrap_or(hotspot::DEFAULT_EPS);
    let min_points =
        num(&q, "min_points", 2.0, 10_000.0)?.map_or(hotspot::DEFAULT_MIN_POINTS, |v| v as usize);
    let limit = num(&q, "limit", 1.0, 500.0)?.map_or(DEFAULT_LIMIT, |v| v as usize);
    let plan = analysis(&state, move |cancel| {
        let filter = &query.filter;
        let sel = filter.select(&snap.incidents.items);
        let clusters = hotspot::clusters_with(&sel.points, eps, min_points, cancel)?;
        let area = filter.area.as_ref().map(|a| a as &dyn gistar::StudyArea);
        let gi = gistar::hot_spots_with(&sel.coords(), &GiStarParams::default(), area, cancel)?;
        let ranked = rank_hotspots(&clusters, &gi, limit);
        let mut hotspots = Vec::with_capacity(ranked.len());
        for h in &ranked {
            let c = h.cluster;
            let district = snap
                .areas
                .containing(Point::new(c.centre[0], c.centre[1]))
                .map(|a| a.name.clone());
            let top_category = c
                .categories
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(k, _)| k.clone());
            hotspots.push(json!({
                "rank": h.rank,
                "id": c.id,
                "name": district,
                "district": district,
                "count": c.count(),
                "max_bin": h.bin,
                "centre": lonlat(c.centre)?,
                "peak": c.peak.as_ref().map(|p| p.text.clone()),
                "windows": h.windows,
                "profile": c.profile.0,
                "categories": c.categories,
                "top_category": top_category,
                "first": c.first.to_string(),
                "last": c.last.to_string(),
                "hull": polygon_json(&c.hull)?,
            }));
        }
        Ok(json!({
            "generated_at": Utc::now().to_rfc3339(),
            "period": query.period_json(),
            "area": filter.area.as_ref().map(|a| a.name.clone()),
            "demo": snap.demo,
            "method": {
                "dbscan": { "eps": eps, "min_points": min_points },
                "gistar": { "cell": gi.cell, "band": gi.band, "grid": gi.grid.as_str(), "min_bin": 2 },
                "window_hours": WINDOW_HOURS,
            },
            "clusters": clusters.len(),
            "significant": hotspots.len(),
            "included": sel.points.len(),
            "excluded_by_precision": sel.excluded_by_precision(),
            "hotspots": hotspots,
        }))
    })
    .await?;
    Ok(match format {
        Format::Csv => file_response(
            plan_csv(&plan),
            "text/csv; charset=utf-8",
            "patrullplan.csv",
        ),
        Format::Gpx => file_response(plan_gpx(&plan), "application/gpx+xml", "patrullplan.gpx"),
        Format::Json => Json(plan).into_response(),
    })
}

fn num(q: &HashMap<String, String>, name: &str, lo: f64, hi: f64) -> ApiResult<Option<f64>> {
    let Some(raw) = q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match raw.parse::<f64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(Some(v)),
        _ => Err(AppError::BadRequest(format!(
            "{name}={raw:?}: expected a number from {lo} to {hi}"
        ))),
    }
}

fn file_response(body: String, mime: &'static str, name: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(match name {
            "patrullplan.csv" => "attachment; filename=\"patrullplan.csv\"",
            _ => "attachment; filename=\"patrullplan.gpx\"",
        }),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

fn windows_text(h: &Value) -> Vec<String> {
    h["windows"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .map(|w| {
                    format!(
                        "{} ({} händelser)",
                        w["label"].as_str().unwrap_or(""),
                        w["count"]
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One row per hotspot; RFC 4180 quoting by the `csv` crate. Text cells (district names come
/// from imported data) go through [`csv_text`] so that no cell is read as a spreadsheet formula;
/// the numbers of the plan (rank, coordinates, count) are written as numbers.
pub fn plan_csv(plan: &Value) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let head = [
        "rank",
        "id",
        "district",
        "lon",
        "lat",
        "count",
        "confidence",
        "peak",
        "window_1",
        "window_2",
        "window_3",
        "top_category",
        "first",
        "last",
    ];
    w.write_record(head).expect("writing to memory");
    for h in plan["hotspots"].as_array().into_iter().flatten() {
        let ws = windows_text(h);
        let window = |i: usize| {
            ws.get(i)
                .map_or_else(String::new, |w| csv_text(w).into_owned())
        };
        let text = |v: &Value| match v {
            Value::Null => String::new(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => csv_text(s).into_owned(),
            other => csv_text(&other.to_string()).into_owned(),
        };
        let confidence = match h["max_bin"].as_i64() {
            Some(3) => "99 %",
            Some(2) => "95 %",
            _ => "",
        };
        w.write_record([
            text(&h["rank"]),
            text(&h["id"]),
            text(&h["district"]),
            text(&h["centre"][0]),
            text(&h["centre"][1]),
            text(&h["count"]),
            confidence.to_string(),
            text(&h["peak"]),
            window(0),
            window(1),
            window(2),
            text(&h["top_category"]),
            text(&h["first"]),
            text(&h["last"]),
        ])
        .expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("flushing memory")).expect("CSV of UTF-8 text")
}

fn xml_escape(s: &str) -> String {
    // Names come from imported data: characters XML cannot carry become U+FFFD.
    xml_safe(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// GPX 1.1: one waypoint per hotspot centre.
pub fn plan_gpx(plan: &Value) -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<gpx version=\"1.1\" creator=\"Lägesbild\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n",
    );
    let period = &plan["period"];
    let _ = writeln!(
        out,
        "  <metadata><name>{}</name><desc>{}</desc><time>{}</time></metadata>",
        xml_escape(&format!(
            "Patrullplan {} – {}",
            period["from"].as_str().unwrap_or(""),
            period["to"].as_str().unwrap_or("")
        )),
        xml_escape(&format!(
            "Signifikanta brottskluster (Gi* ≥ 95 % efter FDR) med patrulltider i lokal tid{}",
            if plan["demo"].as_bool() == Some(true) {
                ". DEMODATA, inget är verkligt"
            } else {
                ""
            }
        )),
        xml_escape(plan["generated_at"].as_str().unwrap_or("")),
    );
    for h in plan["hotspots"].as_array().into_iter().flatten() {
        let (Some(lon), Some(lat)) = (h["centre"][0].as_f64(), h["centre"][1].as_f64()) else {
            continue;
        };
        let name = match h["district"].as_str() {
            Some(d) => format!("{}. {d}", h["rank"]),
            None => format!("{}. Kluster {}", h["rank"], h["id"].as_str().unwrap_or("")),
        };
        let desc = format!(
            "{} händelser. Patrulltider: {}",
            h["count"],
            windows_text(h).join("; ")
        );
        let _ = writeln!(
            out,
            "  <wpt lat=\"{lat:.7}\" lon=\"{lon:.7}\"><name>{}</name><desc>{}</desc><type>hotspot</type></wpt>",
            xml_escape(&name),
            xml_escape(&desc)
        );
    }
    out.push_str("</gpx>\n");
    out
}

/// OpenAPI 3.1 `paths` entries of these endpoints.
pub fn openapi_paths() -> Value {
    let op = |what: &str, mime: &str| {
        json!({ "get": {
            "summary": format!("The patrol plan as {what}: significant hotspots ranked, with patrol windows"),
            "description": "Police, coordinators and admins. Takes the hotspot filters (from, to, groups, categories, hours, weekdays, area, bbox) and eps, min_points, limit.",
            "security": [{ "bearer": [] }],
            "responses": { "200": { "description": mime }, "400": { "description": "A parameter is invalid" }, "401": { "description": "No token" } }
        }})
    };
    json!({
        "/api/v1/patrol-plan.json": op("JSON", "application/json"),
        "/api/v1/patrol-plan.csv": op("CSV", "text/csv"),
        "/api/v1/patrol-plan.gpx": op("GPX 1.1", "application/gpx+xml"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(entries: &[(usize, usize, u32)]) -> Profile {
        let mut p = Profile::default();
        for &(d, h, n) in entries {
            p.0[d][h] = n;
        }
        p
    }

    #[test]
    fn windows_are_the_busiest_non_overlapping_stretches() {
        // Friday 22–02 (wrapping into Saturday) holds 3+4+2+1 = 10; Tuesday 15–17 holds 6;
        // a lone Sunday 03 event is below the minimum.
        let p = profile(&[
            (4, 22, 3),
            (4, 23, 4),
            (5, 0, 2),
            (5, 1, 1),
            (1, 15, 3),
            (1, 16, 3),
            (6, 3, 1),
        ]);
        let w = patrol_windows(&p, 4, 3, 2);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            (w[0].weekday, w[0].hour, w[0].hours, w[0].count),
            (4, 22, 4, 10)
        );
        assert_eq!(w[0].label, "fre–lör 22–02");
        // Trimmed to the two busy hours.
        assert_eq!(
            (w[1].weekday, w[1].hour, w[1].hours, w[1].count),
            (1, 15, 2, 6)
        );
        assert_eq!(w[1].label, "tis 15–17");
    }

    #[test]
    fn windows_wrap_from_sunday_into_monday() {
        let p = profile(&[(6, 23, 5), (0, 0, 5)]);
        let w = patrol_windows(&p, 4, 3, 2);
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].weekday, w[0].hour, w[0].hours, w[0].count),
            (6, 23, 2, 10)
        );
        assert_eq!(w[0].label, "sön–mån 23–01");
    }

    #[test]
    fn an_empty_profile_has_no_windows() {
        assert!(patrol_windows(&Profile::default(), 4, 3, 2).is_empty());
    }

    #[test]
    fn gpx_and_csv_carry_every_hotspot() {
        let plan = json!({
            "generated_at": "2026-11-23T10:00:00+00:00",
            "period": { "from": "2026-01-01", "to": "2026-06-30" },
            "demo": true,
            "hotspots": [
                { "rank": 1, "id": "c1", "district": "Täby centrum", "count": 40, "max_bin": 3,
                  "centre": [18.0686, 59.4439], "peak": "fre–lör 22–02",
                  "windows": [{ "label": "fre–lör 22–02", "count": 12 }], "top_category": "assault",
                  "first": "2026-01-03", "last": "2026-06-28" },
                { "rank": 2, "id": "c2", "district": null, "count": 9, "max_bin": 2,
                  "centre": [18.05, 59.43], "peak": null, "windows": [], "top_category": null,
                  "first": "2026-02-01", "last": "2026-03-01" }
            ]
        });
        let gpx = plan_gpx(&plan);
        assert_eq!(gpx.matches("<wpt ").count(), 2);
        assert!(
            gpx.contains("<wpt lat=\"59.4439000\" lon=\"18.0686000\"><name>1. Täby centrum</name>")
        );
        assert!(gpx.contains("fre–lör 22–02 (12 händelser)"));
        assert!(gpx.contains("<name>2. Kluster c2</name>"));
        let csv = plan_csv(&plan);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("rank,id,district,lon,lat,count,confidence,peak"));
        assert!(lines[1].starts_with(
            "1,c1,Täby centrum,18.0686,59.4439,40,99 %,fre–lör 22–02,fre–lör 22–02 (12 händelser)"
        ));
        assert!(lines[2].starts_with("2,c2,,18.05,59.43,9,95 %,,"));
    }

    /// Imported names must not become spreadsheet formulas; the plan's own numbers stay numbers,
    /// a negative one too.
    #[test]
    fn csv_text_cells_cannot_be_formulas() {
        let plan = json!({
            "hotspots": [
                { "rank": 1, "id": "@c1", "district": "=HYPERLINK(\"http://evil.example\",\"Täby\")",
                  "count": 12, "max_bin": 3, "centre": [-0.5, 59.4439], "peak": "+fre 22–02",
                  "windows": [{ "label": "-1+1", "count": 4 }], "top_category": "\tassault",
                  "first": "2026-01-03", "last": "\r2026-06-28" }
            ]
        });
        let csv = plan_csv(&plan);
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let row: Vec<String> = r
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(
            row,
            [
                "1",
                "'@c1",
                "'=HYPERLINK(\"http://evil.example\",\"Täby\")",
                "-0.5",
                "59.4439",
                "12",
                "99 %",
                "'+fre 22–02",
                "'-1+1 (4 händelser)",
                "",
                "",
                "'\tassault",
                "2026-01-03",
                "'\r2026-06-28",
            ]
        );
    }
}
