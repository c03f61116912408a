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
use axum::{Extension, Json, Router};
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, URL_PATH, URL_QUERY,
    URL_SCHEME,
};
use rdkafka::producer::FutureProducer;
use talk::http::{ApiError, RoomQuery, ValidMessage};
use talk::{ChatApi, Message, SendMode, Store};
use tokio_util::task::TaskTracker;

use crate::messaging::send_message;
use crate::telemetry;

/// What the handlers share. All fields are cheap to clone.
#[derive(Clone)]
struct AppState {
    producer: FutureProducer,
    store: Store,
    tracer: SdkTracer,
    send_mode: SendMode,
    /// The sends still running in the background, which shutdown waits for.
    background: TaskTracker,
}

/// Serves the chat API until shutdown.
pub async fn run(service: ChatApi) -> anyhow::Result<()> {
    let provider = telemetry::init("chat-api", &service.telemetry)?;
    let state = AppState {
        producer: service.producer.clone(),
        store: service.store.clone(),
        tracer: provider.tracer("chat-api"),
        send_mode: service.send_mode,
        background: TaskTracker::new(),
    };
    let background = state.background.clone();
    let routes = Router::new()
        .route("/message", post(post_message).get(get_messages))
        // `route_layer`, not `layer`: it runs after routing, so the route is known.
        .route_layer(middleware::from_fn_with_state(state.clone(), trace_request))
        .with_state(state);
    let served = service.serve(routes).await;
    // Sends spawned by the last requests may still be running: let them finish (and end their
    // spans) before the provider's last flush.
    background.close();
    background.wait().await;
    telemetry::shutdown(provider).await;
    served
}

// ANCHOR: trace_request
/// Runs a request inside a SERVER span named `{method} {route}`, e.g. `POST /message`.
///
/// The span's context goes into the request's extensions, so handlers can find it.
async fn trace_request(
    State(state): State<AppState>,
    route: MatchedPath,
    mut request: Request,
    next: Next,
) -> Response {
    // A caller that is itself traced sends a `traceparent` header: continue its trace.
    // Without one, `parent` is empty and the span starts a new trace.
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    let method = request.method().to_string();
    let span = state
        .tracer
        .span_builder(format!("{method} {}", route.as_str()))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new(HTTP_REQUEST_METHOD, method),
            KeyValue::new(HTTP_ROUTE, route.as_str().to_owned()),
            // The conventions require the path and the scheme too: chat-api serves plain HTTP.
            KeyValue::new(URL_PATH, request.uri().path().to_owned()),
            KeyValue::new(URL_SCHEME, "http"),
        ])
        .start_with_context(&state.tracer, &parent);
    let cx = parent.with_span(span);
    // The query too, when the request has one (`GET /message?room=…`): the conventions
    // require it then.
    if let Some(query) = request.uri().query() {
        cx.span()
            .set_attribute(KeyValue::new(URL_QUERY, query.to_owned()));
    }
    request.extensions_mut().insert(cx.clone());

    // The SERVER span's context is the current one while the handler runs, so spans started
    // in the handler (and in tasks that carry the context) become its children.
    let response = next.run(request).with_context(cx.clone()).await;

    let span = cx.span();
    let status = response.status();
    span.set_attribute(KeyValue::new(
        HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    ));
    // For a server, a 4xx is the client's mistake, not a failure of this service. A 5xx is
    // its own: `error.type` is the code, as text. The code says what went wrong, so the
    // status gets no description (the conventions ask for none that repeats it).
    if status.is_server_error() {
        span.set_attribute(KeyValue::new(ERROR_TYPE, status.as_str().to_owned()));
        span.set_status(Status::error(""));
    }
    span.end();
    response
}
// ANCHOR_END: trace_request

/// `POST /message`: accept the message, publish it, answer `202 Accepted`.
///
/// 202 rather than 201: the message is on its way (in Kafka), not yet stored. How it is
/// published depends on `--send-mode`, after the book's `KSEND`.
async fn post_message(
    State(state): State<AppState>,
    Extension(cx): Extension<Context>,
    ValidMessage(new): ValidMessage,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let mut message = Message::accept(new);
    // ANCHOR: trace_id
    // The page links each message to its trace in Jaeger.
    message.trace_id = Some(cx.span().span_context().trace_id().to_string());
    // ANCHOR_END: trace_id
    // ANCHOR: send_modes
    match state.send_mode {
        // In the handler: the SERVER span's context is current here.
        SendMode::Sync => {
            send_message(
                &state.producer,
                &state.tracer,
                &message,
                &Context::current(),
            )
            .await
            .map_err(ApiError::Publish)?;
        }
        // In a new task. `tokio::spawn` does not carry the current context, so inside the task
        // `Context::current()` is empty and the send span starts a trace of its own.
        SendMode::AsyncLost => {
            let task = send_in_background(state.clone(), message.clone());
            tokio::spawn(state.background.track_future(task));
        }
        // In a new task that carries the context: `with_context` makes it current whenever
        // the task's future is polled, on whichever thread that happens.
        SendMode::Async => {
            let task = send_in_background(state.clone(), message.clone());
            let task = task.with_context(Context::current());
            tokio::spawn(state.background.track_future(task));
        }
    }
    Ok((StatusCode::ACCEPTED, Json(message)))
    // ANCHOR_END: send_modes
}

// ANCHOR: send_in_background
/// Sends after the POST has been answered. The client has its 202 already, so a failure can
/// only be logged (and recorded on the send span).
async fn send_in_background(state: AppState, message: Message) {
    let sent = send_message(
        &state.producer,
        &state.tracer,
        &message,
        &Context::current(),
    )
    .await;
    if let Err(error) = sent {
        tracing::warn!(
            "chat-api: message {} was not published: {error:#}",
            message.id
        );
    }
}
// ANCHOR_END: send_in_background

/// `GET /message?room=…&limit=…`: the room's latest messages, oldest first.
async fn get_messages(
    State(state): State<AppState>,
    query: RoomQuery,
) -> Result<Json<Vec<Message>>, ApiError> {
    let messages = state.store.list(&query.room, query.limit).await?;
    Ok(Json(messages))
}
