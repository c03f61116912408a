//! giphy-service: answers `/giphy <topic>` with an image.
//!
//! It consumes every chat message. For one that asks `/giphy <topic>` and has no image yet, it
//! searches Giphy and publishes the same message (same id) again with `image` set. The
//! re-published message reaches this service too, but it has an image, so it is not answered
//! again.
// TODO(02): once each record gets its spans, say so here. Chapter 02, task 4.
// END TODO(02)

// TODO(02): import what you use as you go (opentelemetry's traits and types, the semantic
// conventions' attribute names), and crate::telemetry in a group of its own. Chapter 02, task 4.
use rdkafka::message::{BorrowedMessage, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use talk::giphy::{Client, FALLBACK_IMAGE};
use talk::{ConsumerService, Failure, Message};
// END TODO(02)

/// Consumes the `message` topic in the `giphy-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    // TODO(02): build giphy-service's own tracer provider (telemetry::init), give the handler its
    // tracer, and shut the provider down (telemetry::shutdown) after consuming has stopped.
    // Chapter 02, task 4.
    let giphy = Giphy {
        client: service.giphy.clone(),
        producer: service.producer.clone(),
    };
    service.consume(giphy).await
    // END TODO(02)
}

struct Giphy {
    client: Client,
    producer: FutureProducer,
    // TODO(02): the tracer the handler starts its spans with. Chapter 02, task 4.
    // END TODO(02)
}

impl talk::Handler for Giphy {
    // ANCHOR: handle
    async fn handle(&self, message: Message, _record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        // TODO(02): run this in a "process message" span (kind CONSUMER) that starts a new
        // trace; for a record that asks for an image, give it the attribute giphy.query. When
        // the re-publish fails, the span is an Error with error.type (talk::kafka::error_type
        // names it). End it on every path out of the handler, the early returns below
        // included. Chapter 02, task 4.
        if message.image.is_some() {
            return Ok(()); // already answered
        }
        let Some(query) = message.giphy_query() else {
            return Ok(()); // not for us
        };
        // END TODO(02)
        // TODO(02): make the search a "GET" span (kind CLIENT) under "process message", with
        // the attributes the HTTP conventions require of a client span (http.request.method,
        // server.address, server.port, url.full: the client gives them, the URL with the API
        // key redacted) and http.response.status_code. When Giphy fails: an Error status, with
        // no description that repeats the status code, and error.type (GiphyError gives both).
        // Chapter 02, task 4.
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
        // END TODO(02)
    }
    // ANCHOR_END: handle
}
// TODO(02): if you move the search (in its GET span) or the answer into methods of their own
// (the solution's `Giphy::search` and `Giphy::answer`), write their `impl Giphy` block here.
// Chapter 02, task 4.
// END TODO(02)
