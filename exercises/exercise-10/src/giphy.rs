//! giphy-service: answers `/giphy <topic>` with an image.
//!
//! It consumes every chat message. For one that asks `/giphy <topic>` and has no image yet, it
//! searches Giphy and publishes the same message (same id) again with `image` set. The
//! re-published message reaches this service too, but it has an image, so it is not answered
//! again.
//!
//! Each record gets a `process message` CONSUMER span; the Giphy search is a `GET` CLIENT span
//! under it, and so is the `send message` PRODUCER span of the re-publish.

use std::sync::Mutex;

use opentelemetry::KeyValue;
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Status, TraceContextExt as _};
use opentelemetry_http::HeaderInjector;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT,
    URL_FULL,
};
use rdkafka::message::BorrowedMessage;
use reqwest::header::HeaderMap;
use talk::giphy::{Client, FALLBACK_IMAGE};
use talk::{ConsumerService, Failure, Message};
use tracing::field::Empty;
use tracing::instrument::WithSubscriber as _;
use tracing::{Instrument as _, Span, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::kafka_tracing::{KafkaTracing, TracedConsumer, TracedProducer};
use crate::{send_message, telemetry};

/// Consumes the `message` topic in the `giphy-service` group until shutdown.
pub async fn run(service: ConsumerService) -> anyhow::Result<()> {
    // TODO(10): giphy-service's provider samples with the links: telemetry.rs,
    // init_consumer. Chapter 10, task 2.
    let provider = telemetry::init_consumer("giphy-service", &service.telemetry)?;
    // END TODO(10)
    let kafka = KafkaTracing::new(&provider);
    let giphy = Giphy {
        client: service.giphy.clone(),
        producer: kafka.producer(service.producer.clone()),
        consumer: kafka.consumer(service.name, service.consumer_trace),
        found: Mutex::new(None),
    };
    // Everything this future records goes to giphy-service's own subscriber.
    let dispatch = telemetry::dispatch("giphy-service", &provider);
    let consumed = service.consume(giphy).with_subscriber(dispatch).await;
    telemetry::shutdown(provider).await;
    consumed
}

struct Giphy {
    client: Client,
    producer: TracedProducer,
    /// The process spans of the `giphy-service` group, in the `--consumer-trace` mode.
    consumer: TracedConsumer,
    /// The image found for a message whose re-publish failed, with the message's id: the
    /// retry uses it instead of asking Giphy again. One slot is enough, as the consume loop
    /// hands this service one record at a time, and the same record again until it is done.
    found: Mutex<Option<(String, String)>>,
}

impl talk::Handler for Giphy {
    // ANCHOR: handle
    async fn handle(&self, message: Message, record: &BorrowedMessage<'_>) -> Result<(), Failure> {
        // What this record asks for, if anything: a message that has an image is answered.
        let query = match message.image {
            Some(_) => None,
            None => message.giphy_query().map(str::to_owned),
        };
        // The library's process span, with what only this service knows about the record.
        let cx = self.consumer.process(record, Some(&message.id));
        let span = cx.span();
        if let Some(query) = &query {
            span.set_attribute(KeyValue::new("giphy.query", query.clone()));
        }

        let result = match query {
            // The GET and the re-publish happen with the process span's context current, so
            // they are its children.
            Some(query) => self.answer(message, &query).with_context(cx.clone()).await,
            None => Ok(()),
        };

        if let Err(error) = &result {
            // The re-publish failed: `error.type` is Kafka's name for the error.
            span.set_attribute(KeyValue::new(ERROR_TYPE, talk::kafka::error_type(error)));
            span.set_status(Status::error(format!("{error:#}")));
        }
        span.end();
        // If Kafka does not take the answer, try again later rather than lose it.
        result.map_err(Failure::Retry)
    }
    // ANCHOR_END: handle
}

impl Giphy {
    // ANCHOR: answer
    /// Finds an image for `query` and publishes the message again with it.
    ///
    /// When the send fails, the consume loop hands the same record to `handle` again. The
    /// search is not repeated then: the image found the first time is kept, so a retry is one
    /// more `send message` in the trace, and never one more `GET`.
    async fn answer(&self, message: Message, query: &str) -> anyhow::Result<()> {
        let kept = self.found.lock().unwrap().take();
        let image = match kept {
            Some((id, image)) if id == message.id => image,
            _ => self.search(query).await,
        };
        let answered = Message {
            image: Some(image.clone()),
            ..message
        };
        if let Err(error) = send_message(&self.producer, &answered).await {
            *self.found.lock().unwrap() = Some((answered.id, image));
            return Err(error);
        }
        Ok(())
    }
    // ANCHOR_END: answer

    // ANCHOR: search
    /// Searches Giphy inside a `GET` CLIENT span, a child of the current span. Never fails: a
    /// chat should not break because Giphy did, so a failure is recorded on the span and
    /// answered with the fallback image.
    async fn search(&self, query: &str) -> String {
        let span = info_span!(
            "GET",
            otel.kind = "client",
            { HTTP_REQUEST_METHOD } = "GET",
            { SERVER_ADDRESS } = self.client.server_address(),
            { SERVER_PORT } = i64::from(self.client.server_port()),
            // The search's URL with the API key's value redacted: no secret travels with the
            // spans.
            { URL_FULL } = self.client.url_full(query),
            { HTTP_RESPONSE_STATUS_CODE } = Empty,
            { ERROR_TYPE } = Empty,
        );
        async {
            let span = Span::current();
            // ANCHOR: inject
            // Giphy continues this trace: the GET span's context goes into the request's
            // headers as `traceparent`, as in step 06. `Span::current()` is the GET span here.
            let mut headers = HeaderMap::new();
            TraceContextPropagator::new()
                .inject_context(&span.context(), &mut HeaderInjector(&mut headers));
            // ANCHOR_END: inject
            match self.client.search_with_headers(query, headers).await {
                Ok(found) => {
                    span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(found.status));
                    found.url
                }
                Err(error) => {
                    // Giphy may have answered (an error code, or 200 with nothing usable).
                    if let Some(code) = error.status() {
                        span.record(HTTP_RESPONSE_STATUS_CODE, i64::from(code));
                    }
                    span.record(ERROR_TYPE, error.error_type().as_str());
                    // No description for an error answer: its status code says it all.
                    span.set_status(Status::error(error.status_description()));
                    tracing::warn!("giphy-service: {error}; using the fallback image");
                    FALLBACK_IMAGE.to_owned()
                }
            }
        }
        .instrument(span)
        .await
    }
    // ANCHOR_END: search
}
