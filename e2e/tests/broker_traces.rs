//! One process per service, with no Docker: `-- broker` collects the spans of the other
//! processes over OTLP and draws the traces they make together.

use std::time::Duration;

use check::process::Spawned;

/// The app, as a learner runs it.
const BINARY: &str = env!("CARGO_BIN_EXE_e2e");

/// How long a trace may take to reach the broker and be drawn: each service exports in
/// batches (every few seconds), and the printer waits for the trace to be quiet.
const PATIENCE: Duration = Duration::from_secs(40);

/// chat-api, storage-service and giphy-service as three processes find the broker's OTLP
/// receiver in the broker file, export to it, and the broker's terminal draws the message's
/// trace across the processes.
#[test]
fn the_broker_draws_the_traces_of_the_other_processes() {
    let broker_file =
        std::env::temp_dir().join(format!("talk-test-broker-traces-{}", std::process::id()));
    let broker_file = broker_file.to_str().unwrap();
    let env = [
        ("TALK_BROKER_FILE", broker_file),
        ("CHAT_API_ADDR", "127.0.0.1:0"),
    ];

    let mut broker = Spawned::start("broker", BINARY, &["broker"], &env);
    broker.wait_for_line("An OTLP receiver (gRPC) is listening on", PATIENCE);
    let mut services: Vec<Spawned> = ["storage-service", "giphy-service", "chat-api"]
        .into_iter()
        .map(|service| Spawned::start(service, BINARY, &[service], &env))
        .collect();
    for service in &services {
        service.wait_for_line("Spans go to the OTLP receiver of `-- broker`", PATIENCE);
    }
    let chat_api = services.last().unwrap();
    let _ = chat_api.chat_url();

    let answer = chat_api.post("lobby", "/giphy cats");
    let trace_id = answer["trace_id"]
        .as_str()
        .expect("the POST answers a trace_id");

    let heading = broker.wait_for_line(&format!("trace {trace_id}"), PATIENCE);
    assert!(
        heading.contains("3 services"),
        "chat-api, giphy-service and the stand-in giphy-api, from three processes: {heading}"
    );
    // The rows under the heading come in the same print, so they are there already.
    let lines = broker.lines();
    let drawn: Vec<&String> = lines
        .iter()
        .skip_while(|line| !line.contains(&format!("trace {trace_id}")))
        .take_while(|line| !line.is_empty())
        .collect();
    for (service, span) in [
        ("chat-api", "POST /message"),
        ("chat-api", "send message"),
        ("giphy-service", "process message"),
        ("giphy-api", "GET /v1/gifs/search"),
    ] {
        assert!(
            drawn
                .iter()
                .any(|line| line.contains(service) && line.contains(span)),
            "the broker's waterfall should have {service}'s {span}:\n{}",
            lines.join("\n")
        );
    }

    for service in &mut services {
        service.stop_cleanly(Duration::from_secs(10));
    }
    broker.stop_cleanly(Duration::from_secs(10));
}
