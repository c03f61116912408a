//! The check's teaching lines, gathered from its output to be repeated at the end.
//!
//! Every failed expectation of a check (`Spans::fail` and `panics::fail_if_todo_reached` in
//! `crates/check`, and the checks' own messages) prints a line starting with `✗ `, most of them
//! followed by a line starting with `  hint: `. Each comes with a waterfall and a panic message,
//! and the tests finish in any order, so after a failing check the runner repeats the distinct
//! ones, in the order of the tests in the test files: the first is the one to fix first.
//!
//! A test can also fail on a panic that is no `✗`: an `unwrap()` in the step's code, a library
//! the code misused, a plain `assert!` of the check. Those are gathered too, from the panic's
//! `thread '…' panicked at <file:line:col>:` line and the message under it, and repeated with a
//! hint that says whose code panicked and where to look.

use std::collections::HashSet;

/// One failed expectation, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// `✗ no span named "POST /message" from chat-api`
    pub problem: String,
    /// `  hint: …`, when the `✗` line had one after it.
    pub hint: Option<String>,
}

/// A panic whose message is not a `✗` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Panic {
    /// `solutions/solution-04/src/chat_api.rs:123:39`, as the panic names it.
    location: String,
    /// The first line of the panic's message.
    message: String,
}

/// What a failing test printed: a `✗` line (with its hint), or a panic without one.
#[derive(Debug)]
enum Printed {
    Cross(Finding),
    Panic(Panic),
}

/// Something printed, and the names of the tests it may come from.
#[derive(Debug)]
struct Seen {
    printed: Printed,
    tests: Vec<String>,
}

/// What the output has told so far.
#[derive(Debug, Default)]
struct ReadState {
    /// The test whose captured output libtest is printing: `---- name stdout ----`.
    section: Option<String>,
    /// The thread that panicked last: `thread 'name' panicked at …`. A test's own thread is
    /// named after the test.
    thread: Option<String>,
    /// The last `✗`, while its hint may still follow (blank lines between).
    awaiting_hint: Option<usize>,
    /// Where the last panic happened, while its message may still follow (blank lines
    /// between): a `✗` line makes it the check's, anything else is the panic's message.
    awaiting_message: Option<String>,
}

impl ReadState {
    /// The tests the next thing printed may belong to.
    fn tests(&self) -> Vec<String> {
        [&self.thread, &self.section]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// Gathers the findings from the lines of a test run, fed as they come.
#[derive(Debug, Default)]
pub struct Collector {
    state: ReadState,
    seen: Vec<Seen>,
}

impl Collector {
    /// Takes one line of the run's output (stdout and stderr through one pipe), without its
    /// line ending; colour codes are ignored. A `✗` line and its hint are printed together,
    /// and so are a panic's location and its message.
    pub fn line(&mut self, line: &str) {
        let line = anstream::adapter::strip_str(line).to_string();
        let line = line.trim_end();
        if self.hint(line) || self.panic_message(line) {
            return;
        }
        let state = &mut self.state;
        if line.starts_with("✗ ") {
            state.awaiting_hint = Some(self.seen.len());
            let finding = Finding {
                problem: line.to_string(),
                hint: None,
            };
            let tests = state.tests();
            self.seen.push(Seen {
                printed: Printed::Cross(finding),
                tests,
            });
        } else if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            state.section = Some(name.to_string());
            state.thread = None;
        } else if let Some((name, location)) = panic_header(line) {
            state.thread = Some(name.to_string());
            state.awaiting_message = Some(location.to_string());
        }
    }

    /// Takes `line` as the hint of the `✗` before it, if one is awaited. Returns whether the
    /// line is used up (a hint, or a blank line before one).
    fn hint(&mut self, line: &str) -> bool {
        let state = &mut self.state;
        let Some(index) = state.awaiting_hint else {
            return false;
        };
        if line.is_empty() {
            return true;
        }
        state.awaiting_hint = None;
        if !line.starts_with("  hint: ") {
            return false;
        }
        if let Printed::Cross(finding) = &mut self.seen[index].printed {
            finding.hint = Some(line.to_string());
        }
        true
    }

    /// Takes `line` as the message of the panic before it, if one is awaited. Returns whether
    /// the line is used up. A `✗` line is not used up: that panic is one of the check's
    /// failed expectations, gathered as such. Nor is a `todo!()`: the check says `✗ the app
    /// reached a todo!()` for it.
    fn panic_message(&mut self, line: &str) -> bool {
        let state = &mut self.state;
        let Some(location) = state.awaiting_message.take() else {
            return false;
        };
        if line.is_empty() {
            state.awaiting_message = Some(location);
            return true;
        }
        if line.starts_with("✗ ") || panic_header(line).is_some() {
            return false;
        }
        // A `todo!()` reached by the app is the check's to report (`✗ the app reached a
        // todo!()`); one reached by a unit test of the step's own `src/` (step 04's carrier
        // test, whose thread is named `carrier::tests::…`) has no check around it to say so.
        let in_unit_test = state
            .thread
            .as_deref()
            .is_some_and(|name| name.contains("::"));
        if !is_todo(line) || in_unit_test {
            let tests = state.tests();
            self.seen.push(Seen {
                printed: Printed::Panic(Panic {
                    location,
                    message: line.to_string(),
                }),
                tests,
            });
        }
        true
    }

    /// The distinct findings, in the order of their tests in `test_files` (the texts of the
    /// crate's test files, in the order cargo runs them), then those whose test was not found,
    /// in the order they were printed. Empty when no `✗` line and no panic was printed (a
    /// compile error, say).
    ///
    /// A panic counts once per place: each test that starts the app may reach the same
    /// `unwrap()`, and the check's message at one place differs only by a port.
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
        let step_panicked = self.seen.iter().any(|seen| {
            matches!(&seen.printed, Printed::Panic(panic) if whose(&panic.location) == Whose::Step)
        });
        let mut distinct = HashSet::new();
        order
            .into_iter()
            .map(|(_, printed)| &self.seen[printed].printed)
            .filter(|printed| distinct.insert(identity(printed)))
            .map(|printed| match printed {
                Printed::Cross(finding) => finding.clone(),
                Printed::Panic(panic) => panic_finding(panic, step_panicked),
            })
            .collect()
    }
}

/// What makes two printed things the same finding: the whole `✗` finding, or a panic's place.
fn identity(printed: &Printed) -> (&str, Option<&str>) {
    match printed {
        Printed::Cross(finding) => (&finding.problem, finding.hint.as_deref()),
        Printed::Panic(panic) => (&panic.location, None),
    }
}

/// `thread 'name' panicked at src/lib.rs:12:5:`, or `thread 'name' (1234) panicked at …:` in
/// the Rust versions that print the thread's id: the thread's name and the place.
fn panic_header(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.strip_prefix("thread '")?.split_once('\'')?;
    let (_, location) = rest.split_once(" panicked at ")?;
    Some((name, location.strip_suffix(':').unwrap_or(location)))
}

/// A `todo!()`'s message, which `crates/check` reports as a `✗` of its own.
fn is_todo(message: &str) -> bool {
    message.starts_with("not yet implemented") || message.contains("TODO(")
}

/// Whose code a panic is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    /// The step's crate, outside its tests: the learner's code (or the solution's).
    Step,
    /// The check: `crates/check`, or the step's `tests/`.
    Check,
    /// Anything else: a dependency, the standard library, the workbook's shared crate.
    Library,
}

/// Whose code `location` is in. cargo names a workspace crate's files from the workspace root
/// (`exercises/exercise-04/src/giphy.rs`), a dependency's and the standard library's by their
/// absolute path.
fn whose(location: &str) -> Whose {
    if location.starts_with("crates/check/")
        || location.starts_with("tests/")
        || location.contains("/tests/")
    {
        Whose::Check
    } else if ["exercises/", "solutions/", "src/"]
        .iter()
        .any(|folder| location.starts_with(folder))
    {
        Whose::Step
    } else {
        Whose::Library
    }
}

/// A panic as a finding: where and what, and a hint that depends on whose code panicked.
/// `step_panicked` says whether the step's code panicked anywhere in the run: the check then
/// mostly stops because of that panic, and its own message is only the consequence.
fn panic_finding(panic: &Panic, step_panicked: bool) -> Finding {
    let Panic { location, message } = panic;
    if is_todo(message) {
        return Finding {
            problem: format!("✗ a unit test reached a todo!() at {location}: {message}"),
            hint: Some(
                "  hint: this is the part to write: replace the todo!() with your code (the \
                 chapter's Tasks section says what it should do)."
                    .to_string(),
            ),
        };
    }
    let (who, hint) = match whose(location) {
        Whose::Step => ("the step's code", step_hint(location)),
        Whose::Check if step_panicked => (
            "the check",
            "the check stopped because of the panic in the step's code that this summary \
             lists: fix that one first, and this one should go with it."
                .to_string(),
        ),
        Whose::Check => (
            "the check",
            "this panic is the check's own message, without a hint: it says what the check \
             expected and what it got. Read what the app printed just before it."
                .to_string(),
        ),
        Whose::Library => (
            "a library",
            "a library (or the standard library) panics when it is called in a way it does \
             not allow, and its message says which. To find the call in the step's code, run \
             the `cargo test -p …` command at the top with RUST_BACKTRACE=1: the first frame \
             in the step's src/ is the line to look at."
                .to_string(),
        ),
    };
    Finding {
        problem: format!("✗ {who} panicked at {location}: {message}"),
        hint: Some(format!("  hint: {hint}")),
    }
}

/// The hint for a panic in the step's own code: a bug, and the line to read.
fn step_hint(location: &str) -> String {
    let (file, line) = file_and_line(location);
    format!(
        "a panic in the step's code is a bug in that code, not an expectation of the check \
         that failed. Open {file} at line {line} and see why it panics (an unwrap() or \
         expect() on an Err or a None, an index out of range…): handle that case instead of \
         panicking. Then run the check again."
    )
}

/// `src/chat_api.rs:123:39` → (`src/chat_api.rs`, `123`). A location without both numbers
/// is all file.
fn file_and_line(location: &str) -> (&str, &str) {
    let mut parts = location.rsplitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_column), Some(line), Some(file)) => (file, line),
        _ => (location, "?"),
    }
}

/// Where `fn <test>(` is: which file, and how far into it. libtest names a test by its module
/// path (`tests::spans_are_exported`); the function's name is the last part.
pub(crate) fn place_of_test(test: &str, test_files: &[&str]) -> Option<(usize, usize)> {
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
        // Both streams, as the one pipe that the check's output goes through delivers them:
        // the panics of the app's own threads as they happen, libtest's report of the failed
        // tests at the end.
        for line in STDERR.lines().chain(STDOUT.lines()) {
            collector.line(line);
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
    fn a_todo_in_a_unit_test_is_a_finding_and_one_in_the_app_is_the_checks() {
        let mut collector = Collector::default();
        for line in [
            "thread 'carrier::tests::headers_round_trip' (77) panicked at \
             exercises/exercise-04/src/carrier.rs:40:9:",
            "not yet implemented: TODO(04): write RecordHeaderInjector::set",
            "thread 'tokio-runtime-worker' (78) panicked at exercises/exercise-04/src/messaging.rs:9:5:",
            "not yet implemented: TODO(04): write extract_parent",
        ] {
            collector.line(line);
        }
        let findings = collector.findings(&[]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].problem.starts_with(
                "✗ a unit test reached a todo!() at exercises/exercise-04/src/carrier.rs:40:9"
            ),
            "{findings:?}"
        );
    }

    #[test]
    fn output_without_a_cross_line_or_a_panic_has_no_findings() {
        let mut collector = Collector::default();
        for line in [
            "error[E0425]: cannot find value `provider` in this scope",
            "  --> src/chat.rs:12:5",
            "  hint: not after a ✗ line",
            "  chat-api  POST /message  Server  [██]  1.0ms  ✗ error: boom",
        ] {
            collector.line(line);
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
            collector.line(panicked);
            collector.line("✗ no span");
            assert_eq!(
                collector.seen[0].tests,
                ["tests::giphy_search_is_a_client_span"]
            );
        }
    }
    /// The test file of step 04, trimmed to its tests' names.
    const KAFKA_TESTS: &str = "\
async fn one_trace_from_post_to_both_consumers() {}
async fn giphy_keeps_the_trace_going() {}
async fn the_record_headers_carry_the_send_span() {}
async fn bad_headers_start_a_fresh_trace() {}
";

    /// stdout of `cargo test -p solution-04` (RUST_BACKTRACE=0) with an `unwrap()` added to
    /// `post_message`: chat-api's handler panics on a worker thread, the connection drops, and
    /// the check panics in turn with a message of its own that is no `✗`. Nothing else.
    const PANIC_STDOUT: &str = "
running 4 tests
test one_trace_from_post_to_both_consumers ... \u{1b}[31mFAILED\u{1b}(B\u{1b}[m
test giphy_keeps_the_trace_going ... \u{1b}[31mFAILED\u{1b}(B\u{1b}[m
test bad_headers_start_a_fresh_trace ... \u{1b}[32mok\u{1b}(B\u{1b}[m
test the_record_headers_carry_the_send_span ... \u{1b}[31mFAILED\u{1b}(B\u{1b}[m

failures:

---- one_trace_from_post_to_both_consumers stdout ----

thread 'tokio-rt-worker' (23456) panicked at solutions/solution-04/src/chat_api.rs:123:39:
called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }

thread 'one_trace_from_post_to_both_consumers' (23447) panicked at crates/check/src/lib.rs:112:17:
chat-api did not answer POST /message: error sending request for url (http://127.0.0.1:40989/message)

---- giphy_keeps_the_trace_going stdout ----

thread 'tokio-rt-worker' (23453) panicked at solutions/solution-04/src/chat_api.rs:123:39:
called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

thread 'giphy_keeps_the_trace_going' (23446) panicked at crates/check/src/lib.rs:112:17:
chat-api did not answer POST /message: error sending request for url (http://127.0.0.1:39009/message)

---- the_record_headers_carry_the_send_span stdout ----

thread 'tokio-rt-worker' (23458) panicked at solutions/solution-04/src/chat_api.rs:123:39:
called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }

thread 'the_record_headers_carry_the_send_span' (23448) panicked at crates/check/src/lib.rs:112:17:
chat-api did not answer POST /message: error sending request for url (http://127.0.0.1:44939/message)


failures:
    giphy_keeps_the_trace_going
    one_trace_from_post_to_both_consumers
    the_record_headers_carry_the_send_span

test result: \u{1b}[31mFAILED\u{1b}(B\u{1b}[m. 1 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.58s
";

    fn collect(output: &str) -> Collector {
        let mut collector = Collector::default();
        for line in output.lines() {
            collector.line(line);
        }
        collector
    }

    #[test]
    fn a_panic_in_the_steps_code_is_a_finding_that_says_where_to_look() {
        let findings = collect(PANIC_STDOUT).findings(&[KAFKA_TESTS]);
        // Once per place: three tests reached the same unwrap(), and the check's message
        // differs only by the port.
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert_eq!(
            findings[0].problem,
            "✗ the step's code panicked at solutions/solution-04/src/chat_api.rs:123:39: \
             called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }"
        );
        let hint = findings[0].hint.as_deref().unwrap();
        assert!(
            hint.starts_with("  hint: a panic in the step's code is a bug"),
            "{hint}"
        );
        assert!(
            hint.contains("Open solutions/solution-04/src/chat_api.rs at line 123"),
            "{hint}"
        );
        // The check's own panic comes second, and says that it follows from the first.
        assert!(
            findings[1].problem.starts_with(
                "✗ the check panicked at crates/check/src/lib.rs:112:17: chat-api did not answer"
            ),
            "{findings:#?}"
        );
        let hint = findings[1].hint.as_deref().unwrap();
        assert!(hint.contains("fix that one first"), "{hint}");
    }

    #[test]
    fn panics_of_the_check_and_of_libraries_get_their_own_hints() {
        let output = "\
---- one_trace_from_post_to_both_consumers stdout ----

thread 'one_trace_from_post_to_both_consumers' (7) panicked at crates/check/src/lib.rs:86:9:
assertion `left == right` failed: POST /message should answer 202; it answered 500
  left: 500
 right: 202

---- giphy_keeps_the_trace_going stdout ----

thread 'giphy_keeps_the_trace_going' (8) panicked at /home/ann/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/routing/mod.rs:289:21:
Cannot merge two `Router`s that both have a fallback
";
        let findings = collect(output).findings(&[KAFKA_TESTS]);
        assert_eq!(findings.len(), 2, "{findings:#?}");
        // The first line of the message is enough: the rest is printed above.
        assert_eq!(
            findings[0].problem,
            "✗ the check panicked at crates/check/src/lib.rs:86:9: assertion `left == right` \
             failed: POST /message should answer 202; it answered 500"
        );
        let hint = findings[0].hint.as_deref().unwrap();
        assert!(hint.contains("the check's own message"), "{hint}");
        assert!(
            findings[1]
                .problem
                .starts_with("✗ a library panicked at /home/ann/.cargo/"),
            "{findings:#?}"
        );
        let hint = findings[1].hint.as_deref().unwrap();
        assert!(hint.contains("RUST_BACKTRACE=1"), "{hint}");
    }

    #[test]
    fn a_panic_with_a_cross_or_a_todo_is_not_a_panic_finding() {
        // The check's ✗ is the finding; the todo!() is reported by the check as a ✗ too.
        let findings = collect(STDERR).findings(&[TEST_FILE]);
        assert!(
            findings.iter().all(|f| !f.problem.contains("panicked at")),
            "{findings:#?}"
        );
    }

    #[test]
    fn whose_code_a_place_is_in() {
        assert_eq!(whose("exercises/exercise-04/src/giphy.rs:3:1"), Whose::Step);
        assert_eq!(whose("src/giphy.rs:3:1"), Whose::Step);
        assert_eq!(
            whose("exercises/exercise-04/tests/kafka.rs:3:1"),
            Whose::Check
        );
        assert_eq!(whose("crates/check/src/trace.rs:3:1"), Whose::Check);
        assert_eq!(whose("crates/talk/src/launch.rs:3:1"), Whose::Library);
        assert_eq!(
            whose("/rustc/5980761/library/core/src/option.rs:3:1"),
            Whose::Library
        );
        assert_eq!(file_and_line("src/giphy.rs:12:5"), ("src/giphy.rs", "12"));
    }
}
