//! The Giphy client giphy-service uses, and a local stand-in for the Giphy API.
//!
//! With `GIPHY_API_KEY` set, the client asks the real API (`GIPHY_BASE_URL` overrides where).
//! Without it, giphy-service starts [`stand_in`]: a tiny HTTP server that answers Giphy's search
//! call with images bundled in this crate. It is a real HTTP round trip, so the client spans of
//! later steps have something real to measure, and the chat page works offline.
//!
//! The bundled images are served by chat-api under `/images/…` (see `http.rs`), which is why the
//! stand-in's URLs are relative: the browser loads them from the chat page's own origin.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde::Deserialize;

/// The real Giphy API.
pub const GIPHY_API: &str = "https://api.giphy.com";

/// How long a Giphy search may take. After that giphy-service uses the fallback image.
pub const TIMEOUT: Duration = Duration::from_secs(3);

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
    #[error("Giphy did not answer within {TIMEOUT:?}")]
    Timeout,
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
            GiphyError::Timeout | GiphyError::Unreachable(_) => None,
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
    http: reqwest::Client,
}

impl Client {
    /// A client for the API at `base_url`.
    pub fn new(base_url: &str, api_key: &str) -> Client {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .expect("a client with only a timeout always builds");
        Client {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            http,
        }
    }

    /// The host the client talks to, like `api.giphy.com` or `127.0.0.1`: the
    /// `server.address` of a client span (the port, if any, is [`Client::server_port`]).
    pub fn server_address(&self) -> &str {
        self.authority()
            .rsplit_once(':')
            .map_or(self.authority(), |(host, _)| host)
    }

    /// The port in the base URL, if it names one: the `server.port` of a client span.
    pub fn server_port(&self) -> Option<u16> {
        self.authority().rsplit_once(':')?.1.parse().ok()
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
            .get(format!("{}/v1/gifs/search", self.base_url))
            .query(&[
                ("api_key", self.api_key.as_str()),
                ("q", query),
                ("limit", "10"),
                ("rating", "pg"),
            ])
            .headers(headers)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(GiphyError::Status(status));
        }
        let answer: SearchAnswer = response.json().await.map_err(transport_error)?;
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
}

fn transport_error(error: reqwest::Error) -> GiphyError {
    // The URL holds the API key: keep it out of log lines and span statuses.
    let error = error.without_url();
    if error.is_timeout() {
        GiphyError::Timeout
    } else if error.is_decode() {
        GiphyError::BadAnswer(error.to_string())
    } else {
        GiphyError::Unreachable(error.to_string())
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
/// none match, as Giphy always finds *something*.
pub async fn stand_in() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    let app = Router::new().route("/v1/gifs/search", get(stand_in_search));
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

async fn stand_in_search(Query(query): Query<SearchQuery>) -> axum::Json<SearchAnswer> {
    let topic = query
        .q
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_lowercase();
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
    axum::Json(SearchAnswer { data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_stand_in_finds_images_by_topic() {
        let client = Client::new(&stand_in().await.unwrap(), "");
        let found = client.search("cats").await.unwrap();
        assert!(found.url.starts_with("/images/cats-"), "{}", found.url);
        assert_eq!(found.status, 200);
        let other = client.search("zebras").await.unwrap();
        assert!(bundled_image(other.url.trim_start_matches("/images/")).is_some());
        assert_ne!(other.url, FALLBACK_IMAGE);
    }

    #[tokio::test]
    async fn a_dead_giphy_is_an_error_not_a_hang() {
        // Bind a port, then free it, so nothing listens there.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = dead.local_addr().unwrap();
        drop(dead);
        let client = Client::new(&format!("http://{address}"), "");
        assert!(matches!(
            client.search("cats").await,
            Err(GiphyError::Unreachable(_))
        ));
        assert_eq!(client.server_address(), "127.0.0.1");
        assert_eq!(client.server_port(), Some(address.port()));
        let real = Client::new(GIPHY_API, "key");
        assert_eq!(
            (real.server_address(), real.server_port()),
            ("api.giphy.com", None)
        );
    }

    #[test]
    fn every_bundled_image_is_an_svg() {
        for (name, svg) in IMAGES {
            assert!(svg.contains("<svg"), "{name} is not an SVG");
        }
    }
}
