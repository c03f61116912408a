//! What a learner's runner sends after each check, and the rules it must follow.
//!
//! The board is reachable by anyone on the room's network, so everything in a report is
//! checked before it is kept: a report the rules refuse is answered `400` and never stored.

use serde::{Deserialize, Serialize};

/// The longest name, in characters: enough for a full name, short enough for one table row.
pub const MAX_NAME_CHARS: usize = 40;

/// The longest summary kept, in characters. The runner sends one line; anything longer is cut
/// here rather than refused, because a long failure message is not the learner's fault.
pub const MAX_SUMMARY_CHARS: usize = 300;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
}

/// The body of `POST /api/report`: `{"name", "step", "result", "summary"}`. Fields the board
/// does not know are ignored, so a newer runner can send more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub name: String,
    pub step: String,
    pub result: Outcome,
    #[serde(default)]
    pub summary: String,
}

/// Why a report was refused; the text goes back to the sender in the `400` answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Invalid {
    #[error("the body is not a report: {0}")]
    Json(String),
    #[error("name must be 1 to {MAX_NAME_CHARS} printable characters")]
    Name,
    #[error("step must be two digits, such as \"03\" (or \"05a\" for an inserted step)")]
    Step,
}

impl Report {
    /// Reads and checks a report. The name is trimmed, and the summary is made one line of at
    /// most [`MAX_SUMMARY_CHARS`]: the board shows it in one table cell.
    pub fn parse(body: &[u8]) -> Result<Report, Invalid> {
        let mut report: Report =
            serde_json::from_slice(body).map_err(|error| Invalid::Json(error.to_string()))?;
        report.name = report.name.trim().to_string();
        if !is_valid_name(&report.name) {
            return Err(Invalid::Name);
        }
        if !is_valid_step(&report.step) {
            return Err(Invalid::Step);
        }
        report.summary = one_line(&report.summary);
        Ok(report)
    }
}

/// 1 to 40 characters, none of them a control character (a newline, an escape code).
pub fn is_valid_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=MAX_NAME_CHARS).contains(&count) && !name.chars().any(char::is_control)
}

/// A step as the workbook numbers them: `03`, or `05a` for a step inserted later.
pub fn is_valid_step(step: &str) -> bool {
    let bytes = step.as_bytes();
    match bytes {
        [a, b] => a.is_ascii_digit() && b.is_ascii_digit(),
        [a, b, c] => a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_lowercase(),
        _ => false,
    }
}

/// Control characters become spaces, and the text is cut to [`MAX_SUMMARY_CHARS`].
fn one_line(text: &str) -> String {
    let cleaned: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_SUMMARY_CHARS)
        .collect();
    cleaned
}

/// The learner's `service.namespace`: their name with every character other than a letter, a
/// digit, `-`, `_` or `.` turned into `-` (`Ada Lovelace` becomes `Ada-Lovelace`).
///
/// The name goes into `OTEL_RESOURCE_ATTRIBUTES=service.namespace=…`, whose values end at a
/// comma and which the Rust SDK does not percent-decode, so spaces, commas and `=` must go.
/// The runner's `class join` prints the same value: the two copies of this function
/// (here and in `crates/workbook/src/class.rs`) must agree, and their tests share examples.
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

    fn parse(json: &str) -> Result<Report, Invalid> {
        Report::parse(json.as_bytes())
    }

    #[test]
    fn a_good_report_is_read_and_tidied() {
        let report = parse(
            r#"{"name": " Ada ", "step": "03", "result": "fail",
                "summary": "✗ no span\nnamed x", "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(report.name, "Ada");
        assert_eq!(report.result, Outcome::Fail);
        assert_eq!(report.summary, "✗ no span named x");
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

    /// The same examples as the runner's copy in crates/workbook/src/class.rs.
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
