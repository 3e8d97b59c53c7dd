//! What a done measure achieved: incidents in its target area before and after, against the
//! rest of its district ([`crate::analysis::effect`] for the odds ratio and its words).
//!
//! - **Target**: within `buffer_m` of the measure's points and walkways.
//! - **Comparison**: the rest of the district, without any measure's target (other measures
//!   would blur the comparison).
//! - **Windows**: as long as the time since the measure was done, at most 12 months each side;
//!   under three months: too early.
//! - **Lighting measures** (new lamp, repair, clearing) count incidents after dark (sunset to
//!   sunrise at the target, as the lighting analysis computes it); daytime ones are given beside.
//! - Only incidents with a point-level location count; citizen reports in the target are
//!   counted too.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use geo::{BoundingRect, Contains, Distance, Euclidean, LineString, MultiPolygon, Point, Rect};
use serde::Serialize;
use utoipa::ToSchema;

use crate::analysis::cancel::{Cancel, Cancelled};
use crate::analysis::effect::{self, EffectCounts, Verdict, Windows};
use crate::analysis::lighting::sun::is_after_dark;
use crate::crs;
use crate::service::{ServiceError, ServiceResult};
use crate::spatial::Snapshot;
use crate::store::Store;
use crate::store::measures::{MeasureKind, MeasurePlace, MeasureStatus};

/// One estimate: the four counts, the odds ratio with its interval, and what it says.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Estimate {
    pub counts: EffectCounts,
    pub odds_ratio: Option<f64>,
    #[schema(value_type = Option<Vec<f64>>)]
    pub ci95: Option<[f64; 2]>,
    pub verdict: Verdict,
    /// In Swedish, e.g. "−50 % mot jämförelseområdet (95 % KI −71 % till −13 %)".
    pub words: String,
}

/// Citizen reports in the target area.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct ReportCounts {
    pub target_before: u64,
    pub target_after: u64,
}

/// `GET /api/v1/measures/{id}/effect`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasureEffect {
    pub measure_id: i64,
    pub kind: MeasureKind,
    /// The windows compared; null when the measure is not done or was done under three months
    /// ago.
    pub windows: Option<Windows>,
    /// The comparison area's district.
    pub district: String,
    pub buffer_m: f64,
    /// Whether the counts are of incidents after dark (lighting measures).
    pub after_dark: bool,
    /// The estimate itself: `counts`, `odds_ratio`, `ci95`, `verdict`, `words`.
    #[serde(flatten)]
    pub estimate: Estimate,
    /// For lighting measures: the same for daytime incidents, which the lamps should not change.
    pub daytime: Option<Estimate>,
    pub reports: ReportCounts,
}

/// The geometries of the walkways `measures` name, found in one pass over the walkways.
pub fn walkway_lines<'a>(
    snap: &Snapshot,
    measures: impl IntoIterator<Item = &'a MeasurePlace>,
) -> HashMap<i64, LineString<f64>> {
    let wanted: HashSet<i64> = measures
        .into_iter()
        .flat_map(|p| p.walkway_ids.iter().copied())
        .collect();
    snap.walkways
        .items
        .iter()
        .filter(|w| wanted.contains(&w.id))
        .map(|w| (w.id, w.geometry.clone()))
        .collect()
}

/// A target area: within `buffer` of points and lines.
#[derive(Debug, Clone)]
pub struct Target {
    pub points: Vec<Point<f64>>,
    pub lines: Vec<LineString<f64>>,
    pub buffer: f64,
}

impl Target {
    /// `lines` holds the geometry of every walkway a measure may name ([`walkway_lines`]).
    pub fn of(
        place: &MeasurePlace,
        lines: &HashMap<i64, LineString<f64>>,
        default_buffer: f64,
    ) -> Self {
        Self {
            points: place
                .points
                .iter()
                .map(|&[x, y]| Point::new(x, y))
                .collect(),
            lines: place
                .walkway_ids
                .iter()
                .filter_map(|id| lines.get(id).cloned())
                .collect(),
            buffer: place.buffer_m.unwrap_or(default_buffer),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.lines.is_empty()
    }

    pub fn contains(&self, p: Point<f64>) -> bool {
        self.points
            .iter()
            .any(|q| Euclidean.distance(*q, p) <= self.buffer)
            || self
                .lines
                .iter()
                .any(|l| Euclidean.distance(&p, l) <= self.buffer)
    }

    /// A point of the target, for the district and the sun.
    pub fn anchor(&self) -> Option<Point<f64>> {
        self.points
            .first()
            .copied()
            .or_else(|| self.lines.first().and_then(|l| l.points().next()))
    }

    fn bbox(&self) -> Option<Rect<f64>> {
        let mut r: Option<Rect<f64>> = None;
        let mut add = |o: Option<Rect<f64>>| {
            if let Some(o) = o {
                r = Some(match r {
                    None => o,
                    Some(r) => union(r, o),
                });
            }
        };
        for p in &self.points {
            add(Some(p.bounding_rect()));
        }
        for l in &self.lines {
            add(l.bounding_rect());
        }
        r.map(|r| {
            let b = geo::coord! { x: self.buffer, y: self.buffer };
            Rect::new(r.min() - b, r.max() + b)
        })
    }
}

fn union(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    Rect::new(
        geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
        geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
    )
}

/// The counts of a target against its comparison area, by side of `w`. `dark` is `(lat, lon)`
/// of the target when only incidents after dark count in the first result (the daytime ones go
/// to the second); otherwise every incident counts in the first.
pub fn count(
    snap: &Snapshot,
    target: &Target,
    district: &MultiPolygon<f64>,
    others: &[Target],
    w: &Windows,
    dark: Option<(f64, f64)>,
    cancel: &Cancel,
) -> Result<(EffectCounts, EffectCounts, ReportCounts), Cancelled> {
    let mut main = EffectCounts::default();
    let mut day = EffectCounts::default();
    let Some(tb) = target.bbox() else {
        return Ok((main, day, ReportCounts::default()));
    };
    let bbox = district.bounding_rect().map_or(tb, |d| union(d, tb));
    let candidates =
        snap.incidents_in_box([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
    for (seen, i) in candidates.enumerate() {
        // From the first incident on, then every few thousand.
        cancel.check_every(seen)?;
        let inc = &snap.incidents.items[i];
        if !inc.precision.is_point_level() {
            continue;
        }
        // An event whose dates straddle the measure's side boundary is on neither side.
        let (a, b) = inc.local_days();
        let (Some(after), Some(after_b)) = (w.side(a), w.side(b)) else {
            continue;
        };
        if after != after_b {
            continue;
        }
        // After dark needs the hour.
        if dark.is_some() && !inc.time_precision.hour_known() {
            continue;
        }
        let p = inc.location;
        let in_target = target.contains(p);
        let in_comparison = || district.contains(&p) && !others.iter().any(|o| o.contains(p));
        if !in_target && !in_comparison() {
            continue;
        }
        let into = match dark {
            Some((lat, lon)) if !is_after_dark(&inc.occurred_at, lat, lon) => &mut day,
            _ => &mut main,
        };
        let cell = match (in_target, after) {
            (true, false) => &mut into.target_before,
            (true, true) => &mut into.target_after,
            (false, false) => &mut into.comparison_before,
            (false, true) => &mut into.comparison_after,
        };
        *cell += 1;
    }
    let mut reports = ReportCounts::default();
    for r in &snap.reports.items {
        if r.merged_into.is_some() || !target.contains(r.location) {
            continue;
        }
        match w.side(crate::time::local_date(&r.requested_at)) {
            Some(false) => reports.target_before += 1,
            Some(true) => reports.target_after += 1,
            None => {}
        }
    }
    Ok((main, day, reports))
}

fn estimate(counts: EffectCounts, too_early: bool) -> Estimate {
    let (verdict, est) = if too_early {
        (Verdict::TooEarly, None)
    } else {
        effect::odds_ratio(&counts)
    };
    Estimate {
        counts,
        odds_ratio: est.map(|(or, _)| or),
        ci95: est.map(|(_, ci)| ci),
        verdict,
        words: effect::in_words(verdict, est),
    }
}

/// A measure's effect with its areas and windows resolved: what is left is the counting, an
/// analysis ([`EffectJob::run`]).
pub struct EffectJob {
    id: i64,
    kind: MeasureKind,
    done: bool,
    snap: Arc<Snapshot>,
    target: Target,
    district: String,
    geometry: MultiPolygon<f64>,
    others: Vec<Target>,
    windows: Option<Windows>,
    dark: Option<(f64, f64)>,
}

/// Resolves the effect of measure `id` on `today`: its target, district, the other measures'
/// targets and the windows. Errors name what is missing.
pub async fn prepare(
    store: &dyn Store,
    snap: Arc<Snapshot>,
    id: i64,
    default_buffer: f64,
    today: NaiveDate,
) -> ServiceResult<EffectJob> {
    let all = store.list_measures().await?;
    let m = all
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| ServiceError::NotFound(format!("no measure {id}")))?;
    let spec = &m.spec;
    let lines = walkway_lines(&snap, all.iter().map(|m| &m.spec.place));
    let target = Target::of(&spec.place, &lines, default_buffer);
    let anchor = target.anchor().ok_or_else(|| {
        ServiceError::Invalid(format!(
            "measure {id} has no place (points or walkways): there is no target area to count in"
        ))
    })?;
    let area = match &spec.place.district {
        Some(d) => snap.areas.by_name(d),
        None => snap.areas.containing(anchor),
    }
    .ok_or_else(|| {
        ServiceError::Invalid(format!(
            "measure {id}: no district around its place to compare with; set place.district"
        ))
    })?;
    let district = area.name.clone();
    let geometry = area.geometry.clone();
    let others: Vec<Target> = all
        .iter()
        .filter(|o| o.id != id && o.spec.status != MeasureStatus::Cancelled)
        .map(|o| Target::of(&o.spec.place, &lines, default_buffer))
        .filter(|t| !t.is_empty())
        .collect();
    let windows = match (spec.status, spec.done_date) {
        (MeasureStatus::Done, Some(done)) => effect::windows(done, today),
        _ => None,
    };
    let dark = spec
        .kind
        .is_lighting()
        .then(|| crs::to_wgs84(anchor.x(), anchor.y()).ok())
        .flatten()
        .map(|(lon, lat)| (lat, lon));
    Ok(EffectJob {
        id,
        kind: spec.kind,
        done: spec.status == MeasureStatus::Done,
        snap,
        target,
        district,
        geometry,
        others,
        windows,
        dark,
    })
}

impl EffectJob {
    /// Whether there is anything to count (a measure done at least three months ago).
    pub fn counts_anything(&self) -> bool {
        self.windows.is_some()
    }

    /// Counts and judges; stops when `cancel` is tripped.
    pub fn run(self, cancel: &Cancel) -> Result<MeasureEffect, Cancelled> {
        let (main, day, reports) = match &self.windows {
            None => Default::default(),
            Some(w) => count(
                &self.snap,
                &self.target,
                &self.geometry,
                &self.others,
                w,
                self.dark,
                cancel,
            )?,
        };
        let too_early = self.windows.is_none();
        let e = estimate(main, too_early);
        Ok(MeasureEffect {
            measure_id: self.id,
            kind: self.kind,
            windows: self.windows,
            district: self.district,
            buffer_m: self.target.buffer,
            after_dark: self.dark.is_some(),
            estimate: Estimate {
                words: if !self.done {
                    "åtgärden är inte genomförd ännu".into()
                } else {
                    e.words
                },
                ..e
            },
            daytime: self.dark.map(|_| estimate(day, too_early)),
            reports,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, FixedOffset};
    use geo::{LineString, Polygon};

    use super::*;
    use crate::category::CategoryGroup;
    use crate::model::{Area, Incident, LocationPrecision};

    // A district 2 × 2 km in Täby (EPSG:3006), the target 100 m around its centre.
    const X0: f64 = 672_000.0;
    const Y0: f64 = 6_591_000.0;
    const C: (f64, f64) = (X0 + 1_000.0, Y0 + 1_000.0);

    fn incident(n: usize, x: f64, y: f64, at: &str, precision: LocationPrecision) -> Incident {
        Incident {
            source: "test".into(),
            source_id: format!("{n}"),
            occurred_at: DateTime::<FixedOffset>::parse_from_rfc3339(at).unwrap(),
            time_precision: Default::default(),
            occurred_to: None,
            category: "assault".into(),
            group: CategoryGroup::Violence,
            label: "Misshandel".into(),
            location: Point::new(x, y),
            precision,
            place: None,
            summary: None,
        }
    }

    fn district() -> Area {
        let ring = LineString::from(vec![
            (X0, Y0),
            (X0 + 2_000.0, Y0),
            (X0 + 2_000.0, Y0 + 2_000.0),
            (X0, Y0 + 2_000.0),
            (X0, Y0),
        ]);
        Area {
            id: 1,
            name: "Näsby".into(),
            geometry: MultiPolygon::new(vec![Polygon::new(ring, vec![])]),
            source: "test".into(),
        }
    }

    /// `n` incidents at `(x, y)` (spread by up to 9 cm) at instant `at`.
    fn plant(out: &mut Vec<Incident>, n: usize, (x, y): (f64, f64), at: &str) {
        for k in 0..n {
            let i = out.len();
            let dx = (k % 10) as f64 * 0.01;
            out.push(incident(i, x + dx, y, at, LocationPrecision::Exact));
        }
    }

    #[test]
    fn planted_counts_give_the_hand_computed_odds_ratio() {
        let before = "2025-12-10T23:00:00+01:00";
        let after = "2026-06-10T23:30:00+02:00";
        let mut inc = Vec::new();
        // Target: 60 m from the centre (inside 100 m).
        plant(&mut inc, 40, (C.0 + 60.0, C.1), before);
        plant(&mut inc, 20, (C.0, C.1 - 60.0), after);
        // Comparison: elsewhere in the district.
        plant(&mut inc, 400, (X0 + 300.0, Y0 + 300.0), before);
        plant(&mut inc, 400, (X0 + 1_700.0, Y0 + 400.0), after);
        // Not counted: outside the district, in another measure's target, outside the windows,
        // and known only to the municipality.
        plant(&mut inc, 50, (X0 - 500.0, Y0), before);
        plant(&mut inc, 30, (X0 + 1_500.0, Y0 + 1_500.0), after);
        plant(&mut inc, 25, C, "2024-01-10T23:00:00+01:00");
        let n = inc.len();
        inc.push(incident(
            n,
            C.0,
            C.1,
            before,
            LocationPrecision::Municipality,
        ));
        let snap = Snapshot::build(inc, vec![], vec![], vec![], vec![district()], vec![], false);
        let target = Target {
            points: vec![Point::new(C.0, C.1)],
            lines: vec![],
            buffer: 100.0,
        };
        let other = Target {
            points: vec![Point::new(X0 + 1_500.0, Y0 + 1_500.0)],
            lines: vec![],
            buffer: 50.0,
        };
        let w = effect::windows(
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        )
        .unwrap();
        let geometry = district().geometry;
        let (main, day, _) = count(
            &snap,
            &target,
            &geometry,
            &[other],
            &w,
            None,
            &Cancel::never(),
        )
        .unwrap();
        let tripped = Cancel::new();
        tripped.cancel();
        assert!(count(&snap, &target, &geometry, &[], &w, None, &tripped).is_err());
        assert_eq!(
            main,
            EffectCounts {
                target_before: 40,
                target_after: 20,
                comparison_before: 400,
                comparison_after: 400
            }
        );
        assert_eq!(day, EffectCounts::default());
        let e = estimate(main, false);
        assert!((e.odds_ratio.unwrap() - 2.0).abs() < 1e-12);
        let [lo, hi] = e.ci95.unwrap();
        assert!(
            (lo - 1.15).abs() < 0.01 && (hi - 3.48).abs() < 0.01,
            "{lo} {hi}"
        );
        // Too early: no estimate whatever the counts.
        assert_eq!(estimate(main, true).verdict, Verdict::TooEarly);
    }

    #[test]
    fn lighting_measures_count_after_dark_and_give_daytime_beside() {
        let mut inc = Vec::new();
        // 10 December: dark at 23:00, light at 12:00 in Täby.
        plant(&mut inc, 7, C, "2025-12-10T23:00:00+01:00");
        plant(&mut inc, 3, C, "2025-12-10T12:00:00+01:00");
        let snap = Snapshot::build(inc, vec![], vec![], vec![], vec![district()], vec![], false);
        let target = Target {
            points: vec![Point::new(C.0, C.1)],
            lines: vec![],
            buffer: 100.0,
        };
        let w = effect::windows(
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        )
        .unwrap();
        let geometry = district().geometry;
        let (main, day, _) = count(
            &snap,
            &target,
            &geometry,
            &[],
            &w,
            Some((59.44, 18.05)),
            &Cancel::never(),
        )
        .unwrap();
        assert_eq!((main.target_before, day.target_before), (7, 3));
    }

    #[test]
    fn a_walkway_target_reaches_along_the_whole_way() {
        use crate::model::Walkway;
        let way = |id, y| Walkway {
            id,
            geometry: LineString::from(vec![(X0, y), (X0 + 1_000.0, y)]),
            kind: "footway".into(),
            lit: None,
            name: None,
        };
        let snap = Snapshot::build(
            vec![],
            vec![way(7, Y0), way(8, Y0 + 500.0)],
            vec![],
            vec![],
            vec![],
            vec![],
            false,
        );
        let place = MeasurePlace {
            walkway_ids: vec![7],
            buffer_m: Some(50.0),
            ..MeasurePlace::default()
        };
        let lines = walkway_lines(&snap, [&place]);
        assert_eq!(lines.keys().copied().collect::<Vec<_>>(), [7]);
        let t = Target::of(&place, &lines, 100.0);
        // Halfway along, 40 m off the way: inside; 60 m off: outside; past its end: outside.
        assert!(t.contains(Point::new(X0 + 500.0, Y0 + 40.0)));
        assert!(!t.contains(Point::new(X0 + 500.0, Y0 + 60.0)));
        assert!(!t.contains(Point::new(X0 + 1_060.0, Y0)));
        assert!(t.contains(Point::new(X0 + 1_030.0, Y0 + 30.0)));
    }
}
