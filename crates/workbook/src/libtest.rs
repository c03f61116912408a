//! Reading what libtest prints: the `test result:` line of each test binary.

/// The counts of libtest's `test result:` lines, added up over every test binary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TestCounts {
    /// How many `test result:` lines there were (one per test binary and doc-test run).
    pub suites: usize,
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
}

/// The `test result:` lines of cargo's output, as printed, each after the test binary it sums
/// up (`tests/app.rs: test result: ok. 5 passed; ...`), from cargo's `Running` and `Doc-tests`
/// lines.
pub fn result_lines(lines: &[String]) -> Vec<String> {
    let mut binary = String::new();
    let mut found = Vec::new();
    for line in lines.iter().map(|line| line.trim()) {
        if let Some(running) = line.strip_prefix("Running ") {
            // `Running tests/app.rs (target/debug/deps/app-1234)`: the path is enough.
            binary = running.split(" (").next().unwrap_or(running).to_string();
        } else if line.starts_with("Doc-tests ") {
            binary = line.to_string();
        } else if line.starts_with("test result:") {
            found.push(if binary.is_empty() {
                line.to_string()
            } else {
                format!("{binary}: {line}")
            });
        }
    }
    found
}

/// Adds up `test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ...`.
pub fn count_results(lines: &[String]) -> TestCounts {
    let mut counts = TestCounts::default();
    let results = lines
        .iter()
        .map(|line| line.trim())
        .filter(|line| line.starts_with("test result:"));
    for line in results {
        counts.suites += 1;
        for part in line.split([';', '.']) {
            let mut words = part.split_whitespace();
            let (Some(number), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<usize>() else {
                continue;
            };
            match what {
                "passed" => counts.passed += number,
                "failed" => counts.failed += number,
                "ignored" => counts.ignored += number,
                _ => {}
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up_the_result_lines_of_every_test_binary() {
        let output: Vec<String> = [
            "     Running tests/app.rs (target/debug/deps/app-a526c03935dd3281)",
            "running 3 tests",
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 2.01s",
            "   Doc-tests tracing_talk",
            "test result: FAILED. 0 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "error: test failed, to rerun pass `-p exercise-02 --test app`",
        ]
        .map(String::from)
        .to_vec();
        let counts = count_results(&output);
        assert_eq!(
            counts,
            TestCounts {
                suites: 2,
                passed: 3,
                failed: 2,
                ignored: 1
            }
        );
        assert_eq!(
            result_lines(&output),
            [
                "tests/app.rs: test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 2.01s",
                "Doc-tests tracing_talk: test result: FAILED. 0 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            ]
        );
    }

    #[test]
    fn output_without_result_lines_counts_nothing() {
        let output = vec!["error[E0425]: cannot find value `x`".to_string()];
        assert_eq!(count_results(&output), TestCounts::default());
    }
}
