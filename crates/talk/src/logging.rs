//! Log lines on stderr, for people: what started, what failed, what was skipped.
//!
//! Logs here are plain `tracing` events printed by `tracing-subscriber`. They are *not* the
//! traces this workbook is about; those are OpenTelemetry spans, made from step 02 on.
//! `RUST_LOG` changes the filter, e.g. `RUST_LOG=debug` or `RUST_LOG=info,librdkafka=warn`.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Subscriber;
use tracing_subscriber::filter::{Targets, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::{EitherWriter, TestWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

/// librdkafka's own log lines are off by default: when Kafka is down it repeats the same
/// connection error many times a second, and the app already says so once, plainly.
/// The OpenTelemetry SDK's own diagnostics are off too: a missing collector is reported once a
/// minute per service by `telemetry::QuietExporter` instead.
const DEFAULT_FILTER: &str = "info,librdkafka=off,rdkafka=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off";

/// The default filter the process's logger was installed with, for [`layer`].
static DEFAULT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Whether log lines go through the test harness's output capture ([`init_for_tests`]), for
/// [`layer`] too.
static FOR_TESTS: AtomicBool = AtomicBool::new(false);

/// Installs the stderr logger. Calling it twice is harmless (tests do).
pub fn init() {
    init_with_default(DEFAULT_FILTER);
}

/// Installs the stderr logger with `default` as the filter unless `RUST_LOG` is set. The
/// checks use `warn` (through [`init_for_tests`]), so that their output shows what went wrong
/// and little else.
pub fn init_with_default(default: &str) {
    let _ = DEFAULT.set(default.to_owned());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer())
        .with_target(false)
        .with_ansi(ansi())
        .try_init();
}

/// [`init_with_default`] for tests, the checks among them: each log line goes through the test
/// harness's output capture, so it is shown under the name of the test that failed, and not at
/// all when the test passes.
///
/// A check that takes Redis away on purpose makes the app warn that the store is unavailable,
/// which is the app doing its job. Written straight to stderr, that warning showed up in a
/// passing check's output as if something had gone wrong, and the lines of tests running at
/// the same time were mixed together. The capture follows the threads that a test starts,
/// such as its Tokio runtime's workers.
pub fn init_for_tests(default: &str) {
    FOR_TESTS.store(true, Ordering::Relaxed);
    init_with_default(default);
}

/// Where log lines go: stderr, or the test harness's capture after [`init_for_tests`].
fn writer() -> impl for<'a> MakeWriter<'a> + Send + Sync + 'static {
    || {
        if FOR_TESTS.load(Ordering::Relaxed) {
            // `eprint!`, which the harness captures, where plain stderr would bypass it.
            EitherWriter::A(TestWriter::with_stderr())
        } else {
            EitherWriter::B(std::io::stderr())
        }
    }
}

/// Colours only for a person at a terminal: not in a file, nor in a test's captured output.
fn ansi() -> bool {
    !FOR_TESTS.load(Ordering::Relaxed) && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// The same stderr log lines as a layer, for a subscriber of one's own (step 08 gives each
/// service one). `RUST_LOG` filters the log lines (events) only: spans always pass, so that
/// the other layers of that subscriber, such as the one that makes OpenTelemetry spans, see
/// every span whatever `RUST_LOG` says.
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let default = DEFAULT.get().map_or(DEFAULT_FILTER, String::as_str);
    // `Targets`: the same `target=level` syntax as `RUST_LOG`, for events. It filters the whole
    // subscriber but passes every span. An `EnvFilter` on the fmt layer alone (a per-layer
    // filter) would be the usual way, but with one such subscriber per service in one process
    // it dropped log lines now and then (measured: 0 or 1 of the 2 "assigned partitions" lines
    // per start, where this prints both every time).
    let targets: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| default.parse().unwrap_or_default());
    let events_only = filter_fn(move |metadata| {
        metadata.is_span() || targets.would_enable(metadata.target(), metadata.level())
    });
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(writer())
        .with_target(false)
        .with_ansi(ansi());
    events_only.and_then(lines)
}
