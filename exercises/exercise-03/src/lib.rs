//! Tracing Talk: the three services of the chat app.
//!
//! Three services share the Kafka topic `message`:
//!
//! - [`chat_api`] takes `POST /message` and publishes it, and serves `GET /message`;
//! - [`storage`] (storage-service) consumes the topic and stores every message;
//! - [`giphy`] (giphy-service) consumes it too, answers `/giphy <topic>` with an image, and
//!   publishes the message again with its `image` set.
//!
//! Each service has its own tracer provider ([`telemetry`]) and makes the spans of the trace
//! contract: chat-api a SERVER span per request, storage-service and giphy-service a
//! `process message` CONSUMER span per record, with the store and Giphy calls under it.
// TODO(03): once chat-api sends inside a PRODUCER span, say so in this map of the crate.
// Chapter 03.
// END TODO(03)
//!
//! Everything that stays the same from step to step (Kafka settings, the store, the launcher)
//! lives in the `talk` crate, so these files hold only the code the steps change.

pub mod chat_api;
pub mod giphy;
// TODO(03): the module where sending to Kafka gets its PRODUCER span. Chapter 03, task 1.
pub mod messaging;
// END TODO(03)
pub mod storage;
pub mod telemetry;

use talk::{ChatApi, ConsumerService};

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
