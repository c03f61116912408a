//! `cargo workbook diff NN`: the learner's exercise against the solution, as a unified diff.
//!
//! It compares files directly, with no git, so it works offline and on a download without
//! history. `--step` compares solution NN-1 with solution NN instead: what the step itself
//! changes, which is what the chapter teaches.
//!
//! What differs between two steps for no reason a learner cares about is left out of both
//! sides before diffing: the package name line of `Cargo.toml`, the crate's own library name
//! (`exercise_02::Step` against `solution_02::Step`, shown as `<crate>`), the book's
//! `// ANCHOR:` / `// ANCHOR_END:` lines, the scaffolding's TODO notes and `// END TODO(NN)`
//! lines (`--markers` shows these two), and formatting: both sides of a Rust file go through
//! rustfmt, in memory. Hunk line numbers count the lines compared.

use std::{
    cell::Cell,
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

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

    /// A file's text, with `Cargo.toml`'s package name line left out and the crate's own lib
    /// name made neutral (see [`PLACEHOLDER`]). `Err` for a file that is not text.
    fn text(&self, path: &str) -> Option<Result<String, ()>> {
        let bytes = self.files.get(path)?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| ());
        Some(text.map(|text| {
            let text = if path == "Cargo.toml" {
                files::without_package_name(&text, &self.package)
            } else {
                text
            };
            files::with_neutral_lib(&text, &files::lib_name(&self.package))
                .replace(files::NEUTRAL_LIB, PLACEHOLDER)
        }))
    }
}

/// The crate's own name while a file is compared: an identifier, so that rustfmt can parse the
/// file, and the same on both sides, so that rustfmt sorts `use exercise_02::…` and
/// `use solution_02::…` to the same place. It becomes [`files::NEUTRAL_LIB`] for the reader.
/// As long as the names it stands for, so that lines wrap where they would.
const PLACEHOLDER: &str = "crate_self_";

/// The same text with only its marker lines left out: the book's anchors always, the ends of
/// scaffolding regions unless `markers` (see [`is_anchor`] and [`ends_a_region`]).
fn without_marker_lines(text: &str, markers: bool) -> String {
    text.split_inclusive('\n')
        .filter(|line| {
            let trimmed = line.trim();
            !(is_anchor(trimmed) || (!markers && ends_a_region(trimmed)))
        })
        .collect()
}

/// The book's anchors, whose trimmed text starts with `// ANCHOR:` or `// ANCHOR_END:`. They
/// exist only so that the book can include code, and differ between steps for no reason a
/// learner cares about, so even `--markers` leaves them out.
///
/// Verify keeps them, and the `END` lines: the no-drift rule compares anchors (an exercise
/// carries the previous solution's anchors exactly) and needs the `END` lines to find the
/// regions.
fn is_anchor(trimmed: &str) -> bool {
    trimmed.starts_with("// ANCHOR:") || trimmed.starts_with("// ANCHOR_END:")
}

/// The end of a scaffolding region: trimmed, exactly `// END TODO(NN)` (any step). It only
/// closes the region that the `// TODO(NN): ...` note opens.
fn ends_a_region(trimmed: &str) -> bool {
    trimmed
        .strip_prefix("// END TODO(")
        .and_then(|rest| rest.strip_suffix(')'))
        .is_some_and(|step| StepId::parse_exact(step).is_some())
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

/// The edition rustfmt parses with: the workspace's (`edition` in the root `Cargo.toml`), which
/// every step crate inherits.
const EDITION: &str = "2024";

/// rustfmt, run on text in memory (`--emit stdout`, the text on stdin): the learner's files
/// are never written.
pub struct Rustfmt {
    program: String,
    /// Whether `rustfmt --version` ran, asked once: without the rustfmt component, rustup's
    /// `rustfmt` is still on the PATH and fails on every file, which is not the file's fault.
    available: Cell<Option<bool>>,
}

/// Why a text could not be formatted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormatError {
    /// rustfmt is not installed: nothing can be formatted.
    Missing,
    /// rustfmt refused this text, usually because it does not parse (code being typed).
    Failed,
}

impl Rustfmt {
    /// The `rustfmt` on the PATH (the one `cargo fmt` runs).
    pub fn new() -> Rustfmt {
        Rustfmt::with_program("rustfmt")
    }

    fn with_program(program: &str) -> Rustfmt {
        Rustfmt {
            program: program.to_string(),
            available: Cell::new(None),
        }
    }

    fn available(&self) -> bool {
        self.available.get().unwrap_or_else(|| {
            let ran = Command::new(&self.program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            self.available.set(Some(ran));
            ran
        })
    }

    /// `source` as rustfmt formats it.
    fn format(&self, source: &str) -> Result<String, FormatError> {
        if !self.available() {
            return Err(FormatError::Missing);
        }
        if source.trim().is_empty() {
            return Ok(source.to_string());
        }
        let mut child = Command::new(&self.program)
            .args(["--emit", "stdout", "--edition", EDITION])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|_| FormatError::Missing)?;
        let mut stdin = child.stdin.take().ok_or(FormatError::Failed)?;
        // Written from a thread while the output is read, so that neither pipe can fill up and
        // stop the other.
        let output = std::thread::scope(|scope| {
            scope.spawn(move || {
                let _ = stdin.write_all(source.as_bytes());
            });
            child.wait_with_output()
        })
        .map_err(|_| FormatError::Failed)?;
        if !output.status.success() {
            return Err(FormatError::Failed);
        }
        String::from_utf8(output.stdout).map_err(|_| FormatError::Failed)
    }
}

/// How to compare.
pub struct Options {
    /// Show the TODO notes and their `// END TODO(NN)` lines (`--markers`).
    pub markers: bool,
    /// Format Rust files on both sides first; `None` compares them as written.
    pub rustfmt: Option<Rustfmt>,
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

/// What [`compare`] found.
#[derive(Debug, Default)]
pub struct Comparison {
    /// The files that differ, in path order.
    pub diffs: Vec<FileDiff>,
    /// Rust files that rustfmt could not format (`exercises/exercise-02/src/main.rs`, the side
    /// that failed): their file is compared as written, on both sides.
    pub unformatted: Vec<String>,
    /// rustfmt is not installed, so no file was formatted.
    pub no_rustfmt: bool,
}

/// The files that differ between `old` and `new`.
pub fn compare(old: &Side, new: &Side, options: &Options) -> Comparison {
    let mut paths: Vec<&String> = old.files.keys().chain(new.files.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut comparison = Comparison::default();
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
                let rust = path.ends_with(".rs");
                let Some((before, after)) =
                    compared_texts(&before, &after, rust, &headers, options, &mut comparison)
                else {
                    continue;
                };
                TextDiff::from_lines(&before, &after)
                    .unified_diff()
                    .context_radius(3)
                    .header(&headers.0, &headers.1)
                    .to_string()
            }
            _ if old.files.get(path) == new.files.get(path) => continue,
            _ => format!("Binary files {} and {} differ\n", headers.0, headers.1),
        };
        comparison.diffs.push(FileDiff {
            path: path.clone(),
            change,
            unified,
        });
    }
    comparison
}

/// The two texts of one file as the diff shows them, or `None` when they do not differ.
/// `names` are the two sides' paths, for [`Comparison::unformatted`].
///
/// Whether they differ is decided without the TODO notes even with `--markers`: notes alone
/// are no difference (a learner who finished and left them in has the solution's code).
fn compared_texts(
    before: &str,
    after: &str,
    rust: bool,
    names: &(String, String),
    options: &Options,
    comparison: &mut Comparison,
) -> Option<(String, String)> {
    let (before_plain, after_plain) = (
        without_marker_lines(before, false),
        without_marker_lines(after, false),
    );
    let bare = (
        without_todo_notes(&before_plain, &after_plain),
        without_todo_notes(&after_plain, &before_plain),
    );
    // Most files are the same as written: no need to format them.
    if bare.0 == bare.1 {
        return None;
    }
    let (bare, formatted) = if rust {
        formatted_pair(bare, names, options, comparison)
    } else {
        (bare, false)
    };
    if bare.0 == bare.1 {
        return None;
    }
    let (before, after) = if options.markers {
        let marked = (
            without_marker_lines(before, true),
            without_marker_lines(after, true),
        );
        if formatted {
            formatted_pair(marked, names, options, comparison).0
        } else {
            marked
        }
    } else {
        bare
    };
    let readable = |text: String| text.replace(PLACEHOLDER, files::NEUTRAL_LIB);
    Some((readable(before), readable(after)))
}

/// Both texts formatted, and `true`; or, if rustfmt is not there or fails on either text, both
/// as written, and `false`: a formatted side against one as written would show every
/// formatting difference again. A failure is noted in `comparison`.
fn formatted_pair(
    pair: (String, String),
    names: &(String, String),
    options: &Options,
    comparison: &mut Comparison,
) -> ((String, String), bool) {
    let Some(rustfmt) = &options.rustfmt else {
        return (pair, false);
    };
    if comparison.no_rustfmt {
        return (pair, false);
    }
    match (rustfmt.format(&pair.0), rustfmt.format(&pair.1)) {
        (Ok(before), Ok(after)) => ((before, after), true),
        (Err(FormatError::Missing), _) | (_, Err(FormatError::Missing)) => {
            comparison.no_rustfmt = true;
            (pair, false)
        }
        (before, after) => {
            for (result, name) in [(before, &names.0), (after, &names.1)] {
                if result.is_err() && !comparison.unformatted.contains(name) {
                    comparison.unformatted.push(name.clone());
                }
            }
            (pair, false)
        }
    }
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

/// `cargo workbook diff NN [--step] [--markers]`.
pub fn run(workbook: &Workbook, arg: &str, whole_step: bool, markers: bool) -> Result<()> {
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

    let options = Options {
        markers,
        rustfmt: Some(Rustfmt::new()),
    };
    let comparison = compare(&old, &new, &options);
    let diffs = &comparison.diffs;
    if diffs.is_empty() {
        anstream::println!(
            "{} and {} are the same (apart from their own names, formatting, the book's ANCHOR \
             lines, and the TODO notes and their END lines).",
            old.label,
            new.label
        );
        return Ok(());
    }
    anstream::println!("{}\n", ui::paint(ui::NOTE, intro));
    for diff in diffs {
        anstream::print!("{}", paint(&diff.unified));
    }
    println!();
    for note in notes(&comparison, &old, &new, markers) {
        anstream::println!("{}", ui::paint(ui::NOTE, note));
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
    anstream::println!("{} {files}: {}.", diffs.len(), summary.join(", "));
    Ok(())
}

/// What the reader needs to know about how the files were compared: one line each.
fn notes(comparison: &Comparison, old: &Side, new: &Side, markers: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if comparison.no_rustfmt {
        notes.push(
            "rustfmt was not found, so files are compared as written and formatting shows as \
             change (`rustup component add rustfmt` installs it)."
                .to_string(),
        );
    } else if !comparison.unformatted.is_empty() {
        let (them, it) = match comparison.unformatted.len() {
            1 => ("that file is", "it does"),
            _ => ("those files are", "they do"),
        };
        notes.push(format!(
            "rustfmt could not format {} ({it} not parse yet?), so {them} compared as written.",
            comparison.unformatted.join(", ")
        ));
    }
    if !markers {
        notes.push(
            "The TODO notes and their END TODO lines are left out; --markers shows them."
                .to_string(),
        );
    }
    if comparison
        .diffs
        .iter()
        .any(|diff| diff.unified.contains(files::NEUTRAL_LIB))
    {
        notes.push(format!(
            "{} stands for each side's own crate name ({} and {}), which is not compared.",
            files::NEUTRAL_LIB,
            files::lib_name(&old.package),
            files::lib_name(&new.package)
        ));
    }
    notes
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

    /// The files that differ, compared as written (the tests of formatting say otherwise) and
    /// without markers.
    fn differing(old: &Side, new: &Side) -> Vec<FileDiff> {
        let options = Options {
            markers: false,
            rustfmt: None,
        };
        compare(old, new, &options).diffs
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
        assert!(differing(&exercise, &solution).is_empty());
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
        let diffs = differing(&exercise, &solution);
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
        let diffs = differing(&exercise, &solution);
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
        assert!(differing(&exercise, &solution).is_empty());
        // --step: solution 01 against solution 02.
        let previous = side(
            "solutions/solution-01",
            "solution-01",
            &[
                ("src/main.rs", &MAIN.replace("LIB", "solution_01")),
                ("tests/spans.rs", "use solution_01::Step;\n"),
            ],
        );
        assert!(differing(&previous, &solution).is_empty());
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
        let diffs = differing(&exercise, &solution);
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
        assert_eq!(differing(&exercise, &other).len(), 1);
    }

    #[test]
    fn anchor_lines_are_left_out_of_both_sides() {
        let text = "a\n// ANCHOR: one\n    // ANCHOR_END: one\n\t// ANCHOR: two\nb\n// ANCHORS are not\n// ANCHOR_ENDING\nc";
        assert_eq!(
            without_marker_lines(text, false),
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
        assert!(differing(&old, &same).is_empty());
        let changed = side(
            "s2",
            "solution-02",
            &[(
                "src/lib.rs",
                "// ANCHOR: all\nfn b() {}\n// ANCHOR_END: all\n",
            )],
        );
        let diffs = differing(&old, &changed);
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
    fn end_todo_lines_are_marker_lines() {
        let text = "a\n    // TODO(02): build the tracer. Chapter 02, task 1.\n    todo!()\n    \
                    // END TODO(02)\n\t// END TODO(05a)  \n// END TODO(3)\n// END TODO(02): not only\n\
                    // END TODO(02) x\n// end todo(02)\nb\n// END TODO(12)";
        assert_eq!(
            without_marker_lines(text, false),
            "a\n    // TODO(02): build the tracer. Chapter 02, task 1.\n    todo!()\n\
             // END TODO(3)\n// END TODO(02): not only\n// END TODO(02) x\n// end todo(02)\nb\n"
        );
        // With --markers only the anchors go.
        assert_eq!(
            without_marker_lines("a\n// ANCHOR: x\n    // END TODO(02)\n", true),
            "a\n    // END TODO(02)\n"
        );
        // Solution 01 against solution 02 (--step) hides the END lines on both sides.
        let with_end = side(
            "s1",
            "solution-01",
            &[("src/lib.rs", "x\n// END TODO(02)\n")],
        );
        let without = side("s2", "solution-02", &[("src/lib.rs", "x\n")]);
        assert!(differing(&with_end, &without).is_empty());
    }

    const REGION: &str = "fn run() {\n    // TODO(02): the provider, which\n    // exports.\n    \
                          todo!()\n    // END TODO(02)\n    serve()\n}\n";
    const ANSWER: &str = "fn run() {\n    let provider = init();\n    serve()\n}\n";

    #[test]
    fn todo_notes_and_end_lines_are_hidden_unless_markers_are_asked_for() {
        let exercise = side("e", "exercise-02", &[("src/lib.rs", REGION)]);
        let solution = side("s", "solution-02", &[("src/lib.rs", ANSWER)]);

        let hidden = differing(&exercise, &solution);
        assert_eq!(hidden.len(), 1);
        assert!(
            hidden[0].unified.ends_with(
                "@@ -1,4 +1,4 @@\n fn run() {\n-    todo!()\n+    let provider = init();\n     serve()\n }\n"
            ),
            "{}",
            hidden[0].unified
        );

        let options = Options {
            markers: true,
            rustfmt: None,
        };
        let shown = compare(&exercise, &solution, &options).diffs;
        assert_eq!(shown.len(), 1);
        assert!(
            shown[0].unified.contains(
                "@@ -1,7 +1,4 @@\n fn run() {\n-    // TODO(02): the provider, which\n-    // exports.\n\
                 -    todo!()\n-    // END TODO(02)\n+    let provider = init();\n     serve()\n"
            ),
            "{}",
            shown[0].unified
        );
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
        assert!(differing(&exercise, &solution).is_empty());
        // Not with --markers either: notes alone are no difference.
        let marked = Options {
            markers: true,
            rustfmt: None,
        };
        assert!(compare(&exercise, &solution, &marked).diffs.is_empty());

        // The same notes around code that is not the solution's: the code shows, and the
        // solution's own comment after the note is not taken for part of it.
        let unfinished = finished.replace("run();", "todo!();");
        let exercise = side(
            "exercises/exercise-04",
            "exercise-04",
            &[("src/main.rs", &unfinished)],
        );
        let found = differing(&exercise, &solution);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].unified.ends_with(
                " fn main() {\n     // The span ends here.\n-    todo!();\n+    run();\n }\n"
            ),
            "{}",
            found[0].unified
        );
    }

    fn with_rustfmt(markers: bool) -> Options {
        Options {
            markers,
            rustfmt: Some(Rustfmt::new()),
        }
    }

    #[test]
    fn a_difference_in_formatting_alone_is_no_difference() {
        let exercise = side(
            "exercises/exercise-02",
            "exercise-02",
            &[(
                "src/main.rs",
                "use exercise_02::Step;\nuse anyhow::Result;\n\nfn main()->Result<()>{\n    \
                 // TODO(02): run it\n  Step.run( 1,2 )?;Ok(())\n    // END TODO(02)\n}\n",
            )],
        );
        let solution = side(
            "solutions/solution-02",
            "solution-02",
            &[(
                "src/main.rs",
                "use anyhow::Result;\nuse solution_02::Step;\n\nfn main() -> Result<()> {\n    \
                 Step.run(1, 2)?;\n    Ok(())\n}\n",
            )],
        );
        // rustfmt puts the crate's own import in the same place on both sides, too.
        let comparison = compare(&exercise, &solution, &with_rustfmt(false));
        assert!(comparison.diffs.is_empty(), "{:?}", comparison.diffs);
        assert!(comparison.unformatted.is_empty() && !comparison.no_rustfmt);

        // A real change among formatting ones shows alone, formatted, with the neutral name.
        let changed = side(
            "solutions/solution-02",
            "solution-02",
            &[(
                "src/main.rs",
                "use anyhow::Result;\nuse solution_02::Step;\n\nfn main() -> Result<()> {\n    \
                 Step.traced().run(1, 2)?;\n    Ok(())\n}\n",
            )],
        );
        let comparison = compare(&exercise, &changed, &with_rustfmt(false));
        assert_eq!(comparison.diffs.len(), 1);
        assert!(
            comparison.diffs[0].unified.ends_with(
                "@@ -2,6 +2,6 @@\n use <crate>::Step;\n \n fn main() -> Result<()> {\n\
                 -    Step.run(1, 2)?;\n+    Step.traced().run(1, 2)?;\n     Ok(())\n }\n"
            ),
            "{}",
            comparison.diffs[0].unified
        );
        // With --markers, the formatted region's lines come back.
        let marked = compare(&exercise, &changed, &with_rustfmt(true));
        assert!(
            marked.diffs[0]
                .unified
                .contains("-    // TODO(02): run it\n-    Step.run(1, 2)?;\n+    Step.traced().run(1, 2)?;\n     Ok(())\n-    // END TODO(02)\n"),
            "{}",
            marked.diffs[0].unified
        );
    }

    #[test]
    fn a_file_rustfmt_cannot_format_is_compared_as_written_and_named() {
        // Half-typed: the `let` has no value yet.
        let typing = "fn run() {\n    let provider = ;\n    serve()\n}\n";
        let exercise = side(
            "exercises/exercise-02",
            "exercise-02",
            &[("src/main.rs", typing), ("src/lib.rs", "pub fn a( ) {}\n")],
        );
        let solution = side(
            "solutions/solution-02",
            "solution-02",
            &[("src/main.rs", ANSWER), ("src/lib.rs", "pub fn a() {}\n")],
        );
        let comparison = compare(&exercise, &solution, &with_rustfmt(false));
        assert_eq!(
            comparison.unformatted,
            ["exercises/exercise-02/src/main.rs"]
        );
        assert!(!comparison.no_rustfmt);
        // lib.rs still formats, and differs only in formatting.
        let paths: Vec<&str> = comparison.diffs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["src/main.rs"]);
        assert!(
            comparison.diffs[0]
                .unified
                .contains("-    let provider = ;\n+    let provider = init();\n"),
            "{}",
            comparison.diffs[0].unified
        );
        let said = notes(&comparison, &exercise, &solution, false);
        assert_eq!(
            said[0],
            "rustfmt could not format exercises/exercise-02/src/main.rs (it does not parse \
             yet?), so that file is compared as written."
        );

        // Without rustfmt at all, everything is compared as written, and the note says so.
        let options = Options {
            markers: false,
            rustfmt: Some(Rustfmt::with_program("rustfmt-that-is-not-installed")),
        };
        let comparison = compare(&exercise, &solution, &options);
        assert!(comparison.no_rustfmt);
        assert_eq!(comparison.diffs.len(), 2);
        let said = notes(&comparison, &exercise, &solution, false);
        assert!(said[0].starts_with("rustfmt was not found"), "{said:?}");
    }
}
