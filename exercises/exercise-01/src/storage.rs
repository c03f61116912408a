//! storage-service: consumes every chat message and stores it.

use rdkafka::message::BorrowedMessage;
use talk::{ConsumerService, Failure, Message, Store};

/// Consumes the `message` topic in the `storage-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
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
        // A store that is down is worth waiting for: the message is retried, not lost.
        self.store
            .save(&message)
            .await
            .map_err(|error| Failure::Retry(error.into()))
    }
    // ANCHOR_END: handle
}
