//! Lamps proposed for a dark stretch: where to put them so that it meets its class with the
//! fewest lamps.
//!
//! The stretch lies between two places along its walkway: the working lamp before it and the
//! one after it when their light reaches its ends (the existing lamps count, as they do in the
//! analysis), otherwise the stretch's own ends. `n` new lamps of the chosen type are spread
//! evenly over that span, on the walkway's line:
//!
//! * between two lamps at `a` and `b`: at `a + k·(b − a)/(n + 1)`, k = 1 … n, so that the new
//!   spacing continues the old;
//! * with a lamp at one end only: at spacing `s = (b − a)/(n + ½)` from the lamp, the last lamp
//!   half a spacing from the open end;
//! * with none: at `a + (k − ½)·(b − a)/n`.
//!
//! For n = 1, 2, … the walkway is recomputed with the same samples and the same rules as the
//! base analysis (both EN 13201 criteria: every sample at least Emin, every calculation field on
//! average at least Ē); the first n for which every sample of the stretch is lit is the
//! proposal. Even spacing maximises the smallest illuminance between two fixed lamps (the
//! darkest point between equal neighbours is midway), so no placement of fewer lamps of this
//! type meets the minimum where the even one does not. When even [`MAX_LAMPS`] lamps (or one
//! lamp every [`MIN_SPACING_M`]) do not make it, the answer says so.

use geo::Coord;
use rstar::AABB;

use super::illuminance::LampModel;
use super::line::{Measured, distance_to_line};
use super::nearby;
use super::stretches::{Evaluator, ExtraLight, LightState};
use super::whatif::{LuxSummary, summarize};
use super::{LightingInputs, LightingResult, Stretch, query_radius};
use crate::analysis::cancel::{Cancel, Cancelled};

/// The most lamps one proposal holds.
pub const MAX_LAMPS: usize = 200;
/// Lamps are never proposed closer together than this (m).
pub const MIN_SPACING_M: f64 = 3.0;

/// The lamp type of a proposal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LampType {
    pub height_m: f64,
    pub lumen: f64,
}

/// What bounds the span the new lamps are spread over, at one end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    /// A working lamp at this position along the walkway.
    Lamp(f64),
    /// The stretch's own end at this position.
    Open(f64),
}

impl End {
    fn at(self) -> f64 {
        match self {
            Self::Lamp(m) | Self::Open(m) => m,
        }
    }
}

/// Lamps proposed for one stretch.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// Where the lamps go, EPSG:3006, in order along the walkway.
    pub positions: Vec<[f64; 2]>,
    /// Their positions along the walkway (m).
    pub along_m: Vec<f64>,
    /// Distance between neighbouring lamps, new and bounding (m); `None` for a single lamp
    /// between open ends.
    pub spacing_m: Option<f64>,
    pub start: End,
    pub end: End,
    /// Working lamps whose light reaches the stretch already.
    pub existing_lamps: usize,
    /// The stretch before and with the proposal (failing metres, mean and minimum lux).
    pub before: LuxSummary,
    pub after: LuxSummary,
    /// Whether every sample of the stretch meets the class with these lamps; false when
    /// even the most lamps allowed do not make it (they are then the positions returned).
    pub meets_class: bool,
}

/// Positions along the walkway of `n` lamps spread over `start`–`end` (see the module text).
pub fn spread(start: End, end: End, n: usize) -> Vec<f64> {
    let (a, b) = (start.at(), end.at());
    let len = b - a;
    let nf = n as f64;
    let mut at: Vec<f64> = (1..=n)
        .map(|k| {
            let k = k as f64;
            match (start, end) {
                (End::Lamp(_), End::Lamp(_)) => a + k * len / (nf + 1.0),
                (End::Lamp(_), End::Open(_)) => a + k * len / (nf + 0.5),
                (End::Open(_), End::Lamp(_)) => b - k * len / (nf + 0.5),
                (End::Open(_), End::Open(_)) => a + (k - 0.5) * len / nf,
            }
        })
        .collect();
    at.sort_by(f64::total_cmp);
    at
}

fn spacing(start: End, end: End, n: usize) -> Option<f64> {
    let len = end.at() - start.at();
    let nf = n as f64;
    match (start, end) {
        (End::Lamp(_), End::Lamp(_)) => Some(len / (nf + 1.0)),
        (End::Lamp(_), End::Open(_)) | (End::Open(_), End::Lamp(_)) => Some(len / (nf + 0.5)),
        (End::Open(_), End::Open(_)) => (n > 1).then(|| len / nf),
    }
}

/// The fewest lamps of `lamp` that make `stretch` meet its class (see the module text).
/// Stops with [`Cancelled`] soon after `cancel` is tripped (it looks once per count tried).
pub fn propose(
    result: &LightingResult,
    inputs: &LightingInputs<'_>,
    stretch: &Stretch,
    lamp: LampType,
    cancel: &Cancel,
) -> Result<Proposal, Cancelled> {
    let params = &result.params;
    let w = &inputs.walkways[stretch.walkway];
    let line = Measured::new(&w.geometry);
    let model = |x: f64, y: f64| {
        LampModel::new(
            &params.photometry,
            x,
            y,
            Some(lamp.height_m),
            Some(lamp.lumen),
            None,
        )
    };
    let reach = model(0.0, 0.0).reach2.sqrt();
    let along = nearby::lamps_along(inputs, params, &result.lamps, &line);
    let (before, after) = nearby::lamps_around(&along, stretch.from_m, stretch.to_m);
    let start = match before {
        Some((m, _)) if stretch.from_m - m <= reach => End::Lamp(m),
        _ => End::Open(stretch.from_m),
    };
    let end = match after {
        Some((m, _)) if m - stretch.to_m <= reach => End::Lamp(m),
        _ => End::Open(stretch.to_m),
    };
    let span = end.at() - start.at();
    let most = MAX_LAMPS.min(((span / MIN_SPACING_M).floor() as usize).max(1));
    let probe = model(0.0, 0.0);
    let eval = Evaluator {
        inputs,
        params,
        lamps: &result.lamps,
        query_m: query_radius(params, &result.lamps, std::slice::from_ref(&probe)),
    };
    let before_summary = summarize(
        &result.profiles[stretch.walkway],
        stretch.first,
        stretch.last,
    );
    let mut last = None;
    for n in 1..=most {
        cancel.check()?;
        let along_m = spread(start, end, n);
        let points: Vec<Coord<f64>> = along_m.iter().map(|&m| line.point_at(m)).collect();
        let added: Vec<LampModel> = points.iter().map(|p| model(p.x, p.y)).collect();
        let profile = eval.walkway(
            stretch.walkway,
            ExtraLight {
                switched_on: &[],
                added: &added,
            },
        );
        let meets = (stretch.first..=stretch.last).all(|i| profile.state(i) == LightState::Lit);
        let candidate = Proposal {
            positions: points.iter().map(|p| [p.x, p.y]).collect(),
            along_m,
            spacing_m: spacing(start, end, n),
            start,
            end,
            existing_lamps: 0,
            before: before_summary,
            after: summarize(&profile, stretch.first, stretch.last),
            meets_class: meets,
        };
        if meets {
            last = Some(candidate);
            break;
        }
        last = Some(candidate);
    }
    let mut p = last.expect("at least one count is tried");
    p.existing_lamps = lamps_reaching(result, inputs, stretch);
    Ok(p)
}

/// Working lamps whose light reaches the stretch's line.
fn lamps_reaching(result: &LightingResult, inputs: &LightingInputs<'_>, s: &Stretch) -> usize {
    let r = result
        .lamps
        .iter()
        .map(|l| l.reach2.sqrt())
        .fold(0.0, f64::max);
    let Some(first) = s.geometry.0.first() else {
        return 0;
    };
    let (mut lo, mut hi) = ([first.x, first.y], [first.x, first.y]);
    for c in &s.geometry.0 {
        lo = [lo[0].min(c.x), lo[1].min(c.y)];
        hi = [hi[0].max(c.x), hi[1].max(c.y)];
    }
    inputs
        .lamp_tree
        .locate_in_envelope(&AABB::from_corners(
            [lo[0] - r, lo[1] - r],
            [hi[0] + r, hi[1] + r],
        ))
        .filter(|e| {
            let l = &result.lamps[e.data];
            l.is_on() && distance_to_line(&s.geometry, Coord { x: l.x, y: l.y }).powi(2) <= l.reach2
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lamps_are_spread_evenly_over_the_span() {
        let both = spread(End::Lamp(0.0), End::Lamp(150.0), 4);
        assert_eq!(both, vec![30.0, 60.0, 90.0, 120.0]);
        assert_eq!(spacing(End::Lamp(0.0), End::Lamp(150.0), 4), Some(30.0));
        // One lamp at the start: spacing 100 / 2.5 = 40, the last lamp 20 m from the end.
        assert_eq!(
            spread(End::Lamp(0.0), End::Open(100.0), 2),
            vec![40.0, 80.0]
        );
        assert_eq!(
            spread(End::Open(0.0), End::Lamp(100.0), 2),
            vec![20.0, 60.0]
        );
        assert_eq!(
            spread(End::Open(10.0), End::Open(110.0), 2),
            vec![35.0, 85.0]
        );
        assert_eq!(spacing(End::Open(10.0), End::Open(110.0), 1), None);
    }
}
