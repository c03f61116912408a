//! Each service's tracer provider: where its spans go and what they say about who made them.
//!
//! One `SdkTracerProvider` per service, even when all three share a process: the provider's
//! resource carries `service.name`, which is how Jaeger (and the terminal waterfall) tell
//! chat-api's spans from storage-service's.
//!
//! From step 08 on, the services make their spans with `tracing`, and each service also has a
//! `tracing` subscriber of its own ([`dispatch`]) that turns them into OpenTelemetry spans of its
//! own provider.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use talk::telemetry::Telemetry;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::sampling::FollowLinks;

/// How long a service waits for its last spans to be exported when it stops.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

// ANCHOR: init
/// Builds the tracer provider of `service`.
pub fn init(service: &'static str, telemetry: &Telemetry) -> anyhow::Result<SdkTracerProvider> {
    let resource = Resource::builder().with_service_name(service).build();
    let mut provider = SdkTracerProvider::builder()
        .with_resource(resource)
        // Every finished span, at once, to this process's span log: the terminal waterfall
        // draws from it, and the checks read it.
        .with_span_processor(telemetry.log.processor());
    // And, unless OTEL_TRACES_EXPORTER=none, in batches over OTLP to Jaeger (or any collector).
    if let Some(exporter) = telemetry.otlp.exporter()? {
        provider = provider.with_batch_exporter(exporter);
    }
    Ok(provider.build())
}
// ANCHOR_END: init

// ANCHOR: init_consumer
/// Builds the tracer provider of a consumer, storage-service or giphy-service: as [`init`]
/// does, with a sampler that follows the parent, then the links, then the configured ratio.
///
/// chat-api keeps the SDK's own sampler, which reads `OTEL_TRACES_SAMPLER` and
/// `OTEL_TRACES_SAMPLER_ARG` when the code sets none.
pub fn init_consumer(
    service: &'static str,
    telemetry: &Telemetry,
) -> anyhow::Result<SdkTracerProvider> {
    let resource = Resource::builder().with_service_name(service).build();
    let mut provider = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(FollowLinks::from_env())
        .with_span_processor(telemetry.log.processor());
    if let Some(exporter) = telemetry.otlp.exporter()? {
        provider = provider.with_batch_exporter(exporter);
    }
    Ok(provider.build())
}
// ANCHOR_END: init_consumer

// ANCHOR: dispatch
/// The `tracing` subscriber of `service`: its spans become OpenTelemetry spans of `provider`,
/// so they carry this service's `service.name`, and its events are the usual stderr log lines.
///
/// Not a global subscriber: there is one global default per process, and three services
/// share this one. A service's futures carry its subscriber instead (`WithSubscriber`), so
/// that whatever they record goes to their own service.
pub fn dispatch(service: &'static str, provider: &SdkTracerProvider) -> Dispatch {
    let spans = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
    let subscriber = tracing_subscriber::registry()
        .with(spans)
        .with(talk::logging::layer());
    Dispatch::new(subscriber)
}
// ANCHOR_END: dispatch

// ANCHOR: shutdown
/// Flushes the provider's last batch and stops it.
///
/// Spans wait in the batch processor's queue until a batch is full or a timer fires; without
/// this, the spans of the last few seconds before Ctrl-C would be lost. The flush blocks, so
/// it runs on a thread meant for blocking, and it is bounded so that a missing collector
/// cannot hold up the exit.
pub async fn shutdown(provider: SdkTracerProvider) {
    let flushed =
        tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT)).await;
    if let Ok(Err(error)) = flushed {
        tracing::warn!("tracer provider shutdown: {error}");
    }
}
// ANCHOR_END: shutdown
