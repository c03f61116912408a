//! What batching buys: storage-service's throughput one record at a time (step 06) against
//! batches (step 07), on the embedded Kafka, with the memory store and with Redis.
//!
//! ```sh
//! cargo bench -p e2e --bench batching            # 2000 messages a run
//! cargo bench -p e2e --bench batching -- 5000    # or another number
//! ```
//!
//! Each run publishes the messages to a fresh embedded Kafka first, then starts storage-service
//! alone in this process (tracing on, export off), as `-- storage-service` would run, and times
//! from the moment it has joined its group until the store holds every message: the time to
//! drain a backlog. It prints the median of three runs. Redis runs are skipped, with a reason,
//! where `redis-server` is missing.

use std::time::{Duration, Instant};

use check::servers::RedisServer;
use rdkafka::message::OwnedHeaders;
use talk::config::Mode;
use talk::kafka::embedded::EmbeddedKafka;
use talk::message::NewMessage;
use talk::{App, Config, Message, Services};

/// How long a run may take before it is reported as stuck.
const PATIENCE: Duration = Duration::from_secs(120);

const RUNS: usize = 3;

fn main() {
    // storage-service alone finds its Kafka through the broker file, as after `-- broker`.
    let broker_file = std::env::temp_dir().join(format!("talk-bench-{}.addr", std::process::id()));
    // SAFETY: no other thread exists yet to read the environment.
    unsafe { std::env::set_var("TALK_BROKER_FILE", &broker_file) };
    talk::logging::init_with_default("error,librdkafka=off,rdkafka=off");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(bench());
    let _ = std::fs::remove_file(broker_file);
}

async fn bench() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(2000);
    println!("storage-service: {count} messages a run, median of {RUNS} runs");
    println!(
        "{:<10} {:<28} {:>10} {:>12}",
        "store", "storage-service", "seconds", "messages/s"
    );
    let redis = RedisServer::start();
    let mut stores = vec![("memory", None)];
    match &redis {
        Some(server) => stores.push(("redis", Some(server.url.clone()))),
        None => println!("(redis skipped: redis-server is not installed)"),
    }
    for (store, url) in stores {
        let single = median(solution_06::Step, url.clone(), count).await;
        let batched = median(solution_07::Step, url.clone(), count).await;
        for (how, seconds) in [
            ("one record at a time (06)", single),
            ("batches of up to 20 (07)", batched),
        ] {
            println!(
                "{store:<10} {how:<28} {seconds:>10.3} {:>12.0}",
                count as f64 / seconds
            );
        }
        println!("{store:<10} speed-up: {:.1}×", single / batched);
    }
}

/// The median time of [`RUNS`] runs, in seconds.
async fn median<S: Services>(step: S, redis_url: Option<String>, count: usize) -> f64 {
    let mut times = Vec::new();
    for _ in 0..RUNS {
        times.push(
            run(step.clone(), redis_url.clone(), count)
                .await
                .as_secs_f64(),
        );
    }
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

/// One run: publish `count` messages, then time storage-service draining them.
async fn run<S: Services>(step: S, redis_url: Option<String>, count: usize) -> Duration {
    let embedded = EmbeddedKafka::start().expect("the embedded Kafka starts");
    std::fs::write(
        talk::kafka::embedded::broker_file(),
        &embedded.kafka().brokers,
    )
    .expect("writing the broker file");
    let producer = embedded.kafka().producer("bench").expect("a producer");
    let sends = (0..count).map(|i| {
        let message = Message::accept(NewMessage {
            author: "bench".into(),
            room: "bench".into(),
            message: format!("message {i}"),
        });
        let producer = producer.clone();
        async move { talk::kafka::publish(&producer, &message, OwnedHeaders::new()).await }
    });
    for sent in futures_join(sends).await {
        sent.expect("Kafka takes the message");
    }
    if let Some(url) = &redis_url {
        flush_redis(url).await;
    }

    let config = Config {
        mode: Some(Mode::StorageService),
        redis_url,
        ..Config::embedded()
    };
    let app = talk::launch::start(step, &config)
        .await
        .expect("storage-service starts");
    while !app.readiness.is_ready() {
        let _ = tokio::time::timeout(Duration::from_millis(1), app.readiness.wait()).await;
    }
    let started = Instant::now();
    wait_until_stored(&app, "bench", count).await;
    let took = started.elapsed();
    app.stop().await.expect("storage-service stops");
    drop(embedded);
    took
}

/// Empties Redis, so that every run stores into an empty database.
async fn flush_redis(url: &str) {
    let client = redis::Client::open(url).expect("a Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut connection)
        .await
        .expect("FLUSHALL");
}

async fn wait_until_stored(app: &App, room: &str, count: usize) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stored = app.store.list(room, count).await.map_or(0, |m| m.len());
        if stored >= count {
            return;
        }
        assert!(Instant::now() < deadline, "only {stored} of {count} stored");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the futures concurrently and collects their outputs.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for future in futures {
        set.spawn(future);
    }
    set.join_all().await
}
