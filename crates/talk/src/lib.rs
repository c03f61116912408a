//! Tracing Talk's plumbing: everything that stays the same from one workbook step to the next.
//!
//! A step's crate holds only what a learner writes (the three services, and from step 02 on
//! their telemetry); this crate holds the rest. You can read a step without opening this crate,
//! but every module says why it is the way it is, should you want to.
//!
//! | module | what it does |
//! |---|---|
//! | [`message`] | the chat message, its validation and its JSON payload |
//! | [`kafka`] | Kafka producer and consumer settings, publishing a message |
//! | [`group_protocol`] | which consumer group protocol to use: KIP-848's `consumer`, or `classic` |
//! | [`api_versions`] | asks a broker which requests it understands (for [`group_protocol`]) |
//! | [`embedded`] | the in-process Kafka (librdkafka's mock cluster) |
//! | [`consume`] | the consumer loop: shutdown, bad records, retries, offsets |
//! | [`store`] | the message store: Redis, or memory |
//! | [`giphy`] | the Giphy client and its local stand-in |
//! | [`http`] | chat-api's errors, request extractors, page and `/healthz` |
//! | [`launch`] | runs the services in one process, or one per process |
//! | [`config`] | command line and environment variables |
//! | [`telemetry`] | OTLP export from `OTEL_*` variables, and the log of this process's spans |
//! | [`ready`] | readiness: have the consumers joined their groups? |
//! | [`shutdown`] | Ctrl-C and SIGTERM |
//! | [`logging`] | stderr log lines (not traces) |

pub mod api_versions;
pub mod config;
pub mod consume;
pub mod embedded;
pub mod giphy;
pub mod group_protocol;
pub mod http;
pub mod kafka;
pub mod launch;
pub mod logging;
pub mod message;
pub mod ready;
pub mod shutdown;
pub mod store;
pub mod telemetry;

pub use config::{Config, ConsumerTrace, SendMode, ServiceName};
pub use consume::{BatchHandler, Batching, Failure, Handler};
pub use launch::{App, ChatApi, ConsumerService, Services};
pub use message::Message;
pub use store::Store;
