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
//!    publisher is the only one replacing the report layer. When anyone else has published since
//!    (a full reload after an import, another publisher), the layer is reloaded from the store
//!    instead, through [`Spatial::reload_reports`]; and when another publish slipped in between
//!    reading the snapshot and publishing the new one, everything is reloaded, so that neither
//!    write is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, watch};

use crate::model::CitizenReport;
use crate::spatial::{ReportLayer, Snapshot, Spatial};
use crate::store::{Store, StoreResult};

pub struct ReportPublisher {
    /// Tickets issued and reports waiting to be published, together so that a publish that
    /// takes the queue knows exactly which tickets it covers.
    queue: std::sync::Mutex<(u64, Vec<CitizenReport>)>,
    published: watch::Sender<u64>,
    running: Mutex<()>,
    /// The snapshot version this publisher published last (0: none yet).
    last_mine: AtomicU64,
}

impl Default for ReportPublisher {
    fn default() -> Self {
        Self {
            queue: std::sync::Mutex::new((0, Vec::new())),
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
        let ticket = {
            let mut q = self.queue.lock().expect("publish queue poisoned");
            q.0 += 1;
            q.1.push(changed);
            q.0
        };
        let mut rx = self.published.subscribe();
        loop {
            if *rx.borrow_and_update() >= ticket {
                return Ok(());
            }
            if let Ok(guard) = self.running.try_lock() {
                let (covers, batch) = {
                    let mut q = self.queue.lock().expect("publish queue poisoned");
                    (q.0, std::mem::take(&mut q.1))
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

    async fn publish(
        &self,
        spatial: &Spatial,
        store: &dyn Store,
        batch: Vec<CitizenReport>,
    ) -> StoreResult<()> {
        let base = spatial.load();
        if base.version != self.last_mine.load(Ordering::SeqCst) {
            // Someone else published since our last publish: their report layer may be older
            // or newer than ours; the store knows.
            spatial.reload_reports(store).await?;
            self.last_mine
                .store(spatial.load().version, Ordering::SeqCst);
            return Ok(());
        }
        let items = merge_reports(&base.reports.items, batch);
        let layer = tokio::task::spawn_blocking(move || ReportLayer::new(items))
            .await
            .expect("building the report layer panicked");
        spatial.publish(Snapshot {
            version: 0,
            incidents: base.incidents.clone(),
            walkways: base.walkways.clone(),
            lamps: base.lamps.clone(),
            reports: Arc::new(layer),
            areas: base.areas.clone(),
            bra: base.bra.clone(),
            demo: base.demo,
        });
        let now = spatial.load();
        if now.version == base.version + 1 {
            self.last_mine.store(now.version, Ordering::SeqCst);
        } else {
            // Another publish came between our read and our write: one of them lost layers.
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
