//! Step 01's check: the app works end to end on the embedded Kafka.
//!
//! Nothing is traced yet, so this step passes from the start: run it to see what a passing
//! check looks like, then read the code it exercises.

use check::TestApp;
use reqwest::StatusCode;
use serde_json::json;

// The step under test: this crate's own library.
use exercise_01::Step;

/// A posted message comes back from `GET /message`, as chat-api accepted it.
#[tokio::test(flavor = "multi_thread")]
async fn a_posted_message_is_stored_and_read_back() {
    let app = TestApp::start(Step).await;
    let sent = app.post("ann", "lobby", "hello").await;
    assert_eq!(sent.author, "ann");
    assert!(
        uuid_like(&sent.id),
        "the id should be a UUID: {:?}",
        sent.id
    );

    let stored = app
        .wait_for_message(
            "lobby",
            &sent.id,
            "storage-service to store 'hello'",
            |_| true,
        )
        .await;
    assert_eq!(stored, sent);
    app.stop().await;
}

/// `/giphy cats` gets an image: giphy-service re-publishes the same message with `image` set,
/// and storage-service upserts it, so the room still holds it once.
#[tokio::test(flavor = "multi_thread")]
async fn giphy_answers_with_an_image_once() {
    let app = TestApp::start(Step).await;
    let sent = app.post("ann", "lobby", "/giphy cats").await;
    let answered = app
        .wait_for_message("lobby", &sent.id, "giphy-service to add an image", |m| {
            m.image.is_some()
        })
        .await;
    let image = answered.image.as_deref().unwrap();
    assert!(image.starts_with("/images/cats-"), "image: {image}");

    // The image is served by chat-api, so the page can show it.
    let (status, _) = app.get(image).await;
    assert_ne!(
        status,
        StatusCode::NOT_FOUND,
        "chat-api should serve {image}"
    );

    // Plain messages get no image, and nothing is answered twice.
    let plain = app.post("ann", "lobby", "no gif please").await;
    let messages = app
        .wait_for_messages("lobby", "the plain message to be stored", |all| {
            all.iter().any(|m| m.id == plain.id)
        })
        .await;
    assert_eq!(messages.iter().filter(|m| m.id == sent.id).count(), 1);
    assert!(
        messages
            .iter()
            .find(|m| m.id == plain.id)
            .unwrap()
            .image
            .is_none()
    );
    app.stop().await;
}

/// Messages of one room come back in the order they were posted, while another room's
/// messages are interleaved with them. The room is the Kafka record key, so each room stays
/// on one partition, in order.
#[tokio::test(flavor = "multi_thread")]
async fn order_within_a_room_is_kept() {
    let app = TestApp::start(Step).await;
    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(app.post("ann", "ordered", &format!("message {i}")).await.id);
        app.post("bob", "elsewhere", &format!("noise {i}")).await;
    }
    let stored = app
        .wait_for_messages("ordered", "all 20 messages to be stored", |all| {
            all.len() == 20
        })
        .await;
    let stored: Vec<String> = stored.into_iter().map(|m| m.id).collect();
    assert_eq!(stored, sent, "the room's messages should keep their order");
    // The other room is on another partition, so it may finish a moment later: wait for it.
    app.wait_for_messages("elsewhere", "the other room's 20 messages", |all| {
        all.len() == 20
    })
    .await;
    app.stop().await;
}

/// Every malformed request gets the 4xx of the runtime contract, with a JSON error body, and
/// nothing is published.
#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_a_clear_4xx() {
    let app = TestApp::start(Step).await;
    let valid = json!({ "author": "ann", "room": "lobby", "message": "hi" });

    let cases: Vec<(&str, Option<&str>, Vec<u8>, StatusCode)> = vec![
        (
            "no Content-Type",
            None,
            valid.to_string().into_bytes(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "text/plain body",
            Some("text/plain"),
            b"hello".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "malformed JSON",
            Some("application/json"),
            b"{\"author\": ".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not an object",
            Some("application/json"),
            b"[1, 2]".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "missing field",
            Some("application/json"),
            json!({"author": "ann", "room": "lobby"})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong type",
            Some("application/json"),
            json!({"author": "ann", "room": "lobby", "message": 7})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "empty author",
            Some("application/json"),
            json!({"author": "", "room": "lobby", "message": "hi"})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "blank message",
            Some("application/json"),
            json!({"author": "ann", "room": "lobby", "message": "   "})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "room with a space",
            Some("application/json"),
            json!({"author": "ann", "room": "a b", "message": "hi"})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "room too long",
            Some("application/json"),
            json!({"author": "ann", "room": "r".repeat(65), "message": "hi"})
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "text over 4096 bytes",
            Some("application/json"),
            json!({"author": "ann", "room": "lobby", "message": "é".repeat(2049)})
                .to_string()
                .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "body over 64 KiB",
            Some("application/json"),
            json!({"author": "ann", "room": "lobby", "message": "x".repeat(70_000)})
                .to_string()
                .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (case, content_type, body, expected) in cases {
        let (status, answer) = app.post_raw(content_type, body).await;
        assert_eq!(status, expected, "{case}: answered {status} {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{case}: the answer should be {{\"error\": \"…\"}}, it was {answer}"
        );
    }

    for (query, expected) in [
        ("/message?room=a%20b", StatusCode::BAD_REQUEST),
        ("/message?limit=0", StatusCode::BAD_REQUEST),
        ("/message?limit=many", StatusCode::BAD_REQUEST),
        ("/message?limit=5", StatusCode::OK),
    ] {
        let (status, answer) = app.get(query).await;
        assert_eq!(status, expected, "GET {query}: answered {answer}");
    }

    // Fields the client should not choose are ignored: chat-api picks id and date.
    let mut chosen = valid.clone();
    chosen["id"] = json!("my-own-id");
    chosen["image"] = json!("/images/dogs-1.svg");
    let (status, answer) = app.post_json(&chosen).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_ne!(answer["id"], "my-own-id");
    assert!(
        answer.get("image").is_none(),
        "image is giphy-service's to set: {answer}"
    );

    // Only the valid message was published.
    let stored = app
        .wait_for_messages("lobby", "the one valid message", |all| !all.is_empty())
        .await;
    assert_eq!(stored.len(), 1, "only the valid POST should be stored");
    app.stop().await;
}

/// `/healthz` is up once the consumers have joined (TestApp waits for that), and the chat page
/// is served, its trace links pointing at chat-api's own `/trace/{id}` (which sends the browser
/// on to Jaeger when Jaeger is up).
#[tokio::test(flavor = "multi_thread")]
async fn health_and_page_are_served() {
    let app = TestApp::start(Step).await;
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let page = reqwest::get(format!("{}/", app.base)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Tracing Talk"));
    assert!(html.contains("\"/trace/\" + m.trace_id"));
    app.stop().await;
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4
}

/// With Redis down, reading answers 503 with a reason, posting still works, and nothing is
/// lost: storage-service keeps retrying and stores the message once Redis is back.
#[tokio::test(flavor = "multi_thread")]
async fn redis_down_answers_503_and_loses_nothing() {
    let Some(mut redis) = check::servers::RedisServer::start() else {
        return;
    };
    let config = talk::Config {
        redis_url: Some(redis.url.clone()),
        ..talk::Config::embedded()
    };
    let app = TestApp::start_with(Step, config).await;
    let before = app.post("ann", "lobby", "before").await;
    app.wait_for_message("lobby", &before.id, "'before' in Redis", |_| true)
        .await;

    redis.kill();
    let (status, answer) = app.get("/message?room=lobby").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "answer: {answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("store")),
        "{answer}"
    );
    let during = app.post("ann", "lobby", "during the outage").await;

    // The test's Redis keeps nothing on disk, so the new one starts empty: what matters is
    // that the message posted during the outage arrives.
    let _redis = check::servers::RedisServer::start_on(redis.port()).expect("restarting redis");
    app.wait_for_messages(
        "lobby",
        "'during the outage' stored once Redis is back",
        |all| all.iter().any(|m| m.id == during.id),
    )
    .await;
    app.stop().await;
}
