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
pub mod sampling;
pub mod storage;
pub mod telemetry;

use kafka_tracing::TracedProducer;
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt as _};
use opentelemetry::context::FutureExt as _;
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

/// The baggage entry that carries a message's room to every service downstream.
pub const ROOM_BAGGAGE: &str = "chat.room";

// ANCHOR: baggage_attributes
/// The baggage entries that the consumers put on their spans as attributes: this list, never
/// the rest. Baggage is written by every service upstream and read in plain text by every
/// service downstream; an attribute is stored, and shown to whoever reads the traces.
pub const BAGGAGE_ATTRIBUTES: &[&str] = &[ROOM_BAGGAGE];
// ANCHOR_END: baggage_attributes

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
    // ANCHOR: room_baggage
    // The room goes into the baggage, beside what is there already: the producer's propagator
    // writes it into the record's `baggage` header, and it travels on from there.
    let cx = Context::current();
    let mut baggage: Baggage = cx
        .baggage()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let _replaced = baggage.insert(ROOM_BAGGAGE, message.room.clone());
    let cx = cx.with_baggage(baggage);
    // ANCHOR_END: room_baggage
    producer
        .send(record, Timeout::After(DELIVERY_TIMEOUT), Some(&message.id))
        .with_context(cx)
        .await
        // The KafkaError stays in the chain, so that `talk::kafka::error_type` can name it.
        .map_err(|(error, _record)| {
            anyhow::Error::new(error).context("Kafka did not take the record")
        })
}
// ANCHOR_END: send_message
