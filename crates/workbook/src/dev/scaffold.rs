//! The no-drift rule: exercise NN starts exactly where solution NN-1 ended.
//!
//! An exercise is the previous solution plus *marked scaffolding regions*: the `todo!()`s,
//! the comments that say what to write, new plumbing, an `#[allow]` for a variable the learner
//! has yet to use. A region opens on a line whose trimmed text starts with `// TODO(NN)` (NN is
//! the exercise's own step) and closes with the next line whose trimmed text is
//! `// END TODO(NN)`, both lines included:
//!
//! ```text
//!     // TODO(02): start a `POST /message` SERVER span here, from the incoming headers.
//!     let _span = todo!("TODO(02): the POST span");
//!     // END TODO(02)
//! ```
//!
//! A region may also hold lines of the previous solution that the learner must change: every
//! line to change then lies inside a region, and the region's comment says what to do with it.
//! So the rule is: remove the regions, and every file that also exists in
//! `solutions/solution-(NN-1)/src` must be byte for byte that file, where each region may stand
//! for any run of its lines (none, usually) and nothing else may differ, but for the crate's
//! own lib name: `main.rs` says
//! `exercise_NN::Step` where the previous solution says `solution_(NN-1)::Step`, and both are
//! compared as `<crate>` (`files::with_neutral_lib`). Everything else counts, the book's
//! `// ANCHOR:` lines included: an exercise carries the previous solution's anchors exactly. A file new in the step (a module it introduces) is compared
//! with nothing: it needs a `TODO(NN)` somewhere, and its TODO comments need no `END`. So a learner who finished step NN-1 and opens step NN finds
//! their own code again, with nothing changed behind their back. `book/CONTRIBUTING-STEPS.md`
//! explains the rule to maintainers.

use std::collections::BTreeMap;

use similar::TextDiff;

use crate::{files, steps::StepId};

/// A marking mistake, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionError {
    pub line: usize,
    pub message: String,
}

/// The text with every `TODO(step)` region removed, or the first marking mistake: a region
/// left open, one opened inside another, or an `END` with no opening.
#[cfg(test)]
fn strip_regions(text: &str, step: StepId) -> Result<String, RegionError> {
    Ok(outside_regions(text, step)?.concat())
}

/// The runs of lines outside the `TODO(step)` regions, in order: one more than there are
/// regions, each possibly empty. Fails like [`strip_regions`].
pub fn outside_regions(text: &str, step: StepId) -> Result<Vec<String>, RegionError> {
    let opening = format!("// {}", step.todo_marker());
    let closing = format!("// END {}", step.todo_marker());
    let mut runs = Vec::new();
    let mut kept = String::with_capacity(text.len());
    // The line where the region we are in opened, if we are in one.
    let mut open_since: Option<usize> = None;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        let opens = trimmed.starts_with(&opening);
        let closes = trimmed == closing;
        match (open_since, opens, closes) {
            (None, true, _) => {
                open_since = Some(number);
                runs.push(std::mem::take(&mut kept));
            }
            (None, false, true) => {
                return Err(RegionError {
                    line: number,
                    message: format!("`{closing}` closes a region that was never opened"),
                });
            }
            (None, false, false) => kept.push_str(line),
            (Some(start), true, _) => {
                return Err(RegionError {
                    line: number,
                    message: format!(
                        "a `{opening}` region opens inside the one opened on line {start}; \
                         regions do not nest, close the first with `{closing}`"
                    ),
                });
            }
            (Some(_), false, true) => open_since = None,
            (Some(_), false, false) => {}
        }
    }
    match open_since {
        Some(start) => Err(RegionError {
            line: start,
            message: format!("the `{opening}` region opened here is never closed with `{closing}`"),
        }),
        None => {
            runs.push(kept);
            Ok(runs)
        }
    }
}

/// Does `before` read as `runs` with any run of its lines (possibly none) in each gap between
/// them? That is, is it the exercise with each region standing for some of the previous
/// solution's lines? Matched line by line, like a glob pattern `run0*run1*…*runN` whose first
/// and last runs are anchored: the leftmost match of each middle run is then the right one.
fn fits(runs: &[String], before: &str) -> bool {
    let lines =
        |text: &str| -> Vec<String> { text.split_inclusive('\n').map(String::from).collect() };
    let runs: Vec<Vec<String>> = runs.iter().map(|run| lines(run)).collect();
    let before = lines(before);
    let [first, middle @ .., last] = runs.as_slice() else {
        // One run: no region at all, so the file must be the same.
        return runs.first().is_some_and(|only| *only == before);
    };
    if !before.starts_with(first) || before.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &before[first.len()..];
    if !rest.ends_with(last) {
        return false;
    }
    rest = &rest[..rest.len() - last.len()];
    for run in middle {
        let found = if run.is_empty() {
            Some(0)
        } else {
            rest.windows(run.len())
                .position(|window| window == run.as_slice())
        };
        match found {
            Some(at) => rest = &rest[at + run.len()..],
            None => return false,
        }
    }
    true
}

/// What breaks the no-drift rule for exercise `step`: compares the exercise's `src/` files with
/// those of the previous solution (`previous`, the package `previous_name`, `solution-01`).
/// Each side's own lib name (`exercise_02`, `solution_01`) is made neutral first; anchors are
/// not ignored. Maps are keyed by crate-relative path (`src/lib.rs`). An empty list means the
/// rule holds.
pub fn drift(
    step: StepId,
    exercise: &BTreeMap<&str, &[u8]>,
    previous: &BTreeMap<&str, &[u8]>,
    previous_name: &str,
) -> Vec<String> {
    let marker = step.todo_marker();
    let exercise_lib = files::lib_name(&step.exercise_package());
    let previous_lib = files::lib_name(previous_name);
    let mut problems = Vec::new();
    for path in previous.keys() {
        if !exercise.contains_key(path) {
            problems.push(format!(
                "{path} is in {previous_name} but missing from exercise-{step}: an exercise \
                 keeps every file of the step before"
            ));
        }
    }
    for (path, bytes) in exercise {
        let Ok(text) = std::str::from_utf8(bytes) else {
            // A binary file cannot hold markers: it must be unchanged, or it is new.
            match previous.get(path) {
                Some(before) if before == bytes => {}
                Some(_) => problems.push(format!("{path} differs from {previous_name}'s")),
                None => problems.push(format!(
                    "{path} is new in exercise-{step} and is not text, so it cannot carry a {marker} marker"
                )),
            }
            continue;
        };
        let Some(before) = previous.get(path) else {
            // A new file is compared with nothing, so its TODO comments need no END: it only
            // has to say that it is the learner's to fill in.
            if !text.contains(&marker) {
                problems.push(format!(
                    "{path} is new in exercise-{step} but has no {marker} marker: a module the \
                     step introduces is scaffolding too, so mark what the learner writes in it"
                ));
            }
            continue;
        };
        let text = files::with_neutral_lib(text, &exercise_lib);
        match outside_regions(&text, step) {
            Err(error) => problems.push(format!("{path}:{}: {}", error.line, error.message)),
            Ok(runs) => {
                // (A previous file that is not text cannot equal one that is.)
                let before_is_text = std::str::from_utf8(before).is_ok();
                let before =
                    files::with_neutral_lib(&String::from_utf8_lossy(before), &previous_lib);
                if before_is_text && fits(&runs, &before) {
                    continue;
                }
                let stripped = runs.concat();
                problems.push(format!(
                    "{path} differs from {previous_name}'s outside its {marker} regions \
                     (- {previous_name}, + exercise-{step} without its regions):\n{}",
                    first_changes(&before, &stripped)
                ));
            }
        }
    }
    problems
}

/// The first few changed lines between two texts, as a short unified diff: enough to find the
/// drift without flooding verify's report.
fn first_changes(before: &str, after: &str) -> String {
    const SHOWN: usize = 12;
    let diff = TextDiff::from_lines(before, after);
    let unified = diff.unified_diff().context_radius(1).to_string();
    let mut lines: Vec<&str> = unified.lines().take(SHOWN).collect();
    if unified.lines().count() > SHOWN {
        lines.push("...");
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: &str) -> StepId {
        StepId::parse_arg(text).unwrap()
    }

    const SOLUTION_01: &str = "fn main() {\n    serve();\n}\n";

    const EXERCISE_02: &str = "\
fn main() {
    // TODO(02): set up a tracer provider for chat-api.
    let _provider = todo!(\"TODO(02)\");
    // END TODO(02)
    serve();
}
";

    #[test]
    fn stripping_removes_each_region_with_its_marker_lines() {
        assert_eq!(strip_regions(EXERCISE_02, step("02")).unwrap(), SOLUTION_01);
    }

    #[test]
    fn several_regions_and_indented_markers_are_all_removed() {
        let text =
            "a\n  // TODO(02) one\n  x\n  // END TODO(02)\nb\n// TODO(02)\n// END TODO(02)\nc\n";
        assert_eq!(strip_regions(text, step("02")).unwrap(), "a\nb\nc\n");
    }

    #[test]
    fn markers_of_other_steps_are_ordinary_text() {
        let text = "// TODO(03): later\nx\n// END TODO(03)\n";
        assert_eq!(strip_regions(text, step("02")).unwrap(), text);
    }

    #[test]
    fn a_region_left_open_is_an_error_at_its_opening_line() {
        let text = "a\n// TODO(02): open\nb\n";
        let error = strip_regions(text, step("02")).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("never closed"), "{}", error.message);
    }

    #[test]
    fn a_nested_region_is_an_error_at_the_inner_opening() {
        let text = "// TODO(02) outer\n// TODO(02) inner\n// END TODO(02)\n// END TODO(02)\n";
        let error = strip_regions(text, step("02")).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("line 1"), "{}", error.message);
    }

    #[test]
    fn an_end_without_an_opening_is_an_error() {
        let error = strip_regions("x\n// END TODO(02)\n", step("02")).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("never opened"), "{}", error.message);
    }

    #[test]
    fn a_file_without_a_final_newline_keeps_its_last_line() {
        assert_eq!(
            strip_regions("a\n// TODO(02)\n// END TODO(02)\nb", step("02")).unwrap(),
            "a\nb"
        );
    }

    fn files<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<&'a str, &'a [u8]> {
        pairs
            .iter()
            .map(|(path, text)| (*path, text.as_bytes()))
            .collect()
    }

    #[test]
    fn an_exercise_that_is_the_previous_solution_plus_regions_has_no_drift() {
        let exercise = files(&[
            ("src/main.rs", EXERCISE_02),
            (
                "src/telemetry.rs",
                "// TODO(02): a new module\npub fn init() {}\n// END TODO(02)\n",
            ),
        ]);
        let previous = files(&[("src/main.rs", SOLUTION_01)]);
        assert_eq!(
            drift(step("02"), &exercise, &previous, "solution-01"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_region_may_hold_the_old_lines_the_learner_replaces() {
        let exercise = "fn main() {\n    // TODO(02): serve with tracing instead.\n    serve();\n    // END TODO(02)\n    done();\n}\n";
        let previous = "fn main() {\n    serve();\n    done();\n}\n";
        let exercise = files(&[("src/main.rs", exercise)]);
        let problems = drift(
            step("02"),
            &exercise,
            &files(&[("src/main.rs", previous)]),
            "solution-01",
        );
        assert!(problems.is_empty(), "{problems:?}");
        // A region stands for a run of the old lines in its own place, not anywhere.
        let moved = "fn main() {\n    done();\n    serve();\n}\n";
        let problems = drift(
            step("02"),
            &exercise,
            &files(&[("src/main.rs", moved)]),
            "solution-01",
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn runs_between_regions_must_come_in_order_and_the_ends_are_anchored() {
        let runs =
            |parts: &[&str]| -> Vec<String> { parts.iter().map(|p| p.to_string()).collect() };
        assert!(fits(&runs(&["a\n", "c\n", "e\n"]), "a\nb\nc\nd\ne\n"));
        assert!(fits(&runs(&["a\n", "", "e\n"]), "a\ne\n"));
        assert!(!fits(&runs(&["a\n", "c\n", "e\n"]), "a\nb\ne\n"));
        assert!(!fits(&runs(&["a\n", "e\n"]), "x\na\ne\n"));
        assert!(!fits(&runs(&["a\n", "e\n"]), "a\ne\nx\n"));
        // A line is a whole line: "c" does not match inside "cc".
        assert!(!fits(&runs(&["a\n", "c\n", "e\n"]), "a\ncc\ne\n"));
        assert!(fits(&runs(&["a\nb\n"]), "a\nb\n"));
    }

    #[test]
    fn a_change_outside_the_regions_is_drift_and_is_shown() {
        let edited = EXERCISE_02.replace("serve();", "serve_all();");
        let exercise = files(&[("src/main.rs", &edited)]);
        let previous = files(&[("src/main.rs", SOLUTION_01)]);
        let problems = drift(step("02"), &exercise, &previous, "solution-01");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("-    serve();"), "{}", problems[0]);
        assert!(problems[0].contains("+    serve_all();"), "{}", problems[0]);
    }

    #[test]
    fn a_new_file_only_needs_a_marker_not_closed_regions() {
        let exercise = files(&[(
            "src/telemetry.rs",
            "pub fn init() {\n    // TODO(02): build it\n    todo!()\n}\n",
        )]);
        assert!(drift(step("02"), &exercise, &BTreeMap::new(), "solution-01").is_empty());
    }

    const MAIN: &str = "\
fn main() -> std::process::ExitCode {
    // ANCHOR: main
    talk::launch::main(LIB::Step)
    // ANCHOR_END: main
}
";

    #[test]
    fn main_may_name_its_own_crate_where_the_previous_solution_named_its_own() {
        let main = MAIN.replace("LIB", "exercise_02");
        let exercise = files(&[("src/main.rs", &main)]);
        let previous_main = MAIN.replace("LIB", "solution_01");
        let previous = files(&[("src/main.rs", &previous_main)]);
        assert_eq!(
            drift(step("02"), &exercise, &previous, "solution-01"),
            Vec::<String>::new()
        );
        // Naming the previous step's crate, or another crate, is drift.
        for wrong in ["solution_01", "exercise_021"] {
            let main = MAIN.replace("LIB", wrong);
            let exercise = files(&[("src/main.rs", &main)]);
            let problems = drift(step("02"), &exercise, &previous, "solution-01");
            assert_eq!(problems.len(), 1, "{wrong}: {problems:?}");
        }
    }

    #[test]
    fn anchors_are_compared_like_any_other_line() {
        let exercise_main = MAIN
            .replace("LIB", "exercise_02")
            .replace("ANCHOR: main", "ANCHOR: start");
        let exercise = files(&[("src/main.rs", &exercise_main)]);
        let previous_main = MAIN.replace("LIB", "solution_01");
        let previous = files(&[("src/main.rs", &previous_main)]);
        let problems = drift(step("02"), &exercise, &previous, "solution-01");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("+    // ANCHOR: start"),
            "{}",
            problems[0]
        );
        // Dropping one is drift too.
        let exercise_main = MAIN
            .replace("LIB", "exercise_02")
            .replace("    // ANCHOR_END: main\n", "");
        let exercise = files(&[("src/main.rs", &exercise_main)]);
        assert_eq!(
            drift(step("02"), &exercise, &previous, "solution-01").len(),
            1
        );
    }

    #[test]
    fn missing_files_unmarked_new_files_and_bad_markers_are_reported() {
        let exercise = files(&[
            ("src/main.rs", "// TODO(02)\n"),
            ("src/extra.rs", "pub fn helper() {}\n"),
        ]);
        let previous = files(&[("src/main.rs", ""), ("src/store.rs", "")]);
        let problems = drift(step("02"), &exercise, &previous, "solution-01");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("src/store.rs is in solution-01 but missing"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("src/extra.rs is new") && p.contains("no TODO(02)"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("src/main.rs:1:") && p.contains("never closed"))
        );
    }
}
