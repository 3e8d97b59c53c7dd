//! Sampling walkways, classifying each sample, and merging samples into stretches.
//!
//! # Samples
//!
//! A walkway of length L is cut into n = ⌈L / step⌉ equal intervals (step ≤ 2 m by default) and
//! sampled at the n + 1 interval ends. Each sample stands for the half interval on either side of
//! it (half at the two ends of the walkway), so the samples' lengths add up to L exactly.
//!
//! For every sample the horizontal illuminance E from all working lamps in reach is summed (see
//! [`super::illuminance`]); the lamps come from one R-tree query per walkway segment with the
//! segment's box grown by the largest reach.
//!
//! # States, never guessed
//!
//! * A sample *has lamp data* when a known lamp, working or not, stands within
//!   `lamp_data_radius_m` (100 m by default, more than three lamp spacings). OSM lamp mapping is
//!   patchy: where nobody mapped lamps, the absence of lamps says nothing about light.
//! * With lamp data, the class decides (EN 13201-2, both criteria):
//!   - **minimum**: a sample with E < Emin fails;
//!   - **average**: the remaining samples form runs; each run is cut into calculation fields of
//!     at most `field_max_m` (120 m: EN 13201-3 uses the span between two luminaires; a run
//!     holds several) and a field whose mean is below Ē fails as a whole.
//!
//!   Failing samples are `dark`, the others `lit`.
//! * Without lamp data: `lit=no`/`disused` in OSM makes the sample `dark` (someone saw there is
//!   no light); otherwise (`lit=yes`, `automatic`, …, or untagged) it is `unknown`: lit per OSM
//!   perhaps, lamps unknown. Unknown is never reported as dark or as lit.
//!
//! # Stretches
//!
//! Consecutive samples of one state form a stretch, from half a step before its first sample to
//! half a step after its last, clipped to the walkway. Mean and minimum lux are taken over the
//! samples that have lamp data (none: no value).

use geo::Coord;
use rstar::AABB;
use serde::Serialize;

use super::en13201::PClass;
use super::illuminance::LampModel;
use super::line::Measured;
use super::{LightingInputs, LightingParams};
use crate::model::{LitTag, Walkway};

/// What a sample, a piece or a stretch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LightState {
    Dark,
    Unknown,
    Lit,
}

impl LightState {
    pub const ALL: [LightState; 3] = [Self::Dark, Self::Unknown, Self::Lit];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dark => "dark",
            Self::Unknown => "unknown",
            Self::Lit => "lit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }
}

/// Why a sample has its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Cause {
    /// Meets both criteria.
    MeetsClass,
    /// E below the class minimum.
    BelowMinimum,
    /// In a calculation field whose mean is below the class average.
    BelowAverage,
    /// No lamp data, and OSM says `lit=no`.
    TaggedUnlit,
    /// No lamp data, and OSM says lit or nothing.
    NoLampData,
}

impl Cause {
    pub fn state(self) -> LightState {
        match self {
            Self::MeetsClass => LightState::Lit,
            Self::BelowMinimum | Self::BelowAverage | Self::TaggedUnlit => LightState::Dark,
            Self::NoLampData => LightState::Unknown,
        }
    }

    /// Whether the sample's lux is an estimate from known lamps.
    pub fn has_lamp_data(self) -> bool {
        matches!(
            self,
            Self::MeetsClass | Self::BelowMinimum | Self::BelowAverage
        )
    }
}

/// One walkway's samples.
#[derive(Debug, Clone)]
pub struct WalkwayProfile {
    pub length_m: f64,
    /// Distance between samples (≤ the step).
    pub spacing_m: f64,
    pub class: PClass,
    pub lux: Vec<f32>,
    pub cause: Vec<Cause>,
}

impl WalkwayProfile {
    pub fn len(&self) -> usize {
        self.lux.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lux.is_empty()
    }

    pub fn state(&self, i: usize) -> LightState {
        self.cause[i].state()
    }

    /// Position of sample `i` along the walkway.
    pub fn position(&self, i: usize) -> f64 {
        (i as f64 * self.spacing_m).min(self.length_m)
    }

    /// Start and end (metres along) of what samples `first..=last` stand for.
    pub fn span(&self, first: usize, last: usize) -> (f64, f64) {
        let from = (first as f64 - 0.5) * self.spacing_m;
        let to = (last as f64 + 0.5) * self.spacing_m;
        (from.max(0.0), to.min(self.length_m))
    }

    /// Mean and minimum lux over the samples with lamp data in `first..=last`, and that
    /// samples' share.
    pub fn lux_summary(&self, first: usize, last: usize) -> (Option<f64>, Option<f64>, f64) {
        let (mut sum, mut min, mut n) = (0.0f64, f64::INFINITY, 0usize);
        for i in first..=last {
            if self.cause[i].has_lamp_data() {
                let e = self.lux[i] as f64;
                sum += e;
                min = min.min(e);
                n += 1;
            }
        }
        let total = last + 1 - first;
        if n == 0 {
            (None, None, 0.0)
        } else {
            (Some(sum / n as f64), Some(min), n as f64 / total as f64)
        }
    }

    /// Maximal runs of one state: (first, last, state).
    pub fn runs(&self) -> Vec<(usize, usize, LightState)> {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=self.len() {
            if i == self.len() || self.state(i) != self.state(start) {
                if !self.is_empty() {
                    out.push((start, i - 1, self.state(start)));
                }
                start = i;
            }
        }
        out
    }
}

/// Light added on top of the known lamps: lamps switched on and proposed new lamps.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtraLight<'a> {
    /// Indices of known lamps to treat as working, sorted ascending.
    pub switched_on: &'a [usize],
    /// New lamps (they light, but do not count as lamp data where they alone miss the class
    /// minimum: a proposal says nothing about the lamps that are already there).
    pub added: &'a [LampModel],
}

/// Everything the per-walkway computation reads.
pub struct Evaluator<'a> {
    pub inputs: &'a LightingInputs<'a>,
    pub params: &'a LightingParams,
    /// One model per known lamp (same order as `inputs.lamps`).
    pub lamps: &'a [LampModel],
    /// Radius of the lamp query around a segment.
    pub query_m: f64,
}

impl Evaluator<'_> {
    /// Samples and classifies one walkway.
    pub fn walkway(&self, wi: usize, extra: ExtraLight<'_>) -> WalkwayProfile {
        let w: &Walkway = &self.inputs.walkways[wi];
        let class = self.params.classes.for_kind(&w.kind);
        let line = Measured::new(&w.geometry);
        let length = line.length();
        if line.segments() == 0 || length.is_nan() || length <= 0.0 {
            return WalkwayProfile {
                length_m: 0.0,
                spacing_m: 0.0,
                class,
                lux: Vec::new(),
                cause: Vec::new(),
            };
        }
        let n = (length / self.params.sample_step_m).ceil().max(1.0) as usize;
        let spacing = length / n as f64;
        let mut lux = Vec::with_capacity(n + 1);
        let mut cause = Vec::with_capacity(n + 1);
        let emin = class.minimum_lux();
        let data2 = self.params.lamp_data_radius_m * self.params.lamp_data_radius_m;
        let unlit = LitTag::from_osm(w.lit.as_deref()) == LitTag::Unlit;
        let r = self.query_m;
        // (lamp, shines, is a known lamp)
        let mut candidates: Vec<(&LampModel, bool, bool)> = Vec::new();
        let mut sample = 0usize;
        for seg in 0..line.segments() {
            let (a, b) = (line.coords[seg], line.coords[seg + 1]);
            // Samples whose position lies on this segment (the last segment takes the end).
            let end = if seg + 1 == line.segments() {
                n
            } else {
                ((line.cum[seg + 1] / spacing).ceil() as usize)
                    .saturating_sub(1)
                    .min(n)
            };
            if sample > end {
                continue;
            }
            let (lo, hi) = (
                [a.x.min(b.x) - r, a.y.min(b.y) - r],
                [a.x.max(b.x) + r, a.y.max(b.y) + r],
            );
            candidates.clear();
            candidates.extend(
                self.inputs
                    .lamp_tree
                    .locate_in_envelope(&AABB::from_corners(lo, hi))
                    .map(|e| {
                        let l = &self.lamps[e.data];
                        let on = l.is_on() || extra.switched_on.binary_search(&e.data).is_ok();
                        (l, on, true)
                    }),
            );
            candidates.extend(
                extra
                    .added
                    .iter()
                    .filter(|l| l.x >= lo[0] && l.x <= hi[0] && l.y >= lo[1] && l.y <= hi[1])
                    .map(|l| (l, true, false)),
            );
            while sample <= end {
                let m = sample as f64 * spacing;
                let p: Coord<f64> = line.point_on(seg, m);
                let (mut e, mut e_added, mut data) = (0.0f64, 0.0f64, false);
                for &(l, on, known) in &candidates {
                    let (dx, dy) = (l.x - p.x, l.y - p.y);
                    let d2 = dx * dx + dy * dy;
                    if known {
                        data |= d2 <= data2;
                        if on {
                            e += l.lux_at_d2(d2);
                        }
                    } else {
                        e_added += l.lux_at_d2(d2);
                    }
                }
                let total = e + e_added;
                let data = data || e_added >= emin;
                lux.push(total as f32);
                cause.push(if data {
                    if total < emin {
                        Cause::BelowMinimum
                    } else {
                        Cause::MeetsClass
                    }
                } else if unlit {
                    Cause::TaggedUnlit
                } else {
                    Cause::NoLampData
                });
                sample += 1;
            }
        }
        let mut profile = WalkwayProfile {
            length_m: length,
            spacing_m: spacing,
            class,
            lux,
            cause,
        };
        apply_average_criterion(&mut profile, self.params.field_max_m);
        profile
    }
}

/// Cuts each run of samples meeting the minimum into fields of at most `field_max_m` and fails
/// every field whose mean is below the class average.
fn apply_average_criterion(p: &mut WalkwayProfile, field_max_m: f64) {
    let avg = p.class.average_lux();
    let n = p.len();
    let mut i = 0;
    while i < n {
        if p.cause[i] != Cause::MeetsClass {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && p.cause[i] == Cause::MeetsClass {
            i += 1;
        }
        let count = i - start;
        let run_m = count as f64 * p.spacing_m;
        let fields = (run_m / field_max_m).ceil().max(1.0) as usize;
        for f in 0..fields {
            let a = start + count * f / fields;
            let b = start + count * (f + 1) / fields;
            if a >= b {
                continue;
            }
            let mean = p.lux[a..b].iter().map(|&e| e as f64).sum::<f64>() / (b - a) as f64;
            if mean < avg {
                p.cause[a..b].fill(Cause::BelowAverage);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(lux: &[f32], cause: &[Cause]) -> WalkwayProfile {
        WalkwayProfile {
            length_m: (lux.len() - 1) as f64 * 2.0,
            spacing_m: 2.0,
            class: PClass::P5,
            lux: lux.to_vec(),
            cause: cause.to_vec(),
        }
    }

    #[test]
    fn runs_spans_and_summaries() {
        use Cause::*;
        let p = profile(
            &[5.0, 4.0, 0.1, 0.2, 0.0, 0.0],
            &[
                MeetsClass,
                MeetsClass,
                BelowMinimum,
                BelowMinimum,
                NoLampData,
                NoLampData,
            ],
        );
        assert_eq!(
            p.runs(),
            vec![
                (0, 1, LightState::Lit),
                (2, 3, LightState::Dark),
                (4, 5, LightState::Unknown)
            ]
        );
        assert_eq!(p.span(0, 1), (0.0, 3.0));
        assert_eq!(p.span(2, 3), (3.0, 7.0));
        assert_eq!(p.span(4, 5), (7.0, 10.0));
        let (mean, min, share) = p.lux_summary(2, 3);
        assert!((mean.unwrap() - 0.15).abs() < 1e-6 && (min.unwrap() - 0.1).abs() < 1e-6);
        assert_eq!(share, 1.0);
        assert_eq!(p.lux_summary(4, 5), (None, None, 0.0));
    }

    #[test]
    fn average_criterion_fails_weak_fields_only() {
        use Cause::*;
        // Two runs above the P5 minimum: one averaging 1.0 lx (fails Ē = 3), one 5 lx.
        let mut p = profile(
            &[1.0, 1.0, 1.0, 0.1, 5.0, 5.0],
            &[
                MeetsClass,
                MeetsClass,
                MeetsClass,
                BelowMinimum,
                MeetsClass,
                MeetsClass,
            ],
        );
        apply_average_criterion(&mut p, 120.0);
        assert_eq!(
            p.cause,
            vec![
                BelowAverage,
                BelowAverage,
                BelowAverage,
                BelowMinimum,
                MeetsClass,
                MeetsClass
            ]
        );
    }
}
