//! Step 09's contract: the Kafka instrumentation is a library of its own. Its spans carry its
//! own instrumentation scope, its producer keeps the caller's headers and gives a record one
//! `traceparent`, the send span's own, and the services no longer make messaging spans or touch
//! the record headers themselves.
//!
//! The library's types belong to the step's crate, which this crate cannot name, so a step's
//! tests drive the library themselves and hand what they saw to these functions: the spans of a
//! provider of their own ([`provider`]), the headers of a record as Kafka keeps them
//! ([`with_records`]), the step's source directory.

use std::path::Path;
use std::time::Duration;

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{BorrowedMessage, Headers as _};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use talk::kafka::{Kafka, TOPIC};
use talk::telemetry::SpanLog;

use crate::finding::Hint;
use crate::trace::About;
use crate::{PATIENCE, SpanRef, Spans};

/// The `service.name` of the provider that a step's library tests make spans with.
pub const SERVICE: &str = "library-check";

/// A tracer provider of its own for a library test, named [`SERVICE`], and the log its spans
/// end up in (read them with `Spans::new(log.spans())`).
pub fn provider() -> (SdkTracerProvider, SpanLog) {
    let log = SpanLog::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(SERVICE).build())
        .with_span_processor(log.processor())
        .build();
    (provider, log)
}

/// Reads the records at `positions` (partition, offset) of the topic `message` back from Kafka,
/// with a consumer of no group, and hands them to `f` in that order. Panics if one does not
/// come within [`PATIENCE`].
pub fn with_records<R>(
    kafka: &Kafka,
    positions: &[(i32, i64)],
    f: impl FnOnce(&[BorrowedMessage<'_>]) -> R,
) -> R {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", "library-check")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a Kafka consumer for the check");
    let mut assignment = TopicPartitionList::new();
    for (partition, offset) in positions {
        // The earliest wanted offset of each partition: the consumer reads on from there.
        let earliest = positions
            .iter()
            .filter(|(p, _)| p == partition)
            .map(|(_, o)| *o)
            .min()
            .unwrap_or(*offset);
        if assignment.find_partition(TOPIC, *partition).is_none() {
            assignment
                .add_partition_offset(TOPIC, *partition, Offset::Offset(earliest))
                .expect("a valid offset");
        }
    }
    consumer.assign(&assignment).expect("assigning partitions");
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut found: Vec<Option<BorrowedMessage<'_>>> = positions.iter().map(|_| None).collect();
    while found.iter().any(Option::is_none) {
        assert!(
            std::time::Instant::now() < deadline,
            "the check could not read its records back from Kafka within {PATIENCE:?}"
        );
        let Some(Ok(record)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let at = (record.partition(), record.offset());
        if let Some(index) = positions.iter().position(|p| *p == at) {
            found[index] = Some(record);
        }
    }
    let records: Vec<BorrowedMessage<'_>> = found.into_iter().map(Option::unwrap).collect();
    f(&records)
}

/// The headers of `record`, as (key, value as text) pairs, in their order.
pub fn headers(record: &BorrowedMessage<'_>) -> Vec<(String, String)> {
    let Some(headers) = record.headers() else {
        return Vec::new();
    };
    headers
        .iter()
        .map(|h| {
            let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
            (h.key.to_owned(), value.into_owned())
        })
        .collect()
}

const SCOPE: Hint = Hint::with_code(
    "the library's instrumentation scope",
    "The library's spans come from a tracer of its own, asked of the service's provider with \
     an instrumentation scope: the library's name, its version and the semantic conventions' \
     schema URL. A `tracing` span, or a tracer named after the service, carries the app's \
     scope instead. In kafka_tracing.rs, KafkaTracing::new, and every span of the module \
     started from that tracer.",
    "provider.tracer_with_scope(InstrumentationScope::builder(SCOPE_NAME)\
     .with_version(SCOPE_VERSION).with_schema_url(SCHEMA_URL).build())",
);

/// Expects `span`, made by the library under test, to carry the library's scope: `name`,
/// `version` and a schema URL.
#[track_caller]
pub fn has_the_library_scope(span: &SpanRef<'_>, name: &str, version: &str) {
    expect_scope(span, name, version, "scope", SCOPE);
}

const SERVICE_SCOPE: Hint = Hint::with_code(
    "library instrumentation",
    "This span of the app does not come from the library: the service still makes it itself \
     (step 08's messaging.rs, or a span of its own), so it carries the service's scope. Make a \
     KafkaTracing from the service's own provider where the service starts, and take the \
     producer and the process spans from it.",
    "let kafka = KafkaTracing::new(&provider); then kafka.producer(service.producer.clone()) \
     and kafka.consumer(service.name, service.consumer_trace)",
);

/// Expects `span`, a Kafka span of the running app, to come from the library: the library's
/// scope, `name` and `version`. A span with the service's scope means the service still makes
/// it itself, which is the services' task, not the library's.
#[track_caller]
pub fn comes_from_the_library(span: &SpanRef<'_>, name: &str, version: &str) {
    expect_scope(span, name, version, "library", SERVICE_SCOPE);
}

#[track_caller]
fn expect_scope(span: &SpanRef<'_>, name: &str, version: &str, aspect: &'static str, hint: Hint) {
    let scope = &span.data().span.instrumentation_scope;
    let found = format!(
        "scope {:?}, version {:?}, schema URL {:?}",
        scope.name(),
        scope.version().unwrap_or("none"),
        scope.schema_url().unwrap_or("none")
    );
    if scope.name() != name || scope.version() != Some(version) || scope.schema_url().is_none() {
        let data = span.data();
        span.spans().fail_about(
            About {
                aspect,
                span: Some(&data.span.name),
                service: Some(&data.service),
                concept: "the library's instrumentation scope",
            },
            &format!(
                "{} was made under {found}; the library's spans carry the library's scope: \
                 {name:?}, version {version:?}, with the semantic conventions' schema URL",
                span.label()
            ),
            hint,
        );
    }
}

const HEADERS: Hint = Hint::with_code(
    "the caller's headers",
    "The producer wrapper adds the trace context to the record's headers: it keeps every \
     header the caller set, and only the propagator's own fields (traceparent, tracestate) \
     are replaced, not added a second time. In kafka_tracing.rs, the function that builds the \
     record's headers: start from the caller's headers, leave out the propagator's fields, \
     then inject.",
    "for each header of record.headers, keep it unless propagator.fields() names its key; \
     then inject_context(&cx, &mut RecordHeaderInjector(&mut kept))",
);

const INJECT: Hint = Hint::with_code(
    "inject the send span's context",
    "A record carries the context of the span that sent it: the consumers link to that span. \
     Inject the context that holds the new send span, after the span is started, not the \
     context that was current before it (that is the caller's span). In kafka_tracing.rs, \
     TracedProducer::send.",
    "let cx = Context::current().with_span(span); then inject &cx into the record's headers",
);

/// `key=value, …`, for findings.
fn listed(headers: &[(String, String)]) -> String {
    let list: Vec<String> = headers.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    list.join(", ")
}

/// The values of the headers named `key`, in order.
fn values<'h>(headers: &'h [(String, String)], key: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Fails about the headers of the record that `send` sent.
#[track_caller]
fn fail_headers(send: &SpanRef<'_>, what: &str, hint: Hint) -> ! {
    let data = send.data();
    send.spans().fail_about(
        About {
            aspect: "headers",
            span: Some(&data.span.name),
            service: Some(&data.service),
            concept: "the record's headers",
        },
        &format!("{}: {what}", send.label()),
        hint,
    )
}

/// Expects the headers of a record that `send` sent with the header `user_key` = `user_value`
/// and a stale `traceparent` and `tracestate`: the caller's header kept, and one `traceparent`
/// and one `tracestate` at most.
#[track_caller]
pub fn keep_the_callers_header(
    send: &SpanRef<'_>,
    headers: &[(String, String)],
    user_key: &str,
    user_value: &str,
) {
    let list = listed(headers);
    if values(headers, user_key) != [user_value] {
        fail_headers(
            send,
            &format!(
                "the record was sent with the header {user_key}={user_value:?}, and Kafka \
                 holds these headers: {list}. The caller's own header is lost or changed"
            ),
            HEADERS,
        );
    }
    for key in ["traceparent", "tracestate"] {
        let found = values(headers, key).len();
        if found > 1 {
            fail_headers(
                send,
                &format!(
                    "the record holds {found} {key} headers ({list}). It was sent with a stale \
                     one, which the library must replace, not add to: a consumer reads the first"
                ),
                HEADERS,
            );
        }
    }
}

/// Expects the headers of a record that `send` sent to carry `send`'s own context: its
/// `traceparent` names `send`, not the span that was current before it.
#[track_caller]
pub fn carry_the_send_span(send: &SpanRef<'_>, headers: &[(String, String)]) {
    let Some(traceparent) = values(headers, "traceparent").first().copied() else {
        fail_headers(
            send,
            &format!(
                "the record holds no traceparent (its headers: {})",
                listed(headers)
            ),
            INJECT,
        );
    };
    let span_id = traceparent.split('-').nth(2).unwrap_or("");
    if span_id != send.span_id().to_string() {
        let named = SpanId::from_hex(span_id)
            .ok()
            .and_then(|id| send.spans().by_id(id))
            .map_or_else(
                || format!("span {span_id:?}, not a span of this send"),
                |span| span.label(),
            );
        fail_headers(
            send,
            &format!(
                "the record's traceparent names {named}, not the send span ({})",
                send.span_id()
            ),
            INJECT,
        );
    }
}

/// What a service's own file must no longer hold from step 09 on: the Kafka side of tracing,
/// which is the library's. Each is (what it shows, the words that give it away). Comments are
/// left out before looking.
const THE_LIBRARYS: &[(&str, &[&str])] = &[
    (
        "still uses step 08's messaging spans (messaging.rs), which the library replaces",
        &["messaging::"],
    ),
    (
        "reads or writes the trace context in the record headers",
        &[
            "RecordHeaderInjector",
            "RecordHeaderExtractor",
            "OwnedHeaders",
            "extract_parent",
        ],
    ),
    (
        "builds a messaging span: a send or process span, or its messaging.* attributes",
        &[
            "MESSAGING_",
            "\"messaging.",
            "\"producer\"",
            "\"consumer\"",
            "SpanKind::Producer",
            "SpanKind::Consumer",
            "process_span",
            "batch_span",
        ],
    ),
];

const SERVICES: &[(&str, &str, &str)] = &[
    ("chat-api", "send message", "chat_api.rs"),
    ("giphy-service", "process message", "giphy.rs"),
    ("storage-service", "process message", "storage.rs"),
];

/// Expects the three services' files under `src` to leave the Kafka side of tracing to the
/// library, which lives in `library` (a file name under `src`): no header carrier, no messaging
/// span, no messaging attribute of their own, and a use of the library.
#[track_caller]
pub fn services_leave_kafka_to_the_library(src: &Path, library: &str) {
    let module = library.trim_end_matches(".rs");
    for (service, span, file) in SERVICES.iter().copied() {
        let path = src.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        let code = without_comments(&text);
        for (what, words) in THE_LIBRARYS.iter().copied() {
            if let Some((line, word)) = find_any(&code, words) {
                Spans::new(Vec::new()).fail_about(
                    about(service, span),
                    &format!(
                        "{service}'s \"{span}\" is still {service}'s own work: src/{file}, line \
                         {line}, {what} ({word})"
                    ),
                    Hint::new(
                        "library instrumentation",
                        "From step 09, the Kafka side of tracing is the library's: the send and \
                         process spans, their messaging attributes and the trace context in the \
                         record headers. A service keeps only the spans that are its own, and \
                         asks the library for the rest: its traced producer for a send, its \
                         traced consumer for a process span.",
                    ),
                );
            }
        }
        if !code.iter().any(|line| line.contains(module)) {
            Spans::new(Vec::new()).fail_about(
                about(service, span),
                &format!(
                    "{service}'s \"{span}\" does not come from the library: src/{file} never \
                     names {module}"
                ),
                Hint::new(
                    "library instrumentation",
                    "Each service makes its Kafka spans through the library: a KafkaTracing \
                     made from the service's own provider gives its traced producer and its \
                     traced consumer.",
                ),
            );
        }
    }
}

/// What a finding of the scan is about: a service's Kafka span, still its own work.
fn about<'a>(service: &'a str, span: &'a str) -> About<'a> {
    About {
        aspect: "library",
        span: Some(span),
        service: Some(service),
        concept: "library instrumentation",
    }
}

/// `text` with `//` comments blanked, line by line (lines are kept, so numbers still hold). A
/// `//` inside a string literal ends the line early too: good enough for what is looked for.
fn without_comments(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => line[..at].to_owned(),
            None => line.to_owned(),
        })
        .collect()
}

/// The first line (1-based) holding one of `words`, and the word.
fn find_any<'w>(lines: &[String], words: &[&'w str]) -> Option<(usize, &'w str)> {
    lines.iter().enumerate().find_map(|(index, line)| {
        words
            .iter()
            .find(|word| line.contains(*word))
            .map(|word| (index + 1, *word))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_left_out_and_lines_counted_from_one() {
        let code = without_comments(
            "use a;\n// MESSAGING_SYSTEM in a comment\nlet x = MESSAGING_SYSTEM; // here\n",
        );
        assert_eq!(find_any(&code, &["MESSAGING_"]), Some((3, "MESSAGING_")));
        assert_eq!(find_any(&code, &["comment"]), None);
    }
}
