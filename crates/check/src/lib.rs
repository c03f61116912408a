//! What every step's checks use: start the step's services in this process on an embedded
//! Kafka, drive the chat API like the page does, and wait for what should happen.
//!
//! Checks never sleep for a fixed time. They poll for the outcome with a deadline, and when the
//! deadline passes they fail with a message that says what was expected and what was seen.
//!
//! Use the multi-thread runtime in checks (`#[tokio::test(flavor = "multi_thread")]`): the
//! exporters of later steps can deadlock a current-thread runtime while they flush.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use talk::{App, Config, Message, Services};

pub use trace::{SpanRef, Spans};

/// How long a check waits for something that should happen within a second or so.
/// The embedded cluster delivers a record in about 0.1 s and a solved step finishes its
/// journey well within a second, so a few seconds is generous, and a failing check still
/// answers quickly.
pub const PATIENCE: Duration = Duration::from_secs(6);

/// How long a check waits without any new span before it decides the missing ones are not
/// coming. A failing check pays it in full, so it is short; it must still outlast the longest
/// pause inside a journey that works: a retried record waits 200, then 400 ms
/// (`talk::kafka::consume`'s backoff), and a new producer's first send waits up to 0.5 s for its
/// producer id. 1.5 s leaves room for a busy machine (3 s before issue 22 measured it).
const QUIET: Duration = Duration::from_millis(1500);

/// How often a check looks again.
const POLL: Duration = Duration::from_millis(20);

/// A step's app, running in this process, with a client for its API.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    http: reqwest::Client,
    app: App,
}

impl TestApp {
    /// Starts all three services of `step` with nothing outside this process: embedded Kafka,
    /// memory store, the Giphy stand-in. Returns once the consumers have joined their groups.
    pub async fn start<S: Services>(step: S) -> TestApp {
        TestApp::start_with(step, Config::embedded()).await
    }

    /// Like [`TestApp::start`], with a configuration of your own.
    ///
    /// The consumers run with a decoy trace context current ([`DECOY_SPAN_ID`]): a context that
    /// the check makes current around the consumer, to catch a link or parent taken from it. It
    /// stands for an unrelated context leaked from elsewhere in the process, not for an outer
    /// span that the processing belongs to. A consumer that takes its parent or its link from
    /// the current context, rather than from the record alone, gets the decoy, and the check
    /// says what it is.
    pub async fn start_with<S: Services>(step: S, mut config: Config) -> TestApp {
        config.ambient_context.get_or_insert_with(decoy);
        talk::logging::init_for_tests(
            "warn,librdkafka=off,rdkafka=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off",
        );
        panics::install();
        let app = talk::launch::start(step, &config)
            .await
            .expect("the app should start");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !app.readiness.is_ready() {
            // A consumer service that reaches a todo!() before consuming never joins.
            panics::fail_if_todo_reached();
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "the consumers did not join their groups within {PATIENCE:?}: is the \
                     machine very busy? Run the check again."
                );
            }
            let _ = tokio::time::timeout(POLL * 5, app.readiness.wait()).await;
        }
        let addr = app.addr.expect("chat-api runs in this process");
        TestApp {
            base: format!("http://{addr}"),
            http: client(),
            app,
        }
    }

    /// Posts a message like the chat page does and returns what chat-api accepted.
    /// Panics unless chat-api answers `202 Accepted`.
    pub async fn post(&self, author: &str, room: &str, text: &str) -> Message {
        let body = serde_json::json!({ "author": author, "room": room, "message": text });
        let (status, answer) = self.post_json(&body).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "POST /message should answer 202; it answered {status}: {answer}"
        );
        serde_json::from_value(answer).expect("POST /message should answer with the message")
    }

    /// Posts any JSON value and returns the status and JSON answer.
    pub async fn post_json(&self, body: &Value) -> (StatusCode, Value) {
        self.post_raw(Some("application/json"), body.to_string().into_bytes())
            .await
    }

    /// Posts raw bytes with the given `Content-Type` (or none) and returns the status and JSON
    /// answer (`Value::Null` when the answer is not JSON).
    pub async fn post_raw(&self, content_type: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        let mut request = self.http.post(format!("{}/message", self.base)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                // A handler that panics (a todo!(), say) drops the connection.
                panics::fail_if_todo_reached();
                panic!("chat-api did not answer POST /message: {error}")
            }
        };
        let status = response.status();
        let answer = response.json().await.unwrap_or(Value::Null);
        (status, answer)
    }

    /// `GET` a path, returning status and JSON answer.
    pub async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .expect("chat-api should answer");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The stored messages of `room`, oldest first.
    pub async fn messages(&self, room: &str) -> Vec<Message> {
        let (status, answer) = self.get(&format!("/message?room={room}")).await;
        assert_eq!(status, StatusCode::OK, "GET /message answered {answer}");
        serde_json::from_value(answer).expect("GET /message should answer with messages")
    }

    /// Waits until `room`'s messages satisfy `done`, and returns them. `what` describes the
    /// wait for the failure message.
    pub async fn wait_for_messages(
        &self,
        room: &str,
        what: &str,
        done: impl Fn(&[Message]) -> bool,
    ) -> Vec<Message> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            panics::fail_if_todo_reached();
            let messages = self.messages(room).await;
            if done(&messages) {
                return messages;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "waited {PATIENCE:?} for {what}, but room {room:?} holds:\n{}",
                    describe(&messages)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the message with `id` is stored and satisfies `done`, and returns it.
    pub async fn wait_for_message(
        &self,
        room: &str,
        id: &str,
        what: &str,
        done: impl Fn(&Message) -> bool,
    ) -> Message {
        let messages = self
            .wait_for_messages(room, what, |messages| {
                messages.iter().any(|m| m.id == id && done(m))
            })
            .await;
        messages.into_iter().find(|m| m.id == id).unwrap()
    }

    /// The app's Kafka (the embedded cluster), for checks that produce or consume records
    /// themselves.
    pub fn kafka(&self) -> &talk::kafka::Kafka {
        &self.app.kafka
    }

    /// Makes the embedded cluster refuse the next `n` sends, whoever makes them, so that a check
    /// can see what a failed send does.
    pub fn fail_next_sends(&self, n: usize) {
        self.app
            .embedded()
            .expect("checks run on the embedded cluster")
            .fail_next_sends(n);
    }

    /// Every span finished so far, by every service.
    pub fn spans(&self) -> Spans {
        Spans::new(self.app.spans.spans())
    }

    /// Waits until the captured spans satisfy `done`, and returns them. On time-out, fails with
    /// `what` (what was awaited), `hint` (the concept that is probably missing) and the
    /// waterfall of what was captured. A `todo!()` reached meanwhile fails at once.
    pub async fn wait_for_spans(
        &self,
        what: &str,
        hint: impl Into<Hint>,
        done: impl Fn(&Spans) -> bool,
    ) -> Spans {
        let hint = hint.into();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut seen = 0;
        let mut last_change = tokio::time::Instant::now();
        loop {
            panics::fail_if_todo_reached();
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            // The spans of one journey end within milliseconds of each other. When none has
            // ended for a while, the missing ones are not coming: say so now, not at the
            // deadline, so a failing check answers quickly.
            let now = tokio::time::Instant::now();
            if spans.all().len() != seen {
                seen = spans.all().len();
                last_change = now;
            }
            let quiet = now.duration_since(last_change) >= QUIET;
            if now > deadline || quiet {
                let waited = if quiet { QUIET } else { PATIENCE };
                // With no span at all, the specific hint is not the place to start.
                let hint = if spans.all().is_empty() {
                    // What makes spans at all: from step 08 on, a subscriber that each
                    // service's futures carry; before it, each service's tracer provider.
                    let first = if finding::speaks_tracing() {
                        "each service's futures carry its own tracing subscriber"
                    } else {
                        "each service has its tracer provider (step 02)"
                    };
                    Hint {
                        text: format!(
                            "No service made any span at all, so first make sure that {first}. \
                             {}",
                            hint.text
                        )
                        .into(),
                        ..hint
                    }
                } else {
                    hint
                };
                // About spans, of no one service: the chapter's task map places it.
                let about = trace::About {
                    aspect: "span",
                    span: None,
                    service: None,
                    concept: "spans that never came",
                };
                spans.fail_about(
                    about,
                    &format!(
                        "waited {waited:?} for {what}, and nothing more came (spans so far: {})",
                        spans.summary()
                    ),
                    hint,
                );
            }
            self.app.spans.changed(POLL * 10).await;
        }
    }

    /// Stops the app the way Ctrl-C does and waits until it has stopped. Then holds every span
    /// the app made to the semantic conventions ([`conventions::hold`]), whatever the test
    /// looked at.
    pub async fn stop(self) {
        let log = self.app.spans.clone();
        match tokio::time::timeout(STOP_LIMIT, self.app.stop()).await {
            Ok(stopped) => stopped.expect("the app should stop cleanly"),
            Err(_) => panic!(
                "the app did not stop within {STOP_LIMIT:?}: a service does not return when \
                 its shutdown token is cancelled"
            ),
        }
        conventions::hold(&Spans::new(log.spans()));
    }
}

/// How long a request to chat-api may take. Every handler answers in milliseconds; without a
/// limit, a handler that never answers would hang the check rather than fail it.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// How long the app may take to stop: it flushes spans and pending sends, each with its own
/// shorter limit.
const STOP_LIMIT: Duration = Duration::from_secs(60);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_LIMIT)
        .build()
        .expect("an HTTP client with a timeout")
}

/// The span id of the decoy context that checks make current around the consumers, to catch a
/// link or parent taken from the current context rather than from the record (its trace id is
/// `dec0de00…` too).
pub const DECOY_SPAN_ID: &str = "dec0de00dec0de00";

fn decoy() -> opentelemetry::Context {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };
    let span = SpanContext::new(
        TraceId::from_hex("dec0de00dec0de00dec0de00dec0de00").expect("hex"),
        SpanId::from_hex(DECOY_SPAN_ID).expect("hex"),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(span)
}

fn describe(messages: &[Message]) -> String {
    if messages.is_empty() {
        return "  (nothing)".to_owned();
    }
    messages
        .iter()
        .map(|m| {
            let image = m.image.as_deref().unwrap_or("-");
            format!("  {} {}: {:?} (image {image})", m.date, m.author, m.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub mod contract;
pub mod conventions;
mod decoy;
pub mod finding;
pub use finding::Hint;
pub mod giphy;
pub mod messaging;
pub mod otlp;
pub mod panics;
pub mod process;
mod propagation;
pub mod servers;
pub mod trace;
