//! Where storage-service keeps messages and chat-api reads them: Redis, or memory.
//!
//! With `REDIS_URL` set, messages use the book's layout, with milliseconds instead of seconds so
//! that order holds: `SET message:{id} {json}` and `ZADD {room} {epoch_ms} {id}`. Without it, an
//! in-memory map does the same job, which is enough when all services share one process.
//!
//! Saving is an upsert by `id` that never loses an image. giphy-service re-publishes a message
//! with its `image` set, and Kafka may redeliver the original after that (at-least-once). So a
//! message *without* an image is written only if the id is new (`SET … NX`), and a message *with*
//! one always wins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    DB_OPERATION_BATCH_SIZE, DB_OPERATION_NAME, DB_SYSTEM_NAME, ERROR_TYPE,
};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, ExistenceCheck, SetOptions};
use tokio::sync::OnceCell;

use crate::message::Message;

/// How long a Redis connection attempt may take before the call fails with `Unavailable`.
const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long one Redis command may take. chat-api answers `503` after this when Redis hangs.
const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a store call failed. All failures are "the store is not there right now": callers answer
/// `503` (chat-api) or retry later (storage-service).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(#[from] redis::RedisError),
    #[error("message {id} has a date that is not RFC 3339: {date:?}")]
    BadDate { id: String, date: String },
}

impl StoreError {
    /// The `error.type` of a span that failed with this error: Redis's error code when it
    /// sent one (`WRONGTYPE`), else the kind of failure (`io_error`, `bad_date`). Few distinct
    /// values, so that a backend can group failures by them; the message tells the story.
    pub fn error_type(&self) -> String {
        match self {
            StoreError::Unavailable(error) => redis_error_type(error),
            StoreError::BadDate { .. } => "bad_date".to_owned(),
        }
    }
}

/// A Redis error's `error.type`: its code, else its kind, in snake case.
fn redis_error_type(error: &redis::RedisError) -> String {
    if let Some(code) = error.code() {
        return code.to_owned();
    }
    let kind = format!("{:?}", error.kind());
    let mut snake = String::new();
    for (i, c) in kind.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}

/// A handle to the message store. Cloning it is cheap and every clone sees the same messages.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Mutex<Memory>>),
    Redis(Arc<Redis>),
}

impl Store {
    /// A store that lives in this process only.
    pub fn memory() -> Store {
        Store {
            backend: Backend::Memory(Arc::default()),
        }
    }

    /// A Redis store. It connects on first use and reconnects after failures, so a Redis that is
    /// down at start-up, or goes away later, makes calls fail but never stops the app.
    pub fn redis(url: &str) -> anyhow::Result<Store> {
        let client = redis::Client::open(url)?;
        Ok(Store {
            backend: Backend::Redis(Arc::new(Redis {
                client,
                connection: OnceCell::new(),
            })),
        })
    }

    /// Where messages are kept, for start-up banners.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Memory(_) => "in memory (this process only)".to_owned(),
            Backend::Redis(redis) => {
                format!("Redis at {}", redis.client.get_connection_info().addr())
            }
        }
    }

    /// Is this the in-memory store?
    pub fn is_memory(&self) -> bool {
        matches!(self.backend, Backend::Memory(_))
    }

    /// Saves a message (an upsert by id that never clears an image, see the module docs).
    pub async fn save(&self, message: &Message) -> Result<(), StoreError> {
        self.save_traced(message, &Untraced).await
    }

    /// [`Store::save`], with each Redis command as a CLIENT span (`SET`, `ZADD`) under
    /// `parent`, made by `tracer`.
    ///
    /// This plays the part of the book's instrumented Redis client (opentracing-redis-lettuce):
    /// the app makes its own spans, and the client library adds one per call to the server.
    /// The in-memory store makes no spans: there is no call to a server to see.
    pub async fn save_with_spans<T>(
        &self,
        message: &Message,
        tracer: &T,
        parent: &Context,
    ) -> Result<(), StoreError>
    where
        T: Tracer + Sync,
        T::Span: Send + Sync + 'static,
    {
        self.save_traced(message, &Traced { tracer, parent }).await
    }

    /// Saves several messages in one call (step 07 on): one Redis pipeline, a single round
    /// trip, traced as one `PIPELINE` CLIENT span under `parent`. Each message is saved as
    /// [`Store::save`] would save it.
    pub async fn save_batch_with_spans<T>(
        &self,
        messages: &[Message],
        tracer: &T,
        parent: &Context,
    ) -> Result<(), StoreError>
    where
        T: Tracer + Sync,
        T::Span: Send + Sync + 'static,
    {
        let scored = messages
            .iter()
            .map(|message| Ok((message, score(message)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        match &self.backend {
            Backend::Memory(memory) => {
                let mut memory = memory.lock().unwrap();
                for (message, score) in scored {
                    memory.save(message, score);
                }
                Ok(())
            }
            Backend::Redis(redis) => redis.save_batch(&scored, &Traced { tracer, parent }).await,
        }
    }

    async fn save_traced(
        &self,
        message: &Message,
        spans: &impl CommandSpans,
    ) -> Result<(), StoreError> {
        let score = score(message)?;
        match &self.backend {
            Backend::Memory(memory) => {
                memory.lock().unwrap().save(message, score);
                Ok(())
            }
            Backend::Redis(redis) => redis.save(message, score, spans).await,
        }
    }

    /// The last `limit` messages of a room, oldest first.
    pub async fn list(&self, room: &str, limit: usize) -> Result<Vec<Message>, StoreError> {
        match &self.backend {
            Backend::Memory(memory) => Ok(memory.lock().unwrap().list(room, limit)),
            Backend::Redis(redis) => redis.list(room, limit).await,
        }
    }
}

/// The sorted-set score of a message: its date in milliseconds since the epoch.
fn score(message: &Message) -> Result<i64, StoreError> {
    message.epoch_ms().map_err(|_| StoreError::BadDate {
        id: message.id.clone(),
        date: message.date.clone(),
    })
}

/// The in-memory store: messages by id, and each room's ids ordered like Redis orders a sorted
/// set (by score, then by id).
#[derive(Default)]
struct Memory {
    messages: HashMap<String, Message>,
    rooms: HashMap<String, Vec<(i64, String)>>,
}

impl Memory {
    fn save(&mut self, message: &Message, score: i64) {
        let keep_existing = message.image.is_none() && self.messages.contains_key(&message.id);
        if !keep_existing {
            self.messages.insert(message.id.clone(), message.clone());
        }
        let room = self.rooms.entry(message.room.clone()).or_default();
        let entry = (score, message.id.clone());
        if let Err(at) = room.binary_search(&entry) {
            room.insert(at, entry);
        }
    }

    fn list(&self, room: &str, limit: usize) -> Vec<Message> {
        let Some(ids) = self.rooms.get(room) else {
            return Vec::new();
        };
        let start = ids.len().saturating_sub(limit);
        ids[start..]
            .iter()
            .filter_map(|(_, id)| self.messages.get(id).cloned())
            .collect()
    }
}

struct Redis {
    client: redis::Client,
    /// Made on first use rather than at start-up, so that a Redis that is down when the app
    /// starts only fails calls. `ConnectionManager` reconnects by itself after that.
    connection: OnceCell<ConnectionManager>,
}

impl Redis {
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
            .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        let connection = self
            .connection
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config))
            .await?;
        Ok(connection.clone())
    }

    async fn save(
        &self,
        message: &Message,
        score: i64,
        spans: &impl CommandSpans,
    ) -> Result<(), StoreError> {
        let mut redis = self.connection().await?;
        let (key, json, options) = set_arguments(message);
        let set = redis.set_options::<_, _, Option<String>>(&key, json, options);
        spans.around("SET", None, set).await?;
        let zadd = redis.zadd::<_, _, _, i64>(&message.room, &message.id, score);
        spans.around("ZADD", None, zadd).await?;
        Ok(())
    }

    /// The `SET` and `ZADD` of every message, sent together as one pipeline: one round trip
    /// for the whole batch, instead of two per message.
    async fn save_batch(
        &self,
        messages: &[(&Message, i64)],
        spans: &impl CommandSpans,
    ) -> Result<(), StoreError> {
        let mut redis = self.connection().await?;
        let mut pipeline = redis::pipe();
        for (message, score) in messages {
            let (key, json, options) = set_arguments(message);
            pipeline.set_options(key, json, options).ignore();
            pipeline.zadd(&message.room, &message.id, *score).ignore();
        }
        let commands = pipeline.cmd_iter().count();
        let call = pipeline.query_async::<()>(&mut redis);
        spans.around("PIPELINE", Some(commands), call).await?;
        Ok(())
    }

    async fn list(&self, room: &str, limit: usize) -> Result<Vec<Message>, StoreError> {
        let mut redis = self.connection().await?;
        let last = -(limit as isize);
        let ids: Vec<String> = redis.zrange(room, last, -1).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| format!("message:{id}")).collect();
        let values: Vec<Option<String>> = redis.mget(&keys).await?;
        Ok(values
            .into_iter()
            .flatten()
            .filter_map(|json| Message::from_payload(json.as_bytes()).ok())
            .collect())
    }
}

/// The key, value and options of the `SET` that saves `message`: `NX` (only if new) unless it
/// has an image, so that a redelivered original never clears one.
fn set_arguments(message: &Message) -> (String, String, SetOptions) {
    let key = format!("message:{}", message.id);
    let json = String::from_utf8(message.to_payload()).expect("JSON is UTF-8");
    let mut options = SetOptions::default();
    if message.image.is_none() {
        options = options.conditional_set(ExistenceCheck::NX);
    }
    (key, json, options)
}

/// Makes (or does not make) a span around each call to Redis: one command, or a pipeline of
/// `batch` commands.
trait CommandSpans: Sync {
    fn around<T: Send>(
        &self,
        command: &'static str,
        batch: Option<usize>,
        call: impl Future<Output = redis::RedisResult<T>> + Send,
    ) -> impl Future<Output = redis::RedisResult<T>> + Send;
}

struct Untraced;

impl CommandSpans for Untraced {
    async fn around<T: Send>(
        &self,
        _command: &'static str,
        _batch: Option<usize>,
        call: impl Future<Output = redis::RedisResult<T>> + Send,
    ) -> redis::RedisResult<T> {
        call.await
    }
}

struct Traced<'a, T> {
    tracer: &'a T,
    parent: &'a Context,
}

impl<T> CommandSpans for Traced<'_, T>
where
    T: Tracer + Sync,
    T::Span: Send + Sync + 'static,
{
    async fn around<R: Send>(
        &self,
        command: &'static str,
        batch: Option<usize>,
        call: impl Future<Output = redis::RedisResult<R>> + Send,
    ) -> redis::RedisResult<R> {
        let mut attributes = vec![
            KeyValue::new(DB_SYSTEM_NAME, "redis"),
            KeyValue::new(DB_OPERATION_NAME, command),
        ];
        // The database conventions' batch size: how many commands the one call carried.
        if let Some(commands) = batch {
            attributes.push(KeyValue::new(DB_OPERATION_BATCH_SIZE, commands as i64));
        }
        let mut span = self
            .tracer
            .span_builder(command)
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(self.tracer, self.parent);
        let result = call.await;
        if let Err(error) = &result {
            // The database conventions ask for error.type on a failed operation.
            span.set_attribute(KeyValue::new(ERROR_TYPE, redis_error_type(error)));
            span.set_status(Status::error(error.to_string()));
        }
        span.end();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::NewMessage;

    pub(crate) fn message(room: &str, text: &str) -> Message {
        Message::accept(NewMessage {
            author: "ann".into(),
            room: room.into(),
            message: text.into(),
        })
    }

    #[tokio::test]
    async fn memory_store_keeps_order_and_rooms_apart() {
        let store = Store::memory();
        let a = message("lobby", "one");
        let b = message("lobby", "two");
        let c = message("other", "three");
        for m in [&a, &b, &c] {
            store.save(m).await.unwrap();
        }
        assert_eq!(store.list("lobby", 100).await.unwrap(), vec![a, b.clone()]);
        assert_eq!(store.list("lobby", 1).await.unwrap(), vec![b]);
        assert_eq!(store.list("other", 100).await.unwrap(), vec![c]);
        assert!(store.list("empty", 100).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn memory_store_never_clears_an_image() {
        let store = Store::memory();
        let original = message("lobby", "/giphy cats");
        let mut answered = original.clone();
        answered.image = Some("/images/cats-1.svg".into());
        store.save(&original).await.unwrap();
        store.save(&answered).await.unwrap();
        store.save(&original).await.unwrap(); // a redelivery
        assert_eq!(store.list("lobby", 100).await.unwrap(), vec![answered]);
    }

    #[tokio::test]
    async fn a_bad_date_is_refused() {
        let mut m = message("lobby", "hi");
        m.date = "yesterday".into();
        assert!(matches!(
            Store::memory().save(&m).await,
            Err(StoreError::BadDate { .. })
        ));
    }
}
