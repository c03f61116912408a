//! The terminal waterfall draws links: a link that is also the parent, and a trace that
//! follows from another one.

use opentelemetry::Context;
use opentelemetry::trace::{
    Link, Span as _, SpanKind, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use traces::SpanLog;
use traces::waterfall::render_all;

/// A provider named `service` whose spans go to `log`.
fn provider(service: &'static str, log: &SpanLog) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build())
        .with_span_processor(log.processor())
        .build()
}

/// Sends, then processes the sent record with the send span as `parent` (or none), linked to
/// the send span either way. Returns what the waterfall draws.
fn draw(parent_too: bool) -> String {
    let log = SpanLog::default();
    let producer = provider("chat-api", &log).tracer("chat-api");
    let consumer = provider("storage-service", &log).tracer("storage-service");
    let send = producer
        .span_builder("send message")
        .with_kind(SpanKind::Producer)
        .start_with_context(&producer, &Context::new());
    let sent = Context::new().with_span(send);
    let parent = if parent_too {
        sent.clone()
    } else {
        Context::new()
    };
    consumer
        .span_builder("process message")
        .with_kind(SpanKind::Consumer)
        .with_links(vec![Link::with_context(sent.span().span_context().clone())])
        .start_with_context(&consumer, &parent)
        .end();
    sent.span().end();
    render_all(&log.spans())
}

#[test]
fn a_link_to_the_parent_is_marked_as_such() {
    let drawn = draw(true);
    assert!(
        drawn.contains("↪ link to send message (chat-api), also its parent"),
        "{drawn}"
    );
    assert!(!drawn.contains("follows from"), "{drawn}");
}

#[test]
fn a_new_trace_names_the_trace_it_follows_from() {
    let drawn = draw(false);
    let traces: Vec<&str> = drawn.split("\ntrace ").collect();
    assert_eq!(traces.len(), 2, "two traces:\n{drawn}");
    let consumer = traces
        .iter()
        .find(|t| t.contains("process message"))
        .unwrap();
    let header = consumer.lines().next().unwrap();
    assert!(
        header.contains("follows from send message (chat-api) in trace "),
        "the consumer's trace header should name its cause: {header}"
    );
    assert!(
        consumer.contains("↪ link to send message (chat-api), in another trace"),
        "{drawn}"
    );
}

/// A batch span that follows from many traces counts them in its first line; its links name
/// them one per line.
#[test]
fn a_batch_that_follows_from_many_traces_counts_them() {
    let log = SpanLog::default();
    let producer = provider("chat-api", &log).tracer("chat-api");
    let consumer = provider("storage-service", &log).tracer("storage-service");
    let mut links = Vec::new();
    for _ in 0..3 {
        let send = producer.start_with_context("send message", &Context::new());
        links.push(Link::with_context(send.span_context().clone()));
        let mut send = send;
        send.end();
    }
    consumer
        .span_builder("process message")
        .with_links(links)
        .start_with_context(&consumer, &Context::new())
        .end();
    let drawn = render_all(&log.spans());
    assert!(
        drawn.contains("· follows from 3 spans in 3 other traces"),
        "{drawn}"
    );
    assert_eq!(
        drawn.matches("↪ link to send message (chat-api)").count(),
        3,
        "{drawn}"
    );
}
