//! Step 07's contract, which steps 07 and 08 check: storage-service stores in batches, and each
//! batch is one `process message` span with no parent and one link per record: fan-in. Each
//! function is one test.

use std::collections::HashSet;

use crate::contract::hint;
use crate::messaging::{MESSAGE_ID, link_attribute, link_position, send_at};
use crate::servers::RedisServer;
use crate::{SpanRef, Spans, TestApp};
use opentelemetry::trace::{SpanId, SpanKind};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use talk::message::NewMessage;
use talk::{Config, Message, Services};

const BATCH_RAW: &str = "storage-service takes records in batches: in storage.rs, run it with \
    service.consume_batches(storage) and implement talk::BatchHandler (handle_batch) instead \
    of talk::Handler, with one \"process message\" span per batch (messaging::start_batch_process).";
const BATCH_TRACING: &str = "storage-service takes records in batches (step 07): in storage.rs, run it with service.consume_batches(storage), and give each batch one process span (messaging::batch_span) that handle_batch runs its work in with .instrument(span).";
const NO_PARENT_RAW: &str = "The batch span has a parent, but a batch has many causes: in \
    messaging::start_batch_process, start it from Context::new(), and give it one link per \
    record instead.";
const NO_PARENT_TRACING: &str = "The batch span has a parent, but a batch has many causes: in messaging::batch_span, create it with info_span!(parent: None, ..), and give it one link per record instead.";
const LINKS_RAW: &str = "One link per record, to the context extracted from that record's headers \
    (extract_parent), built with Link::new(span_context, attributes, 0), all passed to the span \
    builder's with_links.";
const LINKS_TRACING: &str = "One link per record, to the context extracted from that record's headers: in messaging::batch_span, span.add_link_with_attributes(span_context, attributes) for each.";
const LINK_ATTRIBUTES_RAW: &str = "What is true of one record goes on its link, not on the batch \
    span: in messaging::start_batch_process, Link::new(span_context, attributes, 0) with \
    messaging.message.id, messaging.destination.partition.id (a string) and \
    messaging.kafka.offset (an int).";
const LINK_ATTRIBUTES_TRACING: &str = "What is true of one record goes on its link: in messaging::batch_span, span.add_link_with_attributes(span_context, attributes) with messaging.message.id, messaging.destination.partition.id (a string) and messaging.kafka.offset (an int).";
const COUNT_RAW: &str = "The batch span carries messaging.batch.message_count \
    (MESSAGING_BATCH_MESSAGE_COUNT), the number of messages in the batch, as an integer.";
const COUNT_TRACING: &str = "The batch span carries messaging.batch.message_count as an integer: { MESSAGING_BATCH_MESSAGE_COUNT } = batch.len() as i64 among info_span!'s fields.";

/// The app, with batches that wait long enough for a burst of posts to fill them.
async fn app<S: Services>(step: S, redis_url: Option<String>) -> TestApp {
    let config = Config {
        batch_size: 20,
        batch_wait_ms: 200,
        redis_url,
        ..Config::embedded()
    };
    TestApp::start_with(step.clone(), config).await
}

/// Posts `n` messages as fast as chat-api takes them, in a few rooms (so on several
/// partitions), and waits until every one is stored.
async fn burst(app: &TestApp, n: usize) -> Vec<Message> {
    let rooms = ["lobby", "dev", "ops"];
    let mut posted = Vec::new();
    for i in 0..n {
        let room = rooms[i % rooms.len()];
        posted.push(app.post("ann", room, &format!("burst {i}")).await);
    }
    for room in rooms {
        let ids: HashSet<&str> = posted
            .iter()
            .filter(|m| m.room == room)
            .map(|m| m.id.as_str())
            .collect();
        let what = format!("the burst's messages in room {room}");
        app.wait_for_messages(room, &what, |stored| {
            stored
                .iter()
                .filter(|m| ids.contains(m.id.as_str()))
                .count()
                == ids.len()
        })
        .await;
    }
    posted
}

/// Waits until storage-service's batch spans account for `n` messages, and returns them all.
async fn batches(app: &TestApp, n: usize) -> Spans {
    app.wait_for_spans(
        &format!("batch spans for {n} messages"),
        hint(BATCH_RAW, BATCH_TRACING),
        |s| {
            let counted: i64 = s
                .every("storage-service", "process message")
                .iter()
                .map(|p| match p.attribute("messaging.batch.message_count") {
                    Some(opentelemetry::Value::I64(count)) => *count,
                    // No usable count: judge by the links, so that check_batch can say so.
                    _ => p.data().span.links.len().max(1) as i64,
                })
                .sum();
            counted >= n as i64 && s.count("chat-api", "send message") >= n
        },
    )
    .await
}

/// The batch contract for one span: a root CONSUMER span with the batch attributes, whose
/// count is the number of messages, and whose every link points at the send span of its
/// record, named by the link's own attributes. Returns the send spans it links to.
fn check_batch<'a>(spans: &'a Spans, batch: SpanRef<'a>) -> Vec<SpanRef<'a>> {
    batch
        .is_kind(SpanKind::Consumer, "a batch span is a CONSUMER span")
        .is_root(hint(NO_PARENT_RAW, NO_PARENT_TRACING));
    for (key, value) in [
        ("messaging.system", "kafka"),
        ("messaging.destination.name", "message"),
        ("messaging.operation.name", "process"),
        ("messaging.operation.type", "process"),
        ("messaging.consumer.group.name", "storage-service"),
    ] {
        batch.has_attribute(
            key,
            value,
            "The batch-level messaging.* attributes of step 05.",
        );
    }
    let Some(opentelemetry::Value::I64(count)) = batch.attribute("messaging.batch.message_count")
    else {
        spans.fail(
            &format!(
                "{} has no integer messaging.batch.message_count; its attributes: {}",
                batch.label(),
                batch.attribute_list()
            ),
            hint(COUNT_RAW, COUNT_TRACING),
        );
    };
    let links = &batch.data().span.links;
    if links.is_empty() {
        spans.fail(
            &format!("{} has no links", batch.label()),
            hint(LINKS_RAW, LINKS_TRACING),
        );
    }
    let mut sends = Vec::new();
    for link in links.iter() {
        let Some(at) = link_position(link) else {
            spans.fail(
                &format!(
                    "a link of {} does not say where its record sits: its attributes are {:?}",
                    batch.label(),
                    link.attributes
                ),
                hint(LINK_ATTRIBUTES_RAW, LINK_ATTRIBUTES_TRACING),
            );
        };
        let Some(send) = send_at(spans, &at) else {
            spans.fail(
                &format!(
                    "a link says its record is at {at}, but no send span delivered a record there"
                ),
                hint(LINK_ATTRIBUTES_RAW, LINK_ATTRIBUTES_TRACING),
            );
        };
        if link.span_context.span_id() != send.span_id() {
            spans.fail(
                &format!(
                    "the link for the record at {at} points at span {}, not at {} that sent it",
                    link.span_context.span_id(),
                    send.label()
                ),
                hint(LINKS_RAW, LINKS_TRACING),
            );
        }
        if link_attribute(link, MESSAGE_ID)
            != send.attribute(MESSAGE_ID).map(|v| v.as_str().into_owned())
        {
            spans.fail(
                &format!(
                    "the link for the record at {at} has the wrong or no messaging.message.id"
                ),
                hint(LINK_ATTRIBUTES_RAW, LINK_ATTRIBUTES_TRACING),
            );
        }
        sends.push(send);
    }
    if *count < links.len() as i64 {
        spans.fail(
            &format!(
                "{} says it processed {count} messages but has {} links",
                batch.label(),
                links.len()
            ),
            hint(COUNT_RAW, COUNT_TRACING),
        );
    }
    sends
}

/// A burst of posts is stored in batches: each a root span with one link per record, to
/// distinct send spans, and a count equal to its records. Every record is processed once.
pub async fn a_burst_is_stored_in_batches_linked_to_each_send<S: Services>(step: S) {
    let app = app(step.clone(), None).await;
    let n = 12;
    let posted = burst(&app, n).await;
    let spans = batches(&app, n).await;

    let every = spans.every("storage-service", "process message");
    // Batching first: some span must stand for several records, by its count or its links.
    let batched = every.iter().any(|b| {
        let counted = matches!(
            b.attribute("messaging.batch.message_count"),
            Some(opentelemetry::Value::I64(count)) if *count >= 2
        );
        counted || b.data().span.links.len() >= 2
    });
    if !batched {
        spans.fail(
            &format!(
                "{n} quick posts made {} process spans in storage-service, each for one record",
                every.len()
            ),
            hint(BATCH_RAW, BATCH_TRACING),
        );
    }
    let mut linked: Vec<SpanId> = Vec::new();
    for batch in every.iter().copied() {
        for send in check_batch(&spans, batch) {
            linked.push(send.span_id());
        }
    }
    let distinct: HashSet<SpanId> = linked.iter().copied().collect();
    if distinct.len() != linked.len() {
        spans.fail(
            "a send span is linked from more than one batch: a record was processed twice",
            "Each record of a batch gets one link, and a batch is stored once (talk's \
             run_batches stores the offsets after handle_batch succeeds).",
        );
    }
    let sent: HashSet<SpanId> = spans
        .every("chat-api", "send message")
        .iter()
        .map(SpanRef::span_id)
        .collect();
    if distinct != sent {
        spans.fail(
            &format!(
                "the batches link to {} of chat-api's {} send spans",
                distinct.intersection(&sent).count(),
                sent.len()
            ),
            hint(LINKS_RAW, LINKS_TRACING),
        );
    }
    for message in &posted {
        let stored = app.messages(&message.room).await;
        let copies = stored.iter().filter(|m| m.id == message.id).count();
        assert_eq!(copies, 1, "message {} is stored once", message.id);
    }

    // giphy-service stays one record at a time (step 05's contract).
    for process in spans.every("giphy-service", "process message") {
        if process.data().span.links.len() != 1 {
            spans.fail(
                "a giphy-service process span has more or fewer than one link",
                "Only storage-service takes batches: giphy-service keeps its Handler and \
                 start_process from step 05.",
            );
        }
    }
    app.stop().await;
}

/// A record that is not a chat message, and one with garbage headers, inside a batch: the
/// rest is stored, and the record without a creation context is stored but not linked.
pub async fn garbage_inside_a_batch_does_not_stop_the_rest<S: Services>(step: S) {
    let app = app(step.clone(), None).await;
    let producer = app.kafka().producer("test").unwrap();
    let message = |text: &str| {
        Message::accept(NewMessage {
            author: "test".into(),
            room: "mixed".into(),
            message: text.into(),
        })
    };
    // One room, one key, one partition: all in one batch, in this order.
    talk::kafka::publish(&producer, &message("before"), OwnedHeaders::new())
        .await
        .unwrap();
    let garbage = FutureRecord::to(talk::kafka::TOPIC)
        .key("mixed")
        .payload("not a chat message");
    producer.send(garbage, Timeout::Never).await.unwrap();
    let bad_headers = OwnedHeaders::new().insert(Header {
        key: "traceparent",
        value: Some("garbage"),
    });
    talk::kafka::publish(&producer, &message("bad headers"), bad_headers)
        .await
        .unwrap();
    talk::kafka::publish(&producer, &message("after"), OwnedHeaders::new())
        .await
        .unwrap();

    app.wait_for_messages(
        "mixed",
        "the three chat messages around the garbage record",
        |stored| stored.len() == 3,
    )
    .await;
    let spans = app
        .wait_for_spans("the batch span", hint(BATCH_RAW, BATCH_TRACING), |s| {
            s.has("storage-service", "process message")
        })
        .await;
    for batch in spans.every("storage-service", "process message") {
        batch.is_root(hint(NO_PARENT_RAW, NO_PARENT_TRACING));
        // None of these records had a valid traceparent: no links at all.
        batch.has_no_links(
            "A record without a valid traceparent has no creation context: it gets no link, \
             and is stored all the same. In messaging::start_batch_process, pass the links to \
             the builder's with_links, which drops invalid contexts, or check \
             span_context().is_valid() before span.add_link.",
        );
    }
    app.stop().await;
}

/// With Redis, a batch is one pipeline: a single CLIENT span under `store message`, with the
/// database conventions' batch size, instead of a SET and a ZADD per message.
pub async fn with_redis_a_batch_is_one_pipeline<S: Services>(step: S) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let app = app(step.clone(), Some(server.url.clone())).await;
    let n = 6;
    burst(&app, n).await;
    let spans = batches(&app, n).await;
    if spans.has("storage-service", "SET") || spans.has("storage-service", "ZADD") {
        spans.fail(
            "storage-service still sends SET and ZADD one message at a time",
            "Store the whole batch in one call: store.save_batch_with_spans(&messages, \
             &self.tracer, &cx) under one \"store message\" span.",
        );
    }
    for store in spans.every("storage-service", "store message") {
        let pipelines: Vec<SpanRef<'_>> = spans
            .every("storage-service", "PIPELINE")
            .into_iter()
            .filter(|p| p.data().span.parent_span_id == store.span_id())
            .collect();
        let [pipeline] = pipelines.as_slice() else {
            spans.fail(
                &format!(
                    "a \"store message\" span has {} PIPELINE spans under it; it should have one",
                    pipelines.len()
                ),
                "One store call per batch: store.save_batch_with_spans under the store span.",
            );
        };
        pipeline
            .is_kind(SpanKind::Client, "a call to Redis is a CLIENT span")
            .has_attribute_key("db.operation.batch.size", "the batch size of the pipeline");
    }
    app.stop().await;
    drop(server);
}
