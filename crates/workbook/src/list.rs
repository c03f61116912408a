//! `cargo workbook` with no command: the steps, where each stands, and what to do next.

use crate::{
    files,
    status::{self, CheckResult, StatusRecord},
    steps::{self, Step, StepId, Workbook},
    ui,
};

/// Where a step stands, from its last check. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    NotStarted,
    /// The last check failed; `passed_at` says when an earlier one passed, if one did.
    Failing {
        checked_at: u64,
        passed_at: Option<u64>,
    },
    /// `edited_since`: the exercise changed after it passed, so the result may be stale.
    Passed {
        checked_at: u64,
        edited_since: bool,
    },
    /// Step 01, the tour, never checked while a later step passed: there is nothing to edit
    /// in it, so a later step's pass means the learner has been through it.
    Toured,
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
            Some(check) if check.result == CheckResult::Failing => Standing::Failing {
                checked_at: check.checked_at,
                passed_at: check.passed_at,
            },
            Some(check) => {
                let changed = files::newest_change(exercise).map(status::seconds_since_epoch);
                Standing::Passed {
                    checked_at: check.checked_at,
                    edited_since: changed.is_some_and(|changed| changed > check.checked_at),
                }
            }
        }
    }

    /// Whether the learner has done the step, now or at some earlier check.
    pub fn done(self) -> bool {
        matches!(
            self,
            Standing::Passed { .. }
                | Standing::Toured
                | Standing::Failing {
                    passed_at: Some(_),
                    ..
                }
        )
    }

    fn label(self, now: u64) -> String {
        let ago = |then: u64| ago(now, then);
        match self {
            Standing::NotStarted => ui::paint(ui::NOTE, "not started"),
            Standing::Failing {
                checked_at,
                passed_at: None,
            } => format!(
                "{} {}",
                ui::paint(ui::FAIL, "failing"),
                ui::paint(ui::NOTE, ago(checked_at))
            ),
            Standing::Failing {
                checked_at,
                passed_at: Some(passed_at),
            } => format!(
                "{} {}",
                ui::paint(ui::FAIL, "failing"),
                ui::paint(
                    ui::NOTE,
                    format!("{} (it passed {})", ago(checked_at), ago(passed_at))
                )
            ),
            Standing::Passed {
                checked_at,
                edited_since: false,
            } => format!(
                "{} {}",
                ui::paint(ui::PASS, "passed"),
                ui::paint(ui::NOTE, ago(checked_at))
            ),
            Standing::Passed {
                checked_at,
                edited_since: true,
            } => format!(
                "{} {}",
                ui::paint(ui::PASS, "passed"),
                ui::paint(
                    ui::NOTE,
                    format!("{} (edited since; check again)", ago(checked_at))
                )
            ),
            Standing::Toured => format!(
                "{} {}",
                ui::paint(ui::PASS, "done"),
                ui::paint(ui::NOTE, "(the tour; a later step passed)")
            ),
            Standing::NoExercise => ui::paint(ui::FAIL, "no exercise folder"),
        }
    }
}

/// "just now", "5 min ago", "3 h ago", "2 days ago".
fn ago(now: u64, then: u64) -> String {
    let seconds = now.saturating_sub(then);
    match seconds {
        0..60 => "just now".to_string(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86400 => format!("{} h ago", seconds / 3600),
        _ if seconds < 2 * 86400 => "1 day ago".to_string(),
        _ => format!("{} days ago", seconds / 86400),
    }
}

/// Every step with exercise crates, with where it stands.
pub fn standings<'a>(workbook: &'a Workbook, record: &StatusRecord) -> Vec<(&'a Step, Standing)> {
    let mut steps: Vec<(&Step, Standing)> = workbook
        .crate_steps()
        .map(|step| (step, Standing::of(step, record)))
        .collect();
    let a_later_step_passed = steps
        .iter()
        .any(|(step, standing)| step.id != StepId::FIRST && standing.done());
    for (step, standing) in &mut steps {
        if step.id == StepId::FIRST && a_later_step_passed && !standing.done() {
            *standing = Standing::Toured;
        }
    }
    steps
}

/// The step to do next, by the rule every command uses ([`steps::next_index`]: the step after
/// the furthest one done, then the ones skipped), with where it stands. The same step as
/// [`Workbook::next_to_do`] gives for the record these standings come from.
pub fn next_step<'a>(steps: &[(&'a Step, Standing)]) -> Option<(&'a Step, Standing)> {
    let done: Vec<bool> = steps.iter().map(|(_, standing)| standing.done()).collect();
    steps::next_index(&done).map(|index| steps[index])
}

/// Prints the table and the hint.
pub fn run(workbook: &Workbook) {
    let record = StatusRecord::load(&status::status_path(&workbook.root));
    let steps = standings(workbook, &record);
    let now = status::seconds_since_epoch(std::time::SystemTime::now());
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
            standing.label(now)
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

/// The step to do next, and how to start it.
fn hint(workbook: &Workbook, steps: &[(&Step, Standing)]) -> String {
    let Some((step, standing)) = next_step(steps) else {
        return format!(
            "Every step passes: well done. {} compares your work with the solution.",
            ui::paint(ui::COMMAND, "cargo workbook diff NN")
        );
    };
    let command = ui::paint(ui::COMMAND, format!("cargo workbook check {}", step.id));
    if standing == Standing::NoExercise {
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
    // Once the last step has passed, the next one is a step skipped on the way: say so, so
    // that it does not read as being sent back.
    let skipped = if steps
        .iter()
        .any(|(other, standing)| other.id > step.id && standing.done())
    {
        " (skipped so far; every later step is done)"
    } else {
        ""
    };
    format!(
        "Next: step {} · {}{skipped}: {chapter}edit exercises/{}, then run {command}",
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
            checked_at: 0,
            edited_since: false,
        };
        let failing = Standing::Failing {
            checked_at: 0,
            passed_at: None,
        };
        let second = plain(hint(&workbook, &[(one, passed), (two, failing)]));
        assert_eq!(
            second,
            "Next: step 02 · Spans: read book/src/steps/02-spans.md, edit exercises/exercise-02, \
             then run cargo workbook check 02"
        );
    }

    #[test]
    fn a_later_pass_counts_the_tour_as_done_and_an_old_pass_is_not_hidden() {
        let repo = TempDir::new();
        repo.write("Cargo.toml", "[workspace]\n");
        for id in ["01", "02", "03"] {
            repo.write(&format!("exercises/exercise-{id}/Cargo.toml"), "");
            repo.write(&format!("solutions/solution-{id}/Cargo.toml"), "");
        }
        let workbook = Workbook::load(repo.path()).unwrap();
        let step = |id: &str| StepId::parse_arg(id).unwrap();

        // Step 02 passed, then the shipped exercise was put back and checked again: it fails,
        // but the learner did it. Step 01 was never checked.
        let mut record = StatusRecord::default();
        record.record_at(step("02"), CheckResult::Passed, 1_000);
        record.record_at(step("02"), CheckResult::Failing, 1_000 + 7_200);
        let steps = standings(&workbook, &record);

        assert_eq!(steps[0].1, Standing::Toured);
        let two = steps[1].1;
        assert!(two.done());
        assert_eq!(
            plain(two.label(1_000 + 7_200 + 300)),
            "failing 5 min ago (it passed 2 h ago)"
        );
        let (next, _) = next_step(&steps).unwrap();
        assert_eq!(next.id, step("03"));
        let hint = plain(hint(&workbook, &steps));
        assert!(hint.starts_with("Next: step 03"), "{hint}");
        assert!(!hint.contains("tour"), "{hint}");
    }

    /// The learner in issue 18 started at step 05: the list sends them on to the step after
    /// their furthest pass, as the check and watch do, and back to the skipped steps only at
    /// the end.
    #[test]
    fn a_learner_who_started_mid_way_is_not_sent_back() {
        let repo = TempDir::new();
        repo.write("Cargo.toml", "[workspace]\n");
        let ids = ["01", "02", "03", "04", "05", "06", "07", "08"];
        for id in ids {
            repo.write(&format!("exercises/exercise-{id}/Cargo.toml"), "");
            repo.write(&format!("solutions/solution-{id}/Cargo.toml"), "");
        }
        let workbook = Workbook::load(repo.path()).unwrap();
        let step = |id: &str| StepId::parse_arg(id).unwrap();

        let mut record = StatusRecord::default();
        for id in ["05", "06"] {
            record.record_at(step(id), CheckResult::Passed, 1_000);
        }
        let steps = standings(&workbook, &record);
        let (next, _) = next_step(&steps).unwrap();
        assert_eq!(next.id, step("07"));
        assert_eq!(workbook.next_to_do(&record).unwrap().id, step("07"));
        let said = plain(hint(&workbook, &steps));
        assert!(said.starts_with("Next: step 07 · (no chapter): "), "{said}");

        // 05 to 08 passed: now the skipped steps, and the list says why.
        for id in ["07", "08"] {
            record.record_at(step(id), CheckResult::Passed, 2_000);
        }
        let steps = standings(&workbook, &record);
        let (next, _) = next_step(&steps).unwrap();
        assert_eq!(next.id, step("02"));
        assert_eq!(workbook.next_to_do(&record).unwrap().id, step("02"));
        let said = plain(hint(&workbook, &steps));
        assert!(
            said.starts_with(
                "Next: step 02 · (no chapter) (skipped so far; every later step is done): "
            ),
            "{said}"
        );
    }

    #[test]
    fn ages_read_as_a_person_would_say_them() {
        assert_eq!(ago(100, 100), "just now");
        assert_eq!(ago(100 + 59, 100), "just now");
        assert_eq!(ago(100 + 60, 100), "1 min ago");
        assert_eq!(ago(100 + 3 * 3600, 100), "3 h ago");
        assert_eq!(ago(100 + 86400, 100), "1 day ago");
        assert_eq!(ago(100 + 3 * 86400, 100), "3 days ago");
        assert_eq!(
            ago(50, 100),
            "just now",
            "a clock set back is not a negative age"
        );
    }
}
