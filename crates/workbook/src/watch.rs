//! `cargo workbook watch [NN]`: run a step's check again every time the learner saves a file
//! of its exercise, as rustlings does.
//!
//! One loop, fed by one channel: the file watcher sends [`Event::Saved`] once per burst of file
//! events (its debouncer merges the temporary file, rename and metadata events an editor makes
//! for one save), and a key reader sends [`Event::Key`]. The "full" debouncer is used rather
//! than the "mini" one because it keeps each event's kind: the compiler opening a file is an
//! event too, and only changes may start a run. Between two events the screen shows
//! the check's output, where the step stands and which keys do what.
//!
//! Keys are read one at a time in the terminal's raw mode, only while the loop waits: cargo
//! and the check print in the normal mode, where a newline also returns the cursor. When the
//! input is not a terminal (a pipe, a test), keys are read as lines instead.

use std::{
    io::{self, BufRead, IsTerminal, Write},
    path::Path,
    process::ExitCode,
    sync::mpsc::{self, Receiver, Sender},
    thread,
    time::Duration,
};

use anyhow::{Context, Result};
use crossterm::{
    cursor::MoveTo,
    event::{self, KeyCode, KeyEvent, KeyEventKind, KeyModifiers},
    execute,
    terminal::{self, Clear, ClearType},
};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, RecommendedCache, new_debouncer,
    notify::{EventKind, RecommendedWatcher, RecursiveMode},
};

use crate::{
    check, diff, hint, list,
    status::{self, StatusRecord},
    steps::{Step, Workbook},
    ui,
};

/// How long the file watcher waits for a burst of events to end before it reports a save.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// What the loop waits for.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A file of the exercise was saved (once per burst of file events).
    Saved,
    Key(char),
    /// The input ended (Ctrl-D, or the pipe closed), or Ctrl-C in raw mode.
    Quit,
}

/// Runs the watch loop on the step named `arg`, or on the first step not done yet.
pub fn run(workbook: &Workbook, arg: Option<&str>) -> Result<ExitCode> {
    let mut step = match arg {
        Some(arg) => workbook.resolve(arg)?,
        None => step_to_do(workbook).context(
            "every step is done: name one to watch it again, e.g. `cargo workbook watch 03`",
        )?,
    };
    let (sender, events) = mpsc::channel();
    let keys = Keys::start(sender.clone());
    loop {
        let exercise = step.exercise.as_ref().with_context(|| {
            format!(
                "exercises/{} is missing; `cargo workbook reset {}` brings it back",
                step.id.exercise_package(),
                step.id
            )
        })?;
        // Watching starts before the first run, so a save during the run is not missed.
        let _watcher = watch_saves(exercise, sender.clone())?;
        match watch_step(workbook, step, &events, &keys)? {
            Next::Quit => return Ok(ExitCode::SUCCESS),
            Next::Step(next) => step = next,
        }
    }
}

/// What the learner chose after watching a step.
enum Next<'a> {
    Quit,
    Step(&'a Step),
}

/// Checks `step` on every save until the learner quits or moves on.
fn watch_step<'a>(
    workbook: &'a Workbook,
    step: &'a Step,
    events: &Receiver<Event>,
    keys: &Keys,
) -> Result<Next<'a>> {
    loop {
        clear_screen();
        // A failure to run cargo at all is shown, and the next save tries again.
        if let Err(error) = check::run(workbook, &step.id.to_string(), false, false, &[]) {
            anstream::println!("{} {error:#}", ui::paint(ui::FAIL, "error:"));
        }
        footer(workbook, step);
        loop {
            match keys.wait(events) {
                Event::Saved => {
                    settle(events);
                    break;
                }
                Event::Key('q') | Event::Quit => return Ok(Next::Quit),
                Event::Key('h') => {
                    hint::show_next(workbook, step);
                    footer(workbook, step);
                }
                Event::Key('d') => {
                    if let Err(error) = diff::run(workbook, &step.id.to_string(), false, false) {
                        anstream::println!("{} {error:#}", ui::paint(ui::FAIL, "error:"));
                    }
                    footer(workbook, step);
                }
                Event::Key('n') => match next_to_watch(workbook, step) {
                    Ok(next) => return Ok(Next::Step(next)),
                    Err(why) => anstream::println!("{why}"),
                },
                Event::Key('r') => break,
                Event::Key(_) => footer(workbook, step),
            }
        }
    }
}

/// Swallows the saves that follow one another closely (a "save all" of several files, the
/// saves made while the check ran): one run answers them all.
fn settle(events: &Receiver<Event>) {
    while let Ok(Event::Saved) = events.recv_timeout(DEBOUNCE) {}
}

/// The step to do next, the one `cargo workbook` names: where `watch` without a step starts.
fn step_to_do(workbook: &Workbook) -> Option<&Step> {
    let record = StatusRecord::load(&status::status_path(&workbook.root));
    workbook.next_to_do(&record)
}

/// Where `n` goes from `step`: the step to do next, by the same rule; or why it stays.
fn next_to_watch<'a>(workbook: &'a Workbook, step: &Step) -> Result<&'a Step, String> {
    match step_to_do(workbook) {
        Some(next) if next.id == step.id => Err(format!(
            "Step {} is the step to do next: it has not passed yet. To watch another step, quit \
             and run {}.",
            step.id,
            ui::paint(ui::COMMAND, "cargo workbook watch NN")
        )),
        Some(next) if next.exercise.is_none() => Err(format!(
            "The next step is {}, but exercises/{} is missing; {} brings it back.",
            next.id,
            next.id.exercise_package(),
            ui::paint(ui::COMMAND, format!("cargo workbook reset {}", next.id))
        )),
        Some(next) => Ok(next),
        None => Err(format!(
            "Every step has passed: well done. To watch one again, quit and run {}.",
            ui::paint(ui::COMMAND, "cargo workbook watch NN")
        )),
    }
}

/// Where the step stands, the whole workbook's progress, and the keys.
fn footer(workbook: &Workbook, step: &Step) {
    let record = StatusRecord::load(&status::status_path(&workbook.root));
    let steps = list::standings(workbook, &record);
    let done = steps.iter().filter(|(_, standing)| standing.done()).count();
    let progress = format!("{done} of {} steps done", steps.len());
    let next = match list::next_step(&steps) {
        Some((next, _)) if next.id != step.id => format!("; next not done: step {}", next.id),
        Some(_) => String::new(),
        None => "; every step is done".to_string(),
    };
    println!();
    anstream::println!(
        "{}",
        ui::paint(
            ui::STRONG,
            format!(
                "Watching exercises/{} ({progress}{next}).",
                step.id.exercise_package()
            )
        )
    );
    anstream::println!(
        "Save a file to check again. Keys: {} hints, {} diff with the solution, {} next step, \
         {} run again, {} quit.",
        ui::paint(ui::COMMAND, "h"),
        ui::paint(ui::COMMAND, "d"),
        ui::paint(ui::COMMAND, "n"),
        ui::paint(ui::COMMAND, "r"),
        ui::paint(ui::COMMAND, "q"),
    );
    let _ = io::stdout().flush();
}

fn clear_screen() {
    let _ = execute!(io::stdout(), Clear(ClearType::All), MoveTo(0, 0));
}

/// Sends [`Event::Saved`] for every save under `dir`, until dropped.
pub fn watch_saves(
    dir: &Path,
    events: Sender<Event>,
) -> Result<Debouncer<RecommendedWatcher, RecommendedCache>> {
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let Ok(changes) = result else { return };
        if changes
            .iter()
            .any(|change| is_save(&change.kind, &change.paths))
        {
            let _ = events.send(Event::Saved);
        }
    })
    .context("cannot watch files for changes")?;
    debouncer
        .watch(dir, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    Ok(debouncer)
}

/// A change to a source file. Opening and reading a file are events too (the compiler reads
/// every source on each run), and counting them would make every run start the next.
fn is_save(kind: &EventKind, paths: &[std::path::PathBuf]) -> bool {
    let changes = matches!(
        kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
    );
    changes && paths.iter().any(|path| is_source(path))
}

/// A file the check depends on: Rust sources and the manifest, not an editor's swap or backup
/// files (`.main.rs.swp`, `main.rs~`, vim's `4913`).
fn is_source(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    !name.starts_with('.') && (name.ends_with(".rs") || name == "Cargo.toml")
}

/// Where keys come from: the terminal, one key at a time, or lines of a pipe.
enum Keys {
    Terminal,
    Lines,
}

impl Keys {
    /// For a pipe, a thread reads lines and sends their first character; a terminal is read
    /// by [`Keys::wait`] itself, in raw mode.
    fn start(events: Sender<Event>) -> Keys {
        if io::stdin().is_terminal() {
            return Keys::Terminal;
        }
        thread::spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if let Some(key) = line.trim().chars().next() {
                    let _ = events.send(Event::Key(key.to_ascii_lowercase()));
                }
            }
            let _ = events.send(Event::Quit);
        });
        Keys::Lines
    }

    /// The next event: a save or a key.
    fn wait(&self, events: &Receiver<Event>) -> Event {
        match self {
            Keys::Lines => events.recv().unwrap_or(Event::Quit),
            Keys::Terminal => {
                let _raw = RawMode::enable();
                loop {
                    if let Ok(event) = events.try_recv() {
                        return event;
                    }
                    if !matches!(event::poll(Duration::from_millis(50)), Ok(true)) {
                        continue;
                    }
                    if let Ok(event::Event::Key(key)) = event::read()
                        && let Some(event) = key_event(key)
                    {
                        return event;
                    }
                }
            }
        }
    }
}

fn key_event(key: KeyEvent) -> Option<Event> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    match key.code {
        KeyCode::Char('c' | 'd') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            Some(Event::Quit)
        }
        KeyCode::Char(key) => Some(Event::Key(key.to_ascii_lowercase())),
        KeyCode::Esc => Some(Event::Quit),
        _ => None,
    }
}

/// The terminal in raw mode until dropped, so that a panic or an early return cannot leave
/// the learner's terminal without echo.
struct RawMode;

impl RawMode {
    fn enable() -> RawMode {
        let _ = terminal::enable_raw_mode();
        RawMode
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;
    use std::time::Instant;

    #[test]
    fn editor_files_are_not_sources() {
        for name in ["src/main.rs", "Cargo.toml", "tests/check.rs"] {
            assert!(is_source(Path::new(name)), "{name}");
        }
        for name in [
            "src/.main.rs.swp",
            "src/main.rs~",
            "src/4913",
            "src/.#main.rs",
        ] {
            assert!(!is_source(Path::new(name)), "{name}");
        }
    }

    /// One save, as an editor makes it (write a temporary file, then rename it over the
    /// original), is one event; nothing more comes after it, not even when the file is read.
    #[test]
    fn one_save_is_one_event() {
        let dir = TempDir::new();
        dir.write("src/main.rs", "fn main() {}\n");
        let (sender, events) = mpsc::channel();
        let _watcher = watch_saves(dir.path(), sender).unwrap();

        dir.write("src/.main.rs.tmp", "fn main() { println!(); }\n");
        std::fs::rename(
            dir.path().join("src/.main.rs.tmp"),
            dir.path().join("src/main.rs"),
        )
        .unwrap();
        dir.write("src/main.rs", "fn main() { println!(\"saved\"); }\n");

        let started = Instant::now();
        assert_eq!(
            events.recv_timeout(Duration::from_secs(10)),
            Ok(Event::Saved),
            "no event for a save"
        );
        // The compiler then reads the file: reading is not saving.
        std::fs::read_to_string(dir.path().join("src/main.rs")).unwrap();
        // Whatever else the watcher was going to say about this save arrives within a few
        // debounce periods.
        let quiet = DEBOUNCE * 4;
        assert_eq!(
            events.recv_timeout(quiet),
            Err(mpsc::RecvTimeoutError::Timeout),
            "a second event for one save (the first came after {:?})",
            started.elapsed()
        );
    }
}
