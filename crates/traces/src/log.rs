//! The log of this process's finished spans: every service's provider adds to it (through
//! [`SpanLogProcessor`]), and the terminal waterfall, the trace view and the checks read it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
use tokio::sync::Notify;

/// The most spans a [`SpanLog`] keeps; beyond it the oldest tenth is forgotten.
const MAX_SPANS: usize = 10_000;

/// A finished span, with the `service.name` of the provider that made it.
#[derive(Debug, Clone)]
pub struct FinishedSpan {
    pub service: String,
    pub span: SpanData,
}

/// The spans finished in this process, from every service's provider.
///
/// The terminal waterfall draws from it, and checks assert on it. Cheap to clone; every clone
/// sees the same spans.
#[derive(Clone, Default, Debug)]
pub struct SpanLog {
    inner: Arc<LogInner>,
}

#[derive(Default, Debug)]
struct LogInner {
    /// Set when nothing in this process will ever read the log: see [`SpanLog::stop_keeping`].
    unread: AtomicBool,
    spans: Mutex<Vec<FinishedSpan>>,
    /// Spans already taken out (drawn by the terminal waterfall), newest last, kept a while
    /// longer for the page's trace view and for naming the targets of links.
    history: Mutex<VecDeque<FinishedSpan>>,
    added: Notify,
}

/// The most taken spans a [`SpanLog`] keeps in its history.
const HISTORY_SPANS: usize = 5_000;

impl SpanLog {
    /// A span processor that adds each span to this log as it ends. Add it to a provider with
    /// `with_span_processor`; it learns the provider's `service.name` from its resource.
    pub fn processor(&self) -> SpanLogProcessor {
        SpanLogProcessor {
            log: self.clone(),
            service: "unknown-service".to_owned(),
        }
    }

    /// Every span so far, in the order they ended.
    pub fn spans(&self) -> Vec<FinishedSpan> {
        self.inner.spans.lock().unwrap().clone()
    }

    /// Waits until another span ends, or `timeout` passes.
    pub async fn changed(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.inner.added.notified()).await;
    }

    /// Removes and returns the spans for which `remove` is true. They stay in the history.
    pub fn remove_where(&self, remove: impl Fn(&FinishedSpan) -> bool) -> Vec<FinishedSpan> {
        let mut spans = self.inner.spans.lock().unwrap();
        let (taken, kept): (Vec<_>, Vec<_>) = spans.drain(..).partition(|s| remove(s));
        *spans = kept;
        drop(spans);
        let mut history = self.inner.history.lock().unwrap();
        history.extend(taken.iter().cloned());
        let excess = history.len().saturating_sub(HISTORY_SPANS);
        history.drain(..excess);
        taken
    }

    /// Runs `f` on the history (the spans taken lately, oldest first) without copying it.
    pub fn with_history<R>(&self, f: impl FnOnce(&[FinishedSpan]) -> R) -> R {
        let mut history = self.inner.history.lock().unwrap();
        f(history.make_contiguous())
    }

    /// Every span this log still knows, taken or not: the history first, then the rest.
    pub fn known(&self) -> Vec<FinishedSpan> {
        let mut known: Vec<FinishedSpan> =
            self.inner.history.lock().unwrap().iter().cloned().collect();
        known.extend(self.spans());
        known
    }

    /// Stops keeping spans, for a process where nothing reads them: no terminal waterfall, no
    /// trace view (chat-api runs elsewhere), no check. Such a process would otherwise copy up to
    /// [`MAX_SPANS`] spans into memory for no one (issue 22). The spans are still exported.
    pub fn stop_keeping(&self) {
        self.inner.unread.store(true, Ordering::Relaxed);
    }

    /// Whether the log keeps the spans that end (it does unless [`SpanLog::stop_keeping`]).
    pub fn keeps(&self) -> bool {
        !self.inner.unread.load(Ordering::Relaxed)
    }

    pub fn push(&self, span: FinishedSpan) {
        if !self.keeps() {
            return;
        }
        let mut spans = self.inner.spans.lock().unwrap();
        // Nothing drains the log when the waterfall is off or in a single-service process, and
        // the chat page makes a GET span every second: keep only the newest spans.
        if spans.len() >= MAX_SPANS {
            spans.drain(..MAX_SPANS / 10);
        }
        spans.push(span);
        drop(spans);
        self.inner.added.notify_waiters();
    }
}

/// The processor that feeds a [`SpanLog`]. It is synchronous and in memory, so it never
/// drops or delays a span.
#[derive(Debug)]
pub struct SpanLogProcessor {
    log: SpanLog,
    service: String,
}

impl SpanProcessor for SpanLogProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() && self.log.keeps() {
            self.log.push(FinishedSpan {
                service: self.service.clone(),
                span,
            });
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            self.service = name.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use super::*;

    /// A log that nothing reads keeps no spans; until then it keeps every sampled one.
    #[test]
    fn a_log_that_stops_keeping_keeps_no_spans() {
        let log = SpanLog::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(log.processor())
            .build();
        let tracer = provider.tracer("test");
        tracer.start("kept").end();
        log.stop_keeping();
        tracer.start("not kept").end();
        let names: Vec<String> = log
            .spans()
            .iter()
            .map(|s| s.span.name.to_string())
            .collect();
        assert_eq!(names, ["kept"]);
        assert!(!log.keeps());
    }
}
