//! The chat message: what chat-api accepts, what travels through Kafka, and what the store keeps.
//!
//! The fields are the book's (`event, id, author, message, room, date, image`), plus `trace_id`,
//! which chat-api fills in from step 02 on so that the chat page can link to the trace.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest message text chat-api accepts, in bytes. Longer texts get `413 Payload Too Large`.
pub const MAX_TEXT_BYTES: usize = 4096;

/// The longest author name chat-api accepts, in bytes.
pub const MAX_AUTHOR_BYTES: usize = 64;

/// The room used when a request names none.
pub const DEFAULT_ROOM: &str = "lobby";

/// One chat message, as it is published to Kafka and kept in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The book's event type. Every record on the `message` topic is a chat message, so it is
    /// always `"message"`; it is kept so that the payload matches the book's.
    #[serde(default = "message_event")]
    pub event: String,
    /// A UUID chosen by chat-api. giphy-service re-publishes a message with the same id, and the
    /// store upserts by it.
    pub id: String,
    pub author: String,
    pub message: String,
    pub room: String,
    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-24T17:30:39.123Z`.
    pub date: String,
    /// The Giphy image URL, set by giphy-service for `/giphy <topic>` messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The trace of chat-api's `POST /message` span (from step 02 on), so the page can link to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

fn message_event() -> String {
    "message".to_owned()
}

impl Message {
    /// Accepts a validated request as a new message: a fresh id and the current time, like the
    /// book's `Message.init()`.
    pub fn accept(new: NewMessage) -> Message {
        Message {
            event: message_event(),
            id: Uuid::new_v4().to_string(),
            author: new.author,
            message: new.message,
            room: new.room,
            date: format_date(next_timestamp_ms()),
            image: None,
            trace_id: None,
        }
    }

    /// Milliseconds since the Unix epoch of `date`: the score of the message in its room's
    /// sorted set.
    pub fn epoch_ms(&self) -> Result<i64, chrono::ParseError> {
        Ok(DateTime::parse_from_rfc3339(&self.date)?.timestamp_millis())
    }

    /// The `/giphy` query of this message, if it asks for one: the text after `/giphy `.
    pub fn giphy_query(&self) -> Option<&str> {
        let query = self.message.strip_prefix("/giphy ")?.trim();
        (!query.is_empty()).then_some(query)
    }

    /// Parses a Kafka record's payload.
    pub fn from_payload(payload: &[u8]) -> Result<Message, serde_json::Error> {
        serde_json::from_slice(payload)
    }

    /// The Kafka record's payload.
    pub fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a Message is plain strings and always serialises")
    }
}

/// The body of `POST /message`: only these fields are read, anything else is ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct NewMessage {
    pub author: String,
    pub room: String,
    pub message: String,
}

/// Why a request was refused. chat-api maps these to `400` or `413`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Invalid {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("author must be at most {MAX_AUTHOR_BYTES} bytes")]
    AuthorTooLong,
    #[error("room must match [A-Za-z0-9_-]{{1,64}}")]
    BadRoom,
    #[error("message must be at most {MAX_TEXT_BYTES} bytes")]
    TooLong,
    #[error("limit must be between 1 and {MAX_LIMIT}")]
    BadLimit,
}

/// The most messages `GET /message` returns at once.
pub const MAX_LIMIT: usize = 1000;

impl NewMessage {
    /// Checks the request against the runtime contract (design §3).
    pub fn validate(self) -> Result<NewMessage, Invalid> {
        if self.author.trim().is_empty() {
            return Err(Invalid::Empty("author"));
        }
        if self.message.trim().is_empty() {
            return Err(Invalid::Empty("message"));
        }
        if self.author.len() > MAX_AUTHOR_BYTES {
            return Err(Invalid::AuthorTooLong);
        }
        check_room(&self.room)?;
        if self.message.len() > MAX_TEXT_BYTES {
            return Err(Invalid::TooLong);
        }
        Ok(self)
    }
}

/// Rooms are Redis keys and Kafka record keys, so they are kept to a safe alphabet.
pub fn check_room(room: &str) -> Result<(), Invalid> {
    let ok = (1..=64).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(Invalid::BadRoom) }
}

/// Formats epoch milliseconds as the message `date`.
pub fn format_date(epoch_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(epoch_ms)
        .expect("the clock is within chrono's range")
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The current time in epoch milliseconds, but never the same value twice in this process.
///
/// Redis orders a room by score (the time) and breaks ties by member (the id, which is random).
/// Two messages posted in the same millisecond could then swap places; a strictly increasing
/// clock keeps each chat-api's messages in the order they were posted.
fn next_timestamp_ms() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = Utc::now().timestamp_millis();
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .expect("the closure always returns Some");
    now.max(previous + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(author: &str, room: &str, message: &str) -> NewMessage {
        NewMessage {
            author: author.into(),
            room: room.into(),
            message: message.into(),
        }
    }

    #[test]
    fn validation_follows_the_contract() {
        assert!(new("ann", "lobby", "hi").validate().is_ok());
        assert_eq!(
            new("", "lobby", "hi").validate().unwrap_err(),
            Invalid::Empty("author")
        );
        assert_eq!(
            new("ann", "lobby", "  ").validate().unwrap_err(),
            Invalid::Empty("message")
        );
        assert_eq!(
            new("ann", "no spaces", "hi").validate().unwrap_err(),
            Invalid::BadRoom
        );
        assert_eq!(
            new("ann", &"r".repeat(65), "hi").validate().unwrap_err(),
            Invalid::BadRoom
        );
        assert!(new("ann", &"r".repeat(64), "hi").validate().is_ok());
        assert!(
            new("ann", "lobby", &"x".repeat(MAX_TEXT_BYTES))
                .validate()
                .is_ok()
        );
        assert_eq!(
            new("ann", "lobby", &"x".repeat(MAX_TEXT_BYTES + 1))
                .validate()
                .unwrap_err(),
            Invalid::TooLong
        );
    }

    #[test]
    fn accepted_messages_have_increasing_dates() {
        let a = Message::accept(new("ann", "lobby", "one"));
        let b = Message::accept(new("ann", "lobby", "two"));
        assert!(a.epoch_ms().unwrap() < b.epoch_ms().unwrap());
        assert_ne!(a.id, b.id);
        assert!(a.date.ends_with('Z') && a.date.len() == "2026-11-24T17:30:39.123Z".len());
    }

    #[test]
    fn giphy_query_needs_the_prefix_and_a_topic() {
        let mut m = Message::accept(new("ann", "lobby", "/giphy  cats "));
        assert_eq!(m.giphy_query(), Some("cats"));
        m.message = "/giphy ".into();
        assert_eq!(m.giphy_query(), None);
        m.message = "/giphycats".into();
        assert_eq!(m.giphy_query(), None);
    }

    #[test]
    fn payload_round_trips_and_omits_empty_fields() {
        let m = Message::accept(new("ann", "lobby", "hi"));
        let json = String::from_utf8(m.to_payload()).unwrap();
        assert!(!json.contains("image") && !json.contains("trace_id"));
        assert_eq!(Message::from_payload(json.as_bytes()).unwrap(), m);
        assert!(Message::from_payload(b"not json").is_err());
    }
}
