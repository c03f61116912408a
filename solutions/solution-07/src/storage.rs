//! storage-service: consumes every chat message and stores it.
//!
//! It takes the records in batches (`--batch-size`, `--batch-wait-ms`), and stores each batch
//! in one call. Each batch gets one `process message` CONSUMER span, linked to every record's
//! send span, with one `store message` span under it.

use opentelemetry::trace::{Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;
use rdkafka::message::BorrowedMessage;
use talk::store::StoreError;
use talk::{ConsumerService, Failure, Message, Store};

use crate::messaging::start_batch_process;
use crate::telemetry;

/// Consumes the `message` topic in the `storage-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    let provider = telemetry::init("storage-service", &service.telemetry)?;
    let storage = Storage {
        store: service.store.clone(),
        tracer: provider.tracer("storage-service"),
        group: service.name,
    };
    // In batches: one store call for many records, instead of one each.
    let consumed = service.consume_batches(storage).await;
    telemetry::shutdown(provider).await;
    consumed
}

struct Storage {
    store: Store,
    tracer: SdkTracer,
    /// The consumer group, `storage-service`, for the process spans.
    group: &'static str,
}

impl talk::BatchHandler for Storage {
    // ANCHOR: handle_batch
    async fn handle_batch(&self, batch: &[(Message, &BorrowedMessage<'_>)]) -> Result<(), Failure> {
        // Caused by every record's send span: a new trace, linked to each of them.
        let cx = start_batch_process(&self.tracer, self.group, batch);
        let messages: Vec<Message> = batch.iter().map(|(message, _)| message.clone()).collect();

        let stored = self.store_messages(&messages, &cx).await;

        if let Err(error) = &stored {
            cx.span()
                .set_attribute(KeyValue::new(ERROR_TYPE, error.error_type()));
            cx.span().set_status(Status::error(error.to_string()));
        }
        cx.span().end();
        // A store that is down is worth waiting for: the batch is retried, not lost.
        stored.map_err(|error| Failure::Retry(error.into()))
    }
    // ANCHOR_END: handle_batch
}

impl Storage {
    // ANCHOR: store_messages
    /// Saves the messages inside one `store message` span, a child of `parent`.
    async fn store_messages(
        &self,
        messages: &[Message],
        parent: &Context,
    ) -> Result<(), StoreError> {
        let span = self.tracer.start_with_context("store message", parent);
        let cx = parent.with_span(span);
        // With Redis, the store sends the whole batch as one pipeline, a CLIENT span under ours.
        let saved = self
            .store
            .save_batch_with_spans(messages, &self.tracer, &cx)
            .await;
        if let Err(error) = &saved {
            cx.span()
                .set_attribute(KeyValue::new(ERROR_TYPE, error.error_type()));
            cx.span().set_status(Status::error(error.to_string()));
        }
        cx.span().end();
        saved
    }
    // ANCHOR_END: store_messages
}
