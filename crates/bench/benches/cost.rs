//! What tracing costs, as one table.
//!
//! ```sh
//! cargo bench -p bench                          # release build, about three minutes
//! cargo bench -p bench -- --quick               # every part once, briefly (CI)
//! cargo bench -p bench --profile dev            # what `cargo run` gives a learner
//! cargo bench -p bench -- loop                  # the learner's wait, every step (bench::learner)
//! cargo bench -p bench -- loop --steps 05 --rounds 5 --cold
//! ```
//!
//! `loop` times the learner's loop instead of the app (`bench::learner`): an edit, then the
//! check's answer, for every step, three rounds; `--cold` adds a fresh clone's first
//! `cargo run -p exercise-01` (minutes). `--quick` without `loop` also runs the loop, once, for
//! step 01's exercise and solution checks, so that it cannot rot.
//!
//! Three parts, all in one table:
//! - micro: nanoseconds per inject + extract, and per span (`bench::micro`);
//! - pipeline: the whole app under POSTs, each setup in turn, several rounds
//!   (`bench::pipeline`);
//! - memory: one long run per setup, its peak resident memory and its span log.
//!
//! Progress goes to stderr; only the table goes to stdout.

use std::process::ExitCode;
use std::time::Duration;

use bench::learner::{self, Case};
use bench::micro;
use bench::pipeline::{self, Load, Outcome, RUN_FLAG, Setup};
use bench::report::{Table, median, nanos};

/// How much work each part does.
struct Plan {
    /// About how long each micro case runs.
    micro: Duration,
    /// How many times each setup runs under `load`.
    rounds: usize,
    load: Load,
    /// The one long run per setup that the memory figures come from.
    memory: Load,
}

const FULL: Plan = Plan {
    micro: Duration::from_secs(1),
    rounds: 7,
    load: Load {
        messages: 4_000,
        concurrency: 8,
        warmup: 400,
    },
    memory: Load {
        messages: 10_000,
        concurrency: 8,
        warmup: 200,
    },
};

/// Enough to prove every part still works; its figures mean nothing.
const QUICK: Plan = Plan {
    micro: Duration::from_millis(20),
    rounds: 1,
    load: Load {
        messages: 40,
        concurrency: 4,
        warmup: 8,
    },
    memory: Load {
        messages: 80,
        concurrency: 4,
        warmup: 8,
    },
};

/// The throughput and latency targets of the traced, exporting setup against the sampler off.
const MIN_THROUGHPUT_RATIO: f64 = 0.95;
const MAX_P50_MS: f64 = 0.5;
/// The target for one inject plus one extract.
const MAX_INJECT_EXTRACT_NS: f64 = 1_000.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // This binary is also each pipeline run's process.
    if let Some(at) = args.iter().position(|arg| arg == RUN_FLAG) {
        return match pipeline::child_main(&args[at + 1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("bench run: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    let plan = if quick { QUICK } else { FULL };
    let result = if args.iter().any(|arg| arg == "loop") {
        learner_loop(&args)
    } else {
        bench(&plan, quick).and_then(|()| {
            if quick {
                println!();
                quick_loop()
            } else {
                Ok(())
            }
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn bench(plan: &Plan, quick: bool) -> anyhow::Result<()> {
    eprintln!("micro: about {:?} a case", plan.micro);
    let figures = micro::run(plan.micro);

    // Every round runs every setup, in the same order: A B C D, A B C D, … so that a slow
    // minute of the machine hurts all setups alike.
    let mut rounds: Vec<Vec<Outcome>> = Vec::new();
    for round in 1..=plan.rounds {
        let mut outcomes = Vec::new();
        for setup in Setup::ALL {
            eprintln!("pipeline round {round}/{}: {}", plan.rounds, setup.label());
            outcomes.push(pipeline::in_child(setup, plan.load)?);
        }
        rounds.push(outcomes);
    }
    let mut memory = Vec::new();
    for setup in Setup::ALL {
        eprintln!(
            "memory: {} messages, {}",
            plan.memory.messages,
            setup.label()
        );
        memory.push(pipeline::in_child(setup, plan.memory)?);
    }

    let build = if cfg!(debug_assertions) {
        "debug build (dev profile, what `cargo run` gives)"
    } else {
        "release build"
    };
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "What tracing costs: {build}, {cores} cores, load average {:.1} at the end (1 min){}{}.",
        learner::load_average(),
        if std::env::var_os(pipeline::NO_SPAN_LOG).is_some() {
            "; the span log OFF (BENCH_NO_SPAN_LOG)"
        } else {
            ""
        },
        if quick {
            "; QUICK MODE, the figures mean nothing"
        } else {
            ""
        }
    );
    println!(
        "Pipeline: {} rounds of {} POSTs by {} clients per setup, setups in turn; medians, and \
         ratios and differences taken round by round. Memory: one run of {} POSTs per setup.",
        plan.rounds, plan.load.messages, plan.load.concurrency, plan.memory.messages
    );
    println!();
    let mut table = Table::new(&[
        "measure",
        "setup",
        "median",
        "vs 01 untraced",
        "vs 08 sampler off",
        "target",
    ]);
    micro_rows(&mut table, &figures);
    pipeline_rows(&mut table, &rounds, plan.load.messages + plan.load.warmup);
    memory_rows(&mut table, &memory, plan.memory.messages);
    print!("{}", table.render());

    let unseen: usize = rounds.iter().flatten().map(|o| o.unseen).sum();
    if unseen > 0 {
        println!("\n{unseen} messages were stored unseen by the watcher; they have no latency.");
    }
    Ok(())
}

/// `-- loop [--steps 05,06] [--rounds N] [--cold]`: the learner's wait (`bench::learner`).
fn learner_loop(args: &[String]) -> anyhow::Result<()> {
    let value = |flag: &str| {
        args.iter()
            .position(|arg| arg == flag)
            .and_then(|at| args.get(at + 1))
    };
    let steps = match value("--steps") {
        Some(list) => list.split(',').map(str::to_owned).collect(),
        None => learner::steps(),
    };
    let rounds = value("--rounds").map_or(Ok(3), |n| n.parse())?;
    let cold = args.iter().any(|arg| arg == "--cold")
        || std::env::var_os("BENCH_COLD").is_some_and(|v| v != "0");
    let plan = learner::Plan {
        steps,
        cases: Case::ALL.to_vec(),
        rounds,
    };
    let load = learner::load_average();
    let results = learner::run(&plan)?;
    let cold = if cold {
        eprintln!("cold run: a fresh clone's cargo run -p exercise-01, until /healthz answers");
        Some(learner::cold_run()?)
    } else {
        None
    };
    print_loop(&plan, load, &results, cold)
}

/// The quick mode's loop: step 01's exercise and solution checks, once (about 10 s).
fn quick_loop() -> anyhow::Result<()> {
    let plan = learner::Plan {
        steps: vec!["01".into()],
        cases: vec![Case::Exercise, Case::Solution],
        rounds: 1,
    };
    let load = learner::load_average();
    let results = learner::run(&plan)?;
    print_loop(&plan, load, &results, None)
}

fn print_loop(
    plan: &learner::Plan,
    load: f64,
    results: &[(String, Case, Vec<learner::Timing>)],
    cold: Option<learner::Timing>,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "The learner's wait: {cores} cores, load average {load:.1} at the start (1 min, \
         /proc/loadavg); {} rounds, steps in turn; wall and CPU time (the command and its \
         children), medians.",
        plan.rounds
    );
    println!();
    print!("{}", learner::table(results).render());
    if let Some(cold) = cold {
        println!();
        println!(
            "A fresh clone's `cargo run -p exercise-01` until /healthz answers: {:.0} s wall, \
             {:.0} s CPU, load {:.1}{}.",
            cold.wall.as_secs_f64(),
            cold.cpu.as_secs_f64(),
            cold.load,
            if cold.success { "" } else { " (NO ANSWER)" }
        );
    }
    Ok(())
}

fn micro_rows(table: &mut Table, figures: &[micro::Figure]) {
    for figure in figures {
        let target = if figure.what.starts_with("inject") {
            verdict(
                figure.ns_per_op <= MAX_INJECT_EXTRACT_NS,
                &format!("≤ {}", nanos(MAX_INJECT_EXTRACT_NS)),
            )
        } else {
            String::new()
        };
        table.row(vec![
            figure.what.into(),
            figure.how.into(),
            nanos(figure.ns_per_op),
            String::new(),
            String::new(),
            target,
        ]);
    }
}

/// How a pipeline measure compares between setups.
#[derive(Clone, Copy, PartialEq)]
enum Compare {
    /// As a ratio: `0.950×`.
    Ratio,
    /// As a difference in milliseconds: `+0.42 ms`.
    Difference,
}

/// A pipeline measure: its name, how it compares, and how to read it from an outcome.
struct Measure {
    name: &'static str,
    compare: Compare,
    read: fn(&Outcome) -> f64,
}

const MEASURES: [Measure; 4] = [
    Measure {
        name: "POSTs per second",
        compare: Compare::Ratio,
        read: |o| o.posts_per_second,
    },
    Measure {
        name: "CPU per POST",
        compare: Compare::Ratio,
        read: |o| o.cpu_us_per_post.unwrap_or(f64::NAN),
    },
    Measure {
        name: "POST → stored, p50",
        compare: Compare::Difference,
        read: |o| o.p50_ms,
    },
    Measure {
        name: "POST → stored, p99",
        compare: Compare::Difference,
        read: |o| o.p99_ms,
    },
];

/// One row per setup and measure. `rounds[r][s]` is round `r`'s outcome of `Setup::ALL[s]`;
/// each run made `posts` POSTs in all, warm-up included.
fn pipeline_rows(table: &mut Table, rounds: &[Vec<Outcome>], posts: usize) {
    let index = |setup: Setup| Setup::ALL.iter().position(|s| *s == setup).unwrap();
    for measure in &MEASURES {
        for setup in Setup::ALL {
            let s = index(setup);
            let values: Vec<f64> = rounds.iter().map(|r| (measure.read)(&r[s])).collect();
            // Compared round by round, then the median taken: each round's setups ran
            // minutes apart at most, so they saw the same machine.
            let against = |base: Setup| {
                let b = index(base);
                let per_round: Vec<f64> = rounds
                    .iter()
                    .map(|r| match measure.compare {
                        Compare::Ratio => (measure.read)(&r[s]) / (measure.read)(&r[b]),
                        Compare::Difference => (measure.read)(&r[s]) - (measure.read)(&r[b]),
                    })
                    .collect();
                median(&per_round)
            };
            let shown = |x: f64| match measure.compare {
                Compare::Ratio => format!("{x:.3}×"),
                Compare::Difference => format!("{x:+.2} ms"),
            };
            let vs_untraced = match setup {
                Setup::Untraced => String::new(),
                _ => shown(against(Setup::Untraced)),
            };
            let vs_sampler_off = match setup {
                Setup::Exported | Setup::ExportOff => shown(against(Setup::SamplerOff)),
                _ => String::new(),
            };
            let target = match (setup, measure.name) {
                (Setup::Exported, "POSTs per second") => verdict(
                    against(Setup::SamplerOff) >= MIN_THROUGHPUT_RATIO,
                    &format!("≥ {MIN_THROUGHPUT_RATIO}×"),
                ),
                (Setup::Exported, "POST → stored, p50") => verdict(
                    against(Setup::SamplerOff) <= MAX_P50_MS,
                    &format!("≤ +{MAX_P50_MS} ms"),
                ),
                _ => String::new(),
            };
            let median = median(&values);
            let figure = match measure.name {
                "POSTs per second" => format!("{median:.0}"),
                "CPU per POST" => format!("{median:.0} µs"),
                _ => format!("{median:.2} ms"),
            };
            table.row(vec![
                measure.name.into(),
                setup.label().into(),
                figure,
                vs_untraced,
                vs_sampler_off,
                target,
            ]);
        }
    }
    // About 3 a message when every trace is sampled (POST, send, giphy-service's process, and
    // storage-service's batch spans shared by up to 20 messages): fewer would mean the export
    // queue dropped some. With 1 trace in 10, about a tenth of that, if the consumers follow
    // chat-api's decision (and their batch spans follow any sampled link).
    for setup in [Setup::Exported, Setup::SampledLinks] {
        let column = index(setup);
        let per_post: Vec<f64> = rounds
            .iter()
            .filter_map(|r| r[column].spans_exported)
            .map(|spans| spans as f64 / posts as f64)
            .collect();
        if !per_post.is_empty() {
            table.row(vec![
                "spans exported per POST".into(),
                setup.label().into(),
                format!("{:.2}", median(&per_post)),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
}

/// Peak memory, growth over the second half of the run, and the span log's size.
fn memory_rows(table: &mut Table, memory: &[Outcome], messages: usize) {
    let mb = |kb: Option<u64>| kb.map_or(f64::NAN, |kb| kb as f64 / 1024.0);
    let untraced = &memory[0];
    for (setup, outcome) in Setup::ALL.into_iter().zip(memory) {
        let peak = mb(outcome.peak_rss_kb);
        let ratio = if setup == Setup::Untraced {
            String::new()
        } else {
            format!("{:.2}×", peak / mb(untraced.peak_rss_kb))
        };
        table.row(vec![
            format!("peak RSS after {messages} POSTs"),
            setup.label().into(),
            format!("{peak:.1} MB"),
            ratio,
            String::new(),
            String::new(),
        ]);
    }
    for (setup, outcome) in Setup::ALL.into_iter().zip(memory) {
        let growth = mb(outcome.rss_end_kb) - mb(outcome.rss_half_kb);
        table.row(vec![
            format!("RSS growth, POSTs {}–{messages}", messages / 2 + 1),
            setup.label().into(),
            format!("{growth:+.1} MB"),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for (setup, outcome) in Setup::ALL.into_iter().zip(memory) {
        if setup == Setup::Untraced {
            continue;
        }
        table.row(vec![
            format!("span log after {messages} POSTs"),
            setup.label().into(),
            format!("{} spans", outcome.span_log),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
}

/// `≤ 1 µs: met`, or `… MISSED`.
fn verdict(met: bool, target: &str) -> String {
    format!("{target}: {}", if met { "met" } else { "MISSED" })
}
