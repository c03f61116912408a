//! The trace view, `GET /trace/{id}` on chat-api, in a real browser: the chat page's "trace"
//! link opens a message's trace with no Jaeger running, and a link leads to the trace it
//! points to. Skipped, with a reason, where ChromeDriver is not installed.

mod browser;

use std::time::{Duration, Instant};

use browser::{Browser, Driver};
use check::TestApp;
use solution_09::Step;
use talk::config::{Config, ConsumerTrace};

/// How long spans may take to end and show up in the view.
const PATIENCE: Duration = Duration::from_secs(20);

/// Loads `url` until the page's text has every one of `wanted`, and returns that text.
async fn load_until(browser: &Browser, url: &str, wanted: &[&str]) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        browser.goto(url).await;
        let text = browser.find("body").await.unwrap().text().await.unwrap();
        if wanted.iter().all(|w| text.contains(w)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never showed all of {wanted:?}; it showed:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A message sent from the chat page has a "trace" link that names its trace's first digits
/// and, with no Jaeger, opens the trace drawn by chat-api: every service that took part. The
/// newest step stores messages in batches, each batch a trace of its own (step 07), so
/// storage-service shows under "Followed by".
#[tokio::test(flavor = "multi_thread")]
async fn the_trace_link_opens_the_message_trace_without_jaeger() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = TestApp::start(Step).await;
    let browser = driver.browser().await;
    browser.goto(&format!("{}/", app.base)).await;

    browser
        .find("#message-input")
        .await
        .unwrap()
        .send_keys("/giphy cats")
        .await
        .unwrap();
    browser
        .find("#send-button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The link appears once the message is stored and the page has polled it.
    let deadline = Instant::now() + PATIENCE;
    let (text, href) = loop {
        if let Ok(link) = browser.find("#messages .message .trace-link").await
            && let (Ok(text), Ok(Some(href))) = (link.text().await, link.attr("href").await)
        {
            break (text, href);
        }
        assert!(Instant::now() < deadline, "no trace link on the message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let trace_id = href.strip_prefix("/trace/").expect("a /trace/{id} link");
    assert_eq!(trace_id.len(), 32, "{href}");
    assert_eq!(text, format!("trace {}", &trace_id[..8]));

    let page = load_until(
        &browser,
        &format!("{}{href}", app.base),
        &["chat-api", "giphy-service", "giphy-api", "Followed by"],
    )
    .await;
    assert!(page.contains(trace_id), "the page names its trace:\n{page}");
    for span in [
        "POST /message",
        "send message",
        "process message",
        "GET /v1/gifs/search",
        "process message (storage-service)",
    ] {
        assert!(page.contains(span), "{span} is missing:\n{page}");
    }

    browser.close().await;
    app.stop().await;
}

/// Step 05 with `--consumer-trace new`: storage-service's work is a trace of its own. Its link
/// leads to chat-api's send span in the message's trace, and that trace lists it under
/// "Followed by".
#[tokio::test(flavor = "multi_thread")]
async fn a_link_leads_to_the_trace_it_points_to() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let mut config = Config::embedded();
    config.consumer_trace = ConsumerTrace::New;
    let app = TestApp::start_with(solution_05::Step, config).await;
    let message = app.post("ada", "lobby", "follow me").await;
    let spans = app
        .wait_for_spans("storage's process span", "", |spans| {
            spans.has("storage-service", "process message") && spans.has("chat-api", "send message")
        })
        .await;
    let process = spans.one("storage-service", "process message", "");
    let send = spans.one("chat-api", "send message", "");
    assert_ne!(
        process.trace_id(),
        send.trace_id(),
        "new mode starts a trace"
    );
    assert_eq!(message.trace_id.as_deref(), Some(send.trace_id().as_str()));

    let browser = driver.browser().await;
    let consumer_trace = format!("{}/trace/{}?local", app.base, process.trace_id());
    load_until(
        &browser,
        &consumer_trace,
        &["process message", "link to send message"],
    )
    .await;
    browser
        .find(".link a")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let landed = browser.current_url().await;
    assert!(
        landed.contains(&format!("/trace/{}", send.trace_id()))
            && landed.ends_with(&format!("#span-{}", send.span_id())),
        "the link should lead to the send span in the message's trace; it led to {landed}"
    );
    let page = browser.find("body").await.unwrap().text().await.unwrap();
    assert!(
        page.contains("send message") && page.contains("Followed by"),
        "{page}"
    );
    let mut followers = Vec::new();
    for link in browser.find_all(".followers a").await.unwrap() {
        followers.push(link.attr("href").await.unwrap().unwrap_or_default());
    }
    assert!(
        followers
            .iter()
            .any(|href| href.contains(&process.trace_id())),
        "storage-service's trace should be among the followers: {followers:?}"
    );

    browser.close().await;
    app.stop().await;
}
