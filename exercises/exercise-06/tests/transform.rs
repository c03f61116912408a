//! Step 06's check: giphy-service consumes, calls Giphy and produces, and the trace follows it
//! across the HTTP hop, through failures, and through a retried send, in both
//! `--consumer-trace` modes.
//!
//! The tests themselves are in `check::contract::transform`, so that step 08, which
//! makes the same traces with `tracing`, is held to the same contract by the same code.

use check::contract::transform;

// The step under test: this crate's own library.
use exercise_06::Step;

/// The request that reached Giphy carried a `traceparent` naming giphy-service's GET span.
#[tokio::test(flavor = "multi_thread")]
async fn the_giphy_request_carries_the_get_span() {
    transform::the_giphy_request_carries_the_get_span(Step).await;
}

/// The local stand-in continues the trace it is handed: a `giphy-api` SERVER span, a child of
/// giphy-service's GET.
#[tokio::test(flavor = "multi_thread")]
async fn the_stand_in_continues_the_trace_as_giphy_api() {
    transform::the_stand_in_continues_the_trace_as_giphy_api(Step).await;
}

/// From storage-service's processing of the re-published record, parents and links lead back
/// to chat-api's POST, whichever way the consumers start their traces.
#[tokio::test(flavor = "multi_thread")]
async fn the_chain_leads_back_to_the_post_in_both_modes() {
    transform::the_chain_leads_back_to_the_post_in_both_modes(Step).await;
}

/// Giphy dead, answering 500, answering garbage, or too slow: the GET span is an Error with
/// `error.type`, and the message still gets an image, the bundled fallback.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_giphy_gives_an_error_span_and_the_fallback_image() {
    transform::a_failing_giphy_gives_an_error_span_and_the_fallback_image(Step).await;
}

/// Kafka refuses the re-publish once: the retry sends again, with the image found the first
/// time, and does not search again.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_republish_is_retried_without_searching_again() {
    transform::a_failed_republish_is_retried_without_searching_again(Step).await;
}
