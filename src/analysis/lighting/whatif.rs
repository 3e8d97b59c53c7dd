//! What if: light added to the network, and what it changes.
//!
//! Two questions use the same machinery, recomputing only the walkways the extra light reaches
//! (an R-tree query on the walkway segments) with the same samples as the base analysis, so that
//! sample *i* before and after is the same place:
//!
//! * **Proposed lamps** (the planning tool for the *åtgärdsplan*): for each dark or unknown
//!   stretch on an affected walkway, its samples after the change. A stretch is **fixed** when
//!   all of them meet the class, **improved** when its failing length shrinks or its mean lux
//!   rises. A proposed lamp lights, but it is not *lamp data* where it alone misses the class
//!   minimum: proposing a lamp says nothing about lamps already there, so an unknown stretch
//!   stays unknown beyond the new lamp's light instead of turning dark.
//! * **Lamps that are off**: a dark stretch *exists because lamps are off* when switching all of
//!   them on fixes it entirely. It is attributed to each off lamp that, switched on alone, turns
//!   at least one of its samples lit (or, when none does alone, to all off lamps reaching it).

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use super::stretches::{Evaluator, ExtraLight, LightState, WalkwayProfile};
use super::{LampModel, LightingInputs, LightingResult, Stretch, build_stretches, query_radius};
use crate::analysis::cancel::{Cancel, Cancelled};

/// A lamp someone proposes to put up, in EPSG:3006.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedLamp {
    pub x: f64,
    pub y: f64,
    pub height_m: Option<f64>,
    pub lumen: Option<f64>,
    pub watt: Option<f64>,
}

/// Light on a stretch: mean and minimum lux over samples with lamp data, and the length that
/// fails (dark or unknown).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LuxSummary {
    pub mean_lux: Option<f64>,
    pub min_lux: Option<f64>,
    pub length_m: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Improvement {
    pub id: String,
    pub before: LuxSummary,
    pub after: LuxSummary,
}

/// What proposed lamps change.
#[derive(Debug, Clone)]
pub struct WhatIf {
    /// Ids of dark or unknown stretches that fully meet the class afterwards.
    pub fixed: Vec<String>,
    pub improved: Vec<Improvement>,
    /// The dark and unknown stretches of the affected walkways afterwards.
    pub new_stretches: Vec<Stretch>,
    /// The proposed lamps as modelled (defaults applied).
    pub proposed: Vec<LampModel>,
    /// Indices of the walkways recomputed.
    pub walkways: Vec<usize>,
}

/// Summary of samples `first..=last` of a profile.
pub fn summarize(p: &WalkwayProfile, first: usize, last: usize) -> LuxSummary {
    let (mean, min, _) = p.lux_summary(first, last);
    let failing: f64 = (first..=last)
        .filter(|&i| p.state(i) != LightState::Lit)
        .map(|i| {
            let (a, b) = p.span(i, i);
            b - a
        })
        .sum();
    LuxSummary {
        mean_lux: mean,
        min_lux: min,
        length_m: failing,
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Recomputes the walkways proposed lamps reach.
pub fn what_if(
    result: &LightingResult,
    inputs: &LightingInputs<'_>,
    proposed: &[ProposedLamp],
) -> WhatIf {
    what_if_with(result, inputs, proposed, &Cancel::never()).expect("never cancelled")
}

/// [`what_if`], stopping with [`Cancelled`] soon after `cancel` is tripped (it looks once per
/// walkway).
pub fn what_if_with(
    result: &LightingResult,
    inputs: &LightingInputs<'_>,
    proposed: &[ProposedLamp],
    cancel: &Cancel,
) -> Result<WhatIf, Cancelled> {
    cancel.check()?;
    let params = &result.params;
    let ph = &params.photometry;
    let added: Vec<LampModel> = proposed
        .iter()
        .map(|p| LampModel::new(ph, p.x, p.y, p.height_m, p.lumen, p.watt))
        .collect();
    let mut walkways: Vec<usize> = added
        .iter()
        .flat_map(|l| {
            inputs
                .walkway_tree
                .locate_within_distance([l.x, l.y], l.reach2)
                .map(|s| s.data.0)
        })
        .collect();
    walkways.sort_unstable();
    walkways.dedup();
    let eval = Evaluator {
        inputs,
        params,
        lamps: &result.lamps,
        query_m: query_radius(params, &result.lamps, &added),
    };
    let max_reach = result
        .lamps
        .iter()
        .map(|l| l.reach2.sqrt())
        .fold(0.0, f64::max);
    let per_walkway: Vec<(Vec<String>, Vec<Improvement>, Vec<Stretch>)> = walkways
        .par_iter()
        .map(|&wi| -> Result<_, Cancelled> {
            cancel.check()?;
            let after = eval.walkway(
                wi,
                ExtraLight {
                    switched_on: &[],
                    added: &added,
                },
            );
            let (mut fixed, mut improved) = (Vec::new(), Vec::new());
            for s in stretches_of(result, wi).filter(|s| s.state != LightState::Lit) {
                let before = LuxSummary {
                    mean_lux: s.mean_lux,
                    min_lux: s.min_lux,
                    length_m: s.length_m,
                };
                let now = summarize(&after, s.first, s.last);
                if now.length_m <= 1e-9 {
                    fixed.push(s.id.clone());
                } else if now.length_m < before.length_m - 1e-9
                    || now.mean_lux.unwrap_or(0.0) > before.mean_lux.unwrap_or(0.0) + 0.005
                {
                    improved.push(Improvement {
                        id: s.id.clone(),
                        before: round_summary(before),
                        after: round_summary(now),
                    });
                }
            }
            let new: Vec<Stretch> =
                build_stretches(inputs, params, &result.lamps, max_reach, wi, &after)
                    .into_iter()
                    .filter(|s| s.state != LightState::Lit)
                    .collect();
            Ok((fixed, improved, new))
        })
        .collect::<Result<_, Cancelled>>()?;
    let mut out = WhatIf {
        fixed: Vec::new(),
        improved: Vec::new(),
        new_stretches: Vec::new(),
        proposed: added,
        walkways,
    };
    for (f, i, n) in per_walkway {
        out.fixed.extend(f);
        out.improved.extend(i);
        out.new_stretches.extend(n);
    }
    Ok(out)
}

fn round_summary(s: LuxSummary) -> LuxSummary {
    LuxSummary {
        mean_lux: s.mean_lux.map(round2),
        min_lux: s.min_lux.map(round2),
        length_m: round2(s.length_m),
    }
}

/// The stretches of walkway `wi` (they are stored by walkway).
fn stretches_of(result: &LightingResult, wi: usize) -> impl Iterator<Item = &Stretch> {
    let start = result.stretches.partition_point(|s| s.walkway < wi);
    result.stretches[start..]
        .iter()
        .take_while(move |s| s.walkway == wi)
}

/// Fills `darkened_by` of the stretches that exist only because lamps are off, and returns, for
/// every off lamp, the stretches it darkens (see the module documentation).
pub(crate) fn darkened_by_off_lamps(
    eval: &Evaluator<'_>,
    profiles: &[WalkwayProfile],
    stretches: &mut [Stretch],
    cancel: &Cancel,
) -> Result<HashMap<usize, Vec<usize>>, Cancelled> {
    let off: Vec<usize> = (0..eval.lamps.len())
        .filter(|&k| !eval.lamps[k].is_on())
        .collect();
    let mut darkens: HashMap<usize, Vec<usize>> = HashMap::new();
    if off.is_empty() {
        return Ok(darkens);
    }
    let mut by_walkway: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, s) in stretches.iter().enumerate() {
        if s.state == LightState::Dark && !s.lamps_off_idx.is_empty() {
            by_walkway.entry(s.walkway).or_default().push(i);
        }
    }
    let mut jobs: Vec<(usize, Vec<usize>)> = by_walkway.into_iter().collect();
    jobs.sort_unstable();
    let found: Vec<(usize, Vec<usize>)> = jobs
        .par_iter()
        .map(
            |(wi, list)| -> Result<Vec<(usize, Vec<usize>)>, Cancelled> {
                cancel.check()?;
                let base = &profiles[*wi];
                let all_on = eval.walkway(
                    *wi,
                    ExtraLight {
                        switched_on: &off,
                        added: &[],
                    },
                );
                let mut single: HashMap<usize, WalkwayProfile> = HashMap::new();
                let mut out = Vec::new();
                for &si in list {
                    let s = &stretches[si];
                    let all_fixed = (s.first..=s.last).all(|i| all_on.state(i) == LightState::Lit);
                    if !all_fixed {
                        continue;
                    }
                    let mut by: Vec<usize> = Vec::new();
                    for &k in &s.lamps_off_idx {
                        let p = single.entry(k).or_insert_with(|| {
                            eval.walkway(
                                *wi,
                                ExtraLight {
                                    switched_on: std::slice::from_ref(&k),
                                    added: &[],
                                },
                            )
                        });
                        if (s.first..=s.last).any(|i| {
                            base.state(i) == LightState::Dark && p.state(i) == LightState::Lit
                        }) {
                            by.push(k);
                        }
                    }
                    if by.is_empty() {
                        by = s.lamps_off_idx.clone();
                    }
                    out.push((si, by));
                }
                Ok(out)
            },
        )
        .collect::<Result<Vec<_>, Cancelled>>()?
        .into_iter()
        .flatten()
        .collect();
    for (si, by) in found {
        for &k in &by {
            darkens.entry(k).or_default().push(si);
        }
        stretches[si].darkened_by = by
            .iter()
            .map(|&k| eval.inputs.lamps[k].id.clone())
            .collect();
    }
    for v in darkens.values_mut() {
        v.sort_unstable();
    }
    Ok(darkens)
}
