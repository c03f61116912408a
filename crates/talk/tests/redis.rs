//! The Redis store against a real `redis-server` (skipped, with a reason, where there is none).

use check::servers::RedisServer;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use talk::message::NewMessage;
use talk::store::StoreError;
use talk::telemetry::SpanLog;
use talk::{Message, Store};

fn message(room: &str, text: &str) -> Message {
    Message::accept(NewMessage {
        author: "ann".into(),
        room: room.into(),
        message: text.into(),
    })
}

/// The book's layout, an upsert that never loses an image, and order by time.
#[tokio::test(flavor = "multi_thread")]
async fn redis_store_keeps_the_books_layout_and_never_clears_an_image() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = Store::redis(&server.url).unwrap();

    let first = message("lobby", "/giphy cats");
    let second = message("lobby", "hello");
    store.save(&first).await.unwrap();
    store.save(&second).await.unwrap();
    let mut answered = first.clone();
    answered.image = Some("/images/cats-1.svg".into());
    store.save(&answered).await.unwrap();
    store.save(&first).await.unwrap(); // a redelivery of the original

    assert_eq!(
        store.list("lobby", 100).await.unwrap(),
        vec![answered.clone(), second.clone()]
    );
    assert_eq!(store.list("lobby", 1).await.unwrap(), vec![second.clone()]);
    assert!(store.list("nobody-here", 100).await.unwrap().is_empty());

    // The layout learners can inspect with redis-cli: SET message:{id}, ZADD {room} ms id.
    let client = redis::Client::open(server.url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let json: String = redis::cmd("GET")
        .arg(format!("message:{}", answered.id))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(Message::from_payload(json.as_bytes()).unwrap(), answered);
    let score: i64 = redis::cmd("ZSCORE")
        .arg("lobby")
        .arg(&first.id)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(score, first.epoch_ms().unwrap());
}

/// A Redis that goes away makes calls fail quickly with `Unavailable`, and the store works
/// again once Redis is back.
#[tokio::test(flavor = "multi_thread")]
async fn redis_down_fails_fast_and_recovers() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = Store::redis(&server.url).unwrap();
    store.save(&message("lobby", "before")).await.unwrap();

    server.kill();
    let started = std::time::Instant::now();
    let error = store.list("lobby", 10).await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // A store whose Redis was never there fails the same way, without hanging.
    let nowhere = Store::redis(&format!(
        "redis://127.0.0.1:{}",
        check::servers::free_port()
    ))
    .unwrap();
    assert!(matches!(
        nowhere.save(&message("lobby", "lost?")).await,
        Err(StoreError::Unavailable(_))
    ));
}

/// A batch is one pipeline: one CLIENT span with the batch size, and the same layout and upsert
/// as one save at a time.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_one_pipeline_with_the_same_layout() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = Store::redis(&server.url).unwrap();
    let log = SpanLog::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(log.processor())
        .build();
    let tracer = provider.tracer("test");
    let parent = opentelemetry::Context::new();

    let first = message("lobby", "/giphy cats");
    let second = message("lobby", "hello");
    let mut answered = first.clone();
    answered.image = Some("/images/cats-1.svg".into());
    let batch = [first.clone(), second.clone(), answered.clone()];
    store
        .save_batch_with_spans(&batch, &tracer, &parent)
        .await
        .unwrap();
    // A redelivery of the original, in a batch of its own, never clears the image.
    store
        .save_batch_with_spans(std::slice::from_ref(&first), &tracer, &parent)
        .await
        .unwrap();
    assert_eq!(
        store.list("lobby", 100).await.unwrap(),
        vec![answered, second]
    );

    let spans = log.spans();
    assert_eq!(spans.len(), 2, "one span per batch: {spans:?}");
    let span = &spans[0].span;
    assert_eq!(span.name, "PIPELINE");
    let batch_size = span
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "db.operation.batch.size")
        .map(|kv| kv.value.clone());
    assert_eq!(
        batch_size,
        Some(opentelemetry::Value::I64(6)),
        "SET and ZADD per message"
    );
}
