//! Stopping with a collector that never answers: the providers' last flush is bounded, so the
//! app still exits cleanly, well within 10 s.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use check::process::Spawned;

/// The app, as a learner runs it.
const BINARY: &str = env!("CARGO_BIN_EXE_e2e");

#[test]
fn sigterm_with_a_silent_collector_still_exits_0_quickly() {
    // A "collector" that accepts connections and never says a word: the worst case, worse
    // than one that is down (which refuses at once).
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let mut app = Spawned::start(
        "the app",
        BINARY,
        &[],
        &[
            ("CHAT_API_ADDR", "127.0.0.1:0"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ],
    );
    app.post("lobby", "bye");

    let asked = Instant::now();
    app.stop_cleanly(Duration::from_secs(10));
    assert!(asked.elapsed() < Duration::from_secs(10));
    drop(silent);
}
