//! Tracing Talk: the three services of the chat app.
//!
//! Three services share the Kafka topic `message`:
//!
//! - [`chat_api`] takes `POST /message` and publishes it, and serves `GET /message`;
//! - [`storage`] (storage-service) consumes the topic and stores every message;
//! - [`giphy`] (giphy-service) consumes it too, answers `/giphy <topic>` with an image, and
//!   publishes the message again with its `image` set.
//!
// TODO(09): given. The crate's map, as it is once the step is done.
//! Each service has its own tracer provider ([`telemetry`]) and makes the spans that are its
//! own: chat-api a SERVER span per request, giphy-service the `GET` of its Giphy search,
//! storage-service the `store message` span and, with Redis, the store's. The Kafka spans, the
//! `send message` PRODUCER spans and the `process message` CONSUMER spans with their links,
//! come from a library: [`kafka_tracing`], with the header carrier of step 04 ([`carrier`]).
// END TODO(09)
//!
//! Everything that stays the same from step to step (Kafka settings, the store, the launcher)
//! lives in the `talk` crate, so these files hold only the code the steps change.

pub mod carrier;
pub mod chat_api;
pub mod giphy;
// TODO(09): kafka_tracing is the library you write (tasks 1 to 3). Once no service uses
// messaging.rs, delete that file and its mod line. Chapter 09, task 4.
pub mod kafka_tracing;
pub mod messaging;
// END TODO(09)
pub mod storage;
pub mod telemetry;

// TODO(09): given, nothing to write until the next END TODO(09).
use kafka_tracing::TracedProducer;
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use talk::kafka::{DELIVERY_TIMEOUT, Delivery, TOPIC};
use talk::{ChatApi, ConsumerService, Message};
// END TODO(09)

/// This step's services, for the launcher and for the checks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Step;

impl talk::Services for Step {
    async fn chat_api(&self, service: ChatApi) -> anyhow::Result<()> {
        chat_api::run(service).await
    }

    async fn storage_service(&self, service: ConsumerService) -> anyhow::Result<()> {
        storage::run(service).await
    }

    async fn giphy_service(&self, service: ConsumerService) -> anyhow::Result<()> {
        giphy::run(service).await
    }
}
// TODO(09): given: a chat message sent through a traced producer, for the services
// to call once they use the library. Chapter 09, task 4.

// ANCHOR: send_message
/// Publishes a chat message, keyed by its room (which keeps each room in order), through a
/// traced producer. What `talk::kafka::publish` did in step 01, with the tracing left to the
/// producer.
pub async fn send_message(
    producer: &TracedProducer,
    message: &Message,
) -> anyhow::Result<Delivery> {
    let payload = message.to_payload();
    let record = FutureRecord::to(TOPIC).key(&message.room).payload(&payload);
    producer
        .send(record, Timeout::After(DELIVERY_TIMEOUT), Some(&message.id))
        .await
        // The KafkaError stays in the chain, so that `talk::kafka::error_type` can name it.
        .map_err(|(error, _record)| {
            anyhow::Error::new(error).context("Kafka did not take the record")
        })
}
// ANCHOR_END: send_message
// END TODO(09)
