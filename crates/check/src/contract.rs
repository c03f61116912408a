//! The trace contracts of steps 05 to 07, as test bodies that any step can run with its own
//! `Step`. A step's `tests/` holds one `#[tokio::test]` per function, calling it; so step 08,
//! which makes the same traces another way, proves the same contracts with the same code.

pub mod batches;
pub mod follows_from;
pub mod transform;
