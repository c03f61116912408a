//! The class board's page in a real browser (headless Chromium through ChromeDriver), as the
//! instructor sees it on the projector: a whole room's reports, one row per learner, names and
//! summaries shown as text, and each name linking to that learner's traces in the shared
//! Jaeger. Skipped, with a reason, where ChromeDriver is not installed.

mod browser;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use browser::{Browser, Driver, Element};
use class_board::{
    board::Board,
    http::{self, Class},
    store::ReportLog,
};
use serde_json::json;

const TOKEN: &str = "room-token";
const JAEGER_UI: &str = "http://jaeger.example:16686";

/// Names that would run a script or bold the row if the page put them in as HTML (each within
/// the board's 40 characters).
const HTML_NAMES: [&str; 2] = [
    "<img src=x onerror=document.title=1>",
    "<b>bold?</b> & \"quoted\"",
];

/// The board served in this process on a free port, with its log in a fresh folder.
async fn start_board() -> String {
    let dir = std::env::temp_dir().join(format!("class-board-page-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let steps = (1..=8).map(|n| format!("{n:02}"));
    let opened = ReportLog::open(&dir.join("reports.jsonl"), Board::new(steps)).unwrap();
    let class = Class::new(
        TOKEN.into(),
        Some(JAEGER_UI.into()),
        opened.board,
        opened.log,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = http::router(Arc::new(class));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// 30 learners send 10 reports each, all at once, as 30 laptops running checks would.
async fn a_room_reports(base: &str) -> Vec<String> {
    let mut names: Vec<String> = (1..=28).map(|n| format!("Learner {n:02}")).collect();
    names[0] = "Ada Lovelace".to_string();
    names.extend(HTML_NAMES.map(str::to_string));
    let http = reqwest::Client::new();
    let mut sends = Vec::new();
    for name in &names {
        for check in 0..10 {
            // The reports of one learner arrive in any order, so each step gets one result.
            let step = check % 4 + 1;
            let report = json!({
                "name": name,
                "step": format!("{step:02}"),
                "result": if step == 2 { "fail" } else { "pass" },
                "summary": "<script>document.title='pwned'</script>",
            });
            let request = http
                .post(format!("{base}/api/report"))
                .bearer_auth(TOKEN)
                .json(&report);
            sends.push(tokio::spawn(request.send()));
        }
    }
    for send in sends {
        assert_eq!(send.await.unwrap().unwrap().status(), 204);
    }
    names
}

/// The texts of the page's name cells, once there are `count` rows.
async fn wait_for_rows(browser: &Browser, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut names = Vec::new();
        for cell in browser
            .find_all("#learners td.name")
            .await
            .unwrap_or_default()
        {
            names.push(cell.text().await.unwrap_or_default());
        }
        if names.len() == count {
            return names;
        }
        assert!(
            Instant::now() < deadline,
            "the board never showed {count} rows; it shows {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The row of the learner called `name`.
async fn row_of<'a>(browser: &'a Browser, name: &str) -> Element<'a> {
    for row in browser.find_all("#learners tr").await.unwrap() {
        let shown = row.find("td.name").await.unwrap().text().await.unwrap();
        if shown == name {
            return row;
        }
    }
    panic!("no row for {name:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_board_shows_the_room_one_row_per_learner_as_text() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let base = start_board().await;
    let started = Instant::now();
    let mut names = a_room_reports(&base).await;
    println!(
        "300 reports from 30 learners at once: {:?}",
        started.elapsed()
    );

    let browser = driver.browser().await;
    browser.goto(&format!("{base}/#token={TOKEN}")).await;
    let mut shown = wait_for_rows(&browser, 30).await;
    shown.sort();
    names.sort();
    assert_eq!(shown, names, "one row per learner, each name as typed");

    // Names and summaries that look like HTML stay text: no element was made from them, and
    // no script of theirs ran.
    let made = browser
        .find_all("#learners img, #learners b, #learners script")
        .await
        .unwrap();
    assert!(made.is_empty(), "a name or summary was put in as HTML");
    assert_eq!(browser.title().await, "Class board · Tracing Talk");
    let summary = browser.find("#learners td.summary").await.unwrap();
    let text = summary.text().await.unwrap();
    assert!(
        text.contains("<script>"),
        "the summary shows as text: {text:?}"
    );

    // Each name links to that learner's traces: chat-api's, with their service.namespace.
    let row = row_of(&browser, "Ada Lovelace").await;
    let link = row.find("td.name a").await.unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    assert_eq!(
        href,
        format!(
            "{JAEGER_UI}/search?service=chat-api&lookback=1h&limit=20\
             &tags=%7B%22service.namespace%22%3A%22Ada-Lovelace%22%7D"
        )
    );

    // A column per step: steps 01 to 08 though only 01 to 04 were reported, with step 02
    // failing.
    let columns = browser.find_all("#columns th.step").await.unwrap();
    assert_eq!(columns.len(), 8);
    let cells = row.find_all("td.step").await.unwrap();
    let mut marks = Vec::new();
    for cell in &cells {
        marks.push(cell.text().await.unwrap());
    }
    assert_eq!(marks, ["✓", "✗", "✓", "✓", "·", "·", "·", "·"]);

    // Without the right token, the page asks for it instead.
    browser.goto(&format!("{base}/#token=wrong")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let form = browser.find("#token-form").await.unwrap();
        if form.attr("hidden").await.unwrap().is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page never asked for the token"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    browser.close().await;
}
