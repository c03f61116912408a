//! The consumer loop that storage-service and giphy-service share.
//!
//! Each service writes a [`Handler`]: what to do with one chat message. This loop does the rest,
//! the same way in every step:
//!
//! - it stops between records when shutdown is asked for, so in-flight work always finishes;
//! - it skips (and logs) a record that is not a chat message, so a bad record never stalls its
//!   partition;
//! - it retries a [`Failure::Retry`] (Redis down, say) until it works or shutdown comes;
//! - it stores a record's offset only when the record is done with (at-least-once): a record
//!   that was interrupted is delivered again after a restart.

use std::future::Future;
use std::time::Duration;

use rdkafka::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
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

/// Consumes until `shutdown`, handing each chat message to `handler`.
pub async fn run(
    service: &str,
    consumer: StreamConsumer<Group>,
    handler: impl Handler,
    shutdown: CancellationToken,
) {
    loop {
        let record = tokio::select! {
            // Shutdown wins over a record that is ready at the same moment.
            biased;
            _ = shutdown.cancelled() => break,
            record = consumer.recv() => record,
        };
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                // librdkafka reconnects by itself; this is only worth a line in the log.
                tracing::warn!("{service}: Kafka: {error}");
                continue;
            }
        };
        if !handle_record(service, &record, &handler, &shutdown).await {
            break; // interrupted by shutdown: not done, so not stored; it comes back later
        }
        if let Err(error) = consumer.store_offset_from_message(&record) {
            tracing::warn!(
                "{service}: storing the offset of {}: {error}",
                position(&record)
            );
        }
    }
    // Closing the consumer commits the stored offsets (so a restart does not repeat what is
    // done) and leaves the group. It blocks, for long if Kafka is gone, so it runs on a thread
    // meant for blocking: the async threads stay free to run the shutdown deadline.
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
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
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 0;
    let mut last_warning: Option<std::time::Instant> = None;
    loop {
        match handler.handle(message.clone(), record).await {
            Ok(()) => {
                if tries > 0 {
                    tracing::info!("{service}: {} done after {tries} retries", position(record));
                }
                return true;
            }
            Err(Failure::Skip(error)) => {
                tracing::warn!("{service}: skipping {}: {error:#}", position(record));
                return true;
            }
            Err(Failure::Retry(error)) => {
                // Say it once, then once a minute, so a long outage does not flood the
                // terminal.
                if last_warning.is_none_or(|at| at.elapsed() >= REPEAT_WARNING) {
                    last_warning = Some(std::time::Instant::now());
                    tracing::warn!(
                        "{service}: {} failed, retrying until it works: {error:#}",
                        position(record)
                    );
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
