//! Kafka record headers as a carrier for the trace context.
//!
//! OpenTelemetry's propagators read and write text key-value pairs through two small traits:
//! an [`Injector`] to write (`set`) and an [`Extractor`] to read (`get`, `keys`). Kafka records
//! have headers, which are key-value pairs with byte values, so two adapters are all it takes
//! for `traceparent` to travel with a record, the way it travels with an HTTP request.

use opentelemetry::propagation::{Extractor, Injector};
use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};

// ANCHOR: injector
/// Writes the trace context into the headers of a record about to be sent.
pub struct RecordHeaderInjector<'a>(pub &'a mut OwnedHeaders);

impl Injector for RecordHeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // `OwnedHeaders::insert` takes the headers by value and returns them with one more,
        // but `set` only has `&mut` access. So take the headers out (leaving empty ones in
        // their place), insert, and put the result back.
        let headers = std::mem::replace(self.0, OwnedHeaders::new());
        *self.0 = headers.insert(Header {
            key,
            value: Some(value.as_str()),
        });
    }
}
// ANCHOR_END: injector

// ANCHOR: extractor
/// Reads the trace context from the headers of a consumed record.
pub struct RecordHeaderExtractor<'a>(pub &'a BorrowedHeaders);

impl Extractor for RecordHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let header = self.0.iter().find(|header| header.key == key)?;
        // Header values are bytes; a value that is not UTF-8 cannot be a `traceparent`, so it
        // reads as missing, and the consumer starts a fresh trace.
        std::str::from_utf8(header.value?).ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|header| header.key).collect()
    }
}
// ANCHOR_END: extractor

#[cfg(test)]
mod tests {
    use opentelemetry::Context;
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    use super::*;

    /// Injecting then extracting through real record headers gives the same span context.
    #[test]
    fn the_context_survives_a_round_trip_through_headers() {
        let sent = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let cx = Context::new().with_remote_span_context(sent.clone());
        let mut headers = OwnedHeaders::new().insert(Header {
            key: "other",
            value: Some("kept"),
        });
        TraceContextPropagator::new().inject_context(&cx, &mut RecordHeaderInjector(&mut headers));

        let borrowed = headers.as_borrowed();
        let received = TraceContextPropagator::new().extract(&RecordHeaderExtractor(borrowed));
        let received = received.span().span_context().clone();
        assert_eq!(
            received.trace_id(),
            sent.trace_id(),
            "the extracted trace id should be the injected one: does `set` add the header, and \
             does `get` find it?"
        );
        assert_eq!(received.span_id(), sent.span_id());
        assert!(received.is_remote());
        assert_eq!(
            RecordHeaderExtractor(borrowed).get("other"),
            Some("kept"),
            "`set` must keep the headers that were already there"
        );
        assert!(
            RecordHeaderExtractor(borrowed)
                .keys()
                .contains(&"traceparent")
        );
    }
}
