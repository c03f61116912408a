//! storage-service: consumes every chat message and stores it.
//!
//! It takes the records in batches (`--batch-size`, `--batch-wait-ms`), and stores each batch
//! in one call. Each batch gets one `process message` CONSUMER span, linked to every record's
//! send span, with one `store message` span under it.

use opentelemetry::KeyValue;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Status, TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;
use rdkafka::message::BorrowedMessage;
use talk::store::StoreError;
use talk::{ConsumerService, Failure, Message, Store};
use tracing::instrument::WithSubscriber as _;
use tracing::{Instrument as _, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::kafka_tracing::{KafkaTracing, TracedConsumer};
use crate::telemetry;

// ANCHOR: run
/// Consumes the `message` topic in the `storage-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    // TODO(10): storage-service's provider samples with the links: telemetry.rs,
    // init_consumer. Chapter 10, task 2.
    let provider = telemetry::init_consumer("storage-service", &service.telemetry)?;
    // END TODO(10)
    let storage = Storage {
        store: service.store.clone(),
        tracer: provider.tracer("storage-service"),
        consumer: KafkaTracing::new(&provider).consumer(service.name, service.consumer_trace),
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
    /// The process spans of the `storage-service` group.
    consumer: TracedConsumer,
}

impl talk::BatchHandler for Storage {
    // ANCHOR: handle_batch
    async fn handle_batch(&self, batch: &[(Message, &BorrowedMessage<'_>)]) -> Result<(), Failure> {
        // The library's batch span: a new trace, linked to every record's send span.
        let records = batch
            .iter()
            .map(|(message, record)| (*record, Some(message.id.as_str())));
        let cx = self.consumer.process_batch(records);
        let messages: Vec<Message> = batch.iter().map(|(message, _)| message.clone()).collect();

        // The work runs with the batch span's context current, so its spans are children.
        let stored = self
            .store_messages(&messages)
            .with_context(cx.clone())
            .await;

        let span = cx.span();
        if let Err(error) = &stored {
            span.set_attribute(KeyValue::new(ERROR_TYPE, error.error_type()));
            span.set_status(Status::error(error.to_string()));
        }
        span.end();
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
