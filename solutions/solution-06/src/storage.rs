//! storage-service: consumes every chat message and stores it.
//!
//! Each record gets a `process message` CONSUMER span, with a `store message` span under it.

use opentelemetry::trace::{Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;
use rdkafka::message::BorrowedMessage;
use talk::store::StoreError;
use talk::{ConsumerService, ConsumerTrace, Failure, Message, Store};

use crate::messaging::start_process;
use crate::telemetry;

/// Consumes the `message` topic in the `storage-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    let provider = telemetry::init("storage-service", &service.telemetry)?;
    let storage = Storage {
        store: service.store.clone(),
        tracer: provider.tracer("storage-service"),
        group: service.name,
        consumer_trace: service.consumer_trace,
    };
    let consumed = service.consume(storage).await;
    telemetry::shutdown(provider).await;
    consumed
}

struct Storage {
    store: Store,
    tracer: SdkTracer,
    /// The consumer group, `storage-service`, for the process spans.
    group: &'static str,
    /// Whether the process spans continue the producer's trace (`--consumer-trace`).
    consumer_trace: ConsumerTrace,
}

impl talk::Handler for Storage {
    // ANCHOR: handle
    async fn handle(&self, message: Message, record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        // Caused by the send span of this record: linked to it, and its child in `same` mode.
        let cx = start_process(
            &self.tracer,
            self.group,
            self.consumer_trace,
            record,
            &message,
        );

        let stored = self.store_message(&message, &cx).await;

        if let Err(error) = &stored {
            cx.span()
                .set_attribute(KeyValue::new(ERROR_TYPE, error.error_type()));
            cx.span().set_status(Status::error(error.to_string()));
        }
        cx.span().end();
        // A store that is down is worth waiting for: the message is retried, not lost.
        stored.map_err(|error| Failure::Retry(error.into()))
    }
    // ANCHOR_END: handle
}

impl Storage {
    // ANCHOR: store_message
    /// Saves the message inside a `store message` span, a child of `parent`.
    async fn store_message(&self, message: &Message, parent: &Context) -> Result<(), StoreError> {
        let span = self.tracer.start_with_context("store message", parent);
        let cx = parent.with_span(span);
        // With Redis, the store adds a CLIENT span for each command under ours.
        let saved = self.store.save_with_spans(message, &self.tracer, &cx).await;
        if let Err(error) = &saved {
            cx.span()
                .set_attribute(KeyValue::new(ERROR_TYPE, error.error_type()));
            cx.span().set_status(Status::error(error.to_string()));
        }
        cx.span().end();
        saved
    }
    // ANCHOR_END: store_message
}
