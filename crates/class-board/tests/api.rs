//! The board's API as a learner's runner and the page use it, over a real socket: the status
//! codes of the contract, a whole room reporting at once, and a restart.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use class_board::{
    board::{Board, View},
    http::{self, Class, MAX_BODY_BYTES},
    store::ReportLog,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "test-token";
const INSTRUCTOR: &str = "instructor-token";
const JOIN: &str = "cargo workbook class join http://192.168.1.20:7878 --token test-token";

/// A board serving on a free port, with its log at `data`.
struct TestBoard {
    base: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl TestBoard {
    async fn start(data: &Path) -> TestBoard {
        let opened = ReportLog::open(data, Board::new(["01".to_string()])).unwrap();
        let class = Class::new(TOKEN.into(), None, opened.board, opened.log)
            .with_instructor_token(INSTRUCTOR.into())
            .with_join_lines(vec![JOIN.into()]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = http::router(Arc::new(class));
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestBoard { base, http, server }
    }

    async fn post(&self, token: Option<&str>, body: impl Into<reqwest::Body>) -> StatusCode {
        let mut request = self
            .http
            .post(format!("{}/api/report", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().status()
    }

    /// Joins as `name` from `laptop`: the status, and the key when there is one.
    async fn join(&self, name: &str, laptop: &str) -> (StatusCode, Option<String>) {
        let response = self
            .http
            .post(format!("{}/api/join", self.base))
            .bearer_auth(TOKEN)
            .json(&json!({ "name": name, "laptop": laptop }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or_default();
        (status, answer["key"].as_str().map(str::to_string))
    }

    /// The key of `name`, joined from a laptop of their own.
    async fn key(&self, name: &str) -> String {
        let laptop = format!("laptop-{}", name.to_lowercase());
        self.join(name, &laptop).await.1.expect("a key")
    }

    async fn report(&self, name: &str, step: &str, result: &str) -> StatusCode {
        let key = self.key(name).await;
        let body = json!({ "name": name, "step": step, "result": result, "summary": "s" });
        self.post(Some(&key), body.to_string()).await
    }

    async fn post_json(&self, path: &str, token: &str, body: Value) -> StatusCode {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn view(&self) -> View {
        let response = self
            .http
            .get(format!("{}/api/reports", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Stops serving, which drops the board and closes its log, as stopping the process does.
    async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
    }
}

fn temp_data(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("class-board-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("reports.jsonl")
}

/// A missing or wrong token is 401, for both routes, whatever the body.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_is_refused() {
    let data = temp_data("token");
    let board = TestBoard::start(&data).await;
    let good = json!({ "name": "ann", "step": "01", "result": "pass", "summary": "" }).to_string();
    assert_eq!(
        board.post(None, good.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        board.post(Some("nope"), good.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let huge = vec![b'x'; 100 * 1024];
    assert_eq!(
        board.post(Some("nope"), huge).await,
        StatusCode::UNAUTHORIZED
    );
    // The room's token reads and joins; only a learner's key reports.
    assert_eq!(
        board.post(Some(TOKEN), good.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let read = board
        .http
        .get(format!("{}/api/reports", board.base))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(board.view().await.reports, 0, "nothing was recorded");
    board.stop().await;
}

/// A body over 8 KiB is 413, and a report that breaks the rules is 400 with a reason.
#[tokio::test(flavor = "multi_thread")]
async fn bad_reports_are_refused() {
    let data = temp_data("bad");
    let board = TestBoard::start(&data).await;
    let key = board.key("ann").await;
    let padding = "x".repeat(MAX_BODY_BYTES);
    let oversized = json!({ "name": "ann", "step": "01", "result": "pass", "summary": padding });
    assert_eq!(
        board.post(Some(&key), oversized.to_string()).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    for body in [
        "not json".to_string(),
        json!({ "name": "ann", "step": "01", "result": "maybe" }).to_string(),
        json!({ "name": "ann", "step": "1", "result": "pass" }).to_string(),
        json!({ "name": "", "step": "01", "result": "pass" }).to_string(),
        json!({ "name": "x".repeat(41), "step": "01", "result": "pass" }).to_string(),
        json!({ "name": "bell\u{7}", "step": "01", "result": "pass" }).to_string(),
    ] {
        assert_eq!(
            board.post(Some(&key), body.clone()).await,
            StatusCode::BAD_REQUEST,
            "{body}"
        );
    }
    assert_eq!(
        board.report("ann", "01", "pass").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(board.view().await.reports, 1);
    board.stop().await;
}

/// The board answers its page, its two files and its API, and nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn the_board_serves_nothing_else() {
    let data = temp_data("routes");
    let board = TestBoard::start(&data).await;
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/board.js", StatusCode::OK),
        ("/board.css", StatusCode::OK),
        ("/Cargo.toml", StatusCode::NOT_FOUND),
        ("/../../Cargo.toml", StatusCode::NOT_FOUND),
        ("/static/index.html", StatusCode::NOT_FOUND),
        ("/target/class-board/reports.jsonl", StatusCode::NOT_FOUND),
    ] {
        let response = board
            .http
            .get(format!("{}{path}", board.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "GET {path}");
        let policy = response.headers().get("content-security-policy");
        assert!(
            policy.is_some(),
            "GET {path} has no Content-Security-Policy"
        );
    }
    let answer = board
        .http
        .post(format!("{}/", board.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
    board.stop().await;
}

/// 30 learners send 10 reports each, all at once: every one is recorded, in the log and on the
/// board.
#[tokio::test(flavor = "multi_thread")]
async fn a_whole_room_reporting_at_once_is_all_recorded() {
    let data = temp_data("room");
    let board = Arc::new(TestBoard::start(&data).await);
    let started = Instant::now();
    let mut sends = Vec::new();
    for learner in 0..30 {
        for check in 0..10 {
            let board = board.clone();
            sends.push(tokio::spawn(async move {
                let name = format!("learner {learner:02}");
                let step = format!("{:02}", check % 8 + 1);
                let result = if check % 3 == 0 { "fail" } else { "pass" };
                board.report(&name, &step, result).await
            }));
        }
    }
    for send in sends {
        assert_eq!(send.await.unwrap(), StatusCode::NO_CONTENT);
    }
    println!(
        "300 reports from 30 learners at once took {:?}",
        started.elapsed()
    );

    let view = board.view().await;
    assert_eq!(view.reports, 300);
    assert_eq!(view.learners.len(), 30);
    assert!(view.learners.iter().all(|learner| learner.checks == 10));
    let log = std::fs::read_to_string(&data).unwrap();
    let joins = log
        .lines()
        .filter(|line| line.contains(r#""action":"join""#));
    assert_eq!(
        joins.count(),
        30,
        "one join per learner in {}",
        data.display()
    );
    assert_eq!(log.lines().count(), 330, "and one line per report");
}

/// Stopping the board and starting it again on the same data file keeps every report.
#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_board_keeps_its_reports() {
    let data = temp_data("restart");
    let board = TestBoard::start(&data).await;
    assert_eq!(
        board.report("ann", "01", "pass").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        board.report("bo", "02", "fail").await,
        StatusCode::NO_CONTENT
    );
    // What was recorded; how long ago, and the marks that follow from it, move with the clock.
    let recorded = |view: View| -> Vec<Value> {
        view.learners
            .iter()
            .map(|l| json!([l.name, l.checks, serde_json::to_value(&l.steps).unwrap()]))
            .collect()
    };
    let before = recorded(board.view().await);
    board.stop().await;

    let board = TestBoard::start(&data).await;
    let view = board.view().await;
    assert_eq!(view.reports, 2);
    assert_eq!(recorded(view), before);
    assert_eq!(
        board.report("ann", "02", "pass").await,
        StatusCode::NO_CONTENT
    );
    let ann: Value = serde_json::to_value(&board.view().await.learners[0]).unwrap();
    assert_eq!(ann["steps"]["01"]["result"], "pass");
    assert_eq!(ann["steps"]["02"]["result"], "pass");
    board.stop().await;
}

/// A report says what kind of failure and where, and how long ago its check ran: a report that
/// waited ten minutes in the learner's queue is dated ten minutes back, by the board's clock.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_says_why_and_keeps_the_time_of_its_check() {
    let data = temp_data("why");
    let board = TestBoard::start(&data).await;
    let report = json!({
        "name": "Ada", "step": "03", "result": "fail", "summary": "the app reached a todo!()",
        "kind": "todo", "place": "exercises/exercise-03/src/chat_api.rs:42",
        "checked_at": 1, "age_ms": 600_000, "duration_ms": 3400, "hints_used": 2,
        "laptop": "0123456789abcdef",
    });
    let key = board.key("Ada").await;
    assert_eq!(
        board.post(Some(&key), report.to_string()).await,
        StatusCode::NO_CONTENT
    );
    // The same learner, spelled another way, is the same row.
    assert_eq!(
        board.report("ADA", "01", "pass").await,
        StatusCode::NO_CONTENT
    );

    let view = board.view().await;
    assert_eq!(view.join, [JOIN]);
    assert_eq!(view.learners.len(), 1);
    let ada = &view.learners[0];
    let cell = &ada.steps["03"];
    assert_eq!(cell.kind, Some(class_board::report::Kind::Todo));
    assert_eq!(
        cell.place.as_deref(),
        Some("exercises/exercise-03/src/chat_api.rs:42")
    );
    assert_eq!((cell.duration_ms, cell.hints_used), (Some(3400), 2));
    let age = view.now_ms - cell.at_ms;
    assert!((600_000..660_000).contains(&age), "dated {age} ms back");
    assert_eq!(
        ada.last_step, "01",
        "the newest check is the last, not the last to arrive"
    );
    let totals: Vec<_> = view
        .totals
        .iter()
        .map(|t| (t.step.as_str(), t.passed, t.tried))
        .collect();
    assert_eq!(totals, [("01", 1, 1), ("03", 0, 1)]);
    board.stop().await;
}

/// Only the instructor's token merges and removes rows, and a restart replays what it did.
#[tokio::test(flavor = "multi_thread")]
async fn the_instructor_merges_and_removes_rows() {
    let data = temp_data("actions");
    let board = TestBoard::start(&data).await;
    for name in ["Ada Lovelace", "ada l", "test"] {
        assert_eq!(
            board.report(name, "01", "pass").await,
            StatusCode::NO_CONTENT
        );
    }
    let merge = json!({ "action": "merge", "from": "Ada L", "into": "ada lovelace" });
    let remove = json!({ "action": "remove", "name": "TEST" });
    assert_eq!(
        board.post_json("/api/action", TOKEN, merge.clone()).await,
        StatusCode::UNAUTHORIZED,
        "the learners' token cannot"
    );
    assert_eq!(
        board.post_json("/api/action", INSTRUCTOR, merge).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        board
            .post_json("/api/action", INSTRUCTOR, remove.clone())
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        board.post_json("/api/action", INSTRUCTOR, remove).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        board
            .post_json("/api/action", INSTRUCTOR, json!({ "action": "explode" }))
            .await,
        StatusCode::BAD_REQUEST
    );
    board.stop().await;

    let board = TestBoard::start(&data).await;
    let view = board.view().await;
    let names: Vec<_> = view.learners.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["ada l"], "merged, and shown as last spelled");
    assert_eq!(view.learners[0].checks, 2);
    board.stop().await;
}

/// A name belongs to the laptop that joined with it: another laptop is told to pick another,
/// the same laptop gets its key back, and a key reports only under its own name.
#[tokio::test(flavor = "multi_thread")]
async fn a_name_belongs_to_the_laptop_that_joined_with_it() {
    let data = temp_data("names");
    let board = TestBoard::start(&data).await;
    let (status, ada) = board.join("Ada", "laptop-1").await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = board.join(" ada ", "laptop-1").await;
    assert_eq!((status, again.clone()), (StatusCode::OK, ada.clone()));
    let (status, none) = board.join("ADA", "laptop-2").await;
    assert_eq!((status, none), (StatusCode::CONFLICT, None));

    // Bo's key cannot report as Ada: the report goes to Bo's row.
    let bo = board.key("Bo").await;
    let spoof = json!({ "name": "Ada", "step": "01", "result": "fail", "summary": "" });
    assert_eq!(
        board.post(Some(&bo), spoof.to_string()).await,
        StatusCode::NO_CONTENT
    );
    let view = board.view().await;
    let names: Vec<_> = view.learners.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["Bo"]);

    // A restart keeps the names and keys.
    board.stop().await;
    let board = TestBoard::start(&data).await;
    assert_eq!(board.join("Ada", "laptop-1").await.1, ada);
    assert_eq!(board.join("Ada", "laptop-2").await.0, StatusCode::CONFLICT);
    board.stop().await;
}
