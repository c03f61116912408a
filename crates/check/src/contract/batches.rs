//! Step 07's contract, which steps 07 and 08 check: storage-service stores in batches, and each
//! batch is one `process message` span with no parent and one link per record: fan-in. Each
//! function is one test.

use std::collections::HashSet;

use crate::contract::{DECOY, each_made_spans, hint, is_decoy_link};
use crate::finding::Hint;
use crate::messaging::{MESSAGE_ID, link_attribute, link_position, send_at};
use crate::servers::RedisServer;
use crate::{SpanRef, Spans, TestApp};
use opentelemetry::trace::{SpanId, SpanKind};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use talk::message::NewMessage;
use talk::{Config, Message, Services};

const BATCH_RAW: Hint = Hint::with_code(
    "batches",
    "storage-service takes records in batches: in storage.rs, run it as a batch consumer, \
     with a handler of whole batches (talk::BatchHandler) instead of one of single records \
     (talk::Handler), and one \"process message\" span per batch, started in messaging.rs, \
     start_batch_process.",
    "service.consume_batches(storage) in run, impl BatchHandler for Storage with handle_batch, \
     and messaging::start_batch_process(&self.tracer, self.group, &batch) in it",
);
const BATCH_TRACING: Hint = Hint::with_code(
    "batches",
    "storage-service takes records in batches (step 07), one process span per batch \
     (messaging.rs, batch_span), and handle_batch runs its work inside that span.",
    "self.store_messages(&messages).instrument(span.clone()).await in handle_batch",
);
const NO_PARENT_RAW: Hint = Hint::with_code(
    "fan-in",
    "The batch span has a parent, but a batch has many causes: in messaging.rs, \
     start_batch_process, start it from an empty context, as the root of a trace, and give it \
     one link per record instead.",
    "start_with_context(tracer, &Context::new())",
);
const NO_PARENT_TRACING: Hint = Hint::with_code(
    "fan-in",
    "The batch span has a parent, but a batch has many causes: in messaging.rs, batch_span, \
     make it a root whatever span is current, and give it one link per record instead.",
    "info_span!(parent: None, ..)",
);
const LINKS_RAW: Hint = Hint::with_code(
    "fan-in",
    "One link per record, to the context extracted from that record's headers \
     (extract_parent), with the record's own attributes, all given to the span builder: in \
     messaging.rs, start_batch_process.",
    "Link::new(extract_parent(record).span().span_context().clone(), attributes, 0) for each \
     record, passed to the builder's .with_links(links)",
);
const LINKS_TRACING: Hint = Hint::with_code(
    "fan-in",
    "One link per record, to the context extracted from that record's headers, with the \
     record's own attributes: in messaging.rs, batch_span.",
    "span.add_link_with_attributes(extract_parent(record).span().span_context().clone(), \
     attributes) for each record",
);
const LINK_ATTRIBUTES_RAW: Hint = Hint::with_code(
    "link attributes",
    "What is true of one record goes on its link, not on the batch span: in messaging.rs, \
     start_batch_process, each link carries messaging.message.id, \
     messaging.destination.partition.id (a string) and messaging.kafka.offset (an integer).",
    "Link::new(span_context, record_attributes(record, message), 0)",
);
const LINK_ATTRIBUTES_TRACING: Hint = Hint::with_code(
    "link attributes",
    "What is true of one record goes on its link, not on the batch span: in messaging.rs, \
     batch_span, each link carries messaging.message.id, messaging.destination.partition.id \
     (a string) and messaging.kafka.offset (an integer).",
    "span.add_link_with_attributes(span_context, record_attributes(record, message))",
);
const COUNT_RAW: Hint = Hint::with_code(
    "batch attributes",
    "The batch span carries messaging.batch.message_count (the constant \
     MESSAGING_BATCH_MESSAGE_COUNT), the number of messages in the batch, as an integer.",
    "KeyValue::new(MESSAGING_BATCH_MESSAGE_COUNT, batch.len() as i64)",
);
const COUNT_TRACING: Hint = Hint::with_code(
    "batch attributes",
    "The batch span carries messaging.batch.message_count, the number of messages in the \
     batch, as an integer: a field of the span, named by the constant \
     MESSAGING_BATCH_MESSAGE_COUNT.",
    "{ MESSAGING_BATCH_MESSAGE_COUNT } = batch.len() as i64 among info_span!'s fields",
);

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
    each_made_spans(app, &["chat-api", "storage-service"]).await;
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
            Hint::new(
                "batch attributes",
                "The batch span carries the messaging.* attributes of step 05 that hold for the \
                 whole batch.",
            ),
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
        if is_decoy_link(link) {
            spans.fail(
                &format!(
                    "a link of {} points at trace {}, span {}: {DECOY}",
                    batch.label(),
                    link.span_context.trace_id(),
                    link.span_context.span_id()
                ),
                crate::messaging::prefixed(
                    "Each link names its record's creation context, from that record's own \
                     headers, not the current context.",
                    &hint(LINKS_RAW, LINKS_TRACING),
                ),
            );
        }
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
            Hint::new(
                "fan-in",
                "Each record of a batch gets one link, and a batch is stored once (talk's \
                 run_batches stores the offsets after handle_batch succeeds).",
            ),
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
                Hint::new(
                    "batches",
                    "Only storage-service takes batches: giphy-service keeps its Handler and \
                     start_process from step 05.",
                ),
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
    each_made_spans(&app, &["storage-service"]).await;
    let spans = app
        .wait_for_spans("the batch span", hint(BATCH_RAW, BATCH_TRACING), |s| {
            s.has("storage-service", "process message")
        })
        .await;
    for batch in spans.every("storage-service", "process message") {
        batch.is_root(hint(NO_PARENT_RAW, NO_PARENT_TRACING));
        crate::contract::has_no_decoy_link(&spans, &batch);
        // None of these records had a valid traceparent: no links at all.
        batch.has_no_links(Hint::with_code(
            "span links",
            "A record without a valid traceparent has no creation context: it gets no link, \
             and is stored all the same. An invalid context must not become a link: the span \
             builder's list of links drops one by itself, a link added to a started span does \
             not, so such a link needs the context's validity checked first.",
            "the links in the builder's .with_links(links), or \
             if span_context.is_valid() { span.add_link(..) }",
        ));
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
            Hint::with_code(
                "one pipeline per batch",
                "Store the whole batch in one call to the store, under one \"store message\" \
                 span: the store's batch method sends it as one pipeline (storage.rs).",
                "store.save_batch_with_spans(&messages, &self.tracer, &cx)",
            ),
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
                Hint::with_code(
                    "one pipeline per batch",
                    "One call to the store per batch, under the \"store message\" span \
                     (storage.rs).",
                    "store.save_batch_with_spans(&messages, &self.tracer, &cx)",
                ),
            );
        };
        pipeline
            .is_kind(SpanKind::Client, "a call to Redis is a CLIENT span")
            .has_attribute_key("db.operation.batch.size", "the batch size of the pipeline");
    }
    app.stop().await;
    drop(server);
}
