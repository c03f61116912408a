//! The load: a few clients that each post their share of the messages, one after another,
//! the next as soon as the last is answered (a closed loop, like `wrk -c N` or `oha -c N`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use reqwest::StatusCode;
use talk::Message;

use crate::usage;

/// What the clients share with the store watcher while they post.
pub(crate) struct Progress {
    /// One room per client, so that each room's messages arrive in the order they were sent.
    pub rooms: Vec<String>,
    /// POSTs sent so far, per room: the watcher looks for this many messages.
    pub posted: Vec<AtomicUsize>,
    answered: AtomicUsize,
    /// Resident memory when half the POSTs had been answered.
    rss_at_half: OnceLock<Option<u64>>,
}

impl Progress {
    pub fn new(prefix: &str, clients: usize) -> Progress {
        Progress {
            rooms: (0..clients).map(|c| format!("{prefix}-{c}")).collect(),
            posted: (0..clients).map(|_| AtomicUsize::new(0)).collect(),
            answered: AtomicUsize::new(0),
            rss_at_half: OnceLock::new(),
        }
    }

    pub fn rss_at_half(&self) -> Option<u64> {
        self.rss_at_half.get().copied().flatten()
    }
}

/// One POST: the id chat-api gave the message, and when the POST was sent.
pub(crate) struct Posted {
    pub id: String,
    pub sent: Instant,
}

/// Posts `messages` messages, spread over one client per room of `progress`, and returns
/// every POST once all are answered.
pub(crate) async fn post_all(
    client: &reqwest::Client,
    base: &str,
    progress: &std::sync::Arc<Progress>,
    messages: usize,
) -> anyhow::Result<Vec<Posted>> {
    let clients = progress.rooms.len();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        // The first `messages % clients` clients post one more.
        let share = messages / clients + usize::from(c < messages % clients);
        let (client, url, progress) = (client.clone(), format!("{base}/message"), progress.clone());
        tasks.spawn(async move {
            let mut posted = Vec::with_capacity(share);
            for i in 0..share {
                posted.push(post_one(&client, &url, &progress, c, i, messages).await?);
            }
            anyhow::Ok(posted)
        });
    }
    let mut all = Vec::with_capacity(messages);
    for posted in tasks.join_all().await {
        all.extend(posted?);
    }
    Ok(all)
}

async fn post_one(
    client: &reqwest::Client,
    url: &str,
    progress: &Progress,
    c: usize,
    i: usize,
    messages: usize,
) -> anyhow::Result<Posted> {
    let body = serde_json::json!({
        "author": "bench",
        "room": progress.rooms[c],
        "message": format!("message {i}"),
    });
    progress.posted[c].fetch_add(1, Ordering::SeqCst);
    let sent = Instant::now();
    let response = client.post(url).json(&body).send().await?;
    anyhow::ensure!(
        response.status() == StatusCode::ACCEPTED,
        "POST /message answered {}",
        response.status()
    );
    let message: Message = response.json().await?;
    if progress.answered.fetch_add(1, Ordering::SeqCst) + 1 == messages / 2 {
        let _ = progress.rss_at_half.set(usage::rss_kb());
    }
    Ok(Posted {
        id: message.id,
        sent,
    })
}
