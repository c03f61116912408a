//! What a learner's runner sends to the class board, and the rules both sides keep.
//!
//! The board (`crates/class-board`) and the runner (`crates/workbook`) are built in two
//! workspaces, so before this crate each kept its own copy of the limits and of
//! [`namespace`], with tests that shared examples to keep them alike. Now there is one copy:
//! the runner shapes a report with these rules before it sends it, and the board checks every
//! report with the same rules when it arrives, because anyone on the room's network can post.
//!
//! Every field added since the first version is optional on the wire, so an older runner's
//! reports and an older board's log are still read.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest name, in characters: enough for a full name, short enough for one table row.
pub const MAX_NAME_CHARS: usize = 40;

/// The longest summary kept, in characters: the check's first finding, on one line.
pub const MAX_SUMMARY_CHARS: usize = 300;

/// The longest place (`exercises/exercise-03/src/chat_api.rs:42`) and concept kept.
pub const MAX_PLACE_CHARS: usize = 160;

/// The longest laptop id kept (the runner makes 16 hex digits).
pub const MAX_LAPTOP_CHARS: usize = 32;

/// The largest report body the board reads: a report is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The oldest a report may say it is. A queue kept over a night is shown as this old, not
/// older: a laptop's clock may be wrong, and the board only needs "a long time ago".
pub const MAX_AGE_MS: u64 = 24 * 60 * 60 * 1000;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
}

/// What kind of failure a check found: the instructor's first question is "stuck on what?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Passed,
    /// The crate does not compile; the place is the compiler's first `file:line`.
    CompileError,
    /// The app reached a `todo!()` the learner has not written yet; the place is where.
    Todo,
    /// A panic that is not a `todo!()` (an `unwrap()`, a library called wrongly); the place is
    /// where it panicked.
    Panic,
    /// The app ran, and the check did not see what it expected; the concept names what.
    Expectation,
    /// A kind this version does not know (sent by a newer runner).
    #[serde(other)]
    Other,
}

impl Kind {
    /// Words for the board and the terminal: "does not compile", "reached a todo!()".
    pub fn words(self) -> &'static str {
        match self {
            Kind::Passed => "passes",
            Kind::CompileError => "does not compile",
            Kind::Todo => "reached a todo!()",
            Kind::Panic => "panicked",
            Kind::Expectation => "expectation not met",
            Kind::Other => "fails",
        }
    }
}

/// The body of `POST /api/report`. Fields the board does not know are ignored, so a newer
/// runner can send more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub name: String,
    pub step: String,
    pub result: Outcome,
    /// The check's first finding, one line.
    #[serde(default)]
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// Where: `file:line` of a compile error, a `todo!()` or a panic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// The step's concept that a failed expectation is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concept: Option<String>,
    /// When the check ran, in seconds since the Unix epoch by the learner's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<u64>,
    /// How long ago the check ran when the report was sent, by the learner's clock. The board
    /// takes it from its own clock, so a report that waited in the queue through a wifi outage
    /// keeps its time, even when the learner's clock is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<u64>,
    /// How long the check took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// How many of the step's hints the learner has opened.
    #[serde(default)]
    pub hints_used: u8,
    /// A random id that `class join` makes once per clone: two laptops that picked the same
    /// name show as such instead of silently sharing a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub laptop: Option<String>,
}

/// Why a report was refused; the text goes back to the sender in the `400` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Json(String),
    Name,
    Step,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Json(error) => write!(f, "the body is not a report: {error}"),
            Invalid::Name => write!(f, "name must be 1 to {MAX_NAME_CHARS} printable characters"),
            Invalid::Step => write!(
                f,
                "step must be two digits, such as \"03\" (or \"05a\" for an inserted step)"
            ),
        }
    }
}

impl std::error::Error for Invalid {}

impl Report {
    /// A report with only what every version sends; the rest is filled in by the sender.
    pub fn new(name: &str, step: &str, result: Outcome, summary: &str) -> Report {
        Report {
            name: name.to_string(),
            step: step.to_string(),
            result,
            summary: summary.to_string(),
            kind: None,
            place: None,
            concept: None,
            checked_at: None,
            age_ms: None,
            duration_ms: None,
            hints_used: 0,
            laptop: None,
        }
    }

    /// Checks a report and makes it fit the board: the name trimmed, texts made one line and
    /// cut to their limits, the age capped. Text that is too long is cut rather than refused:
    /// a long failure message is not the learner's fault. A bad name or step is refused.
    pub fn tidy(mut self) -> Result<Report, Invalid> {
        self.name = self.name.trim().to_string();
        if !is_valid_name(&self.name) {
            return Err(Invalid::Name);
        }
        if !is_valid_step(&self.step) {
            return Err(Invalid::Step);
        }
        self.summary = one_line(&self.summary, MAX_SUMMARY_CHARS);
        let short = |text: Option<String>, max| {
            text.map(|text| one_line(&text, max))
                .filter(|text| !text.is_empty())
        };
        self.place = short(self.place, MAX_PLACE_CHARS);
        self.concept = short(self.concept, MAX_PLACE_CHARS);
        self.laptop = short(self.laptop, MAX_LAPTOP_CHARS);
        self.age_ms = self.age_ms.map(|age| age.min(MAX_AGE_MS));
        Ok(self)
    }
}

/// 1 to 40 characters, none of them a control character (a newline, an escape code).
pub fn is_valid_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=MAX_NAME_CHARS).contains(&count) && !name.chars().any(char::is_control)
}

/// A step as the workbook numbers them: `03`, or `05a` for a step inserted later.
pub fn is_valid_step(step: &str) -> bool {
    match step.as_bytes() {
        [a, b] => a.is_ascii_digit() && b.is_ascii_digit(),
        [a, b, c] => a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_lowercase(),
        _ => false,
    }
}

/// The key that makes two names one learner: "Ada", "ada" and " ADA " are the same person,
/// and so are "Ada  Lovelace" and "ada lovelace".
pub fn name_key(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Control characters become spaces, and the text is trimmed and cut to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    text.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// The learner's `service.namespace`: their name with every character other than a letter, a
/// digit, `_` or `.` turned into `-` (`Ada Lovelace` becomes `Ada-Lovelace`).
///
/// `class join` prints it in `OTEL_RESOURCE_ATTRIBUTES=service.namespace=…`, whose values end
/// at a comma and which the Rust SDK does not percent-decode, so spaces, commas and `=` must
/// go; the board links each name to a Jaeger search for the same value.
pub fn namespace(name: &str) -> String {
    let mut namespace = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() || matches!(c, '_' | '.') {
            namespace.push(c);
        } else if !namespace.ends_with('-') {
            namespace.push('-');
        }
    }
    let namespace = namespace.trim_matches('-');
    if namespace.is_empty() {
        "learner".to_string()
    } else {
        namespace.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the board reads a body: serde_json, then the rules.
    fn parse(json: &str) -> Result<Report, Invalid> {
        serde_json::from_str::<Report>(json)
            .map_err(|error| Invalid::Json(error.to_string()))?
            .tidy()
    }

    #[test]
    fn a_first_version_report_is_still_read() {
        let report = parse(
            r#"{"name": " Ada ", "step": "03", "result": "fail",
                "summary": "no span\nnamed x", "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(report.name, "Ada");
        assert_eq!(report.result, Outcome::Fail);
        assert_eq!(report.summary, "no span named x");
        assert_eq!(
            (report.kind, report.age_ms, report.hints_used),
            (None, None, 0)
        );
    }

    #[test]
    fn a_full_report_round_trips_and_is_tidied() {
        let mut sent = Report::new("Ada", "04", Outcome::Fail, "panicked");
        sent.kind = Some(Kind::CompileError);
        sent.place = Some("exercises/exercise-04/src/chat_api.rs:42".into());
        sent.age_ms = Some(MAX_AGE_MS * 3);
        sent.duration_ms = Some(3400);
        sent.hints_used = 2;
        sent.laptop = Some("x".repeat(100));
        let json = serde_json::to_string(&sent).unwrap();
        let read = parse(&json).unwrap();
        assert_eq!(read.kind, Some(Kind::CompileError));
        assert_eq!(read.place, sent.place);
        assert_eq!(read.age_ms, Some(MAX_AGE_MS), "a day at most");
        assert_eq!(read.laptop.unwrap().len(), MAX_LAPTOP_CHARS);
        assert_eq!(read.hints_used, 2);
        let newer = json.replace("compile_error", "out_of_memory");
        assert_eq!(parse(&newer).unwrap().kind, Some(Kind::Other));
    }

    #[test]
    fn bad_reports_say_what_is_wrong() {
        assert!(matches!(parse("{"), Err(Invalid::Json(_))));
        let unknown = r#"{"name": "a", "step": "03", "result": "maybe", "summary": ""}"#;
        assert!(matches!(parse(unknown), Err(Invalid::Json(_))));
        for step in ["3", "003", "ab", "05A", ""] {
            let json = format!(r#"{{"name": "a", "step": "{step}", "result": "pass"}}"#);
            assert_eq!(parse(&json), Err(Invalid::Step), "step {step:?}");
        }
        let long = "x".repeat(41);
        for name in ["", "   ", "a\u{1b}[31mb", long.as_str()] {
            let json = serde_json::json!({"name": name, "step": "01", "result": "pass"});
            assert_eq!(parse(&json.to_string()), Err(Invalid::Name), "{name:?}");
        }
        assert!(parse(r#"{"name": "Zoë 🦀", "step": "05a", "result": "pass"}"#).is_ok());
    }

    #[test]
    fn the_summary_is_cut_to_one_cell() {
        let long = "y".repeat(1000);
        let json =
            serde_json::json!({"name": "a", "step": "01", "result": "pass", "summary": long});
        let report = parse(&json.to_string()).unwrap();
        assert_eq!(report.summary.chars().count(), MAX_SUMMARY_CHARS);
    }

    #[test]
    fn names_match_without_regard_to_case_or_spacing() {
        assert_eq!(name_key(" Ada  Lovelace "), name_key("ada lovelace"));
        assert_eq!(name_key("ZOË"), "zoë");
        assert_ne!(name_key("Ada"), name_key("Ada L."));
    }

    #[test]
    fn namespaces_are_safe_in_otel_resource_attributes() {
        for (name, expected) in [
            ("Ada Lovelace", "Ada-Lovelace"),
            ("ada", "ada"),
            ("  Zoë  ", "Zoë"),
            ("a,b=c", "a-b-c"),
            ("<b>x</b>", "b-x-b"),
            ("j.doe_2", "j.doe_2"),
            ("!!!", "learner"),
        ] {
            assert_eq!(namespace(name), expected, "{name:?}");
        }
    }
}
