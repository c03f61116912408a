//! `cargo workbook` with no command: the steps, where each stands, and what to do next.

use crate::{
    files,
    status::{self, CheckResult, StatusRecord},
    steps::{Step, StepId, Workbook},
    ui,
};

/// Where a step stands, from its last check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    NotStarted,
    Failing,
    /// `edited_since`: the exercise changed after it passed, so the result may be stale.
    Passed {
        edited_since: bool,
    },
    /// The step has a solution but no exercise folder.
    NoExercise,
}

impl Standing {
    fn of(step: &Step, record: &StatusRecord) -> Standing {
        let Some(exercise) = &step.exercise else {
            return Standing::NoExercise;
        };
        match record.get(step.id) {
            None => Standing::NotStarted,
            Some(check) if check.result == CheckResult::Failing => Standing::Failing,
            Some(check) => {
                let changed = files::newest_change(exercise).map(status::seconds_since_epoch);
                Standing::Passed {
                    edited_since: changed.is_some_and(|changed| changed > check.checked_at),
                }
            }
        }
    }

    fn label(self) -> String {
        match self {
            Standing::NotStarted => ui::paint(ui::NOTE, "not started"),
            Standing::Failing => ui::paint(ui::FAIL, "failing"),
            Standing::Passed {
                edited_since: false,
            } => ui::paint(ui::PASS, "passed"),
            Standing::Passed { edited_since: true } => format!(
                "{} {}",
                ui::paint(ui::PASS, "passed"),
                ui::paint(ui::NOTE, "(edited since; check again)")
            ),
            Standing::NoExercise => ui::paint(ui::FAIL, "no exercise folder"),
        }
    }
}

/// Prints the table and the hint.
pub fn run(workbook: &Workbook) {
    let record = StatusRecord::load(&status::status_path(&workbook.root));
    let steps: Vec<(&Step, Standing)> = workbook
        .crate_steps()
        .map(|step| (step, Standing::of(step, &record)))
        .collect();
    if steps.is_empty() {
        anstream::println!("This workbook has no steps yet: exercises/ and solutions/ are empty.");
        return;
    }

    let title_width = steps
        .iter()
        .map(|(step, _)| step.title().chars().count())
        .max()
        .unwrap_or(0)
        .max("Title".len());
    anstream::println!("Tracing Talk workbook\n");
    anstream::println!(
        "{}",
        ui::paint(
            ui::STRONG,
            format!(
                "{:<5} {:<title_width$}  {:>7}  Status",
                "Step", "Title", "Minutes"
            )
        )
    );
    for (step, standing) in &steps {
        let minutes = step
            .minutes()
            .map_or_else(|| "-".to_string(), |m| m.to_string());
        anstream::println!(
            "{:<5} {:<title_width$}  {:>7}  {}",
            step.id.to_string(),
            step.title(),
            minutes,
            standing.label()
        );
    }
    let only_chapters: Vec<String> = workbook
        .steps
        .iter()
        .filter(|step| !step.has_crates())
        .map(|step| step.id.to_string())
        .collect();
    if !only_chapters.is_empty() {
        anstream::println!(
            "{}",
            ui::paint(
                ui::NOTE,
                format!(
                    "(Chapters without an exercise yet: {}.)",
                    only_chapters.join(", ")
                )
            )
        );
    }
    println!();
    anstream::println!("{}", hint(workbook, &steps));
}

/// The first step that has not passed, and how to start it.
fn hint(workbook: &Workbook, steps: &[(&Step, Standing)]) -> String {
    let next = steps
        .iter()
        .find(|(_, standing)| !matches!(standing, Standing::Passed { .. }));
    let Some((step, standing)) = next else {
        return format!(
            "Every step passes: well done. {} compares your work with the solution.",
            ui::paint(ui::COMMAND, "cargo workbook diff NN")
        );
    };
    let command = ui::paint(ui::COMMAND, format!("cargo workbook check {}", step.id));
    if *standing == Standing::NoExercise {
        return format!(
            "Next: step {}, but exercises/{} is missing. Restore it with {}.",
            step.id,
            step.id.exercise_package(),
            ui::paint(ui::COMMAND, format!("cargo workbook reset {}", step.id))
        );
    }
    if step.id == StepId::FIRST {
        // Step 01 is the tour: its exercise is the finished app without telemetry, so there is
        // nothing to edit, and its check passes from the start.
        let chapter = step
            .chapter
            .as_ref()
            .map(|file| format!(", {}", workbook.relative(&file.path)))
            .unwrap_or_default();
        return format!(
            "Next: step {id} is the tour, with nothing to edit. Read chapter {id}{chapter} (the \
             whole book: {mdbook}), run the app with {run}, then {command}.",
            id = step.id,
            mdbook = ui::paint(ui::COMMAND, "mdbook serve book"),
            run = ui::paint(
                ui::COMMAND,
                format!("cargo run -p {}", step.id.exercise_package())
            ),
        );
    }
    let chapter = step
        .chapter
        .as_ref()
        .map(|file| format!("read {}, ", workbook.relative(&file.path)))
        .unwrap_or_default();
    format!(
        "Next: step {} · {}: {chapter}edit exercises/{}, then run {command}",
        step.id,
        step.title(),
        step.id.exercise_package(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    fn plain(text: String) -> String {
        anstream::adapter::strip_str(&text).to_string()
    }

    #[test]
    fn step_01_is_a_tour_to_read_and_run_and_later_steps_are_edited() {
        let repo = TempDir::new();
        repo.write("Cargo.toml", "[workspace]\n");
        for id in ["01", "02"] {
            repo.write(&format!("exercises/exercise-{id}/Cargo.toml"), "");
            repo.write(&format!("solutions/solution-{id}/Cargo.toml"), "");
        }
        repo.write("book/src/steps/01-meet.md", "# Step 01 · Meet\n");
        repo.write("book/src/steps/02-spans.md", "# Step 02 · Spans\n");
        let workbook = Workbook::load(repo.path()).unwrap();
        let (one, two) = (&workbook.steps[0], &workbook.steps[1]);

        let first = plain(hint(
            &workbook,
            &[(one, Standing::NotStarted), (two, Standing::NotStarted)],
        ));
        assert_eq!(
            first,
            "Next: step 01 is the tour, with nothing to edit. Read chapter 01, \
             book/src/steps/01-meet.md (the whole book: mdbook serve book), run the app with \
             cargo run -p exercise-01, then cargo workbook check 01."
        );
        assert!(!first.contains("edit exercises"), "{first}");

        let passed = Standing::Passed {
            edited_since: false,
        };
        let second = plain(hint(&workbook, &[(one, passed), (two, Standing::Failing)]));
        assert_eq!(
            second,
            "Next: step 02 · Spans: read book/src/steps/02-spans.md, edit exercises/exercise-02, \
             then run cargo workbook check 02"
        );
    }
}
