//! The app against a real broker, over the network, as with `KAFKA_BROKERS` set: every other
//! test runs on the embedded mock cluster.
//!
//! The broker is tansu 0.6 (a Kafka-compatible broker from crates.io, run here with in-memory
//! storage), because this machine can build it and has no Docker for Kafka itself. It does not
//! support KIP-848, so it is also the case that `--group-protocol auto` is for: the app must
//! find that out, fall back to `classic`, and say so.
//!
//! Each test skips, saying why, when `tansu` is not on `PATH`; `.ci/run` installs it, so CI
//! always runs them. The tests take turns (see [`one_at_a_time`]): each starts a broker and
//! several processes, and together they would starve a 2-core machine.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use check::otlp;
use check::process::Spawned;
use check::servers::{RedisServer, free_port};

/// The app, as a learner runs it.
const BINARY: &str = env!("CARGO_BIN_EXE_e2e");

/// The promise: with `KAFKA_BROKERS` at a broker without KIP-848 and nothing else set,
/// the app is healthy within 15 s of its start.
const HEALTHY_WITHIN: Duration = Duration::from_secs(15);

/// How long a posted message may take to be stored, or a log line to appear, on a busy machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// With `auto`, the app asks the broker, finds no KIP-848, falls back to `classic` and says so
/// in one line with the reason; then it is healthy within [`HEALTHY_WITHIN`], stores messages,
/// answers `/giphy`, and the consumers continue the producer's trace through the record headers
/// that crossed the broker.
#[test]
fn auto_falls_back_to_classic_says_why_and_works() {
    let _turn = one_at_a_time();
    let Some(tansu) = Tansu::start() else {
        return;
    };
    let started = Instant::now();
    let mut app = Spawned::start(
        "the app",
        BINARY,
        &[],
        &[
            ("KAFKA_BROKERS", tansu.brokers.as_str()),
            ("KAFKA_GROUP_PROTOCOL", "auto"),
            ("CHAT_API_ADDR", "127.0.0.1:0"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ],
    );
    let line = app.wait_for_line("fall back to group.protocol=classic", PATIENCE);
    assert!(
        line.contains("does not support KIP-848") && line.contains("ConsumerGroupHeartbeat"),
        "the fallback line should say why: {line}"
    );
    wait_until_healthy(&app, PATIENCE);
    let took = started.elapsed();
    eprintln!("healthy {:.2} s after the start", took.as_secs_f32());
    assert!(
        took < HEALTHY_WITHIN,
        "healthy only after {took:?}; the app printed:\n{}",
        app.lines().join("\n")
    );
    let fallbacks = app.lines().iter().filter(|l| l.contains("KIP-848")).count();
    assert_eq!(fallbacks, 1, "one line about the fallback, not more");

    let hello = app.post("lobby", "hello");
    let cats = app.post("lobby", "/giphy cats");
    wait_for_message(&app.chat_url(), "lobby", id(&hello), |_| true);
    wait_for_message(&app.chat_url(), "lobby", id(&cats), |m| {
        m["image"].is_string()
    });

    // The trace across the broker: giphy-service's `process message` joined the POST's trace
    // (2 services in it), and storage-service's batch links to chat-api's send span (from a
    // trace of its own, which may hold the `/giphy` message too). Both know that span only
    // from the record's headers.
    let trace = hello["trace_id"]
        .as_str()
        .expect("the POST answers its trace id");
    app.wait_for_line(&format!("trace {trace} · 2 services"), PATIENCE);
    app.wait_for_line(
        &format!("↪ link to send message (chat-api), in another trace, {trace}"),
        PATIENCE,
    );
    app.stop_cleanly(Duration::from_secs(10));
}

/// With `classic` set, the app does not ask: no line about KIP-848, and it works the same.
#[test]
fn classic_as_set_works_without_asking() {
    let _turn = one_at_a_time();
    let Some(tansu) = Tansu::start() else {
        return;
    };
    let started = Instant::now();
    let mut app = Spawned::start(
        "the app",
        BINARY,
        &[],
        &[
            ("KAFKA_BROKERS", tansu.brokers.as_str()),
            ("KAFKA_GROUP_PROTOCOL", "classic"),
            ("CHAT_API_ADDR", "127.0.0.1:0"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("TALK_WATERFALL", "off"),
        ],
    );
    wait_until_healthy(&app, PATIENCE);
    eprintln!(
        "healthy {:.2} s after the start",
        started.elapsed().as_secs_f32()
    );
    let hello = app.post("lobby", "hello");
    wait_for_message(&app.chat_url(), "lobby", id(&hello), |_| true);
    assert!(
        app.lines().iter().all(|l| !l.contains("KIP-848")),
        "classic was set, so nothing should be asked:\n{}",
        app.lines().join("\n")
    );
    app.stop_cleanly(Duration::from_secs(10));
}

/// `consumer` forced on a broker without KIP-848: librdkafka reports nothing and the consumers
/// never join, but the app is not silent. The log says what they wait for and what to set, and
/// `/healthz` answers 503 with the same reason.
#[test]
fn consumer_forced_on_a_broker_without_kip_848_is_not_a_silent_wait() {
    let _turn = one_at_a_time();
    let Some(tansu) = Tansu::start() else {
        return;
    };
    let mut app = Spawned::start(
        "the app",
        BINARY,
        &[],
        &[
            ("KAFKA_BROKERS", tansu.brokers.as_str()),
            ("KAFKA_GROUP_PROTOCOL", "consumer"),
            ("CHAT_API_ADDR", "127.0.0.1:0"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("TALK_WATERFALL", "off"),
        ],
    );
    let line = app.wait_for_line("have not joined their consumer groups yet", PATIENCE);
    assert!(
        line.contains("storage-service and giphy-service")
            && line.contains("group.protocol=consumer")
            && line.contains("set KAFKA_GROUP_PROTOCOL=classic"),
        "the line should say who waits, for what, and what to set: {line}"
    );
    let answer = reqwest::blocking::get(format!("{}/healthz", app.chat_url())).unwrap();
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = answer.json().unwrap();
    let reason = body["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("have not joined their consumer groups yet")
            && reason.contains("group.protocol=consumer"),
        "/healthz should give the reason: {body}"
    );
    app.stop_cleanly(Duration::from_secs(10));
}

/// One process per service, sharing tansu and Redis, each exporting its spans: a `/giphy`
/// message is stored with its image, and giphy-service's spans, in a process of their own,
/// continue the trace of chat-api's POST, which reached them only through the record's headers.
#[test]
fn one_process_per_service_with_redis_and_one_trace_across_the_broker() {
    let _turn = one_at_a_time();
    let Some(tansu) = Tansu::start() else {
        return;
    };
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(otlp::grpc());
    let env = [
        ("KAFKA_BROKERS", tansu.brokers.as_str()),
        ("KAFKA_GROUP_PROTOCOL", "auto"),
        ("REDIS_URL", redis.url.as_str()),
        ("CHAT_API_ADDR", "127.0.0.1:0"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
    ];
    let mut storage = Spawned::start("storage-service", BINARY, &["storage-service"], &env);
    let mut giphy = Spawned::start("giphy-service", BINARY, &["giphy-service"], &env);
    let mut chat_api = Spawned::start("chat-api", BINARY, &["chat-api"], &env);
    storage.wait_for_line("fall back to group.protocol=classic", PATIENCE);
    storage.wait_for_line("assigned partitions [", PATIENCE);
    giphy.wait_for_line("assigned partitions [", PATIENCE);

    let cats = chat_api.post("lobby", "/giphy cats");
    wait_for_message(&chat_api.chat_url(), "lobby", id(&cats), |m| {
        m["image"].is_string()
    });
    // Stopping flushes every process's spans to the receiver.
    for process in [&mut chat_api, &mut giphy, &mut storage] {
        process.stop_cleanly(Duration::from_secs(10));
    }

    let trace = cats["trace_id"]
        .as_str()
        .expect("the POST answers its trace id");
    let received = receiver.received();
    let in_trace = |service: &str, name: &str| {
        received
            .iter()
            .any(|r| r.service == service && r.name == name && r.trace_id == trace)
    };
    for (service, name) in [
        ("chat-api", "POST /message"),
        ("chat-api", "send message"),
        ("giphy-service", "process message"),
        ("giphy-service", "send message"),
    ] {
        assert!(
            in_trace(service, name),
            "{service}'s {name:?} should be in the POST's trace {trace}; received: {received:#?}"
        );
    }
}

/// A tansu broker of the test's own, in memory, on a free port; stopped on drop.
struct Tansu {
    /// What to put in `KAFKA_BROKERS`.
    brokers: String,
    child: Child,
    /// Its working directory: tansu reads a `.env` file from there, so it gets an empty one.
    dir: PathBuf,
}

impl Tansu {
    /// Starts `tansu broker`, or returns `None` (after printing why) when it is not installed.
    fn start() -> Option<Tansu> {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let dir = std::env::temp_dir().join(format!("talk-tansu-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating tansu's working directory");
        let mut command = Command::new("tansu");
        command
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // tansu exports its own telemetry when it sees these; the app's tests may set them.
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("OTEL_")) {
            command.env_remove(name);
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                eprintln!("SKIPPED: this test needs `tansu` on PATH ({error}).");
                eprintln!(
                    "         Install it with \
                     `cargo install tansu --version 0.6.0 --features dynostore --locked`."
                );
                return None;
            }
        };
        let tansu = Tansu {
            brokers: format!("127.0.0.1:{port}"),
            child,
            dir,
        };
        // Ready once it answers Kafka's ApiVersions, as the app will ask it.
        let deadline = Instant::now() + PATIENCE;
        while talk::kafka::api_versions::ask(&tansu.brokers, Duration::from_secs(1)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not start within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(tansu)
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Makes the tests of this file take turns; a test that failed leaves the turn to the next.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Polls `/healthz` until it answers 200.
fn wait_until_healthy(app: &Spawned, patience: Duration) {
    let started = Instant::now();
    let url = format!("{}/healthz", app.chat_url());
    loop {
        let answer = reqwest::blocking::get(&url).ok();
        if answer.as_ref().is_some_and(|a| a.status() == 200) {
            return;
        }
        assert!(
            started.elapsed() < patience,
            "not healthy within {patience:?}: {:?}; the app printed:\n{}",
            answer.map(|a| a.text().unwrap_or_default()),
            app.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls the room until the message `id` is there and `done` holds for it.
fn wait_for_message(chat: &str, room: &str, id: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let messages: serde_json::Value =
            reqwest::blocking::get(format!("{chat}/message?room={room}"))
                .unwrap()
                .json()
                .unwrap();
        let found = messages
            .as_array()
            .and_then(|all| all.iter().find(|m| m["id"] == id));
        if found.is_some_and(&done) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} did not arrive as expected in room {room:?} within {PATIENCE:?}: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The message id in a POST's answer.
fn id(answer: &serde_json::Value) -> &str {
    answer["id"]
        .as_str()
        .expect("the POST answers the message's id")
}
