//! Turns a `todo!()` that a learner has not written yet into a hint, instead of a time-out.
//!
//! The step's services run in spawned tasks. When one of them reaches `todo!()`, its task
//! panics, the panic is printed somewhere in the middle of the test output, and the check would
//! otherwise wait until its deadline for spans that never come. This module remembers such
//! panics so that the check can stop at once and say where the work is.

use std::sync::{Mutex, Once};

/// A panic seen in any thread of this test binary.
#[derive(Debug, Clone)]
pub struct Panic {
    pub message: String,
    pub location: String,
}

static PANICS: Mutex<Vec<Panic>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Starts remembering panics (the default hook still prints them).
pub fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            if let Ok(mut panics) = PANICS.lock() {
                panics.push(Panic { message, location });
            }
            previous(info);
        }));
    });
}

/// The first `todo!()` reached so far, as a sentence for the learner.
pub fn todo_reached() -> Option<String> {
    let panics = PANICS.lock().ok()?;
    let todo = panics.iter().find(|p| is_todo(&p.message))?;
    let message = todo.message.trim_start_matches("not yet implemented: ");
    Some(format!(
        "the app reached a todo!() at {}: {message}\n  This is the part to write: replace the \
         todo!() with your code (the chapter's Tasks section says what it should do).",
        todo.location
    ))
}

/// Fails at once if a `todo!()` has been reached.
pub fn fail_if_todo_reached() {
    let Some(reached) = todo_reached() else {
        return;
    };
    let location = PANICS.lock().ok().and_then(|panics| {
        panics
            .iter()
            .find(|p| is_todo(&p.message))
            .map(|p| p.location.clone())
    });
    let saw = reached.lines().next().unwrap_or_default().to_owned();
    crate::finding::record(&crate::finding::Finding {
        test: crate::finding::current_test(),
        aspect: "todo",
        span: None,
        service: None,
        concept: "the part to write",
        saw: &saw,
        hint: "Replace the todo!() with your code: the chapter's Tasks section says what it \
               should do.",
        code: None,
        location: location.as_deref(),
        waterfall: "",
    });
    panic!("\n\n✗ {reached}\n");
}

/// Is this panic a `todo!()` of the step, or a `TODO(NN)` note of it?
fn is_todo(message: &str) -> bool {
    message.contains("not yet implemented") || message.contains("TODO(")
}
