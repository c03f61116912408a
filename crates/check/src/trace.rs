//! Trace assertions that read like the trace contract, and fail like a teacher would.
//!
//! ```ignore
//! let spans = app.wait_for_spans("the journey of 'hello'", |s| s.has("storage-service", "process message")).await;
//! let post = spans.one("chat-api", "POST /message", "start a SERVER span in trace_request");
//! let process = spans.one("storage-service", "process message", "start a span per record");
//! process.is_kind(SpanKind::Consumer, "a span for handling a consumed record is a CONSUMER span");
//! process.is_in_trace_of(&post, "did you extract the context from the Kafka headers?");
//! ```
//!
//! Every failed expectation names what was expected, what was found, a hint about the concept
//! that is probably missing, and draws the waterfall of everything that was captured.

use std::fmt::Display;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use traces::FinishedSpan;
use traces::waterfall;

use crate::finding::{self, Finding, Hint};

/// A snapshot of the spans a check captured.
#[derive(Clone, Debug)]
pub struct Spans {
    all: Vec<FinishedSpan>,
}

/// One captured span, with the snapshot it belongs to (for failure messages).
#[derive(Clone, Copy)]
pub struct SpanRef<'a> {
    spans: &'a Spans,
    span: &'a FinishedSpan,
}

/// What a failed expectation is about, for the finding that the runner reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct About<'a> {
    /// What the assertion checks: `span`, `kind`, `attribute`, `root`, `trace`, `parent`,
    /// `link`, `status`.
    pub aspect: &'static str,
    pub span: Option<&'a str>,
    pub service: Option<&'a str>,
    /// The concept, in words, when the hint does not name one.
    pub concept: &'static str,
}

impl Spans {
    pub fn new(all: Vec<FinishedSpan>) -> Spans {
        Spans { all }
    }

    /// Every captured span.
    pub fn all(&self) -> &[FinishedSpan] {
        &self.all
    }

    /// Is there a span named `name` from `service`?
    pub fn has(&self, service: &str, name: &str) -> bool {
        self.named(service, name).next().is_some()
    }

    /// How many spans named `name` came from `service`.
    pub fn count(&self, service: &str, name: &str) -> usize {
        self.named(service, name).count()
    }

    /// Every span named `name` from `service`, in the order they ended.
    pub fn every(&self, service: &str, name: &str) -> Vec<SpanRef<'_>> {
        self.named(service, name)
            .map(|span| SpanRef { spans: self, span })
            .collect()
    }

    /// The span named `name` from `service`. Fails with `hint` when there is none.
    #[track_caller]
    pub fn one(&self, service: &str, name: &str, hint: impl Into<Hint>) -> SpanRef<'_> {
        match self.named(service, name).next() {
            Some(span) => SpanRef { spans: self, span },
            None => {
                let services = self.services();
                let what = if !services.iter().any(|s| s == service) {
                    format!(
                        "no span came from a service named {service:?} (services seen: {}). \
                         Is `service.name` set on its provider's resource, and are its spans \
                         ended?",
                        list(&services)
                    )
                } else {
                    let names: Vec<String> = self
                        .all
                        .iter()
                        .filter(|s| s.service == service)
                        .map(|s| format!("{:?}", s.span.name))
                        .collect();
                    format!(
                        "{service} made no span named {name:?} (its spans: {})",
                        list(&names)
                    )
                };
                let about = About {
                    aspect: "span",
                    span: Some(name),
                    service: Some(service),
                    concept: "a span for each operation",
                };
                self.fail_about(about, &what, hint.into())
            }
        }
    }

    /// The span of `service` whose span id is `id`, if captured.
    pub fn by_id(&self, id: SpanId) -> Option<SpanRef<'_>> {
        self.all
            .iter()
            .find(|s| s.span.span_context.span_id() == id)
            .map(|span| SpanRef { spans: self, span })
    }

    /// The services that made spans.
    pub fn services(&self) -> Vec<String> {
        let mut services: Vec<String> = self.all.iter().map(|s| s.service.clone()).collect();
        services.sort();
        services.dedup();
        services
    }

    /// The captured spans as the terminal waterfall draws them.
    ///
    /// Traces of `GET /message` alone are left out, as the app's own waterfall leaves them out:
    /// the check polls for messages, and its polls would bury the traces that matter. A line
    /// says how many there were.
    pub fn waterfall(&self) -> String {
        let polls: Vec<opentelemetry::trace::TraceId> = waterfall::group_by_trace(&self.all)
            .iter()
            .filter(|trace| trace.iter().all(|s| s.span.name == "GET /message"))
            .map(|trace| trace[0].span.span_context.trace_id())
            .collect();
        let drawn: Vec<FinishedSpan> = self
            .all
            .iter()
            .filter(|s| !polls.contains(&s.span.span_context.trace_id()))
            .cloned()
            .collect();
        let mut text = waterfall::render_all(&drawn);
        if !polls.is_empty() {
            text.push_str(&format!(
                "(and {} traces of GET /message alone, the check's polls, not drawn)\n",
                polls.len()
            ));
        }
        text
    }

    /// Fails the check: what went wrong, the hint, and the waterfall.
    ///
    /// When the spans show a consumer that does not take its parent from the record (the
    /// `propagation` module tells), the hint names that consumer instead: it is the first thing
    /// to fix, and `hint`, written for consumers that do, may blame another service.
    #[track_caller]
    pub fn fail(&self, what: &str, hint: impl Into<Hint>) -> ! {
        let hint = hint.into();
        // A failure written in the contract's words names its span first, as
        // `storage-service's "process message" …` (`SpanRef::label`), and its hint names the
        // concept: enough for the runner to place it in a task.
        let (service, span) = leading_label(what).unzip();
        let about = About {
            aspect: hint.concept.map_or("check", aspect_of),
            span,
            service,
            concept: "the trace contract",
        };
        self.fail_about(about, what, hint)
    }

    /// Fails the check about one aspect of one span: the finding names them, so that the
    /// runner can tell which of the chapter's tasks it belongs to.
    #[track_caller]
    pub(crate) fn fail_about(&self, about: About<'_>, what: &str, hint: Hint) -> ! {
        let (about, hint) = match crate::propagation::culprit(&self.all) {
            Some(culprit) => (
                About {
                    aspect: culprit.aspect,
                    span: Some(culprit.span),
                    service: Some(culprit.service),
                    concept: "context from the record",
                },
                culprit.hint,
            ),
            None => (about, hint),
        };
        let concept = hint.concept.unwrap_or(about.concept);
        let text = finding::in_the_steps_words(&hint.text);
        let code = hint.code.as_deref().map(finding::in_the_steps_words);
        let waterfall = self.waterfall();
        finding::record(&Finding {
            test: finding::current_test(),
            aspect: about.aspect,
            span: about.span,
            service: about.service,
            concept,
            saw: what,
            hint: &text,
            code: code.as_deref(),
            location: None,
            waterfall: &waterfall,
        });
        panic!(
            "\n\n✗ {what}\n\n  hint: {}\n  concept: {concept}\n{}\nWhat the check captured:\n\n{waterfall}",
            text,
            self.unnamed_services(),
        )
    }

    /// A second hint when a provider has no `service.name`: the SDK then calls the service
    /// `unknown_service:<program>`, and no check can find its spans.
    fn unnamed_services(&self) -> String {
        let unnamed: Vec<String> = self
            .services()
            .into_iter()
            .filter(|s| s.starts_with("unknown_service"))
            .collect();
        if unnamed.is_empty() {
            return String::new();
        }
        format!(
            "\n  also: spans came from {}, a provider without a service.name. Give each \
             provider's resource its service's name (Resource::builder().with_service_name).\n",
            unnamed.join(", ")
        )
    }

    /// Which spans each service made, e.g. `chat-api: POST /message ×2, send message`.
    pub fn summary(&self) -> String {
        let mut lines = Vec::new();
        for service in self.services() {
            let mut names: Vec<String> = self
                .all
                .iter()
                .filter(|s| s.service == service)
                .map(|s| s.span.name.to_string())
                .collect();
            names.sort();
            let mut counted: Vec<String> = Vec::new();
            for name in names.iter() {
                let n = names.iter().filter(|other| *other == name).count();
                let label = if n > 1 {
                    format!("{name} ×{n}")
                } else {
                    name.clone()
                };
                if !counted.contains(&label) {
                    counted.push(label);
                }
            }
            lines.push(format!("{service}: {}", counted.join(", ")));
        }
        if lines.is_empty() {
            "no spans at all".to_owned()
        } else {
            lines.join("; ")
        }
    }

    fn named(&self, service: &str, name: &str) -> std::vec::IntoIter<&FinishedSpan> {
        let found: Vec<&FinishedSpan> = self
            .all
            .iter()
            .filter(|s| s.service == service && s.span.name == name)
            .collect();
        found.into_iter()
    }
}

impl<'a> SpanRef<'a> {
    /// The captured span.
    pub fn data(&self) -> &'a FinishedSpan {
        self.span
    }

    /// `service: name`, for messages.
    pub fn label(&self) -> String {
        format!("{}'s {:?}", self.span.service, self.span.span.name)
    }

    pub fn trace_id(&self) -> String {
        self.span.span.span_context.trace_id().to_string()
    }

    pub fn span_id(&self) -> SpanId {
        self.span.span.span_context.span_id()
    }

    /// The snapshot this span belongs to, for failing with its waterfall.
    pub fn spans(&self) -> &'a Spans {
        self.spans
    }

    /// Fails the check about `aspect` of this span (see [`About`]).
    #[track_caller]
    fn fail(
        &self,
        aspect: &'static str,
        concept: &'static str,
        what: &str,
        hint: impl Into<Hint>,
    ) -> ! {
        let about = About {
            aspect,
            span: Some(&self.span.span.name),
            service: Some(&self.span.service),
            concept,
        };
        self.spans.fail_about(about, what, hint.into())
    }

    /// The span's attributes as `key=value, …`, for failure messages.
    pub fn attribute_list(&self) -> String {
        attributes(&self.span.span.attributes)
    }

    /// Expects the span to have no links.
    #[track_caller]
    pub fn has_no_links(self, hint: impl Into<Hint>) -> Self {
        let links = &self.span.span.links;
        if !links.is_empty() {
            let targets: Vec<String> = links
                .iter()
                .map(|l| {
                    format!(
                        "trace {} span {}",
                        l.span_context.trace_id(),
                        l.span_context.span_id()
                    )
                })
                .collect();
            self.fail(
                "link",
                "span links",
                &format!(
                    "{} should have no link, but it links to {}",
                    self.label(),
                    targets.join("; ")
                ),
                hint,
            );
        }
        self
    }

    /// Expects the span's kind.
    #[track_caller]
    pub fn is_kind(self, kind: SpanKind, hint: impl Into<Hint>) -> Self {
        if self.span.span.span_kind != kind {
            self.fail(
                "kind",
                "span kind",
                &format!(
                    "{} should be a {kind:?} span; it is {:?}",
                    self.label(),
                    self.span.span.span_kind
                ),
                hint,
            );
        }
        self
    }

    /// The value of attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&'a Value> {
        self.span
            .span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// Expects attribute `key` to equal `value`.
    #[track_caller]
    pub fn has_attribute(self, key: &str, value: impl Into<Value>, hint: impl Into<Hint>) -> Self {
        let value = value.into();
        match self.attribute(key) {
            Some(found) if *found == value => self,
            Some(found) => self.fail(
                "attribute",
                "attributes",
                &format!(
                    "{} has {key} = {found}; the contract says {value}",
                    self.label()
                ),
                hint,
            ),
            None => self.fail(
                "attribute",
                "attributes",
                &format!(
                    "{} has no attribute {key} (it should be {value}); its attributes: {}",
                    self.label(),
                    attributes(&self.span.span.attributes)
                ),
                hint,
            ),
        }
    }

    /// Expects attribute `key` to be set, to anything.
    #[track_caller]
    pub fn has_attribute_key(self, key: &str, hint: impl Into<Hint>) -> Self {
        if self.attribute(key).is_none() {
            self.fail(
                "attribute",
                "attributes",
                &format!(
                    "{} has no attribute {key}; its attributes: {}",
                    self.label(),
                    attributes(&self.span.span.attributes)
                ),
                hint,
            );
        }
        self
    }

    /// Expects the span to start a trace of its own: no parent at all.
    #[track_caller]
    pub fn is_root(self, hint: impl Into<Hint>) -> Self {
        if self.span.span.parent_span_id != SpanId::INVALID {
            self.fail(
                "root",
                "a new trace",
                &format!(
                    "{} should start a new trace, but it has a parent ({})",
                    self.label(),
                    self.describe_parent()
                ),
                hint,
            );
        }
        self
    }

    /// Expects the span to be in the same trace as `other`.
    #[track_caller]
    pub fn is_in_trace_of(self, other: &SpanRef<'_>, hint: impl Into<Hint>) -> Self {
        if self.trace_id() != other.trace_id() {
            let detail = if self.span.span.parent_span_id == SpanId::INVALID {
                "it started a new trace of its own".to_owned()
            } else if self.span.span.parent_span_id.to_string() == crate::DECOY_SPAN_ID {
                format!(
                    "it is in trace {}, the decoy's: its parent came from Context::current()",
                    self.trace_id()
                )
            } else {
                format!("it is in trace {}", self.trace_id())
            };
            self.fail(
                "trace",
                "trace context",
                &format!(
                    "{} should be in the same trace as {} ({}), but {detail}",
                    self.label(),
                    other.label(),
                    other.trace_id()
                ),
                hint,
            );
        }
        self
    }

    /// Expects the span to be in a different trace from `other`.
    #[track_caller]
    pub fn is_not_in_trace_of(self, other: &SpanRef<'_>, hint: impl Into<Hint>) -> Self {
        if self.trace_id() == other.trace_id() {
            self.fail(
                "root",
                "a new trace",
                &format!(
                    "{} should be in a different trace from {}, but both are in {}",
                    self.label(),
                    other.label(),
                    self.trace_id()
                ),
                hint,
            );
        }
        self
    }

    /// Expects `parent` to be the span's parent.
    #[track_caller]
    pub fn is_child_of(self, parent: &SpanRef<'_>, hint: impl Into<Hint>) -> Self {
        let data = &self.span.span;
        if data.parent_span_id != parent.span_id()
            || data.span_context.trace_id() != parent.span.span.span_context.trace_id()
        {
            self.fail(
                "parent",
                "the parent span",
                &format!(
                    "{} should be a child of {}, but its parent is {}",
                    self.label(),
                    parent.label(),
                    self.describe_parent()
                ),
                hint,
            );
        }
        self
    }

    /// Expects a link from this span to `target`.
    #[track_caller]
    pub fn links_to(self, target: &SpanRef<'_>, hint: impl Into<Hint>) -> Self {
        let linked = self.span.span.links.iter().any(|link| {
            link.span_context.span_id() == target.span_id()
                && link.span_context.trace_id() == target.span.span.span_context.trace_id()
        });
        if !linked {
            self.fail(
                "link",
                "span links",
                &format!(
                    "{} should link to {}; it has {} link(s)",
                    self.label(),
                    target.label(),
                    self.span.span.links.len()
                ),
                hint,
            );
        }
        self
    }

    /// Expects the status to be unset (the contract's "success").
    #[track_caller]
    pub fn is_ok(self, hint: impl Into<Hint>) -> Self {
        match &self.span.span.status {
            Status::Unset => {}
            Status::Error { description } => self.fail(
                "status",
                "span status",
                &format!(
                    "{} should not be an error, but: {description}",
                    self.label()
                ),
                hint,
            ),
            // The trace API leaves Ok to the application: instrumentation leaves it unset.
            Status::Ok => self.fail(
                "status",
                "span status",
                &format!("{} has status Ok; it should be unset", self.label()),
                Hint {
                    concept: Some("instrumentation should not set status Ok"),
                    ..hint.into()
                },
            ),
        }
        self
    }

    /// Expects an Error status.
    #[track_caller]
    pub fn is_error(self, hint: impl Into<Hint>) -> Self {
        if !matches!(self.span.span.status, Status::Error { .. }) {
            self.fail(
                "status",
                "span status",
                &format!(
                    "{} should have an Error status; it is {:?}",
                    self.label(),
                    self.span.span.status
                ),
                hint,
            );
        }
        self
    }

    /// The way back from this span to where it all started: the span itself, then at each step
    /// its parent if that was captured, else the first captured span it links to. It ends at a
    /// span that has neither.
    pub fn causes(&self) -> Vec<SpanRef<'a>> {
        let mut chain = vec![*self];
        // A bound, should spans ever point at each other in a circle.
        while chain.len() < 64 {
            let span = &chain[chain.len() - 1].span.span;
            let parent = self.spans.by_id(span.parent_span_id);
            let linked = || {
                span.links
                    .iter()
                    .find_map(|link| self.spans.by_id(link.span_context.span_id()))
            };
            match parent.or_else(linked) {
                Some(cause) => chain.push(cause),
                None => break,
            }
        }
        chain
    }

    fn describe_parent(&self) -> String {
        let data = &self.span.span;
        if data.parent_span_id == SpanId::INVALID {
            return "none: it is a root span".to_owned();
        }
        if data.parent_span_id.to_string() == crate::DECOY_SPAN_ID {
            return "the decoy: not a span of this app, but a context that the check made current \
                    around the consumer, to catch a parent or a link taken from it. The parent \
                    came from the current context, not from the record"
                .to_owned();
        }
        match self.spans.by_id(data.parent_span_id) {
            Some(parent) => parent.label(),
            None => format!(
                "span {} (not captured: remote or unknown)",
                data.parent_span_id
            ),
        }
    }
}

/// `storage-service's "process message" has no link` → (`storage-service`, `process message`).
fn leading_label(what: &str) -> Option<(&str, &str)> {
    let (service, rest) = what.split_once("'s \"")?;
    if service.contains(char::is_whitespace) {
        return None;
    }
    let (span, _) = rest.split_once('"')?;
    Some((service, span))
}

/// Which aspect a concept is about, for the chapters' task markers: the first entry whose
/// words the concept contains. More specific words come first ("link attributes" before
/// "link").
const ASPECTS: &[(&str, &str)] = &[
    ("link attribute", "link-attribute"),
    ("pipeline", "pipeline"),
    ("batch", "batch"),
    ("fan-in", "batch"),
    ("retry", "retry"),
    ("re-publish", "republish"),
    ("across http", "http-context"),
    ("subscriber", "subscriber"),
    ("inside their span", "instrument"),
    ("tracer", "provider"),
    ("scope", "scope"),
    ("header", "headers"),
    ("inject", "inject"),
    ("library", "library"),
    ("link", "link"),
    ("parent", "parent"),
    ("new trace", "root"),
    ("root", "root"),
    ("status", "status"),
    ("failure", "status"),
    ("error", "attribute"),
    ("attribute", "attribute"),
    ("semconv", "attribute"),
    ("convention", "attribute"),
    ("kind", "kind"),
    ("context", "trace"),
];

/// The aspect a concept is about (see [`ASPECTS`]), or `check` for a concept of its own.
fn aspect_of(concept: &str) -> &'static str {
    let concept = concept.to_lowercase();
    ASPECTS
        .iter()
        .find(|(words, _)| concept.contains(words))
        .map_or("check", |(_, aspect)| aspect)
}

fn attributes(attributes: &[KeyValue]) -> String {
    // Strings are quoted, so that `"12"` (text) and `12` (a number) read differently.
    let list: Vec<String> = attributes
        .iter()
        .map(|kv| match &kv.value {
            Value::String(text) => format!("{}={:?}", kv.key, text.as_str()),
            other => format!("{}={other}", kv.key),
        })
        .collect();
    list_or_none(&list)
}

fn list(items: &[String]) -> String {
    list_or_none(items)
}

fn list_or_none<T: Display>(items: &[T]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_in_the_contracts_words_names_its_span() {
        assert_eq!(
            leading_label("storage-service's \"process message\" for \"hello\" has no link"),
            Some(("storage-service", "process message"))
        );
        assert_eq!(leading_label("waited 3s for the journey's spans"), None);
        assert_eq!(leading_label("the POST's trace is \"0000\""), None);
    }

    #[test]
    fn concepts_name_the_aspects_of_the_task_markers() {
        assert_eq!(aspect_of("span links"), "link");
        assert_eq!(aspect_of("the parent in same mode"), "parent");
        assert_eq!(aspect_of("context from the record"), "trace");
        assert_eq!(aspect_of("link attributes"), "link-attribute");
        assert_eq!(aspect_of("one pipeline per batch"), "pipeline");
        assert_eq!(aspect_of("fan-in"), "batch");
        assert_eq!(aspect_of("a subscriber per service"), "subscriber");
        assert_eq!(aspect_of("something else"), "check");
    }
}
