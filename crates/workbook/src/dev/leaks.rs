//! The rule that a check's findings never hand out the answer: no finding that a check prints
//! may contain the code that the learner is to write (issue 18).
//!
//! The code to write is what the step's solution has and its exercise has not: the lines of
//! the solution's `src/` that appear nowhere in the exercise's. A finding "contains" such a line
//! when the two share a run of characters long enough to be code rather than a word, with a
//! call or a path in it: `Link::with_context(creation.span()…)` is the answer, while
//! `messaging.message.id` or `Context::current()` are names that a finding may use.

use std::collections::HashSet;

/// How many characters a shared run needs to count as code.
const MIN_RUN: usize = 24;

/// The lines of `solution` (its `src/` files' texts) that appear nowhere in `exercise`, and
/// look like code: not a comment, not an import, long enough to matter.
pub fn answer_lines(solution: &[&str], exercise: &[&str]) -> Vec<String> {
    let given: HashSet<String> = exercise
        .iter()
        .flat_map(|text| text.lines())
        .map(normalise)
        .collect();
    let mut answers: Vec<String> = solution
        .iter()
        .flat_map(|text| text.lines())
        .map(normalise)
        .filter(|line| line.len() >= MIN_RUN && !given.contains(line))
        // Comments are prose, and imports are names: a finding may name a module or a type.
        .filter(|line| {
            !line.starts_with("//") && !line.starts_with("use ") && !line.starts_with("pub use ")
        })
        .collect();
    answers.sort();
    answers.dedup();
    answers
}

/// The answer line that `printed` quotes, if any: the first with which it shares a run of at
/// least [`MIN_RUN`] characters that holds a call or a path (`(` or `::`).
pub fn quoted<'a>(printed: &str, answers: &'a [String]) -> Option<&'a str> {
    let printed = normalise(printed);
    answers
        .iter()
        .find(|answer| shares_code(&printed, answer))
        .map(String::as_str)
}

/// Whether `a` and `b` share a run of at least [`MIN_RUN`] characters with `(` or `::` in it.
fn shares_code(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() < MIN_RUN || b.len() < MIN_RUN {
        return false;
    }
    // The longest common substring ending at each pair of positions, one row at a time.
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            current[j] = if a[i - 1] == b[j - 1] {
                previous[j - 1] + 1
            } else {
                0
            };
            let run = current[j];
            if run >= MIN_RUN {
                let text: String = a[i - run..i].iter().collect();
                if text.contains('(') || text.contains("::") {
                    return true;
                }
            }
        }
        std::mem::swap(&mut previous, &mut current);
    }
    false
}

/// A line with its indentation gone and its inner runs of whitespace made one space, so that
/// a finding's wrapped text and the code's layout compare equal.
fn normalise(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLUTION: &str = "use opentelemetry::trace::{Link, SpanKind, TraceContextExt};\n\
        fn start_process() {\n\
            // a comment that the exercise does not have, long enough to count\n\
            let links = vec![Link::with_context(creation.span().span_context().clone())];\n\
            let offset = record.offset();\n\
        }\n";
    const EXERCISE: &str =
        "use opentelemetry::trace::Link;\nfn start_process() {\n    todo!()\n}\n";

    #[test]
    fn the_answer_is_what_the_solution_has_and_the_exercise_not() {
        let answers = answer_lines(&[SOLUTION], &[EXERCISE]);
        assert_eq!(
            answers,
            [
                "let links = vec![Link::with_context(creation.span().span_context().clone())];",
                "let offset = record.offset();",
            ]
        );
    }

    #[test]
    fn a_finding_that_quotes_the_answer_is_caught() {
        let answers = answer_lines(&[SOLUTION], &[EXERCISE]);
        let leaky = "hint: give it a link, `Link::with_context(creation.span().span_context()\n  \
                     .clone())` in with_links";
        assert!(quoted(leaky, &answers).is_some());
    }

    #[test]
    fn a_finding_that_names_the_concept_is_not() {
        let answers = answer_lines(&[SOLUTION], &[EXERCISE]);
        for fine in [
            "storage-service's \"process message\" span has no link to its creation context",
            "give the span a link (opentelemetry::trace::Link) to the creation context",
            "it has no attribute messaging.kafka.offset",
        ] {
            assert_eq!(quoted(fine, &answers), None, "{fine}");
        }
    }
}
