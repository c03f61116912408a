//! `cargo workbook check NN`: run a step's check, show the first thing to fix, remember the
//! result, and say what to do next.
//!
//! The check is the step's `tests/`, run by plain `cargo test`, so the same command works
//! without the runner. The runner shows one finding at a time, as rustlings shows one exercise:
//! the first failed expectation in the chapter's task order, with what the check captured, and
//! how many more there are. `--all` shows cargo's whole output and every finding instead. The
//! hints come one level at a time, on request (`cargo workbook hint NN`), and the runner never
//! moves on by itself: the learner decides when to start the next step.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

use crate::{
    cargo, class, files,
    findings::{Collector, Finding},
    reported::{self, Placed, Reported},
    status::{self, CheckResult, StatusRecord},
    steps::{Step, Workbook},
    tasks, ui,
};

/// The environment variable through which the check learns where to write its findings
/// (`crates/check/src/finding.rs`).
const FINDINGS_ENV: &str = "WORKBOOK_FINDINGS";

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    /// The crate did not compile, so no test ran.
    DoesNotBuild,
}

/// What a check run found.
struct Run {
    outcome: Outcome,
    /// The check's own findings, in task order.
    reported: Vec<Placed>,
    /// What the scraper found in the output: panics above all, which no check reports.
    scraped: Vec<Finding>,
    /// The first `file:line` of a compile error.
    error_place: Option<String>,
    /// The test run's output, shown when it holds something that no finding says.
    output: Vec<String>,
    duration: Duration,
}

/// Runs the check of the step named `arg`: the exercise's, or with `solution` the solution's
/// (for maintainers; it does not touch the learner's record). With `all`, cargo's whole output
/// and every finding are shown, not just the first finding. `test_args` go to the test
/// binaries, e.g. a test name to run only that test.
pub fn run(
    workbook: &Workbook,
    arg: &str,
    solution: bool,
    all: bool,
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
    let findings_file = findings_path(workbook, step, solution);
    let run = test(
        workbook,
        step,
        &package,
        dir,
        &findings_file,
        all,
        test_args,
    )?;

    println!();
    let shown = summarise(step, &run, all);
    if solution {
        let verdict = match run.outcome {
            Outcome::Passed => ui::paint(ui::PASS, "passes"),
            Outcome::Failed => ui::paint(ui::FAIL, "fails"),
            Outcome::DoesNotBuild => ui::paint(ui::FAIL, "does not compile"),
        };
        anstream::println!("{} {verdict}.", workbook.relative(dir));
    } else {
        remember(workbook, step, run.outcome);
        advise(workbook, step, run.outcome, shown);
        // Class mode (`cargo workbook class join`): tell the class board, within a second, and
        // never fail the check for it.
        class::report(&workbook.root, &class_report(workbook, step, &run));
    }
    Ok(match run.outcome {
        Outcome::Passed => ExitCode::SUCCESS,
        Outcome::Failed | Outcome::DoesNotBuild => ExitCode::FAILURE,
    })
}

/// Where a step's check writes its findings: `target/workbook/findings-05.jsonl`, beside the
/// status record. It is kept after the run, for `cargo workbook hint`.
pub fn findings_path(workbook: &Workbook, step: &Step, solution: bool) -> PathBuf {
    let status = status::status_path(&workbook.root);
    let dir = status.parent().unwrap_or(&workbook.root).to_path_buf();
    let suffix = if solution { "-solution" } else { "" };
    dir.join(format!("findings-{}{suffix}.jsonl", step.id))
}

/// The findings of the last check of `step`, in task order.
pub fn last_findings(workbook: &Workbook, step: &Step) -> Vec<Placed> {
    let reported = reported::read(&findings_path(workbook, step, false));
    let chapter = chapter_text(step);
    let crate_files = step
        .exercise
        .as_ref()
        .and_then(|dir| files::read_crate(dir).ok())
        .unwrap_or_default();
    let test_files = test_files(&crate_files);
    reported::in_task_order(reported, &tasks::tasks(&chapter), &test_files)
}

/// The step's chapter, or nothing when it is missing.
pub fn chapter_text(step: &Step) -> String {
    step.chapter
        .as_ref()
        .and_then(|chapter| std::fs::read_to_string(&chapter.path).ok())
        .unwrap_or_default()
}

/// The texts of a crate's test files, in the order cargo runs them.
fn test_files(crate_files: &files::CrateFiles) -> Vec<&str> {
    files::under(crate_files, "tests")
        .into_iter()
        .filter(|(path, _)| path.ends_with(".rs"))
        .filter_map(|(_, bytes)| std::str::from_utf8(bytes).ok())
        .collect()
}

/// The cargo arguments that pick the targets a check needs: the integration tests in `tests/`,
/// and the library's unit tests where its `src/` has any (step 04's carrier). The binary's
/// empty unit-test harness, an empty one for the library (which compiles the crate a second
/// time) and the doc-tests would only cost time.
fn targets(crate_files: &files::CrateFiles) -> Vec<&'static str> {
    let unit_tests = files::under(crate_files, "src")
        .into_values()
        .any(|bytes| String::from_utf8_lossy(bytes).contains("#[cfg(test)]"));
    let mut targets = vec!["--test", "*", "--no-fail-fast"];
    if unit_tests {
        targets.insert(0, "--lib");
    }
    targets
}

/// `cargo test -p <package>` in the crate at `dir`, and what it found.
///
/// It builds first (`--no-run`, its output in the terminal), so that a compile error gets
/// advice about compile errors rather than about the step's concepts; the test run then finds
/// everything built. Its output goes to the terminal only with `all`: otherwise the summary
/// shows what matters.
fn test(
    workbook: &Workbook,
    step: &Step,
    package: &str,
    dir: &Path,
    findings_file: &Path,
    all: bool,
    test_args: &[String],
) -> Result<Run> {
    let started = Instant::now();
    let crate_files = files::read_crate(dir).unwrap_or_default();
    let targets = targets(&crate_files);
    let mut build = cargo::command(&workbook.root);
    build.args(["test", "-p", package, "--no-run"]);
    build.args(&targets);
    build.arg(format!("--color={}", ui::cargo_colour()));
    let error_place = Mutex::new(class::ErrorPlace::default());
    let built = cargo::run_merged(build, true, |line| {
        lock(&error_place).line(line);
    })
    .with_context(|| cannot_run(package))?;
    if !built.success() {
        return Ok(Run {
            outcome: Outcome::DoesNotBuild,
            reported: Vec::new(),
            scraped: Vec::new(),
            error_place: error_place
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .place()
                .map(str::to_string),
            output: Vec::new(),
            duration: started.elapsed(),
        });
    }

    if let Some(dir) = findings_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // A missing file is what we want: the check appends to it.
    let _ = std::fs::remove_file(findings_file);
    if !all {
        anstream::println!(
            "{}",
            ui::paint(
                ui::NOTE,
                "Running the check… (--all shows cargo's whole output)"
            )
        );
    }
    // The run's output goes through a pipe (to be read for the summary), so cargo and libtest
    // cannot ask the terminal about colour: decide for them.
    let colour = match ui::cargo_colour() {
        "never" => "never",
        _ => "always",
    };
    let mut test = cargo::command(&workbook.root);
    test.args(["test", "-p", package]);
    test.args(&targets);
    test.args([&format!("--color={colour}"), "--", "--color", colour]);
    test.args(test_args);
    test.env(FINDINGS_ENV, findings_file);
    // No backtraces, whatever the learner's shell sets: a check's failures are panics, and with
    // RUST_BACKTRACE=1 each one prints a backtrace through tokio's runtime that drowns the
    // check's own message (328 lines of output instead of 136 in a learner trial). The `✗`
    // line, its hint and the waterfall say what is wrong; a backtrace says nothing more.
    test.env("RUST_BACKTRACE", "0");
    let collector = Mutex::new(Collector::default());
    let output = Mutex::new(Vec::new());
    let status = cargo::run_merged(test, all, |line| {
        lock(&collector).line(line);
        lock(&output).push(line.to_string());
    })
    .with_context(|| cannot_run(package))?;
    let output = output.into_inner().unwrap_or_else(PoisonError::into_inner);
    if status.success() {
        let counts = crate::libtest::count_results(&output);
        let passed = format!("All {} tests of the check pass.", counts.passed);
        anstream::println!("{}", ui::paint(ui::PASS, passed));
        return Ok(Run {
            outcome: Outcome::Passed,
            reported: Vec::new(),
            scraped: Vec::new(),
            error_place: None,
            output,
            duration: started.elapsed(),
        });
    }
    let test_files = test_files(&crate_files);
    let chapter = chapter_text(step);
    let collector = collector
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let scraped = collector.findings(&test_files);
    // A todo!() that a unit test of the step reached has no check around it to report it:
    // it joins the check's findings, so that it takes its place in the task order and gets
    // hints like the others.
    let mut found = reported::read(findings_file);
    let unit_todos: Vec<Reported> = scraped.iter().filter_map(unit_test_todo).collect();
    if !unit_todos.is_empty() {
        reported::append(findings_file, &unit_todos);
        found.extend(unit_todos);
    }
    let reported = reported::in_task_order(found, &tasks::tasks(&chapter), &test_files);
    Ok(Run {
        outcome: Outcome::Failed,
        reported,
        scraped,
        error_place: None,
        output,
        duration: started.elapsed(),
    })
}

/// The scraper's `✗ a unit test reached a todo!() at FILE:LINE:COL: MESSAGE`, as a finding.
fn unit_test_todo(finding: &Finding) -> Option<Reported> {
    let rest = finding
        .problem
        .strip_prefix("✗ a unit test reached a todo!() at ")?;
    let (location, message) = rest.split_once(": ")?;
    Some(Reported {
        test: String::new(),
        aspect: "todo".to_string(),
        concept: "the part to write".to_string(),
        saw: format!("a unit test reached a todo!() at {location}: {message}"),
        hint: "Replace the todo!() with your code: the chapter's Tasks section says what it \
               should do."
            .to_string(),
        location: Some(location.to_string()),
        ..Reported::default()
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means that a reader panicked; its data is still good.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn cannot_run(package: &str) -> String {
    format!("cannot run cargo test -p {package}; is cargo on your PATH?")
}

/// What a failing run shows: first any panic that no check reported (a bug in the step's code
/// comes before any expectation), then the first finding in task order, with its waterfall, and
/// how many more there are; with `all`, every finding. Returns whether it showed a finding.
fn summarise(step: &Step, run: &Run, all: bool) -> bool {
    if run.outcome != Outcome::Failed {
        return false;
    }
    // The scraper's panics that the check did not report itself: the check reports its own
    // failed expectations and todo!()s.
    let panics: Vec<&Finding> = run
        .scraped
        .iter()
        .filter(|finding| finding.problem.contains(" panicked at "))
        .collect();
    if run.reported.is_empty() && panics.is_empty() {
        // Nothing that the summary understands: show what cargo said, if it was not shown.
        if !all {
            for line in &run.output {
                anstream::println!("{line}");
            }
        }
        for finding in &run.scraped {
            print_scraped(finding);
        }
        return !run.scraped.is_empty();
    }
    for finding in &panics {
        print_scraped(finding);
    }
    let tasks = tasks::tasks(&chapter_text(step));
    let shown: &[Placed] = if all || panics.is_empty() {
        &run.reported
    } else {
        &[]
    };
    let shown = if all {
        shown
    } else {
        &shown[..shown.len().min(1)]
    };
    for placed in shown {
        print_reported(step, placed, tasks.len(), !all);
    }
    let more = run.reported.len() - shown.len();
    if more > 0 {
        let findings = if more == 1 { "finding" } else { "findings" };
        let command = ui::paint(
            ui::COMMAND,
            format!("cargo workbook check {} --all", step.id),
        );
        println!();
        anstream::println!(
            "{more} more {findings} after this one, in later tasks or other tests: fix this one \
             first, or see them all with {command}."
        );
    }
    true
}

/// One finding of the check: its task and concept, where to work, what the check saw, and
/// (with `waterfall`) what it captured.
fn print_reported(step: &Step, placed: &Placed, task_count: usize, waterfall: bool) {
    let finding = &placed.finding;
    let mut heading = match &placed.task {
        Some(task) => format!("Task {} of {task_count} · {}", task.number, finding.concept),
        None => finding.concept.clone(),
    };
    if let Some(service) = &finding.service {
        heading.push_str(&format!(" · {service}"));
    }
    anstream::println!("{}", ui::paint(ui::STRONG, heading));
    if let Some(place) = placed.task.as_ref().and_then(|task| task.place.as_ref()) {
        println!("  where: exercises/{}/{place}", step.id.exercise_package());
    } else if let Some(location) = &finding.location {
        println!("  where: {location}");
    }
    anstream::println!("{}", ui::paint(ui::FAIL, format!("✗ {}", finding.saw)));
    if waterfall && !finding.waterfall.trim().is_empty() {
        println!("\nWhat the check captured:\n");
        let lines: Vec<&str> = finding.waterfall.trim_end().lines().collect();
        for line in lines.iter().take(WATERFALL_LINES) {
            println!("{line}");
        }
        if lines.len() > WATERFALL_LINES {
            println!(
                "… and {} more lines (cargo workbook check {} --all shows them all)",
                lines.len() - WATERFALL_LINES,
                step.id
            );
        }
    }
    println!();
}

/// How much of a finding's waterfall the summary shows: a few traces, enough to see the shape
/// that is wrong; a burst of twelve messages would otherwise push the finding off the screen.
const WATERFALL_LINES: usize = 30;

/// A finding of the scraper: a `✗` line and its hint, or a panic.
fn print_scraped(finding: &Finding) {
    anstream::println!("{}", ui::paint(ui::FAIL, &finding.problem));
    if let Some(hint) = &finding.hint {
        println!("{hint}");
    }
    println!();
}

/// The class board's report of this run.
fn class_report(workbook: &Workbook, step: &Step, run: &Run) -> class::ClassReport {
    let first = run.reported.first();
    let scraped = run.scraped.first().map(|finding| finding.problem.as_str());
    let summary = match (run.outcome, first, scraped) {
        (Outcome::Passed, ..) => "passes".to_string(),
        (Outcome::DoesNotBuild, ..) => "does not compile".to_string(),
        (Outcome::Failed, _, Some(problem)) if problem.contains(" panicked at ") => {
            problem.to_string()
        }
        (Outcome::Failed, Some(placed), _) if placed.finding.aspect == "todo" => format!(
            "the app reached a todo!() at {}",
            placed.finding.location.as_deref().unwrap_or("?")
        ),
        (Outcome::Failed, Some(placed), _) => placed.finding.saw.clone(),
        (Outcome::Failed, None, Some(problem)) => problem.to_string(),
        (Outcome::Failed, None, None) => "fails".to_string(),
    };
    let mut report = class::ClassReport::from_summary(
        step.id,
        run.outcome == Outcome::Passed,
        run.outcome != Outcome::DoesNotBuild,
        &summary,
    );
    if run.outcome == Outcome::DoesNotBuild {
        report.place = run.error_place.clone();
    }
    if let Some(placed) = first
        && report.concept.is_none()
    {
        report.concept = Some(match &placed.task {
            Some(task) => format!("task {}: {}", task.number, placed.finding.concept),
            None => placed.finding.concept.clone(),
        });
    }
    report.duration_ms = Some(run.duration.as_millis() as u64);
    let record = StatusRecord::load(&status::status_path(&workbook.root));
    report.hints_used = record.hints_used(step.id).min(u8::MAX as u32) as u8;
    report
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
fn advise(workbook: &Workbook, step: &Step, outcome: Outcome, shown: bool) {
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
            let hint = ui::paint(ui::COMMAND, format!("cargo workbook hint {id}"));
            if shown {
                anstream::println!(
                    "Fix what the finding above names (a panic in the step's code first). Hints, \
                     one at a time: {hint}, or chapter {id}{}, section Hints. Stuck? {diff} \
                     shows the solution.",
                    chapter_location(workbook, step)
                );
            } else {
                anstream::println!(
                    "Read cargo's output above: it says which test failed and why. Hints: \
                     chapter {id}{}, section Hints. Stuck? {diff} shows the solution.",
                    chapter_location(workbook, step)
                );
            }
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
