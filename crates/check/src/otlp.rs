//! A tiny OTLP receiver, so a check can prove that spans really leave the process: the export
//! path is tested, not assumed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use tokio::net::TcpListener;

/// One received span: the exporting service's `service.name` and the span's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub service: String,
    pub name: String,
    pub trace_id: String,
}

/// An OTLP receiver on a free loopback port. It keeps every span it is sent.
#[derive(Clone, Default)]
pub struct OtlpReceiver {
    /// What to put in `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl OtlpReceiver {
    /// A receiver for OTLP over gRPC (the workbook's default protocol).
    pub async fn grpc() -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = OtlpReceiver {
            endpoint: format!("http://{}", listener.local_addr().unwrap()),
            received: Arc::default(),
        };
        let service = TraceServiceServer::new(receiver.clone());
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming),
        );
        receiver
    }

    /// A receiver for OTLP over HTTP with protobuf bodies (`http/protobuf`).
    pub async fn http() -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = OtlpReceiver {
            endpoint: format!("http://{}", listener.local_addr().unwrap()),
            received: Arc::default(),
        };
        let keep = receiver.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| async move {
                match ExportTraceServiceRequest::decode(body) {
                    Ok(request) => {
                        keep.record(request);
                        axum::http::StatusCode::OK
                    }
                    Err(_) => axum::http::StatusCode::BAD_REQUEST,
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// Every span received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
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

    fn record(&self, request: ExportTraceServiceRequest) {
        let mut received = self.received.lock().unwrap();
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                .map(|value| match value {
                    Value::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push(Received {
                        service: service.clone(),
                        name: span.name,
                        trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                    });
                }
            }
        }
    }
}

#[tonic::async_trait]
impl TraceService for OtlpReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.record(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}
