//! Sending a chat message to Kafka inside a `send message` PRODUCER span.
//!
//! The span follows OpenTelemetry's messaging semantic conventions (v1.30 and later): it is
//! named `{operation} {destination}`, so `send message` for the topic `message`, and it carries
//! the `messaging.*` attributes, among them where the record landed.

use opentelemetry::propagation::TextMapPropagator;
// TODO(07): import what the batch span needs as you go (MESSAGING_BATCH_MESSAGE_COUNT).
// Chapter 07, task 1.
use opentelemetry::trace::{Link, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, MESSAGING_CONSUMER_GROUP_NAME, MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID, MESSAGING_KAFKA_MESSAGE_KEY, MESSAGING_KAFKA_OFFSET,
    MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};
use rdkafka::Message as _;
use rdkafka::message::{BorrowedMessage, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use talk::kafka::{Delivery, TOPIC};
use talk::{ConsumerTrace, Message};
// END TODO(07)

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
            // ANCHOR: message_id
            // The chat message's own id, on the send span and on every process span: once
            // links split a message's journey into several traces, Jaeger's tag search
            // (`messaging.message.id=…`) finds them all.
            KeyValue::new(MESSAGING_MESSAGE_ID, message.id.clone()),
            // ANCHOR_END: message_id
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

// ANCHOR: start_process
/// Starts the `process message` CONSUMER span of `record`, and returns the context that holds
/// it, for the spans of the work to come.
///
/// The span *links* to the record's creation context: the `send message` span whose context
/// the headers carry. A link says "caused by", as OpenTracing's FOLLOWS_FROM did, without
/// saying "part of". `consumer_trace` decides whether the span is also the send span's child
/// (`Same`: one trace for the whole journey) or the root of a new trace (`New`).
pub fn start_process(
    tracer: &SdkTracer,
    group: &str,
    consumer_trace: ConsumerTrace,
    record: &BorrowedMessage<'_>,
    message: &Message,
) -> Context {
    let creation = extract_parent(record);
    // A record without a valid `traceparent` has no creation context, and must get no link:
    // a link to nothing would point Jaeger at a span that does not exist. `with_links` sees
    // to that, as it keeps only valid contexts. (`span.add_link`, after the start, does not:
    // check `is_valid()` before you use it.)
    let link = Link::with_context(creation.span().span_context().clone());
    let parent = match consumer_trace {
        ConsumerTrace::Same => creation,
        // `Context::new()` is empty: the span becomes the root of a trace of its own.
        ConsumerTrace::New => Context::new(),
    };
    let span = tracer
        .span_builder(format!("process {TOPIC}"))
        .with_kind(SpanKind::Consumer)
        .with_attributes(process_attributes(group, record, message))
        .with_links(vec![link])
        .start_with_context(tracer, &parent);
    parent.with_span(span)
}
// ANCHOR_END: start_process

// TODO(07): start the `process message` span of a whole batch (chapter 07, task 1). It has no
// parent: it is the root of a new trace. It links to every record's creation context, and
// each link carries what is true of its record only: messaging.message.id,
// messaging.destination.partition.id and messaging.kafka.offset (task 2). The span carries
// the consumer's attributes and messaging.batch.message_count. Return the context that holds
// it.
/// Starts the `process message` CONSUMER span of a whole batch of records, and returns the
/// context that holds it.
pub fn start_batch_process(
    tracer: &SdkTracer,
    group: &str,
    batch: &[(Message, &BorrowedMessage<'_>)],
) -> Context {
    let _ = (tracer, group, batch);
    todo!("TODO(07): start the batch span, with one link per record")
}

// END TODO(07)
// TODO(07): optional: split these attributes into what holds for the consumer and what holds
// for one record, so that the batch span (the consumer's) and each link (the record's) can
// use them. Chapter 07, task 2.
// ANCHOR: process_attributes
/// The `messaging.*` attributes of a `process message` span: what was consumed, by whom, and
/// where it sits in Kafka, so that the span can be matched with the send span of its record.
fn process_attributes(
    group: &str,
    record: &BorrowedMessage<'_>,
    message: &Message,
) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new(MESSAGING_SYSTEM, "kafka"),
        KeyValue::new(MESSAGING_DESTINATION_NAME, TOPIC),
        KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
        KeyValue::new(MESSAGING_OPERATION_TYPE, "process"),
        KeyValue::new(MESSAGING_CONSUMER_GROUP_NAME, group.to_owned()),
        // The conventions make the partition a string (other systems name theirs), and the
        // offset an integer.
        KeyValue::new(
            MESSAGING_DESTINATION_PARTITION_ID,
            record.partition().to_string(),
        ),
        KeyValue::new(MESSAGING_KAFKA_OFFSET, record.offset()),
        KeyValue::new(MESSAGING_MESSAGE_ID, message.id.clone()),
    ];
    // The key is the room (it keeps each room's messages in order on one partition). A key
    // that is not UTF-8 has no canonical string form, and the Kafka conventions say to leave
    // it out then, rather than record a different string.
    if let Some(Ok(key)) = record.key().map(std::str::from_utf8) {
        attributes.push(KeyValue::new(MESSAGING_KAFKA_MESSAGE_KEY, key.to_owned()));
    }
    attributes
}
// ANCHOR_END: process_attributes
// END TODO(07)
