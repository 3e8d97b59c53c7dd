//! Making committed report changes visible to the analyses, without reloading once per report.
//!
//! After a commit, a handler must not answer before the spatial snapshot holds the change (the
//! lighting analysis has to see a broken lamp at once). Reloading the report layer costs a read
//! of every report and an R-tree build, so under a burst of submissions one reload per commit
//! would be quadratic. Instead every commit takes a ticket; whichever waiting handler finds no
//! reload running starts one that covers every ticket issued so far, and the others wait for it.
//! One reload thus serves all commits that happened before it began: group commit for the
//! snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, watch};

use crate::spatial::Spatial;
use crate::store::{Store, StoreResult};

pub struct ReportPublisher {
    issued: AtomicU64,
    published: watch::Sender<u64>,
    running: Mutex<()>,
}

impl Default for ReportPublisher {
    fn default() -> Self {
        Self {
            issued: AtomicU64::new(0),
            published: watch::Sender::new(0),
            running: Mutex::new(()),
        }
    }
}

impl ReportPublisher {
    /// Call after a commit; returns once a snapshot that includes it is published.
    pub async fn after_commit(&self, spatial: &Spatial, store: &dyn Store) -> StoreResult<()> {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = self.published.subscribe();
        loop {
            if *rx.borrow_and_update() >= ticket {
                return Ok(());
            }
            if let Ok(guard) = self.running.try_lock() {
                // Every ticket up to `covers` belongs to a commit that finished before this load.
                let covers = self.issued.load(Ordering::SeqCst);
                let loaded = spatial.reload_reports(store).await;
                // Release before telling the waiters, so that one whose ticket this load did not
                // cover can start the next load at once.
                drop(guard);
                match loaded {
                    Ok(()) => self.published.send_modify(|p| *p = (*p).max(covers)),
                    Err(e) => {
                        // Wake the waiters so that one of them tries again.
                        self.published.send_modify(|_| {});
                        return Err(e);
                    }
                }
                continue;
            }
            // Someone else is reloading; its result may or may not cover us.
            if rx.changed().await.is_err() {
                return Ok(());
            }
        }
    }
}
