//! What a learner's runner sends after each check, and the rules it must follow.
//!
//! The report and its rules live in `crates/class-protocol`, which the runner shares, so the
//! two sides cannot drift apart. The board is reachable by anyone on the room's network, so
//! every report is checked with those rules when it arrives: one the rules refuse is answered
//! `400` and never stored.

pub use class_protocol::{
    Invalid, Kind, MAX_AGE_MS, MAX_BODY_BYTES, MAX_LAPTOP_CHARS, MAX_NAME_CHARS, MAX_SUMMARY_CHARS,
    Outcome, Report, is_valid_name, name_key, namespace,
};

/// Reads and checks a report body (see [`Report::tidy`]).
pub fn parse(body: &[u8]) -> Result<Report, Invalid> {
    serde_json::from_slice::<Report>(body)
        .map_err(|error| Invalid::Json(error.to_string()))?
        .tidy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_reads_with_the_shared_rules() {
        let report = parse(
            br#"{"name": " Ada ", "step": "03", "result": "fail", "kind": "todo",
                 "place": "exercises/exercise-03/src/chat_api.rs:42", "summary": "a\nb"}"#,
        )
        .unwrap();
        assert_eq!(report.name, "Ada");
        assert_eq!(report.kind, Some(Kind::Todo));
        assert_eq!(report.summary, "a b");
        assert!(matches!(parse(b"{"), Err(Invalid::Json(_))));
        assert_eq!(
            parse(br#"{"name": "a", "step": "3", "result": "pass"}"#),
            Err(Invalid::Step)
        );
    }
}
