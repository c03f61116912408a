//! The semantic conventions that every span of every step is held to, whatever a test looked
//! at: [`hold`] runs over all the spans a test's app made, when the test stops it.
//!
//! A check that only looked at the spans its test was about would teach whatever the other
//! spans do as the rule. These are the rules of OpenTelemetry's trace API and semantic
//! conventions (v1.44) that the workbook's spans fall under:
//!
//! - the trace API: instrumentation leaves a span's status unset when it worked, never `Ok`;
//! - "Recording errors": a failed span has `error.type`, and its status description does not
//!   repeat the status code or `error.type`;
//! - HTTP: a SERVER span has `url.path` and `url.scheme`, and one that answered 5xx is an Error
//!   whose `error.type` is the status code; a CLIENT span has `url.full`, `server.address` and
//!   `server.port`; a secret in `url.full`'s or `url.query`'s query is `REDACTED`;
//! - Kafka: a record key with no canonical string form (not UTF-8) is left out, not decoded
//!   lossily into a different string.

use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status};

use crate::finding::Hint;
use crate::trace::{About, SpanRef, Spans};

/// The query parameter of the Giphy search that holds the API key.
const API_KEY_PARAMETER: &str = "api_key";

/// Holds every span in `spans` to the conventions above. Fails at the first span that breaks
/// one, naming the convention.
#[track_caller]
pub fn hold(spans: &Spans) {
    for span in spans.all() {
        let Some(span) = spans.by_id(span.span.span_context.span_id()) else {
            continue;
        };
        status(&span);
        kafka_key(&span);
        if span.attribute("http.request.method").is_some() {
            match span.data().span.span_kind {
                SpanKind::Server => http_server(&span),
                SpanKind::Client => http_client(&span),
                _ => {}
            }
        }
    }
}

/// No `Ok`; an Error has `error.type`, and a description that repeats neither the status code
/// nor `error.type`.
#[track_caller]
fn status(span: &SpanRef<'_>) {
    let description = match &span.data().span.status {
        Status::Unset => return,
        Status::Ok => fail(
            span,
            "status",
            &format!("{} has status Ok", span.label()),
            Hint::new(
                "instrumentation should not set status Ok",
                "The trace API leaves Ok to the application's own judgement: instrumentation \
                 leaves the status unset when the work succeeded, and sets only Error. Find \
                 where this span's status is set.",
            ),
        ),
        Status::Error { description } => description.to_string(),
    };
    let Some(error_type) = span
        .attribute("error.type")
        .map(|v| v.as_str().into_owned())
    else {
        fail(
            span,
            "attribute",
            &format!(
                "{} is an Error but has no attribute error.type; its attributes: {}",
                span.label(),
                span.attribute_list()
            ),
            Hint::new(
                "semconv recording errors: a failed span has error.type",
                "The conventions ask for error.type on every span whose operation failed: a \
                 short, low-cardinality name of the kind of failure (an HTTP status code as \
                 text, an error code, or the error's kind). The failing error's type in talk \
                 names one. Set it where this span's status becomes Error.",
            ),
        );
    };
    let code = span
        .attribute("http.response.status_code")
        .map(|v| v.as_str().into_owned());
    let repeats_code = code
        .as_deref()
        .is_some_and(|code| description.contains(code));
    let repeats_type = !description.is_empty() && description == error_type;
    if repeats_code || repeats_type {
        let repeated = if repeats_code {
            format!("the status code {}", code.unwrap_or_default())
        } else {
            format!("error.type ({error_type})")
        };
        fail(
            span,
            "status",
            &format!(
                "{}'s status description {description:?} repeats {repeated}",
                span.label()
            ),
            Hint::new(
                "semconv recording errors: the description does not repeat the status code",
                "The status code and error.type already say what kind of failure it was. The \
                 description is for what they cannot say, and when the status code explains \
                 it all (an HTTP error answer), the HTTP conventions ask for no description \
                 at all. The Giphy error's type in talk says which description to give.",
            ),
        );
    }
}

/// No `messaging.kafka.message.key` that a lossy decoding made: the replacement character
/// U+FFFD stands where bytes that are not UTF-8 were, so the key is a different string.
#[track_caller]
fn kafka_key(span: &SpanRef<'_>) {
    let Some(key) = span.attribute("messaging.kafka.message.key") else {
        return;
    };
    if key.as_str().contains('\u{FFFD}') {
        fail(
            span,
            "attribute",
            &format!(
                "{}'s messaging.kafka.message.key is {key}, a key that was not UTF-8, decoded \
                 lossily",
                span.label()
            ),
            Hint::new(
                "semconv Kafka: a key with no canonical string form is left out",
                "The Kafka conventions record the key as a string only when it has one. A key \
                 that is not UTF-8 becomes another string when decoded lossily, so leave the \
                 attribute out for it. Where the process span's attributes are made, in \
                 messaging.rs.",
            ),
        );
    }
}

/// A SERVER span's Required attributes, and the Error of a 5xx answer.
#[track_caller]
fn http_server(span: &SpanRef<'_>) {
    for (key, what) in [
        (
            "url.path",
            "semconv HTTP: url.path is Required on a server span",
        ),
        (
            "url.scheme",
            "semconv HTTP: url.scheme is Required on a server span",
        ),
    ] {
        if span.attribute(key).is_none() {
            missing(
                span,
                key,
                Hint::new(
                    what,
                    "The HTTP server span conventions require the request's path (without \
                     its query) and its scheme (chat-api serves plain HTTP), next to the \
                     method. In chat-api's trace_request middleware (chat_api.rs), where the \
                     SERVER span starts.",
                ),
            );
        }
    }
    let query = span
        .attribute("url.query")
        .map(|v| v.as_str().into_owned())
        .unwrap_or_default();
    if carries_secret(&query) {
        fail(
            span,
            "attribute",
            &format!(
                "{}'s url.query carries the API key's value: {query}",
                span.label()
            ),
            Hint::new(
                "semconv HTTP: a secret in url.query is REDACTED",
                "The HTTP conventions ask for a sensitive query value to be replaced by \
                 REDACTED, keeping its name: a span goes to every backend the traces are \
                 exported to. Where the SERVER span's query attribute is set.",
            ),
        );
    }
    let Some(Value::I64(code)) = span.attribute("http.response.status_code") else {
        return;
    };
    if *code >= 500 {
        let failed = matches!(span.data().span.status, Status::Error { .. });
        let error_type = span
            .attribute("error.type")
            .map(|v| v.as_str().into_owned());
        if !failed || error_type.as_deref() != Some(code.to_string().as_str()) {
            fail(
                span,
                "status",
                &format!(
                    "{} answered {code}, but its status is {:?} and its error.type {}",
                    span.label(),
                    span.data().span.status,
                    error_type.as_deref().unwrap_or("is missing")
                ),
                Hint::new(
                    "semconv HTTP: a server span that answered 5xx is an Error with error.type",
                    "For a server, a 5xx answer is its own failure: the status is Error, and \
                     error.type is the status code, as text. In chat-api's trace_request \
                     middleware (chat_api.rs).",
                ),
            );
        }
    }
}

/// A CLIENT span's Required attributes, and no secret in `url.full`.
#[track_caller]
fn http_client(span: &SpanRef<'_>) {
    let hint = |concept| {
        Hint::new(
            concept,
            "The HTTP client span conventions require the method, the full URL, and the \
             server's address and port. The Giphy client (talk::giphy::Client) gives the \
             address, the port and the URL with the API key redacted; in giphy.rs, \
             Giphy::search.",
        )
    };
    for (key, concept) in [
        (
            "url.full",
            "semconv HTTP: url.full is Required on a client span",
        ),
        (
            "server.address",
            "semconv HTTP: server.address is Required on a client span",
        ),
        (
            "server.port",
            "semconv HTTP: server.port is Required on a client span",
        ),
    ] {
        if span.attribute(key).is_none() {
            missing(span, key, hint(concept));
        }
    }
    if !matches!(span.attribute("server.port"), Some(Value::I64(_))) {
        fail(
            span,
            "attribute",
            &format!(
                "{}'s server.port is {:?}; the conventions make it an integer",
                span.label(),
                span.attribute("server.port")
            ),
            hint("semconv HTTP: server.port is an integer"),
        );
    }
    let url = span
        .attribute("url.full")
        .map(|v| v.as_str().into_owned())
        .unwrap_or_default();
    let query = url.split_once('?').map_or("", |(_, query)| query);
    if carries_secret(query) {
        fail(
            span,
            "attribute",
            &format!(
                "{}'s url.full carries the API key's value: {url}",
                span.label()
            ),
            hint("semconv HTTP: a secret in url.full's query is REDACTED"),
        );
    }
}

/// Whether a query string holds the API key's value rather than `REDACTED`.
fn carries_secret(query: &str) -> bool {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .any(|(name, value)| name == API_KEY_PARAMETER && value != "REDACTED")
}

#[track_caller]
fn missing(span: &SpanRef<'_>, key: &str, hint: Hint) -> ! {
    fail(
        span,
        "attribute",
        &format!(
            "{} has no attribute {key}; its attributes: {}",
            span.label(),
            span.attribute_list()
        ),
        hint,
    )
}

#[track_caller]
fn fail(span: &SpanRef<'_>, aspect: &'static str, what: &str, hint: Hint) -> ! {
    let data = span.data();
    let about = About {
        aspect,
        span: Some(&data.span.name),
        service: Some(&data.service),
        concept: "the semantic conventions",
    };
    span.spans().fail_about(about, what, hint)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use traces::FinishedSpan;

    use super::hold;
    use crate::Spans;

    fn span(name: &str, id: u64, kind: SpanKind, attributes: Vec<KeyValue>) -> FinishedSpan {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        FinishedSpan {
            service: "test".to_owned(),
            span: SpanData {
                span_context: SpanContext::new(
                    TraceId::from(1),
                    SpanId::from(id),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: SpanId::INVALID,
                parent_span_is_remote: false,
                span_kind: kind,
                name: name.to_owned().into(),
                start_time: start,
                end_time: start + Duration::from_millis(5),
                attributes,
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: InstrumentationScope::builder("test").build(),
            },
        }
    }

    /// A server span that answered 503 and a Giphy GET that got a 500, as the solutions make
    /// them.
    fn good() -> Vec<FinishedSpan> {
        let mut server = span(
            "POST /message",
            1,
            SpanKind::Server,
            vec![
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("url.path", "/message"),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("http.response.status_code", 503),
                KeyValue::new("error.type", "503"),
            ],
        );
        server.span.status = Status::error("");
        let mut get = span(
            "GET",
            2,
            SpanKind::Client,
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("server.address", "127.0.0.1"),
                KeyValue::new("server.port", 8080),
                KeyValue::new(
                    "url.full",
                    "http://127.0.0.1:8080/v1/gifs/search?api_key=REDACTED&q=cats",
                ),
                KeyValue::new("http.response.status_code", 500),
                KeyValue::new("error.type", "500"),
            ],
        );
        get.span.status = Status::error("");
        let process = span(
            "process message",
            3,
            SpanKind::Consumer,
            vec![KeyValue::new("messaging.kafka.message.key", "lobby")],
        );
        vec![server, get, process]
    }

    /// A way to break the good spans.
    type Break = fn(&mut Vec<FinishedSpan>);

    /// The message `hold` fails with, or `None` when it passes.
    fn failure(spans: Vec<FinishedSpan>) -> Option<String> {
        let spans = Spans::new(spans);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hold(&spans)));
        result
            .err()
            .map(|panic| panic.downcast_ref::<String>().cloned().unwrap_or_default())
    }

    #[test]
    fn spans_that_keep_the_conventions_pass() {
        assert_eq!(failure(good()), None);
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases: [(&str, Break); 9] = [
            ("instrumentation should not set status Ok", |s| {
                s[2].span.status = Status::Ok
            }),
            ("a failed span has error.type", |s| {
                s[1].span
                    .attributes
                    .retain(|kv| kv.key.as_str() != "error.type")
            }),
            ("does not repeat the status code", |s| {
                s[1].span.status = Status::error("Giphy answered HTTP 500")
            }),
            ("url.path is Required on a server span", |s| {
                s[0].span
                    .attributes
                    .retain(|kv| kv.key.as_str() != "url.path")
            }),
            ("a server span that answered 5xx", |s| {
                s[0].span
                    .attributes
                    .retain(|kv| kv.key.as_str() != "error.type");
                s[0].span.status = Status::Unset;
            }),
            ("server.port is Required on a client span", |s| {
                s[1].span
                    .attributes
                    .retain(|kv| kv.key.as_str() != "server.port")
            }),
            ("a secret in url.full's query is REDACTED", |s| {
                s[1].span
                    .attributes
                    .retain(|kv| kv.key.as_str() != "url.full");
                s[1].span.attributes.push(KeyValue::new(
                    "url.full",
                    "http://127.0.0.1:8080/v1/gifs/search?api_key=s3cret&q=cats",
                ))
            }),
            ("a secret in url.query is REDACTED", |s| {
                s[0].span
                    .attributes
                    .push(KeyValue::new("url.query", "api_key=s3cret&q=cats"))
            }),
            ("a key with no canonical string form is left out", |s| {
                s[2].span.attributes = vec![KeyValue::new(
                    "messaging.kafka.message.key",
                    String::from_utf8_lossy(&[0x6c, 0xff, 0x62]).into_owned(),
                )]
            }),
        ];
        for (rule, break_it) in cases {
            let mut spans = good();
            break_it(&mut spans);
            let failed = failure(spans).unwrap_or_else(|| panic!("{rule:?} was not caught"));
            assert!(failed.contains(rule), "{rule:?} not named in: {failed}");
        }
    }
}
