//! The app as separate processes, the way a learner runs it in several terminals.

use std::time::Duration;

use check::process::Spawned;
use check::servers::RedisServer;

/// The app, as a learner runs it.
const BINARY: &str = env!("CARGO_BIN_EXE_e2e");

/// Ctrl-C and SIGTERM stop the app cleanly: exit code 0, well within 10 s.
#[test]
fn sigterm_stops_the_app_with_exit_code_0() {
    let mut app = Spawned::start(
        "the app",
        BINARY,
        &[],
        &[
            ("CHAT_API_ADDR", "127.0.0.1:0"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ],
    );
    app.post("lobby", "bye");
    app.stop_cleanly(Duration::from_secs(10));
}

/// A broker process, chat-api, and two storage-service processes that share the partitions of
/// their group, all sharing Redis: every message posted is stored exactly once.
#[test]
fn one_process_per_service_with_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let broker_file = std::env::temp_dir().join(format!("talk-test-broker-{}", std::process::id()));
    let broker_file = broker_file.to_str().unwrap();
    let env = [
        ("TALK_BROKER_FILE", broker_file),
        ("REDIS_URL", redis.url.as_str()),
        ("CHAT_API_ADDR", "127.0.0.1:0"),
        ("OTEL_TRACES_EXPORTER", "none"),
    ];

    let broker = Spawned::start("broker", BINARY, &["broker"], &env);
    broker.wait_for_line("is listening on", Duration::from_secs(30));
    let storage_a = Spawned::start("storage-service A", BINARY, &["storage-service"], &env);
    let storage_b = Spawned::start("storage-service B", BINARY, &["storage-service"], &env);
    let chat_api = Spawned::start("chat-api", BINARY, &["chat-api"], &env);
    let chat = chat_api.chat_url();

    // Both storage-services get partitions of the group (3 partitions, 2 members).
    storage_a.wait_for_line("assigned partitions [", Duration::from_secs(30));
    storage_b.wait_for_line("assigned partitions [", Duration::from_secs(30));

    let http = reqwest::blocking::Client::new();
    let rooms = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
    let mut sent = Vec::new();
    for (i, room) in rooms.iter().cycle().take(30).enumerate() {
        let answer = chat_api.post(room, &format!("m{i}"));
        sent.push((room.to_string(), answer["id"].as_str().unwrap().to_owned()));
    }

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for room in rooms {
        let expected: Vec<&String> = sent
            .iter()
            .filter(|(r, _)| r == room)
            .map(|(_, id)| id)
            .collect();
        loop {
            let stored: Vec<serde_json::Value> = http
                .get(format!("{chat}/message?room={room}"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            let ids: Vec<String> = stored
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            if ids.iter().collect::<Vec<_>>() == expected {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "room {room}: expected {expected:?} in order, Redis holds {ids:?}\n\
                 storage A said:\n{}\nstorage B said:\n{}",
                storage_a.lines().join("\n"),
                storage_b.lines().join("\n"),
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Kafka unreachable at start: one clear message, the process keeps trying, and Ctrl-C still
/// stops it cleanly.
#[test]
fn unreachable_kafka_is_reported_and_retried() {
    let dead = format!("127.0.0.1:{}", check::servers::free_port());
    let mut app = Spawned::start(
        "chat-api",
        BINARY,
        &["chat-api"],
        &[
            ("KAFKA_BROKERS", dead.as_str()),
            ("CHAT_API_ADDR", "127.0.0.1:0"),
        ],
    );
    let line = app.wait_for_line("cannot reach Kafka", Duration::from_secs(15));
    assert!(
        line.contains(&dead),
        "the message should name the address: {line}"
    );
    assert!(app.lines().iter().all(|l| !l.contains("panicked")));

    app.stop_cleanly(Duration::from_secs(10));
    let warnings = app
        .lines()
        .iter()
        .filter(|l| l.contains("cannot reach Kafka"))
        .count();
    assert_eq!(warnings, 1, "say it once, not on every retry");
}
