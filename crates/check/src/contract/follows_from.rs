//! Step 05's contract, which steps 05 to 08 check: each consumer's `process message` span links
//! to the `send message` span that made its record (OpenTracing's FOLLOWS_FROM), in both
//! `--consumer-trace` modes. Each function is one test; a step's `tests/` calls them with its own
//! `Step`.

use crate::contract::{each_made_spans, has_no_decoy_link, hint};
use crate::finding::Hint;
use crate::messaging::{Hints, MESSAGE_ID, creation_of};
use crate::trace::About;
use crate::{SpanRef, Spans, TestApp};
use rdkafka::message::{Header, OwnedHeaders};
use talk::message::NewMessage;
use talk::{Config, ConsumerTrace, Message, Services};

const LINK_RAW: Hint = Hint::with_code(
    "span links",
    "Give \"process message\" a link to the record's creation context, the context that \
     extract_parent returned: in messaging.rs, start_process, a link that goes in the span \
     builder's list of links. Then start the process spans with start_process in storage.rs \
     and giphy.rs.",
    "Link::with_context(creation.span().span_context().clone()), in the builder's \
     .with_links(vec![link]), where creation is what extract_parent(record) returned",
);
const LINK_TRACING: Hint = Hint::with_code(
    "span links",
    "Give \"process message\" a link to the record's creation context, the context that \
     extract_parent returned: in messaging.rs, process_span, add it to the span before \
     anything enters the span.",
    "let creation = extract_parent(record); span.add_link(creation.span().span_context().clone());",
);
const ATTRIBUTES_RAW: Hint = Hint::with_code(
    "messaging attributes",
    "In messaging.rs, start_process: give the span the messaging.* attributes of the contract \
     (chapter 05, task 2), named by the semantic conventions' constants, with their values \
     from the record (its partition, offset and key), the message (its id) and the consumer's \
     group.",
    "KeyValue::new(MESSAGING_DESTINATION_PARTITION_ID, record.partition().to_string()), \
     KeyValue::new(MESSAGING_KAFKA_OFFSET, record.offset()), \
     KeyValue::new(MESSAGING_MESSAGE_ID, message.id.clone()), ... in the builder's \
     .with_attributes(..)",
);
const ATTRIBUTES_TRACING: Hint = Hint::with_code(
    "messaging attributes",
    "In messaging.rs, process_span: give the span the messaging.* attributes of the contract, \
     as fields named by the semantic conventions' constants (or attributes set on the span), \
     with their values from the record, the message and the consumer's group.",
    "info_span!(parent: None, \"process\", otel.kind = \"consumer\", \
     { MESSAGING_SYSTEM } = \"kafka\", ..), then span.set_attribute(key, value) for the \
     record's partition (a string), offset and key, and the message's id",
);
const SAME_RAW: Hint = Hint::with_code(
    "the creation context as parent",
    "In same mode (--consumer-trace same, the default), the record's creation context is the \
     process span's parent as well as its link: in messaging.rs, start_process, start the \
     span as a child of the context that extract_parent returned.",
    "start_with_context(tracer, &creation), where creation is what extract_parent(record) \
     returned",
);
const SAME_TRACING: Hint = Hint::with_code(
    "the creation context as parent",
    "In same mode, the record's creation context is the process span's parent as well as its \
     link. A `tracing` span's parent can be set only until its OpenTelemetry span starts, and \
     anything that enters the span or asks for its context starts it: in messaging.rs, \
     process_span, set the parent first.",
    "if consumer_trace == ConsumerTrace::Same { span.set_parent(creation) } before anything \
     enters the span or calls span.context()",
);
const NEW_RAW: Hint = Hint::with_code(
    "a new trace per consumer",
    "In new mode (--consumer-trace new), the process span is the root of a new trace, tied to \
     its cause by the link alone: in messaging.rs, start_process, choose the parent by the \
     consumer_trace setting, and in new mode start from an empty context.",
    "match consumer_trace { ConsumerTrace::Same => creation, ConsumerTrace::New => \
     Context::new() }, then start_with_context(tracer, &parent)",
);
const NEW_TRACING: Hint = Hint::with_code(
    "a new trace per consumer",
    "In new mode, the process span is the root of a new trace, whatever span is current, tied \
     to its cause by the link alone: in messaging.rs, process_span, give it no parent in that \
     mode.",
    "info_span!(parent: None, ..), and no span.set_parent(..) in new mode",
);
const REPUBLISH_RAW: Hint = Hint::with_code(
    "the re-publish as the consumer's work",
    "giphy-service's re-publish is its own work, in both modes: in giphy.rs, handle hands \
     answer the context that start_process returned (the one that holds giphy-service's \
     process span), and answer passes it on to send_message.",
    "self.answer(message, &query, &cx), with the cx from start_process; in answer, \
     send_message(&self.producer, &self.tracer, &answered, cx)",
);
const REPUBLISH_TRACING: Hint = Hint::with_code(
    "the re-publish as the consumer's work",
    "giphy-service's re-publish is its own work, in both modes: in giphy.rs, handle runs \
     answer inside the process span, so that send_message's span is its child.",
    "self.answer(message, &query).instrument(span.clone()).await",
);
/// chat-api's part of the trace: its send span in the POST's trace, and the POST's trace id
/// in its answer. Both hold when its handler runs inside the POST's SERVER span.
pub(crate) const POST_RAW: Hint = Hint::with_code(
    "context across async code",
    "chat-api's handler runs inside the POST's SERVER span, so that the send span it starts is \
     in the POST's trace and its answer carries the POST's trace id (steps 02 and 03). Look at \
     chat_api.rs, trace_request: which context does the handler's future carry while it runs?",
    "next.run(request).with_context(cx.clone()).await in trace_request",
);
pub(crate) const POST_TRACING: Hint = Hint::with_code(
    "context across async code",
    "chat-api's handler runs inside the request's span, so that the send span it makes is in \
     the POST's trace and its answer carries the POST's trace id. Look at chat_api.rs, \
     trace_request (chapter 08, task 4): a span entered only while a future is built is not \
     current while the future runs.",
    "next.run(request).instrument(span.clone()).await, not span.in_scope(|| next.run(request)).await",
);

/// The hints `creation_of` gives, in the step's own API.
fn hints() -> Hints {
    Hints {
        link: hint(LINK_RAW, LINK_TRACING),
        attributes: hint(ATTRIBUTES_RAW, ATTRIBUTES_TRACING),
    }
}

/// Both consumers, for the steps in which each processes one record at a time (05 and 06).
pub const BOTH: &[&str] = &["storage-service", "giphy-service"];

/// giphy-service alone: from step 07 on storage-service processes batches, which step 07's
/// contract checks.
pub const GIPHY_SERVICE: &[&str] = &["giphy-service"];

async fn app<S: Services>(step: S, consumer_trace: ConsumerTrace) -> TestApp {
    let config = Config {
        consumer_trace,
        ..Config::embedded()
    };
    TestApp::start_with(step.clone(), config).await
}

/// Waits until the `consumers` have processed every message in `sent` (by their count).
async fn processed(app: &TestApp, sent: &[Message], consumers: &[&str]) -> Spans {
    let n = sent.len();
    each_made_spans(app, &[&["chat-api"], consumers].concat()).await;
    app.wait_for_spans(
        &format!("{n} messages through the consumers"),
        hint(LINK_RAW, LINK_TRACING),
        |s| {
            s.count("chat-api", "send message") >= n
                && consumers
                    .iter()
                    .all(|consumer| s.count(consumer, "process message") >= n)
        },
    )
    .await
}

/// The step's one idea comes first: every process span has a link. Which span it should link
/// to, and the attributes that tell, are checked after.
fn every_process_span_has_a_link(spans: &Spans, consumers: &[&str]) {
    for consumer in consumers {
        for process in spans.every(consumer, "process message") {
            has_no_decoy_link(spans, &process);
            if process.data().span.links.is_empty() {
                spans.fail(
                    &format!("{consumer}'s \"process message\" span has no link"),
                    hint(LINK_RAW, LINK_TRACING),
                );
            }
        }
    }
}

/// The process span of `consumer` whose record carried `message`, found by the message id
/// (or, while process spans have no ids yet, the only one there is).
fn process_of<'a>(spans: &'a Spans, consumer: &str, message: &Message) -> SpanRef<'a> {
    let every = spans.every(consumer, "process message");
    let with_id: Vec<SpanRef<'a>> = every
        .iter()
        .copied()
        .filter(
            |p| matches!(p.attribute(MESSAGE_ID), Some(id) if id.as_str() == message.id.as_str()),
        )
        .collect();
    match (with_id.as_slice(), every.as_slice()) {
        ([one], _) => *one,
        ([], [only]) => *only,
        ([], _) => spans.fail(
            &format!(
                "no {consumer} \"process message\" span has {MESSAGE_ID}={}",
                message.id
            ),
            hint(ATTRIBUTES_RAW, ATTRIBUTES_TRACING),
        ),
        (many, _) => spans.fail(
            &format!(
                "{} {consumer} \"process message\" spans have {MESSAGE_ID}={}; one record, \
                 one span",
                many.len(),
                message.id
            ),
            hint(ATTRIBUTES_RAW, ATTRIBUTES_TRACING),
        ),
    }
}

/// The send span carries the message id too: it is how Jaeger finds every trace of a message.
fn send_has_the_message_id(send: &SpanRef<'_>, message: &Message) {
    let hint = Hint::with_code(
        "messaging attributes",
        "In messaging.rs, send_message: the send span carries messaging.message.id, the chat \
         message's id, among its attributes.",
        "KeyValue::new(MESSAGING_MESSAGE_ID, message.id.clone())",
    );
    send.has_attribute_key(MESSAGE_ID, &hint)
        .has_attribute(MESSAGE_ID, message.id.clone(), &hint);
}

/// `same` mode: in each room, each consumer's process span is the child of its record's send
/// span *and* links to it, all in the POST's trace.
pub async fn same_mode_links_and_parents_in_one_trace<S: Services>(step: S) {
    same_mode_links_and_parents_in_one_trace_in(step, BOTH).await;
}

/// [`same_mode_links_and_parents_in_one_trace`] for the `consumers` named.
pub async fn same_mode_links_and_parents_in_one_trace_in<S: Services>(step: S, consumers: &[&str]) {
    let app = app(step.clone(), ConsumerTrace::Same).await;
    let mut sent = Vec::new();
    // Three rooms, three keys: the records land on different partitions and offsets, so a
    // link to "some send span" is not enough.
    for room in ["lobby", "dev", "ops"] {
        sent.push(app.post("ann", room, &format!("hello, {room}")).await);
    }
    let spans = processed(&app, &sent, consumers).await;
    every_process_span_has_a_link(&spans, consumers);
    for message in &sent {
        for consumer in consumers.iter().copied() {
            let process = process_of(&spans, consumer, message);
            let send = creation_of(
                &spans,
                process,
                consumer,
                &message.room,
                &message.id,
                &hints(),
            );
            send_has_the_message_id(&send, message);
            process.is_child_of(&send, hint(SAME_RAW, SAME_TRACING));
            let trace_id = post_trace_id(&spans, message);
            if process.trace_id() != trace_id {
                spans.fail(
                    &format!(
                        "{}'s \"process message\" for {:?} is not in the POST's trace {trace_id}",
                        consumer, message.message
                    ),
                    hint(SAME_RAW, SAME_TRACING),
                );
            }
        }
    }
    app.stop().await;
}

/// `/giphy cats` in `same` mode: giphy-service's re-publish is a child of its process span,
/// and storage-service's processing of the re-published record links to that re-publish.
pub async fn same_mode_links_the_republished_record_too<S: Services>(step: S) {
    let app = app(step.clone(), ConsumerTrace::Same).await;
    let message = app.post("ann", "lobby", "/giphy cats").await;
    let spans = giphy_journey(&app, BOTH).await;
    every_process_span_has_a_link(&spans, BOTH);
    let (giphy_process, republish, stored) = republished(&spans, &message);
    republish.is_child_of(&giphy_process, hint(REPUBLISH_RAW, REPUBLISH_TRACING));
    stored.is_child_of(&republish, hint(SAME_RAW, SAME_TRACING));
    stored.is_in_trace_of(&giphy_process, hint(SAME_RAW, SAME_TRACING));
    app.stop().await;
}

/// `new` mode: every process span is the root of a trace of its own, linked to its record's
/// send span in another trace; storage-service's and giphy-service's traces are distinct.
pub async fn new_mode_starts_a_linked_trace_per_consumer<S: Services>(step: S) {
    new_mode_starts_a_linked_trace_per_consumer_in(step, BOTH).await;
}

/// [`new_mode_starts_a_linked_trace_per_consumer`] for the `consumers` named.
pub async fn new_mode_starts_a_linked_trace_per_consumer_in<S: Services>(
    step: S,
    consumers: &[&str],
) {
    let app = app(step.clone(), ConsumerTrace::New).await;
    let message = app.post("ann", "lobby", "/giphy cats").await;
    let spans = giphy_journey(&app, consumers).await;
    every_process_span_has_a_link(&spans, consumers);
    let post = spans.one("chat-api", "POST /message", "the SERVER span from step 02");

    let mut traces = Vec::new();
    for consumer in consumers.iter().copied() {
        let process = process_of_original(&spans, consumer, &message);
        let send = creation_of(&spans, process, consumer, "lobby", &message.id, &hints());
        send.is_in_trace_of(&post, hint(POST_RAW, POST_TRACING));
        process
            .is_root(hint(NEW_RAW, NEW_TRACING))
            .is_not_in_trace_of(&post, hint(NEW_RAW, NEW_TRACING));
        traces.push(process);
    }
    if let [first, second] = traces.as_slice() {
        first.is_not_in_trace_of(second, hint(NEW_RAW, NEW_TRACING));
    }

    // The re-publish is giphy-service's work, in giphy-service's new trace; the record it
    // sends starts one more trace in storage-service, linked back to it.
    if consumers.contains(&"storage-service") {
        let (giphy_process, republish, stored) = republished(&spans, &message);
        republish.is_child_of(&giphy_process, hint(REPUBLISH_RAW, REPUBLISH_TRACING));
        stored
            .is_root(hint(NEW_RAW, NEW_TRACING))
            .is_not_in_trace_of(&republish, hint(NEW_RAW, NEW_TRACING));
    } else {
        let giphy_process = process_of_original(&spans, "giphy-service", &message);
        spans
            .one(
                "giphy-service",
                "send message",
                "the re-publish's span from step 03",
            )
            .is_child_of(&giphy_process, hint(REPUBLISH_RAW, REPUBLISH_TRACING));
    }
    app.stop().await;
}

/// Records with no headers or garbage headers have no creation context: no link, a fresh
/// trace, and still stored, in both modes. One of them has a key that is not UTF-8, which no
/// span records.
pub async fn bad_headers_give_no_link_and_are_still_stored<S: Services>(step: S) {
    bad_headers_give_no_link_and_are_still_stored_in(step, BOTH).await;
}

/// [`bad_headers_give_no_link_and_are_still_stored`] for the `consumers` named.
pub async fn bad_headers_give_no_link_and_are_still_stored_in<S: Services>(
    step: S,
    consumers: &[&str],
) {
    for consumer_trace in [ConsumerTrace::Same, ConsumerTrace::New] {
        let app = app(step.clone(), consumer_trace).await;
        let producer = app.kafka().producer("test").unwrap();
        let cases: Vec<(&str, OwnedHeaders)> = vec![
            ("no headers", OwnedHeaders::new()),
            (
                "not UTF-8",
                OwnedHeaders::new().insert(Header {
                    key: "traceparent",
                    value: Some(&[0xff, 0xfe, 0x80][..]),
                }),
            ),
            (
                "malformed",
                OwnedHeaders::new().insert(Header {
                    key: "traceparent",
                    value: Some("hello, world"),
                }),
            ),
        ];
        // One more record, with no headers and a key that is not UTF-8, which has no canonical
        // string form: the Kafka conventions leave such a key out.
        let odd_key = Message::accept(NewMessage {
            author: "test".into(),
            room: "headers".into(),
            message: "a key that is not UTF-8".into(),
        });
        crate::messaging::publish_with_key(&producer, &odd_key, &[0xff, 0xfe, 0x80]).await;
        let count = cases.len() + 1;
        for (case, headers) in cases {
            let message = Message::accept(NewMessage {
                author: "test".into(),
                room: "headers".into(),
                message: case.into(),
            });
            talk::kafka::publish(&producer, &message, headers)
                .await
                .unwrap();
        }
        let what = format!(
            "every hand-made record to be stored in {consumer_trace:?} mode: a bad header must \
             never stop a record"
        );
        app.wait_for_messages("headers", &what, |all| all.len() == count)
            .await;
        each_made_spans(&app, consumers).await;
        let spans = app
            .wait_for_spans(
                "a process span per record in each consumer",
                hint(LINK_RAW, LINK_TRACING),
                |s| {
                    consumers
                        .iter()
                        .all(|consumer| s.count(consumer, "process message") >= count)
                },
            )
            .await;
        let hint = no_creation_context();
        for consumer in consumers {
            for process in spans.every(consumer, "process message") {
                has_no_decoy_link(&spans, &process);
                process.has_no_links(&hint).is_root(&hint);
            }
        }
        crate::messaging::leaves_out_the_key(&spans, &odd_key.id);
        app.stop().await;
    }
}

/// Waits for the whole `/giphy cats` journey: both consumers' first process spans, giphy's
/// re-publish, and storage-service's second process span (the record with the image).
async fn giphy_journey(app: &TestApp, consumers: &[&str]) -> Spans {
    let storage = consumers.contains(&"storage-service");
    each_made_spans(app, &[&["chat-api"], consumers].concat()).await;
    app.wait_for_spans("the /giphy journey", hint(LINK_RAW, LINK_TRACING), |s| {
        (!storage || s.count("storage-service", "process message") >= 2)
            && s.has("giphy-service", "send message")
            && s.has("giphy-service", "process message")
    })
    .await
}

/// The process span of `consumer` for the record that chat-api sent (not the re-publish).
fn process_of_original<'a>(spans: &'a Spans, consumer: &str, message: &Message) -> SpanRef<'a> {
    let send = spans.one("chat-api", "send message", "the PRODUCER span from step 03");
    send_has_the_message_id(&send, message);
    let every = spans.every(consumer, "process message");
    // Before the step is done, the spans have no position to match by: any will do for the
    // first failure, which is about the link.
    let linked = every.iter().copied().find(|p| {
        p.data()
            .span
            .links
            .iter()
            .any(|l| l.span_context.span_id() == send.span_id())
    });
    linked.or(every.first().copied()).unwrap_or_else(|| {
        spans.one(
            consumer,
            "process message",
            "a process span per record, from step 02",
        )
    })
}

/// For `/giphy cats`: giphy-service's process span (checked against the contract), its
/// re-publish (with the message id), and storage-service's process span of the re-published
/// record (checked against the contract, linked to the re-publish).
fn republished<'a>(spans: &'a Spans, message: &Message) -> (SpanRef<'a>, SpanRef<'a>, SpanRef<'a>) {
    let giphy_process = process_of_original(spans, "giphy-service", message);
    creation_of(
        spans,
        giphy_process,
        "giphy-service",
        "lobby",
        &message.id,
        &hints(),
    );
    let republish = spans.one(
        "giphy-service",
        "send message",
        "the re-publish's PRODUCER span from step 03",
    );
    send_has_the_message_id(&republish, message);
    // storage-service processes two records of this message: chat-api's and giphy's. The one
    // that is not linked to chat-api's send span is the re-publish's.
    let original = process_of_original(spans, "storage-service", message);
    let Some(stored) = spans
        .every("storage-service", "process message")
        .into_iter()
        .find(|p| p.span_id() != original.span_id())
    else {
        spans.fail(
            "storage-service processed only one record of the /giphy message",
            Hint::new(
                "consume, transform, produce",
                "giphy-service re-publishes the message with its image; storage-service should \
                 process that record too.",
            ),
        );
    };
    let linked = creation_of(
        spans,
        stored,
        "storage-service",
        "lobby",
        &message.id,
        &hints(),
    );
    if linked.span_id() != republish.span_id() {
        spans.fail(
            "storage-service's process span of the re-published record does not link to \
             giphy-service's send span",
            crate::messaging::prefixed(
                "The re-published record was sent by giphy-service.",
                &hint(LINK_RAW, LINK_TRACING),
            ),
        );
    }
    (giphy_process, republish, stored)
}

/// The trace id chat-api answered the POST of `message` with. All zeros, or none, means that
/// chat-api's handler ran outside the POST's SERVER span: then that is the finding, for chat-api,
/// not that the consumers' spans are in another trace.
#[track_caller]
fn post_trace_id(spans: &Spans, message: &Message) -> String {
    let trace_id = message.trace_id.clone().unwrap_or_default();
    if trace_id.bytes().any(|b| b != b'0') {
        return trace_id;
    }
    let shown = if trace_id.is_empty() {
        "no trace id".to_owned()
    } else {
        format!("the trace id {trace_id}")
    };
    let about = About {
        aspect: "trace",
        span: Some("POST /message"),
        service: Some("chat-api"),
        concept: "context across async code",
    };
    spans.fail_about(
        about,
        &format!(
            "chat-api answered the POST of {:?} with {shown}: no span was current while its \
             handler ran, so the handler ran outside the POST's SERVER span",
            message.message
        ),
        hint(POST_RAW, POST_TRACING),
    )
}

/// A record with no valid `traceparent`: what its process span should be.
fn no_creation_context() -> Hint {
    Hint::with_code(
        "span links",
        "A record without a valid traceparent has no creation context: its process span gets \
         no link, and starts a trace of its own. An invalid context must not become a link: \
         the span builder's list of links drops one by itself, a link added to a started \
         span does not, so such a link needs the context's validity checked first.",
        "if creation.span().span_context().is_valid() { span.add_link(..) }, or \
         SpanBuilder::with_links, which drops invalid contexts itself",
    )
}
