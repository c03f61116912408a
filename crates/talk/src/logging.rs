//! Log lines on stderr, for people: what started, what failed, what was skipped.
//!
//! Logs here are plain `tracing` events printed by `tracing-subscriber`. They are *not* the
//! traces this workbook is about; those are OpenTelemetry spans, made from step 02 on.
//! `RUST_LOG` changes the filter, e.g. `RUST_LOG=debug` or `RUST_LOG=info,librdkafka=warn`.

use tracing_subscriber::EnvFilter;

/// librdkafka's own log lines are off by default: when Kafka is down it repeats the same
/// connection error many times a second, and the app already says so once, plainly.
/// The OpenTelemetry SDK's own diagnostics are off too: a missing collector is reported once a
/// minute by `telemetry::QuietExporter` instead.
const DEFAULT_FILTER: &str = "info,librdkafka=off,rdkafka=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off";

/// Installs the stderr logger. Calling it twice is harmless (tests do).
pub fn init() {
    init_with_default(DEFAULT_FILTER);
}

/// Installs the stderr logger with `default` as the filter unless `RUST_LOG` is set. The
/// checks use `warn`, so that their output shows what went wrong and little else.
pub fn init_with_default(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
