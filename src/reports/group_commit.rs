//! Group commit of citizen submissions: concurrent submissions share one transaction.
//!
//! Each submission joins a queue and waits for its result. Whichever waiting submission finds no
//! commit running takes the whole queue and stores it with [`ReportStore::create_reports`] (one
//! transaction, one commit), then hands every submission its result; submissions that arrived
//! meanwhile form the next batch. Under load the cost of a transaction is spread over many
//! reports; alone, a submission commits at once. A report is still acknowledged only after the
//! transaction holding it is committed.
//!
//! The commit and the handing out of its results run in a task of their own, which also holds
//! the "a commit is running" lock: a submission whose client hangs up (or whose request times
//! out) while it is the one committing neither cancels the others' commit half-way nor leaves
//! them without an answer, and no second commit starts beside the first.
//!
//! When the database is out of reach, a commit fails only after the pool's wait for a
//! connection, and a submission queued behind it would wait that long again for its own batch.
//! So a batch that fails as unavailable fails the submissions queued meanwhile with it: each of
//! them is answered "unavailable, try again" (503) within one wait rather than two or more.
//!
//! [`ReportStore::create_reports`]: crate::store::reports::ReportStore::create_reports

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, Notify, OwnedMutexGuard, oneshot};

use crate::store::reports::{Created, NewReport};
use crate::store::{Store, StoreError, StoreResult};

/// The group commit of citizen reports.
pub type GroupCommit = Batcher<NewReport, Created>;

impl GroupCommit {
    /// Stores `report` (or finds the one it repeats) and returns after the commit.
    pub async fn submit(&self, store: &Arc<dyn Store>, report: NewReport) -> StoreResult<Created> {
        let store = store.clone();
        self.submit_with(report, move |reports| async move {
            store.create_reports(&reports).await
        })
        .await
    }
}

/// A failed commit as every waiter gets it: whether the database was unreachable (the
/// submission may be repeated shortly: 503) and what went wrong.
type Failure = (bool, String);
type Reply<R> = oneshot::Sender<Result<R, Failure>>;

/// Items committed together: `commit` gets a batch and answers one result per item, in order.
pub struct Batcher<T, R> {
    inner: Arc<Inner<T, R>>,
}

struct Inner<T, R> {
    queue: std::sync::Mutex<Vec<(T, Reply<R>)>>,
    running: Arc<Mutex<()>>,
    finished: Notify,
}

impl<T, R> Default for Batcher<T, R> {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                queue: std::sync::Mutex::new(Vec::new()),
                running: Arc::new(Mutex::new(())),
                finished: Notify::new(),
            }),
        }
    }
}

impl<T, R> Inner<T, R> {
    fn take_queue(&self) -> Vec<(T, Reply<R>)> {
        std::mem::take(&mut *self.queue.lock().expect("group commit queue poisoned"))
    }
}

/// The "a commit is running" lock: released, and the waiting submissions woken, when it is
/// dropped, also by a commit that panics.
struct Running<T, R> {
    inner: Arc<Inner<T, R>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl<T, R> Running<T, R> {
    fn new(inner: &Arc<Inner<T, R>>, guard: OwnedMutexGuard<()>) -> Self {
        Self {
            inner: inner.clone(),
            guard: Some(guard),
        }
    }
}

impl<T, R> Drop for Running<T, R> {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.inner.finished.notify_waiters();
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Queues `item` and returns its result once the batch holding it is committed (or failed).
    pub async fn submit_with<F, Fut>(&self, item: T, commit: F) -> StoreResult<R>
    where
        F: FnOnce(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<R>>> + Send + 'static,
    {
        let (tx, mut rx) = oneshot::channel();
        self.inner
            .queue
            .lock()
            .expect("group commit queue poisoned")
            .push((item, tx));
        let mut commit = Some(commit);
        loop {
            let finished = self.inner.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            // A submission commits at most one batch: after it, its own report has left the
            // queue (in that batch or an earlier one), and the reports queued now are others',
            // whose submissions are woken when this commit ends and commit them.
            let guard = match commit.is_some() {
                true => self.inner.running.clone().try_lock_owned().ok(),
                false => None,
            };
            if let Some(guard) = guard {
                let batch = self.inner.take_queue();
                if batch.is_empty() {
                    // Another commit took this submission's report: its result is on its way.
                    // A submission that tried the lock meanwhile is waiting to be woken.
                    drop(Running::new(&self.inner, guard));
                } else {
                    let commit = commit.take().expect("checked above");
                    let inner = self.inner.clone();
                    let running = Running::new(&self.inner, guard);
                    tokio::spawn(async move {
                        let (items, replies): (Vec<T>, Vec<Reply<R>>) = batch.into_iter().unzip();
                        let n = items.len();
                        let stored = match commit(items).await {
                            Ok(results) if results.len() == n => Ok(results),
                            Ok(results) => Err((
                                false,
                                format!("{} results for a batch of {n}", results.len()),
                            )),
                            Err(e) => {
                                Err((matches!(e, StoreError::Unavailable { .. }), e.to_string()))
                            }
                        };
                        match stored {
                            Ok(results) => {
                                for (reply, r) in replies.into_iter().zip(results) {
                                    let _ = reply.send(Ok(r));
                                }
                            }
                            Err(failure) => {
                                let unavailable = failure.0;
                                for reply in replies {
                                    let _ = reply.send(Err(failure.clone()));
                                }
                                if unavailable {
                                    // Queued while the database was found out of reach: they
                                    // would only wait for the same refusal.
                                    for (_, reply) in inner.take_queue() {
                                        let _ = reply.send(Err(failure.clone()));
                                    }
                                }
                            }
                        }
                        drop(running);
                    });
                }
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
                        Err(_) => Err(StoreError::Conflict("report not stored: the commit holding it ended without an answer".into())),
                    };
                }
                _ = &mut finished => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    fn unavailable() -> StoreError {
        StoreError::Unavailable {
            op: "storing reports",
            cause: "connection refused".into(),
        }
    }

    /// A batch that fails because the database is out of reach answers the submissions queued
    /// behind it as well, within that one wait: none of them starts a second wait of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_database_fails_the_queue_within_one_wait() {
        let batcher = Arc::new(Batcher::<u32, u32>::default());
        let commits = Arc::new(AtomicUsize::new(0));
        let wait = Duration::from_millis(300);
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..5u32 {
            let (b, commits) = (batcher.clone(), commits.clone());
            tasks.push(tokio::spawn(async move {
                let r = b
                    .submit_with(i, move |_items| async move {
                        commits.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(wait).await;
                        Err::<Vec<u32>, _>(unavailable())
                    })
                    .await;
                (r, t0.elapsed())
            }));
            // The first submission's commit is running when the others queue.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for t in tasks {
            let (r, took) = t.await.unwrap();
            assert!(matches!(r, Err(StoreError::Unavailable { .. })), "{r:?}");
            assert!(
                took < wait + wait / 2,
                "answered after {took:?}, more than one wait of {wait:?}"
            );
        }
        assert_eq!(commits.load(Ordering::SeqCst), 1, "one commit tried");
    }

    /// A submission whose request is dropped while its commit runs (the client hung up, the
    /// request timed out) does not take the other submissions' answers with it, whichever of the
    /// two submissions is the one committing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_submission_leaves_its_batch_committed_and_answered() {
        for drop_first in [true, false] {
            let batcher = Arc::new(Batcher::<u32, u32>::default());
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let commit = |seen: Arc<std::sync::Mutex<Vec<Vec<u32>>>>, ms| {
                move |items: Vec<u32>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    seen.lock().unwrap().push(items.clone());
                    Ok(items.iter().map(|i| i * 10).collect())
                }
            };
            // A slow first commit, so that the next two queue and are committed together.
            let first = {
                let (b, c) = (batcher.clone(), commit(seen.clone(), 150));
                tokio::spawn(async move { b.submit_with(1, c).await })
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            let a = {
                let (b, c) = (batcher.clone(), commit(seen.clone(), 300));
                tokio::spawn(async move { b.submit_with(2, c).await })
            };
            let b = {
                let (bt, c) = (batcher.clone(), commit(seen.clone(), 300));
                tokio::spawn(async move { bt.submit_with(3, c).await })
            };
            assert_eq!(first.await.unwrap().unwrap(), 10);
            // The batch of 2 and 3 is committing now; drop one of its submissions.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let (gone, kept, expect) = if drop_first { (a, b, 30) } else { (b, a, 20) };
            gone.abort();
            assert_eq!(kept.await.unwrap().unwrap(), expect);
            tokio::time::sleep(Duration::from_millis(50)).await;
            let seen = seen.lock().unwrap().clone();
            assert_eq!(seen.len(), 2, "{seen:?}");
            let mut second = seen[1].clone();
            second.sort();
            assert_eq!(second, vec![2, 3], "both committed, in one batch");
        }
    }

    /// Many submissions at once, each committing whatever is queued when it finds no commit
    /// running: every one gets its own result, every item is committed exactly once, and they
    /// share commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_submissions_each_get_their_own_result_once() {
        let batcher = Arc::new(Batcher::<u32, u32>::default());
        let committed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let commits = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..64u32)
            .map(|c| {
                let (b, committed, commits) = (batcher.clone(), committed.clone(), commits.clone());
                tokio::spawn(async move {
                    for n in 0..50u32 {
                        let item = c * 1000 + n;
                        let (committed, commits) = (committed.clone(), commits.clone());
                        let r = tokio::time::timeout(
                            Duration::from_secs(10),
                            b.submit_with(item, move |items: Vec<u32>| async move {
                                commits.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(3)).await;
                                committed.lock().unwrap().extend(items.iter().copied());
                                Ok(items.iter().map(|i| i + 1).collect())
                            }),
                        )
                        .await
                        .expect("answered, never left waiting");
                        assert_eq!(r.unwrap(), item + 1);
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        let mut committed = committed.lock().unwrap().clone();
        committed.sort();
        let expected: Vec<u32> = (0..64u32)
            .flat_map(|c| (0..50).map(move |n| c * 1000 + n))
            .collect();
        assert_eq!(committed, expected, "each item committed once");
        let commits = commits.load(Ordering::SeqCst);
        assert!(
            commits < 3200,
            "{commits} commits for 3200 items: none shared"
        );
    }
}
