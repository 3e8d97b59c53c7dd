//! The åtgärdsplan: measures (åtgärder) against insecurity, with the history of every change.
//!
//! A measure is its editable [`MeasureSpec`] plus an id and timestamps. A change is a new spec;
//! the store records one history entry per field that differs (`{"from", "to"}`), with who made
//! it, in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StoreResult;
use super::reports::HistoryEntry;
use crate::model::Actor;

/// What kind of measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeasureKind {
    NewLamp,
    LampRepair,
    VegetationClearing,
    PatrolEffort,
    Camera,
    Trygghetsvandring,
    Other,
}

impl MeasureKind {
    /// Measures against darkness: their effect is judged on incidents after dark.
    pub fn is_lighting(self) -> bool {
        matches!(
            self,
            Self::NewLamp | Self::LampRepair | Self::VegetationClearing
        )
    }
}

/// Where a measure is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeasureStatus {
    Planned,
    InProgress,
    Done,
    Cancelled,
}

/// Where a measure acts, in EPSG:3006 (the API speaks WGS84).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeasurePlace {
    /// Points, `[x, y]` in EPSG:3006.
    #[serde(default)]
    pub points: Vec<[f64; 2]>,
    /// Walkway ids (the dark stretches are on them).
    #[serde(default)]
    pub walkway_ids: Vec<i64>,
    /// Citizen reports it answers.
    #[serde(default)]
    pub report_ids: Vec<i64>,
    /// The district it belongs to (also its comparison area).
    #[serde(default)]
    pub district: Option<String>,
    /// The target area: this far around the points and walkways, metres (default in config).
    #[serde(default)]
    pub buffer_m: Option<f64>,
}

/// The fields a coordinator writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureSpec {
    pub title: String,
    pub kind: MeasureKind,
    pub status: MeasureStatus,
    /// `kommunen`, `polisen`, `fastighetsägare` or `annan`.
    pub agency: Option<String>,
    pub place: MeasurePlace,
    pub planned_date: Option<NaiveDate>,
    pub done_date: Option<NaiveDate>,
    /// Estimated cost in SEK.
    pub cost_sek: Option<f64>,
    pub notes: Option<String>,
}

/// A stored measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub id: i64,
    pub spec: MeasureSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The per-field history entries of changing `from` into `to`: action = field name, detail =
/// `{"from", "to"}`.
pub fn field_changes(from: &MeasureSpec, to: &MeasureSpec) -> Vec<(String, serde_json::Value)> {
    let (a, b) = (
        serde_json::to_value(from).expect("a spec serialises"),
        serde_json::to_value(to).expect("a spec serialises"),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    b.iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::json!({"from": a.get(k).cloned().unwrap_or_default(), "to": v}),
            )
        })
        .collect()
}

#[async_trait]
pub trait MeasureStore: Send + Sync {
    /// Stores a new measure with a `created` history entry.
    async fn create_measure(&self, spec: &MeasureSpec, actor: &Actor) -> StoreResult<Measure>;

    async fn get_measure(&self, id: i64) -> StoreResult<Option<Measure>>;

    /// Every measure, newest first.
    async fn list_measures(&self) -> StoreResult<Vec<Measure>>;

    /// Replaces the spec of measure `id` (`NotFound` when there is none) and records one history
    /// entry per changed field; a spec that changes nothing records nothing.
    async fn update_measure(
        &self,
        id: i64,
        spec: &MeasureSpec,
        actor: &Actor,
    ) -> StoreResult<Measure>;

    /// Oldest first.
    async fn measure_history(&self, id: i64) -> StoreResult<Vec<HistoryEntry>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_fields_are_recorded() {
        let a = MeasureSpec {
            title: "Ny belysning, Näsbypark".into(),
            kind: MeasureKind::NewLamp,
            status: MeasureStatus::Planned,
            agency: Some("kommunen".into()),
            place: MeasurePlace::default(),
            planned_date: NaiveDate::from_ymd_opt(2026, 3, 1),
            done_date: None,
            cost_sek: Some(120_000.0),
            notes: None,
        };
        let mut b = a.clone();
        assert!(field_changes(&a, &b).is_empty());
        b.status = MeasureStatus::Done;
        b.done_date = NaiveDate::from_ymd_opt(2026, 4, 2);
        let c = field_changes(&a, &b);
        let names: Vec<&str> = c.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["done_date", "status"]);
        assert_eq!(c[1].1, serde_json::json!({"from": "planned", "to": "done"}));
        assert_eq!(
            c[0].1,
            serde_json::json!({"from": null, "to": "2026-04-02"})
        );
    }
}
