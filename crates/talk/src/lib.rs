//! Tracing Talk's plumbing: everything that stays the same from one workbook step to the next.
//!
//! A step's crate holds only what a learner writes (the three services, and from step 02 on
//! their telemetry); this crate holds the rest. You can read a step without opening this crate,
//! but every module says why it is the way it is, should you want to.
//!
//! # Layout
//!
//! Where each thing lives, in the order a message meets them:
//!
//! | module | what it does |
//! |---|---|
//! | [`http`] | chat-api's errors, request extractors, page and `/healthz` |
//! | [`message`] | the chat message, its validation and its JSON payload |
//! | [`kafka`] | Kafka: producer and consumer settings, publishing a message, and in its folder the consumer loop ([`kafka::consume`]), the embedded broker, readiness and the group protocol |
//! | [`store`] | the message store: Redis, or memory |
//! | [`giphy`] | the Giphy client and its local stand-in |
//! | [`telemetry`] | OTLP export from `OTEL_*` variables, and the span log the waterfall reads |
//! | [`launch`] | runs the services in one process, or one per process, and stops them |
//! | [`config`] | command line and environment variables |
//! | [`logging`] | stderr log lines (not traces) |
//!
//! Seeing traces without Jaeger (the span log, the terminal waterfall, the `/trace/{id}` page,
//! `-- broker`'s OTLP receiver) is a crate of its own, `traces`, which `launch` wires in.

pub mod config;
pub mod giphy;
pub mod http;
pub mod kafka;
pub mod launch;
pub mod logging;
pub mod message;
mod shutdown;
pub mod store;
pub mod telemetry;

pub use config::{Config, ConsumerTrace, SendMode, ServiceName};
pub use kafka::consume::{BatchHandler, Batching, Failure, Handler};
pub use launch::{App, ChatApi, ConsumerService, Services};
pub use message::Message;
pub use store::Store;
