//! The decoy: a context that the checks make current around the consumers, standing for an
//! unrelated context that leaked into the consumer's task from elsewhere in the process. A
//! consumer that takes a parent or a link from the current context, instead of from the
//! record, gets the decoy, and these helpers say so.

use opentelemetry::trace::Link;

use crate::finding::{Hint, hint, source_file};
use crate::trace::About;
use crate::{SpanRef, Spans};

/// Is this link's target the decoy context that the checks make current around the consumers?
pub(crate) fn is_decoy_link(link: &Link) -> bool {
    link.span_context.span_id().to_string() == crate::DECOY_SPAN_ID
}

/// What the decoy is, for a finding that names it.
pub(crate) const DECOY: &str = "the decoy: not a span of this app, but a context that the check \
    made current around the consumer, to catch a link or parent taken from it";

/// Fails when `span` links to the decoy: the link was taken from the current context, not from
/// the record. The hint fits a link given to the span builder and one added to the span.
#[track_caller]
pub(crate) fn has_no_decoy_link(spans: &Spans, span: &SpanRef<'_>) {
    let Some(link) = span.data().span.links.iter().find(|l| is_decoy_link(l)) else {
        return;
    };
    let data = span.data();
    let file = source_file(&data.service);
    let about = About {
        aspect: "link",
        span: Some(&data.span.name),
        service: Some(&data.service),
        concept: "span links",
    };
    spans.fail_about(
        about,
        &format!(
            "{} links to trace {}, span {}: {DECOY}",
            span.label(),
            link.span_context.trace_id(),
            link.span_context.span_id()
        ),
        Hint::from(format!(
            "A link names the record's creation context, which comes from the record's own \
             headers and nowhere else. This one came from the current context, which in a \
             consumer holds whatever the code around it left there. Extract the context from \
             the record onto an empty context, and link to the span context that it holds, \
             whether the link is given when the span starts or added to it after. In \
             messaging.rs, called from {file}."
        ))
        .code(hint(
            "let creation = TraceContextPropagator::new().extract_with_context(&Context::new(), \
             &RecordHeaderExtractor(..)); then Link::with_context(creation.span().span_context().clone()), \
             not Context::current()'s span",
            "let creation = extract_parent(record); then \
             span.add_link(creation.span().span_context().clone()), not the context of \
             Span::current() or Context::current()",
        ))
        .or_concept("span links"),
    );
}
