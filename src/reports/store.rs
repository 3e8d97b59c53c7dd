//! Storage of citizen reports, implemented by each backend in `crate::store`.

use async_trait::async_trait;

use crate::model::CitizenReport;
use crate::store::StoreResult;

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Every report, hidden and merged ones included, for the in-memory snapshot.
    async fn load_reports(&self) -> StoreResult<Vec<CitizenReport>>;
}
