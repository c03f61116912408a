//! The learner's wait: how long a save takes to get the check's answer, step by step.
//!
//! `cargo bench -p bench -- loop` runs it. For each step it times, in turns so that a slow
//! minute of a shared machine hurts every case alike:
//!
//! - a one-line edit of the exercise, then `cargo workbook check NN` (the learner's loop; from
//!   step 02 on the exercise fails its check);
//! - a one-line edit of the solution, then `cargo workbook check NN --solution` (passing);
//! - the same edit, then `cargo build -p solution-NN` alone: the floor of any edit, what
//!   compiling the learner's code costs;
//! - the same edit, then the old check, `cargo test -p solution-NN` with every target (the
//!   binary's empty unit-test harness and the doc-tests too);
//! - a step's first check after a workspace build: `cargo clean -p exercise-NN`, then the check.
//!
//! The edit appends a comment line to the crate's `src/lib.rs`, which makes cargo rebuild the
//! crate as a real edit does; an [`Edit`] puts the file back as it was when it is dropped, also
//! when the bench panics. The learner's record (`target/workbook/status.json`) is put back too.
//!
//! Each figure is wall time and the CPU time of the command and its children (cargo, rustc, the
//! test binaries), side by side, with the load average when it ran: on a machine that others
//! share, the CPU time is the steadier figure, and the load says how far to trust the wall time.
//!
//! `--cold` (or `BENCH_COLD=1`) also times a fresh clone's `cargo run -p exercise-01` until
//! `/healthz` answers, with a target folder of its own: minutes, so only on request.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::report::{Table, median};

/// The workspace's root, where `cargo workbook` must run.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the bench lives in crates/bench of the workspace")
}

/// The line an [`Edit`] appends: a comment, so the crate's meaning does not change.
const EDIT_LINE: &str = "// bench: a one-line edit, removed when the bench is done\n";

/// A file with [`EDIT_LINE`] appended, put back as it was when this is dropped.
///
/// Others may edit the same file meanwhile (the tree is shared): the file is only written back
/// whole when it still holds exactly the original and the line; otherwise the line alone is
/// taken out, and if it cannot be found, the file is left alone with a warning.
pub struct Edit {
    path: PathBuf,
    original: Vec<u8>,
}

impl Edit {
    pub fn new(path: &Path) -> Result<Edit> {
        let original = std::fs::read(path).with_context(|| format!("reading {path:?}"))?;
        let mut edited = original.clone();
        if !edited.ends_with(b"\n") {
            edited.push(b'\n');
        }
        edited.extend_from_slice(EDIT_LINE.as_bytes());
        std::fs::write(path, &edited).with_context(|| format!("editing {path:?}"))?;
        Ok(Edit {
            path: path.to_owned(),
            original,
        })
    }
}

impl Drop for Edit {
    fn drop(&mut self) {
        let Ok(now) = std::fs::read(&self.path) else {
            eprintln!("bench: {:?} is gone; not restored", self.path);
            return;
        };
        let now = String::from_utf8_lossy(&now).into_owned();
        let Some(at) = now.rfind(EDIT_LINE) else {
            eprintln!("bench: the edit line is no longer in {:?}", self.path);
            return;
        };
        let original = String::from_utf8_lossy(&self.original);
        let restored = if now[..at].trim_end_matches('\n') == original.trim_end_matches('\n') {
            self.original.clone()
        } else {
            // Someone else changed the file meanwhile: keep their change, remove ours alone.
            format!("{}{}", &now[..at], &now[at + EDIT_LINE.len()..]).into_bytes()
        };
        if let Err(error) = std::fs::write(&self.path, restored) {
            eprintln!("bench: could not restore {:?}: {error}", self.path);
        }
    }
}

/// A file's contents, put back when this is dropped (or the file removed, if it was absent).
pub struct Keep {
    path: PathBuf,
    contents: Option<Vec<u8>>,
}

impl Keep {
    pub fn new(path: PathBuf) -> Keep {
        let contents = std::fs::read(&path).ok();
        Keep { path, contents }
    }
}

impl Drop for Keep {
    fn drop(&mut self) {
        let result = match &self.contents {
            Some(contents) => std::fs::write(&self.path, contents),
            None => std::fs::remove_file(&self.path).or(Ok(())),
        };
        if let Err(error) = result {
            eprintln!("bench: could not restore {:?}: {error}", self.path);
        }
    }
}

/// One timed command.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub wall: Duration,
    /// CPU time, user and kernel, of the command and every child it waited for.
    pub cpu: Duration,
    /// The one-minute load average when the command started.
    pub load: f64,
    pub success: bool,
}

/// The one-minute load average (`/proc/loadavg`), or NaN where there is none.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The CPU time of this process's children that have ended and been waited for.
fn children_cpu() -> Duration {
    // SAFETY: `getrusage` only writes the struct it is given, which is ours and zeroed.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Runs `command` with its output captured (and dropped), and times it.
pub fn time(mut command: Command) -> Result<Timing> {
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let load = load_average();
    let cpu_before = children_cpu();
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    Ok(Timing {
        wall: started.elapsed(),
        cpu: children_cpu() - cpu_before,
        load,
        success: status.success(),
    })
}

/// `cargo <args>` at the workspace's root.
fn cargo(args: &[&str]) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root()).args(args);
    // The bench's own build settings must not leak into the commands it times.
    for var in ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_DIR", "RUSTFLAGS"] {
        command.env_remove(var);
    }
    command
}

/// The steps that have both an exercise and a solution, `01`, `02`, …
pub fn steps() -> Vec<String> {
    let root = root();
    let mut steps: Vec<String> = std::fs::read_dir(root.join("exercises"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let step = name.strip_prefix("exercise-")?.to_owned();
            root.join("solutions")
                .join(format!("solution-{step}"))
                .join("src/lib.rs")
                .exists()
                .then_some(step)
        })
        .collect();
    steps.sort();
    steps
}

/// The cases timed for each step, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Case {
    /// Edit the exercise, `cargo workbook check NN`.
    Exercise,
    /// Edit the solution, `cargo workbook check NN --solution`.
    Solution,
    /// Edit the solution, `cargo build -p solution-NN`.
    Build,
    /// Edit the solution, `cargo test -p solution-NN` (every target: the old check).
    OldCheck,
    /// `cargo clean -p exercise-NN`, then `cargo workbook check NN`.
    FirstCheck,
}

impl Case {
    pub const ALL: [Case; 5] = [
        Case::Exercise,
        Case::Solution,
        Case::Build,
        Case::OldCheck,
        Case::FirstCheck,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Case::Exercise => "edit, then `cargo workbook check NN` (the exercise)",
            Case::Solution => "edit, then `cargo workbook check NN --solution` (passes)",
            Case::Build => "edit, then `cargo build -p solution-NN` (the floor)",
            Case::OldCheck => "edit, then `cargo test -p solution-NN` (old check: all targets)",
            Case::FirstCheck => "`cargo clean -p exercise-NN`, then `cargo workbook check NN`",
        }
    }

    /// Times this case once for `step`.
    pub fn run(self, step: &str) -> Result<Timing> {
        let root = root();
        let exercise = format!("exercise-{step}");
        let solution = format!("solution-{step}");
        let exercise_lib = root.join("exercises").join(&exercise).join("src/lib.rs");
        let solution_lib = root.join("solutions").join(&solution).join("src/lib.rs");
        match self {
            Case::Exercise => {
                // The exercise's check writes the learner's record: put it back afterwards.
                let _status = Keep::new(root.join("target/workbook/status.json"));
                let _edit = Edit::new(&exercise_lib)?;
                time(cargo(&["workbook", "check", step]))
            }
            Case::Solution => {
                let _edit = Edit::new(&solution_lib)?;
                time(cargo(&["workbook", "check", step, "--solution"]))
            }
            Case::Build => {
                let _edit = Edit::new(&solution_lib)?;
                time(cargo(&["build", "-q", "-p", &solution]))
            }
            Case::OldCheck => {
                let _edit = Edit::new(&solution_lib)?;
                time(cargo(&["test", "-q", "-p", &solution]))
            }
            Case::FirstCheck => {
                let _status = Keep::new(root.join("target/workbook/status.json"));
                let clean = cargo(&["clean", "-q", "-p", &exercise]);
                if !time(clean)?.success {
                    bail!("cargo clean -p {exercise} failed");
                }
                time(cargo(&["workbook", "check", step]))
            }
        }
    }
}

/// What the loop bench does.
pub struct Plan {
    pub steps: Vec<String>,
    pub cases: Vec<Case>,
    /// How many times each case runs per step.
    pub rounds: usize,
}

/// Runs `plan`: each round runs every case of every step once, then the next round.
/// Progress goes to stderr.
pub fn run(plan: &Plan) -> Result<Vec<(String, Case, Vec<Timing>)>> {
    // Build what the cases need first, so that no case pays for it: the runner, and each
    // step's test targets.
    eprintln!("loop: building the runner and the steps' tests");
    let mut warm = cargo(&["workbook"]);
    warm.stdout(Stdio::null());
    warm.status().context("cargo workbook")?;
    for step in &plan.steps {
        for package in [format!("exercise-{step}"), format!("solution-{step}")] {
            let built = cargo(&["test", "-q", "-p", &package, "--no-run"])
                .args(["--lib", "--test", "*"])
                .stdout(Stdio::null())
                .status()?;
            if !built.success() {
                bail!("{package} does not build");
            }
        }
    }
    let mut results: Vec<(String, Case, Vec<Timing>)> = plan
        .steps
        .iter()
        .flat_map(|step| plan.cases.iter().map(|&case| (step.clone(), case, vec![])))
        .collect();
    for round in 1..=plan.rounds {
        for (step, case, timings) in &mut results {
            eprintln!(
                "loop round {round}/{}: step {step}: {}",
                plan.rounds,
                case.label()
            );
            let timing = case.run(step)?;
            eprintln!(
                "  {:.2} s wall, {:.2} s CPU, load {:.1}{}",
                timing.wall.as_secs_f64(),
                timing.cpu.as_secs_f64(),
                timing.load,
                if timing.success { "" } else { ", failed" }
            );
            timings.push(timing);
        }
    }
    Ok(results)
}

/// The loop's figures as a table: medians of wall and CPU time, the load's range.
pub fn table(results: &[(String, Case, Vec<Timing>)]) -> Table {
    let mut table = Table::new(&[
        "step",
        "what",
        "wall (median)",
        "CPU (median)",
        "runs",
        "answer",
        "load (1 min)",
    ]);
    for (step, case, timings) in results {
        let seconds = |read: fn(&Timing) -> Duration| {
            median(
                &timings
                    .iter()
                    .map(|t| read(t).as_secs_f64())
                    .collect::<Vec<_>>(),
            )
        };
        let passed = timings.iter().filter(|t| t.success).count();
        let answer = match passed {
            0 => "fails".to_owned(),
            p if p == timings.len() => "passes".to_owned(),
            p => format!("{p}/{} pass", timings.len()),
        };
        let loads: Vec<f64> = timings.iter().map(|t| t.load).collect();
        let (low, high) = loads
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &l| {
                (lo.min(l), hi.max(l))
            });
        table.row(vec![
            step.clone(),
            case.label().to_owned(),
            format!("{:.2} s", seconds(|t| t.wall)),
            format!("{:.2} s", seconds(|t| t.cpu)),
            timings.len().to_string(),
            answer,
            format!("{low:.1}–{high:.1}"),
        ]);
    }
    table
}

/// A fresh clone's `cargo run -p exercise-01`, until `/healthz` answers: the learner's first
/// wait. The clone is of this repository's committed `HEAD`, in a temporary folder, with a
/// target folder of its own; crates come from cargo's cache (no network needed once fetched).
pub fn cold_run() -> Result<Timing> {
    let dir = std::env::temp_dir().join(format!("bench-cold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cloned = Command::new("git")
        .args(["clone", "-q", "--local"])
        .arg(root())
        .arg(&dir)
        .status()?;
    if !cloned.success() {
        bail!("git clone into {dir:?} failed");
    }
    // A free port for chat-api, so that an app already running elsewhere is not the one asked.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&dir)
        .args(["run", "-q", "-p", "exercise-01"])
        .env("CHAT_API_ADDR", format!("127.0.0.1:{port}"))
        .env("TALK_WATERFALL", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for var in ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_DIR", "RUSTFLAGS"] {
        command.env_remove(var);
    }
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let load = load_average();
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut child = command.spawn()?;
    let answered = loop {
        if let Some(status) = child.try_wait()? {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .map(|mut e| e.read_to_string(&mut stderr));
            bail!("cargo run -p exercise-01 ended ({status}) before /healthz answered:\n{stderr}");
        }
        if healthz(port) {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(1800) {
            break Duration::MAX;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // SAFETY: a plain kill(2) of the process group this bench started.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    let status = child.wait()?;
    let timing = Timing {
        wall: answered,
        cpu: children_cpu() - cpu_before,
        load,
        success: answered != Duration::MAX,
    };
    eprintln!("cold run: the app stopped ({status}); removing {dir:?}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(timing)
}

/// Whether `GET /healthz` on `port` answers 200.
fn healthz(port: u16) -> bool {
    use std::io::Write as _;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_is_undone_exactly() {
        let dir = std::env::temp_dir().join(format!("bench-edit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lib.rs");
        std::fs::write(&file, "pub fn f() {}").unwrap(); // no final newline
        {
            let _edit = Edit::new(&file).unwrap();
            let edited = std::fs::read_to_string(&file).unwrap();
            assert!(edited.ends_with(EDIT_LINE), "{edited}");
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "pub fn f() {}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_edit_keeps_what_others_wrote_meanwhile() {
        let dir = std::env::temp_dir().join(format!("bench-edit2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lib.rs");
        std::fs::write(&file, "a\n").unwrap();
        {
            let _edit = Edit::new(&file).unwrap();
            let edited = std::fs::read_to_string(&file).unwrap();
            std::fs::write(&file, format!("z\n{edited}")).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "z\na\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_edit_is_undone_when_the_bench_panics() {
        let dir = std::env::temp_dir().join(format!("bench-edit3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lib.rs");
        std::fs::write(&file, "a\n").unwrap();
        let panicked = std::panic::catch_unwind(|| {
            let _edit = Edit::new(&file).unwrap();
            panic!("the bench fails midway");
        });
        assert!(panicked.is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
