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

// TODO(10): the baggage's imports: the composite propagator is here already. Chapter 10,
// task 3.
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
// END TODO(10)
use opentelemetry::trace::{
    Link, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
// TODO(10): and the baggage propagator. Chapter 10, task 3.
use opentelemetry_sdk::propagation::TraceContextPropagator;
// END TODO(10)
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

// TODO(10): the app's allow-list of baggage entries. Chapter 10, task 3.
use crate::BAGGAGE_ATTRIBUTES;
// END TODO(10)
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
        // The scope says who made a span: this module, at this version, speaking the
        // semantic conventions of this schema. The provider's resource still says which
        // service.
        let scope = InstrumentationScope::builder(SCOPE_NAME)
            .with_version(SCOPE_VERSION)
            .with_schema_url(SCHEMA_URL)
            .build();
        KafkaTracing {
            tracer: provider.tracer_with_scope(scope),
        }
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
        let mut attributes = vec![
            KeyValue::new(MESSAGING_SYSTEM, "kafka"),
            KeyValue::new(MESSAGING_DESTINATION_NAME, record.topic.to_owned()),
            KeyValue::new(MESSAGING_OPERATION_NAME, "send"),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "send"),
        ];
        if let Some(id) = message_id {
            attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, id.to_owned()));
        }
        // The parent is whatever is current: the `tracing` span the caller is in (the layer
        // makes its context current), or a context the caller attached.
        let span = self
            .tracer
            .span_builder(format!("send {}", record.topic))
            .with_kind(SpanKind::Producer)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &Context::current());
        let cx = Context::current().with_span(span);

        // ANCHOR: inject
        // The send span exists now: its context is what the consumers must find.
        record.headers = Some(with_context(&cx, record.headers.take()));
        // ANCHOR_END: inject
        let delivered = self.producer.send(record, queue_timeout).await;

        let span = cx.span();
        match &delivered {
            Ok(delivery) => {
                // The conventions make the partition a string, the offset an integer.
                span.set_attribute(KeyValue::new(
                    MESSAGING_DESTINATION_PARTITION_ID,
                    delivery.partition.to_string(),
                ));
                span.set_attribute(KeyValue::new(MESSAGING_KAFKA_OFFSET, delivery.offset));
            }
            Err((error, _)) => {
                span.set_attribute(KeyValue::new(ERROR_TYPE, error_type(error)));
                span.set_status(Status::error(error.to_string()));
            }
        }
        span.end();
        delivered
    }
    // ANCHOR_END: send
}

// ANCHOR: with_context
/// The caller's `headers` with the context of `cx` in them: every header of the caller is
// TODO(10): the record's headers are written by the composite propagator (below), so they
// carry the baggage too: given. Chapter 10, task 3.
/// kept, but for the propagator's own fields (`traceparent`, `tracestate`, `baggage`), which
/// are replaced.
/// Adding ours beside a stale one would give the record two, and a consumer would read the
/// first.
fn with_context(cx: &Context, headers: Option<OwnedHeaders>) -> OwnedHeaders {
    let propagator = propagator();
    // END TODO(10)
    let ours: Vec<&str> = propagator.fields().collect();
    let mut kept = OwnedHeaders::new();
    for header in headers.iter().flat_map(|headers| headers.iter()) {
        if !ours.contains(&header.key) {
            kept = kept.insert(Header {
                key: header.key,
                value: header.value,
            });
        }
    }
    propagator.inject_context(cx, &mut RecordHeaderInjector(&mut kept));
    kept
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
        let creation = creation_context(record);
        let sent = creation.span().span_context().clone();
        let mut attributes = self.common_attributes(record.topic());
        attributes.extend(record_attributes(record, message_id));
        // TODO(10): the record's allowed baggage, as attributes: given. Chapter 10, task 3.
        attributes.extend(allowed_baggage(&creation));
        // END TODO(10)
        // A record without a valid `traceparent` gets no link.
        let links = if sent.is_valid() {
            vec![Link::with_context(sent)]
        } else {
            Vec::new()
        };
        let parent = match self.consumer_trace {
            // TODO(10): the creation context is kept for its baggage: given. Chapter 10, task 3.
            ConsumerTrace::Same => creation.clone(),
            // END TODO(10)
            ConsumerTrace::New => Context::new(),
        };
        // TODO(10): note where the links go. Chapter 10, task 2.
        // The links go to the builder, not to the span once started: the sampler decides when
        // the span starts, and sees only what the builder holds.
        // END TODO(10)
        let span = self
            .tracer
            .span_builder(format!("process {}", record.topic()))
            .with_kind(SpanKind::Consumer)
            .with_attributes(attributes)
            .with_links(links)
            .start_with_context(&self.tracer, &parent);
        // TODO(10): the context returned keeps the record's baggage: given. Chapter 10, task 3.
        // The record's baggage goes on with the work, so that a send made while processing
        // carries it on; the process span takes the place of the send span.
        creation.with_span(span)
        // END TODO(10)
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
        let mut topic = String::new();
        let mut count = 0;
        let mut links = Vec::new();
        for (record, message_id) in records {
            count += 1;
            record.topic().clone_into(&mut topic);
            // TODO(10): each record's allowed baggage goes on its link: given. Chapter 10, task 3.
            let creation = creation_context(record);
            let sent = creation.span().span_context().clone();
            if sent.is_valid() {
                // Each record's own baggage, where it belongs: on its link. The records of a
                // batch need not share any.
                let mut attributes = record_attributes(record, message_id);
                attributes.extend(allowed_baggage(&creation));
                links.push(Link::new(sent, attributes, 0));
            }
            // END TODO(10)
        }
        let mut attributes = self.common_attributes(&topic);
        attributes.push(KeyValue::new(MESSAGING_BATCH_MESSAGE_COUNT, count));
        let span = self
            .tracer
            .span_builder(format!("process {topic}"))
            .with_kind(SpanKind::Consumer)
            .with_attributes(attributes)
            .with_links(links)
            .start_with_context(&self.tracer, &Context::new());
        Context::new().with_span(span)
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

// TODO(10): creation_context reads the baggage too, and drops a bad baggage header whole,
// with one log line: given, but for the two functions to write. Chapter 10, task 3.
/// The trace context a record carries in its headers: the context of the span that sent it,
/// and its baggage.
///
/// A record with no headers, or with a `traceparent` that is missing, not UTF-8 or malformed,
/// gives a context without a span. A `baggage` header that is oversized or malformed is
/// dropped whole, with one log line, and the record keeps its trace context. Extracted onto an
/// empty context, not the current one.
pub fn creation_context(record: &BorrowedMessage<'_>) -> Context {
    let Some(headers) = record.headers() else {
        return Context::new();
    };
    let extractor = RecordHeaderExtractor(headers);
    match baggage_problem(&extractor) {
        None => propagator().extract_with_context(&Context::new(), &extractor),
        Some(problem) => {
            tracing::warn!(
                "record at partition {} offset {}: its baggage is dropped: {problem}",
                record.partition(),
                record.offset()
            );
            TraceContextPropagator::new().extract_with_context(&Context::new(), &extractor)
        }
    }
}

// Task 3, to write: what travels in a record's headers: the trace context and the W3C baggage,
// each by its own propagator, in one composite. So far it holds the trace context's alone, so
// the baggage stays behind. Chapter 10, task 3.
fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![Box::new(TraceContextPropagator::new())])
}

// Task 3, to write: the baggage entries of `cx` that are on the app's allow-list, as attributes
// (the entry's key, its value as text). Never the others. So far: none. Chapter 10, task 3.
fn allowed_baggage(cx: &Context) -> Vec<KeyValue> {
    let _ = (cx, BAGGAGE_ATTRIBUTES);
    Vec::new()
}

/// The most entries and bytes of `baggage` that a consumer takes: the W3C minimum that every
/// platform must accept (64 entries, 8192 bytes in all). A record whose baggage goes beyond
/// them is not refused: its baggage is dropped.
const MAX_BAGGAGE_ENTRIES: usize = 64;
const MAX_BAGGAGE_BYTES: usize = 8192;

/// What is wrong with the record's `baggage` header, if anything.
///
/// The SDK's propagator drops a header over 8192 bytes, and an entry it cannot parse, but it
/// says so only on OpenTelemetry's own log (off in most apps), keeps the entries that parse,
/// and cuts a long list at 64 entries without a word. Half of a malformed header is worse than
/// none: so a header with anything wrong is dropped whole, and the service says why.
fn baggage_problem(extractor: &RecordHeaderExtractor<'_>) -> Option<String> {
    use opentelemetry::propagation::Extractor as _;
    let header = extractor.get("baggage")?;
    if header.len() > MAX_BAGGAGE_BYTES {
        return Some(format!(
            "{} bytes, over the {MAX_BAGGAGE_BYTES} that W3C baggage asks for",
            header.len()
        ));
    }
    let entries: Vec<&str> = header.split(',').collect();
    if entries.len() > MAX_BAGGAGE_ENTRIES {
        return Some(format!(
            "{} entries, over the {MAX_BAGGAGE_ENTRIES} that W3C baggage asks for",
            entries.len()
        ));
    }
    for entry in entries {
        // `key=value`, then properties after `;`, which no one here reads.
        let pair = entry.split(';').next().unwrap_or_default();
        let well_formed = pair.split_once('=').is_some_and(|(key, value)| {
            let (key, value) = (key.trim(), value.trim());
            !key.is_empty() && key.chars().all(is_token_char) && value.chars().all(is_value_char)
        });
        if !well_formed {
            return Some(format!("the entry {:?} is not key=value", entry.trim()));
        }
    }
    None
}

/// A character of a baggage key: an HTTP token's (RFC 7230).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A character of a baggage value: printable ASCII but for space, `"`, `,`, `;` and `\`
/// (anything else is percent-encoded).
fn is_value_char(c: char) -> bool {
    c.is_ascii_graphic() && !"\",;\\".contains(c)
}
// END TODO(10)

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
