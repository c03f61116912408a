//! Step 09's check, first part: the Kafka instrumentation module (`kafka_tracing`) on its own.
//!
//! These tests drive the module directly, with a provider of their own and the app's Kafka: its
//! scope, its producer (the caller's headers, one `traceparent`, the send span's), its consumer
//! side (links, the parent in `same` mode only, a batch without a parent). `tests/contracts.rs`
//! checks the app that uses it. Two test binaries, so that a `todo!()` of the module reached
//! here does not stop the contracts' apps halfway.

use std::future::Future;
use std::time::Duration;

use check::contract::library;
use check::{Hint, Spans, TestApp};
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use talk::kafka::{Kafka, TOPIC};
use talk::message::NewMessage;
use talk::{ConsumerTrace, Message};

// The step under test: this crate's own library.
use exercise_10::{Step, kafka_tracing};

const SEND: Hint = Hint::new(
    "the producer wrapper",
    "TracedProducer::send, in kafka_tracing.rs, makes a \"send message\" PRODUCER span, named \
     after the record's topic, a child of the context that is current where send is called.",
);
const PROCESS: Hint = Hint::new(
    "the consumer side",
    "TracedConsumer::process, in kafka_tracing.rs, starts a \"process message\" CONSUMER span \
     for one record: a link to the record's creation context always, that context as its \
     parent in same mode only, never a parent from the current context.",
);
const BATCH: Hint = Hint::new(
    "a batch span has no parent",
    "TracedConsumer::process_batch, in kafka_tracing.rs, starts one \"process message\" \
     CONSUMER span for a batch: a new trace, whatever is current and whatever the mode (a batch \
     has many causes, none of them its parent), with one link per record.",
);

/// A message for the library tests, in a room of its own.
fn message(text: &str) -> Message {
    Message::accept(NewMessage {
        author: "library-check".to_owned(),
        room: "library".to_owned(),
        message: text.to_owned(),
    })
}

/// The producer wrapper: a PRODUCER span, a child of the current context, under the library's
/// scope, whose context the record carries. The caller's own header is kept, and its stale
/// `traceparent` and `tracestate` are replaced, not doubled.
#[tokio::test(flavor = "multi_thread")]
async fn the_producer_keeps_the_callers_headers_and_carries_its_send_span() {
    with_the_apps_kafka(producer_keeps_the_callers_headers).await;
}

async fn producer_keeps_the_callers_headers(brokers: Kafka) {
    let (provider, log) = library::provider();
    let kafka = kafka_tracing::KafkaTracing::new(&provider);
    let producer = kafka.producer(brokers.producer(library::SERVICE).unwrap());

    // The caller's span, current while it sends: made with a tracer of the caller's own.
    let caller = provider.tracer("the caller").start("caller");
    let cx = Context::new().with_span(caller);
    let message = message("hello from the library check");
    let payload = message.to_payload();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "traceparent",
            value: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        })
        .insert(Header {
            key: "x-chat-client",
            value: Some("workbook"),
        })
        .insert(Header {
            key: "tracestate",
            value: Some("stale=1"),
        });
    let record = FutureRecord::to(TOPIC)
        .key(&message.room)
        .payload(&payload)
        .headers(headers);
    let delivery = producer
        .send(
            record,
            Timeout::After(Duration::from_secs(5)),
            Some(&message.id),
        )
        .with_context(cx.clone())
        .await
        .expect("Kafka should take the record");
    cx.span().end();

    let spans = Spans::new(log.spans());
    let caller = spans.one(library::SERVICE, "caller", "the check's own span");
    let send = spans.one(library::SERVICE, "send message", SEND);
    send.is_kind(SpanKind::Producer, SEND)
        .is_child_of(&caller, SEND);
    library::has_the_library_scope(
        &send,
        kafka_tracing::SCOPE_NAME,
        kafka_tracing::SCOPE_VERSION,
    );
    let at = (delivery.partition, delivery.offset);
    let headers = library::with_records(&brokers, &[at], |records| library::headers(&records[0]));
    library::keep_the_callers_header(&send, &headers, "x-chat-client", "workbook");
    library::carry_the_send_span(&send, &headers);
    let delivered = Hint::new(
        "where the record landed",
        "Once Kafka has the record, TracedProducer::send records where it landed on the send \
         span: the partition (a string, as the conventions say) and the offset.",
    );
    send.has_attribute(
        "messaging.destination.partition.id",
        delivery.partition.to_string(),
        &delivered,
    )
    .has_attribute("messaging.kafka.offset", delivery.offset, &delivered)
    .has_attribute("messaging.message.id", message.id.clone(), SEND);
}

/// The consumer side, single and batch, with an unrelated context current, as it may be where
/// records are polled: a link to each record's send span always, that span as the parent in
/// `same` mode only, and a batch span that is a root whatever the mode.
#[tokio::test(flavor = "multi_thread")]
async fn the_consumer_links_always_and_parents_only_in_same_mode() {
    with_the_apps_kafka(consumer_links_always_and_parents_only_in_same_mode).await;
}

async fn consumer_links_always_and_parents_only_in_same_mode(brokers: Kafka) {
    let (provider, log) = library::provider();
    let kafka = kafka_tracing::KafkaTracing::new(&provider);
    let producer = kafka.producer(brokers.producer(library::SERVICE).unwrap());
    let messages = [message("first"), message("second")];
    let mut positions = Vec::new();
    for message in &messages {
        let payload = message.to_payload();
        let record = FutureRecord::to(TOPIC).key(&message.room).payload(&payload);
        let delivery = producer
            .send(
                record,
                Timeout::After(Duration::from_secs(5)),
                Some(&message.id),
            )
            .await
            .expect("Kafka should take the record");
        positions.push((delivery.partition, delivery.offset));
    }

    // Something unrelated is current where the records are handled.
    let unrelated = Context::new().with_span(provider.tracer("elsewhere").start("unrelated"));
    let (headers, [same, new, batch]) = library::with_records(&brokers, &positions, |records| {
        let headers: Vec<_> = records.iter().map(library::headers).collect();
        let _current = unrelated.clone().attach();
        let in_mode = |mode| kafka.consumer(library::SERVICE, mode);
        let ids = messages.iter().map(|m| Some(m.id.as_str()));
        let same = in_mode(ConsumerTrace::Same).process(&records[0], Some(&messages[0].id));
        let new = in_mode(ConsumerTrace::New).process(&records[0], Some(&messages[0].id));
        let batch = in_mode(ConsumerTrace::Same).process_batch(records.iter().zip(ids));
        let ids = [&same, &new, &batch].map(|cx| {
            cx.span().end();
            cx.span().span_context().span_id()
        });
        (headers, ids)
    });
    unrelated.span().end();

    let spans = Spans::new(log.spans());
    let sends = spans.every(library::SERVICE, "send message");
    // Each message's send span, and the context its record carries: the consumer side can
    // only link to what the producer put in the headers.
    let send_of = |message: &Message| {
        sends
            .iter()
            .copied()
            .find(|send| {
                send.attribute("messaging.message.id")
                    .is_some_and(|id| id.as_str() == message.id.as_str())
            })
            .unwrap_or_else(|| spans.one(library::SERVICE, "send message", SEND))
    };
    for (message, headers) in messages.iter().zip(&headers) {
        library::carry_the_send_span(&send_of(message), headers);
    }
    // The first message's record is the one processed alone.
    let first = send_of(&messages[0]);
    let by_id = |id, hint: &Hint| {
        spans.by_id(id).unwrap_or_else(|| {
            spans.fail(
                &format!(
                    "{}'s \"process message\" never ended: is the span of the returned context \
                     the one that was started?",
                    library::SERVICE
                ),
                hint,
            )
        })
    };

    let same = by_id(same, &PROCESS);
    same.is_kind(SpanKind::Consumer, PROCESS)
        .links_to(&first, PROCESS)
        .is_child_of(&first, PROCESS)
        .has_attribute("messaging.operation.type", "process", PROCESS)
        .has_attribute("messaging.consumer.group.name", library::SERVICE, PROCESS)
        .has_attribute("messaging.message.id", messages[0].id.clone(), PROCESS);
    library::has_the_library_scope(
        &same,
        kafka_tracing::SCOPE_NAME,
        kafka_tracing::SCOPE_VERSION,
    );

    by_id(new, &PROCESS)
        .links_to(&first, PROCESS)
        .is_root(PROCESS);

    let batch = by_id(batch, &BATCH);
    batch.is_kind(SpanKind::Consumer, BATCH).is_root(BATCH);
    for send in &sends {
        batch.links_to(send, BATCH);
    }
    batch.has_attribute(
        "messaging.batch.message_count",
        messages.len() as i64,
        BATCH,
    );
    library::has_the_library_scope(
        &batch,
        kafka_tracing::SCOPE_NAME,
        kafka_tracing::SCOPE_VERSION,
    );
}

/// Runs `check` with the Kafka of a running app (whose consumers take the check's records too,
/// which is harmless), and stops the app cleanly whatever happens in `check`. The module's code
/// runs in `check`: if it reaches a `todo!()`, that is what the finding says, rather than the
/// teardown of an app dropped halfway.
async fn with_the_apps_kafka<F, C>(check: C)
where
    C: FnOnce(Kafka) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let app = TestApp::start(Step).await;
    let ran = tokio::spawn(check(app.kafka().clone())).await;
    app.stop().await;
    if let Err(error) = ran {
        check::panics::fail_if_todo_reached();
        std::panic::resume_unwind(error.into_panic());
    }
}
