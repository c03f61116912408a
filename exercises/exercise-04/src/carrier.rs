// TODO(04): this whole file is new in step 04: write what its TODO(04) regions say. Chapter 04,
// task 1.
// END TODO(04)
//! Kafka record headers as a carrier for the trace context.
//!
//! OpenTelemetry's propagators read and write text key-value pairs through two small traits:
//! an [`Injector`] to write (`set`) and an [`Extractor`] to read (`get`, `keys`). Kafka records
//! have headers, which are key-value pairs with byte values, so two adapters are all it takes
//! for `traceparent` to travel with a record, the way it travels with an HTTP request.

use opentelemetry::propagation::{Extractor, Injector};
// TODO(04): import what else you use from rdkafka::message as you go.
use rdkafka::message::{BorrowedHeaders, OwnedHeaders};
// END TODO(04)

// TODO(04): write `set`: add the header `key: value` to `self.0`. Careful:
// `OwnedHeaders::insert` takes the headers by value. Chapter 04, task 1.
/// Writes the trace context into the headers of a record about to be sent.
pub struct RecordHeaderInjector<'a>(pub &'a mut OwnedHeaders);

impl Injector for RecordHeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let _ = (key, value);
        todo!("TODO(04): write RecordHeaderInjector::set")
    }
}
// END TODO(04)

// TODO(04): write `get`, the value of header `key` as text, or None (missing, or not UTF-8),
// and `keys`, every header key. Chapter 04, task 1.
/// Reads the trace context from the headers of a consumed record.
pub struct RecordHeaderExtractor<'a>(pub &'a BorrowedHeaders);

impl Extractor for RecordHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let _ = key;
        todo!("TODO(04): write RecordHeaderExtractor::get")
    }

    fn keys(&self) -> Vec<&str> {
        todo!("TODO(04): write RecordHeaderExtractor::keys")
    }
}
// END TODO(04)

#[cfg(test)]
mod tests {
    use opentelemetry::Context;
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    // TODO(04): this test needs `Header`; once the file imports it above, drop this line.
    use rdkafka::message::Header;
    // END TODO(04)

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
