//! The launcher: starts a step's services in one process, or one service per process.
//!
//! A step's binary is only this:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     talk::launch::main(solution_02::Step)
//! }
//! ```
//!
//! where `Step` implements [`Services`] with that step's chat-api, storage-service and
//! giphy-service. The launcher finds Kafka (embedded or external), the store and Giphy, hands
//! each service what it needs, and shuts everything down in order on Ctrl-C or SIGTERM.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConsumerTrace, GroupProtocolSetting, Mode, SendMode, ServiceName};
use crate::giphy;
use crate::http::{MAX_BODY_BYTES, static_routes};
use crate::kafka::consume::{self, BatchHandler, Batching, Handler};
use crate::kafka::embedded::{self, EmbeddedKafka};
use crate::kafka::group_protocol::{self, GroupProtocol};
use crate::kafka::ready::{Joined, Readiness};
use crate::kafka::{self, Kafka};
use crate::shutdown::{SHUTDOWN_DEADLINE, cancel_on_signal};
use crate::store::Store;
use crate::telemetry::{Otlp, SpanLog, Telemetry};
use traces::otlp::OtlpReceiver;

/// A step's three services. Each method runs one service until its `shutdown` token is
/// cancelled, then returns.
pub trait Services: Clone + Send + Sync + 'static {
    fn chat_api(&self, service: ChatApi) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn storage_service(
        &self,
        service: ConsumerService,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn giphy_service(
        &self,
        service: ConsumerService,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// What chat-api gets from the launcher.
pub struct ChatApi {
    /// chat-api's own Kafka producer.
    pub producer: FutureProducer,
    /// The message store, for `GET /message`.
    pub store: Store,
    /// Cancelled when the process should stop.
    pub shutdown: CancellationToken,
    /// Where spans go (from step 02 on).
    pub telemetry: Telemetry,
    /// How to send to Kafka (from step 03 on).
    pub send_mode: SendMode,
    listener: TcpListener,
    readiness: Readiness,
    jaeger_ui_url: String,
}

impl ChatApi {
    /// Serves `routes` (the step's `/message` routes) together with the chat page, its images,
    /// `/healthz` and `/trace/{id}`, until shutdown. In-flight requests finish first.
    pub async fn serve(self, routes: Router) -> anyhow::Result<()> {
        // The trace view sends the browser to Jaeger only when the spans are exported.
        let jaeger = match self.telemetry.otlp {
            Otlp::To { .. } => Some(self.jaeger_ui_url.clone()),
            Otlp::Off => None,
        };
        let app = routes
            .merge(static_routes(self.readiness))
            .merge(traces::view::routes(self.telemetry.log.clone(), jaeger))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
        axum::serve(self.listener, app)
            .with_graceful_shutdown(self.shutdown.cancelled_owned())
            .await
            .context("serving HTTP")
    }
}

/// What storage-service and giphy-service get from the launcher. Both get the same toolbox;
/// each uses what it needs.
pub struct ConsumerService {
    /// The service's name, which is also its consumer group.
    pub name: &'static str,
    /// The service's own Kafka producer (giphy-service re-publishes with it).
    pub producer: FutureProducer,
    /// The message store (storage-service writes to it).
    pub store: Store,
    /// The Giphy client (giphy-service asks it).
    pub giphy: giphy::Client,
    /// Cancelled when the process should stop.
    pub shutdown: CancellationToken,
    /// Where spans go (from step 02 on).
    pub telemetry: Telemetry,
    /// Whether `process message` continues the producer's trace (from step 05 on).
    pub consumer_trace: ConsumerTrace,
    /// When a batch closes (from step 07 on, for [`ConsumerService::consume_batches`]).
    pub batching: Batching,
    kafka: Kafka,
    joined: Joined,
}

impl ConsumerService {
    /// Joins the service's consumer group on the `message` topic and hands every chat message to
    /// `handler` until shutdown. See [`consume`] for what happens to bad records and failures.
    pub async fn consume(self, handler: impl Handler) -> anyhow::Result<()> {
        let consumer = self.kafka.consumer(self.name, self.joined)?;
        consume::run(self.name, consumer, handler, self.shutdown).await
    }

    /// Like [`ConsumerService::consume`], in batches (see [`consume::run_batches`]).
    pub async fn consume_batches(self, handler: impl BatchHandler) -> anyhow::Result<()> {
        let consumer = self.kafka.consumer(self.name, self.joined)?;
        consume::run_batches(self.name, consumer, handler, self.batching, self.shutdown).await
    }
}

/// A running app: its services, and what they share.
pub struct App {
    /// Where chat-api listens, if it runs in this process.
    pub addr: Option<SocketAddr>,
    /// Tells when every consumer in this process has joined its group.
    pub readiness: Readiness,
    /// Cancel it to stop the app.
    pub shutdown: CancellationToken,
    /// Where Kafka is.
    pub kafka: Kafka,
    /// Where messages are stored.
    pub store: Store,
    /// Every span finished in this process, from every service; empty in a process with
    /// neither chat-api nor the waterfall, where nothing reads it ([`SpanLog::stop_keeping`]).
    pub spans: SpanLog,
    services: JoinSet<(ServiceName, anyhow::Result<()>)>,
    /// Which service each task runs, to name one that panics.
    names: HashMap<tokio::task::Id, ServiceName>,
    producers: Vec<(ServiceName, FutureProducer)>,
    /// The Giphy stand-in's tracer provider, flushed when the app stops.
    stand_in: Option<SdkTracerProvider>,
    /// Kept so the embedded cluster lives as long as the app.
    embedded: Option<EmbeddedKafka>,
}

/// Starts the services that `config` names, with `services`' code.
pub async fn start<S: Services>(services: S, config: &Config) -> anyhow::Result<App> {
    start_with_shutdown(services, config, CancellationToken::new()).await
}

/// [`start`], stopped by `shutdown`, which may be cancelled even while waiting for Kafka.
pub async fn start_with_shutdown<S: Services>(
    services: S,
    config: &Config,
    shutdown: CancellationToken,
) -> anyhow::Result<App> {
    let names = config.services();
    let (kafka, embedded) = find_kafka(config, &shutdown).await?;
    let store = match &config.redis_url {
        Some(url) => Store::redis(url).context("REDIS_URL is not a Redis URL")?,
        None => Store::memory(),
    };
    // Only the services that use the store need to share it; giphy-service alone stores nothing.
    let uses_store =
        names.contains(&ServiceName::ChatApi) || names.contains(&ServiceName::StorageService);
    if store.is_memory() && names.len() == 1 && uses_store {
        tracing::warn!(
            "REDIS_URL is not set, so messages are kept in this process's memory only: \
             chat-api and storage-service in separate processes cannot share them. \
             Set REDIS_URL=redis://127.0.0.1:6379 (docker compose up -d redis)."
        );
    }
    let readiness = Readiness::new(kafka.joining());
    // A single service on the broker of `-- broker` sends its spans to that broker's receiver.
    let from_broker_file = config.mode.is_some() && config.kafka_brokers.is_none();
    let to_broker = from_broker_file
        .then(|| otlp_for_single_service(&config.otlp))
        .flatten();
    if let Some(Otlp::To { endpoint, .. }) = &to_broker {
        println!("Spans go to the OTLP receiver of `-- broker` at {endpoint}, which draws them.");
    }
    let otlp = to_broker.unwrap_or_else(|| config.otlp.clone());
    let telemetry = Telemetry {
        otlp,
        log: SpanLog::default(),
    };
    let giphy_here = names.contains(&ServiceName::GiphyService);
    let (giphy, stand_in) = giphy_client(config, giphy_here, &telemetry).await?;
    let waterfall = config.mode.is_none() && config.waterfall == "on";
    if waterfall {
        let printer = traces::waterfall::print_until(telemetry.log.clone(), shutdown.clone());
        tokio::spawn(printer);
    }
    // The span log is for the waterfall and chat-api's trace view (and the checks, which run
    // chat-api). A process without either, `-- storage-service` say, keeps no spans.
    if !waterfall && !names.contains(&ServiceName::ChatApi) {
        telemetry.log.stop_keeping();
    }

    let mut app = App {
        addr: None,
        readiness: readiness.clone(),
        shutdown: shutdown.clone(),
        kafka: kafka.clone(),
        store: store.clone(),
        spans: telemetry.log.clone(),
        services: JoinSet::new(),
        names: HashMap::new(),
        producers: Vec::new(),
        stand_in,
        embedded,
    };
    for name in names {
        let producer = kafka.producer(name.as_str())?;
        app.producers.push((name, producer.clone()));
        let services = services.clone();
        match name {
            ServiceName::ChatApi => {
                let listener = TcpListener::bind(config.addr).await.with_context(|| {
                    format!(
                        "chat-api cannot listen on {}: is another copy running? \
                         Choose another address with --addr or CHAT_API_ADDR",
                        config.addr
                    )
                })?;
                app.addr = Some(listener.local_addr()?);
                let service = ChatApi {
                    producer,
                    store: store.clone(),
                    shutdown: shutdown.clone(),
                    telemetry: telemetry.clone(),
                    send_mode: config.send_mode,
                    listener,
                    readiness: readiness.clone(),
                    jaeger_ui_url: config.jaeger_ui_url.clone(),
                };
                let task = app
                    .services
                    .spawn(async move { (name, services.chat_api(service).await) });
                app.names.insert(task.id(), name);
            }
            ServiceName::StorageService | ServiceName::GiphyService => {
                let service = ConsumerService {
                    name: name.as_str(),
                    producer,
                    store: store.clone(),
                    giphy: giphy.clone(),
                    shutdown: shutdown.clone(),
                    telemetry: telemetry.clone(),
                    consumer_trace: config.consumer_trace,
                    batching: config.batching(),
                    kafka: kafka.clone(),
                    joined: readiness.expect(name.as_str()),
                };
                // Empty unless a check set one: see `Config::ambient_context`.
                let ambient = config.ambient_context.clone().unwrap_or_default();
                let task = app.services.spawn(async move {
                    let result = if name == ServiceName::StorageService {
                        in_context(services.storage_service(service), ambient).await
                    } else {
                        in_context(services.giphy_service(service), ambient).await
                    };
                    (name, result)
                });
                app.names.insert(task.id(), name);
            }
        }
    }
    // No silent waits: the log says what the consumers wait for until they have joined.
    tokio::spawn(readiness.clone().log_while_waiting(shutdown.clone()));
    Ok(app)
}

impl App {
    /// Waits for every service to stop, then flushes the producers. If one service fails, the
    /// others are stopped too, and the first error is returned.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.services.join_next_with_id().await {
            // A panic (a todo!() in an exercise, say) stops that service like an error does:
            // the others still stop cleanly and flush.
            let (name, result) = match joined {
                Ok((_, done)) => done,
                Err(panicked) => {
                    let name = self.names[&panicked.id()];
                    (name, Err(anyhow::anyhow!("it panicked: {panicked}")))
                }
            };
            if let Err(error) = result {
                tracing::error!("{name} stopped: {error:#}");
                first_error.get_or_insert(error.context(format!("{name} failed")));
                self.shutdown.cancel();
            }
        }
        // Flush every producer at once: each may wait its full timeout when Kafka is gone.
        let mut flushes = JoinSet::new();
        for (name, producer) in self.producers.drain(..) {
            flushes.spawn(async move { kafka::flush(&producer, name.as_str()).await });
        }
        flushes.join_all().await;
        if let Some(provider) = self.stand_in.take() {
            // Bounded, like the services' own: a missing collector must not hold up the exit.
            let timeout = crate::telemetry::EXPORT_TIMEOUT;
            let _ =
                tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(timeout)).await;
        }
        // The services are done and the producers flushed, so the embedded cluster can go.
        drop(self.embedded.take());
        match first_error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The embedded cluster, when this app started one (checks use it to inject failures).
    pub fn embedded(&self) -> Option<&EmbeddedKafka> {
        self.embedded.as_ref()
    }

    /// Stops the app and waits until it has stopped.
    ///
    /// Prefer this to dropping the app: see the `Drop` impl.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// An app dropped without [`App::stop`] (a check that failed, say) still stops its services,
/// but cannot wait for them. Its embedded cluster is left running until the process exits:
/// destroying it under consumers that are still closing makes each of them wait for a broker
/// that is gone, for up to a minute.
impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(embedded) = self.embedded.take() {
            embedded.leak();
        }
    }
}

/// `future`, with `cx` as the current trace context whenever it runs. (A function of its own:
/// `opentelemetry`'s `FutureExt::with_context` would clash with `anyhow::Context` here.)
async fn in_context<F: Future>(future: F, cx: opentelemetry::Context) -> F::Output {
    opentelemetry::context::FutureExt::with_context(future, cx).await
}

/// Where Kafka is: `KAFKA_BROKERS`, else (all-in-one) a new embedded cluster, else (one service
/// per process) the cluster that `-- broker` announced.
async fn find_kafka(
    config: &Config,
    shutdown: &CancellationToken,
) -> anyhow::Result<(Kafka, Option<EmbeddedKafka>)> {
    if let Some(brokers) = &config.kafka_brokers {
        let mut kafka = Kafka {
            brokers: brokers.clone(),
            embedded: false,
            group_protocol: GroupProtocol::Consumer,
        };
        let hint = "Is it running? (`docker compose up -d`, or check KAFKA_BROKERS)";
        kafka.wait_until_reachable(shutdown, hint).await?;
        kafka.group_protocol = group_protocol::choose(config.group_protocol, brokers).await;
        return Ok((kafka, None));
    }
    if config.group_protocol != GroupProtocolSetting::Auto {
        tracing::info!(
            "the embedded cluster always uses group.protocol=consumer: \
             --group-protocol (KAFKA_GROUP_PROTOCOL) applies to an external Kafka only"
        );
    }
    if config.mode.is_none() {
        let embedded = EmbeddedKafka::start()?;
        return Ok((embedded.kafka().clone(), Some(embedded)));
    }
    let Some(brokers) = embedded::read_broker_file() else {
        anyhow::bail!(
            "no Kafka to connect to. Either start the embedded one in another terminal with \
             `cargo run -p <this step> -- broker`, or set KAFKA_BROKERS=localhost:9092 \
             after `docker compose up -d`"
        );
    };
    tracing::info!(
        "using the embedded broker at {brokers} (from {})",
        embedded::broker_file().display()
    );
    let kafka = Kafka {
        brokers,
        embedded: true,
        group_protocol: GroupProtocol::Consumer,
    };
    let hint = format!(
        "Is `-- broker` still running? Its address came from {}; start it again, \
         or delete that file.",
        embedded::broker_file().display()
    );
    kafka.wait_until_reachable(shutdown, &hint).await?;
    Ok((kafka, None))
}

/// The Giphy client: the real API with a key, `GIPHY_BASE_URL` if given, else the stand-in
/// (started only where giphy-service runs, with the tracer provider of `giphy-api`, which is
/// returned to be flushed at the end).
async fn giphy_client(
    config: &Config,
    giphy_here: bool,
    telemetry: &Telemetry,
) -> anyhow::Result<(giphy::Client, Option<SdkTracerProvider>)> {
    let key = config.giphy_api_key.clone().unwrap_or_default();
    let mut stand_in = None;
    let base = match (&config.giphy_base_url, config.giphy_api_key.is_some()) {
        (Some(base), _) => base.clone(),
        (None, true) => giphy::GIPHY_API.to_owned(),
        (None, false) if giphy_here => {
            let provider = telemetry.provider("giphy-api")?;
            let url = giphy::stand_in(provider.tracer("giphy-api")).await?;
            stand_in = Some(provider);
            url
        }
        (None, false) => giphy::GIPHY_API.to_owned(), // unused: giphy-service runs elsewhere
    };
    if giphy_here && base.starts_with("https:") && !cfg!(feature = "tls") {
        anyhow::bail!("{}", giphy::NO_TLS);
    }
    let client = giphy::Client::new(&base, &key, config.giphy_timeout);
    Ok((client, stand_in))
}

/// Runs a step's binary: parses the command line, starts the services (or the broker), and
/// returns the exit code once they have stopped.
pub fn main<S: Services>(services: S) -> ExitCode {
    crate::logging::init();
    let config = <Config as clap::Parser>::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the Tokio runtime");
    let result = runtime.block_on(async {
        if config.mode == Some(Mode::Broker) {
            return run_broker().await;
        }
        // Signals are handled from the start: Kafka may keep the app waiting before it runs.
        let shutdown = CancellationToken::new();
        cancel_on_signal(shutdown.clone());
        let app = match start_with_shutdown(services, &config, shutdown.clone()).await {
            Ok(app) => app,
            Err(_) if shutdown.is_cancelled() => return Ok(()),
            Err(error) => return Err(error),
        };
        banner(&config, &app);
        let shutdown = app.shutdown.clone();
        let wait = app.wait();
        tokio::pin!(wait);
        tokio::select! {
            result = &mut wait => result,
            _ = shutdown.cancelled() => {
                // Shutdown has begun: give the services a bounded time to finish.
                tokio::time::timeout(SHUTDOWN_DEADLINE, wait).await.unwrap_or_else(|_| {
                    anyhow::bail!("services did not stop within {SHUTDOWN_DEADLINE:?}")
                })
            }
        }
    });
    // Don't wait for tasks that ignore shutdown (e.g. the Giphy stand-in's server).
    runtime.shutdown_background();
    match result {
        Ok(()) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long after a trace's last span ended `-- broker` waits before it draws the trace. The
/// other processes export in batches, one every `OTEL_BSP_SCHEDULE_DELAY` (5 s unless set, the
/// SDK's default): by a second more, every process's batch with the trace's spans is in.
fn remote_settle() -> std::time::Duration {
    let delay_ms = std::env::var("OTEL_BSP_SCHEDULE_DELAY")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or(5_000);
    std::time::Duration::from_millis(delay_ms + 1_000)
}

/// `-- broker`: hosts the embedded cluster until Ctrl-C, and tells the other processes where.
///
/// It also hosts an OTLP receiver, so that the single-service processes can send their spans
/// somewhere without Docker, and draws every trace it receives, as the all-in-one mode does:
/// the one place where a trace that crosses the processes can be seen whole.
async fn run_broker() -> anyhow::Result<()> {
    let embedded = EmbeddedKafka::start()?;
    let brokers = &embedded.kafka().brokers;
    let received = SpanLog::default();
    let receiver = OtlpReceiver::grpc(received.clone())
        .await
        .context("starting the OTLP receiver on a loopback port")?;
    let file = embedded::broker_file();
    let text = embedded::broker_file_text(brokers, &receiver.endpoint);
    std::fs::write(&file, &text)
        .with_context(|| format!("writing the broker address to {}", file.display()))?;
    println!("Embedded Kafka (librdkafka's mock cluster) is listening on {brokers}");
    println!(
        "An OTLP receiver (gRPC) is listening on {}",
        receiver.endpoint
    );
    println!("Both addresses are in {}, where", file.display());
    println!("`-- chat-api`, `-- storage-service` and `-- giphy-service` find them: they send");
    println!("their spans here unless OTEL_EXPORTER_OTLP_ENDPOINT says otherwise, and the traces");
    println!("they make together are drawn below. Records live in this process's memory.");
    println!("Ctrl-C stops it.");
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    traces::waterfall::print_settled_until(received, remote_settle(), shutdown).await;
    // Only remove the file if it still names this broker (another may have started since).
    if std::fs::read_to_string(&file).ok().as_deref() == Some(text.as_str()) {
        let _ = std::fs::remove_file(&file);
    }
    Ok(())
}

/// Where a single-service process sends its spans when it uses the broker of `-- broker`:
/// that broker's OTLP receiver, unless the standard variables name an endpoint or turn export
/// off, or ask for OTLP over HTTP (the receiver speaks gRPC).
fn otlp_for_single_service(otlp: &Otlp) -> Option<Otlp> {
    let endpoint_set = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()));
    if endpoint_set || !matches!(otlp, Otlp::To { http: false, .. }) {
        return None;
    }
    let endpoint = embedded::read_broker_otlp()?;
    Some(Otlp::To {
        endpoint,
        http: false,
    })
}

fn banner(config: &Config, app: &App) {
    let kafka = if app.kafka.embedded && config.mode.is_none() {
        format!(
            "embedded (librdkafka's mock cluster at {}; in memory, gone at exit)",
            app.kafka.brokers
        )
    } else {
        app.kafka.brokers.clone()
    };
    let services: Vec<&str> = config.services().iter().map(|s| s.as_str()).collect();
    println!("Tracing Talk: {}", services.join(", "));
    println!("  Kafka: {kafka}");
    println!("  Store: {}", app.store.describe());
    if let Some(addr) = app.addr {
        println!("  Chat:  http://{addr}");
    }
    println!("  Ctrl-C stops it.");
}
