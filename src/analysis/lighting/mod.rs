//! Poorly lit walkways: estimated illuminance, EN 13201 classes, dark stretches and priorities.
//!
//! [`analyze`] is a pure function of the walkways, lamps, citizen reports and incidents (slices
//! and their R-trees, see [`LightingInputs`]) and the [`LightingParams`]; it returns a
//! [`LightingResult`] with one sampled profile per walkway, every stretch of one state (dark,
//! unknown, lit) with its facts, priority and reasons, the ranking for the action plan, and for
//! every lamp that is off the stretches it darkens.
//!
//! The pieces, one concern per file:
//! * [`illuminance`]: E = Σ I·h/(h²+x²)^1.5, intensity from flux or power, defaults;
//! * [`en13201`]: the P-classes and which applies to which walkway kind;
//! * [`stretches`]: sampling, the states and their causes, runs of samples;
//! * [`nearby`]: reports, incidents after dark, neighbouring lamps, parks;
//! * [`sun`]: sunrise and sunset for "after dark";
//! * [`priority`]: the documented score and its Swedish reasons;
//! * [`whatif`]: proposed lamps → which stretches they fix;
//! * [`propose`]: the fewest lamps that make a dark stretch meet its class.

pub mod en13201;
pub mod illuminance;
pub mod line;
pub mod nearby;
pub mod priority;
pub mod propose;
pub mod stretches;
pub mod sun;
pub mod whatif;

use std::collections::HashMap;

use geo::LineString;
use rayon::prelude::*;
use rstar::RTree;
use serde::Serialize;

use crate::analysis::cancel::{Cancel, Cancelled};
use crate::model::{Area, CitizenReport, Lamp, LitTag, Walkway};
use crate::spatial::SnapIncident;
use crate::spatial::{IndexedPoint, IndexedSegment, Snapshot};

pub use en13201::{ClassPlan, PClass};

/// The class plan: `class` (default: `default_class`, the configured `lighting_class`), then
/// the configured per-kind classes (`kind_classes`, `lighting_kind_classes`), then a request's
/// `kind_class` (`footway=P4,steps=P3`), each overriding the one before.
pub fn class_plan(
    class: Option<&str>,
    kind_class: Option<&str>,
    default_class: &str,
    kind_classes: Option<&str>,
) -> Result<ClassPlan, String> {
    let text = class.unwrap_or(default_class);
    let c = PClass::parse(text)
        .ok_or_else(|| format!("class={text:?}: expected one of P1, P2, P3, P4, P5, P6"))?;
    let mut plan = ClassPlan::uniform(c);
    if let Some(k) = kind_classes {
        plan = plan
            .with_overrides(k)
            .map_err(|e| format!("lighting_kind_classes in the configuration: {e}"))?;
    }
    match kind_class {
        Some(k) => plan
            .with_overrides(k)
            .map_err(|e| format!("kind_class: {e}")),
        None => Ok(plan),
    }
}
pub use illuminance::{LampModel, OffReason, Photometry};
pub use stretches::{Cause, ExtraLight, LightState, WalkwayProfile};

/// Everything the analysis reads: plain slices and their R-trees (indices into the slices).
#[derive(Clone, Copy)]
pub struct LightingInputs<'a> {
    pub walkways: &'a [Walkway],
    pub walkway_tree: &'a RTree<IndexedSegment>,
    pub lamps: &'a [Lamp],
    pub lamp_tree: &'a RTree<IndexedPoint>,
    pub reports: &'a [CitizenReport],
    pub report_tree: &'a RTree<IndexedPoint>,
    pub incidents: &'a [SnapIncident],
    pub incident_tree: &'a RTree<IndexedPoint>,
    /// Named areas, to tell stretches through parks.
    pub areas: &'a [Area],
}

impl<'a> LightingInputs<'a> {
    pub fn from_snapshot(s: &'a Snapshot) -> Self {
        Self {
            walkways: &s.walkways.items,
            walkway_tree: &s.walkways.tree,
            lamps: &s.lamps.items,
            lamp_tree: &s.lamps.tree,
            reports: &s.reports.items,
            report_tree: &s.reports.tree,
            incidents: &s.incidents.items,
            incident_tree: &s.incidents.tree,
            areas: &s.areas.items,
        }
    }
}

/// Every knob of the analysis, with documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LightingParams {
    pub classes: ClassPlan,
    pub photometry: Photometry,
    /// Largest distance between samples along a walkway (m).
    pub sample_step_m: f64,
    /// A sample has lamp data when a known lamp stands this close (m).
    pub lamp_data_radius_m: f64,
    /// Longest calculation field for the average criterion (m).
    pub field_max_m: f64,
    /// Citizen reports this close to a stretch count for it (m).
    pub report_radius_m: f64,
    /// Incidents this close to a stretch count for it (m).
    pub incident_radius_m: f64,
    /// Lamps this close to a walkway count as standing along it (m), for `lamps_before/after`.
    pub lamp_side_m: f64,
    /// The public product's rules: when a stretch may show the public its incidents after
    /// dark (see [`crate::analysis::privacy::stretch_incidents_shown`]).
    pub public: crate::analysis::privacy::PublicRules,
}

impl Default for LightingParams {
    fn default() -> Self {
        Self {
            classes: ClassPlan::default(),
            photometry: Photometry::default(),
            sample_step_m: 2.0,
            lamp_data_radius_m: 100.0,
            field_max_m: 120.0,
            report_radius_m: 25.0,
            incident_radius_m: 50.0,
            lamp_side_m: 25.0,
            public: crate::analysis::privacy::PublicRules::new(3, 200.0, 300.0),
        }
    }
}

impl LightingParams {
    pub fn with_classes(classes: ClassPlan) -> Self {
        Self {
            classes,
            ..Self::default()
        }
    }

    /// The assumptions every result rests on (Swedish, for the map and the report).
    pub fn assumptions(&self) -> Vec<String> {
        let mut a = self.photometry.assumptions();
        a.push(format!(
            "Gångvägarna provas var {} m; en punkt jämförs med klassens minimikrav, och sammanhängande belysta delar (högst {} m) med medelkravet.",
            illuminance::fmt_num(self.sample_step_m),
            illuminance::fmt_num(self.field_max_m)
        ));
        a.push(format!(
            "Punkter utan känd lampa inom {} m har inga lampdata: de är okända om OSM säger lit=yes eller inget, mörka bara om OSM säger lit=no.",
            illuminance::fmt_num(self.lamp_data_radius_m)
        ));
        a.push("Lampor med status trasig i registret, eller med en öppen medborgarrapport om trasig lampa, räknas som släckta tills rapporten stängs.".into());
        a.push(format!(
            "Rapporter: öppna rapporter om mörker, trasig lampa eller växtlighet inom {} m.",
            illuminance::fmt_num(self.report_radius_m)
        ));
        a.push(format!(
            "Händelser efter mörkrets inbrott: brott med punktprecision inom {} m mellan solnedgång och soluppgång (beräknade för dagen och platsen).",
            illuminance::fmt_num(self.incident_radius_m)
        ));
        a
    }
}

/// A stretch of one walkway in one state, with its facts.
#[derive(Debug, Clone, Serialize)]
pub struct Stretch {
    /// Stable: `<walkway id>@<start metre>`.
    pub id: String,
    #[serde(skip)]
    pub walkway: usize,
    pub walkway_id: i64,
    pub state: LightState,
    pub class: PClass,
    /// Samples `first..=last` of the walkway's profile.
    #[serde(skip)]
    pub first: usize,
    #[serde(skip)]
    pub last: usize,
    pub from_m: f64,
    pub to_m: f64,
    pub length_m: f64,
    #[serde(skip)]
    pub geometry: LineString<f64>,
    pub mean_lux: Option<f64>,
    pub min_lux: Option<f64>,
    /// Share of the samples with lamp data (0 … 1).
    pub lamp_data_share: f64,
    pub below_minimum: bool,
    pub below_average: bool,
    pub tagged_unlit: bool,
    pub lamps_before: Option<String>,
    pub lamps_after: Option<String>,
    /// Distance along the walkway between the lamps before and after.
    pub gap_m: Option<f64>,
    pub report_ids: Vec<i64>,
    pub incidents_after_dark: usize,
    /// Lamps that are off and whose light would reach this stretch.
    pub lamps_off: Vec<String>,
    #[serde(skip)]
    pub lamps_off_idx: Vec<usize>,
    /// Lamps that are off and without which this stretch would not exist.
    pub darkened_by: Vec<String>,
    pub park: Option<String>,
    pub priority: f64,
    /// 1 = first in the action plan; dark and unknown stretches only.
    pub rank: Option<usize>,
    pub reasons: Vec<String>,
    /// What the public sees of this stretch: the incidents after dark only when
    /// [`crate::analysis::privacy::stretch_incidents_shown`] allows, and a priority, rank and
    /// reasons computed without them otherwise — a priority that moved by five points per
    /// incident would tell the count it hides.
    #[serde(skip)]
    pub public: PublicStretch,
}

/// The public's view of a stretch (see [`Stretch::public`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicStretch {
    pub incidents_after_dark: Option<usize>,
    pub priority: f64,
    pub rank: Option<usize>,
    pub reasons: Vec<String>,
}

/// Per state: how many stretches and how many metres.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StateTotals {
    pub stretches: usize,
    pub length_m: f64,
}

/// The analysis of a whole snapshot.
#[derive(Debug, Clone)]
pub struct LightingResult {
    pub params: LightingParams,
    /// One per walkway, in the order of the inputs.
    pub profiles: Vec<WalkwayProfile>,
    /// All stretches, by walkway then position.
    pub stretches: Vec<Stretch>,
    /// Indices into `stretches` of the dark and unknown ones, highest priority first.
    pub ranking: Vec<usize>,
    /// One per known lamp, in the order of the inputs.
    pub lamps: Vec<LampModel>,
    /// For every lamp that is off: indices of the stretches it darkens.
    pub darkens: HashMap<usize, Vec<usize>>,
    pub totals: HashMap<LightState, StateTotals>,
    pub assumptions: Vec<String>,
    pub by_id: HashMap<String, usize>,
}

impl LightingResult {
    pub fn stretch(&self, id: &str) -> Option<&Stretch> {
        self.by_id.get(id).map(|&i| &self.stretches[i])
    }

    pub fn totals(&self, state: LightState) -> StateTotals {
        self.totals.get(&state).copied().unwrap_or_default()
    }
}

/// Lamp models for the known lamps, with open broken-lamp reports applied.
pub fn lamp_models(inputs: &LightingInputs<'_>, ph: &Photometry) -> Vec<LampModel> {
    let mut off_by_report: HashMap<&str, i64> = HashMap::new();
    for r in inputs.reports.iter().filter(|r| r.keeps_lamp_off()) {
        if let Some(id) = r.lamp_id.as_deref() {
            // The oldest open report names the reason.
            let e = off_by_report.entry(id).or_insert(r.id);
            *e = (*e).min(r.id);
        }
    }
    inputs
        .lamps
        .iter()
        .map(|l| LampModel::from_lamp(ph, l, off_by_report.get(l.id.as_str()).copied()))
        .collect()
}

/// The largest lamp reach, or the lamp data radius when that is larger.
pub(crate) fn query_radius(
    params: &LightingParams,
    lamps: &[LampModel],
    extra: &[LampModel],
) -> f64 {
    lamps
        .iter()
        .chain(extra)
        .map(|l| l.reach2.sqrt())
        .fold(params.lamp_data_radius_m, f64::max)
}

/// Builds the stretches of one walkway profile, with everything near them and their score.
/// `rank` and `darkened_by` are left empty.
pub(crate) fn build_stretches(
    inputs: &LightingInputs<'_>,
    params: &LightingParams,
    lamps: &[LampModel],
    max_reach: f64,
    wi: usize,
    profile: &WalkwayProfile,
) -> Vec<Stretch> {
    let w = &inputs.walkways[wi];
    let runs = profile.runs();
    if runs.is_empty() {
        return Vec::new();
    }
    let line = line::Measured::new(&w.geometry);
    let along = nearby::lamps_along(inputs, params, lamps, &line);
    let tagged_unlit_walkway = LitTag::from_osm(w.lit.as_deref()) == LitTag::Unlit;
    let mut previous_metre = None;
    runs.into_iter()
        .map(|(first, last, state)| {
            let (from, to) = profile.span(first, last);
            let geometry = line.substring(from, to);
            let (mean, min, share) = profile.lux_summary(first, last);
            let causes = &profile.cause[first..=last];
            let (before, after) = nearby::lamps_around(&along, from, to);
            let report_ids = nearby::darkness_reports(inputs, params, &geometry);
            let incidents = nearby::incidents_after_dark(inputs, params, &geometry);
            let lamps_off_idx = if state == LightState::Lit {
                Vec::new()
            } else {
                nearby::off_lamps_reaching(inputs, lamps, max_reach, &geometry)
            };
            let lamps_off: Vec<String> = lamps_off_idx
                .iter()
                .map(|&k| inputs.lamps[k].id.clone())
                .collect();
            let park = nearby::park(inputs, w.name.as_deref(), &geometry);
            let tagged_unlit = causes.contains(&Cause::TaggedUnlit);
            let facts = priority::StretchFacts {
                state,
                class: profile.class,
                length_m: to - from,
                mean_lux: mean,
                min_lux: min,
                tagged_unlit: tagged_unlit && tagged_unlit_walkway,
                reports: report_ids.len(),
                incidents_after_dark: incidents,
                kind: &w.kind,
                name: w.name.as_deref(),
                park: park.as_deref(),
                lamps_off: &lamps_off,
            };
            let (score, reasons) = priority::score(&facts);
            let shown = crate::analysis::privacy::stretch_incidents_shown(
                &params.public,
                incidents,
                to - from,
            );
            let public = if shown {
                PublicStretch {
                    incidents_after_dark: Some(incidents),
                    priority: score,
                    rank: None,
                    reasons: reasons.clone(),
                }
            } else {
                let (p, r) = priority::score(&priority::StretchFacts {
                    incidents_after_dark: 0,
                    ..facts.clone()
                });
                PublicStretch {
                    incidents_after_dark: None,
                    priority: p,
                    rank: None,
                    reasons: r,
                }
            };
            // Whole metres keep ids readable; on walkways shorter than 2 m two stretches may
            // start in the same metre, and the sample index tells them apart.
            let metre = from.round() as i64;
            let id = if previous_metre == Some(metre) {
                format!("{}@{metre}.{first}", w.id)
            } else {
                format!("{}@{metre}", w.id)
            };
            previous_metre = Some(metre);
            Stretch {
                id,
                walkway: wi,
                walkway_id: w.id,
                state,
                class: profile.class,
                first,
                last,
                from_m: from,
                to_m: to,
                length_m: to - from,
                geometry,
                mean_lux: mean,
                min_lux: min,
                lamp_data_share: share,
                below_minimum: causes.contains(&Cause::BelowMinimum),
                below_average: causes.contains(&Cause::BelowAverage),
                tagged_unlit,
                lamps_before: before.map(|(_, k)| inputs.lamps[k].id.clone()),
                lamps_after: after.map(|(_, k)| inputs.lamps[k].id.clone()),
                gap_m: before.zip(after).map(|(b, a)| a.0 - b.0),
                report_ids,
                incidents_after_dark: incidents,
                lamps_off,
                lamps_off_idx,
                darkened_by: Vec::new(),
                park,
                priority: score,
                rank: None,
                reasons,
                public,
            }
        })
        .collect()
}

/// Runs the whole analysis.
pub fn analyze(inputs: &LightingInputs<'_>, params: &LightingParams) -> LightingResult {
    analyze_with(inputs, params, &Cancel::never()).expect("never cancelled")
}

/// [`analyze`], stopping with [`Cancelled`] soon after `cancel` is tripped (it looks once per
/// walkway).
pub fn analyze_with(
    inputs: &LightingInputs<'_>,
    params: &LightingParams,
    cancel: &Cancel,
) -> Result<LightingResult, Cancelled> {
    cancel.check()?;
    let lamps = lamp_models(inputs, &params.photometry);
    let query_m = query_radius(params, &lamps, &[]);
    let max_reach = lamps.iter().map(|l| l.reach2.sqrt()).fold(0.0, f64::max);
    let eval = stretches::Evaluator {
        inputs,
        params,
        lamps: &lamps,
        query_m,
    };
    let per_walkway: Vec<(WalkwayProfile, Vec<Stretch>)> = (0..inputs.walkways.len())
        .into_par_iter()
        .map(|wi| -> Result<_, Cancelled> {
            cancel.check()?;
            let p = eval.walkway(wi, ExtraLight::default());
            let s = build_stretches(inputs, params, &lamps, max_reach, wi, &p);
            Ok((p, s))
        })
        .collect::<Result<_, Cancelled>>()?;
    let (profiles, per_walkway): (Vec<WalkwayProfile>, Vec<Vec<Stretch>>) =
        per_walkway.into_iter().unzip();
    let mut stretches: Vec<Stretch> = per_walkway.into_iter().flatten().collect();

    let darkens = whatif::darkened_by_off_lamps(&eval, &profiles, &mut stretches, cancel)?;

    let mut ranking: Vec<usize> = (0..stretches.len())
        .filter(|&i| stretches[i].state != LightState::Lit)
        .collect();
    ranking.sort_by(|&a, &b| {
        let (sa, sb) = (&stretches[a], &stretches[b]);
        sb.priority
            .total_cmp(&sa.priority)
            .then(sb.length_m.total_cmp(&sa.length_m))
            .then(sa.id.cmp(&sb.id))
    });
    for (pos, &i) in ranking.iter().enumerate() {
        stretches[i].rank = Some(pos + 1);
    }
    let mut public_ranking = ranking.clone();
    public_ranking.sort_by(|&a, &b| {
        let (sa, sb) = (&stretches[a], &stretches[b]);
        sb.public
            .priority
            .total_cmp(&sa.public.priority)
            .then(sb.length_m.total_cmp(&sa.length_m))
            .then(sa.id.cmp(&sb.id))
    });
    for (pos, &i) in public_ranking.iter().enumerate() {
        stretches[i].public.rank = Some(pos + 1);
    }
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
    Ok(LightingResult {
        params: params.clone(),
        profiles,
        stretches,
        ranking,
        lamps,
        darkens,
        totals,
        assumptions: params.assumptions(),
        by_id,
    })
}

/// The `n` stretches first in the action plan (for the lägesbild summary).
pub fn top_stretches(result: &LightingResult, n: usize) -> Vec<&Stretch> {
    result
        .ranking
        .iter()
        .take(n)
        .map(|&i| &result.stretches[i])
        .collect()
}

/// A piece of a walkway for colouring the map.
#[derive(Debug, Clone)]
pub struct Piece {
    pub state: LightState,
    pub from_m: f64,
    pub to_m: f64,
    pub mean_lux: Option<f64>,
    pub geometry: LineString<f64>,
}

/// A walkway cut at every change of state and at least every `max_piece_m`, with mean lux.
pub fn walkway_pieces(
    result: &LightingResult,
    inputs: &LightingInputs<'_>,
    wi: usize,
    max_piece_m: f64,
) -> Vec<Piece> {
    let p = &result.profiles[wi];
    if p.is_empty() {
        return Vec::new();
    }
    let line = line::Measured::new(&inputs.walkways[wi].geometry);
    let per_piece = ((max_piece_m / p.spacing_m).floor() as usize).max(1);
    let mut out = Vec::new();
    for (first, last, state) in p.runs() {
        let mut a = first;
        while a <= last {
            let b = (a + per_piece - 1).min(last);
            let (from, to) = p.span(a, b);
            out.push(Piece {
                state,
                from_m: from,
                to_m: to,
                mean_lux: p.lux_summary(a, b).0,
                geometry: line.substring(from, to),
            });
            a = b + 1;
        }
    }
    out
}
