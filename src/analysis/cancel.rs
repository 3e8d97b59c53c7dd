//! Cooperative cancellation for long analyses.
//!
//! A [`Cancel`] is a cheap, cloneable token that the kernels look at every few thousand cells or
//! points (a relaxed atomic load, plus a clock read when the token has a deadline). When it says
//! stop, they return [`Cancelled`] instead of a result. The HTTP layer trips a token when the
//! request that asked for the analysis is dropped (time-out, client gone) or the server shuts
//! down; [`Cancel::never`] is for callers that always want the answer (the CLI, benches, tests).
//!
//! Tokens form a chain: [`Cancel::child`] is cancelled when it or any ancestor is, so one
//! server-wide token cancels every running analysis at shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The analysis was stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("analysis cancelled")]
pub struct Cancelled;

/// How many items (cells, points, offsets) a loop handles between two looks at the token: a
/// look costs a nanosecond or two, a few thousand items at least a microsecond.
pub const CHECK_EVERY: usize = 4096;

#[derive(Debug)]
struct Node {
    flag: AtomicBool,
    parent: Option<Arc<Node>>,
}

impl Node {
    fn is_set(&self) -> bool {
        let mut n = self;
        loop {
            if n.flag.load(Ordering::Relaxed) {
                return true;
            }
            match &n.parent {
                Some(p) => n = p,
                None => return false,
            }
        }
    }
}

/// A cancellation token; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    node: Option<Arc<Node>>,
    deadline: Option<Instant>,
}

impl Cancel {
    /// A token that is never cancelled: the kernels run to the end.
    pub fn never() -> Self {
        Self::default()
    }

    /// A fresh token, cancelled only by [`Cancel::cancel`] (on it or a clone).
    pub fn new() -> Self {
        Self {
            node: Some(Arc::new(Node {
                flag: AtomicBool::new(false),
                parent: None,
            })),
            deadline: None,
        }
    }

    /// A new token that is cancelled when it is, or when `self` (or one of its ancestors) is.
    /// Cancelling the child leaves `self` alone. The deadline is inherited.
    pub fn child(&self) -> Self {
        Self {
            node: Some(Arc::new(Node {
                flag: AtomicBool::new(false),
                parent: self.node.clone(),
            })),
            deadline: self.deadline,
        }
    }

    /// The same token, also cancelled from `deadline` on (the earlier deadline wins).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(self.deadline.map_or(deadline, |d| d.min(deadline)));
        self
    }

    /// Trips the token and all its clones and children. On [`Cancel::never`] it does nothing.
    pub fn cancel(&self) {
        if let Some(n) = &self.node {
            n.flag.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the work should stop.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        if let Some(n) = &self.node
            && n.is_set()
        {
            return true;
        }
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err(Cancelled)` when the work should stop.
    #[inline]
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// [`Cancel::check`] every [`CHECK_EVERY`]-th `i` (for loop counters).
    #[inline]
    pub fn check_every(&self, i: usize) -> Result<(), Cancelled> {
        if i % CHECK_EVERY == 0 {
            self.check()
        } else {
            Ok(())
        }
    }

    /// A guard that cancels this token when dropped (unless [`CancelOnDrop::disarm`]ed): tie
    /// it to the future that waits for the work, and dropping the future stops the work.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

/// See [`Cancel::cancel_on_drop`].
#[derive(Debug)]
pub struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    /// The work finished: dropping the guard no longer cancels.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn never_is_never_cancelled() {
        let c = Cancel::never();
        c.cancel();
        assert!(!c.is_cancelled());
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn clones_share_and_children_inherit() {
        let root = Cancel::new();
        let child = root.child();
        let grandchild = child.child();
        let sibling = root.child();
        assert!(!grandchild.is_cancelled());
        child.cancel();
        assert!(child.is_cancelled() && grandchild.is_cancelled());
        assert!(!root.is_cancelled() && !sibling.is_cancelled());
        root.clone().cancel();
        assert!(sibling.is_cancelled());
        assert_eq!(sibling.check(), Err(Cancelled));
    }

    #[test]
    fn deadlines_cancel() {
        let past = Cancel::new().with_deadline(Instant::now());
        assert!(past.is_cancelled());
        let later = Cancel::never().with_deadline(Instant::now() + Duration::from_secs(3600));
        assert!(!later.is_cancelled());
        // The earlier of two deadlines wins.
        assert!(later.with_deadline(Instant::now()).is_cancelled());
    }

    #[test]
    fn the_drop_guard_cancels_unless_disarmed() {
        let c = Cancel::new();
        c.cancel_on_drop().disarm();
        assert!(!c.is_cancelled());
        drop(c.cancel_on_drop());
        assert!(c.is_cancelled());
    }

    #[test]
    fn check_every_looks_only_now_and_then() {
        let c = Cancel::new();
        c.cancel();
        assert_eq!(c.check_every(1), Ok(()));
        assert_eq!(c.check_every(CHECK_EVERY), Err(Cancelled));
        assert_eq!(c.check_every(0), Err(Cancelled));
    }
}
