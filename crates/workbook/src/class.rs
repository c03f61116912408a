//! `cargo workbook class`: class mode, for a workshop whose instructor runs a class board.
//!
//! - `class serve` (the instructor) starts the board, the `class-board` crate of the main
//!   workspace, with `cargo run -p class-board`. The board needs axum and tokio, which the app
//!   has already built there; built here they would be a second copy in `target/runner`, and
//!   the runner would no longer build in seconds on a fresh clone.
//! - `class join URL --token T --name NAME` (a learner) saves where the board is and prints the
//!   `OTEL_*` exports for the room's shared Jaeger. From then on, every `check` reports its
//!   result to the board ([`report`]).
//! - `class env` prints those exports again, for a new terminal.
//! - `class leave` stops the reports.
//!
//! Reporting must never get in the learner's way: it cannot fail a check, it gives up after
//! [`REPORT_BUDGET`] when the board cannot be reached (bad wifi), and what it could not send
//! waits in a queue and goes with the next check. The settings and the queue live in
//! `target/workbook/`, beside the step record: never committed, and forgotten with `target/`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::{cargo, status, steps::StepId, steps::Workbook, ui};

/// The longest a check waits for its report to reach the board. When the wifi is down a
/// connection attempt can hang for a long time; the learner's check must not.
pub const REPORT_BUDGET: Duration = Duration::from_secs(1);

/// The most reports kept waiting for the board. The board shows only the last report of each
/// step, so when the wifi stays down all day the oldest can go.
const MAX_QUEUED: usize = 50;

/// The longest name the board takes, in characters (class-board's `report::MAX_NAME_CHARS`).
const MAX_NAME_CHARS: usize = 40;

/// The longest summary sent, in characters: one line of the board's table.
const MAX_SUMMARY_CHARS: usize = 200;

#[derive(Subcommand)]
pub enum Command {
    /// (instructor) Serve the class board: every learner's checks on one page.
    Serve {
        /// Where to listen; 0.0.0.0:7878 opens it to the room. [default: 127.0.0.1:7878]
        #[arg(long)]
        addr: Option<String>,
        /// The token learners join with. Without it, one is made and kept for restarts.
        #[arg(long)]
        token: Option<String>,
        /// The reports file (JSON lines, read back at start).
        /// [default: target/class-board/reports.jsonl]
        #[arg(long)]
        data: Option<PathBuf>,
        /// The room's shared Jaeger UI, e.g. http://192.168.1.20:16686: each name on the board
        /// then links to that learner's traces.
        #[arg(long)]
        jaeger_ui_url: Option<String>,
    },
    /// (learner) Report every check to the class board, and print the exports for the room's
    /// shared Jaeger.
    Join {
        /// The board's address, as the instructor gives it: http://HOST:7878
        url: String,
        /// The board's token, as the instructor gives it.
        #[arg(long)]
        token: String,
        /// Your name on the board (1 to 40 characters).
        #[arg(long)]
        name: String,
        /// Where the shared Jaeger runs, if not on the board's machine.
        #[arg(long)]
        jaeger_host: Option<String>,
    },
    /// (learner) Print the exports for the room's shared Jaeger again, e.g. for a new terminal:
    /// eval "$(cargo workbook class env)"
    Env,
    /// (learner) Stop reporting to the class board.
    Leave,
}

pub fn run(workbook: &Workbook, command: Command) -> Result<ExitCode> {
    let dir = &state_dir(&workbook.root);
    match command {
        Command::Serve {
            addr,
            token,
            data,
            jaeger_ui_url,
        } => serve(workbook, addr, token, data, jaeger_ui_url),
        Command::Join {
            url,
            token,
            name,
            jaeger_host,
        } => join(dir, &url, &token, &name, jaeger_host),
        Command::Env => {
            let settings = Settings::load(dir)
                .context("not in class mode: join first with cargo workbook class join")?;
            print!("{}", exports(&settings));
            Ok(ExitCode::SUCCESS)
        }
        Command::Leave => leave(dir),
    }
}

/// `class serve`: `cargo run -p class-board` with the same flags, and the workbook's steps as
/// the board's columns. The board prints the join command itself; Ctrl-C stops both.
fn serve(
    workbook: &Workbook,
    addr: Option<String>,
    token: Option<String>,
    data: Option<PathBuf>,
    jaeger_ui_url: Option<String>,
) -> Result<ExitCode> {
    let mut command = cargo::command(&workbook.root);
    command.args(["run", "-q", "-p", "class-board", "--"]);
    if let Some(addr) = addr {
        command.args(["--addr", &addr]);
    }
    if let Some(token) = token {
        command.args(["--token", &token]);
    }
    if let Some(data) = data {
        // cargo runs the board from the repository's root; the path was typed from here.
        let data = std::path::absolute(&data).unwrap_or(data);
        command.arg("--data").arg(data);
    }
    if let Some(url) = jaeger_ui_url {
        command.args(["--jaeger-ui-url", &url]);
    }
    let steps: Vec<String> = workbook.steps.iter().map(|s| s.id.to_string()).collect();
    command.arg(format!("--steps={}", steps.join(",")));
    anstream::println!(
        "{}",
        ui::paint(
            ui::NOTE,
            "Starting the class board (cargo run -p class-board; the first time builds it)…"
        )
    );
    let status = command
        .status()
        .context("cannot run cargo run -p class-board; is cargo on your PATH?")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Where the learner reports to, saved by `class join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Settings {
    /// `http://HOST:PORT`, without a trailing slash.
    url: String,
    token: String,
    name: String,
    /// Where the room's Jaeger runs: the board's host unless `--jaeger-host` said otherwise.
    jaeger_host: String,
}

impl Settings {
    fn path(dir: &Path) -> PathBuf {
        dir.join("class.json")
    }

    fn load(dir: &Path) -> Option<Settings> {
        let text = fs::read_to_string(Settings::path(dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&Settings::path(dir), self)
    }
}

/// The folder of the runner's own records, `target/workbook/`, where class mode keeps its
/// settings and its queue.
fn state_dir(root: &Path) -> PathBuf {
    let status = status::status_path(root);
    status
        .parent()
        .map_or(root.join("target"), Path::to_path_buf)
}

/// One report, as `POST /api/report` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Report {
    name: String,
    step: String,
    result: String,
    summary: String,
}

fn queue_path(dir: &Path) -> PathBuf {
    dir.join("class-queue.json")
}

fn load_queue(dir: &Path) -> Vec<Report> {
    fs::read_to_string(queue_path(dir))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Writes through a temporary file, so that a check stopped halfway leaves the old file whole.
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("json.tmp");
    fs::write(&temporary, serde_json::to_string_pretty(value)? + "\n")?;
    fs::rename(&temporary, path)?;
    Ok(())
}

/// `class join`: checks what it can, saves the settings, and prints the exports.
fn join(
    dir: &Path,
    url: &str,
    token: &str,
    name: &str,
    jaeger_host: Option<String>,
) -> Result<ExitCode> {
    let url = url.trim().trim_end_matches('/').to_string();
    let Some(host) = host_of(&url) else {
        bail!(
            "{url} is not a board address: the instructor's looks like http://192.168.1.20:7878 \
             (plain http; the board does not speak https)"
        );
    };
    let name = name.trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        bail!("--name must be 1 to {MAX_NAME_CHARS} characters (letters, digits, spaces, …)");
    }
    let settings = Settings {
        jaeger_host: jaeger_host.unwrap_or_else(|| host.to_string()),
        url,
        token: token.trim().to_string(),
        name,
    };

    // Ask the board now, so that a wrong address or token shows up here rather than as
    // reports that never arrive. A board that cannot be reached is fine: the wifi may come back.
    let reachable = match ask_board(&settings) {
        Ok(()) => true,
        Err(Refusal::Token) => bail!(
            "the board at {} refused the token {:?}: check it with your instructor",
            settings.url,
            settings.token
        ),
        Err(Refusal::Unreachable(error)) => {
            anstream::println!(
                "{} the board at {} could not be asked ({error}). Your settings are saved \
                 anyway: checks will report once it answers.",
                ui::paint(ui::FAIL, "note:"),
                settings.url
            );
            false
        }
    };
    settings.save(dir)?;
    if reachable {
        anstream::println!(
            "{} You are on the class board as {:?}; the room's progress is at {}/#token={}",
            ui::paint(ui::PASS, "Joined."),
            settings.name,
            settings.url,
            settings.token
        );
    }
    anstream::println!(
        "Every {} now reports its result to the board; {} stops it.\n",
        ui::paint(ui::COMMAND, "cargo workbook check NN"),
        ui::paint(ui::COMMAND, "cargo workbook class leave")
    );
    println!(
        "If your instructor runs the room's Jaeger, send your traces there: run these in each \
         terminal where you start the app (or eval \"$(cargo workbook class env)\"):\n"
    );
    print!("{}", exports(&settings));
    Ok(ExitCode::SUCCESS)
}

/// The host of an `http://HOST:PORT` address (`[::1]` keeps its brackets), or `None` when
/// the address is not plain http.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let host = match authority.rfind(':') {
        Some(colon) if !authority.ends_with(']') => &authority[..colon],
        _ => authority,
    };
    (!host.is_empty()).then_some(host)
}

/// The `export` lines for the room's Jaeger: where to send spans, the learner's namespace (the
/// board's links search for it), and where the chat page's trace links should point.
fn exports(settings: &Settings) -> String {
    let host = &settings.jaeger_host;
    format!(
        "export OTEL_EXPORTER_OTLP_ENDPOINT=http://{host}:4317\n\
         export OTEL_RESOURCE_ATTRIBUTES=service.namespace={}\n\
         export JAEGER_UI_URL=http://{host}:16686\n",
        namespace(&settings.name)
    )
}

/// The learner's `service.namespace`: the name with every character other than a letter, a
/// digit, `-`, `_` or `.` turned into `-`, so that it needs no quoting in the export and holds
/// no `,` or `=`, which `OTEL_RESOURCE_ATTRIBUTES` would split on.
///
/// The board computes the same value for its links to Jaeger: keep this function the same as
/// `namespace` in `crates/class-board/src/report.rs` (their tests share examples).
fn namespace(name: &str) -> String {
    let mut namespace = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() || matches!(c, '_' | '.') {
            namespace.push(c);
        } else if !namespace.ends_with('-') {
            namespace.push('-');
        }
    }
    let namespace = namespace.trim_matches('-');
    if namespace.is_empty() {
        "learner".to_string()
    } else {
        namespace.to_string()
    }
}

/// `class leave`: forgets the settings and whatever was still waiting to be sent.
fn leave(dir: &Path) -> Result<ExitCode> {
    if Settings::load(dir).is_none() {
        println!("You were not in class mode: checks do not report anywhere.");
        return Ok(ExitCode::SUCCESS);
    }
    let waiting = load_queue(dir).len();
    let _ = fs::remove_file(queue_path(dir));
    fs::remove_file(Settings::path(dir)).context("cannot remove the class settings")?;
    println!("Left the class board: checks no longer report.");
    if waiting > 0 {
        println!("{waiting} reports that had not reached the board were dropped.");
    }
    println!(
        "Unset the OTEL_* variables too, or open a new terminal, to send traces locally again."
    );
    Ok(ExitCode::SUCCESS)
}

/// After a check (from `check::run`): in class mode, sends this result to the board, with any
/// that earlier checks could not send, within [`REPORT_BUDGET`]. Outside class mode it does
/// nothing. It never fails: whatever goes wrong is one line of output.
pub fn report(root: &Path, step: StepId, passed: bool, summary: &str) {
    report_from(&state_dir(root), step, passed, summary);
}

fn report_from(dir: &Path, step: StepId, passed: bool, summary: &str) {
    let Some(settings) = Settings::load(dir) else {
        return;
    };
    let mut queue = load_queue(dir);
    queue.push(Report {
        name: settings.name.clone(),
        step: step.to_string(),
        result: if passed { "pass" } else { "fail" }.to_string(),
        summary: one_line(summary),
    });
    if queue.len() > MAX_QUEUED {
        queue.drain(..queue.len() - MAX_QUEUED);
    }
    let sent = send_queue(&settings, &mut queue, Instant::now() + REPORT_BUDGET);
    if let Err(error) = write_json(&queue_path(dir), &queue) {
        eprintln!("note: could not keep the class board's queue: {error}");
    }
    let line = match (&sent.stopped, sent.delivered) {
        (Some(reason), _) => format!(
            "The class board did not take the report ({reason}); {} waiting, sent with your \
             next check.",
            match queue.len() {
                1 => "1 report is".to_string(),
                n => format!("{n} reports are"),
            }
        ),
        (None, 0) => return,
        (None, 1) => format!("Reported to the class board ({}).", settings.url),
        (None, n) => format!(
            "Reported to the class board ({}), with {} that had waited.",
            settings.url,
            n - 1
        ),
    };
    anstream::println!("{}", ui::paint(ui::NOTE, line));
}

/// How far [`send_queue`] got.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sent {
    /// Reports the board took.
    delivered: usize,
    /// Why it stopped before the end of the queue; the rest stay queued.
    stopped: Option<String>,
}

/// Sends the queued reports, oldest first, until one is not taken or the `deadline` passes;
/// the sent ones leave the queue.
///
/// - A report the board refuses as such (`400`, `413`) is dropped with a note: sending it again
///   would fail again.
/// - A refused token (`401`) stops the sending and keeps the queue: `class join` with the right
///   token sends it all with the next check.
/// - Anything else (no answer, `404` from something that is not the board, a `5xx`) stops the
///   sending and keeps the queue: the wifi or the board may come back.
fn send_queue(settings: &Settings, queue: &mut Vec<Report>, deadline: Instant) -> Sent {
    let agent = agent();
    let mut sent = Sent::default();
    while let Some(report) = queue.first() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            sent.stopped = Some("no time left".to_string());
            return sent;
        }
        // serde_json rather than ureq's `json` feature: the runner already has it.
        let body = serde_json::to_string(report).expect("a report is plain strings");
        let answer = agent
            .post(format!("{}/api/report", settings.url))
            .header("Authorization", format!("Bearer {}", settings.token))
            .header("Content-Type", "application/json")
            .config()
            .timeout_global(Some(left))
            .build()
            .send(body);
        let stopped = match answer {
            Ok(response) if response.status().is_success() => {
                queue.remove(0);
                sent.delivered += 1;
                continue;
            }
            Ok(response) if matches!(response.status().as_u16(), 400 | 413) => {
                eprintln!(
                    "note: the class board refused a report of step {} ({}); it is dropped.",
                    report.step,
                    response.status()
                );
                queue.remove(0);
                continue;
            }
            Ok(response) if response.status() == 401 => {
                "it refused the token: cargo workbook class join again with the right one"
                    .to_string()
            }
            Ok(response) if response.status() == 404 => {
                format!(
                    "{} answered 404: is that the board's address?",
                    settings.url
                )
            }
            Ok(response) => format!("it answered {}", response.status()),
            Err(ureq::Error::Timeout(_)) => {
                format!("no answer within {}s", REPORT_BUDGET.as_secs_f32())
            }
            Err(error) => format!("cannot reach it: {error}"),
        };
        sent.stopped = Some(stopped);
        return sent;
    }
    sent
}

/// Why the board did not take a request.
enum Refusal {
    Token,
    Unreachable(String),
}

/// Asks the board for its state with the token, to check both before saving them.
fn ask_board(settings: &Settings) -> Result<(), Refusal> {
    let answer = agent()
        .get(format!("{}/api/reports", settings.url))
        .header("Authorization", format!("Bearer {}", settings.token))
        .config()
        .timeout_global(Some(REPORT_BUDGET))
        .build()
        .call();
    match answer {
        Ok(response) if response.status() == 401 => Err(Refusal::Token),
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) if response.status() == 404 => Err(Refusal::Unreachable(
            "it answered 404: is that the board's address?".to_string(),
        )),
        Ok(response) => Err(Refusal::Unreachable(format!(
            "it answered {}",
            response.status()
        ))),
        Err(error) => Err(Refusal::Unreachable(error.to_string())),
    }
}

/// An HTTP client for the board. Status codes are answers, not errors. No proxy: the board is
/// on the room's network, where a proxy from the learner's environment (set for a company
/// network, say) could not reach it.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

/// The summary as one line of plain text: colour codes and the leading `✗` removed, control
/// characters made spaces, cut to [`MAX_SUMMARY_CHARS`].
fn one_line(text: &str) -> String {
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence, `ESC [ … letter`: skip it whole.
            if chars.peek() == Some(&'[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c.is_control() {
            plain.push(' ');
        } else {
            plain.push(c);
        }
    }
    // The check's `✗ ` prefix says "fail", which the board shows already.
    let plain = plain.trim().trim_start_matches('✗').trim_start();
    plain.chars().take(MAX_SUMMARY_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, BufReader, Read, Write},
        net::{TcpListener, TcpStream},
        sync::mpsc,
        thread,
    };

    use super::*;
    use crate::testing::TempDir;

    fn settings(url: &str) -> Settings {
        Settings {
            url: url.to_string(),
            token: "tok".to_string(),
            name: "Ada Lovelace".to_string(),
            jaeger_host: "192.168.1.20".to_string(),
        }
    }

    fn report(step: &str) -> Report {
        Report {
            name: "Ada Lovelace".to_string(),
            step: step.to_string(),
            result: "pass".to_string(),
            summary: "passes".to_string(),
        }
    }

    /// A board stand-in that answers every request with `status`, and hands each request's
    /// head and body to the test.
    fn board_answering(status: &'static str) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (requests, received) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let request = read_request(&stream);
                let _ = requests.send(request);
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                let _ = (&stream).write_all(answer.as_bytes());
            }
        });
        (url, received)
    }

    fn read_request(stream: &TcpStream) -> String {
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        head + &String::from_utf8_lossy(&body)
    }

    #[test]
    fn queued_reports_go_oldest_first_with_the_token() {
        let (url, received) = board_answering("204 No Content");
        let mut queue = vec![report("01"), report("02")];
        let sent = send_queue(&settings(&url), &mut queue, Instant::now() + REPORT_BUDGET);
        let expected = Sent {
            delivered: 2,
            stopped: None,
        };
        assert_eq!(sent, expected);
        assert!(queue.is_empty());
        let first = received.recv().unwrap();
        assert!(first.starts_with("POST /api/report "), "{first}");
        assert!(
            first.contains("authorization: Bearer tok")
                || first.contains("Authorization: Bearer tok"),
            "{first}"
        );
        assert!(first.contains(r#""step":"01""#), "{first}");
        assert!(received.recv().unwrap().contains(r#""step":"02""#));
    }

    #[test]
    fn a_refused_report_is_dropped_and_anything_else_keeps_the_queue() {
        let (url, _received) = board_answering("400 Bad Request");
        let mut queue = vec![report("01"), report("02")];
        let sent = send_queue(&settings(&url), &mut queue, Instant::now() + REPORT_BUDGET);
        assert_eq!(
            sent,
            Sent::default(),
            "a 400 will not get better by sending again"
        );
        assert!(queue.is_empty());

        for status in [
            "401 Unauthorized",
            "404 Not Found",
            "503 Service Unavailable",
        ] {
            let (url, _received) = board_answering(status);
            let mut queue = vec![report("01"), report("02")];
            let sent = send_queue(&settings(&url), &mut queue, Instant::now() + REPORT_BUDGET);
            assert!(sent.stopped.is_some(), "{status}: {sent:?}");
            assert_eq!(
                queue.len(),
                2,
                "{status}: the reports wait for the next check"
            );
        }
    }

    /// The worst case for a check: a board that takes the connection and never answers, as a
    /// laptop that went to sleep or a wifi that drops packets can look. The report waits in the
    /// queue, and the check is held up by at most the budget (printed, not asserted: the time
    /// depends on the machine).
    #[test]
    fn a_board_that_never_answers_costs_at_most_the_budget() {
        assert_eq!(REPORT_BUDGET, Duration::from_secs(1));
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let mut queue = vec![report("01"), report("02")];
        let started = Instant::now();
        let sent = send_queue(&settings(&url), &mut queue, started + REPORT_BUDGET);
        let took = started.elapsed();
        println!("a silent board held the report back for {took:?} (budget {REPORT_BUDGET:?})");
        assert!(sent.stopped.is_some(), "{sent:?}");
        assert_eq!(queue.len(), 2, "nothing is lost");
        // Far above the budget, to catch a timeout that is not applied at all, never a slow
        // machine.
        assert!(took < REPORT_BUDGET * 5, "took {took:?}");
        drop(silent);
    }

    #[test]
    fn joining_saves_the_settings_and_leaving_forgets_them() {
        let dir = TempDir::new();
        let (url, _received) = board_answering("200 OK");
        join(
            dir.path(),
            &format!("{url}/"),
            "tok",
            " Ada Lovelace ",
            None,
        )
        .unwrap();
        let saved = Settings::load(dir.path()).unwrap();
        assert_eq!(saved.url, url);
        assert_eq!(saved.name, "Ada Lovelace");
        assert_eq!(saved.jaeger_host, "127.0.0.1");

        report_to(dir.path(), "03");
        leave(dir.path()).unwrap();
        assert!(Settings::load(dir.path()).is_none());
        assert!(!queue_path(dir.path()).exists());
    }

    fn report_to(dir: &Path, step: &str) {
        report_from(dir, StepId::parse_arg(step).unwrap(), true, "passes");
    }

    #[test]
    fn the_settings_live_beside_the_step_record_in_target() {
        let root = Path::new("/repo");
        let status = status::status_path(root);
        assert_eq!(
            Settings::path(&state_dir(root)),
            status.with_file_name("class.json")
        );
    }

    #[test]
    fn a_wrong_token_is_caught_when_joining() {
        let dir = TempDir::new();
        let (url, _received) = board_answering("401 Unauthorized");
        assert!(join(dir.path(), &url, "nope", "Ada", None).is_err());
        assert!(Settings::load(dir.path()).is_none());
    }

    #[test]
    fn an_unreachable_board_queues_the_reports_for_the_next_check() {
        let dir = TempDir::new();
        // A port that was free a moment ago: connections are refused.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        join(dir.path(), &url, "tok", "Ada", None).unwrap();
        report_to(dir.path(), "02");
        report_to(dir.path(), "03");
        let waiting: Vec<String> = load_queue(dir.path()).into_iter().map(|r| r.step).collect();
        assert_eq!(waiting, ["02", "03"]);
    }

    #[test]
    fn the_exports_name_the_shared_jaeger_and_the_namespace() {
        let text = exports(&settings("http://192.168.1.20:7878"));
        assert_eq!(
            text,
            "export OTEL_EXPORTER_OTLP_ENDPOINT=http://192.168.1.20:4317\n\
             export OTEL_RESOURCE_ATTRIBUTES=service.namespace=Ada-Lovelace\n\
             export JAEGER_UI_URL=http://192.168.1.20:16686\n"
        );
    }

    #[test]
    fn board_addresses_are_plain_http() {
        assert_eq!(host_of("http://192.168.1.20:7878"), Some("192.168.1.20"));
        assert_eq!(host_of("http://board.local"), Some("board.local"));
        assert_eq!(host_of("http://[::1]:7878"), Some("[::1]"));
        assert_eq!(host_of("https://board:7878"), None);
        assert_eq!(host_of("board:7878"), None);
    }

    /// The same examples as the board's copy in crates/class-board/src/report.rs.
    #[test]
    fn namespaces_are_safe_in_otel_resource_attributes() {
        for (name, expected) in [
            ("Ada Lovelace", "Ada-Lovelace"),
            ("ada", "ada"),
            ("  Zoë  ", "Zoë"),
            ("a,b=c", "a-b-c"),
            ("<b>x</b>", "b-x-b"),
            ("j.doe_2", "j.doe_2"),
            ("!!!", "learner"),
        ] {
            assert_eq!(namespace(name), expected, "{name:?}");
        }
    }

    #[test]
    fn summaries_are_one_plain_line() {
        assert_eq!(
            one_line("\u{1b}[31m✗ no span\u{1b}[0m\nnamed x"),
            "no span named x"
        );
        assert_eq!(
            one_line(&"y".repeat(500)).chars().count(),
            MAX_SUMMARY_CHARS
        );
    }
}
