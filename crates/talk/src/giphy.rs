//! The Giphy client giphy-service uses, and a local stand-in for the Giphy API.
//!
//! With `GIPHY_API_KEY` set, the client asks the real API (`GIPHY_BASE_URL` overrides where).
//! Without it, giphy-service starts [`stand_in`]: a tiny HTTP server that answers Giphy's search
//! call with images bundled in this crate. It is a real HTTP round trip, so the client spans of
//! later steps have something real to measure, and the chat page works offline.
//!
//! The stand-in is a traced service of its own, `giphy-api`, but one that only ever *continues*
//! a trace: a request that carries a `traceparent` gets a SERVER span under the caller's span,
//! and a request without one gets no span at all. So until step 06 puts the header on the
//! request, the stand-in leaves no trace, and from step 06 on the learner sees their own header
//! arrive on the other side.
//!
//! The bundled images are served by chat-api under `/images/…` (see `http.rs`), which is why the
//! stand-in's URLs are relative: the browser loads them from the chat page's own origin.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use opentelemetry::KeyValue;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, URL_PATH, URL_QUERY, URL_SCHEME,
};
use serde::Deserialize;

/// The real Giphy API.
pub const GIPHY_API: &str = "https://api.giphy.com";

/// Why the app does not start when it should reach Giphy over HTTPS in a build without TLS.
///
/// TLS is a cargo feature of this crate, off by default: its crypto library (aws-lc-sys) is a
/// big part of a learner's first build, and only the real Giphy API needs it. Without the
/// feature the client could only fail each search, so the app says at once what to do.
pub const NO_TLS: &str = "GIPHY_API_KEY (or an https GIPHY_BASE_URL) is set, but this build \
    cannot speak HTTPS: TLS is an opt-in feature, so that a first build stays fast. Run with \
    `--features talk/tls`, e.g. `GIPHY_API_KEY=… cargo run -p exercise-06 --features talk/tls`, \
    or unset GIPHY_API_KEY to use the local stand-in.";

/// How long a Giphy search may take. After that giphy-service uses the fallback image. (The
/// checks shorten it, through `Config::giphy_timeout`, to test a slow Giphy quickly.)
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The stand-in's search route, which is also its SERVER span's name after the method.
const SEARCH_ROUTE: &str = "/v1/gifs/search";

/// The image used when Giphy fails, times out or finds nothing.
pub const FALLBACK_IMAGE: &str = "/images/fallback.svg";

/// The images this crate bundles (made for this project, CC0: see `assets/images/LICENSE.md`).
const IMAGES: &[(&str, &str)] = &[
    ("cats-1.svg", include_str!("../assets/images/cats-1.svg")),
    ("cats-2.svg", include_str!("../assets/images/cats-2.svg")),
    ("dogs-1.svg", include_str!("../assets/images/dogs-1.svg")),
    ("dogs-2.svg", include_str!("../assets/images/dogs-2.svg")),
    (
        "coffee-1.svg",
        include_str!("../assets/images/coffee-1.svg"),
    ),
    ("party-1.svg", include_str!("../assets/images/party-1.svg")),
    (
        "rocket-1.svg",
        include_str!("../assets/images/rocket-1.svg"),
    ),
    (
        "fallback.svg",
        include_str!("../assets/images/fallback.svg"),
    ),
];

/// A bundled image by file name.
pub fn bundled_image(name: &str) -> Option<&'static str> {
    IMAGES.iter().find(|(n, _)| *n == name).map(|(_, svg)| *svg)
}

/// Why a search found no image. giphy-service answers with [`FALLBACK_IMAGE`] in every case.
#[derive(Debug, thiserror::Error)]
pub enum GiphyError {
    /// The search took longer than the client's timeout, which it names: [`TIMEOUT`] in the
    /// app, less in a check that plays a slow Giphy. A log line that said 3 s while the check
    /// waited 300 ms would send the reader looking for the wrong thing.
    #[error("Giphy did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Giphy could not be reached: {0}")]
    Unreachable(String),
    #[error("Giphy answered HTTP {0}")]
    Status(u16),
    #[error("Giphy's answer was not understood: {0}")]
    BadAnswer(String),
    #[error("Giphy found nothing for this topic")]
    NothingFound,
}

impl GiphyError {
    /// The HTTP status Giphy answered with, when it answered at all (for the client span's
    /// `http.response.status_code`).
    pub fn status(&self) -> Option<u16> {
        match self {
            GiphyError::Status(code) => Some(*code),
            // Both come from a successful answer whose body was of no use.
            GiphyError::BadAnswer(_) | GiphyError::NothingFound => Some(200),
            GiphyError::Timeout(_) | GiphyError::Unreachable(_) => None,
        }
    }

    /// The client span's `error.type`, as the HTTP conventions ask: the status code when Giphy
    /// answered with an error, else a short name for what went wrong. Few distinct values, so
    /// that a backend can group failures by it.
    pub fn error_type(&self) -> String {
        match self {
            GiphyError::Status(code) => code.to_string(),
            GiphyError::Timeout(_) => "timeout".to_owned(),
            GiphyError::Unreachable(_) => "unreachable".to_owned(),
            GiphyError::BadAnswer(_) => "bad_answer".to_owned(),
            GiphyError::NothingFound => "nothing_found".to_owned(),
        }
    }

    /// The description for the client span's Error status. None (empty) for an error answer:
    /// its `http.response.status_code` says it all, and the conventions ask for no description
    /// that repeats the status code or `error.type`. Else the message, which tells this one
    /// failure's story (how long the timeout was, what could not be reached).
    pub fn status_description(&self) -> String {
        match self {
            GiphyError::Status(_) => String::new(),
            other => other.to_string(),
        }
    }
}

/// A found image, with the HTTP status of the answer (for the client span of step 02).
#[derive(Debug, Clone)]
pub struct Found {
    pub url: String,
    pub status: u16,
}

/// A Giphy API client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    base_url: String,
    api_key: String,
    /// How long a search may take, for the [`GiphyError::Timeout`] message.
    timeout: Duration,
    http: reqwest::Client,
}

impl Client {
    /// A client for the API at `base_url` that gives up on a search after `timeout`
    /// ([`TIMEOUT`] in the app).
    pub fn new(base_url: &str, api_key: &str, timeout: Duration) -> Client {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("a client with only a timeout always builds");
        Client {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            timeout,
            http,
        }
    }

    /// The host the client talks to, like `api.giphy.com` or `127.0.0.1`: the
    /// `server.address` of a client span (the port is [`Client::server_port`]).
    pub fn server_address(&self) -> &str {
        self.authority()
            .rsplit_once(':')
            .map_or(self.authority(), |(host, _)| host)
    }

    /// The port the client talks to: the one the base URL names, else the scheme's own (443
    /// for `https`, 80 for `http`). The `server.port` of a client span, which the HTTP
    /// conventions require next to `server.address`.
    pub fn server_port(&self) -> u16 {
        let named = self
            .authority()
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok());
        named.unwrap_or(if self.base_url.starts_with("http://") {
            80
        } else {
            443
        })
    }

    /// The search's URL for `query`, as a client span's `url.full`, with the API key's value
    /// replaced by `REDACTED`.
    ///
    /// The HTTP conventions require `url.full` on a client span, and say that sensitive query
    /// values SHOULD be redacted, keeping the key's name. The API key is a secret, and a span
    /// goes to every backend that the traces are exported to.
    pub fn url_full(&self, query: &str) -> String {
        let url = reqwest::Url::parse_with_params(
            &format!("{}{SEARCH_ROUTE}", self.base_url),
            Client::search_params("REDACTED", query),
        );
        match url {
            Ok(url) => url.into(),
            // A base URL that does not parse fails the search too; say where it was meant to go.
            Err(_) => format!("{}{SEARCH_ROUTE}", self.base_url),
        }
    }

    /// The search's query parameters, with `api_key` as the key's value.
    fn search_params<'a>(api_key: &'a str, query: &'a str) -> [(&'a str, &'a str); 4] {
        [
            ("api_key", api_key),
            ("q", query),
            ("limit", "10"),
            ("rating", "pg"),
        ]
    }

    /// `host[:port]` of the base URL.
    fn authority(&self) -> &str {
        let without_scheme = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, rest)| rest);
        without_scheme.split('/').next().unwrap_or(without_scheme)
    }

    /// Searches like the book's giphy-service (limit 10, rating pg) and picks one result at
    /// random.
    pub async fn search(&self, query: &str) -> Result<Found, GiphyError> {
        self.search_with_headers(query, reqwest::header::HeaderMap::new())
            .await
    }

    /// [`Client::search`], sending extra request headers (a `traceparent`, from step 06 on).
    pub async fn search_with_headers(
        &self,
        query: &str,
        headers: reqwest::header::HeaderMap,
    ) -> Result<Found, GiphyError> {
        let response = self
            .http
            .get(format!("{}{SEARCH_ROUTE}", self.base_url))
            .query(&Client::search_params(&self.api_key, query))
            .headers(headers)
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(GiphyError::Status(status));
        }
        let answer: SearchAnswer = response
            .json()
            .await
            .map_err(|error| self.transport_error(error))?;
        let urls: Vec<String> = answer
            .data
            .into_iter()
            .map(|gif| gif.images.original.url)
            .collect();
        if urls.is_empty() {
            return Err(GiphyError::NothingFound);
        }
        let url = urls[fastrand::usize(..urls.len())].clone();
        Ok(Found { url, status })
    }

    fn transport_error(&self, error: reqwest::Error) -> GiphyError {
        // The URL holds the API key: keep it out of log lines and span statuses.
        let error = error.without_url();
        if error.is_timeout() {
            GiphyError::Timeout(self.timeout)
        } else if error.is_decode() {
            GiphyError::BadAnswer(error.to_string())
        } else {
            GiphyError::Unreachable(error.to_string())
        }
    }
}

/// The part of Giphy's search answer that is used.
#[derive(Deserialize, serde::Serialize)]
struct SearchAnswer {
    data: Vec<Gif>,
}

#[derive(Deserialize, serde::Serialize)]
struct Gif {
    images: Images,
}

#[derive(Deserialize, serde::Serialize)]
struct Images {
    original: Original,
}

#[derive(Deserialize, serde::Serialize)]
struct Original {
    url: String,
}

/// Starts the local Giphy stand-in on a free loopback port and returns its base URL.
///
/// It answers `GET /v1/gifs/search?q=…` with the bundled images whose name starts with the
/// query's first word (`cats` finds `cats-1.svg` and `cats-2.svg`), or with all of them when
/// none match, as Giphy always finds *something*. `tracer` is `giphy-api`'s: a request that
/// carries a `traceparent` gets a SERVER span (see the module's documentation).
pub async fn stand_in(tracer: SdkTracer) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    let app = Router::new()
        .route(SEARCH_ROUTE, get(stand_in_search))
        .with_state(tracer);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!("the Giphy stand-in stopped: {error}");
        }
    });
    Ok(format!("http://{address}"))
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn stand_in_search(
    State(tracer): State<SdkTracer>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> axum::Json<SearchAnswer> {
    // Continue the caller's trace, if it sent one; never start a trace of our own.
    let parent = TraceContextPropagator::new()
        .extract_with_context(&opentelemetry::Context::new(), &HeaderExtractor(&headers));
    let span = parent.span().span_context().is_valid().then(|| {
        tracer
            .span_builder(format!("GET {SEARCH_ROUTE}"))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new(HTTP_REQUEST_METHOD, "GET"),
                KeyValue::new(URL_PATH, SEARCH_ROUTE),
                KeyValue::new(URL_SCHEME, "http"),
                // The conventions require the query too; the API key's value is left out.
                KeyValue::new(URL_QUERY, redacted(uri.query().unwrap_or_default())),
                KeyValue::new(HTTP_ROUTE, SEARCH_ROUTE),
                KeyValue::new(HTTP_RESPONSE_STATUS_CODE, 200),
            ])
            .start_with_context(&tracer, &parent)
    });
    let answer = search_bundled(&query.q);
    if let Some(mut span) = span {
        span.end();
    }
    axum::Json(answer)
}

/// `query` with the value of `api_key` replaced by `REDACTED`, the conventions' way to keep a
/// secret out of `url.query` and `url.full` while keeping the parameter's name.
fn redacted(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("api_key", _)) => "api_key=REDACTED",
            _ => pair,
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The bundled images for a search.
fn search_bundled(q: &str) -> SearchAnswer {
    let topic = q.split_whitespace().next().unwrap_or("").to_lowercase();
    let pictures = IMAGES.iter().filter(|(name, _)| *name != "fallback.svg");
    let mut names: Vec<&str> = pictures
        .clone()
        .filter(|(name, _)| !topic.is_empty() && name.starts_with(&topic))
        .map(|(name, _)| *name)
        .collect();
    if names.is_empty() {
        names = pictures.map(|(name, _)| *name).collect();
    }
    let data = names
        .into_iter()
        .map(|name| Gif {
            images: Images {
                original: Original {
                    url: format!("/images/{name}"),
                },
            },
        })
        .collect();
    SearchAnswer { data }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use super::*;

    #[tokio::test]
    async fn the_stand_in_finds_images_by_topic() {
        let tracer = SdkTracerProvider::builder().build().tracer("giphy-api");
        let client = Client::new(&stand_in(tracer).await.unwrap(), "", TIMEOUT);
        let found = client.search("cats").await.unwrap();
        assert!(found.url.starts_with("/images/cats-"), "{}", found.url);
        assert_eq!(found.status, 200);
        let other = client.search("zebras").await.unwrap();
        assert!(bundled_image(other.url.trim_start_matches("/images/")).is_some());
        assert_ne!(other.url, FALLBACK_IMAGE);
    }

    /// The stand-in continues a trace it is handed, and never starts one.
    #[tokio::test]
    async fn the_stand_in_only_continues_traces() {
        let log = crate::telemetry::SpanLog::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(log.processor())
            .build();
        let client = Client::new(
            &stand_in(provider.tracer("giphy-api")).await.unwrap(),
            "",
            TIMEOUT,
        );
        client.search("cats").await.unwrap();
        assert!(
            log.spans().is_empty(),
            "a request without a traceparent gets no span"
        );

        let mut headers = reqwest::header::HeaderMap::new();
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        headers.insert("traceparent", traceparent.parse().unwrap());
        client.search_with_headers("cats", headers).await.unwrap();
        let spans = log.spans();
        assert_eq!(
            spans.len(),
            1,
            "one SERVER span for a request with a traceparent"
        );
        let span = &spans[0].span;
        assert_eq!(span.name, "GET /v1/gifs/search");
        assert_eq!(span.span_kind, SpanKind::Server);
        assert_eq!(
            span.span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
        let query = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "url.query");
        assert_eq!(
            query.map(|kv| kv.value.as_str().into_owned()).as_deref(),
            Some("api_key=REDACTED&q=cats&limit=10&rating=pg"),
            "the query, with the key's value redacted"
        );
    }

    #[tokio::test]
    async fn a_dead_giphy_is_an_error_not_a_hang() {
        // Bind a port, then free it, so nothing listens there.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = dead.local_addr().unwrap();
        drop(dead);
        let client = Client::new(&format!("http://{address}"), "", TIMEOUT);
        assert!(matches!(
            client.search("cats").await,
            Err(GiphyError::Unreachable(_))
        ));
        assert_eq!(client.server_address(), "127.0.0.1");
        assert_eq!(client.server_port(), address.port());
        let real = Client::new(GIPHY_API, "key", TIMEOUT);
        assert_eq!(
            (real.server_address(), real.server_port()),
            ("api.giphy.com", 443)
        );
        // The key never reaches a span: its value is redacted, its name kept.
        assert_eq!(
            real.url_full("cats & dogs"),
            "https://api.giphy.com/v1/gifs/search?api_key=REDACTED&q=cats+%26+dogs&limit=10&rating=pg"
        );
        assert_eq!(GiphyError::Status(500).status_description(), "");
        assert_eq!(
            GiphyError::NothingFound.status_description(),
            "Giphy found nothing for this topic"
        );
    }

    /// A Giphy that never answers: the search gives up after the client's own timeout, and the
    /// error names that timeout, not the app's default.
    #[tokio::test]
    async fn a_slow_giphy_times_out_and_says_after_how_long() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", silent.local_addr().unwrap());
        // Accept connections and keep them open without a word.
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((connection, _)) = silent.accept().await {
                open.push(connection);
            }
        });
        let timeout = Duration::from_millis(150);
        let error = Client::new(&base_url, "", timeout)
            .search("cats")
            .await
            .unwrap_err();
        assert!(
            matches!(error, GiphyError::Timeout(t) if t == timeout),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "Giphy did not answer within 150ms");
        assert_eq!(error.error_type(), "timeout");
    }

    #[test]
    fn every_bundled_image_is_an_svg() {
        for (name, svg) in IMAGES {
            assert!(svg.contains("<svg"), "{name} is not an SVG");
        }
    }
}
