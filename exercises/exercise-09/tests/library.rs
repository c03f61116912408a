//! Step 09's check: the Kafka instrumentation is a library of its own (`kafka_tracing`).
//!
//! The first tests drive the library directly, with a provider of their own: its scope, its
//! producer (the caller's headers, one `traceparent`, the send span's), its consumer side
//! (links, the parent in `same` mode only, a batch without a parent). Then a look at the
//! services' source, and the contracts of steps 05, 06 and 07, in both `--consumer-trace` modes,
//! on the whole app, unchanged.

use std::path::Path;
use std::time::Duration;

use check::contract::{batches, follows_from, library, transform};
use check::{Hint, Spans, TestApp};
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use talk::kafka::TOPIC;
use talk::message::NewMessage;
use talk::{ConsumerTrace, Message};

// The step under test: this crate's own library.
use exercise_09::{Step, kafka_tracing};

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
    let app = TestApp::start(Step).await;
    let (provider, log) = library::provider();
    let kafka = kafka_tracing::KafkaTracing::new(&provider);
    let producer = kafka.producer(app.kafka().producer(library::SERVICE).unwrap());

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
    let headers =
        library::with_records(app.kafka(), &[at], |records| library::headers(&records[0]));
    library::headers_keep_the_callers_and_carry_the_send_span(
        &send,
        &headers,
        "x-chat-client",
        "workbook",
    );
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
    app.stop().await;
}

/// The consumer side, single and batch, with an unrelated context current, as it may be where
/// records are polled: a link to each record's send span always, that span as the parent in
/// `same` mode only, and a batch span that is a root whatever the mode.
#[tokio::test(flavor = "multi_thread")]
async fn the_consumer_links_always_and_parents_only_in_same_mode() {
    let app = TestApp::start(Step).await;
    let (provider, log) = library::provider();
    let kafka = kafka_tracing::KafkaTracing::new(&provider);
    let producer = kafka.producer(app.kafka().producer(library::SERVICE).unwrap());
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
    let [same, new, batch] = library::with_records(app.kafka(), &positions, |records| {
        let _current = unrelated.clone().attach();
        let in_mode = |mode| kafka.consumer(library::SERVICE, mode);
        let ids = messages.iter().map(|m| Some(m.id.as_str()));
        let same = in_mode(ConsumerTrace::Same).process(&records[0], Some(&messages[0].id));
        let new = in_mode(ConsumerTrace::New).process(&records[0], Some(&messages[0].id));
        let batch = in_mode(ConsumerTrace::Same).process_batch(records.iter().zip(ids));
        [&same, &new, &batch].map(|cx| {
            cx.span().end();
            cx.span().span_context().span_id()
        })
    });
    unrelated.span().end();

    let spans = Spans::new(log.spans());
    let sends = spans.every(library::SERVICE, "send message");
    // The first message's send span: its record is the one processed alone.
    let first = sends
        .iter()
        .copied()
        .find(|send| {
            send.attribute("messaging.message.id")
                .is_some_and(|id| id.as_str() == messages[0].id.as_str())
        })
        .unwrap_or_else(|| spans.one(library::SERVICE, "send message", SEND));
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
    app.stop().await;
}

/// In the running app, every Kafka span comes from the library, under its scope.
#[tokio::test(flavor = "multi_thread")]
async fn the_services_kafka_spans_carry_the_library_scope() {
    let app = TestApp::start(Step).await;
    app.post("ann", "lobby", "hello").await;
    let spans = app
        .wait_for_spans(
            "the Kafka spans of \"hello\"",
            "Each service's send and process spans come from the library, made with a \
             KafkaTracing of that service's own provider.",
            |s| {
                s.has("chat-api", "send message")
                    && s.has("storage-service", "process message")
                    && s.has("giphy-service", "process message")
            },
        )
        .await;
    for (service, name) in [
        ("chat-api", "send message"),
        ("storage-service", "process message"),
        ("giphy-service", "process message"),
    ] {
        let span = spans.one(service, name, "from step 03");
        library::has_the_library_scope(
            &span,
            kafka_tracing::SCOPE_NAME,
            kafka_tracing::SCOPE_VERSION,
        );
    }
    app.stop().await;
}

/// The services keep only their own spans: no header carrier, no messaging span of their own.
#[test]
fn the_services_leave_kafka_to_the_library() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    library::services_leave_kafka_to_the_library(&src, "kafka_tracing.rs");
}

// Steps 05, 06 and 07's contracts, unchanged, in both --consumer-trace modes. Step 05's is
// checked on giphy-service, which takes one record at a time; storage-service takes batches,
// and step 07's contract checks it.

#[tokio::test(flavor = "multi_thread")]
async fn step_05_same_mode_links_and_parents_in_one_trace() {
    follows_from::same_mode_links_and_parents_in_one_trace_in(Step, follows_from::GIPHY_SERVICE)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_05_new_mode_starts_a_linked_trace_per_consumer() {
    follows_from::new_mode_starts_a_linked_trace_per_consumer_in(Step, follows_from::GIPHY_SERVICE)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_05_bad_headers_give_no_link_and_are_still_stored() {
    follows_from::bad_headers_give_no_link_and_are_still_stored_in(
        Step,
        follows_from::GIPHY_SERVICE,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_giphy_request_carries_the_get_span() {
    transform::the_giphy_request_carries_the_get_span(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_stand_in_continues_the_trace_as_giphy_api() {
    transform::the_stand_in_continues_the_trace_as_giphy_api(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_chain_leads_back_to_the_post_in_both_modes() {
    transform::the_chain_leads_back_to_the_post_in_both_modes(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_a_failing_giphy_gives_an_error_span_and_the_fallback_image() {
    transform::a_failing_giphy_gives_an_error_span_and_the_fallback_image(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_a_failed_republish_is_retried_without_searching_again() {
    transform::a_failed_republish_is_retried_without_searching_again(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_a_burst_is_stored_in_batches_linked_to_each_send() {
    batches::a_burst_is_stored_in_batches_linked_to_each_send(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_garbage_inside_a_batch_does_not_stop_the_rest() {
    batches::garbage_inside_a_batch_does_not_stop_the_rest(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_with_redis_a_batch_is_one_pipeline() {
    batches::with_redis_a_batch_is_one_pipeline(Step).await;
}
