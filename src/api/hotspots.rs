//! `/api/v1/hotspots`, `/api/v1/hotspots/kde.png`, `/api/v1/hotspots/compare` and
//! `/api/v1/incidents`: the hotspot analyses as WGS84 GeoJSON.
//!
//! Handlers parse the query into an [`IncidentFilter`] and method parameters, run the analysis
//! from [`crate::analysis::hotspot`] on a blocking thread, and translate the result. Results are
//! cached per (normalised parameters, caller class, snapshot version), so any data change
//! invalidates them.
//!
//! Privacy (anonymous callers; police, coordinators and admins see everything):
//! - **DBSCAN**: hulls with fewer than k events are dropped; `first`/`last` are months
//!   (`YYYY-MM`); the 7 × 24 `profile` is replaced by `profile_parts`, per weekday four six-hour
//!   parts (natt, morgon, eftermiddag, kväll) where parts with fewer than k events are `null`; `peak`
//!   is given only when its window holds at least k events; categories with fewer than k events
//!   are summed into `other`.
//! - **Gi\***: every analysed cell is returned (a cell with few events can be part of a hot
//!   spot), but `count` is `null` when it is below k — zero included: were zero shown, a `null`
//!   would say "one to k−1 events in this cell".
//! - **KDE**: cells whose kernel support (events within the bandwidth of the cell centre) is
//!   below k are dropped from the GeoJSON and transparent in the PNG.
//! - **compare**: DBSCAN rows where both counts are below k are dropped; counts of 1 … k−1 are
//!   `null` (zero is shown: `new` and `gone` say it anyway). Gi* rows keep their change, with
//!   counts of 1 … k−1 `null`.
//! - `/api/v1/incidents` (single points) needs the police role or higher.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use geo::Polygon;
use serde_json::{Value, json};

use super::auth::Caller;
use super::geometry::{lonlat, polygon_json};
use super::public_hotspots as public;
use super::{ApiResult, AppError, AppState, blocking};
use crate::analysis::cancel::Cancel;
use crate::analysis::filter::{
    AreaFilter, FilterError, HourSet, IncidentFilter, Selection, WeekdaySet, parse_bbox,
    parse_categories, parse_groups, parse_period_bound,
};
use crate::analysis::hotspot::compare::{self, ClusterOutline};
use crate::analysis::hotspot::gistar::{self, GiStarParams, StudyArea};
use crate::analysis::hotspot::grid::{Grid, GridKind};
use crate::analysis::hotspot::kde::{self, KdeParams};
use crate::analysis::hotspot::{self, Cluster, DEFAULT_EPS, DEFAULT_MIN_POINTS};
use crate::analysis::limits::{self, WorkLimits};
use crate::analysis::privacy::PublicRules;
use crate::crs;
use crate::model::{Incident, Role};
use crate::spatial::Snapshot;

/// The hotspot routes, with their own result cache.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/hotspots", get(hotspots))
        .route("/api/v1/hotspots/kde.png", get(kde_png))
        .route("/api/v1/hotspots/compare", get(compare_periods))
        .route("/api/v1/incidents", get(incidents))
        .layer(Extension(Arc::new(ResultCache::new(64))))
}

// ---------------------------------------------------------------------------------------------
// Cache

#[derive(Clone)]
struct Cached {
    body: Bytes,
    content_type: &'static str,
    bounds: Option<String>,
}

/// Cached results by key, with the snapshot version they were computed on, and the keys in
/// insertion order.
type CacheSlots = (HashMap<String, (u64, Cached)>, VecDeque<String>);

/// A small bounded cache: insertion order eviction; entries of older snapshots go first.
struct ResultCache {
    max: usize,
    inner: Mutex<CacheSlots>,
}

impl ResultCache {
    fn new(max: usize) -> Self {
        Self {
            max,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    fn get(&self, key: &str, version: u64) -> Option<Cached> {
        let g = self.inner.lock().expect("hotspot cache poisoned");
        g.0.get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, key: String, version: u64, value: Cached) {
        let mut g = self.inner.lock().expect("hotspot cache poisoned");
        let (map, order) = &mut *g;
        map.retain(|_, (v, _)| *v == version);
        order.retain(|k| map.contains_key(k));
        if map.insert(key.clone(), (version, value)).is_none() {
            order.push_back(key);
        }
        while order.len() > self.max {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}

fn respond(c: Cached) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(c.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    if let Some(b) = &c.bounds
        && let Ok(v) = HeaderValue::from_str(b)
    {
        headers.insert("x-bounds", v);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("X-Bounds"),
        );
    }
    (headers, c.body).into_response()
}

fn json_cached(v: &Value) -> Cached {
    Cached {
        body: Bytes::from(serde_json::to_vec(v).expect("JSON values serialise")),
        content_type: "application/geo+json",
        bounds: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters

pub(super) type Params = HashMap<String, String>;

/// The query parameters every incident filter reads.
pub(crate) const FILTER_PARAMS: [&str; 8] = [
    "from",
    "to",
    "categories",
    "groups",
    "hours",
    "weekdays",
    "area",
    "bbox",
];

pub(super) fn bad(e: FilterError) -> AppError {
    AppError::BadRequest(e.to_string())
}

fn check_known(q: &Params, extra: &[&str]) -> ApiResult<()> {
    let mut unknown: Vec<&str> = q
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with('_') && !FILTER_PARAMS.contains(k) && !extra.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    let mut allowed: Vec<&str> = FILTER_PARAMS.iter().chain(extra).copied().collect();
    allowed.sort_unstable();
    Err(AppError::BadRequest(format!(
        "unknown parameter(s) {}; this endpoint takes {}",
        unknown.join(", "),
        allowed.join(", ")
    )))
}

pub(super) fn num<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    q: &Params,
    name: &'static str,
    lo: T,
    hi: T,
) -> ApiResult<Option<T>> {
    let Some(raw) = q.get(name) else {
        return Ok(None);
    };
    let v: T = raw.trim().parse().map_err(|_| {
        AppError::BadRequest(format!(
            "{name}={raw:?}: expected a number from {lo} to {hi}"
        ))
    })?;
    if v < lo || v > hi {
        return Err(AppError::BadRequest(format!(
            "{name}={raw:?}: expected a number from {lo} to {hi}"
        )));
    }
    Ok(Some(v))
}

/// The shared filters. `dates: false` refuses `from`/`to` (the comparison has its own).
fn parse_filter(q: &Params, snap: &Snapshot, dates: bool) -> ApiResult<IncidentFilter> {
    let mut f = IncidentFilter::default();
    if !dates && (q.contains_key("from") || q.contains_key("to")) {
        return Err(AppError::BadRequest(
            "from/to do not apply here: give the periods as a_from, a_to, b_from, b_to".into(),
        ));
    }
    if let Some(v) = q.get("from") {
        f.from = Some(parse_period_bound("from", v, false).map_err(bad)?);
    }
    if let Some(v) = q.get("to") {
        f.to = Some(parse_period_bound("to", v, true).map_err(bad)?);
    }
    if let (Some(a), Some(b)) = (f.from, f.to)
        && a > b
    {
        return Err(AppError::BadRequest(format!("from={a} is after to={b}")));
    }
    if let Some(v) = q.get("categories") {
        f.categories = Some(parse_categories(v).map_err(bad)?);
    }
    if let Some(v) = q.get("groups") {
        f.groups = Some(parse_groups(v).map_err(bad)?);
    }
    if let Some(v) = q.get("hours") {
        f.hours = Some(HourSet::parse(v).map_err(bad)?);
    }
    if let Some(v) = q.get("weekdays") {
        f.weekdays = Some(WeekdaySet::parse(v).map_err(bad)?);
    }
    match (q.get("area"), q.get("bbox")) {
        (Some(_), Some(_)) => {
            return Err(AppError::BadRequest(
                "give either area (a district name) or bbox, not both".into(),
            ));
        }
        (Some(name), None) => f.area = Some(AreaFilter::district(&snap.areas, name).map_err(bad)?),
        (None, Some(b)) => {
            f.area = Some(AreaFilter::wgs84_bbox(parse_bbox(b).map_err(bad)?).map_err(bad)?)
        }
        (None, None) => {}
    }
    Ok(f)
}

/// A canonical, order-independent form of the query for cache keys.
fn cache_key(kind: &str, q: &Params, caller: &Caller) -> String {
    let sorted: BTreeMap<&String, &String> =
        q.iter().filter(|(k, _)| !k.starts_with('_')).collect();
    let class = if caller.role.sees_points() {
        "full"
    } else {
        "public"
    };
    let mut s = format!("{kind}|{class}");
    for (k, v) in sorted {
        s.push('|');
        s.push_str(k);
        s.push('=');
        s.push_str(v.trim());
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Dbscan,
    Gistar,
    Kde,
}

fn method(q: &Params, allowed: &[Method]) -> ApiResult<Method> {
    let names = allowed
        .iter()
        .map(|m| match m {
            Method::Dbscan => "dbscan",
            Method::Gistar => "gistar",
            Method::Kde => "kde",
        })
        .collect::<Vec<_>>()
        .join(", ");
    let raw = q
        .get("method")
        .ok_or_else(|| AppError::BadRequest(format!("method is required: one of {names}")))?;
    let m = match raw.trim() {
        "dbscan" => Method::Dbscan,
        "gistar" | "gi*" | "getis-ord" => Method::Gistar,
        "kde" => Method::Kde,
        other => {
            return Err(AppError::BadRequest(format!(
                "method={other:?}: expected one of {names}"
            )));
        }
    };
    if !allowed.contains(&m) {
        return Err(AppError::BadRequest(format!(
            "method={raw:?}: expected one of {names}"
        )));
    }
    Ok(m)
}

#[derive(Debug, Clone, Copy)]
struct DbscanArgs {
    eps: f64,
    min_points: usize,
}

fn dbscan_args(q: &Params) -> ApiResult<DbscanArgs> {
    Ok(DbscanArgs {
        eps: num(q, "eps", 1.0, 5_000.0)?.unwrap_or(DEFAULT_EPS),
        min_points: num(q, "min_points", 2usize, 100_000)?.unwrap_or(DEFAULT_MIN_POINTS),
    })
}

fn gistar_args(q: &Params) -> ApiResult<GiStarParams> {
    let grid = match q.get("grid") {
        None => GridKind::Square,
        Some(g) => GridKind::parse(g)
            .ok_or_else(|| AppError::BadRequest(format!("grid={g:?}: expected square or hex")))?,
    };
    let cell = num(q, "cell", 10.0, 5_000.0)?;
    let band = num(q, "band", 10.0, 50_000.0)?;
    if let (Some(c), Some(b)) = (cell, band)
        && b < c
    {
        return Err(AppError::BadRequest(format!(
            "band={b} is smaller than cell={c}: no cell would have a neighbour"
        )));
    }
    Ok(GiStarParams { grid, cell, band })
}

fn kde_args(q: &Params) -> ApiResult<KdeParams> {
    Ok(KdeParams {
        bandwidth: num(q, "bandwidth", 10.0, 20_000.0)?,
        cell: num(q, "cell", 2.0, 5_000.0)?,
        frame: None,
    })
}

/// Why anonymous callers get no DBSCAN: its hulls are drawn through incident points.
const DBSCAN_SIGNED_IN: &str = "method=dbscan is for signed-in roles: its hulls are drawn through incident points; the public product is Gi* cells (method=gistar) and the heat map (method=kde)";

fn too_much(e: limits::TooMuchWork) -> AppError {
    AppError::BadRequest(e.to_string())
}

/// Checks a signed-in Gi* request's size when its cell and band are given (derived ones are
/// sized from the data and always modest).
fn check_gistar_work(
    pts: &[[f64; 2]],
    params: &GiStarParams,
    area: Option<&dyn StudyArea>,
) -> ApiResult<()> {
    let (Some(cell), Some(band)) = (params.cell, params.band) else {
        return Ok(());
    };
    let grid = Grid::new(params.grid, cell);
    let cells = match area {
        Some(a) => {
            let (lo, hi) = a.bounds();
            ((hi[0] - lo[0]) / cell + 2.0) * ((hi[1] - lo[1]) / cell + 2.0)
        }
        None => {
            limits::gistar_grid(pts, grid.cell_area(), &WorkLimits::for_role(true))
                .map_err(too_much)?;
            limits::gistar_cells_bound(pts, grid.cell_area())
        }
    };
    limits::gistar(cells, grid.cell_area(), band, &WorkLimits::for_role(true)).map_err(too_much)
}

/// Checks a signed-in kernel density request's size (a derived cell is at least 5 m and a
/// 250th of the extent, as `kde::density` derives it).
fn check_kde_work(pts: &[[f64; 2]], params: &KdeParams) -> ApiResult<()> {
    let h = params
        .bandwidth
        .unwrap_or_else(|| kde::default_bandwidth(pts));
    let cell = match params.cell {
        Some(c) => c,
        None => match limits::extent(pts) {
            Some((lo, hi)) => (((hi[0] - lo[0]).min(hi[1] - lo[1]) + 2.0 * h) / 250.0).max(5.0),
            None => return Ok(()),
        },
    };
    limits::kde(pts.len(), h, cell, &WorkLimits::for_role(true)).map_err(too_much)
}

const DBSCAN_PARAMS: [&str; 3] = ["method", "eps", "min_points"];
const GISTAR_PARAMS: [&str; 4] = ["method", "cell", "band", "grid"];
const KDE_PARAMS: [&str; 3] = ["method", "bandwidth", "cell"];

// ---------------------------------------------------------------------------------------------
// Output helpers

fn base_meta(
    method: &str,
    sel: &Selection<'_>,
    k: u32,
    caller: &Caller,
    snap: &Snapshot,
    filter: &IncidentFilter,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("method".into(), json!(method));
    m.insert("included".into(), json!(sel.points.len()));
    m.insert(
        "excluded_by_precision".into(),
        json!({
            "municipality": sel.municipality_only,
            "county": sel.county_only,
            "total": sel.excluded_by_precision(),
            "note": sel.precision_note(),
        }),
    );
    m.insert("filtered_out".into(), json!(sel.filtered_out));
    m.insert("k".into(), json!(k));
    m.insert("role".into(), json!(caller.role.as_str()));
    m.insert("snapshot_version".into(), json!(snap.version));
    m.insert("demo".into(), json!(snap.demo));
    m.insert("filters".into(), filter_json(filter));
    m
}

pub(super) fn filter_json(f: &IncidentFilter) -> Value {
    json!({
        "from": f.from.map(|d| d.to_string()),
        "to": f.to.map(|d| d.to_string()),
        "categories": f.categories,
        "groups": match &f.groups {
            Some(g) => json!(g.iter().map(|g| g.as_str()).collect::<Vec<_>>()),
            None if f.categories.is_none() => json!("crime"),
            None => Value::Null,
        },
        "hours": f.hours.map(|h| (0..24).filter(|&i| h.contains(i)).collect::<Vec<_>>()),
        "weekdays": f.weekdays.map(|w| (0..7).filter(|&i| w.contains(i)).collect::<Vec<_>>()),
        "area": f.area.as_ref().map(|a| a.name.clone()),
    })
}

pub(super) fn collection(features: Vec<Value>, meta: serde_json::Map<String, Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features, "meta": Value::Object(meta) })
}

// ---------------------------------------------------------------------------------------------
// The analyses, as GeoJSON

fn dbscan_feature(c: &Cluster) -> ApiResult<Value> {
    let props = json!({
        "id": c.id,
        "count": c.count(),
        "categories": c.categories,
        "first": c.first.to_string(),
        "last": c.last.to_string(),
        "profile": c.profile.0,
        "peak": c.peak.as_ref().map(|p| p.text.clone()),
        "core_points": c.core_points,
        "centre": lonlat(c.centre)?,
    });
    Ok(
        json!({ "type": "Feature", "id": c.id, "geometry": polygon_json(&c.hull)?, "properties": props }),
    )
}

fn run_dbscan(
    snap: &Snapshot,
    filter: &IncidentFilter,
    args: DbscanArgs,
    caller: &Caller,
    k: u32,
    cancel: &Cancel,
) -> ApiResult<Value> {
    let sel = filter.select(&snap.incidents.items);
    limits::dbscan(&sel.coords(), args.eps, &WorkLimits::for_role(true)).map_err(too_much)?;
    let clusters = hotspot::clusters_with(&sel.points, args.eps, args.min_points, cancel)?;
    let features = clusters
        .iter()
        .map(dbscan_feature)
        .collect::<ApiResult<Vec<_>>>()?;
    let mut meta = base_meta("dbscan", &sel, k, caller, snap, filter);
    meta.insert(
        "parameters".into(),
        json!({ "eps": args.eps, "min_points": args.min_points }),
    );
    meta.insert("clusters".into(), json!(clusters.len()));
    meta.insert(
        "clustered".into(),
        json!(clusters.iter().map(|c| c.count()).sum::<usize>()),
    );
    Ok(collection(features, meta))
}

fn run_gistar(
    snap: &Snapshot,
    filter: &IncidentFilter,
    params: GiStarParams,
    caller: &Caller,
    k: u32,
    cancel: &Cancel,
) -> ApiResult<Value> {
    let sel = filter.select(&snap.incidents.items);
    let pts = sel.coords();
    let area = filter.area.as_ref().map(|a| a as &dyn StudyArea);
    check_gistar_work(&pts, &params, area)?;
    let res = gistar::hot_spots_with(&pts, &params, area, cancel)?;
    let grid = Grid::new(params.grid, res.cell);
    let mut features = Vec::with_capacity(res.cells.len());
    for c in &res.cells {
        let count = c.count;
        features.push(json!({
            "type": "Feature",
            "geometry": polygon_json(&grid.polygon(c.id))?,
            "properties": {
                "cell": [c.id.0, c.id.1],
                "count": count,
                "neighbours": c.neighbours,
                "z": round_to(c.z, 6),
                "p": c.p,
                "bin": c.bin,
            }
        }));
    }
    let mut meta = base_meta("gistar", &sel, k, caller, snap, filter);
    meta.insert(
        "parameters".into(),
        json!({
            "grid": res.grid.as_str(),
            "cell": res.cell,
            "band": res.band,
            "cell_derived": res.cell_derived,
            "band_derived": res.band_derived,
            "study_area": res.study_area_used,
            "analysed_cells": res.analysed,
            "fdr": "Benjamini-Hochberg",
            "fdr_cutoffs": { "90": res.fdr_cutoffs[0], "95": res.fdr_cutoffs[1], "99": res.fdr_cutoffs[2] },
        }),
    );
    hot_and_cold(&mut meta, &res.cells);
    Ok(collection(features, meta))
}

/// The raster's cells as square GeoJSON features with the properties `props` gives a cell's
/// index (`None`: the cell is left out).
pub(super) fn kde_features(
    grid: &kde::DensityGrid,
    capacity: usize,
    props: impl Fn(usize) -> Option<Value>,
) -> ApiResult<Vec<Value>> {
    let mut features = Vec::with_capacity(capacity);
    let h = grid.cell / 2.0;
    for row in 0..grid.height {
        for col in 0..grid.width {
            let Some(p) = props(row * grid.width + col) else {
                continue;
            };
            let [cx, cy] = grid.centre(col, row);
            let poly = Polygon::new(
                geo::LineString::from(vec![
                    (cx - h, cy - h),
                    (cx + h, cy - h),
                    (cx + h, cy + h),
                    (cx - h, cy + h),
                    (cx - h, cy - h),
                ]),
                vec![],
            );
            features.push(json!({
                "type": "Feature",
                "geometry": polygon_json(&poly)?,
                "properties": p,
            }));
        }
    }
    Ok(features)
}

/// How many Gi* cells are hot and cold spots at 95 % or more.
pub(super) fn hot_and_cold(
    meta: &mut serde_json::Map<String, Value>,
    cells: &[gistar::GiStarCell],
) {
    meta.insert(
        "hot_cells_95".into(),
        json!(cells.iter().filter(|c| c.bin >= 2).count()),
    );
    meta.insert(
        "cold_cells_95".into(),
        json!(cells.iter().filter(|c| c.bin <= -2).count()),
    );
}

pub(super) fn round_to(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn run_kde(
    snap: &Snapshot,
    filter: &IncidentFilter,
    params: KdeParams,
    caller: &Caller,
    k: u32,
    cancel: &Cancel,
) -> ApiResult<(Value, kde::DensityGrid)> {
    let sel = filter.select(&snap.incidents.items);
    let pts = sel.coords();
    check_kde_work(&pts, &params)?;
    let grid = kde::density_with(&pts, &params, cancel)?;
    // Densities are given to 4 decimals (events per km²); cells that round to zero are left out.
    let shown = grid
        .density
        .iter()
        .filter(|d| round_to(**d, 4) > 0.0)
        .count();
    limits::kde_features(shown, &WorkLimits::for_role(true)).map_err(too_much)?;
    let features = kde_features(&grid, shown, |i| {
        let d = round_to(grid.density[i], 4);
        (d > 0.0).then(|| json!({ "density": d, "support": grid.support[i] }))
    })?;
    let mut meta = base_meta("kde", &sel, k, caller, snap, filter);
    meta.insert(
        "parameters".into(),
        json!({
            "kernel": "quartic",
            "bandwidth": grid.bandwidth,
            "cell": grid.cell,
            "bandwidth_derived": grid.bandwidth_derived,
            "cell_derived": grid.cell_derived,
            "unit": "events per km²",
        }),
    );
    let bounds = if grid.width > 0 {
        let b = kde::wgs84_bounds(&grid).map_err(AppError::internal)?;
        json!(b.map(crs::round7))
    } else {
        Value::Null
    };
    meta.insert("bounds".into(), bounds);
    meta.insert("max_density".into(), json!(round_to(grid.max_density(), 4)));
    Ok((collection(features, meta), grid))
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// The hotspot GeoJSON for a query (the parameters of `GET /api/v1/hotspots`), as a caller
/// with `role` sees it; `k` is the public minimum count. Also used by `lagesbild hotspots`.
pub fn compute(
    snap: &Snapshot,
    q: &HashMap<String, String>,
    role: Role,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ApiResult<Value> {
    let m = method(q, &[Method::Dbscan, Method::Gistar, Method::Kde])?;
    let extra: &[&str] = match m {
        Method::Dbscan => &DBSCAN_PARAMS,
        Method::Gistar => &GISTAR_PARAMS,
        Method::Kde => &KDE_PARAMS,
    };
    check_known(q, extra)?;
    let filter = parse_filter(q, snap, true)?;
    if !role.sees_points() {
        public::check_filter(q, &filter, rules)?;
        return match m {
            Method::Dbscan => Err(AppError::BadRequest(DBSCAN_SIGNED_IN.into())),
            Method::Gistar => public::gistar(snap, q, &filter, rules, cancel),
            Method::Kde => public::kde(snap, q, &filter, rules, cancel),
        };
    }
    let caller = Caller { role };
    let k = rules.k;
    match m {
        Method::Dbscan => run_dbscan(snap, &filter, dbscan_args(q)?, &caller, k, cancel),
        Method::Gistar => run_gistar(snap, &filter, gistar_args(q)?, &caller, k, cancel),
        Method::Kde => run_kde(snap, &filter, kde_args(q)?, &caller, k, cancel).map(|r| r.0),
    }
}

async fn hotspots(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<ResultCache>>,
    caller: Caller,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    cached_json(&state, &cache, caller, q, "hotspots", compute).await
}

/// The JSON answer of `compute` for this snapshot, from the cache or computed off the async
/// threads and cached.
async fn cached_json(
    state: &AppState,
    cache: &ResultCache,
    caller: Caller,
    q: Params,
    kind: &str,
    compute: fn(&Snapshot, &Params, Role, &PublicRules, &Cancel) -> ApiResult<Value>,
) -> ApiResult<Response> {
    let snap = state.spatial.load();
    let key = cache_key(kind, &q, &caller);
    if let Some(c) = cache.get(&key, snap.version) {
        return Ok(respond(c));
    }
    let rules = state.config.public_rules();
    let version = snap.version;
    let value = super::analysis(state, move |cancel| {
        compute(&snap, &q, caller.role, &rules, cancel)
    })
    .await?;
    let c = json_cached(&value);
    cache.put(key, version, c.clone());
    Ok(respond(c))
}

/// The kernel density PNG overlay for a query (the parameters of
/// `GET /api/v1/hotspots/kde.png`) and its WGS84 bounds.
pub fn render_kde_png(
    snap: &Snapshot,
    q: &HashMap<String, String>,
    role: Role,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ApiResult<kde::Overlay> {
    if let Some(m) = q.get("method")
        && m != "kde"
    {
        return Err(AppError::BadRequest(format!(
            "method={m:?}: the PNG overlay is kernel density only (method=kde or leave it out)"
        )));
    }
    check_known(q, &KDE_PARAMS)?;
    let filter = parse_filter(q, snap, true)?;
    if !role.sees_points() {
        public::check_filter(q, &filter, rules)?;
        let Some(d) = public::density(snap, q, &filter, rules, cancel)? else {
            return Err(AppError::NotFound(
                "no point-level incidents in the data: nothing to draw".into(),
            ));
        };
        return kde::overlay_png(&d.grid, rules.k).map_err(AppError::Internal);
    }
    let params = kde_args(q)?;
    let sel = filter.select(&snap.incidents.items);
    let pts = sel.coords();
    check_kde_work(&pts, &params)?;
    let grid = kde::density_with(&pts, &params, cancel)?;
    if grid.width == 0 {
        return Err(AppError::NotFound(
            "no point-level incidents match these filters: nothing to draw".into(),
        ));
    }
    kde::overlay_png(&grid, 1).map_err(AppError::Internal)
}

async fn kde_png(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<ResultCache>>,
    caller: Caller,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let snap = state.spatial.load();
    let key = cache_key("kde.png", &q, &caller);
    if let Some(c) = cache.get(&key, snap.version) {
        return Ok(respond(c));
    }
    let rules = state.config.public_rules();
    let version = snap.version;
    let o = super::analysis(&state, move |cancel| {
        render_kde_png(&snap, &q, caller.role, &rules, cancel)
    })
    .await?;
    let c = Cached {
        body: Bytes::from(o.png),
        content_type: "image/png",
        bounds: Some(
            o.bounds
                .iter()
                .map(|v| format!("{}", crs::round7(*v)))
                .collect::<Vec<_>>()
                .join(","),
        ),
    };
    cache.put(key, version, c.clone());
    Ok(respond(c))
}

pub(super) fn period(
    q: &Params,
    from: &'static str,
    to: &'static str,
) -> ApiResult<(NaiveDate, NaiveDate)> {
    let get = |name: &'static str| -> ApiResult<NaiveDate> {
        let v = q.get(name).ok_or_else(|| {
            AppError::BadRequest(format!(
                "{name} is required (YYYY-MM-DD): compare needs a_from, a_to, b_from, b_to"
            ))
        })?;
        parse_period_bound(name, v, name.ends_with("_to")).map_err(bad)
    };
    let (a, b) = (get(from)?, get(to)?);
    if a > b {
        return Err(AppError::BadRequest(format!(
            "{from}={a} is after {to}={b}"
        )));
    }
    Ok((a, b))
}

/// The comparison GeoJSON for a query (the parameters of `GET /api/v1/hotspots/compare`).
pub fn compute_compare(
    snap: &Snapshot,
    q: &HashMap<String, String>,
    role: Role,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ApiResult<Value> {
    let m = method(q, &[Method::Gistar, Method::Dbscan])?;
    let mut extra: Vec<&str> = vec!["a_from", "a_to", "b_from", "b_to"];
    extra.extend_from_slice(match m {
        Method::Dbscan => &DBSCAN_PARAMS,
        _ => &GISTAR_PARAMS,
    });
    check_known(q, &extra)?;
    let (a_from, a_to) = period(q, "a_from", "a_to")?;
    let (b_from, b_to) = period(q, "b_from", "b_to")?;
    let filter = parse_filter(q, snap, false)?;
    if !role.sees_points() {
        if m == Method::Dbscan {
            return Err(AppError::BadRequest(DBSCAN_SIGNED_IN.into()));
        }
        public::check_filter(q, &filter, rules)?;
        return public::compare(
            snap,
            q,
            &filter,
            rules,
            (a_from, a_to),
            (b_from, b_to),
            cancel,
        );
    }
    let k = rules.k;
    let caller = Caller { role };
    let days = (
        (a_to - a_from).num_days() as f64 + 1.0,
        (b_to - b_from).num_days() as f64 + 1.0,
    );
    let fa = filter.with_dates(Some(a_from), Some(a_to));
    let fb = filter.with_dates(Some(b_from), Some(b_to));
    let value = match m {
        Method::Gistar => {
            let params = gistar_args(q)?;
            {
                let sa = fa.select(&snap.incidents.items);
                let sb = fb.select(&snap.incidents.items);
                let area = filter.area.as_ref().map(|a| a as &dyn StudyArea);
                let (pa, pb) = (sa.coords(), sb.coords());
                check_gistar_work(&pa, &params, area)?;
                check_gistar_work(&pb, &params, area)?;
                let res = compare::compare_gistar_with(&pa, &pb, days, &params, area, cancel)?;
                let grid = Grid::new(params.grid, res.cell);
                let mut features = Vec::new();
                for c in &res.cells {
                    features.push(json!({
                        "type": "Feature",
                        "geometry": polygon_json(&grid.polygon(c.id))?,
                        "properties": {
                            "cell": [c.id.0, c.id.1],
                            "count_a": c.count_a,
                            "count_b": c.count_b,
                            "bin_a": c.bin_a,
                            "bin_b": c.bin_b,
                            "change": c.change.as_str(),
                        }
                    }));
                }
                let mut meta = compare_meta("gistar", &sa, &sb, k, &caller, snap, &filter);
                meta.insert(
                    "parameters".into(),
                    json!({
                        "grid": params.grid.as_str(), "cell": res.cell, "band": res.band,
                        "cell_derived": res.cell_derived, "band_derived": res.band_derived,
                        "a": [a_from.to_string(), a_to.to_string()],
                        "b": [b_from.to_string(), b_to.to_string()],
                        "hot": "bin >= 2 (95 % after Benjamini-Hochberg FDR)",
                        "rate_test": "conditional binomial test of two Poisson rates, 5 %",
                    }),
                );
                collection(features, meta)
            }
        }
        Method::Dbscan => {
            let args = dbscan_args(q)?;
            {
                let sa = fa.select(&snap.incidents.items);
                let sb = fb.select(&snap.incidents.items);
                let signed_in = WorkLimits::for_role(true);
                limits::dbscan(&sa.coords(), args.eps, &signed_in).map_err(too_much)?;
                limits::dbscan(&sb.coords(), args.eps, &signed_in).map_err(too_much)?;
                let outline = |c: &Cluster| ClusterOutline {
                    id: c.id.clone(),
                    hull: c.hull.clone(),
                    count: c.count(),
                    centre: c.centre,
                };
                let ca: Vec<ClusterOutline> =
                    hotspot::clusters_with(&sa.points, args.eps, args.min_points, cancel)?
                        .iter()
                        .map(outline)
                        .collect();
                let cb: Vec<ClusterOutline> =
                    hotspot::clusters_with(&sb.points, args.eps, args.min_points, cancel)?
                        .iter()
                        .map(outline)
                        .collect();
                let rows = compare::compare_clusters(&ca, &cb, days);
                let mut features = Vec::new();
                for r in &rows {
                    features.push(json!({
                        "type": "Feature",
                        "id": r.id,
                        "geometry": polygon_json(&r.hull)?,
                        "properties": {
                            "id": r.id,
                            "count_a": r.count_a,
                            "count_b": r.count_b,
                            "change": r.change.as_str(),
                            "continues": r.continues,
                            "centre": lonlat(r.centre)?,
                        }
                    }));
                }
                let mut meta = compare_meta("dbscan", &sa, &sb, k, &caller, snap, &filter);
                meta.insert(
                    "parameters".into(),
                    json!({
                        "eps": args.eps, "min_points": args.min_points,
                        "a": [a_from.to_string(), a_to.to_string()],
                        "b": [b_from.to_string(), b_to.to_string()],
                        "rate_test": "conditional binomial test of two Poisson rates, 5 %",
                    }),
                );
                collection(features, meta)
            }
        }
        Method::Kde => unreachable!("method() refuses kde for compare"),
    };
    Ok(value)
}

async fn compare_periods(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<ResultCache>>,
    caller: Caller,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    cached_json(&state, &cache, caller, q, "compare", compute_compare).await
}

fn compare_meta(
    method: &str,
    a: &Selection<'_>,
    b: &Selection<'_>,
    k: u32,
    caller: &Caller,
    snap: &Snapshot,
    filter: &IncidentFilter,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("method".into(), json!(method));
    m.insert(
        "included".into(),
        json!({ "a": a.points.len(), "b": b.points.len() }),
    );
    m.insert(
        "excluded_by_precision".into(),
        json!({
            "a": { "municipality": a.municipality_only, "county": a.county_only, "total": a.excluded_by_precision(), "note": a.precision_note() },
            "b": { "municipality": b.municipality_only, "county": b.county_only, "total": b.excluded_by_precision(), "note": b.precision_note() },
        }),
    );
    m.insert(
        "filtered_out".into(),
        json!({ "a": a.filtered_out, "b": b.filtered_out }),
    );
    m.insert("k".into(), json!(k));
    m.insert("role".into(), json!(caller.role.as_str()));
    m.insert("snapshot_version".into(), json!(snap.version));
    m.insert("filters".into(), filter_json(filter));
    m
}

const DEFAULT_INCIDENT_LIMIT: usize = 50_000;
const MAX_INCIDENT_LIMIT: usize = 500_000;

fn incident_feature(i: &Incident, lon: f64, lat: f64) -> Value {
    json!({
        "type": "Feature",
        "id": format!("{}:{}", i.source, i.source_id),
        "geometry": { "type": "Point", "coordinates": [crs::round7(lon), crs::round7(lat)] },
        "properties": {
            "source": i.source,
            "source_id": i.source_id,
            "time": i.occurred_at.to_rfc3339(),
            "category": i.category,
            "group": i.group.as_str(),
            "label": i.label,
            "precision": i.precision.as_str(),
        }
    })
}

async fn incidents(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    caller.require(Role::Police)?;
    check_known(&q, &["precision", "limit"])?;
    let all = match q.get("precision").map(String::as_str) {
        None | Some("point") => false,
        Some("all") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "precision={other:?}: expected point (exact and street, the default) or all"
            )));
        }
    };
    let limit = num(&q, "limit", 1usize, MAX_INCIDENT_LIMIT)?.unwrap_or(DEFAULT_INCIDENT_LIMIT);
    let snap = state.spatial.load();
    let filter = parse_filter(&q, &snap, true)?;
    let k = state.config.min_public_count;
    let value = blocking(move || {
        let sel = filter.select(&snap.incidents.items);
        let mut chosen: Vec<&Incident> = sel.points.clone();
        if all {
            chosen.extend(
                snap.incidents
                    .items
                    .iter()
                    .filter(|i| !i.precision.is_point_level() && filter.passes_attributes(i)),
            );
        }
        let total = chosen.len();
        chosen.sort_by_key(|i| std::cmp::Reverse(i.occurred_at));
        chosen.truncate(limit);
        let mut pts: Vec<(f64, f64)> = chosen
            .iter()
            .map(|i| (i.location.x(), i.location.y()))
            .collect();
        crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, &mut pts)
            .map_err(AppError::internal)?;
        let features: Vec<Value> = chosen
            .iter()
            .zip(pts)
            .map(|(i, (lon, lat))| incident_feature(i, lon, lat))
            .collect();
        let mut meta = base_meta("incidents", &sel, k, &caller, &snap, &filter);
        meta.insert("returned".into(), json!(features.len()));
        meta.insert("matching".into(), json!(total));
        meta.insert("truncated".into(), json!(total > features.len()));
        meta.insert("limit".into(), json!(limit));
        meta.insert("order".into(), json!("newest first"));
        Ok(collection(features, meta))
    })
    .await?;
    let mut resp = respond(json_cached(&value));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

/// OpenAPI 3.1 `paths` entries of these endpoints (merged into `/api/openapi.json` by the api
/// module).
pub fn openapi_paths() -> Value {
    let filters = json!([
        { "name": "from", "in": "query", "schema": { "type": "string", "format": "date" }, "description": "First local (Europe/Stockholm) date included, YYYY-MM-DD." },
        { "name": "to", "in": "query", "schema": { "type": "string", "format": "date" }, "description": "Last local date included, YYYY-MM-DD." },
        { "name": "categories", "in": "query", "schema": { "type": "string" }, "description": "Comma list of category codes, e.g. assault,robbery. Given without groups: exactly these categories." },
        { "name": "groups", "in": "query", "schema": { "type": "string" }, "description": "Comma list of category groups (violence, property, drugs, vandalism, disorder, weapons, other_crime, traffic, fire, non_crime, summary). Default, when neither groups nor categories are given: the crime groups." },
        { "name": "hours", "in": "query", "schema": { "type": "string" }, "description": "Local hours: ranges with exclusive end wrapping midnight (22-04) and/or single hours (8,9,10)." },
        { "name": "weekdays", "in": "query", "schema": { "type": "string" }, "description": "mon..sun, mån..sön or 0..6 (0 = Monday), comma list or ranges (fri-sun)." },
        { "name": "area", "in": "query", "schema": { "type": "string" }, "description": "District name (case-insensitive). Not together with bbox." },
        { "name": "bbox", "in": "query", "schema": { "type": "string" }, "description": "WGS84 box west,south,east,north." },
    ]);
    let method_params = json!([
        { "name": "eps", "in": "query", "schema": { "type": "number", "minimum": 1, "maximum": 5000, "default": DEFAULT_EPS }, "description": "DBSCAN radius in metres." },
        { "name": "min_points", "in": "query", "schema": { "type": "integer", "minimum": 2, "default": DEFAULT_MIN_POINTS }, "description": "DBSCAN minimum neighbourhood, the point itself included." },
        { "name": "cell", "in": "query", "schema": { "type": "number" }, "description": "Gi*: cell size in metres (square side or hexagon centre spacing); KDE: raster cell in metres. Derived from the data when absent and reported in meta.parameters." },
        { "name": "band", "in": "query", "schema": { "type": "number" }, "description": "Gi* distance band in metres (inclusive). Derived when absent." },
        { "name": "grid", "in": "query", "schema": { "type": "string", "enum": ["square", "hex"], "default": "square" }, "description": "Gi* grid." },
        { "name": "bandwidth", "in": "query", "schema": { "type": "number" }, "description": "KDE quartic kernel bandwidth in metres. Derived when absent." },
    ]);
    let concat = |a: &Value, b: &Value, extra: Vec<Value>| -> Value {
        let mut v: Vec<Value> = a.as_array().cloned().unwrap_or_default();
        v.extend(b.as_array().cloned().unwrap_or_default());
        v.extend(extra);
        Value::Array(v)
    };
    let geojson = json!({ "application/geo+json": { "schema": { "type": "object", "description": "RFC 7946 FeatureCollection (WGS84) with a meta member: parameters used, included, excluded_by_precision, filtered_out, k, role." } } });
    let errors = json!({
        "400": { "description": "A parameter is invalid; the message names it." },
        "401": { "description": "A token was sent and is not valid." },
    });
    let responses_ok = |desc: &str, content: Value| -> Value {
        let mut r = errors.clone();
        r["200"] = json!({ "description": desc, "content": content });
        r
    };
    json!({
        "/api/v1/hotspots": { "get": {
            "summary": "Crime hotspots: DBSCAN clusters, Getis-Ord Gi* cells or kernel density",
            "description": "DBSCAN features: Polygon hulls with id, count, categories, first, last, profile (7x24, Monday first, Stockholm time), peak, centre. Gi* features: cell Polygons with count, z, p (two-sided), bin (-3..3 after Benjamini-Hochberg FDR). KDE features: cell Polygons with density (events per km2); meta.bounds. Anonymous callers get aggregates only: hulls with count >= k, months instead of dates, a weekday x part-of-day profile; Gi* counts below k are null; KDE cells with fewer than k events within the bandwidth are left out.",
            "parameters": concat(&json!([{ "name": "method", "in": "query", "required": true, "schema": { "type": "string", "enum": ["dbscan", "gistar", "kde"] } }]), &filters, method_params.as_array().cloned().unwrap_or_default()),
            "responses": responses_ok("Hotspots", geojson.clone()),
        }},
        "/api/v1/hotspots/kde.png": { "get": {
            "summary": "Kernel density as a colour-ramped PNG overlay",
            "description": "The WGS84 bounds west,south,east,north are in the X-Bounds response header; the image is laid out for a Web Mercator map (Leaflet imageOverlay).",
            "parameters": concat(&filters, &json!([
                { "name": "bandwidth", "in": "query", "schema": { "type": "number" } },
                { "name": "cell", "in": "query", "schema": { "type": "number" } },
            ]), vec![]),
            "responses": responses_ok("PNG overlay", json!({ "image/png": { "schema": { "type": "string", "format": "binary" } } })),
        }},
        "/api/v1/hotspots/compare": { "get": {
            "summary": "Period A against period B: new, gone, up, down, same",
            "description": "Gi*: cells hot (bin >= 2) in either period, with count_a, count_b, bin_a, bin_b, change. DBSCAN: clusters of B matched to clusters of A by overlapping hulls, with count_a, count_b, change, continues.",
            "parameters": concat(&json!([
                { "name": "method", "in": "query", "required": true, "schema": { "type": "string", "enum": ["gistar", "dbscan"] } },
                { "name": "a_from", "in": "query", "required": true, "schema": { "type": "string", "format": "date" } },
                { "name": "a_to", "in": "query", "required": true, "schema": { "type": "string", "format": "date" } },
                { "name": "b_from", "in": "query", "required": true, "schema": { "type": "string", "format": "date" } },
                { "name": "b_to", "in": "query", "required": true, "schema": { "type": "string", "format": "date" } },
            ]), &json!(filters.as_array().map(|v| v.iter().filter(|p| p["name"] != "from" && p["name"] != "to").cloned().collect::<Vec<_>>())), method_params.as_array().cloned().unwrap_or_default()),
            "responses": responses_ok("Comparison", geojson.clone()),
        }},
        "/api/v1/incidents": { "get": {
            "summary": "Incident points (police, coordinator, admin)",
            "description": "Points with source, source_id, time (RFC 3339), category, group, label, precision; newest first.",
            "security": [{ "bearer": [] }],
            "parameters": concat(&filters, &json!([
                { "name": "precision", "in": "query", "schema": { "type": "string", "enum": ["point", "all"], "default": "point" }, "description": "all adds the events known only to a municipality or county (at its centre)." },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "default": DEFAULT_INCIDENT_LIMIT, "maximum": MAX_INCIDENT_LIMIT } },
            ]), vec![]),
            "responses": {
                "200": { "description": "Incidents", "content": geojson },
                "400": { "description": "A parameter is invalid." },
                "401": { "description": "No or invalid token." },
                "403": { "description": "The token's role may not see points." },
            },
        }},
    })
}
