//! The consumer loops that storage-service and giphy-service share.
//!
//! Each service writes a [`Handler`]: what to do with one chat message. [`run`] does the rest,
//! the same way in every step:
//!
//! - it stops between records when shutdown is asked for, so in-flight work always finishes;
//! - it skips (and logs) a record that is not a chat message, so a bad record never stalls its
//!   partition;
//! - it retries a [`Failure::Retry`] (Redis down, say) until it works or shutdown comes;
//! - it stores a record's offset only when the record is done with (at-least-once): a record
//!   that was interrupted is delivered again after a restart;
//! - it stops the service, with the reason, when Kafka reports a fatal error: such a consumer
//!   could only wait forever.
//!
//! From step 07 on, storage-service takes records in batches instead: it writes a
//! [`BatchHandler`], and [`run_batches`] gives the same guarantees for a whole batch. A batch
//! closes at [`Batching::size`] records or [`Batching::wait`] after its first record, whichever
//! comes first; its offsets are stored only once the whole batch is done; a record that is not
//! a chat message is left out of the batch but its offset is stored with the rest; a failed
//! batch is retried whole.

use std::future::Future;
use std::time::Duration;

use rdkafka::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::types::RDKafkaErrorCode;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::kafka::{Group, position};
use crate::message::Message;

/// The first pause before a failed record is tried again. It doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// The longest pause between two tries of the same record.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// While a record keeps failing, how often the loop says so again.
const REPEAT_WARNING: Duration = Duration::from_secs(60);

/// What a service does with each chat message it consumes.
pub trait Handler: Send + Sync {
    /// Handles one message. `record` is the Kafka record it came from: its headers, partition
    /// and offset matter from step 04 on.
    fn handle(
        &self,
        message: Message,
        record: &BorrowedMessage<'_>,
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// Why a message could not be handled, and so what the loop should do next.
#[derive(Debug)]
pub enum Failure {
    /// Something the service depends on is down: try the same record again later.
    Retry(anyhow::Error),
    /// This record can never succeed: log it and move on.
    Skip(anyhow::Error),
}

/// What a service does with a batch of chat messages (step 07 on).
pub trait BatchHandler: Send + Sync {
    /// Handles a batch: each chat message with the record it came from, in the order they
    /// were consumed. Never empty. A failure fails the whole batch: [`Failure::Retry`] tries
    /// the same batch again, [`Failure::Skip`] gives it up.
    fn handle_batch(
        &self,
        batch: &[(Message, &BorrowedMessage<'_>)],
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// When a batch closes (`--batch-size`, `--batch-wait-ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// The most records in one batch.
    pub size: usize,
    /// How long a batch waits for more records after its first one. This is the latency that
    /// batching adds, at most, when messages come slowly.
    pub wait: Duration,
}

/// Consumes until `shutdown`, handing each chat message to `handler`. Fails only when Kafka
/// reports a fatal error.
pub async fn run(
    service: &str,
    consumer: StreamConsumer<Group>,
    handler: impl Handler,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let result = loop {
        let record = tokio::select! {
            // Shutdown wins over a record that is ready at the same moment.
            biased;
            _ = shutdown.cancelled() => break Ok(()),
            record = consumer.recv() => record,
        };
        let record = match record {
            Ok(record) => record,
            Err(error) => match fatal(error) {
                Some(fatal) => break Err(fatal),
                None => continue,
            },
        };
        if !handle_record(service, &record, &handler, &shutdown).await {
            break Ok(()); // interrupted by shutdown: not done, so not stored; it comes back later
        }
        store_offset(service, &consumer, &record);
    };
    // Closing the consumer commits the stored offsets (so a restart does not repeat what is
    // done) and leaves the group. It blocks, for long if Kafka is gone, so it runs on a thread
    // meant for blocking: the async threads stay free to run the shutdown deadline.
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
    result
}

/// Consumes until `shutdown`, handing chat messages to `handler` in batches (step 07 on).
/// Fails only when Kafka reports a fatal error.
pub async fn run_batches(
    service: &str,
    consumer: StreamConsumer<Group>,
    handler: impl BatchHandler,
    batching: Batching,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let result = loop {
        let records = match collect(&consumer, batching, &shutdown).await {
            Ok(Some(records)) => records,
            Ok(None) => break Ok(()),
            Err(fatal) => break Err(fatal),
        };
        let mut batch = Vec::with_capacity(records.len());
        for record in &records {
            match decode(record) {
                Ok(message) => batch.push((message, record)),
                // Left out of the batch, but its offset is stored with the others below.
                Err(reason) => tracing::warn!("{service}: skipping {}: {reason}", position(record)),
            }
        }
        if !batch.is_empty() {
            // `collect` never returns an empty batch.
            let what = format!(
                "the batch of {} from {}",
                records.len(),
                position(&records[0])
            );
            let done = until_done(service, &what, &shutdown, || handler.handle_batch(&batch));
            if !done.await {
                break Ok(()); // interrupted by shutdown: not done, so not stored; it comes back later
            }
        }
        for record in &records {
            store_offset(service, &consumer, record);
        }
    };
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
    result
}

/// The next batch of records: at least one, at most `batching.size`, and no more than
/// `batching.wait` after the first. `None` when shutdown came first; the records of a batch
/// still being collected then are not handled, and come back after a restart. An error when
/// Kafka reported a fatal one.
async fn collect<'c>(
    consumer: &'c StreamConsumer<Group>,
    batching: Batching,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Vec<BorrowedMessage<'c>>>> {
    let mut records = Vec::with_capacity(batching.size);
    let mut closes = None;
    while records.len() < batching.size.max(1) {
        // Before the first record there is no deadline (the branch is off): an idle consumer
        // just waits.
        let deadline = closes.unwrap_or_else(Instant::now);
        let received = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep_until(deadline), if closes.is_some() => break,
            received = consumer.recv() => received,
        };
        match received {
            Ok(record) => {
                closes.get_or_insert_with(|| Instant::now() + batching.wait);
                records.push(record);
            }
            Err(error) => {
                if let Some(fatal) = fatal(error) {
                    return Err(fatal);
                }
            }
        }
    }
    Ok(Some(records))
}

/// A fatal error from `recv`, as the error that stops the service; `None` for any other.
///
/// librdkafka reconnects and retries by itself, and the consumer's context has already logged
/// every error, with librdkafka's reason (see `kafka::Group`), so most need nothing more. After
/// a fatal one the consumer can do nothing at all: the service stops and says why, rather than
/// wait forever.
fn fatal(error: KafkaError) -> Option<anyhow::Error> {
    let KafkaError::MessageConsumptionFatal(code) = error else {
        return None;
    };
    let hint = if code == RDKafkaErrorCode::UnsupportedVersion {
        ". The broker may not support KIP-848's consumer group protocol after all: \
         set KAFKA_GROUP_PROTOCOL=classic"
    } else {
        ""
    };
    Some(anyhow::anyhow!(
        "Kafka reported a fatal error, and the consumer cannot go on: {code}{hint}"
    ))
}

/// Marks `record` as done, so that the next commit moves past it.
fn store_offset(service: &str, consumer: &StreamConsumer<Group>, record: &BorrowedMessage<'_>) {
    if let Err(error) = consumer.store_offset_from_message(record) {
        tracing::warn!(
            "{service}: storing the offset of {}: {error}",
            position(record)
        );
    }
}

/// Handles one record. Returns `false` only when shutdown interrupted it.
async fn handle_record(
    service: &str,
    record: &BorrowedMessage<'_>,
    handler: &impl Handler,
    shutdown: &CancellationToken,
) -> bool {
    let message = match decode(record) {
        Ok(message) => message,
        Err(reason) => {
            tracing::warn!("{service}: skipping {}: {reason}", position(record));
            return true;
        }
    };
    let what = position(record);
    until_done(service, &what, shutdown, || {
        handler.handle(message.clone(), record)
    })
    .await
}

/// Runs `attempt` until it succeeds or gives up, retrying a [`Failure::Retry`] with a growing
/// pause. Returns `false` only when shutdown interrupted it. `what` names the work in the log.
async fn until_done<F, A>(
    service: &str,
    what: &str,
    shutdown: &CancellationToken,
    mut attempt: A,
) -> bool
where
    A: FnMut() -> F,
    F: Future<Output = Result<(), Failure>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 0;
    let mut last_warning: Option<std::time::Instant> = None;
    loop {
        match attempt().await {
            Ok(()) => {
                if tries > 0 {
                    tracing::info!("{service}: {what} done after {tries} retries");
                }
                return true;
            }
            Err(Failure::Skip(error)) => {
                tracing::warn!("{service}: skipping {what}: {error:#}");
                return true;
            }
            Err(Failure::Retry(error)) => {
                // Say it once, then once a minute, so a long outage does not flood the
                // terminal.
                if last_warning.is_none_or(|at| at.elapsed() >= REPEAT_WARNING) {
                    last_warning = Some(std::time::Instant::now());
                    tracing::warn!("{service}: {what} failed, retrying until it works: {error:#}");
                }
                tries += 1;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A record's chat message, or why it is not one. Only what every service relies on is
/// checked: the JSON shape, a date the store can order by, and a room that is a safe key.
fn decode(record: &BorrowedMessage<'_>) -> Result<Message, String> {
    let message = Message::from_payload(record.payload().unwrap_or_default())
        .map_err(|error| format!("not a chat message ({error})"))?;
    if message.epoch_ms().is_err() {
        return Err(format!("its date {:?} is not RFC 3339", message.date));
    }
    crate::message::check_room(&message.room).map_err(|error| format!("{error}"))?;
    Ok(message)
}
