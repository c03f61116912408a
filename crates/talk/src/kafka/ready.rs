//! Readiness: has every consumer in this process joined its group?
//!
//! `GET /healthz` answers `200` only then, so scripts and tests can wait for it instead of
//! sleeping. Records published earlier are not lost either way (consumers start from the
//! earliest offset), but a learner watching the terminal sees the journey right away.
//!
//! No wait is silent: until the consumers have joined, `/healthz`'s `503` says what they wait
//! for, and so does the log, every [`REPEAT_NOTE`] ([`Readiness::log_while_waiting`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long the consumers may take to join before the log says that they are still waiting.
/// The embedded cluster lets them in within about 0.1 s, a real Kafka within about 3 s (with
/// the classic protocol and Kafka's default `group.initial.rebalance.delay.ms`).
pub const FIRST_NOTE: Duration = Duration::from_secs(5);

/// How often the log says again that the consumers are still waiting: often enough to show
/// that the process is alive, rarely enough not to bury the other lines.
pub const REPEAT_NOTE: Duration = Duration::from_secs(10);

/// Which consumers have not joined their group yet, and what they wait for. Cheap to clone.
#[derive(Clone)]
pub struct Readiness {
    inner: Arc<Inner>,
}

struct Inner {
    /// What the consumers wait for, in words: see [`Readiness::new`].
    waiting_for: String,
    /// When the wait began.
    since: Instant,
    /// How many consumers have not joined yet: the fast check for `/healthz`.
    count: AtomicUsize,
    /// Who they are, and what Kafka last said to them: for people.
    state: Mutex<Waiting>,
    changed: Notify,
}

#[derive(Default)]
struct Waiting {
    names: Vec<String>,
    last_error: Option<String>,
}

impl Default for Readiness {
    fn default() -> Readiness {
        Readiness::new("Kafka to assign partitions.")
    }
}

impl Readiness {
    /// `waiting_for` completes "they wait for …", e.g. "Kafka at localhost:9092 to assign
    /// partitions.", with a hint if there is one. [`crate::kafka::Kafka::joining`] writes it.
    pub fn new(waiting_for: impl Into<String>) -> Readiness {
        Readiness {
            inner: Arc::new(Inner {
                waiting_for: waiting_for.into(),
                since: Instant::now(),
                count: AtomicUsize::new(0),
                state: Mutex::default(),
                changed: Notify::new(),
            }),
        }
    }

    /// Registers one more consumer to wait for. It reports with [`Joined::joined`].
    pub fn expect_consumer(&self) -> Joined {
        self.expect("a consumer")
    }

    /// Registers the consumer of service `name` to wait for.
    pub fn expect(&self, name: &str) -> Joined {
        self.inner.count.fetch_add(1, Ordering::SeqCst);
        self.state().names.push(name.to_owned());
        Joined {
            readiness: self.clone(),
            name: name.to_owned(),
            done: std::sync::Once::new(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.inner.count.load(Ordering::SeqCst) == 0
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

    /// Why this process is not ready, in one sentence or two; `None` once it is.
    pub fn not_ready_because(&self) -> Option<String> {
        if self.is_ready() {
            return None;
        }
        let state = self.state();
        let (has_not_joined, they_wait) = match state.names.len() {
            1 => ("has not joined its consumer group", "it waits"),
            _ => ("have not joined their consumer groups", "they wait"),
        };
        let mut reason = format!(
            "{} {has_not_joined} yet ({} s so far): {they_wait} for {}",
            and_list(&state.names),
            self.inner.since.elapsed().as_secs(),
            self.inner.waiting_for,
        );
        if let Some(error) = &state.last_error {
            reason.push_str(&format!(" Kafka's last error for them: {error}"));
        }
        Some(reason)
    }

    /// Says in the log what the consumers wait for, first after [`FIRST_NOTE`], then every
    /// [`REPEAT_NOTE`], until they have joined or `shutdown` comes. Says when they got in, if
    /// it said they were waiting.
    pub async fn log_while_waiting(self, shutdown: CancellationToken) {
        let mut next = FIRST_NOTE;
        let mut said = false;
        loop {
            let at = tokio::time::Instant::from_std(self.inner.since + next);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wait() => break,
                _ = tokio::time::sleep_until(at) => {}
            }
            if let Some(reason) = self.not_ready_because() {
                tracing::warn!("{reason}");
                said = true;
            }
            next += REPEAT_NOTE;
        }
        if said {
            let seconds = self.inner.since.elapsed().as_secs_f32();
            tracing::info!("the consumers have joined their groups, after {seconds:.1} s");
        }
    }

    /// The lock on who is waiting. No code panics while holding it, so it is never poisoned.
    fn state(&self) -> MutexGuard<'_, Waiting> {
        self.inner
            .state
            .lock()
            .expect("the readiness lock is never poisoned")
    }
}

/// One consumer's report that it has joined its group. Reporting twice counts once.
pub struct Joined {
    readiness: Readiness,
    name: String,
    done: std::sync::Once,
}

impl Joined {
    pub fn joined(&self) {
        self.done.call_once(|| {
            let mut state = self.readiness.state();
            if let Some(at) = state.names.iter().position(|n| *n == self.name) {
                state.names.remove(at);
            }
            drop(state);
            self.readiness.inner.count.fetch_sub(1, Ordering::SeqCst);
            self.readiness.inner.changed.notify_waiters();
        });
    }

    /// Keeps an error that Kafka reported to this consumer, so that the wait's log lines and
    /// `/healthz` can say it. Once the consumers have joined, it is not shown anywhere.
    pub fn kafka_reported(&self, error: String) {
        self.readiness.state().last_error = Some(error);
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_who_waits_and_for_what() {
        let readiness = Readiness::new("Kafka to assign partitions.");
        let storage = readiness.expect("storage-service");
        let giphy = readiness.expect("giphy-service");
        let reason = readiness.not_ready_because().unwrap();
        assert!(
            reason.starts_with(
                "storage-service and giphy-service have not joined their consumer groups yet"
            ),
            "{reason}"
        );
        assert!(reason.ends_with("they wait for Kafka to assign partitions."));

        giphy.kafka_reported("Broker: Group authorization failed".into());
        storage.joined();
        let reason = readiness.not_ready_because().unwrap();
        assert!(
            reason.starts_with("giphy-service has not joined its consumer group yet")
                && reason.contains("it waits for Kafka"),
            "{reason}"
        );
        assert!(
            reason.ends_with("Kafka's last error for them: Broker: Group authorization failed")
        );

        giphy.joined();
        giphy.joined();
        assert!(readiness.is_ready());
        assert_eq!(readiness.not_ready_because(), None);
    }
}
