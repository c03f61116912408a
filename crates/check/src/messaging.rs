//! Assertions for the messaging spans from step 05 on: a `process message` span, its
//! `messaging.*` attributes, and its link to the `send message` span that made its record.
//!
//! A process span is matched with its send span by where the record sits in Kafka: the send
//! span learns its partition and offset from the delivery report, the process span from the
//! record it consumed. Matching by position, not by "some send span", is what proves that each
//! link points at its own record's cause.

use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use talk::Message;

use crate::finding::Hint;
use crate::trace::{SpanRef, Spans};

/// `messaging.destination.partition.id`: a string, as the conventions say.
pub const PARTITION_ID: &str = "messaging.destination.partition.id";
/// `messaging.kafka.offset`: an integer.
pub const OFFSET: &str = "messaging.kafka.offset";
/// `messaging.message.id`: the chat message's id.
pub const MESSAGE_ID: &str = "messaging.message.id";

/// Attribute names that older versions of the conventions used, with the constant of
/// `opentelemetry-semantic-conventions` that replaces each.
const DEPRECATED: [(&str, &str); 4] = [
    ("messaging.kafka.message.offset", "MESSAGING_KAFKA_OFFSET"),
    (
        "messaging.kafka.consumer.group",
        "MESSAGING_CONSUMER_GROUP_NAME",
    ),
    (
        "messaging.kafka.destination.partition",
        "MESSAGING_DESTINATION_PARTITION_ID",
    ),
    ("messaging.operation", "MESSAGING_OPERATION_TYPE"),
];

/// Where a record sits in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub partition: String,
    pub offset: i64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "partition {} offset {}", self.partition, self.offset)
    }
}

/// What to tell the learner when a process span breaks the contract.
pub struct Hints {
    /// The span has no link, or a link to nothing.
    pub link: Hint,
    /// An attribute is missing, of the wrong type, or has the wrong value.
    pub attributes: Hint,
}

/// `hint` with `words` before its text: the same concept, and the same code for the last level.
pub fn prefixed(words: &str, hint: &Hint) -> Hint {
    Hint {
        concept: hint.concept,
        text: format!("{words} {}", hint.text).into(),
        code: hint.code.clone(),
    }
}

/// The record position a span says it sent or processed, checking the attributes' types.
#[track_caller]
pub fn position(span: &SpanRef<'_>, hint: impl Into<Hint>) -> Position {
    let hint = hint.into();
    Position {
        partition: string_attribute(span, PARTITION_ID, &hint),
        offset: int_attribute(span, OFFSET, &hint),
    }
}

/// The record position a link's attributes name (step 07's per-record facts), if they are
/// there with the right types.
pub fn link_position(link: &opentelemetry::trace::Link) -> Option<Position> {
    let attribute = |key: &str| link.attributes.iter().find(|kv| kv.key.as_str() == key);
    let partition = match attribute(PARTITION_ID).map(|kv| &kv.value) {
        Some(Value::String(p)) => p.to_string(),
        _ => return None,
    };
    let offset = match attribute(OFFSET).map(|kv| &kv.value) {
        Some(Value::I64(o)) => *o,
        _ => return None,
    };
    Some(Position { partition, offset })
}

/// The value of a link's attribute `key`, as text.
pub fn link_attribute(link: &opentelemetry::trace::Link, key: &str) -> Option<String> {
    link.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// The `send message` span (of any service) that delivered the record at `position`.
pub fn send_at<'a>(spans: &'a Spans, position: &Position) -> Option<SpanRef<'a>> {
    spans
        .all()
        .iter()
        .filter(|s| s.span.name == "send message")
        .filter_map(|s| spans.by_id(s.span.span_context.span_id()))
        .find(|send| {
            matches!(send.attribute(PARTITION_ID), Some(Value::String(p)) if p.as_str() == position.partition)
                && matches!(send.attribute(OFFSET), Some(Value::I64(o)) if *o == position.offset)
        })
}

/// Checks a `process message` span against the step 05 contract, and returns the send span it
/// links to:
///
/// - a CONSUMER span with `messaging.system`, `.operation.name`, `.operation.type`,
///   `.destination.name`, `.consumer.group.name` (= `group`), `.destination.partition.id` (a
///   string), `.kafka.offset` (an int), `.kafka.message.key` (= `room`) and `.message.id`
///   (= `message_id`), and none of their deprecated names;
/// - exactly one link, to the send span that delivered the record at the span's position.
#[track_caller]
pub fn creation_of<'a>(
    spans: &'a Spans,
    process: SpanRef<'a>,
    group: &str,
    room: &str,
    message_id: &str,
    hints: &Hints,
) -> SpanRef<'a> {
    let who = process.label();
    process.is_kind(
        SpanKind::Consumer,
        "processing a consumed record is a CONSUMER span (SpanKind::Consumer)",
    );
    // The link first: it is the step's one idea.
    let links = &process.data().span.links;
    if links.is_empty() {
        spans.fail(&format!("{who} has no link"), &hints.link);
    }
    crate::decoy::has_no_decoy_link(spans, &process);
    if let Some(bad) = links.iter().find(|l| !l.span_context.is_valid()) {
        spans.fail(
            &format!(
                "{who} links to an invalid span context (trace {}, span {}): a link to nothing",
                bad.span_context.trace_id(),
                bad.span_context.span_id()
            ),
            Hint::with_code(
                "span links",
                "Link to the context extracted from the record's headers (it holds the send \
                 span), and only when it is valid. An empty context, such as a new one or, in \
                 a consumer, the current one, holds no span to link to. The span builder's \
                 list of links drops invalid contexts by itself; a link added to a started \
                 span does not, so such a link needs the context's validity checked first.",
                "Link::with_context(creation.span().span_context().clone()) where creation is \
                 what extract_parent(record) returned; before span.add_link(..), check \
                 span_context().is_valid()",
            ),
        );
    }
    for (old, constant) in DEPRECATED {
        if process.attribute(old).is_some() {
            spans.fail(
                &format!("{who} has the attribute {old}, a name the conventions deprecated"),
                prefixed(
                    &format!(
                        "Use the current name, the constant {constant} of \
                         opentelemetry_semantic_conventions::attribute."
                    ),
                    &hints.attributes,
                ),
            );
        }
    }
    process
        .has_attribute("messaging.system", "kafka", &hints.attributes)
        .has_attribute("messaging.destination.name", "message", &hints.attributes)
        .has_attribute("messaging.operation.name", "process", &hints.attributes)
        .has_attribute("messaging.operation.type", "process", &hints.attributes)
        .has_attribute(
            "messaging.consumer.group.name",
            group.to_owned(),
            &hints.attributes,
        )
        .has_attribute(
            "messaging.kafka.message.key",
            room.to_owned(),
            &hints.attributes,
        )
        .has_attribute(MESSAGE_ID, message_id.to_owned(), &hints.attributes);
    let at = position(&process, &hints.attributes);

    // The link comes from the record's own headers, so where its send span delivered the
    // record is the truth: a process span that disagrees has the wrong position attributes.
    let linked_send = links
        .iter()
        .filter_map(|l| spans.by_id(l.span_context.span_id()))
        .find(|s| s.data().span.name == "send message");
    if let Some(linked) = linked_send {
        let delivered = position(&linked, "the send span's position comes from step 03");
        if delivered != at {
            spans.fail(
                &format!(
                    "{who} says it processed the record at {at}, but the send span it links \
                     to ({}) delivered that record at {delivered}",
                    linked.label()
                ),
                prefixed(
                    &format!(
                        "{PARTITION_ID} and {OFFSET} are where the consumed record sits: its \
                         partition and offset, read from the record itself."
                    ),
                    &hints.attributes,
                ),
            );
        }
    }
    let Some(send) = send_at(spans, &at) else {
        spans.fail(
            &format!(
                "{who} says it processed the record at {at}, but no \"send message\" span \
                 delivered a record there"
            ),
            prefixed(
                &format!(
                    "{PARTITION_ID} and {OFFSET} are where the consumed record sits: its \
                     partition and offset, read from the record itself."
                ),
                &hints.attributes,
            ),
        );
    };
    if links.len() > 1 {
        spans.fail(
            &format!("{who} has {} links; it should have one", links.len()),
            prefixed(
                "One record, one cause: a single link, to the send span of the record.",
                &hints.link,
            ),
        );
    }
    process
        .links_to(
            &send,
            prefixed(
                &format!(
                    "The record at {at} was sent by {}, so that is the span to link to: the \
                     context extracted from this record's own headers.",
                    send.label()
                ),
                &hints.link,
            ),
        )
        .is_ok("processing a record that worked is not an error");
    send
}

/// The value of a string attribute. Fails when it is missing or has another type.
#[track_caller]
pub fn string_attribute(span: &SpanRef<'_>, key: &str, hint: impl Into<Hint>) -> String {
    let hint = hint.into();
    match span.attribute(key) {
        Some(Value::String(value)) => value.to_string(),
        Some(other) => span.spans().fail(
            &format!(
                "{}'s {key} is {} {other}; the conventions make it a string",
                span.label(),
                type_name(other)
            ),
            prefixed(
                "Write it as text: the conventions' type for it is a string.",
                &hint,
            ),
        ),
        None => missing(span, key, hint),
    }
}

/// The value of an integer attribute. Fails when it is missing or has another type.
#[track_caller]
pub fn int_attribute(span: &SpanRef<'_>, key: &str, hint: impl Into<Hint>) -> i64 {
    let hint = hint.into();
    match span.attribute(key) {
        Some(Value::I64(value)) => *value,
        Some(other) => span.spans().fail(
            &format!(
                "{}'s {key} is {} {other}; the conventions make it an integer",
                span.label(),
                type_name(other)
            ),
            prefixed(
                "Give the attribute the integer itself, not its text.",
                &hint,
            ),
        ),
        None => missing(span, key, hint),
    }
}

#[track_caller]
fn missing(span: &SpanRef<'_>, key: &str, hint: Hint) -> ! {
    span.spans().fail(
        &format!(
            "{} has no attribute {key}; its attributes: {}",
            span.label(),
            span.attribute_list()
        ),
        hint,
    )
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "the boolean",
        Value::I64(_) => "the integer",
        Value::F64(_) => "the float",
        Value::String(_) => "the string",
        Value::Array(_) => "the array",
        _ => "the value",
    }
}

/// `messaging.kafka.message.key`.
pub const KEY: &str = "messaging.kafka.message.key";

/// Publishes `message` as the app does, but with `key` as the record's key: a key the app never
/// makes, such as one that is not UTF-8.
pub async fn publish_with_key(producer: &FutureProducer, message: &Message, key: &[u8]) {
    let payload = message.to_payload();
    let record = FutureRecord::to(talk::kafka::TOPIC)
        .key(key)
        .payload(&payload);
    producer
        .send(record, Timeout::After(talk::kafka::DELIVERY_TIMEOUT))
        .await
        .map_err(|(error, _record)| error)
        .expect("the embedded cluster takes a record");
}

/// Expects no span or link about the message `message_id` to carry
/// `messaging.kafka.message.key`: its record's key was not UTF-8, and such a key has no
/// canonical string form, so the Kafka conventions leave it out.
#[track_caller]
pub fn leaves_out_the_key(spans: &Spans, message_id: &str) {
    let about_it = |attributes: &[opentelemetry::KeyValue]| {
        attributes
            .iter()
            .any(|kv| kv.key.as_str() == MESSAGE_ID && kv.value.as_str() == message_id)
    };
    let key_of = |attributes: &[opentelemetry::KeyValue]| {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == KEY)
            .map(|kv| kv.value.to_string())
    };
    for data in spans.all() {
        let span = &data.span;
        let mut found = None;
        if about_it(&span.attributes) {
            found = key_of(&span.attributes).map(|key| ("span", key));
        }
        for link in span.links.iter() {
            if found.is_none() && about_it(&link.attributes) {
                found = key_of(&link.attributes).map(|key| ("link", key));
            }
        }
        if let Some((on, key)) = found {
            spans.fail(
                &format!(
                    "{}'s {:?} has {KEY} = {key:?} on its {on} for a record whose key is not \
                     UTF-8",
                    data.service, span.name
                ),
                Hint::new(
                    "semconv Kafka: a key with no canonical string form is left out",
                    "The Kafka conventions record the key as a string only when it has one. A \
                     key that is not UTF-8 has none: a lossy decoding makes another string of \
                     it. Leave the attribute out for such a key, where the process span's (or \
                     the link's) attributes are made, in messaging.rs.",
                ),
            );
        }
    }
}
