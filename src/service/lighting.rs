//! Lighting: dark stretches ranked for the action plan, street lamps, walkways coloured by
//! light and the what-if tool, as typed queries and answers over one [`LightingResult`].
//!
//! The analysis of a whole city ([`analyse`]) depends on the snapshot and the class plan only;
//! a caller computes it once per pair (the API keeps it in its answer cache, the CLI runs it
//! once) and every question here filters and shapes it. Everything is public except what-if
//! (coordinators): no incident points are shown, only counts of incidents after dark per
//! stretch, and to the public only where
//! [`stretch_incidents_shown`](crate::analysis::privacy::stretch_incidents_shown) allows
//! ([`Stretch::public`]).
//!
//! Answers are bounded: at most [`MAX_STRETCHES`] stretches, [`MAX_LAMPS`] lamps and
//! [`MAX_PIECES`] walkway pieces over HTTP (`limit`, with `meta.truncated`), and what-if takes
//! at most [`MAX_PROPOSED`] lamps.

use std::collections::BTreeMap;
use std::str::FromStr;

use rstar::{AABB, Envelope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::geojson::{Feature, FeatureCollection, Geometry, Position, positions, round_to};
use super::hotspots::in_range;
use super::{ServiceError, ServiceResult, Viewer};
use crate::analysis::cancel::{Cancel, Cancelled};
use crate::analysis::lighting::whatif::{self, LuxSummary, ProposedLamp};
use crate::analysis::lighting::{
    self, ClassPlan, LightState, LightingInputs, LightingParams, LightingResult, OffReason, PClass,
    Stretch, priority,
};
use crate::analysis::privacy::PublicRules;
use crate::config::Config;
use crate::crs;
use crate::spatial::Snapshot;

/// Most stretches one HTTP answer holds (`limit`'s maximum and default).
pub const MAX_STRETCHES: usize = 20_000;
/// Most lamps one HTTP answer holds.
pub const MAX_LAMPS: usize = 50_000;
/// Most walkway pieces one HTTP answer holds.
pub const MAX_PIECES: usize = 50_000;
/// Longest piece of a walkway in the colouring layer (m).
pub const PIECE_M: f64 = 20.0;
/// Most lamps one what-if request may propose.
pub const MAX_PROPOSED: usize = 1_000;

/// Where the walkways and lamps come from, for every stretches answer.
pub const ATTRIBUTION: &str =
    "Gångvägar och lampor: © OpenStreetMap contributors (ODbL) där de kommer från OSM";

// ---------------------------------------------------------------------------------------------
// Queries

/// The lighting classes a question is asked with (every lighting endpoint and the CLI).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct ClassParams {
    /// EN 13201-2 P-class for every walkway, P1 … P6 in any case (default: the configured
    /// `lighting_class`, P5). Anonymous callers of the stretches get the configured class.
    #[arg(long)]
    #[param(value_type = Option<PClassDoc>, inline)]
    pub class: Option<String>,
    /// Per walkway kind overrides of the class, e.g. footway=P4,steps=P3 (signed-in roles for
    /// the stretches).
    #[arg(long)]
    #[param(example = "footway=P4,steps=P3")]
    pub kind_class: Option<String>,
}

impl ClassParams {
    /// The class plan: `class` (default: the configured `lighting_class`), then the configured
    /// per-kind classes (`lighting_kind_classes`), then `kind_class`, each overriding the one
    /// before.
    pub fn plan(&self, cfg: &Config) -> ServiceResult<ClassPlan> {
        class_plan(self.class.as_deref(), self.kind_class.as_deref(), cfg)
            .map_err(ServiceError::Invalid)
    }

    /// [`Self::plan`] as `viewer` may ask it of the stretches: the public gets the configured
    /// classes only. Stretches of another class cut the walkways elsewhere; two cuts differ by
    /// a short piece, and their incident counts by the events near it.
    pub fn plan_seen_by(&self, cfg: &Config, viewer: &Viewer) -> ServiceResult<ClassPlan> {
        if !viewer.sees_points() {
            if let Some(kc) = &self.kind_class {
                return Err(ServiceError::Invalid(format!(
                    "kind_class={kc:?}: the public sees the configured classes; signed-in roles choose"
                )));
            }
            if let Some(c) = &self.class
                && !c.trim().eq_ignore_ascii_case(&cfg.lighting_class)
            {
                return Err(ServiceError::Invalid(format!(
                    "class={c:?}: the public sees the configured class {}; signed-in roles choose",
                    cfg.lighting_class
                )));
            }
        }
        self.plan(cfg)
    }
}

/// The class plan of `class` and `kind_class` over the configured classes (see
/// [`ClassParams::plan`]); the message names what is wrong.
pub fn class_plan(
    class: Option<&str>,
    kind_class: Option<&str>,
    cfg: &Config,
) -> Result<ClassPlan, String> {
    lighting::class_plan(
        class,
        kind_class,
        &cfg.lighting_class,
        cfg.lighting_kind_classes.as_deref(),
    )
}

/// How stretches are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Highest priority first (lit stretches last), the default.
    #[default]
    Priority,
    /// Longest first.
    Length,
}

impl FromStr for Sort {
    type Err = String;

    /// `priority` or `length`; empty is the default.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "priority" => Ok(Self::Priority),
            "length" => Ok(Self::Length),
            _ => Err("expected priority or length".into()),
        }
    }
}

impl<'de> Deserialize<'de> for Sort {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which stretches (`GET /api/v1/lighting/stretches`, `lagesbild lighting`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct StretchParams {
    /// Only stretches whose extent meets this WGS84 box west,south,east,north.
    #[arg(long)]
    #[param(example = "18.05,59.43,18.09,59.45")]
    pub bbox: Option<String>,
    /// dark, unknown, lit or a comma list (default dark,unknown).
    #[arg(long)]
    #[param(example = "dark,unknown")]
    pub state: Option<String>,
    /// At most this many stretches, in the order of `sort` (0–20000 over HTTP, default 20000;
    /// the CLI writes every stretch unless given).
    #[arg(long)]
    #[param(minimum = 0, maximum = 20000)]
    pub limit: Option<usize>,
    /// priority (highest first, lit stretches last; the default) or length (longest first).
    #[arg(long)]
    #[param(inline)]
    pub sort: Option<Sort>,
}

/// Where and how many lamps (`GET /api/v1/lighting/lamps`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LampParams {
    /// Only lamps within this WGS84 box west,south,east,north.
    #[param(example = "18.05,59.43,18.09,59.45")]
    pub bbox: Option<String>,
    /// At most this many lamps, in the order of their ids (0–50000, default 50000).
    #[param(minimum = 0, maximum = 50000)]
    pub limit: Option<usize>,
}

/// Where and how many walkway pieces (`GET /api/v1/walkways`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PieceParams {
    /// Only walkways with a segment within this WGS84 box west,south,east,north.
    #[param(example = "18.05,59.43,18.09,59.45")]
    pub bbox: Option<String>,
    /// At most this many pieces, walkway by walkway (0–50000, default 50000).
    #[param(minimum = 0, maximum = 50000)]
    pub limit: Option<usize>,
}

/// `w,s,e,n` in WGS84 degrees → an envelope in EPSG:3006 holding the whole box.
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

fn bbox(text: Option<&str>) -> ServiceResult<Option<AABB<[f64; 2]>>> {
    text.map(parse_bbox)
        .transpose()
        .map_err(ServiceError::Invalid)
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

/// Which stretches to return, checked.
#[derive(Debug, Clone)]
pub struct StretchFilter {
    pub states: Vec<LightState>,
    pub bbox: Option<AABB<[f64; 2]>>,
    /// `None`: all of them.
    pub limit: Option<usize>,
    pub sort: Sort,
    /// The public's view: priorities, ranks and incident counts of [`Stretch::public`].
    pub public: bool,
}

impl StretchParams {
    /// The checked filter for `viewer`; `max`: the largest `limit`, and the default (`None`:
    /// no bound, for a file the CLI writes).
    pub fn filter(&self, viewer: &Viewer, max: Option<usize>) -> ServiceResult<StretchFilter> {
        let limit = match max {
            Some(m) => Some(in_range("limit", self.limit, 0, m)?.unwrap_or(m)),
            None => self.limit,
        };
        Ok(StretchFilter {
            states: parse_states(self.state.as_deref()).map_err(ServiceError::Invalid)?,
            bbox: bbox(self.bbox.as_deref())?,
            limit,
            sort: self.sort.unwrap_or_default(),
            public: !viewer.sees_points(),
        })
    }
}

/// Where and how many lamps or pieces, checked.
#[derive(Debug, Clone)]
pub struct AreaFilter {
    pub bbox: Option<AABB<[f64; 2]>>,
    pub limit: usize,
}

impl LampParams {
    pub fn filter(&self) -> ServiceResult<AreaFilter> {
        Ok(AreaFilter {
            bbox: bbox(self.bbox.as_deref())?,
            limit: in_range("limit", self.limit, 0, MAX_LAMPS)?.unwrap_or(MAX_LAMPS),
        })
    }
}

impl PieceParams {
    pub fn filter(&self) -> ServiceResult<AreaFilter> {
        Ok(AreaFilter {
            bbox: bbox(self.bbox.as_deref())?,
            limit: in_range("limit", self.limit, 0, MAX_PIECES)?.unwrap_or(MAX_PIECES),
        })
    }
}

/// A lamp someone proposes, in WGS84 (`POST /api/v1/lighting/what-if`).
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposedLampIn {
    /// Longitude (WGS84), before the latitude.
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// Mounting height, above 0 and at most 60 m (default 5 m).
    #[schema(exclusive_minimum = 0, maximum = 60)]
    pub height_m: Option<f64>,
    /// Luminous flux, above 0 and at most 200 000 lm (default: from watt, else 3 000 lm).
    #[schema(exclusive_minimum = 0, maximum = 200000)]
    pub lumen: Option<f64>,
    /// Electrical power, above 0 and at most 2 000 W.
    #[schema(exclusive_minimum = 0, maximum = 2000)]
    pub watt: Option<f64>,
}

/// Proposed lamps and the classes to judge them by.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    /// P1 … P6 (default: the configured class).
    #[schema(value_type = Option<PClassDoc>, inline)]
    pub class: Option<String>,
    /// Per walkway kind overrides, e.g. footway=P4,steps=P3.
    pub kind_class: Option<String>,
    /// One to 1 000 lamps.
    #[schema(min_items = 1, max_items = 1000)]
    pub lamps: Vec<ProposedLampIn>,
    /// Also store the lamps as a planned new-lamp measure (all of one type), in the same
    /// request.
    #[serde(default)]
    pub plan: bool,
    /// The planned measure's title (default "Ny belysning, <n> lampor").
    pub title: Option<String>,
}

impl WhatIfRequest {
    /// The class plan and the lamps in EPSG:3006; the message names the lamp and the value.
    pub fn check(&self, cfg: &Config) -> ServiceResult<(ClassPlan, Vec<ProposedLamp>)> {
        if self.lamps.is_empty() {
            return Err(ServiceError::Invalid(
                "lamps: propose at least one lamp".into(),
            ));
        }
        if self.lamps.len() > MAX_PROPOSED {
            return Err(ServiceError::Invalid(format!(
                "lamps: at most {MAX_PROPOSED} lamps per request, got {}",
                self.lamps.len()
            )));
        }
        let plan = class_plan(self.class.as_deref(), self.kind_class.as_deref(), cfg)
            .map_err(ServiceError::Invalid)?;
        let lamps = self
            .lamps
            .iter()
            .enumerate()
            .map(|(i, l)| proposed_lamp(i, l))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ServiceError::Invalid)?;
        Ok((plan, lamps))
    }
}

/// Lamp `i` of a what-if request, checked and in EPSG:3006.
pub fn proposed_lamp(i: usize, l: &ProposedLampIn) -> Result<ProposedLamp, String> {
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
    if let Some(h) = l.height_m {
        check_lamp_height(&format!("lamps[{i}].height_m"), h)?;
    }
    if let Some(f) = l.lumen {
        check_lamp_lumen(&format!("lamps[{i}].lumen"), f)?;
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

// ---------------------------------------------------------------------------------------------
// The rules

/// The analysis of a whole snapshot for a class plan; `rules` decide what the public sees of
/// each stretch. Stops with [`Cancelled`] soon after `cancel` is tripped.
pub fn analyse(
    snap: &Snapshot,
    classes: ClassPlan,
    rules: PublicRules,
    cancel: &Cancel,
) -> Result<LightingResult, Cancelled> {
    let t0 = std::time::Instant::now();
    let inputs = LightingInputs::from_snapshot(snap);
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
    Ok(r)
}

fn in_bbox(line: &geo::LineString<f64>, bbox: &AABB<[f64; 2]>) -> bool {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in &line.0 {
        lo = [lo[0].min(c.x), lo[1].min(c.y)];
        hi = [hi[0].max(c.x), hi[1].max(c.y)];
    }
    bbox.intersects(&AABB::from_corners(lo, hi))
}

/// The stretches a filter selects, in its order and cut at its limit, and how many it selects
/// before the limit.
pub fn select<'r>(result: &'r LightingResult, f: &StretchFilter) -> (Vec<&'r Stretch>, usize) {
    let mut out: Vec<&Stretch> = result
        .stretches
        .iter()
        .filter(|s| f.states.contains(&s.state))
        .filter(|s| f.bbox.as_ref().is_none_or(|b| in_bbox(&s.geometry, b)))
        .collect();
    let view = |s: &'r Stretch| -> (f64, Option<usize>) {
        if f.public {
            (s.public.priority, s.public.rank)
        } else {
            (s.priority, s.rank)
        }
    };
    match f.sort {
        Sort::Priority => out.sort_by(|a, b| {
            let ((pa, ra), (pb, rb)) = (view(a), view(b));
            pb.total_cmp(&pa)
                .then(ra.unwrap_or(usize::MAX).cmp(&rb.unwrap_or(usize::MAX)))
                .then(a.id.cmp(&b.id))
        }),
        Sort::Length => out.sort_by(|a, b| b.length_m.total_cmp(&a.length_m).then(a.id.cmp(&b.id))),
    }
    let matching = out.len();
    if let Some(n) = f.limit {
        out.truncate(n);
    }
    (out, matching)
}

// ---------------------------------------------------------------------------------------------
// Answers

/// The P-classes, as answers and parameters spell them.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum PClassDoc {
    P1,
    P2,
    P3,
    P4,
    P5,
    P6,
}

/// A stretch's, a piece's or a sample's state.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum StateDoc {
    Dark,
    Unknown,
    Lit,
}

/// A class's EN 13201-2 criteria.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Criteria {
    #[schema(value_type = PClassDoc)]
    pub class: PClass,
    /// Maintained average Ē (lx).
    pub average_lux: f64,
    /// Minimum Emin (lx).
    pub minimum_lux: f64,
    /// In Swedish, e.g. `Ē ≥ 3 lx, Emin ≥ 0,6 lx`.
    pub text: String,
}

impl Criteria {
    fn of(class: PClass) -> Self {
        Self {
            class,
            average_lux: class.average_lux(),
            minimum_lux: class.minimum_lux(),
            text: priority::criteria_sv(class),
        }
    }
}

/// The class plan an answer was computed with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClassMeta {
    /// The class of every walkway kind not in `by_kind`.
    #[schema(value_type = PClassDoc)]
    pub class: PClass,
    pub criteria: Criteria,
    /// Walkway kind (OSM highway value) → its class's criteria.
    pub by_kind: BTreeMap<String, Criteria>,
}

impl ClassMeta {
    pub fn of(result: &LightingResult) -> Self {
        let plan = &result.params.classes;
        Self {
            class: plan.default,
            criteria: Criteria::of(plan.default),
            by_kind: plan
                .by_kind
                .iter()
                .map(|(k, c)| (k.clone(), Criteria::of(*c)))
                .collect(),
        }
    }
}

/// One value per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct PerState<T> {
    pub dark: T,
    pub unknown: T,
    pub lit: T,
}

impl<T> PerState<T> {
    fn of(f: impl Fn(LightState) -> T) -> Self {
        Self {
            dark: f(LightState::Dark),
            unknown: f(LightState::Unknown),
            lit: f(LightState::Lit),
        }
    }
}

/// A stretch of one walkway in one state.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StretchProps {
    /// Stable: `<walkway id>@<start metre>`.
    pub id: String,
    /// The OSM way id.
    pub walkway_id: i64,
    pub name: Option<String>,
    /// The OSM highway value.
    pub kind: String,
    #[schema(value_type = StateDoc)]
    pub state: LightState,
    #[schema(value_type = PClassDoc)]
    pub class: PClass,
    /// Metres, 1 decimal.
    pub length_m: f64,
    /// Start along the walkway (m, 1 decimal).
    pub from_m: f64,
    pub to_m: f64,
    /// Over the samples with lamp data (lx, 3 decimals).
    pub mean_lux: Option<f64>,
    pub min_lux: Option<f64>,
    /// Share of the samples with lamp data (0 … 1, 2 decimals).
    pub lamp_data_share: f64,
    pub below_minimum: bool,
    pub below_average: bool,
    /// The walkway's OSM lit tag as tagged.
    pub lit_tag: Option<String>,
    /// The nearest lamps along the walkway before and after the stretch.
    pub lamps_before: Option<String>,
    pub lamps_after: Option<String>,
    /// Distance along the walkway between those lamps (m, 1 decimal).
    pub gap_m: Option<f64>,
    /// Open citizen reports about darkness within 25 m.
    pub reports: usize,
    pub report_ids: Vec<i64>,
    /// Incidents within 50 m after dark; for the public null unless at least k on a stretch of
    /// at least half a public cell.
    pub incidents_after_dark: Option<usize>,
    /// Lamps that are off and whose light would reach the stretch.
    pub lamps_off: Vec<String>,
    /// Lamps that are off and without which the stretch would not exist.
    pub darkened_by: Vec<String>,
    pub park: Option<String>,
    /// At most 100 (the public's computed without hidden incident counts).
    pub priority: f64,
    /// 1 = first in the action plan; dark and unknown stretches only.
    pub rank: Option<usize>,
    /// Why, in Swedish.
    pub reasons: Vec<String>,
}

/// One stretch as a GeoJSON feature; `public`: as the public sees it ([`Stretch::public`]).
pub fn stretch_feature(
    s: &Stretch,
    inputs: &LightingInputs<'_>,
    public: bool,
) -> ServiceResult<Feature<StretchProps>> {
    let w = &inputs.walkways[s.walkway];
    let (incidents, priority, rank, reasons) = if public {
        (
            s.public.incidents_after_dark,
            s.public.priority,
            s.public.rank,
            &s.public.reasons,
        )
    } else {
        (Some(s.incidents_after_dark), s.priority, s.rank, &s.reasons)
    };
    let props = StretchProps {
        id: s.id.clone(),
        walkway_id: s.walkway_id,
        name: w.name.clone(),
        kind: w.kind.clone(),
        state: s.state,
        class: s.class,
        length_m: round_to(s.length_m, 1),
        from_m: round_to(s.from_m, 1),
        to_m: round_to(s.to_m, 1),
        mean_lux: s.mean_lux.map(|v| round_to(v, 3)),
        min_lux: s.min_lux.map(|v| round_to(v, 3)),
        lamp_data_share: round_to(s.lamp_data_share, 2),
        below_minimum: s.below_minimum,
        below_average: s.below_average,
        lit_tag: w.lit.clone(),
        lamps_before: s.lamps_before.clone(),
        lamps_after: s.lamps_after.clone(),
        gap_m: s.gap_m.map(|v| round_to(v, 1)),
        reports: s.report_ids.len(),
        report_ids: s.report_ids.clone(),
        incidents_after_dark: incidents,
        lamps_off: s.lamps_off.clone(),
        darkened_by: s.darkened_by.clone(),
        park: s.park.clone(),
        priority,
        rank,
        reasons: reasons.clone(),
    };
    Ok(Feature::new(Geometry::line(&s.geometry)?, props).with_id(s.id.clone()))
}

/// `meta` of the stretches.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StretchMeta {
    #[serde(flatten)]
    pub classes: ClassMeta,
    /// The states asked for.
    #[schema(value_type = Vec<StateDoc>)]
    pub states: Vec<LightState>,
    /// Stretches per state in the whole analysis (not only those returned).
    pub counts: PerState<usize>,
    /// Their metres per state (1 decimal).
    pub length_m: PerState<f64>,
    pub returned: usize,
    /// Stretches the filter selects before `limit`.
    pub matching: usize,
    /// `limit` left some out.
    pub truncated: bool,
    /// Walkways and lamps analysed, and the lamps among them that are off.
    pub walkways: usize,
    pub lamps: usize,
    pub lamps_off: usize,
    /// The snapshot version the answer was computed from.
    pub snapshot: u64,
    /// What the analysis rests on, in Swedish.
    pub assumptions: Vec<String>,
    pub attribution: &'static str,
}

pub type StretchAnswer = FeatureCollection<Feature<StretchProps>, StretchMeta>;

/// The stretches a filter selects, with the whole analysis' counts (`GET
/// /api/v1/lighting/stretches`, `lagesbild lighting`).
pub fn stretches(
    snap: &Snapshot,
    result: &LightingResult,
    filter: &StretchFilter,
) -> ServiceResult<StretchAnswer> {
    let inputs = LightingInputs::from_snapshot(snap);
    let (chosen, matching) = select(result, filter);
    let features = chosen
        .iter()
        .map(|s| stretch_feature(s, &inputs, filter.public))
        .collect::<ServiceResult<Vec<_>>>()?;
    let meta = StretchMeta {
        classes: ClassMeta::of(result),
        states: filter.states.clone(),
        counts: PerState::of(|st| result.totals(st).stretches),
        length_m: PerState::of(|st| round_to(result.totals(st).length_m, 1)),
        returned: features.len(),
        matching,
        truncated: features.len() < matching,
        walkways: inputs.walkways.len(),
        lamps: inputs.lamps.len(),
        lamps_off: result.lamps.iter().filter(|l| !l.is_on()).count(),
        snapshot: snap.version,
        assumptions: result.assumptions.clone(),
        attribution: ATTRIBUTION,
    };
    Ok(FeatureCollection::new(features, meta))
}

/// Whether a lamp shines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LampStatusOut {
    Working,
    Broken,
}

/// A street lamp as the analysis models it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LampProps {
    pub id: String,
    pub status: LampStatusOut,
    /// `register` (broken in the register) or `report #<id>` (an open citizen report).
    pub off_reason: Option<String>,
    /// As used (m).
    pub height_m: f64,
    /// Flux as used (lm, 1 decimal).
    pub lumen: f64,
    pub watt: Option<f64>,
    /// Intensity as used (cd, 1 decimal).
    pub intensity_cd: f64,
    /// Which of height_m and lumen are defaults.
    pub assumed: Vec<&'static str>,
    pub source: String,
    pub reference: Option<String>,
    /// Ids of the stretches this lamp, off, darkens.
    pub darkens: Vec<String>,
}

/// `meta` of the lamps.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LampMeta {
    pub returned: usize,
    /// Lamps in the box before `limit`.
    pub matching: usize,
    pub truncated: bool,
    pub snapshot: u64,
    /// The photometric assumptions, in Swedish.
    pub assumptions: Vec<String>,
}

pub type LampAnswer = FeatureCollection<Feature<LampProps>, LampMeta>;

/// The lamps in a box, in the order of their ids (`GET /api/v1/lighting/lamps`).
pub fn lamps(
    snap: &Snapshot,
    result: &LightingResult,
    area: &AreaFilter,
) -> ServiceResult<LampAnswer> {
    let inputs = LightingInputs::from_snapshot(snap);
    let mut idx: Vec<usize> = match &area.bbox {
        Some(b) => inputs
            .lamp_tree
            .locate_in_envelope(b)
            .map(|e| e.data)
            .collect(),
        None => (0..inputs.lamps.len()).collect(),
    };
    idx.sort_unstable();
    let matching = idx.len();
    idx.truncate(area.limit);
    let points = positions(idx.iter().map(|&k| [result.lamps[k].x, result.lamps[k].y]))?;
    let features = idx
        .iter()
        .zip(points)
        .map(|(&k, p)| {
            let (lamp, m) = (&inputs.lamps[k], &result.lamps[k]);
            let darkens = result
                .darkens
                .get(&k)
                .map(|v| v.iter().map(|&i| result.stretches[i].id.clone()).collect())
                .unwrap_or_default();
            let props = LampProps {
                id: lamp.id.clone(),
                status: if m.is_on() {
                    LampStatusOut::Working
                } else {
                    LampStatusOut::Broken
                },
                off_reason: m.off.as_ref().map(|o| match o {
                    OffReason::Register => "register".to_string(),
                    OffReason::Report(id) => format!("report #{id}"),
                }),
                height_m: m.height_m,
                lumen: round_to(m.lumen, 1),
                watt: lamp.watt,
                intensity_cd: round_to(m.intensity_cd, 1),
                assumed: m.assumed.names(),
                source: lamp.source.clone(),
                reference: lamp.reference.clone(),
                darkens,
            };
            Feature::new(Geometry::Point(p), props).with_id(lamp.id.clone())
        })
        .collect::<Vec<_>>();
    let meta = LampMeta {
        returned: features.len(),
        matching,
        truncated: features.len() < matching,
        snapshot: snap.version,
        assumptions: result.params.photometry.assumptions(),
    };
    Ok(FeatureCollection::new(features, meta))
}

/// A piece of a walkway (at most [`PIECE_M`]) for colouring the map.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PieceProps {
    pub walkway_id: i64,
    pub name: Option<String>,
    pub kind: String,
    pub lit_tag: Option<String>,
    /// The walkway's class.
    #[schema(value_type = PClassDoc)]
    pub class: PClass,
    #[schema(value_type = StateDoc)]
    pub state: LightState,
    /// Mean over the samples with lamp data (lx, 3 decimals).
    pub lux: Option<f64>,
    pub from_m: f64,
    pub to_m: f64,
}

/// `meta` of the walkway pieces.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PieceMeta {
    #[serde(flatten)]
    pub classes: ClassMeta,
    pub returned: usize,
    /// `limit` left pieces out.
    pub truncated: bool,
    pub snapshot: u64,
    pub assumptions: Vec<String>,
}

pub type PieceAnswer = FeatureCollection<Feature<PieceProps>, PieceMeta>;

/// The walkways in a box cut at every change of state and at least every [`PIECE_M`], walkway
/// by walkway in the order of the data (`GET /api/v1/walkways`).
pub fn walkways(
    snap: &Snapshot,
    result: &LightingResult,
    area: &AreaFilter,
) -> ServiceResult<PieceAnswer> {
    let inputs = LightingInputs::from_snapshot(snap);
    let mut ways: Vec<usize> = match &area.bbox {
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
        for p in lighting::walkway_pieces(result, &inputs, wi, PIECE_M) {
            if features.len() >= area.limit {
                truncated = true;
                break 'ways;
            }
            let props = PieceProps {
                walkway_id: w.id,
                name: w.name.clone(),
                kind: w.kind.clone(),
                lit_tag: w.lit.clone(),
                class: result.profiles[wi].class,
                state: p.state,
                lux: p.mean_lux.map(|v| round_to(v, 3)),
                from_m: round_to(p.from_m, 1),
                to_m: round_to(p.to_m, 1),
            };
            features.push(Feature::new(Geometry::line(&p.geometry)?, props));
        }
    }
    let meta = PieceMeta {
        classes: ClassMeta::of(result),
        returned: features.len(),
        truncated,
        snapshot: snap.version,
        assumptions: result.assumptions.clone(),
    };
    Ok(FeatureCollection::new(features, meta))
}

/// Light on a stretch before or after: over the samples with lamp data, and the length that
/// fails (dark or unknown).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct LuxOut {
    pub mean_lux: Option<f64>,
    pub min_lux: Option<f64>,
    pub length_m: f64,
}

impl LuxOut {
    /// Lux to 0.01, metres to 0.1.
    pub fn rounded(self) -> Self {
        Self {
            mean_lux: self.mean_lux.map(|v| round_to(v, 2)),
            min_lux: self.min_lux.map(|v| round_to(v, 2)),
            length_m: round_to(self.length_m, 1),
        }
    }
}

impl From<LuxSummary> for LuxOut {
    fn from(s: LuxSummary) -> Self {
        Self {
            mean_lux: s.mean_lux,
            min_lux: s.min_lux,
            length_m: s.length_m,
        }
    }
}

/// A stretch the proposed lamps improve without fixing it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ImprovementOut {
    pub id: String,
    pub before: LuxOut,
    pub after: LuxOut,
}

/// A proposed lamp as modelled (defaults applied).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProposedOut {
    pub height_m: f64,
    /// lm, 1 decimal.
    pub lumen: f64,
    /// cd, 1 decimal.
    pub intensity_cd: f64,
    pub assumed: Vec<&'static str>,
}

/// `meta` of what-if's new stretches.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewStretchMeta {
    pub returned: usize,
    /// More than [`MAX_STRETCHES`] remain; the first of them, by walkway, are returned.
    pub truncated: bool,
}

/// What proposed lamps change (`POST /api/v1/lighting/what-if`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WhatIfAnswer {
    #[schema(value_type = PClassDoc)]
    pub class: PClass,
    /// Ids of dark or unknown stretches that fully meet their class afterwards.
    pub fixed: Vec<String>,
    pub improved: Vec<ImprovementOut>,
    /// The dark and unknown stretches of the affected walkways afterwards (signed-in view).
    pub new_stretches: FeatureCollection<Feature<StretchProps>, NewStretchMeta>,
    pub proposed: Vec<ProposedOut>,
    pub walkways_recomputed: usize,
    pub assumptions: Vec<String>,
    /// The planned measure, when the request asked for one.
    pub measure: Option<crate::service::measures::MeasureView>,
}

impl WhatIfAnswer {
    /// The planned new-lamp measure the proposed lamps of `req` become: one lamp type (as
    /// modelled, defaults applied), the fixed and improved stretches' walkways linked.
    pub fn as_measure(
        &self,
        req: &WhatIfRequest,
        today: chrono::NaiveDate,
    ) -> ServiceResult<crate::service::measures::NewMeasure> {
        use crate::service::measures::{NewMeasure, PlaceInput};
        use crate::store::measures::{LampType, MeasureKind, MeasureStatus};
        let first = self
            .proposed
            .first()
            .ok_or_else(|| ServiceError::Invalid("lamps: propose at least one lamp".into()))?;
        if let Some((i, _)) = self
            .proposed
            .iter()
            .enumerate()
            .find(|(_, p)| p.height_m != first.height_m || p.lumen != first.lumen)
        {
            return Err(ServiceError::Invalid(format!(
                "plan: a measure has one lamp type, and lamps[{i}] differs from lamps[0] in height or flux"
            )));
        }
        let mut walkway_ids: Vec<i64> = self
            .fixed
            .iter()
            .chain(self.improved.iter().map(|i| &i.id))
            .filter_map(|id| id.split('@').next()?.parse().ok())
            .collect();
        walkway_ids.sort_unstable();
        walkway_ids.dedup();
        let n = req.lamps.len();
        Ok(NewMeasure {
            title: req.title.clone().unwrap_or_else(|| {
                format!(
                    "Ny belysning, {n} {}",
                    if n == 1 { "lampa" } else { "lampor" }
                )
            }),
            kind: MeasureKind::NewLamp,
            status: Some(MeasureStatus::Planned),
            agency: Some("kommunen".into()),
            place: PlaceInput {
                points: req.lamps.iter().map(|l| [l.lon, l.lat]).collect(),
                walkway_ids,
                ..PlaceInput::default()
            },
            planned_date: None,
            done_date: None,
            cost_sek: None,
            notes: Some(format!(
                "Prövat {today}: {} sträckor klarar klassen, {} förbättras.",
                self.fixed.len(),
                self.improved.len()
            )),
            lamp: Some(LampType {
                height_m: first.height_m,
                lumen: first.lumen,
            }),
            close_reports: false,
        })
    }
}

/// Recomputes the walkways `proposed` lamps reach and tells what they change.
pub fn what_if(
    snap: &Snapshot,
    result: &LightingResult,
    proposed: &[ProposedLamp],
    cancel: &Cancel,
) -> ServiceResult<WhatIfAnswer> {
    let inputs = LightingInputs::from_snapshot(snap);
    let w = whatif::what_if_with(result, &inputs, proposed, cancel)?;
    let features = w
        .new_stretches
        .iter()
        .take(MAX_STRETCHES)
        .map(|s| stretch_feature(s, &inputs, false))
        .collect::<ServiceResult<Vec<_>>>()?;
    let new_meta = NewStretchMeta {
        returned: features.len(),
        truncated: w.new_stretches.len() > features.len(),
    };
    Ok(WhatIfAnswer {
        class: result.params.classes.default,
        fixed: w.fixed,
        improved: w
            .improved
            .into_iter()
            .map(|i| ImprovementOut {
                id: i.id,
                before: i.before.into(),
                after: i.after.into(),
            })
            .collect(),
        new_stretches: FeatureCollection::new(features, new_meta),
        proposed: w
            .proposed
            .iter()
            .map(|m| ProposedOut {
                height_m: m.height_m,
                lumen: round_to(m.lumen, 1),
                intensity_cd: round_to(m.intensity_cd, 1),
                assumed: m.assumed.names(),
            })
            .collect(),
        walkways_recomputed: w.walkways.len(),
        assumptions: result.assumptions.clone(),
        measure: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Lamps proposed for a stretch

/// `POST /api/v1/lighting/proposal`: the fewest lamps of a type that make one dark stretch meet
/// its class.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalRequest {
    /// A dark or unknown stretch, as the stretches answer names it (`<walkway id>@<metre>`).
    pub stretch_id: String,
    /// P1 … P6 (default: the configured class).
    #[schema(value_type = Option<PClassDoc>, inline)]
    pub class: Option<String>,
    /// Per walkway kind overrides, e.g. footway=P4,steps=P3.
    pub kind_class: Option<String>,
    /// Mounting height, above 0 and at most 60 m (default `proposal_lamp_height_m`).
    #[schema(exclusive_minimum = 0, maximum = 60)]
    pub height_m: Option<f64>,
    /// Luminous flux, above 0 and at most 200 000 lm (default `proposal_lamp_lumen`).
    #[schema(exclusive_minimum = 0, maximum = 200000)]
    pub lumen: Option<f64>,
    /// What one lamp costs put up, SEK (default `proposal_lamp_cost_sek`).
    #[schema(minimum = 0, maximum = 100000000)]
    pub unit_cost_sek: Option<f64>,
    /// Also store the proposal as a planned new-lamp measure, in the same request.
    #[serde(default)]
    pub plan: bool,
    /// The planned measure's title (default "Ny belysning, sträcka <id>").
    pub title: Option<String>,
}

/// The request checked: the class plan, the lamp type and the unit cost.
/// A lamp's mounting height the model takes: above 0 and at most 60 m. `field` names it in the
/// error.
pub fn check_lamp_height(field: &str, v: f64) -> Result<(), String> {
    if v > 0.0 && v <= 60.0 {
        Ok(())
    } else {
        Err(format!(
            "{field} = {v}: expected a height above 0 and at most 60 m"
        ))
    }
}

/// A lamp's luminous flux the model takes: above 0 and at most 200 000 lm.
pub fn check_lamp_lumen(field: &str, v: f64) -> Result<(), String> {
    if v > 0.0 && v <= 200_000.0 {
        Ok(())
    } else {
        Err(format!(
            "{field} = {v}: expected a flux above 0 and at most 200 000 lm"
        ))
    }
}

pub struct ProposalAsked {
    pub classes: ClassPlan,
    pub lamp: crate::store::measures::LampType,
    pub unit_cost_sek: f64,
}

impl ProposalRequest {
    pub fn check(&self, cfg: &Config) -> ServiceResult<ProposalAsked> {
        let classes = class_plan(self.class.as_deref(), self.kind_class.as_deref(), cfg)
            .map_err(ServiceError::Invalid)?;
        let height_m = self.height_m.unwrap_or(cfg.proposal_lamp_height_m);
        check_lamp_height("height_m", height_m).map_err(ServiceError::Invalid)?;
        let lumen = self.lumen.unwrap_or(cfg.proposal_lamp_lumen);
        check_lamp_lumen("lumen", lumen).map_err(ServiceError::Invalid)?;
        let unit_cost_sek = self.unit_cost_sek.unwrap_or(cfg.proposal_lamp_cost_sek);
        if !(0.0..=1e8).contains(&unit_cost_sek) {
            return Err(ServiceError::Invalid(format!(
                "unit_cost_sek = {unit_cost_sek}: expected 0 to 100 000 000 SEK"
            )));
        }
        Ok(ProposalAsked {
            classes,
            lamp: crate::store::measures::LampType { height_m, lumen },
            unit_cost_sek,
        })
    }
}

/// Lamps proposed for one stretch (`POST /api/v1/lighting/proposal`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalAnswer {
    pub stretch_id: String,
    pub walkway_id: i64,
    #[schema(value_type = PClassDoc)]
    pub class: PClass,
    /// Whether the lamps make every metre of the stretch meet the class (both criteria); false
    /// when even the most lamps allowed (200, or one every 3 m) do not.
    pub meets_class: bool,
    /// How many new lamps.
    pub count: usize,
    /// Distance between neighbouring lamps, new and existing (m, 0.1); null for one lamp alone.
    pub spacing_m: Option<f64>,
    /// Whether a working lamp stands at the start / the end of the span the new lamps share.
    pub existing_lamp_at_start: bool,
    pub existing_lamp_at_end: bool,
    /// Working lamps whose light reaches the stretch already (counted in the result).
    pub existing_lamps: usize,
    pub lamp: crate::store::measures::LampType,
    pub unit_cost_sek: f64,
    pub cost_sek: f64,
    /// Where the new lamps go, `[long, lat]` in WGS84, in order along the walkway.
    #[schema(value_type = Vec<Vec<f64>>)]
    pub lamps: Vec<Position>,
    /// Their positions along the walkway (m, 0.1).
    pub along_m: Vec<f64>,
    /// The stretch now and with the lamps: failing metres, mean and minimum lux.
    pub before: LuxOut,
    pub after: LuxOut,
    /// In Swedish, e.g. "5 lampor med 25 m mellanrum (200 000 kr) gör att sträckan klarar P5".
    pub words: String,
    /// The planned measure, when the request asked for one.
    pub measure: Option<crate::service::measures::MeasureView>,
}

/// The proposal for `stretch_id` (see [`lighting::propose`]).
pub fn propose(
    snap: &Snapshot,
    result: &LightingResult,
    stretch_id: &str,
    asked: &ProposalAsked,
    cancel: &Cancel,
) -> ServiceResult<ProposalAnswer> {
    let stretch = result.stretch(stretch_id).ok_or_else(|| {
        ServiceError::NotFound(format!("no stretch {stretch_id:?} for this class plan"))
    })?;
    if stretch.state == LightState::Lit {
        return Err(ServiceError::Invalid(format!(
            "stretch {stretch_id:?} meets its class already"
        )));
    }
    let inputs = LightingInputs::from_snapshot(snap);
    let lamp = lighting::propose::LampType {
        height_m: asked.lamp.height_m,
        lumen: asked.lamp.lumen,
    };
    let p = lighting::propose::propose(result, &inputs, stretch, lamp, cancel)?;
    let count = p.positions.len();
    let cost_sek = round_to(count as f64 * asked.unit_cost_sek, 0);
    let spacing_m = p.spacing_m.map(|v| round_to(v, 1));
    let words = {
        let lamps = if count == 1 {
            "1 lampa".to_string()
        } else {
            format!("{count} lampor")
        };
        let gap = spacing_m
            .map(|s| {
                format!(
                    " med {} m mellanrum",
                    crate::analysis::lighting::illuminance::fmt_num(s)
                )
            })
            .unwrap_or_default();
        let cost = kronor(cost_sek);
        if p.meets_class {
            format!(
                "{lamps}{gap} ({cost}) gör att sträckan klarar {}",
                stretch.class.as_str()
            )
        } else {
            format!(
                "inte ens {lamps}{gap} av den här typen räcker för {}; välj en starkare eller högre lampa",
                stretch.class.as_str()
            )
        }
    };
    Ok(ProposalAnswer {
        stretch_id: stretch.id.clone(),
        walkway_id: stretch.walkway_id,
        class: stretch.class,
        meets_class: p.meets_class,
        count,
        spacing_m,
        existing_lamp_at_start: matches!(p.start, lighting::propose::End::Lamp(_)),
        existing_lamp_at_end: matches!(p.end, lighting::propose::End::Lamp(_)),
        existing_lamps: p.existing_lamps,
        lamp: asked.lamp,
        unit_cost_sek: asked.unit_cost_sek,
        cost_sek,
        lamps: positions(p.positions.iter().copied())?,
        along_m: p.along_m.iter().map(|&m| round_to(m, 1)).collect(),
        before: LuxOut::from(p.before).rounded(),
        after: LuxOut::from(p.after).rounded(),
        words,
        measure: None,
    })
}

/// An amount in Swedish: "200 000 kr" (groups of three with a no-break space).
fn kronor(v: f64) -> String {
    let digits = format!("{}", v.round().max(0.0) as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    format!("{out}\u{a0}kr")
}

impl ProposalAnswer {
    /// The planned new-lamp measure this proposal becomes.
    pub fn as_measure(
        &self,
        title: Option<String>,
        today: chrono::NaiveDate,
    ) -> crate::service::measures::NewMeasure {
        use crate::service::measures::{NewMeasure, PlaceInput};
        use crate::store::measures::{MeasureKind, MeasureStatus};
        NewMeasure {
            title: title.unwrap_or_else(|| format!("Ny belysning, sträcka {}", self.stretch_id)),
            kind: MeasureKind::NewLamp,
            status: Some(MeasureStatus::Planned),
            agency: Some("kommunen".into()),
            place: PlaceInput {
                points: self.lamps.clone(),
                walkway_ids: vec![self.walkway_id],
                ..PlaceInput::default()
            },
            planned_date: None,
            done_date: None,
            cost_sek: Some(self.cost_sek),
            notes: Some(format!("Förslag {today}: {}.", self.words)),
            lamp: Some(self.lamp),
            close_reports: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use geo::{LineString, Point};

    use super::*;
    use crate::analysis::lighting::illuminance::{LampModel, Photometry};
    use crate::analysis::lighting::{PublicStretch, StateTotals};
    use crate::model::{Lamp, LampStatus, Role, Walkway};

    /// Täby centrum in EPSG:3006.
    const X0: f64 = 673_983.5;
    const Y0: f64 = 6_593_495.7;

    fn viewer(role: Role) -> Viewer {
        Viewer::new(role, PublicRules::new(3, 200.0, 300.0))
    }

    /// An east-going path of `len` m starting `dx` m east of (X0, Y0).
    fn way(id: i64, dx: f64, len: f64, lit: Option<&str>) -> Walkway {
        Walkway {
            id,
            geometry: LineString::from(vec![(X0 + dx, Y0), (X0 + dx + len, Y0)]),
            kind: "footway".into(),
            lit: lit.map(str::to_string),
            name: Some(format!("Stråk {id}")),
        }
    }

    fn lamp(id: &str, dx: f64) -> Lamp {
        Lamp {
            id: id.into(),
            location: Point::new(X0 + dx, Y0 + 2.0),
            height_m: Some(5.0),
            lumen: Some(3_000.0),
            watt: None,
            status: LampStatus::Working,
            source: "test".into(),
            reference: Some(format!("R-{id}")),
        }
    }

    fn snapshot(walkways: Vec<Walkway>, lamps: Vec<Lamp>) -> Snapshot {
        let mut s = Snapshot::build(vec![], walkways, lamps, vec![], vec![], vec![], false);
        s.version = 42;
        s
    }

    /// A stretch over the whole of walkway `wi` of `snap` with the facts given.
    fn stretch(
        snap: &Snapshot,
        wi: usize,
        state: LightState,
        priority: f64,
        rank: Option<usize>,
    ) -> Stretch {
        let w = &snap.walkways.items[wi];
        let len = w.geometry.0[1].x - w.geometry.0[0].x;
        Stretch {
            id: format!("{}@0", w.id),
            walkway: wi,
            walkway_id: w.id,
            state,
            class: PClass::P5,
            first: 0,
            last: 1,
            from_m: 0.0,
            to_m: len,
            length_m: len,
            geometry: w.geometry.clone(),
            mean_lux: None,
            min_lux: None,
            lamp_data_share: 0.0,
            below_minimum: false,
            below_average: false,
            tagged_unlit: false,
            lamps_before: None,
            lamps_after: None,
            gap_m: None,
            report_ids: vec![],
            incidents_after_dark: 0,
            lamps_off: vec![],
            lamps_off_idx: vec![],
            darkened_by: vec![],
            park: None,
            priority,
            rank,
            reasons: vec![format!("skäl {priority}")],
            public: PublicStretch {
                incidents_after_dark: None,
                priority,
                rank,
                reasons: vec![format!("skäl {priority}")],
            },
        }
    }

    fn result_of(stretches: Vec<Stretch>) -> LightingResult {
        let mut totals: HashMap<LightState, StateTotals> = HashMap::new();
        for s in &stretches {
            let t = totals.entry(s.state).or_default();
            t.stretches += 1;
            t.length_m += s.length_m;
        }
        let by_id = stretches
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        LightingResult {
            params: LightingParams::default(),
            profiles: vec![],
            stretches,
            ranking: vec![],
            lamps: vec![],
            darkens: HashMap::new(),
            totals,
            assumptions: vec!["antagande".into()],
            by_id,
        }
    }

    /// Five walkways 1 km apart: a (dark, 50, rank 2, 100 m), b (unknown, 70, rank 1, 30 m),
    /// c (lit, 0, 500 m), d (dark, 50, rank 3, 200 m), e (dark, 50, rank 3, 150 m).
    fn five() -> (Snapshot, LightingResult) {
        let snap = snapshot(
            vec![
                way(1, 0.0, 100.0, Some("yes")),
                way(2, 1000.0, 30.0, None),
                way(3, 2000.0, 500.0, Some("yes")),
                way(4, 3000.0, 200.0, Some("no")),
                way(5, 4000.0, 150.0, Some("no")),
            ],
            vec![],
        );
        let mut b = stretch(&snap, 1, LightState::Unknown, 70.0, Some(1));
        // b's incidents are hidden from the public, and its public priority lower.
        b.public.priority = 40.0;
        b.public.rank = Some(4);
        let stretches = vec![
            stretch(&snap, 0, LightState::Dark, 50.0, Some(2)),
            b,
            stretch(&snap, 2, LightState::Lit, 0.0, None),
            stretch(&snap, 3, LightState::Dark, 50.0, Some(3)),
            stretch(&snap, 4, LightState::Dark, 50.0, Some(3)),
        ];
        let r = result_of(stretches);
        (snap, r)
    }

    fn ids(v: &[&Stretch]) -> Vec<i64> {
        v.iter().map(|s| s.walkway_id).collect()
    }

    fn filter(states: &[LightState], sort: Sort, public: bool) -> StretchFilter {
        StretchFilter {
            states: states.to_vec(),
            bbox: None,
            limit: None,
            sort,
            public,
        }
    }

    const DU: [LightState; 2] = [LightState::Dark, LightState::Unknown];

    #[test]
    fn stretches_are_selected_by_state_and_box_and_ordered_as_asked() {
        let (_, r) = five();
        // Priority, then rank, then id: b 70; a 50 rank 2; d and e 50 rank 3, by id.
        let (got, n) = select(&r, &filter(&DU, Sort::Priority, false));
        assert_eq!((ids(&got), n), (vec![2, 1, 4, 5], 4));
        // The public's priorities: b falls to the end.
        let (got, _) = select(&r, &filter(&DU, Sort::Priority, true));
        assert_eq!(ids(&got), vec![1, 4, 5, 2]);
        // Longest first, every state: c 500, d 200, e 150, a 100, b 30.
        let (got, _) = select(&r, &filter(&LightState::ALL, Sort::Length, false));
        assert_eq!(ids(&got), vec![3, 4, 5, 1, 2]);
        // Lit only.
        let (got, _) = select(&r, &filter(&[LightState::Lit], Sort::Priority, false));
        assert_eq!(ids(&got), vec![3]);
        // A limit cuts after the order; the count before it stays.
        let mut f = filter(&DU, Sort::Priority, false);
        f.limit = Some(2);
        let (got, n) = select(&r, &f);
        assert_eq!((ids(&got), n), (vec![2, 1], 4));
        // A box from 900 to 1100 m east meets walkway 2 only; one from 50 to 2050 m meets 1, 2
        // and 3 (a box that holds only part of a stretch selects it).
        let envelope =
            |a: f64, b: f64| AABB::from_corners([X0 + a, Y0 - 10.0], [X0 + b, Y0 + 10.0]);
        let mut f = filter(&LightState::ALL, Sort::Length, false);
        f.bbox = Some(envelope(900.0, 1100.0));
        assert_eq!(ids(&select(&r, &f).0), vec![2]);
        f.bbox = Some(envelope(50.0, 2050.0));
        assert_eq!(ids(&select(&r, &f).0), vec![3, 1, 2]);
    }

    /// The properties of a stretch feature, as the web app and the tests read them.
    const STRETCH_PROPERTIES: [&str; 27] = [
        "below_average",
        "below_minimum",
        "class",
        "darkened_by",
        "from_m",
        "gap_m",
        "id",
        "incidents_after_dark",
        "kind",
        "lamp_data_share",
        "lamps_after",
        "lamps_before",
        "lamps_off",
        "length_m",
        "lit_tag",
        "mean_lux",
        "min_lux",
        "name",
        "park",
        "priority",
        "rank",
        "reasons",
        "report_ids",
        "reports",
        "state",
        "to_m",
        "walkway_id",
    ];

    #[test]
    fn a_stretch_feature_rounds_its_values_and_shows_the_viewers_figures() {
        let snap = snapshot(vec![way(7, 0.0, 200.0, Some("yes"))], vec![]);
        let mut s = stretch(&snap, 0, LightState::Dark, 61.5, Some(1));
        s.from_m = 10.04;
        s.to_m = 133.46;
        s.length_m = 123.42;
        s.mean_lux = Some(0.12345);
        s.min_lux = Some(0.0004);
        s.lamp_data_share = 2.0 / 3.0;
        s.gap_m = Some(150.06);
        s.report_ids = vec![3, 9];
        s.incidents_after_dark = 2;
        s.lamps_before = Some("L1".into());
        s.public = PublicStretch {
            incidents_after_dark: None,
            priority: 51.5,
            rank: Some(2),
            reasons: vec!["utan händelser".into()],
        };
        let inputs = LightingInputs::from_snapshot(&snap);
        let full = serde_json::to_value(stretch_feature(&s, &inputs, false).unwrap()).unwrap();
        assert_eq!(full["type"], "Feature");
        assert_eq!(full["id"], "7@0");
        assert_eq!(full["geometry"]["type"], "LineString");
        let lon = full["geometry"]["coordinates"][0][0].as_f64().unwrap();
        let lat = full["geometry"]["coordinates"][0][1].as_f64().unwrap();
        assert!(
            (18.0..18.2).contains(&lon) && (59.4..59.5).contains(&lat),
            "{lon} {lat}"
        );
        let p = &full["properties"];
        let mut names: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, STRETCH_PROPERTIES);
        assert_eq!(p["from_m"], 10.0);
        assert_eq!(p["to_m"], 133.5);
        assert_eq!(p["length_m"], 123.4);
        assert_eq!(p["mean_lux"], 0.123);
        assert_eq!(p["min_lux"], 0.0);
        assert_eq!(p["lamp_data_share"], 0.67);
        assert_eq!(p["gap_m"], 150.1);
        assert_eq!(p["reports"], 2);
        assert_eq!(p["report_ids"], serde_json::json!([3, 9]));
        assert_eq!(p["name"], "Stråk 7");
        assert_eq!(p["lit_tag"], "yes");
        assert_eq!(p["state"], "dark");
        assert_eq!(p["class"], "P5");
        assert_eq!(p["incidents_after_dark"], 2);
        assert_eq!(
            (p["priority"].as_f64(), p["rank"].as_u64()),
            (Some(61.5), Some(1))
        );
        assert!(p["lamps_after"].is_null() && p["park"].is_null());
        let public = serde_json::to_value(stretch_feature(&s, &inputs, true).unwrap()).unwrap();
        let p = &public["properties"];
        assert!(p["incidents_after_dark"].is_null());
        assert_eq!(
            (p["priority"].as_f64(), p["rank"].as_u64()),
            (Some(51.5), Some(2))
        );
        assert_eq!(p["reasons"], serde_json::json!(["utan händelser"]));
    }

    #[test]
    fn the_stretches_answer_counts_the_whole_analysis_and_says_what_it_left_out() {
        let (snap, r) = five();
        let mut f = filter(&DU, Sort::Priority, false);
        f.limit = Some(3);
        let a = serde_json::to_value(stretches(&snap, &r, &f).unwrap()).unwrap();
        assert_eq!(a["type"], "FeatureCollection");
        let got: Vec<i64> = a["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["walkway_id"].as_i64().unwrap())
            .collect();
        assert_eq!(got, vec![2, 1, 4]);
        let m = &a["meta"];
        let mut names: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "assumptions",
                "attribution",
                "by_kind",
                "class",
                "counts",
                "criteria",
                "lamps",
                "lamps_off",
                "length_m",
                "matching",
                "returned",
                "snapshot",
                "states",
                "truncated",
                "walkways",
            ]
        );
        assert_eq!(
            m["counts"],
            serde_json::json!({"dark": 3, "unknown": 1, "lit": 1})
        );
        // 100 + 200 + 150 m dark, 30 m unknown, 500 m lit.
        assert_eq!(
            m["length_m"],
            serde_json::json!({"dark": 450.0, "unknown": 30.0, "lit": 500.0})
        );
        assert_eq!(m["states"], serde_json::json!(["dark", "unknown"]));
        assert_eq!(
            (m["returned"].as_u64(), m["matching"].as_u64()),
            (Some(3), Some(4))
        );
        assert_eq!(m["truncated"], true);
        assert_eq!(
            (m["walkways"].as_u64(), m["lamps"].as_u64()),
            (Some(5), Some(0))
        );
        assert_eq!(m["snapshot"], 42);
        assert_eq!(m["class"], "P5");
        // EN 13201-2 P5: Ē 3 lx, Emin 0.6 lx.
        assert_eq!(m["criteria"]["average_lux"], 3.0);
        assert_eq!(m["criteria"]["minimum_lux"], 0.6);
        assert_eq!(m["criteria"]["text"], "Ē ≥ 3 lx, Emin ≥ 0,6 lx");
        assert_eq!(m["by_kind"], serde_json::json!({}));
        assert_eq!(m["attribution"], ATTRIBUTION);
        f.limit = None;
        let a = stretches(&snap, &r, &f).unwrap();
        assert_eq!((a.meta.returned, a.meta.truncated), (4, false));
    }

    #[test]
    fn lamps_tell_their_status_why_they_are_off_and_what_they_darken() {
        let snap = snapshot(
            vec![way(1, 0.0, 300.0, Some("yes"))],
            vec![lamp("L0", 0.0), lamp("L1", 100.0), lamp("L2", 200.0)],
        );
        let ph = Photometry::default();
        let mut r = result_of(vec![stretch(&snap, 0, LightState::Dark, 50.0, Some(1))]);
        r.lamps = snap
            .lamps
            .items
            .iter()
            .map(|l| LampModel::from_lamp(&ph, l, None))
            .collect();
        r.lamps[1].off = Some(OffReason::Report(7));
        r.lamps[2].off = Some(OffReason::Register);
        r.darkens.insert(1, vec![0]);
        r.lamps[0].lumen = 2_999.96;
        let all = AreaFilter {
            bbox: None,
            limit: 10,
        };
        let a = serde_json::to_value(lamps(&snap, &r, &all).unwrap()).unwrap();
        let f = a["features"].as_array().unwrap();
        assert_eq!(f.len(), 3);
        let p: Vec<&serde_json::Value> = f.iter().map(|f| &f["properties"]).collect();
        assert_eq!(f[0]["id"], "L0");
        assert_eq!(f[0]["geometry"]["type"], "Point");
        assert_eq!(
            (p[0]["status"].as_str(), p[0]["off_reason"].is_null()),
            (Some("working"), true)
        );
        assert_eq!(p[1]["status"], "broken");
        assert_eq!(p[1]["off_reason"], "report #7");
        assert_eq!(p[1]["darkens"], serde_json::json!(["1@0"]));
        assert_eq!(p[2]["off_reason"], "register");
        assert_eq!(p[2]["darkens"], serde_json::json!([]));
        assert_eq!(p[0]["lumen"], 3000.0);
        assert_eq!(p[0]["height_m"], 5.0);
        // I = Φ·MF/(2π) = 3000·0.8/(2π) = 381.97 cd.
        assert_eq!(p[1]["intensity_cd"], 382.0);
        assert_eq!(p[0]["assumed"], serde_json::json!([]));
        assert_eq!(
            (p[0]["source"].as_str(), p[0]["reference"].as_str()),
            (Some("test"), Some("R-L0"))
        );
        assert!(p[0]["watt"].is_null());
        assert_eq!(a["meta"]["returned"], 3);
        assert_eq!(a["meta"]["truncated"], false);
        assert_eq!(a["meta"]["snapshot"], 42);
        // A box around the middle lamp, and a limit.
        let around = AreaFilter {
            bbox: Some(AABB::from_corners(
                [X0 + 90.0, Y0 - 10.0],
                [X0 + 110.0, Y0 + 10.0],
            )),
            limit: 10,
        };
        let a = lamps(&snap, &r, &around).unwrap();
        assert_eq!(a.features.len(), 1);
        assert_eq!(a.features[0].properties.id, "L1");
        let two = AreaFilter {
            bbox: None,
            limit: 2,
        };
        let a = lamps(&snap, &r, &two).unwrap();
        assert_eq!(
            (a.meta.returned, a.meta.matching, a.meta.truncated),
            (2, 3, true)
        );
    }

    #[test]
    fn walkway_pieces_cover_the_walkway_in_pieces_of_at_most_20_m_and_stop_at_the_limit() {
        // 100 m tagged lit=no without lamps: all dark, no lux.
        let snap = snapshot(vec![way(9, 0.0, 100.0, Some("no"))], vec![]);
        let r = analyse(
            &snap,
            ClassPlan::uniform(PClass::P4),
            PublicRules::new(3, 200.0, 300.0),
            &Cancel::never(),
        )
        .unwrap();
        let all = AreaFilter {
            bbox: None,
            limit: MAX_PIECES,
        };
        let a = walkways(&snap, &r, &all).unwrap();
        assert!(!a.meta.truncated);
        assert_eq!(a.meta.returned, a.features.len());
        let p: Vec<&PieceProps> = a.features.iter().map(|f| &f.properties).collect();
        assert!(p.len() >= 5, "{} pieces", p.len());
        assert_eq!(p[0].from_m, 0.0);
        assert_eq!(p.last().unwrap().to_m, 100.0);
        for w in p.windows(2) {
            assert_eq!(w[0].to_m, w[1].from_m);
        }
        for q in &p {
            assert!(q.to_m - q.from_m <= PIECE_M + 1e-9, "{q:?}");
            assert_eq!(
                (q.state, q.class, q.lux),
                (LightState::Dark, PClass::P4, None)
            );
            assert_eq!((q.walkway_id, q.lit_tag.as_deref()), (9, Some("no")));
        }
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["meta"]["class"], "P4");
        assert!(v["features"][0].get("id").is_none());
        let three = AreaFilter {
            bbox: None,
            limit: 3,
        };
        let a = walkways(&snap, &r, &three).unwrap();
        assert_eq!((a.features.len(), a.meta.truncated), (3, true));
        // A box elsewhere: nothing.
        let away = AreaFilter {
            bbox: Some(AABB::from_corners(
                [X0 + 5_000.0, Y0],
                [X0 + 6_000.0, Y0 + 10.0],
            )),
            limit: 10,
        };
        assert!(walkways(&snap, &r, &away).unwrap().features.is_empty());
    }

    #[test]
    fn query_texts_are_read_as_before() {
        assert_eq!(
            parse_states(None).unwrap(),
            vec![LightState::Dark, LightState::Unknown]
        );
        assert_eq!(
            parse_states(Some(" ")).unwrap(),
            vec![LightState::Dark, LightState::Unknown]
        );
        assert_eq!(
            parse_states(Some("lit, dark")).unwrap(),
            vec![LightState::Lit, LightState::Dark]
        );
        assert_eq!(
            parse_states(Some("lit,gloomy")).unwrap_err(),
            "state=\"gloomy\": expected dark, unknown or lit (a comma list is allowed)"
        );
        assert_eq!("".parse::<Sort>().unwrap(), Sort::Priority);
        assert_eq!(" length ".parse::<Sort>().unwrap(), Sort::Length);
        assert!("random".parse::<Sort>().is_err());
        let q: Sort = serde_json::from_str("\"priority\"").unwrap();
        assert_eq!(q, Sort::Priority);
        let e = serde_json::from_str::<Sort>("\"random\"").unwrap_err();
        assert!(e.to_string().contains("expected priority or length"), "{e}");
        assert!(parse_bbox("18,59,17,60").is_err());
        assert!(parse_bbox("59,18").is_err());
        assert!(parse_bbox("18.0,59.4,18.1,59.5").is_ok());
    }

    #[test]
    fn a_bbox_envelope_holds_the_whole_box_in_metres() {
        // Täby: the box's corners and the middle of its north edge (where a box in degrees
        // bulges out of the box its corners span in metres), each transformed alone.
        let (w, s, e, n) = (18.0, 59.40, 18.2, 59.5);
        let b = parse_bbox(&format!("{w},{s},{e},{n}")).unwrap();
        for (lon, lat) in [(w, s), (e, s), (e, n), (w, n), ((w + e) / 2.0, n)] {
            let (x, y) = crs::to_work(crs::WGS84_EPSG, lon, lat).unwrap();
            let (lo, hi) = (b.lower(), b.upper());
            assert!(
                lo[0] - 1e-6 <= x && x <= hi[0] + 1e-6 && lo[1] - 1e-6 <= y && y <= hi[1] + 1e-6,
                "{lon},{lat} → {x},{y} outside {b:?}"
            );
        }
        // On the ground the box is 11.32 km wide (0.2° of longitude at 59.45° N: 111.32 km ·
        // cos 59.45° · 0.2) and 11.13 km high (0.1° of latitude). SWEREF 99 TM's grid north is
        // turned by the meridian convergence γ ≈ (18.1° − 15°) · sin 59.45° = 2.67° against
        // it, so the envelope of the turned box is W·cos γ + H·sin γ wide and H·cos γ + W·sin γ
        // high.
        let (w_m, h_m) = (11_318.0_f64, 11_130.0_f64);
        let g = (3.1_f64 * 59.45_f64.to_radians().sin()).to_radians();
        let (lo, hi) = (b.lower(), b.upper());
        let width = w_m * g.cos() + h_m * g.sin();
        let height = h_m * g.cos() + w_m * g.sin();
        assert!(((hi[0] - lo[0]) - width).abs() < 100.0, "{width} {b:?}");
        assert!(((hi[1] - lo[1]) - height).abs() < 100.0, "{height} {b:?}");
    }

    #[test]
    fn class_plans_come_from_the_request_over_the_configuration() {
        let cfg = Config::default();
        assert_eq!(class_plan(None, None, &cfg).unwrap().default, PClass::P5);
        assert_eq!(
            class_plan(Some("p3"), Some("steps=P2"), &cfg)
                .unwrap()
                .for_kind("steps"),
            PClass::P2
        );
        assert!(
            class_plan(Some("P9"), None, &cfg)
                .unwrap_err()
                .contains("P9")
        );
        // The configured per-kind classes apply, and a request's kind_class overrides them.
        let cfg = Config {
            lighting_class: "P6".into(),
            lighting_kind_classes: Some("steps=P3,cycleway=P4".into()),
            ..Config::default()
        };
        let plan = class_plan(None, None, &cfg).unwrap();
        assert_eq!(plan.default, PClass::P6);
        assert_eq!(plan.for_kind("steps"), PClass::P3);
        assert_eq!(plan.for_kind("cycleway"), PClass::P4);
        assert_eq!(plan.for_kind("footway"), PClass::P6);
        let plan = class_plan(None, Some("steps=P1"), &cfg).unwrap();
        assert_eq!(plan.for_kind("steps"), PClass::P1);
        assert_eq!(plan.for_kind("cycleway"), PClass::P4);
        let bad = Config {
            lighting_kind_classes: Some("steps=P9".into()),
            ..Config::default()
        };
        assert!(
            class_plan(None, None, &bad)
                .unwrap_err()
                .contains("lighting_kind_classes")
        );
    }

    #[test]
    fn the_public_gets_the_configured_classes_of_the_stretches() {
        let cfg = Config::default();
        let public = viewer(Role::Anonymous);
        let ask = |class: Option<&str>, kind_class: Option<&str>| ClassParams {
            class: class.map(str::to_string),
            kind_class: kind_class.map(str::to_string),
        };
        let e = ask(Some("P1"), None)
            .plan_seen_by(&cfg, &public)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "class=\"P1\": the public sees the configured class P5; signed-in roles choose"
        );
        let e = ask(None, Some("footway=P2"))
            .plan_seen_by(&cfg, &public)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "kind_class=\"footway=P2\": the public sees the configured classes; signed-in roles choose"
        );
        // The configured class, in any case, is the public's.
        let plan = ask(Some(" p5 "), None).plan_seen_by(&cfg, &public).unwrap();
        assert_eq!(plan, ClassPlan::uniform(PClass::P5));
        let police = viewer(Role::Police);
        let plan = ask(Some("P1"), Some("footway=P2"))
            .plan_seen_by(&cfg, &police)
            .unwrap();
        assert_eq!(
            (plan.default, plan.for_kind("footway")),
            (PClass::P1, PClass::P2)
        );
        // The other endpoints take any class from anyone.
        assert_eq!(
            ask(Some("P1"), None).plan(&cfg).unwrap().default,
            PClass::P1
        );
    }

    #[test]
    fn limits_are_bounded_over_http_and_free_in_a_file() {
        let public = viewer(Role::Anonymous);
        let f = StretchParams::default()
            .filter(&public, Some(MAX_STRETCHES))
            .unwrap();
        assert_eq!(f.limit, Some(20_000));
        assert!(f.public);
        assert_eq!(f.states, vec![LightState::Dark, LightState::Unknown]);
        let over = StretchParams {
            limit: Some(20_001),
            ..Default::default()
        };
        let e = over
            .filter(&public, Some(MAX_STRETCHES))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "limit=20001: expected a number from 0 to 20000");
        let f = over.filter(&viewer(Role::Coordinator), None).unwrap();
        assert_eq!((f.limit, f.public), (Some(20_001), false));
        assert_eq!(
            StretchParams::default()
                .filter(&public, None)
                .unwrap()
                .limit,
            None
        );
        let e = StretchParams {
            bbox: Some("nonsense".into()),
            ..Default::default()
        }
        .filter(&public, None)
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("bbox=\"nonsense\""), "{e}");
        assert_eq!(LampParams::default().filter().unwrap().limit, 50_000);
        assert_eq!(PieceParams::default().filter().unwrap().limit, 50_000);
        let e = PieceParams {
            limit: Some(50_001),
            bbox: None,
        }
        .filter()
        .unwrap_err()
        .to_string();
        assert_eq!(e, "limit=50001: expected a number from 0 to 50000");
        assert!(
            LampParams {
                limit: Some(0),
                bbox: None
            }
            .filter()
            .is_ok()
        );
    }

    fn proposed(lon: f64, lat: f64) -> ProposedLampIn {
        ProposedLampIn {
            lon,
            lat,
            height_m: None,
            lumen: None,
            watt: None,
        }
    }

    #[test]
    fn proposed_lamps_are_checked_and_placed_in_metres() {
        // Täby centrum's position in WGS84, computed separately, back in EPSG:3006.
        let (lon, lat) = crs::to_wgs84(X0, Y0).unwrap();
        let l = proposed_lamp(0, &proposed(lon, lat)).unwrap();
        assert!((l.x - X0).abs() < 1e-3 && (l.y - Y0).abs() < 1e-3, "{l:?}");
        assert_eq!((l.height_m, l.lumen, l.watt), (None, None, None));
        let e = proposed_lamp(2, &proposed(59.4, 118.0)).unwrap_err();
        assert_eq!(
            e,
            "lamps[2]: lon 59.4 / lat 118 is not a WGS84 position (lon before lat)"
        );
        assert!(proposed_lamp(0, &proposed(f64::NAN, 59.0)).is_err());
        let with = |h: Option<f64>, f: Option<f64>, w: Option<f64>| ProposedLampIn {
            height_m: h,
            lumen: f,
            watt: w,
            ..proposed(lon, lat)
        };
        assert_eq!(
            proposed_lamp(1, &with(Some(0.0), None, None)).unwrap_err(),
            "lamps[1].height_m = 0: expected a height above 0 and at most 60 m"
        );
        assert!(proposed_lamp(1, &with(Some(60.0), None, None)).is_ok());
        assert!(proposed_lamp(1, &with(Some(60.5), None, None)).is_err());
        assert_eq!(
            proposed_lamp(1, &with(None, Some(250_000.0), None)).unwrap_err(),
            "lamps[1].lumen = 250000: expected a flux above 0 and at most 200 000 lm"
        );
        assert_eq!(
            proposed_lamp(1, &with(None, None, Some(-3.0))).unwrap_err(),
            "lamps[1].watt = -3: expected a power above 0 and at most 2 000 W"
        );
        let l = proposed_lamp(1, &with(Some(6.0), Some(4_000.0), Some(40.0))).unwrap();
        assert_eq!(
            (l.height_m, l.lumen, l.watt),
            (Some(6.0), Some(4_000.0), Some(40.0))
        );
    }

    #[test]
    fn a_what_if_request_proposes_one_to_a_thousand_lamps() {
        let cfg = Config::default();
        let req = |n: usize, class: Option<&str>| WhatIfRequest {
            class: class.map(str::to_string),
            kind_class: None,
            lamps: vec![proposed(18.07, 59.44); n],
            plan: false,
            title: None,
        };
        let e = req(0, None).check(&cfg).unwrap_err().to_string();
        assert_eq!(e, "lamps: propose at least one lamp");
        let e = req(1_001, None).check(&cfg).unwrap_err().to_string();
        assert_eq!(e, "lamps: at most 1000 lamps per request, got 1001");
        let (plan, lamps) = req(1_000, Some("P3")).check(&cfg).unwrap();
        assert_eq!((plan.default, lamps.len()), (PClass::P3, 1_000));
        assert!(
            req(1, Some("P0"))
                .check(&cfg)
                .unwrap_err()
                .to_string()
                .contains("P0")
        );
        // Unknown members are refused.
        let e =
            serde_json::from_str::<WhatIfRequest>(r#"{"lamps": [], "colour": "red"}"#).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn lamps_put_back_into_a_gap_fix_it() {
        // Lamps every 30 m on a 600 m path, except 240–330 m: the gap is dark (as the
        // integration test computes it independently), and the four lamps put back fix it.
        let lamps: Vec<Lamp> = (0..=20)
            .map(|k| k as f64 * 30.0)
            .filter(|x| !(235.0..=335.0).contains(x))
            .map(|x| lamp(&format!("L{x}"), x))
            .collect();
        let snap = snapshot(vec![way(2, 0.0, 600.0, Some("yes"))], lamps);
        let r = analyse(
            &snap,
            ClassPlan::uniform(PClass::P5),
            PublicRules::new(3, 200.0, 300.0),
            &Cancel::never(),
        )
        .unwrap();
        let dark = r
            .stretches
            .iter()
            .find(|s| s.state == LightState::Dark)
            .unwrap()
            .id
            .clone();
        let put_back: Vec<ProposedLamp> = [240.0, 270.0, 300.0, 330.0]
            .iter()
            .map(|&x| ProposedLamp {
                x: X0 + x,
                y: Y0 + 2.0,
                height_m: None,
                lumen: None,
                watt: None,
            })
            .collect();
        let a = what_if(&snap, &r, &put_back, &Cancel::never()).unwrap();
        assert_eq!(a.fixed, vec![dark]);
        assert!(a.improved.is_empty());
        assert_eq!((a.walkways_recomputed, a.class), (1, PClass::P5));
        assert_eq!(a.proposed.len(), 4);
        assert_eq!(a.proposed[0].assumed, vec!["height_m", "lumen"]);
        assert_eq!(
            (a.proposed[0].height_m, a.proposed[0].lumen),
            (5.0, 3_000.0)
        );
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["new_stretches"]["type"], "FeatureCollection");
        assert_eq!(v["new_stretches"]["features"], serde_json::json!([]));
        assert_eq!(v["new_stretches"]["meta"]["truncated"], false);
        assert_eq!(v["assumptions"], serde_json::json!(r.assumptions));
        assert!(
            what_if(&snap, &r, &put_back, &{
                let c = Cancel::new();
                c.cancel();
                c
            })
            .is_err()
        );
    }

    #[test]
    fn a_proposal_for_a_150_m_gap_in_a_path_lit_every_30_m_is_the_hand_calculated_four_lamps() {
        // Lamps (5 m, 3 000 lm, 2 m beside the path) every 30 m on 0–330 m except 120–210:
        // a 150 m gap between the lamps at 90 and 240 m.
        let lamps: Vec<Lamp> = (0..=11)
            .map(|k| k as f64 * 30.0)
            .filter(|x| !(100.0..=230.0).contains(x))
            .map(|x| lamp(&format!("L{x}"), x))
            .collect();
        let snap = snapshot(vec![way(3, 0.0, 330.0, Some("yes"))], lamps.clone());
        let r = analyse(
            &snap,
            ClassPlan::uniform(PClass::P5),
            PublicRules::new(3, 200.0, 300.0),
            &Cancel::never(),
        )
        .unwrap();
        let dark = r
            .stretches
            .iter()
            .find(|s| s.state == LightState::Dark)
            .unwrap()
            .clone();

        // By hand: E = I·h/(h² + d²)^1.5 with I = 3 000 · 0,8 / 2π, summed over the lamps, at
        // every 2 m of the gap; n new lamps on the path at 90 + k·150/(n + 1).
        let i_cd = 3_000.0 * 0.8 / (2.0 * std::f64::consts::PI);
        let e = |dx: f64, dy: f64| i_cd * 5.0 / (25.0 + dx * dx + dy * dy).powf(1.5);
        let min_with = |n: usize| {
            let new: Vec<f64> = (1..=n)
                .map(|k| 90.0 + k as f64 * 150.0 / (n as f64 + 1.0))
                .collect();
            (45..=120)
                .map(|j| j as f64 * 2.0)
                .map(|x| {
                    lamps
                        .iter()
                        .map(|l| e(l.location.x() - X0 - x, 2.0))
                        .sum::<f64>()
                        + new.iter().map(|&m| e(m - x, 0.0)).sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
        };
        // Three lamps leave the middle of each 37.5 m span below Emin = 0.6 lx; four (30 m, the
        // path's own spacing) meet it, and the mean of a 30 m span, 2I/(h·30) ≈ 5 lx, meets Ē.
        assert!(min_with(3) < 0.6 && min_with(3) > 0.5, "{}", min_with(3));
        assert!(min_with(4) > 0.6, "{}", min_with(4));

        let asked = ProposalAsked {
            classes: ClassPlan::uniform(PClass::P5),
            lamp: crate::store::measures::LampType {
                height_m: 5.0,
                lumen: 3_000.0,
            },
            unit_cost_sek: 40_000.0,
        };
        let p = propose(&snap, &r, &dark.id, &asked, &Cancel::never()).unwrap();
        assert!(p.meets_class, "{}", p.words);
        assert_eq!(p.count, 4);
        assert_eq!(p.along_m, vec![120.0, 150.0, 180.0, 210.0]);
        assert_eq!(p.spacing_m, Some(30.0));
        assert!(p.existing_lamp_at_start && p.existing_lamp_at_end);
        assert_eq!(p.cost_sek, 160_000.0);
        assert_eq!(
            p.words,
            "4 lampor med 30 m mellanrum (160\u{a0}000\u{a0}kr) gör att sträckan klarar P5"
        );
        assert_eq!(p.after.length_m, 0.0);
        assert!(p.after.min_lux.unwrap() >= 0.6 && p.before.min_lux.unwrap() < 0.1);
        // The lamps at 90 and 240 m reach the stretch, and those at 60 and 270 m too.
        assert!(p.existing_lamps >= 4, "{}", p.existing_lamps);
        let [lon, lat] = p.lamps[0];
        let (x, y) = crs::to_work(crs::WGS84_EPSG, lon, lat).unwrap();
        assert!((x - (X0 + 120.0)).abs() < 0.05 && (y - Y0).abs() < 0.05);

        // A lit stretch needs nothing; an unknown id is not found.
        let lit = r
            .stretches
            .iter()
            .find(|s| s.state == LightState::Lit)
            .unwrap();
        assert!(matches!(
            propose(&snap, &r, &lit.id, &asked, &Cancel::never()),
            Err(ServiceError::Invalid(_))
        ));
        assert!(matches!(
            propose(&snap, &r, "3@9999", &asked, &Cancel::never()),
            Err(ServiceError::NotFound(_))
        ));
        // A lamp too weak for any spacing says so.
        let weak = ProposalAsked {
            lamp: crate::store::measures::LampType {
                height_m: 5.0,
                lumen: 5.0,
            },
            ..asked
        };
        let w = propose(&snap, &r, &dark.id, &weak, &Cancel::never()).unwrap();
        assert!(!w.meets_class);
        assert!(w.words.starts_with("inte ens"), "{}", w.words);
    }
}
