//! A chapter's tasks and hints, as the runner uses them: the check's findings are shown in the
//! order of the tasks they belong to, and `cargo workbook hint` hands out the chapter's hints
//! one level at a time.
//!
//! The check knows what it saw (a span's link, its parent, an attribute); the chapter knows
//! which task teaches it. Each task of a chapter's `## Tasks` list says which findings are its
//! own in an HTML comment, which the book does not show:
//!
//! ```text
//! 2. In `exercises/exercise-05/src/messaging.rs`: write `start_process`. …
//!    <!-- check: link:process message, parent:process message; at: src/messaging.rs, start_process -->
//! ```
//!
//! Each key is `aspect[:span][@service]`, with `*` for any aspect; a finding belongs to the
//! task with the most specific key that matches it, and to the first such task on a tie. The
//! aspects are those the check writes: `span`, `kind`, `attribute`, `root`, `trace`, `parent`,
//! `link`, `status` from its assertions (`crates/check/src/trace.rs`), `todo` and `panic`, and
//! those it reads from a hint's concept (`ASPECTS` there: `link-attribute`, `batch`,
//! `pipeline`, `retry`, `republish`, `http-context`, `subscriber`, `provider`, `scope`,
//! `headers`, `inject`, `library`, …), else `check`. For `todo` and `panic` the span part is the
//! file, relative to the crate.

/// One task of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Its number in the list: 1, 2, …
    pub number: u32,
    pub keys: Vec<Key>,
    /// Where the work is, in words: `src/messaging.rs, start_process`.
    pub place: Option<String>,
}

/// What a task's marker says it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub aspect: Option<String>,
    pub span: Option<String>,
    pub service: Option<String>,
}

/// What a finding is about, to match against the keys.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    pub aspect: &'a str,
    pub span: Option<&'a str>,
    pub service: Option<&'a str>,
}

impl Key {
    fn parse(text: &str) -> Option<Key> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let (rest, service) = match text.split_once('@') {
            Some((rest, service)) => (rest, Some(service.trim().to_string())),
            None => (text, None),
        };
        let (aspect, span) = match rest.split_once(':') {
            Some((aspect, span)) => (aspect, Some(span.trim().to_string())),
            None => (rest, None),
        };
        let aspect = aspect.trim();
        let aspect = (aspect != "*" && !aspect.is_empty()).then(|| aspect.to_string());
        Some(Key {
            aspect,
            span,
            service,
        })
    }

    /// How many of its parts match `about`, or `None` if one of them does not.
    fn specificity(&self, about: About<'_>) -> Option<usize> {
        let mut parts = 0;
        if let Some(aspect) = &self.aspect {
            if aspect != about.aspect {
                return None;
            }
            parts += 1;
        }
        if let Some(span) = &self.span {
            // A file (for todo and panic) matches by its end: `src/messaging.rs` matches
            // `exercises/exercise-05/src/messaging.rs`.
            if !about.span.is_some_and(|s| s == span || s.ends_with(span)) {
                return None;
            }
            parts += 1;
        }
        if let Some(service) = &self.service {
            if about.service != Some(service.as_str()) {
                return None;
            }
            parts += 1;
        }
        Some(parts)
    }
}

/// The tasks of a chapter's `## Tasks` section, with what their markers say. A task without a
/// marker is listed with no keys.
pub fn tasks(chapter: &str) -> Vec<Task> {
    let Some(section) = section(chapter, "## Tasks") else {
        return Vec::new();
    };
    let mut tasks: Vec<Task> = Vec::new();
    for line in section.lines() {
        if let Some(number) = task_number(line) {
            tasks.push(Task {
                number,
                keys: Vec::new(),
                place: None,
            });
        }
        let Some(task) = tasks.last_mut() else {
            continue;
        };
        if let Some(marker) = marker(line) {
            let (keys, place) = match marker.split_once("; at:") {
                Some((keys, place)) => (keys, Some(place.trim().to_string())),
                None => (marker, None),
            };
            task.keys.extend(keys.split(',').filter_map(Key::parse));
            if place.is_some() {
                task.place = place;
            }
        }
    }
    tasks
}

/// The task a finding belongs to: the one with the most specific matching key, the first of
/// those on a tie.
pub fn task_of<'t>(tasks: &'t [Task], about: About<'_>) -> Option<&'t Task> {
    let mut best: Option<(&Task, usize)> = None;
    for task in tasks {
        for key in &task.keys {
            if let Some(score) = key.specificity(about)
                && best.is_none_or(|(_, best)| score > best)
            {
                best = Some((task, score));
            }
        }
    }
    best.map(|(task, _)| task)
}

/// The chapter's graded hints, in order: the contents of `<details>` blocks whose summary is
/// `Hint 1`, `Hint 2`, … in its `## Hints` section.
pub fn hints(chapter: &str) -> Vec<String> {
    let Some(section) = section(chapter, "## Hints") else {
        return Vec::new();
    };
    let mut hints = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("<summary>Hint") {
            current = Some(String::new());
        } else if trimmed == "</details>" {
            if let Some(hint) = current.take() {
                hints.push(hint.trim().to_string());
            }
        } else if let Some(hint) = &mut current {
            hint.push_str(line);
            hint.push('\n');
        }
    }
    hints
}

/// The text of a `## ` section, up to the next `## ` heading.
fn section<'a>(chapter: &'a str, heading: &str) -> Option<&'a str> {
    let start = chapter
        .match_indices(heading)
        .find(|(at, _)| *at == 0 || chapter[..*at].ends_with('\n'))
        .map(|(at, _)| at + heading.len())?;
    let rest = &chapter[start..];
    let end = rest.find("\n## ").map_or(rest.len(), |end| end + 1);
    Some(&rest[..end])
}

/// `2. In …` → 2, for a list item at the start of a line.
fn task_number(line: &str) -> Option<u32> {
    let (number, rest) = line.split_once(". ")?;
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let _ = rest;
    number.parse().ok()
}

/// The text of a `<!-- check: … -->` marker on the line.
fn marker(line: &str) -> Option<&str> {
    let start = line.find("<!-- check:")? + "<!-- check:".len();
    let end = line[start..].find("-->")? + start;
    Some(line[start..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAPTER: &str = "# Step 05 · Links\n\n## Tasks\n\n\
        1. In `send_message`: add the id.\n   <!-- check: attribute:send message -->\n\
        2. Write `start_process`, with a link.\n   More text.\n   \
        <!-- check: link:process message, parent:process message, todo:src/messaging.rs; at: src/messaging.rs, start_process -->\n\
        3. Call it from storage.\n   <!-- check: *:process message@storage-service; at: src/storage.rs, handle -->\n\n\
        ## Hints\n\n<details>\n<summary>Hint 1</summary>\n\nFirst.\n\n</details>\n\n\
        <details>\n<summary>Hint 2</summary>\n\nSecond.\n</details>\n\n## Discussion\n\n\
        10. Not a task.\n";

    fn about<'a>(aspect: &'a str, span: &'a str, service: &'a str) -> About<'a> {
        About {
            aspect,
            span: Some(span),
            service: Some(service),
        }
    }

    #[test]
    fn reads_the_tasks_and_their_markers() {
        let tasks = tasks(CHAPTER);
        assert_eq!(tasks.len(), 3, "{tasks:?}");
        assert_eq!(tasks[1].number, 2);
        assert_eq!(tasks[1].keys.len(), 3);
        assert_eq!(
            tasks[1].place.as_deref(),
            Some("src/messaging.rs, start_process")
        );
        assert_eq!(tasks[0].place, None);
    }

    #[test]
    fn a_finding_belongs_to_the_most_specific_task() {
        let tasks = tasks(CHAPTER);
        let number = |about: About<'_>| task_of(&tasks, about).map(|task| task.number);
        assert_eq!(
            number(about("attribute", "send message", "chat-api")),
            Some(1)
        );
        assert_eq!(
            number(about("link", "process message", "giphy-service")),
            Some(2)
        );
        // Both task 2 (aspect and span) and task 3 (span and service) match: a tie goes to
        // the first.
        assert_eq!(
            number(about("link", "process message", "storage-service")),
            Some(2)
        );
        assert_eq!(
            number(about("kind", "process message", "storage-service")),
            Some(3)
        );
        let todo = About {
            aspect: "todo",
            span: Some("exercises/exercise-05/src/messaging.rs"),
            service: None,
        };
        assert_eq!(number(todo), Some(2));
        assert_eq!(number(about("status", "GET", "giphy-service")), None);
    }

    #[test]
    fn reads_the_graded_hints() {
        assert_eq!(hints(CHAPTER), vec!["First.", "Second."]);
    }

    #[test]
    fn a_chapter_without_tasks_has_none() {
        assert!(tasks("# Step 01 · Tour\n\nText.\n").is_empty());
        assert!(hints("# Step 01 · Tour\n").is_empty());
    }
}
