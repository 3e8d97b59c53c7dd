//! The åtgärdsplan: coordinators plan measures, follow them to done, and see what they
//! achieved ([`effect`]).
//!
//! The API speaks WGS84 (`points` as `[long, lat]`, GeoJSON's order); the store keeps EPSG:3006.
//! Every change is kept in the measure's history with who made it.

pub mod csv;
pub mod effect;

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::config::Config;
use crate::crs;
use crate::model::{AGENCIES, Actor, ReportChange, ReportStatus};
use crate::spatial::Snapshot;
use crate::store::Store;
use crate::store::measures::{
    LampType, Measure, MeasureKind, MeasurePlace, MeasureSpec, MeasureStatus,
};
use crate::store::reports::HistoryEntry;

use super::reports::ReportDesk;
use super::{ServiceError, ServiceResult, datetime, note_text as text};

/// Agencies a measure can belong to: those of reports, and `annan`.
pub const MEASURE_AGENCIES: [&str; 4] = [AGENCIES[0], AGENCIES[1], AGENCIES[2], "annan"];
/// Longest title and notes.
pub const MAX_TITLE: usize = 200;
pub const MAX_NOTES: usize = 4000;
/// Most points, walkways and reports one measure may link.
pub const MAX_LINKS: usize = 500;

/// Where a measure acts, as the API gives it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceInput {
    /// `[long, lat]` in WGS84.
    #[serde(default)]
    #[schema(value_type = Vec<Vec<f64>>)]
    pub points: Vec<[f64; 2]>,
    /// OSM way ids of the walkways (and so the dark stretches) it concerns.
    #[serde(default)]
    pub walkway_ids: Vec<i64>,
    /// Citizen reports it answers.
    #[serde(default)]
    pub report_ids: Vec<i64>,
    /// Lamps it concerns, as `GET /api/v1/lighting/lamps` names them. A repair switches them
    /// on when done; the lamps of its linked broken-lamp reports are added by themselves.
    #[serde(default)]
    pub lamp_ids: Vec<String>,
    /// The district (its comparison area); default: the district of the first point or walkway.
    #[serde(default)]
    pub district: Option<String>,
    /// Metres around points and walkways (10 to 2000); default `measure_buffer_m`.
    #[serde(default)]
    pub buffer_m: Option<f64>,
}

/// The body of `POST /api/v1/measures`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeasure {
    pub title: String,
    pub kind: MeasureKind,
    /// Default `planned`.
    #[serde(default)]
    pub status: Option<MeasureStatus>,
    /// `kommunen`, `polisen`, `fastighetsägare` or `annan`.
    #[serde(default)]
    pub agency: Option<String>,
    #[serde(default)]
    pub place: PlaceInput,
    #[serde(default)]
    pub planned_date: Option<NaiveDate>,
    /// Required when `status` is `done`; not in the future.
    #[serde(default)]
    pub done_date: Option<NaiveDate>,
    #[serde(default)]
    pub cost_sek: Option<f64>,
    #[serde(default)]
    pub notes: Option<String>,
    /// A new-lamp measure's lamp type (default: the configured proposal lamp). When the
    /// measure is done, a lamp of this type stands at each of its points in the lighting model.
    #[serde(default)]
    pub lamp: Option<LampType>,
    /// When the measure is done: close its linked citizen reports that are still open, with
    /// the measure as the reason (kept in each report's history).
    #[serde(default)]
    pub close_reports: bool,
}

/// `Some(v)` whenever the field is present, `null` included.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The body of `PATCH /api/v1/measures/{id}`: the fields to change; `null` clears one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasurePatch {
    pub title: Option<String>,
    pub kind: Option<MeasureKind>,
    pub status: Option<MeasureStatus>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub agency: Option<Option<String>>,
    pub place: Option<PlaceInput>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub planned_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub done_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub cost_sek: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<LampType>)]
    pub lamp: Option<Option<LampType>>,
    /// As in [`NewMeasure::close_reports`]; not stored.
    #[serde(default)]
    pub close_reports: bool,
}

/// A measure as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasureView {
    pub id: i64,
    pub title: String,
    pub kind: MeasureKind,
    pub status: MeasureStatus,
    pub agency: Option<String>,
    pub place: PlaceInput,
    pub planned_date: Option<NaiveDate>,
    pub done_date: Option<NaiveDate>,
    pub cost_sek: Option<f64>,
    pub notes: Option<String>,
    pub lamp: Option<LampType>,
    /// Citizen reports closed by this request (with the measure as the reason).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub closed_reports: Vec<i64>,
    #[schema(format = DateTime)]
    pub created_datetime: String,
    #[schema(format = DateTime)]
    pub updated_datetime: String,
    /// Oldest first; in the answers about one measure only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEntry>>,
}

/// The list of measures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasureList {
    pub measures: Vec<MeasureView>,
    pub count: usize,
}

impl MeasureView {
    pub fn of(m: &Measure) -> Self {
        let s = &m.spec;
        let points = s
            .place
            .points
            .iter()
            .filter_map(|&[x, y]| {
                let (lon, lat) = crs::to_wgs84(x, y).ok()?;
                Some([crs::round7(lon), crs::round7(lat)])
            })
            .collect();
        Self {
            id: m.id,
            title: s.title.clone(),
            kind: s.kind,
            status: s.status,
            agency: s.agency.clone(),
            place: PlaceInput {
                points,
                walkway_ids: s.place.walkway_ids.clone(),
                report_ids: s.place.report_ids.clone(),
                lamp_ids: s.place.lamp_ids.clone(),
                district: s.place.district.clone(),
                buffer_m: s.place.buffer_m,
            },
            planned_date: s.planned_date,
            done_date: s.done_date,
            cost_sek: s.cost_sek,
            notes: s.notes.clone(),
            lamp: s.lamp,
            closed_reports: Vec::new(),
            created_datetime: datetime(m.created_at),
            updated_datetime: datetime(m.updated_at),
            history: None,
        }
    }
}

/// The place in EPSG:3006, each link checked against the snapshot.
fn place(p: PlaceInput, snap: &Snapshot) -> ServiceResult<MeasurePlace> {
    let mut problems = Vec::new();
    for (name, n) in [
        ("points", p.points.len()),
        ("walkway_ids", p.walkway_ids.len()),
        ("report_ids", p.report_ids.len()),
        ("lamp_ids", p.lamp_ids.len()),
    ] {
        if n > MAX_LINKS {
            problems.push(format!("place.{name} has {n} entries; at most {MAX_LINKS}"));
        }
    }
    // Nothing more is looked at in a place too large to take.
    if !problems.is_empty() {
        return Err(ServiceError::Problems(problems));
    }
    let walkways: HashSet<i64> = snap.walkways.items.iter().map(|w| w.id).collect();
    let reports: HashSet<i64> = snap.reports.items.iter().map(|r| r.id).collect();
    let lamps: HashSet<&str> = if p.lamp_ids.is_empty() {
        HashSet::new()
    } else {
        snap.lamps.items.iter().map(|l| l.id.as_str()).collect()
    };
    let mut points = Vec::with_capacity(p.points.len());
    for (i, &[lon, lat]) in p.points.iter().enumerate() {
        let inside = crs::SWEDEN_WGS84;
        if !(lon >= inside[0] && lon <= inside[2] && lat >= inside[1] && lat <= inside[3]) {
            problems.push(format!(
                "place.points[{i}] = [{lon}, {lat}] is not in Sweden; give [long, lat] in WGS84"
            ));
            continue;
        }
        match crs::to_work(4326, lon, lat) {
            Ok((x, y)) => points.push([x, y]),
            Err(e) => problems.push(format!("place.points[{i}]: {e}")),
        }
    }
    for id in &p.walkway_ids {
        if !walkways.contains(id) {
            problems.push(format!("place.walkway_ids: no walkway {id}"));
        }
    }
    for id in &p.report_ids {
        if !reports.contains(id) {
            problems.push(format!("place.report_ids: no report {id}"));
        }
    }
    for id in &p.lamp_ids {
        if !lamps.contains(id.as_str()) {
            problems.push(format!("place.lamp_ids: no lamp {id:?}"));
        }
    }
    let district = match p
        .district
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(d) => match snap.areas.by_name(d) {
            Some(a) => Some(a.name.clone()),
            None => {
                problems.push(format!("place.district {d:?} is not a district here"));
                None
            }
        },
    };
    if let Some(b) = p.buffer_m
        && !(10.0..=2_000.0).contains(&b)
    {
        problems.push(format!("place.buffer_m = {b}: expected 10 to 2000 metres"));
    }
    if !problems.is_empty() {
        return Err(ServiceError::Problems(problems));
    }
    Ok(MeasurePlace {
        points,
        walkway_ids: p.walkway_ids,
        report_ids: p.report_ids,
        lamp_ids: p.lamp_ids,
        district,
        buffer_m: p.buffer_m,
    })
}

/// Checks what no single field can: a done measure has a done date, not in the future.
fn check(spec: MeasureSpec, today: NaiveDate) -> ServiceResult<MeasureSpec> {
    if spec.title.is_empty() {
        return Err(ServiceError::Invalid("title must not be empty".into()));
    }
    if let Some(a) = spec
        .agency
        .as_ref()
        .filter(|a| !MEASURE_AGENCIES.contains(&a.as_str()))
    {
        return Err(ServiceError::Invalid(format!(
            "agency {a:?}: use {} or null",
            MEASURE_AGENCIES.join(", ")
        )));
    }
    if let Some(c) = spec.cost_sek.filter(|c| !(c.is_finite() && *c >= 0.0)) {
        return Err(ServiceError::Invalid(format!(
            "cost_sek = {c}: a cost in SEK, 0 or more"
        )));
    }
    match (spec.status, spec.done_date) {
        (MeasureStatus::Done, None) => {
            return Err(ServiceError::Invalid(
                "a done measure needs its done_date (the day it was done)".into(),
            ));
        }
        (_, Some(d)) if d > today => {
            return Err(ServiceError::Invalid(format!(
                "done_date {d} is in the future; plan it with planned_date"
            )));
        }
        _ => {}
    }
    Ok(spec)
}

/// The configured lamp type of proposals and new-lamp measures.
pub fn default_lamp(cfg: &Config) -> LampType {
    LampType {
        height_m: cfg.proposal_lamp_height_m,
        lumen: cfg.proposal_lamp_lumen,
    }
}

fn check_lamp(t: Option<LampType>) -> ServiceResult<Option<LampType>> {
    use crate::service::lighting::{check_lamp_height, check_lamp_lumen};
    if let Some(t) = t {
        check_lamp_height("lamp.height_m", t.height_m).map_err(ServiceError::Invalid)?;
        check_lamp_lumen("lamp.lumen", t.lumen).map_err(ServiceError::Invalid)?;
    }
    Ok(t)
}

/// What follows from the kind: a new-lamp measure has a lamp type (the configured one unless
/// given), other kinds have none; a repair concerns the lamps of its linked broken-lamp
/// reports too.
fn complete(mut spec: MeasureSpec, snap: &Snapshot, cfg: &Config) -> MeasureSpec {
    match spec.kind {
        MeasureKind::NewLamp => {
            spec.lamp.get_or_insert_with(|| default_lamp(cfg));
        }
        _ => spec.lamp = None,
    }
    if spec.kind == MeasureKind::LampRepair {
        for r in &spec.place.report_ids {
            let lamp = snap
                .reports
                .items
                .binary_search_by_key(r, |x| x.id)
                .ok()
                .and_then(|i| snap.reports.items[i].lamp_id.clone());
            if let Some(l) = lamp
                && !spec.place.lamp_ids.contains(&l)
            {
                spec.place.lamp_ids.push(l);
            }
        }
    }
    spec
}

/// The spec a new measure would be stored with, checked.
async fn new_spec(
    desk: &ReportDesk<'_>,
    snap: &Snapshot,
    m: &NewMeasure,
    today: NaiveDate,
) -> ServiceResult<MeasureSpec> {
    let m = m.clone();
    check(
        complete(
            MeasureSpec {
                title: text("title", Some(m.title), MAX_TITLE)?.unwrap_or_default(),
                kind: m.kind,
                status: m.status.unwrap_or(MeasureStatus::Planned),
                agency: text("agency", m.agency, 100)?,
                place: place(m.place, snap)?,
                planned_date: m.planned_date,
                done_date: m.done_date,
                cost_sek: m.cost_sek,
                notes: text("notes", m.notes, MAX_NOTES)?,
                lamp: check_lamp(m.lamp)?,
            },
            snap,
            desk.config,
        ),
        today,
    )
}

/// The measure `id` as it is and as `p` would make it, checked.
async fn changed_spec(
    desk: &ReportDesk<'_>,
    snap: &Snapshot,
    id: i64,
    p: &MeasurePatch,
    today: NaiveDate,
) -> ServiceResult<(Measure, MeasureSpec)> {
    let p = p.clone();
    let current = desk
        .store
        .get_measure(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no measure {id}")))?;
    let mut s = current.spec.clone();
    if let Some(t) = p.title {
        s.title = text("title", Some(t), MAX_TITLE)?.unwrap_or_default();
    }
    if let Some(k) = p.kind {
        s.kind = k;
    }
    if let Some(st) = p.status {
        s.status = st;
    }
    if let Some(a) = p.agency {
        s.agency = text("agency", a, 100)?;
    }
    if let Some(pl) = p.place {
        let given = pl.points.clone();
        s.place = place(pl, snap)?;
        // A point given back as it was shown (WGS84 to 7 decimals) is the point stored, not a
        // new one a centimetre away.
        let shown = MeasureView::of(&current).place.points;
        if given == shown {
            s.place.points = current.spec.place.points.clone();
        }
    }
    if let Some(d) = p.planned_date {
        s.planned_date = d;
    }
    if let Some(d) = p.done_date {
        s.done_date = d;
    }
    if let Some(c) = p.cost_sek {
        s.cost_sek = c;
    }
    if let Some(n) = p.notes {
        s.notes = text("notes", n, MAX_NOTES)?;
    }
    if let Some(l) = p.lamp {
        s.lamp = check_lamp(l)?;
    }
    let s = check(complete(s, snap, desk.config), today)?;
    Ok((current, s))
}

/// `POST /api/v1/measures`: stored (with the lamps it puts up or repairs, in the same
/// transaction), published to the lighting model, and answered with its history.
pub async fn create(
    desk: &ReportDesk<'_>,
    m: NewMeasure,
    who: &Actor,
    today: NaiveDate,
) -> ServiceResult<MeasureView> {
    let snap = desk.spatial.load();
    let spec = new_spec(desk, &snap, &m, today).await?;
    let stored = desk.store.create_measure(&spec, who).await?;
    finish(desk, None, stored, m.close_reports, who).await
}

/// `PATCH /api/v1/measures/{id}`.
pub async fn change(
    desk: &ReportDesk<'_>,
    id: i64,
    p: MeasurePatch,
    who: &Actor,
    today: NaiveDate,
) -> ServiceResult<MeasureView> {
    let snap = desk.spatial.load();
    let (current, s) = changed_spec(desk, &snap, id, &p, today).await?;
    let stored = desk.store.update_measure(id, &s, who).await?;
    finish(desk, Some(&current), stored, p.close_reports, who).await
}

/// `POST /api/v1/measures.csv`: every row is checked (as `POST` and `PATCH` check a body)
/// before any is stored; then each is stored in turn.
pub async fn import_csv(
    desk: &ReportDesk<'_>,
    text: &str,
    who: &Actor,
    today: NaiveDate,
) -> ServiceResult<csv::ImportSummary> {
    let rows = csv::parse(text).map_err(ServiceError::Problems)?;
    let snap = desk.spatial.load();
    let mut problems = Vec::new();
    for row in &rows {
        let (line, checked) = match row {
            csv::Row::New { line, measure } => {
                (line, new_spec(desk, &snap, measure, today).await.map(drop))
            }
            csv::Row::Change { line, id, patch } => (
                line,
                changed_spec(desk, &snap, *id, patch, today).await.map(drop),
            ),
        };
        match checked {
            Ok(()) => {}
            Err(ServiceError::Problems(all)) => {
                problems.extend(all.into_iter().map(|p| format!("line {line}: {p}")));
            }
            Err(e @ (ServiceError::Invalid(_) | ServiceError::NotFound(_))) => {
                problems.push(format!("line {line}: {e}"));
            }
            Err(e) => return Err(e),
        }
    }
    if !problems.is_empty() {
        return Err(ServiceError::Problems(problems));
    }
    let mut summary = csv::ImportSummary {
        created: Vec::new(),
        changed: Vec::new(),
    };
    for row in rows {
        match row {
            csv::Row::New { measure, .. } => {
                summary
                    .created
                    .push(create(desk, measure, who, today).await?.id);
            }
            csv::Row::Change { id, patch, .. } => {
                summary
                    .changed
                    .push(change(desk, id, patch, who, today).await?.id);
            }
        }
    }
    Ok(summary)
}

/// After a measure is committed: publishes the lamps it changed, closes its linked reports
/// when asked (and it is done), and answers with its history.
async fn finish(
    desk: &ReportDesk<'_>,
    before: Option<&Measure>,
    stored: Measure,
    close_reports: bool,
    who: &Actor,
) -> ServiceResult<MeasureView> {
    let id = stored.id;
    let lamps_changed = match before {
        None => !stored.spec.lamps(id).is_empty() || !stored.spec.repaired_lamps().is_empty(),
        Some(b) => {
            b.spec.lamps(id) != stored.spec.lamps(id)
                || b.spec.repaired_lamps() != stored.spec.repaired_lamps()
        }
    };
    let mut closed = Vec::new();
    if close_reports {
        if stored.spec.status != MeasureStatus::Done {
            return Err(ServiceError::Invalid(format!(
                "close_reports: measure {id} is stored, but its reports are closed only when it is done"
            )));
        }
        let reason = format!("Åtgärdat: {} (åtgärd {id})", stored.spec.title);
        for &r in &stored.spec.place.report_ids {
            let Some(report) = desk.store.get_report(r).await? else {
                continue;
            };
            if report.status == ReportStatus::Closed || report.merged_into.is_some() {
                continue;
            }
            let change = ReportChange {
                status: Some(ReportStatus::Closed),
                status_notes: Some(Some(reason.clone())),
                reason: Some(reason.clone()),
                ..ReportChange::default()
            };
            desk.store.update_report(r, &change, who).await?;
            closed.push(r);
        }
    }
    if lamps_changed || !closed.is_empty() {
        // The lamp layer and the reports (which keep lamps off) together, so that the lighting
        // model never sees one without the other.
        desk.spatial.reload_lamps(desk.store.as_ref()).await?;
    }
    tracing::info!(id, actor = %who.id, status = ?stored.spec.status, lamps_changed, closed = closed.len(), "measure stored");
    let mut v = one_of(desk.store.as_ref(), &stored).await?;
    v.closed_reports = closed;
    Ok(v)
}

async fn one_of(store: &dyn Store, m: &Measure) -> ServiceResult<MeasureView> {
    let mut v = MeasureView::of(m);
    v.history = Some(store.measure_history(m.id).await?);
    Ok(v)
}

/// `GET /api/v1/measures/{id}`: with its history.
pub async fn get(store: &dyn Store, id: i64) -> ServiceResult<MeasureView> {
    let m = store
        .get_measure(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no measure {id}")))?;
    one_of(store, &m).await
}

/// `GET /api/v1/measures`: newest first.
pub async fn list(store: &dyn Store) -> ServiceResult<MeasureList> {
    let measures: Vec<MeasureView> = store
        .list_measures()
        .await?
        .iter()
        .map(MeasureView::of)
        .collect();
    Ok(MeasureList {
        count: measures.len(),
        measures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_checked_link_by_link_and_bounded() {
        let snap = Snapshot::empty();
        let too_many = PlaceInput {
            walkway_ids: (0..=MAX_LINKS as i64).collect(),
            ..PlaceInput::default()
        };
        match place(too_many, &snap) {
            Err(ServiceError::Problems(p)) => {
                assert_eq!(p, ["place.walkway_ids has 501 entries; at most 500"]);
            }
            other => panic!("{other:?}"),
        }
        // Every problem at once: lat/long swapped, an unknown walkway, report and district.
        let wrong = PlaceInput {
            points: vec![[59.44, 18.07]],
            walkway_ids: vec![7],
            report_ids: vec![9],
            lamp_ids: vec![],
            district: Some("Atlantis".into()),
            buffer_m: Some(5.0),
        };
        match place(wrong, &snap) {
            Err(ServiceError::Problems(p)) => {
                assert_eq!(p.len(), 5, "{p:?}");
                assert!(p[0].starts_with("place.points[0] = [59.44, 18.07] is not in Sweden"));
                assert_eq!(p[1], "place.walkway_ids: no walkway 7");
                assert_eq!(p[4], "place.buffer_m = 5: expected 10 to 2000 metres");
            }
            other => panic!("{other:?}"),
        }
        // [long, lat] in Täby is taken and projected.
        let ok = place(
            PlaceInput {
                points: vec![[18.07, 59.44]],
                ..PlaceInput::default()
            },
            &snap,
        )
        .unwrap();
        let [x, y] = ok.points[0];
        assert!((670_000.0..680_000.0).contains(&x) && (6_585_000.0..6_600_000.0).contains(&y));
    }
}
