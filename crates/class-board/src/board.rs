//! The room's progress in memory: for each learner, the last report of each step.
//!
//! It is rebuilt at start from the report log (`store`), so it holds nothing the log does not,
//! and `GET /api/reports` answers it as JSON for the page.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::report::{self, Outcome, Report};

/// A report as the board received it: what the learner sent, and when it arrived (milliseconds
/// since the Unix epoch, by the board's clock, so the learners' clocks do not matter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub at_ms: u64,
    #[serde(flatten)]
    pub report: Report,
}

/// One learner: their last report of each step, and their very last report.
#[derive(Debug, Clone)]
struct Learner {
    steps: BTreeMap<String, Received>,
    last: Received,
    checks: usize,
}

/// Every learner's progress, by name.
#[derive(Debug, Default)]
pub struct Board {
    learners: BTreeMap<String, Learner>,
    /// The steps to show as columns even before anyone reports them (the workbook's steps).
    steps: BTreeSet<String>,
    reports: usize,
}

impl Board {
    /// An empty board with a column for each of `steps`.
    pub fn new(steps: impl IntoIterator<Item = String>) -> Board {
        Board {
            steps: steps.into_iter().collect(),
            ..Board::default()
        }
    }

    pub fn learner_count(&self) -> usize {
        self.learners.len()
    }

    pub fn report_count(&self) -> usize {
        self.reports
    }

    pub fn knows(&self, name: &str) -> bool {
        self.learners.contains_key(name)
    }

    /// Takes a report into account. Reports arrive in order, so a later one for the same step
    /// replaces the earlier one.
    pub fn record(&mut self, received: Received) {
        self.reports += 1;
        self.steps.insert(received.report.step.clone());
        let name = received.report.name.clone();
        let step = received.report.step.clone();
        let learner = self.learners.entry(name).or_insert_with(|| Learner {
            steps: BTreeMap::new(),
            last: received.clone(),
            checks: 0,
        });
        learner.checks += 1;
        learner.last = received.clone();
        learner.steps.insert(step, received);
    }

    /// What the page shows, as of `now_ms`.
    pub fn view(&self, now_ms: u64, jaeger_ui_url: Option<&str>) -> View {
        View {
            now_ms,
            reports: self.reports,
            steps: self.steps.iter().cloned().collect(),
            jaeger_ui_url: jaeger_ui_url.map(str::to_string),
            learners: self
                .learners
                .iter()
                .map(|(name, learner)| LearnerView {
                    name: name.clone(),
                    namespace: report::namespace(name),
                    checks: learner.checks,
                    last: Cell::from(&learner.last),
                    last_step: learner.last.report.step.clone(),
                    steps: learner
                        .steps
                        .iter()
                        .map(|(step, received)| (step.clone(), Cell::from(received)))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The answer of `GET /api/reports`.
#[derive(Debug, Serialize, Deserialize)]
pub struct View {
    /// The board's clock, so the page can say "2 min ago" whatever the viewer's clock says.
    pub now_ms: u64,
    /// Every report received since the log began.
    pub reports: usize,
    /// The columns, in the workbook's order (`05` < `05a` < `06` sorts as text too).
    pub steps: Vec<String>,
    /// Where the shared Jaeger's UI is, for the links on names (`--jaeger-ui-url`).
    pub jaeger_ui_url: Option<String>,
    /// One row per learner, sorted by name.
    pub learners: Vec<LearnerView>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LearnerView {
    pub name: String,
    /// The `service.namespace` their traces carry (see [`report::namespace`]).
    pub namespace: String,
    /// How many checks they have reported.
    pub checks: usize,
    pub last_step: String,
    pub last: Cell,
    /// The last report of each step they have checked; a missing step is "not started".
    pub steps: BTreeMap<String, Cell>,
}

/// One step of one learner.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cell {
    pub result: Outcome,
    pub summary: String,
    pub at_ms: u64,
}

impl From<&Received> for Cell {
    fn from(received: &Received) -> Cell {
        Cell {
            result: received.report.result,
            summary: received.report.summary.clone(),
            at_ms: received.at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(name: &str, step: &str, result: Outcome, at_ms: u64) -> Received {
        Received {
            at_ms,
            report: Report {
                name: name.into(),
                step: step.into(),
                result,
                summary: format!("{step} at {at_ms}"),
            },
        }
    }

    #[test]
    fn the_last_report_of_each_step_wins() {
        let mut board = Board::new(["01".to_string(), "02".to_string()]);
        board.record(received("bo", "02", Outcome::Fail, 1));
        board.record(received("ann", "01", Outcome::Pass, 2));
        board.record(received("bo", "02", Outcome::Pass, 3));
        board.record(received("bo", "03", Outcome::Fail, 4));

        let view = board.view(10, None);
        assert_eq!(view.reports, 4);
        assert_eq!(view.steps, ["01", "02", "03"]);
        let names: Vec<_> = view.learners.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["ann", "bo"]);
        let bo = &view.learners[1];
        assert_eq!(bo.checks, 3);
        assert_eq!(bo.steps["02"].result, Outcome::Pass);
        assert_eq!(bo.last_step, "03");
        assert_eq!(bo.last.at_ms, 4);
        assert!(!bo.steps.contains_key("01"), "not started");
    }
}
