//! What a failed expectation teaches, and the record of it that `cargo workbook` reads.
//!
//! A check that fails prints its message for a person reading cargo's output, as before. It also
//! writes one JSON line per failed expectation to the file named by [`FINDINGS_ENV`], when the
//! runner sets it. The runner reads those lines instead of scraping libtest's output, so that it
//! can show one task's failure at a time, in the chapter's task order, and hand out the hints
//! one level at a time (`cargo workbook hint NN`).
//!
//! A [`Hint`] keeps its levels apart: the words that name the concept are printed with the
//! failure; the code, when a check has any to give, only ever goes into the JSON line, for the
//! last level of `cargo workbook hint`. A failure printed to a learner never quotes the code to
//! write.

use std::borrow::Cow;
use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// The environment variable that names the file the findings go to, one JSON line each.
pub const FINDINGS_ENV: &str = "WORKBOOK_FINDINGS";

/// What a failed expectation says to do, by level.
#[derive(Clone, Debug)]
pub struct Hint {
    /// The concept that is probably missing, in a few words ("span links"). `None` lets the
    /// assertion that fails name it from what it checks.
    pub concept: Option<&'static str>,
    /// What to think about, in words: which idea, which file and function. Never the code.
    pub text: Cow<'static, str>,
    /// The code, for the last level of `cargo workbook hint`: never printed with the failure.
    pub code: Option<Cow<'static, str>>,
}

impl Hint {
    /// A hint that names its concept.
    pub const fn new(concept: &'static str, text: &'static str) -> Hint {
        Hint {
            concept: Some(concept),
            text: Cow::Borrowed(text),
            code: None,
        }
    }

    /// A hint that names its concept, with the code that the last level of
    /// `cargo workbook hint` shows.
    pub const fn with_code(concept: &'static str, text: &'static str, code: &'static str) -> Hint {
        Hint {
            concept: Some(concept),
            text: Cow::Borrowed(text),
            code: Some(Cow::Borrowed(code)),
        }
    }

    /// The same hint, with code made at run time.
    pub fn code(mut self, code: impl Into<Cow<'static, str>>) -> Hint {
        self.code = Some(code.into());
        self
    }

    /// The same hint, naming `concept` unless it names one already.
    pub(crate) fn or_concept(mut self, concept: &'static str) -> Hint {
        self.concept.get_or_insert(concept);
        self
    }
}

impl From<&str> for Hint {
    fn from(text: &str) -> Hint {
        Hint::from(text.to_owned())
    }
}

impl From<String> for Hint {
    fn from(text: String) -> Hint {
        Hint {
            concept: None,
            text: Cow::Owned(text),
            code: None,
        }
    }
}

impl From<&String> for Hint {
    fn from(text: &String) -> Hint {
        Hint::from(text.clone())
    }
}

impl From<&Hint> for Hint {
    fn from(hint: &Hint) -> Hint {
        hint.clone()
    }
}

/// One failed expectation, as the runner reads it.
#[derive(Debug, Serialize)]
pub struct Finding<'a> {
    /// The test that failed: libtest names the test's thread after it.
    pub test: String,
    /// What the assertion checks, for the chapter's task map: `link`, `parent`, `root`, `kind`,
    /// `attribute`, `span`, `trace`, `status`, `todo`, or a check's own word.
    pub aspect: &'a str,
    /// The span the expectation is about (`process message`), if any.
    pub span: Option<&'a str>,
    /// The service whose code is at fault, if the check can tell.
    pub service: Option<&'a str>,
    /// The concept, in words.
    pub concept: &'a str,
    /// What the check saw, against what it expected.
    pub saw: &'a str,
    /// The hint's words (level 1).
    pub hint: &'a str,
    /// The hint's code (level 3), if the check has one.
    pub code: Option<&'a str>,
    /// `file:line` in the step's code, for a `todo!()` or a panic.
    pub location: Option<&'a str>,
    /// What the check captured, drawn as the terminal waterfall.
    pub waterfall: &'a str,
}

/// Appends `finding` to the findings file, if the runner asked for one. Failing to write it only
/// costs the runner its summary, so it is never a reason to fail differently.
pub fn record(finding: &Finding<'_>) {
    static WRITING: Mutex<()> = Mutex::new(());
    let Some(path) = std::env::var_os(FINDINGS_ENV) else {
        return;
    };
    let Ok(mut line) = serde_json::to_string(finding) else {
        return;
    };
    line.push('\n');
    // One test binary runs its tests on several threads: one line at a time.
    let _writing = WRITING.lock();
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// The name of the running test: libtest runs each test on a thread named after it.
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unknown test")
        .to_owned()
}

/// Whether the step under test makes its spans with `tracing` (step 08), so that hints name
/// that API instead of OpenTelemetry's own.
static TRACING: AtomicBool = AtomicBool::new(false);

/// Makes every contract hint in this test binary speak of `tracing` (step 08's tests call it
/// first). A test binary checks one step, so the setting is the binary's.
pub fn speak_tracing() {
    TRACING.store(true, Ordering::Relaxed);
}

/// Whether the step under test makes its spans with `tracing` ([`speak_tracing`]).
pub(crate) fn speaks_tracing() -> bool {
    TRACING.load(Ordering::Relaxed)
}

/// The hint for the API the step uses: `raw` for OpenTelemetry's own, `tracing` for step 08.
/// Works for anything a hint is made of: a [`Hint`], or its words or code alone.
pub(crate) fn hint<T>(raw: T, tracing: T) -> T {
    if speaks_tracing() { tracing } else { raw }
}

/// Whether the step under test keeps its Kafka instrumentation in a library of its own (step
/// 09), whose functions have other names than steps 05 to 08's.
static LIBRARY: AtomicBool = AtomicBool::new(false);

/// Makes every hint in this test binary name step 09's library instead of steps 05 to 07's
/// `messaging.rs` (step 09's tests call it first). The library is written with OpenTelemetry's
/// own API, so the hints are the raw ones, with the library's names.
pub fn speak_library() {
    LIBRARY.store(true, Ordering::Relaxed);
}

/// What steps 05 to 07 call a piece of Kafka instrumentation, and what step 09's library calls
/// it; the longer names first, so that no shorter one is replaced inside them.
const LIBRARY_NAMES: &[(&str, &str)] = &[
    (
        "messaging::start_batch_process",
        "kafka_tracing's TracedConsumer::process_batch",
    ),
    (
        "messaging::start_process",
        "kafka_tracing's TracedConsumer::process",
    ),
    (
        "messaging::send_message",
        "kafka_tracing's TracedProducer::send",
    ),
    ("start_batch_process", "TracedConsumer::process_batch"),
    ("start_process", "TracedConsumer::process"),
    ("send_message", "TracedProducer::send"),
    ("extract_parent", "creation_context"),
    ("messaging.rs", "kafka_tracing.rs"),
];

/// `text` in the words of the step under test: unchanged, except in step 09 ([`speak_library`]).
pub(crate) fn in_the_steps_words(text: &str) -> Cow<'_, str> {
    if !LIBRARY.load(Ordering::Relaxed) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(library_names(text))
}

/// `text` with steps 05 to 07's names for the Kafka instrumentation replaced by the library's.
fn library_names(text: &str) -> String {
    let mut text = text.to_owned();
    for (old, new) in LIBRARY_NAMES {
        // Replace through a placeholder, so that a new name is never replaced again.
        text = text.replace(old, &format!("\u{0}{new}\u{0}"));
    }
    text.replace('\u{0}', "")
}

/// The file in which `service`'s code lives, in every step.
pub(crate) fn source_file(service: &str) -> &'static str {
    match service {
        "chat-api" => "chat_api.rs",
        "storage-service" => "storage.rs",
        "giphy-service" => "giphy.rs",
        _ => "the service's file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_09_hints_name_the_library_not_messaging_rs() {
        assert_eq!(
            library_names(
                "In messaging.rs, messaging::start_process: link to what extract_parent \
                 returned, as start_batch_process does"
            ),
            "In kafka_tracing.rs, kafka_tracing's TracedConsumer::process: link to what \
             creation_context returned, as TracedConsumer::process_batch does"
        );
    }
}
