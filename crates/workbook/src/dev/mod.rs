//! The maintainers' tools, apart from the learner's commands, which never import them (as
//! rustlings keeps its `dev/`): what CI and a maintainer adding a step run, and the instructors'
//! schedule page.
//!
//! - `verify`: what CI proves about the workbook, rule by rule;
//! - `scaffold`: the no-drift rule (exercise NN = solution NN-1 + marked regions);
//! - `book`: the book's includes and code blocks;
//! - `leaks`: the rule that no finding quotes the code to write;
//! - `schedule`: the workshop schedule, made from the chapters' minutes.

pub mod book;
pub mod leaks;
pub mod scaffold;
pub mod schedule;
pub mod verify;
