//! Lighting endpoints: dark stretches, lamps, walkways coloured by light, and the what-if tool.
//!
//! The analysis of a whole city runs once per (classes, snapshot): results are cached here and
//! the filters of a request (bbox, state, limit) are applied to the cached result. A snapshot is
//! identified by its `Arc` (an entry keeps it alive, so the identity cannot be reused), which also
//! keeps two servers in one process (integration tests) apart.
//!
//! Everything here is public except `POST /api/v1/lighting/what-if` (coordinators): no incident
//! points are shown, only counts of incidents after dark per stretch.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use rstar::{AABB, Envelope};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{ApiResult, AppError, AppState};
use crate::analysis::lighting::whatif::{self, ProposedLamp};
use crate::analysis::lighting::{
    self, ClassPlan, LightState, LightingInputs, LightingParams, LightingResult, OffReason, PClass,
    Stretch, priority,
};
use crate::crs;
use crate::model::Role;
use crate::spatial::Snapshot;

/// The routes of this module, merged into the app's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/lighting/stretches", get(get_stretches))
        .route("/api/v1/lighting/lamps", get(get_lamps))
        .route("/api/v1/walkways", get(get_walkways))
        .route("/api/v1/lighting/what-if", post(post_what_if))
}

// ---------------------------------------------------------------------------------------------
// The cache

type Cell = Arc<tokio::sync::OnceCell<Arc<LightingResult>>>;

struct CacheEntry {
    snapshot: Arc<Snapshot>,
    classes: String,
    cell: Cell,
}

/// At most this many analyses are kept (a few class choices of the current snapshot).
const CACHE_ENTRIES: usize = 8;

static CACHE: Mutex<Vec<CacheEntry>> = Mutex::new(Vec::new());

fn cache_cell(snapshot: &Arc<Snapshot>, classes: &ClassPlan) -> Cell {
    let key = classes.key();
    let mut cache = CACHE.lock().expect("lighting cache poisoned");
    if let Some(e) = cache
        .iter()
        .find(|e| Arc::ptr_eq(&e.snapshot, snapshot) && e.classes == key)
    {
        return e.cell.clone();
    }
    // Entries whose snapshot only the cache still holds are for data that is gone.
    cache.retain(|e| Arc::strong_count(&e.snapshot) > 1);
    if cache.len() >= CACHE_ENTRIES {
        cache.remove(0);
    }
    let cell = Cell::default();
    cache.push(CacheEntry {
        snapshot: snapshot.clone(),
        classes: key,
        cell: cell.clone(),
    });
    cell
}

/// The analysis of the current snapshot for these classes, computed once (in an analysis slot,
/// see [`super::analysis`]); later requests get the cached result without a slot. When the
/// request computing it is dropped, the computation stops and the next request starts anew.
pub async fn analysis(
    state: &AppState,
    classes: ClassPlan,
) -> ApiResult<(Arc<Snapshot>, Arc<LightingResult>)> {
    let snapshot = state.spatial.load();
    let cell = cache_cell(&snapshot, &classes);
    let snap = snapshot.clone();
    let rules = state.config.public_rules();
    let result = cell
        .get_or_try_init(|| {
            super::analysis(state, move |cancel| {
                let t0 = std::time::Instant::now();
                let inputs = LightingInputs::from_snapshot(&snap);
                let params = LightingParams {
                    public: rules,
                    ..LightingParams::with_classes(classes)
                };
                let r = lighting::analyze_with(&inputs, &params, cancel)?;
                tracing::info!(
                    version = snap.version,
                    walkways = inputs.walkways.len(),
                    lamps = inputs.lamps.len(),
                    stretches = r.stretches.len(),
                    ms = t0.elapsed().as_millis() as u64,
                    "lighting analysis"
                );
                Ok(Arc::new(r))
            })
        })
        .await?
        .clone();
    Ok((snapshot, result))
}

// ---------------------------------------------------------------------------------------------
// Query parameters

/// The class plan: `class` (default: the configured `lighting_class`), then the configured
/// per-kind classes (`lighting_kind_classes`), then this request's `kind_class`
/// (`footway=P4,steps=P3`), each overriding the one before.
pub fn class_plan(
    class: Option<&str>,
    kind_class: Option<&str>,
    cfg: &crate::config::Config,
) -> Result<ClassPlan, String> {
    crate::analysis::lighting::class_plan(
        class,
        kind_class,
        &cfg.lighting_class,
        cfg.lighting_kind_classes.as_deref(),
    )
}

/// `w,s,e,n` in WGS84 degrees → an envelope in EPSG:3006.
pub fn parse_bbox(text: &str) -> Result<AABB<[f64; 2]>, String> {
    // The text is read and checked as every filter's bbox is.
    let [w, s, e, n] = crate::analysis::filter::parse_bbox(text).map_err(|e| e.to_string())?;
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    // Corners and edge midpoints: a box in degrees is not a box in metres.
    for (lon, lat) in [
        (w, s),
        (e, s),
        (e, n),
        (w, n),
        ((w + e) / 2.0, s),
        ((w + e) / 2.0, n),
        (w, (s + n) / 2.0),
        (e, (s + n) / 2.0),
    ] {
        let (x, y) =
            crs::to_work(crs::WGS84_EPSG, lon, lat).map_err(|e| format!("bbox={text:?}: {e}"))?;
        lo = [lo[0].min(x), lo[1].min(y)];
        hi = [hi[0].max(x), hi[1].max(y)];
    }
    Ok(AABB::from_corners(lo, hi))
}

/// `dark,unknown` → states; empty or absent → dark and unknown.
pub fn parse_states(text: Option<&str>) -> Result<Vec<LightState>, String> {
    let Some(t) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(vec![LightState::Dark, LightState::Unknown]);
    };
    t.split(',')
        .map(|p| {
            LightState::parse(p).ok_or_else(|| {
                format!("state={p:?}: expected dark, unknown or lit (a comma list is allowed)")
            })
        })
        .collect()
}

/// How stretches are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Highest priority first (lit stretches last), the default.
    Priority,
    /// Longest first.
    Length,
}

impl Sort {
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text.map(str::trim) {
            None | Some("") | Some("priority") => Ok(Self::Priority),
            Some("length") => Ok(Self::Length),
            Some(o) => Err(format!("sort={o:?}: expected priority or length")),
        }
    }
}

/// Which stretches to return.
#[derive(Debug, Clone)]
pub struct StretchFilter {
    pub states: Vec<LightState>,
    pub bbox: Option<AABB<[f64; 2]>>,
    pub limit: Option<usize>,
    pub sort: Sort,
    /// The public's view: priorities, ranks and incident counts of [`Stretch::public`].
    pub public: bool,
}

fn in_bbox(line: &geo::LineString<f64>, bbox: &AABB<[f64; 2]>) -> bool {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in &line.0 {
        lo = [lo[0].min(c.x), lo[1].min(c.y)];
        hi = [hi[0].max(c.x), hi[1].max(c.y)];
    }
    bbox.intersects(&AABB::from_corners(lo, hi))
}

/// The stretches a filter selects, in its order.
pub fn select<'r>(result: &'r LightingResult, f: &StretchFilter) -> Vec<&'r Stretch> {
    let mut out: Vec<&Stretch> = result
        .stretches
        .iter()
        .filter(|s| f.states.contains(&s.state))
        .filter(|s| f.bbox.as_ref().is_none_or(|b| in_bbox(&s.geometry, b)))
        .collect();
    let (priority, rank) = if f.public {
        (
            (|s: &Stretch| s.public.priority) as fn(&Stretch) -> f64,
            (|s: &Stretch| s.public.rank) as fn(&Stretch) -> Option<usize>,
        )
    } else {
        (
            (|s: &Stretch| s.priority) as fn(&Stretch) -> f64,
            (|s: &Stretch| s.rank) as fn(&Stretch) -> Option<usize>,
        )
    };
    match f.sort {
        Sort::Priority => out.sort_by(|a, b| {
            priority(b)
                .total_cmp(&priority(a))
                .then(
                    rank(a)
                        .unwrap_or(usize::MAX)
                        .cmp(&rank(b).unwrap_or(usize::MAX)),
                )
                .then(a.id.cmp(&b.id))
        }),
        Sort::Length => out.sort_by(|a, b| b.length_m.total_cmp(&a.length_m).then(a.id.cmp(&b.id))),
    }
    if let Some(n) = f.limit {
        out.truncate(n);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// GeoJSON

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// WGS84 coordinates of a line in EPSG:3006, rounded to 7 decimals.
pub fn line_wgs84(line: &geo::LineString<f64>) -> Value {
    let mut pts: Vec<(f64, f64)> = line.0.iter().map(|c| (c.x, c.y)).collect();
    if crs::transform_in_place(crs::WORK_EPSG, crs::WGS84_EPSG, &mut pts).is_err() {
        pts.iter_mut().for_each(|p| *p = (f64::NAN, f64::NAN));
    }
    Value::Array(
        pts.into_iter()
            .map(|(lon, lat)| json!([crs::round7(lon), crs::round7(lat)]))
            .collect(),
    )
}

/// One stretch as a GeoJSON feature; `public`: as the public sees it ([`Stretch::public`]).
pub fn stretch_feature(s: &Stretch, inputs: &LightingInputs<'_>, public: bool) -> Value {
    let w = &inputs.walkways[s.walkway];
    let (incidents, priority, rank, reasons) = if public {
        (
            json!(s.public.incidents_after_dark),
            s.public.priority,
            s.public.rank,
            &s.public.reasons,
        )
    } else {
        (
            json!(s.incidents_after_dark),
            s.priority,
            s.rank,
            &s.reasons,
        )
    };
    json!({
        "type": "Feature",
        "id": s.id,
        "geometry": { "type": "LineString", "coordinates": line_wgs84(&s.geometry) },
        "properties": {
            "id": s.id,
            "walkway_id": s.walkway_id,
            "name": w.name,
            "kind": w.kind,
            "state": s.state,
            "class": s.class,
            "length_m": r1(s.length_m),
            "from_m": r1(s.from_m),
            "to_m": r1(s.to_m),
            "mean_lux": s.mean_lux.map(r3),
            "min_lux": s.min_lux.map(r3),
            "lamp_data_share": (s.lamp_data_share * 100.0).round() / 100.0,
            "below_minimum": s.below_minimum,
            "below_average": s.below_average,
            "lit_tag": w.lit,
            "lamps_before": s.lamps_before,
            "lamps_after": s.lamps_after,
            "gap_m": s.gap_m.map(r1),
            "reports": s.report_ids.len(),
            "report_ids": s.report_ids,
            "incidents_after_dark": incidents,
            "lamps_off": s.lamps_off,
            "darkened_by": s.darkened_by,
            "park": s.park,
            "priority": priority,
            "rank": rank,
            "reasons": reasons,
        }
    })
}

fn class_meta(result: &LightingResult) -> Value {
    let plan = &result.params.classes;
    let criteria = |c: PClass| {
        json!({
            "class": c,
            "average_lux": c.average_lux(),
            "minimum_lux": c.minimum_lux(),
            "text": priority::criteria_sv(c),
        })
    };
    json!({
        "class": plan.default,
        "criteria": criteria(plan.default),
        "by_kind": plan.by_kind.iter().map(|(k, c)| (k.clone(), criteria(*c))).collect::<serde_json::Map<_, _>>(),
    })
}

/// The stretches endpoint's whole answer (also what `lagesbild lighting` writes).
pub fn stretches_collection(
    result: &LightingResult,
    inputs: &LightingInputs<'_>,
    filter: &StretchFilter,
    snapshot_version: u64,
) -> Value {
    let chosen = select(result, filter);
    let mut counts = serde_json::Map::new();
    let mut lengths = serde_json::Map::new();
    for st in LightState::ALL {
        let t = result.totals(st);
        counts.insert(st.as_str().into(), json!(t.stretches));
        lengths.insert(st.as_str().into(), json!(r1(t.length_m)));
    }
    let mut meta = class_meta(result);
    let m = meta.as_object_mut().expect("object");
    m.insert("states".into(), json!(filter.states));
    m.insert("counts".into(), Value::Object(counts));
    m.insert("length_m".into(), Value::Object(lengths));
    m.insert("returned".into(), json!(chosen.len()));
    m.insert("walkways".into(), json!(inputs.walkways.len()));
    m.insert("lamps".into(), json!(inputs.lamps.len()));
    m.insert(
        "lamps_off".into(),
        json!(result.lamps.iter().filter(|l| !l.is_on()).count()),
    );
    m.insert("snapshot".into(), json!(snapshot_version));
    m.insert("assumptions".into(), json!(result.assumptions));
    m.insert(
        "attribution".into(),
        json!("Gångvägar och lampor: © OpenStreetMap contributors (ODbL) där de kommer från OSM"),
    );
    json!({
        "type": "FeatureCollection",
        "meta": meta,
        "features": chosen.into_iter().map(|s| stretch_feature(s, inputs, filter.public)).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Debug, Deserialize)]
pub struct StretchParams {
    pub class: Option<String>,
    pub kind_class: Option<String>,
    pub bbox: Option<String>,
    pub state: Option<String>,
    pub limit: Option<usize>,
    pub sort: Option<String>,
}

fn bad(e: String) -> AppError {
    AppError::BadRequest(e)
}

async fn get_stretches(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StretchParams>,
) -> ApiResult<Json<Value>> {
    let public = !caller.role.sees_points();
    if public {
        // Stretches of another class cut the walkways elsewhere; two cuts differ by a short
        // piece, and their incident counts by the events near it. The public gets the
        // configured classes only.
        if let Some(kc) = &q.kind_class {
            return Err(bad(format!(
                "kind_class={kc:?}: the public sees the configured classes; signed-in roles choose"
            )));
        }
        if let Some(c) = &q.class
            && !c.trim().eq_ignore_ascii_case(&state.config.lighting_class)
        {
            return Err(bad(format!(
                "class={c:?}: the public sees the configured class {}; signed-in roles choose",
                state.config.lighting_class
            )));
        }
    }
    let plan =
        class_plan(q.class.as_deref(), q.kind_class.as_deref(), &state.config).map_err(bad)?;
    let filter = StretchFilter {
        states: parse_states(q.state.as_deref()).map_err(bad)?,
        bbox: q.bbox.as_deref().map(parse_bbox).transpose().map_err(bad)?,
        limit: q.limit,
        sort: Sort::parse(q.sort.as_deref()).map_err(bad)?,
        public,
    };
    let (snap, result) = analysis(&state, plan).await?;
    let body = tokio::task::spawn_blocking(move || {
        let inputs = LightingInputs::from_snapshot(&snap);
        stretches_collection(&result, &inputs, &filter, snap.version)
    })
    .await
    .map_err(AppError::internal)?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
pub struct AreaParams {
    pub class: Option<String>,
    pub kind_class: Option<String>,
    pub bbox: Option<String>,
    pub limit: Option<usize>,
}

/// One lamp as a GeoJSON feature.
pub fn lamp_feature(result: &LightingResult, inputs: &LightingInputs<'_>, k: usize) -> Value {
    let lamp = &inputs.lamps[k];
    let m = &result.lamps[k];
    let (lon, lat) = crs::to_wgs84(m.x, m.y).unwrap_or((f64::NAN, f64::NAN));
    let off_reason = match &m.off {
        None => Value::Null,
        Some(OffReason::Register) => json!("register"),
        Some(OffReason::Report(id)) => json!(format!("report #{id}")),
    };
    let darkens: Vec<&str> = result
        .darkens
        .get(&k)
        .map(|v| v.iter().map(|&i| result.stretches[i].id.as_str()).collect())
        .unwrap_or_default();
    json!({
        "type": "Feature",
        "id": lamp.id,
        "geometry": { "type": "Point", "coordinates": [crs::round7(lon), crs::round7(lat)] },
        "properties": {
            "id": lamp.id,
            "status": if m.is_on() { "working" } else { "broken" },
            "off_reason": off_reason,
            "height_m": m.height_m,
            "lumen": r1(m.lumen),
            "watt": lamp.watt,
            "intensity_cd": r1(m.intensity_cd),
            "assumed": m.assumed.names(),
            "source": lamp.source,
            "reference": lamp.reference,
            "darkens": darkens,
        }
    })
}

async fn get_lamps(
    State(state): State<AppState>,
    Query(q): Query<AreaParams>,
) -> ApiResult<Json<Value>> {
    let plan =
        class_plan(q.class.as_deref(), q.kind_class.as_deref(), &state.config).map_err(bad)?;
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose().map_err(bad)?;
    let (snap, result) = analysis(&state, plan).await?;
    let body = tokio::task::spawn_blocking(move || {
        let inputs = LightingInputs::from_snapshot(&snap);
        let mut idx: Vec<usize> = match &bbox {
            Some(b) => inputs.lamp_tree.locate_in_envelope(b).map(|e| e.data).collect(),
            None => (0..inputs.lamps.len()).collect(),
        };
        idx.sort_unstable();
        let total = idx.len();
        if let Some(n) = q.limit {
            idx.truncate(n);
        }
        json!({
            "type": "FeatureCollection",
            "meta": {
                "returned": idx.len(),
                "truncated": idx.len() < total,
                "snapshot": snap.version,
                "assumptions": result.params.photometry.assumptions(),
            },
            "features": idx.into_iter().map(|k| lamp_feature(&result, &inputs, k)).collect::<Vec<_>>(),
        })
    })
    .await
    .map_err(AppError::internal)?;
    Ok(Json(body))
}

/// Longest piece of a walkway in the colouring layer (m).
pub const PIECE_M: f64 = 20.0;
/// Most pieces one walkways request returns unless `limit` says otherwise.
pub const DEFAULT_PIECE_LIMIT: usize = 50_000;

async fn get_walkways(
    State(state): State<AppState>,
    Query(q): Query<AreaParams>,
) -> ApiResult<Json<Value>> {
    let plan =
        class_plan(q.class.as_deref(), q.kind_class.as_deref(), &state.config).map_err(bad)?;
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose().map_err(bad)?;
    let limit = q.limit.unwrap_or(DEFAULT_PIECE_LIMIT);
    let (snap, result) = analysis(&state, plan).await?;
    let body = tokio::task::spawn_blocking(move || {
        let inputs = LightingInputs::from_snapshot(&snap);
        let mut ways: Vec<usize> = match &bbox {
            Some(b) => inputs
                .walkway_tree
                .locate_in_envelope_intersecting(b)
                .map(|e| e.data.0)
                .collect(),
            None => (0..inputs.walkways.len()).collect(),
        };
        ways.sort_unstable();
        ways.dedup();
        let mut features = Vec::new();
        let mut truncated = false;
        'ways: for wi in ways {
            let w = &inputs.walkways[wi];
            for p in lighting::walkway_pieces(&result, &inputs, wi, PIECE_M) {
                if features.len() >= limit {
                    truncated = true;
                    break 'ways;
                }
                features.push(json!({
                    "type": "Feature",
                    "geometry": { "type": "LineString", "coordinates": line_wgs84(&p.geometry) },
                    "properties": {
                        "walkway_id": w.id,
                        "name": w.name,
                        "kind": w.kind,
                        "lit_tag": w.lit,
                        "class": result.profiles[wi].class,
                        "state": p.state,
                        "lux": p.mean_lux.map(r3),
                        "from_m": r1(p.from_m),
                        "to_m": r1(p.to_m),
                    }
                }));
            }
        }
        let mut meta = class_meta(&result);
        let m = meta.as_object_mut().expect("object");
        m.insert("returned".into(), json!(features.len()));
        m.insert("truncated".into(), json!(truncated));
        m.insert("snapshot".into(), json!(snap.version));
        m.insert("assumptions".into(), json!(result.assumptions));
        json!({ "type": "FeatureCollection", "meta": meta, "features": features })
    })
    .await
    .map_err(AppError::internal)?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposedLampIn {
    pub lon: f64,
    pub lat: f64,
    pub height_m: Option<f64>,
    pub lumen: Option<f64>,
    pub watt: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    pub class: Option<String>,
    pub kind_class: Option<String>,
    pub lamps: Vec<ProposedLampIn>,
}

/// Most lamps one what-if request may propose.
pub const MAX_PROPOSED: usize = 1_000;

fn proposed_lamp(i: usize, l: &ProposedLampIn) -> Result<ProposedLamp, String> {
    if !(l.lon.is_finite()
        && l.lat.is_finite()
        && (-180.0..=180.0).contains(&l.lon)
        && (-90.0..=90.0).contains(&l.lat))
    {
        return Err(format!(
            "lamps[{i}]: lon {} / lat {} is not a WGS84 position (lon before lat)",
            l.lon, l.lat
        ));
    }
    if let Some(h) = l.height_m
        && !(h > 0.0 && h <= 60.0)
    {
        return Err(format!(
            "lamps[{i}].height_m = {h}: expected a height above 0 and at most 60 m"
        ));
    }
    if let Some(f) = l.lumen
        && !(f > 0.0 && f <= 200_000.0)
    {
        return Err(format!(
            "lamps[{i}].lumen = {f}: expected a flux above 0 and at most 200 000 lm"
        ));
    }
    if let Some(w) = l.watt
        && !(w > 0.0 && w <= 2_000.0)
    {
        return Err(format!(
            "lamps[{i}].watt = {w}: expected a power above 0 and at most 2 000 W"
        ));
    }
    let (x, y) =
        crs::to_work(crs::WGS84_EPSG, l.lon, l.lat).map_err(|e| format!("lamps[{i}]: {e}"))?;
    Ok(ProposedLamp {
        x,
        y,
        height_m: l.height_m,
        lumen: l.lumen,
        watt: l.watt,
    })
}

async fn post_what_if(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<WhatIfRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Coordinator)?;
    let Json(req) =
        body.map_err(|e| AppError::BadRequest(format!("what-if body: {}", e.body_text())))?;
    if req.lamps.is_empty() {
        return Err(bad("lamps: propose at least one lamp".into()));
    }
    if req.lamps.len() > MAX_PROPOSED {
        return Err(bad(format!(
            "lamps: at most {MAX_PROPOSED} lamps per request, got {}",
            req.lamps.len()
        )));
    }
    let plan = class_plan(
        req.class.as_deref(),
        req.kind_class.as_deref(),
        &state.config,
    )
    .map_err(bad)?;
    let proposed = req
        .lamps
        .iter()
        .enumerate()
        .map(|(i, l)| proposed_lamp(i, l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let (snap, result) = analysis(&state, plan).await?;
    let body = super::analysis(&state, move |cancel| {
        let inputs = LightingInputs::from_snapshot(&snap);
        let w = whatif::what_if_with(&result, &inputs, &proposed, cancel)?;
        let proposed_out: Vec<Value> = w
            .proposed
            .iter()
            .map(|m| {
                json!({
                    "height_m": m.height_m,
                    "lumen": r1(m.lumen),
                    "intensity_cd": r1(m.intensity_cd),
                    "assumed": m.assumed.names(),
                })
            })
            .collect();
        Ok(json!({
            "class": result.params.classes.default,
            "fixed": w.fixed,
            "improved": w.improved,
            "new_stretches": {
                "type": "FeatureCollection",
                "features": w.new_stretches.iter().map(|s| stretch_feature(s, &inputs, false)).collect::<Vec<_>>(),
            },
            "proposed": proposed_out,
            "walkways_recomputed": w.walkways.len(),
            "assumptions": result.assumptions,
        }))
    })
    .await?;
    Ok(Json(body))
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

/// The OpenAPI 3.1 `paths` entries of these endpoints.
pub fn openapi_paths() -> Value {
    let class = json!({"name": "class", "in": "query", "required": false,
        "description": "EN 13201-2 P-class for all walkways (default: the configured class, P5)",
        "schema": {"type": "string", "enum": ["P1", "P2", "P3", "P4", "P5", "P6"]}});
    let kind_class = json!({"name": "kind_class", "in": "query", "required": false,
        "description": "Per walkway kind overrides, e.g. footway=P4,steps=P3",
        "schema": {"type": "string"}});
    let bbox = json!({"name": "bbox", "in": "query", "required": false,
        "description": "WGS84 box west,south,east,north", "schema": {"type": "string"},
        "example": "18.05,59.43,18.09,59.45"});
    let limit = json!({"name": "limit", "in": "query", "required": false,
        "schema": {"type": "integer", "minimum": 0}});
    let fc = json!({"description": "GeoJSON FeatureCollection (RFC 7946, WGS84)",
        "content": {"application/geo+json": {"schema": {"type": "object"}},
                    "application/json": {"schema": {"type": "object"}}}});
    let bad = json!({"description": "A parameter is invalid; the message says which and why"});
    json!({
        "/api/v1/lighting/stretches": {"get": {
            "summary": "Dark, unknown and lit stretches of walkway, ranked for the action plan",
            "description": "LineStrings with id, walkway_id, name, kind, state, class, length_m, mean_lux, min_lux, lit_tag, lamps_before, lamps_after, gap_m, reports, report_ids, incidents_after_dark, lamps_off, darkened_by, priority, rank and reasons (Swedish). meta holds the class and its criteria, counts and lengths per state, and the assumptions.",
            "parameters": [class, kind_class, bbox,
                {"name": "state", "in": "query", "required": false,
                 "description": "dark, unknown, lit or a comma list (default dark,unknown)",
                 "schema": {"type": "string"}},
                limit,
                {"name": "sort", "in": "query", "required": false,
                 "schema": {"type": "string", "enum": ["priority", "length"], "default": "priority"}}],
            "responses": {"200": fc, "400": bad}
        }},
        "/api/v1/lighting/lamps": {"get": {
            "summary": "Street lamps with status, photometry used and the stretches a broken lamp darkens",
            "parameters": [class, kind_class, bbox, limit],
            "responses": {"200": fc, "400": bad}
        }},
        "/api/v1/walkways": {"get": {
            "summary": "Walkways cut into pieces (at most 20 m) with mean lux and state, for colouring",
            "parameters": [class, kind_class, bbox, limit],
            "responses": {"200": fc, "400": bad}
        }},
        "/api/v1/lighting/what-if": {"post": {
            "summary": "Which stretches proposed lamps would fix, and the new values",
            "security": [{"bearer": []}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["lamps"],
                "properties": {
                    "class": {"type": "string", "enum": ["P1", "P2", "P3", "P4", "P5", "P6"]},
                    "kind_class": {"type": "string"},
                    "lamps": {"type": "array", "minItems": 1, "maxItems": MAX_PROPOSED, "items": {
                        "type": "object", "required": ["lon", "lat"],
                        "properties": {"lon": {"type": "number"}, "lat": {"type": "number"},
                                       "height_m": {"type": "number"}, "lumen": {"type": "number"},
                                       "watt": {"type": "number"}}}}}}}}},
            "responses": {
                "200": {"description": "{fixed: [stretch id], improved: [{id, before: {mean_lux, min_lux, length_m}, after: {…}}], new_stretches: FeatureCollection}",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": bad,
                "401": {"description": "No or an invalid token"},
                "403": {"description": "The token's role is below coordinator"}
            }
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query_parameters() {
        assert_eq!(
            parse_states(None).unwrap(),
            vec![LightState::Dark, LightState::Unknown]
        );
        assert_eq!(
            parse_states(Some("lit, dark")).unwrap(),
            vec![LightState::Lit, LightState::Dark]
        );
        assert!(parse_states(Some("gloomy")).unwrap_err().contains("gloomy"));
        let cfg = crate::config::Config::default();
        assert_eq!(class_plan(None, None, &cfg).unwrap().default, PClass::P5);
        assert_eq!(
            class_plan(Some("p3"), Some("steps=P2"), &cfg)
                .unwrap()
                .for_kind("steps"),
            PClass::P2
        );
        assert!(class_plan(Some("P9"), None, &cfg).is_err());
        // The configured per-kind classes apply, and a request's kind_class overrides them.
        let cfg = crate::config::Config {
            lighting_class: "P6".into(),
            lighting_kind_classes: Some("steps=P3,cycleway=P4".into()),
            ..crate::config::Config::default()
        };
        let plan = class_plan(None, None, &cfg).unwrap();
        assert_eq!(plan.default, PClass::P6);
        assert_eq!(plan.for_kind("steps"), PClass::P3);
        assert_eq!(plan.for_kind("cycleway"), PClass::P4);
        assert_eq!(plan.for_kind("footway"), PClass::P6);
        let plan = class_plan(None, Some("steps=P1"), &cfg).unwrap();
        assert_eq!(plan.for_kind("steps"), PClass::P1);
        assert_eq!(plan.for_kind("cycleway"), PClass::P4);
        let bad = crate::config::Config {
            lighting_kind_classes: Some("steps=P9".into()),
            ..crate::config::Config::default()
        };
        assert!(
            class_plan(None, None, &bad)
                .unwrap_err()
                .contains("lighting_kind_classes")
        );
        assert!(parse_bbox("18,59,17,60").is_err());
        assert!(parse_bbox("59,18").is_err());
        assert!(parse_bbox("18.0,59.4,18.1,59.5").is_ok());
        assert_eq!(Sort::parse(None).unwrap(), Sort::Priority);
        assert!(Sort::parse(Some("random")).is_err());
        let paths = openapi_paths();
        assert!(paths["/api/v1/lighting/what-if"]["post"].is_object());
    }
}
