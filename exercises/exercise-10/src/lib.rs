//! Tracing Talk: the three services of the chat app.
//!
//! Three services share the Kafka topic `message`:
//!
//! - [`chat_api`] takes `POST /message` and publishes it, and serves `GET /message`;
//! - [`storage`] (storage-service) consumes the topic and stores every message;
//! - [`giphy`] (giphy-service) consumes it too, answers `/giphy <topic>` with an image, and
//!   publishes the message again with its `image` set.
//!
//! Each service has its own tracer provider ([`telemetry`]) and makes the spans that are its
//! own: chat-api a SERVER span per request, giphy-service the `GET` of its Giphy search,
//! storage-service the `store message` span and, with Redis, the store's. The Kafka spans, the
//! `send message` PRODUCER spans and the `process message` CONSUMER spans with their links,
//! come from a library: [`kafka_tracing`], with the header carrier of step 04 ([`carrier`]).
//!
//! Everything that stays the same from step to step (Kafka settings, the store, the launcher)
//! lives in the `talk` crate, so these files hold only the code the steps change.

pub mod carrier;
pub mod chat_api;
pub mod giphy;
pub mod kafka_tracing;
// TODO(10): the consumers' sampler, in sampling.rs. Chapter 10, task 1.
pub mod sampling;
// END TODO(10)
pub mod storage;
pub mod telemetry;

use kafka_tracing::TracedProducer;
// TODO(10): what the baggage needs: the context, its baggage, and running a future in a
// context. Chapter 10, task 3.
// END TODO(10)
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use talk::kafka::{DELIVERY_TIMEOUT, Delivery, TOPIC};
use talk::{ChatApi, ConsumerService, Message};

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

// TODO(10): the baggage entries of this app, given. Chapter 10, task 3.
/// The baggage entry that carries a message's room to every service downstream.
pub const ROOM_BAGGAGE: &str = "chat.room";

// ANCHOR: baggage_attributes
/// The baggage entries that the consumers put on their spans as attributes: this list, never
/// the rest. Baggage is written by every service upstream and read in plain text by every
/// service downstream; an attribute is stored, and shown to whoever reads the traces.
pub const BAGGAGE_ATTRIBUTES: &[&str] = &[ROOM_BAGGAGE];
// ANCHOR_END: baggage_attributes

// END TODO(10)
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
    // TODO(10): a context for the send: the current one, with the message's room added to its
    // baggage (under ROOM_BAGGAGE), beside what the baggage holds already. Chapter 10, task 3.
    // END TODO(10)
    producer
        .send(record, Timeout::After(DELIVERY_TIMEOUT), Some(&message.id))
        // TODO(10): the send runs in that context, so that the producer writes its baggage
        // into the record. Chapter 10, task 3.
        // END TODO(10)
        .await
        // The KafkaError stays in the chain, so that `talk::kafka::error_type` can name it.
        .map_err(|(error, _record)| {
            anyhow::Error::new(error).context("Kafka did not take the record")
        })
}
// ANCHOR_END: send_message
