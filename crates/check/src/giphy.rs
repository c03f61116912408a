//! A Giphy of the check's own: it answers giphy-service the way a test asks (images, an error
//! status, garbage, or too late), and records every request's `traceparent`, so a check can see
//! what crossed the HTTP hop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::{Notify, Semaphore};

/// How the test Giphy answers a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// `200` with one image, `/images/cats-1.svg`.
    Images,
    /// `500 Internal Server Error`.
    ServerError,
    /// `200` with a body that is not Giphy's JSON.
    Garbage,
    /// The images, but only after `delay`: longer than giphy-service's timeout.
    Slow(Duration),
}

/// The image [`Behaviour::Images`] answers with.
pub const IMAGE: &str = "/images/cats-1.svg";

/// A running test Giphy on a loopback port. It stops when the test's runtime ends.
pub struct TestGiphy {
    /// `http://127.0.0.1:<port>`: give it to the app as its `GIPHY_BASE_URL`.
    pub base_url: String,
    state: Arc<Shared>,
}

struct Shared {
    behaviour: Behaviour,
    /// The `traceparent` of every request, `None` for a request without one.
    traceparents: Mutex<Vec<Option<String>>>,
    /// Signalled on every request.
    requested: Notify,
    /// While `held`, answers wait for a permit from [`TestGiphy::release`].
    held: bool,
    gate: Semaphore,
}

impl TestGiphy {
    /// Starts a test Giphy that answers with `behaviour`.
    pub async fn start(behaviour: Behaviour) -> TestGiphy {
        TestGiphy::serve(behaviour, false).await
    }

    /// Starts a test Giphy that answers with images, but holds each answer until
    /// [`TestGiphy::release`]: the test can act while giphy-service waits for its search.
    pub async fn held() -> TestGiphy {
        TestGiphy::serve(Behaviour::Images, true).await
    }

    async fn serve(behaviour: Behaviour, held: bool) -> TestGiphy {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("binding a loopback port");
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Shared {
            behaviour,
            traceparents: Mutex::new(Vec::new()),
            requested: Notify::new(),
            held,
            gate: Semaphore::new(0),
        });
        let app = Router::new()
            .route("/v1/gifs/search", get(search))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestGiphy {
            base_url: format!("http://{address}"),
            state,
        }
    }

    /// A base URL where nothing listens: Giphy is down.
    pub fn dead() -> String {
        let port = crate::servers::free_port();
        format!("http://127.0.0.1:{port}")
    }

    /// The `traceparent` of every request so far (`None` for a request that had none).
    pub fn traceparents(&self) -> Vec<Option<String>> {
        self.state.traceparents.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have come, or `patience` has passed; returns how many
    /// came.
    pub async fn wait_for_requests(&self, n: usize, patience: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.state.requested.notified();
            let count = self.traceparents().len();
            if count >= n || tokio::time::Instant::now() >= deadline {
                return count;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    /// Lets `n` held answers go (see [`TestGiphy::held`]).
    pub fn release(&self, n: usize) {
        self.state.gate.add_permits(n);
    }
}

async fn search(State(state): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let traceparent = headers
        .get("traceparent")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    state.traceparents.lock().unwrap().push(traceparent);
    state.requested.notify_waiters();
    if state.held {
        state
            .gate
            .acquire()
            .await
            .expect("the gate is never closed")
            .forget();
    }
    let images = || {
        axum::Json(serde_json::json!({
            "data": [{ "images": { "original": { "url": IMAGE } } }]
        }))
        .into_response()
    };
    match state.behaviour {
        Behaviour::Images => images(),
        Behaviour::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        Behaviour::Garbage => (StatusCode::OK, "<html>not json</html>").into_response(),
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            images()
        }
    }
}
