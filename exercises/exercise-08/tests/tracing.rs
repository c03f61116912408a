//! Step 08's check: the traces of steps 05 to 07, made with `tracing` and
//! `tracing-opentelemetry`, hold to the same contracts, run by the same code
//! (`check::contract`). The tests first in this file look for the mistakes that belong to
//! `tracing` itself, so that their hints come first.

use check::contract::{self, batches, follows_from, transform};
use check::{Hint, TestApp};

// The step under test: this crate's own library.
use exercise_08::Step;

const DISPATCH: Hint = Hint::with_code(
    "a subscriber per service",
    "Each service needs its own tracing subscriber (telemetry::dispatch: a \
     tracing-opentelemetry layer on that service's own tracer), carried by every future the \
     service runs. chat-api's requests need it too: axum runs each connection in a task of its \
     own, so a middleware layer must carry it into every request. One global subscriber puts \
     every span under one service.name; none at all makes no spans.",
    "service.consume(..).with_subscriber(dispatch) (and consume_batches, and the server), and \
     a middleware that runs next.run(request).with_subscriber(dispatch)",
);

const SET_PARENT: Hint = Hint::with_code(
    "the parent in same mode",
    "In same mode the process span's parent is the record's creation context, set before the \
     span is first entered (or its context asked for): from then on the OpenTelemetry span has \
     started, its parent is fixed, and setting one fails. In messaging::process_span.",
    "span.set_parent(creation) right after the span is made, before .entered(), \
     .instrument(span) or span.context()",
);

const INSTRUMENT: Hint = Hint::with_code(
    "futures inside their spans",
    "A future runs inside a span only when the span goes with the future itself: entering the \
     span around the code that builds a future enters it only while the future is built, not \
     while it runs, so the spans made in it get no parent from it.",
    "future.instrument(span), not span.in_scope(|| future)",
);

/// Each service keeps its own `service.name`, though all three share a process: each has its
/// own subscriber, carried by its futures.
#[tokio::test(flavor = "multi_thread")]
async fn each_service_keeps_its_own_service_name() {
    contract::speak_tracing();
    let app = TestApp::start(Step).await;
    app.post("ann", "lobby", "hello").await;
    let hint = DISPATCH;
    let spans = app
        .wait_for_spans("spans from all three services", &hint, |s| {
            s.has("chat-api", "send message")
                && s.has("storage-service", "process message")
                && s.has("giphy-service", "process message")
        })
        .await;
    for (service, name) in [
        ("chat-api", "POST /message"),
        ("chat-api", "send message"),
        ("storage-service", "process message"),
        ("storage-service", "store message"),
        ("giphy-service", "process message"),
    ] {
        spans.one(service, name, &hint);
    }
    app.stop().await;
}

/// The parent set with `set_parent` takes: it must come before the span is first entered.
#[tokio::test(flavor = "multi_thread")]
async fn set_parent_comes_before_the_span_is_entered() {
    contract::speak_tracing();
    let app = TestApp::start(Step).await;
    app.post("ann", "lobby", "hello").await;
    let spans = app
        .wait_for_spans("giphy-service's process span", DISPATCH, |s| {
            s.has("giphy-service", "process message") && s.has("chat-api", "send message")
        })
        .await;
    let send = spans.one("chat-api", "send message", "from step 03");
    spans
        .one("giphy-service", "process message", "from step 02")
        .is_child_of(&send, SET_PARENT);
    app.stop().await;
}

/// The work inside a span is its child: futures carry their span with `.instrument(span)`.
#[tokio::test(flavor = "multi_thread")]
async fn futures_carry_their_span_with_instrument() {
    contract::speak_tracing();
    let app = TestApp::start(Step).await;
    app.post("ann", "lobby", "hello").await;
    let hint = INSTRUMENT;
    let spans = app
        .wait_for_spans("the journey of \"hello\"", &hint, |s| {
            s.has("storage-service", "store message")
                && s.has("storage-service", "process message")
                && s.has("chat-api", "send message")
        })
        .await;
    let post = spans.one("chat-api", "POST /message", "from step 02");
    spans
        .one("chat-api", "send message", "from step 03")
        .is_child_of(&post, &hint);
    let batch = spans.one("storage-service", "process message", "from step 02");
    spans
        .one("storage-service", "store message", "from step 02")
        .is_child_of(&batch, &hint);
    app.stop().await;
}

// Steps 05, 06 and 07's contracts, unchanged. Step 05's is checked on giphy-service, which
// still takes one record at a time; storage-service takes batches since step 07, and step
// 07's contract checks it.

#[tokio::test(flavor = "multi_thread")]
async fn step_05_same_mode_links_and_parents_in_one_trace() {
    contract::speak_tracing();
    follows_from::same_mode_links_and_parents_in_one_trace_in(Step, follows_from::GIPHY_SERVICE)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_05_new_mode_starts_a_linked_trace_per_consumer() {
    contract::speak_tracing();
    follows_from::new_mode_starts_a_linked_trace_per_consumer_in(Step, follows_from::GIPHY_SERVICE)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_05_bad_headers_give_no_link_and_are_still_stored() {
    contract::speak_tracing();
    follows_from::bad_headers_give_no_link_and_are_still_stored_in(
        Step,
        follows_from::GIPHY_SERVICE,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_giphy_request_carries_the_get_span() {
    contract::speak_tracing();
    transform::the_giphy_request_carries_the_get_span(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_stand_in_continues_the_trace_as_giphy_api() {
    contract::speak_tracing();
    transform::the_stand_in_continues_the_trace_as_giphy_api(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_chain_leads_back_to_the_post_in_both_modes() {
    contract::speak_tracing();
    transform::the_chain_leads_back_to_the_post_in_both_modes(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_a_failing_giphy_gives_an_error_span_and_the_fallback_image() {
    contract::speak_tracing();
    transform::a_failing_giphy_gives_an_error_span_and_the_fallback_image(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_a_failed_republish_is_retried_without_searching_again() {
    contract::speak_tracing();
    transform::a_failed_republish_is_retried_without_searching_again(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_a_burst_is_stored_in_batches_linked_to_each_send() {
    contract::speak_tracing();
    batches::a_burst_is_stored_in_batches_linked_to_each_send(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_garbage_inside_a_batch_does_not_stop_the_rest() {
    contract::speak_tracing();
    batches::garbage_inside_a_batch_does_not_stop_the_rest(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_with_redis_a_batch_is_one_pipeline() {
    contract::speak_tracing();
    batches::with_redis_a_batch_is_one_pipeline(Step).await;
}
