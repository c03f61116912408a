//! storage-service: consumes every chat message and stores it.

use rdkafka::message::BorrowedMessage;
use talk::{ConsumerService, Failure, Message, Store};

/// Consumes the `message` topic in the `storage-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    // TODO(02): storage-service's own tracer provider, and its tracer for the handler; shut the
    // provider down after consuming has stopped. Chapter 02, task 3.
    // END TODO(02)
    let storage = Storage {
        store: service.store.clone(),
    };
    service.consume(storage).await
}

struct Storage {
    store: Store,
}

impl talk::Handler for Storage {
    // ANCHOR: handle
    async fn handle(&self, message: Message, _record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        // TODO(02): run this in a "process message" span (kind CONSUMER) that starts a new
        // trace, with a "store message" span under it around the store call. Record a failed
        // store call on both spans, and end them. Chapter 02, task 3.
        // END TODO(02)
        // A store that is down is worth waiting for: the message is retried, not lost.
        self.store
            .save(&message)
            .await
            .map_err(|error| Failure::Retry(error.into()))
    }
    // ANCHOR_END: handle
}
