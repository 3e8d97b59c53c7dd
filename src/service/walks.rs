//! Trygghetsvandring: a coordinator-led safety walk, recorded on a phone.
//!
//! A walk is a measure of kind `trygghetsvandring` (in progress while it is walked, done when it
//! ends), so it has the measure's history and follow-up. Each observation (lighting, vegetation,
//! visibility, other) with its position and an optional photo address is saved as a citizen
//! report through the same path as a citizen's (placed on the walkway, committed before it is
//! acknowledged, published to the map), tagged with the walk (`attributes.walk_id`,
//! `attributes.observation`) and linked to the walk's `place.report_ids`; so the walk's findings
//! enter the same triage, the lighting analysis (a dark-path report on a stretch) and the
//! follow-up as any report. A repeated observation (the same `client_token`) gives back the
//! first.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::measures::{self, MeasurePatch, MeasureView, NewMeasure, PlaceInput};
use super::reports::ReportDesk;
use super::{ServiceError, ServiceResult, datetime};
use crate::crs;
use crate::model::{Actor, Contact, ServiceCode};
use crate::store::measures::{MeasureKind, MeasureStatus};

/// Most observations one walk holds (a walk's measure links at most this many reports).
pub const MAX_OBSERVATIONS: usize = measures::MAX_LINKS;

/// What an observation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Observation {
    /// Too dark, a lamp out: a `dark_path` report (or `broken_lamp` with a lamp near).
    Lighting,
    /// Overgrown: a `vegetation` report.
    Vegetation,
    /// Hidden corners, no sight lines: an `unsafe_place` report.
    Visibility,
    Other,
}

impl Observation {
    fn service(self, broken_lamp: bool) -> ServiceCode {
        match self {
            Self::Lighting if broken_lamp => ServiceCode::BrokenLamp,
            Self::Lighting => ServiceCode::DarkPath,
            Self::Vegetation => ServiceCode::Vegetation,
            Self::Visibility => ServiceCode::UnsafePlace,
            Self::Other => ServiceCode::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Lighting => "lighting",
            Self::Vegetation => "vegetation",
            Self::Visibility => "visibility",
            Self::Other => "other",
        }
    }
}

/// The body of `POST /api/v1/walks`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWalk {
    /// E.g. "Trygghetsvandring Näsby park".
    pub title: String,
    /// The district walked (its comparison area later).
    #[serde(default)]
    pub district: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// The body of `POST /api/v1/walks/{id}/observations`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewObservation {
    pub category: Observation,
    /// WGS84.
    pub lon: f64,
    pub lat: f64,
    /// What was seen, at most 4000 characters.
    #[serde(default)]
    pub description: String,
    /// An http(s) address of a photo.
    #[serde(default)]
    pub media_url: Option<String>,
    /// For lighting: a lamp that is out (its id or the number on its post).
    #[serde(default)]
    pub lamp_ref: Option<String>,
    /// The phone's own id of this observation: sent again, it gives back the first.
    #[serde(default)]
    pub client_token: Option<String>,
}

/// An observation of a walk, as the walk's page lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObservationView {
    pub report_id: i64,
    pub category: Option<Observation>,
    pub service_code: ServiceCode,
    /// The report's status in triage.
    pub status: crate::model::ReportStatus,
    pub description: String,
    pub media_url: Option<String>,
    /// `[long, lat]` in WGS84, where the report was placed (snapped to the walkway).
    #[schema(value_type = Vec<f64>)]
    pub position: [f64; 2],
    pub walkway_id: Option<i64>,
    pub lamp_id: Option<String>,
    #[schema(format = DateTime)]
    pub requested_datetime: String,
}

/// `GET /api/v1/walks/{id}`: the walk and what it found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WalkSummary {
    pub walk: MeasureView,
    pub observations: Vec<ObservationView>,
    /// Observations per category.
    pub counts: std::collections::BTreeMap<String, usize>,
}

/// `POST /api/v1/walks`: a measure of kind `trygghetsvandring`, in progress from today.
pub async fn start(
    desk: &ReportDesk<'_>,
    w: NewWalk,
    who: &Actor,
    today: NaiveDate,
) -> ServiceResult<MeasureView> {
    measures::create(
        desk,
        NewMeasure {
            title: w.title,
            kind: MeasureKind::Trygghetsvandring,
            status: Some(MeasureStatus::InProgress),
            agency: Some("kommunen".into()),
            place: PlaceInput {
                district: w.district,
                ..PlaceInput::default()
            },
            planned_date: Some(today),
            done_date: None,
            cost_sek: None,
            notes: w.notes,
            lamp: None,
            close_reports: false,
        },
        who,
        today,
    )
    .await
}

/// The walk `id`, refused when it is no walk.
async fn walk(desk: &ReportDesk<'_>, id: i64) -> ServiceResult<crate::store::measures::Measure> {
    let m = desk
        .store
        .get_measure(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no walk {id}")))?;
    if m.spec.kind != MeasureKind::Trygghetsvandring {
        return Err(ServiceError::NotFound(format!(
            "measure {id} is not a trygghetsvandring"
        )));
    }
    Ok(m)
}

/// `POST /api/v1/walks/{id}/observations`: committed as a citizen report, then linked to the
/// walk. Answers with the walk's summary.
pub async fn observe(
    desk: &ReportDesk<'_>,
    id: i64,
    o: NewObservation,
    who: &Actor,
    now: DateTime<Utc>,
) -> ServiceResult<(i64, WalkSummary)> {
    use crate::reports::submit;
    let m = walk(desk, id).await?;
    if matches!(
        m.spec.status,
        MeasureStatus::Done | MeasureStatus::Cancelled
    ) {
        return Err(ServiceError::Conflict(format!(
            "walk {id} is {}; observations go to a walk in progress",
            if m.spec.status == MeasureStatus::Done {
                "done"
            } else {
                "cancelled"
            }
        )));
    }
    if m.spec.place.report_ids.len() >= MAX_OBSERVATIONS {
        return Err(ServiceError::Invalid(format!(
            "walk {id} has {MAX_OBSERVATIONS} observations; start another walk"
        )));
    }
    let mut problems = Vec::new();
    if !(o.lon.is_finite() && o.lat.is_finite() && o.lon.abs() <= 180.0 && o.lat.abs() <= 90.0) {
        problems.push(format!(
            "lon {} / lat {} is not a WGS84 position (lon before lat)",
            o.lon, o.lat
        ));
    }
    if o.description.chars().count() > 4000 {
        problems.push("description is longer than 4000 characters".into());
    }
    if let Err(e) = crate::text::check_xml_text("description", &o.description) {
        problems.push(e);
    }
    if let Some(u) = &o.media_url
        && let Err(e) = submit::check_media_url(u)
    {
        problems.push(e);
    }
    if let Some(t) = &o.client_token
        && (t.is_empty() || t.len() > 100)
    {
        problems.push("client_token must be 1 to 100 characters".into());
    }
    if !problems.is_empty() {
        return Err(ServiceError::Problems(problems));
    }
    let mut attributes = Map::new();
    attributes.insert("walk_id".into(), Value::from(id));
    attributes.insert("observation".into(), Value::from(o.category.as_str()));
    if let Some(r) = o
        .lamp_ref
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        attributes.insert("lamp_ref".into(), Value::from(r));
    }
    let sub = submit::Submission {
        service: o
            .category
            .service(o.lamp_ref.as_deref().is_some_and(|r| !r.trim().is_empty())),
        lat_long: Some((o.lat, o.lon)),
        address_string: None,
        description: o.description.trim().to_string(),
        media_url: o.media_url.clone(),
        contact: Contact::default(),
        attributes,
        client_token: o.client_token.clone().map(|t| format!("walk:{id}:{t}")),
    };
    let new = {
        let snap = desk.spatial.load();
        submit::prepare(
            sub,
            &snap,
            &desk.config.service_area(),
            &format!("walk:{id}:{}", who.id),
            None,
            now,
        )
        .map_err(|e| ServiceError::Invalid(e.0))?
    };
    let created = desk
        .writer
        .submit(desk.store, new)
        .await
        .map_err(ServiceError::from)?;
    let rid = created.report.id;
    if created.new
        && let Err(e) = desk
            .publisher
            .after_commit(desk.spatial, desk.store.as_ref(), created.report.clone())
            .await
    {
        tracing::error!(error = %e, id = rid, "walk observation stored but snapshot not refreshed");
    }
    // Linked to the walk (once, however often it was sent).
    let m = walk(desk, id).await?;
    if !m.spec.place.report_ids.contains(&rid) {
        let current = MeasureView::of(&m).place;
        let mut place = current;
        place.report_ids.push(rid);
        measures::change(
            desk,
            id,
            MeasurePatch {
                place: Some(place),
                ..MeasurePatch::default()
            },
            who,
            crate::time::local_date(&now),
        )
        .await?;
    }
    tracing::info!(walk = id, report = rid, "walk observation stored");
    Ok((rid, summary(desk, id).await?))
}

/// `GET /api/v1/walks/{id}`.
pub async fn summary(desk: &ReportDesk<'_>, id: i64) -> ServiceResult<WalkSummary> {
    let m = walk(desk, id).await?;
    let walk_view = measures::get(desk.store.as_ref(), id).await?;
    let mut observations = Vec::with_capacity(m.spec.place.report_ids.len());
    let mut counts = std::collections::BTreeMap::new();
    for &rid in &m.spec.place.report_ids {
        let Some(r) = desk.store.get_report(rid).await? else {
            continue;
        };
        let category: Option<Observation> = r
            .attributes
            .get("observation")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        *counts
            .entry(category.map_or("other", Observation::as_str).to_string())
            .or_insert(0) += 1;
        let (lon, lat) =
            crs::to_wgs84(r.location.x(), r.location.y()).map_err(ServiceError::internal)?;
        observations.push(ObservationView {
            report_id: r.id,
            category,
            service_code: r.service,
            status: r.status,
            description: r.description.clone(),
            media_url: r.media_url.clone(),
            position: [crs::round7(lon), crs::round7(lat)],
            walkway_id: r.walkway_id,
            lamp_id: r.lamp_id.clone(),
            requested_datetime: datetime(r.requested_at),
        });
    }
    Ok(WalkSummary {
        walk: walk_view,
        observations,
        counts,
    })
}
