//! Step 10's check, first part: the consumers' sampler on its own, asked the questions the SDK
//! asks it when a span starts. No app, no Kafka: each answer is checked against what the
//! chapter says it must be.

use std::panic::AssertUnwindSafe;

use check::{Hint, Spans};
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};

// The step under test: this crate's own library.
use solution_10::sampling::FollowLinks;

const PARENT: Hint = Hint::new(
    "sampling with the parent",
    "FollowLinks::should_sample, in sampling.rs: a span with a valid parent keeps the parent's \
     decision, sampled or not, whatever its links and the ratio say. A trace is kept whole or \
     not at all.",
);
const LINKS: Hint = Hint::new(
    "sampling that follows the links",
    "FollowLinks::should_sample, in sampling.rs: a span without a parent but with links is \
     recorded when any linked span context is sampled, and dropped when none is. The ratio is \
     only for a span that has neither a parent nor a link.",
);
const EVERYTHING: Hint = Hint::new(
    "a sampler that keeps everything",
    "FollowLinks::should_sample, in sampling.rs, recorded every span it was asked about: one \
     whose parent was not sampled, one whose only link was not sampled, and one with neither at \
     ratio 0. Keeping everything is no sampling at all; each of those must be dropped.",
);
const RATIO: Hint = Hint::new(
    "the sampling ratio",
    "FollowLinks::should_sample, in sampling.rs: a span with neither a parent nor a link is \
     sampled by the configured ratio of its trace id, like the SDK's trace id ratio sampler. \
     Recording everything is not sampling.",
);

/// A remote span context, sampled or not, as a record's `traceparent` gives it.
fn remote(sampled: bool) -> SpanContext {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    SpanContext::new(
        TraceId::from(fastish_id()),
        SpanId::from(fastish_id() as u64),
        flags,
        true,
        TraceState::default(),
    )
}

/// A different non-zero id on each call.
fn fastish_id() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) | 1
}

/// What `sampler` decides for a CONSUMER span with `parent` (or none) and `links`.
fn decide(
    sampler: &FollowLinks,
    parent: Option<SpanContext>,
    links: &[SpanContext],
    trace_id: TraceId,
) -> SamplingDecision {
    let cx = match parent {
        Some(parent) => Context::new().with_remote_span_context(parent),
        None => Context::new(),
    };
    let links: Vec<Link> = links.iter().cloned().map(Link::with_context).collect();
    let attributes = [KeyValue::new("messaging.operation.type", "process")];
    // A todo!() still in the sampler is named as the part to write.
    check::panics::install();
    let asked = std::panic::catch_unwind(AssertUnwindSafe(|| {
        sampler.should_sample(
            Some(&cx),
            trace_id,
            "process message",
            &SpanKind::Consumer,
            &attributes,
            &links,
        )
    }));
    match asked {
        Ok(result) => result.decision,
        Err(panic) => {
            check::panics::fail_if_todo_reached();
            std::panic::resume_unwind(panic)
        }
    }
}

fn fail(what: &str, hint: &Hint) -> ! {
    Spans::new(Vec::new()).fail(what, hint)
}

fn recorded(decision: &SamplingDecision) -> bool {
    matches!(decision, SamplingDecision::RecordAndSample)
}

/// Fails first, and says so, when the sampler records whatever it is asked: every other
/// finding would only be a symptom of that.
fn not_keeping_everything() {
    let sampler = FollowLinks::new(0.0);
    let trace_id = TraceId::from(fastish_id());
    let unsampled_parent = decide(&sampler, Some(remote(false)), &[], trace_id);
    let unsampled_link = decide(&sampler, None, &[remote(false)], trace_id);
    let nothing = decide(&sampler, None, &[], trace_id);
    if [unsampled_parent, unsampled_link, nothing]
        .iter()
        .all(recorded)
    {
        fail(
            "the sampler recorded a span whose parent was not sampled, one whose only link was \
             not sampled, and one with neither at ratio 0",
            &EVERYTHING,
        );
    }
}

/// A child keeps its parent's decision, over the links and the ratio.
#[test]
fn a_child_keeps_its_parents_decision() {
    not_keeping_everything();
    let trace_id = TraceId::from(fastish_id());
    for (ratio, parent_sampled, links) in [
        (0.0, true, vec![]),
        (1.0, false, vec![]),
        (1.0, false, vec![remote(true)]),
        (0.0, true, vec![remote(false)]),
    ] {
        let decision = decide(
            &FollowLinks::new(ratio),
            Some(remote(parent_sampled)),
            &links,
            trace_id,
        );
        if recorded(&decision) != parent_sampled {
            fail(
                &format!(
                    "with a parent that is {} (ratio {ratio}, {} link(s)), the sampler said \
                     {decision:?}; a child must follow its parent",
                    if parent_sampled {
                        "sampled"
                    } else {
                        "not sampled"
                    },
                    links.len()
                ),
                &PARENT,
            );
        }
    }
}

/// A root with links is recorded when any linked context is sampled, whatever the ratio; it
/// is dropped when none is. Step 07's batch spans are such roots, with many links.
#[test]
fn a_root_with_links_follows_them() {
    not_keeping_everything();
    let cases = [
        // One message, sampled upstream, ratio 0: its consumer span must be kept.
        (0.0, vec![remote(true)], true),
        // One message, not sampled upstream, ratio 1: its consumer span must go.
        (1.0, vec![remote(false)], false),
        // A batch: one sampled message among unsampled ones keeps the batch span.
        (
            0.0,
            vec![remote(false), remote(false), remote(true), remote(false)],
            true,
        ),
        // A batch of unsampled messages only.
        (
            1.0,
            vec![remote(false), remote(false), remote(false)],
            false,
        ),
    ];
    for (ratio, links, expected) in cases {
        let sampled = links.iter().filter(|l| l.is_sampled()).count();
        let decision = decide(
            &FollowLinks::new(ratio),
            None,
            &links,
            TraceId::from(fastish_id()),
        );
        if recorded(&decision) != expected {
            fail(
                &format!(
                    "a span without a parent, with {} link(s) of which {sampled} sampled \
                     (ratio {ratio}): the sampler said {decision:?}, where the links say {}",
                    links.len(),
                    if expected { "keep it" } else { "drop it" }
                ),
                &LINKS,
            );
        }
    }
}

/// With neither a parent nor a link, the ratio decides, by the trace id: 0 keeps none, 1 keeps
/// all, 0.5 about half.
#[test]
fn a_root_without_links_samples_the_ratio() {
    not_keeping_everything();
    let ids: Vec<TraceId> = (0..1000).map(|_| TraceId::from(fastish_id())).collect();
    for (ratio, low, high) in [(0.0, 0, 0), (1.0, 1000, 1000), (0.5, 400, 600)] {
        let sampler = FollowLinks::new(ratio);
        let kept = ids
            .iter()
            .filter(|id| recorded(&decide(&sampler, None, &[], **id)))
            .count();
        if !(low..=high).contains(&kept) {
            fail(
                &format!(
                    "with ratio {ratio}, the sampler kept {kept} of 1000 spans that have no \
                     parent and no link; expected {low} to {high}"
                ),
                &RATIO,
            );
        }
    }
}
