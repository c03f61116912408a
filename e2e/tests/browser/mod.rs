//! Headless Chromium through ChromeDriver, for the tests that look at a page as a learner does.
//!
//! This speaks the W3C WebDriver protocol (JSON over HTTP) with the `reqwest` client that the
//! workspace already builds, rather than through a WebDriver crate. The crates we tried pull in
//! their own TLS and Unicode stacks, which change the features of shared dependencies such as
//! `syn` and `rustls`; `cargo test -p solution-NN` then rebuilt the whole dependency graph a
//! second time after a workspace build, for every learner and on every CI run. The handful of
//! commands below are all the tests need.

// Each test file that drives a browser compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key under which WebDriver returns an element's id (fixed by the W3C spec).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// ChromeDriver on a free port; killed on drop.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts ChromeDriver, or says why the test is skipped and returns `None`.
    pub fn start() -> Option<Driver> {
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

    /// Opens a headless browser. ChromeDriver takes a moment to listen, so this retries for a
    /// while before it gives up.
    pub async fn browser(&self) -> Browser {
        // The flags keep Chromium from reaching out to the network, which a closed network
        // refuses; a fresh profile keeps runs apart.
        let profile = std::env::temp_dir().join(format!(
            "talk-chromium-{}-{}",
            std::process::id(),
            clock_nanos()
        ));
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ]},
        }}});
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = http
                .post(format!("{}/session", self.url))
                .json(&capabilities)
                .send()
                .await;
            match answer {
                Ok(response) => {
                    let value = unwrap_answer("new session", response).await;
                    let id = value["sessionId"]
                        .as_str()
                        .expect("a session id")
                        .to_string();
                    return Browser {
                        http,
                        session: format!("{}/session/{id}", self.url),
                        profile,
                    };
                }
                Err(error) if Instant::now() > deadline => panic!("ChromeDriver: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// The clock's nanoseconds, which tell apart two browsers of one test process.
fn clock_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// The `value` of a WebDriver answer, or a panic with the driver's own error message.
async fn unwrap_answer(command: &str, response: reqwest::Response) -> Value {
    let status = response.status();
    let mut body: Value = response.json().await.expect("WebDriver answers JSON");
    if !status.is_success() {
        panic!("WebDriver {command}: {status}: {}", body["value"]);
    }
    body["value"].take()
}

/// One browser session. Closed by [`Browser::close`]; ChromeDriver's exit ends it otherwise.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    profile: std::path::PathBuf,
}

/// An element on the current page. It goes stale when the page re-renders it.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let request = self.http.request(method, format!("{}{path}", self.session));
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let mut answer: Value = response.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(answer["value"].take())
        } else {
            Err(format!("{path}: {}", answer["value"]["message"]))
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.call(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, Value::Null).await
    }

    /// Loads `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await.unwrap();
    }

    /// The address of the page shown now, after any redirect.
    pub async fn current_url(&self) -> String {
        let url = self.get("/url").await.unwrap();
        url.as_str().unwrap_or_default().to_string()
    }

    pub async fn title(&self) -> String {
        let title = self.get("/title").await.unwrap();
        title.as_str().unwrap_or_default().to_string()
    }

    /// The first element that matches the CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element<'_>, String> {
        self.element_from("", css).await
    }

    /// Every element that matches the CSS selector, in page order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>, String> {
        self.elements_from("", css).await
    }

    async fn element_from(&self, scope: &str, css: &str) -> Result<Element<'_>, String> {
        let found = self
            .post(
                &format!("{scope}/element"),
                json!({ "using": "css selector", "value": css }),
            )
            .await?;
        Ok(self.element(&found))
    }

    async fn elements_from(&self, scope: &str, css: &str) -> Result<Vec<Element<'_>>, String> {
        let found = self
            .post(
                &format!("{scope}/elements"),
                json!({ "using": "css selector", "value": css }),
            )
            .await?;
        let list = found.as_array().cloned().unwrap_or_default();
        Ok(list.iter().map(|found| self.element(found)).collect())
    }

    fn element(&self, found: &Value) -> Element<'_> {
        Element {
            browser: self,
            id: found[ELEMENT_KEY].as_str().unwrap_or_default().to_string(),
        }
    }

    /// Sizes the window as a screen of `width` × `height` would (the page's viewport is a
    /// little smaller: the window's frame).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .unwrap();
    }

    /// Runs `script` (a function body: `return …;`) in the page and gives back its value.
    pub async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
            .unwrap()
    }

    /// Ends the session, which closes the browser, and removes its profile folder.
    pub async fn close(self) {
        let _ = self.call(reqwest::Method::DELETE, "", Value::Null).await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Element<'_> {
    fn path(&self) -> String {
        format!("/element/{}", self.id)
    }

    /// The first element inside this one that matches the CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element<'_>, String> {
        self.browser.element_from(&self.path(), css).await
    }

    /// Every element inside this one that matches the CSS selector.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>, String> {
        self.browser.elements_from(&self.path(), css).await
    }

    /// The element's rendered text.
    pub async fn text(&self) -> Result<String, String> {
        let text = self.browser.get(&format!("{}/text", self.path())).await?;
        Ok(text.as_str().unwrap_or_default().to_string())
    }

    /// An attribute's value, or `None` when the element does not have it.
    pub async fn attr(&self, name: &str) -> Result<Option<String>, String> {
        let value = self
            .browser
            .get(&format!("{}/attribute/{name}", self.path()))
            .await?;
        Ok(value.as_str().map(str::to_string))
    }

    /// Types `text` into the element.
    pub async fn send_keys(&self, text: &str) -> Result<(), String> {
        let path = format!("{}/value", self.path());
        self.browser.post(&path, json!({ "text": text })).await?;
        Ok(())
    }

    pub async fn click(&self) -> Result<(), String> {
        let path = format!("{}/click", self.path());
        self.browser.post(&path, json!({})).await?;
        Ok(())
    }
}
