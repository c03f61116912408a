//! The trace assertions themselves, fed hand-built span sets: sets that satisfy the contract
//! pass, sets that break it fail, with a message that names the problem and carries a hint and
//! the waterfall.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, SystemTime};

use check::Spans;
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use traces::FinishedSpan;

/// A span of `service` named `name`, in trace `trace`, with `parent` (0 for none).
fn span(
    service: &str,
    name: &str,
    kind: SpanKind,
    trace: u128,
    id: u64,
    parent: u64,
) -> FinishedSpan {
    let start =
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(id);
    FinishedSpan {
        service: service.to_owned(),
        span: SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: kind,
            name: name.to_owned().into(),
            start_time: start,
            end_time: start + Duration::from_millis(5),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        },
    }
}

/// The step-04 journey of `hello`, as the contract wants it.
fn good_journey() -> Vec<FinishedSpan> {
    let mut post = span("chat-api", "POST /message", SpanKind::Server, 1, 1, 0);
    post.span.attributes = vec![
        KeyValue::new("http.request.method", "POST"),
        KeyValue::new("http.response.status_code", 202),
    ];
    vec![
        post,
        span("chat-api", "send message", SpanKind::Producer, 1, 2, 1),
        span(
            "storage-service",
            "process message",
            SpanKind::Consumer,
            1,
            3,
            2,
        ),
        span(
            "storage-service",
            "store message",
            SpanKind::Internal,
            1,
            4,
            3,
        ),
    ]
}

/// Runs `check` and returns its panic message, or `None` if it passed.
fn failure(check: impl FnOnce()) -> Option<String> {
    let result = catch_unwind(AssertUnwindSafe(check));
    result.err().map(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "non-string panic".into())
    })
}

#[test]
fn a_journey_that_keeps_the_contract_passes() {
    let spans = Spans::new(good_journey());
    let post = spans.one("chat-api", "POST /message", "h");
    let send = spans
        .one("chat-api", "send message", "h")
        .is_kind(SpanKind::Producer, "h");
    spans
        .one("storage-service", "process message", "h")
        .is_kind(SpanKind::Consumer, "h")
        .is_in_trace_of(&post, "h")
        .is_child_of(&send, "h")
        .is_ok("h");
    post.has_attribute("http.request.method", "POST", "h")
        .has_attribute("http.response.status_code", 202, "h")
        .is_root("h");
    assert_eq!(spans.count("storage-service", "process message"), 1);
}

#[test]
fn a_consumer_that_started_a_new_trace_fails_with_the_hint() {
    let mut spans = good_journey();
    // storage-service did not extract: its process span is a root in a trace of its own.
    spans[2] = span(
        "storage-service",
        "process message",
        SpanKind::Consumer,
        9,
        3,
        0,
    );
    let spans = Spans::new(spans);
    let message = failure(|| {
        let post = spans.one("chat-api", "POST /message", "h");
        spans
            .one("storage-service", "process message", "h")
            .is_in_trace_of(&post, "did you extract the context from the Kafka headers?");
    })
    .expect("the check should fail");
    assert!(
        message.contains("started a new trace of its own"),
        "{message}"
    );
    assert!(
        message.contains("hint: did you extract the context"),
        "{message}"
    );
    assert!(message.contains("What the check captured"), "{message}");
    // The waterfall shows both traces.
    assert!(
        message.contains(&TraceId::from(9u128).to_string()),
        "{message}"
    );
}

/// An expected fragment of the failure message, and the check that should fail with it.
type Case<'a> = (&'a str, Box<dyn FnOnce() + 'a>);

#[test]
fn missing_spans_wrong_kinds_and_attributes_each_fail() {
    let spans = Spans::new(good_journey());
    let cases: Vec<Case<'_>> = vec![
        (
            "no span named",
            Box::new(|| {
                spans.one("chat-api", "GET /message", "h");
            }),
        ),
        (
            "no span came from a service named \"giphy-service\"",
            Box::new(|| {
                spans.one("giphy-service", "process message", "h");
            }),
        ),
        (
            "should be a Consumer span",
            Box::new(|| {
                spans
                    .one("chat-api", "send message", "h")
                    .is_kind(SpanKind::Consumer, "h");
            }),
        ),
        (
            "has no attribute http.route",
            Box::new(|| {
                spans.one("chat-api", "POST /message", "h").has_attribute(
                    "http.route",
                    "/message",
                    "h",
                );
            }),
        ),
        (
            "the contract says",
            Box::new(|| {
                spans.one("chat-api", "POST /message", "h").has_attribute(
                    "http.request.method",
                    "GET",
                    "h",
                );
            }),
        ),
        (
            "should be a child of",
            Box::new(|| {
                let post = spans.one("chat-api", "POST /message", "h");
                spans
                    .one("storage-service", "store message", "h")
                    .is_child_of(&post, "h");
            }),
        ),
        (
            "should start a new trace",
            Box::new(|| {
                spans.one("chat-api", "send message", "h").is_root("h");
            }),
        ),
        (
            "should link to",
            Box::new(|| {
                let send = spans.one("chat-api", "send message", "h");
                spans
                    .one("storage-service", "process message", "h")
                    .links_to(&send, "h");
            }),
        ),
        (
            "should have an Error status",
            Box::new(|| {
                spans
                    .one("storage-service", "store message", "h")
                    .is_error("h");
            }),
        ),
        (
            "should be in a different trace",
            Box::new(|| {
                let post = spans.one("chat-api", "POST /message", "h");
                spans
                    .one("chat-api", "send message", "h")
                    .is_not_in_trace_of(&post, "h");
            }),
        ),
    ];
    for (expected, check) in cases {
        let message = failure(check).unwrap_or_else(|| panic!("{expected:?}: the check passed"));
        assert!(
            message.contains(expected),
            "expected {expected:?} in:\n{message}"
        );
        assert!(message.contains("hint: h"), "{message}");
    }
}

#[test]
fn links_are_checked_and_drawn_with_where_they_point() {
    let mut spans = good_journey();
    // A consumer in a trace of its own that links to the send span (step 05's `new` mode).
    let mut process = span(
        "giphy-service",
        "process message",
        SpanKind::Consumer,
        7,
        8,
        0,
    );
    let send_context = spans[1].span.span_context.clone();
    process
        .span
        .links
        .links
        .push(Link::with_context(send_context));
    process.span.status = Status::error("boom");
    spans.push(process);
    let spans = Spans::new(spans);
    let send = spans.one("chat-api", "send message", "h");
    spans
        .one("giphy-service", "process message", "h")
        .links_to(&send, "h")
        .is_not_in_trace_of(&send, "h")
        .is_error("h");
    let drawn = spans.waterfall();
    assert!(
        drawn.contains("↪ link to send message (chat-api), in another trace"),
        "{drawn}"
    );
    assert!(drawn.contains("✗ error: boom"), "{drawn}");
    assert!(drawn.contains("└─ send message"), "{drawn}");
}
