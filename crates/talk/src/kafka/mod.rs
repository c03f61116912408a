//! Kafka clients, configured once for every step: where the brokers are, how producers and
//! consumers are set up, and how a message becomes a record.
//!
//! Every setting here has a reason, given beside it. The settings that make the embedded
//! cluster fast (design §6) are marked as such. The rest of the Kafka plumbing is in the
//! modules below:
//!
//! | module | what it does |
//! |---|---|
//! | [`consume`] | the consumer loop: shutdown, bad records, retries, offsets, batches |
//! | [`embedded`] | the in-process Kafka (librdkafka's mock cluster), and `-- broker`'s address file |
//! | [`ready`] | readiness: have the consumers joined their groups, and if not, why not |
//! | [`group_protocol`] | which consumer group protocol to use: KIP-848's `consumer`, or `classic` |
//! | [`api_versions`] | asks a broker which requests it understands (for [`group_protocol`]) |

pub mod api_versions;
pub mod consume;
pub mod embedded;
pub mod group_protocol;
pub mod ready;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use tokio_util::sync::CancellationToken;

use crate::message::Message;
use group_protocol::GroupProtocol;
use ready::Joined;

/// The topic every service uses, as in the book.
pub const TOPIC: &str = "message";

/// Partitions of [`TOPIC`]. The record key is the room, so each room's messages stay in order on
/// one partition while different rooms spread over three.
pub const PARTITIONS: i32 = 3;

/// How long Kafka may take to acknowledge a record before the send fails. chat-api then answers
/// `503`, so a POST never hangs for longer than this when Kafka is gone.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a producer flush may take at shutdown.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// While Kafka keeps reporting the same error to a consumer, how often the log says it again.
/// librdkafka reports a broker it cannot reach at every retry, several times a second at first.
pub const REPEAT_ERROR: Duration = Duration::from_secs(60);

/// Where the brokers are, whether they are the embedded mock cluster, and which group protocol
/// the consumers speak there.
#[derive(Clone, Debug)]
pub struct Kafka {
    pub brokers: String,
    pub embedded: bool,
    /// Always [`GroupProtocol::Consumer`] on the embedded cluster; on an external Kafka,
    /// what `--group-protocol` asked for or [`crate::kafka::group_protocol::choose`] found.
    pub group_protocol: GroupProtocol,
}

/// What a successful send returns: where the record landed.
pub use rdkafka::producer::future_producer::Delivery;

impl Kafka {
    /// A producer for one service. `FutureProducer` is cheap to clone and thread-safe: one per
    /// service is enough.
    pub fn producer(&self, client_id: &str) -> anyhow::Result<FutureProducer> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", client_id)
            // Nothing is lost: every in-sync replica has the record before it counts as sent,
            // and retries cannot duplicate or reorder it.
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            )
            // A chat message should leave at once rather than wait to fill a batch.
            .set("linger.ms", "0");
        if self.embedded {
            // The embedded broker runs in this process: no network can lose an acknowledgement,
            // so idempotence guards against nothing there. And it costs each new producer's
            // first send about 0.5 s: librdkafka asks for a producer id before its connection is
            // up, and asks again 500 ms later (rdkafka_idempotence.c). A check starts the app
            // two or three times, and a learner waits for each. One request in flight at a time
            // keeps the records in order, as idempotence would.
            config
                .set("enable.idempotence", "false")
                .set("max.in.flight.requests.per.connection", "1");
        }
        config.create().context("creating a Kafka producer")
    }

    /// A consumer in `group`, subscribed to [`TOPIC`]. It reports to `joined` once the group has
    /// given it partitions, and tells it what Kafka reports while it waits.
    pub fn consumer(&self, group: &str, joined: Joined) -> anyhow::Result<StreamConsumer<Group>> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("client.id", group)
            // As in the book: a new group starts from the beginning of the topic, so nothing
            // published before it joined is missed.
            .set("auto.offset.reset", "earliest")
            // At-least-once: the consume loop stores a record's offset only after the work is
            // done, and librdkafka commits stored offsets in the background and on close.
            .set("enable.auto.offset.store", "false")
            .set("enable.auto.commit", "true")
            // See `group_protocol`. KIP-848's protocol lets a consumer in within about 0.1 s;
            // the classic one makes the mock cluster wait 3 s (design §6).
            .set("group.protocol", self.group_protocol.as_str());
        if self.group_protocol == GroupProtocol::Classic {
            // Hand partitions over one at a time, as KIP-848 does, rather than take them all
            // back at every rebalance: the rebalance log lines read the same either way.
            // (KIP-848 refuses this setting: there the broker assigns.)
            config.set("partition.assignment.strategy", "cooperative-sticky");
        }
        if self.embedded {
            // The mock broker holds every fetch for the full wait, so this bounds latency:
            // 500 ms (the default) gives a p50 of 250 ms, 10 ms gives 5 ms (design §6).
            config.set("fetch.wait.max.ms", "10");
        }
        let consumer: StreamConsumer<Group> = config
            .create_with_context(Group {
                name: group.to_owned(),
                joined,
                last_said: Mutex::default(),
                held: Mutex::default(),
            })
            .context("creating a Kafka consumer")?;
        consumer
            .subscribe(&[TOPIC])
            .context("subscribing to the topic")?;
        Ok(consumer)
    }

    /// What a consumer that has not joined its group yet waits for, and what may help, for
    /// [`crate::kafka::ready::Readiness::new`]: it completes "they wait for …".
    pub fn joining(&self) -> String {
        let hint = match (self.embedded, self.group_protocol) {
            (true, _) => {
                "The embedded cluster takes well under a second: if it takes longer, is the \
                 `-- broker` process still running?"
            }
            (false, GroupProtocol::Consumer) => {
                "A broker without KIP-848 (Kafka before 4.0, many Kafka-compatible \
                 brokers) never lets them in, and says nothing: set KAFKA_GROUP_PROTOCOL=classic."
            }
            (false, GroupProtocol::Classic) => {
                "With this protocol Kafka holds a new group's first assignment for \
                 group.initial.rebalance.delay.ms (3 s unless the broker sets it lower), and \
                 waits out a member that left without saying so (up to 45 s)."
            }
        };
        format!(
            "Kafka at {} to assign partitions of {TOPIC:?}, with group.protocol={}. {hint}",
            self.brokers, self.group_protocol
        )
    }

    /// Waits until the brokers answer, then creates [`TOPIC`] if it is missing. Used for an
    /// external Kafka; the embedded cluster creates its topic itself.
    ///
    /// Kafka being down at start-up is common (compose still starting, a typo in
    /// `KAFKA_BROKERS`), so this says so once and keeps trying until `shutdown`.
    /// `hint` says what to check, e.g. whether `docker compose` is up.
    pub async fn wait_until_reachable(
        &self,
        shutdown: &CancellationToken,
        hint: &str,
    ) -> anyhow::Result<()> {
        let mut warned = false;
        loop {
            match self.ensure_topic().await {
                Ok(()) => {
                    if warned {
                        tracing::info!("Kafka at {} is reachable now", self.brokers);
                    }
                    return Ok(());
                }
                Err(error) if !warned => {
                    tracing::warn!(
                        "cannot reach Kafka at {}: {error:#}. {hint} Retrying every 2 s…",
                        self.brokers
                    );
                    warned = true;
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => anyhow::bail!("stopped while waiting for Kafka"),
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    async fn ensure_topic(&self) -> anyhow::Result<()> {
        let brokers = self.brokers.clone();
        // Metadata calls block, so they run off the async threads.
        let exists = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let probe: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .create()?;
            let metadata = probe.fetch_metadata(None, Duration::from_secs(3))?;
            Ok(metadata.topics().iter().any(|t| t.name() == TOPIC))
        })
        .await??;
        if exists {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()?;
        let topic = NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
        for result in admin.create_topics([&topic], &options).await? {
            match result {
                Ok(_) => tracing::info!("created topic {TOPIC:?} with {PARTITIONS} partitions"),
                // Another service got there first: fine.
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => anyhow::bail!("creating topic {name:?}: {code}"),
            }
        }
        Ok(())
    }
}

/// Publishes `message` to [`TOPIC`], keyed by its room, with `headers`, and waits until Kafka
/// has it (or [`DELIVERY_TIMEOUT`] passes).
///
/// The headers are empty until step 04, where they carry the trace context to the consumers.
pub async fn publish(
    producer: &FutureProducer,
    message: &Message,
    headers: OwnedHeaders,
) -> anyhow::Result<Delivery> {
    let payload = message.to_payload();
    let record = FutureRecord::to(TOPIC)
        .key(&message.room)
        .payload(&payload)
        .headers(headers);
    producer
        .send(record, Timeout::After(DELIVERY_TIMEOUT))
        .await
        // The KafkaError stays in the chain, so that `error_type` can name it.
        .map_err(|(error, _record)| {
            anyhow::Error::new(error).context("Kafka did not take the record")
        })
}

/// The `error.type` of a span whose work failed because a send did: librdkafka's name for the
/// error, such as `MessageSizeTooLarge`, found in `error`'s chain, else `_OTHER`, the
/// conventions' fallback. Few distinct values, so that a backend can group failures by them.
pub fn error_type(error: &anyhow::Error) -> String {
    let code = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<KafkaError>())
        .and_then(KafkaError::rdkafka_error_code);
    match code {
        Some(code) => format!("{code:?}"),
        None => "_OTHER".to_owned(),
    }
}

/// Waits for a producer's queued records, at most [`FLUSH_TIMEOUT`].
pub async fn flush(producer: &FutureProducer, service: &str) {
    let producer = producer.clone();
    let result =
        tokio::task::spawn_blocking(move || producer.flush(Timeout::After(FLUSH_TIMEOUT))).await;
    if let Ok(Err(error)) = result {
        tracing::warn!("{service}: could not flush Kafka producer: {error}");
    }
}

/// The consumers' client context: it tells [`Joined`] when the group has assigned partitions,
/// and logs what Kafka reports.
pub struct Group {
    name: String,
    joined: Joined,
    /// When each kind of error was last logged, to say it at most once per [`REPEAT_ERROR`].
    last_said: Mutex<HashMap<String, Instant>>,
    /// The partitions this consumer holds, kept from the rebalances themselves. Asking
    /// librdkafka instead (`consumer.assignment()`) inside the rebalance callback waits for
    /// ever when the callback runs because the consumer is being closed: the answer would come
    /// from the thread that is closing it. A CI run hung there.
    held: Mutex<BTreeSet<i32>>,
}

impl ClientContext for Group {
    /// Errors that librdkafka reports about the client as a whole: a broker it cannot reach,
    /// authentication, a request the broker does not support, fatal errors. rdkafka's default
    /// would log them under its own name, which the default log filter silences along with
    /// librdkafka's chatter (see `logging`); these are worth seeing, so they are logged here,
    /// under the app's name.
    fn error(&self, error: KafkaError, reason: &str) {
        let code = error
            .rdkafka_error_code()
            .map_or_else(|| error.to_string(), |code| format!("{code:?}"));
        self.joined.kafka_reported(format!("{reason} ({code})"));
        let mut last_said = self
            .last_said
            .lock()
            .expect("never poisoned: no panics inside");
        let now = Instant::now();
        if last_said
            .get(&code)
            .is_some_and(|at| now.duration_since(*at) < REPEAT_ERROR)
        {
            return;
        }
        last_said.insert(code.clone(), now);
        tracing::warn!("{}: Kafka reports {reason} ({code})", self.name);
    }
}

impl ConsumerContext for Group {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // With several processes in one group, these lines show how they share the partitions.
        // The group protocol hands out changes (partitions added or taken away), so each line
        // also says what the consumer holds now: "assigned []" alone would read as "owns
        // nothing".
        let mut held = self.held.lock().expect("never poisoned: no panics inside");
        match rebalance {
            Rebalance::Assign(partitions) => {
                held.extend(numbers(partitions));
                tracing::info!(
                    "{}: assigned partitions {}; it now holds {}",
                    self.name,
                    list(partitions),
                    set(&held)
                );
                self.joined.joined();
            }
            Rebalance::Revoke(partitions) => {
                for partition in numbers(partitions) {
                    held.remove(&partition);
                }
                tracing::info!(
                    "{}: gave up partitions {}; it now holds {}",
                    self.name,
                    list(partitions),
                    set(&held)
                );
            }
            Rebalance::Error(error) => tracing::warn!("{}: rebalance failed: {error}", self.name),
        }
    }
}

/// The partition numbers of the topic `message` in `partitions`.
fn numbers(partitions: &rdkafka::TopicPartitionList) -> Vec<i32> {
    partitions
        .elements()
        .iter()
        .filter(|p| p.topic() == TOPIC)
        .map(|p| p.partition())
        .collect()
}

fn set(partitions: &BTreeSet<i32>) -> String {
    let numbers: Vec<String> = partitions.iter().map(i32::to_string).collect();
    format!("[{}]", numbers.join(", "))
}

fn list(partitions: &rdkafka::TopicPartitionList) -> String {
    let numbers: Vec<String> = partitions
        .elements()
        .iter()
        .map(|p| p.partition().to_string())
        .collect();
    format!("[{}]", numbers.join(", "))
}

/// Where a record came from, for log lines: `message/1@42`.
pub fn position(record: &impl rdkafka::Message) -> String {
    format!(
        "{}/{}@{}",
        record.topic(),
        record.partition(),
        record.offset()
    )
}
