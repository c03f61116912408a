//! chat-api: the HTTP front of the chat.
//!
//! `POST /message` accepts a message and publishes it to Kafka; `GET /message` reads a room
//! from the store. The chat page, its images and `/healthz` come from `talk::http`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::FutureProducer;
use talk::http::{ApiError, RoomQuery, ValidMessage};
use talk::{ChatApi, Message, Store};

/// What the handlers share. Both fields are cheap to clone.
#[derive(Clone)]
struct AppState {
    producer: FutureProducer,
    store: Store,
}

/// Serves the chat API until shutdown.
pub async fn run(service: ChatApi) -> anyhow::Result<()> {
    let state = AppState {
        producer: service.producer.clone(),
        store: service.store.clone(),
    };
    let routes = Router::new()
        .route("/message", post(post_message).get(get_messages))
        .with_state(state);
    service.serve(routes).await
}

// ANCHOR: post_message
/// `POST /message`: accept the message, publish it, answer `202 Accepted`.
///
/// 202 rather than 201: the message is on its way (in Kafka), not yet stored.
async fn post_message(
    State(state): State<AppState>,
    ValidMessage(new): ValidMessage,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let message = Message::accept(new);
    talk::kafka::publish(&state.producer, &message, OwnedHeaders::new())
        .await
        .map_err(ApiError::Publish)?;
    Ok((StatusCode::ACCEPTED, Json(message)))
}
// ANCHOR_END: post_message

/// `GET /message?room=…&limit=…`: the room's latest messages, oldest first.
async fn get_messages(
    State(state): State<AppState>,
    query: RoomQuery,
) -> Result<Json<Vec<Message>>, ApiError> {
    let messages = state.store.list(&query.room, query.limit).await?;
    Ok(Json(messages))
}
