//! Which consumer broke the trace, when the captured spans can tell.
//!
//! A trace crosses Kafka in two moves: the sender injects its send span's context into the
//! record's headers, and each consumer extracts it before starting `process message`. When a
//! consumer skips its move, the failure often shows up far from it. In step 04, a
//! storage-service that does not extract leaves giphy-service's re-publish without a child in
//! storage-service, and that reads as if giphy-service had not injected. Yet the spans say who
//! is to blame: giphy-service's own `process message` of the same re-publish *is* a child of
//! its send span, so the context was in the headers.
//!
//! [`Spans::fail`](crate::Spans::fail) asks [`culprit`] first (with the captured spans alone, so
//! that this module needs nothing of `trace`), and when the spans name a
//! consumer that ignores its records' context, that is the hint: it is the first thing to fix,
//! and the test's own hint, written for a consumer that does extract, may point elsewhere.

use opentelemetry::trace::SpanId;
use traces::FinishedSpan;

use crate::finding::Hint;
use crate::finding::hint;

/// The consumer that breaks the trace, and what to do about it.
pub(crate) struct Culprit<'a> {
    pub service: &'a str,
    /// What the finding is about: `trace` (the context a record carries) or `parent`.
    pub aspect: &'static str,
    /// The span whose parent is wrong.
    pub span: &'a str,
    pub hint: Hint,
}

/// The name of the span a consumer starts for a record.
const PROCESS: &str = "process message";
/// The name of the span a sender starts for a record.
const SEND: &str = "send message";

/// A hint naming the consumer that does not take its spans' parent from the record, if the
/// spans prove one: first a span whose parent is the check's decoy, then a consumer whose
/// `process message` spans all start new traces while another consumer continues its records'
/// traces.
pub(crate) fn culprit(spans: &[FinishedSpan]) -> Option<Culprit<'_>> {
    parent_from_current(spans).or_else(|| consumer_ignoring_headers(spans))
}

/// A span whose parent is the decoy that checks make current around the consumers: it was
/// started from `Context::current()`, which holds whatever context the code around the consumer
/// happened to leave there, not the record's.
///
/// The decoy stands for a leaked, unrelated context. It is not an outer span that processing
/// runs inside: the messaging conventions make such an ambient span the parent by default,
/// with the creation context as a link; Tracing Talk's consumers have none (chapter 05).
fn parent_from_current(spans: &[FinishedSpan]) -> Option<Culprit<'_>> {
    let span = spans.iter().find(|s| is_decoy(s.span.parent_span_id))?;
    let who = format!("{}'s {:?}", span.service, span.span.name);
    let file = source_file(&span.service);
    let decoy = "the decoy: a context that the check made current around the consumer, as an \
                 unrelated context leaked from elsewhere in the process would be, to catch a \
                 parent or a link taken from the current context";
    let hint = if span.span.name == PROCESS {
        Hint::from(format!(
            "The parent of {who} is {decoy}. A consumer takes the creation context from the \
             record's headers alone: extract it onto an empty context, never onto the current \
             one, and give the span that context. In {file}."
        ))
        .code(hint(
            "TraceContextPropagator::new().extract_with_context(&Context::new(), \
             &RecordHeaderExtractor(..)), not extract(..), which starts from Context::current()",
            "extract onto Context::new(), then span.set_parent(cx) before the span is first \
             entered",
        ))
    } else {
        let words = hint(
            format!(
                "The parent of {who} is {decoy}. Start it as a child of the record's \
                 \"process message\" span, from the context that holds that span, not from the \
                 current context. In {file}."
            ),
            format!(
                "The parent of {who} is {decoy}: the work that made it did not run inside the \
                 record's \"process message\" span. A future runs inside a span only when the \
                 span goes with the future itself; entering the span around the code that builds \
                 the future enters it only while the future is built. In {file}."
            ),
        );
        Hint::from(words)
            .code(hint(
                "start_with_context(&tracer, &cx), where cx holds the process span",
                "the_work(..).instrument(span), not span.in_scope(|| the_work(..))",
            ))
            .or_concept("the work inside its span")
    };
    let aspect = if span.span.name == PROCESS {
        "trace"
    } else {
        "parent"
    };
    Some(Culprit {
        service: &span.service,
        span: &span.span.name,
        aspect,
        hint: hint.or_concept("context from the record"),
    })
}

/// A consumer whose `process message` spans all start new traces, while another consumer's
/// continue the traces of the send spans that made their records: the records carry the
/// context, so the first consumer does not read it.
///
/// Only for spans without links (step 04, and any step before its links): a `process message`
/// with no parent is right for a batch (step 07) or in `--consumer-trace new` mode (step 05),
/// and those have links.
fn consumer_ignoring_headers(spans: &[FinishedSpan]) -> Option<Culprit<'_>> {
    if spans.iter().any(|s| !s.span.links.is_empty()) {
        return None;
    }
    let consumers = consumer_services(spans);
    let witness = consumers.iter().find(|c| continues_a_send(spans, c))?;
    let ignoring = consumers
        .iter()
        .find(|c| *c != witness && only_new_traces(spans, c))?;
    let file = source_file(ignoring);
    let hint = Hint::from(format!(
        "{ignoring}'s \"process message\" spans all start new traces, while {witness}'s \
         continue the trace of the send span that made their record: the records carry the \
         context, and {ignoring} does not read it. In {file}, extract the record's context from \
         its headers and make it the span's parent."
    ))
    .code(hint(
        "TraceContextPropagator::new().extract_with_context(&Context::new(), \
         &RecordHeaderExtractor(..)), then start \"process message\" with that context",
        "extract the context from the headers, then span.set_parent(..) before the span is \
         first entered",
    ));
    let service = spans
        .iter()
        .find(|s| s.service == *ignoring)
        .map(|s| s.service.as_str())?;
    Some(Culprit {
        service,
        aspect: "trace",
        span: PROCESS,
        hint: hint.or_concept("context from the record"),
    })
}

/// The services that made `process message` spans, in the order of their first one.
fn consumer_services(spans: &[FinishedSpan]) -> Vec<String> {
    let mut services: Vec<String> = Vec::new();
    for span in processes(spans, None) {
        if !services.contains(&span.service) {
            services.push(span.service.clone());
        }
    }
    services
}

/// Does one of `service`'s `process message` spans have a captured send span as its parent?
fn continues_a_send(spans: &[FinishedSpan], service: &str) -> bool {
    processes(spans, Some(service)).any(|process| {
        spans.iter().any(|parent| {
            parent.span.span_context.span_id() == process.span.parent_span_id
                && parent.span.name == SEND
        })
    })
}

/// Are all of `service`'s `process message` spans roots?
fn only_new_traces(spans: &[FinishedSpan], service: &str) -> bool {
    processes(spans, Some(service)).all(|process| process.span.parent_span_id == SpanId::INVALID)
}

/// The `process message` spans, of `service` or of every service.
fn processes<'a>(
    spans: &'a [FinishedSpan],
    service: Option<&'a str>,
) -> impl Iterator<Item = &'a FinishedSpan> + 'a {
    spans
        .iter()
        .filter(move |s| s.span.name == PROCESS && service.is_none_or(|name| s.service == name))
}

fn is_decoy(parent: SpanId) -> bool {
    parent.to_string() == crate::DECOY_SPAN_ID
}

/// Where a service's code lives in a step's crate, for the hint.
fn source_file(service: &str) -> String {
    match service {
        "storage-service" => "src/storage.rs".to_owned(),
        "giphy-service" => "src/giphy.rs".to_owned(),
        "chat-api" => "src/chat_api.rs".to_owned(),
        other => format!("{other}'s code"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{
        Link, SpanContext, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

    use super::*;

    /// A span of `service` named `name`, in trace `trace`, with `parent` (0 for none).
    fn span(service: &str, name: &str, trace: u128, id: u64, parent: u64) -> FinishedSpan {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        FinishedSpan {
            service: service.to_owned(),
            span: SpanData {
                span_context: SpanContext::new(
                    TraceId::from(trace),
                    SpanId::from(id),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: SpanId::from(parent),
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: name.to_owned().into(),
                start_time: start,
                end_time: start + Duration::from_millis(5),
                attributes: Vec::new(),
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: InstrumentationScope::builder("test").build(),
            },
        }
    }

    /// Step 04's `/giphy cats` journey, as it should be: chat-api's send (2) is the parent of
    /// both consumers' first `process message`, giphy-service's re-publish (6) of both second
    /// ones.
    fn giphy_journey() -> Vec<FinishedSpan> {
        vec![
            span("chat-api", "POST /message", 1, 1, 0),
            span("chat-api", SEND, 1, 2, 1),
            span("storage-service", PROCESS, 1, 3, 2),
            span("giphy-service", PROCESS, 1, 4, 2),
            span("giphy-service", "GET", 1, 5, 4),
            span("giphy-service", SEND, 1, 6, 4),
            span("storage-service", PROCESS, 1, 7, 6),
            span("giphy-service", PROCESS, 1, 8, 6),
        ]
    }

    /// The decoy span id as a number, for a span whose parent is the decoy.
    fn decoy() -> u64 {
        u64::from_str_radix(crate::DECOY_SPAN_ID, 16).unwrap()
    }

    #[test]
    fn a_journey_that_keeps_the_contract_has_no_culprit() {
        assert!(culprit(&giphy_journey()).is_none());
    }

    #[test]
    fn a_consumer_whose_parent_is_the_decoy_is_named() {
        let mut spans = giphy_journey();
        // storage-service started from Context::current(): the decoy.
        spans[2].span.parent_span_id = SpanId::from(decoy());
        spans[6].span.parent_span_id = SpanId::from(decoy());
        let culprit = culprit(&spans).expect("a culprit");
        assert_eq!(culprit.service, "storage-service");
        let hint = &culprit.hint.text;
        assert!(
            hint.starts_with(
                "The parent of storage-service's \"process message\" is the decoy: a context"
            ),
            "{hint}"
        );
        assert!(hint.contains("leaked"), "{hint}");
        assert!(hint.contains("In src/storage.rs"), "{hint}");
        // The words name the concept; the code waits for the last level of the hints.
        assert!(!hint.contains("extract_with_context"), "{hint}");
        let code = culprit.hint.code.as_deref().unwrap_or_default();
        assert!(
            code.contains("extract_with_context(&Context::new()"),
            "{code}"
        );
        assert!(!hint.contains("giphy"), "{hint}");
    }

    #[test]
    fn a_consumer_that_starts_new_traces_is_named_when_the_other_continues() {
        let mut spans = giphy_journey();
        // storage-service extracted onto nothing: both its process spans are roots.
        spans[2].span.parent_span_id = SpanId::INVALID;
        spans[6].span.parent_span_id = SpanId::INVALID;
        let culprit = culprit(&spans).expect("a culprit");
        assert_eq!(culprit.service, "storage-service");
        let hint = &culprit.hint.text;
        assert!(
            hint.starts_with(
                "storage-service's \"process message\" spans all start new traces, while \
                 giphy-service's continue"
            ),
            "{hint}"
        );
        assert!(hint.contains("In src/storage.rs"), "{hint}");
    }

    #[test]
    fn a_re_publish_without_context_has_no_consumer_to_blame() {
        let mut spans = giphy_journey();
        // giphy-service's re-publish did not inject: both consumers start a new trace for it,
        // and each continues chat-api's record. The test's own hint (about the re-publish)
        // stands.
        spans[6].span.parent_span_id = SpanId::INVALID;
        spans[7].span.parent_span_id = SpanId::INVALID;
        assert!(culprit(&spans).is_none());
    }

    #[test]
    fn consumers_that_link_or_never_continue_are_left_to_the_test() {
        // No consumer continues a send span (nothing was injected, or records without
        // headers): no witness that the records carry a context.
        let mut spans = giphy_journey();
        for process in [2, 3, 6, 7] {
            spans[process].span.parent_span_id = SpanId::INVALID;
        }
        assert!(culprit(&spans).is_none());

        // A batch span with no parent and a link per record (step 07) is right.
        let mut spans = giphy_journey();
        let send = spans[1].span.span_context.clone();
        spans[2].span.parent_span_id = SpanId::INVALID;
        spans[2].span.links.links.push(Link::with_context(send));
        assert!(culprit(&spans).is_none());
    }
}
