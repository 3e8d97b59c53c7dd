//! Medborgarlöften: pledges to citizens, and indicators computed from the data that tell how
//! far each has come.
//!
//! Coordinators write pledges (`POST`, `PATCH`); everyone reads them (`GET /api/v1/pledges`, the
//! public page `/loften`). What the public learns is aggregates only: no incident point, no
//! patrol track, no report text or contact; an incident count of a focus area is shown only
//! when both counts it is compared from reach `min_public_count`, and the measures show their
//! title, kind, status and dates, not their place (a patrol measure sits on a hotspot).
//!
//! # Indicators
//!
//! The period observed is `period_start` up to `period_end` or today, whichever is earlier.
//!
//! * **Dark stretches lit** (`dark_lit_share`): of the metres of dark stretch on the pledge's
//!   prioritised walkways when it was given (its baseline), the share that is not dark now,
//!   in the configured class: `max(0, baseline − now) / baseline`.
//! * **Days to mend a broken lamp** (`broken_lamp_days`): the median of the days from a
//!   broken-lamp report (requested in the period) to its closing, over the reports closed.
//! * **Reports acknowledged in time** (`acknowledged_share`): of the reports requested in the
//!   period that are at least `pledge_ack_days` old, the share whose status left `open` within
//!   that many days.
//! * **Incidents in the focus areas** (`incident_change`): incidents in the pledge's districts in
//!   the period against the as long period just before, as a change in per cent.
//! * **Visible police** (`patrol_delivered`, police and joint pledges): of the presence the
//!   patrol plan planned at its hotspots in the period's whole months (of the last twelve),
//!   the share delivered, from the imported patrol tracks and visits
//!   ([`crate::service::dosage`]); the public sees hours per month, nothing of where or when.
//! * **Measures done** (`measures_done`): of the pledge's measures not cancelled, the share done.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use geo::Contains;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult, datetime, note_text as text};
use crate::analysis::lighting::{LightState, LightingResult};
use crate::model::{ReportStatus, ServiceCode};
use crate::spatial::Snapshot;
use crate::store::Store;
use crate::store::measures::{Measure, MeasureKind, MeasureStatus};
use crate::store::pledges::{Baseline, Pledge, PledgeOwner, PledgeSpec};
use crate::store::reports::StatusChange;

pub const MAX_TITLE: usize = 200;
pub const MAX_TEXT: usize = 4000;
/// Most measures, districts and walkways one pledge may link.
pub const MAX_LINKS: usize = 500;
/// The longest period a pledge may have (days): a pledge is for a few years.
pub const MAX_PERIOD_DAYS: i64 = 366 * 6;

/// The body of `POST /api/v1/pledges`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPledge {
    pub title: String,
    pub text: String,
    pub owner: PledgeOwner,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    #[serde(default)]
    pub measure_ids: Vec<i64>,
    /// The focus areas: district names as `GET /api/v1/areas` gives them.
    #[serde(default)]
    pub districts: Vec<String>,
    /// The prioritised walkways (OSM way ids); their dark stretches now are the baseline.
    #[serde(default)]
    pub walkway_ids: Vec<i64>,
}

/// The body of `PATCH /api/v1/pledges/{id}`: the fields to change. The baseline stays as it
/// was recorded; new prioritised walkways add their dark stretches of today to it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PledgePatch {
    pub title: Option<String>,
    pub text: Option<String>,
    pub owner: Option<PledgeOwner>,
    pub period_start: Option<NaiveDate>,
    pub period_end: Option<NaiveDate>,
    pub measure_ids: Option<Vec<i64>>,
    pub districts: Option<Vec<String>>,
    pub walkway_ids: Option<Vec<i64>>,
}

/// A measure as a pledge shows it to everyone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PledgeMeasure {
    pub id: i64,
    pub title: String,
    pub kind: MeasureKind,
    pub status: MeasureStatus,
    pub done_date: Option<NaiveDate>,
}

/// One indicator of a pledge.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Indicator {
    /// `dark_lit_share`, `broken_lamp_days`, `acknowledged_share`, `incident_change` or
    /// `measures_done`.
    pub key: &'static str,
    /// In Swedish.
    pub label: String,
    /// Null when there is nothing to measure yet (or too little to show).
    pub value: Option<f64>,
    /// `%`, `dagar`.
    pub unit: &'static str,
    /// In Swedish: the value and what it rests on.
    pub text: String,
}

/// A pledge with its progress: what everyone may see.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PledgeView {
    pub id: i64,
    pub title: String,
    pub text: String,
    pub owner: PledgeOwner,
    /// "Kommunen", "Polisen" or "Kommunen och polisen".
    pub owner_sv: &'static str,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Share of the period passed (0 … 100 %).
    pub period_passed: f64,
    pub districts: Vec<String>,
    pub measures: Vec<PledgeMeasure>,
    pub indicators: Vec<Indicator>,
    /// Police presence planned at the patrol plan's hotspots and delivered, in hours per whole
    /// month of the last twelve (police and joint pledges): totals only.
    pub patrol_months: Vec<crate::service::dosage::MonthPresence>,
    pub baseline: Option<Baseline>,
    #[schema(format = DateTime)]
    pub updated_datetime: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PledgeList {
    pub pledges: Vec<PledgeView>,
    pub count: usize,
    /// When the indicators were computed.
    #[schema(format = DateTime)]
    pub computed_datetime: String,
}

/// The dark stretches on `walkways` now: (count, metres).
pub fn dark_on(result: &LightingResult, walkways: &[i64]) -> (usize, f64) {
    let wanted: HashSet<i64> = walkways.iter().copied().collect();
    result
        .stretches
        .iter()
        .filter(|s| s.state == LightState::Dark && wanted.contains(&s.walkway_id))
        .fold((0, 0.0), |(n, m), s| (n + 1, m + s.length_m))
}

fn check_links(
    snap: &Snapshot,
    measures: &HashSet<i64>,
    measure_ids: &[i64],
    districts: Vec<String>,
    walkway_ids: &[i64],
) -> ServiceResult<Vec<String>> {
    let mut problems = Vec::new();
    for (name, n) in [
        ("measure_ids", measure_ids.len()),
        ("districts", districts.len()),
        ("walkway_ids", walkway_ids.len()),
    ] {
        if n > MAX_LINKS {
            problems.push(format!("{name} has {n} entries; at most {MAX_LINKS}"));
        }
    }
    if !problems.is_empty() {
        return Err(ServiceError::Problems(problems));
    }
    for id in measure_ids {
        if !measures.contains(id) {
            problems.push(format!("measure_ids: no measure {id}"));
        }
    }
    let ways: HashSet<i64> = snap.walkways.items.iter().map(|w| w.id).collect();
    for id in walkway_ids {
        if !ways.contains(id) {
            problems.push(format!("walkway_ids: no walkway {id}"));
        }
    }
    let mut names = Vec::with_capacity(districts.len());
    for d in districts {
        match snap.areas.by_name(&d) {
            Some(a) => names.push(a.name.clone()),
            None => problems.push(format!("districts: {d:?} is not a district here")),
        }
    }
    if !problems.is_empty() {
        return Err(ServiceError::Problems(problems));
    }
    names.sort();
    names.dedup();
    Ok(names)
}

fn check_period(start: NaiveDate, end: NaiveDate) -> ServiceResult<()> {
    if end < start {
        return Err(ServiceError::Invalid(format!(
            "period_end {end} is before period_start {start}"
        )));
    }
    if (end - start).num_days() > MAX_PERIOD_DAYS {
        return Err(ServiceError::Invalid(format!(
            "the period {start} to {end} is longer than {MAX_PERIOD_DAYS} days"
        )));
    }
    Ok(())
}

fn required(field: &str, v: String, max: usize) -> ServiceResult<String> {
    text(field, Some(v), max)?
        .ok_or_else(|| ServiceError::Invalid(format!("{field} must not be empty")))
}

/// `POST /api/v1/pledges`: the baseline is the dark stretches on its walkways in `result` (the
/// configured class) today.
pub async fn create(
    store: &dyn Store,
    snap: &Snapshot,
    result: &LightingResult,
    p: NewPledge,
    today: NaiveDate,
) -> ServiceResult<Pledge> {
    check_period(p.period_start, p.period_end)?;
    let measures: HashSet<i64> = store.list_measures().await?.iter().map(|m| m.id).collect();
    let districts = check_links(snap, &measures, &p.measure_ids, p.districts, &p.walkway_ids)?;
    let (dark_stretches, dark_m) = dark_on(result, &p.walkway_ids);
    let spec = PledgeSpec {
        title: required("title", p.title, MAX_TITLE)?,
        text: required("text", p.text, MAX_TEXT)?,
        owner: p.owner,
        period_start: p.period_start,
        period_end: p.period_end,
        measure_ids: p.measure_ids,
        districts,
        walkway_ids: p.walkway_ids,
        baseline: Some(Baseline {
            at: today,
            dark_m,
            dark_stretches,
        }),
    };
    Ok(store.create_pledge(&spec).await?)
}

/// `PATCH /api/v1/pledges/{id}`.
pub async fn change(
    store: &dyn Store,
    snap: &Snapshot,
    result: &LightingResult,
    id: i64,
    p: PledgePatch,
) -> ServiceResult<Pledge> {
    let current = store
        .get_pledge(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no pledge {id}")))?;
    let mut s = current.spec;
    if let Some(t) = p.title {
        s.title = required("title", t, MAX_TITLE)?;
    }
    if let Some(t) = p.text {
        s.text = required("text", t, MAX_TEXT)?;
    }
    if let Some(o) = p.owner {
        s.owner = o;
    }
    if let Some(d) = p.period_start {
        s.period_start = d;
    }
    if let Some(d) = p.period_end {
        s.period_end = d;
    }
    check_period(s.period_start, s.period_end)?;
    let measures: HashSet<i64> = store.list_measures().await?.iter().map(|m| m.id).collect();
    let measure_ids = p.measure_ids.unwrap_or(s.measure_ids.clone());
    let walkway_ids = p.walkway_ids.unwrap_or(s.walkway_ids.clone());
    let districts = p.districts.unwrap_or(s.districts.clone());
    s.districts = check_links(snap, &measures, &measure_ids, districts, &walkway_ids)?;
    let added: Vec<i64> = walkway_ids
        .iter()
        .copied()
        .filter(|w| !s.walkway_ids.contains(w))
        .collect();
    if !added.is_empty() {
        let (n, m) = dark_on(result, &added);
        if let Some(b) = s.baseline.as_mut() {
            b.dark_m += m;
            b.dark_stretches += n;
        }
    }
    s.measure_ids = measure_ids;
    s.walkway_ids = walkway_ids;
    Ok(store.update_pledge(id, &s).await?)
}

/// Everything the indicators of every pledge read from the store, in a few queries.
pub struct FollowUp {
    pub measures: HashMap<i64, Measure>,
    /// Status changes of the reports requested since the earliest pledge start.
    pub changes: Vec<StatusChange>,
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
    /// `pledge_ack_days`.
    pub ack_days: i64,
    /// The public's k: counts below it are not shown.
    pub k: u32,
    /// Planned and delivered patrol presence per whole month (no place, no time of day).
    pub patrol: std::sync::Arc<Vec<crate::service::dosage::MonthPresence>>,
}

impl FollowUp {
    pub async fn load(
        store: &dyn Store,
        pledges: &[Pledge],
        now: DateTime<Utc>,
        ack_days: i64,
        k: u32,
    ) -> ServiceResult<Self> {
        let measures = store
            .list_measures()
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let changes = match pledges.iter().map(|p| p.spec.period_start).min() {
            Some(first) => {
                let from = crate::time::local_midnight_utc(first);
                store.status_changes(from, now).await?
            }
            None => Vec::new(),
        };
        Ok(Self {
            measures,
            changes,
            today: crate::time::local_date(&now),
            now,
            ack_days,
            k,
            patrol: Default::default(),
        })
    }
}

/// The Swedish name of an indicator, by its key.
fn label_sv(key: &str) -> &'static str {
    match key {
        "dark_lit_share" => "Mörka sträckor på prioriterade gångvägar som nu är upplysta",
        "broken_lamp_days" => "Dagar från anmäld trasig lampa till åtgärdad (median)",
        "incident_change" => "Anmälda händelser i fokusområdena mot perioden innan",
        "patrol_delivered" => "Planerad synlig polisnärvaro som genomförts",
        "measures_done" => "Genomförda åtgärder",
        _ => unreachable!("an indicator without a name: {key}"),
    }
}

fn pct(v: f64) -> f64 {
    (v * 1000.0).round() / 10.0
}

fn sv_num(v: f64) -> String {
    crate::analysis::lighting::illuminance::fmt_num(v)
}

/// The median of `v` (sorted in place); `None` when empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The indicators of one pledge (see the module documentation).
pub fn indicators(
    p: &PledgeSpec,
    snap: &Snapshot,
    result: &LightingResult,
    f: &FollowUp,
) -> Vec<Indicator> {
    let start = crate::time::local_midnight_utc(p.period_start);
    let end_day = p.period_end.min(f.today);
    let end = crate::time::local_midnight_utc(end_day + Duration::days(1)).min(f.now);
    let mut out = Vec::new();

    // Dark stretches lit.
    let (_, now_dark) = dark_on(result, &p.walkway_ids);
    out.push(match p.baseline.filter(|b| b.dark_m > 0.0) {
        Some(b) => {
            let share = ((b.dark_m - now_dark).max(0.0) / b.dark_m).min(1.0);
            Indicator {
                key: "dark_lit_share",
                label: label_sv("dark_lit_share").into(),
                value: Some(pct(share)),
                unit: "%",
                text: format!(
                    "{} % av {} m mörk gångväg vid löftets start ({}) är inte längre mörk; {} m återstår.",
                    sv_num(pct(share)),
                    sv_num(b.dark_m.round()),
                    b.at,
                    sv_num(now_dark.min(b.dark_m).round())
                ),
            }
        }
        None => Indicator {
            key: "dark_lit_share",
            label: label_sv("dark_lit_share").into(),
            value: None,
            unit: "%",
            text: "Inga mörka sträckor på löftets gångvägar när det gavs.".into(),
        },
    });

    // Reports of the period and their status changes.
    let reports: HashMap<i64, &crate::model::CitizenReport> = snap
        .reports
        .items
        .iter()
        .filter(|r| r.requested_at >= start && r.requested_at < end && r.merged_into.is_none())
        .map(|r| (r.id, r))
        .collect();
    let mut first_move: HashMap<i64, DateTime<Utc>> = HashMap::new();
    let mut closed_at: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for c in f
        .changes
        .iter()
        .filter(|c| reports.contains_key(&c.report_id))
    {
        if c.to != ReportStatus::Open {
            first_move.entry(c.report_id).or_insert(c.at);
        }
        if c.to == ReportStatus::Closed {
            closed_at.entry(c.report_id).or_insert(c.at);
        }
    }
    let mut lamp_days: Vec<f64> = reports
        .values()
        .filter(|r| r.service == ServiceCode::BrokenLamp)
        .filter_map(|r| {
            closed_at
                .get(&r.id)
                .map(|&c| (c - r.requested_at).num_seconds() as f64 / 86_400.0)
        })
        .collect();
    let n_lamp = lamp_days.len();
    out.push(match median(&mut lamp_days) {
        Some(m) => Indicator {
            key: "broken_lamp_days",
            label: label_sv("broken_lamp_days").into(),
            value: Some((m * 10.0).round() / 10.0),
            unit: "dagar",
            text: format!(
                "Mediantiden var {} dagar över {n_lamp} åtgärdade anmälningar om trasig belysning.",
                sv_num((m * 10.0).round() / 10.0)
            ),
        },
        None => Indicator {
            key: "broken_lamp_days",
            label: label_sv("broken_lamp_days").into(),
            value: None,
            unit: "dagar",
            text: "Ingen anmälan om trasig belysning har åtgärdats under perioden ännu.".into(),
        },
    });

    let due = Duration::days(f.ack_days);
    let judged: Vec<&&crate::model::CitizenReport> = reports
        .values()
        .filter(|r| r.requested_at + due <= f.now)
        .collect();
    let in_time = judged
        .iter()
        .filter(|r| {
            first_move
                .get(&r.id)
                .is_some_and(|&t| t - r.requested_at <= due)
        })
        .count();
    out.push(if judged.is_empty() {
        Indicator {
            key: "acknowledged_share",
            label: format!(
                "Medborgares anmälningar som besvarats inom {} dagar",
                f.ack_days
            ),
            value: None,
            unit: "%",
            text: "Inga anmälningar att bedöma under perioden ännu.".into(),
        }
    } else {
        let share = in_time as f64 / judged.len() as f64;
        Indicator {
            key: "acknowledged_share",
            label: format!(
                "Medborgares anmälningar som besvarats inom {} dagar",
                f.ack_days
            ),
            value: Some(pct(share)),
            unit: "%",
            text: format!(
                "{in_time} av {} anmälningar fick svar inom {} dagar.",
                judged.len(),
                f.ack_days
            ),
        }
    });

    // Incidents in the focus areas, this period against the one before.
    if !p.districts.is_empty() {
        let len = end - start;
        let before_start = start - len;
        let areas: Vec<&crate::model::Area> = p
            .districts
            .iter()
            .filter_map(|d| snap.areas.by_name(d))
            .collect();
        // Each incident once, however many of the areas hold it.
        let mut inside: HashSet<usize> = HashSet::new();
        for a in &areas {
            let Some(bb) = geo::BoundingRect::bounding_rect(&a.geometry) else {
                continue;
            };
            inside.extend(
                snap.incidents_in_box([bb.min().x, bb.min().y], [bb.max().x, bb.max().y])
                    .filter(|&i| a.geometry.contains(&snap.incidents.items[i].location)),
            );
        }
        let (mut now_n, mut before_n) = (0u64, 0u64);
        for i in inside {
            let t = snap.incidents.items[i].occurred_at.with_timezone(&Utc);
            if t >= start && t < end {
                now_n += 1;
            } else if t >= before_start && t < start {
                before_n += 1;
            }
        }
        let k = u64::from(f.k);
        out.push(if now_n < k || before_n < k {
            Indicator {
                key: "incident_change",
                label: label_sv("incident_change").into(),
                value: None,
                unit: "%",
                text: "För få händelser för att visa en förändring.".into(),
            }
        } else {
            let change = (now_n as f64 - before_n as f64) / before_n as f64;
            Indicator {
                key: "incident_change",
                label: label_sv("incident_change").into(),
                value: Some(pct(change)),
                unit: "%",
                text: format!(
                    "{now_n} händelser under perioden mot {before_n} under lika lång tid innan ({}{} %).",
                    if change > 0.0 { "+" } else { "" },
                    sv_num(pct(change))
                ),
            }
        });
    }

    // Visible police: planned presence delivered, over the whole months of the period.
    if matches!(p.owner, PledgeOwner::Polisen | PledgeOwner::Gemensamt) {
        let months = patrol_months(p, f);
        let (planned, delivered) = months.iter().fold((0.0, 0.0), |(a, b), m| {
            (a + m.planned_hours, b + m.delivered_hours)
        });
        out.push(if planned > 0.0 {
            let share = (delivered / planned).min(1.0);
            Indicator {
                key: "patrol_delivered",
                label: label_sv("patrol_delivered").into(),
                value: Some(pct(share)),
                unit: "%",
                text: format!(
                    "{} av {} planerade timmar på brottsplatserna under {} hela månader.",
                    sv_num(delivered.round()),
                    sv_num(planned.round()),
                    months.len()
                ),
            }
        } else {
            Indicator {
                key: "patrol_delivered",
                label: label_sv("patrol_delivered").into(),
                value: None,
                unit: "%",
                text: "Ingen patrullnärvaro registrerad för perioden ännu.".into(),
            }
        });
    }

    // Measures done.
    let linked: Vec<&Measure> = p
        .measure_ids
        .iter()
        .filter_map(|id| f.measures.get(id))
        .filter(|m| m.spec.status != MeasureStatus::Cancelled)
        .collect();
    if !linked.is_empty() {
        let done = linked
            .iter()
            .filter(|m| m.spec.status == MeasureStatus::Done)
            .count();
        out.push(Indicator {
            key: "measures_done",
            label: label_sv("measures_done").into(),
            value: Some(pct(done as f64 / linked.len() as f64)),
            unit: "%",
            text: format!("{done} av {} åtgärder är genomförda.", linked.len()),
        });
    }
    out
}

/// The months of `f.patrol` inside the pledge's period.
fn patrol_months<'a>(
    p: &PledgeSpec,
    f: &'a FollowUp,
) -> Vec<&'a crate::service::dosage::MonthPresence> {
    let (from, to) = (
        p.period_start.format("%Y-%m").to_string(),
        p.period_end.format("%Y-%m").to_string(),
    );
    f.patrol
        .iter()
        .filter(|m| m.month >= from && m.month <= to)
        .collect()
}

/// A pledge with its measures and indicators, as everyone sees it.
pub fn view(p: &Pledge, snap: &Snapshot, result: &LightingResult, f: &FollowUp) -> PledgeView {
    let s = &p.spec;
    let total = (s.period_end - s.period_start).num_days().max(1) as f64;
    let passed = ((f.today - s.period_start).num_days() as f64 / total).clamp(0.0, 1.0);
    PledgeView {
        id: p.id,
        title: s.title.clone(),
        text: s.text.clone(),
        owner: s.owner,
        owner_sv: s.owner.sv(),
        period_start: s.period_start,
        period_end: s.period_end,
        period_passed: pct(passed),
        districts: s.districts.clone(),
        measures: s
            .measure_ids
            .iter()
            .filter_map(|id| f.measures.get(id))
            .map(|m| PledgeMeasure {
                id: m.id,
                title: m.spec.title.clone(),
                kind: m.spec.kind,
                status: m.spec.status,
                done_date: m.spec.done_date,
            })
            .collect(),
        indicators: indicators(s, snap, result, f),
        patrol_months: if matches!(s.owner, PledgeOwner::Polisen | PledgeOwner::Gemensamt) {
            patrol_months(s, f).into_iter().cloned().collect()
        } else {
            Vec::new()
        },
        baseline: s.baseline,
        updated_datetime: datetime(p.updated_at),
    }
}

/// `GET /api/v1/pledges`.
pub fn list(
    pledges: &[Pledge],
    snap: &Snapshot,
    result: &LightingResult,
    f: &FollowUp,
) -> PledgeList {
    let pledges: Vec<PledgeView> = pledges.iter().map(|p| view(p, snap, result, f)).collect();
    PledgeList {
        count: pledges.len(),
        pledges,
        computed_datetime: datetime(f.now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn citizen(
        id: i64,
        service: ServiceCode,
        requested: DateTime<Utc>,
    ) -> crate::model::CitizenReport {
        let p = geo::Point::new(X0 + 50.0, Y0 + 50.0);
        crate::model::CitizenReport {
            id,
            service,
            status: ReportStatus::Open,
            description: "x".into(),
            location: p,
            original_location: p,
            walkway_id: None,
            lamp_id: None,
            address: None,
            media_url: None,
            status_notes: None,
            agency_responsible: None,
            requested_at: requested,
            updated_at: requested,
            hidden: false,
            merged_into: None,
            attributes: serde_json::json!({}),
        }
    }

    fn incident(i: usize, x: f64, t: DateTime<Utc>) -> crate::model::Incident {
        crate::model::Incident {
            source: "test".into(),
            source_id: i.to_string(),
            occurred_at: t.fixed_offset(),
            time_precision: Default::default(),
            occurred_to: None,
            category: "assault".into(),
            group: crate::category::CategoryGroup::Violence,
            label: "Misshandel".into(),
            location: geo::Point::new(x, Y0 + 10.0),
            precision: crate::model::LocationPrecision::Exact,
            place: None,
            summary: None,
        }
    }

    const X0: f64 = 672_000.0;
    const Y0: f64 = 6_591_000.0;

    fn change(report_id: i64, at: DateTime<Utc>, to: ReportStatus) -> StatusChange {
        StatusChange { report_id, at, to }
    }

    fn measure(id: i64, status: MeasureStatus) -> (i64, Measure) {
        use crate::store::measures::{MeasurePlace, MeasureSpec};
        (
            id,
            Measure {
                id,
                spec: MeasureSpec {
                    title: format!("Åtgärd {id}"),
                    kind: MeasureKind::NewLamp,
                    status,
                    agency: None,
                    place: MeasurePlace::default(),
                    planned_date: None,
                    done_date: None,
                    cost_sek: None,
                    notes: None,
                    lamp: None,
                },
                created_at: at(2026, 1, 1, 0),
                updated_at: at(2026, 1, 1, 0),
            },
        )
    }

    #[test]
    fn indicators_from_planted_reports_incidents_and_lamps_equal_the_hand_count() {
        use crate::analysis::cancel::Cancel;
        use crate::analysis::lighting::{ClassPlan, PClass};
        use crate::analysis::privacy::PublicRules;
        use crate::model::{Area, Lamp, LampStatus, Walkway};
        use geo::{LineString, MultiPolygon, Polygon};

        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // A 330 m path lit every 30 m except for 150 m; the pledge starts from its dark stretch.
        let way = Walkway {
            id: 5,
            geometry: LineString::from(vec![(X0, Y0), (X0 + 330.0, Y0)]),
            kind: "footway".into(),
            lit: Some("yes".into()),
            name: None,
        };
        let lamp = |x: f64| Lamp {
            id: format!("L{x}"),
            location: geo::Point::new(X0 + x, Y0 + 2.0),
            height_m: Some(5.0),
            lumen: Some(3_000.0),
            watt: None,
            status: LampStatus::Working,
            source: "test".into(),
            reference: None,
        };
        let gap: Vec<Lamp> = (0..=11)
            .map(|k| k as f64 * 30.0)
            .filter(|x| !(100.0..=230.0).contains(x))
            .map(lamp)
            .collect();
        let full: Vec<Lamp> = (0..=11).map(|k| lamp(k as f64 * 30.0)).collect();
        let district = Area {
            id: 1,
            name: "Provområdet".into(),
            geometry: MultiPolygon::new(vec![Polygon::new(
                LineString::from(vec![
                    (X0 - 100.0, Y0 - 100.0),
                    (X0 + 500.0, Y0 - 100.0),
                    (X0 + 500.0, Y0 + 500.0),
                    (X0 - 100.0, Y0 + 500.0),
                    (X0 - 100.0, Y0 - 100.0),
                ]),
                vec![],
            )]),
            source: "test".into(),
        };
        let start = d(2026, 1, 1);
        let now = at(2026, 6, 30, 12);
        // The period so far is 2025-12-31 23:00 UTC (midnight in Stockholm) to now; the one
        // before is as long and ends where it starts.
        let p_start = crate::time::local_midnight_utc(start);
        let len = now - p_start;
        let mut incidents = Vec::new();
        for k in 0..12 {
            incidents.push(incident(
                k,
                X0 + 10.0,
                p_start + Duration::days(10 + k as i64),
            ));
        }
        for k in 0..8 {
            incidents.push(incident(
                100 + k,
                X0 + 20.0,
                p_start - len + Duration::days(1 + k as i64),
            ));
        }
        // Outside the district, and before both windows: not counted.
        for k in 0..5 {
            incidents.push(incident(200 + k, X0 + 5_000.0, p_start + Duration::days(3)));
        }
        incidents.push(incident(300, X0 + 10.0, p_start - len - Duration::days(2)));
        let reports = vec![
            citizen(1, ServiceCode::BrokenLamp, at(2026, 2, 1, 10)),
            citizen(2, ServiceCode::BrokenLamp, at(2026, 3, 1, 10)),
            citizen(3, ServiceCode::DarkPath, at(2026, 4, 1, 10)),
            // Younger than the five days: not judged yet.
            citizen(4, ServiceCode::DarkPath, at(2026, 6, 28, 10)),
            // Before the period.
            citizen(5, ServiceCode::BrokenLamp, at(2025, 12, 15, 10)),
        ];
        let changes = vec![
            change(1, at(2026, 2, 3, 10), ReportStatus::Acknowledged),
            change(1, at(2026, 2, 11, 10), ReportStatus::Closed),
            change(2, at(2026, 3, 5, 10), ReportStatus::Closed),
            change(3, at(2026, 4, 8, 10), ReportStatus::InProgress),
            change(5, at(2025, 12, 16, 10), ReportStatus::Closed),
        ];
        let build = |lamps: Vec<Lamp>| {
            crate::spatial::Snapshot::build(
                incidents.clone(),
                vec![way.clone()],
                lamps,
                reports.clone(),
                vec![district.clone()],
                vec![],
                false,
            )
        };
        let analyse = |s: &crate::spatial::Snapshot| {
            crate::service::lighting::analyse(
                s,
                ClassPlan::uniform(PClass::P5),
                PublicRules::new(3, 200.0, 300.0),
                &Cancel::never(),
            )
            .unwrap()
        };
        let before = build(gap);
        let (n, dark_m) = dark_on(&analyse(&before), &[5]);
        assert_eq!(n, 1);
        assert!(dark_m > 100.0 && dark_m < 150.0, "{dark_m}");
        let spec = PledgeSpec {
            title: "Ljusare stigar".into(),
            text: "Vi lyser upp stigen.".into(),
            owner: PledgeOwner::Gemensamt,
            period_start: start,
            period_end: d(2026, 12, 31),
            measure_ids: vec![1, 2, 3, 99],
            districts: vec!["Provområdet".into()],
            walkway_ids: vec![5],
            baseline: Some(Baseline {
                at: start,
                dark_m,
                dark_stretches: n,
            }),
        };
        let f = |k| FollowUp {
            measures: [
                measure(1, MeasureStatus::Done),
                measure(2, MeasureStatus::Planned),
                measure(3, MeasureStatus::Cancelled),
            ]
            .into_iter()
            .collect(),
            changes: changes.clone(),
            today: d(2026, 6, 30),
            now,
            ack_days: 5,
            k,
            patrol: std::sync::Arc::new(vec![
                crate::service::dosage::MonthPresence {
                    month: "2025-12".into(),
                    planned_hours: 100.0,
                    delivered_hours: 100.0,
                },
                crate::service::dosage::MonthPresence {
                    month: "2026-01".into(),
                    planned_hours: 40.0,
                    delivered_hours: 10.0,
                },
                crate::service::dosage::MonthPresence {
                    month: "2026-02".into(),
                    planned_hours: 40.0,
                    delivered_hours: 20.0,
                },
            ]),
        };
        let after = build(full);
        let all = indicators(&spec, &after, &analyse(&after), &f(3));
        let get = |key: &str| all.iter().find(|i| i.key == key).unwrap().clone();
        // The gap is lit: all of the baseline's dark metres.
        assert_eq!(get("dark_lit_share").value, Some(100.0));
        // Broken lamps closed after 10 and 4 days: median 7.
        assert_eq!(get("broken_lamp_days").value, Some(7.0));
        // Reports 1 (2 days) and 2 (4 days) answered within 5 days, 3 (7 days) not: 2 of 3.
        let ack = get("acknowledged_share");
        assert_eq!(ack.value, Some(66.7));
        assert_eq!(ack.text, "2 av 3 anmälningar fick svar inom 5 dagar.");
        // 12 incidents against 8: +50 %.
        let inc = get("incident_change");
        assert_eq!(inc.value, Some(50.0));
        assert_eq!(
            inc.text,
            "12 händelser under perioden mot 8 under lika lång tid innan (+50 %)."
        );
        // Patrol presence of the period's months only (December 2025 is before it): 30 of 80 h.
        let patrol = get("patrol_delivered");
        assert_eq!(patrol.value, Some(37.5));
        assert_eq!(
            patrol.text,
            "30 av 80 planerade timmar på brottsplatserna under 2 hela månader."
        );
        // One of two measures not cancelled is done (99 does not exist).
        assert_eq!(get("measures_done").value, Some(50.0));
        // With k = 10, the 8 are too few to show, and so is the change.
        let shy = indicators(&spec, &after, &analyse(&after), &f(10));
        let inc = shy.iter().find(|i| i.key == "incident_change").unwrap();
        assert_eq!(inc.value, None);
        // Nothing lit yet: 0 %.
        let none = indicators(&spec, &before, &analyse(&before), &f(3));
        assert_eq!(none[0].value, Some(0.0));
    }

    #[test]
    fn a_period_is_checked() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(check_period(d(2019, 1, 1), d(2020, 12, 31)).is_ok());
        assert!(check_period(d(2020, 1, 1), d(2019, 12, 31)).is_err());
        assert!(check_period(d(2019, 1, 1), d(2029, 1, 1)).is_err());
    }
}
