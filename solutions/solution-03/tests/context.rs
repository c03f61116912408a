//! Step 03's check: the `send message` PRODUCER spans, and the trace context across a
//! `tokio::spawn`.

use check::{Spans, TestApp};
use opentelemetry::trace::SpanKind;
use talk::{Config, SendMode};

// The step under test: this crate's own library.
use solution_03::Step;

const SEND_SPAN: &str = "Publish inside a \"send message\" span of kind PRODUCER \
    (messaging::send_message), with messaging.system=kafka, messaging.destination.name=message, \
    messaging.operation.name=send and messaging.operation.type=send.";
const CURRENT: &str = "In the handler, the SERVER span's context must be the current one: \
    run the handler future with `.with_context(cx)` in the middleware, and start the send span \
    from `Context::current()`.";
const SPAWN: &str = "tokio::spawn does not carry the current context into the new task. \
    In `async` mode, wrap the task's future with `.with_context(Context::current())` \
    (opentelemetry::context::FutureExt) before spawning it. If `sync` fails too, the SERVER \
    span is not current in the handler (task 2), so there is no context to carry.";

async fn app(mode: SendMode) -> TestApp {
    TestApp::start_with(
        Step,
        Config {
            send_mode: mode,
            ..Config::embedded()
        },
    )
    .await
}

/// Posts `text` and waits for chat-api's POST and send spans.
async fn post_and_wait(app: &TestApp, text: &str) -> Spans {
    app.post("ann", "lobby", text).await;
    app.wait_for_spans("chat-api's POST and send spans", SEND_SPAN, |s| {
        s.has("chat-api", "POST /message") && s.has("chat-api", "send message")
    })
    .await
}

/// The send span has the messaging attributes, and where the record landed.
fn check_send_span(spans: &Spans, service: &str) {
    let send = spans
        .one(service, "send message", SEND_SPAN)
        .is_kind(SpanKind::Producer, SEND_SPAN)
        .has_attribute("messaging.system", "kafka", SEND_SPAN)
        .has_attribute("messaging.destination.name", "message", SEND_SPAN)
        .has_attribute("messaging.operation.name", "send", SEND_SPAN)
        .has_attribute("messaging.operation.type", "send", SEND_SPAN)
        .is_ok("The record was delivered: leave the status unset.");
    let landed = "Once Kafka has the record, set messaging.destination.partition.id (a string) \
                  and messaging.kafka.offset from the Delivery that publish returns.";
    let partition = send.has_attribute_key("messaging.destination.partition.id", landed);
    if !matches!(
        partition.attribute("messaging.destination.partition.id"),
        Some(opentelemetry::Value::String(_))
    ) {
        spans.fail(
            "messaging.destination.partition.id should be a string, as the conventions say",
            landed,
        );
    }
    send.has_attribute_key("messaging.kafka.offset", landed);
}

/// `--send-mode sync`: the send happens in the handler, under the SERVER span.
#[tokio::test(flavor = "multi_thread")]
async fn sync_send_is_a_child_of_the_post() {
    let app = app(SendMode::Sync).await;
    let spans = post_and_wait(&app, "hello").await;
    let post = spans.one("chat-api", "POST /message", "the SERVER span from step 02");
    spans
        .one("chat-api", "send message", SEND_SPAN)
        .is_child_of(&post, CURRENT);
    check_send_span(&spans, "chat-api");
    app.stop().await;
}

/// `--send-mode async` (the default): the send happens in a spawned task that carries the
/// context, so it is still a child of the POST.
#[tokio::test(flavor = "multi_thread")]
async fn async_send_keeps_the_context() {
    let app = app(SendMode::Async).await;
    let spans = post_and_wait(&app, "hello").await;
    let post = spans.one("chat-api", "POST /message", "the SERVER span from step 02");
    spans
        .one("chat-api", "send message", SEND_SPAN)
        .is_in_trace_of(&post, SPAWN)
        .is_child_of(&post, SPAWN);
    check_send_span(&spans, "chat-api");
    app.stop().await;
}

/// `--send-mode async-lost`: the book's `async1`. The spawned task does not carry the context,
/// and the send span demonstrably starts a new trace.
#[tokio::test(flavor = "multi_thread")]
async fn async_lost_send_starts_a_new_trace() {
    let app = app(SendMode::AsyncLost).await;
    let spans = post_and_wait(&app, "hello").await;
    let post = spans.one("chat-api", "POST /message", "the SERVER span from step 02");
    spans
        .one("chat-api", "send message", SEND_SPAN)
        .is_not_in_trace_of(
            &post,
            "In async-lost mode, spawn the task WITHOUT with_context: this mode shows what \
             goes wrong when the context is not carried.",
        )
        .is_root("The lost context means the send span has no parent at all.");
    app.stop().await;
}

/// giphy-service's re-publish is a `send message` span under its `process message`.
#[tokio::test(flavor = "multi_thread")]
async fn giphy_republish_is_a_send_span() {
    let app = app(SendMode::Async).await;
    app.post("ann", "lobby", "/giphy cats").await;
    let spans = app
        .wait_for_spans(
            "giphy-service's send span and the process message around it",
            SEND_SPAN,
            // Two process messages: the /giphy record (which holds the send) and the
            // re-published copy that comes back to giphy-service.
            |s| {
                s.has("giphy-service", "send message")
                    && s.count("giphy-service", "process message") >= 2
            },
        )
        .await;
    let send = spans.one("giphy-service", "send message", SEND_SPAN);
    let under_process = "Start the re-publish's send span with the context of \"process \
                         message\" (start_with_context(tracer, parent) in send_message).";
    let Some(parent) = spans.by_id(send.data().span.parent_span_id) else {
        spans.fail(
            "giphy-service's send span has no parent among the captured spans",
            under_process,
        );
    };
    send.is_child_of(&parent, under_process);
    if parent.data().span.name != "process message" {
        spans.fail(
            &format!("giphy-service's send span is a child of {}", parent.label()),
            "Start the re-publish's send span with the context of \"process message\".",
        );
    }
    check_send_span(&spans, "giphy-service");
    app.stop().await;
}
