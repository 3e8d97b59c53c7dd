//! Group commit of citizen submissions: concurrent submissions share one transaction.
//!
//! Each submission joins a queue and waits for its result. Whichever waiting submission finds no
//! commit running takes the whole queue and stores it with [`ReportStore::create_reports`] (one
//! transaction, one commit), then hands every submission its result; submissions that arrived
//! meanwhile form the next batch. Under load the cost of a transaction is spread over many
//! reports; alone, a submission commits at once. A report is still acknowledged only after the
//! transaction holding it is committed.

use std::sync::Arc;

use tokio::sync::{Mutex, Notify, oneshot};

use crate::store::reports::{Created, NewReport};
use crate::store::{Store, StoreError, StoreResult};

/// A failed commit as every waiter gets it: whether the database was unreachable (the
/// submission may be repeated shortly: 503) and what went wrong.
type Failure = (bool, String);
type Reply = oneshot::Sender<Result<Created, Failure>>;

#[derive(Default)]
pub struct GroupCommit {
    queue: std::sync::Mutex<Vec<(NewReport, Reply)>>,
    running: Mutex<()>,
    finished: Notify,
}

impl GroupCommit {
    /// Stores `report` (or finds the one it repeats) and returns after the commit.
    pub async fn submit(&self, store: &Arc<dyn Store>, report: NewReport) -> StoreResult<Created> {
        let (tx, mut rx) = oneshot::channel();
        self.queue
            .lock()
            .expect("group commit queue poisoned")
            .push((report, tx));
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if let Ok(guard) = self.running.try_lock() {
                let batch =
                    std::mem::take(&mut *self.queue.lock().expect("group commit queue poisoned"));
                if !batch.is_empty() {
                    let (reports, replies): (Vec<NewReport>, Vec<Reply>) =
                        batch.into_iter().unzip();
                    // In a task of its own: a client that hangs up must not cancel the commit
                    // of the others' reports half-way.
                    let store = store.clone();
                    let stored =
                        tokio::spawn(async move { store.create_reports(&reports).await }).await;
                    match stored.map_err(|e| (false, e.to_string())).and_then(|r| {
                        r.map_err(|e| (matches!(e, StoreError::Unavailable { .. }), e.to_string()))
                    }) {
                        Ok(results) => {
                            for (reply, r) in replies.into_iter().zip(results) {
                                let _ = reply.send(Ok(r));
                            }
                        }
                        Err(msg) => {
                            for reply in replies {
                                let _ = reply.send(Err(msg.clone()));
                            }
                        }
                    }
                }
                drop(guard);
                self.finished.notify_waiters();
            }
            tokio::select! {
                r = &mut rx => {
                    return match r {
                        Ok(Ok(c)) => Ok(c),
                        Ok(Err((true, msg))) => Err(StoreError::Unavailable {
                            op: "storing reports",
                            cause: msg.into(),
                        }),
                        Ok(Err((false, msg))) => Err(StoreError::Conflict(format!("report not stored: {msg}"))),
                        Err(_) => Err(StoreError::Conflict("report not stored: the committing request was cancelled".into())),
                    };
                }
                _ = &mut finished => {}
            }
        }
    }
}
