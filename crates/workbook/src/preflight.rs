//! `cargo workbook preflight`: proves, offline, that a laptop is ready for the workshop, and
//! prints one line for the learner to paste into their reply to the preflight e-mail.
//!
//! A step list looks the same whether or not the builds finished, so the instructor could not
//! tell a ready laptop from one that will spend the first hour compiling. Preflight does what
//! the day needs, each part with cargo's `--offline`, so a crate that was never downloaded
//! fails here rather than on the room's wifi:
//!
//! - the toolchain is new enough (the workspace's `rust-version`);
//! - the workspace builds, tests included (`cargo test --workspace --no-run`); the runner is
//!   built already, since it is what runs this;
//! - a check really runs: step 01's, `cargo test -p exercise-01`, which starts the embedded
//!   Kafka;
//! - there is disk to spare;
//! - with `--docker`, Docker Compose is there and the stack's images are pulled;
//! - with `--board URL`, the room's class board answers (on the day, in the room).
//!
//! Every part runs even when one before it failed, so one reply tells everything.

use std::{
    fmt::Write as _,
    path::Path,
    process::{Command, ExitCode},
    time::Duration,
};

use anyhow::Result;

use crate::{cargo, class::ErrorPlace, steps::Workbook, ui};

/// The oldest Rust the workspace builds with (`rust-version` in the root Cargo.toml).
const MINIMUM_RUST: (u32, u32) = (1, 88);

/// The disk a day of workshop needs on top of a built clone: each step's edits rebuild a few
/// crates, and `cargo workbook verify` or a `cargo clean` can need much more. A built clone's
/// `target/` is about 8 GB (measured after everything CI builds), which is already spent.
const DISK_TO_SPARE_GB: f64 = 2.0;

/// The longest the workspace's build may take here: an old laptop's first build with nothing
/// built yet. A built clone takes seconds.
const BUILD_LIMIT: Duration = Duration::from_secs(60 * 60);

/// The longest step 01's check may take: it answers in seconds once built.
const CHECK_LIMIT: Duration = Duration::from_secs(10 * 60);

/// What `preflight` was asked to look at besides the parts that always run.
#[derive(Debug, Default)]
pub struct Options {
    pub docker: bool,
    pub board: Option<String>,
}

/// One part's result: a short word for the line, and what to do when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    ok: bool,
    /// `rustc 1.95.0`, `check 01 passed in 3.4 s`: what goes in the line.
    summary: String,
    /// What to do about a failure, printed above the line.
    advice: Option<String>,
}

impl Part {
    fn ok(summary: impl Into<String>) -> Part {
        Part {
            ok: true,
            summary: summary.into(),
            advice: None,
        }
    }

    fn failed(summary: impl Into<String>, advice: impl Into<String>) -> Part {
        Part {
            ok: false,
            summary: summary.into(),
            advice: Some(advice.into()),
        }
    }
}

pub fn run(workbook: &Workbook, options: &Options) -> Result<ExitCode> {
    let root = &workbook.root;
    anstream::println!(
        "{}",
        ui::paint(
            ui::NOTE,
            "Preflight: the toolchain, the builds (offline), step 01's check, the disk. \
             A built clone takes seconds; whatever is not built yet is built first, which \
             takes minutes."
        )
    );
    let mut parts = Vec::new();
    let mut step = |name: &str, part: Part| {
        let mark = if part.ok {
            ui::paint(ui::PASS, "✓")
        } else {
            ui::paint(ui::FAIL, "✗")
        };
        anstream::println!("{mark} {name}: {}", part.summary);
        if let Some(advice) = &part.advice {
            println!("  {advice}");
        }
        parts.push(part);
    };
    step("toolchain", toolchain(root));
    step("workspace and runner, offline", workspace(root));
    step("a check, offline", first_check(root));
    step("disk", disk(root));
    if options.docker {
        step("docker", docker(root));
    }
    if let Some(url) = &options.board {
        step("class board", board(url));
    }

    let ok = parts.iter().all(|part| part.ok);
    let line = one_line(ok, &parts, &context(root));
    println!();
    if ok {
        anstream::println!(
            "{}",
            ui::paint(
                ui::PASS,
                "Ready for the workshop. Paste this line into your reply:"
            )
        );
    } else {
        anstream::println!(
            "{}",
            ui::paint(
                ui::FAIL,
                "Not ready yet: fix what is marked ✗ above, or paste this line into your reply \
                 and your instructor will help:"
            )
        );
    }
    println!("{line}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The line to paste: `preflight ok · rustc 1.95.0 · … · linux x86_64 · c5f1afb`.
fn one_line(ok: bool, parts: &[Part], context: &str) -> String {
    let mut line = String::from(if ok {
        "preflight ok"
    } else {
        "preflight FAILED"
    });
    for part in parts {
        let mark = if part.ok { "" } else { "✗ " };
        let _ = write!(line, " · {mark}{}", part.summary);
    }
    let _ = write!(line, " · {context}");
    line
}

/// The operating system, and the commit the clone is at: the instructor sees who has an old
/// clone, and who is on WSL.
fn context(root: &Path) -> String {
    let wsl = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .is_ok_and(|release| release.to_lowercase().contains("microsoft"));
    let os = format!(
        "{}{} {}",
        std::env::consts::OS,
        if wsl { " (WSL)" } else { "" },
        std::env::consts::ARCH
    );
    let commit = output(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(root),
    )
    .map(|text| text.trim().to_string())
    .unwrap_or_else(|| "no git".to_string());
    format!("{os} · {commit}")
}

/// A command's stdout, when it ran and succeeded.
fn output(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn toolchain(root: &Path) -> Part {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Some(version) = output(Command::new(rustc).arg("--version").current_dir(root)) else {
        return Part::failed(
            "no rustc",
            "install Rust with rustup (book/src/setup.md, \"Rust\").",
        );
    };
    match parse_rust_version(&version) {
        Some((major, minor, text)) if (major, minor) >= MINIMUM_RUST => {
            Part::ok(format!("rustc {text}"))
        }
        Some((_, _, text)) => Part::failed(
            format!("rustc {text} is too old"),
            format!(
                "the workbook needs Rust {}.{} or newer: rustup update stable",
                MINIMUM_RUST.0, MINIMUM_RUST.1
            ),
        ),
        None => Part::failed(
            "rustc version unknown",
            format!("rustc --version printed {version:?}"),
        ),
    }
}

/// `rustc 1.95.0 (59807616e 2026-04-14)` gives `(1, 95, "1.95.0")`.
fn parse_rust_version(text: &str) -> Option<(u32, u32, String)> {
    let version = text.split_whitespace().nth(1)?;
    let mut numbers = version.split(['.', '-']);
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    Some((major, minor, version.to_string()))
}

/// `cargo test --workspace --no-run --offline`: everything the day builds, with no network.
fn workspace(root: &Path) -> Part {
    let mut command = cargo::command(root);
    command.args([
        "test",
        "--workspace",
        "--no-run",
        "--offline",
        "--color=never",
    ]);
    let captured = match cargo::run_captured(command, BUILD_LIMIT) {
        Ok(captured) => captured,
        Err(error) => return Part::failed("cargo did not run", error.to_string()),
    };
    let seconds = captured.elapsed.as_secs_f64();
    if captured.success {
        return Part::ok(format!("workspace+runner built offline ({seconds:.0} s)"));
    }
    Part::failed(
        "workspace does not build offline",
        build_advice(&captured.lines, captured.timed_out),
    )
}

/// Why a build failed, in a sentence: crates never downloaded, a compile error and where, or
/// the end of cargo's output.
fn build_advice(lines: &[String], timed_out: bool) -> String {
    if timed_out {
        return format!(
            "the build ran past {} minutes; run cargo test --workspace --no-run to see it work.",
            BUILD_LIMIT.as_secs() / 60
        );
    }
    let missing = lines.iter().any(|line| {
        line.contains("--offline")
            || line.contains("failed to download")
            || line.contains("no matching package")
    });
    if missing {
        return "some crates were never downloaded: run cargo fetch (and cargo fetch \
                --manifest-path crates/workbook/Cargo.toml) on a good connection, or use the \
                vendored crates from the instructor's USB stick (Running the workshop)."
            .to_string();
    }
    let mut place = ErrorPlace::default();
    for line in lines {
        place.line(line);
    }
    match place.place() {
        Some(place) if place.starts_with("exercises/") => format!(
            "a compile error at {place}, in an exercise: finish or undo the edit (cargo \
             workbook reset NN puts it back), then run preflight again."
        ),
        Some(place) => format!(
            "a compile error at {place}, in the workbook itself, not in an exercise: git pull \
             may fix it; if not, tell your instructor, with this line."
        ),
        None => {
            let tail = &lines[lines.len().saturating_sub(5)..];
            format!("cargo said:\n    {}", tail.join("\n    "))
        }
    }
}

/// Step 01's check, `cargo test -p exercise-01 --offline`: the embedded Kafka starts, the app
/// runs, and the check's own assertions pass.
fn first_check(root: &Path) -> Part {
    let mut command = cargo::command(root);
    command.args(["test", "-p", "exercise-01", "--offline", "--color=never"]);
    command.env("RUST_BACKTRACE", "0");
    let captured = match cargo::run_captured(command, CHECK_LIMIT) {
        Ok(captured) => captured,
        Err(error) => return Part::failed("cargo did not run", error.to_string()),
    };
    let counts = crate::libtest::count_results(&captured.lines);
    let seconds = captured.elapsed.as_secs_f64();
    if captured.success && counts.passed > 0 {
        return Part::ok(format!(
            "check 01 passed, {} tests on the embedded Kafka ({seconds:.1} s)",
            counts.passed
        ));
    }
    let advice = if counts.suites == 0 {
        build_advice(&captured.lines, captured.timed_out)
    } else {
        "step 01's check fails: run cargo workbook check 01 to see why (Troubleshooting has \
         the usual causes)."
            .to_string()
    };
    Part::failed(
        format!(
            "check 01 failed ({} of {} tests)",
            counts.failed,
            counts.passed + counts.failed
        ),
        advice,
    )
}

/// The free space where the repository is, from `df -Pk` (POSIX output, on Linux, macOS and
/// WSL alike).
fn disk(root: &Path) -> Part {
    let Some(text) = output(Command::new("df").arg("-Pk").arg(root)) else {
        return Part::ok("disk not measured (no df)");
    };
    let Some(free_kib) = parse_df_available(&text) else {
        return Part::ok("disk not measured");
    };
    let free_gb = free_kib as f64 / (1024.0 * 1024.0);
    if free_gb >= DISK_TO_SPARE_GB {
        Part::ok(format!("{free_gb:.0} GB free"))
    } else {
        Part::failed(
            format!("{free_gb:.1} GB free"),
            format!(
                "keep at least {DISK_TO_SPARE_GB:.0} GB free for the day's builds (a built \
                 clone's target/ is about 8 GB already)."
            ),
        )
    }
}

/// The `Available` column (KiB) of `df -Pk`'s second line.
fn parse_df_available(text: &str) -> Option<u64> {
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

/// Docker Compose, and the stack's images already pulled (`docker compose pull`).
fn docker(root: &Path) -> Part {
    let Some(version) = output(
        Command::new("docker")
            .args(["compose", "version", "--short"])
            .current_dir(root),
    ) else {
        return Part::failed(
            "no docker compose",
            "Docker is optional: without it the app runs an embedded Kafka. To use it, install \
             Docker with Compose v2 (book/src/setup.md, \"Docker\").",
        );
    };
    let images: Vec<String> = output(
        Command::new("docker")
            .args(["compose", "config", "--images"])
            .current_dir(root),
    )
    .unwrap_or_default()
    .lines()
    .map(str::to_string)
    .collect();
    let missing: Vec<&String> = images
        .iter()
        .filter(|image| {
            output(Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", image]))
                .is_none()
        })
        .collect();
    let version = version.trim();
    if images.is_empty() {
        return Part::failed(
            format!("compose {version}, images unknown"),
            "docker compose config failed: is the Docker daemon running?",
        );
    }
    if missing.is_empty() {
        Part::ok(format!("compose {version}, {} images pulled", images.len()))
    } else {
        Part::failed(
            format!(
                "compose {version}, {} of {} images missing",
                missing.len(),
                images.len()
            ),
            "run docker compose pull on a good connection.",
        )
    }
}

/// The room's board answers its page at `url` (no token needed for the page itself).
fn board(url: &str) -> Part {
    let url = url
        .trim()
        .split('#')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .into();
    match agent.get(format!("{url}/")).call() {
        Ok(mut response) if response.status().is_success() => {
            let page = response.body_mut().read_to_string().unwrap_or_default();
            if page.contains("Class board") {
                Part::ok(format!("board {url} answers"))
            } else {
                Part::failed(
                    format!("{url} is not the board"),
                    "something answers there, but not the class board: check the address.",
                )
            }
        }
        Ok(response) => Part::failed(
            format!("board {url} answered {}", response.status()),
            "check the address with your instructor.",
        ),
        Err(error) => Part::failed(
            format!("board {url} unreachable"),
            format!(
                "{error}. On guest wifi laptops often cannot reach each other: see \
                 Troubleshooting, \"Class mode\"."
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_every_part_and_marks_the_failed_ones() {
        let parts = [
            Part::ok("rustc 1.95.0"),
            Part::failed("check 01 failed (1 of 3 tests)", "see why"),
            Part::ok("71 GB free"),
        ];
        assert_eq!(
            one_line(false, &parts, "linux x86_64 · c5f1afb"),
            "preflight FAILED · rustc 1.95.0 · ✗ check 01 failed (1 of 3 tests) · 71 GB free \
             · linux x86_64 · c5f1afb"
        );
        assert!(one_line(true, &parts[..1], "x").starts_with("preflight ok · rustc"));
    }

    #[test]
    fn rust_versions_are_read_and_compared() {
        let (major, minor, text) =
            parse_rust_version("rustc 1.95.0 (59807616e 2026-04-14)").unwrap();
        assert_eq!((major, minor, text.as_str()), (1, 95, "1.95.0"));
        assert!((major, minor) >= MINIMUM_RUST);
        let old = parse_rust_version("rustc 1.80.1 (3f5fd8dd4 2024-08-06)").unwrap();
        assert!((old.0, old.1) < MINIMUM_RUST);
        assert!(parse_rust_version("rustc 1.90.0-nightly (abc 2025-06-01)").is_some());
        assert_eq!(parse_rust_version("nonsense"), None);
    }

    #[test]
    fn free_disk_is_read_from_df() {
        let linux = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n\
                     /dev/vda         263174212  13311144 83103720      14% /\n";
        assert_eq!(parse_df_available(linux), Some(83_103_720));
        assert_eq!(parse_df_available("garbage"), None);
    }

    #[test]
    fn a_failed_build_says_what_to_do() {
        let offline = vec![
            "error: failed to download `rdkafka v0.39.0`".to_string(),
            "Caused by: attempting to make an HTTP request, but --offline was specified"
                .to_string(),
        ];
        assert!(build_advice(&offline, false).contains("cargo fetch"));
        let compile = vec![
            "error[E0425]: cannot find value `x` in this scope".to_string(),
            "  --> exercises/exercise-02/src/chat_api.rs:12:5".to_string(),
        ];
        let advice = build_advice(&compile, false);
        assert!(
            advice.contains("exercises/exercise-02/src/chat_api.rs:12, in an exercise"),
            "{advice}"
        );
        let shared = [
            compile[0].clone(),
            "  --> crates/check/src/lib.rs:3:1".to_string(),
        ];
        assert!(build_advice(&shared, false).contains("in the workbook itself"));
        assert!(build_advice(&[], true).contains("minutes"));
    }
}
