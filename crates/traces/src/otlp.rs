//! The workspace's one OTLP receiver: the part of a collector that takes spans in, over gRPC
//! or HTTP, handing each export request to a [`Sink`].
//!
//! Its users, each with a sink of its own:
//! - `-- broker` hosts one, so that the single-service processes have somewhere to send their
//!   spans without Docker. Its sink is a [`SpanLog`], and the terminal waterfall draws the
//!   traces that cross the processes, as the all-in-one mode does for its own.
//! - The checks start one to prove that spans really leave the process: the export path is
//!   tested, not assumed. They keep a plain list of what arrived ([`SpanList`]).
//! - The cost bench counts spans ([`SpanCount`]), so that its memory stays the same however many
//!   arrive; the end-to-end tests read the resources of what arrives, with a sink of their own.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span as ProtoSpan, span, status};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message as _;
use tokio::net::TcpListener;

use crate::log::{FinishedSpan, SpanLog};

/// The OTLP message types, for such a sink.
pub use opentelemetry_proto::tonic as proto;
/// What an exporter sends, one request at a time: for a sink of its own that reads what the
/// provided sinks do not (the resources, say).
pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// What a receiver does with each export request.
pub trait Sink: Send + Sync + 'static {
    fn export(&self, request: ExportTraceServiceRequest);
}

/// An OTLP receiver on a free loopback port, feeding its sink.
pub struct OtlpReceiver<S> {
    /// What to put in `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    sink: Arc<S>,
}

impl<S> Clone for OtlpReceiver<S> {
    fn clone(&self) -> Self {
        OtlpReceiver {
            endpoint: self.endpoint.clone(),
            sink: Arc::clone(&self.sink),
        }
    }
}

impl<S: Sink> OtlpReceiver<S> {
    /// A receiver for OTLP over gRPC, the workbook's default protocol. It serves until the
    /// runtime ends.
    pub async fn grpc(sink: S) -> io::Result<OtlpReceiver<S>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let receiver = OtlpReceiver {
            endpoint: format!("http://{}", listener.local_addr()?),
            sink: Arc::new(sink),
        };
        let service = TraceServiceServer::new(Grpc(receiver.clone()));
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming),
        );
        Ok(receiver)
    }

    /// A receiver for OTLP over HTTP with protobuf bodies (`http/protobuf`). It serves until the
    /// runtime ends.
    pub async fn http(sink: S) -> io::Result<OtlpReceiver<S>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let receiver = OtlpReceiver {
            endpoint: format!("http://{}", listener.local_addr()?),
            sink: Arc::new(sink),
        };
        let sink = Arc::clone(&receiver.sink);
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| async move {
                match ExportTraceServiceRequest::decode(body) {
                    Ok(request) => {
                        sink.export(request);
                        axum::http::StatusCode::OK
                    }
                    Err(_) => axum::http::StatusCode::BAD_REQUEST,
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(receiver)
    }

    /// The receiver's sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }
}

/// The gRPC service, apart from the receiver so that the receiver needs no `tonic` bound.
struct Grpc<S>(OtlpReceiver<S>);

#[tonic::async_trait]
impl<S: Sink> TraceService for Grpc<S> {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.sink.export(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// One received span, for a check: the exporting service's `service.name`, the span's name
/// and its trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub service: String,
    pub name: String,
    pub trace_id: String,
}

/// A sink that keeps a [`Received`] for every span, for a check.
#[derive(Debug, Default)]
pub struct SpanList(Mutex<Vec<Received>>);

impl Sink for SpanList {
    fn export(&self, request: ExportTraceServiceRequest) {
        let mut list = self.0.lock().unwrap();
        for (service, _, span) in spans(request) {
            list.push(Received {
                service,
                name: span.name,
                trace_id: hex(&span.trace_id),
            });
        }
    }
}

impl OtlpReceiver<SpanList> {
    /// Every span received so far.
    pub fn received(&self) -> Vec<Received> {
        self.sink.0.lock().unwrap().clone()
    }

    /// Waits until a span named `name` from `service` has arrived; returns it, or `None` after
    /// `patience`.
    pub async fn wait_for(
        &self,
        service: &str,
        name: &str,
        patience: Duration,
    ) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let found = self
                .received()
                .into_iter()
                .find(|r| r.service == service && r.name == name);
            if found.is_some() || tokio::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A span log is a sink: every span, made whole again, for the waterfall (`-- broker`).
impl Sink for SpanLog {
    fn export(&self, request: ExportTraceServiceRequest) {
        for (service, scope, span) in spans(request) {
            if let Some(span) = span_data(span, &scope) {
                self.push(FinishedSpan { service, span });
            }
        }
    }
}

/// A sink that only counts spans: its memory stays the same however many arrive.
#[derive(Debug, Default)]
pub struct SpanCount(AtomicU64);

impl SpanCount {
    /// How many spans have arrived so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Sink for SpanCount {
    fn export(&self, request: ExportTraceServiceRequest) {
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        self.0.fetch_add(spans as u64, Ordering::Relaxed);
    }
}

/// Every span of a request, with its resource's `service.name` and its scope's name.
fn spans(request: ExportTraceServiceRequest) -> impl Iterator<Item = (String, String, ProtoSpan)> {
    request
        .resource_spans
        .into_iter()
        .flat_map(|resource_spans| {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .map(text)
                .unwrap_or_default();
            resource_spans
                .scope_spans
                .into_iter()
                .flat_map(move |scope_spans| {
                    let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
                    let service = service.clone();
                    scope_spans
                        .spans
                        .into_iter()
                        .map(move |span| (service.clone(), scope.clone(), span))
                })
        })
}

/// A span as it came over the wire, made back into what the SDK handed the exporter, so that
/// the waterfall draws it like a span of this process. `None` for a span with malformed ids.
fn span_data(span: ProtoSpan, scope: &str) -> Option<SpanData> {
    let trace_id = TraceId::from_bytes(span.trace_id.as_slice().try_into().ok()?);
    let context = SpanContext::new(
        trace_id,
        SpanId::from_bytes(span.span_id.as_slice().try_into().ok()?),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    // An empty parent id means a root.
    let parent_span_id = span
        .parent_span_id
        .as_slice()
        .try_into()
        .map_or(SpanId::INVALID, SpanId::from_bytes);
    let mut links = SpanLinks::default();
    for link in span.links {
        let (Ok(trace), Ok(id)) = (
            link.trace_id.as_slice().try_into(),
            link.span_id.as_slice().try_into(),
        ) else {
            continue;
        };
        let target = SpanContext::new(
            TraceId::from_bytes(trace),
            SpanId::from_bytes(id),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        links
            .links
            .push(Link::new(target, attributes(link.attributes), 0));
    }
    let status = match span.status {
        Some(s) if s.code == status::StatusCode::Error as i32 => Status::error(s.message),
        Some(s) if s.code == status::StatusCode::Ok as i32 => Status::Ok,
        _ => Status::Unset,
    };
    Some(SpanData {
        span_context: context,
        parent_span_id,
        parent_span_is_remote: false,
        span_kind: kind(span.kind),
        name: span.name.into(),
        start_time: time(span.start_time_unix_nano),
        end_time: time(span.end_time_unix_nano),
        attributes: attributes(span.attributes),
        dropped_attributes_count: span.dropped_attributes_count,
        events: SpanEvents::default(),
        links,
        status,
        instrumentation_scope: InstrumentationScope::builder(scope.to_owned()).build(),
    })
}

fn kind(kind: i32) -> SpanKind {
    match span::SpanKind::try_from(kind) {
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn time(unix_nanos: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(unix_nanos)
}

/// Attributes keep their type where the waterfall shows it (text, numbers, true/false);
/// anything else becomes text.
fn attributes(list: Vec<ProtoKeyValue>) -> Vec<KeyValue> {
    list.into_iter()
        .map(|kv| {
            let value: opentelemetry::Value = match kv.value.and_then(|v| v.value) {
                Some(any_value::Value::IntValue(i)) => i.into(),
                Some(any_value::Value::DoubleValue(d)) => d.into(),
                Some(any_value::Value::BoolValue(b)) => b.into(),
                Some(any_value::Value::StringValue(s)) => s.into(),
                Some(other) => format!("{other:?}").into(),
                None => String::new().into(),
            };
            KeyValue::new(kv.key, value)
        })
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_otlp::WithExportConfig as _;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    /// Spans exported over OTLP to a receiver that feeds a span log come out as they went in:
    /// service, name, parent, kind, attributes, links and status.
    #[tokio::test(flavor = "multi_thread")]
    async fn exported_spans_arrive_whole_in_the_log() {
        let log = SpanLog::default();
        let receiver = OtlpReceiver::grpc(log.clone()).await.unwrap();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&receiver.endpoint)
            .build()
            .unwrap();
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder().with_service_name("chat-api").build())
            .with_simple_exporter(exporter)
            .build();
        let tracer = provider.tracer("test");
        let cause = tracer
            .span_builder("send message")
            .with_kind(SpanKind::Producer)
            .start(&tracer);
        let cause_context = opentelemetry::trace::Span::span_context(&cause).clone();
        drop(cause);
        let mut effect = tracer
            .span_builder("process message")
            .with_kind(SpanKind::Consumer)
            .with_attributes([KeyValue::new("messaging.kafka.offset", 7)])
            .with_links(vec![Link::with_context(cause_context.clone())])
            .start(&tracer);
        opentelemetry::trace::Span::set_status(&mut effect, Status::error("boom"));
        drop(effect);
        provider.force_flush().unwrap();

        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while log.spans().len() < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "spans never arrived"
            );
            log.changed(Duration::from_millis(100)).await;
        }
        let spans = log.spans();
        let effect = spans
            .iter()
            .find(|s| s.span.name == "process message")
            .unwrap();
        assert_eq!(effect.service, "chat-api");
        assert_eq!(effect.span.span_kind, SpanKind::Consumer);
        assert_eq!(
            effect.span.attributes,
            [KeyValue::new("messaging.kafka.offset", 7)]
        );
        assert_eq!(
            effect.span.links.links[0].span_context.span_id(),
            cause_context.span_id()
        );
        assert_eq!(effect.span.status, Status::error("boom"));
        assert_eq!(effect.span.parent_span_id, SpanId::INVALID);
        let _ = provider.shutdown();
    }
}
