//! The consumers' sampler: it keeps a trace when its cause was kept, across the queue.
//!
//! chat-api decides at the edge, with the SDK's own sampler, which reads the standard
//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (say `parentbased_traceidratio` and
//! `0.1`). A consumer's `process message` span that has the send span as its parent (the
//! `same` mode) inherits that decision the usual way. But in `new` mode, and for every batch,
//! the process span is a root: a ratio sampler would decide again, on a trace id that has
//! nothing to do with the POST's, and keep the consumer's side of a different tenth of the
//! messages. The links say what caused the span, and the sampler sees them, if they are given
//! to the span builder (after the span has started, it is too late: the decision is made).

// TODO(10): import what the sampler needs as you write it: the trait that gives a context's
// span, and the type of a sampling decision. Chapter 10, task 1.
use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};
// END TODO(10)

/// Follows the parent when there is one; else records a span when any of its links points at
/// a sampled span; else, for a span with no cause at all, samples `ratio` of the trace ids.
#[derive(Clone, Debug)]
pub struct FollowLinks {
    /// The fallback for roots with no links (a record that came without a `traceparent`).
    ratio: Sampler,
}

impl FollowLinks {
    /// A sampler whose fallback keeps `ratio` (0.0 to 1.0) of the traces it starts.
    pub fn new(ratio: f64) -> FollowLinks {
        FollowLinks {
            ratio: Sampler::TraceIdRatioBased(ratio),
        }
    }

    /// The fallback ratio of `OTEL_TRACES_SAMPLER_ARG` when `OTEL_TRACES_SAMPLER` names a
    /// ratio sampler, as it does for chat-api; else 1.0, the SDK's default (keep everything).
    pub fn from_env() -> FollowLinks {
        let sampler = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
        let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
        let ratio = match (sampler.as_str(), arg) {
            ("traceidratio" | "parentbased_traceidratio", Some(arg)) => {
                arg.trim().parse().unwrap_or(1.0)
            }
            ("always_off" | "parentbased_always_off", _) => 0.0,
            _ => 1.0,
        };
        FollowLinks::new(ratio)
    }
}

// ANCHOR: should_sample
impl ShouldSample for FollowLinks {
    // TODO(10): decide whether a span is recorded, before it starts. Chapter 10, task 1.
    // - With a valid parent: the parent's decision (a trace is kept whole or not at all).
    // - Without one, with links: record when any linked span context is sampled, else drop.
    // - With neither: the configured ratio of the trace id (`self.ratio` decides that).
    // The trace state comes from the parent, if there is one.
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let _ = (&self.ratio, parent_context, trace_id, name, span_kind);
        let _ = (attributes, links);
        todo!("TODO(10): the sampler's decision: the parent's, else the links', else the ratio")
    }
    // END TODO(10)
}
// ANCHOR_END: should_sample

// TODO(10): a helper of your own for the sampler, if you want one, goes here. Chapter 10, task 1.
// END TODO(10)
