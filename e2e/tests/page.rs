//! The chat page in a real browser (headless Chromium through ChromeDriver). Skipped, with a
//! reason, where ChromeDriver is not installed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use check::TestApp;
use fantoccini::{Client, ClientBuilder, Locator};
use solution_08::Step;

/// ChromeDriver on a free port; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Option<Driver> {
    let port = check::servers::free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(child) => Some(Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }),
        Err(error) => {
            eprintln!("SKIPPED: this test needs `chromedriver` and Chromium ({error}).");
            eprintln!("         Debian: apt install chromium chromium-driver");
            None
        }
    }
}

async fn browser(driver: &Driver) -> Client {
    // The flags keep Chromium from reaching out to the network, which a closed network refuses.
    let options = serde_json::json!({
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 format!("--user-data-dir={}", tempdir())],
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match ClientBuilder::rustls()
            .expect("TLS roots for the WebDriver client")
            .capabilities(capabilities.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return client,
            Err(error) if Instant::now() > deadline => panic!("ChromeDriver: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn tempdir() -> String {
    let dir = std::env::temp_dir().join(format!(
        "talk-chromium-{}-{}",
        std::process::id(),
        fastrand()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.display().to_string()
}

fn fastrand() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// The message on the page whose text is exactly `text`, if it is shown. The page re-renders
/// as messages arrive, so elements found earlier may be gone: look again every time.
async fn find_message(browser: &Client, text: &str) -> Option<fantoccini::elements::Element> {
    for message in browser
        .find_all(Locator::Css("#messages .message"))
        .await
        .ok()?
    {
        let shown = message
            .find(Locator::Css(".text"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        if shown == text {
            return Some(message);
        }
    }
    None
}

/// Types `text`, sends it, and waits until the page shows it and `done` holds for it.
async fn send_and_wait<F>(browser: &Client, text: &str, what: &str, done: F)
where
    F: AsyncFn(&fantoccini::elements::Element) -> Option<()>,
{
    let input = browser.find(Locator::Css("#message-input")).await.unwrap();
    input.send_keys(text).await.unwrap();
    browser
        .find(Locator::Css("#send-button"))
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
    let Some(driver) = start_driver() else { return };
    let app = TestApp::start(Step).await;
    let browser = browser(&driver).await;
    browser.goto(&format!("{}/", app.base)).await.unwrap();

    let nickname = browser
        .find(Locator::Css("#nickname"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(nickname.starts_with("guest-"), "nickname: {nickname:?}");
    let placeholder = browser
        .find(Locator::Css("#message-input"))
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
            let author = m
                .find(Locator::Css(".author"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            (author == nickname).then_some(())
        },
    )
    .await;

    let attack = "<img src=x onerror=\"document.title='pwned'\"> <b>bold?</b>";
    send_and_wait(&browser, attack, "as text", async |m| {
        let elements = m.find_all(Locator::Css(".text img, .text b")).await.ok()?;
        assert!(
            elements.is_empty(),
            "the message's HTML was rendered as elements"
        );
        Some(())
    })
    .await;
    assert_ne!(
        browser.title().await.unwrap(),
        "pwned",
        "the message's script ran"
    );

    send_and_wait(&browser, "/giphy cats", "with a cat image", async |m| {
        let image = m.find(Locator::Css("img.image")).await.ok()?;
        let src = image.attr("src").await.ok()??;
        src.contains("/images/cats-").then_some(())
    })
    .await;

    browser.close().await.unwrap();
    app.stop().await;
}
