//! A step's number: `01`, or `05a` for a step inserted later (numbers are never reused or
//! shifted). Every part of the runner names steps by it.

use std::fmt;

/// A step number: two digits and, for a step inserted between two others, a letter.
///
/// The derived order is the workbook's order: `05` < `05a` < `05b` < `06`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId {
    number: u8,
    suffix: Option<char>,
}

impl StepId {
    /// Step 01: the tour of the app, the one exercise whose check passes from the start.
    pub const FIRST: StepId = StepId {
        number: 1,
        suffix: None,
    };

    /// Parses what a person types: `3`, `03`, `05a`, `exercise-03` or `solution-03`.
    pub fn parse_arg(text: &str) -> Result<StepId, String> {
        let lower = text.trim().to_ascii_lowercase();
        let bare = ["exercise-", "solution-", "step-", "step"]
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix))
            .unwrap_or(&lower);
        let digits = bare.chars().take_while(char::is_ascii_digit).count();
        let (number, rest) = bare.split_at(digits);
        let suffix = match rest.len() {
            0 => None,
            1 => rest.chars().next().filter(char::is_ascii_lowercase),
            _ => return Err(not_a_step(text)),
        };
        match (
            number.len(),
            number.parse::<u8>(),
            rest.is_empty() || suffix.is_some(),
        ) {
            (1 | 2, Ok(number), true) if number > 0 => Ok(StepId { number, suffix }),
            _ => Err(not_a_step(text)),
        }
    }

    /// Parses the strict form used in folder and file names: exactly two digits and an
    /// optional lower-case letter, so that `exercise-1` or `exercise-01-old` is not taken for a
    /// step (verify reports such folders instead).
    pub fn parse_exact(text: &str) -> Option<StepId> {
        let bytes = text.as_bytes();
        let digits_ok = bytes.len() >= 2 && bytes[..2].iter().all(u8::is_ascii_digit);
        let suffix = match bytes.len() {
            2 => None,
            3 if bytes[2].is_ascii_lowercase() => Some(bytes[2] as char),
            _ => return None,
        };
        let number = text.get(..2)?.parse().ok()?;
        (digits_ok && number > 0).then_some(StepId { number, suffix })
    }

    pub fn exercise_package(self) -> String {
        format!("exercise-{self}")
    }

    pub fn solution_package(self) -> String {
        format!("solution-{self}")
    }

    /// `TODO(02)`: the marker of this step's scaffolding (see `scaffold.rs`).
    pub fn todo_marker(self) -> String {
        format!("TODO({self})")
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.number)?;
        if let Some(suffix) = self.suffix {
            write!(f, "{suffix}")?;
        }
        Ok(())
    }
}

fn not_a_step(text: &str) -> String {
    format!("`{text}` is not a step number: write it like 3, 03, 05a or exercise-03")
}
