//! Nanoseconds per operation: what one trace context crossing a process boundary costs, and
//! what one span costs.
//!
//! Each case is written the way the steps write it, so the figure is what the app pays:
//! a propagator is made per call (`TraceContextPropagator::new()`), the Kafka headers are
//! step 08's own carrier types (`solution_08::carrier`, public so that the steps' tests and this
//! bench can use them), and the tracer provider is the one `solution_08::telemetry::init`
//! builds, with export off.
//!
//! The timing loop is [`ns_per_op`], a few lines on `std::time::Instant`. A benchmarking crate
//! such as criterion would add statistics and reports, but also dependencies that change the
//! features of crates the steps share (see this crate's `Cargo.toml`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE,
};
use rdkafka::message::OwnedHeaders;
use solution_08::carrier::{RecordHeaderExtractor, RecordHeaderInjector};
use talk::telemetry::{Otlp, SpanLog, Telemetry};
use tracing::field::Empty;
use tracing::{Dispatch, info_span};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::report::median;

/// How many timed samples make one figure; the figure is their median.
const SAMPLES: usize = 15;

/// One measured case.
pub struct Figure {
    /// What was measured, e.g. `inject + extract`.
    pub what: &'static str,
    /// How, e.g. `Kafka record headers (step 08's carrier)`.
    pub how: &'static str,
    pub ns_per_op: f64,
}

/// Runs every case for about `budget` each.
pub fn run(budget: Duration) -> Vec<Figure> {
    let cx = remote_context();
    let sampled = step_08_provider(Sampler::AlwaysOn);
    let tracer = sampled.tracer("bench");
    let dispatch = solution_08::telemetry::dispatch("bench", &sampled);
    let lean = lean_dispatch(&sampled, true);
    let no_log_lines = lean_dispatch(&sampled, false);
    let unsampled = step_08_provider(Sampler::AlwaysOff);
    let unsampled_dispatch = solution_08::telemetry::dispatch("bench", &unsampled);

    let figure = |what, how, op: &mut dyn FnMut()| Figure {
        what,
        how,
        ns_per_op: ns_per_op(budget, op),
    };
    let inject = "inject + extract";
    let span = "span start + end";
    vec![
        figure(
            inject,
            "Kafka record headers (step 08's carrier)",
            &mut || {
                black_box(through_kafka_headers(&cx));
            },
        ),
        figure(inject, "HTTP headers (opentelemetry-http)", &mut || {
            black_box(through_http_headers(&cx));
        }),
        figure(
            span,
            "OpenTelemetry API (steps 02-07), no attributes",
            &mut || otel_span(&tracer, false),
        ),
        figure(span, "OpenTelemetry API, POST's 3 attributes", &mut || {
            otel_span(&tracer, true)
        }),
        figure(span, "tracing (step 08), no attributes", &mut || {
            tracing::dispatcher::with_default(&dispatch, || tracing_span(false))
        }),
        figure(span, "tracing, POST's 3 attributes", &mut || {
            tracing::dispatcher::with_default(&dispatch, || tracing_span(true))
        }),
        figure(
            span,
            "tracing, 3 attributes, the layer's extras off",
            &mut || tracing::dispatcher::with_default(&lean, || tracing_span(true)),
        ),
        figure(
            span,
            "tracing, 3 attributes, no log-lines layer",
            &mut || tracing::dispatcher::with_default(&no_log_lines, || tracing_span(true)),
        ),
        figure(
            span,
            "tracing, POST's 3 attributes, not sampled",
            &mut || tracing::dispatcher::with_default(&unsampled_dispatch, || tracing_span(true)),
        ),
    ]
}

/// The median time of one call of `op`, in nanoseconds, from [`SAMPLES`] timed batches that
/// together take about `budget`.
///
/// One call is too short to time (a clock read takes some 20 ns), so `op` runs in batches:
/// first batches of 1, 2, 4, … calls until one batch takes its share of the budget, which
/// also warms the caches, then the timed batches of that size.
pub fn ns_per_op(budget: Duration, op: &mut dyn FnMut()) -> f64 {
    let share = budget / SAMPLES as u32;
    let mut batch: u32 = 1;
    loop {
        let started = Instant::now();
        for _ in 0..batch {
            op();
        }
        if started.elapsed() >= share || batch >= 1 << 30 {
            break;
        }
        batch *= 2;
    }
    let samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..batch {
                op();
            }
            started.elapsed().as_nanos() as f64 / f64::from(batch)
        })
        .collect();
    median(&samples)
}

/// A sampled remote context, as a consumer finds in a record.
fn remote_context() -> Context {
    let span = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"),
        SpanId::from_hex("00f067aa0ba902b7").expect("hex"),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(span)
}

/// Step 08's subscriber with tracing-opentelemetry's extra attributes off (`code.*`,
/// `thread.*`, `target`, `busy_ns` and `idle_ns`, which chapter 08 shows), and with or without
/// the log-lines layer (`talk::logging::layer`), which formats every span's fields so that a
/// log line inside a span can print them.
fn lean_dispatch(provider: &SdkTracerProvider, log_lines: bool) -> Dispatch {
    let spans = tracing_opentelemetry::layer()
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_tracer(provider.tracer("bench"));
    let registry = tracing_subscriber::registry().with(spans);
    match log_lines {
        true => Dispatch::new(registry.with(talk::logging::layer())),
        // With the extras on, as step 08 has them: only the log-lines layer is gone.
        false => Dispatch::new(
            tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
        ),
    }
}

/// chat-api's send, then a consumer's receive: new headers, inject, extract onto an empty
/// context (as `solution_08::messaging` does).
///
/// Never inlined, here and below, so that a profiler can find it by name:
/// `valgrind --tool=callgrind --toggle-collect=bench::micro::through_kafka_headers`.
#[inline(never)]
fn through_kafka_headers(cx: &Context) -> Context {
    let mut headers = OwnedHeaders::new();
    TraceContextPropagator::new().inject_context(cx, &mut RecordHeaderInjector(&mut headers));
    TraceContextPropagator::new().extract_with_context(
        &Context::new(),
        &RecordHeaderExtractor(headers.as_borrowed()),
    )
}

/// A traced HTTP client's request, then the server's middleware.
#[inline(never)]
fn through_http_headers(cx: &Context) -> Context {
    let mut headers = HeaderMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(&mut headers));
    TraceContextPropagator::new().extract_with_context(&Context::new(), &HeaderExtractor(&headers))
}

/// The tracer provider as step 08 builds it, with export off (`OTEL_TRACES_EXPORTER=none`),
/// and with `sampler`. The step leaves the sampler to the SDK, which reads
/// `OTEL_TRACES_SAMPLER`; `Sampler::AlwaysOff` is what `always_off` selects.
fn step_08_provider(sampler: Sampler) -> SdkTracerProvider {
    let telemetry = Telemetry {
        otlp: Otlp::Off,
        log: SpanLog::default(),
    };
    if matches!(sampler, Sampler::AlwaysOn) {
        return solution_08::telemetry::init("bench", &telemetry).expect("no exporter to build");
    }
    // The same processors as `init`, with the sampler set here rather than through the
    // environment, which this process shares with the pipeline's runs.
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_span_processor(telemetry.log.processor())
        .build()
}

/// chat-api's SERVER span, as steps 02 to 07 make it.
#[inline(never)]
fn otel_span(tracer: &SdkTracer, attributes: bool) {
    if !attributes {
        tracer.start("POST /message").end();
        return;
    }
    let mut span = tracer
        .span_builder(format!("{} {}", "POST", "/message"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new(HTTP_REQUEST_METHOD, "POST".to_owned()),
            KeyValue::new(HTTP_ROUTE, "/message".to_owned()),
        ])
        .start(tracer);
    span.set_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, 202));
    span.end();
}

/// chat-api's SERVER span, as step 08 makes it: the OpenTelemetry span starts when the
/// tracing span is first entered, and ends when the last handle to it is dropped.
#[inline(never)]
fn tracing_span(attributes: bool) {
    if !attributes {
        drop(info_span!("request").entered());
        return;
    }
    let span = info_span!(
        "request",
        otel.name = format!("{} {}", "POST", "/message"),
        otel.kind = "server",
        { HTTP_REQUEST_METHOD } = "POST",
        { HTTP_ROUTE } = "/message",
        { HTTP_RESPONSE_STATUS_CODE } = Empty,
    );
    drop(span.enter());
    // Recorded once the handler has answered, as step 08's middleware does.
    span.record(HTTP_RESPONSE_STATUS_CODE, 202);
}
