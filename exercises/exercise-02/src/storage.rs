//! storage-service: consumes every chat message and stores it.
// TODO(02): once each record gets its spans, say so here. Chapter 02, task 3.
// END TODO(02)

// TODO(02): import what you use as you go (opentelemetry's traits and types, the semantic
// conventions' ERROR_TYPE, talk's StoreError), and crate::telemetry in a group of its own.
// Chapter 02, task 3.
use rdkafka::message::BorrowedMessage;
use talk::{ConsumerService, Failure, Message, Store};
// END TODO(02)

/// Consumes the `message` topic in the `storage-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    // TODO(02): build storage-service's own tracer provider (telemetry::init), give the handler
    // its tracer, and shut the provider down (telemetry::shutdown) after consuming has stopped.
    // Chapter 02, task 3.
    let storage = Storage {
        store: service.store.clone(),
    };
    service.consume(storage).await
    // END TODO(02)
}

struct Storage {
    store: Store,
    // TODO(02): the tracer the handler starts its spans with. Chapter 02, task 3.
    // END TODO(02)
}

impl talk::Handler for Storage {
    // ANCHOR: handle
    async fn handle(&self, message: Message, _record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        // TODO(02): run this in a "process message" span (kind CONSUMER) that starts a new
        // trace, with a "store message" span under it around the store call: save with
        // Store::save_with_spans, which adds the Redis spans under yours. Record a failed store
        // call on both spans (an Error status, and error.type, which StoreError names), and end
        // them. Chapter 02, task 3.
        // A store that is down is worth waiting for: the message is retried, not lost.
        self.store
            .save(&message)
            .await
            .map_err(|error| Failure::Retry(error.into()))
        // END TODO(02)
    }
    // ANCHOR_END: handle
}
// TODO(02): if you give "store message" a method of its own (the solution's
// `Storage::store_message`), write its `impl Storage` block here. Chapter 02, task 3.
// END TODO(02)
