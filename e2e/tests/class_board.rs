//! The class board's page in a real browser (headless Chromium through ChromeDriver), as the
//! instructor sees it on a 1024×768 projector: a whole room's reports, one row per learner, names
//! and summaries shown as text, each row saying what kind of failure and where, every column on
//! the screen, projector mode hiding the failure texts, the join line on the page, and each name
//! linking to that learner's traces in the shared Jaeger. Skipped, with a reason, where
//! ChromeDriver is not installed.

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
const JOIN: &str =
    "cargo workbook class join http://192.168.1.20:7878 --token room-token --name \"YOUR NAME\"";

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
    )
    .with_join_lines(vec![JOIN.into()]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = http::router(Arc::new(class));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Joins as `name` from `laptop`: the key its reports go with.
async fn join(http: &reqwest::Client, base: &str, name: &str, laptop: usize) -> String {
    let answer: serde_json::Value = http
        .post(format!("{base}/api/join"))
        .bearer_auth(TOKEN)
        .json(&json!({ "name": name, "laptop": format!("laptop-{laptop}") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["key"].as_str().expect("a key").to_string()
}

/// 30 learners join, then send 10 reports each, all at once, as 30 laptops running checks
/// would.
async fn a_room_reports(base: &str) -> Vec<String> {
    let mut names: Vec<String> = (1..=28).map(|n| format!("Learner {n:02}")).collect();
    names[0] = "Ada Lovelace".to_string();
    names.extend(HTML_NAMES.map(str::to_string));
    let http = reqwest::Client::new();
    let mut sends = Vec::new();
    for (laptop, name) in names.iter().enumerate() {
        let key = join(&http, base, name, laptop).await;
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
                .bearer_auth(&key)
                .json(&report);
            sends.push(tokio::spawn(request.send()));
        }
    }
    for send in sends {
        assert_eq!(send.await.unwrap().unwrap().status(), 204);
    }
    // Then Ada's newest check: step 03 reached a todo!(), reported with its kind and place.
    let todo = json!({
        "name": "Ada Lovelace", "step": "03", "result": "fail", "kind": "todo",
        "place": "exercises/exercise-03/src/chat_api.rs:42",
        "summary": "the app reached a todo!() <script>document.title='pwned'</script>",
    });
    let ada = join(&http, base, "Ada Lovelace", 0).await;
    let sent = http
        .post(format!("{base}/api/report"))
        .bearer_auth(ada)
        .json(&todo)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 204);
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
    browser.set_window_size(1024, 768).await;
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
    // Ada's row says why: the step, the kind of failure, and where, the place without the
    // exercise's folder (the step has its column).
    let row = row_of(&browser, "Ada Lovelace").await;
    let summary = row.find("td.summary").await.unwrap();
    let text = summary.text().await.unwrap();
    assert!(
        text.starts_with("03 ✗ reached a todo!()"),
        "the kind first: {text:?}"
    );
    assert!(text.contains("src/chat_api.rs:42"), "and where: {text:?}");
    assert!(
        text.contains("<script>"),
        "the summary shows as text: {text:?}"
    );

    // At 1024×768 every column is on the screen, "When" and the last check included.
    let overflow = browser
        .execute(
            "const right = (css) => document.querySelector(css).getBoundingClientRect().right;
             return [right('#columns th.when'), right('#columns th.last'),
                     document.documentElement.clientWidth];",
        )
        .await;
    let [when, last, width] = [0, 1, 2].map(|i| overflow[i].as_f64().unwrap());
    println!("at 1024x768: When ends at {when} px, Last check at {last} px, of {width} px");
    assert!(when <= width && last <= width, "a column is off-screen");

    // The join line is on the page, for the room to copy.
    let join = browser.find("#join-line").await.unwrap();
    assert_eq!(join.text().await.unwrap(), JOIN);

    // Projector mode hides where and what the check said, and keeps the kind.
    browser
        .find("#projector-toggle")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = browser
            .execute(
                "return [...document.querySelectorAll('#learners td.summary .detail')]
                   .filter((e) => e.offsetParent !== null).length;",
            )
            .await;
        if shown.as_u64() == Some(0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "projector mode still shows {shown} failure texts"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = row_of(&browser, "Ada Lovelace").await;
    let text = row.find("td.summary").await.unwrap().text().await.unwrap();
    assert!(
        text.starts_with("03 ✗ reached a todo!()") && !text.contains("chat_api"),
        "{text:?}"
    );
    assert!(browser.current_url().await.contains("projector=1"));

    // Each name links to that learner's traces: chat-api's, with their service.namespace.
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
    assert_eq!(marks, ["✓", "✗", "✗", "✓", "·", "·", "·", "·"]);

    // The last row counts who passes each step of those who tried it.
    let totals = browser.find_all("#totals td.total").await.unwrap();
    let mut counts = Vec::new();
    for total in &totals {
        counts.push(total.text().await.unwrap());
    }
    assert_eq!(counts[..4], ["30/30", "0/30", "29/30", "30/30"]);

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
