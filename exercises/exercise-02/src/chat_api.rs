//! chat-api: the HTTP front of the chat.
//!
//! `POST /message` accepts a message and publishes it to Kafka; `GET /message` reads a room
//! from the store. The chat page, its images and `/healthz` come from `talk::http`.
// TODO(02): once every /message request runs inside a SERVER span, say so here. Chapter 02,
// task 2.
// END TODO(02)

// TODO(02): import what you use as you go (axum's middleware, MatchedPath, Request, Response
// and Extension; opentelemetry's traits and types, the propagator, HeaderExtractor, the
// semantic conventions' attribute names), and crate::telemetry in a group of its own.
// Chapter 02, tasks 1 and 2.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::FutureProducer;
use talk::http::{ApiError, RoomQuery, ValidMessage};
use talk::{ChatApi, Message, Store};
// END TODO(02)

// TODO(02): give the handlers chat-api's tracer, in a third field (the doc then says "All
// fields", not "Both"). Chapter 02, task 2.
/// What the handlers share. Both fields are cheap to clone.
#[derive(Clone)]
struct AppState {
    producer: FutureProducer,
    store: Store,
}
// END TODO(02)

/// Serves the chat API until shutdown.
pub async fn run(service: ChatApi) -> anyhow::Result<()> {
    // TODO(02): chat-api's own tracer provider, from telemetry::init. Chapter 02, task 1.
    // END TODO(02)
    let state = AppState {
        producer: service.producer.clone(),
        store: service.store.clone(),
        // TODO(02): chat-api's tracer, taken from its provider. Chapter 02, task 2.
        // END TODO(02)
    };
    let routes = Router::new()
        .route("/message", post(post_message).get(get_messages))
        // TODO(02): wrap every /message request in a SERVER span, with your middleware added by
        // `route_layer` (it runs after routing, so the route is known). Chapter 02, task 2.
        // END TODO(02)
        .with_state(state);
    // TODO(02): shut the provider down when the server has stopped (telemetry::shutdown), so
    // the last batch of spans is exported. Chapter 02, task 1.
    service.serve(routes).await
    // END TODO(02)
}

// TODO(02): write the middleware here, above post_message: `trace_request` runs each request
// inside a SERVER span named `{method} {route}`, with the attributes the HTTP conventions
// require of a server span (method, path, scheme, and the query when there is one) and the
// route and status code; a 5xx answer
// makes it an Error with error.type. It continues the caller's trace from its `traceparent`
// header, and puts the span's context in the request's extensions. Then give
// post_message that context (an `Extension<Context>` argument, before `ValidMessage`: only the
// last argument may consume the body), and set `message.trace_id` to the span's trace, so the
// chat page can link to it. Chapter 02, task 2. (The ANCHOR lines only mark code for the book.)
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
// END TODO(02)

/// `GET /message?room=…&limit=…`: the room's latest messages, oldest first.
async fn get_messages(
    State(state): State<AppState>,
    query: RoomQuery,
) -> Result<Json<Vec<Message>>, ApiError> {
    let messages = state.store.list(&query.room, query.limit).await?;
    Ok(Json(messages))
}
