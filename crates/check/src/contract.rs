//! The trace contracts of steps 05 to 07, as test bodies that any step can run with its own
//! `Step`. A step's `tests/` holds one `#[tokio::test]` per function, calling it; so step 08,
//! which makes the same traces another way, proves the same contracts with the same code.

pub mod batches;
pub mod follows_from;
pub mod library;
pub mod transform;

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the step under test makes its spans with `tracing` (step 08), so that hints name
/// that API instead of OpenTelemetry's own.
static TRACING: AtomicBool = AtomicBool::new(false);

/// Makes every contract hint in this test binary speak of `tracing` (step 08's tests call it
/// first). A test binary checks one step, so the setting is the binary's.
pub fn speak_tracing() {
    TRACING.store(true, Ordering::Relaxed);
}

/// The hint for the API the step uses: `raw` for OpenTelemetry's own, `tracing` for step 08.
pub(crate) fn hint(raw: &'static str, tracing: &'static str) -> &'static str {
    if TRACING.load(Ordering::Relaxed) {
        tracing
    } else {
        raw
    }
}
