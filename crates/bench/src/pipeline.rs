//! The whole app under load: all three services in one process on the embedded Kafka, as
//! `cargo run -p solution-NN` runs them, driven by a fixed number of POSTs at a fixed
//! concurrency, as a load tool would drive them.
//!
//! Each run is a process of its own ([`in_child`] starts this bench's binary again with
//! `--run`). Three reasons:
//! - the sampler comes from `OTEL_TRACES_SAMPLER`, which the SDK reads from the environment,
//!   and a process's environment can be set safely only before it starts threads;
//! - the peak resident memory (`VmHWM`) of a process is that run's alone;
//! - nothing a run leaves behind (threads, buffers, a cluster still closing) slows the next.
//!
//! A run posts to its own rooms, one per concurrent client, and a watcher ([`watch`]) reads
//! those rooms from the store every quarter millisecond: the time from sending a POST to the
//! watcher first finding its message stored is the message's latency.

mod drive;
mod watch;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use talk::telemetry::Otlp;
use talk::{App, Config};

use crate::report::percentile;
use crate::usage::{self, Who};
use drive::Progress;
use traces::otlp::{OtlpReceiver, SpanCount};
use watch::Watcher;

/// How long the consumers may take to join, and the store to catch up, before a run fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Set (to anything) to run the app with its span log off (`SpanLog::stop_keeping`), as a
/// process where nothing reads the log runs: what the log costs is the difference. A run of
/// its own, since each setup's process inherits the variable.
pub const NO_SPAN_LOG: &str = "BENCH_NO_SPAN_LOG";

/// The setups the table compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Step 01: no tracing at all. The baseline.
    Untraced,
    /// The newest step, with the sampler off: every span is started and dropped unsampled, and
    /// nothing is exported. Export is configured all the same, so that the sampler is the only
    /// difference from [`Setup::Exported`].
    SamplerOff,
    /// The newest step, every span sampled and exported over OTLP (gRPC) to a receiver in the
    /// same process.
    Exported,
    /// The newest step, every span sampled, `OTEL_TRACES_EXPORTER=none`: the spans still go to
    /// the process's span log (the terminal waterfall's), but nowhere else.
    ExportOff,
    /// Step 10: chat-api keeps 1 trace in 10 (`parentbased_traceidratio`, 0.1), the consumers'
    /// sampler follows the parent and then the links, and what is sampled is exported as in
    /// [`Setup::Exported`]: what sampling across the queue costs and saves.
    SampledLinks,
}

impl Setup {
    /// In the order each round runs them.
    pub const ALL: [Setup; 5] = [
        Setup::Untraced,
        Setup::SamplerOff,
        Setup::Exported,
        Setup::ExportOff,
        Setup::SampledLinks,
    ];

    /// Its name on a run's command line.
    pub fn name(self) -> &'static str {
        match self {
            Setup::Untraced => "untraced",
            Setup::SamplerOff => "sampler-off",
            Setup::Exported => "exported",
            Setup::ExportOff => "export-off",
            Setup::SampledLinks => "sampled-links",
        }
    }

    pub fn from_name(name: &str) -> Option<Setup> {
        Setup::ALL.into_iter().find(|setup| setup.name() == name)
    }

    /// Its rows' label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Setup::Untraced => "01 untraced",
            Setup::SamplerOff => "08 sampler off (always_off)",
            Setup::Exported => "08 traced, OTLP export",
            Setup::ExportOff => "08 traced, export off",
            Setup::SampledLinks => "10 1 in 10, link-aware, OTLP export",
        }
    }

    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` for its process, if any.
    fn sampler(self) -> Option<(&'static str, Option<&'static str>)> {
        match self {
            Setup::SamplerOff => Some(("always_off", None)),
            Setup::SampledLinks => Some(("parentbased_traceidratio", Some("0.1"))),
            _ => None,
        }
    }

    fn exports(self) -> bool {
        matches!(
            self,
            Setup::SamplerOff | Setup::Exported | Setup::SampledLinks
        )
    }
}

/// How hard a run drives the app.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// The POSTs that are measured.
    pub messages: usize,
    /// How many clients post at once, each sending its next POST when the last is answered.
    pub concurrency: usize,
    /// POSTs sent and stored before the measured ones, not measured: they open the
    /// connections and warm the caches.
    pub warmup: usize,
}

/// What one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    /// Measured POSTs answered per second, from the first sent to the last answered.
    pub posts_per_second: f64,
    /// CPU time of the whole process (app and load generator, all threads, but not the store
    /// watcher) from the first POST until every message was stored, per POST, in µs.
    pub cpu_us_per_post: Option<f64>,
    /// POST sent → message found in the store, median and 99th percentile, in milliseconds.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Messages the watcher never saw arrive (they have no latency). Normally 0.
    pub unseen: usize,
    /// Resident memory when half the POSTs were answered, and when all were stored, in kB.
    pub rss_half_kb: Option<u64>,
    pub rss_end_kb: Option<u64>,
    /// The process's peak resident memory, in kB.
    pub peak_rss_kb: Option<u64>,
    /// Spans in the process's span log at the end.
    pub span_log: usize,
    /// Spans the receiver got, after the app stopped (and so flushed), if it exported.
    pub spans_exported: Option<u64>,
}

/// Runs `setup` under `load` in this process.
pub async fn run(setup: Setup, load: Load) -> anyhow::Result<Outcome> {
    let receiver = match setup.exports() {
        // A collector stand-in in this process, on the app's runtime: the cost of decoding each
        // batch lands on the same cores as the app, as it would with a collector on the same
        // laptop. It only counts, so its memory stays the same however many spans arrive.
        true => Some(OtlpReceiver::grpc(SpanCount::default()).await?),
        false => None,
    };
    let config = Config {
        otlp: match &receiver {
            Some(receiver) => Otlp::To {
                endpoint: receiver.endpoint.clone(),
                http: false,
            },
            None => Otlp::Off,
        },
        ..Config::embedded()
    };
    let app = match setup {
        Setup::Untraced => talk::launch::start(solution_01::Step, &config).await?,
        Setup::SampledLinks => talk::launch::start(solution_10::Step, &config).await?,
        _ => talk::launch::start(solution_08::Step, &config).await?,
    };
    wait_until_ready(&app).await?;
    if std::env::var_os(NO_SPAN_LOG).is_some() {
        app.spans.stop_keeping();
    }
    let base = format!("http://{}", app.addr.context("chat-api runs here")?);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    let warmup = Arc::new(Progress::new("warmup", load.concurrency));
    drive::post_all(&client, &base, &warmup, load.warmup).await?;
    Watcher::start(app.store.clone(), warmup.clone())
        .finish_when_all_seen(load.warmup, PATIENCE)
        .await?;

    let progress = Arc::new(Progress::new("bench", load.concurrency));
    let watcher = Watcher::start(app.store.clone(), progress.clone());
    let cpu_before = usage::cpu_time(Who::Process);
    let started = Instant::now();
    let posted = drive::post_all(&client, &base, &progress, load.messages).await?;
    let took = started.elapsed();
    let seen = watcher
        .finish_when_all_seen(load.messages, PATIENCE)
        .await?;
    let cpu = usage::cpu_time(Who::Process)
        .zip(cpu_before)
        .zip(seen.cpu)
        .map(|((after, before), watcher)| (after - before).saturating_sub(watcher));

    let mut latencies: Vec<f64> = posted
        .iter()
        .filter_map(|post| Some(seen.at.get(&post.id)?.duration_since(post.sent)))
        .map(|latency| latency.as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let outcome = Outcome {
        posts_per_second: load.messages as f64 / took.as_secs_f64(),
        cpu_us_per_post: cpu.map(|cpu| cpu.as_secs_f64() * 1e6 / load.messages as f64),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        unseen: load.messages - latencies.len(),
        rss_half_kb: progress.rss_at_half(),
        rss_end_kb: usage::rss_kb(),
        peak_rss_kb: usage::peak_rss_kb(),
        span_log: app.spans.spans().len(),
        spans_exported: None,
    };
    app.stop().await?;
    Ok(Outcome {
        spans_exported: receiver.map(|receiver| receiver.sink().get()),
        ..outcome
    })
}

async fn wait_until_ready(app: &App) -> anyhow::Result<()> {
    tokio::time::timeout(PATIENCE, app.readiness.wait())
        .await
        .context("the consumers did not join their groups")
}

/// The argument that makes this bench's binary do one run and print its [`Outcome`].
pub const RUN_FLAG: &str = "--run";

/// What a run prints before its outcome, as JSON on the same line.
const OUTCOME_PREFIX: &str = "outcome: ";

/// Runs `setup` under `load` in a new process of this binary, and returns what it measured.
pub fn in_child(setup: Setup, load: Load) -> anyhow::Result<Outcome> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg(RUN_FLAG)
        .arg(setup.name())
        .args([load.messages, load.concurrency, load.warmup].map(|n| n.to_string()))
        // Whatever the shell says about tracing must not leak into the comparison; the
        // batch processor's OTEL_BSP_* variables do pass, to try other settings.
        .env_remove("OTEL_TRACES_SAMPLER")
        .env_remove("OTEL_TRACES_SAMPLER_ARG")
        .env_remove("OTEL_TRACES_EXPORTER")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some((sampler, argument)) = setup.sampler() {
        command.env("OTEL_TRACES_SAMPLER", sampler);
        if let Some(argument) = argument {
            command.env("OTEL_TRACES_SAMPLER_ARG", argument);
        }
    }
    let output = command.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = stdout
        .lines()
        .find_map(|line| line.strip_prefix(OUTCOME_PREFIX))
        .with_context(|| format!("the {} run failed ({})", setup.name(), output.status))?;
    Ok(serde_json::from_str(json)?)
}

/// The body of a run's process: `args` are what follows [`RUN_FLAG`].
pub fn child_main(args: &[String]) -> anyhow::Result<()> {
    let (setup, numbers) = args.split_first().context("which setup?")?;
    let setup = Setup::from_name(setup).with_context(|| format!("no setup {setup:?}"))?;
    let numbers: Vec<usize> = numbers
        .iter()
        .map(|n| n.parse())
        .collect::<Result<_, _>>()?;
    let [messages, concurrency, warmup] = numbers[..] else {
        anyhow::bail!("expected: {RUN_FLAG} <setup> <messages> <concurrency> <warmup>");
    };
    let load = Load {
        messages,
        concurrency,
        warmup,
    };
    talk::logging::init_with_default("error,librdkafka=off,rdkafka=off");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(run(setup, load))?;
    println!("{OUTCOME_PREFIX}{}", serde_json::to_string(&outcome)?);
    // Tasks that ignore shutdown (the Giphy stand-in's server, the receiver) need not finish.
    runtime.shutdown_background();
    Ok(())
}
