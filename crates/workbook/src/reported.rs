//! The findings a check reports itself: one JSON line per failed expectation, written by
//! `crates/check` to the file the runner names in `WORKBOOK_FINDINGS`.
//!
//! The runner reads these rather than libtest's output: they say which aspect of which span
//! failed, in which service, so that the chapter's task markers (`tasks`) can put them in the
//! order of the tasks, and they keep the hint's code apart for `cargo workbook hint`. The
//! scraper (`findings`) remains for what no check reports: a panic in the step's code, say.

use std::{collections::HashSet, fs, path::Path};

use serde::{Deserialize, Serialize};

use crate::findings;
use crate::tasks::{self, About, Task};

/// One failed expectation, as the check wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reported {
    pub test: String,
    pub aspect: String,
    pub span: Option<String>,
    pub service: Option<String>,
    pub concept: String,
    pub saw: String,
    /// The hint's words (never code).
    pub hint: String,
    /// The hint's code, for the last level of `cargo workbook hint`.
    pub code: Option<String>,
    /// `file:line`, for a `todo!()` or a panic.
    pub location: Option<String>,
    pub waterfall: String,
}

/// A finding with the task it belongs to.
#[derive(Debug, Clone)]
pub struct Placed {
    pub finding: Reported,
    pub task: Option<Task>,
}

impl Reported {
    fn about(&self) -> About<'_> {
        let file = self
            .location
            .as_deref()
            .map(|location| location.split(':').next().unwrap_or(location));
        About {
            aspect: &self.aspect,
            span: self.span.as_deref().or(file),
            service: self.service.as_deref(),
        }
    }

    /// What makes two reports the same finding: the same words, once the numbers and ids that
    /// differ from one test (and one run) to the next are left out. Several tests see the same
    /// missing link, each in traces of their own.
    pub fn identity(&self) -> String {
        let mut identity = format!("{}|{}|{:?}|", self.aspect, self.concept, self.service);
        let mut word = String::new();
        for c in self.saw.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_alphanumeric() {
                word.push(c);
                continue;
            }
            identity.push_str(if varies(&word) { "#" } else { &word });
            identity.push(c);
            word.clear();
        }
        identity
    }
}

/// Is this word a number, or an id (a trace or span id: 16 or 32 hex digits, or a port)?
fn varies(word: &str) -> bool {
    let digits = word.chars().all(|c| c.is_ascii_digit());
    let id = word.len() >= 8 && word.chars().all(|c| c.is_ascii_hexdigit());
    !word.is_empty() && (digits || id)
}

/// Reads the findings file; a missing file means the check reported nothing. A line that is
/// not a finding (a torn write) is skipped.
pub fn read(path: &Path) -> Vec<Reported> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Adds `findings` to the findings file, as the check itself would have written them.
pub fn append(path: &Path, findings: &[Reported]) {
    use std::io::Write as _;
    let Ok(mut file) = fs::OpenOptions::new().create(true).append(true).open(path) else {
        return;
    };
    for finding in findings {
        if let Ok(line) = serde_json::to_string(finding) {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// The distinct findings, each with its task, in the chapter's task order: findings of no task
/// after those of a task, and within a task in the order of their tests in `test_files` (the
/// texts of the step's test files), then as reported.
pub fn in_task_order(
    reported: Vec<Reported>,
    chapter_tasks: &[Task],
    test_files: &[&str],
) -> Vec<Placed> {
    let mut placed: Vec<(usize, Placed)> = reported
        .into_iter()
        .enumerate()
        .map(|(printed, finding)| {
            let task = tasks::task_of(chapter_tasks, finding.about()).cloned();
            (printed, Placed { finding, task })
        })
        .collect();
    placed.sort_by_key(|(printed, placed)| {
        let task = placed.task.as_ref().map_or(u32::MAX, |task| task.number);
        let test =
            findings::place_of_test(&placed.finding.test, test_files).unwrap_or((usize::MAX, 0));
        (task, test, *printed)
    });
    let mut seen = HashSet::new();
    placed
        .into_iter()
        .map(|(_, placed)| placed)
        .filter(|placed| seen.insert(placed.finding.identity()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(test: &str, aspect: &str, span: &str, service: &str) -> Reported {
        Reported {
            test: test.to_string(),
            aspect: aspect.to_string(),
            span: Some(span.to_string()),
            service: Some(service.to_string()),
            concept: format!("{aspect} concept"),
            // The test's own trace, which differs from one test to the next.
            saw: format!("{service}'s {span}: {aspect} in trace {:032x}", test.len()),
            ..Reported::default()
        }
    }

    const CHAPTER: &str = "## Tasks\n\n\
        1. Send.\n   <!-- check: attribute:send message -->\n\
        2. Process.\n   <!-- check: link:process message, parent:process message -->\n\n## Hints\n";

    const TESTS: &str = "async fn first_test() {}\nasync fn second_test() {}\n";

    #[test]
    fn findings_come_in_task_order_then_test_order_and_once_each() {
        let reported = vec![
            finding("second_test", "link", "process message", "giphy-service"),
            finding("first_test", "link", "process message", "storage-service"),
            finding("second_test", "attribute", "send message", "chat-api"),
            // The same finding seen by another test, in a trace of its own.
            finding("first_test", "attribute", "send message", "chat-api"),
            finding("first_test", "status", "GET", "giphy-service"),
        ];
        let placed = in_task_order(reported, &tasks::tasks(CHAPTER), &[TESTS]);
        let order: Vec<(Option<u32>, &str, &str)> = placed
            .iter()
            .map(|p| {
                (
                    p.task.as_ref().map(|t| t.number),
                    p.finding.aspect.as_str(),
                    p.finding.test.as_str(),
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                (Some(1), "attribute", "first_test"),
                (Some(2), "link", "first_test"),
                (Some(2), "link", "second_test"),
                (None, "status", "first_test"),
            ]
        );
    }

    #[test]
    fn the_same_finding_in_other_traces_is_one_finding() {
        let mut one = finding("a", "link", "process message", "storage-service");
        let mut two = one.clone();
        one.saw = "storage-service's process span links to trace 4bf92f3577b34da6a3ce929d0e0e4736, span 00f067aa0ba902b7 (12 ms)".into();
        two.saw = "storage-service's process span links to trace 0af7651916cd43dd8448eb211c80319c, span b7ad6b7169203331 (3 ms)".into();
        assert_eq!(one.identity(), two.identity());
        two.saw = "storage-service's process span has no link".into();
        assert_ne!(one.identity(), two.identity());
    }

    #[test]
    fn reads_json_lines_and_skips_a_torn_one() {
        let dir = std::env::temp_dir().join(format!("reported-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("findings.jsonl");
        fs::write(
            &path,
            "{\"test\":\"t\",\"aspect\":\"link\",\"concept\":\"span links\",\"saw\":\"no link\",\
             \"hint\":\"words\",\"code\":\"code()\",\"waterfall\":\"\"}\n{\"test\":\"t\",\"asp",
        )
        .unwrap();
        let read = read(&path);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].code.as_deref(), Some("code()"));
        assert_eq!(read[0].span, None);
    }
}
