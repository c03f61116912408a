//! `GET /trace/{trace_id}`: a trace drawn as an HTML page, from this process's span log, so
//! that the chat page's "trace" links work without Jaeger.
//!
//! It draws the same rows as the terminal waterfall (`waterfall::in_order`): each span's
//! service, its name indented under its parent, its kind, a bar for when it ran, its
//! duration and status. Each span's attributes open on demand, and each link is a link: to
//! the span it points to, in this trace or in another one, with how long after that span ended
//! this one began (a record's time in Kafka). The spans of other traces that link to this one
//! are listed under it, each with the span of this trace that it follows. The page is plain
//! HTML and CSS, made here, with no script and no build step.
//!
//! When Jaeger's UI answers at `JAEGER_UI_URL` and the spans are exported to it, the route
//! sends the browser there instead, checking each time, since Jaeger may be started or
//! stopped while the app runs. `?local` keeps the local view.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use opentelemetry::trace::{Status, TraceId};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_semantic_conventions::attribute::MESSAGING_BATCH_MESSAGE_COUNT;
use serde::Deserialize;

use crate::log::{FinishedSpan, SpanLog};
use crate::waterfall;

/// What the trace view needs from the process.
#[derive(Clone)]
struct Viewer {
    log: SpanLog,
    /// Jaeger's UI, when spans are exported to it; `None` when export is off.
    jaeger_ui_url: Option<String>,
    http: reqwest::Client,
}

/// How long to wait for Jaeger's UI before drawing the trace here instead.
const JAEGER_PROBE: Duration = Duration::from_millis(300);

/// The `/trace/{trace_id}` route. `jaeger_ui_url` is `None` when spans are not exported, so
/// that Jaeger, even if it runs, would not have them.
pub fn routes(log: SpanLog, jaeger_ui_url: Option<String>) -> Router {
    let viewer = Viewer {
        log,
        jaeger_ui_url: jaeger_ui_url.map(|url| url.trim_end_matches('/').to_owned()),
        http: reqwest::Client::builder()
            .timeout(JAEGER_PROBE)
            .build()
            .expect("an HTTP client with a timeout"),
    };
    Router::new()
        .route("/trace/{trace_id}", get(trace))
        .with_state(viewer)
}

#[derive(Deserialize)]
struct ViewQuery {
    /// Present (`?local`) to draw the trace here even when Jaeger is up.
    local: Option<String>,
}

async fn trace(
    State(viewer): State<Viewer>,
    Path(trace_id): Path<String>,
    Query(query): Query<ViewQuery>,
) -> Response {
    let Ok(id) = TraceId::from_hex(&trace_id) else {
        let page = message_page(
            "Not a trace id",
            "A trace id is 32 hexadecimal digits, like 4bf92f3577b34da6a3ce929d0e0e4736.",
            false,
        );
        return (StatusCode::BAD_REQUEST, Html(page)).into_response();
    };
    let jaeger = viewer.jaeger_up().await;
    if let (Some(jaeger), None) = (&jaeger, &query.local) {
        return Redirect::temporary(&format!("{jaeger}/trace/{trace_id}")).into_response();
    }
    let known = viewer.log.known();
    let spans: Vec<FinishedSpan> = known
        .iter()
        .filter(|s| s.span.span_context.trace_id() == id)
        .cloned()
        .collect();
    if spans.is_empty() {
        let page = message_page(
            "No spans yet",
            "This process has no span of that trace (yet): spans show up when they end, and \
             a process keeps only its newest few thousand. This page looks again every 2 s.",
            true,
        );
        return (StatusCode::NOT_FOUND, Html(page)).into_response();
    }
    Html(trace_page(&spans, &known, jaeger.as_deref())).into_response()
}

impl Viewer {
    /// Jaeger's UI address, if spans go there and it answers now.
    async fn jaeger_up(&self) -> Option<String> {
        let url = self.jaeger_ui_url.as_ref()?;
        let answer = self.http.get(url).send().await.ok()?;
        answer.status().is_success().then(|| url.clone())
    }
}

/// The whole page for one trace. `known` is every span the process has, to name the targets
/// of links.
fn trace_page(trace: &[FinishedSpan], known: &[FinishedSpan], jaeger: Option<&str>) -> String {
    let id = trace[0].span.span_context.trace_id();
    let start = trace.iter().map(|s| s.span.start_time).min().unwrap();
    let end = trace.iter().map(|s| s.span.end_time).max().unwrap();
    let total = end.duration_since(start).unwrap_or_default();
    let mut services: Vec<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();

    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>trace {short} · Tracing Talk</title><style>{STYLE}</style></head><body>\n\
         <p><a href=\"/\">← back to the chat</a></p>\n<h1>trace <code>{id}</code></h1>\n\
         <p class=\"summary\">{services} · {total}{follows}</p>\n",
        short = &id.to_string()[..8],
        services = escape(&services.join(", ")),
        total = waterfall::millis(total),
        follows = escape(&waterfall::follows_from(trace, known)),
    );
    if let Some(jaeger) = jaeger {
        let _ = writeln!(
            page,
            "<p><a href=\"{}/trace/{id}\">Open it in Jaeger</a></p>",
            escape(jaeger)
        );
    }
    page.push_str(
        "<table>\n<tr><th>service</th><th>span</th><th>kind</th><th>when</th>\
         <th>duration</th><th>status</th></tr>\n",
    );
    for (depth, span) in waterfall::in_order(trace) {
        row(&mut page, span, depth, (start, total), known);
    }
    page.push_str("</table>\n");
    followed_by(&mut page, id, known);
    page.push_str("</body></html>\n");
    page
}

/// The spans of other traces that link to a span of this one: with `--consumer-trace new`
/// (step 05 on) and with batches (step 07 on), the consumers' work is in traces of its own,
/// and this is the way from the message's trace to them. Each entry names the span of this
/// trace that it follows, and how long after that span's end it began (see
/// [`waterfall::began_after`]).
fn followed_by(page: &mut String, id: TraceId, known: &[FinishedSpan]) {
    let followers: Vec<&FinishedSpan> = known
        .iter()
        .filter(|s| s.span.span_context.trace_id() != id)
        .filter(|s| s.span.links.iter().any(|l| l.span_context.trace_id() == id))
        .collect();
    if followers.is_empty() {
        return;
    }
    page.push_str("<h2>Followed by</h2>\n<ul class=\"followers\">\n");
    for span in followers {
        let context = &span.span.span_context;
        let _ = write!(
            page,
            "<li><a href=\"/trace/{trace}?local#span-{span_id}\">{name} ({service})</a>{batch}, in \
             trace {trace} → follows ",
            trace = context.trace_id(),
            span_id = context.span_id(),
            name = escape(&span.span.name),
            service = escape(&span.service),
            batch = batch_size(&span.span),
        );
        // Usually one span: a record's send span. A batch may hold several records of this
        // trace (a re-publish, say), and links to each one's send span.
        let targets: Vec<String> = span
            .span
            .links
            .iter()
            .map(|link| &link.span_context)
            .filter(|target| target.trace_id() == id)
            .map(|target| {
                let wait = waterfall::find(target, known)
                    .map(|followed| {
                        format!(", {}", waterfall::began_after(&span.span, &followed.span))
                    })
                    .unwrap_or_default();
                format!(
                    "<a href=\"#span-{span_id}\">{what}</a>{wait}",
                    span_id = target.span_id(),
                    what = escape(&waterfall::name_of(target.span_id(), known)),
                )
            })
            .collect();
        let _ = writeln!(page, "{}</li>", targets.join("; "));
    }
    page.push_str("</ul>\n");
}

/// One span's row, and under it its attributes and links.
fn row(
    page: &mut String,
    span: &FinishedSpan,
    depth: usize,
    (start, total): (SystemTime, Duration),
    known: &[FinishedSpan],
) {
    let data = &span.span;
    let offset = |t: SystemTime| t.duration_since(start).unwrap_or_default().as_secs_f64();
    let total = total.as_secs_f64().max(1e-9);
    let left = offset(data.start_time) / total * 100.0;
    let width = ((offset(data.end_time) - offset(data.start_time)) / total * 100.0).max(0.5);
    let duration = data
        .end_time
        .duration_since(data.start_time)
        .unwrap_or_default();
    let status = match &data.status {
        Status::Error { description } => {
            let text = crate::waterfall::error_text(data, description);
            format!("<span class=\"error\">✗ {}</span>", escape(&text))
        }
        Status::Ok => "ok".to_owned(),
        Status::Unset => String::new(),
    };
    let _ = writeln!(
        page,
        "<tr id=\"span-{id}\"><td>{service}</td><td style=\"padding-left:{indent}em\">{name}</td>\
         <td>{kind}</td><td class=\"when\"><div class=\"bar\" style=\"margin-left:{left:.2}%;\
         width:{width:.2}%\"></div></td><td class=\"number\">{duration}</td><td>{status}</td></tr>",
        id = data.span_context.span_id(),
        service = escape(&span.service),
        indent = 0.3 + depth as f64 * 1.2,
        name = escape(&data.name),
        kind = waterfall::kind(&data.span_kind),
        duration = waterfall::millis(duration),
    );

    let mut details = String::new();
    if !data.attributes.is_empty() {
        let _ = write!(
            details,
            "<details><summary>{} attributes</summary><dl>",
            data.attributes.len()
        );
        for kv in &data.attributes {
            let _ = write!(
                details,
                "<dt>{}</dt><dd>{}</dd>",
                escape(kv.key.as_str()),
                escape(&kv.value.to_string())
            );
        }
        details.push_str("</dl></details>");
    }
    for link in data.links.iter() {
        let target = &link.span_context;
        // Only when the linked span is at hand: a guess would be worse than nothing.
        let wait = waterfall::find(target, known)
            .map(|linked| format!(" · {}", waterfall::began_after(data, &linked.span)))
            .unwrap_or_default();
        let _ = write!(
            details,
            "<p class=\"link\">↪ link to <a href=\"/trace/{trace}?local#span-{span}\">{what}</a>, \
             {place}{wait}{facts}</p>",
            trace = target.trace_id(),
            span = target.span_id(),
            what = escape(&waterfall::name_of(target.span_id(), known)),
            place = escape(&waterfall::link_place(data, target)),
            wait = escape(&wait),
            facts = escape(&waterfall::link_facts(link)),
        );
    }
    if !details.is_empty() {
        let _ = writeln!(
            page,
            "<tr class=\"details\"><td></td><td colspan=\"5\" style=\"padding-left:{:.1}em\">\
             {details}</td></tr>",
            0.3 + depth as f64 * 1.2
        );
    }
}

/// `, a batch of 3` for a span that processes a batch, from its `messaging.batch.message_count`
/// (step 07 on); nothing for a span of one record.
fn batch_size(span: &SpanData) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == MESSAGING_BATCH_MESSAGE_COUNT)
        .map(|kv| escape(&format!(", a batch of {}", kv.value)))
        .unwrap_or_default()
}

/// A short page that says one thing; `retry` makes it look again every 2 s.
fn message_page(title: &str, text: &str, retry: bool) -> String {
    let refresh = if retry {
        "<meta http-equiv=\"refresh\" content=\"2\">"
    } else {
        ""
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}\
         <title>{title} · Tracing Talk</title><style>{STYLE}</style></head><body>\n\
         <p><a href=\"/\">← back to the chat</a></p>\n<h1>{title}</h1>\n<p>{text}</p>\n\
         </body></html>\n",
        title = escape(title),
        text = escape(text),
    )
}

/// Text made safe to put in HTML, between tags or in a quoted attribute: names, attribute
/// values and messages come from the app's users.
fn escape(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => safe.push_str("&amp;"),
            '<' => safe.push_str("&lt;"),
            '>' => safe.push_str("&gt;"),
            '"' => safe.push_str("&quot;"),
            '\'' => safe.push_str("&#39;"),
            c => safe.push(c),
        }
    }
    safe
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
code{font-size:0.95em}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:0.15em 0.4em;vertical-align:top}\
th{border-bottom:1px solid #ccc}tr:target{background:#fff3c4}\
td.when{width:30%}.bar{height:0.9em;background:#4a7fd4;border-radius:2px;margin-top:0.2em}\
td.number{text-align:right;white-space:nowrap}.error{color:#b00020}\
tr.details td{font-size:0.9em;color:#555;border-bottom:1px solid #eee}\
dl{display:grid;grid-template-columns:max-content auto;gap:0 1em;margin:0.3em 0}\
dt{font-family:monospace}dd{margin:0;font-family:monospace}.link{margin:0.2em 0}";

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get as get_route;
    use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind, TraceFlags, TraceState};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    fn span(
        service: &str,
        name: &str,
        trace: u128,
        id: u64,
        parent: u64,
        links: Vec<Link>,
    ) -> FinishedSpan {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut span_links = SpanLinks::default();
        span_links.links = links;
        FinishedSpan {
            service: service.to_owned(),
            span: SpanData {
                span_context: SpanContext::new(
                    TraceId::from(trace),
                    SpanId::from(id),
                    TraceFlags::SAMPLED,
                    false,
                    TraceState::default(),
                ),
                parent_span_id: SpanId::from(parent),
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: name.to_owned().into(),
                start_time: start + Duration::from_millis(id),
                end_time: start + Duration::from_millis(id + 2),
                attributes: vec![KeyValue::new("messaging.message.id", "<b>7</b>")],
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: span_links,
                status: Status::error("Giphy <down>"),
                instrumentation_scope: InstrumentationScope::builder("test").build(),
            },
        }
    }

    fn link_to(trace: u128, id: u64) -> Link {
        let target = SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        Link::with_context(target)
    }

    #[test]
    fn the_page_draws_each_span_with_its_links_and_escapes_what_users_wrote() {
        let send = span("chat-api", "send message", 1, 1, 0, vec![]);
        let process = span(
            "storage-service",
            "process message",
            2,
            5,
            0,
            vec![link_to(1, 1)],
        );
        let store = span("storage-service", "store <message>", 2, 6, 5, vec![]);
        let trace = [process.clone(), store.clone()];
        let known = [send, process, store];

        let page = trace_page(&trace, &known, None);

        assert!(page.contains("storage-service"));
        assert!(page.contains("process message"));
        // Children come after their parent, indented one step more.
        let (parent, child) = (
            page.find("process message").unwrap(),
            page.find("store &lt;message&gt;").unwrap(),
        );
        assert!(parent < child, "{page}");
        // The link goes to the span in the other trace, which it names.
        assert!(
            page.contains(&format!(
                "href=\"/trace/{}?local#span-{}\">send message (chat-api)</a>, in another trace",
                TraceId::from(1u128),
                SpanId::from(1u64)
            )),
            "{page}"
        );
        assert!(page.contains(&format!("id=\"span-{}\"", SpanId::from(6u64))));
        // What users wrote is text, never markup.
        assert!(page.contains("&lt;b&gt;7&lt;/b&gt;") && !page.contains("<b>7</b>"));
        assert!(page.contains("✗ Giphy &lt;down&gt;"));
        assert!(page.contains("follows from send message (chat-api) in trace"));

        // From the sender's trace, the way on to the trace that follows from it.
        let page = trace_page(&known[..1], &known, None);
        assert!(
            page.contains(&format!(
                "<a href=\"/trace/{}?local#span-{}\">process message (storage-service)</a>",
                TraceId::from(2u128),
                SpanId::from(5u64)
            )),
            "{page}"
        );
    }

    /// The wait made visible: each link says how long after the linked span ended this span
    /// began (a record's time in Kafka), and each follower names the span of this trace that
    /// it follows. A linked span the process no longer has gets no number.
    #[test]
    fn links_and_followers_say_how_long_after_the_linked_span_ended() {
        // send message: 1 001..1 003 ms. Its trace also has a second send, 1 004..1 006 ms.
        let send = span("chat-api", "send message", 1, 1, 0, vec![]);
        let resend = span("giphy-service", "send message", 1, 4, 0, vec![]);
        // A batch of three, begun at 1 007 ms: two records of trace 1, one whose send span
        // this process never saw (trace 9).
        let mut batch = span(
            "storage-service",
            "process message",
            2,
            7,
            0,
            vec![link_to(1, 1), link_to(1, 4), link_to(9, 9)],
        );
        batch
            .span
            .attributes
            .push(KeyValue::new(MESSAGING_BATCH_MESSAGE_COUNT, 3));
        // A consumer that began (at 1 002 ms) before the send span ended.
        let early = span(
            "giphy-service",
            "process message",
            3,
            2,
            0,
            vec![link_to(1, 1)],
        );
        let known = [send.clone(), resend.clone(), batch.clone(), early.clone()];

        let page = trace_page(std::slice::from_ref(&batch), &known, None);
        let links: Vec<&str> = page.lines().filter(|l| l.contains("↪ link to")).collect();
        assert!(
            page.contains(
                "send message (chat-api)</a>, in another trace, \
                 00000000000000000000000000000001 · began 4.0 ms after it ended"
            ),
            "{links:?}"
        );
        assert!(
            page.contains(
                "send message (giphy-service)</a>, in another trace, \
                 00000000000000000000000000000001 · began 1.0 ms after it ended"
            ),
            "{links:?}"
        );
        assert!(
            page.contains(
                "span 0000000000000009</a>, in another trace, \
                 00000000000000000000000000000009</p>"
            ),
            "no number for a span that is not at hand: {links:?}"
        );
        assert_eq!(page.matches("began").count(), 2, "{links:?}");

        let page = trace_page(std::slice::from_ref(&early), &known, None);
        assert!(page.contains("· began before it ended"), "{page}");

        // From the message's trace: each follower, and the span of this trace it follows.
        let page = trace_page(&[send, resend], &known, None);
        let followers = &page[page.find("Followed by").expect("followers")..];
        assert!(
            followers.contains(&format!(
                "process message (storage-service)</a>, a batch of 3, in trace {} → follows \
                 <a href=\"#span-{}\">send message (chat-api)</a>, began 4.0 ms after it ended; \
                 <a href=\"#span-{}\">send message (giphy-service)</a>, began 1.0 ms after it \
                 ended</li>",
                TraceId::from(2u128),
                SpanId::from(1u64),
                SpanId::from(4u64),
            )),
            "{followers}"
        );
        assert!(
            followers.contains(&format!(
                "process message (giphy-service)</a>, in trace {} → follows <a \
                 href=\"#span-{}\">send message (chat-api)</a>, began before it ended</li>",
                TraceId::from(3u128),
                SpanId::from(1u64),
            )),
            "{followers}"
        );
    }

    /// Serves `router` on a free port and returns its address.
    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn the_route_answers_400_404_or_the_page_and_sends_to_jaeger_only_when_it_answers() {
        let log = SpanLog::default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let get = |url: String| {
            let http = http.clone();
            async move { http.get(url).send().await.unwrap() }
        };
        let trace = format!("/trace/{}", TraceId::from(3u128));

        let base = serve(routes(log.clone(), None)).await;
        assert_eq!(
            get(format!("{base}/trace/nope")).await.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            get(format!("{base}{trace}")).await.status(),
            StatusCode::NOT_FOUND
        );
        log.push(span("chat-api", "POST /message", 3, 9, 0, vec![]));
        assert_eq!(get(format!("{base}{trace}")).await.status(), StatusCode::OK);

        // A Jaeger that answers gets the browser; `?local` keeps it here.
        let jaeger = serve(Router::new().route("/", get_route(|| async { "Jaeger UI" }))).await;
        let base = serve(routes(log.clone(), Some(jaeger.clone()))).await;
        let answer = get(format!("{base}{trace}")).await;
        assert_eq!(answer.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            answer.headers()["location"],
            format!("{jaeger}{trace}").as_str()
        );
        let answer = get(format!("{base}{trace}?local")).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.text().await.unwrap().contains("Open it in Jaeger"));

        // A Jaeger that is down: the page is drawn here.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let down = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let base = serve(routes(log, Some(down))).await;
        assert_eq!(get(format!("{base}{trace}")).await.status(), StatusCode::OK);
    }
}
