//! The chat page in a real browser (headless Chromium through ChromeDriver). Skipped, with a
//! reason, where ChromeDriver is not installed.

mod browser;

use std::time::{Duration, Instant};

use browser::{Browser, Driver, Element};
use check::TestApp;
use solution_09::Step;

/// The message on the page whose text is exactly `text`, if it is shown. The page re-renders
/// as messages arrive, so elements found earlier may be gone: look again every time.
async fn find_message<'a>(browser: &'a Browser, text: &str) -> Option<Element<'a>> {
    for message in browser.find_all("#messages .message").await.ok()? {
        let shown = message.find(".text").await.ok()?.text().await.ok()?;
        if shown == text {
            return Some(message);
        }
    }
    None
}

/// Types `text`, sends it, and waits until the page shows it and `done` holds for it.
async fn send_and_wait<F>(browser: &Browser, text: &str, what: &str, done: F)
where
    F: AsyncFn(&Element<'_>) -> Option<()>,
{
    let input = browser.find("#message-input").await.unwrap();
    input.send_keys(text).await.unwrap();
    browser
        .find("#send-button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + check::PATIENCE;
    loop {
        if let Some(message) = find_message(browser, text).await
            && done(&message).await.is_some()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {text:?} {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A learner types messages and sees them appear, with their nickname; a message that looks
/// like HTML is shown as text, never run; `/giphy` shows an image.
#[tokio::test(flavor = "multi_thread")]
async fn the_chat_page_shows_messages_as_text() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = TestApp::start(Step).await;
    let browser = driver.browser().await;
    browser.goto(&format!("{}/", app.base)).await;

    let nickname = browser
        .find("#nickname")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(nickname.starts_with("guest-"), "nickname: {nickname:?}");
    let placeholder = browser
        .find("#message-input")
        .await
        .unwrap()
        .attr("placeholder")
        .await
        .unwrap();
    assert_eq!(placeholder.as_deref(), Some("Try '/giphy <topic>'"));

    send_and_wait(
        &browser,
        "hello from the browser",
        "with the nickname",
        async |m| {
            let author = m.find(".author").await.ok()?.text().await.ok()?;
            (author == nickname).then_some(())
        },
    )
    .await;

    let attack = "<img src=x onerror=\"document.title='pwned'\"> <b>bold?</b>";
    send_and_wait(&browser, attack, "as text", async |m| {
        let elements = m.find_all(".text img, .text b").await.ok()?;
        assert!(
            elements.is_empty(),
            "the message's HTML was rendered as elements"
        );
        Some(())
    })
    .await;
    assert_ne!(browser.title().await, "pwned", "the message's script ran");

    send_and_wait(&browser, "/giphy cats", "with a cat image", async |m| {
        let image = m.find("img.image").await.ok()?;
        let src = image.attr("src").await.ok()??;
        src.contains("/images/cats-").then_some(())
    })
    .await;

    browser.close().await;
    app.stop().await;
}
