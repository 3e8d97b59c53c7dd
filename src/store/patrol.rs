//! Patrol presence: GPS track points and reported visits, per unit. Police-only data: nothing
//! here enters the snapshot, the public answers or the public layers; only
//! [`crate::service::dosage`] reads it.
//!
//! **Natural keys.** A unit is in one place at one instant, so a track point is keyed by
//! `(unit, instant)`: importing the same file again, a renamed copy, or an export that overlaps
//! an earlier one adds no point twice (a point whose position differs is updated). A visit is
//! keyed by `(unit, start, place)`: a corrected end time replaces the stored one. Each import
//! of a track file is recorded as a track `(unit, source file)` with when it was first and last
//! imported; a point names the track that last wrote it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{StoreResult, WriteCounts};

/// One GPS fix as imported, in EPSG:3006.
#[derive(Debug, Clone, PartialEq)]
pub struct PatrolPoint {
    /// The patrol unit (a car's call sign, a foot patrol's name).
    pub unit: String,
    /// The file it came from, as named on the command line.
    pub source: String,
    pub at: DateTime<Utc>,
    pub x: f64,
    pub y: f64,
    /// The first fix of a recorded stretch (a GPX `trkseg`): no segment joins it to the fix
    /// before.
    pub run_start: bool,
}

/// Where a reported visit was.
#[derive(Debug, Clone, PartialEq)]
pub enum VisitPlace {
    /// A hotspot of the patrol plan, by its id (`c…`).
    Hotspot(String),
    /// A point in EPSG:3006: the visit is at every hotspot whose hull holds it.
    Point { x: f64, y: f64 },
}

impl VisitPlace {
    /// The place as its key column: `hotspot:<id>`, or `point:<x>,<y>` to the centimetre.
    pub fn key(&self) -> String {
        match self {
            Self::Hotspot(id) => format!("hotspot:{id}"),
            Self::Point { x, y } => format!("point:{x:.2},{y:.2}"),
        }
    }
}

/// A visit as reported (start and end, with its place).
#[derive(Debug, Clone, PartialEq)]
pub struct PatrolVisit {
    pub unit: String,
    pub source: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub place: VisitPlace,
}

/// A stored fix, as the dosage reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredPoint {
    pub at: DateTime<Utc>,
    pub x: f64,
    pub y: f64,
    pub run_start: bool,
}

/// The fixes of one unit, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitPoints {
    pub unit: String,
    pub points: Vec<StoredPoint>,
}

/// What [`PatrolStore::load_patrol_points`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointLoad {
    pub units: Vec<UnitPoints>,
    /// More fixes lie in the ranges than the limit allowed: the load stopped there.
    pub more: bool,
}

impl PointLoad {
    pub fn len(&self) -> usize {
        self.units.iter().map(|u| u.points.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What is stored, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatrolCounts {
    pub units: u64,
    pub tracks: u64,
    pub points: u64,
    pub visits: u64,
}

#[async_trait]
pub trait PatrolStore: Send + Sync {
    /// Stores a batch of fixes in one transaction (and the tracks they came from).
    async fn upsert_patrol_points(&self, batch: &[PatrolPoint]) -> StoreResult<WriteCounts>;

    /// Stores a batch of visits in one transaction.
    async fn upsert_patrol_visits(&self, batch: &[PatrolVisit]) -> StoreResult<WriteCounts>;

    /// The fixes with `from <= at < to` for any of `ranges` (ordered and disjoint), per unit
    /// in time order; at most `limit` of them, [`PointLoad::more`] telling when there were
    /// more.
    async fn load_patrol_points(
        &self,
        ranges: &[(DateTime<Utc>, DateTime<Utc>)],
        limit: usize,
    ) -> StoreResult<PointLoad>;

    /// The visits that overlap `from..to`, by start; at most `limit`, and whether there were
    /// more.
    async fn load_patrol_visits(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<(Vec<PatrolVisit>, bool)>;

    async fn patrol_counts(&self) -> StoreResult<PatrolCounts>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_keys_are_stable_text() {
        assert_eq!(
            VisitPlace::Hotspot("c0123456789abcdef".into()).key(),
            "hotspot:c0123456789abcdef"
        );
        assert_eq!(
            VisitPlace::Point {
                x: 673_983.123,
                y: 6_593_496.0
            }
            .key(),
            "point:673983.12,6593496.00"
        );
    }
}
