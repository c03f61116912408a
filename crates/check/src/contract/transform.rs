//! Step 06's contract, which steps 06 to 08 check: giphy-service consumes, calls Giphy and
//! produces, and the trace follows it across the HTTP hop, through failures, and through a
//! retried send, in both `--consumer-trace` modes. Each function is one test.

use std::time::Duration;

use crate::contract::hint;
use crate::giphy::{Behaviour, IMAGE, TestGiphy};
use crate::{SpanRef, Spans, TestApp};
use opentelemetry::trace::{SpanKind, Status};
use talk::giphy::FALLBACK_IMAGE;
use talk::{Config, ConsumerTrace, Message, Services};

const INJECT_RAW: &str = "The Giphy request must carry the GET span's context: in giphy.rs, \
    Giphy::search, inject `cx` (the context that holds the GET span) into a HeaderMap with \
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut headers)) from \
    opentelemetry_http, and send it with self.client.search_with_headers(query, headers).";
const INJECT_TRACING: &str = "The Giphy request must carry the GET span's context: in giphy.rs, Giphy::search, inside the GET span, inject Span::current().context() into a HeaderMap with TraceContextPropagator and opentelemetry_http's HeaderInjector, and send it with self.client.search_with_headers(query, headers).";
const ERROR_TYPE_RAW: &str = "When the search fails, the GET span gets status Error and the \
    attribute error.type (ERROR_TYPE), a short name for the failure: in giphy.rs, \
    Giphy::search, in the Err arm, error.error_type() gives it.";
const ERROR_TYPE_TRACING: &str = "When the search fails, the GET span gets status Error (span.set_status) and the attribute error.type: span.record(ERROR_TYPE, ..) with error.error_type(), the field declared Empty in info_span!.";
const KEEP: &str = "A failed re-publish is retried: the consume loop calls handle again with \
    the same record. Keep the image that the first try found (Giphy::found, with the \
    message's id) and use it on the retry instead of searching again, in Giphy::answer.";

/// `giphy.rs`'s GET span for the one `/giphy` message of a check.
fn get_span<'a>(spans: &'a Spans) -> SpanRef<'a> {
    spans
        .one("giphy-service", "GET", "the Giphy CLIENT span from step 02")
        .is_kind(
            SpanKind::Client,
            "a call to another service is a CLIENT span",
        )
}

/// Posts `/giphy cats` and waits until storage-service has processed the re-published record:
/// until one of its process spans (one per record, or from step 07 one per batch) links to
/// giphy-service's re-publish.
async fn giphy_cats(app: &TestApp) -> (Message, Spans) {
    let message = app.post("ann", "lobby", "/giphy cats").await;
    let spans = app
        .wait_for_spans(
            "the /giphy journey",
            hint(INJECT_RAW, INJECT_TRACING),
            |s| {
                let republishes: Vec<_> = s
                    .every("giphy-service", "send message")
                    .iter()
                    .map(SpanRef::span_id)
                    .collect();
                s.every("storage-service", "process message")
                    .iter()
                    .any(|p| {
                        p.data()
                            .span
                            .links
                            .iter()
                            .any(|l| republishes.contains(&l.span_context.span_id()))
                    })
            },
        )
        .await;
    (message, spans)
}

/// The request that reached Giphy carried a `traceparent` naming giphy-service's GET span.
pub async fn the_giphy_request_carries_the_get_span<S: Services>(step: S) {
    let giphy = TestGiphy::start(Behaviour::Images).await;
    let config = Config {
        giphy_base_url: Some(giphy.base_url.clone()),
        ..Config::embedded()
    };
    let app = TestApp::start_with(step.clone(), config).await;
    let (_, spans) = giphy_cats(&app).await;
    let get = get_span(&spans);
    let received = giphy.traceparents();
    let Some(Some(traceparent)) = received.first() else {
        spans.fail(
            "the Giphy request carried no traceparent header",
            hint(INJECT_RAW, INJECT_TRACING),
        );
    };
    let expected = format!("00-{}-{}-01", get.trace_id(), get.span_id());
    if *traceparent != expected {
        let process = spans.one("giphy-service", "process message", "from step 02");
        let named = if traceparent.contains(&process.span_id().to_string()) {
            "giphy-service's process span: inject the GET span's context (`cx` in search), \
             not the `parent` it was given"
        } else {
            "no span of giphy-service's GET"
        };
        spans.fail(
            &format!(
                "the Giphy request's traceparent is {traceparent}, which names {named}; the GET \
                 span's would be {expected}"
            ),
            hint(INJECT_RAW, INJECT_TRACING),
        );
    }
    app.stop().await;
}

/// The local stand-in continues the trace it is handed: a `giphy-api` SERVER span, a child of
/// giphy-service's GET.
pub async fn the_stand_in_continues_the_trace_as_giphy_api<S: Services>(step: S) {
    let app = TestApp::start(step.clone()).await;
    app.post("ann", "lobby", "/giphy cats").await;
    let spans = app
        .wait_for_spans("giphy-api's span", hint(INJECT_RAW, INJECT_TRACING), |s| {
            // giphy-service's process span too, so that a wrong parent can be named.
            s.has("giphy-api", "GET /v1/gifs/search")
                && s.has("giphy-service", "GET")
                && s.has("giphy-service", "process message")
        })
        .await;
    let get = get_span(&spans);
    spans
        .one(
            "giphy-api",
            "GET /v1/gifs/search",
            hint(INJECT_RAW, INJECT_TRACING),
        )
        .is_kind(SpanKind::Server, "the stand-in's span is a SERVER span")
        .is_child_of(&get, hint(INJECT_RAW, INJECT_TRACING));
    app.stop().await;
}

/// From storage-service's processing of the re-published record, parents and links lead back
/// to chat-api's POST, whichever way the consumers start their traces.
pub async fn the_chain_leads_back_to_the_post_in_both_modes<S: Services>(step: S) {
    for consumer_trace in [ConsumerTrace::Same, ConsumerTrace::New] {
        let config = Config {
            consumer_trace,
            ..Config::embedded()
        };
        let app = TestApp::start_with(step.clone(), config).await;
        let (message, spans) = giphy_cats(&app).await;
        let republish = spans.one("giphy-service", "send message", "from step 03");
        republish.is_ok("the re-publish worked");
        let process = spans.one("giphy-service", "process message", "from step 02");
        republish.is_child_of(
            &process,
            "giphy-service's re-publish is part of its work on the record: a child of its \
             process span (send_message gets the `cx` that start_process returned).",
        );
        let Some(stored) = spans
            .every("storage-service", "process message")
            .into_iter()
            .find(|p| {
                p.data()
                    .span
                    .links
                    .iter()
                    .any(|l| l.span_context.span_id() == republish.span_id())
            })
        else {
            spans.fail(
                "no storage-service process span links to giphy-service's re-publish",
                "giphy-service's send_message injects the context that holds its own send span, \
                 and storage-service links to the context its record carries (step 05).",
            );
        };
        let chain = stored.causes();
        let names: Vec<String> = chain.iter().map(SpanRef::label).collect();
        let origin = chain.last().unwrap();
        if origin.data().service != "chat-api" || origin.data().span.name != "POST /message" {
            spans.fail(
                &format!(
                    "in {consumer_trace:?} mode, following parents and links back from \
                     storage-service's second process span ends at {}, not at chat-api's POST \
                     /message: {}",
                    origin.label(),
                    names.join(" ← ")
                ),
                "Each span on the way must have its parent or its link: the re-publish a child \
                 of giphy-service's process span, which links to chat-api's send span.",
            );
        }
        let stored_message = app
            .wait_for_message("lobby", &message.id, "the image", |m| m.image.is_some())
            .await;
        assert!(stored_message.image.is_some());
        app.stop().await;
    }
}

/// Giphy dead, answering 500, answering garbage, or too slow: the GET span is an Error with
/// `error.type`, and the message still gets an image, the bundled fallback.
pub async fn a_failing_giphy_gives_an_error_span_and_the_fallback_image<S: Services>(step: S) {
    let slow = Duration::from_millis(300);
    let servers = [
        ("dead", None, "unreachable"),
        (
            "answering 500",
            Some(TestGiphy::start(Behaviour::ServerError).await),
            "500",
        ),
        (
            "answering garbage",
            Some(TestGiphy::start(Behaviour::Garbage).await),
            "bad_answer",
        ),
        (
            "too slow",
            Some(TestGiphy::start(Behaviour::Slow(slow * 4)).await),
            "timeout",
        ),
    ];
    for (case, server, error_type) in servers {
        let base_url = server
            .as_ref()
            .map_or_else(TestGiphy::dead, |s| s.base_url.clone());
        let config = Config {
            giphy_base_url: Some(base_url),
            giphy_timeout: slow,
            ..Config::embedded()
        };
        let app = TestApp::start_with(step.clone(), config).await;
        let (message, spans) = giphy_cats(&app).await;
        let get = get_span(&spans);
        if !matches!(get.data().span.status, Status::Error { .. }) {
            spans.fail(
                &format!("with Giphy {case}, the GET span is not an Error"),
                hint(ERROR_TYPE_RAW, ERROR_TYPE_TRACING),
            );
        }
        get.has_attribute(
            "error.type",
            error_type,
            hint(ERROR_TYPE_RAW, ERROR_TYPE_TRACING),
        );
        let stored = app
            .wait_for_message("lobby", &message.id, "the fallback image", |m| {
                m.image.is_some()
            })
            .await;
        assert_eq!(
            stored.image.as_deref(),
            Some(FALLBACK_IMAGE),
            "with Giphy {case}, the message should get the fallback image"
        );
        app.stop().await;
    }
}

/// Kafka refuses the re-publish once: the retry sends again, with the image found the first
/// time, and does not search again.
pub async fn a_failed_republish_is_retried_without_searching_again<S: Services>(step: S) {
    let giphy = TestGiphy::held().await;
    let config = Config {
        giphy_base_url: Some(giphy.base_url.clone()),
        ..Config::embedded()
    };
    let app = TestApp::start_with(step.clone(), config).await;
    let message = app.post("ann", "lobby", "/giphy cats").await;
    // While Giphy holds its answer, chat-api's send is done and giphy-service's re-publish is
    // the next send: make Kafka refuse it.
    let asked = giphy.wait_for_requests(1, crate::PATIENCE).await;
    assert_eq!(asked, 1, "giphy-service should ask Giphy once");
    app.fail_next_sends(1);
    // Two answers: a second search, if the code makes one, is answered too, so the check can
    // count it rather than wait for it.
    giphy.release(2);

    let stored = app
        .wait_for_message("lobby", &message.id, "the image, after a retry", |m| {
            m.image.as_deref() == Some(IMAGE)
        })
        .await;
    assert_eq!(stored.image.as_deref(), Some(IMAGE));
    let spans = app
        .wait_for_spans("two giphy-service sends", KEEP, |s| {
            s.count("giphy-service", "send message") >= 2
        })
        .await;
    // Give a second search, if the code makes one, the time to arrive.
    let searches = giphy.wait_for_requests(2, Duration::from_millis(300)).await;
    let gets = spans.count("giphy-service", "GET");
    if searches > 1 || gets > 1 {
        spans.fail(
            &format!(
                "the retry searched again: Giphy was asked {searches} times, and \
                 giphy-service made {gets} GET spans"
            ),
            KEEP,
        );
    }
    let sends = spans.every("giphy-service", "send message");
    let failed = sends
        .iter()
        .filter(|s| matches!(s.data().span.status, Status::Error { .. }))
        .count();
    assert_eq!(
        failed, 1,
        "one re-publish failed, and its send span says so; the other worked"
    );

    // The kept image was for that message only: the next one is searched for.
    let next = app.post("ann", "lobby", "/giphy dogs").await;
    giphy.release(1);
    let searches = giphy.wait_for_requests(2, crate::PATIENCE).await;
    if searches < 2 {
        let spans = app.spans();
        spans.fail(
            "the next /giphy message was not searched for: it got the image kept for the \
             message before",
            "In giphy.rs, Giphy::answer: keep the image with the id of its message, and use \
             it only for a retry of that same message; take it out of the slot when you use \
             it (Option::take).",
        );
    }
    app.wait_for_message("lobby", &next.id, "the next image", |m| m.image.is_some())
        .await;
    app.stop().await;
}
