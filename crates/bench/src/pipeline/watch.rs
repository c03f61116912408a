//! The store watcher: when did each message arrive in the store?
//!
//! The store does not record when it saved a message, so a thread of its own reads the run's
//! rooms every [`POLL`] and notes the time it first finds each message. A message's arrival is
//! then known to within [`POLL`] plus one read, the same for every setup, so comparisons hold.
//!
//! Reading is not free: the store hands out copies of the messages. So each read takes only
//! the newest few of a room, as many as are still missing plus a little [`SLACK`], and every
//! [`SWEEP_EVERY`]th read takes more, for a message that arrived out of order.
//!
//! A thread, not a Tokio task: a task wakes at the timer's 1 ms granularity at best, and it
//! would share the app's two worker threads.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use talk::Store;

use super::drive::Progress;
use crate::usage::{self, Who};

/// How long the watcher sleeps between two reads of the rooms.
const POLL: Duration = Duration::from_micros(500);

/// How many messages a read takes beyond those still missing, in case a missing one is not
/// among the newest (two messages stored in the other order, say).
const SLACK: usize = 4;

/// Every this many reads, a read takes [`SWEEP_SLACK`] more instead: a message that arrived
/// behind more than [`SLACK`] newer ones is still found, later than it arrived. Such a late
/// find would show as a latency up to 50 ms too long, in the p99 if anywhere.
const SWEEP_EVERY: usize = 100;
const SWEEP_SLACK: usize = 64;

/// A running watcher.
pub(crate) struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<AtomicUsize>,
    thread: JoinHandle<Seen>,
}

/// What a watcher saw.
pub(crate) struct Seen {
    /// When each message was first found in the store, by id.
    pub at: HashMap<String, Instant>,
    /// The CPU time the watcher itself used, to take away from the run's.
    pub cpu: Option<Duration>,
}

impl Watcher {
    /// Starts watching the rooms of `progress` in `store`.
    pub fn start(store: Store, progress: Arc<Progress>) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(AtomicUsize::new(0));
        let (stop_, seen_) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || watch(&store, &progress, &stop_, &seen_));
        Watcher { stop, seen, thread }
    }

    /// Waits until `expected` messages have been seen, or `patience` has passed, then stops
    /// and returns what it saw.
    pub async fn finish_when_all_seen(
        self,
        expected: usize,
        patience: Duration,
    ) -> anyhow::Result<Seen> {
        let deadline = Instant::now() + patience;
        while self.seen.load(Ordering::SeqCst) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the store watcher panicked"))
    }
}

fn watch(store: &Store, progress: &Progress, stop: &AtomicBool, seen_count: &AtomicUsize) -> Seen {
    // `Store::list` is async; the memory store's answers at once, on this thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime for the watcher");
    let mut seen = HashMap::new();
    let mut seen_in_room = vec![0; progress.rooms.len()];
    let mut reads = 0;
    while !stop.load(Ordering::SeqCst) {
        reads += 1;
        let slack = if reads % SWEEP_EVERY == 0 {
            SWEEP_SLACK
        } else {
            SLACK
        };
        for (r, room) in progress.rooms.iter().enumerate() {
            let missing = progress.posted[r].load(Ordering::SeqCst) - seen_in_room[r];
            if missing == 0 {
                continue;
            }
            let stored = runtime
                .block_on(store.list(room, missing + slack))
                .unwrap_or_default();
            // Taken after the read: each message found was stored by now.
            let now = Instant::now();
            for message in stored {
                if let Entry::Vacant(first) = seen.entry(message.id) {
                    first.insert(now);
                    seen_in_room[r] += 1;
                    seen_count.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        std::thread::sleep(POLL);
    }
    Seen {
        at: seen,
        cpu: usage::cpu_time(Who::Thread),
    }
}
