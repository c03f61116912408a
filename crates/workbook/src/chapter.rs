//! What a step's chapter tells the runner: its title and its minutes.
//!
//! The minutes of a step are written once, in its chapter, on the line readers see:
//!
//! ```text
//! # Step 02 · First spans
//!
//! > **Time:** 35 minutes · **Exercise:** `exercises/exercise-02` · ...
//! ```
//!
//! The step list and the schedule page both read them from there, so they cannot disagree.

use crate::step_id::StepId;

/// How far down the Time line may be: it belongs to the chapter's opening, and stopping early
/// keeps a "Time:" in the middle of a chapter from being taken for it.
const TIME_LINE_WITHIN: usize = 10;

/// What the first lines of a chapter say. Either part may be missing; [`Chapter::problems`]
/// says what verify should report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    /// From `# Step 02 · First spans`: the step number and the title.
    pub heading: Option<(StepId, String)>,
    /// From `> **Time:** 35 minutes`.
    pub minutes: Option<u32>,
}

impl Chapter {
    pub fn title(&self) -> Option<&str> {
        self.heading.as_ref().map(|(_, title)| title.as_str())
    }

    /// What is wrong with this chapter as the chapter of `step`.
    pub fn problems(&self, step: StepId) -> Vec<String> {
        let mut problems = Vec::new();
        match &self.heading {
            None => problems.push(format!("its first line should be `# Step {step} · Title`")),
            Some((number, _)) if *number != step => problems.push(format!(
                "its heading says step {number}, but its file name says step {step}"
            )),
            Some(_) => {}
        }
        if self.minutes.is_none() {
            problems.push(format!(
                "it has no `> **Time:** N minutes` line within its first {TIME_LINE_WITHIN} lines"
            ));
        }
        problems
    }
}

/// Reads the heading and the Time line of a chapter.
pub fn parse(text: &str) -> Chapter {
    let mut lines = text.lines();
    let heading = lines.next().and_then(parse_heading);
    let minutes = text.lines().take(TIME_LINE_WITHIN).find_map(parse_time);
    Chapter { heading, minutes }
}

/// `# Step 02 · First spans` → (02, "First spans"). A dash or colon is accepted in place of
/// the middle dot, since keyboards do not all have one.
fn parse_heading(line: &str) -> Option<(StepId, String)> {
    let rest = line.trim().strip_prefix("# Step ")?;
    let (number, title) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let id = StepId::parse_exact(number.trim_end_matches(':'))?;
    let title = title
        .trim()
        .trim_start_matches(['·', '-', '–', '—', ':'])
        .trim();
    (!title.is_empty()).then(|| (id, title.to_string()))
}

/// `> **Time:** 35 minutes · ...` → 35.
fn parse_time(line: &str) -> Option<u32> {
    let rest = line.trim().strip_prefix(">")?.trim_start();
    let rest = rest.strip_prefix("**Time:**")?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let unit = rest[digits.len()..].trim_start();
    // `35 minutes`, `1 minute` or `5 min`.
    if unit.starts_with("min") {
        digits.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAPTER: &str = "# Step 02 · First spans\n\n> **Time:** 35 minutes · **Exercise:** \
                           `exercises/exercise-02` · **Check:** `cargo workbook check 02`\n\nText.\n";

    #[test]
    fn reads_the_title_and_minutes_of_a_chapter() {
        let chapter = parse(CHAPTER);
        let (id, title) = chapter.heading.clone().unwrap();
        assert_eq!(id.to_string(), "02");
        assert_eq!(title, "First spans");
        assert_eq!(chapter.minutes, Some(35));
        assert!(chapter.problems(id).is_empty());
    }

    #[test]
    fn accepts_a_plain_dash_and_a_lettered_step() {
        let chapter = parse("# Step 05a - Baggage\n> **Time:** 5 min\n");
        assert_eq!(chapter.title(), Some("Baggage"));
        assert_eq!(chapter.heading.unwrap().0.to_string(), "05a");
        assert_eq!(chapter.minutes, Some(5));
    }

    #[test]
    fn the_heading_must_be_the_first_line() {
        let chapter = parse("\n# Step 02 · First spans\n> **Time:** 35 minutes\n");
        assert_eq!(chapter.heading, None);
        let step = StepId::parse_arg("02").unwrap();
        assert_eq!(chapter.problems(step).len(), 1);
        assert!(chapter.problems(step)[0].contains("first line"));
    }

    #[test]
    fn a_time_line_far_down_the_chapter_does_not_count() {
        let mut text = String::from("# Step 03 · Async\n");
        text.push_str(&"para\n".repeat(10));
        text.push_str("> **Time:** 30 minutes\n");
        let chapter = parse(&text);
        assert_eq!(chapter.minutes, None);
        let problems = chapter.problems(StepId::parse_arg("03").unwrap());
        assert!(problems[0].contains("Time:"), "{problems:?}");
    }

    #[test]
    fn a_time_line_without_a_number_of_minutes_does_not_count() {
        assert_eq!(parse_time("> **Time:** about half an hour"), None);
        assert_eq!(parse_time("> **Time:** 30 seconds"), None);
        assert_eq!(parse_time("**Time:** 30 minutes"), None);
    }

    #[test]
    fn a_heading_that_names_another_step_is_a_problem() {
        let chapter = parse("# Step 03 · Async\n> **Time:** 30 minutes\n");
        let problems = chapter.problems(StepId::parse_arg("02").unwrap());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("says step 03"), "{problems:?}");
    }
}
