//! giphy-service: answers `/giphy <topic>` with an image.
//!
//! It consumes every chat message. For one that asks `/giphy <topic>` and has no image yet, it
//! searches Giphy and publishes the same message (same id) again with `image` set. The
//! re-published message reaches this service too, but it has an image, so it is not answered
//! again.

use rdkafka::message::{BorrowedMessage, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use talk::giphy::{Client, FALLBACK_IMAGE};
use talk::{ConsumerService, Failure, Message};

/// Consumes the `message` topic in the `giphy-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    let giphy = Giphy {
        client: service.giphy.clone(),
        producer: service.producer.clone(),
    };
    service.consume(giphy).await
}

struct Giphy {
    client: Client,
    producer: FutureProducer,
}

impl talk::Handler for Giphy {
    // ANCHOR: handle
    async fn handle(&self, message: Message, _record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        if message.image.is_some() {
            return Ok(()); // already answered
        }
        let Some(query) = message.giphy_query() else {
            return Ok(()); // not for us
        };
        let image = match self.client.search(query).await {
            Ok(found) => found.url,
            Err(error) => {
                // A chat should not break because Giphy did: answer with the fallback image.
                tracing::warn!("giphy-service: {error}; using the fallback image");
                FALLBACK_IMAGE.to_owned()
            }
        };
        let answered = Message {
            image: Some(image),
            ..message
        };
        // If Kafka does not take the answer, try again later rather than lose it.
        talk::kafka::publish(&self.producer, &answered, OwnedHeaders::new())
            .await
            .map(|_delivery| ())
            .map_err(Failure::Retry)
    }
    // ANCHOR_END: handle
}
