//! Class mode's shared Jaeger tells learners apart by `service.namespace`, which each learner
//! sets with the standard variable `OTEL_RESOURCE_ATTRIBUTES=service.namespace=NAME`. This test
//! proves that every step's tracer providers honour it while keeping their own `service.name`,
//! by running each solution with the variable set and reading the resources of the spans they
//! export to an OTLP receiver.
//!
//! Why it holds: each step builds its resource with `Resource::builder().with_service_name(…)`
//! (`solutions/solution-NN/src/telemetry.rs`). In opentelemetry_sdk 0.33, `Resource::builder()`
//! starts from the SDK's detectors, among them `EnvResourceDetector`, which reads
//! `OTEL_RESOURCE_ATTRIBUTES`; `with_service_name` is merged after them, so it wins over a
//! `service.name` in the variable (`src/resource/mod.rs`, `src/resource/env.rs`).
//!
//! The variable is read from the process environment, so this file holds a single test that
//! sets it first, before any other thread runs, and then runs the steps one after the other.

use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use check::TestApp;
use talk::{Config, Services, telemetry::Otlp};
use traces::otlp::{
    ExportTraceServiceRequest, OtlpReceiver, Sink, proto::common::v1::any_value::Value,
};

/// What the test puts in `OTEL_RESOURCE_ATTRIBUTES`: the learner's namespace, and a
/// `service.name` that each service must override with its own.
const RESOURCE_ATTRIBUTES: &str = "service.namespace=ada-test,service.name=not-a-service";

/// The services every instrumented step runs.
const SERVICES: [&str; 3] = ["chat-api", "storage-service", "giphy-service"];

/// The local Giphy stand-in, which traces as a service of its own from step 06 on.
const STAND_IN: &str = "giphy-api";

/// A receiver's sink that keeps the resource attributes of every batch received, one map per
/// `ResourceSpans`.
#[derive(Default)]
struct Resources(Mutex<Vec<BTreeMap<String, String>>>);

impl Resources {
    fn take(&self) -> Vec<BTreeMap<String, String>> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Sink for Resources {
    fn export(&self, request: ExportTraceServiceRequest) {
        let mut resources = self.0.lock().unwrap();
        for resource_spans in request.resource_spans {
            let attributes = resource_spans
                .resource
                .into_iter()
                .flat_map(|resource| resource.attributes)
                .map(|kv| {
                    let value = match kv.value.and_then(|v| v.value) {
                        Some(Value::StringValue(text)) => text,
                        other => format!("{other:?}"),
                    };
                    (kv.key, value)
                })
                .collect();
            resources.push(attributes);
        }
    }
}

#[test]
fn every_step_honours_otel_resource_attributes_and_keeps_its_service_name() {
    // SAFETY: this is the only test in this file, so no other thread of this process runs yet:
    // libtest's main thread only waits for it, and the runtime starts below.
    unsafe { std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", RESOURCE_ATTRIBUTES) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let receiver = OtlpReceiver::http(Resources::default())
            .await
            .expect("a receiver on a loopback port");
        let (endpoint, resources) = (receiver.endpoint.clone(), receiver.sink());
        prove("solution-02", solution_02::Step, &endpoint, resources).await;
        prove("solution-03", solution_03::Step, &endpoint, resources).await;
        prove("solution-04", solution_04::Step, &endpoint, resources).await;
        prove("solution-05", solution_05::Step, &endpoint, resources).await;
        prove("solution-06", solution_06::Step, &endpoint, resources).await;
        prove("solution-07", solution_07::Step, &endpoint, resources).await;
        prove("solution-08", solution_08::Step, &endpoint, resources).await;
        prove("solution-09", solution_09::Step, &endpoint, resources).await;
        prove("solution-10", solution_10::Step, &endpoint, resources).await;
    });
}

/// Runs `step` with export to the receiver, posts one message, stops the app (which flushes
/// the providers), and checks the resource of each service's spans.
async fn prove<S: Services>(label: &str, step: S, endpoint: &str, resources: &Resources) {
    resources.take();
    let config = Config {
        otlp: Otlp::To {
            endpoint: endpoint.to_string(),
            http: true,
        },
        ..Config::embedded()
    };
    let app = TestApp::start_with(step, config).await;
    // A /giphy message reaches every service, and from step 06 on the stand-in too.
    let sent = app.post("ada", "lobby", "/giphy cats").await;
    app.wait_for_message("lobby", &sent.id, "the cat image", |m| m.image.is_some())
        .await;
    app.wait_for_spans(
        "both consumers' spans",
        "every service should trace its work",
        |spans| {
            spans.has("storage-service", "process message")
                && spans.has("giphy-service", "process message")
        },
    )
    .await;
    app.stop().await;

    // The last batches arrive while the app stops; wait for all three services.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen: Vec<BTreeMap<String, String>> = Vec::new();
    loop {
        seen.extend(resources.take());
        let names: Vec<&str> = seen
            .iter()
            .filter_map(|r| r.get("service.name").map(String::as_str))
            .collect();
        if SERVICES.iter().all(|service| names.contains(service)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: the receiver got resources from {names:?}, not all of {SERVICES:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for resource in &seen {
        let name = resource.get("service.name").map_or("", String::as_str);
        assert!(
            SERVICES.contains(&name) || name == STAND_IN,
            "{label}: a provider exported as service.name={name:?}, not its own name \
             (OTEL_RESOURCE_ATTRIBUTES={RESOURCE_ATTRIBUTES:?}): {resource:?}"
        );
        assert_eq!(
            resource.get("service.namespace").map(String::as_str),
            Some("ada-test"),
            "{label}: {name}'s resource ignores OTEL_RESOURCE_ATTRIBUTES: {resource:?}"
        );
    }
    let mut names: Vec<&str> = seen
        .iter()
        .filter_map(|r| r.get("service.name").map(String::as_str))
        .collect();
    names.sort();
    names.dedup();
    println!(
        "{label}: {} exported with service.namespace=ada-test",
        names.join(", ")
    );
}
