//! Emerging hot spots: Getis-Ord Gi* over a space-time cube, a Mann–Kendall trend per cell,
//! and the categories of ArcGIS Pro's *Emerging Hot Spot Analysis*.
//!
//! # The cube
//!
//! Incidents are counted into cells of a square or hexagonal [`super::grid`] and into time
//! **steps**: ISO weeks (Monday to Sunday) or calendar months, local Stockholm dates, whole
//! steps only ([`Steps::whole_within`]). An event enters the step that holds all of its dates
//! (a window from Friday to Monday is in no single week and is left out, and said so); the
//! cube's locations are the cells with at least one event in some step, or, with a study
//! area, every cell whose centre is in it — as ArcGIS builds the cube without and with an
//! analysis mask.
//!
//! # Gi* per bin
//!
//! The bin (i, t) has the neighbourhood of every bin (j, τ) with j within `band` of i (i
//! itself included, binary weights) and `t − k ≤ τ ≤ t`, k = `neighbourhood_steps` (default
//! 1: the step and the one before, ArcGIS's default; the first steps have fewer). Over all n
//! bins of the cube, with x̄ and S the mean and population standard deviation of the counts
//! and W the bins in the neighbourhood,
//!
//! ```text
//!   zᵢₜ = (Σ neighbourhood − x̄·W) / (S · √((n·W − W²)/(n − 1)))
//! ```
//!
//! — the Gi* of [`super::gistar`], with the cube's bins as the population. The two-sided p
//! of every bin enters one Benjamini–Hochberg procedure over the whole cube at
//! [`BIN_ALPHA`]; a bin is a significant hot (cold) spot when its p is at most the cut-off and z
//! is positive (negative).
//!
//! # Trend and categories
//!
//! Each location's z-scores, in time order, get the Mann–Kendall test ([`mann_kendall`], as
//! `pymannkendall.original_test`): S, its variance with ties, the continuity-corrected Z, the
//! two-sided p and Kendall's τ = S / (n(n−1)/2). The trend is significant at
//! [`TREND_ALPHA`]. [`classify`] then applies ESRI's definitions ("at least 90 %" read as
//! ≥ 0.9·n steps):
//!
//! | category | the final step | the other steps |
//! | --- | --- | --- |
//! | new | hot | no other significant bin |
//! | consecutive | hot | one run of ≥ 2 hot bins ending at the final step, nothing significant before it, < 90 % hot |
//! | intensifying | hot | ≥ 90 % hot, z rising (significant) |
//! | persistent | hot | ≥ 90 % hot, no significant trend |
//! | diminishing | hot | ≥ 90 % hot, z falling (significant) |
//! | sporadic | hot | < 90 % hot, on and off, never cold |
//! | oscillating | hot | < 90 % hot, cold at some earlier step |
//! | historical | not hot | ≥ 90 % hot |
//!
//! and the same for cold spots (with "rising" and "falling" turned round: an intensifying cold
//! spot's z falls). Where ESRI's wording lets two categories fit, the rule that decides is
//! written above: a location that was ever significant of the other sign is not *new* or
//! *consecutive* but *oscillating* (as PySAL's and sfdep's implementations read it), and the
//! final step's sign is looked at before the history (hot 90 % of the time and cold at the
//! end is an oscillating cold spot, not a historical hot spot).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use chrono::{Datelike, Months, NaiveDate};

use super::gistar::{self, StudyArea};
use super::grid::{CellId, Grid};
use crate::analysis::cancel::{CHECK_EVERY, Cancel, Cancelled};

/// A bin is significant when its p is at most the Benjamini–Hochberg cut-off at this false
/// discovery rate, over all bins of the cube.
pub const BIN_ALPHA: f64 = 0.05;
/// A Mann–Kendall trend is significant at this two-sided p.
pub const TREND_ALPHA: f64 = 0.05;
/// ESRI's "90 percent of the time-step intervals".
pub const SHARE: f64 = 0.9;
/// Fewer steps than this hold no trend worth classifying (and below ten, 90 % means all).
pub const MIN_STEPS: usize = 10;
/// Ten years of weeks.
pub const MAX_STEPS: usize = 520;
/// The largest `neighbourhood_steps`.
pub const MAX_NEIGHBOURHOOD_STEPS: usize = 12;

// ---------------------------------------------------------------------------------------------
// Time steps

/// The length of a time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Week,
    Month,
}

impl StepKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// Consecutive whole steps: step i covers the local dates `bounds[i]` up to, not including,
/// `bounds[i + 1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps {
    pub kind: StepKind,
    pub bounds: Vec<NaiveDate>,
}

impl Steps {
    /// The whole weeks (Monday–Sunday) or calendar months from `from` to `to`, both dates
    /// included: a step only partly inside is left out. At most `MAX_STEPS + 1` steps are laid
    /// out (the caller refuses more).
    pub fn whole_within(kind: StepKind, from: NaiveDate, to: NaiveDate) -> Self {
        let first = match kind {
            StepKind::Week => {
                let back = from.weekday().num_days_from_monday();
                if back == 0 {
                    Some(from)
                } else {
                    from.checked_add_days(chrono::Days::new(u64::from(7 - back)))
                }
            }
            StepKind::Month => {
                if from.day() == 1 {
                    Some(from)
                } else {
                    from.with_day(1)
                        .and_then(|d| d.checked_add_months(Months::new(1)))
                }
            }
        };
        let mut bounds = Vec::new();
        if let Some(mut start) = first {
            bounds.push(start);
            while bounds.len() <= MAX_STEPS + 1 {
                let next = match kind {
                    StepKind::Week => start.checked_add_days(chrono::Days::new(7)),
                    StepKind::Month => start.checked_add_months(Months::new(1)),
                };
                // A step is whole when its last day, the day before the next start, is ≤ to.
                match next {
                    Some(n) if n.pred_opt().is_some_and(|last| last <= to) => {
                        bounds.push(n);
                        start = n;
                    }
                    _ => break,
                }
            }
        }
        if bounds.len() < 2 {
            bounds.clear();
        }
        Self { kind, bounds }
    }

    /// How many steps.
    pub fn len(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first and last local date of step `i`.
    pub fn days(&self, i: usize) -> (NaiveDate, NaiveDate) {
        let last = self.bounds[i + 1].pred_opt().expect("a step has a day");
        (self.bounds[i], last)
    }

    /// The step holding every date from `a` to `b`; `None` when they are outside the steps or
    /// in two of them.
    pub fn index(&self, a: NaiveDate, b: NaiveDate) -> Option<usize> {
        if self.is_empty() || a < self.bounds[0] || b >= self.bounds[self.bounds.len() - 1] {
            return None;
        }
        // The last bound at or before a.
        let i = self.bounds.partition_point(|d| *d <= a) - 1;
        (b < self.bounds[i + 1]).then_some(i)
    }

    /// `2026-W47` or `2026-11`.
    pub fn label(&self, i: usize) -> String {
        let d = self.bounds[i];
        match self.kind {
            StepKind::Week => {
                let w = d.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            StepKind::Month => format!("{}-{:02}", d.year(), d.month()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The cube

/// Counts per location and step, location-major: `counts[c * steps + t]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cube {
    pub cells: Vec<CellId>,
    pub steps: usize,
    pub counts: Vec<f64>,
}

impl Cube {
    /// The cube of events given as (EPSG:3006 position, step). Its locations are the cells
    /// holding an event, or with `study_area` every cell whose centre is in it (those holding
    /// an event outside it included); `None` when the study area has more than
    /// [`gistar::MAX_STUDY_CELLS`] cells.
    pub fn count(
        grid: &Grid,
        events: &[([f64; 2], usize)],
        steps: usize,
        study_area: Option<&dyn StudyArea>,
        cancel: &Cancel,
    ) -> Result<Option<Self>, Cancelled> {
        let ids: Vec<CellId> = events.par_iter().map(|(p, _)| grid.cell_of(*p)).collect();
        cancel.check()?;
        let mut cells: Vec<CellId> = match study_area {
            Some(area) => {
                let (lo, hi) = area.bounds();
                let Some(all) = gistar::cells_covering(grid, lo, hi, cancel)? else {
                    return Ok(None);
                };
                let mut inside: Vec<CellId> = all
                    .into_par_iter()
                    .filter(|id| area.contains(grid.centre(*id)))
                    .collect();
                inside.extend_from_slice(&ids);
                inside
            }
            None => ids.clone(),
        };
        cells.par_sort_unstable_by_key(|c| (c.1, c.0));
        cells.dedup();
        cancel.check()?;
        let index = CellIndex::new(&cells);
        let mut counts = vec![0.0; cells.len() * steps];
        for (k, (id, (_, t))) in ids.iter().zip(events).enumerate() {
            if k % CHECK_EVERY == 0 {
                cancel.check()?;
            }
            let c = index.get(*id).expect("every event's cell is a location");
            counts[c * steps + t] += 1.0;
        }
        Ok(Some(Self {
            cells,
            steps,
            counts,
        }))
    }

    /// A location's series.
    pub fn series(&self, c: usize) -> &[f64] {
        &self.counts[c * self.steps..(c + 1) * self.steps]
    }
}

/// Location index of a cell: a dense rectangle when it is not much larger than the cells, a
/// hash map otherwise.
struct CellIndex {
    lo: CellId,
    width: i64,
    height: i64,
    dense: Vec<u32>,
    map: std::collections::HashMap<CellId, u32>,
}

impl CellIndex {
    const NONE: u32 = u32::MAX;

    fn new(cells: &[CellId]) -> Self {
        let (mut lo, mut hi) = ((i32::MAX, i32::MAX), (i32::MIN, i32::MIN));
        for id in cells {
            lo = (lo.0.min(id.0), lo.1.min(id.1));
            hi = (hi.0.max(id.0), hi.1.max(id.1));
        }
        let (width, height) = if cells.is_empty() {
            (0, 0)
        } else {
            ((hi.0 - lo.0 + 1) as i64, (hi.1 - lo.1 + 1) as i64)
        };
        let mut out = Self {
            lo,
            width,
            height,
            dense: Vec::new(),
            map: Default::default(),
        };
        if width * height <= (16 * cells.len() as i64).max(1 << 16) {
            out.dense = vec![Self::NONE; (width * height) as usize];
            for (i, id) in cells.iter().enumerate() {
                let s = ((id.1 - lo.1) as i64 * width + (id.0 - lo.0) as i64) as usize;
                out.dense[s] = i as u32;
            }
        } else {
            out.map = cells
                .iter()
                .enumerate()
                .map(|(i, id)| (*id, i as u32))
                .collect();
        }
        out
    }

    fn get(&self, c: CellId) -> Option<usize> {
        if self.dense.is_empty() {
            return self.map.get(&c).map(|i| *i as usize);
        }
        let a = c.0 as i64 - self.lo.0 as i64;
        let b = c.1 as i64 - self.lo.1 as i64;
        if a < 0 || b < 0 || a >= self.width || b >= self.height {
            return None;
        }
        let i = self.dense[(b * self.width + a) as usize];
        (i != Self::NONE).then_some(i as usize)
    }
}

// ---------------------------------------------------------------------------------------------
// Gi* over the cube

/// Space-time Gi* z-scores of every bin (location-major, like the counts) and each location's
/// number of cells within the band (itself included).
pub fn space_time_gi(
    grid: &Grid,
    cube: &Cube,
    band: f64,
    neighbourhood_steps: usize,
    cancel: &Cancel,
) -> Result<(Vec<f64>, Vec<u32>), Cancelled> {
    let steps = cube.steps;
    let locations = cube.cells.len();
    if locations == 0 || steps == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let offsets: Vec<CellId> = grid
        .offsets_within_unsorted(band, cancel)?
        .into_iter()
        .map(|o| o.0)
        .collect();
    let index = CellIndex::new(&cube.cells);
    let n = (locations * steps) as f64;
    let sum: f64 = cube.counts.par_iter().sum();
    let sum2: f64 = cube.counts.par_iter().map(|y| y * y).sum();
    let mean = sum / n;
    let sd = (sum2 / n - mean * mean).max(0.0).sqrt();
    let k = neighbourhood_steps;
    let mut z = vec![0.0; locations * steps];
    let mut cards = vec![0u32; locations];
    z.par_chunks_mut(steps)
        .zip(cards.par_iter_mut())
        .zip(cube.cells.par_iter())
        .try_for_each_init(
            || vec![0.0; steps],
            |lag, ((zs, card), id)| -> Result<(), Cancelled> {
                cancel.check()?;
                lag.iter_mut().for_each(|v| *v = 0.0);
                let mut c = 0u32;
                for off in &offsets {
                    if let Some(j) = index.get((id.0 + off.0, id.1 + off.1)) {
                        c += 1;
                        for (l, y) in lag.iter_mut().zip(cube.series(j)) {
                            *l += y;
                        }
                    }
                }
                *card = c;
                // Counts are whole numbers: the running sum over the last k + 1 steps is exact.
                let mut window = 0.0;
                for t in 0..steps {
                    window += lag[t];
                    if t > k {
                        window -= lag[t - k - 1];
                    }
                    let w = f64::from(c) * (t.min(k) + 1) as f64;
                    let v = (window - mean * w) / (sd * ((n * w - w * w) / (n - 1.0)).sqrt());
                    zs[t] = if v.is_finite() { v } else { 0.0 };
                }
                Ok(())
            },
        )?;
    Ok((z, cards))
}

// ---------------------------------------------------------------------------------------------
// Mann–Kendall

/// The Mann–Kendall trend test of a series (`pymannkendall.original_test`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MannKendall {
    /// Σ_{i<j} sign(xⱼ − xᵢ).
    pub s: f64,
    /// Var(S) = (n(n−1)(2n+5) − Σ t(t−1)(2t+5)) / 18 over the groups of t equal values.
    pub var_s: f64,
    /// (S − 1)/√Var(S) for S > 0, (S + 1)/√Var(S) for S < 0, 0 for S = 0.
    pub z: f64,
    /// Two-sided.
    pub p: f64,
    /// S / (n(n−1)/2).
    pub tau: f64,
}

/// [`MannKendall`] of `x` (fewer than two values: no trend, p = 1).
pub fn mann_kendall(x: &[f64]) -> MannKendall {
    let n = x.len();
    if n < 2 {
        return MannKendall {
            s: 0.0,
            var_s: 0.0,
            z: 0.0,
            p: 1.0,
            tau: 0.0,
        };
    }
    let mut s = 0i64;
    for i in 0..n - 1 {
        let xi = x[i];
        for xj in &x[i + 1..] {
            s += i64::from(*xj > xi) - i64::from(*xj < xi);
        }
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let tie_term: f64 = sorted
        .chunk_by(|a, b| a == b)
        .map(|g| {
            let t = g.len() as f64;
            t * (t - 1.0) * (2.0 * t + 5.0)
        })
        .sum();
    let nf = n as f64;
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_term) / 18.0;
    let s = s as f64;
    let z = if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let z = if z.is_finite() { z } else { 0.0 };
    MannKendall {
        s,
        var_s,
        z,
        p: gistar::two_sided_p(z),
        tau: s / (0.5 * nf * (nf - 1.0)),
    }
}

// ---------------------------------------------------------------------------------------------
// Categories

/// ESRI's emerging hot spot categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    NewHotSpot,
    ConsecutiveHotSpot,
    IntensifyingHotSpot,
    PersistentHotSpot,
    DiminishingHotSpot,
    SporadicHotSpot,
    OscillatingHotSpot,
    HistoricalHotSpot,
    NewColdSpot,
    ConsecutiveColdSpot,
    IntensifyingColdSpot,
    PersistentColdSpot,
    DiminishingColdSpot,
    SporadicColdSpot,
    OscillatingColdSpot,
    HistoricalColdSpot,
    NoPattern,
}

impl Category {
    pub const ALL: [Category; 17] = [
        Self::NewHotSpot,
        Self::ConsecutiveHotSpot,
        Self::IntensifyingHotSpot,
        Self::PersistentHotSpot,
        Self::DiminishingHotSpot,
        Self::SporadicHotSpot,
        Self::OscillatingHotSpot,
        Self::HistoricalHotSpot,
        Self::NewColdSpot,
        Self::ConsecutiveColdSpot,
        Self::IntensifyingColdSpot,
        Self::PersistentColdSpot,
        Self::DiminishingColdSpot,
        Self::SporadicColdSpot,
        Self::OscillatingColdSpot,
        Self::HistoricalColdSpot,
        Self::NoPattern,
    ];

    /// `new_hot_spot`, …, `no_pattern`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewHotSpot => "new_hot_spot",
            Self::ConsecutiveHotSpot => "consecutive_hot_spot",
            Self::IntensifyingHotSpot => "intensifying_hot_spot",
            Self::PersistentHotSpot => "persistent_hot_spot",
            Self::DiminishingHotSpot => "diminishing_hot_spot",
            Self::SporadicHotSpot => "sporadic_hot_spot",
            Self::OscillatingHotSpot => "oscillating_hot_spot",
            Self::HistoricalHotSpot => "historical_hot_spot",
            Self::NewColdSpot => "new_cold_spot",
            Self::ConsecutiveColdSpot => "consecutive_cold_spot",
            Self::IntensifyingColdSpot => "intensifying_cold_spot",
            Self::PersistentColdSpot => "persistent_cold_spot",
            Self::DiminishingColdSpot => "diminishing_cold_spot",
            Self::SporadicColdSpot => "sporadic_cold_spot",
            Self::OscillatingColdSpot => "oscillating_cold_spot",
            Self::HistoricalColdSpot => "historical_cold_spot",
            Self::NoPattern => "no_pattern",
        }
    }

    /// The Swedish name.
    pub fn label_sv(self) -> &'static str {
        match self {
            Self::NewHotSpot => "Ny hotspot",
            Self::ConsecutiveHotSpot => "Sammanhängande hotspot",
            Self::IntensifyingHotSpot => "Tilltagande hotspot",
            Self::PersistentHotSpot => "Ihållande hotspot",
            Self::DiminishingHotSpot => "Avtagande hotspot",
            Self::SporadicHotSpot => "Sporadisk hotspot",
            Self::OscillatingHotSpot => "Växlande hotspot",
            Self::HistoricalHotSpot => "Tidigare hotspot",
            Self::NewColdSpot => "Ny coldspot",
            Self::ConsecutiveColdSpot => "Sammanhängande coldspot",
            Self::IntensifyingColdSpot => "Tilltagande coldspot",
            Self::PersistentColdSpot => "Ihållande coldspot",
            Self::DiminishingColdSpot => "Avtagande coldspot",
            Self::SporadicColdSpot => "Sporadisk coldspot",
            Self::OscillatingColdSpot => "Växlande coldspot",
            Self::HistoricalColdSpot => "Tidigare coldspot",
            Self::NoPattern => "Inget mönster",
        }
    }

    pub fn is_hot(self) -> bool {
        self < Self::NewColdSpot
    }
}

/// The category of a location from its bins' significance in time order (+1 hot, −1 cold,
/// 0 neither) and the Mann–Kendall test of its z-scores. The rules are the module's table.
pub fn classify(history: &[i8], trend: &MannKendall) -> Category {
    let Some(&last) = history.last() else {
        return Category::NoPattern;
    };
    let n = history.len() as f64;
    let hot = history.iter().filter(|b| **b > 0).count();
    let cold = history.iter().filter(|b| **b < 0).count();
    let most = |k: usize| k as f64 >= SHARE * n - 1e-9;
    let rising = trend.p <= TREND_ALPHA && trend.s > 0.0;
    let falling = trend.p <= TREND_ALPHA && trend.s < 0.0;
    use Category::*;
    if last == 0 {
        return if most(hot) {
            HistoricalHotSpot
        } else if most(cold) {
            HistoricalColdSpot
        } else {
            NoPattern
        };
    }
    let (same, other, growing, shrinking) = if last > 0 {
        (hot, cold, rising, falling)
    } else {
        (cold, hot, falling, rising)
    };
    let pick = |h: Category, c: Category| if last > 0 { h } else { c };
    let run = history.iter().rev().take_while(|b| **b == last).count();
    let significant = hot + cold;
    if most(same) {
        if growing {
            pick(IntensifyingHotSpot, IntensifyingColdSpot)
        } else if shrinking {
            pick(DiminishingHotSpot, DiminishingColdSpot)
        } else {
            pick(PersistentHotSpot, PersistentColdSpot)
        }
    } else if significant == 1 {
        pick(NewHotSpot, NewColdSpot)
    } else if run >= 2 && significant == run {
        pick(ConsecutiveHotSpot, ConsecutiveColdSpot)
    } else if other > 0 {
        pick(OscillatingHotSpot, OscillatingColdSpot)
    } else {
        pick(SporadicHotSpot, SporadicColdSpot)
    }
}

// ---------------------------------------------------------------------------------------------
// The analysis

/// One location of the cube.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    pub id: CellId,
    /// EPSG:3006.
    pub centre: [f64; 2],
    /// Events over all steps.
    pub count: f64,
    /// Cells within the band, itself included.
    pub neighbours: u32,
    /// Per step: +1 significant hot spot, −1 cold, 0 neither.
    pub history: Vec<i8>,
    /// The final step's z and two-sided p.
    pub last_z: f64,
    pub last_p: f64,
    /// Mann–Kendall of the location's z-scores.
    pub trend: MannKendall,
    pub category: Category,
}

/// An emerging hot spot analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EhsaResult {
    pub locations: Vec<Location>,
    pub steps: usize,
    /// Bins of the cube (locations × steps).
    pub bins: usize,
    /// The Benjamini–Hochberg p cut-off at [`BIN_ALPHA`] (`None`: no bin significant).
    pub fdr_cutoff: Option<f64>,
    pub significant_bins: usize,
}

/// Gi* per bin, FDR over the cube, Mann–Kendall per location, categories.
pub fn analyse(
    grid: &Grid,
    cube: &Cube,
    band: f64,
    neighbourhood_steps: usize,
    cancel: &Cancel,
) -> Result<EhsaResult, Cancelled> {
    let steps = cube.steps;
    let (z, cards) = space_time_gi(grid, cube, band, neighbourhood_steps, cancel)?;
    let p: Vec<f64> = z.par_iter().map(|z| gistar::two_sided_p(*z)).collect();
    cancel.check()?;
    let cutoff = gistar::bh_cutoff(&p, BIN_ALPHA);
    cancel.check()?;
    let locations: Vec<Location> = cube
        .cells
        .par_iter()
        .enumerate()
        .map(|(c, id)| -> Result<Location, Cancelled> {
            if c % CHECK_EVERY == 0 {
                cancel.check()?;
            }
            let zs = &z[c * steps..(c + 1) * steps];
            let ps = &p[c * steps..(c + 1) * steps];
            let history: Vec<i8> = zs
                .iter()
                .zip(ps)
                .map(|(z, p)| match cutoff {
                    Some(cut) if *p <= cut && *z > 0.0 => 1,
                    Some(cut) if *p <= cut && *z < 0.0 => -1,
                    _ => 0,
                })
                .collect();
            let trend = mann_kendall(zs);
            let category = classify(&history, &trend);
            Ok(Location {
                id: *id,
                centre: grid.centre(*id),
                count: cube.series(c).iter().sum(),
                neighbours: cards[c],
                history,
                last_z: zs.last().copied().unwrap_or(0.0),
                last_p: ps.last().copied().unwrap_or(1.0),
                trend,
                category,
            })
        })
        .collect::<Result<_, _>>()?;
    let significant_bins = match cutoff {
        Some(cut) => p.par_iter().filter(|v| **v <= cut).count(),
        None => 0,
    };
    Ok(EhsaResult {
        locations,
        steps,
        bins: z.len(),
        fdr_cutoff: cutoff,
        significant_bins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::hotspot::grid::GridKind;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn whole_weeks_and_months_only() {
        // 2026-01-01 is a Thursday: the first whole week starts Monday 5 January; 2026-03-31
        // is a Tuesday, so the week of 30 March is not whole.
        let w = Steps::whole_within(StepKind::Week, d("2026-01-01"), d("2026-03-31"));
        assert_eq!(w.bounds[0], d("2026-01-05"));
        assert_eq!(w.len(), 12);
        assert_eq!(w.days(11), (d("2026-03-23"), d("2026-03-29")));
        assert_eq!(w.label(0), "2026-W02");
        let m = Steps::whole_within(StepKind::Month, d("2025-01-15"), d("2025-12-31"));
        assert_eq!(m.bounds[0], d("2025-02-01"));
        assert_eq!(m.len(), 11);
        assert_eq!(m.label(10), "2025-12");
        assert_eq!(m.days(0), (d("2025-02-01"), d("2025-02-28")));
        // A date, a window within a step, a window across two, outside.
        assert_eq!(m.index(d("2025-02-01"), d("2025-02-01")), Some(0));
        assert_eq!(m.index(d("2025-03-30"), d("2025-03-31")), Some(1));
        assert_eq!(m.index(d("2025-03-31"), d("2025-04-01")), None);
        assert_eq!(m.index(d("2025-01-31"), d("2025-01-31")), None);
        assert_eq!(m.index(d("2026-01-01"), d("2026-01-01")), None);
        assert!(Steps::whole_within(StepKind::Month, d("2025-01-02"), d("2025-01-31")).is_empty());
    }

    #[test]
    fn mann_kendall_by_hand() {
        // 1 3 2 4: pairs (1,3)+ (1,2)+ (1,4)+ (3,2)− (3,4)+ (2,4)+ → S = 4, Var = 4·3·13/18.
        let mk = mann_kendall(&[1.0, 3.0, 2.0, 4.0]);
        assert_eq!(mk.s, 4.0);
        assert!((mk.var_s - 156.0 / 18.0).abs() < 1e-12);
        assert!((mk.z - 3.0 / (156.0f64 / 18.0).sqrt()).abs() < 1e-12);
        assert!((mk.tau - 4.0 / 6.0).abs() < 1e-12);
        // Ties: 1 1 2 → S = 2, Var = (3·2·11 − 2·1·9)/18.
        let mk = mann_kendall(&[1.0, 1.0, 2.0]);
        assert_eq!(mk.s, 2.0);
        assert!((mk.var_s - 48.0 / 18.0).abs() < 1e-12);
        // A constant series: no trend, p = 1.
        let mk = mann_kendall(&[2.0; 8]);
        assert_eq!((mk.s, mk.var_s, mk.z, mk.p), (0.0, 0.0, 0.0, 1.0));
    }

    fn trend(s: f64, p: f64) -> MannKendall {
        MannKendall {
            s,
            var_s: 1.0,
            z: s.signum(),
            p,
            tau: s.signum(),
        }
    }

    fn h(pattern: &str) -> Vec<i8> {
        pattern
            .chars()
            .map(|c| match c {
                'H' => 1,
                'C' => -1,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn every_category_by_its_definition() {
        use Category::*;
        let none = trend(0.0, 1.0);
        let up = trend(50.0, 0.001);
        let down = trend(-50.0, 0.001);
        let cases: [(&str, MannKendall, Category); 24] = [
            ("..........", none, NoPattern),
            (".........H", none, NewHotSpot),
            (".........C", none, NewColdSpot),
            ("........HH", none, ConsecutiveHotSpot),
            (".......CCC", none, ConsecutiveColdSpot),
            ("HHHHHHHHHH", up, IntensifyingHotSpot),
            (".HHHHHHHHH", up, IntensifyingHotSpot),
            ("HHHHHHHHHH", none, PersistentHotSpot),
            ("HHHH.HHHHH", trend(3.0, 0.6), PersistentHotSpot),
            ("HHHHHHHHHH", down, DiminishingHotSpot),
            ("CCCCCCCCCC", down, IntensifyingColdSpot),
            ("CCCCCCCCCC", none, PersistentColdSpot),
            ("CCCCCCCCCC", up, DiminishingColdSpot),
            ("H...H....H", none, SporadicHotSpot),
            ("HH..HHH.HH", none, SporadicHotSpot),
            ("C..C.....C", none, SporadicColdSpot),
            ("..C......H", none, OscillatingHotSpot),
            ("..C....HHH", none, OscillatingHotSpot),
            ("H.H......C", none, OscillatingColdSpot),
            ("HHHHHHHHH.", none, HistoricalHotSpot),
            ("CCCCCCCCC.", up, HistoricalColdSpot),
            ("HHHHHHHH..", none, NoPattern),
            // Hot 90 % and cold at the end: the final step decides.
            ("HHHHHHHHHC", none, OscillatingColdSpot),
            // 8 of 9 hot is under 90 %: a sporadic hot spot, not persistent.
            ("HHHH.HHHH", none, SporadicHotSpot),
        ];
        for (pattern, mk, want) in cases {
            assert_eq!(classify(&h(pattern), &mk), want, "{pattern}");
        }
        // Intensifying needs a significant trend: p just above 0.05 is persistent.
        assert_eq!(
            classify(&h("HHHHHHHHHH"), &trend(20.0, 0.051)),
            PersistentHotSpot
        );
        let labels: std::collections::HashSet<&str> =
            Category::ALL.iter().map(|c| c.label_sv()).collect();
        assert_eq!(labels.len(), 17);
        assert!(NewHotSpot.is_hot() && HistoricalHotSpot.is_hot() && !NewColdSpot.is_hot());
    }

    /// Hand-computed Gi* of one bin: two locations, three steps, k = 1.
    #[test]
    fn space_time_gi_by_hand() {
        let grid = Grid::new(GridKind::Square, 100.0);
        // Locations (0,0) and (5,0) (500 m apart, band 100 m: each alone in space).
        let cube = Cube {
            cells: vec![(0, 0), (5, 0)],
            steps: 3,
            counts: vec![4.0, 0.0, 2.0, 1.0, 1.0, 1.0],
        };
        let (z, cards) = space_time_gi(&grid, &cube, 100.0, 1, &Cancel::never()).unwrap();
        assert_eq!(cards, vec![1, 1]);
        let n = 6.0;
        let mean: f64 = 9.0 / 6.0;
        let sd = ((16.0 + 4.0 + 3.0) / 6.0 - mean * mean).sqrt();
        let gi = |sum: f64, w: f64| (sum - mean * w) / (sd * ((n * w - w * w) / (n - 1.0)).sqrt());
        // Location 0: step 0 alone (4), step 1 = steps 0–1 (4 + 0), step 2 = steps 1–2 (0 + 2).
        for (got, want) in z[..3]
            .iter()
            .zip([gi(4.0, 1.0), gi(4.0, 2.0), gi(2.0, 2.0)])
        {
            assert!((got - want).abs() < 1e-12, "{got} {want}");
        }
        // With k = 0 each bin stands alone.
        let (z0, _) = space_time_gi(&grid, &cube, 100.0, 0, &Cancel::never()).unwrap();
        assert!((z0[1] - gi(0.0, 1.0)).abs() < 1e-12);
        // A band of 500 m joins them: step 0 of location 0 sums 4 + 1 over W = 2.
        let (z5, cards) = space_time_gi(&grid, &cube, 500.0, 0, &Cancel::never()).unwrap();
        assert_eq!(cards, vec![2, 2]);
        assert!((z5[0] - gi(5.0, 2.0)).abs() < 1e-12);
    }

    /// A planted cube: a flat background of 4 events per cell and step, and one isolated block
    /// per category whose counts follow the category's story. Each planted centre must be
    /// classified as planted, through Gi*, FDR and Mann–Kendall.
    #[test]
    fn planted_cube_one_location_per_category() {
        use Category::*;
        const STEPS: usize = 20;
        let grid = Grid::new(GridKind::Square, 100.0);
        // 60 × 60 cells; planted centres every 10 cells (far beyond the 150 m band).
        let side = 60;
        let mut cells = Vec::new();
        let mut counts = Vec::new();
        let hot = |s: &[usize]| -> Vec<f64> {
            (0..STEPS)
                .map(|t| if s.contains(&t) { 40.0 } else { 4.0 })
                .collect()
        };
        let all: Vec<usize> = (0..STEPS).collect();
        // (centre, category, the centre's series, the series of its 8 neighbours)
        type Plant = (CellId, Category, Vec<f64>, Option<Vec<f64>>);
        let mut plants: Vec<Plant> = vec![
            ((5, 5), NewHotSpot, hot(&[19]), None),
            ((15, 5), ConsecutiveHotSpot, hot(&[17, 18, 19]), None),
            (
                (25, 5),
                IntensifyingHotSpot,
                (0..STEPS).map(|t| 30.0 + 4.0 * t as f64).collect(),
                None,
            ),
            ((35, 5), PersistentHotSpot, hot(&all), None),
            (
                (45, 5),
                DiminishingHotSpot,
                (0..STEPS).map(|t| 110.0 - 4.0 * t as f64).collect(),
                None,
            ),
            ((55, 5), SporadicHotSpot, hot(&[3, 9, 15, 19]), None),
            (
                (5, 15),
                HistoricalHotSpot,
                hot(&(0..18).collect::<Vec<_>>()),
                None,
            ),
        ];
        // Cold spots: the centre and its 8 neighbours empty at the steps given.
        let cold = |s: &[usize]| -> Vec<f64> {
            (0..STEPS)
                .map(|t| if s.contains(&t) { 0.0 } else { 4.0 })
                .collect()
        };
        plants.push(((15, 15), NewColdSpot, cold(&[19]), Some(cold(&[19]))));
        plants.push(((25, 15), PersistentColdSpot, cold(&all), Some(cold(&all))));
        plants.push((
            (35, 15),
            SporadicColdSpot,
            cold(&[2, 3, 10, 19]),
            Some(cold(&[2, 3, 10, 19])),
        ));
        // Oscillating hot: empty (cold) at steps 4–6, hot at the end.
        let mut osc = cold(&[4, 5, 6]);
        osc[19] = 60.0;
        plants.push(((45, 15), OscillatingHotSpot, osc, Some(cold(&[4, 5, 6]))));
        plants.push((
            (55, 15),
            ConsecutiveColdSpot,
            cold(&[16, 17, 18, 19]),
            Some(cold(&[16, 17, 18, 19])),
        ));
        plants.push((
            (5, 25),
            HistoricalColdSpot,
            cold(&(0..18).collect::<Vec<_>>()),
            Some(cold(&(0..18).collect::<Vec<_>>())),
        ));
        // Intensifying cold: one event per cell of the block, then none; diminishing: the
        // other way round. Every bin is cold.
        let fading: Vec<f64> = (0..STEPS).map(|t| if t < 10 { 1.0 } else { 0.0 }).collect();
        let recovering: Vec<f64> = fading.iter().rev().copied().collect();
        plants.push(((15, 25), IntensifyingColdSpot, fading.clone(), Some(fading)));
        plants.push((
            (25, 25),
            DiminishingColdSpot,
            recovering.clone(),
            Some(recovering),
        ));
        // Oscillating cold: a hot step early, the block empty in the final step.
        let mut osc_cold = cold(&[19]);
        osc_cold[3] = 40.0;
        plants.push(((35, 25), OscillatingColdSpot, osc_cold, Some(cold(&[19]))));
        for j in 0..side {
            for i in 0..side {
                let id = (i, j);
                let mut series = vec![4.0; STEPS];
                for (c, _, centre, ring) in &plants {
                    let (di, dj) = ((i - c.0).abs(), (j - c.1).abs());
                    if di == 0 && dj == 0 {
                        series = centre.clone();
                    } else if di <= 1
                        && dj <= 1
                        && let Some(r) = ring
                    {
                        series = r.clone();
                    }
                }
                cells.push(id);
                counts.extend(series);
            }
        }
        let cube = Cube {
            cells,
            steps: STEPS,
            counts,
        };
        // 150 m: the 3 × 3 block around a cell (diagonals at 141 m).
        let res = analyse(&grid, &cube, 150.0, 1, &Cancel::never()).unwrap();
        assert_eq!(res.bins, side as usize * side as usize * STEPS);
        for (c, want, _, _) in &plants {
            let loc = res.locations.iter().find(|l| l.id == *c).unwrap();
            assert_eq!(
                loc.category, *want,
                "{c:?}: history {:?}, trend {:?}",
                loc.history, loc.trend
            );
        }
        // The flat background far from every plant has no pattern.
        let far = res.locations.iter().find(|l| l.id == (30, 45)).unwrap();
        assert_eq!(far.category, NoPattern);
        // Every category is planted once (no pattern is the background's).
        let planted: std::collections::HashSet<Category> = plants.iter().map(|p| p.1).collect();
        assert_eq!(planted.len(), 16);
        assert!(!planted.contains(&NoPattern));
    }
}
