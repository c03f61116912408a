//! The group protocol and what a waiting consumer says, without a real broker: the embedded
//! cluster speaks KIP-848, and a dead address shows what Kafka's errors turn into.
//! (`e2e/tests/real_broker.rs` runs the same against a broker without KIP-848.)

use std::time::Duration;

use talk::config::GroupProtocolSetting;
use talk::kafka::Kafka;
use talk::kafka::embedded::EmbeddedKafka;
use talk::kafka::group_protocol::{self, GroupProtocol};
use talk::kafka::ready::Readiness;

/// librdkafka's mock cluster lists `ConsumerGroupHeartbeat` v1, so `auto` picks `consumer`
/// there: the probe reads a real broker's answer correctly.
#[tokio::test(flavor = "multi_thread")]
async fn auto_finds_kip_848_on_the_embedded_cluster() {
    let embedded = EmbeddedKafka::start().unwrap();
    let brokers = &embedded.kafka().brokers;
    let chosen = group_protocol::choose(GroupProtocolSetting::Auto, brokers).await;
    assert_eq!(chosen, GroupProtocol::Consumer);
}

/// Nothing answers at all: `auto` settles on `classic`, which every broker speaks, rather than
/// risk a consumer that waits forever.
#[tokio::test(flavor = "multi_thread")]
async fn auto_picks_classic_when_no_broker_answers() {
    let dead = format!("127.0.0.1:{}", check::servers::free_port());
    let chosen = group_protocol::choose(GroupProtocolSetting::Auto, &dead).await;
    assert_eq!(chosen, GroupProtocol::Classic);
}

/// A consumer that cannot join says why: `/healthz`'s reason names it, what it waits for, and
/// the last error Kafka reported to it (which the default log filter would otherwise hide).
#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_consumer_says_what_it_waits_for_and_what_kafka_said() {
    let kafka = Kafka {
        brokers: format!("127.0.0.1:{}", check::servers::free_port()),
        embedded: false,
        group_protocol: GroupProtocol::Classic,
    };
    let readiness = Readiness::new(kafka.joining());
    let consumer = kafka
        .consumer("waiting-group", readiness.expect("storage-service"))
        .unwrap();
    // Errors reach the context only while the consumer is polled.
    let poll = tokio::spawn(async move {
        loop {
            let _ = consumer.recv().await;
        }
    });

    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let reason = loop {
        let reason = readiness.not_ready_because().expect("nobody can join");
        if reason.contains("Kafka's last error") {
            break reason;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Kafka's error never reached the reason: {reason}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    poll.abort();
    assert!(
        reason.starts_with("storage-service has not joined its consumer group yet"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("Kafka at {} to assign partitions", kafka.brokers))
            && reason.contains("group.protocol=classic"),
        "{reason}"
    );
}
