//! Telemetry plumbing that each step's tracer set-up uses: the OTLP exporter, configured from
//! the standard `OTEL_*` variables, and the [`SpanLog`] that collects this process's finished
//! spans for the terminal waterfall and for the checks.
//!
//! Building the `SdkTracerProvider` is the learner's job (step 02); this module only provides
//! the parts that are configuration rather than lesson.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};

/// How long one OTLP export may take. The collector being away must not hold up shutdown, which
/// flushes the last batch (design §3: exit within 10 s even when the collector is unreachable).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// How often, at most, one service reports a failing export.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Where spans go besides the terminal, from the standard OpenTelemetry variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Otlp {
    /// `OTEL_TRACES_EXPORTER=none`: no export.
    Off,
    /// Export over OTLP.
    To {
        /// `OTEL_EXPORTER_OTLP_ENDPOINT`, or the protocol's default.
        endpoint: String,
        /// `OTEL_EXPORTER_OTLP_PROTOCOL`: gRPC (`grpc`, the default) or `http/protobuf`.
        http: bool,
    },
}

impl Otlp {
    /// Reads `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_PROTOCOL` and
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    ///
    /// opentelemetry-otlp 0.33 reads the endpoint itself, but picks the protocol only when the
    /// transport is left to it, and then prefers HTTP. gRPC is what Jaeger's docs and most
    /// collectors lead with, so the protocol is read here and gRPC is the default.
    pub fn from_env() -> Otlp {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none") {
            return Otlp::Off;
        }
        let http = match var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref().map(str::trim) {
            None | Some("grpc") => false,
            Some("http/protobuf") => true,
            Some(other) => {
                tracing::warn!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL={other:?} is not supported here; using grpc \
                     (supported: grpc, http/protobuf)"
                );
                false
            }
        };
        let default = if http {
            "http://localhost:4318"
        } else {
            "http://localhost:4317"
        };
        let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .unwrap_or_else(|| default.to_owned());
        Otlp::To { endpoint, http }
    }

    /// The OTLP exporter, or `None` when export is off. Call it inside the Tokio runtime: the
    /// gRPC client starts its connection task there.
    ///
    /// The exporter is wrapped so that a missing collector costs one warning a minute per
    /// service and never stops the app.
    pub fn exporter(&self) -> anyhow::Result<Option<QuietExporter>> {
        use opentelemetry_otlp::WithExportConfig;
        let Otlp::To { endpoint, http } = self else {
            return Ok(None);
        };
        let exporter = if *http {
            // The signal path is part of the URL for HTTP; for gRPC it is part of the protocol.
            let url = if endpoint.ends_with("/v1/traces") {
                endpoint.clone()
            } else {
                format!("{}/v1/traces", endpoint.trim_end_matches('/'))
            };
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(url)
                .with_timeout(EXPORT_TIMEOUT)
                .build()?
        } else {
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .with_timeout(EXPORT_TIMEOUT)
                .build()?
        };
        Ok(Some(QuietExporter {
            inner: exporter,
            endpoint: endpoint.clone(),
            service: "unknown-service".to_owned(),
        }))
    }
}

/// An OTLP exporter that reports failures on stderr, at most once a minute per service, instead
/// of failing loudly on every batch. Tracing must never take the app down.
#[derive(Debug)]
pub struct QuietExporter {
    inner: opentelemetry_otlp::SpanExporter,
    endpoint: String,
    /// Learned from the provider's resource, so each service's warning says whose it is.
    service: String,
}

/// When each service last reported an export failure, by `service.name`.
///
/// One timer per service, not one for the process: a learner who runs the three services as
/// three processes gets one warning a minute from each, so the all-in-one process must do the
/// same, or it would name only whichever service happened to fail first. The timers are keyed
/// by name rather than kept in each exporter because a process may build a service's exporter
/// more than once (every check starts the app anew), and it is still one service.
static LAST_EXPORT_WARNING: Mutex<BTreeMap<String, Instant>> = Mutex::new(BTreeMap::new());

/// Is it time for `service` to report a failed export again? If so, starts its next minute.
fn time_to_warn(service: &str) -> bool {
    let mut last = LAST_EXPORT_WARNING.lock().unwrap();
    if last
        .get(service)
        .is_some_and(|at| at.elapsed() < WARN_EVERY)
    {
        return false;
    }
    last.insert(service.to_owned(), Instant::now());
    true
}

impl SpanExporter for QuietExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(error) = &result
            && time_to_warn(&self.service)
        {
            tracing::warn!(
                "{}: cannot export spans to {} ({error}). The app goes on; is Jaeger running \
                 (`docker compose up -d`)? OTEL_TRACES_EXPORTER=none turns export off.",
                self.service,
                self.endpoint
            );
        }
        // The failure is reported here; the batch processor need not report it again.
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            self.service = name.to_string();
        }
        self.inner.set_resource(resource);
    }
}

/// The span log lives in the `traces` crate, with the waterfall and the trace view that read
/// it; the steps' code names it from here, as it always has.
pub use traces::{FinishedSpan, SpanLog, SpanLogProcessor};

/// What each service gets for its telemetry: where to export, and this process's span log.
#[derive(Clone, Debug)]
pub struct Telemetry {
    pub otlp: Otlp,
    pub log: SpanLog,
}

impl Telemetry {
    /// A tracer provider for a service that is plumbing, not a step's lesson: the Giphy
    /// stand-in, `giphy-api`. Built the way each step's `telemetry::init` builds its own: the
    /// span log, and OTLP unless export is off.
    pub fn provider(&self, service: &'static str) -> anyhow::Result<SdkTracerProvider> {
        let resource = Resource::builder().with_service_name(service).build();
        let mut provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_span_processor(self.log.processor());
        if let Some(exporter) = self.otlp.exporter()? {
            provider = provider.with_batch_exporter(exporter);
        }
        Ok(provider.build())
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use tracing::instrument::WithSubscriber as _;

    use std::sync::Arc;

    use super::*;

    /// Log lines written to memory, for a test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Two services exporting to a collector that is not there: each warns once, with its own
    /// name and the endpoint, however the failures interleave. (With one timer for the
    /// process, the second service would never warn.)
    #[tokio::test]
    async fn each_service_warns_once_a_minute_about_a_failed_export() {
        // Bind a port, then free it, so nothing listens there.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let otlp = Otlp::To {
            endpoint: endpoint.clone(),
            http: false,
        };
        // Names of this test's own, so that no other test's exporter shares their timers.
        let services = ["warn-test-chat-api", "warn-test-storage-service"];

        let log = SpanLog::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(log.processor())
            .build();
        provider.tracer("test").start("lost span").end();
        let span = log.spans()[0].span.clone();

        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer({
                let captured = captured.clone();
                move || captured.clone()
            })
            .with_ansi(false)
            .finish();
        async {
            let mut exporters = Vec::new();
            for service in services {
                let mut exporter = otlp.exporter().unwrap().expect("export is on");
                exporter.set_resource(&Resource::builder().with_service_name(service).build());
                exporters.push(exporter);
            }
            // Each fails twice, in turns: A, B, A, B.
            for _ in 0..2 {
                for exporter in &exporters {
                    let quiet = exporter.export(vec![span.clone()]).await;
                    assert!(quiet.is_ok(), "a failed export is reported, not returned");
                }
            }
        }
        .with_subscriber(subscriber)
        .await;

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let warnings: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("cannot export spans"))
            .collect();
        assert_eq!(warnings.len(), 2, "one warning per service:\n{text}");
        for service in services {
            let theirs: Vec<&&str> = warnings
                .iter()
                .filter(|line| {
                    line.contains(&format!("{service}: cannot export spans to {endpoint}"))
                })
                .collect();
            assert_eq!(theirs.len(), 1, "{service} should warn once:\n{text}");
        }
    }
}
