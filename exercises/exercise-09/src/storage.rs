//! storage-service: consumes every chat message and stores it.
//!
//! It takes the records in batches (`--batch-size`, `--batch-wait-ms`), and stores each batch
//! in one call. Each batch gets one `process message` CONSUMER span, linked to every record's
//! send span, with one `store message` span under it.

// TODO(09): import what the library's batch span needs. Chapter 09, task 4.
use opentelemetry::trace::{Status, TracerProvider as _};
// END TODO(09)
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;
use rdkafka::message::BorrowedMessage;
use talk::store::StoreError;
use talk::{ConsumerService, Failure, Message, Store};
use tracing::instrument::WithSubscriber as _;
use tracing::{Instrument as _, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

// TODO(09): the batch span comes from the library now, not from messaging.rs. Chapter 09, task 4.
use crate::messaging::batch_span;
// END TODO(09)
use crate::telemetry;

// ANCHOR: run
/// Consumes the `message` topic in the `storage-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    let provider = telemetry::init("storage-service", &service.telemetry)?;
    let storage = Storage {
        store: service.store.clone(),
        tracer: provider.tracer("storage-service"),
        // TODO(09): storage-service's traced consumer, from the library, with its own
        // provider. Chapter 09, task 4.
        group: service.name,
        // END TODO(09)
    };
    // Everything this future records goes to storage-service's own subscriber.
    let dispatch = telemetry::dispatch("storage-service", &provider);
    let consumed = service
        .consume_batches(storage)
        .with_subscriber(dispatch)
        .await;
    telemetry::shutdown(provider).await;
    consumed
}
// ANCHOR_END: run

struct Storage {
    store: Store,
    /// For the store's Redis spans: the store speaks OpenTelemetry's own API, not `tracing`.
    tracer: SdkTracer,
    // TODO(09): hold the traced consumer instead. Chapter 09, task 4.
    /// The consumer group, `storage-service`, for the process spans.
    group: &'static str,
    // END TODO(09)
}

impl talk::BatchHandler for Storage {
    // ANCHOR: handle_batch
    async fn handle_batch(&self, batch: &[(Message, &BorrowedMessage<'_>)]) -> Result<(), Failure> {
        // TODO(09): the batch span is the library's now: ask the traced consumer for it, run
        // store_messages with its context current, record a failure on it, and end it. Chapter 09, task 4.
        // Caused by every record's send span: a new trace, linked to each of them.
        let span = batch_span(self.group, batch);
        let messages: Vec<Message> = batch.iter().map(|(message, _)| message.clone()).collect();

        // The work runs inside the span: `instrument` enters it whenever the future is polled.
        let stored = self
            .store_messages(&messages)
            .instrument(span.clone())
            .await;

        if let Err(error) = &stored {
            span.set_attribute(ERROR_TYPE, error.error_type());
            span.set_status(Status::error(error.to_string()));
        }
        // END TODO(09)
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
