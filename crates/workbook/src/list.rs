//! `cargo workbook` with no command: the steps, where each stands, and what to do next.

use crate::{
    files,
    status::{self, CheckResult, StatusRecord},
    steps::{Step, Workbook},
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
    print_hint(workbook, &steps);
}

/// The first step that has not passed, and how to start it.
fn print_hint(workbook: &Workbook, steps: &[(&Step, Standing)]) {
    let next = steps
        .iter()
        .find(|(_, standing)| !matches!(standing, Standing::Passed { .. }));
    let Some((step, standing)) = next else {
        anstream::println!(
            "Every step passes: well done. {} compares your work with the solution.",
            ui::paint(ui::COMMAND, "cargo workbook diff NN")
        );
        return;
    };
    let command = ui::paint(ui::COMMAND, format!("cargo workbook check {}", step.id));
    if *standing == Standing::NoExercise {
        anstream::println!(
            "Next: step {}, but exercises/{} is missing. Restore it with {}.",
            step.id,
            step.id.exercise_package(),
            ui::paint(ui::COMMAND, format!("cargo workbook reset {}", step.id))
        );
        return;
    }
    let chapter = step
        .chapter
        .as_ref()
        .map(|file| format!("read {}, ", workbook.relative(&file.path)))
        .unwrap_or_default();
    anstream::println!(
        "Next: step {} · {}: {chapter}edit exercises/{}, then run {command}",
        step.id,
        step.title(),
        step.id.exercise_package(),
    );
}
