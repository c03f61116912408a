//! Readiness: has every consumer in this process joined its group?
//!
//! `GET /healthz` answers `200` only then, so scripts and tests can wait for it instead of
//! sleeping. Records published earlier are not lost either way (consumers start from the
//! earliest offset), but a learner watching the terminal sees the journey right away.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Counts the consumers that have not joined their group yet. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    waiting: AtomicUsize,
    changed: Notify,
}

impl Readiness {
    /// Registers one more consumer to wait for. It reports with [`Joined::joined`].
    pub fn expect_consumer(&self) -> Joined {
        self.inner.waiting.fetch_add(1, Ordering::SeqCst);
        Joined {
            readiness: self.clone(),
            done: std::sync::Once::new(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.inner.waiting.load(Ordering::SeqCst) == 0
    }

    /// Waits until every registered consumer has joined.
    pub async fn wait(&self) {
        loop {
            let changed = self.inner.changed.notified();
            if self.is_ready() {
                return;
            }
            changed.await;
        }
    }
}

/// One consumer's report that it has joined its group. Reporting twice counts once.
pub struct Joined {
    readiness: Readiness,
    done: std::sync::Once,
}

impl Joined {
    pub fn joined(&self) {
        self.done.call_once(|| {
            self.readiness.inner.waiting.fetch_sub(1, Ordering::SeqCst);
            self.readiness.inner.changed.notify_waiters();
        });
    }
}
