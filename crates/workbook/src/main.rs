//! `cargo workbook`: the Tracing Talk workbook's runner (`cargo workbook` is an alias for
//! `cargo run -q --manifest-path crates/workbook/Cargo.toml --`, set in `.cargo/config.toml`; the
//! runner is a workspace of its own, so that its crates cannot change the app's).
//!
//! For learners it lists the steps, runs a step's check and says what to do next, shows the
//! solution as a diff, and resets an exercise. For maintainers and CI, `verify` proves the
//! workbook holds together, and `schedule` writes the instructors' schedule page.
//!
//! It only reads files and drives cargo and git; the app's crates are not among its
//! dependencies, so it builds in seconds. The modules:
//!
//! - `step_id`: a step's number; `steps`: which steps exist (folders and chapters found by
//!   name);
//! - `chapter`: a chapter's title and minutes;
//! - `status`: the record of the last check of each step;
//! - `files`: a step crate's files, for comparisons;
//! - `reported`: the findings a check writes itself (JSON lines), in task order;
//! - `tasks`: a chapter's tasks (and which findings are theirs) and its graded hints;
//! - `findings`: the `✗` lines and panics scraped from a check's output, for what no check
//!   reports;
//! - `list`, `check`, `hint`, `watch`, `diff`, `reset`: one command each;
//! - `class`: class mode, the workshop's class board (serve, join, env, leave);
//! - `preflight`: proves a laptop is ready for the day, offline, in one line;
//! - `cargo`, `libtest`, `ui`: running cargo, reading libtest's results, and colours;
//! - `dev`: the maintainers' tools (`verify`, and the rules it holds: `scaffold`, `book`,
//!   `leaks`) and the instructors' `schedule`. No learner's command imports them.

mod cargo;
mod chapter;
mod check;
mod class;
mod dev;
mod diff;
mod files;
mod findings;
mod hint;
mod libtest;
mod list;
mod preflight;
mod reported;
mod reset;
mod status;
mod step_id;
mod steps;
mod tasks;
mod ui;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::steps::Workbook;

#[derive(Parser)]
#[command(
    name = "cargo workbook",
    bin_name = "cargo workbook",
    about = "The Tracing Talk workbook: list the steps, check one, compare it with the solution.",
    after_help = "Without a command, lists the steps and where each stands.\n\
                  Steps are named by number: 3, 03 and exercise-03 all mean step 03."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a step's check (cargo test -p exercise-NN) and say what to do next.
    Check {
        /// The step: 3, 03 or exercise-03.
        step: String,
        /// Check the solution instead of your exercise (for maintainers).
        #[arg(long)]
        solution: bool,
        /// Show cargo's whole output and every finding, not just the first one to fix.
        #[arg(long)]
        all: bool,
        /// Passed to the test binaries, after `--`: e.g. a test name to run only that test.
        #[arg(last = true)]
        test_args: Vec<String>,
    },
    /// The next hint for the first thing the step's last check found: the concept, then the
    /// documents, then the code, one at a time.
    Hint {
        /// The step: 3, 03 or exercise-03.
        step: String,
    },
    /// Check a step again every time you save one of its files (keys: h hints, d diff, n next
    /// step, r run again, q quit).
    Watch {
        /// The step: 3, 03 or exercise-03. Without it, the step `cargo workbook` says is next.
        step: Option<String>,
    },
    /// Show your exercise against the solution, as a unified diff.
    Diff {
        /// The step: 3, 03 or exercise-03.
        step: String,
        /// Show what the step changes instead: solution NN-1 against solution NN.
        #[arg(long = "step")]
        whole_step: bool,
        /// Also show the TODO notes and their END TODO lines, which are left out by default.
        #[arg(long)]
        markers: bool,
    },
    /// Put an exercise back as it was shipped (with git), after asking.
    Reset {
        /// The step: 3, 03 or exercise-03.
        step: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Prove the workbook holds together (maintainers and CI): exits non-zero on any FAIL.
    Verify {
        /// Also print how long each crate takes to build and to check.
        #[arg(long, conflicts_with = "no_tests")]
        timings: bool,
        /// Skip the cargo test runs: only the file and book rules (quick, not for CI).
        #[arg(long)]
        no_tests: bool,
    },
    /// Print the instructors' schedule made from the chapters' minutes.
    Schedule {
        /// Write it to book/src/instructors/schedule.md instead.
        #[arg(long, conflicts_with_all = ["length", "reach"])]
        write: bool,
        /// Plan one session of this length instead (3h, 180, 2h30): the steps that fit, or
        /// with --reach, the cuts that make that step fit.
        #[arg(long, value_parser = dev::schedule::parse_length)]
        length: Option<u32>,
        /// The step the session must reach (5, 05): shortens what the book allows until it
        /// fits, or says by how much it does not. [default length: 3h]
        #[arg(long, value_name = "STEP")]
        reach: Option<String>,
    },
    /// Prove this laptop is ready for the workshop, offline: the toolchain, the builds, step
    /// 01's check on the embedded Kafka, the disk; prints one line to paste into your reply.
    Preflight {
        /// Also check Docker Compose and that the stack's images are pulled.
        #[arg(long)]
        docker: bool,
        /// Also check that the room's class board answers at this address (on the day).
        #[arg(long, value_name = "URL")]
        board: Option<String>,
    },
    /// Class mode for workshops: the instructor serves a class board, learners join it and
    /// their checks report there.
    Class {
        #[command(subcommand)]
        command: class::Command,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            anstream::eprintln!("{} {error:#}", ui::paint(ui::FAIL, "error:"));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let workbook = Workbook::from_current_dir()?;
    match cli.command {
        None => {
            list::run(&workbook);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Check {
            step,
            solution,
            all,
            test_args,
        }) => check::run(&workbook, &step, solution, all, &test_args),
        Some(Command::Hint { step }) => hint::run(&workbook, &step),
        Some(Command::Watch { step }) => watch::run(&workbook, step.as_deref()),
        Some(Command::Diff {
            step,
            whole_step,
            markers,
        }) => {
            diff::run(&workbook, &step, whole_step, markers)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Reset { step, yes }) => reset::run(&workbook, &step, yes),
        Some(Command::Verify { timings, no_tests }) => {
            dev::verify::run(&workbook, &dev::verify::Options { timings, no_tests })
        }
        Some(Command::Schedule {
            write,
            length,
            reach,
        }) => dev::schedule::run(
            &workbook,
            &dev::schedule::Options {
                write,
                length,
                reach,
            },
        ),
        Some(Command::Preflight { docker, board }) => {
            preflight::run(&workbook, &preflight::Options { docker, board })
        }
        Some(Command::Class { command }) => class::run(&workbook, command),
    }
}

/// A temporary folder for tests (tempfile's, removed when dropped), with the two helpers the
/// tests use.
#[cfg(test)]
mod testing {
    use std::{fs, path::Path};

    pub struct TempDir(tempfile::TempDir);

    impl TempDir {
        pub fn new() -> TempDir {
            TempDir(tempfile::tempdir().expect("a temporary folder"))
        }

        pub fn path(&self) -> &Path {
            self.0.path()
        }

        /// Writes `text` to `relative`, creating folders on the way.
        pub fn write(&self, relative: &str, text: &str) {
            let path = self.path().join(relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }

        pub fn read(&self, relative: &str) -> String {
            fs::read_to_string(self.path().join(relative)).unwrap()
        }
    }
}
