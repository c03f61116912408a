//! The check's teaching lines, gathered from its output to be repeated at the end.
//!
//! Every failed expectation of a check (`Spans::fail` and `panics::fail_if_todo_reached` in
//! `crates/check`, and the checks' own messages) prints a line starting with `✗ `, most of them
//! followed by a line starting with `  hint: `. Each comes with a waterfall and a panic message,
//! and the tests finish in any order, so after a failing check the runner repeats the distinct
//! ones, in the order of the tests in the test files: the first is the one to fix first.

use std::collections::HashSet;

use crate::cargo::Stream;

/// One failed expectation, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// `✗ no span named "POST /message" from chat-api`
    pub problem: String,
    /// `  hint: …`, when the `✗` line had one after it.
    pub hint: Option<String>,
}

/// A finding and the names of the tests it may come from.
#[derive(Debug)]
struct Seen {
    finding: Finding,
    tests: Vec<String>,
}

/// What one stream has told so far.
#[derive(Debug, Default)]
struct StreamState {
    /// The test whose captured output libtest is printing: `---- name stdout ----`.
    section: Option<String>,
    /// The thread that panicked last: `thread 'name' panicked at …`. A test's own thread is
    /// named after the test.
    thread: Option<String>,
    /// The last `✗` of this stream, while its hint may still follow (blank lines between).
    awaiting_hint: Option<usize>,
}

/// Gathers the findings from the lines of a test run, fed as they come.
#[derive(Debug, Default)]
pub struct Collector {
    streams: [StreamState; 2],
    seen: Vec<Seen>,
}

impl Collector {
    /// Takes one line of `stream`, without its line ending; colour codes are ignored. Each
    /// stream is read on its own: a `✗` line and its hint are printed together, on one stream.
    pub fn line(&mut self, stream: Stream, line: &str) {
        let line = anstream::adapter::strip_str(line).to_string();
        let line = line.trim_end();
        let state = &mut self.streams[stream as usize];
        if let Some(index) = state.awaiting_hint {
            if line.is_empty() {
                return;
            }
            state.awaiting_hint = None;
            if line.starts_with("  hint: ") {
                self.seen[index].finding.hint = Some(line.to_string());
                return;
            }
        }
        if line.starts_with("✗ ") {
            state.awaiting_hint = Some(self.seen.len());
            let tests = [&state.thread, &state.section]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            self.seen.push(Seen {
                finding: Finding {
                    problem: line.to_string(),
                    hint: None,
                },
                tests,
            });
        } else if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            state.section = Some(name.to_string());
            state.thread = None;
        } else if let Some((name, rest)) = line
            .strip_prefix("thread '")
            .and_then(|rest| rest.split_once('\''))
        {
            // `thread 'name' panicked at …`, or `thread 'name' (1234) panicked at …` in the
            // Rust versions that print the thread's id.
            if rest.contains(" panicked at") {
                state.thread = Some(name.to_string());
            }
        }
    }

    /// The distinct findings, in the order of their tests in `test_files` (the texts of the
    /// crate's test files, in the order cargo runs them), then those whose test was not found,
    /// in the order they were printed. Empty when no `✗` line was printed (a compile error, a
    /// plain `assert!`).
    pub fn findings(&self, test_files: &[&str]) -> Vec<Finding> {
        let mut order: Vec<(Option<(usize, usize)>, usize)> = self
            .seen
            .iter()
            .enumerate()
            .map(|(printed, seen)| {
                let place = seen
                    .tests
                    .iter()
                    .find_map(|test| place_of_test(test, test_files));
                (place, printed)
            })
            .collect();
        // Found tests first, in file order; the rest after them, as printed.
        order.sort_by_key(|&(place, printed)| (place.is_none(), place, printed));
        let mut distinct = HashSet::new();
        order
            .into_iter()
            .map(|(_, printed)| &self.seen[printed].finding)
            .filter(|finding| distinct.insert(*finding))
            .cloned()
            .collect()
    }
}

/// Where `fn <test>(` is: which file, and how far into it. libtest names a test by its module
/// path (`tests::spans_are_exported`); the function's name is the last part.
fn place_of_test(test: &str, test_files: &[&str]) -> Option<(usize, usize)> {
    let name = test.rsplit("::").next()?;
    let needle = format!("fn {name}(");
    test_files
        .iter()
        .enumerate()
        .find_map(|(file, text)| text.find(&needle).map(|at| (file, at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_FILE: &str = "\
#[tokio::test(flavor = \"multi_thread\")]
async fn every_service_makes_its_spans() {}

#[tokio::test(flavor = \"multi_thread\")]
async fn giphy_search_is_a_client_span() {}

#[tokio::test(flavor = \"multi_thread\")]
async fn spans_are_exported_over_otlp() {}
";

    /// A failing run as it reaches the terminal, trimmed: the later tests of the file failed
    /// first, the first test failed twice the same way (two runs of one expectation), and
    /// cargo's own lines are coloured.
    const STDOUT: &str = "
running 3 tests
test spans_are_exported_over_otlp ... FAILED
test giphy_search_is_a_client_span ... FAILED
test every_service_makes_its_spans ... FAILED

failures:

---- spans_are_exported_over_otlp stdout ----

thread 'spans_are_exported_over_otlp' panicked at tests/spans.rs:248:13:

✗ the OTLP receiver (grpc) never got chat-api's \"POST /message\"; it got []
  hint: export with an OTLP exporter
---- giphy_search_is_a_client_span stdout ----

thread 'giphy_search_is_a_client_span' (25671) panicked at tests/spans.rs:90:9:


✗ no span named \"giphy search\" from giphy-service

  hint: wrap the call to Giphy in a span of kind Client

What the check captured:

  chat-api         POST /message                    Server    [████] 12.0ms  ✗ error: boom
---- every_service_makes_its_spans stdout ----

thread 'every_service_makes_its_spans' panicked at tests/spans.rs:40:9:


✗ no span named \"POST /message\" from chat-api

  hint: add a tracing layer to chat-api's router

What the check captured:

no spans at all

failures:
    every_service_makes_its_spans
    giphy_search_is_a_client_span
    spans_are_exported_over_otlp

test result: FAILED. 0 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.01s
";

    /// stderr at the same time: a worker thread reached a todo!() and the first test failed
    /// on it, outside libtest's capture; its ✗ has no hint.
    const STDERR: &str = "\
\u{1b}[1m\u{1b}[92m     Running\u{1b}[0m tests/spans.rs (target/debug/deps/spans-0a1b)
thread 'tokio-runtime-worker' panicked at src/chat.rs:12:5:
not yet implemented: TODO(02): chat-api's tracer provider


✗ the app reached a todo!() at src/chat.rs:12: TODO(02): chat-api's tracer provider
  This is the part to write: replace the todo!() with your code.

thread 'every_service_makes_its_spans' panicked at tests/spans.rs:40:9:


✗ no span named \"POST /message\" from chat-api

  hint: add a tracing layer to chat-api's router
\u{1b}[1m\u{1b}[91merror\u{1b}[0m: test failed, to rerun pass `-p exercise-02 --test spans`
";

    fn finding(problem: &str, hint: Option<&str>) -> Finding {
        Finding {
            problem: problem.to_string(),
            hint: hint.map(str::to_string),
        }
    }

    #[test]
    fn the_distinct_problems_come_out_in_the_order_of_the_test_file() {
        let mut collector = Collector::default();
        // The two streams interleaved, as two reader threads might feed them.
        let mut stderr = STDERR.lines();
        for line in STDOUT.lines() {
            collector.line(Stream::Stdout, line);
            if let Some(line) = stderr.next() {
                collector.line(Stream::Stderr, line);
            }
        }
        for line in stderr {
            collector.line(Stream::Stderr, line);
        }
        assert_eq!(
            collector.findings(&["// no tests here\n", TEST_FILE]),
            [
                finding(
                    "✗ no span named \"POST /message\" from chat-api",
                    Some("  hint: add a tracing layer to chat-api's router")
                ),
                finding(
                    "✗ no span named \"giphy search\" from giphy-service",
                    Some("  hint: wrap the call to Giphy in a span of kind Client")
                ),
                finding(
                    "✗ the OTLP receiver (grpc) never got chat-api's \"POST /message\"; it got []",
                    Some("  hint: export with an OTLP exporter")
                ),
                // Its thread is no test: after the others.
                finding(
                    "✗ the app reached a todo!() at src/chat.rs:12: TODO(02): chat-api's tracer provider",
                    None
                ),
            ]
        );
        // Without the test files, the order is the order they were printed in.
        let printed: Vec<String> = collector
            .findings(&[])
            .into_iter()
            .map(|f| f.problem)
            .collect();
        assert_eq!(printed.len(), 4, "{printed:?}");
        assert!(printed[0].contains("todo!()"), "{printed:?}");
        assert!(printed[1].contains("POST /message"), "{printed:?}");
        assert!(printed[2].contains("OTLP"), "{printed:?}");
    }

    #[test]
    fn output_without_a_cross_line_has_no_findings() {
        let mut collector = Collector::default();
        for line in [
            "error[E0425]: cannot find value `provider` in this scope",
            "  --> src/chat.rs:12:5",
            "thread 'main' panicked at src/lib.rs:1:1:",
            "assertion `left == right` failed",
            "  hint: not after a ✗ line",
            "  chat-api  POST /message  Server  [██]  1.0ms  ✗ error: boom",
        ] {
            collector.line(Stream::Stderr, line);
        }
        assert!(collector.findings(&[TEST_FILE]).is_empty());
    }

    #[test]
    fn a_test_in_a_module_is_found_by_its_function_name() {
        assert_eq!(
            place_of_test("tests::giphy_search_is_a_client_span", &[TEST_FILE]),
            Some((0, TEST_FILE.find("fn giphy").unwrap()))
        );
        assert_eq!(place_of_test("every_service_makes", &[TEST_FILE]), None);
        // The panicking thread names the test, with or without the thread's id after it.
        for panicked in [
            "thread 'tests::giphy_search_is_a_client_span' panicked at tests/spans.rs:9:5:",
            "thread 'tests::giphy_search_is_a_client_span' (25671) panicked at tests/spans.rs:9:5:",
        ] {
            let mut collector = Collector::default();
            collector.line(Stream::Stderr, panicked);
            collector.line(Stream::Stderr, "✗ no span");
            assert_eq!(
                collector.seen[0].tests,
                ["tests::giphy_search_is_a_client_span"]
            );
        }
    }
}
