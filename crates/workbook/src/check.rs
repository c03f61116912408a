//! `cargo workbook check NN`: run a step's check in the learner's terminal, remember the
//! result, and say what to do next.
//!
//! The check is the step's `tests/`, run by plain `cargo test`, so its output is cargo's own
//! and the same command works without the runner. The runner adds the advice around it, and
//! never moves on by itself: the learner decides when to start the next step.

use std::{
    path::Path,
    process::{Command, ExitCode},
    sync::{Mutex, PoisonError},
};

use anyhow::{Context, Result};

use crate::{
    cargo, class, files,
    findings::{Collector, Finding},
    status::{self, CheckResult, StatusRecord},
    steps::{Step, Workbook},
    ui,
};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    /// The crate did not compile, so no test ran.
    DoesNotBuild,
}

/// Runs the check of the step named `arg`: the exercise's, or with `solution` the solution's
/// (for maintainers; it does not touch the learner's record). `test_args` go to the test
/// binaries, e.g. a test name to run only that test.
pub fn run(
    workbook: &Workbook,
    arg: &str,
    solution: bool,
    test_args: &[String],
) -> Result<ExitCode> {
    let step = workbook.resolve(arg)?;
    let (dir, package, folder) = if solution {
        (
            step.solution.as_ref(),
            step.id.solution_package(),
            "solutions",
        )
    } else {
        (
            step.exercise.as_ref(),
            step.id.exercise_package(),
            "exercises",
        )
    };
    let dir = dir.with_context(|| {
        let restore = if solution {
            String::new()
        } else {
            format!(
                "; cargo workbook reset {} brings the exercise back",
                step.id
            )
        };
        format!(
            "{folder}/{package} is missing. Was it renamed or deleted? `git status` shows what \
             changed{restore}."
        )
    })?;

    let title = format!(
        "Step {} · {}: cargo test -p {package}",
        step.id,
        step.title()
    );
    anstream::println!("{}", ui::paint(ui::NOTE, title));
    let (outcome, findings) = test(workbook, &package, dir, test_args)?;

    println!();
    summarise(&findings);
    if solution {
        let verdict = match outcome {
            Outcome::Passed => ui::paint(ui::PASS, "passes"),
            Outcome::Failed => ui::paint(ui::FAIL, "fails"),
            Outcome::DoesNotBuild => ui::paint(ui::FAIL, "does not compile"),
        };
        anstream::println!("{} {verdict}.", workbook.relative(dir));
    } else {
        remember(workbook, step, outcome);
        advise(workbook, step, outcome);
        // Class mode (`cargo workbook class join`): tell the class board, within a second, and
        // never fail the check for it.
        let summary = match (outcome, findings.first()) {
            (Outcome::Passed, _) => "passes",
            (Outcome::DoesNotBuild, _) => "does not compile",
            (Outcome::Failed, Some(first)) => first.problem.as_str(),
            (Outcome::Failed, None) => "fails",
        };
        let report = class::ClassReport::from_summary(
            step.id,
            outcome == Outcome::Passed,
            outcome != Outcome::DoesNotBuild,
            summary,
        );
        class::report(&workbook.root, &report);
    }
    Ok(match outcome {
        Outcome::Passed => ExitCode::SUCCESS,
        Outcome::Failed | Outcome::DoesNotBuild => ExitCode::FAILURE,
    })
}

/// `cargo test -p <package>` in the crate at `dir`, with cargo's output going to the terminal
/// as it comes; for a failing run, also what its `✗` lines found.
///
/// It builds first (`--no-run`), so that a compile error gets advice about compile errors
/// rather than about the step's concepts; the test run then finds everything built.
fn test(
    workbook: &Workbook,
    package: &str,
    dir: &Path,
    test_args: &[String],
) -> Result<(Outcome, Vec<Finding>)> {
    let mut build = cargo::command(&workbook.root);
    build.args([
        "test",
        "-p",
        package,
        "--no-run",
        &format!("--color={}", ui::cargo_colour()),
    ]);
    if !succeeds(build, package)? {
        return Ok((Outcome::DoesNotBuild, Vec::new()));
    }

    // The run's output goes through a pipe (to be read for the summary), so cargo and libtest
    // cannot ask the terminal about colour: decide for them.
    let colour = match ui::cargo_colour() {
        "never" => "never",
        _ => "always",
    };
    let mut test = cargo::command(&workbook.root);
    test.args(["test", "-p", package, &format!("--color={colour}"), "--"]);
    test.args(["--color", colour]);
    test.args(test_args);
    // No backtraces, whatever the learner's shell sets: a check's failures are panics, and with
    // RUST_BACKTRACE=1 each one prints a backtrace through tokio's runtime that drowns the
    // check's own message (328 lines of output instead of 136 in a learner trial). The `✗`
    // line, its hint and the waterfall say what is wrong; a backtrace says nothing more.
    test.env("RUST_BACKTRACE", "0");
    let collector = Mutex::new(Collector::default());
    let status = cargo::run_teed(test, |stream, line| {
        // A poisoned lock only means that the other stream's reader panicked.
        let mut collector = collector.lock().unwrap_or_else(PoisonError::into_inner);
        collector.line(stream, line);
    })
    .with_context(|| cannot_run(package))?;
    if status.success() {
        return Ok((Outcome::Passed, Vec::new()));
    }
    // The test files, in the order cargo runs them, to put the findings in the same order.
    let crate_files = files::read_crate(dir).unwrap_or_default();
    let test_files: Vec<&str> = files::under(&crate_files, "tests")
        .into_iter()
        .filter(|(path, _)| path.ends_with(".rs"))
        .filter_map(|(_, bytes)| std::str::from_utf8(bytes).ok())
        .collect();
    let collector = collector
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok((Outcome::Failed, collector.findings(&test_files)))
}

fn succeeds(mut command: Command, package: &str) -> Result<bool> {
    let status = command.status().with_context(|| cannot_run(package))?;
    Ok(status.success())
}

fn cannot_run(package: &str) -> String {
    format!("cannot run cargo test -p {package}; is cargo on your PATH?")
}

/// After a failing run, its distinct `✗` lines and panics, with their hints, again in the
/// order of the tests: each failure above comes with a waterfall or a panic message, and the
/// tests finish in any order, so the first failure printed is not always the first to fix.
/// Nothing when there were none (a test binary that died without a panic, say).
fn summarise(findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    let problems = if findings.len() == 1 {
        "1 problem".to_string()
    } else {
        format!("{} problems", findings.len())
    };
    let title = format!("What the check found ({problems}):");
    anstream::println!("{}", ui::paint(ui::STRONG, title));
    for finding in findings {
        anstream::println!("{}", ui::paint(ui::FAIL, &finding.problem));
        if let Some(hint) = &finding.hint {
            println!("{hint}");
        }
    }
    println!();
}

/// Records the result for the step list. Failing to write it is not worth failing the check.
fn remember(workbook: &Workbook, step: &Step, outcome: Outcome) {
    let path = status::status_path(&workbook.root);
    let mut record = StatusRecord::load(&path);
    let result = match outcome {
        Outcome::Passed => CheckResult::Passed,
        Outcome::Failed | Outcome::DoesNotBuild => CheckResult::Failing,
    };
    record.record(step.id, result);
    if let Err(error) = record.save(&path) {
        eprintln!(
            "note: could not record the result in {}: {error}",
            path.display()
        );
    }
}

/// What to do after a check: fix the build, read the failure and the hints, or compare and
/// move on.
fn advise(workbook: &Workbook, step: &Step, outcome: Outcome) {
    let id = step.id;
    let diff = ui::paint(ui::COMMAND, format!("cargo workbook diff {id}"));
    let check = ui::paint(ui::COMMAND, format!("cargo workbook check {id}"));
    match outcome {
        Outcome::DoesNotBuild => {
            let headline = format!("exercise-{id} does not compile yet.");
            anstream::println!("{}", ui::paint(ui::FAIL, headline));
            anstream::println!(
                "Fix the first error above: the compiler names the file and line, and its `help:` \
                 lines often say how. Then run {check} again."
            );
        }
        Outcome::Failed => {
            anstream::println!(
                "{}",
                ui::paint(ui::FAIL, format!("Step {id} does not pass yet."))
            );
            anstream::println!(
                "Read the failure above: a ✗ names the concept that is missing, and a panic in \
                 the step's code is a bug to fix first. Hints: chapter {id}{}, section Hints. \
                 Stuck? {diff} shows the solution.",
                chapter_location(workbook, step)
            );
        }
        Outcome::Passed => {
            let headline = ui::paint(ui::PASS, format!("Step {id} passes."));
            anstream::println!("{headline} Compare with the solution: {diff}.");
            // The record now holds this pass (`remember` ran first).
            let record = StatusRecord::load(&status::status_path(&workbook.root));
            match workbook.next_to_do(&record) {
                Some(next) => anstream::println!(
                    "Next: read chapter {} · {}{}, then edit exercises/exercise-{} and run {}.",
                    next.id,
                    next.title(),
                    chapter_location(workbook, next),
                    next.id,
                    ui::paint(ui::COMMAND, format!("cargo workbook check {}", next.id))
                ),
                None => anstream::println!(
                    "Every step has passed: well done. `cargo workbook` shows where every step \
                     stands."
                ),
            }
        }
    }
}

/// ` (book/src/steps/02-first-spans.md)`, or nothing when the chapter is missing.
fn chapter_location(workbook: &Workbook, step: &Step) -> String {
    step.chapter
        .as_ref()
        .map(|file| format!(" ({})", workbook.relative(&file.path)))
        .unwrap_or_default()
}
