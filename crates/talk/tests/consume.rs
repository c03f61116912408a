//! The consumer loop against the embedded Kafka: bad records are skipped, failures retried,
//! and nothing stalls a partition.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use talk::kafka::embedded::EmbeddedKafka;
use talk::kafka::ready::Readiness;
use talk::message::NewMessage;
use talk::{Failure, Handler, Message, kafka};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Records every message it handles; fails the ones whose text says so.
struct Recorder {
    seen: mpsc::UnboundedSender<String>,
    failures_left: AtomicUsize,
    attempts: Arc<Mutex<Vec<String>>>,
}

impl Handler for Recorder {
    async fn handle(&self, message: Message, _record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        self.attempts.lock().unwrap().push(message.message.clone());
        match message.message.as_str() {
            "fails for good" => Err(Failure::Skip(anyhow::anyhow!("cannot be stored"))),
            "flaky" if self.failures_left.load(Ordering::SeqCst) > 0 => {
                self.failures_left.fetch_sub(1, Ordering::SeqCst);
                Err(Failure::Retry(anyhow::anyhow!("store is down")))
            }
            text => {
                self.seen.send(text.to_owned()).unwrap();
                Ok(())
            }
        }
    }
}

fn message(text: &str) -> Message {
    Message::accept(NewMessage {
        author: "ann".into(),
        room: "lobby".into(),
        message: text.into(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_is_skipped_failures_are_retried_and_consuming_goes_on() {
    let embedded = EmbeddedKafka::start().unwrap();
    let kafka = embedded.kafka().clone();
    let producer = kafka.producer("test").unwrap();

    // All on one partition (one key), so each record must get past the ones before it.
    let garbage: [&[u8]; 4] = [b"not json", b"{\"id\": 1}", &[0xff, 0xfe, 0x00], b""];
    for payload in garbage {
        let record = FutureRecord::to(kafka::TOPIC).key("lobby").payload(payload);
        producer.send(record, Timeout::Never).await.unwrap();
    }
    // Chat messages that fail for good: a date the store cannot order by, a room that is not
    // a safe key. They are skipped too, not retried forever.
    let mut bad_date = message("bad date");
    bad_date.date = "yesterday".into();
    let mut bad_room = message("bad room");
    bad_room.room = "no such room!".into();
    for bad in [&bad_date, &bad_room] {
        kafka::publish(&producer, bad, OwnedHeaders::new())
            .await
            .unwrap();
    }
    // A record without any payload at all, and one with headers that are not UTF-8.
    let empty: FutureRecord<'_, str, [u8]> = FutureRecord::to(kafka::TOPIC).key("lobby");
    producer.send(empty, Timeout::Never).await.unwrap();
    let odd_headers = OwnedHeaders::new().insert(Header {
        key: "traceparent",
        value: Some(&[0xc3, 0x28][..]),
    });
    kafka::publish(&producer, &message("odd headers"), odd_headers)
        .await
        .unwrap();
    for text in ["fails for good", "flaky", "after"] {
        kafka::publish(&producer, &message(text), OwnedHeaders::new())
            .await
            .unwrap();
    }

    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let readiness = Readiness::default();
    let consumer = kafka
        .consumer("test-group", readiness.expect_consumer())
        .unwrap();
    let recorder = Recorder {
        seen: seen_tx,
        failures_left: AtomicUsize::new(2),
        attempts: Arc::default(),
    };
    let shutdown = CancellationToken::new();
    let loop_ = tokio::spawn(talk::kafka::consume::run(
        "test",
        consumer,
        recorder,
        shutdown.clone(),
    ));

    let mut handled = Vec::new();
    while handled.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(15), seen.recv()).await;
        handled.push(next.expect("the consumer stalled").unwrap());
    }
    assert_eq!(handled, ["odd headers", "flaky", "after"]);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), loop_)
        .await
        .expect("the loop should stop on shutdown")
        .unwrap()
        .expect("Kafka reported no fatal error");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_interrupts_a_retry_without_losing_the_record() {
    let embedded = EmbeddedKafka::start().unwrap();
    let kafka = embedded.kafka().clone();
    let producer = kafka.producer("test").unwrap();
    kafka::publish(&producer, &message("flaky"), OwnedHeaders::new())
        .await
        .unwrap();

    // First consumer: its store is down for good; shutdown comes while it retries.
    let (tx, _rx) = mpsc::unbounded_channel();
    let attempts = Arc::<Mutex<Vec<String>>>::default();
    let down = Recorder {
        seen: tx,
        failures_left: AtomicUsize::new(usize::MAX),
        attempts: attempts.clone(),
    };
    let readiness = Readiness::default();
    let consumer = kafka
        .consumer("group", readiness.expect_consumer())
        .unwrap();
    let shutdown = CancellationToken::new();
    let first = tokio::spawn(talk::kafka::consume::run(
        "first",
        consumer,
        down,
        shutdown.clone(),
    ));
    // Wait until it has failed twice, i.e. it is in its retry loop.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while attempts.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the record never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    first.await.unwrap().unwrap();

    // Second consumer in the same group: the record was not committed, so it comes again.
    let (tx, mut seen) = mpsc::unbounded_channel();
    let up = Recorder {
        seen: tx,
        failures_left: AtomicUsize::new(0),
        attempts: Arc::default(),
    };
    let consumer = kafka
        .consumer("group", readiness.expect_consumer())
        .unwrap();
    let shutdown = CancellationToken::new();
    let second = tokio::spawn(talk::kafka::consume::run(
        "second",
        consumer,
        up,
        shutdown.clone(),
    ));
    let again = tokio::time::timeout(Duration::from_secs(15), seen.recv()).await;
    assert_eq!(
        again
            .expect("the record should be delivered again")
            .unwrap(),
        "flaky"
    );
    shutdown.cancel();
    second.await.unwrap().unwrap();
}

/// With no Kafka at all, a publish fails within the delivery timeout instead of hanging, so
/// chat-api can answer 503.
#[tokio::test(flavor = "multi_thread")]
async fn publishing_without_kafka_fails_within_the_delivery_timeout() {
    let port = check::servers::free_port();
    let kafka = talk::kafka::Kafka {
        brokers: format!("127.0.0.1:{port}"),
        embedded: false,
        group_protocol: talk::kafka::group_protocol::GroupProtocol::Classic,
    };
    let producer = kafka.producer("test").unwrap();
    let started = std::time::Instant::now();
    let result = kafka::publish(&producer, &message("lost?"), OwnedHeaders::new()).await;
    assert!(result.is_err());
    let took = started.elapsed();
    assert!(
        took < kafka::DELIVERY_TIMEOUT + Duration::from_secs(2),
        "took {took:?}"
    );
}

/// Records the batches it handles; fails the first one once.
struct BatchRecorder {
    batches: mpsc::UnboundedSender<Vec<String>>,
    failures_left: AtomicUsize,
}

impl talk::BatchHandler for BatchRecorder {
    async fn handle_batch(&self, batch: &[(Message, &BorrowedMessage<'_>)]) -> Result<(), Failure> {
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(Failure::Retry(anyhow::anyhow!("store is down")));
        }
        let texts = batch.iter().map(|(m, _)| m.message.clone()).collect();
        self.batches.send(texts).unwrap();
        Ok(())
    }
}

/// Batches close at their size (or their wait), leave garbage out without failing, are
/// retried whole, and every message comes through once, in order.
#[tokio::test(flavor = "multi_thread")]
async fn batches_close_at_their_size_leave_garbage_out_and_are_retried_whole() {
    let embedded = EmbeddedKafka::start().unwrap();
    let kafka = embedded.kafka().clone();
    let producer = kafka.producer("test").unwrap();
    // One key, so one partition, so one order.
    for text in ["one", "two", "three", "four", "five"] {
        if text == "two" {
            let garbage = FutureRecord::to(kafka::TOPIC)
                .key("lobby")
                .payload("not json");
            producer.send(garbage, Timeout::Never).await.unwrap();
        }
        kafka::publish(&producer, &message(text), OwnedHeaders::new())
            .await
            .unwrap();
    }

    let (batches_tx, mut batches) = mpsc::unbounded_channel();
    let recorder = BatchRecorder {
        batches: batches_tx,
        failures_left: AtomicUsize::new(1),
    };
    let readiness = Readiness::default();
    let consumer = kafka
        .consumer("batch-group", readiness.expect_consumer())
        .unwrap();
    let shutdown = CancellationToken::new();
    let batching = talk::Batching {
        size: 3,
        wait: Duration::from_millis(200),
    };
    let loop_ = tokio::spawn(talk::kafka::consume::run_batches(
        "test",
        consumer,
        recorder,
        batching,
        shutdown.clone(),
    ));

    let mut seen: Vec<Vec<String>> = Vec::new();
    while seen.iter().map(Vec::len).sum::<usize>() < 5 {
        let next = tokio::time::timeout(Duration::from_secs(15), batches.recv()).await;
        seen.push(next.expect("the consumer stalled").unwrap());
    }
    assert!(
        seen.iter().all(|b| !b.is_empty() && b.len() <= 3),
        "{seen:?}"
    );
    assert_eq!(
        seen.concat(),
        ["one", "two", "three", "four", "five"],
        "every message once, in order, the garbage left out: {seen:?}"
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), loop_)
        .await
        .expect("the loop should stop on shutdown")
        .unwrap()
        .expect("Kafka reported no fatal error");
}
