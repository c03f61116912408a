//! Seeing traces without Jaeger.
//!
//! Tracing Talk's services export their spans over OTLP, to Jaeger when it runs. This crate is
//! what lets a learner see the same traces with nothing else running, in every mode the app
//! runs in. It knows nothing of the chat app: it reads spans.
//!
//! # Layout
//!
//! | module | what it does |
//! |---|---|
//! | [`log`] | the log of this process's finished spans, fed by a span processor on each service's provider |
//! | [`waterfall`] | the terminal waterfall: a trace drawn as text, printed as traces finish |
//! | [`view`] | chat-api's `/trace/{id}` page: the waterfall as HTML, or Jaeger when it is up |
//! | [`otlp`] | an OTLP receiver (gRPC or HTTP) with a pluggable sink: `-- broker` feeds the span log with it, the checks keep a list |
//!
//! The app (`talk`) wires them in; the checks, the bench and the end-to-end tests use them too.

pub mod log;
pub mod otlp;
pub mod view;
pub mod waterfall;

pub use log::{FinishedSpan, SpanLog, SpanLogProcessor};
