//! The åtgärdsplan: measures (åtgärder) against insecurity, with the history of every change.
//!
//! A measure is its editable [`MeasureSpec`] plus an id and timestamps. A change is a new spec;
//! the store records one history entry per field that differs (`{"from", "to"}`), with who made
//! it, in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use geo::Point;

use super::StoreResult;
use super::reports::HistoryEntry;
use crate::model::{Actor, Lamp, LampStatus};

/// The `source` of the lamps that done new-lamp measures put up; their `reference` is the
/// measure's id and their id `measure:<measure id>:<n>`, n = 1, 2, … in the order of the points.
pub const MEASURE_LAMP_SOURCE: &str = "measure";

/// The snake-case name serde gives a unit variant (`new_lamp`, `in_progress`), for columns and
/// CSV cells.
pub fn word<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

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
    /// Lamps it concerns (a repair: the lamps it repairs), as the lamp layer names them.
    #[serde(default)]
    pub lamp_ids: Vec<String>,
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
    /// For a new-lamp measure: the type of the lamps at its points.
    #[serde(default)]
    pub lamp: Option<LampType>,
}

/// A lamp type: mounting height and luminous flux.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LampType {
    /// Above 0 and at most 60 m.
    pub height_m: f64,
    /// Above 0 and at most 200 000 lm.
    pub lumen: f64,
}

impl MeasureSpec {
    /// The lamps this measure adds to the lighting model: those of a done new-lamp measure
    /// with a lamp type, one per point, working; none otherwise.
    pub fn lamps(&self, measure_id: i64) -> Vec<Lamp> {
        let (MeasureKind::NewLamp, MeasureStatus::Done, Some(t)) =
            (self.kind, self.status, self.lamp)
        else {
            return Vec::new();
        };
        self.place
            .points
            .iter()
            .enumerate()
            .map(|(i, &[x, y])| Lamp {
                id: format!("{MEASURE_LAMP_SOURCE}:{measure_id}:{}", i + 1),
                location: Point::new(x, y),
                height_m: Some(t.height_m),
                lumen: Some(t.lumen),
                watt: None,
                status: LampStatus::Working,
                source: MEASURE_LAMP_SOURCE.into(),
                reference: Some(measure_id.to_string()),
            })
            .collect()
    }

    /// The lamps this measure has repaired: those of a done repair.
    pub fn repaired_lamps(&self) -> &[String] {
        match (self.kind, self.status) {
            (MeasureKind::LampRepair, MeasureStatus::Done) => &self.place.lamp_ids,
            _ => &[],
        }
    }
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

/// The lamp layer follows the measures: in the transaction that stores a measure, its lamps
/// ([`MeasureSpec::lamps`]) replace those it had (source [`MEASURE_LAMP_SOURCE`], reference its
/// id), and the lamps of a done repair ([`MeasureSpec::repaired_lamps`]) that the register
/// calls broken are set working (a repair undone later does not break them again: the register
/// says what stands). The data version moves only when a lamp changed.
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
            lamp: None,
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
