//! The board's HTTP side: the page, `POST /api/join`, `POST /api/report`, `GET /api/reports`
//! and `POST /api/action`, and nothing else.
//!
//! The board listens on the room's network, so it is built to do only this:
//! - three static files compiled into the binary (no file is ever read from a request's path);
//! - a join: a laptop claims a name and gets a key of its own, appended to the log (`store`);
//! - a report, sent with that key: checked, and appended to the log under the key's name, at
//!   most [`MAX_BODY_BYTES`];
//! - one read: the board's state, as JSON;
//! - one write for the instructor: merge or remove a row, also appended to the log.
//!
//! Three secrets, three powers. The room's token (`Authorization: Bearer TOKEN`), which every
//! learner has, reads the board and joins it. A learner's key posts reports for that learner
//! only: nobody can report under someone else's name. The instructor's token, which only the
//! instructor's own link to the page carries, merges and removes rows. The page sends no cookies and the API
//! answers no CORS headers, so another web page open in a browser on the room's network cannot
//! read the board or post to it.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Extension, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};

use serde::{Deserialize, Serialize};

use crate::{
    board::{Action, Board, Claimed, Received},
    report::{self, Invalid, Report},
    store::ReportLog,
    token,
};

/// The largest report body: a report is a few hundred bytes, so 8 KiB is generous, and a larger
/// one is answered `413` before it is read into memory. The runner keeps to the same limit.
pub const MAX_BODY_BYTES: usize = report::MAX_BODY_BYTES;

/// The most learners the board keeps. A room holds 15 to 30; the limit only stops a runaway
/// sender with the token from making rows without end. A new name past it is answered `507`.
pub const MAX_LEARNERS: usize = 500;

/// What every request handler shares.
pub struct Class {
    token: String,
    /// The token for merging and removing rows; without one, the page cannot do either.
    instructor_token: Option<String>,
    jaeger_ui_url: Option<String>,
    /// The join commands, shown on the page.
    join: Vec<String>,
    /// The board and its log change together, under one lock, so that the log's order is the
    /// order in which reports were taken. A std mutex is right here: it is held for one small
    /// file append and a map update, never across an `.await`.
    records: Mutex<Records>,
}

struct Records {
    board: Board,
    log: ReportLog,
}

impl Class {
    pub fn new(
        token: String,
        jaeger_ui_url: Option<String>,
        board: Board,
        log: ReportLog,
    ) -> Class {
        Class {
            token,
            instructor_token: None,
            jaeger_ui_url,
            join: Vec::new(),
            records: Mutex::new(Records { board, log }),
        }
    }

    /// The same board, letting whoever has `token` merge and remove rows.
    pub fn with_instructor_token(self, token: String) -> Class {
        Class {
            instructor_token: Some(token),
            ..self
        }
    }

    /// The same board, showing the learners' join commands on its page.
    pub fn with_join_lines(self, join: Vec<String>) -> Class {
        Class { join, ..self }
    }

    /// Records one report: first in the log, then on the board, so that the board never shows
    /// a report that a restart would forget.
    fn record(&self, report: Report) -> Result<(), ApiError> {
        // A poisoned lock only means that another request panicked between the two updates,
        // which cannot leave the log and the board apart in a way that matters.
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if !records.board.knows(&report.name) && records.board.learner_count() >= MAX_LEARNERS {
            return Err(ApiError::Full(format!(
                "the board already has {MAX_LEARNERS} learners"
            )));
        }
        let received = Received::arrived(report, now_ms());
        records.log.append(&received).map_err(|error| {
            eprintln!("cannot write {}: {error}", records.log.path().display());
            ApiError::Full(format!("the board cannot store the report: {error}"))
        })?;
        records.board.record(received);
        Ok(())
    }

    /// A laptop joins as `name`: the key its reports go with, made now or kept from its last
    /// join, unless another laptop has the name.
    fn join(&self, joining: Joining) -> Result<Joined, ApiError> {
        let name = joining.name.trim().to_string();
        let laptop = joining.laptop.trim().to_string();
        if !report::is_valid_name(&name) {
            return Err(ApiError::Invalid(Invalid::Name));
        }
        if laptop.is_empty() || laptop.chars().count() > report::MAX_LAPTOP_CHARS {
            return Err(ApiError::Invalid(Invalid::Json(
                "laptop must be 1 to 32 characters".to_string(),
            )));
        }
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let key = match records.board.claim(&name, &laptop) {
            Claimed::Again(key) => key,
            Claimed::Taken => return Err(ApiError::NameTaken(name)),
            Claimed::Free => {
                let action = Action::Join {
                    name: name.clone(),
                    laptop,
                    key: token::make(),
                };
                records.log.append_action(&action).map_err(|error| {
                    eprintln!("cannot write {}: {error}", records.log.path().display());
                    ApiError::Full(format!("the board cannot store the join: {error}"))
                })?;
                records.board.apply(&action);
                let Action::Join { key, .. } = action else {
                    unreachable!("made as a join just above")
                };
                key
            }
        };
        Ok(Joined { name, key })
    }

    /// The name of the learner who joined with `key`.
    fn learner(&self, key: &str) -> Option<String> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.board.name_for_key(key).map(str::to_string)
    }

    /// Carries out an instructor's action: first in the log, then on the board.
    fn act(&self, action: Action) -> Result<(), ApiError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let name = match &action {
            Action::Join { .. } => {
                return Err(ApiError::Invalid(Invalid::Json(
                    "the instructor merges and removes rows; learners join".to_string(),
                )));
            }
            Action::Remove { name } => name,
            Action::Merge { from, into } if records.board.knows(into) => from,
            Action::Merge { into, .. } => into,
        };
        if !records.board.knows(name) {
            return Err(ApiError::NoRow(name.clone()));
        }
        records.log.append_action(&action).map_err(|error| {
            eprintln!("cannot write {}: {error}", records.log.path().display());
            ApiError::Full(format!("the board cannot store the action: {error}"))
        })?;
        records.board.apply(&action);
        Ok(())
    }
}

/// The board's routes, ready to serve. Kept apart from the listener so tests can serve it on a
/// port of their own.
pub fn router(class: Arc<Class>) -> Router {
    let api = Router::new()
        .route("/api/join", post(post_join))
        .route("/api/reports", get(get_reports))
        .route_layer(middleware::from_fn_with_state(class.clone(), require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let learner = Router::new()
        .route("/api/report", post(post_report))
        .route_layer(middleware::from_fn_with_state(
            class.clone(),
            require_learner_key,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let instructor = Router::new()
        .route("/api/action", post(post_action))
        .route_layer(middleware::from_fn_with_state(
            class.clone(),
            require_instructor_token,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new()
        .route("/", get(page))
        .route("/board.js", get(script))
        .route("/board.css", get(style))
        .merge(api)
        .merge(learner)
        .merge(instructor)
        .layer(middleware::from_fn(safety_headers))
        .with_state(class)
}

/// The body of `POST /api/join`.
#[derive(Debug, Deserialize)]
struct Joining {
    name: String,
    laptop: String,
}

/// The answer of `POST /api/join`: the name as joined, and the key to report with.
#[derive(Debug, Serialize)]
struct Joined {
    name: String,
    key: String,
}

/// The learner a request's key belongs to (see [`require_learner_key`]).
#[derive(Debug, Clone)]
struct Learner(String);

/// `POST /api/join`: `200` with the learner's key, `409` when another laptop has the name.
async fn post_join(State(class): State<Arc<Class>>, body: Bytes) -> Result<Response, ApiError> {
    let joining: Joining = serde_json::from_slice(&body)
        .map_err(|error| ApiError::Invalid(Invalid::Json(error.to_string())))?;
    let joined = class.join(joining)?;
    Ok(axum::Json(joined).into_response())
}

/// `POST /api/report`: `204` once the report is stored, under the name its key joined with
/// (whatever name the body says).
async fn post_report(
    State(class): State<Arc<Class>>,
    Extension(Learner(name)): Extension<Learner>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let mut report: Report = report::parse(&body)?;
    report.name = name;
    class.record(report)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/reports`: the board's state (see [`crate::board::View`]).
async fn get_reports(State(class): State<Arc<Class>>) -> Response {
    let records = class.records.lock().unwrap_or_else(PoisonError::into_inner);
    let mut view = records.board.view(now_ms());
    drop(records);
    view.jaeger_ui_url.clone_from(&class.jaeger_ui_url);
    view.join.clone_from(&class.join);
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(view)).into_response()
}

/// `POST /api/action`: `204` once a merge or a removal is stored, `404` for a name with no row.
async fn post_action(State(class): State<Arc<Class>>, body: Bytes) -> Result<StatusCode, ApiError> {
    let action: Action = serde_json::from_slice(&body)
        .map_err(|error| ApiError::Invalid(Invalid::Json(error.to_string())))?;
    class.act(action)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets a request through only with `Authorization: Bearer <the token>`.
///
/// It runs before the body is read, so a wrong token is answered `401` whatever the body.
async fn require_token(
    State(class): State<Arc<Class>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if same_secret(bearer(&headers), &class.token) {
        next.run(request).await
    } else {
        ApiError::Token.into_response()
    }
}

/// Lets a report through only with a learner's key, and tells the handler whose it is. It runs
/// before the body is read, like [`require_token`].
async fn require_learner_key(
    State(class): State<Arc<Class>>,
    headers: HeaderMap,
    mut request: Request,
    next: Next,
) -> Response {
    match class.learner(bearer(&headers)) {
        Some(name) => {
            request.extensions_mut().insert(Learner(name));
            next.run(request).await
        }
        None => ApiError::Key.into_response(),
    }
}

/// The same, with the instructor's token.
async fn require_instructor_token(
    State(class): State<Arc<Class>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    match &class.instructor_token {
        Some(token) if same_secret(bearer(&headers), token) => next.run(request).await,
        _ => ApiError::Token.into_response(),
    }
}

/// The token of `Authorization: Bearer TOKEN`, or nothing.
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
}

/// Compares in a time that does not depend on where the first difference is, so that the
/// token cannot be guessed one character at a time by timing the answers.
fn same_secret(given: &str, token: &str) -> bool {
    let (given, token) = (given.as_bytes(), token.as_bytes());
    if given.len() != token.len() {
        return false;
    }
    given
        .iter()
        .zip(token)
        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
        == 0
}

/// Headers on every answer: the page may run only its own script and talk only to this board
/// (`Content-Security-Policy`), may not be framed by another site, and answers are never
/// sniffed into another type.
async fn safety_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn page() -> Response {
    static_file(
        "text/html; charset=utf-8",
        include_str!("../static/index.html"),
    )
}

async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../static/board.js"),
    )
}

async fn style() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../static/board.css"),
    )
}

fn static_file(content_type: &'static str, text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// Milliseconds since the Unix epoch by the board's clock.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Why a request was refused. [`IntoResponse`] is the one place where the API's status codes
/// are chosen; each answer carries `{"error": "…"}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong token: send Authorization: Bearer TOKEN")]
    Token,
    #[error("reports need the key that joining gives: cargo workbook class join again")]
    Key,
    #[error("another laptop has joined as {0:?}: pick another name")]
    NameTaken(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    Full(String),
    #[error("no learner called {0:?} on the board")]
    NoRow(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::Token | ApiError::Key => StatusCode::UNAUTHORIZED,
            ApiError::NameTaken(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Full(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::NoRow(_) => StatusCode::NOT_FOUND,
        };
        let body = axum::Json(serde_json::json!({ "error": self.to_string() }));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_same_token_passes() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
        assert!(!same_secret("", "abc"));
    }
}
