//! Medborgarlöften in SQLite: one row per pledge, its spec as JSON.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{AssertSqlSafe, Row};

use super::{Op, SqliteStore, utc_from_secs};
use crate::store::pledges::{Pledge, PledgeSpec, PledgeStore};
use crate::store::{StoreError, StoreResult};

const COLUMNS: &str = "id, spec, created_utc, updated_utc";

fn pledge_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<Pledge> {
    let id: i64 = r.get(0);
    let spec: String = r.get(1);
    Ok(Pledge {
        id,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Corrupt(format!("pledge {id}: {e}")))?,
        created_at: utc_from_secs(r.get(2))?,
        updated_at: utc_from_secs(r.get(3))?,
    })
}

#[async_trait]
impl PledgeStore for SqliteStore {
    async fn create_pledge(&self, spec: &PledgeSpec) -> StoreResult<Pledge> {
        let now = Utc::now().timestamp();
        let id: i64 = sqlx::query(
            "INSERT INTO pledges (period_start, period_end, spec, created_utc, updated_utc) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(spec.period_start.to_string())
        .bind(spec.period_end.to_string())
        .bind(serde_json::to_string(spec).expect("a spec serialises"))
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .op("storing a pledge")?
        .get(0);
        Ok(Pledge {
            id,
            spec: spec.clone(),
            created_at: utc_from_secs(now)?,
            updated_at: utc_from_secs(now)?,
        })
    }

    async fn get_pledge(&self, id: i64) -> StoreResult<Option<Pledge>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pledges WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .op("reading a pledge")?;
        row.as_ref().map(pledge_from_row).transpose()
    }

    async fn list_pledges(&self) -> StoreResult<Vec<Pledge>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pledges ORDER BY period_start DESC, id DESC"
        )))
        .fetch_all(&self.pool)
        .await
        .op("listing pledges")?;
        rows.iter().map(pledge_from_row).collect()
    }

    async fn update_pledge(&self, id: i64, spec: &PledgeSpec) -> StoreResult<Pledge> {
        let now = Utc::now().timestamp();
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE pledges SET period_start = ?, period_end = ?, spec = ?, updated_utc = ? \
             WHERE id = ? RETURNING {COLUMNS}"
        )))
        .bind(spec.period_start.to_string())
        .bind(spec.period_end.to_string())
        .bind(serde_json::to_string(spec).expect("a spec serialises"))
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .op("changing a pledge")?
        .ok_or_else(|| StoreError::NotFound(format!("pledge {id}")))?;
        pledge_from_row(&row)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::store::pledges::{Baseline, PledgeOwner};

    #[tokio::test]
    async fn pledges_are_stored_listed_latest_first_and_changed() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("p.sqlite").to_str().unwrap())
            .await
            .unwrap();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let spec = PledgeSpec {
            title: "Tryggare gångvägar".into(),
            text: "Vi lyser upp de mörka gångvägarna.".into(),
            owner: PledgeOwner::Kommunen,
            period_start: d(2019, 1, 1),
            period_end: d(2020, 12, 31),
            measure_ids: vec![3],
            districts: vec!["Näsby".into()],
            walkway_ids: vec![10, 11],
            baseline: Some(Baseline {
                at: d(2019, 1, 1),
                dark_m: 420.5,
                dark_stretches: 3,
            }),
        };
        let a = s.create_pledge(&spec).await.unwrap();
        let mut later = spec.clone();
        later.period_start = d(2021, 1, 1);
        later.period_end = d(2022, 12, 31);
        let b = s.create_pledge(&later).await.unwrap();
        let ids: Vec<i64> = s
            .list_pledges()
            .await
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, [b.id, a.id]);
        assert_eq!(s.get_pledge(a.id).await.unwrap().unwrap().spec, spec);
        later.title = "Synlig polis".into();
        assert_eq!(
            s.update_pledge(b.id, &later).await.unwrap().spec.title,
            "Synlig polis"
        );
        assert!(matches!(
            s.update_pledge(999, &later).await,
            Err(StoreError::NotFound(_))
        ));
        // A period that ends before it starts is refused by the schema too.
        let mut wrong = spec.clone();
        wrong.period_end = d(2018, 1, 1);
        assert!(s.create_pledge(&wrong).await.is_err());
    }
}
