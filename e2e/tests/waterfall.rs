//! The terminal waterfall as a learner sees it, in both `--consumer-trace` modes (step 05 on):
//! the flag and its environment variable reach the consumers, and the links are drawn.

use std::time::Duration;

use check::process::Spawned;

/// The app, as a learner runs it.
const BINARY: &str = env!("CARGO_BIN_EXE_e2e");

/// How long a posted message may take to show up in the waterfall: the printer waits for a
/// trace to be quiet for 0.8 s, and a busy CI machine is slow.
const PATIENCE: Duration = Duration::from_secs(20);

fn start(args: &[&str], envs: &[(&str, &str)]) -> Spawned {
    let mut all = vec![
        ("CHAT_API_ADDR", "127.0.0.1:0"),
        ("OTEL_TRACES_EXPORTER", "none"),
    ];
    all.extend_from_slice(envs);
    Spawned::start("the app", BINARY, args, &all)
}

/// `--consumer-trace new`: each consumer's trace is new, and its first line names the trace of
/// chat-api's send span, the one the POST answered with.
#[test]
fn new_mode_prints_consumer_traces_that_follow_from_the_post() {
    let mut app = start(&["--consumer-trace", "new"], &[]);
    let answer = app.post("lobby", "hello");
    let post_trace = answer["trace_id"]
        .as_str()
        .expect("the POST answers its trace id");
    let header = format!("follows from send message (chat-api) in trace {post_trace}");
    app.wait_for_line("process message", PATIENCE);
    let deadline = std::time::Instant::now() + PATIENCE;
    // One new trace per consumer: storage-service's and giphy-service's.
    while app.lines().iter().filter(|l| l.contains(&header)).count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "two consumer traces should follow from {post_trace}; the app printed:\n{}",
            app.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    app.stop_cleanly(Duration::from_secs(10));
}

/// `TALK_CONSUMER_TRACE=same` (the default, set here through the environment): giphy-service
/// stays in the POST's trace, its link to the send span marked as also the parent, while
/// storage-service's batch (step 07 on) is always a trace of its own that follows from it.
#[test]
fn same_mode_marks_the_link_that_is_also_the_parent() {
    let mut app = start(&[], &[("TALK_CONSUMER_TRACE", "same")]);
    let answer = app.post("lobby", "hello");
    let post_trace = answer["trace_id"]
        .as_str()
        .expect("the POST answers its trace id");
    app.wait_for_line(&format!("trace {post_trace} · 2 services"), PATIENCE);
    app.wait_for_line(
        "↪ link to send message (chat-api), also its parent",
        PATIENCE,
    );
    app.wait_for_line(
        &format!("follows from send message (chat-api) in trace {post_trace}"),
        PATIENCE,
    );
    app.stop_cleanly(Duration::from_secs(10));
}

/// `GIPHY_BASE_URL` at a dead address (step 06 on): the waterfall shows the failed `GET` as an
/// error, and the message still gets the bundled fallback image.
#[test]
fn a_dead_giphy_shows_as_an_error_get_and_the_fallback_image() {
    let dead = format!("http://127.0.0.1:{}", check::servers::free_port());
    let mut app = start(&[], &[("GIPHY_BASE_URL", &dead)]);
    let answer = app.post("lobby", "/giphy cats");
    let id = answer["id"]
        .as_str()
        .expect("the POST answers the message's id");
    let line = app.wait_for_line("└─ GET ", PATIENCE);
    assert!(
        line.contains("CLIENT") && line.contains("✗ error: Giphy could not be reached"),
        "the GET should be drawn as a failed CLIENT span: {line}"
    );
    let url = format!("{}/message?room=lobby", app.chat_url());
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let messages: serde_json::Value = reqwest::blocking::get(&url).unwrap().json().unwrap();
        let image = messages
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .and_then(|m| m["image"].as_str().map(str::to_owned));
        if let Some(image) = image {
            assert_eq!(image, talk::giphy::FALLBACK_IMAGE);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the message should get the fallback image"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    app.stop_cleanly(Duration::from_secs(10));
}
