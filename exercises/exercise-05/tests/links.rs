//! Step 05's check: each consumer's `process message` span links to the `send message` span
//! that made its record (OpenTracing's FOLLOWS_FROM), in both `--consumer-trace` modes.
//!
//! The tests themselves are in `check::contract::follows_from`, so that step 08, which
//! makes the same traces with `tracing`, is held to the same contract by the same code.

use check::contract::follows_from;

// The step under test: this crate's own library.
use exercise_05::Step;

/// `same` mode: in each room, each consumer's process span is the child of its record's send
/// span *and* links to it, all in the POST's trace.
#[tokio::test(flavor = "multi_thread")]
async fn same_mode_links_and_parents_in_one_trace() {
    follows_from::same_mode_links_and_parents_in_one_trace(Step).await;
}

/// `/giphy cats` in `same` mode: giphy-service's re-publish is a child of its process span,
/// and storage-service's processing of the re-published record links to that re-publish.
#[tokio::test(flavor = "multi_thread")]
async fn same_mode_links_the_republished_record_too() {
    follows_from::same_mode_links_the_republished_record_too(Step).await;
}

/// `new` mode: every process span is the root of a trace of its own, linked to its record's
/// send span in another trace; storage-service's and giphy-service's traces are distinct.
#[tokio::test(flavor = "multi_thread")]
async fn new_mode_starts_a_linked_trace_per_consumer() {
    follows_from::new_mode_starts_a_linked_trace_per_consumer(Step).await;
}

/// Records with no headers or garbage headers have no creation context: no link, a fresh
/// trace, and still stored, in both modes.
#[tokio::test(flavor = "multi_thread")]
async fn bad_headers_give_no_link_and_are_still_stored() {
    follows_from::bad_headers_give_no_link_and_are_still_stored(Step).await;
}
