// TODO(08): this file is step 08's, converted to `tracing` for you, but for the regions
// below whose TODO(08) says what to write. Chapter 08.
//! storage-service: consumes every chat message and stores it.
//!
//! It takes the records in batches (`--batch-size`, `--batch-wait-ms`), and stores each batch
//! in one call. Each batch gets one `process message` CONSUMER span, linked to every record's
//! send span, with one `store message` span under it.

use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;
use rdkafka::message::BorrowedMessage;
use talk::store::StoreError;
use talk::{ConsumerService, Failure, Message, Store};
// END TODO(08)
// TODO(08): imports, for you to add. Task 2 calls a method of a `tracing` trait that is not
// imported yet: the one that lets a future carry a subscriber. Chapter 08, Hint 2.
// END TODO(08)
// TODO(08): given, nothing to write until the next END TODO(08).
use tracing::{Instrument as _, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::messaging::batch_span;
use crate::telemetry;

// ANCHOR: run
/// Consumes the `message` topic in the `storage-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    let provider = telemetry::init("storage-service", &service.telemetry)?;
    let storage = Storage {
        store: service.store.clone(),
        tracer: provider.tracer("storage-service"),
        group: service.name,
    };
    // END TODO(08)
    // TODO(08): run the consumer with storage-service's own subscriber: telemetry::dispatch, and
    // .with_subscriber on the future. Chapter 08, task 2.
    let consumed = service.consume_batches(storage).await;
    // END TODO(08)
    // TODO(08): given, nothing to write until the next END TODO(08).
    telemetry::shutdown(provider).await;
    consumed
}
// ANCHOR_END: run

struct Storage {
    store: Store,
    /// For the store's Redis spans: the store speaks OpenTelemetry's own API, not `tracing`.
    tracer: SdkTracer,
    /// The consumer group, `storage-service`, for the process spans.
    group: &'static str,
}

impl talk::BatchHandler for Storage {
    // ANCHOR: handle_batch
    async fn handle_batch(&self, batch: &[(Message, &BorrowedMessage<'_>)]) -> Result<(), Failure> {
        // Caused by every record's send span: a new trace, linked to each of them.
        let span = batch_span(self.group, batch);
        let messages: Vec<Message> = batch.iter().map(|(message, _)| message.clone()).collect();

        // END TODO(08)
        // TODO(08): run store_messages inside the batch span, so that `store message` is its child.
        // Chapter 08, task 4.
        let stored = self.store_messages(&messages).await;
        // END TODO(08)
        // TODO(08): given, nothing to write until the next END TODO(08).

        if let Err(error) = &stored {
            span.set_attribute(ERROR_TYPE, error.error_type());
            span.set_status(Status::error(error.to_string()));
        }
        // A store that is down is worth waiting for: the batch is retried, not lost.
        stored.map_err(|error| Failure::Retry(error.into()))
    }
    // ANCHOR_END: handle_batch
}

impl Storage {
    // ANCHOR: store_messages
    /// Saves the messages inside one `store message` span, a child of the current span.
    async fn store_messages(&self, messages: &[Message]) -> Result<(), StoreError> {
        let span = info_span!("store message");
        // The store makes its Redis span with the OpenTelemetry API: it gets the OpenTelemetry
        // context of our tracing span, so that its span is a child of ours.
        let parent = span.context();
        let saved = self
            .store
            .save_batch_with_spans(messages, &self.tracer, &parent)
            .instrument(span.clone())
            .await;
        if let Err(error) = &saved {
            span.set_attribute(ERROR_TYPE, error.error_type());
            span.set_status(Status::error(error.to_string()));
        }
        saved
    }
    // ANCHOR_END: store_messages
}
// END TODO(08)
