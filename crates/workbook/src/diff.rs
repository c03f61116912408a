//! `cargo workbook diff NN`: the learner's exercise against the solution, as a unified diff.
//!
//! It compares files directly, with no git, so it works offline and on a download without
//! history. `--step` compares solution NN-1 with solution NN instead: what the step itself
//! changes, which is what the chapter teaches.
//!
//! What differs between two steps for no reason a learner cares about is left out of both
//! sides before diffing: the package name line of `Cargo.toml`, the crate's own library name
//! (`exercise_02::Step` against `solution_02::Step`, shown as `<crate>`), the book's
//! `// ANCHOR:` / `// ANCHOR_END:` lines, and the scaffolding's `// END TODO(NN)` lines. Hunk
//! line numbers count the lines compared.

use std::path::Path;

use anyhow::{Context, Result};
use similar::TextDiff;

use crate::{
    files::{self, CrateFiles},
    steps::{Step, StepId, Workbook},
    ui,
};

/// One crate, as one side of a comparison.
pub struct Side {
    /// `exercises/exercise-02`, for the headers.
    pub label: String,
    /// `exercise-02`: its name line in `Cargo.toml`, and its lib name `exercise_02` in every
    /// file, are left out of the comparison.
    pub package: String,
    pub files: CrateFiles,
}

impl Side {
    pub fn read(workbook: &Workbook, dir: &Path, package: String) -> Result<Side> {
        let files =
            files::read_crate(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        Ok(Side {
            label: workbook.relative(dir),
            package,
            files,
        })
    }

    /// A file's text as compared: `Cargo.toml` without the package name line, the crate's
    /// own lib name made neutral, and no marker lines (see [`without_markers`]). `Err` for a
    /// file that is not text.
    fn text(&self, path: &str) -> Option<Result<String, ()>> {
        let bytes = self.files.get(path)?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| ());
        Some(text.map(|text| {
            let text = if path == "Cargo.toml" {
                files::without_package_name(&text, &self.package)
            } else {
                text
            };
            without_markers(&files::with_neutral_lib(
                &text,
                &files::lib_name(&self.package),
            ))
        }))
    }
}

/// The text without the lines that only mark places, at any indentation:
///
/// - the book's anchors, whose trimmed text starts with `// ANCHOR:` or `// ANCHOR_END:`. They
///   exist only so that the book can include code, and differ between steps for no reason a
///   learner cares about;
/// - the ends of scaffolding regions, whose trimmed text is exactly `// END TODO(NN)` (any
///   step). They only close a region; the region's opening `// TODO(NN): ...` line says what to
///   do, so it stays.
///
/// Verify keeps them all: the no-drift rule compares anchors (an exercise carries the previous
/// solution's anchors exactly) and needs the `END` lines to find the regions.
pub fn without_markers(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| !is_marker(line.trim()))
        .collect()
}

/// Whether a trimmed line is one that [`without_markers`] drops.
fn is_marker(trimmed: &str) -> bool {
    let ends_a_region = trimmed
        .strip_prefix("// END TODO(")
        .and_then(|rest| rest.strip_suffix(')'))
        .is_some_and(|step| StepId::parse_exact(step).is_some());
    ends_a_region || trimmed.starts_with("// ANCHOR:") || trimmed.starts_with("// ANCHOR_END:")
}

/// `text` without its TODO notes: each line whose trimmed text starts with `// TODO(NN)`, and
/// the plain `//` comment lines that continue it, unless `other` has that comment line too.
///
/// A learner who finishes a step and leaves the notes in place has the solution's code: the
/// notes are not a difference worth showing. The `other` side keeps a comment of the solution's
/// own that happens to follow a note from being taken for part of it.
fn without_todo_notes(text: &str, other: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut in_note = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let opens_note = trimmed
            .strip_prefix("// TODO(")
            .and_then(|rest| rest.split_once(')'))
            .is_some_and(|(step, _)| StepId::parse_exact(step).is_some());
        let plain_comment = trimmed == "//" || trimmed.starts_with("// ");
        let continues_note =
            in_note && plain_comment && !other.lines().any(|line| line.trim() == trimmed);
        in_note = opens_note || continues_note;
        if !in_note {
            kept.push_str(line);
        }
    }
    kept
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Changed,
    /// Only in the new side.
    Added,
    /// Only in the old side.
    Removed,
}

/// One file that differs.
#[derive(Debug)]
pub struct FileDiff {
    pub path: String,
    pub change: Change,
    /// A unified diff with `---`/`+++` headers, without colour.
    pub unified: String,
}

/// The files that differ between `old` and `new`, in path order.
pub fn compare(old: &Side, new: &Side) -> Vec<FileDiff> {
    let mut paths: Vec<&String> = old.files.keys().chain(new.files.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut diffs = Vec::new();
    for path in paths {
        let old_name = format!("{}/{path}", old.label);
        let new_name = format!("{}/{path}", new.label);
        let (change, before, after, headers) = match (old.text(path), new.text(path)) {
            (Some(before), Some(after)) => (Change::Changed, before, after, (old_name, new_name)),
            (None, Some(after)) => (
                Change::Added,
                Ok(String::new()),
                after,
                ("/dev/null".into(), new_name),
            ),
            (Some(before), None) => (
                Change::Removed,
                before,
                Ok(String::new()),
                (old_name, "/dev/null".into()),
            ),
            (None, None) => continue,
        };
        let unified = match (before, after) {
            (Ok(before), Ok(after)) => {
                // Notes alone make no difference; where the code differs, they stay in the
                // diff to show which note each change answers.
                if without_todo_notes(&before, &after) == without_todo_notes(&after, &before) {
                    continue;
                }
                TextDiff::from_lines(&before, &after)
                    .unified_diff()
                    .context_radius(3)
                    .header(&headers.0, &headers.1)
                    .to_string()
            }
            _ if old.files.get(path) == new.files.get(path) => continue,
            _ => format!("Binary files {} and {} differ\n", headers.0, headers.1),
        };
        diffs.push(FileDiff {
            path: path.clone(),
            change,
            unified,
        });
    }
    diffs
}

/// A unified diff with colours: removed lines red, added green, hunk headers cyan.
pub fn paint(unified: &str) -> String {
    let mut painted = String::with_capacity(unified.len() * 2);
    for line in unified.split_inclusive('\n') {
        let (text, newline) = match line.strip_suffix('\n') {
            Some(text) => (text, "\n"),
            None => (line, ""),
        };
        let style = if text.starts_with("+++") || text.starts_with("---") {
            ui::STRONG
        } else if text.starts_with('+') {
            anstyle::AnsiColor::Green.on_default()
        } else if text.starts_with('-') {
            anstyle::AnsiColor::Red.on_default()
        } else if text.starts_with("@@") {
            anstyle::AnsiColor::Cyan.on_default()
        } else {
            anstyle::Style::new()
        };
        painted.push_str(&ui::paint(style, text));
        painted.push_str(newline);
    }
    painted
}

/// `cargo workbook diff NN [--step]`.
pub fn run(workbook: &Workbook, arg: &str, whole_step: bool) -> Result<()> {
    let step = workbook.resolve(arg)?;
    let (old, new, intro) = if whole_step {
        let Some(previous) = workbook.previous(step.id) else {
            anstream::println!(
                "Step {} is the first step: there is no previous step to compare with.\n\
                 To compare your exercise with its solution, run {}.",
                step.id,
                ui::paint(ui::COMMAND, format!("cargo workbook diff {}", step.id))
            );
            return Ok(());
        };
        let old = solution_side(workbook, previous)?;
        let new = solution_side(workbook, step)?;
        let intro = format!(
            "What step {} changes: {} (-) → {} (+).",
            step.id, old.label, new.label
        );
        (old, new, intro)
    } else {
        let dir = step
            .exercise
            .as_ref()
            .with_context(|| missing(step, "exercises", "exercise"))?;
        let old = Side::read(workbook, dir, step.id.exercise_package())?;
        let new = solution_side(workbook, step)?;
        let intro = format!(
            "Your {} (-) against {} (+): lines with + are the solution's.",
            old.label, new.label
        );
        (old, new, intro)
    };

    let diffs = compare(&old, &new);
    if diffs.is_empty() {
        anstream::println!(
            "{} and {} are the same (apart from their own names, the book's ANCHOR lines, and the \
             TODO notes and their END lines).",
            old.label,
            new.label
        );
        return Ok(());
    }
    anstream::println!("{}\n", ui::paint(ui::NOTE, intro));
    for diff in &diffs {
        anstream::print!("{}", paint(&diff.unified));
    }
    if diffs
        .iter()
        .any(|diff| diff.unified.contains(files::NEUTRAL_LIB))
    {
        anstream::println!(
            "\n{}",
            ui::paint(
                ui::NOTE,
                format!(
                    "{} stands for each side's own crate name ({} and {}), which is not compared.",
                    files::NEUTRAL_LIB,
                    files::lib_name(&old.package),
                    files::lib_name(&new.package)
                )
            )
        );
    }
    let summary: Vec<String> = diffs
        .iter()
        .map(|diff| match diff.change {
            Change::Changed => diff.path.clone(),
            Change::Added => format!("{} (only in {})", diff.path, new.label),
            Change::Removed => format!("{} (only in {})", diff.path, old.label),
        })
        .collect();
    let files = if diffs.len() == 1 {
        "file differs"
    } else {
        "files differ"
    };
    anstream::println!("\n{} {files}: {}.", diffs.len(), summary.join(", "));
    Ok(())
}

fn solution_side(workbook: &Workbook, step: &Step) -> Result<Side> {
    let dir = step
        .solution
        .as_ref()
        .with_context(|| missing(step, "solutions", "solution"))?;
    Side::read(workbook, dir, step.id.solution_package())
}

/// The message for a step folder that is not there.
fn missing(step: &Step, folder: &str, kind: &str) -> String {
    format!(
        "{folder}/{kind}-{id} is missing, so there is nothing to compare. Was it renamed or \
         deleted? `git status` shows what changed; cargo workbook reset {id} restores an exercise.",
        id = step.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(label: &str, package: &str, files: &[(&str, &str)]) -> Side {
        Side {
            label: label.to_string(),
            package: package.to_string(),
            files: files
                .iter()
                .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
                .collect(),
        }
    }

    const MANIFEST: &str = "[package]\nname = \"PKG\"\nversion = \"0.1.0\"\n";

    #[test]
    fn an_exercise_equal_to_its_solution_but_for_the_name_has_no_diff() {
        let exercise = side(
            "exercises/exercise-02",
            "exercise-02",
            &[
                ("Cargo.toml", &MANIFEST.replace("PKG", "exercise-02")),
                ("src/lib.rs", "x\n"),
            ],
        );
        let solution = side(
            "solutions/solution-02",
            "solution-02",
            &[
                ("Cargo.toml", &MANIFEST.replace("PKG", "solution-02")),
                ("src/lib.rs", "x\n"),
            ],
        );
        assert!(compare(&exercise, &solution).is_empty());
    }

    #[test]
    fn changed_added_and_removed_files_each_get_a_unified_diff() {
        let exercise = side(
            "exercises/exercise-02",
            "exercise-02",
            &[("src/lib.rs", "a\ntodo!()\nc\n"), ("src/old.rs", "gone\n")],
        );
        let solution = side(
            "solutions/solution-02",
            "solution-02",
            &[("src/lib.rs", "a\nb\nc\n"), ("src/new.rs", "fresh\n")],
        );
        let diffs = compare(&exercise, &solution);
        let summary: Vec<(&str, Change)> =
            diffs.iter().map(|d| (d.path.as_str(), d.change)).collect();
        assert_eq!(
            summary,
            [
                ("src/lib.rs", Change::Changed),
                ("src/new.rs", Change::Added),
                ("src/old.rs", Change::Removed)
            ]
        );
        assert_eq!(
            diffs[0].unified,
            "--- exercises/exercise-02/src/lib.rs\n+++ solutions/solution-02/src/lib.rs\n\
             @@ -1,3 +1,3 @@\n a\n-todo!()\n+b\n c\n"
        );
        assert!(
            diffs[1]
                .unified
                .starts_with("--- /dev/null\n+++ solutions/solution-02/src/new.rs\n")
        );
        assert!(diffs[1].unified.ends_with("+fresh\n"));
        assert!(diffs[2].unified.contains("+++ /dev/null\n"));
        assert!(diffs[2].unified.ends_with("-gone\n"));
    }

    #[test]
    fn a_real_manifest_change_still_shows() {
        let exercise = side(
            "e",
            "exercise-02",
            &[("Cargo.toml", &MANIFEST.replace("PKG", "exercise-02"))],
        );
        let changed = MANIFEST
            .replace("PKG", "solution-02")
            .replace("0.1.0", "0.2.0");
        let solution = side("s", "solution-02", &[("Cargo.toml", &changed)]);
        let diffs = compare(&exercise, &solution);
        assert_eq!(diffs.len(), 1);
        assert!(
            diffs[0]
                .unified
                .contains("-version = \"0.1.0\"\n+version = \"0.2.0\"\n")
        );
        assert!(!diffs[0].unified.contains("name ="), "{}", diffs[0].unified);
    }

    const MAIN: &str = "\
fn main() -> std::process::ExitCode {
    // ANCHOR: main
    talk::launch::main(LIB::Step)
    // ANCHOR_END: main
}
";

    #[test]
    fn the_crates_own_names_are_not_a_difference() {
        let exercise = side(
            "exercises/exercise-02",
            "exercise-02",
            &[
                ("src/main.rs", &MAIN.replace("LIB", "exercise_02")),
                ("tests/spans.rs", "use exercise_02::Step;\n"),
            ],
        );
        let solution = side(
            "solutions/solution-02",
            "solution-02",
            &[
                ("src/main.rs", &MAIN.replace("LIB", "solution_02")),
                ("tests/spans.rs", "use solution_02::Step;\n"),
            ],
        );
        assert!(compare(&exercise, &solution).is_empty());
        // --step: solution 01 against solution 02.
        let previous = side(
            "solutions/solution-01",
            "solution-01",
            &[
                ("src/main.rs", &MAIN.replace("LIB", "solution_01")),
                ("tests/spans.rs", "use solution_01::Step;\n"),
            ],
        );
        assert!(compare(&previous, &solution).is_empty());
    }

    #[test]
    fn a_real_change_next_to_the_crate_name_shows_it_neutrally() {
        let exercise = side(
            "e",
            "exercise-02",
            &[("src/main.rs", &MAIN.replace("LIB", "exercise_02"))],
        );
        let changed = MAIN.replace("LIB::Step", "solution_02::Step.traced()");
        let solution = side("s", "solution-02", &[("src/main.rs", &changed)]);
        let diffs = compare(&exercise, &solution);
        assert_eq!(diffs.len(), 1);
        assert!(
            diffs[0].unified.contains(
                "-    talk::launch::main(<crate>::Step)\n+    talk::launch::main(<crate>::Step.traced())\n"
            ),
            "{}",
            diffs[0].unified
        );
        // A name that only looks like the crate's is compared as written.
        let other = side(
            "s",
            "solution-02",
            &[("src/main.rs", &MAIN.replace("LIB", "solution_021"))],
        );
        assert_eq!(compare(&exercise, &other).len(), 1);
    }

    #[test]
    fn anchor_lines_are_left_out_of_both_sides() {
        let text = "a\n// ANCHOR: one\n    // ANCHOR_END: one\n\t// ANCHOR: two\nb\n// ANCHORS are not\n// ANCHOR_ENDING\nc";
        assert_eq!(
            without_markers(text),
            "a\nb\n// ANCHORS are not\n// ANCHOR_ENDING\nc"
        );
        // Anchors that moved, appeared or vanished are no difference; the code around them is.
        let old = side(
            "s1",
            "solution-01",
            &[(
                "src/lib.rs",
                "// ANCHOR: all\nfn a() {}\n// ANCHOR_END: all\n",
            )],
        );
        let same = side(
            "s2",
            "solution-02",
            &[(
                "src/lib.rs",
                "fn a() {}\n    // ANCHOR: spans\n    // ANCHOR_END: spans\n",
            )],
        );
        assert!(compare(&old, &same).is_empty());
        let changed = side(
            "s2",
            "solution-02",
            &[(
                "src/lib.rs",
                "// ANCHOR: all\nfn b() {}\n// ANCHOR_END: all\n",
            )],
        );
        let diffs = compare(&old, &changed);
        assert_eq!(diffs.len(), 1);
        assert!(
            diffs[0]
                .unified
                .ends_with("@@ -1 +1 @@\n-fn a() {}\n+fn b() {}\n"),
            "{}",
            diffs[0].unified
        );
    }

    #[test]
    fn end_todo_lines_are_left_out_but_todo_lines_stay() {
        let text = "a\n    // TODO(02): build the tracer. Chapter 02, task 1.\n    todo!()\n    \
                    // END TODO(02)\n\t// END TODO(05a)  \n// END TODO(3)\n// END TODO(02): not only\n\
                    // END TODO(02) x\n// end todo(02)\nb\n// END TODO(12)";
        assert_eq!(
            without_markers(text),
            "a\n    // TODO(02): build the tracer. Chapter 02, task 1.\n    todo!()\n\
             // END TODO(3)\n// END TODO(02): not only\n// END TODO(02) x\n// end todo(02)\nb\n"
        );
        // An exercise and its solution differ by the region, not by its closing line; and
        // solution 01 against solution 02 (--step) hides the END lines on both sides.
        let exercise = side(
            "e",
            "exercise-02",
            &[(
                "src/lib.rs",
                "fn run() {\n    // TODO(02): the provider\n    todo!()\n    // END TODO(02)\n    serve()\n}\n",
            )],
        );
        let solution = side(
            "s",
            "solution-02",
            &[(
                "src/lib.rs",
                "fn run() {\n    let provider = init();\n    serve()\n}\n",
            )],
        );
        let diffs = compare(&exercise, &solution);
        assert_eq!(diffs.len(), 1);
        assert!(
            diffs[0].unified.contains(
                "@@ -1,5 +1,4 @@\n fn run() {\n-    // TODO(02): the provider\n-    todo!()\n+    let provider = init();\n     serve()\n"
            ),
            "{}",
            diffs[0].unified
        );
        assert!(
            !diffs[0].unified.contains("END TODO"),
            "{}",
            diffs[0].unified
        );
        let with_end = side(
            "s1",
            "solution-01",
            &[("src/lib.rs", "x\n// END TODO(02)\n")],
        );
        let without = side("s2", "solution-02", &[("src/lib.rs", "x\n")]);
        assert!(compare(&with_end, &without).is_empty());
    }

    #[test]
    fn painting_only_adds_colour_codes() {
        let unified = "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n";
        let painted = paint(unified);
        assert!(painted.contains("\u{1b}[32m+y"), "{painted:?}");
        let mut stripped = Vec::new();
        std::io::Write::write_all(
            &mut anstream::StripStream::new(&mut stripped),
            painted.as_bytes(),
        )
        .unwrap();
        assert_eq!(String::from_utf8(stripped).unwrap(), unified);
    }

    #[test]
    fn todo_notes_left_in_a_finished_exercise_are_not_a_difference() {
        let solution_code = "fn main() {\n    // The span ends here.\n    run();\n}\n";
        let finished = "fn main() {\n    // TODO(04): call run, which\n    // starts the span.\n    \
                        // The span ends here.\n    run();\n    // END TODO(04)\n}\n";
        let exercise = side(
            "exercises/exercise-04",
            "exercise-04",
            &[("src/main.rs", finished)],
        );
        let solution = side(
            "solutions/solution-04",
            "solution-04",
            &[("src/main.rs", solution_code)],
        );
        assert!(compare(&exercise, &solution).is_empty());

        // The same notes around code that is not the solution's: the code shows, with its note.
        let unfinished = finished.replace("run();", "todo!();");
        let exercise = side(
            "exercises/exercise-04",
            "exercise-04",
            &[("src/main.rs", &unfinished)],
        );
        let diffs = compare(&exercise, &solution);
        assert_eq!(diffs.len(), 1);
        assert!(
            diffs[0].unified.contains("-    todo!();"),
            "{}",
            diffs[0].unified
        );
        assert!(
            diffs[0].unified.contains("-    // TODO(04): call run"),
            "the note stays beside the code it asks for:\n{}",
            diffs[0].unified
        );
    }
}
