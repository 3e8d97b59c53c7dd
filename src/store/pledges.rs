//! Medborgarlöften: what the municipality and the police promise citizens for a period, the
//! measures that keep the promise, and the baseline its indicators are measured from.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StoreResult;

/// Who gives the pledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PledgeOwner {
    Kommunen,
    Polisen,
    /// Both together, as in the agreement between Täby kommun and the local police.
    Gemensamt,
}

impl PledgeOwner {
    pub fn sv(self) -> &'static str {
        match self {
            Self::Kommunen => "Kommunen",
            Self::Polisen => "Polisen",
            Self::Gemensamt => "Kommunen och polisen",
        }
    }
}

/// The dark stretches a pledge starts from: on its prioritised walkways, in the configured
/// class, when the pledge was given.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Baseline {
    pub at: NaiveDate,
    /// Metres of dark stretch on the prioritised walkways.
    pub dark_m: f64,
    pub dark_stretches: usize,
}

/// The fields a coordinator writes, and the baseline recorded when the pledge was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PledgeSpec {
    pub title: String,
    pub text: String,
    pub owner: PledgeOwner,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The measures that keep it.
    #[serde(default)]
    pub measure_ids: Vec<i64>,
    /// Districts whose incidents it follows (the focus areas).
    #[serde(default)]
    pub districts: Vec<String>,
    /// The prioritised walkways whose dark stretches it promises to light.
    #[serde(default)]
    pub walkway_ids: Vec<i64>,
    #[serde(default)]
    pub baseline: Option<Baseline>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pledge {
    pub id: i64,
    pub spec: PledgeSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait PledgeStore: Send + Sync {
    async fn create_pledge(&self, spec: &PledgeSpec) -> StoreResult<Pledge>;
    async fn get_pledge(&self, id: i64) -> StoreResult<Option<Pledge>>;
    /// Every pledge, the latest period first.
    async fn list_pledges(&self) -> StoreResult<Vec<Pledge>>;
    /// Replaces the spec (`NotFound` when there is none).
    async fn update_pledge(&self, id: i64, spec: &PledgeSpec) -> StoreResult<Pledge>;
}
