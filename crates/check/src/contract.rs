//! The trace contracts of steps 05 to 07, as test bodies that any step can run with its own
//! `Step`. A step's `tests/` holds one `#[tokio::test]` per function, calling it; so step 08,
//! which makes the same traces another way, proves the same contracts with the same code.

pub mod batches;
pub mod follows_from;
pub mod library;
pub mod transform;

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::finding::Hint;
use crate::trace::About;
use crate::{Spans, TestApp};

// How a hint is said (raw OpenTelemetry or `tracing`) and where a service's code lives are the
// findings' business, and the decoy has a module of its own; the contracts use them from here.
pub(crate) use crate::decoy::{DECOY, has_no_decoy_link, is_decoy_link};
pub(crate) use crate::finding::{hint, source_file};
pub use crate::finding::{speak_library, speak_tracing};

/// Waits until each of `services` has made at least one span, so that a service whose spans
/// go nowhere is named for what it is, before a check waits for one part of its contract and
/// blames that part. A service that works (it stores, it answers) but makes no span at all has
/// no tracer behind its spans: from step 08 on, its futures carry no subscriber.
pub(crate) async fn each_made_spans(app: &TestApp, services: &[&str]) {
    let made = |spans: &Spans, service: &str| {
        spans
            .all()
            .iter()
            .any(|s| s.service == service && !made_by_the_store(s))
    };
    // The wait ends when every service has made a span, or when no new span has come for a
    // while: a little sooner than `wait_for_spans` would give up by itself, so that the
    // finding can name the silent service, as the task that is missing.
    let last_change = Cell::new((0, Instant::now()));
    let spans = app
        .wait_for_spans("a span from each service", silent(services[0]), |spans| {
            if services.iter().all(|service| made(spans, service)) {
                return true;
            }
            let (seen, since) = last_change.get();
            if spans.all().len() != seen {
                last_change.set((spans.all().len(), Instant::now()));
                return false;
            }
            since.elapsed() >= SILENT_AFTER
        })
        .await;
    let Some(service) = services.iter().find(|service| !made(&spans, service)) else {
        return;
    };
    if spans.all().iter().all(made_by_the_store) {
        let about = About {
            aspect: "span",
            span: None,
            service: None,
            concept: "spans that never came",
        };
        let what = if spans.all().is_empty() {
            "no service made any span at all".to_owned()
        } else {
            format!(
                "no service made a span of its own, only the store's (spans so far: {})",
                spans.summary()
            )
        };
        spans.fail_about(about, &what, no_spans());
    }
    let about = About {
        aspect: hint("span", "subscriber"),
        span: Some(if *service == "chat-api" {
            "POST /message"
        } else {
            "process message"
        }),
        service: Some(service),
        concept: "spans that never came",
    };
    spans.fail_about(
        about,
        &format!(
            "{service} made no span{} (spans so far: {})",
            if spans.all().iter().any(|s| s.service == *service) {
                " of its own, only the store's"
            } else {
                " at all"
            },
            spans.summary()
        ),
        silent(service),
    );
}

/// Is `span` one of the Redis spans that the store makes with OpenTelemetry's own API? From step
/// 08 on, those come whether or not the service's futures carry a subscriber, so they do not
/// tell that the service's own spans go somewhere.
fn made_by_the_store(span: &traces::FinishedSpan) -> bool {
    crate::finding::speaks_tracing()
        && span
            .span
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "db.system.name")
}

/// How long [`each_made_spans`] waits for a span after the last one came: a little less than
/// `wait_for_spans` waits before it gives up by itself, so that the finding is this one.
const SILENT_AFTER: Duration = Duration::from_millis(crate::QUIET.as_millis() as u64 * 3 / 4);

/// What to do when no service made any span.
fn no_spans() -> Hint {
    hint(
        Hint::new(
            "a tracer per service",
            "The services ran, but none of them made a span: each service makes its spans with \
             the tracer of its own provider (telemetry.rs, step 02).",
        ),
        Hint::with_code(
            "a subscriber per service",
            "The services ran, but none of them made a span: `tracing` hands a span to the \
             subscriber that is current where the span is made, and no service's futures carry \
             one yet. Each service needs a subscriber of its own (telemetry.rs, dispatch: \
             chapter 08, task 1), carried by the futures that run it (task 2).",
            "telemetry::dispatch: Dispatch::new(tracing_subscriber::registry().with(\
             tracing_opentelemetry::layer().with_tracer(provider.tracer(service))).with(\
             talk::logging::layer())); then .with_subscriber(dispatch) on each service's future",
        ),
    )
}

/// What to do about a service that made no span at all.
fn silent(service: &str) -> Hint {
    let file = source_file(service);
    let concept = hint("a tracer per service", "a subscriber per service");
    let text = hint(
        format!(
            "{service} made no span at all, though the others did: its spans go nowhere, or it \
             never starts one. Each service makes its spans with the tracer of its own provider \
             (telemetry.rs, step 02); look at how {file} starts its work."
        ),
        format!(
            "{service} ran, but made none of its spans: `tracing` hands a span to the \
             subscriber that is current where the span is made, and {service}'s futures carry \
             none. In {file}, run: the service's future carries the service's own subscriber \
             (chapter 08, task 2){}.",
            if service == "chat-api" {
                ", and so does every request, which axum runs in a task of its own"
            } else {
                ""
            }
        ),
    );
    let code = hint(
        format!("in {file}, run: telemetry::init(\"{service}\", ..) gives the provider"),
        format!(
            "in {file}, run: let dispatch = telemetry::dispatch(\"{service}\", &provider); then \
             .with_subscriber(dispatch) on the future that runs the service{}",
            if service == "chat-api" {
                ", and a middleware (from_fn_with_state) that awaits \
                 next.run(request).with_subscriber(dispatch)"
            } else {
                ""
            }
        ),
    );
    Hint::from(text).code(code).or_concept(concept)
}
