// TODO(02): this whole file is new in step 02: write what its TODO(02) regions say. Chapter 02,
// task 1.
// END TODO(02)
//! Each service's tracer provider: where its spans go and what they say about who made them.
//!
//! One `SdkTracerProvider` per service, even when all three share a process: the provider's
//! resource carries `service.name`, which is how Jaeger (and the terminal waterfall) tell
//! chat-api's spans from storage-service's.

use std::time::Duration;

// TODO(02): import what else you use from opentelemetry_sdk as you go. Chapter 02, task 1.
use opentelemetry_sdk::trace::SdkTracerProvider;
// END TODO(02)
use talk::telemetry::Telemetry;

/// How long a service waits for its last spans to be exported when it stops.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

// TODO(02): build an SdkTracerProvider whose resource has `service` as its service.name, with
// the span log's processor (telemetry.log.processor()) and, when export is on
// (telemetry.otlp.exporter()?), a batch exporter. Chapter 02, task 1.
/// Builds the tracer provider of `service`.
pub fn init(service: &'static str, telemetry: &Telemetry) -> anyhow::Result<SdkTracerProvider> {
    let _ = (service, telemetry);
    todo!("TODO(02): build the tracer provider in telemetry::init")
}
// END TODO(02)

// TODO(02): shut the provider down, bounded by SHUTDOWN_TIMEOUT, on a thread meant for blocking
// (tokio::task::spawn_blocking). Chapter 02, task 1.
/// Flushes the provider's last batch and stops it.
pub async fn shutdown(provider: SdkTracerProvider) {
    let _ = (provider, SHUTDOWN_TIMEOUT);
    todo!("TODO(02): shut the provider down in telemetry::shutdown")
}
// END TODO(02)
