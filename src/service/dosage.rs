//! Patrol dosage: the patrol plan held against the presence police delivered, for police,
//! coordinators and admins (`GET /api/v1/patrol/dosage`). The rules are
//! [`crate::analysis::dosage`]'s.
//!
//! The plan is the current one, built with its defaults (the last 365 days of incidents, the
//! default DBSCAN and Gi\*): the hotspots and windows police are asked to cover now. Each plan
//! window's occurrences in the period asked for are then held against the presence from GPS
//! tracks and reported visits.
//!
//! Three steps, so that the HTTP layer can run the two computing ones as analyses (a slot, the
//! request's deadline) and the loading one without: [`plan`] (the plan, its hulls and window
//! occurrences), [`DosagePlan::load`] (the fixes of the occurrences with a margin around each,
//! at most [`MAX_TRACK_POINTS`], and the reported visits, at most [`MAX_VISITS`]) and
//! [`DosageJob::run`] (presence, visits, doses).
//!
//! **Privacy.** Track points never leave this module: the police answer carries times and
//! counts per hotspot, not positions of units. What the public may see is
//! [`delivered_hours_per_month`]: hours of planned presence and of delivered presence per whole
//! month, over all hotspots together.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use geo::{Intersects, Point, Polygon};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::filter::{FilterParams, Period};
use super::geojson::Position;
use super::patrol::{PatrolPlan, PlanParams, plan_with_hulls};
use super::{ServiceError, ServiceResult, Viewer};
use crate::analysis::cancel::Cancel;
use crate::analysis::dosage::{
    self, DOSE_MAX_S, DOSE_MIN_S, Dose, Interval, MARGIN_S, MAX_BETWEEN_S, MAX_GAP_S, MERGE_EXIT_S,
    Occurrence, Totals, TrackPoint, WindowSpec,
};
use crate::analysis::filter::parse_period_bound;
use crate::spatial::Snapshot;
use crate::store::Store;
use crate::store::patrol::{PatrolVisit, VisitPlace};

/// The period without `from`: four weeks ending `to`.
pub const DEFAULT_DAYS: i64 = 28;
/// The longest period one answer covers.
pub const MAX_DAYS: i64 = 366;
/// The most track fixes one answer loads (about 24 bytes each in memory): a year of one unit
/// logging every 5 s through every window of a plan, or a month of ten units logging every
/// second. A period holding more is refused, naming the count.
pub const MAX_TRACK_POINTS: usize = 2_000_000;
/// The most reported visits one answer loads.
pub const MAX_VISITS: usize = 100_000;
/// Periods lie within these years: fixes are kept as milliseconds since 1970, and window
/// arithmetic near the ends of the calendar would overflow.
pub const FIRST_YEAR: i32 = 1970;
pub const LAST_YEAR: i32 = 9999;

/// The period asked for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DosageParams {
    /// First local (Europe/Stockholm) date assessed: YYYY-MM-DD, or YYYY-MM for the first day of
    /// that month. Default: 27 days before `to`.
    #[param(example = "2025-03-01")]
    pub from: Option<String>,
    /// Last local date assessed: YYYY-MM-DD, or YYYY-MM for the last day of that month.
    /// Default: today. At most 366 days after `from`.
    #[param(example = "2025-03-31")]
    pub to: Option<String>,
}

impl DosageParams {
    /// The period, both ends included, each checked.
    pub fn period(&self, today: NaiveDate) -> ServiceResult<Period> {
        let within = |name: &str, d: NaiveDate| {
            if (FIRST_YEAR..=LAST_YEAR).contains(&d.year()) {
                Ok(d)
            } else {
                Err(ServiceError::Invalid(format!(
                    "{name}={d}: expected a date in the years {FIRST_YEAR} to {LAST_YEAR}"
                )))
            }
        };
        let to = match &self.to {
            Some(v) => within("to", parse_period_bound("to", v, true)?)?,
            None => today,
        };
        let from = match &self.from {
            Some(v) => within("from", parse_period_bound("from", v, false)?)?,
            None => within("from", to - Duration::days(DEFAULT_DAYS - 1))?,
        };
        if from > to {
            return Err(ServiceError::Invalid(format!(
                "from={from} is after to={to}"
            )));
        }
        let p = Period { from, to };
        if p.days() > MAX_DAYS {
            return Err(ServiceError::Invalid(format!(
                "from={from} to={to} is {} days: at most {MAX_DAYS} in one answer",
                p.days()
            )));
        }
        Ok(p)
    }
}

/// The rules the answer was computed with (see [`crate::analysis::dosage`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoseRules {
    /// Fixes further apart than this (s) are a hole in the record, not presence.
    pub max_gap_s: f64,
    /// Exits shorter than this (s) do not end a visit.
    pub merge_exit_s: f64,
    /// A visit of at least this (s) reaches the Koper dose.
    pub dose_min_s: f64,
    /// … and of at most this (s) is in it.
    pub dose_max_s: f64,
    /// Dose-reaching visits should come at least this often (s).
    pub max_between_s: f64,
}

impl DoseRules {
    fn current() -> Self {
        Self {
            max_gap_s: MAX_GAP_S,
            merge_exit_s: MERGE_EXIT_S,
            dose_min_s: DOSE_MIN_S,
            dose_max_s: DOSE_MAX_S,
            max_between_s: MAX_BETWEEN_S,
        }
    }
}

/// Planned against delivered, summed over window occurrences. Seconds to the millisecond.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoseTotals {
    pub planned_s: f64,
    pub delivered_s: f64,
    pub occurrences: u32,
    /// Occurrences that met the dose.
    pub meeting_dose: u32,
    pub visits: u32,
    /// Visits of 10–16 minutes.
    pub dose_visits: u32,
}

impl From<&Totals> for DoseTotals {
    fn from(t: &Totals) -> Self {
        Self {
            planned_s: ms(t.planned),
            delivered_s: ms(t.delivered),
            occurrences: t.occurrences,
            meeting_dose: t.meeting_dose,
            visits: t.visits,
            dose_visits: t.dose_visits,
        }
    }
}

/// One ISO week, by the local date each occurrence starts on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoseWeek {
    /// ISO 8601 week, e.g. `2025-W13`.
    pub week: String,
    pub planned_s: f64,
    pub delivered_s: f64,
    pub occurrences: u32,
    pub meeting_dose: u32,
}

/// One occurrence of a window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoseOccurrence {
    /// The local date it starts on.
    #[schema(format = Date)]
    pub date: String,
    /// Start and end, ISO 8601 with the Swedish offset of each (they differ on the nights the
    /// clocks change).
    pub start: String,
    pub end: String,
    pub planned_s: f64,
    pub delivered_s: f64,
    pub visits: u32,
    pub dose_visits: u32,
    pub short_visits: u32,
    pub long_visits: u32,
    /// The longest stretch without a visit of at least 10 minutes.
    pub longest_gap_s: f64,
    pub meets_dose: bool,
}

/// One window of a hotspot, over the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoseWindow {
    /// As in the plan: start weekday (0 = Monday) and hour, length in hours, local time.
    pub weekday: usize,
    pub hour: usize,
    pub hours: usize,
    /// In Swedish, e.g. `fre–lör 22–02`.
    pub label: String,
    pub planned_s: f64,
    pub delivered_s: f64,
    pub visits: u32,
    pub dose_visits: u32,
    /// The longest stretch of any occurrence without a visit of at least 10 minutes.
    pub longest_gap_s: f64,
    /// Every occurrence met the dose (false when the period holds none).
    pub meets_dose: bool,
    pub meeting_dose: u32,
    pub occurrences: Vec<DoseOccurrence>,
}

/// One hotspot of the plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoseHotspot {
    pub rank: usize,
    /// The plan's hotspot id (a visits CSV may name it).
    pub id: String,
    pub name: Option<String>,
    /// `[lon, lat]`, WGS84.
    #[schema(value_type = Vec<f64>)]
    pub centre: Position,
    pub totals: DoseTotals,
    pub windows: Vec<DoseWindow>,
    pub weeks: Vec<DoseWeek>,
}

/// What the answer rests on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoseSources {
    /// Units with fixes in the period.
    pub units: usize,
    /// Fixes loaded: those within half an hour (and one gap) of a window occurrence.
    pub track_points: usize,
    /// Reported visits in the period, and of them those at no hotspot of the plan (an id no
    /// longer in it, a place in no hull).
    pub visits: usize,
    pub visits_unmatched: usize,
}

/// The plan the dosage was measured against.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DosePlanEcho {
    pub generated_at: String,
    /// The incidents it was built from: local dates.
    #[schema(format = Date)]
    pub from: String,
    #[schema(format = Date)]
    pub to: String,
    pub hotspots: usize,
}

/// `GET /api/v1/patrol/dosage`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dosage {
    pub generated_at: String,
    /// The period assessed, local dates, both included.
    #[schema(format = Date)]
    pub from: String,
    #[schema(format = Date)]
    pub to: String,
    pub days: i64,
    /// The data is the fictitious demo dataset.
    pub demo: bool,
    pub plan: DosePlanEcho,
    pub rules: DoseRules,
    pub sources: DoseSources,
    pub totals: DoseTotals,
    /// Every hotspot together, per ISO week.
    pub weeks: Vec<DoseWeek>,
    /// In the plan's order.
    pub hotspots: Vec<DoseHotspot>,
}

/// Seconds to the millisecond (the store's precision; what crossing arithmetic adds below it
/// is rounding, not information).
fn ms(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Step one: the plan with its hulls and its windows' occurrences in the period.
pub struct DosagePlan {
    plan: PatrolPlan,
    hulls: Vec<Polygon<f64>>,
    period: Period,
    /// Per hotspot, per window: the window and its occurrences.
    windows: Vec<Vec<(WindowSpec, Vec<Occurrence>)>>,
}

/// The current plan (its defaults, as of `today`) and the occurrences of its windows in
/// `period`.
pub fn plan(
    snap: &Snapshot,
    viewer: &Viewer,
    today: NaiveDate,
    period: Period,
    cancel: &Cancel,
) -> ServiceResult<DosagePlan> {
    let (plan, hulls) = plan_with_hulls(
        snap,
        &FilterParams::default(),
        &PlanParams::default(),
        viewer,
        today,
        cancel,
    )?;
    Ok(DosagePlan::new(plan, hulls, period))
}

fn instant(s: f64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis((s * 1000.0).round() as i64).unwrap_or_default()
}

impl DosagePlan {
    /// A plan (with its hulls in EPSG:3006, in the order of its hotspots) and the occurrences
    /// of its windows in `period`.
    pub fn new(plan: PatrolPlan, hulls: Vec<Polygon<f64>>, period: Period) -> Self {
        let windows = plan
            .hotspots
            .iter()
            .map(|h| {
                h.windows
                    .iter()
                    .map(|w| {
                        let spec = WindowSpec {
                            weekday: w.weekday,
                            hour: w.hour,
                            hours: w.hours,
                        };
                        (spec, dosage::occurrences(spec, period.from, period.to))
                    })
                    .collect()
            })
            .collect();
        Self {
            plan,
            hulls,
            period,
            windows,
        }
    }

    /// The stretches of time whose fixes the dosage needs: every occurrence with
    /// [`MARGIN_S`] either side, joined where less than two gaps apart (so no segment
    /// spans the time between two ranges, which is not loaded).
    pub fn ranges(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let spans: Vec<Interval> = self
            .windows
            .iter()
            .flatten()
            .flat_map(|(_, occ)| occ.iter())
            .map(|o| Interval::new(o.span.start - MARGIN_S, o.span.end + MARGIN_S))
            .collect();
        let mut merged: Vec<Interval> = Vec::new();
        for i in dosage::union(spans) {
            match merged.last_mut() {
                Some(last) if i.start - last.end < 2.0 * MAX_GAP_S => last.end = i.end,
                _ => merged.push(i),
            }
        }
        merged
            .into_iter()
            .map(|i| (instant(i.start), instant(i.end)))
            .collect()
    }

    /// Step two: the fixes and visits the occurrences need, bounded.
    pub async fn load(self, store: &dyn Store) -> ServiceResult<DosageJob> {
        let ranges = self.ranges();
        let points = store.load_patrol_points(&ranges, MAX_TRACK_POINTS).await?;
        if points.more {
            return Err(ServiceError::Invalid(format!(
                "from={} to={}: the plan's windows in this period hold more than {MAX_TRACK_POINTS} track points; ask for a shorter period",
                self.period.from, self.period.to
            )));
        }
        let (from, to) = match (ranges.first(), ranges.last()) {
            (Some(a), Some(b)) => (a.0, b.1),
            _ => (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC),
        };
        let (visits, more) = if ranges.is_empty() {
            (Vec::new(), false)
        } else {
            store.load_patrol_visits(from, to, MAX_VISITS).await?
        };
        if more {
            return Err(ServiceError::Invalid(format!(
                "from={} to={}: more than {MAX_VISITS} reported visits; ask for a shorter period",
                self.period.from, self.period.to
            )));
        }
        let track_points = points.len();
        let units = points.units.len();
        let runs = points
            .units
            .into_iter()
            .flat_map(|u| split_runs(&u.points))
            .collect();
        Ok(DosageJob {
            plan: self,
            runs,
            visits,
            units,
            track_points,
        })
    }
}

/// A unit's fixes (in time order) as runs, cut where a recorded stretch starts.
fn split_runs(points: &[crate::store::patrol::StoredPoint]) -> Vec<Vec<TrackPoint>> {
    let mut runs: Vec<Vec<TrackPoint>> = Vec::new();
    for p in points {
        let fix = TrackPoint {
            at: dosage::secs(p.at),
            x: p.x,
            y: p.y,
        };
        match runs.last_mut() {
            Some(run) if !p.run_start => run.push(fix),
            _ => runs.push(vec![fix]),
        }
    }
    runs
}

/// Step three: everything loaded, ready to compute.
pub struct DosageJob {
    plan: DosagePlan,
    runs: Vec<Vec<TrackPoint>>,
    visits: Vec<PatrolVisit>,
    units: usize,
    track_points: usize,
}

fn occurrence_row(o: &Occurrence, d: &Dose) -> DoseOccurrence {
    DoseOccurrence {
        date: o.date.to_string(),
        start: super::datetime(instant(o.span.start)),
        end: super::datetime(instant(o.span.end)),
        planned_s: ms(d.planned),
        delivered_s: ms(d.delivered),
        visits: d.visits,
        dose_visits: d.dose_visits,
        short_visits: d.short_visits,
        long_visits: d.long_visits,
        longest_gap_s: ms(d.longest_gap),
        meets_dose: d.meets_dose,
    }
}

fn week_rows(rows: impl IntoIterator<Item = (String, Totals)>) -> Vec<DoseWeek> {
    rows.into_iter()
        .map(|(week, t)| DoseWeek {
            week,
            planned_s: ms(t.planned),
            delivered_s: ms(t.delivered),
            occurrences: t.occurrences,
            meeting_dose: t.meeting_dose,
        })
        .collect()
}

impl DosageJob {
    /// The reported visits as (hull index, interval): a hotspot id names its hull, a point
    /// every hull that holds it. Returns them and the number at no hotspot.
    fn matched_visits(&self) -> (Vec<(usize, Interval)>, usize) {
        let by_id: HashMap<&str, usize> = self
            .plan
            .plan
            .hotspots
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.as_str(), i))
            .collect();
        let mut out = Vec::new();
        let mut unmatched = 0;
        for v in &self.visits {
            let span = Interval::new(dosage::secs(v.start), dosage::secs(v.end));
            let before = out.len();
            match &v.place {
                VisitPlace::Hotspot(id) => {
                    if let Some(&i) = by_id.get(id.as_str()) {
                        out.push((i, span));
                    }
                }
                VisitPlace::Point { x, y } => {
                    let p = Point::new(*x, *y);
                    for (i, h) in self.plan.hulls.iter().enumerate() {
                        if h.intersects(&p) {
                            out.push((i, span));
                        }
                    }
                }
            }
            unmatched += usize::from(out.len() == before);
        }
        (out, unmatched)
    }

    /// Presence, visits and the dose of every occurrence.
    pub fn run(self, cancel: &Cancel) -> ServiceResult<Dosage> {
        let (reported, unmatched) = self.matched_visits();
        let presence = dosage::presence(&self.runs, &self.plan.hulls, &reported, cancel)?;
        let mut all: Vec<(String, Dose)> = Vec::new();
        let mut hotspots = Vec::with_capacity(self.plan.plan.hotspots.len());
        for (i, h) in self.plan.plan.hotspots.iter().enumerate() {
            cancel.check()?;
            let visits = dosage::visits(&presence[i]);
            let mut mine: Vec<(String, Dose)> = Vec::new();
            let mut windows = Vec::new();
            for ((spec, occs), pw) in self.plan.windows[i].iter().zip(&h.windows) {
                let doses: Vec<Dose> = occs
                    .iter()
                    .map(|o| dosage::dose(o, &presence[i], &visits))
                    .collect();
                let sum = Totals::of(&doses);
                windows.push(DoseWindow {
                    weekday: spec.weekday,
                    hour: spec.hour,
                    hours: spec.hours,
                    label: pw.label.clone(),
                    planned_s: ms(sum.planned),
                    delivered_s: ms(sum.delivered),
                    visits: sum.visits,
                    dose_visits: sum.dose_visits,
                    longest_gap_s: ms(doses.iter().map(|d| d.longest_gap).fold(0.0, f64::max)),
                    meets_dose: !doses.is_empty() && doses.iter().all(|d| d.meets_dose),
                    meeting_dose: sum.meeting_dose,
                    occurrences: occs
                        .iter()
                        .zip(&doses)
                        .map(|(o, d)| occurrence_row(o, d))
                        .collect(),
                });
                mine.extend(
                    occs.iter()
                        .zip(doses)
                        .map(|(o, d)| (dosage::iso_week(o.date), d)),
                );
            }
            let weeks = dosage::totals_by(mine.iter().map(|(k, d)| (k.clone(), d)));
            let totals = Totals::of(mine.iter().map(|(_, d)| d));
            hotspots.push(DoseHotspot {
                rank: h.rank,
                id: h.id.clone(),
                name: h.name.clone(),
                centre: h.centre,
                totals: DoseTotals::from(&totals),
                windows,
                weeks: week_rows(weeks),
            });
            all.extend(mine);
        }
        let weeks = dosage::totals_by(all.iter().map(|(k, d)| (k.clone(), d)));
        let totals = Totals::of(all.iter().map(|(_, d)| d));
        let p = &self.plan.plan;
        Ok(Dosage {
            generated_at: Utc::now().to_rfc3339(),
            from: self.plan.period.from.to_string(),
            to: self.plan.period.to.to_string(),
            days: self.plan.period.days(),
            demo: p.demo,
            plan: DosePlanEcho {
                generated_at: p.generated_at.clone(),
                from: p.period.from.clone(),
                to: p.period.to.clone(),
                hotspots: p.hotspots.len(),
            },
            rules: DoseRules::current(),
            sources: DoseSources {
                units: self.units,
                track_points: self.track_points,
                visits: self.visits.len(),
                visits_unmatched: unmatched,
            },
            totals: DoseTotals::from(&totals),
            weeks: week_rows(weeks),
            hotspots,
        })
    }
}

/// What a public pledge page may show of patrol presence: per whole calendar month of the
/// dosage's period, the hours of presence the plan asked for and the hours delivered inside the
/// hotspots during them, over all hotspots together, to a tenth of an hour.
///
/// No hotspot, window, day, unit or position is in it: it cannot tell where or when police
/// were, only how much of the promised presence came. Months only partly in the period are
/// left out (their totals would be partial).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MonthPresence {
    /// `YYYY-MM`.
    pub month: String,
    pub planned_hours: f64,
    pub delivered_hours: f64,
}

/// See [`MonthPresence`].
pub fn delivered_hours_per_month(d: &Dosage) -> Vec<MonthPresence> {
    let (Ok(from), Ok(to)) = (
        NaiveDate::parse_from_str(&d.from, "%Y-%m-%d"),
        NaiveDate::parse_from_str(&d.to, "%Y-%m-%d"),
    ) else {
        return Vec::new();
    };
    let whole = |m: NaiveDate| {
        let first = m.with_day(1).expect("day 1");
        let next = first + chrono::Months::new(1);
        first >= from && next - Duration::days(1) <= to
    };
    let mut months: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for o in d
        .hotspots
        .iter()
        .flat_map(|h| &h.windows)
        .flat_map(|w| &w.occurrences)
    {
        let Ok(date) = NaiveDate::parse_from_str(&o.date, "%Y-%m-%d") else {
            continue;
        };
        if !whole(date) {
            continue;
        }
        let e = months.entry(dosage::month(date)).or_default();
        e.0 += o.planned_s;
        e.1 += o.delivered_s;
    }
    let hours = |s: f64| (s / 360.0).round() / 10.0;
    months
        .into_iter()
        .map(|(month, (p, dl))| MonthPresence {
            month,
            planned_hours: hours(p),
            delivered_hours: hours(dl),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use geo::polygon;

    use super::*;
    use crate::service::filter::PeriodEcho;
    use crate::service::geojson::Geometry;
    use crate::service::hotspots::DbscanParameters;
    use crate::service::patrol::{PlanGistar, PlanHotspot, PlanMethod, PlanWindow};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A plan of one hotspot, `c1`, with the window Saturday 23–03 and the square hull
    /// 0..100 × 0..100 m.
    fn one_hotspot(period: Period) -> DosagePlan {
        let hotspot = PlanHotspot {
            rank: 1,
            id: "c1".into(),
            name: Some("Provområdet".into()),
            district: Some("Provområdet".into()),
            count: 40,
            max_bin: 3,
            centre: [18.0, 59.4],
            peak: None,
            peak_p: None,
            peak_note: None,
            windows: vec![PlanWindow {
                weekday: 5,
                hour: 23,
                hours: 4,
                count: 40.0,
                p: 0.0,
                label: "lör–sön 23–03".into(),
            }],
            profile: vec![vec![0.0; 24]; 7],
            uncertain_weight: 0.0,
            without_hour: 0,
            categories: BTreeMap::new(),
            top_category: None,
            first: "2025-01-04".into(),
            last: "2025-12-27".into(),
            hull: Geometry::Polygon(vec![]),
        };
        let plan = PatrolPlan {
            generated_at: "2026-01-01T00:00:00+00:00".into(),
            period: PeriodEcho {
                from: "2025-01-01".into(),
                to: "2025-12-31".into(),
                days: 365,
                previous_from: "2024-01-02".into(),
                previous_to: "2024-12-31".into(),
            },
            area: None,
            demo: false,
            method: PlanMethod {
                dbscan: DbscanParameters {
                    eps: 100.0,
                    min_points: 5,
                },
                gistar: PlanGistar {
                    cell: 100.0,
                    band: 300.0,
                    grid: "square",
                    min_bin: 2,
                },
                window_hours: 4,
            },
            clusters: 1,
            significant: 1,
            included: 40,
            excluded_by_precision: 0,
            hotspots: vec![hotspot],
        };
        let hull = polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)];
        DosagePlan::new(plan, vec![hull], period)
    }

    fn visit(start: &str, end: &str, place: VisitPlace) -> PatrolVisit {
        PatrolVisit {
            unit: "Bil 3".into(),
            source: "v.csv".into(),
            start: utc(start),
            end: utc(end),
            place,
        }
    }

    fn job(plan: DosagePlan, runs: Vec<Vec<TrackPoint>>, visits: Vec<PatrolVisit>) -> DosageJob {
        DosageJob {
            plan,
            track_points: runs.iter().map(Vec::len).sum(),
            units: usize::from(!runs.is_empty()),
            runs,
            visits,
        }
    }

    #[test]
    fn the_period_defaults_to_four_weeks_and_is_bounded() {
        let today = day("2025-03-31");
        let p = DosageParams::default().period(today).unwrap();
        assert_eq!((p.from, p.to, p.days()), (day("2025-03-04"), today, 28));
        let year = DosageParams {
            from: Some("2024-01".into()),
            to: Some("2024-12".into()),
        };
        assert_eq!(year.period(today).unwrap().days(), 366);
        let long = DosageParams {
            from: Some("2024-01-01".into()),
            to: Some("2025-01-01".into()),
        };
        assert_eq!(
            long.period(today).unwrap_err().to_string(),
            "from=2024-01-01 to=2025-01-01 is 367 days: at most 366 in one answer"
        );
        let backwards = DosageParams {
            from: Some("2025-03-02".into()),
            to: Some("2025-03-01".into()),
        };
        assert_eq!(
            backwards.period(today).unwrap_err().to_string(),
            "from=2025-03-02 is after to=2025-03-01"
        );
        let bad = DosageParams {
            from: Some("yesterday".into()),
            to: None,
        };
        assert!(
            bad.period(today)
                .unwrap_err()
                .to_string()
                .contains("yesterday")
        );
        let far = DosageParams {
            from: Some("+20000-01-01".into()),
            to: Some("+20000-01-31".into()),
        };
        assert_eq!(
            far.period(today).unwrap_err().to_string(),
            "to=+20000-01-31: expected a date in the years 1970 to 9999"
        );
    }

    /// Saturday 23–03 on 2025-10-25 is 21:00Z–02:00Z (23:00 CEST to 03:00 CET: the clocks go
    /// back), on 2025-11-01 22:00Z–02:00Z (CET throughout). Each is loaded with 35 minutes
    /// (half an hour and one gap) either side.
    #[test]
    fn fixes_are_loaded_around_each_occurrence() {
        let plan = one_hotspot(Period {
            from: day("2025-10-20"),
            to: day("2025-11-02"),
        });
        assert_eq!(
            plan.ranges(),
            vec![
                (utc("2025-10-25T20:25:00Z"), utc("2025-10-26T02:35:00Z")),
                (utc("2025-11-01T21:25:00Z"), utc("2025-11-02T02:35:00Z")),
            ]
        );
    }

    /// On 2025-10-25/26 (Saturday 23–03 is 21:00Z–02:00Z, 18 000 s): a track standing in the
    /// hull 21:55–22:08Z (780 s), a visit reported for `c1` 23:20–23:32Z (720 s) and one at a
    /// point in the hull 00:50–01:03Z (780 s); a visit for a hotspot no longer in the plan and
    /// one at a point outside every hull are unmatched.
    #[test]
    fn tracks_and_reported_visits_add_up_per_occurrence() {
        let plan = one_hotspot(Period {
            from: day("2025-10-25"),
            to: day("2025-10-25"),
        });
        let t0 = dosage::secs(utc("2025-10-25T21:55:00Z"));
        let run: Vec<TrackPoint> = (0..=26)
            .map(|k| TrackPoint {
                at: t0 + 30.0 * k as f64,
                x: 50.0,
                y: 50.0,
            })
            .collect();
        let inside = VisitPlace::Point { x: 20.0, y: 80.0 };
        let visits = vec![
            visit(
                "2025-10-25T23:20:00Z",
                "2025-10-25T23:32:00Z",
                VisitPlace::Hotspot("c1".into()),
            ),
            visit("2025-10-26T00:50:00Z", "2025-10-26T01:03:00Z", inside),
            visit(
                "2025-10-25T23:00:00Z",
                "2025-10-25T23:10:00Z",
                VisitPlace::Hotspot("c9".into()),
            ),
            visit(
                "2025-10-25T23:00:00Z",
                "2025-10-25T23:10:00Z",
                VisitPlace::Point { x: 500.0, y: 50.0 },
            ),
        ];
        let d = job(plan, vec![run], visits).run(&Cancel::never()).unwrap();
        assert_eq!((d.sources.visits, d.sources.visits_unmatched), (4, 2));
        assert_eq!(d.sources.track_points, 27);
        let w = &d.hotspots[0].windows[0];
        let o = &w.occurrences[0];
        assert_eq!(o.start, "2025-10-25T23:00:00+02:00");
        assert_eq!(o.end, "2025-10-26T03:00:00+01:00");
        assert_eq!((o.planned_s, o.delivered_s), (18_000.0, 2_280.0));
        assert_eq!((o.visits, o.dose_visits), (3, 3));
        // Without a dose visit: 21:00–21:55 (3 300 s), 22:08–23:20 (4 320 s), 23:32–00:50
        // (4 680 s), 01:03–02:00 (3 420 s).
        assert_eq!(o.longest_gap_s, 4_680.0);
        assert!(o.meets_dose && w.meets_dose);
        assert_eq!(d.weeks.len(), 1);
        assert_eq!(d.weeks[0].week, "2025-W43");
        assert_eq!(
            (d.weeks[0].planned_s, d.weeks[0].delivered_s),
            (18_000.0, 2_280.0)
        );
        assert_eq!(d.totals.meeting_dose, 1);
    }

    /// March 2025 has five Saturdays (1, 8, 15, 22, 29), the last an hour short (the clocks
    /// go forward that night): 19 h planned; April four, 16 h. February is only partly in the
    /// period: left out. Half an hour delivered on 8 March.
    #[test]
    fn the_public_sees_whole_months_of_hours_only() {
        let plan = one_hotspot(Period {
            from: day("2025-02-15"),
            to: day("2025-04-30"),
        });
        let visits = vec![visit(
            "2025-03-08T22:10:00Z",
            "2025-03-08T22:40:00Z",
            VisitPlace::Hotspot("c1".into()),
        )];
        let d = job(plan, vec![], visits).run(&Cancel::never()).unwrap();
        let months = delivered_hours_per_month(&d);
        assert_eq!(
            months,
            vec![
                MonthPresence {
                    month: "2025-03".into(),
                    planned_hours: 19.0,
                    delivered_hours: 0.5
                },
                MonthPresence {
                    month: "2025-04".into(),
                    planned_hours: 16.0,
                    delivered_hours: 0.0
                },
            ]
        );
        let json = serde_json::to_value(&months[0]).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["delivered_hours", "month", "planned_hours"]);
    }

    #[test]
    fn split_runs_cuts_at_recorded_stretches() {
        let p = |s: i64, run_start: bool| crate::store::patrol::StoredPoint {
            at: Utc.timestamp_opt(s, 0).unwrap(),
            x: 0.0,
            y: 0.0,
            run_start,
        };
        let runs = split_runs(&[
            p(0, true),
            p(10, false),
            p(20, true),
            p(30, false),
            p(40, false),
        ]);
        let lens: Vec<usize> = runs.iter().map(Vec::len).collect();
        assert_eq!(lens, [2, 3]);
        // A unit's first fix starts a run even when not marked.
        assert_eq!(split_runs(&[p(0, false), p(10, false)]).len(), 1);
    }
}
