//! `method=ehsa`: emerging hot spots ([`crate::analysis::hotspot::ehsa`]) as typed answers, for
//! signed-in roles with free parameters and for the public on its own grid.
//!
//! The time steps are whole ISO weeks or calendar months of the filter's period (or, without
//! one, of the selected events' first to last date); events outside the whole steps, and
//! events whose time is known only to a window or month that no single step holds, are left
//! out and counted in the meta. The public product has monthly steps only, square public
//! cells over the public extent, a category per cell and the cell's count only from k: no
//! z-scores, no trend statistics, no per-step history.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use super::public::PublicCommon;
use super::{Common, MethodParams, cell_features, in_range};
use crate::analysis::cancel::Cancel;
use crate::analysis::filter::{IncidentFilter, Selection};
use crate::analysis::hotspot::ehsa::{
    self, BIN_ALPHA, Category, Cube, EhsaResult, MAX_NEIGHBOURHOOD_STEPS, MAX_STEPS, MIN_STEPS,
    StepKind, Steps, TREND_ALPHA,
};
use crate::analysis::hotspot::gistar::{self, StudyArea};
use crate::analysis::hotspot::grid::Grid;
use crate::analysis::limits::{self, WorkLimits};
use crate::analysis::privacy::{PublicRefusal, PublicRules};
use crate::service::geojson::{CellCollection, CellFeatures, round_to};
use crate::service::{ServiceError, ServiceResult, Viewer};
use crate::spatial::SnapIncident;
use crate::spatial::Snapshot;

// ---------------------------------------------------------------------------------------------
// Answers

/// A location of the cube as a signed-in role sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EhsaProps {
    /// Column and row of the cell in its grid.
    #[schema(value_type = Vec<i32>)]
    pub cell: [i32; 2],
    /// `new_hot_spot`, `consecutive_hot_spot`, `intensifying_hot_spot`,
    /// `persistent_hot_spot`, `diminishing_hot_spot`, `sporadic_hot_spot`,
    /// `oscillating_hot_spot`, `historical_hot_spot`, the same for `_cold_spot`, or
    /// `no_pattern`.
    pub category: &'static str,
    /// The category in Swedish.
    pub label: &'static str,
    /// Events in the cell over all steps.
    pub count: u64,
    /// Cells within the band, itself included.
    pub neighbours: u32,
    /// Steps in which the cell was a significant hot (cold) spot.
    pub hot_steps: usize,
    pub cold_steps: usize,
    /// One character per step, oldest first: `H` significant hot spot, `C` cold, `.` neither.
    pub history: String,
    /// Mann–Kendall of the cell's z-scores over the steps: Kendall's τ, Z and two-sided p.
    pub mk_tau: f64,
    pub mk_z: f64,
    pub mk_p: f64,
    /// The final step's Gi\* z and two-sided p.
    pub last_z: f64,
    pub last_p: f64,
}

/// The cube and the tests that made the categories.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EhsaParameters {
    pub grid: &'static str,
    pub cell: f64,
    pub band: f64,
    pub cell_derived: bool,
    pub band_derived: bool,
    /// `week` (ISO weeks, Monday–Sunday) or `month`.
    pub step: &'static str,
    /// Earlier steps in each bin's neighbourhood.
    pub neighbourhood_steps: usize,
    pub steps: usize,
    /// The first and last step, e.g. `2026-W02` or `2026-01`, and their first and last dates.
    pub first_step: String,
    pub last_step: String,
    pub from: String,
    pub to: String,
    /// Whether a district or the public extent decided the cells (empty ones included).
    pub study_area: bool,
    pub locations: usize,
    pub bins: usize,
    pub fdr: &'static str,
    /// The false discovery rate at which a bin is a significant hot or cold spot.
    pub bin_alpha: f64,
    /// The Mann–Kendall p at which a trend counts.
    pub trend_alpha: f64,
    /// The Benjamini–Hochberg p cut-off of the bins (null: no bin significant).
    pub fdr_cutoff: Option<f64>,
    pub significant_bins: usize,
}

/// Events the cube could not hold.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EhsaLeftOut {
    /// Before the first or after the last whole step.
    pub outside_steps: usize,
    /// Known only to a window or month that no single step holds.
    pub across_steps: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EhsaMeta {
    #[serde(flatten)]
    pub common: Common,
    pub parameters: EhsaParameters,
    /// Locations per category (every category listed, zeros included).
    pub categories: BTreeMap<&'static str, usize>,
    pub left_out: EhsaLeftOut,
}

pub type EhsaAnswer = CellCollection<EhsaProps, EhsaMeta>;

impl crate::service::geojson::CellProps for EhsaProps {}
impl crate::service::geojson::CellProps for PublicEhsaProps {}

/// A public cell: the category, and the count only from k.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicEhsaProps {
    #[schema(value_type = Vec<i32>)]
    pub cell: [i32; 2],
    pub category: &'static str,
    pub label: &'static str,
    /// Events in the cell over all steps; null below k (zero included).
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicEhsaParameters {
    pub grid: &'static str,
    pub cell: f64,
    pub band: f64,
    pub step: &'static str,
    pub neighbourhood_steps: usize,
    pub steps: usize,
    pub first_step: String,
    pub last_step: String,
    pub locations: usize,
    pub fdr: &'static str,
    pub bin_alpha: f64,
    pub trend_alpha: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicEhsaMeta {
    #[serde(flatten)]
    pub common: PublicCommon,
    /// Absent when the data has no point-level events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PublicEhsaParameters>,
    /// Cells per category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<BTreeMap<&'static str, usize>>,
}

pub type PublicEhsaAnswer = CellCollection<PublicEhsaProps, PublicEhsaMeta>;

// ---------------------------------------------------------------------------------------------
// Parameters

/// The checked time parameters.
#[derive(Debug, Clone, Copy)]
struct TimeArgs {
    step: StepKind,
    neighbourhood_steps: usize,
}

fn time_args(params: &MethodParams) -> ServiceResult<TimeArgs> {
    let step = match params.step.as_deref() {
        None => StepKind::Month,
        Some(s) => StepKind::parse(s)
            .ok_or_else(|| ServiceError::Invalid(format!("step={s:?}: expected week or month")))?,
    };
    let neighbourhood_steps = in_range(
        "neighbourhood_steps",
        params.neighbourhood_steps,
        0,
        MAX_NEIGHBOURHOOD_STEPS,
    )?
    .unwrap_or(1);
    Ok(TimeArgs {
        step,
        neighbourhood_steps,
    })
}

/// The first and last local date of the events.
fn span(events: &[&SnapIncident]) -> Option<(NaiveDate, NaiveDate)> {
    events
        .iter()
        .map(|i| i.local_days())
        .fold(None, |acc, (a, b)| {
            Some(acc.map_or((a, b), |(x, y): (NaiveDate, NaiveDate)| {
                (x.min(a), y.max(b))
            }))
        })
}

/// The span of the public steps without a period: the whole months strictly between the
/// first and the last event's month, and before today's. The first and last month of the data
/// may hold only some of their days (a register that starts on the 4th) and would read as a
/// cold step; and where in its month an event falls must not change a public answer, so the
/// span depends on the events' months alone.
fn public_span(events: &[&SnapIncident]) -> Option<(NaiveDate, NaiveDate)> {
    let (a, b) = span(events)?;
    let first = a.with_day(1)?.checked_add_months(Months::new(1))?;
    let today = crate::time::local_date(&chrono::Utc::now());
    let last = b.min(today).with_day(1)?.pred_opt()?;
    Some((first, last))
}

/// The whole steps of the filter's period; a bound not given comes from `span`.
fn steps_of(
    f: &IncidentFilter,
    span: Option<(NaiveDate, NaiveDate)>,
    step: StepKind,
) -> ServiceResult<(Steps, NaiveDate, NaiveDate)> {
    let (from, to) = match (f.from, f.to) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            let Some((x, y)) = span else {
                return Err(ServiceError::Invalid(
                    "method=ehsa: no events to lay out time steps over; give from and to".into(),
                ));
            };
            (a.unwrap_or(x), b.unwrap_or(y))
        }
    };
    let steps = Steps::whole_within(step, from, to);
    let unit = step.as_str();
    if steps.len() < MIN_STEPS {
        return Err(ServiceError::Invalid(format!(
            "method=ehsa needs at least {MIN_STEPS} whole {unit}s: {from} to {to} holds {}; give a longer period (from, to){}",
            steps.len(),
            if step == StepKind::Month {
                " or step=week"
            } else {
                ""
            }
        )));
    }
    if steps.len() > MAX_STEPS {
        return Err(ServiceError::Invalid(format!(
            "method=ehsa takes at most {MAX_STEPS} steps: {from} to {to} holds more {unit}s; give a shorter period{}",
            if step == StepKind::Week {
                " or step=month"
            } else {
                ""
            }
        )));
    }
    Ok((steps, from, to))
}

/// Each event's position and step, and how many fell outside the steps or across two.
fn place(
    events: &[&SnapIncident],
    steps: &Steps,
    keep: impl Fn([f64; 2]) -> bool,
) -> (Vec<([f64; 2], usize)>, EhsaLeftOut) {
    let (first, end) = (steps.bounds[0], steps.bounds[steps.bounds.len() - 1]);
    let mut out = Vec::with_capacity(events.len());
    let mut left = EhsaLeftOut {
        outside_steps: 0,
        across_steps: 0,
    };
    for i in events {
        let p = [i.location.x(), i.location.y()];
        if !keep(p) {
            continue;
        }
        let (a, b) = i.local_days();
        match steps.index(a, b) {
            Some(t) => out.push((p, t)),
            None if b < first || a >= end => left.outside_steps += 1,
            None => left.across_steps += 1,
        }
    }
    (out, left)
}

fn category_counts(res: &EhsaResult) -> BTreeMap<&'static str, usize> {
    let mut m: BTreeMap<&'static str, usize> =
        Category::ALL.iter().map(|c| (c.as_str(), 0)).collect();
    for l in &res.locations {
        *m.entry(l.category.as_str()).or_default() += 1;
    }
    m
}

fn history_text(h: &[i8]) -> String {
    h.iter()
        .map(|b| match b {
            1 => 'H',
            -1 => 'C',
            _ => '.',
        })
        .collect()
}

/// The work a cube costs ([`limits::ehsa`]).
fn check_work(
    locations: f64,
    steps: usize,
    grid: &Grid,
    band: f64,
    limits: &WorkLimits,
) -> ServiceResult<()> {
    Ok(limits::ehsa(
        locations,
        steps,
        grid.cell_area(),
        band,
        limits,
    )?)
}

// ---------------------------------------------------------------------------------------------
// Signed-in

/// `GET /api/v1/hotspots?method=ehsa` for police, coordinators and admins.
pub fn signed_in(
    snap: &Snapshot,
    f: &IncidentFilter,
    params: &MethodParams,
    viewer: &Viewer,
    cancel: &Cancel,
) -> ServiceResult<EhsaAnswer> {
    let gi = params.gistar()?;
    let time = time_args(params)?;
    let sel = f.select_in(&snap.incidents);
    let (steps, from, to) = steps_of(f, span(&sel.points), time.step)?;
    let (events, left_out) = place(&sel.points, &steps, |_| true);
    let pts: Vec<[f64; 2]> = events.iter().map(|e| e.0).collect();
    let limits = WorkLimits::for_role(true);
    let (cell, cell_derived) = match gi.cell {
        Some(c) => (c, false),
        None => (gistar::derive_cell_with(&pts, cancel)?, true),
    };
    let grid = Grid::new(gi.grid, cell);
    let area = f.area.as_ref().map(|a| a as &dyn StudyArea);
    // The cells before the cube is laid out: the area's, or at most one per event.
    let bound = super::cells_bound(&pts, &grid, area)?;
    if let Some(b) = gi.band {
        check_work(bound, steps.len(), &grid, b, &limits)?;
    }
    let cube = Cube::count(&grid, &events, steps.len(), area, cancel)?.ok_or_else(|| {
        ServiceError::Invalid(format!(
            "cell={cell}: the area has more than {} cells of this size; choose a larger cell",
            gistar::MAX_STUDY_CELLS
        ))
    })?;
    let (band, band_derived) = match gi.band {
        Some(b) => (b, false),
        None => {
            let totals: Vec<_> = (0..cube.cells.len())
                .map(|c| (cube.cells[c], cube.series(c).iter().sum::<f64>()))
                .collect();
            (gistar::derive_band_with(&grid, &totals, cancel)?, true)
        }
    };
    check_work(cube.cells.len() as f64, steps.len(), &grid, band, &limits)?;
    let res = ehsa::analyse(&grid, &cube, band, time.neighbourhood_steps, cancel)?;
    let features = cell_features(&grid, &res.locations, |l| {
        let props = EhsaProps {
            cell: [l.id.0, l.id.1],
            category: l.category.as_str(),
            label: l.category.label_sv(),
            count: l.count as u64,
            neighbours: l.neighbours,
            hot_steps: l.history.iter().filter(|b| **b > 0).count(),
            cold_steps: l.history.iter().filter(|b| **b < 0).count(),
            history: history_text(&l.history),
            mk_tau: round_to(l.trend.tau, 6),
            mk_z: round_to(l.trend.z, 6),
            mk_p: l.trend.p,
            last_z: round_to(l.last_z, 6),
            last_p: l.last_p,
        };
        (l.id, props)
    })?;
    let mut common = Common::new("ehsa", &sel, viewer, snap, f);
    common.included = events.len();
    let meta = EhsaMeta {
        common,
        parameters: EhsaParameters {
            grid: gi.grid.as_str(),
            cell,
            band,
            cell_derived,
            band_derived,
            step: time.step.as_str(),
            neighbourhood_steps: time.neighbourhood_steps,
            steps: steps.len(),
            first_step: steps.label(0),
            last_step: steps.label(steps.len() - 1),
            from: from.to_string(),
            to: to.to_string(),
            study_area: area.is_some(),
            locations: res.locations.len(),
            bins: res.bins,
            fdr: "Benjamini-Hochberg",
            bin_alpha: BIN_ALPHA,
            trend_alpha: TREND_ALPHA,
            fdr_cutoff: res.fdr_cutoff,
            significant_bins: res.significant_bins,
        },
        categories: category_counts(&res),
        left_out,
    };
    Ok(CellCollection::new(features, meta))
}

// ---------------------------------------------------------------------------------------------
// Public

/// The public emerging hot spots: monthly steps on the public grid over the public extent.
pub fn public(
    snap: &Snapshot,
    params: &MethodParams,
    filter: &IncidentFilter,
    rules: &PublicRules,
    cancel: &Cancel,
) -> ServiceResult<PublicEhsaAnswer> {
    if let Some(s) = &params.step
        && s.trim() != "month"
    {
        return Err(PublicRefusal {
            param: "step",
            value: s.clone(),
            rule: "its steps are whole months: step=month".into(),
        }
        .into());
    }
    let time = time_args(params)?;
    let attrs = IncidentFilter {
        area: None,
        ..filter.clone()
    };
    let sel = attrs.select_in(&snap.incidents);
    // Without a period, the steps are the months of the snapshot's point-level events but
    // their first and last (as the public grid covers the public extent: fixed by the data as
    // a whole, not by the query).
    let all: Vec<&SnapIncident> = snap
        .incidents
        .items
        .iter()
        .filter(|i| i.precision.is_point_level())
        .collect();
    let (steps, _, _) = steps_of(filter, public_span(&all), StepKind::Month)?;
    let Some(pg) = super::public::public_grid(snap, params, filter, rules, 1.0)? else {
        let common = PublicCommon::of(&Selection::default(), "ehsa", 0, rules, snap, filter);
        return Ok(CellCollection::new(
            CellFeatures::default(),
            PublicEhsaMeta {
                common,
                parameters: None,
                categories: None,
            },
        ));
    };
    let grid = pg.grid;
    check_work(
        pg.study_cells,
        steps.len(),
        &grid,
        pg.band,
        &WorkLimits::for_role(false),
    )?;
    let (events, _) = place(&sel.points, &steps, |p| {
        pg.study.contains(grid.centre(grid.cell_of(p)))
    });
    let cube = Cube::count(&grid, &events, steps.len(), Some(&pg.study), cancel)?
        .ok_or_else(|| ServiceError::Invalid("the public grid has too many cells".into()))?;
    let res = ehsa::analyse(&grid, &cube, pg.band, time.neighbourhood_steps, cancel)?;
    let features = cell_features(&grid, &res.locations, |l| {
        let props = PublicEhsaProps {
            cell: [l.id.0, l.id.1],
            category: l.category.as_str(),
            label: l.category.label_sv(),
            count: rules.count(l.count as u64),
        };
        (l.id, props)
    })?;
    let meta = PublicEhsaMeta {
        common: PublicCommon::of(&sel, "ehsa", events.len(), rules, snap, filter),
        parameters: Some(PublicEhsaParameters {
            grid: "square",
            cell: pg.cell,
            band: pg.band,
            step: "month",
            neighbourhood_steps: time.neighbourhood_steps,
            steps: steps.len(),
            first_step: steps.label(0),
            last_step: steps.label(steps.len() - 1),
            locations: res.locations.len(),
            fdr: "Benjamini-Hochberg",
            bin_alpha: BIN_ALPHA,
            trend_alpha: TREND_ALPHA,
        }),
        categories: Some(category_counts(&res)),
    };
    Ok(CellCollection::new(features, meta))
}
