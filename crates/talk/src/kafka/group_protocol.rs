//! Which consumer group protocol the consumers speak: KIP-848's `consumer`, or `classic`.
//!
//! A consumer group decides which member reads which partitions. Kafka has two ways to do it:
//!
//! - **`consumer`** (KIP-848, on by default since Kafka 4.0): the broker assigns partitions
//!   itself, and a member joins in about 0.1 s. The embedded cluster always uses it.
//! - **`classic`**: the members take part in a join round that one of them leads. Every broker
//!   speaks it, but a real Kafka holds a new group's first round for
//!   `group.initial.rebalance.delay.ms` (3 s by default; `docker-compose.yml` sets 0).
//!
//! With `--group-protocol auto` (the default for an external broker) [`choose`] asks the broker
//! before any consumer is made, because a consumer that asks for `consumer` on a broker that
//! lacks it is never told: it waits forever, and librdkafka reports nothing but a debug line.
//! [`crate::kafka::api_versions`] says how the broker is asked.

use std::time::Duration;

use clap::ValueEnum;

use crate::kafka::api_versions::{self, ApiRange};

/// Which consumer group protocol to use on an external Kafka (`--group-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupProtocolSetting {
    /// KIP-848's `consumer` if the broker supports it, otherwise `classic`, saying why.
    Auto,
    /// KIP-848's protocol (Kafka 4.0 on).
    Consumer,
    /// The protocol every broker speaks.
    Classic,
}

/// `ConsumerGroupHeartbeat`, the request at the heart of KIP-848's protocol.
const CONSUMER_GROUP_HEARTBEAT: i16 = 68;

/// The version of `ConsumerGroupHeartbeat` that librdkafka 2.12 sends, and so the one a broker
/// must accept. (Kafka 3.7 to 3.9 offer only version 0, an early-access form of KIP-848.)
const HEARTBEAT_VERSION: i16 = 1;

/// How long each broker may take to connect and to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The protocol the consumers use: librdkafka's `group.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupProtocol {
    /// KIP-848: the broker assigns the partitions.
    Consumer,
    /// The protocol every Kafka-compatible broker speaks.
    Classic,
}

impl GroupProtocol {
    /// The value of librdkafka's `group.protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupProtocol::Consumer => "consumer",
            GroupProtocol::Classic => "classic",
        }
    }
}

impl std::fmt::Display for GroupProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol for the external Kafka at `brokers` (bootstrap servers, comma-separated), as
/// `setting` asks. With `auto` it asks the brokers, and logs what it chose and why.
pub async fn choose(setting: GroupProtocolSetting, brokers: &str) -> GroupProtocol {
    match setting {
        GroupProtocolSetting::Consumer => GroupProtocol::Consumer,
        GroupProtocolSetting::Classic => GroupProtocol::Classic,
        GroupProtocolSetting::Auto => {
            let owned = brokers.to_owned();
            // The probe uses blocking sockets, so it runs off the async threads.
            let answer = tokio::task::spawn_blocking(move || ask_brokers(&owned))
                .await
                .unwrap_or_else(|error| Err(format!("the probe failed: {error}")));
            decide(brokers, answer)
        }
    }
}

/// Logs the choice `auto` made from the brokers' `answer`, and returns it.
fn decide(brokers: &str, answer: Result<Vec<ApiRange>, String>) -> GroupProtocol {
    let ranges = match answer {
        Ok(ranges) => ranges,
        Err(error) => {
            // Classic is the safe choice: every broker speaks it, Kafka 4 included.
            tracing::warn!(
                "could not ask Kafka at {brokers} whether it supports KIP-848 ({error}), so the \
                 consumers use the classic group protocol, which every broker speaks. \
                 Set KAFKA_GROUP_PROTOCOL=classic or consumer to skip this question."
            );
            return GroupProtocol::Classic;
        }
    };
    let heartbeat = ranges.iter().find(|r| r.key == CONSUMER_GROUP_HEARTBEAT);
    match heartbeat {
        Some(range) if range.accepts(HEARTBEAT_VERSION) => {
            tracing::info!(
                "Kafka at {brokers} supports KIP-848, so the consumers use \
                 group.protocol=consumer"
            );
            GroupProtocol::Consumer
        }
        _ => {
            tracing::info!(
                "Kafka at {brokers} does not support KIP-848's consumer group protocol ({}), \
                 so the consumers fall back to group.protocol=classic. \
                 Set KAFKA_GROUP_PROTOCOL=classic to skip this check.",
                why_not(heartbeat)
            );
            GroupProtocol::Classic
        }
    }
}

/// Why a broker's `ConsumerGroupHeartbeat` range does not do, in words.
fn why_not(heartbeat: Option<&ApiRange>) -> String {
    match heartbeat {
        None => "it lists no ConsumerGroupHeartbeat, API key 68, in its ApiVersions".into(),
        Some(range) => format!(
            "it accepts ConsumerGroupHeartbeat versions {} to {}, and librdkafka sends \
             version {HEARTBEAT_VERSION}",
            range.min, range.max
        ),
    }
}

/// Asks each bootstrap server in turn, and returns the first answer. Blocks.
fn ask_brokers(brokers: &str) -> Result<Vec<ApiRange>, String> {
    let mut errors = Vec::new();
    for address in brokers.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        match api_versions::ask(&host_and_port(address), PROBE_TIMEOUT) {
            Ok(ranges) => return Ok(ranges),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        return Err("no bootstrap server given".into());
    }
    Err(errors.join("; "))
}

/// A bootstrap server as librdkafka accepts it, `[protocol://]host[:port]`, made into
/// `host:port` for a plain socket. The port defaults to Kafka's, 9092.
fn host_and_port(address: &str) -> String {
    let address = address
        .split_once("://")
        .map_or(address, |(_protocol, rest)| rest);
    // An IPv6 address is written in brackets, so its own colons do not count as a port.
    let has_port = match address.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'),
        None => address.contains(':'),
    };
    if has_port {
        address.to_owned()
    } else {
        format!("{address}:9092")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat(min: i16, max: i16) -> Vec<ApiRange> {
        vec![ApiRange {
            key: CONSUMER_GROUP_HEARTBEAT,
            min,
            max,
        }]
    }

    #[test]
    fn a_broker_that_accepts_heartbeat_v1_gets_the_consumer_protocol() {
        assert_eq!(
            decide("k:9092", Ok(heartbeat(0, 1))),
            GroupProtocol::Consumer
        );
        assert_eq!(
            decide("k:9092", Ok(heartbeat(1, 1))),
            GroupProtocol::Consumer
        );
    }

    #[test]
    fn anything_else_gets_classic() {
        assert_eq!(decide("k:9092", Ok(vec![])), GroupProtocol::Classic);
        // Kafka 3.7 to 3.9 offer an early-access version 0 only.
        assert_eq!(
            decide("k:9092", Ok(heartbeat(0, 0))),
            GroupProtocol::Classic
        );
        assert_eq!(
            decide("k:9092", Err("refused".into())),
            GroupProtocol::Classic
        );
    }

    #[test]
    fn bootstrap_servers_become_socket_addresses() {
        assert_eq!(host_and_port("localhost:9092"), "localhost:9092");
        assert_eq!(host_and_port("kafka"), "kafka:9092");
        assert_eq!(host_and_port("PLAINTEXT://kafka:19092"), "kafka:19092");
        assert_eq!(host_and_port("[::1]:9093"), "[::1]:9093");
        assert_eq!(host_and_port("[::1]"), "[::1]:9092");
    }
}
