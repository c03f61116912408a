//! Shutdown: one [`CancellationToken`] that Ctrl-C or SIGTERM cancels.
//!
//! Every service gets a clone. The HTTP server stops accepting and drains, and each consumer
//! loop stops between records, so in-flight work finishes and its offset is committed. The
//! launcher then flushes producers and tracer providers, each flush with a deadline, so that
//! the process exits within [`SHUTDOWN_DEADLINE`] even when Kafka or a collector is gone.

use std::time::Duration;

pub use tokio_util::sync::CancellationToken;

/// The longest a clean shutdown may take before the process exits anyway.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(9);

/// Cancels `token` on the first Ctrl-C (SIGINT) or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutting down: finishing in-flight work (Ctrl-C again to force)");
        token.cancel();
        // A second Ctrl-C means "now": the learner has waited long enough.
        signal().await;
        std::process::exit(130);
    });
}

async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler only fails outside a Tokio runtime");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
