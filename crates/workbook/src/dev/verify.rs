//! `cargo workbook verify`: what CI proves about the workbook (design §1, maintainers).
//!
//! One line per rule and step, PASS or FAIL with the reasons, then a summary; the exit code is
//! non-zero unless every rule holds. The file rules come first because they take a second,
//! the cargo runs last because they take minutes. The rules:
//!
//! - every step has its exercise, its solution and its chapter (and nothing is misnamed);
//! - an exercise's `tests/` is its solution's but for the crate's own lib name
//!   (`exercise_NN` / `solution_NN`), and so is its `Cargo.toml` but for the package name:
//!   one check per step;
//! - exercise NN is solution NN-1 plus marked scaffolding regions, but for the crate's own lib
//!   name (`scaffold.rs`);
//! - each chapter has its heading and Time line and is in `SUMMARY.md`;
//! - every include in the book resolves, and no long Rust block is typed into a page;
//! - the schedule page is what `cargo workbook schedule --write` would write;
//! - every solution passes its check; step 01's exercise passes too (it is the tour), and
//!   every later exercise fails, for the right reason: its output names the step's
//!   `TODO(NN)` or prints a `hint:`;
//! - no finding that an exercise's check prints quotes the code that the learner is to write
//!   (`leaks`).

use std::{fmt::Write as _, fs, path::Path, process::ExitCode, time::Duration};

use anyhow::Result;

use super::{book, leaks, scaffold, schedule};
use crate::{
    cargo::{self, Captured},
    files::{self, CrateFiles},
    reported,
    steps::{Step, StepId, Workbook},
    ui,
};

/// How much of a failing cargo run to show: enough for the panic and its hint, short enough
/// to find the next FAIL line.
const FAILURE_LINES: usize = 60;

pub struct Options {
    /// Also print how long each crate takes to build and to check.
    pub timings: bool,
    /// Skip the cargo runs: a quick look at the file and book rules while writing a step.
    pub no_tests: bool,
}

/// `cargo workbook verify [--timings]`.
pub fn run(workbook: &Workbook, options: &Options) -> Result<ExitCode> {
    let mut report = Report::default();

    heading("Files");
    if !workbook.strays.is_empty() {
        report.rule(
            "workbook",
            "step folders and chapters are named NN",
            workbook.strays.clone(),
        );
    }
    for step in &workbook.steps {
        check_layout(&mut report, workbook, step);
        check_chapter(&mut report, workbook, step);
        if let (Some(exercise), Some(solution)) = (&step.exercise, &step.solution) {
            let exercise = files::read_crate(exercise)?;
            let solution = files::read_crate(solution)?;
            check_same_check(&mut report, step, &exercise, &solution);
            check_no_drift(&mut report, workbook, step, &exercise)?;
            if workbook.previous(step.id).is_some() {
                check_regions_hold_the_changes(&mut report, step, &exercise, &solution);
            }
        }
    }

    heading("Book");
    check_book(&mut report, workbook)?;
    check_schedule(&mut report, workbook)?;

    heading("Checks (cargo test, one crate at a time)");
    let mut timings = Vec::new();
    if options.no_tests {
        report.skip(
            "all",
            "solutions pass and exercises fail",
            "--no-tests: nothing was run",
        );
        return Ok(report.finish());
    }
    for step in workbook.crate_steps() {
        if step.solution.is_some() {
            let run = run_crate(workbook, &step.id.solution_package(), None)?;
            judge_solution(&mut report, step, &run);
            timings.push(run.timing());
        }
        if step.exercise.is_some() {
            let findings = crate::check::findings_path(workbook, step, false)
                .with_file_name(format!("verify-findings-{}.jsonl", step.id));
            let run = run_crate(workbook, &step.id.exercise_package(), Some(&findings))?;
            judge_exercise(&mut report, step, &run);
            judge_no_leak(&mut report, step, &run, &findings)?;
            timings.push(run.timing());
        }
    }

    if options.timings {
        print_timings(&timings);
    }
    Ok(report.finish())
}

/// Counts and prints rule outcomes.
#[derive(Default)]
struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    /// Prints the rule's line: PASS when there are no problems, FAIL with them otherwise.
    fn rule(&mut self, subject: &str, rule: &str, problems: Vec<String>) {
        if problems.is_empty() {
            self.pass(subject, rule, &[]);
        } else {
            self.fail(subject, rule, &problems);
        }
    }

    fn pass(&mut self, subject: &str, rule: &str, details: &[String]) {
        self.passed += 1;
        line(ui::paint(ui::PASS, "PASS"), subject, rule, details);
    }

    fn fail(&mut self, subject: &str, rule: &str, details: &[String]) {
        self.failed += 1;
        line(ui::paint(ui::FAIL, "FAIL"), subject, rule, details);
    }

    fn skip(&mut self, subject: &str, rule: &str, reason: &str) {
        line(
            ui::paint(ui::NOTE, "SKIP"),
            subject,
            &format!("{rule}: {reason}"),
            &[],
        );
    }

    fn finish(&self) -> ExitCode {
        println!();
        anstream::println!("verify: {} passed, {} failed", self.passed, self.failed);
        if self.failed == 0 {
            ExitCode::SUCCESS
        } else {
            anstream::println!(
                "{}",
                ui::paint(ui::FAIL, "The FAIL lines above say what to fix.")
            );
            ExitCode::FAILURE
        }
    }
}

fn heading(title: &str) {
    anstream::println!("\n{}", ui::paint(ui::STRONG, title));
}

fn line(verdict: String, subject: &str, rule: &str, details: &[String]) {
    anstream::println!("{verdict}  {subject:<8}  {rule}");
    for detail in details {
        for text in detail.lines() {
            anstream::println!("        {text}");
        }
    }
}

fn subject(step: &Step) -> String {
    format!("step {}", step.id)
}

/// Each step has its exercise, its solution and its chapter.
fn check_layout(report: &mut Report, workbook: &Workbook, step: &Step) {
    let id = step.id;
    let mut problems = Vec::new();
    if step.exercise.is_some() && step.solution.is_none() {
        problems.push(format!(
            "exercises/exercise-{id} has no solutions/solution-{id}"
        ));
    }
    if step.solution.is_some() && step.exercise.is_none() {
        problems.push(format!(
            "solutions/solution-{id} has no exercises/exercise-{id}"
        ));
    }
    match &step.chapter {
        Some(file) if !step.has_crates() => problems.push(format!(
            "{} is a chapter for a step with no exercises/exercise-{id} and no solutions/solution-{id}",
            workbook.relative(&file.path)
        )),
        None => problems.push(format!("no chapter book/src/steps/{id}-<slug>.md")),
        Some(_) => {}
    }
    report.rule(
        &subject(step),
        "exercise, solution and chapter are all there",
        problems,
    );
}

/// The chapter's heading and Time line are readable, and the book lists it.
/// (A step without a chapter is reported by [`check_layout`].)
fn check_chapter(report: &mut Report, workbook: &Workbook, step: &Step) {
    let Some(file) = &step.chapter else {
        return;
    };
    let shown = workbook.relative(&file.path);
    let mut problems: Vec<String> = file
        .chapter
        .problems(step.id)
        .into_iter()
        .map(|problem| format!("{shown}: {problem}"))
        .collect();
    let summary = fs::read_to_string(workbook.root.join("book/src/SUMMARY.md")).unwrap_or_default();
    let target = format!("steps/{}", file.file_name());
    if !book::summary_targets(&summary).contains(&target) {
        problems.push(format!(
            "book/src/SUMMARY.md does not link {target}, so the book leaves it out"
        ));
    }
    report.rule(
        &subject(step),
        "chapter has its heading and Time line, and is in SUMMARY.md",
        problems,
    );
}

/// One check per step: `tests/` identical but for the crate's own lib name, `Cargo.toml`
/// identical but for the package name.
fn check_same_check(
    report: &mut Report,
    step: &Step,
    exercise: &CrateFiles,
    solution: &CrateFiles,
) {
    let (exercise_name, solution_name) = (step.id.exercise_package(), step.id.solution_package());
    let mut problems = Vec::new();
    let (exercise_tests, solution_tests) = (
        files::under(exercise, "tests"),
        files::under(solution, "tests"),
    );
    if solution_tests.is_empty() {
        problems.push(format!(
            "{solution_name} has no tests/: a step's check lives there"
        ));
    }
    for (path, bytes) in &solution_tests {
        match exercise_tests.get(path) {
            None => problems.push(format!(
                "{path} is in {solution_name} but not in {exercise_name}"
            )),
            Some(other) if !same_code(other, &exercise_name, bytes, &solution_name) => {
                problems.push(format!(
                    "{path} differs between {exercise_name} and {solution_name} beyond the \
                     crate's name ({} / {}) (run: diff exercises/{exercise_name}/{path} \
                     solutions/{solution_name}/{path})",
                    files::lib_name(&exercise_name),
                    files::lib_name(&solution_name),
                ));
            }
            Some(_) => {}
        }
    }
    for path in exercise_tests
        .keys()
        .filter(|path| !solution_tests.contains_key(*path))
    {
        problems.push(format!(
            "{path} is in {exercise_name} but not in {solution_name}"
        ));
    }
    let manifest = |files: &CrateFiles, package: &str| {
        files
            .get("Cargo.toml")
            .map(|bytes| files::without_package_name(&String::from_utf8_lossy(bytes), package))
    };
    match (
        manifest(exercise, &exercise_name),
        manifest(solution, &solution_name),
    ) {
        (Some(a), Some(b)) if a == b => {}
        (Some(_), Some(_)) => problems.push(format!(
            "Cargo.toml differs beyond `name = \"...\"`: cargo workbook diff {} shows how",
            step.id
        )),
        _ => problems.push("a Cargo.toml is missing".to_string()),
    }
    report.rule(
        &subject(step),
        "tests/ and Cargo.toml are the solution's",
        problems,
    );
}

/// Whether two files of the packages `a_package` and `b_package` are the same once each one's
/// lib name is made neutral. A file that is not text must be byte for byte the same.
fn same_code(a: &[u8], a_package: &str, b: &[u8], b_package: &str) -> bool {
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => {
            files::with_neutral_lib(a, &files::lib_name(a_package))
                == files::with_neutral_lib(b, &files::lib_name(b_package))
        }
        _ => a == b,
    }
}

/// Exercise NN is solution NN-1 plus marked regions.
fn check_no_drift(
    report: &mut Report,
    workbook: &Workbook,
    step: &Step,
    exercise: &CrateFiles,
) -> Result<()> {
    let rule = "exercise starts where the previous solution ended";
    let Some(previous) = workbook.previous(step.id) else {
        report.skip(
            &subject(step),
            rule,
            "the first step has no previous solution",
        );
        return Ok(());
    };
    let Some(previous_dir) = &previous.solution else {
        let problem = format!(
            "there is no solutions/solution-{} to start from",
            previous.id
        );
        report.fail(&subject(step), rule, &[problem]);
        return Ok(());
    };
    let previous_files = files::read_crate(previous_dir)?;
    let problems = scaffold::drift(
        step.id,
        &files::under(exercise, "src"),
        &files::under(&previous_files, "src"),
        &previous.id.solution_package(),
    );
    report.rule(
        &subject(step),
        &format!(
            "{rule} (solution-{} + TODO({}) regions)",
            previous.id, step.id
        ),
        problems,
    );
    Ok(())
}

/// Every line a learner must change lies inside a region: the exercise, its regions aside, is
/// also the step's own solution with each region standing for some of its lines.
fn check_regions_hold_the_changes(
    report: &mut Report,
    step: &Step,
    exercise: &CrateFiles,
    solution: &CrateFiles,
) {
    let rule = "every line to change lies inside a TODO region";
    let problems = scaffold::drift(
        step.id,
        &files::under(exercise, "src"),
        &files::under(solution, "src"),
        &step.id.solution_package(),
    );
    report.rule(&subject(step), rule, problems);
}

/// Every include resolves, and no long Rust block is typed into a page.
fn check_book(report: &mut Report, workbook: &Workbook) -> Result<()> {
    let src = workbook.root.join("book/src");
    if !src.is_dir() {
        report.fail(
            "book",
            "the book exists",
            &["book/src is missing".to_string()],
        );
        return Ok(());
    }
    let check = book::check_pages(&src, |path| workbook.relative(path))?;
    report.rule(
        "book",
        &format!(
            "every include resolves ({} includes in {} pages)",
            check.includes, check.pages
        ),
        check.include_problems,
    );
    report.rule(
        "book",
        &format!(
            "every rust block over {} lines is included from a crate",
            book::MAX_TYPED_RUST_LINES
        ),
        check.typed_blocks,
    );
    Ok(())
}

/// The schedule page is what `schedule --write` would write.
fn check_schedule(report: &mut Report, workbook: &Workbook) -> Result<()> {
    let rule = "the schedule page is up to date";
    let path = workbook.root.join(schedule::PAGE);
    let Ok(current) = fs::read_to_string(&path) else {
        report.skip("book", rule, &format!("there is no {}", schedule::PAGE));
        return Ok(());
    };
    let (generated, _) = schedule::render_page(&schedule::scheduled_steps(workbook));
    let problems = if current == generated {
        Vec::new()
    } else {
        vec![format!(
            "{} differs from what the chapters' Time lines give: run cargo workbook schedule --write",
            schedule::PAGE
        )]
    };
    report.rule("book", rule, problems);
    Ok(())
}

/// The build and the test run of one crate.
struct CrateRun {
    package: String,
    build: Captured,
    /// `None` when the build failed.
    test: Option<Captured>,
}

impl CrateRun {
    fn timing(&self) -> Timing {
        Timing {
            package: self.package.clone(),
            build: self.build.elapsed.as_secs_f64(),
            check: self.test.as_ref().map(|test| test.elapsed.as_secs_f64()),
        }
    }

    /// The `test result:` lines, always shown, so a run that tested nothing cannot pass
    /// unnoticed.
    fn result_lines(&self) -> Vec<String> {
        let Some(test) = &self.test else {
            return vec!["(did not build, so nothing was tested)".to_string()];
        };
        let lines: Vec<String> = crate::libtest::result_lines(&test.lines)
            .iter()
            .map(|l| l.to_string())
            .collect();
        if lines.is_empty() {
            vec!["(no `test result:` line: nothing was tested)".to_string()]
        } else {
            lines
        }
    }

    /// The result lines, then the end of the output that failed.
    fn failure_details(&self, reason: String) -> Vec<String> {
        let mut details = vec![reason];
        details.extend(self.result_lines());
        let output = self.test.as_ref().unwrap_or(&self.build);
        let mut tail = format!("--- last {FAILURE_LINES} lines of cargo's output ---");
        for line in output.tail(FAILURE_LINES) {
            let _ = write!(tail, "\n{line}");
        }
        details.push(tail);
        details
    }
}

/// How long building one crate's tests may take: the first crate built after a workspace
/// build still links every test binary; a cold build of everything takes about 5 minutes on 2
/// cores.
const BUILD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// How long one crate's check may run. The slowest check takes under 20 s; a check that runs
/// for minutes has a test waiting for something that never comes.
const CHECK_LIMIT: Duration = Duration::from_secs(5 * 60);

/// Builds the crate's tests, then runs them (the same as `cargo workbook check`, timed
/// separately so `--timings` can tell building from checking).
/// With `findings`, the check writes its findings there (`WORKBOOK_FINDINGS`).
fn run_crate(workbook: &Workbook, package: &str, findings: Option<&Path>) -> Result<CrateRun> {
    let mut build = cargo::command(&workbook.root);
    build.args(["test", "-p", package, "--no-run", "--color=never"]);
    let build = cargo::run_captured(build, BUILD_LIMIT)?;
    let test = if build.success {
        let mut test = cargo::command(&workbook.root);
        // --no-fail-fast: report every test binary, not just up to the first that fails.
        test.args(["test", "-p", package, "--no-fail-fast", "--color=never"]);
        if let Some(findings) = findings {
            let _ = fs::remove_file(findings);
            if let Some(dir) = findings.parent() {
                fs::create_dir_all(dir)?;
            }
            test.env("WORKBOOK_FINDINGS", findings);
        }
        Some(cargo::run_captured(test, CHECK_LIMIT)?)
    } else {
        None
    };
    Ok(CrateRun {
        package: package.to_string(),
        build,
        test,
    })
}

/// Whether a run passed with at least one test, or why not.
fn passing(run: &CrateRun) -> Result<(), String> {
    if let Some(reason) = timed_out(run) {
        return Err(reason);
    }
    let Some(test) = &run.test else {
        return Err(format!(
            "{} does not build (cargo test --no-run fails)",
            run.package
        ));
    };
    let counts = crate::libtest::count_results(&test.lines);
    if !test.success {
        Err(format!("cargo test -p {} fails", run.package))
    } else if counts.passed == 0 {
        Err(format!("cargo test -p {} ran no test", run.package))
    } else {
        Ok(())
    }
}

/// Why the run was stopped, if it ran past its limit.
fn timed_out(run: &CrateRun) -> Option<String> {
    if run.build.timed_out {
        return Some(format!(
            "building {}'s tests did not finish within {} min, and was stopped",
            run.package,
            BUILD_LIMIT.as_secs() / 60
        ));
    }
    let test = run.test.as_ref()?;
    test.timed_out.then(|| {
        format!(
            "cargo test -p {} did not finish within {} min, and was stopped: a test waits for \
             something that never comes (the output's \"has been running for over 60 seconds\" \
             line names it)",
            run.package,
            CHECK_LIMIT.as_secs() / 60
        )
    })
}

fn judge_solution(report: &mut Report, step: &Step, run: &CrateRun) {
    let rule = format!("{} passes its check", run.package);
    match passing(run) {
        Ok(()) => report.pass(&subject(step), &rule, &run.result_lines()),
        Err(reason) => report.fail(&subject(step), &rule, &run.failure_details(reason)),
    }
}

fn judge_exercise(report: &mut Report, step: &Step, run: &CrateRun) {
    if step.id == StepId::FIRST {
        // Step 01 is the tour of the uninstrumented app: nothing to write, so it passes.
        let rule = format!("{} passes (step 01 is the tour)", run.package);
        match passing(run) {
            Ok(()) => report.pass(&subject(step), &rule, &run.result_lines()),
            Err(reason) => report.fail(&subject(step), &rule, &run.failure_details(reason)),
        }
        return;
    }
    let marker = step.id.todo_marker();
    let rule = format!(
        "{} fails its check, naming {marker} or a hint:",
        run.package
    );
    if let Some(reason) = timed_out(run) {
        report.fail(&subject(step), &rule, &run.failure_details(reason));
        return;
    }
    let Some(test) = &run.test else {
        let reason = format!(
            "{} does not build: an exercise must compile (gaps are todo!()), so that only its check fails",
            run.package
        );
        report.fail(&subject(step), &rule, &run.failure_details(reason));
        return;
    };
    if test.success {
        let reason = format!(
            "cargo test -p {} passes: the exercise has nothing left to do",
            run.package
        );
        report.fail(&subject(step), &rule, &run.failure_details(reason));
    } else if !(test.contains(&marker) || test.contains("hint:")) {
        let reason = format!(
            "it fails, but no line of its output has {marker} or hint:, so it may fail for the \
             wrong reason (a time-out, a panic in the harness)"
        );
        report.fail(&subject(step), &rule, &run.failure_details(reason));
    } else {
        report.pass(&subject(step), &rule, &run.result_lines());
    }
}

/// No finding of the exercise's check quotes the code to write: neither what the check
/// reported (its words; the code it keeps for `cargo workbook hint` is left out) nor a `✗` or
/// `hint:` line of its output.
fn judge_no_leak(report: &mut Report, step: &Step, run: &CrateRun, findings: &Path) -> Result<()> {
    let (Some(exercise), Some(solution)) = (&step.exercise, &step.solution) else {
        return Ok(());
    };
    let rule = format!("{}'s findings do not quote the code to write", run.package);
    let Some(test) = &run.test else {
        report.skip(&subject(step), &rule, "it does not build");
        return Ok(());
    };
    let exercise = files::read_crate(exercise)?;
    let solution = files::read_crate(solution)?;
    let texts = |files: &CrateFiles| -> Vec<String> {
        files::under(files, "src")
            .into_values()
            .filter_map(|bytes| std::str::from_utf8(bytes).ok().map(str::to_string))
            .collect()
    };
    let (solution, exercise) = (texts(&solution), texts(&exercise));
    let answers = leaks::answer_lines(
        &solution.iter().map(String::as_str).collect::<Vec<_>>(),
        &exercise.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut printed: Vec<String> = reported::read(findings)
        .into_iter()
        .flat_map(|finding| [finding.saw, finding.hint])
        .collect();
    printed.extend(
        test.lines
            .iter()
            .filter(|line| {
                line.trim_start().starts_with("✗ ") || line.trim_start().starts_with("hint")
            })
            .cloned(),
    );
    let problems: Vec<String> = printed
        .iter()
        .filter_map(|text| {
            leaks::quoted(text, &answers).map(|answer| {
                format!(
                    "the finding \"{}\" quotes the solution's `{answer}`",
                    text.trim()
                )
            })
        })
        .collect();
    report.rule(&subject(step), &rule, problems);
    Ok(())
}

/// Seconds to build one crate's tests and to run them.
struct Timing {
    package: String,
    build: f64,
    /// `None` when it did not build.
    check: Option<f64>,
}

fn print_timings(timings: &[Timing]) {
    heading("Timings (seconds)");
    anstream::println!(
        "{}",
        ui::paint(
            ui::NOTE,
            "build: cargo test --no-run, on the tree as it was; check: cargo test on the built tree"
        )
    );
    anstream::println!("{:<14} {:>8} {:>8}", "crate", "build", "check");
    for timing in timings {
        let check = timing
            .check
            .map_or_else(|| "-".to_string(), |secs| format!("{secs:.1}"));
        anstream::println!("{:<14} {:>8.1} {:>8}", timing.package, timing.build, check);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(number: &str) -> Step {
        Step {
            id: StepId::parse_arg(number).unwrap(),
            exercise: None,
            solution: None,
            chapter: None,
        }
    }

    fn captured(success: bool, lines: &[&str]) -> Captured {
        Captured {
            success,
            lines: lines.iter().map(|line| line.to_string()).collect(),
            elapsed: Duration::from_secs(1),
            timed_out: false,
        }
    }

    /// A run whose build passed, with the test run given (or none: it did not build).
    fn run(test: Option<Captured>) -> CrateRun {
        CrateRun {
            package: "exercise-05".to_string(),
            build: captured(test.is_some(), &[]),
            test,
        }
    }

    const PASSED: &str = "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured";
    const NOTHING: &str = "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured";
    const FAILED: &str = "test result: FAILED. 1 passed; 3 failed; 0 ignored; 0 measured";

    /// The rule's verdict: how many rules passed and failed.
    fn judged(judge: impl Fn(&mut Report)) -> (usize, usize) {
        let mut report = Report::default();
        judge(&mut report);
        (report.passed, report.failed)
    }

    #[test]
    fn a_solution_passes_only_when_tests_ran_and_passed() {
        let passing = run(Some(captured(true, &[PASSED])));
        assert_eq!(judged(|r| judge_solution(r, &step("05"), &passing)), (1, 0));
        let empty = run(Some(captured(true, &[NOTHING])));
        assert_eq!(
            passing_reason(&empty),
            "cargo test -p exercise-05 ran no test"
        );
        assert_eq!(judged(|r| judge_solution(r, &step("05"), &empty)), (0, 1));
        let failing = run(Some(captured(false, &[FAILED])));
        assert_eq!(judged(|r| judge_solution(r, &step("05"), &failing)), (0, 1));
        assert_eq!(
            judged(|r| judge_solution(r, &step("05"), &run(None))),
            (0, 1)
        );
    }

    #[test]
    fn an_exercise_must_fail_and_for_the_right_reason() {
        let with_marker = run(Some(captured(
            false,
            &[
                "✗ the app reached a todo!() at src/x.rs:1: TODO(05): write it",
                FAILED,
            ],
        )));
        assert_eq!(
            judged(|r| judge_exercise(r, &step("05"), &with_marker)),
            (1, 0)
        );
        let with_hint = run(Some(captured(false, &["  hint: a link", FAILED])));
        assert_eq!(
            judged(|r| judge_exercise(r, &step("05"), &with_hint)),
            (1, 0)
        );
        // A failure that names neither the step's TODO nor a hint may be the wrong failure.
        let silent = run(Some(captured(false, &["thread 'x' panicked", FAILED])));
        assert_eq!(judged(|r| judge_exercise(r, &step("05"), &silent)), (0, 1));
        // An exercise that passes has nothing left to do; one that does not build is broken.
        let done = run(Some(captured(true, &[PASSED])));
        assert_eq!(judged(|r| judge_exercise(r, &step("05"), &done)), (0, 1));
        assert_eq!(
            judged(|r| judge_exercise(r, &step("05"), &run(None))),
            (0, 1)
        );
    }

    #[test]
    fn step_01_is_the_tour_so_its_exercise_passes() {
        let done = run(Some(captured(true, &[PASSED])));
        assert_eq!(judged(|r| judge_exercise(r, &step("01"), &done)), (1, 0));
        let broken = run(Some(captured(false, &[FAILED])));
        assert_eq!(judged(|r| judge_exercise(r, &step("01"), &broken)), (0, 1));
    }

    #[test]
    fn a_run_stopped_at_its_limit_fails_and_says_why() {
        let mut stopped = captured(false, &["test slow has been running for over 60 seconds"]);
        stopped.timed_out = true;
        let stopped = run(Some(stopped));
        assert!(
            timed_out(&stopped)
                .unwrap()
                .contains("did not finish within 5 min")
        );
        assert_eq!(judged(|r| judge_exercise(r, &step("05"), &stopped)), (0, 1));
        assert_eq!(judged(|r| judge_solution(r, &step("05"), &stopped)), (0, 1));
    }

    fn passing_reason(run: &CrateRun) -> String {
        passing(run).unwrap_err()
    }
}
