//! What several server processes on one database need from it beyond storage: to hear of each
//! other's commits, to share the per-client submission limit, and to run a background job once.
//!
//! The defaults suit one process on an embedded file: changes are noticed by polling
//! (`wait_for_change` only sleeps), the limit is each process's own, and every job lock is
//! granted. The PostgreSQL backend overrides all three (`LISTEN/NOTIFY`, a bucket table, advisory
//! locks).

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use super::StoreResult;
use crate::reports::rate_limit::RetryAfter;

/// What woke [`Coordination::wait_for_change`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// Nothing was heard within the wait: the caller should look at the versions itself.
    pub timed_out: bool,
    /// Imported data (incidents, walkways, lamps, areas, BRÅ) changed.
    pub data: bool,
    /// Citizen reports changed (new, moderated, merged, purged), which ones not said: read
    /// them all.
    pub reports: bool,
    /// These citizen reports changed (by id, in the order heard, maybe repeated): read only
    /// them, unless `reports` says to read all.
    pub report_ids: Vec<i64>,
    /// The åtgärdsplan changed (measures may change lamps).
    pub measures: bool,
    /// API tokens changed (created, revoked).
    pub tokens: bool,
}

impl Changed {
    pub const TIMED_OUT: Changed = Changed {
        timed_out: true,
        data: false,
        reports: false,
        report_ids: Vec::new(),
        measures: false,
        tokens: false,
    };
}

/// Held while a background job runs; dropping it lets another process take the job.
pub struct JobLock(#[allow(dead_code)] Box<dyn std::any::Any + Send>);

impl JobLock {
    pub fn new(inner: impl std::any::Any + Send) -> Self {
        Self(Box::new(inner))
    }
}

#[async_trait]
pub trait Coordination: Send + Sync {
    /// Waits at most `max` for another process's commit and says what it changed.
    async fn wait_for_change(&self, max: Duration) -> StoreResult<Changed> {
        tokio::time::sleep(max).await;
        Ok(Changed::TIMED_OUT)
    }

    /// Whether [`Self::take_submission`] counts across processes. When false, the server
    /// uses its own in-memory limiter.
    fn shares_submission_limit(&self) -> bool {
        false
    }

    /// Takes one submission from `client`'s bucket of `per_minute` (a token bucket refilling at
    /// `per_minute / 60` a second, on the database's clock), shared by every process.
    async fn take_submission(
        &self,
        _client: IpAddr,
        _per_minute: u32,
    ) -> StoreResult<Result<(), RetryAfter>> {
        Ok(Ok(()))
    }

    /// Tries to become the one process that runs the job `name`; `None` while another holds it.
    async fn try_lock_job(&self, _name: &str) -> StoreResult<Option<JobLock>> {
        Ok(Some(JobLock::new(())))
    }
}
