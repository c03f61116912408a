//! Sending a chat message to Kafka inside a `send message` PRODUCER span.
//!
//! The span follows OpenTelemetry's messaging semantic conventions (v1.30 and later): it is
//! named `{operation} {destination}`, so `send message` for the topic `message`, and it carries
//! the `messaging.*` attributes, among them where the record landed.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, MESSAGING_DESTINATION_NAME, MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_OFFSET, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};
use rdkafka::Message as _;
use rdkafka::message::{BorrowedMessage, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use talk::Message;
use talk::kafka::{Delivery, TOPIC};

use crate::carrier::{RecordHeaderExtractor, RecordHeaderInjector};

// ANCHOR: send_message
/// Publishes `message` inside a `send message` span, a child of `parent`.
pub async fn send_message(
    producer: &FutureProducer,
    tracer: &SdkTracer,
    message: &Message,
    parent: &Context,
) -> anyhow::Result<Delivery> {
    let span = tracer
        .span_builder(format!("send {TOPIC}"))
        .with_kind(SpanKind::Producer)
        .with_attributes([
            KeyValue::new(MESSAGING_SYSTEM, "kafka"),
            KeyValue::new(MESSAGING_DESTINATION_NAME, TOPIC),
            KeyValue::new(MESSAGING_OPERATION_NAME, "send"),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "send"),
        ])
        .start_with_context(tracer, parent);
    let cx = parent.with_span(span);

    // ANCHOR: inject
    // The consumers continue this trace: the send span's context goes into the record's
    // headers as `traceparent` (and `tracestate`).
    let mut headers = OwnedHeaders::new();
    TraceContextPropagator::new().inject_context(&cx, &mut RecordHeaderInjector(&mut headers));
    // ANCHOR_END: inject
    let delivered = talk::kafka::publish(producer, message, headers).await;

    let span = cx.span();
    match &delivered {
        // Where the record landed is only known once Kafka has it.
        Ok(delivery) => {
            let partition = delivery.partition.to_string();
            span.set_attribute(KeyValue::new(MESSAGING_DESTINATION_PARTITION_ID, partition));
            span.set_attribute(KeyValue::new(MESSAGING_KAFKA_OFFSET, delivery.offset));
        }
        Err(error) => {
            // A failed send has `error.type`, as the conventions ask: Kafka's name for it.
            span.set_attribute(KeyValue::new(ERROR_TYPE, talk::kafka::error_type(error)));
            span.set_status(Status::error(format!("{error:#}")));
        }
    }
    span.end();
    delivered
}
// ANCHOR_END: send_message

// ANCHOR: extract_parent
/// The trace context a record carries in its headers: the context of the span that sent it.
///
/// A record with no headers, or with a `traceparent` that is missing, not UTF-8 or malformed,
/// gives an empty context, and the consumer's span starts a fresh trace. A bad header never
/// stops a record from being processed.
pub fn extract_parent(record: &BorrowedMessage<'_>) -> Context {
    match record.headers() {
        // Extract onto an empty context, not the current one: whatever is current on this
        // thread has nothing to do with this record.
        Some(headers) => TraceContextPropagator::new()
            .extract_with_context(&Context::new(), &RecordHeaderExtractor(headers)),
        None => Context::new(),
    }
}
// ANCHOR_END: extract_parent
