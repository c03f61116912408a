//! Step 02's check: every service makes the spans of the trace contract.
//!
//! Each consumer's `process message` is still the root of its own trace: connecting the traces
//! is the work of steps 03 and 04.

use check::TestApp;
use check::giphy::{Behaviour, TestGiphy};
use check::otlp;
use opentelemetry::trace::SpanKind;
use std::time::Duration;
use talk::Config;
use talk::giphy::FALLBACK_IMAGE;
use talk::telemetry::Otlp;

// The step under test: this crate's own library.
use solution_02::Step;

const PROVIDER: &str = "Does each service build its own SdkTracerProvider (telemetry::init) \
    with its service.name, add the span log processor, and take its tracer from it?";
const SERVER_SPAN: &str = "chat-api wraps each /message request in a SERVER span named \
    \"{method} {route}\" (the trace_request middleware), with http.request.method, http.route \
    and http.response.status_code from opentelemetry_semantic_conventions::attribute.";
const CONSUMER_SPAN: &str = "Each consumer starts a \"process message\" span with \
    SpanKind::Consumer for every record, and ends it when the record is done.";

/// `hello`: chat-api's SERVER span, and a `process message` in each consumer, with
/// `store message` under storage-service's.
#[tokio::test(flavor = "multi_thread")]
async fn every_service_makes_its_spans() {
    let app = TestApp::start(Step).await;
    let sent = app.post("ann", "lobby", "hello").await;
    let spans = app
        .wait_for_spans(
            "the spans of 'hello' in all three services",
            PROVIDER,
            |s| {
                // Parents end after their children: wait for the outermost spans.
                s.has("chat-api", "POST /message")
                    && s.has("storage-service", "process message")
                    && s.has("giphy-service", "process message")
            },
        )
        .await;

    let post = spans
        .one("chat-api", "POST /message", SERVER_SPAN)
        .is_kind(SpanKind::Server, SERVER_SPAN)
        .has_attribute("http.request.method", "POST", SERVER_SPAN)
        .has_attribute("http.route", "/message", SERVER_SPAN)
        .has_attribute(
            "http.response.status_code",
            202,
            "Set the status code after the handler has answered.",
        )
        .is_ok("A 202 is a success: leave the status unset.");
    if sent.trace_id.as_deref() != Some(post.trace_id().as_str()) {
        spans.fail(
            &format!(
                "POST /message answered with trace_id {:?}; the trace of its SERVER span is {}",
                sent.trace_id,
                post.trace_id()
            ),
            "In post_message, set message.trace_id from the SERVER span's context \
             (cx.span().span_context().trace_id()), so the page can link to the trace.",
        );
    }

    let process = spans
        .one("storage-service", "process message", CONSUMER_SPAN)
        .is_kind(SpanKind::Consumer, CONSUMER_SPAN)
        .is_root("In step 02, a consumer knows nothing of the producer's trace yet: start from an empty Context.");
    spans
        .one("storage-service", "store message", "Wrap the store call in a \"store message\" span.")
        .is_kind(SpanKind::Internal, "Work inside a service is an INTERNAL span (the default kind).")
        .is_child_of(&process, "Start \"store message\" with the context that holds \"process message\" as its parent.")
        .is_ok("Storing worked: leave the status unset.");
    spans
        .one("giphy-service", "process message", CONSUMER_SPAN)
        .is_kind(SpanKind::Consumer, CONSUMER_SPAN)
        .is_root("In step 02, a consumer knows nothing of the producer's trace yet.");
    app.stop().await;
}

/// `/giphy cats`: giphy-service's `process message` carries the query, and the search is a
/// `GET` CLIENT span under it.
#[tokio::test(flavor = "multi_thread")]
async fn giphy_search_is_a_client_span() {
    let app = TestApp::start(Step).await;
    app.post("ann", "lobby", "/giphy cats").await;
    let spans = app
        .wait_for_spans(
            "giphy-service's GET span and the process message around it",
            "giphy-service wraps the Giphy search in a CLIENT span named \"GET\".",
            |s| {
                // The GET span ends first, then the process message that holds it.
                s.every("giphy-service", "GET").iter().any(|get| {
                    s.by_id(get.data().span.parent_span_id)
                        .is_some_and(|parent| parent.data().service == "giphy-service")
                })
            },
        )
        .await;
    let get = spans.one("giphy-service", "GET", "the Giphy search's CLIENT span");
    let process = spans
        .by_id(get.data().span.parent_span_id)
        .unwrap_or_else(|| {
            spans.fail(
                "giphy-service's GET span has no parent among the captured spans",
                "Start the GET span with the context that holds \"process message\".",
            )
        })
        .has_attribute(
            "giphy.query",
            "cats",
            "The process message of a record that asks for an image (\"/giphy cats\") carries \
             giphy.query, the text after \"/giphy \".",
        );
    let hint = "The GET span is a CLIENT span with http.request.method, server.address and \
                http.response.status_code.";
    spans
        .one("giphy-service", "GET", hint)
        .is_kind(SpanKind::Client, hint)
        .is_child_of(
            &process,
            "Start the GET span with the context of \"process message\".",
        )
        .has_attribute("http.request.method", "GET", hint)
        .has_attribute_key("server.address", hint)
        .has_attribute("http.response.status_code", 200, hint)
        .is_ok("The stand-in answered 200: leave the status unset.");
    app.stop().await;
}

/// A caller that sends a `traceparent` gets its POST span in the caller's trace.
#[tokio::test(flavor = "multi_thread")]
async fn a_traceparent_from_the_caller_is_honoured() {
    let app = TestApp::start(Step).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let answer = reqwest::Client::new()
        .post(format!("{}/message", app.base))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&serde_json::json!({"author": "ann", "room": "lobby", "message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let spans = app
        .wait_for_spans("chat-api's POST span", SERVER_SPAN, |s| {
            s.has("chat-api", "POST /message")
        })
        .await;
    let post = spans.one("chat-api", "POST /message", SERVER_SPAN);
    if post.trace_id() != trace_id {
        spans.fail(
            &format!(
                "the POST span started trace {} instead of joining the caller's {trace_id}",
                post.trace_id()
            ),
            "Extract the parent context from the request headers with TraceContextPropagator and \
             opentelemetry_http::HeaderExtractor, and start the SERVER span with it.",
        );
    }
    assert_eq!(
        post.data().span.parent_span_id.to_string(),
        "00f067aa0ba902b7"
    );
    app.stop().await;
}

/// Giphy answers `500`: the GET span is an Error, with the status code as its `error.type` and
/// no description, and the message still gets the fallback image.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_giphy_search_is_an_error_span() {
    let giphy = TestGiphy::start(Behaviour::ServerError).await;
    let config = Config {
        giphy_base_url: Some(giphy.base_url.clone()),
        ..Config::embedded()
    };
    let app = TestApp::start_with(Step, config).await;
    let message = app.post("ann", "lobby", "/giphy cats").await;
    let spans = app
        .wait_for_spans(
            "giphy-service's GET span",
            "giphy-service wraps the Giphy search in a CLIENT span named \"GET\", also when \
             the search fails.",
            |s| !s.every("giphy-service", "GET").is_empty(),
        )
        .await;
    let hint = "When the Giphy search fails, the GET span gets an Error status and the attribute \
                error.type, a short name for the kind of failure, which the Giphy error gives \
                (for an error answer, its status code). The status code says it all, so the \
                Error has no description: the Giphy error says which description to give.";
    spans
        .one("giphy-service", "GET", "the Giphy search's CLIENT span")
        .has_attribute("http.response.status_code", 500, hint)
        .is_error(hint)
        .has_attribute("error.type", "500", hint);
    let stored = app
        .wait_for_message(
            "lobby",
            &message.id,
            "the /giphy message with an image",
            |m| m.image.is_some(),
        )
        .await;
    if stored.image.as_deref() != Some(FALLBACK_IMAGE) {
        spans.fail(
            &format!(
                "Giphy answered 500, and the message got the image {:?}, not the fallback {}",
                stored.image.as_deref().unwrap_or_default(),
                FALLBACK_IMAGE
            ),
            "A failed search is answered with the bundled fallback image: the chat should not \
             break because Giphy did.",
        );
    }
    app.stop().await;
}

/// A request chat-api refuses (400) is the client's mistake, not chat-api's failure: its span
/// records the status code and leaves the status unset.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_request_is_not_an_error() {
    let app = TestApp::start(Step).await;
    let (status, _) = app
        .post_json(&serde_json::json!({"author": "ann", "room": "no spaces!", "message": "hi"}))
        .await;
    assert_eq!(status, 400);
    let spans = app
        .wait_for_spans("chat-api's POST span", SERVER_SPAN, |s| {
            s.has("chat-api", "POST /message")
        })
        .await;
    spans
        .one("chat-api", "POST /message", SERVER_SPAN)
        .has_attribute("http.response.status_code", 400, SERVER_SPAN)
        .is_ok(
            "For a server, a 4xx answer is the client's mistake: set Error only for 5xx \
             (StatusCode::is_server_error).",
        );
    app.stop().await;
}

/// `GET /message` has its SERVER span too.
#[tokio::test(flavor = "multi_thread")]
async fn reading_messages_is_traced() {
    let app = TestApp::start(Step).await;
    app.messages("lobby").await;
    let spans = app
        .wait_for_spans("chat-api's GET span", SERVER_SPAN, |s| {
            s.has("chat-api", "GET /message")
        })
        .await;
    spans
        .one("chat-api", "GET /message", SERVER_SPAN)
        .is_kind(SpanKind::Server, SERVER_SPAN)
        .has_attribute("http.request.method", "GET", SERVER_SPAN)
        .has_attribute("http.route", "/message", SERVER_SPAN)
        .has_attribute("http.response.status_code", 200, SERVER_SPAN);
    app.stop().await;
}

/// Spans really leave the process over OTLP, by gRPC (the default) and by HTTP, and the
/// providers flush their last batch when the app stops.
#[tokio::test(flavor = "multi_thread")]
async fn spans_are_exported_over_otlp() {
    for (protocol, receiver) in [
        ("grpc", otlp::grpc().await),
        ("http/protobuf", otlp::http().await),
    ] {
        let config = Config {
            otlp: Otlp::To {
                endpoint: receiver.endpoint.clone(),
                http: protocol != "grpc",
            },
            ..Config::embedded()
        };
        let app = TestApp::start_with(Step, config).await;
        let sent = app.post("ann", "lobby", "hello").await;
        app.wait_for_spans("both consumers' spans", PROVIDER, |s| {
            s.has("storage-service", "process message") && s.has("giphy-service", "process message")
        })
        .await;
        // Stopping shuts the providers down, which exports what is still batched.
        app.stop().await;
        let hint = format!(
            "Did telemetry::init add the OTLP exporter (telemetry.otlp.exporter()) with \
             with_batch_exporter, and does every service build its provider with \
             telemetry::init? (protocol {protocol})"
        );
        for (service, name) in [
            ("chat-api", "POST /message"),
            ("storage-service", "process message"),
            ("giphy-service", "process message"),
        ] {
            let got = receiver
                .wait_for(service, name, Duration::from_secs(5))
                .await;
            assert!(
                got.is_some(),
                "\n✗ the OTLP receiver ({protocol}) never got {service}'s {name:?}; it got {:?}\n  hint: {hint}",
                receiver.received()
            );
        }
        let post = receiver
            .wait_for("chat-api", "POST /message", Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(Some(post.trace_id), sent.trace_id);
    }
}
