//! OpenTelemetry instrumentation for rdkafka, written once: what the book's Java services got
//! from `opentracing-kafka-spring`.
//!
//! - [`TracedProducer`] wraps a `FutureProducer`: each `send` is a `send {topic}` PRODUCER span,
//!   a child of the current context, whose context travels in the record's headers;
//! - [`TracedConsumer`] starts the `process {topic}` CONSUMER span of a record, or of a batch,
//!   linked to each record's creation context (steps 05 to 07).
//!
//! Every span here comes from this module's own tracer, under its own instrumentation scope
//! ([`SCOPE_NAME`], [`SCOPE_VERSION`]), so a backend can tell the library's spans from the
//! app's. That is why it speaks OpenTelemetry's API rather than `tracing`: the
//! tracing-opentelemetry layer holds one tracer, so every `tracing` span would carry the app's
//! scope. The two still fit together: the layer makes each entered `tracing` span's context
//! current (context activation), so `Context::current()` is the parent a send needs, and a
//! `tracing` span started while a process span's context is current becomes its child.
//!
//! It knows nothing of chat messages. It needs the step 04 carrier ([`crate::carrier`]) and
//! the consumer-trace mode (`talk::ConsumerTrace`); with those two, it moves to another app.

// TODO(09): given. Until tasks 1 to 3 use them, some imports and helpers are unused.
#![allow(unused)]
// END TODO(09)
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Link, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_semantic_conventions::SCHEMA_URL;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME, MESSAGING_DESTINATION_PARTITION_ID, MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET, MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};
use rdkafka::Message as _;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers as _, OwnedHeaders, ToBytes};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use talk::ConsumerTrace;

use crate::carrier::{RecordHeaderExtractor, RecordHeaderInjector};

/// The instrumentation scope's name: this module's path, the way OpenTelemetry asks a library
/// to name its tracer. Jaeger shows it on every span as `otel.scope.name`.
pub const SCOPE_NAME: &str = module_path!();

/// The scope's version, this crate's: `otel.scope.version` in Jaeger.
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The messaging instrumentation of one service: a tracer of the service's provider (so its
/// spans carry the service's `service.name`), under this module's own scope.
#[derive(Clone, Debug)]
pub struct KafkaTracing {
    tracer: SdkTracer,
}

impl KafkaTracing {
    // ANCHOR: new
    /// The instrumentation for the service whose provider is `provider`.
    pub fn new(provider: &SdkTracerProvider) -> KafkaTracing {
        // TODO(09): a tracer of `provider` with this module's own instrumentation scope: its
        // name, its version and the semantic conventions' schema URL. Chapter 09, task 1.
        todo!("TODO(09): the library's tracer, with its own scope")
        // END TODO(09)
    }
    // ANCHOR_END: new

    /// `producer`, with every send traced.
    pub fn producer(&self, producer: FutureProducer) -> TracedProducer {
        TracedProducer {
            producer,
            tracer: self.tracer.clone(),
        }
    }

    /// The process spans of a consumer in `group`, continuing the producer's trace or not
    /// (`--consumer-trace`).
    pub fn consumer(&self, group: &str, consumer_trace: ConsumerTrace) -> TracedConsumer {
        TracedConsumer {
            tracer: self.tracer.clone(),
            group: group.to_owned(),
            consumer_trace,
        }
    }
}

/// A `FutureProducer` whose sends are traced.
#[derive(Clone)]
pub struct TracedProducer {
    producer: FutureProducer,
    tracer: SdkTracer,
}

impl TracedProducer {
    // ANCHOR: send
    /// Sends `record` like `FutureProducer::send`, inside a `send {topic}` PRODUCER span, a
    /// child of the current context. `message_id`, if the app has one, goes on the span as
    /// `messaging.message.id`: Kafka itself has no message ids.
    ///
    /// The record keeps every header the caller gave it. The span's context goes into its
    /// `traceparent` (and `tracestate`), replacing any the caller left there: a record carries
    /// one creation context, its own.
    pub async fn send<K, P>(
        &self,
        mut record: FutureRecord<'_, K, P>,
        queue_timeout: impl Into<Timeout>,
        message_id: Option<&str>,
    ) -> OwnedDeliveryResult
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        // TODO(09): start the `send {topic}` PRODUCER span, a child of the current context,
        // with the messaging.* attributes of a send; put its context in the record's headers
        // (with_context, below); send; record where the record landed, or the error; end the
        // span. Chapter 09, task 2.
        todo!("TODO(09): the traced send")
        // END TODO(09)
    }
    // ANCHOR_END: send
}

// ANCHOR: with_context
/// The caller's `headers` with the context of `cx` in them: every header of the caller is
/// kept, but for the propagator's own fields (`traceparent`, `tracestate`), which are replaced.
/// Adding ours beside a stale one would give the record two, and a consumer would read the
/// first.
fn with_context(cx: &Context, headers: Option<OwnedHeaders>) -> OwnedHeaders {
    // TODO(09): keep every header of the caller but the propagator's own fields, then inject
    // the context of `cx` with the step 04 carrier. Chapter 09, task 2.
    todo!("TODO(09): the record's headers, with the send span's context")
    // END TODO(09)
}
// ANCHOR_END: with_context

/// The process spans of one consumer group.
#[derive(Clone, Debug)]
pub struct TracedConsumer {
    tracer: SdkTracer,
    group: String,
    consumer_trace: ConsumerTrace,
}

impl TracedConsumer {
    // ANCHOR: process
    /// The `process {topic}` CONSUMER span of `record`, started, in a context to run the work
    /// in (`FutureExt::with_context`). End it with `cx.span().end()` when the work is done.
    ///
    /// It links to the record's creation context, and with `ConsumerTrace::Same` that context
    /// is its parent too. It never takes a parent from the current context: whatever is
    /// current where records are polled has nothing to do with this record.
    pub fn process(&self, record: &BorrowedMessage<'_>, message_id: Option<&str>) -> Context {
        // TODO(09): the record's process span, as in step 05: the messaging.* attributes
        // (common_attributes and record_attributes), a link to the creation context when it is
        // valid, and that context as the parent in same mode only. Return a context that holds
        // it. Chapter 09, task 3.
        todo!("TODO(09): the process span of one record")
        // END TODO(09)
    }
    // ANCHOR_END: process

    // ANCHOR: process_batch
    /// The `process {topic}` CONSUMER span of a batch of records, each with its app's message
    /// id: no parent, whatever the mode (a batch has many causes, none of them its parent), and
    /// one link per record, with what is true of that record on the link.
    pub fn process_batch<'a>(
        &self,
        records: impl IntoIterator<Item = (&'a BorrowedMessage<'a>, Option<&'a str>)>,
    ) -> Context {
        // TODO(09): the batch's process span, as in step 07: one link per record, with that
        // record's attributes, messaging.batch.message_count, and no parent. Return a context
        // that holds it. Chapter 09, task 3.
        todo!("TODO(09): the process span of a batch")
        // END TODO(09)
    }
    // ANCHOR_END: process_batch

    /// What every process span of this consumer says.
    fn common_attributes(&self, topic: &str) -> Vec<KeyValue> {
        vec![
            KeyValue::new(MESSAGING_SYSTEM, "kafka"),
            KeyValue::new(MESSAGING_DESTINATION_NAME, topic.to_owned()),
            KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "process"),
            KeyValue::new(MESSAGING_CONSUMER_GROUP_NAME, self.group.clone()),
        ]
    }
}

/// The trace context a record carries in its headers: the context of the span that sent it.
///
/// A record with no headers, or with a `traceparent` that is missing, not UTF-8 or malformed,
/// gives an empty context. Extracted onto an empty context, not the current one.
pub fn creation_context(record: &BorrowedMessage<'_>) -> Context {
    match record.headers() {
        Some(headers) => TraceContextPropagator::new()
            .extract_with_context(&Context::new(), &RecordHeaderExtractor(headers)),
        None => Context::new(),
    }
}

/// What is true of one record: where it sits in Kafka, its key, and the app's message id.
fn record_attributes(record: &BorrowedMessage<'_>, message_id: Option<&str>) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new(
            MESSAGING_DESTINATION_PARTITION_ID,
            record.partition().to_string(),
        ),
        KeyValue::new(MESSAGING_KAFKA_OFFSET, record.offset()),
    ];
    if let Some(id) = message_id {
        attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, id.to_owned()));
    }
    // A key that is not UTF-8 has no canonical string form: the conventions leave it out.
    if let Some(Ok(key)) = record.key().map(std::str::from_utf8) {
        attributes.push(KeyValue::new(MESSAGING_KAFKA_MESSAGE_KEY, key.to_owned()));
    }
    attributes
}

/// A failed send's `error.type`: librdkafka's name for the error, else `_OTHER`.
fn error_type(error: &KafkaError) -> String {
    match error.rdkafka_error_code() {
        Some(code) => format!("{code:?}"),
        None => "_OTHER".to_owned(),
    }
}
