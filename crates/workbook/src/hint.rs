//! `cargo workbook hint NN`: the next hint for the first thing the step's last check found.
//!
//! Hints come one level at a time, as in rustlings, so that a learner gets only as much help
//! as they ask for:
//!
//! 1. the concept, in the check's words, and the chapter's Hint 1;
//! 2. the chapter's Hint 2: the documents and the API to read;
//! 3. the code: the check's own for this finding, or else the chapter's Hint 3.
//!
//! The level reached is kept per step in the status record, and starts again at 1 when the
//! check's first finding changes: the next task deserves its own first hint.

use std::process::ExitCode;

use anyhow::Result;

use crate::{
    check,
    status::{self, StatusRecord},
    steps::{Step, Workbook},
    tasks, ui,
};

/// How many levels there are.
pub const LEVELS: u8 = 3;

/// Shows the next hint for the step named `arg`.
pub fn run(workbook: &Workbook, arg: &str) -> Result<ExitCode> {
    let step = workbook.resolve(arg)?;
    show_next(workbook, step);
    Ok(ExitCode::SUCCESS)
}

/// Shows the next hint for `step` (also the `h` key of `watch`).
pub fn show_next(workbook: &Workbook, step: &Step) {
    let id = step.id;
    let path = status::status_path(&workbook.root);
    let mut record = StatusRecord::load(&path);
    let check = ui::paint(ui::COMMAND, format!("cargo workbook check {id}"));
    let passed = record
        .get(id)
        .is_some_and(|last| last.result == status::CheckResult::Passed);
    if passed {
        anstream::println!(
            "Step {id} passed its last check: no hint needed. Run {check} again if you changed it since."
        );
        return;
    }
    let findings = check::last_findings(workbook, step);
    let Some(first) = findings.first() else {
        anstream::println!(
            "A hint is for the first thing the check finds, and there is none on record: run \
             {check} first (a step that does not compile gets the compiler's own help)."
        );
        return;
    };
    let finding = &first.finding;
    let task = first.task.as_ref().map(|task| task.number);
    // The hints start again for another finding, not only for another task.
    let about = format!("task {task:?}: {}", finding.identity());
    let level = record.next_hint(id, &about, LEVELS);
    if let Err(error) = record.save(&path) {
        eprintln!(
            "note: could not record the hint in {}: {error}",
            path.display()
        );
    }

    let chapter = check::chapter_text(step);
    let chapter_hints = tasks::hints(&chapter);
    let chapter_hint = |level: u8| chapter_hints.get(usize::from(level) - 1);
    let heading = match task {
        Some(number) => format!(
            "Hint {level} of {LEVELS} · task {number} · {}",
            finding.concept
        ),
        None => format!("Hint {level} of {LEVELS} · {}", finding.concept),
    };
    anstream::println!("{}", ui::paint(ui::STRONG, heading));
    anstream::println!("{}", ui::paint(ui::FAIL, format!("✗ {}", finding.saw)));
    println!();
    match level {
        1 => {
            if !finding.hint.is_empty() {
                println!("{}\n", finding.hint);
            }
            if let Some(hint) = chapter_hint(1) {
                println!("From chapter {id}, Hint 1:\n\n{hint}\n");
            }
        }
        2 => match chapter_hint(2) {
            Some(hint) => println!("From chapter {id}, Hint 2:\n\n{hint}\n"),
            None => println!("{}\n", finding.hint),
        },
        _ => match (&finding.code, chapter_hint(3)) {
            (Some(code), _) => println!("The code for this finding:\n\n{code}\n"),
            (None, Some(hint)) => println!("From chapter {id}, Hint 3:\n\n{hint}\n"),
            (None, None) => println!("{}\n", finding.hint),
        },
    }
    let next = if level < LEVELS {
        format!(
            "Run {} again for hint {} of {LEVELS}.",
            ui::paint(ui::COMMAND, format!("cargo workbook hint {id}")),
            level + 1
        )
    } else {
        format!(
            "That was the last hint. {} shows the whole solution.",
            ui::paint(ui::COMMAND, format!("cargo workbook diff {id}"))
        )
    };
    anstream::println!("{next}");
}
