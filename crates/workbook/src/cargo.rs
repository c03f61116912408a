//! Running cargo: in the learner's terminal for `check`, captured for `verify`. What libtest
//! prints is read in `libtest`.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    path::Path,
    process::{Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

/// A `cargo` command run from the repository root. `cargo run` tells the runner which cargo
/// started it (`$CARGO`), so the checks use the same toolchain as the runner itself.
pub fn command(root: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root);
    command
}

/// What a captured run printed and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub success: bool,
    /// stdout and stderr, line by line, in about the order they were printed.
    pub lines: Vec<String>,
    pub elapsed: Duration,
    /// The run was stopped because it went on past its time limit.
    pub timed_out: bool,
}

impl Captured {
    /// The last `count` lines, where the failure usually is.
    pub fn tail(&self, count: usize) -> &[String] {
        &self.lines[self.lines.len().saturating_sub(count)..]
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.lines.iter().any(|line| line.contains(needle))
    }
}

/// How long the readers may go on after cargo has exited: a process that a test started and
/// left running (a server, a browser) holds cargo's output open, and its end never comes.
const AFTER_EXIT: Duration = Duration::from_secs(10);

/// Runs `command` with its output captured, for at most `limit`. The two streams are read by
/// two threads into one list, so a failure's compiler errors (stderr) and test output (stdout)
/// come out together.
///
/// A run past its limit is killed with everything it started (its process group), and its
/// output so far is kept: a hung test then fails `verify` with the test's name in the output
/// (libtest prints "has been running for over 60 seconds"), rather than hanging CI.
pub fn run_captured(command: Command, limit: Duration) -> Result<Captured> {
    capture(command, limit, AFTER_EXIT)
}

fn capture(mut command: Command, limit: Duration, after_exit: Duration) -> Result<Captured> {
    let started = Instant::now();
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {command:?}; is cargo on your PATH?"))?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (done, readers_done) = mpsc::channel();
    let streams = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    let mut readers = 0;
    for stream in streams.into_iter().flatten() {
        let lines = Arc::clone(&lines);
        let done = done.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                // A poisoned lock only means the other reader panicked; keep its lines.
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
            let _ = done.send(());
        });
        readers += 1;
    }

    let mut timed_out = false;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().context("cargo did not finish")? {
            break status;
        }
        if started.elapsed() > limit {
            timed_out = true;
            kill_group(&mut child);
            break child.wait().context("cargo did not finish")?;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let deadline = Instant::now() + after_exit;
    for _ in 0..readers {
        let left = deadline.saturating_duration_since(Instant::now());
        if readers_done.recv_timeout(left).is_err() {
            // Whatever still holds the pipes belongs to this run: stop it.
            kill_group(&mut child);
            break;
        }
    }
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Captured {
        success: status.success() && !timed_out,
        lines,
        elapsed: started.elapsed(),
        timed_out,
    })
}

/// Kills `child` and the processes it started: its process group, which `capture` made it the
/// leader of, so the group's id is the child's own.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let group = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
}

/// Runs `command` with its stdout and stderr merged into one pipe, as a terminal would show
/// them: each line is handed to `on_line` (without the line ending), and with `echo` the output
/// is also copied to ours as it comes.
///
/// One pipe for both streams, as rustlings does: two pipes read by two threads interleave
/// mid-line ("Doc-teststest with_redis… ok") when cargo's stderr and libtest's stdout write at
/// the same moment. The command sees a pipe, not a terminal: pass it `--color` explicitly.
pub fn run_merged(
    mut command: Command,
    echo: bool,
    on_line: impl Fn(&str) + Sync,
) -> io::Result<ExitStatus> {
    let (reader, writer) = io::pipe()?;
    let mut child = command.stdout(writer.try_clone()?).stderr(writer).spawn()?;
    // The command holds the writing ends now; ours must go (they went with `command`'s
    // settings), or the reader would never see the end of the output.
    drop(command);
    let to: Box<dyn Write> = if echo {
        Box::new(io::stdout())
    } else {
        Box::new(io::sink())
    };
    tee(reader, to, &on_line);
    child.wait()
}

/// Copies `from` to `to` chunk by chunk, so that half a line (libtest's `test name ... `)
/// shows at once, and hands each whole line to `on_line`. It reads to the end even when `to`
/// fails (a closed pipe), so that the command never blocks on a full pipe.
fn tee(mut from: impl Read, mut to: impl Write, on_line: &(impl Fn(&str) + Sync)) {
    let mut buffer = [0; 8192];
    let mut line = Vec::new();
    let hand_over = |line: &mut Vec<u8>| {
        if line.ends_with(b"\n") {
            line.pop();
        }
        if line.ends_with(b"\r") {
            line.pop();
        }
        on_line(&String::from_utf8_lossy(line));
        line.clear();
    };
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buffer[..read];
        let _ = to.write_all(chunk).and_then(|()| to.flush());
        for piece in chunk.split_inclusive(|&byte| byte == b'\n') {
            line.extend_from_slice(piece);
            if line.ends_with(b"\n") {
                hand_over(&mut line);
            }
        }
    }
    if !line.is_empty() {
        hand_over(&mut line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[cfg(unix)]
    #[test]
    fn a_run_past_its_limit_is_stopped_and_keeps_its_output() {
        let started = Instant::now();
        let run = capture(
            shell("echo begun; sleep 60"),
            Duration::from_millis(500),
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(run.timed_out);
        assert!(!run.success);
        assert_eq!(run.lines, ["begun"]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_process_left_running_does_not_hold_the_run() {
        // The shell exits at once, but the sleep it started keeps the output pipe open.
        let started = Instant::now();
        let run = capture(
            shell("sleep 60 & echo started"),
            Duration::from_secs(30),
            Duration::from_millis(500),
        )
        .unwrap();
        assert!(run.success && !run.timed_out);
        assert_eq!(run.lines, ["started"]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    /// Gives two bytes a read, so that lines, and the UTF-8 of `✗`, are split between reads.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let count = self.0.len().min(buffer.len()).min(2);
            buffer[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }

    #[test]
    fn teeing_copies_every_byte_and_hands_over_whole_lines() {
        let input = "one\r\ntwo, in \u{2717} two reads\n\nlast without a newline";
        let lines = Mutex::new(Vec::new());
        let mut copied = Vec::new();
        tee(Trickle(input.as_bytes()), &mut copied, &|line: &str| {
            lines.lock().unwrap().push(line.to_string());
        });
        assert_eq!(String::from_utf8(copied).unwrap(), input);
        let lines = lines.into_inner().unwrap();
        assert_eq!(
            lines,
            [
                "one",
                "two, in \u{2717} two reads",
                "",
                "last without a newline"
            ]
        );
    }

    #[test]
    fn one_pipe_keeps_the_lines_of_both_streams_whole() {
        // A shell that writes to stdout and stderr in turns, each line in pieces.
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "for i in 1 2 3 4 5; do printf 'out%s' $i; printf 'err%s\\n' $i >&2; printf '\\n'; done",
        ]);
        let lines = Mutex::new(Vec::new());
        let status = run_merged(command, false, |line| {
            lines.lock().unwrap().push(line.to_string());
        })
        .unwrap();
        assert!(status.success());
        let lines = lines.into_inner().unwrap();
        // Both streams arrive, whole lines only, in the order they were written.
        assert_eq!(lines.len(), 10, "{lines:?}");
        assert_eq!(lines[0], "out1err1");
        assert_eq!(lines[1], "");
    }
}
