//! Step 06's contract, which steps 06 to 08 check: giphy-service consumes, calls Giphy and
//! produces, and the trace follows it across the HTTP hop, through failures, and through a
//! retried send, in both `--consumer-trace` modes. Each function is one test.

use std::time::Duration;

use crate::contract::{DECOY, each_made_spans, follows_from, hint};
use crate::finding::Hint;
use crate::giphy::{Behaviour, IMAGE, TestGiphy};
use crate::trace::About;
use crate::{SpanRef, Spans, TestApp};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use talk::giphy::FALLBACK_IMAGE;
use talk::{Config, ConsumerTrace, Message, Services};

const INJECT_RAW: Hint = Hint::with_code(
    "context across HTTP",
    "The Giphy request must carry the GET span's context as its traceparent: in giphy.rs, \
     Giphy::search, inject the context that holds the GET span (not the parent that search \
     was given) into the request's headers, with the W3C trace-context propagator and \
     opentelemetry_http's header injector, and send the search with those headers.",
    "let mut headers = HeaderMap::new(); \
     TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut headers)); \
     then self.client.search_with_headers(query, headers)",
);
const INJECT_TRACING: Hint = Hint::with_code(
    "context across HTTP",
    "The Giphy request must carry the GET span's context as its traceparent: in giphy.rs, \
     Giphy::search, inside the GET span, inject that span's OpenTelemetry context into the \
     request's headers, with the W3C trace-context propagator and opentelemetry_http's header \
     injector, and send the search with those headers.",
    "TraceContextPropagator::new().inject_context(&Span::current().context(), \
     &mut HeaderInjector(&mut headers)); then self.client.search_with_headers(query, headers)",
);
const ERROR_TYPE_RAW: Hint = Hint::with_code(
    "error.type",
    "When the search fails, the GET span gets status Error and the attribute error.type \
     (the constant ERROR_TYPE), a short name for the kind of failure, which the error itself \
     gives: in giphy.rs, Giphy::search, where the search failed.",
    "span.set_attribute(KeyValue::new(ERROR_TYPE, error.error_type()))",
);
const ERROR_TYPE_TRACING: Hint = Hint::with_code(
    "error.type",
    "When the search fails, the GET span gets status Error and the attribute error.type, a \
     short name for the kind of failure, which the error itself gives: in giphy.rs, \
     Giphy::search, the field declared empty on the GET span, recorded where the search \
     failed.",
    "span.record(ERROR_TYPE, error.error_type().as_str()); span.set_status(Status::error(..))",
);
const KEEP: Hint = Hint::with_code(
    "a retry redoes only what failed",
    "A failed re-publish is retried: the consume loop calls handle again with the same \
     record. In giphy.rs, Giphy::answer, keep the image that the first try found, with the \
     message's id, in the slot Giphy::found, and use it on the retry instead of searching \
     again.",
    "let kept = self.found.lock().unwrap().take(); match kept { Some((id, image)) if id == \
     message.id => image, _ => self.search(query, cx).await }; and when send_message fails: \
     *self.found.lock().unwrap() = Some((answered.id, image))",
);
/// The consume loop retries a failed record, not the handler: each try is its own process
/// span, and the one that failed says so.
const RETRY_BY_THE_LOOP: Hint = Hint::with_code(
    "a retry redoes only what failed",
    "When the re-publish fails, answer returns the error: handle then marks the process span \
     an Error and asks the consume loop to try the record again, later, as a new try with a \
     process span of its own (chapter 06, \"A retry redoes only what failed\"). In giphy.rs, \
     Giphy::answer: keep the image for that try, and hand the failure back instead of trying \
     again inside the same try.",
    "if let Err(error) = send_message(..).await { *self.found.lock().unwrap() = \
     Some((answered.id, image)); return Err(error); }",
);
const REPUBLISH_CHILD: Hint = Hint::new(
    "the re-publish as the consumer's work",
    "giphy-service's re-publish is part of its work on the record: a child of the process \
     span of the try that sends it. In giphy.rs, answer hands send_message the context it was \
     given, the one that holds that try's process span.",
);

/// Fails about `aspect` of giphy-service's span `span`, which places the finding in the
/// chapter's task that teaches it (the task markers name the span and the service).
#[track_caller]
fn fail_on(spans: &Spans, aspect: &'static str, span: &str, what: &str, hint: Hint) -> ! {
    let about = About {
        aspect,
        span: Some(span),
        service: Some("giphy-service"),
        concept: "consume, transform, produce",
    };
    spans.fail_about(about, what, hint)
}

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
    each_made_spans(app, &["giphy-service", "storage-service"]).await;
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
        fail_on(
            &spans,
            "trace",
            "GET",
            "the Giphy request carried no traceparent header",
            hint(INJECT_RAW, INJECT_TRACING),
        );
    };
    let expected = format!("00-{}-{}-01", get.trace_id(), get.span_id());
    if *traceparent != expected {
        let process = spans.one("giphy-service", "process message", "from step 02");
        let named = if traceparent.contains(&process.span_id().to_string()) {
            "giphy-service's process span, the parent that search was given, not the GET span"
                .to_owned()
        } else if traceparent.contains(crate::DECOY_SPAN_ID) {
            format!(
                "{DECOY}: the context injected was the current one, not the one that holds \
                 the GET span"
            )
        } else {
            "no span of giphy-service's GET".to_owned()
        };
        fail_on(
            &spans,
            "trace",
            "GET",
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
    each_made_spans(&app, &["giphy-service"]).await;
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
        republish.is_child_of(&process, REPUBLISH_CHILD);
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
                Hint::new(
                    "span links",
                    "giphy-service's send_message injects the context that holds its own send \
                     span, and storage-service links to the context its record carries (step \
                     05).",
                ),
            );
        };
        // A link taken from the current context leads nowhere: say so, not where the chain ends.
        for service in ["giphy-service", "storage-service"] {
            for process in spans.every(service, "process message") {
                crate::contract::has_no_decoy_link(&spans, &process);
            }
        }
        let chain = stored.causes();
        let names: Vec<String> = chain.iter().map(SpanRef::label).collect();
        let origin = chain.last().unwrap();
        if origin.data().service != "chat-api" || origin.data().span.name != "POST /message" {
            // chat-api's send with no parent: chat-api's handler ran outside the POST's span.
            let hint = if origin.data().service == "chat-api" {
                crate::contract::hint(follows_from::POST_RAW, follows_from::POST_TRACING)
            } else {
                Hint::new(
                    "parents and links",
                    "Each span on the way must have its parent or its link: the re-publish a \
                     child of giphy-service's process span, which links to chat-api's send span.",
                )
            };
            spans.fail(
                &format!(
                    "in {consumer_trace:?} mode, following parents and links back from \
                     storage-service's second process span ends at {}, not at chat-api's POST \
                     /message: {}",
                    origin.label(),
                    names.join(" ← ")
                ),
                hint,
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
            fail_on(
                &spans,
                "status",
                "GET",
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
        if stored.image.as_deref() != Some(FALLBACK_IMAGE) {
            fail_on(
                &spans,
                "status",
                "GET",
                &format!(
                    "with Giphy {case}, the message got the image {:?}, not the fallback {}",
                    stored.image.as_deref().unwrap_or_default(),
                    FALLBACK_IMAGE
                ),
                Hint::new(
                    "failures are data",
                    "A failed search is answered with the bundled fallback image, whatever \
                     the failure: in giphy.rs, Giphy::search, where the search failed.",
                ),
            );
        }
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
    each_made_spans(&app, &["giphy-service"]).await;
    // Both re-publishes, and the process span of each: a span is captured when it ends, and a
    // process span ends after the send inside it.
    let spans = app
        .wait_for_spans("two giphy-service sends", &KEEP, |s| {
            let sends = s.every("giphy-service", "send message");
            sends.len() >= 2
                && sends.iter().all(|send| {
                    let parent = send.data().span.parent_span_id;
                    parent == SpanId::INVALID || s.by_id(parent).is_some()
                })
        })
        .await;
    // Give a second search, if the code makes one, the time to arrive.
    let searches = giphy.wait_for_requests(2, Duration::from_millis(300)).await;
    let gets = spans.count("giphy-service", "GET");
    if searches > 1 || gets > 1 {
        fail_on(
            &spans,
            "retry",
            "send message",
            &format!(
                "the retry searched again: Giphy was asked {searches} times, and \
                 giphy-service made {gets} GET spans"
            ),
            KEEP,
        );
    }
    each_try_is_its_own_process_span(&spans, &message);

    // The kept image was for that message only: the next one is searched for.
    let next = app.post("ann", "lobby", "/giphy dogs").await;
    giphy.release(1);
    let searches = giphy.wait_for_requests(2, crate::PATIENCE).await;
    if searches < 2 {
        let spans = app.spans();
        fail_on(
            &spans,
            "retry",
            "send message",
            "the next /giphy message was not searched for: it got the image kept for the \
             message before",
            Hint::with_code(
                "a retry redoes only what failed",
                "In giphy.rs, Giphy::answer: keep the image with the id of its message, and use \
                 it only for a retry of that same message. Empty the slot whenever a try \
                 begins, so that a kept image serves one retry and never the next message.",
                "let kept = self.found.lock().unwrap().take(); at the start of answer",
            ),
        );
    }
    app.wait_for_message("lobby", &next.id, "the next image", |m| m.image.is_some())
        .await;
    app.stop().await;
}

/// The trace of a retried re-publish (chapter 06, "A retry redoes only what failed"): each try is
/// a `process message` span of its own; the first holds the refused send and is an Error, the
/// second holds the send that worked.
#[track_caller]
fn each_try_is_its_own_process_span(spans: &Spans, message: &Message) {
    for process in spans.every("giphy-service", "process message") {
        crate::contract::has_no_decoy_link(spans, &process);
    }
    let sends = spans.every("giphy-service", "send message");
    let is_error = |send: &&SpanRef<'_>| matches!(send.data().span.status, Status::Error { .. });
    let (Some(refused), Some(worked)) = (
        sends.iter().find(is_error),
        sends.iter().find(|send| !is_error(send)),
    ) else {
        fail_on(
            spans,
            "status",
            "send message",
            &format!(
                "Kafka refused one re-publish of {:?}, so one giphy-service send span should be \
                 an Error and the other not; {} of {} are",
                message.message,
                sends.iter().filter(is_error).count(),
                sends.len()
            ),
            Hint::new(
                "a retry redoes only what failed",
                "Each try sends once, with a send span of its own, and the refused send's span \
                 says so (messaging.rs, send_message, from step 03).",
            ),
        );
    };
    // The try of each send is its parent: giphy-service's process span of that try.
    let try_of = |send: &SpanRef<'_>| {
        spans
            .by_id(send.data().span.parent_span_id)
            .filter(|p| {
                p.data().service == "giphy-service" && p.data().span.name == "process message"
            })
            .unwrap_or_else(|| {
                fail_on(
                    spans,
                    "republish",
                    "send message",
                    &format!(
                        "a re-publish of {:?} is not inside a giphy-service \"process message\" \
                         span",
                        message.message
                    ),
                    REPUBLISH_CHILD,
                )
            })
    };
    let (first, second) = (try_of(refused), try_of(worked));
    if first.span_id() == second.span_id() {
        fail_on(
            spans,
            "retry",
            "send message",
            &format!(
                "Kafka refused giphy-service's re-publish of {:?} once, and both sends, the \
                 refused one and the one that worked, are in one \"process message\" span: the \
                 retry should be a try of its own, by the consume loop, with a process span of \
                 its own",
                message.message
            ),
            RETRY_BY_THE_LOOP,
        );
    }
    if !matches!(first.data().span.status, Status::Error { .. }) {
        fail_on(
            spans,
            "retry",
            "send message",
            &format!(
                "the try whose re-publish Kafka refused, {}, is not an Error: a try that \
                 failed says so",
                first.label()
            ),
            RETRY_BY_THE_LOOP,
        );
    }
}
