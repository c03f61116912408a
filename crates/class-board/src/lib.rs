//! The class board: one page where an instructor sees every learner's progress, step by step.
//!
//! Each learner's `cargo workbook check NN` posts its result here (after
//! `cargo workbook class join`); the page at `/` shows one row per learner and one column per
//! step, and updates itself. Nothing else is shared over the room's network: each learner
//! keeps the embedded Kafka on their own laptop, so a wifi drop stops the reports, never the
//! work, and the runner sends what it could not send with the next check.
//!
//! Run it with `cargo workbook class serve`, or directly with
//! `cargo run -p class-board -- --help`. The modules:
//!
//! - `report`: what a learner's runner sends, and the rules it must follow (from
//!   `crates/class-protocol`, which the runner shares);
//! - `board`: the room's progress in memory (rows matched by name whatever the case, marked
//!   stuck or silent, merged or removed by the instructor), and the JSON the page reads;
//! - `store`: the append-only log of reports that a restart reads back;
//! - `http`: the page and the three API routes, and nothing else;
//! - `token`: the room's token and the instructor's, made and kept across restarts;
//! - `announce`: the addresses and the join command printed at start.

pub mod announce;
pub mod board;
pub mod http;
pub mod report;
pub mod store;
pub mod token;
