//! Medborgarlöften in PostgreSQL (`migrations/postgres/0004_pledges.sql`): one row per pledge,
//! its spec as `jsonb`, the period beside it as dates.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};

use super::reports::whole_seconds;
use super::{Op, PgStore};
use crate::store::pledges::{Pledge, PledgeSpec, PledgeStore};
use crate::store::{StoreError, StoreResult};

const COLUMNS: &str = "id, spec::text, created_at, updated_at";

fn pledge_from_row(r: &PgRow) -> StoreResult<Pledge> {
    let id: i64 = r.get(0);
    let spec: String = r.get(1);
    Ok(Pledge {
        id,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Corrupt(format!("pledge {id}: {e}")))?,
        created_at: r.get(2),
        updated_at: r.get(3),
    })
}

#[async_trait]
impl PledgeStore for PgStore {
    async fn create_pledge(&self, spec: &PledgeSpec) -> StoreResult<Pledge> {
        let now = whole_seconds(Utc::now())?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO pledges (period_start, period_end, spec, created_at, updated_at) \
             VALUES ($1, $2, $3::jsonb, $4, $4) RETURNING id",
        )
        .bind(spec.period_start)
        .bind(spec.period_end)
        .bind(serde_json::to_string(spec).expect("a spec serialises"))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .op("storing a pledge")?;
        Ok(Pledge {
            id,
            spec: spec.clone(),
            created_at: now,
            updated_at: now,
        })
    }

    async fn get_pledge(&self, id: i64) -> StoreResult<Option<Pledge>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pledges WHERE id = $1"
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
        let now = whole_seconds(Utc::now())?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE pledges SET period_start = $1, period_end = $2, spec = $3::jsonb, \
             updated_at = $4 WHERE id = $5 RETURNING {COLUMNS}"
        )))
        .bind(spec.period_start)
        .bind(spec.period_end)
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
    use crate::store::postgres::testdb::test_store;

    #[tokio::test]
    async fn pledges_are_stored_listed_latest_first_and_changed() {
        let Some((s, _db)) = test_store().await else {
            return;
        };
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
        let stored = s.get_pledge(a.id).await.unwrap().unwrap();
        assert_eq!(stored.spec, spec);
        assert_eq!(stored, a);
        assert_eq!(stored.spec.baseline.unwrap().dark_m, 420.5);
        // The period columns follow the spec, as dates.
        let (start, end): (NaiveDate, NaiveDate) =
            sqlx::query_as("SELECT period_start, period_end FROM pledges WHERE id = $1")
                .bind(b.id)
                .fetch_one(s.pool())
                .await
                .unwrap();
        assert_eq!((start, end), (d(2021, 1, 1), d(2022, 12, 31)));
        later.title = "Synlig polis".into();
        let changed = s.update_pledge(b.id, &later).await.unwrap();
        assert_eq!(changed.spec.title, "Synlig polis");
        assert_eq!(changed.created_at, b.created_at);
        assert_eq!(
            s.get_pledge(b.id).await.unwrap().unwrap().spec.title,
            "Synlig polis"
        );
        assert!(matches!(
            s.update_pledge(999, &later).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(s.get_pledge(999).await.unwrap(), None);
        // A period that ends before it starts is refused by the schema too.
        let mut wrong = spec.clone();
        wrong.period_end = d(2018, 1, 1);
        assert!(s.create_pledge(&wrong).await.is_err());
        assert_eq!(s.list_pledges().await.unwrap().len(), 2);
    }
}
