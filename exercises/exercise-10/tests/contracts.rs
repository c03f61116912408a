//! Step 09's check, second part: the app with the Kafka instrumentation module.
//!
//! The services' Kafka spans carry the module's scope, and the services' own files leave the
//! Kafka side of tracing to the module. Then steps 05, 06 and 07's contracts, in both
//! `--consumer-trace` modes, on the whole app, unchanged; their hints name the module's
//! functions (`contract::speak_library`).

use std::path::Path;

use check::TestApp;
use check::contract::{self, batches, follows_from, library, transform};

// The step under test: this crate's own library.
use exercise_10::{Step, kafka_tracing};

/// In the running app, every Kafka span comes from the library, under its scope.
#[tokio::test(flavor = "multi_thread")]
async fn the_services_kafka_spans_carry_the_library_scope() {
    contract::speak_library();
    let app = TestApp::start(Step).await;
    app.post("ann", "lobby", "hello").await;
    let spans = app
        .wait_for_spans(
            "the Kafka spans of \"hello\"",
            "Each service's send and process spans come from the library, made with a \
             KafkaTracing of that service's own provider.",
            |s| {
                s.has("chat-api", "send message")
                    && s.has("storage-service", "process message")
                    && s.has("giphy-service", "process message")
            },
        )
        .await;
    for (service, name) in [
        ("chat-api", "send message"),
        ("storage-service", "process message"),
        ("giphy-service", "process message"),
    ] {
        let span = spans.one(service, name, "from step 03");
        library::comes_from_the_library(
            &span,
            kafka_tracing::SCOPE_NAME,
            kafka_tracing::SCOPE_VERSION,
        );
    }
    app.stop().await;
}

/// The services keep only their own spans: no header carrier, no messaging span of their own.
#[test]
fn the_services_leave_kafka_to_the_library() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    library::services_leave_kafka_to_the_library(&src, "kafka_tracing.rs");
}

// Steps 05, 06 and 07's contracts, unchanged, in both --consumer-trace modes. Step 05's is
// checked on giphy-service, which takes one record at a time; storage-service takes batches,
// and step 07's contract checks it.

#[tokio::test(flavor = "multi_thread")]
async fn step_05_same_mode_links_and_parents_in_one_trace() {
    contract::speak_library();
    follows_from::same_mode_links_and_parents_in_one_trace_in(Step, follows_from::GIPHY_SERVICE)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_05_new_mode_starts_a_linked_trace_per_consumer() {
    contract::speak_library();
    follows_from::new_mode_starts_a_linked_trace_per_consumer_in(Step, follows_from::GIPHY_SERVICE)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_05_bad_headers_give_no_link_and_are_still_stored() {
    contract::speak_library();
    follows_from::bad_headers_give_no_link_and_are_still_stored_in(
        Step,
        follows_from::GIPHY_SERVICE,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_giphy_request_carries_the_get_span() {
    contract::speak_library();
    transform::the_giphy_request_carries_the_get_span(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_stand_in_continues_the_trace_as_giphy_api() {
    contract::speak_library();
    transform::the_stand_in_continues_the_trace_as_giphy_api(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_the_chain_leads_back_to_the_post_in_both_modes() {
    contract::speak_library();
    transform::the_chain_leads_back_to_the_post_in_both_modes(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_a_failing_giphy_gives_an_error_span_and_the_fallback_image() {
    contract::speak_library();
    transform::a_failing_giphy_gives_an_error_span_and_the_fallback_image(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_06_a_failed_republish_is_retried_without_searching_again() {
    contract::speak_library();
    transform::a_failed_republish_is_retried_without_searching_again(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_a_burst_is_stored_in_batches_linked_to_each_send() {
    contract::speak_library();
    batches::a_burst_is_stored_in_batches_linked_to_each_send(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_garbage_inside_a_batch_does_not_stop_the_rest() {
    contract::speak_library();
    batches::garbage_inside_a_batch_does_not_stop_the_rest(Step).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_with_redis_a_batch_is_one_pipeline() {
    contract::speak_library();
    batches::with_redis_a_batch_is_one_pipeline(Step).await;
}
