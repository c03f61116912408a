//! Step 04's check: the trace context travels in the Kafka record headers, so one trace covers
//! a message's whole journey.

use std::time::Duration;

use check::{Hint, Spans, TestApp};
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use talk::message::NewMessage;

// The step under test: this crate's own library.
use solution_04::Step;

const INJECT: Hint = Hint::with_code(
    "inject the send span's context",
    "In messaging::send_message, inject the send span's context into the record's headers, with \
     the W3C trace-context propagator and the header carrier of task 1, and publish with those \
     headers.",
    "TraceContextPropagator::new().inject_context(&cx, &mut RecordHeaderInjector(..))",
);
const EXTRACT: Hint = Hint::with_code(
    "context from the record",
    "Did you extract the context from the Kafka headers before starting the span? In each \
     consumer, read the record's headers with the W3C trace-context propagator onto an empty \
     context (messaging::extract_parent), and start \"process message\" with that context as \
     its parent.",
    "TraceContextPropagator::new().extract_with_context(&Context::new(), \
     &RecordHeaderExtractor(..))",
);

/// `hint`, with `words` before its text: the same concept, and the same code.
fn after(words: String, hint: &Hint) -> Hint {
    Hint {
        text: format!("{words} {}", hint.text).into(),
        ..hint.clone()
    }
}

/// Waits until the journey of one posted message is complete in both consumers.
async fn journey(app: &TestApp, text: &str) -> Spans {
    app.post("ann", "lobby", text).await;
    app.wait_for_spans(&format!("the journey of {text:?}"), INJECT, |s| {
        s.has("chat-api", "send message")
            && s.has("storage-service", "process message")
            && s.has("giphy-service", "process message")
    })
    .await
}

/// `hello`: POST → send message → both consumers' process message, in one trace.
#[tokio::test(flavor = "multi_thread")]
async fn one_trace_from_post_to_both_consumers() {
    let app = TestApp::start(Step).await;
    let spans = journey(&app, "hello").await;
    let post = spans.one("chat-api", "POST /message", "the SERVER span from step 02");
    let send = spans.one("chat-api", "send message", "the PRODUCER span from step 03");
    for consumer in ["storage-service", "giphy-service"] {
        let process = spans.one(
            consumer,
            "process message",
            "the CONSUMER span from step 02",
        );
        if process.data().span.parent_span_id == post.span_id() {
            spans.fail(
                &format!(
                    "{consumer}'s \"process message\" is a child of the POST, not of the send span"
                ),
                "The record carries the POST's context: in send_message, inject `cx` (the \
                 context that holds the send span), not `parent`.",
            );
        }
        process
            .is_in_trace_of(
                &post,
                after(
                    format!("{consumer}'s \"process message\" started a new trace:"),
                    &EXTRACT,
                ),
            )
            .is_child_of(
                &send,
                after(
                    format!("{consumer}'s \"process message\" should be a child of the send span:"),
                    &EXTRACT,
                ),
            );
    }
    app.stop().await;
}

/// `/giphy cats`: the same trace goes on through giphy-service's GET and send, into
/// storage-service's second `process message` (the one that stores the image).
#[tokio::test(flavor = "multi_thread")]
async fn giphy_keeps_the_trace_going() {
    let app = TestApp::start(Step).await;
    app.post("ann", "lobby", "/giphy cats").await;
    let spans = app
        .wait_for_spans("the /giphy journey", INJECT, |s| {
            s.count("storage-service", "process message") >= 2
                && s.has("giphy-service", "send message")
        })
        .await;
    let post = spans.one("chat-api", "POST /message", "the SERVER span from step 02");
    let republish = spans.one(
        "giphy-service",
        "send message",
        "the re-publish's PRODUCER span from step 03",
    );
    republish.is_in_trace_of(
        &post,
        after(
            "giphy-service's work should continue the POST's trace:".to_string(),
            &EXTRACT,
        ),
    );
    spans
        .one("giphy-service", "GET", "the Giphy CLIENT span from step 02")
        .is_in_trace_of(&post, EXTRACT);
    let stored_image = spans
        .every("storage-service", "process message")
        .into_iter()
        .find(|p| p.data().span.parent_span_id == republish.span_id());
    if stored_image.is_none() {
        spans.fail(
            "no storage-service \"process message\" is a child of giphy-service's send span",
            after(
                "giphy-service's re-publish must inject its own send span's context.".to_string(),
                &INJECT,
            ),
        );
    }
    app.stop().await;
}

/// The record on the topic carries a `traceparent` naming chat-api's send span.
#[tokio::test(flavor = "multi_thread")]
async fn the_record_headers_carry_the_send_span() {
    let app = TestApp::start(Step).await;
    let sent = app.post("ann", "lobby", "hello").await;
    let spans = journey(&app, "hello again").await;
    let sends = spans.every("chat-api", "send message");

    // Read the topic like a consumer of our own, in a group nobody else uses.
    let readiness = talk::kafka::ready::Readiness::default();
    let consumer: StreamConsumer<talk::kafka::Group> = app
        .kafka()
        .consumer("header-check", readiness.expect_consumer())
        .unwrap();
    let traceparent = loop {
        let record = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .expect("the record should be on the topic")
            .unwrap();
        let message = talk::Message::from_payload(record.payload().unwrap()).unwrap();
        if message.id != sent.id {
            continue;
        }
        let headers = record
            .headers()
            .map(|h| h.detach())
            .unwrap_or_else(OwnedHeaders::new);
        let value = headers
            .iter()
            .find(|h| h.key == "traceparent")
            .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()));
        break value;
    };
    let Some(traceparent) = traceparent else {
        spans.fail("the record has no traceparent header", INJECT);
    };
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(
        parts.len(),
        4,
        "traceparent should be version-traceid-spanid-flags: {traceparent}"
    );
    let names_a_send = sends
        .iter()
        .any(|s| s.span_id().to_string() == parts[2] && s.trace_id() == parts[1]);
    if !names_a_send {
        spans.fail(
            &format!("the record's traceparent {traceparent} names none of chat-api's send spans"),
            after(
                "Inject the context that holds the send span (`cx`).".to_string(),
                &INJECT,
            ),
        );
    }
    consumer.unsubscribe();
    app.stop().await;
}

/// Records with no headers, or with headers that are garbage, are still processed: each
/// starts a fresh trace.
#[tokio::test(flavor = "multi_thread")]
async fn bad_headers_start_a_fresh_trace() {
    let app = TestApp::start(Step).await;
    let producer = app.kafka().producer("test").unwrap();
    let over_long = format!("00-{}-00f067aa0ba902b7-01", "a".repeat(4000));
    let cases: Vec<(&str, OwnedHeaders)> = vec![
        ("no headers", OwnedHeaders::new()),
        (
            "not UTF-8",
            OwnedHeaders::new().insert(Header {
                key: "traceparent",
                value: Some(&[0xff, 0xfe, 0x80][..]),
            }),
        ),
        (
            "malformed",
            OwnedHeaders::new().insert(Header {
                key: "traceparent",
                value: Some("hello, world"),
            }),
        ),
        (
            "over-long",
            OwnedHeaders::new().insert(Header {
                key: "traceparent",
                value: Some(over_long.as_str()),
            }),
        ),
        (
            "empty value",
            OwnedHeaders::new().insert(Header::<&str> {
                key: "traceparent",
                value: None,
            }),
        ),
    ];
    let count = cases.len();
    for (case, headers) in cases {
        let message = talk::Message::accept(NewMessage {
            author: "test".into(),
            room: "headers".into(),
            message: case.into(),
        });
        talk::kafka::publish(&producer, &message, headers)
            .await
            .unwrap();
    }
    let what = "every hand-made record to be stored. A bad header must never stop a record: \
                your extractor returns None for a value that is not UTF-8, and a record \
                without headers gets an empty Context (no unwrap)";
    app.wait_for_messages("headers", what, |all| all.len() == count)
        .await;
    let spans = app
        .wait_for_spans("a process message span per record", EXTRACT, |s| {
            s.count("storage-service", "process message") >= count
        })
        .await;
    for process in spans.every("storage-service", "process message") {
        process.is_root("A record without a valid traceparent has no parent: start a fresh trace.");
    }
    app.stop().await;
}
