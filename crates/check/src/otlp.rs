//! The checks' OTLP receiver: the `traces` crate's receiver, keeping a list of what arrived,
//! to prove that spans really leave the process.

pub use traces::otlp::{Received, SpanList};

/// A receiver that keeps a [`Received`] for every span.
pub type OtlpReceiver = traces::otlp::OtlpReceiver<SpanList>;

/// A receiver for OTLP over gRPC (the workbook's default protocol) on a loopback port.
pub async fn grpc() -> OtlpReceiver {
    OtlpReceiver::grpc(SpanList::default())
        .await
        .expect("a check's OTLP receiver needs a free loopback port")
}

/// A receiver for OTLP over HTTP with protobuf bodies on a loopback port.
pub async fn http() -> OtlpReceiver {
    OtlpReceiver::http(SpanList::default())
        .await
        .expect("a check's OTLP receiver needs a free loopback port")
}
