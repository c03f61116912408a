//! giphy-service: answers `/giphy <topic>` with an image.
//!
//! It consumes every chat message. For one that asks `/giphy <topic>` and has no image yet, it
//! searches Giphy and publishes the same message (same id) again with `image` set. The
//! re-published message reaches this service too, but it has an image, so it is not answered
//! again.
//!
//! Each record gets a `process message` CONSUMER span; the Giphy search is a `GET` CLIENT span
//! under it, and so is the `send message` PRODUCER span of the re-publish.

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT,
    URL_FULL,
};
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::FutureProducer;
use talk::giphy::{Client, FALLBACK_IMAGE};
use talk::{ConsumerService, Failure, Message};

use crate::messaging::{extract_parent, send_message};
use crate::telemetry;

/// Consumes the `message` topic in the `giphy-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    let provider = telemetry::init("giphy-service", &service.telemetry)?;
    let giphy = Giphy {
        client: service.giphy.clone(),
        producer: service.producer.clone(),
        tracer: provider.tracer("giphy-service"),
    };
    let consumed = service.consume(giphy).await;
    telemetry::shutdown(provider).await;
    consumed
}

struct Giphy {
    client: Client,
    producer: FutureProducer,
    tracer: SdkTracer,
}

impl talk::Handler for Giphy {
    // ANCHOR: handle
    async fn handle(&self, message: Message, record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        // What this record asks for, if anything: a message that has an image is answered.
        let query = match message.image {
            Some(_) => None,
            None => message.giphy_query().map(str::to_owned),
        };
        let mut span = self
            .tracer
            .span_builder("process message")
            .with_kind(SpanKind::Consumer);
        if let Some(query) = &query {
            span = span.with_attributes([KeyValue::new("giphy.query", query.clone())]);
        }
        // Continue the producer's trace: its send span is the parent.
        let parent = extract_parent(record);
        let cx = parent.with_span(span.start_with_context(&self.tracer, &parent));

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

        let image = match self.client.search(query).await {
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
