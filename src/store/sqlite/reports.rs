//! Citizen reports in SQLite.

use async_trait::async_trait;
use geo::Point;
use sqlx::Row;

use super::{SqliteStore, utc_from_secs};
use crate::model::{CitizenReport, ReportStatus, ServiceCode};
use crate::reports::store::ReportStore;
use crate::store::{StoreError, StoreResult};

pub(super) const REPORT_COLUMNS: &str = "id, service_code, status, description, x, y, original_x, original_y, walkway_id, lamp_id, address, media_url, status_notes, agency_responsible, requested_utc, updated_utc, hidden, merged_into, attributes";

pub(super) fn report_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<CitizenReport> {
    let code: String = r.get(1);
    let status: String = r.get(2);
    let attrs: String = r.get(18);
    Ok(CitizenReport {
        id: r.get(0),
        service: ServiceCode::parse(&code)
            .ok_or_else(|| StoreError::Corrupt(format!("service code {code:?}")))?,
        status: ReportStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("report status {status:?}")))?,
        description: r.get(3),
        location: Point::new(r.get(4), r.get(5)),
        original_location: Point::new(r.get(6), r.get(7)),
        walkway_id: r.get(8),
        lamp_id: r.get(9),
        address: r.get(10),
        media_url: r.get(11),
        status_notes: r.get(12),
        agency_responsible: r.get(13),
        requested_at: utc_from_secs(r.get(14))?,
        updated_at: utc_from_secs(r.get(15))?,
        hidden: r.get(16),
        merged_into: r.get(17),
        attributes: serde_json::from_str(&attrs)
            .map_err(|e| StoreError::Corrupt(format!("report attributes: {e}")))?,
    })
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn load_reports(&self) -> StoreResult<Vec<CitizenReport>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(report_from_row).collect()
    }
}
