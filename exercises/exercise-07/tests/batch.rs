//! Step 07's check: storage-service stores in batches, and each batch is one `process message`
//! span with no parent and one link per record: fan-in.
//!
//! The tests themselves are in `check::contract::batches`, so that step 08, which
//! makes the same traces with `tracing`, is held to the same contract by the same code.

use check::contract::batches;

// The step under test: this crate's own library.
use exercise_07::Step;

/// A burst of posts is stored in batches: each a root span with one link per record, to
/// distinct send spans, and a count equal to its records. Every record is processed once.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_is_stored_in_batches_linked_to_each_send() {
    batches::a_burst_is_stored_in_batches_linked_to_each_send(Step).await;
}

/// A record that is not a chat message, and one with garbage headers, inside a batch: the
/// rest is stored, and the record without a creation context is stored but not linked.
#[tokio::test(flavor = "multi_thread")]
async fn garbage_inside_a_batch_does_not_stop_the_rest() {
    batches::garbage_inside_a_batch_does_not_stop_the_rest(Step).await;
}

/// With Redis, a batch is one pipeline: a single CLIENT span under `store message`, with the
/// database conventions' batch size, instead of a SET and a ZADD per message.
#[tokio::test(flavor = "multi_thread")]
async fn with_redis_a_batch_is_one_pipeline() {
    batches::with_redis_a_batch_is_one_pipeline(Step).await;
}
