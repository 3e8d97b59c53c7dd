//! Several processes on one database: `LISTEN/NOTIFY` for commits (the triggers of
//! `migrations/postgres/0006_coordination.sql`), the submission limit in a shared bucket table,
//! and session advisory locks for background jobs.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

use super::{Op, PgStore};
use crate::reports::rate_limit::RetryAfter;
use crate::store::{Changed, Coordination, JobLock, StoreResult};

const CHANNEL: &str = "lagesbild_changes";

/// Buckets untouched this long have refilled (a bucket refills completely within a minute) and
/// are deleted.
const IDLE_BUCKET: &str = "2 minutes";
/// Every this many submissions a process deletes the idle buckets.
const SWEEP_EVERY: u64 = 1_000;
static SUBMISSIONS: AtomicU64 = AtomicU64::new(0);

/// More report ids than this heard before the server asks: it reads every report instead.
const MAX_REPORT_IDS: usize = 10_000;

/// Adds what `payload` says changed to `changed`: "<kind> <origin>", or "report <id> <origin>"
/// for one report (see `0007_notify_origin.sql`). Report and measure changes from this very
/// store (`own`, its application name) are skipped: the server published them in memory
/// before it answered.
fn note(changed: &mut Changed, payload: &str, own: &str) {
    let (kind, rest) = payload.split_once(' ').unwrap_or((payload, ""));
    if kind == "report" {
        let (id, origin) = rest.split_once(' ').unwrap_or((rest, ""));
        match id.parse::<i64>() {
            Ok(_) if origin == own => {}
            Ok(_) if changed.reports || changed.report_ids.len() >= MAX_REPORT_IDS => {
                changed.reports = true;
                changed.report_ids.clear();
            }
            Ok(id) => changed.report_ids.push(id),
            Err(_) => changed.reports = true,
        }
        return;
    }
    let mine = rest == own;
    match kind {
        "data" => changed.data = true,
        "reports" if !mine => {
            changed.reports = true;
            changed.report_ids.clear();
        }
        "measures" if !mine => changed.measures = true,
        "reports" | "measures" => {}
        "tokens" => changed.tokens = true,
        other => tracing::debug!(payload = other, "unknown change notification"),
    }
}

/// What the listening task has heard and not yet been asked for.
pub(crate) struct Feed {
    pending: std::sync::Mutex<Changed>,
    wake: Notify,
}

impl Feed {
    fn hear(&self, f: impl FnOnce(&mut Changed)) {
        f(&mut self.pending.lock().expect("change feed poisoned"));
        self.wake.notify_one();
    }

    fn take(&self) -> Option<Changed> {
        let mut p = self.pending.lock().expect("change feed poisoned");
        (*p != Changed::default()).then(|| std::mem::take(&mut *p))
    }
}

/// Owns the listening connection for the life of the process. A lost connection loses what was
/// notified meanwhile, so it is reported as `timed_out` (look at the versions); `try_recv`
/// reconnects on the next call, and a failing reconnect is retried every second.
async fn listen(mut l: PgListener, feed: Arc<Feed>, own: String) {
    loop {
        match l.try_recv().await {
            Ok(Some(n)) => feed.hear(|c| note(c, n.payload(), &own)),
            Ok(None) => {
                tracing::warn!("change listener lost its connection; reconnecting");
                feed.hear(|c| c.timed_out = true);
            }
            Err(e) => {
                tracing::warn!(error = %e, "change listener cannot reconnect; retrying in 1 s");
                feed.hear(|c| c.timed_out = true);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[async_trait]
impl Coordination for PgStore {
    async fn wait_for_change(&self, max: Duration) -> StoreResult<Changed> {
        let feed = self
            .feed
            .get_or_try_init(|| async {
                let mut l = PgListener::connect_with(&self.pool)
                    .await
                    .op("connecting the change listener")?;
                l.listen(CHANNEL).await.op("listening for changes")?;
                let feed = Arc::new(Feed {
                    // What was committed before the LISTEN was not heard: the first answer
                    // tells the caller to look at the versions.
                    pending: std::sync::Mutex::new(Changed::TIMED_OUT),
                    wake: Notify::new(),
                });
                tokio::spawn(listen(l, feed.clone(), self.origin.clone()));
                StoreResult::Ok(feed)
            })
            .await?;
        let deadline = tokio::time::Instant::now() + max;
        loop {
            if let Some(c) = feed.take() {
                return Ok(c);
            }
            if tokio::time::timeout_at(deadline, feed.wake.notified())
                .await
                .is_err()
            {
                return Ok(Changed::TIMED_OUT);
            }
        }
    }

    fn shares_submission_limit(&self) -> bool {
        true
    }

    async fn take_submission(
        &self,
        client: IpAddr,
        per_minute: u32,
    ) -> StoreResult<Result<(), RetryAfter>> {
        if per_minute == 0 {
            return Ok(Ok(()));
        }
        if SUBMISSIONS.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM submission_buckets WHERE updated_at < clock_timestamp() - interval '{IDLE_BUCKET}'"
            )))
            .execute(&self.pool)
            .await
            .op("forgetting idle submission buckets")?;
        }
        let cap = f64::from(per_minute);
        // One statement, so two processes taking from one bucket are serialised by the row lock.
        // Every SET expression sees the row as it was: `refilled` is computed from the old
        // tokens and time.
        let (granted, tokens): (bool, f64) = sqlx::query_as(
            "WITH now AS (SELECT clock_timestamp() AS t)
             INSERT INTO submission_buckets AS b (client, tokens, granted, updated_at)
             SELECT $1::inet, $2 - 1, $2 >= 1, now.t FROM now
             ON CONFLICT (client) DO UPDATE SET
               granted = least($2, b.tokens + extract(epoch FROM excluded.updated_at - b.updated_at) * $2 / 60) >= 1,
               tokens = least($2, b.tokens + extract(epoch FROM excluded.updated_at - b.updated_at) * $2 / 60)
                        - CASE WHEN least($2, b.tokens + extract(epoch FROM excluded.updated_at - b.updated_at) * $2 / 60) >= 1
                               THEN 1 ELSE 0 END,
               updated_at = excluded.updated_at
             RETURNING granted, tokens",
        )
        .bind(client.to_string())
        .bind(cap)
        .fetch_one(&self.pool)
        .await
        .op("counting a submission")?;
        if granted {
            Ok(Ok(()))
        } else {
            let rate = cap / 60.0;
            Ok(Err(RetryAfter(Duration::from_secs_f64(
                ((1.0 - tokens) / rate).max(0.0),
            ))))
        }
    }

    async fn try_lock_job(&self, name: &str) -> StoreResult<Option<JobLock>> {
        // A session lock lives as long as its connection: the connection is taken out of the
        // pool and held by the JobLock, and closed with it, so a crashed holder frees the job.
        let mut conn = self
            .pool
            .acquire()
            .await
            .op("taking a connection for a job lock")?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(format!("lagesbild job {name}"))
            .fetch_one(&mut *conn)
            .await
            .op("taking a job lock")?;
        if !got {
            return Ok(None);
        }
        Ok(Some(JobLock::new(conn.detach())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(payloads: &[&str]) -> Changed {
        let mut c = Changed::default();
        for p in payloads {
            note(&mut c, p, "lagesbild 00000000000000aa");
        }
        c
    }

    #[test]
    fn own_report_and_measure_changes_are_skipped_and_the_rest_heard() {
        let own = heard(&[
            "reports lagesbild 00000000000000aa",
            "measures lagesbild 00000000000000aa",
        ]);
        assert_eq!(own, Changed::default());
        let other = heard(&[
            "reports lagesbild 00000000000000bb",
            "measures lagesbild 00000000000000bb",
        ]);
        assert!(other.reports && other.measures && !other.data && !other.tokens);
        // Data and token changes are acted on whoever made them: a server reloads its data
        // and forgets its token cache from what is stored.
        let mine = heard(&[
            "data lagesbild 00000000000000aa",
            "tokens lagesbild 00000000000000aa",
        ]);
        assert!(mine.data && mine.tokens && !mine.reports);
        // Payloads of the first migration's triggers (no origin) and from psql count as others'.
        let old = heard(&["reports", "measures lagesbild"]);
        assert!(old.reports && old.measures);
    }

    #[test]
    fn single_reports_are_heard_by_id_until_there_are_too_many() {
        let c = heard(&[
            "report 7 lagesbild 00000000000000bb",
            "report 8 lagesbild 00000000000000aa",
            "report 9",
            "report 7 lagesbild 00000000000000bb",
        ]);
        assert_eq!(c.report_ids, vec![7, 9, 7]);
        assert!(!c.reports);
        // A whole-table change (a TRUNCATE) makes the ids moot.
        let c = heard(&["report 7 x", "reports x", "report 8 x"]);
        assert!(c.reports && c.report_ids.is_empty());
        let many: Vec<String> = (0..=MAX_REPORT_IDS)
            .map(|i| format!("report {i} x"))
            .collect();
        let c = heard(&many.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(c.reports && c.report_ids.is_empty());
        // Garbage says something changed, not what.
        let c = heard(&["report seven x"]);
        assert!(c.reports);
    }
}
