//! The terminal waterfall: a trace drawn as text, so a learner without Jaeger still sees it.
//!
//! ```text
//! trace cfdd686aa07e2eccc602d83fd1ab7ffd · 3 services · 4.0 ms
//!   chat-api         POST /message                    SERVER    [■■                          ]   0.1 ms
//!   chat-api         └─ send message                  PRODUCER  [  ■■■■■■■■■■                ]   1.3 ms
//!   storage-service     └─ process message            CONSUMER  [        ■                   ]   0.1 ms
//!   storage-service        └─ store message           INTERNAL  [        ■                   ]   0.0 ms
//!   giphy-service       └─ process message            CONSUMER  [                           ■]   0.0 ms
//! ```
//!
//! Each line is one span: its service, its name indented under its parent, its kind, a bar
//! showing when it ran within the trace, and its duration. Links are listed under the span,
//! with where they point: "also its parent" when the link and the parent are the same span
//! (Jaeger draws the pair as one FOLLOWS_FROM reference), or the other trace when the link
//! leaves this one, followed by the link's attributes, if any. A trace whose root follows from
//! another trace names it in its first line, so that in `--consumer-trace new` mode each
//! consumer's trace says where its message came from. In the all-in-one mode
//! the app prints every finished trace except those that hold only `GET` requests (the chat
//! page polls every second); `TALK_WATERFALL=off` silences it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;

use crate::log::{FinishedSpan, SpanLog};

/// Width of the time bar, in characters.
const BAR_WIDTH: usize = 28;

/// How long a trace must have been quiet (no span ending) before it counts as finished.
const SETTLE: Duration = Duration::from_millis(800);

/// Draws every trace in `spans`, oldest first.
pub fn render_all(spans: &[FinishedSpan]) -> String {
    let mut out = String::new();
    for trace in group_by_trace(spans) {
        out.push_str(&render_trace(&trace, spans));
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("(no spans were captured)\n");
    }
    out
}

/// Groups spans by trace, traces ordered by their first span's start.
pub fn group_by_trace(spans: &[FinishedSpan]) -> Vec<Vec<FinishedSpan>> {
    let mut traces: HashMap<TraceId, Vec<FinishedSpan>> = HashMap::new();
    for span in spans {
        traces
            .entry(span.span.span_context.trace_id())
            .or_default()
            .push(span.clone());
    }
    let mut traces: Vec<Vec<FinishedSpan>> = traces.into_values().collect();
    traces.sort_by_key(|t| t.iter().map(|s| s.span.start_time).min());
    traces
}

/// Draws one trace. `all` is every span known, so links to other traces can be named.
pub fn render_trace(trace: &[FinishedSpan], all: &[FinishedSpan]) -> String {
    let start = trace.iter().map(|s| s.span.start_time).min().unwrap();
    let end = trace.iter().map(|s| s.span.end_time).max().unwrap();
    let total = end.duration_since(start).unwrap_or_default();
    let mut services: Vec<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();

    let mut out = String::new();
    let trace_id = trace[0].span.span_context.trace_id();
    let _ = writeln!(
        out,
        "trace {trace_id} · {} service{} · {}{}",
        services.len(),
        if services.len() == 1 { "" } else { "s" },
        millis(total),
        follows_from(trace, all)
    );

    let timeline = Timeline { start, total };
    for (depth, span) in in_order(trace) {
        draw(&mut out, span, depth, &timeline, all);
    }
    out
}

/// The spans of one trace in drawing order, each with its depth: every span under its
/// parent, siblings by start time. A span whose parent is not among the trace's captured spans
/// is a root (its parent is remote and unseen, or it has none). The terminal and the HTML
/// view (`trace_view`) draw the same rows.
pub(crate) fn in_order(trace: &[FinishedSpan]) -> Vec<(usize, &FinishedSpan)> {
    let ids: HashMap<SpanId, &FinishedSpan> = trace
        .iter()
        .map(|s| (s.span.span_context.span_id(), s))
        .collect();
    let mut children: HashMap<SpanId, Vec<&FinishedSpan>> = HashMap::new();
    let mut roots = Vec::new();
    for span in trace {
        if ids.contains_key(&span.span.parent_span_id) {
            children
                .entry(span.span.parent_span_id)
                .or_default()
                .push(span);
        } else {
            roots.push(span);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| s.span.start_time);
    }
    roots.sort_by_key(|s| s.span.start_time);

    let mut rows = Vec::with_capacity(trace.len());
    // Depth first, with an explicit stack: the last root pushed is drawn last.
    let mut stack: Vec<(usize, &FinishedSpan)> = roots.into_iter().rev().map(|s| (0, s)).collect();
    while let Some((depth, span)) = stack.pop() {
        rows.push((depth, span));
        if let Some(list) = children.get(&span.span.span_context.span_id()) {
            stack.extend(list.iter().rev().map(|child| (depth + 1, *child)));
        }
    }
    rows
}

/// ` · key=value, …` for a link's attributes, or nothing. Jaeger's UI does not show a link's
/// attributes; the waterfall and the trace view do, so that a batch's per-record facts (which
/// message, where in Kafka) can be seen somewhere.
pub(crate) fn link_facts(link: &Link) -> String {
    let facts: Vec<String> = link
        .attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    if facts.is_empty() {
        String::new()
    } else {
        format!(" · {}", facts.join(", "))
    }
}

/// The span that `target` names, if `all` still has it.
pub(crate) fn find<'a>(target: &SpanContext, all: &'a [FinishedSpan]) -> Option<&'a FinishedSpan> {
    all.iter().find(|s| {
        s.span.span_context.span_id() == target.span_id()
            && s.span.span_context.trace_id() == target.trace_id()
    })
}

/// `began 4.1 ms after it ended`: when `span` began, measured from the end of `target`, the
/// span it links to. For a process span linked to its record's send span, this is the record's
/// time in Kafka, which `--consumer-trace new` mode otherwise hides, as each trace has a time
/// axis of its own.
///
/// Measured from the send span's *end*, not its start: the send span ends when the broker has
/// acknowledged the record, so from then on the record waits in Kafka until a consumer fetches
/// it and starts processing. Its start would add the producer's own part (queueing, the round
/// trip to the broker), which the send span's duration already shows. For a batch, the wait
/// includes the time the batch took to fill. A consumer can start before the producer hears
/// the acknowledgement; that is said as it is, with no negative number.
pub(crate) fn began_after(span: &SpanData, target: &SpanData) -> String {
    match span.start_time.duration_since(target.end_time) {
        Ok(wait) => format!("began {} after it ended", millis(wait)),
        Err(_) => "began before it ended".to_owned(),
    }
}

/// Where a link points, as seen from the span that has it.
pub(crate) fn link_place(span: &SpanData, target: &SpanContext) -> String {
    if target.trace_id() != span.span_context.trace_id() {
        format!("in another trace, {}", target.trace_id())
    } else if target.span_id() == span.parent_span_id {
        "also its parent".to_owned()
    } else {
        "in this trace".to_owned()
    }
}

struct Timeline {
    start: SystemTime,
    total: Duration,
}

fn draw(
    out: &mut String,
    span: &FinishedSpan,
    depth: usize,
    timeline: &Timeline,
    all: &[FinishedSpan],
) {
    let data = &span.span;
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}└─ ", "   ".repeat(depth - 1))
    };
    let name = format!("{indent}{}", data.name);
    let duration = data
        .end_time
        .duration_since(data.start_time)
        .unwrap_or_default();
    let error = match &data.status {
        Status::Error { description } => format!("  ✗ error: {}", error_text(data, description)),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "  {:<16} {:<32} {:<9} [{}] {:>8}{error}",
        span.service,
        name,
        kind(&data.span_kind),
        bar(timeline, data.start_time, data.end_time),
        millis(duration),
    );
    for link in data.links.iter() {
        let target = &link.span_context;
        let what = name_of(target.span_id(), all);
        let place = link_place(data, target);
        let facts = link_facts(link);
        let _ = writeln!(
            out,
            "  {:<16} {:<32} ↪ link to {what}, {place}{facts}",
            "", ""
        );
    }
}

/// `send message (chat-api)` for a span found in `all`, else `span <id>`.
pub(crate) fn name_of(id: SpanId, all: &[FinishedSpan]) -> String {
    match all.iter().find(|s| s.span.span_context.span_id() == id) {
        Some(s) => format!("{} ({})", s.span.name, s.service),
        None => format!("span {id}"),
    }
}

/// ` · follows from send message (chat-api) in trace <id>` when a root of `trace` has no parent
/// and links to a span in another trace; empty otherwise. A batch that follows from many
/// spans gets a count instead: its links, listed under it, name them all.
pub(crate) fn follows_from(trace: &[FinishedSpan], all: &[FinishedSpan]) -> String {
    let trace_id = trace[0].span.span_context.trace_id();
    let causes: Vec<&opentelemetry::trace::SpanContext> = trace
        .iter()
        .filter(|s| s.span.parent_span_id == SpanId::INVALID)
        .flat_map(|s| s.span.links.iter())
        .map(|link| &link.span_context)
        .filter(|target| target.trace_id() != trace_id)
        .collect();
    match causes.as_slice() {
        [] => String::new(),
        [target] => format!(
            " · follows from {} in trace {}",
            name_of(target.span_id(), all),
            target.trace_id()
        ),
        many => {
            let mut traces: Vec<[u8; 16]> = many.iter().map(|t| t.trace_id().to_bytes()).collect();
            traces.sort_unstable();
            traces.dedup();
            let traces = match traces.len() {
                1 => "1 other trace".to_owned(),
                n => format!("{n} other traces"),
            };
            format!(" · follows from {} spans in {traces}", many.len())
        }
    }
}

pub(crate) fn kind(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "CLIENT",
        SpanKind::Server => "SERVER",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal => "INTERNAL",
    }
}

fn bar(timeline: &Timeline, start: SystemTime, end: SystemTime) -> String {
    let offset = |t: SystemTime| t.duration_since(timeline.start).unwrap_or_default();
    let total = timeline.total.as_secs_f64().max(1e-9);
    let from = ((offset(start).as_secs_f64() / total) * BAR_WIDTH as f64).floor() as usize;
    let to = ((offset(end).as_secs_f64() / total) * BAR_WIDTH as f64).ceil() as usize;
    let from = from.min(BAR_WIDTH - 1);
    let to = to.clamp(from + 1, BAR_WIDTH);
    format!(
        "{}{}{}",
        " ".repeat(from),
        "■".repeat(to - from),
        " ".repeat(BAR_WIDTH - to)
    )
}

pub(crate) fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Does this trace hold only `GET` requests? Those are not printed: the chat page asks for
/// messages every second, and their traces would drown the interesting ones.
fn only_get(trace: &[FinishedSpan]) -> bool {
    trace.iter().all(|s| s.span.name.starts_with("GET"))
}

/// Prints finished traces, except those of `GET` requests alone, to stdout until `shutdown`, and forgets printed and
/// settled traces so that a long-running app does not keep every span in memory.
pub async fn print_until(log: SpanLog, shutdown: tokio_util::sync::CancellationToken) {
    print_settled_until(log, SETTLE, shutdown).await;
}

/// [`print_until`], drawing a trace once its last span ended at least `quiet` ago. The spans
/// of other processes come in their exporters' batches, seconds after they ended (`-- broker`
/// waits for them): a trace drawn sooner would lack the processes whose batch was not in yet.
pub async fn print_settled_until(
    log: SpanLog,
    quiet: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    // Spans that end after their trace was printed (a Giphy call slower than SETTLE, say) are
    // printed as a continuation of it.
    let mut printed = std::collections::HashSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        let settled = log.take_settled(quiet);
        if settled.is_empty() {
            continue;
        }
        for trace in settled {
            if !only_get(&trace) {
                let id = trace[0].span.span_context.trace_id();
                // The log's history holds the spans taken lately, this trace's among them, so
                // that a link to an earlier trace can name the span it points to (in
                // `--consumer-trace new` mode, the send span of chat-api's trace).
                let drawn = log.with_history(|known| render_trace(&trace, known));
                if printed.contains(&id) {
                    println!("(continued) {drawn}");
                } else {
                    println!("{drawn}");
                }
                if printed.len() > 10_000 {
                    printed.clear();
                }
                printed.insert(id);
            }
        }
    }
}

impl SpanLog {
    /// Removes and returns the traces whose last span ended at least `quiet` ago.
    pub fn take_settled(&self, quiet: Duration) -> Vec<Vec<FinishedSpan>> {
        let now = SystemTime::now();
        let spans = self.spans();
        let mut last_end: HashMap<TraceId, SystemTime> = HashMap::new();
        for s in &spans {
            let end = last_end
                .entry(s.span.span_context.trace_id())
                .or_insert(s.span.end_time);
            *end = (*end).max(s.span.end_time);
        }
        let settled: Vec<TraceId> = last_end
            .into_iter()
            .filter(|(_, end)| now.duration_since(*end).unwrap_or_default() >= quiet)
            .map(|(id, _)| id)
            .collect();
        if settled.is_empty() {
            return Vec::new();
        }
        let taken = self.remove_where(|s| settled.contains(&s.span.span_context.trace_id()));
        group_by_trace(&taken)
    }
}

/// What to say of a failed span: its status description, or, when it has none (an HTTP error
/// answer, whose status code says it all, as the conventions ask), its `error.type`.
pub fn error_text<'a>(data: &'a SpanData, description: &'a str) -> Cow<'a, str> {
    if !description.is_empty() {
        return Cow::Borrowed(description);
    }
    data.attributes
        .iter()
        .find(|kv| kv.key.as_str() == "error.type")
        .map_or(Cow::Borrowed("(no description)"), |kv| kv.value.as_str())
}
