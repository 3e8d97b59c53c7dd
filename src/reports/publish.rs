//! Making committed report changes visible to the analyses, without reloading once per report.
//!
//! After a commit, a handler must not answer before the spatial snapshot holds the change (the
//! lighting analysis has to see a broken lamp at once). Two costs are avoided:
//!
//! 1. *One publish per commit.* Every commit takes a ticket and leaves its changed report in a
//!    queue; whichever waiting handler finds no publish running starts one that covers every
//!    ticket issued so far, and the others wait for it. One publish serves all commits that
//!    happened before it began: group commit for the snapshot.
//! 2. *Reading every report back.* A publish builds the new report layer from the current one
//!    with the queued reports replaced or added (reports are kept sorted by id, as the store
//!    loads them), instead of loading all reports from the store. This is exact as long as this
//!    publisher is the only one replacing the report layer, which is why the server has exactly
//!    one (`AppState::report_publisher`), shared by the citizens' and the coordinators' routes.
//!    When anyone else has published since (a full reload after an import), or a commit changed
//!    more reports than it hands over ([`ReportPublisher::after_commit_reload`], a merge), the
//!    layer is read from the store instead, through [`Spatial::reload_reports_locked`].
//!
//! Publishes hold [`Spatial::writer`] from reading the current snapshot to publishing the new
//! one, as full reloads do, so neither can lose the other's layers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, watch};

use crate::model::CitizenReport;
use crate::spatial::{ReportLayer, Spatial};
use crate::store::{Store, StoreResult};

pub struct ReportPublisher {
    /// Tickets issued and what waits to be published, together so that a publish that takes
    /// the queue knows exactly which tickets it covers.
    queue: std::sync::Mutex<Queue>,
    published: watch::Sender<u64>,
    running: Mutex<()>,
    /// The snapshot version this publisher published last (0: none yet).
    last_mine: AtomicU64,
}

#[derive(Default)]
struct Queue {
    issued: u64,
    changed: Vec<CitizenReport>,
    /// A queued commit changed reports it did not hand over: read the layer from the store.
    reload: bool,
}

impl Default for ReportPublisher {
    fn default() -> Self {
        Self {
            queue: std::sync::Mutex::new(Queue::default()),
            published: watch::Sender::new(0),
            running: Mutex::new(()),
            last_mine: AtomicU64::new(0),
        }
    }
}

/// `items` (sorted by id) with `changed` replaced or inserted.
pub fn merge_reports(
    items: &[CitizenReport],
    mut changed: Vec<CitizenReport>,
) -> Vec<CitizenReport> {
    let mut out = items.to_vec();
    // The last change of a report wins.
    changed.reverse();
    changed.sort_by_key(|r| r.id);
    changed.dedup_by_key(|r| r.id);
    for r in changed {
        match out.binary_search_by_key(&r.id, |x| x.id) {
            Ok(i) => out[i] = r,
            Err(i) => out.insert(i, r),
        }
    }
    out
}

impl ReportPublisher {
    /// Call after committing `changed`; returns once a snapshot that includes it is published.
    pub async fn after_commit(
        &self,
        spatial: &Spatial,
        store: &dyn Store,
        changed: CitizenReport,
    ) -> StoreResult<()> {
        self.wait_for_publish(spatial, store, |q| q.changed.push(changed))
            .await
    }

    /// Call when another process changed the reports of `ids`: reads them and merges them
    /// into the layer as this process's own commits are, instead of reading every report.
    /// Returns once they are published; a report no longer stored makes the layer be read
    /// whole.
    pub async fn after_foreign_change(
        &self,
        spatial: &Spatial,
        store: &dyn Store,
        ids: &[i64],
    ) -> StoreResult<()> {
        let mut wanted = ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let changed = store.get_reports(&wanted).await?;
        if changed.len() != wanted.len() {
            return self.after_commit_reload(spatial, store).await;
        }
        self.wait_for_publish(spatial, store, |q| q.changed.extend(changed))
            .await
    }

    /// Call after a commit that changed reports besides one in hand (a merge also moves the
    /// reports merged into the merged one); returns once a snapshot with the report layer read
    /// from the store is published.
    pub async fn after_commit_reload(
        &self,
        spatial: &Spatial,
        store: &dyn Store,
    ) -> StoreResult<()> {
        self.wait_for_publish(spatial, store, |q| q.reload = true)
            .await
    }

    async fn wait_for_publish(
        &self,
        spatial: &Spatial,
        store: &dyn Store,
        enqueue: impl FnOnce(&mut Queue),
    ) -> StoreResult<()> {
        let ticket = {
            let mut q = self.queue.lock().expect("publish queue poisoned");
            q.issued += 1;
            enqueue(&mut q);
            q.issued
        };
        let mut rx = self.published.subscribe();
        loop {
            if *rx.borrow_and_update() >= ticket {
                return Ok(());
            }
            if let Ok(guard) = self.running.try_lock() {
                let (covers, batch) = {
                    let mut q = self.queue.lock().expect("publish queue poisoned");
                    let taken = std::mem::take(&mut *q);
                    q.issued = taken.issued;
                    (taken.issued, taken)
                };
                let done = self.publish(spatial, store, batch).await;
                // Release before telling the waiters, so that one whose ticket this publish did
                // not cover can start the next one at once.
                drop(guard);
                match done {
                    Ok(()) => self.published.send_modify(|p| *p = (*p).max(covers)),
                    Err(e) => {
                        // Wake the waiters so that one of them tries again.
                        self.published.send_modify(|_| {});
                        return Err(e);
                    }
                }
                continue;
            }
            if rx.changed().await.is_err() {
                return Ok(());
            }
        }
    }

    async fn publish(&self, spatial: &Spatial, store: &dyn Store, batch: Queue) -> StoreResult<()> {
        let raced = {
            let _w = spatial.writer().await;
            let base = spatial.load();
            let foreign = base.version != self.last_mine.load(Ordering::SeqCst);
            if batch.reload || foreign {
                if foreign {
                    // Someone else published since our last publish: their report layer may be
                    // older or newer than ours; the store knows.
                    tracing::debug!(
                        version = base.version,
                        "report layer read from the store: the snapshot is not this publisher's"
                    );
                }
                let v = match spatial.reload_reports_locked(store).await {
                    Ok(v) => v,
                    Err(e) => {
                        // The taken batch is published by no one: the next publish must read
                        // the store instead of merging into this layer.
                        self.last_mine.store(0, Ordering::SeqCst);
                        return Err(e);
                    }
                };
                self.last_mine.store(v, Ordering::SeqCst);
                return Ok(());
            }
            let items = merge_reports(&base.reports.items, batch.changed);
            let layer = tokio::task::spawn_blocking(move || ReportLayer::new(items))
                .await
                .expect("building the report layer panicked");
            let v = spatial.publish(base.with_reports(Arc::new(layer)));
            self.last_mine.store(v, Ordering::SeqCst);
            v != base.version + 1
        };
        if raced {
            // A publish without the writers' lock came between our read and our write: one of
            // them lost layers.
            spatial.reload(store).await?;
            self.last_mine.store(0, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use geo::Point;

    use super::*;
    use crate::model::{ReportStatus, ServiceCode};

    fn report(id: i64, status: ReportStatus) -> CitizenReport {
        CitizenReport {
            id,
            service: ServiceCode::BrokenLamp,
            status,
            description: String::new(),
            location: Point::new(0.0, 0.0),
            original_location: Point::new(0.0, 0.0),
            walkway_id: None,
            lamp_id: Some("l".into()),
            address: None,
            media_url: None,
            status_notes: None,
            agency_responsible: None,
            requested_at: Utc::now(),
            updated_at: Utc::now(),
            hidden: false,
            merged_into: None,
            attributes: serde_json::json!({}),
        }
    }

    #[test]
    fn merging_replaces_changed_reports_and_keeps_ids_sorted() {
        let items = vec![report(1, ReportStatus::Open), report(3, ReportStatus::Open)];
        let merged = merge_reports(
            &items,
            vec![
                report(5, ReportStatus::Open),
                report(3, ReportStatus::Acknowledged),
                report(2, ReportStatus::Open),
                report(3, ReportStatus::Closed),
            ],
        );
        let ids: Vec<i64> = merged.iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2, 3, 5]);
        assert_eq!(
            merged[2].status,
            ReportStatus::Closed,
            "the last change wins"
        );
    }
}
