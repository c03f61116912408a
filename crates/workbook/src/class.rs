//! `cargo workbook class`: class mode, for a workshop whose instructor runs a class board.
//!
//! - `class serve` (the instructor) starts the board, the `class-board` crate of the main
//!   workspace, with `cargo run -p class-board`. The board needs axum and tokio, which the app
//!   has already built there; built here they would be a second copy in `target/runner`, and
//!   the runner would no longer build in seconds on a fresh clone.
//! - `class join URL --token T --name NAME` (a learner) asks the board and claims the name,
//!   which gives this laptop a key of its own (nobody else can report under the name), then
//!   saves where the board is and prints the `OTEL_*` exports for the room's shared Jaeger. From then on, every `check`
//!   reports its result to the board ([`report`]): what kind of failure, where, when the check
//!   ran and how long it took ([`ClassReport`]).
//! - `class env` prints those exports again, for a new terminal.
//! - `class leave` stops the reports.
//!
//! Reporting must never get in the learner's way: it cannot fail a check, it gives up after
//! [`REPORT_BUDGET`] when the board cannot be reached (bad wifi), and what it could not send
//! waits in a queue and goes with the next check. The settings and the queue live in
//! `target/workbook/`, beside the step record: never committed, and forgotten with `target/`.

use std::{
    fs,
    hash::{BuildHasher, Hasher},
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use class_protocol::{Kind, MAX_NAME_CHARS, MAX_SUMMARY_CHARS, Outcome, Report};
use serde::{Deserialize, Serialize};

use crate::{cargo, status, steps::StepId, steps::Workbook, ui};

/// The longest a check waits for its report to reach the board. When the wifi is down a
/// connection attempt can hang for a long time; the learner's check must not.
pub const REPORT_BUDGET: Duration = Duration::from_secs(1);

/// The most reports kept waiting for the board. The board shows only the last report of each
/// step, so when the wifi stays down all day the oldest can go.
const MAX_QUEUED: usize = 50;

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
        /// Mark a learner "stuck" after this many minutes failing on the same step. [default: 10]
        #[arg(long)]
        stuck_minutes: Option<u64>,
        /// Mark a learner "silent" after this many minutes without a check. [default: 15]
        #[arg(long)]
        silent_minutes: Option<u64>,
    },
    /// (learner) Report every check to the class board, and print the exports for the room's
    /// shared Jaeger.
    Join {
        /// The board's address, as the instructor gives it: http://HOST:7878 (a pasted link to
        /// the board's page, with its #token=…, works too).
        url: String,
        /// The board's token, as the instructor gives it (not needed when the address carries
        /// #token=…).
        #[arg(long)]
        token: Option<String>,
        /// Your name on the board (1 to 40 characters).
        #[arg(long)]
        name: String,
        /// Where the shared Jaeger runs, if not on the board's machine.
        #[arg(long)]
        jaeger_host: Option<String>,
        /// Save the settings even though the board does not answer now (it is not started
        /// yet, say): checks report once it does.
        #[arg(long)]
        offline: bool,
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
            stuck_minutes,
            silent_minutes,
        } => {
            let mut extra = Vec::new();
            if let Some(minutes) = stuck_minutes {
                extra.push(format!("--stuck-minutes={minutes}"));
            }
            if let Some(minutes) = silent_minutes {
                extra.push(format!("--silent-minutes={minutes}"));
            }
            serve(workbook, addr, token, data, jaeger_ui_url, &extra)
        }
        Command::Join {
            url,
            token,
            name,
            jaeger_host,
            offline,
        } => join(
            dir,
            &Joining {
                url,
                token,
                name,
                jaeger_host,
                offline,
            },
        ),
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
    extra: &[String],
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
    command.args(extra);
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
    /// A random id made at the first join in this clone, sent with every report: the board
    /// tells two laptops that picked the same name apart by it.
    #[serde(default)]
    laptop: String,
    /// The key the board gave this laptop when it joined: reports go with it, and the board
    /// files them under this learner's name only. Empty until the board has answered a join.
    #[serde(default)]
    key: String,
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

/// What `class join` was given.
#[derive(Debug, Clone, Default)]
struct Joining {
    url: String,
    token: Option<String>,
    name: String,
    jaeger_host: Option<String>,
    offline: bool,
}

/// A board address as a learner may paste it: `http://HOST:PORT`, with or without a trailing
/// `/`, a bare `HOST:PORT`, or the board page's own link, `http://HOST:PORT/#token=T`. Gives
/// the address (`http://HOST:PORT`) and the token the link carried.
fn parse_board_url(input: &str) -> Result<(String, Option<String>)> {
    let input = input.trim();
    let (address, fragment) = match input.split_once('#') {
        Some((address, fragment)) => (address, Some(fragment)),
        None => (input, None),
    };
    let token = fragment.and_then(|fragment| {
        fragment
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_string)
            .filter(|token| !token.is_empty())
    });
    let url = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    let url = match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.trim_end_matches('/')),
        None => url,
    };
    if host_of(&url).is_none() || url[7..].contains('/') {
        bail!(
            "{input} is not a board address: the instructor's looks like http://192.168.1.20:7878 \
             (plain http; the board does not speak https)"
        );
    }
    Ok((url, token))
}

/// `class join`: asks the board, then saves the settings and prints the exports.
fn join(dir: &Path, joining: &Joining) -> Result<ExitCode> {
    let (url, linked_token) = parse_board_url(&joining.url)?;
    let token = match (&joining.token, linked_token) {
        (Some(given), Some(linked)) if given.trim() != linked => bail!(
            "the address carries the token {linked:?} and --token says {given:?}: give one of them"
        ),
        (Some(given), _) => given.trim().to_string(),
        (None, Some(linked)) => linked,
        (None, None) => bail!(
            "the board's token is missing: add --token T as the instructor gives it (or paste \
             the board's link, which ends in #token=T)"
        ),
    };
    let host = host_of(&url).unwrap_or_default().to_string();
    let name = joining.name.trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        bail!("--name must be 1 to {MAX_NAME_CHARS} characters (letters, digits, spaces, …)");
    }
    let earlier = Settings::load(dir);
    let mut settings = Settings {
        jaeger_host: joining.jaeger_host.clone().unwrap_or(host),
        url,
        token,
        name,
        // The same laptop keeps its id when it joins again.
        laptop: earlier
            .as_ref()
            .map(|settings| settings.laptop.clone())
            .filter(|laptop| !laptop.is_empty())
            .unwrap_or_else(new_laptop_id),
        key: String::new(),
    };

    // Ask the board now, so that a wrong address or token shows up here rather than as
    // reports that never arrive; then claim the name, which gives the key to report with.
    let reachable = match ask_board(&settings) {
        Ok(_) => true,
        Err(Refusal::Token) => bail!(
            "the board at {} refused the token {:?}: check it with your instructor",
            settings.url,
            settings.token
        ),
        Err(Refusal::Unreachable(error)) if !joining.offline => bail!(
            "the board at {} does not answer ({error}). Check the address with your instructor: \
             open {}/ in a browser on this laptop; if it does not load either, see \
             Troubleshooting, \"Class mode\" (book/src/reference/troubleshooting.md). To save \
             the settings anyway and report once the board answers, add --offline.",
            settings.url,
            settings.url
        ),
        Err(Refusal::Unreachable(error)) => {
            anstream::println!(
                "{} the board at {} does not answer ({error}); with --offline the settings are \
                 saved anyway, and checks join and report once it answers.",
                ui::paint(ui::FAIL, "note:"),
                settings.url
            );
            false
        }
    };
    if reachable {
        settings.key = match claim_name(&settings, REPORT_BUDGET * 3) {
            Ok(key) => key,
            Err(Refusal::Token) => bail!(
                "another laptop has joined the board as {:?}: pick another --name (if it is \
                 you, on another clone, ask your instructor to remove the old row)",
                settings.name
            ),
            Err(Refusal::Unreachable(error)) => bail!("the board did not take the join: {error}"),
        };
    }
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

/// A random id for this clone: 16 hex digits from the standard library's randomly seeded
/// hasher (each `RandomState` gets fresh keys), mixed with the time and the process.
fn new_laptop_id() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// The host of an `http://HOST:PORT` address (`[::1]` keeps its brackets), or `None` when
/// the address is not plain http.
fn host_of(url: &str) -> Option<&str> {
    let uri: http::Uri = url.parse().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    // The host as written in `url` (`Uri::host` would give it without an IPv6 address's
    // brackets, which the exports need back).
    let host = uri.host()?;
    let start = url.find(host)?;
    let end = start + host.len();
    let bracketed = url[..start].ends_with('[') && url[end..].starts_with(']');
    Some(if bracketed {
        &url[start - 1..end + 1]
    } else {
        &url[start..end]
    })
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

/// The learner's `service.namespace`: the board links each name to a search for the same
/// value (`class_protocol::namespace` says how it is made).
fn namespace(name: &str) -> String {
    class_protocol::namespace(name)
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

/// What a check found, as the class board shows it: the kind of failure and where, when the
/// check ran and how long it took. `check::run` fills it in; [`ClassReport::from_summary`]
/// makes one from what a check has always had (its outcome and its first finding's line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassReport {
    pub step: StepId,
    pub passed: bool,
    pub kind: Kind,
    /// `file:line` of a compile error (see [`ErrorPlace`]), a `todo!()` or a panic.
    pub place: Option<String>,
    /// The step's concept that a failed expectation is about.
    pub concept: Option<String>,
    /// The first finding, as printed (colour and the leading `✗` are taken off here).
    pub summary: String,
    /// When the check ran: seconds since the Unix epoch, by this laptop's clock. A report
    /// that waits in the queue keeps it, and is sent with its age.
    pub checked_at: u64,
    pub duration_ms: Option<u64>,
    /// How many of the step's hints the learner has opened (issue 18; 0 until it is counted).
    pub hints_used: u8,
}

impl ClassReport {
    /// A report from a check's outcome and its first finding's line, as `check::run` prints
    /// them, checked now. The kind and the place come from the line:
    /// - `✗ the app reached a todo!() at FILE:LINE:COL: …` is a `todo!()` at `FILE:LINE`;
    /// - `✗ the step's code panicked at FILE:LINE:COL: …` (or the check's, or a library's) is a
    ///   panic there;
    /// - any other `✗` line is a failed expectation.
    ///
    /// A compile error's place is not in the summary: pass the build's output through
    /// [`ErrorPlace`] and set `place` from it.
    pub fn from_summary(step: StepId, passed: bool, compiled: bool, summary: &str) -> ClassReport {
        let summary = one_line(summary);
        let (kind, place) = if passed {
            (Kind::Passed, None)
        } else if !compiled {
            (Kind::CompileError, None)
        } else if let Some(rest) = summary.strip_prefix("the app reached a todo!() at ") {
            (Kind::Todo, place_before_colon(rest))
        } else if let Some((_, rest)) = summary.split_once(" panicked at ") {
            (Kind::Panic, place_before_colon(rest))
        } else {
            (Kind::Expectation, None)
        };
        // With the kind and the place beside it, the board needs only the message after them.
        let summary = match (&place, kind) {
            (Some(_), Kind::Todo | Kind::Panic) => message_after_place(&summary),
            _ => summary,
        };
        ClassReport {
            step,
            passed,
            kind,
            place,
            concept: None,
            summary,
            checked_at: status::seconds_since_epoch(SystemTime::now()),
            duration_ms: None,
            hints_used: 0,
        }
    }

    /// The report as the board takes it, from `settings`' learner.
    fn to_wire(&self, settings: &Settings) -> Report {
        let mut report = Report::new(
            &settings.name,
            &self.step.to_string(),
            if self.passed {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
            &self.summary,
        );
        report.kind = Some(self.kind);
        report.place.clone_from(&self.place);
        report.concept.clone_from(&self.concept);
        report.checked_at = Some(self.checked_at);
        report.duration_ms = self.duration_ms;
        report.hints_used = self.hints_used;
        report.laptop = Some(settings.laptop.clone()).filter(|laptop| !laptop.is_empty());
        report
    }
}

/// `… at src/x.rs:12:5: the message` gives `the message` (or the whole text when there is none).
fn message_after_place(text: &str) -> String {
    let Some((_, rest)) = text.split_once(" at ") else {
        return text.to_string();
    };
    let message = rest
        .splitn(4, ':')
        .nth(3)
        .map(str::trim)
        .unwrap_or_default();
    if message.is_empty() {
        text.to_string()
    } else {
        message.to_string()
    }
}

/// `src/x.rs:12:5: message` gives `src/x.rs:12`: the file and the line, which is what a
/// person looks for; the column is noise on a board.
fn place_before_colon(text: &str) -> Option<String> {
    let mut parts = text.splitn(4, ':');
    let file = parts.next()?.trim();
    let line = parts.next()?.trim();
    (!file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{file}:{line}"))
}

/// The first compile error's place, from the compiler's output fed line by line: rendered text
/// (`error[E0425]: …` then `  --> src/x.rs:12:5`) or `--message-format=json` lines. Warnings'
/// places are skipped. For `check::run`, which can feed the `--no-run` build's lines to it
/// (through `cargo::run_teed`, say) and set [`ClassReport::place`] from [`ErrorPlace::place`].
#[derive(Debug, Default)]
pub struct ErrorPlace {
    /// Inside an error's rendered text, whose `-->` line gives the place.
    in_error: bool,
    found: Option<String>,
}

impl ErrorPlace {
    pub fn line(&mut self, line: &str) {
        if self.found.is_some() {
            return;
        }
        let line = anstream::adapter::strip_str(line).to_string();
        let trimmed = line.trim();
        if trimmed.starts_with('{') {
            self.found = json_error_place(trimmed);
        } else if trimmed.starts_with("error") {
            // `error: could not compile …` closes the build and has no place; `error[E…]:` and
            // `error: …` open a diagnostic.
            self.in_error = !trimmed.starts_with("error: could not compile");
        } else if trimmed.starts_with("warning") {
            self.in_error = false;
        } else if let Some(place) = trimmed.strip_prefix("--> ")
            && self.in_error
        {
            self.found = place_before_colon(place);
        }
    }

    /// `file:line` of the first error, if one was seen.
    pub fn place(&self) -> Option<&str> {
        self.found.as_deref()
    }
}

/// The primary place of a `compiler-message` whose level is `error`.
fn json_error_place(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = value.get("message")?;
    if message.get("level")?.as_str()? != "error" {
        return None;
    }
    let spans = message.get("spans")?.as_array()?;
    let span = spans
        .iter()
        .find(|span| span["is_primary"].as_bool() == Some(true))
        .or(spans.first())?;
    Some(format!(
        "{}:{}",
        span["file_name"].as_str()?,
        span["line_start"].as_u64()?
    ))
}

/// After a check (from `check::run`): in class mode, sends this result to the board, with any
/// that earlier checks could not send, within [`REPORT_BUDGET`]. Outside class mode it does
/// nothing. It never fails: whatever goes wrong is one line of output.
pub fn report(root: &Path, report: &ClassReport) {
    report_from(&state_dir(root), report);
}

fn report_from(dir: &Path, report: &ClassReport) {
    let Some(mut settings) = Settings::load(dir) else {
        return;
    };
    let mut queue = load_queue(dir);
    queue.push(report.to_wire(&settings));
    if queue.len() > MAX_QUEUED {
        queue.drain(..queue.len() - MAX_QUEUED);
    }
    let deadline = Instant::now() + REPORT_BUDGET;
    let sent = match ensure_key(dir, &mut settings, deadline) {
        Ok(()) => send_queue(&settings, &mut queue, deadline),
        Err(reason) => Sent {
            delivered: 0,
            stopped: Some(reason),
        },
    };
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

/// A laptop that joined with `--offline` has no key yet: it joins now, before its first report
/// can go, and keeps the key. `Err` says why the reports must wait.
fn ensure_key(dir: &Path, settings: &mut Settings, deadline: Instant) -> Result<(), String> {
    if !settings.key.is_empty() {
        return Ok(());
    }
    let left = deadline.saturating_duration_since(Instant::now());
    match claim_name(settings, left) {
        Ok(key) => {
            settings.key = key;
            if let Err(error) = settings.save(dir) {
                eprintln!("note: could not keep the class board's key: {error}");
            }
            Ok(())
        }
        Err(Refusal::Token) => Err(format!(
            "another laptop has joined it as {:?}: cargo workbook class join again with another \
             --name",
            settings.name
        )),
        Err(Refusal::Unreachable(error)) => Err(error),
    }
}

/// `POST /api/join` with the room's token: the key for this laptop and name. A name that
/// another laptop has is [`Refusal::Token`]: the board refuses it as it refuses a wrong token.
fn claim_name(settings: &Settings, budget: Duration) -> Result<String, Refusal> {
    #[derive(Deserialize)]
    struct Joined {
        key: String,
    }
    let body = serde_json::json!({ "name": settings.name, "laptop": settings.laptop });
    let answer = agent()
        .post(format!("{}/api/join", settings.url))
        .header("Authorization", format!("Bearer {}", settings.token))
        .header("Content-Type", "application/json")
        .config()
        .timeout_global(Some(budget))
        .build()
        .send(body.to_string());
    match answer {
        Ok(response) if response.status() == 409 => Err(Refusal::Token),
        Ok(response) if response.status() == 401 => Err(Refusal::Unreachable(
            "it refused the token: cargo workbook class join again with the right one".to_string(),
        )),
        Ok(mut response) if response.status().is_success() => {
            let text = response.body_mut().read_to_string().unwrap_or_default();
            serde_json::from_str::<Joined>(&text)
                .map(|joined| joined.key)
                .map_err(|_| Refusal::Unreachable("its answer to the join has no key".into()))
        }
        Ok(response) => Err(Refusal::Unreachable(format!(
            "it answered the join with {}",
            response.status()
        ))),
        Err(ureq::Error::Timeout(_)) => Err(Refusal::Unreachable(format!(
            "no answer within {}s",
            budget.as_secs_f32()
        ))),
        Err(error) => Err(Refusal::Unreachable(format!("cannot reach it: {error}"))),
    }
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
        // Its age now, by this laptop's clock: the board dates the check from its own clock
        // minus the age, so a clock that is off does not matter.
        let mut report = report.clone();
        report.age_ms = report
            .checked_at
            .map(|at| now_ms().saturating_sub(at * 1000));
        // serde_json rather than ureq's `json` feature: the runner already has it.
        let body = serde_json::to_string(&report).expect("a report is plain data");
        let answer = agent
            .post(format!("{}/api/report", settings.url))
            .header("Authorization", format!("Bearer {}", settings.key))
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
                    queue[0].step,
                    response.status()
                );
                queue.remove(0);
                continue;
            }
            Ok(response) if response.status() == 401 => {
                "it does not know this laptop's key (its reports were reset?): cargo workbook \
                 class join again"
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
        .timeout_global(Some(REPORT_BUDGET * 3))
        .build()
        .call();
    match answer {
        Ok(response) if response.status() == 401 => Err(Refusal::Token),
        Ok(mut response) if response.status().is_success() => {
            // Something that answers 200 with anything else is not the board.
            let text = response.body_mut().read_to_string().unwrap_or_default();
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .filter(|value| value.get("learners").is_some())
                .map(|_| ())
                .ok_or_else(|| {
                    Refusal::Unreachable("it answers, but it is not a class board".to_string())
                })
        }
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

/// Milliseconds since the Unix epoch, by this laptop's clock.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
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
    let plain = anstream::adapter::strip_str(text).to_string();
    let plain: String = plain
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
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
            laptop: "0123456789abcdef".to_string(),
            key: "tok-key".to_string(),
        }
    }

    fn report(step: &str) -> Report {
        Report::new("Ada Lovelace", step, Outcome::Pass, "passes")
    }

    /// A board stand-in that answers every request with `status`, and hands each request's
    /// head and body to the test.
    fn board_answering(status: &'static str) -> (String, mpsc::Receiver<String>) {
        board_answering_with(status, "")
    }

    fn board_answering_with(
        status: &'static str,
        body: &'static str,
    ) -> (String, mpsc::Receiver<String>) {
        stand_in(move |_| (status, body.to_string()))
    }

    /// A board that answers as the real one: its state, a join (`409` for a name in `taken`,
    /// else the key `key-1`), and reports.
    fn fake_board(taken: &'static [&'static str]) -> (String, mpsc::Receiver<String>) {
        stand_in(move |request| {
            if request.starts_with("GET /api/reports") {
                ("200 OK", r#"{"learners":[]}"#.to_string())
            } else if request.starts_with("POST /api/join") {
                let body = request.to_lowercase();
                if taken
                    .iter()
                    .any(|name| body.contains(&format!(r#""name":"{name}""#)))
                {
                    ("409 Conflict", r#"{"error":"taken"}"#.to_string())
                } else {
                    ("200 OK", r#"{"name":"x","key":"key-1"}"#.to_string())
                }
            } else {
                ("204 No Content", String::new())
            }
        })
    }

    /// A board stand-in that answers each request with what `answer` gives for it, and hands
    /// each request's head and body to the test.
    fn stand_in(
        answer: impl Fn(&str) -> (&'static str, String) + Send + 'static,
    ) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (requests, received) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let request = read_request(&stream);
                let (status, body) = answer(&request);
                let _ = requests.send(request);
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
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
            first
                .to_lowercase()
                .contains("authorization: bearer tok-key"),
            "reports go with the learner's key: {first}"
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
        let (url, _received) = fake_board(&[]);
        join(dir.path(), &joining(&format!("{url}/"), " Ada Lovelace ")).unwrap();
        let saved = Settings::load(dir.path()).unwrap();
        assert_eq!(saved.url, url);
        assert_eq!(saved.name, "Ada Lovelace");
        assert_eq!(saved.jaeger_host, "127.0.0.1");
        assert_eq!(saved.laptop.len(), 16);
        assert_eq!(saved.key, "key-1");

        // Joining again from the same clone keeps the laptop's id.
        let (url, _received) = fake_board(&[]);
        join(dir.path(), &joining(&url, "Ada Lovelace")).unwrap();
        assert_eq!(Settings::load(dir.path()).unwrap().laptop, saved.laptop);

        // A name that another laptop has is refused, and the settings stay as they were.
        let (other, _received) = fake_board(&["grace"]);
        let error = join(dir.path(), &joining(&other, "Grace")).unwrap_err();
        assert!(error.to_string().contains("pick another --name"), "{error}");
        assert_eq!(Settings::load(dir.path()).unwrap().url, url);

        report_to(dir.path(), "03");
        leave(dir.path()).unwrap();
        assert!(Settings::load(dir.path()).is_none());
        assert!(!queue_path(dir.path()).exists());
    }

    fn report_to(dir: &Path, step: &str) {
        let step = StepId::parse_arg(step).unwrap();
        report_from(dir, &ClassReport::from_summary(step, true, true, "passes"));
    }

    fn joining(url: &str, name: &str) -> Joining {
        Joining {
            url: url.to_string(),
            token: Some("tok".to_string()),
            name: name.to_string(),
            ..Joining::default()
        }
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
        assert!(join(dir.path(), &joining(&url, "Ada")).is_err());
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
        let error = join(dir.path(), &joining(&url, "Ada")).unwrap_err();
        assert!(error.to_string().contains("--offline"), "{error}");
        assert!(
            Settings::load(dir.path()).is_none(),
            "a wrong address is not saved"
        );

        let offline = Joining {
            offline: true,
            ..joining(&url, "Ada")
        };
        join(dir.path(), &offline).unwrap();
        report_to(dir.path(), "02");
        report_to(dir.path(), "03");
        let waiting = load_queue(dir.path());
        let steps: Vec<&str> = waiting.iter().map(|r| r.step.as_str()).collect();
        assert_eq!(steps, ["02", "03"]);
        // Each keeps the time of its own check, to be sent with its age.
        assert!(waiting.iter().all(|r| r.checked_at.is_some()));
        assert_eq!(Settings::load(dir.path()).unwrap().key, "", "no key yet");

        // Once the board answers, the next check joins first, then sends them all with the key.
        let (url, received) = fake_board(&[]);
        let mut settings = Settings::load(dir.path()).unwrap();
        settings.url = url;
        settings.save(dir.path()).unwrap();
        report_to(dir.path(), "04");
        assert!(load_queue(dir.path()).is_empty());
        assert_eq!(Settings::load(dir.path()).unwrap().key, "key-1");
        assert!(received.recv().unwrap().starts_with("POST /api/join "));
        let report = received.recv().unwrap();
        assert!(report.starts_with("POST /api/report "), "{report}");
        assert!(report.to_lowercase().contains("bearer key-1"), "{report}");
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
    #[test]
    fn something_that_is_not_the_board_is_refused() {
        let dir = TempDir::new();
        let (url, _received) = board_answering_with("200 OK", "<html>router login</html>");
        let error = join(dir.path(), &joining(&url, "Ada")).unwrap_err();
        assert!(error.to_string().contains("not a class board"), "{error}");
    }

    #[test]
    fn a_pasted_board_link_is_understood() {
        let parse = |text: &str| parse_board_url(text).unwrap();
        let plain = ("http://192.168.1.20:7878".to_string(), None);
        assert_eq!(parse("http://192.168.1.20:7878"), plain);
        assert_eq!(parse(" http://192.168.1.20:7878/ "), plain);
        assert_eq!(parse("192.168.1.20:7878"), plain);
        let linked = (
            "http://192.168.1.20:7878".to_string(),
            Some("k7m2p9".to_string()),
        );
        assert_eq!(parse("http://192.168.1.20:7878/#token=k7m2p9"), linked);
        assert_eq!(
            parse("http://192.168.1.20:7878/#token=k7m2p9&instructor=x"),
            linked
        );
        for bad in ["https://board:7878", "http://", "http://h:7878/api/reports"] {
            assert!(parse_board_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_token_comes_from_the_link_or_the_flag_and_they_must_agree() {
        let dir = TempDir::new();
        let (url, _received) = fake_board(&[]);
        let from_link = Joining {
            token: None,
            ..joining(&format!("{url}/#token=tok"), "Ada")
        };
        join(dir.path(), &from_link).unwrap();
        assert_eq!(Settings::load(dir.path()).unwrap().token, "tok");
        // The saved address has no fragment: reports go to /api/report, not /#token=…/….
        assert_eq!(Settings::load(dir.path()).unwrap().url, url);

        let disagree = Joining {
            token: Some("other".to_string()),
            ..from_link.clone()
        };
        assert!(join(dir.path(), &disagree).is_err());
        let none = Joining {
            token: None,
            ..joining(&url, "Ada")
        };
        assert!(join(dir.path(), &none).is_err());
    }

    #[test]
    fn reports_say_what_kind_of_failure_and_where() {
        let step = StepId::parse_arg("04").unwrap();
        let todo = ClassReport::from_summary(
            step,
            false,
            true,
            "\u{1b}[31m✗ the app reached a todo!() at exercises/exercise-04/src/chat_api.rs:88:9: \
             propagate the context\u{1b}[0m",
        );
        assert_eq!(todo.kind, Kind::Todo);
        assert_eq!(
            todo.place.as_deref(),
            Some("exercises/exercise-04/src/chat_api.rs:88")
        );
        assert_eq!(
            todo.summary, "propagate the context",
            "the place is beside it"
        );

        let panic = ClassReport::from_summary(
            step,
            false,
            true,
            "✗ the step's code panicked at exercises/exercise-04/src/kafka.rs:12:30: called \
             `Option::unwrap()` on a `None` value",
        );
        assert_eq!(panic.kind, Kind::Panic);
        assert_eq!(
            panic.place.as_deref(),
            Some("exercises/exercise-04/src/kafka.rs:12")
        );
        assert_eq!(panic.summary, "called `Option::unwrap()` on a `None` value");

        let expectation =
            ClassReport::from_summary(step, false, true, "✗ no span named \"POST /message\"");
        assert_eq!(
            (expectation.kind, expectation.place),
            (Kind::Expectation, None)
        );
        let build = ClassReport::from_summary(step, false, false, "does not compile");
        assert_eq!(build.kind, Kind::CompileError);
        let passed = ClassReport::from_summary(step, true, true, "passes");
        assert_eq!(passed.kind, Kind::Passed);
        assert!(passed.checked_at > 1_700_000_000, "seconds since the epoch");
    }

    #[test]
    fn the_first_compile_error_gives_the_place_and_warnings_do_not() {
        let mut place = ErrorPlace::default();
        for line in [
            "   Compiling exercise-03 v0.1.0 (/w/exercises/exercise-03)",
            "warning: unused variable: `x`",
            "  --> exercises/exercise-03/src/lib.rs:3:9",
            "\u{1b}[1m\u{1b}[31merror[E0425]\u{1b}[0m: cannot find value `span` in this scope",
            "   \u{1b}[1m\u{1b}[94m--> \u{1b}[0mexercises/exercise-03/src/chat_api.rs:42:17",
            "error[E0308]: mismatched types",
            "  --> exercises/exercise-03/src/other.rs:1:1",
            "error: could not compile `exercise-03` (lib) due to 2 previous errors",
        ] {
            place.line(line);
        }
        assert_eq!(
            place.place(),
            Some("exercises/exercise-03/src/chat_api.rs:42")
        );

        let mut json = ErrorPlace::default();
        json.line(r#"{"reason":"compiler-message","message":{"level":"warning","spans":[{"file_name":"a.rs","line_start":1,"is_primary":true}]}}"#);
        json.line(r#"{"reason":"compiler-message","message":{"level":"error","spans":[{"file_name":"src/b.rs","line_start":7,"is_primary":true}]}}"#);
        assert_eq!(json.place(), Some("src/b.rs:7"));
        assert_eq!(ErrorPlace::default().place(), None);
    }

    #[test]
    fn a_queued_report_is_sent_with_its_age() {
        let (url, received) = board_answering("204 No Content");
        let mut old = report("02");
        old.checked_at = Some(now_ms() / 1000 - 600);
        let mut queue = vec![old];
        send_queue(&settings(&url), &mut queue, Instant::now() + REPORT_BUDGET);
        let request = received.recv().unwrap();
        let body = &request[request.find('{').unwrap()..];
        let sent: Report = serde_json::from_str(body).unwrap();
        let age = sent.age_ms.unwrap();
        assert!((600_000..605_000).contains(&age), "{age}");
    }
}
