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
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::kafka::group_protocol::GroupProtocol;
use crate::kafka::{Kafka, PARTITIONS, TOPIC};

/// A running embedded cluster. Dropping it shuts the cluster down.
pub struct EmbeddedKafka {
    kafka: Kafka,
    /// Commands for the cluster's thread. Dropping the sender tells the thread to stop.
    commands: Option<mpsc::Sender<Command>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// What the cluster's thread can be asked to do, besides stopping.
enum Command {
    /// Fail the next `n` produce requests (see [`EmbeddedKafka::fail_next_sends`]), and say
    /// when that is set up.
    FailSends(usize, mpsc::Sender<()>),
}

impl EmbeddedKafka {
    /// Starts a one-broker cluster with the topic already created.
    ///
    /// The topic is created here, before any consumer subscribes: with the new consumer group
    /// protocol, subscribing to a topic that does not exist yet can stall the first assignment,
    /// and the mock cluster does not answer the admin API's `CreateTopics` (design §6).
    pub fn start() -> anyhow::Result<EmbeddedKafka> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (commands_tx, commands_rx) = mpsc::channel::<Command>();
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
                        // Serve commands until the owner drops its sender; then the cluster
                        // drops here.
                        for command in commands_rx {
                            match command {
                                Command::FailSends(n, done) => {
                                    fail_sends(&cluster, n);
                                    let _ = done.send(());
                                }
                            }
                        }
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
                group_protocol: GroupProtocol::Consumer,
            },
            commands: Some(commands_tx),
            thread: Some(thread),
        })
    }

    /// Leaves the cluster running until the process exits (see `App`'s `Drop`).
    pub fn leak(mut self) {
        std::mem::forget(self.commands.take());
        self.thread.take();
    }

    /// The address to give Kafka clients.
    pub fn kafka(&self) -> &Kafka {
        &self.kafka
    }

    /// Makes the cluster refuse the next `n` produce requests, for checks that test what a
    /// failed send does. The error is one that librdkafka does not retry by itself
    /// (`MSG_SIZE_TOO_LARGE`), so the send fails and the app sees it. Returns once the cluster
    /// has taken the order.
    pub fn fail_next_sends(&self, n: usize) {
        if let Some(commands) = &self.commands {
            let (done, taken) = mpsc::channel();
            if commands.send(Command::FailSends(n, done)).is_ok() {
                let _ = taken.recv();
            }
        }
    }
}

fn fail_sends(cluster: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>, n: usize) {
    let errors = vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; n];
    cluster.request_errors(RDKafkaApiKey::Produce, &errors);
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        drop(self.commands.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The file where `-- broker` writes its addresses for the single-service modes.
///
/// The mock cluster listens on a random port that cannot be chosen, so the other processes
/// need to be told where it is. `TALK_BROKER_FILE` overrides the place.
///
/// The first line is Kafka's address, alone, as it always was. The second, `otlp <endpoint>`,
/// is where the broker's OTLP receiver listens (see [`read_broker_otlp`]).
pub fn broker_file() -> PathBuf {
    std::env::var_os("TALK_BROKER_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tracing-talk-broker.addr"))
}

/// What `-- broker` writes to [`broker_file`].
pub fn broker_file_text(brokers: &str, otlp_endpoint: &str) -> String {
    format!("{brokers}\notlp {otlp_endpoint}\n")
}

/// Reads Kafka's address from the file `-- broker` wrote, if any.
pub fn read_broker_file() -> Option<String> {
    let text = std::fs::read_to_string(broker_file()).ok()?;
    let address = text.lines().next()?.trim();
    (!address.is_empty()).then(|| address.to_owned())
}

/// Reads the address of the broker's OTLP receiver from the file `-- broker` wrote, if any.
pub fn read_broker_otlp() -> Option<String> {
    let text = std::fs::read_to_string(broker_file()).ok()?;
    text.lines()
        .find_map(|line| line.trim().strip_prefix("otlp "))
        .map(|endpoint| endpoint.trim().to_owned())
}
