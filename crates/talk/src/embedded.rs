//! The embedded Kafka: librdkafka's mock cluster, running inside this process.
//!
//! It speaks the real Kafka protocol, so the app's rdkafka clients cannot tell it from a real
//! broker, and other processes can connect to it too. It keeps records in memory and forgets
//! them when the process exits. This is what lets `cargo run -p exercise-01` work with no
//! Docker and no network.
//!
//! `MockCluster` holds a raw pointer and is not `Send`, so it lives on a thread of its own for
//! its whole life; the rest of the app only ever sees its address.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

use anyhow::Context as _;
use rdkafka::mocking::MockCluster;

use crate::kafka::{Kafka, PARTITIONS, TOPIC};

/// A running embedded cluster. Dropping it shuts the cluster down.
pub struct EmbeddedKafka {
    kafka: Kafka,
    /// Dropping this sender tells the cluster's thread to stop.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EmbeddedKafka {
    /// Starts a one-broker cluster with the topic already created.
    ///
    /// The topic is created here, before any consumer subscribes: with the new consumer group
    /// protocol, subscribing to a topic that does not exist yet can stall the first assignment,
    /// and the mock cluster does not answer the admin API's `CreateTopics` (design §6).
    pub fn start() -> anyhow::Result<EmbeddedKafka> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("embedded-kafka".into())
            .spawn(move || {
                let started = MockCluster::new(1).and_then(|cluster| {
                    cluster.create_topic(TOPIC, PARTITIONS, 1)?;
                    Ok(cluster)
                });
                match started {
                    Ok(cluster) => {
                        let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                        // Park until the owner drops its sender; then the cluster drops here.
                        let _ = stop_rx.recv();
                        drop(cluster);
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                    }
                }
            })
            .context("starting the embedded Kafka thread")?;
        let brokers = ready_rx
            .recv()
            .context("the embedded Kafka thread stopped before it started")?
            .context("starting librdkafka's mock cluster")?;
        Ok(EmbeddedKafka {
            kafka: Kafka {
                brokers,
                embedded: true,
            },
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Leaves the cluster running until the process exits (see `App`'s `Drop`).
    pub fn leak(mut self) {
        std::mem::forget(self.stop.take());
        self.thread.take();
    }

    /// The address to give Kafka clients.
    pub fn kafka(&self) -> &Kafka {
        &self.kafka
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The file where `-- broker` writes its address for the single-service modes.
///
/// The mock cluster listens on a random port that cannot be chosen, so the other processes
/// need to be told where it is. `TALK_BROKER_FILE` overrides the place.
pub fn broker_file() -> PathBuf {
    std::env::var_os("TALK_BROKER_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tracing-talk-broker.addr"))
}

/// Reads the address that `-- broker` wrote, if any.
pub fn read_broker_file() -> Option<String> {
    let text = std::fs::read_to_string(broker_file()).ok()?;
    let address = text.trim();
    (!address.is_empty()).then(|| address.to_owned())
}
