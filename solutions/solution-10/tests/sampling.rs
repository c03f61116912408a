//! Step 10's check, second part: sampling across the queue, in the running app.
//!
//! chat-api samples half of the POSTs (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`,
//! `OTEL_TRACES_SAMPLER_ARG=0.5`), and so would the consumers, for a span with no cause. Then,
//! in both `--consumer-trace` modes: every sampled POST has both consumers' spans (giphy-service's
//! own, storage-service's batch linked to it), and no consumer span exists for an unsampled
//! POST (giphy-service's none, and no batch whose messages were all left out).
//!
//! The sampler is read from the environment when a provider is built, so this binary holds one
//! test, which sets the environment before any of its threads start.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use check::{Hint, Spans, TestApp};
use opentelemetry::trace::TraceId;
use reqwest::StatusCode;
use talk::{Config, ConsumerTrace, Message};

// The step under test: this crate's own library.
use solution_10::Step;

const FOLLOW: Hint = Hint::new(
    "sampling that follows the links across the queue",
    "Each consumer's provider samples with the sampler of sampling.rs (telemetry.rs, \
     init_consumer), and the sampler decides when the span starts, from what the span builder \
     holds: TracedConsumer::process and process_batch in kafka_tracing.rs give the links to the \
     builder. A link added to a span that has already started is never seen by a sampler.",
);

/// The POSTs per mode, spread over the rooms (one room, one partition, in order).
const POSTS: usize = 40;
/// The most records in one of storage-service's batches, here.
const BATCH: u16 = 2;
/// How long without a new span before the check stops waiting for the missing ones.
const QUIET: Duration = Duration::from_millis(1500);
const ROOMS: [&str; 4] = ["sampling-a", "sampling-b", "sampling-c", "sampling-d"];

#[test]
fn a_sampled_post_keeps_its_consumers_and_an_unsampled_one_has_none() {
    // SAFETY: this binary's only test, and no thread of this test runs yet: nothing reads the
    // environment while it changes.
    unsafe {
        std::env::set_var("OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
        std::env::set_var("OTEL_TRACES_SAMPLER_ARG", "0.5");
        // The check exports nowhere but to its own span log.
        std::env::set_var("OTEL_TRACES_EXPORTER", "none");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for mode in [ConsumerTrace::Same, ConsumerTrace::New] {
        runtime.block_on(sampling_follows_the_post(mode));
    }
}

async fn sampling_follows_the_post(mode: ConsumerTrace) {
    let config = Config {
        consumer_trace: mode,
        // Batches of two at most: many batches, some of them of unsampled messages only.
        batch_size: BATCH,
        ..Config::embedded()
    };
    let app = TestApp::start_with(Step, config).await;
    let mut posted: Vec<Message> = Vec::new();
    for i in 0..POSTS {
        let room = ROOMS[i % ROOMS.len()];
        posted.push(app.post("sampler", room, &format!("message {i}")).await);
    }
    // Last in each room, a POST that is sampled for sure: it joins a sampled trace. Once both
    // consumers have its spans, they have handled every record before it in its partition.
    let mut last = Vec::new();
    for (i, room) in ROOMS.iter().enumerate() {
        last.push(post_in_sampled_trace(&app, room, i as u128 + 1).await);
    }
    let spans = caught_up(&app, &last).await;

    let sampled: Vec<&Message> = posted.iter().filter(|m| post_span(&spans, m)).collect();
    let unsampled: Vec<&Message> = posted.iter().filter(|m| !post_span(&spans, m)).collect();
    println!(
        "{mode:?} mode: {} POSTs, {} sampled by chat-api, {} not",
        posted.len(),
        sampled.len(),
        unsampled.len()
    );
    if sampled.is_empty() || unsampled.is_empty() {
        spans.fail(
            &format!(
                "chat-api's \"POST /message\" was sampled {} times out of {POSTS} at ratio 0.5",
                sampled.len()
            ),
            Hint::new(
                "chat-api's sampler",
                "chat-api's provider sets no sampler of its own, so that the SDK reads \
                 OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (telemetry.rs, init).",
            ),
        );
    }

    for m in sampled.iter().copied().chain(&last) {
        if giphy_span(&spans, m).is_none() {
            spans.fail(
                &format!(
                    "giphy-service's \"process message\" of {:?} is missing, although chat-api \
                     sampled its POST (trace {}, {mode:?} mode)",
                    m.message,
                    trace_of(m)
                ),
                FOLLOW,
            );
        }
        if stored_in(&spans, m).is_none() {
            spans.fail(
                &format!(
                    "storage-service's \"process message\" of a batch holding {:?} is missing, \
                     although chat-api sampled its POST (trace {}, {mode:?} mode)",
                    m.message,
                    trace_of(m)
                ),
                FOLLOW,
            );
        }
    }
    for m in &unsampled {
        if giphy_span(&spans, m).is_some() {
            spans.fail(
                &format!(
                    "giphy-service's \"process message\" of {:?} was recorded, although chat-api \
                     did not sample its POST (trace {}, {mode:?} mode): a trace of the consumer \
                     alone, linked to spans that no one recorded",
                    m.message,
                    trace_of(m)
                ),
                FOLLOW,
            );
        }
    }
    // A batch is kept when any of its messages was sampled: none may hold unsampled ones only.
    let kept: HashSet<&str> = sampled
        .iter()
        .copied()
        .chain(&last)
        .map(|m| m.id.as_str())
        .collect();
    for batch in spans.every("storage-service", "process message") {
        let ids = linked_ids(batch.data());
        if !ids.iter().any(|id| kept.contains(id.as_str())) {
            spans.fail(
                &format!(
                    "storage-service's \"process message\" of a batch of {} message(s) was \
                     recorded, although chat-api sampled none of them ({mode:?} mode)",
                    ids.len()
                ),
                FOLLOW,
            );
        }
    }
    let batches = spans.every("storage-service", "process message");
    let dropped = (POSTS + ROOMS.len())
        .div_ceil(usize::from(BATCH))
        .saturating_sub(batches.len());
    let mixed = batches
        .iter()
        .filter(|b| {
            let ids = linked_ids(b.data());
            ids.iter().any(|id| !kept.contains(id.as_str()))
        })
        .count();
    println!(
        "{mode:?} mode: giphy-service recorded {} process spans (the sampled POSTs and the {} last \
         ones), storage-service {} batch spans (at least {dropped} batches dropped), {mixed} of them also \
         linking unsampled messages",
        spans.count("giphy-service", "process message"),
        last.len(),
        batches.len()
    );
    app.stop().await;
}

/// The spans, once both consumers have recorded the last message of each room, or once no new
/// span has come for a while: then the checks below say which spans are missing.
async fn caught_up(app: &TestApp, last: &[Message]) -> Spans {
    let deadline = Instant::now() + check::PATIENCE;
    let (mut seen, mut since) = (0, Instant::now());
    loop {
        check::panics::fail_if_todo_reached();
        let spans = app.spans();
        let done = last
            .iter()
            .all(|m| giphy_span(&spans, m).is_some() && stored_in(&spans, m).is_some());
        if spans.all().len() != seen {
            (seen, since) = (spans.all().len(), Instant::now());
        }
        if done || Instant::now() > deadline || since.elapsed() > QUIET {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Posts `text` into `room` as a caller whose own trace is sampled: chat-api continues it, and
/// keeps it whatever its ratio.
async fn post_in_sampled_trace(app: &TestApp, room: &str, n: u128) -> Message {
    let trace_id = TraceId::from(0x5a4d_1ed0_0000_0000_0000_0000_0000_0000 | n);
    let body = serde_json::json!({ "author": "sampler", "room": room, "message": "last" });
    let response = reqwest::Client::new()
        .post(format!("{}/message", app.base))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("chat-api should answer");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    response.json().await.expect("the accepted message")
}

fn trace_of(m: &Message) -> &str {
    m.trace_id.as_deref().unwrap_or("none")
}

/// Whether chat-api recorded the POST of `m`.
fn post_span(spans: &Spans, m: &Message) -> bool {
    spans
        .every("chat-api", "POST /message")
        .iter()
        .any(|s| Some(s.trace_id().as_str()) == m.trace_id.as_deref())
}

/// giphy-service's process span of `m`, if it was recorded.
fn giphy_span<'a>(spans: &'a Spans, m: &Message) -> Option<check::SpanRef<'a>> {
    spans
        .every("giphy-service", "process message")
        .into_iter()
        .find(|s| {
            s.attribute("messaging.message.id")
                .is_some_and(|id| id.as_str() == m.id.as_str())
        })
}

/// storage-service's process span of a batch that holds `m`, if it was recorded.
fn stored_in<'a>(spans: &'a Spans, m: &Message) -> Option<check::SpanRef<'a>> {
    spans
        .every("storage-service", "process message")
        .into_iter()
        .find(|s| linked_ids(s.data()).contains(&m.id))
}

/// The message ids on a batch span's links.
fn linked_ids(span: &talk::telemetry::FinishedSpan) -> Vec<String> {
    span.span
        .links
        .iter()
        .flat_map(|link| &link.attributes)
        .filter(|kv| kv.key.as_str() == "messaging.message.id")
        .map(|kv| kv.value.as_str().into_owned())
        .collect()
}
