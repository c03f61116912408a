//! chat-api: the HTTP front of the chat.
//!
//! `POST /message` accepts a message and publishes it to Kafka; `GET /message` reads a room
//! from the store. The chat page, its images and `/healthz` come from `talk::http`.
//!
//! Every request to `/message` runs inside a SERVER span, made by the [`trace_request`]
//! middleware.

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Status, TraceContextExt as _};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, URL_PATH, URL_QUERY,
    URL_SCHEME,
};
use talk::http::{ApiError, RoomQuery, ValidMessage};
use talk::{ChatApi, Message, SendMode, Store};
use tokio_util::task::TaskTracker;
use tracing::field::Empty;
use tracing::instrument::WithSubscriber as _;
use tracing::{Dispatch, Instrument as _, Span, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::kafka_tracing::{KafkaTracing, TracedProducer};
use crate::{send_message, telemetry};

/// What the handlers share. All fields are cheap to clone.
#[derive(Clone)]
struct AppState {
    /// Traced: each send is a `send message` span, a child of the request's.
    producer: TracedProducer,
    store: Store,
    send_mode: SendMode,
    /// The sends still running in the background, which shutdown waits for.
    background: TaskTracker,
}

// ANCHOR: run
/// Serves the chat API until shutdown.
pub async fn run(service: ChatApi) -> anyhow::Result<()> {
    let provider = telemetry::init("chat-api", &service.telemetry)?;
    let dispatch = telemetry::dispatch("chat-api", &provider);
    let kafka = KafkaTracing::new(&provider);
    let state = AppState {
        producer: kafka.producer(service.producer.clone()),
        store: service.store.clone(),
        send_mode: service.send_mode,
        background: TaskTracker::new(),
    };
    let background = state.background.clone();
    let routes = Router::new()
        .route("/message", post(post_message).get(get_messages))
        // `route_layer`, not `layer`: it runs after routing, so the route is known.
        .route_layer(middleware::from_fn(trace_request))
        .with_state(state)
        // axum runs each connection in a task of its own, which does not carry this future's
        // subscriber: hand every request chat-api's, or its spans would go nowhere.
        .layer(middleware::from_fn_with_state(
            dispatch.clone(),
            with_dispatch,
        ));
    let served = service.serve(routes).with_subscriber(dispatch).await;
    // Sends spawned by the last requests may still be running: let them finish (and end their
    // spans) before the provider's last flush.
    background.close();
    background.wait().await;
    telemetry::shutdown(provider).await;
    served
}
// ANCHOR_END: run

/// Runs a request with chat-api's `tracing` subscriber.
async fn with_dispatch(State(dispatch): State<Dispatch>, request: Request, next: Next) -> Response {
    next.run(request).with_subscriber(dispatch).await
}

// ANCHOR: trace_request
/// Runs a request inside a SERVER span named `{method} {route}`, e.g. `POST /message`.
async fn trace_request(route: MatchedPath, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let span = info_span!(
        "request",
        otel.name = format!("{method} {}", route.as_str()),
        otel.kind = "server",
        { HTTP_REQUEST_METHOD } = method.as_str(),
        { HTTP_ROUTE } = route.as_str(),
        // The conventions require the path and the scheme too: chat-api serves plain HTTP.
        { URL_PATH } = request.uri().path(),
        { URL_SCHEME } = "http",
        // The query too, when the request has one (`GET /message?room=…`).
        { URL_QUERY } = request.uri().query(),
        { HTTP_RESPONSE_STATUS_CODE } = Empty,
    );
    // A caller that is itself traced sends a `traceparent` header: continue its trace. This
    // must happen before the span is first entered, when its OpenTelemetry span starts.
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    if parent.span().span_context().is_valid()
        && let Err(error) = span.set_parent(parent)
    {
        tracing::warn!("the request span keeps no parent: {error}");
    }

    // The handler runs inside the span: it is the current span whenever the handler's future
    // is polled, so spans started there (and in tasks that carry it) become its children.
    let response = next.run(request).instrument(span.clone()).await;

    let status = response.status();
    span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
    // For a server, a 4xx is the client's mistake, not a failure of this service. A 5xx is
    // its own: `error.type` is the code, as text. The code says what went wrong, so the
    // status gets no description (the conventions ask for none that repeats it).
    if status.is_server_error() {
        span.set_attribute(ERROR_TYPE, status.as_str().to_owned());
        span.set_status(Status::error(""));
    }
    response
}
// ANCHOR_END: trace_request

/// `POST /message`: accept the message, publish it, answer `202 Accepted`.
///
/// 202 rather than 201: the message is on its way (in Kafka), not yet stored. How it is
/// published depends on `--send-mode`, after the book's `KSEND`.
async fn post_message(
    State(state): State<AppState>,
    ValidMessage(new): ValidMessage,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let mut message = Message::accept(new);
    // The page links each message to its trace in Jaeger: the trace of the current span, the
    // request's.
    let trace_id = Span::current().context().span().span_context().trace_id();
    message.trace_id = Some(trace_id.to_string());
    // ANCHOR: send_modes
    match state.send_mode {
        // In the handler: the request's span is current here.
        SendMode::Sync => {
            send_message(&state.producer, &message)
                .await
                .map_err(ApiError::Publish)?;
        }
        // In a new task with chat-api's subscriber but not the current span: the send span
        // has no parent, and starts a trace of its own.
        SendMode::AsyncLost => {
            let task = send_in_background(state.clone(), message.clone());
            let task = task.with_current_subscriber();
            tokio::spawn(state.background.track_future(task));
        }
        // In a new task that carries both: the subscriber, and the current span as the span
        // the task runs in.
        SendMode::Async => {
            let task = send_in_background(state.clone(), message.clone());
            let task = task.in_current_span().with_current_subscriber();
            tokio::spawn(state.background.track_future(task));
        }
    }
    Ok((StatusCode::ACCEPTED, Json(message)))
    // ANCHOR_END: send_modes
}

/// Sends after the POST has been answered. The client has its 202 already, so a failure can
/// only be logged (and recorded on the send span).
async fn send_in_background(state: AppState, message: Message) {
    let sent = send_message(&state.producer, &message).await;
    if let Err(error) = sent {
        tracing::warn!(
            "chat-api: message {} was not published: {error:#}",
            message.id
        );
    }
}

/// `GET /message?room=…&limit=…`: the room's latest messages, oldest first.
async fn get_messages(
    State(state): State<AppState>,
    query: RoomQuery,
) -> Result<Json<Vec<Message>>, ApiError> {
    let messages = state.store.list(&query.room, query.limit).await?;
    Ok(Json(messages))
}
