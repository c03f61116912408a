//! giphy-service: answers `/giphy <topic>` with an image.
//!
//! It consumes every chat message. For one that asks `/giphy <topic>` and has no image yet, it
//! searches Giphy and publishes the same message (same id) again with `image` set. The
//! re-published message reaches this service too, but it has an image, so it is not answered
//! again.
//!
//! Each record gets a `process message` CONSUMER span; the Giphy search is a `GET` CLIENT span
//! under it, and so is the `send message` PRODUCER span of the re-publish.

// TODO(06): import what you use as you go: opentelemetry::propagation::TextMapPropagator,
// opentelemetry_sdk::propagation::TraceContextPropagator, opentelemetry_http::HeaderInjector
// and reqwest::header::HeaderMap. Chapter 06.
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT,
    URL_FULL,
};
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::FutureProducer;
// END TODO(06)
use talk::giphy::{Client, FALLBACK_IMAGE};
use talk::{ConsumerService, ConsumerTrace, Failure, Message};

use crate::messaging::{send_message, start_process};
use crate::telemetry;

/// Consumes the `message` topic in the `giphy-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    let provider = telemetry::init("giphy-service", &service.telemetry)?;
    let giphy = Giphy {
        client: service.giphy.clone(),
        producer: service.producer.clone(),
        tracer: provider.tracer("giphy-service"),
        group: service.name,
        consumer_trace: service.consumer_trace,
        // TODO(06): nothing to write here: the slot for an image kept for a retry.
        found: std::sync::Mutex::new(None),
        // END TODO(06)
    };
    let consumed = service.consume(giphy).await;
    telemetry::shutdown(provider).await;
    consumed
}

struct Giphy {
    client: Client,
    producer: FutureProducer,
    tracer: SdkTracer,
    /// The consumer group, `giphy-service`, for the process spans.
    group: &'static str,
    /// Whether the process spans continue the producer's trace (`--consumer-trace`).
    consumer_trace: ConsumerTrace,
    // TODO(06): nothing to write here either; take the `allow` away once you use the field.
    /// The image found for a message whose re-publish failed, with the message's id: the
    /// retry uses it instead of asking Giphy again. One slot is enough, as the consume loop
    /// hands this service one record at a time, and the same record again until it is done.
    #[allow(dead_code)]
    found: std::sync::Mutex<Option<(String, String)>>,
    // END TODO(06)
}

impl talk::Handler for Giphy {
    // ANCHOR: handle
    async fn handle(&self, message: Message, record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        // What this record asks for, if anything: a message that has an image is answered.
        let query = match message.image {
            Some(_) => None,
            None => message.giphy_query().map(str::to_owned),
        };
        // Caused by the send span of this record: linked to it, and its child in `same` mode.
        let cx = start_process(
            &self.tracer,
            self.group,
            self.consumer_trace,
            record,
            &message,
        );
        if let Some(query) = &query {
            cx.span()
                .set_attribute(KeyValue::new("giphy.query", query.clone()));
        }

        let result = match query {
            Some(query) => self.answer(message, &query, &cx).await,
            None => Ok(()),
        };

        if let Err(error) = &result {
            // The re-publish failed: `error.type` is Kafka's name for the error.
            cx.span()
                .set_attribute(KeyValue::new(ERROR_TYPE, talk::kafka::error_type(error)));
            cx.span().set_status(Status::error(format!("{error:#}")));
        }
        cx.span().end();
        // If Kafka does not take the answer, try again later rather than lose it.
        result.map_err(Failure::Retry)
    }
    // ANCHOR_END: handle
}

impl Giphy {
    // TODO(06): when the send fails, the consume loop calls `handle` again with the same
    // record. Make that retry use the image the first try found (keep it in `self.found`, with
    // the message's id) instead of searching Giphy again. Chapter 06, task 2.
    /// Finds an image for `query` and publishes the message again with it.
    async fn answer(&self, message: Message, query: &str, cx: &Context) -> anyhow::Result<()> {
        let image = self.search(query, cx).await;
        let answered = Message {
            image: Some(image),
            ..message
        };
        send_message(&self.producer, &self.tracer, &answered, cx).await?;
        Ok(())
    }
    // END TODO(06)

    // ANCHOR: search
    /// Searches Giphy inside a `GET` CLIENT span. Never fails: a chat should not break because
    /// Giphy did, so a failure is recorded on the span and answered with the fallback image.
    async fn search(&self, query: &str, parent: &Context) -> String {
        let span = self
            .tracer
            .span_builder("GET")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new(HTTP_REQUEST_METHOD, "GET"),
                KeyValue::new(SERVER_ADDRESS, self.client.server_address().to_owned()),
                KeyValue::new(SERVER_PORT, i64::from(self.client.server_port())),
                // The search's URL with the API key's value redacted: no secret travels with
                // the spans.
                KeyValue::new(URL_FULL, self.client.url_full(query)),
            ])
            .start_with_context(&self.tracer, parent);
        let cx = parent.with_span(span);
        let span = cx.span();

        // TODO(06): inject the GET span's context (`cx`) into a HeaderMap with
        // TraceContextPropagator and opentelemetry_http's HeaderInjector, and send the search
        // with those headers (self.client.search_with_headers). Chapter 06, task 1.
        let image = match self.client.search(query).await {
            // END TODO(06)
            Ok(found) => {
                span.set_attribute(KeyValue::new(
                    HTTP_RESPONSE_STATUS_CODE,
                    i64::from(found.status),
                ));
                found.url
            }
            Err(error) => {
                // Giphy may have answered (an error code, or 200 with nothing usable).
                if let Some(code) = error.status() {
                    span.set_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(code)));
                }
                // A short name for the failure, that a backend can group by.
                span.set_attribute(KeyValue::new(ERROR_TYPE, error.error_type()));
                // No description for an error answer: its status code says it all.
                span.set_status(Status::error(error.status_description()));
                tracing::warn!("giphy-service: {error}; using the fallback image");
                FALLBACK_IMAGE.to_owned()
            }
        };
        span.end();
        image
    }
    // ANCHOR_END: search
}
