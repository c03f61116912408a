//! Step 05's contract, which steps 05 to 08 check: each consumer's `process message` span links
//! to the `send message` span that made its record (OpenTracing's FOLLOWS_FROM), in both
//! `--consumer-trace` modes. Each function is one test; a step's `tests/` calls them with its own
//! `Step`.

use crate::contract::hint;
use crate::messaging::{Hints, MESSAGE_ID, creation_of};
use crate::{SpanRef, Spans, TestApp};
use rdkafka::message::{Header, OwnedHeaders};
use talk::message::NewMessage;
use talk::{Config, ConsumerTrace, Message, Services};

const LINK_RAW: &str = "Give \"process message\" a link to the record's creation context, in \
    messaging::start_process: `Link::with_context(creation.span().span_context().clone())` \
    in the span builder's `with_links`, where `creation` is what extract_parent returned. Then \
    call start_process from storage.rs and giphy.rs.";
const LINK_TRACING: &str = "Give \"process message\" a link to the record's creation context, in messaging::process_span: span.add_link(creation.span().span_context().clone()), where `creation` is what extract_parent returned.";
const ATTRIBUTES_RAW: &str = "In messaging::start_process, give the span the messaging.* \
    attributes of the contract (chapter 05, task 2), with the constants of \
    opentelemetry_semantic_conventions::attribute, from the record (record.partition(), \
    record.offset(), record.key()), the message (message.id) and the consumer's group.";
const ATTRIBUTES_TRACING: &str = "In messaging::process_span, give the span the messaging.* attributes of the contract: fields named by the semantic-conventions constants ({ MESSAGING_SYSTEM } = \"kafka\") or span.set_attribute, from the record, the message and the consumer's group.";
const SAME_RAW: &str = "In `same` mode (--consumer-trace same, the default) the creation context \
    is the parent as well as the link: start the span with start_with_context(tracer, \
    &creation), where `creation` is what extract_parent returned.";
const SAME_TRACING: &str = "In `same` mode the creation context is the parent as well as the link: in messaging::process_span, call span.set_parent(creation) before anything enters the span or asks for its context(); after that the parent is fixed.";
const NEW_RAW: &str = "In `new` mode (--consumer-trace new) the span must start from \
    Context::new(), not from the extracted context: it is the root of a new trace, tied to \
    its cause by the link alone. In messaging::start_process, pick the parent by matching on \
    `consumer_trace`.";
const NEW_TRACING: &str = "In `new` mode the process span is the root of a new trace: create it with info_span!(parent: None, ..) and do not call set_parent; the link alone ties it to its cause.";
const REPUBLISH_RAW: &str = "giphy-service's re-publish is its own work, in both modes: in giphy.rs, \
    handle passes the context that start_process returned (`&cx`, whose span is \
    giphy-service's process span) to answer, which hands it to send_message.";
const REPUBLISH_TRACING: &str = "giphy-service's re-publish is its own work, in both modes: in giphy.rs, handle runs answer inside the process span (.instrument(span)), so that send_message's span is its child.";

/// The hints `creation_of` gives, in the step's own API.
fn hints() -> Hints<'static> {
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
    let hint = "In messaging::send_message, add messaging.message.id (MESSAGING_MESSAGE_ID), \
                the chat message's id (`message.id`, a String), to the send span's attributes.";
    send.has_attribute_key(MESSAGE_ID, hint)
        .has_attribute(MESSAGE_ID, message.id.clone(), hint);
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
            let trace_id = message.trace_id.as_deref().unwrap_or_default();
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
        send.is_in_trace_of(&post, "chat-api's send span is part of the POST's trace");
        process
            .is_root(hint(NEW_RAW, NEW_TRACING))
            .is_not_in_trace_of(&post, hint(NEW_RAW, NEW_TRACING));
        traces.push(process);
    }
    if let [first, second] = traces.as_slice() {
        first.is_not_in_trace_of(
            second,
            "Each consumer's process span is the root of its own new trace: start it from \
             Context::new() in `new` mode.",
        );
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
/// trace, and still stored, in both modes.
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
        let count = cases.len();
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
        let hint = "A record without a valid traceparent has no creation context: no link, and \
                    a fresh trace. SpanBuilder::with_links drops an invalid context by itself; \
                    span.add_link does not, so check span_context().is_valid() before it.";
        for consumer in consumers {
            for process in spans.every(consumer, "process message") {
                process.has_no_links(hint).is_root(hint);
            }
        }
        app.stop().await;
    }
}

/// Waits for the whole `/giphy cats` journey: both consumers' first process spans, giphy's
/// re-publish, and storage-service's second process span (the record with the image).
async fn giphy_journey(app: &TestApp, consumers: &[&str]) -> Spans {
    let storage = consumers.contains(&"storage-service");
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
            "giphy-service re-publishes the message with its image; storage-service should \
             process that record too.",
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
            &format!(
                "The re-published record was sent by giphy-service. {}",
                hint(LINK_RAW, LINK_TRACING)
            ),
        );
    }
    (giphy_process, republish, stored)
}
