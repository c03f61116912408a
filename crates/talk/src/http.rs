//! chat-api's HTTP plumbing: the error type, the request extractors, and the routes that never
//! change between steps (the chat page, its images and `/healthz`).
//!
//! [`ApiError`] is the only place that picks status codes. Handlers return it with `?`, and its
//! [`IntoResponse`] turns it into the contract's `{"error": "…"}` body (design §3).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::kafka::ready::Readiness;
use crate::message::{DEFAULT_ROOM, Invalid, MAX_LIMIT, NewMessage, check_room};
use crate::store::StoreError;

/// Everything chat-api can answer other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("expected a JSON body with Content-Type: application/json")]
    NotJson,
    /// Kafka did not take the record in time. The detail goes to the log, not to the client.
    #[error("the message could not be published; try again")]
    Publish(#[source] anyhow::Error),
    #[error("the message store is unavailable; try again")]
    Store(#[from] StoreError),
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> ApiError {
        match invalid {
            Invalid::TooLong => ApiError::TooLarge(invalid.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl ApiError {
    /// The status code of this error: the one place where chat-api chooses them.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Publish(_) | ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The client gets a short reason; the operator gets the whole chain.
            match &self {
                ApiError::Publish(cause) => tracing::warn!("{self} ({cause:#})"),
                ApiError::Store(cause) => tracing::warn!("{self} ({cause})"),
                _ => tracing::warn!("{self}"),
            }
        }
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// The body of `POST /message`, parsed and validated. Rejections follow the contract: `415` for a
/// body that is not JSON, `400` for bad JSON, a missing field or a bad value, `413` when too long.
pub struct ValidMessage(pub NewMessage);

impl<S: Send + Sync> FromRequest<S> for ValidMessage {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(new) = Json::<NewMessage>::from_request(request, state)
            .await
            .map_err(|rejection| match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::NotJson,
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::TooLarge("the request body is too large".into())
                }
                other => ApiError::BadRequest(other.body_text()),
            })?;
        Ok(ValidMessage(new.validate()?))
    }
}

/// The query of `GET /message`: `?room=` (default `lobby`) and `?limit=` (default 100).
pub struct RoomQuery {
    pub room: String,
    pub limit: usize,
}

impl<S: Send + Sync> FromRequestParts<S> for RoomQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        #[derive(Deserialize)]
        struct Raw {
            room: Option<String>,
            limit: Option<usize>,
        }
        let axum::extract::Query(raw) =
            axum::extract::Query::<Raw>::from_request_parts(parts, state)
                .await
                .map_err(|e: QueryRejection| ApiError::BadRequest(e.body_text()))?;
        let room = raw.room.unwrap_or_else(|| DEFAULT_ROOM.to_owned());
        check_room(&room)?;
        let limit = raw.limit.unwrap_or(100);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Invalid::BadLimit.into());
        }
        Ok(RoomQuery { room, limit })
    }
}

/// The biggest request body chat-api reads. A message is at most 4 KiB of text; anything this
/// much bigger is refused with `413` before it is parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The chat page, its images and `/healthz`. Each step's chat-api merges its own `/message`
/// routes into this.
pub fn static_routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/images/{name}", get(image))
        .route("/healthz", get(healthz))
        .with_state(readiness)
}

/// The chat page. Its "trace" links go to `/trace/{id}` (see `trace_view`).
const PAGE: &str = include_str!("../assets/index.html");

/// `200` once this process's consumers have joined their groups, `503` before, with what they
/// wait for.
async fn healthz(State(readiness): State<Readiness>) -> Response {
    match readiness.not_ready_because() {
        None => (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))).into_response(),
        Some(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": error })),
        )
            .into_response(),
    }
}

async fn image(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match crate::giphy::bundled_image(&name) {
        Some(svg) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
