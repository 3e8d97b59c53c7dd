//! The åtgärdsplan: coordinators plan measures, follow them to done, and see what they
//! achieved ([`effect`]).
//!
//! The API speaks WGS84 (`points` as `[long, lat]`, GeoJSON's order); the store keeps EPSG:3006.
//! Every change is kept in the measure's history with who made it.

pub mod effect;

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::crs;
use crate::model::{AGENCIES, Actor};
use crate::spatial::Snapshot;
use crate::store::Store;
use crate::store::measures::{Measure, MeasureKind, MeasurePlace, MeasureSpec, MeasureStatus};
use crate::store::reports::HistoryEntry;

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
                district: s.place.district.clone(),
                buffer_m: s.place.buffer_m,
            },
            planned_date: s.planned_date,
            done_date: s.done_date,
            cost_sek: s.cost_sek,
            notes: s.notes.clone(),
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

/// `POST /api/v1/measures`.
pub async fn create(
    store: &dyn Store,
    snap: &Snapshot,
    m: NewMeasure,
    who: &Actor,
    today: NaiveDate,
) -> ServiceResult<MeasureView> {
    let spec = check(
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
        },
        today,
    )?;
    let stored = store.create_measure(&spec, who).await?;
    one_of(store, &stored).await
}

/// `PATCH /api/v1/measures/{id}`.
pub async fn change(
    store: &dyn Store,
    snap: &Snapshot,
    id: i64,
    p: MeasurePatch,
    who: &Actor,
    today: NaiveDate,
) -> ServiceResult<MeasureView> {
    let current = store
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
        s.place = place(pl, snap)?;
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
    let s = check(s, today)?;
    let stored = store.update_measure(id, &s, who).await?;
    one_of(store, &stored).await
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
