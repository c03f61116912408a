//! Step 10's check, third part: baggage through Kafka.
//!
//! In the app, chat-api puts the room into the baggage, the record carries it in a `baggage`
//! header beside `traceparent`, and both consumers put it on their spans (giphy-service's
//! process span, storage-service's link to the record). With the library alone, a record's
//! baggage reaches a span only for the entries on the allow-list, and a `baggage` header that
//! is oversized or malformed is dropped, while the record is still processed and linked.

use std::future::Future;
use std::time::Duration;

use check::contract::library;
use check::{Hint, SpanRef, Spans, TestApp};
use opentelemetry::trace::TraceContextExt as _;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use talk::kafka::{Kafka, TOPIC};
use talk::message::NewMessage;
use talk::{ConsumerTrace, Message};

// The step under test: this crate's own library.
use exercise_10::{Step, kafka_tracing};

const CARRY: Hint = Hint::new(
    "baggage in the record headers",
    "The room travels as W3C baggage: send_message, in lib.rs, puts it into the baggage of the \
     context the send runs in, and the library's propagator (kafka_tracing.rs) writes the \
     baggage into the record's headers beside traceparent, and reads it back on the consumer \
     side: a composite of the trace context propagator and the baggage propagator, on both \
     sides.",
);
const READ: Hint = Hint::new(
    "the baggage propagator reading the record headers",
    "The record carries its baggage, but the consumer's span does not say it. Either the \
     consumer side reads the headers without the baggage propagator (in kafka_tracing.rs, \
     creation_context extracts with the same composite propagator that the producer injects \
     with), or the allowed entries never reach the span (for a batch, each record's link).",
);
const ALLOW: Hint = Hint::new(
    "baggage as span attributes, by allow-list",
    "A consumer puts on its process span (for a batch, on each record's link) the baggage \
     entries of the app's allow-list, and nothing else: baggage is whatever any service \
     upstream wrote. In kafka_tracing.rs, the function that turns a record's baggage into \
     attributes.",
);
const BAD: Hint = Hint::new(
    "bad baggage headers are dropped",
    "A record whose baggage header is oversized (over 8192 bytes or 64 entries) or malformed is \
     still processed and linked: its baggage is dropped whole, with one log line. In \
     kafka_tracing.rs, creation_context.",
);

/// The room's own baggage key, as the app writes it.
const ROOM: &str = "chat.room";

/// In the app: the record carries the room as baggage, and both consumers' spans say it.
#[tokio::test(flavor = "multi_thread")]
async fn the_room_travels_as_baggage_to_both_consumers() {
    let app = TestApp::start(Step).await;
    let sent = app.post("ann", "baggage-room", "hello").await;
    let spans = app
        .wait_for_spans("both consumers' spans of \"hello\"", CARRY, |s| {
            giphy_span(s, &sent).is_some() && stored_link(s, &sent).is_some()
        })
        .await;
    let send = spans
        .every("chat-api", "send message")
        .into_iter()
        .find(|s| has_id(s, &sent))
        .unwrap_or_else(|| {
            spans.fail("chat-api's \"send message\" of \"hello\" is missing", CARRY)
        });
    let at = |key| {
        send.attribute(key)
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default()
    };
    let position = (
        at("messaging.destination.partition.id")
            .parse()
            .unwrap_or(0),
        at("messaging.kafka.offset").parse().unwrap_or(0),
    );
    let headers = library::with_records(app.kafka(), &[position], |records| {
        library::headers(&records[0])
    });
    let baggage = headers.iter().find(|(key, _)| key == "baggage");
    if !baggage.is_some_and(|(_, value)| value.contains("chat.room=baggage-room")) {
        spans.fail(
            &format!(
                "chat-api's \"send message\" sent a record whose headers hold no baggage with \
                 the room; its headers: {headers:?}"
            ),
            CARRY,
        );
    }

    let giphy = giphy_span(&spans, &sent).expect("waited for");
    if giphy.attribute(ROOM).map(|v| v.as_str().into_owned()) != Some("baggage-room".into()) {
        spans.fail(
            &format!(
                "giphy-service's \"process message\" does not carry the room from the record's \
                 baggage as {ROOM}; its attributes: {}",
                giphy.attribute_list()
            ),
            READ,
        );
    }
    let link_room = stored_link(&spans, &sent).expect("waited for");
    if link_room.as_deref() != Some("baggage-room") {
        spans.fail(
            &format!(
                "storage-service's \"process message\" links to \"hello\" without the room from \
                 the record's baggage as {ROOM} on the link (it has {link_room:?})"
            ),
            READ,
        );
    }
    app.stop().await;
}

/// With the library alone: only the allow-list reaches a span, for one record and for a batch;
/// a bad `baggage` header is dropped and the record is still processed and linked.
#[tokio::test(flavor = "multi_thread")]
async fn only_allowed_baggage_reaches_a_span_and_bad_baggage_is_dropped() {
    with_the_apps_kafka(only_allowed_baggage).await;
}

async fn only_allowed_baggage(brokers: Kafka) {
    let (provider, log) = library::provider();
    let kafka = kafka_tracing::KafkaTracing::new(&provider);
    let producer = brokers.producer(library::SERVICE).unwrap();
    let oversized = format!("{ROOM}=lab,padding={}", "x".repeat(9000));
    let too_many = std::iter::once(format!("{ROOM}=lab"))
        .chain((0..70).map(|i| format!("k{i}=v")))
        .collect::<Vec<_>>()
        .join(",");
    let cases = [
        // Three entries, one of them allowed.
        format!("{ROOM}=lab,user.email=ann%40example.com,session.token=s3cr3t"),
        oversized,
        too_many,
        format!("{ROOM}=lab,this is not baggage"),
    ];
    let mut positions = Vec::new();
    let mut trace_ids = Vec::new();
    for (i, baggage) in cases.iter().enumerate() {
        let message = message(&format!("baggage case {i}"));
        let payload = message.to_payload();
        let trace_id = format!("0ba66a9e{:024x}", i + 1);
        let traceparent = format!("00-{trace_id}-b7ad6b7169203331-01");
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "traceparent",
                value: Some(&traceparent),
            })
            .insert(Header {
                key: "baggage",
                value: Some(baggage),
            });
        let record = FutureRecord::to(TOPIC)
            .key(&message.room)
            .payload(&payload)
            .headers(headers);
        let (partition, offset) = producer
            .send(record, Duration::from_secs(5))
            .await
            .map(|d| (d.partition, d.offset))
            .map_err(|(error, _)| error)
            .expect("Kafka should take the record");
        positions.push((partition, offset));
        trace_ids.push(trace_id);
    }
    let (singles, batch) = library::with_records(&brokers, &positions, |records| {
        let consumer = kafka.consumer(library::SERVICE, ConsumerTrace::New);
        let singles: Vec<_> = records
            .iter()
            .map(|record| {
                let cx = consumer.process(record, None);
                cx.span().end();
                cx.span().span_context().span_id()
            })
            .collect();
        let cx = consumer.process_batch(records.iter().map(|r| (r, None)));
        cx.span().end();
        (singles, cx.span().span_context().span_id())
    });

    let spans = Spans::new(log.spans());
    let by_id = |id| {
        spans.by_id(id).unwrap_or_else(|| {
            spans.fail(
                &format!(
                    "{}'s \"process message\" of a record with baggage never ended",
                    library::SERVICE
                ),
                BAD,
            )
        })
    };
    let first = by_id(singles[0]);
    if first.attribute(ROOM).map(|v| v.as_str().into_owned()) != Some("lab".into()) {
        spans.fail(
            &format!(
                "{}'s \"process message\" of a record with baggage {:?} lacks {ROOM}=\"lab\"; its \
                 attributes: {}",
                library::SERVICE,
                cases[0],
                first.attribute_list()
            ),
            READ,
        );
    }
    for (i, id) in singles.iter().enumerate() {
        let span = by_id(*id);
        no_unlisted_baggage(&span);
        let linked = span
            .data()
            .span
            .links
            .iter()
            .any(|l| l.span_context.trace_id().to_string() == trace_ids[i]);
        if !linked {
            spans.fail(
                &format!(
                    "{}'s \"process message\" of the record whose baggage was {} lost its link \
                     to the record's traceparent",
                    library::SERVICE,
                    describe(&cases[i])
                ),
                BAD,
            );
        }
        if i > 0 && span.attribute(ROOM).is_some() {
            spans.fail(
                &format!(
                    "{}'s \"process message\" took {ROOM} from a baggage header that is {}: \
                     such a header is dropped whole",
                    library::SERVICE,
                    describe(&cases[i])
                ),
                BAD,
            );
        }
    }
    let batch = by_id(batch);
    for link in batch.data().span.links.iter() {
        for kv in &link.attributes {
            if kv.key.as_str() != ROOM && is_baggage_key(kv.key.as_str()) {
                spans.fail(
                    &format!(
                        "{}'s \"process message\" of a batch has {} on a link: baggage that is \
                         not on the allow-list",
                        library::SERVICE,
                        kv.key
                    ),
                    ALLOW,
                );
            }
        }
    }
    let first_link_room = batch.data().span.links.iter().find_map(|l| {
        (l.span_context.trace_id().to_string() == trace_ids[0])
            .then(|| {
                l.attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == ROOM)
                    .map(|kv| kv.value.as_str().into_owned())
            })
            .flatten()
    });
    if first_link_room.as_deref() != Some("lab") {
        spans.fail(
            &format!(
                "{}'s \"process message\" of a batch has no {ROOM}=\"lab\" on the link to the \
                 record that carried it",
                library::SERVICE
            ),
            ALLOW,
        );
    }
}

/// The attributes the test's baggage would give a span that copied it wholesale.
fn is_baggage_key(key: &str) -> bool {
    let numbered = key.len() <= 3 && key.starts_with('k');
    key == "user.email" || key == "session.token" || key == "padding" || numbered
}

fn no_unlisted_baggage(span: &SpanRef<'_>) {
    for kv in &span.data().span.attributes {
        if is_baggage_key(kv.key.as_str()) {
            span.spans().fail(
                &format!(
                    "{}'s \"process message\" has the attribute {}: baggage that is not on the \
                     allow-list",
                    library::SERVICE,
                    kv.key
                ),
                ALLOW,
            );
        }
    }
}

fn describe(baggage: &str) -> String {
    if baggage.len() > 8192 {
        format!("{} bytes long", baggage.len())
    } else if baggage.split(',').count() > 64 {
        format!("{} entries long", baggage.split(',').count())
    } else {
        format!("malformed ({baggage:?})")
    }
}

/// A message for the library test, in a room of its own.
fn message(text: &str) -> Message {
    Message::accept(NewMessage {
        author: "baggage-check".to_owned(),
        room: "baggage".to_owned(),
        message: text.to_owned(),
    })
}

fn has_id(span: &SpanRef<'_>, m: &Message) -> bool {
    span.attribute("messaging.message.id")
        .is_some_and(|id| id.as_str() == m.id.as_str())
}

/// giphy-service's process span of `m`.
fn giphy_span<'a>(spans: &'a Spans, m: &Message) -> Option<SpanRef<'a>> {
    spans
        .every("giphy-service", "process message")
        .into_iter()
        .find(|s| has_id(s, m))
}

/// The room on storage-service's link to `m`, once a batch holding `m` was recorded (`None`
/// before, `Some(None)` for a link without it).
fn stored_link(spans: &Spans, m: &Message) -> Option<Option<String>> {
    spans
        .every("storage-service", "process message")
        .iter()
        .flat_map(|s| s.data().span.links.iter())
        .find(|link| {
            link.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "messaging.message.id" && kv.value.as_str() == m.id)
        })
        .map(|link| {
            link.attributes
                .iter()
                .find(|kv| kv.key.as_str() == ROOM)
                .map(|kv| kv.value.as_str().into_owned())
        })
}

/// Runs `check` with the Kafka of a running app, and stops the app cleanly whatever happens in
/// `check` (as in step 09's library check).
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
