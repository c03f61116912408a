//! A collector stand-in: it receives OTLP over gRPC on a loopback port and counts the spans.
//!
//! The checks have a receiver too (`check::otlp`), which keeps every span's names for the
//! assertions. This one keeps only a count, so that its memory stays the same however many
//! spans arrive, and the memory figures measure the app, not the receiver.
//!
//! It runs in the app's process, on the app's runtime: the cost of decoding each batch lands
//! on the same two cores as the app, as it would if a collector ran on the same laptop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;

/// A running receiver. Cheap to clone; every clone shares the count.
#[derive(Clone)]
pub struct CountingReceiver {
    /// What the exporter's endpoint should be, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    spans: Arc<AtomicU64>,
}

impl CountingReceiver {
    /// Starts a receiver on a free loopback port. It serves until the runtime ends.
    pub async fn start() -> anyhow::Result<CountingReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let receiver = CountingReceiver {
            endpoint: format!("http://{}", listener.local_addr()?),
            spans: Arc::default(),
        };
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(receiver.clone()))
                .serve_with_incoming(incoming),
        );
        Ok(receiver)
    }

    /// How many spans have arrived so far.
    pub fn spans(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

#[tonic::async_trait]
impl TraceService for CountingReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .into_inner()
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum();
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}
