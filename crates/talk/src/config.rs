//! The command line and environment of every step's binary (design §3).
//!
//! Flags and environment variables mean the same thing; the flag wins when both are given.

use std::net::SocketAddr;

use clap::{Parser, Subcommand, ValueEnum};

use crate::telemetry::Otlp;

/// Tracing Talk: a chat app for learning to trace asynchronous applications.
///
/// With no service named, all three services run in this process on an embedded Kafka.
#[derive(Debug, Clone, Parser)]
#[command(version)]
pub struct Config {
    #[command(subcommand)]
    pub mode: Option<Mode>,

    /// Where chat-api listens.
    #[arg(long, env = "CHAT_API_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Kafka bootstrap servers, e.g. `localhost:9092`. Unset: the embedded cluster.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,

    /// The consumer group protocol on an external Kafka: `auto` asks the broker and uses
    /// KIP-848's `consumer` if it can, `classic` if not. The embedded cluster always uses
    /// `consumer`.
    #[arg(long, env = "KAFKA_GROUP_PROTOCOL", value_enum, default_value_t = GroupProtocolSetting::Auto)]
    pub group_protocol: GroupProtocolSetting,

    /// Redis URL, e.g. `redis://127.0.0.1:6379`. Unset: messages are kept in memory.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// A Giphy API key. Unset: a local stand-in serves bundled images.
    #[arg(long, env = "GIPHY_API_KEY", hide_env_values = true)]
    pub giphy_api_key: Option<String>,

    /// Where the Giphy API is (default: the real one with a key, the stand-in without).
    #[arg(long, env = "GIPHY_BASE_URL")]
    pub giphy_base_url: Option<String>,

    /// The Jaeger UI, where the chat page's trace links point.
    #[arg(long, env = "JAEGER_UI_URL", default_value = "http://localhost:16686")]
    pub jaeger_ui_url: String,

    /// Print each finished trace as a waterfall, except traces of GETs alone (all-in-one mode).
    #[arg(long, env = "TALK_WATERFALL", default_value = "on", value_parser = ["on", "off"])]
    pub waterfall: String,

    /// From step 03: how chat-api hands a message to Kafka (the book's `KSEND`).
    #[arg(long, env = "TALK_SEND_MODE", value_enum, default_value_t = SendMode::Async)]
    pub send_mode: SendMode,

    /// From step 05: whether a consumer's `process message` span continues the producer's trace
    /// (as a child, with a link) or starts a new one (with the link alone).
    #[arg(long, env = "TALK_CONSUMER_TRACE", value_enum, default_value_t = ConsumerTrace::Same)]
    pub consumer_trace: ConsumerTrace,

    /// From step 07: the most records storage-service stores in one batch.
    #[arg(long, env = "TALK_BATCH_SIZE", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..))]
    pub batch_size: u16,

    /// From step 07: how long, in milliseconds, a batch waits for more records after its first.
    #[arg(long, env = "TALK_BATCH_WAIT_MS", default_value_t = 50)]
    pub batch_wait_ms: u64,

    /// Where spans are exported: from the standard `OTEL_*` variables, never from flags.
    #[arg(skip = Otlp::from_env())]
    pub otlp: Otlp,

    /// How long giphy-service waits for a Giphy search: [`crate::giphy::TIMEOUT`]. Not a flag;
    /// the checks shorten it to test a slow Giphy in a fraction of a second.
    #[arg(skip = crate::giphy::TIMEOUT)]
    pub giphy_timeout: std::time::Duration,

    /// A trace context made current around the consumer services, as a context leaked from
    /// unrelated work can be in real code. Not a flag: the checks set a decoy here, so that a
    /// consumer which takes its parent or its link from `Context::current()` instead of from
    /// the record is seen to. (A real ambient span, one that the processing runs inside, would
    /// be the right parent: chapter 05 says when.)
    #[arg(skip)]
    pub ambient_context: Option<opentelemetry::Context>,
}

/// Which part of the app this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Mode {
    /// Only chat-api: the HTTP API and the chat page.
    ChatApi,
    /// Only storage-service: consumes `message` and stores it.
    StorageService,
    /// Only giphy-service: answers `/giphy <topic>` messages.
    GiphyService,
    /// Only the embedded Kafka, for single-service processes to share (no Docker needed).
    Broker,
}

/// `--group-protocol` is defined with the rest of the group protocol's code, which reads no
/// configuration of its own.
pub use crate::kafka::group_protocol::GroupProtocolSetting;

/// How chat-api sends a message to Kafka, after the book's `KSEND` setting (step 03 on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SendMode {
    /// In the request handler: the POST answers once Kafka has the record.
    Sync,
    /// In a spawned task that does not carry the trace context (the book's `async1`): the send
    /// starts a trace of its own. Broken on purpose, to show what goes wrong.
    AsyncLost,
    /// In a spawned task that carries the trace context (the book's `async2`).
    Async,
}

/// Where a consumer's `process message` span goes, relative to the span that sent the record
/// (step 05 on). Either way the span links to the send span: a link is how OpenTelemetry says
/// "caused by, but not part of" (OpenTracing's FOLLOWS_FROM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConsumerTrace {
    /// In the producer's trace: the send span is the parent, and the link is there too. One
    /// trace shows the whole journey, the book's picture.
    Same,
    /// In a new trace for every record, tied to its cause by the link alone. The OpenTelemetry
    /// demo's choice: short traces, and a consumer's work is not timed as part of the request.
    New,
}

/// One of the app's three services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceName {
    ChatApi,
    StorageService,
    GiphyService,
}

impl ServiceName {
    /// The name used for the consumer group, the Kafka client id and, from step 02 on,
    /// `service.name`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::ChatApi => "chat-api",
            ServiceName::StorageService => "storage-service",
            ServiceName::GiphyService => "giphy-service",
        }
    }
}

impl std::fmt::Display for ServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Config {
    /// When storage-service closes a batch (step 07 on).
    pub fn batching(&self) -> crate::kafka::consume::Batching {
        crate::kafka::consume::Batching {
            size: usize::from(self.batch_size),
            wait: std::time::Duration::from_millis(self.batch_wait_ms),
        }
    }

    /// A configuration that depends on nothing outside this process: embedded Kafka, memory
    /// store, Giphy stand-in, chat-api on a free port. The checks start from this.
    pub fn embedded() -> Config {
        Config {
            mode: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            kafka_brokers: None,
            group_protocol: GroupProtocolSetting::Auto,
            redis_url: None,
            giphy_api_key: None,
            giphy_base_url: None,
            jaeger_ui_url: "http://localhost:16686".into(),
            waterfall: "off".into(),
            send_mode: SendMode::Async,
            consumer_trace: ConsumerTrace::Same,
            batch_size: 20,
            batch_wait_ms: 50,
            otlp: Otlp::Off,
            giphy_timeout: crate::giphy::TIMEOUT,
            ambient_context: None,
        }
    }

    /// The services this process runs.
    pub fn services(&self) -> Vec<ServiceName> {
        match self.mode {
            None => vec![
                ServiceName::ChatApi,
                ServiceName::StorageService,
                ServiceName::GiphyService,
            ],
            Some(Mode::ChatApi) => vec![ServiceName::ChatApi],
            Some(Mode::StorageService) => vec![ServiceName::StorageService],
            Some(Mode::GiphyService) => vec![ServiceName::GiphyService],
            Some(Mode::Broker) => vec![],
        }
    }
}
