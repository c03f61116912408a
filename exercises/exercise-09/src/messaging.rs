// TODO(09): step 08's messaging spans, made by hand with `tracing`. Step 09 moves them into
// the library, kafka_tracing.rs (tasks 1 to 3): read this file for what they do, and delete
// it once no service uses it. Chapter 09, task 4.
// END TODO(09)
//! Sending a chat message to Kafka inside a `send message` PRODUCER span.
//!
//! The span follows OpenTelemetry's messaging semantic conventions (v1.30 and later): it is
//! named `{operation} {destination}`, so `send message` for the topic `message`, and it carries
//! the `messaging.*` attributes, among them where the record landed.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME, MESSAGING_DESTINATION_PARTITION_ID, MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET, MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};
use rdkafka::Message as _;
use rdkafka::message::{BorrowedMessage, OwnedHeaders};
use rdkafka::producer::FutureProducer;
use talk::kafka::{Delivery, TOPIC};
use talk::{ConsumerTrace, Message};
use tracing::field::Empty;
use tracing::{Instrument as _, Span, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::carrier::{RecordHeaderExtractor, RecordHeaderInjector};

// ANCHOR: send_message
/// Publishes `message` inside a `send message` span, a child of the current span.
pub async fn send_message(
    producer: &FutureProducer,
    message: &Message,
) -> anyhow::Result<Delivery> {
    // `otel.name` and `otel.kind` are fields that tracing-opentelemetry reads as the span's
    // name and kind; the other fields become its attributes. Fields that get a value later are
    // declared `Empty` now: a tracing span's fields are fixed when it is created.
    let span = info_span!(
        "send",
        otel.name = format!("send {TOPIC}"),
        otel.kind = "producer",
        { MESSAGING_SYSTEM } = "kafka",
        { MESSAGING_DESTINATION_NAME } = TOPIC,
        { MESSAGING_OPERATION_NAME } = "send",
        { MESSAGING_OPERATION_TYPE } = "send",
        { MESSAGING_MESSAGE_ID } = message.id.as_str(),
        { MESSAGING_DESTINATION_PARTITION_ID } = Empty,
        { MESSAGING_KAFKA_OFFSET } = Empty,
    );
    async {
        let span = Span::current();
        // ANCHOR: inject
        // The consumers find this span through the record's headers. `context()` is the
        // OpenTelemetry context of the tracing span: that is what the propagator writes.
        let mut headers = OwnedHeaders::new();
        TraceContextPropagator::new()
            .inject_context(&span.context(), &mut RecordHeaderInjector(&mut headers));
        // ANCHOR_END: inject
        let delivered = talk::kafka::publish(producer, message, headers).await;
        match &delivered {
            Ok(delivery) => {
                let partition = delivery.partition.to_string();
                span.record(MESSAGING_DESTINATION_PARTITION_ID, partition.as_str());
                span.record(MESSAGING_KAFKA_OFFSET, delivery.offset);
            }
            Err(error) => {
                // A failed send has `error.type`, as the conventions ask: Kafka's name for it.
                span.set_attribute(ERROR_TYPE, talk::kafka::error_type(error));
                span.set_status(Status::error(format!("{error:#}")));
            }
        }
        delivered
    }
    // The span ends when the instrumented future is done.
    .instrument(span)
    .await
}
// ANCHOR_END: send_message

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

// ANCHOR: process_span
/// The `process message` CONSUMER span of `record`, not yet entered: run the work inside it
/// with `.instrument(span)`.
///
/// As in step 05, it links to the record's creation context, and with `ConsumerTrace::Same`
/// that context is its parent too. With `tracing`, the parent is set with `set_parent`, and
/// only until the span is first entered: then the OpenTelemetry span is started, and its
/// parent is fixed.
pub fn process_span(
    group: &str,
    consumer_trace: ConsumerTrace,
    record: &BorrowedMessage<'_>,
    message: &Message,
) -> Span {
    // `parent: None`: not a child of whatever tracing span is current here. Its parent, if
    // any, is the remote one set below.
    let span = info_span!(
        parent: None,
        "process",
        otel.name = format!("process {TOPIC}"),
        otel.kind = "consumer",
        { MESSAGING_SYSTEM } = "kafka",
        { MESSAGING_DESTINATION_NAME } = TOPIC,
        { MESSAGING_OPERATION_NAME } = "process",
        { MESSAGING_OPERATION_TYPE } = "process",
        { MESSAGING_CONSUMER_GROUP_NAME } = group,
    );
    for attribute in record_attributes(record, message) {
        span.set_attribute(attribute.key, attribute.value);
    }
    let creation = extract_parent(record);
    // `add_link` ignores an invalid context: a record without a `traceparent` gets no link.
    span.add_link(creation.span().span_context().clone());
    if consumer_trace == ConsumerTrace::Same
        && let Err(error) = span.set_parent(creation)
    {
        tracing::warn!("the process span keeps no parent: {error}");
    }
    span
}
// ANCHOR_END: process_span

// ANCHOR: batch_span
/// The `process message` CONSUMER span of a whole batch: no parent, and one link per record,
/// with what is true of that record on its link (as in step 07).
pub fn batch_span(group: &str, batch: &[(Message, &BorrowedMessage<'_>)]) -> Span {
    let span = info_span!(
        parent: None,
        "process",
        otel.name = format!("process {TOPIC}"),
        otel.kind = "consumer",
        { MESSAGING_SYSTEM } = "kafka",
        { MESSAGING_DESTINATION_NAME } = TOPIC,
        { MESSAGING_OPERATION_NAME } = "process",
        { MESSAGING_OPERATION_TYPE } = "process",
        { MESSAGING_CONSUMER_GROUP_NAME } = group,
        { MESSAGING_BATCH_MESSAGE_COUNT } = batch.len() as i64,
    );
    for (message, record) in batch {
        let sent = extract_parent(record).span().span_context().clone();
        span.add_link_with_attributes(sent, record_attributes(record, message));
    }
    span
}
// ANCHOR_END: batch_span

/// What is true of one record: where it sits in Kafka, and which message it holds.
fn record_attributes(record: &BorrowedMessage<'_>, message: &Message) -> Vec<KeyValue> {
    let mut attributes = vec![
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
