//! What tracing costs: the workbook's benchmark.
//!
//! `cargo bench -p bench` runs it and prints one table, the one on the book's "What tracing
//! costs" page (`book/src/reference/cost.md`). `-- --quick` runs every part once, briefly: CI
//! does that so the bench keeps working, and its figures mean nothing.
//!
//! | module | what it does |
//! |---|---|
//! | [`learner`] | the learner's wait: an edit, then the check's answer, step by step |
//! | [`micro`] | nanoseconds per operation: inject + extract, start + end of one span |
//! | [`pipeline`] | the whole app in one process, driven by POSTs: throughput, latency, memory |
//! | [`usage`] | this process's CPU time and resident memory |
//! | [`report`] | medians, percentiles and the table |
//!
//! No figure is trusted alone on a busy machine: the pipeline's setups run in turns (A B C D,
//! A B C D, …), each in a fresh process, and the table compares them with ratios taken
//! round by round.

pub mod learner;
pub mod micro;
pub mod pipeline;
pub mod report;
pub mod usage;
