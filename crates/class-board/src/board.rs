//! The room's progress in memory: for each learner, the last report of each step.
//!
//! It is rebuilt at start from the report log (`store`), so it holds nothing the log does not,
//! and `GET /api/reports` answers it as JSON for the page.
//!
//! Learners are matched by [`name_key`]: "Ada" and "ada" are one row. A learner joins first
//! ([`Board::claim`]): the name becomes theirs, with a key of their own that their reports are
//! sent with, so nobody else can report under it, and a second laptop that picks the same name
//! is told to pick another. The instructor can merge two rows (someone who joined twice under
//! two spellings) and remove one (a test, a typo; its name is free again). Joins, merges and
//! removals are [`Action`]s, kept in the log like the reports, so a restart replays them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::report::{self, Kind, Outcome, Report, name_key};

/// A report as the board took it: what the learner sent, and when the check ran, in
/// milliseconds since the Unix epoch by the board's clock (the report's age taken from the
/// time it arrived), so the learners' clocks do not matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub at_ms: u64,
    /// When it arrived, by the board's clock: later than `at_ms` for a report that waited in
    /// the learner's queue. Absent in logs written before reports carried their age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_ms: Option<u64>,
    #[serde(flatten)]
    pub report: Report,
}

impl Received {
    /// A report that arrived at `now_ms`, dated by the age it says it has.
    pub fn arrived(report: Report, now_ms: u64) -> Received {
        let age = report.age_ms.unwrap_or(0).min(report::MAX_AGE_MS);
        Received {
            at_ms: now_ms.saturating_sub(age),
            arrived_ms: Some(now_ms),
            report,
        }
    }
}

/// What the instructor can do to the rows, from the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// A learner's laptop claimed a name, and reports under it with `key`.
    Join {
        name: String,
        laptop: String,
        key: String,
    },
    /// Forget a row. A learner who reports again gets a new one.
    Remove { name: String },
    /// Make `from` part of `into`: its steps join `into`'s (the newer report of each step
    /// wins), and its later reports go to `into` too.
    Merge { from: String, into: String },
}

/// After how long the page marks a row (`--stuck-minutes`, `--silent-minutes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marks {
    /// Failing on the same step for longer than this: stuck.
    pub stuck_after_ms: u64,
    /// No check for longer than this: silent.
    pub silent_after_ms: u64,
}

impl Default for Marks {
    /// Ten minutes of failing is about a third of a step: time to walk over. Fifteen minutes
    /// without a check is longer than anyone codes without trying.
    fn default() -> Marks {
        Marks {
            stuck_after_ms: 10 * 60 * 1000,
            silent_after_ms: 15 * 60 * 1000,
        }
    }
}

/// One step of one learner.
#[derive(Debug, Clone)]
struct StepState {
    last: Received,
    /// When this step started failing, if it fails now: the check time of the first failing
    /// report after a pass (or after none).
    failing_since_ms: Option<u64>,
}

/// One learner.
#[derive(Debug, Clone)]
struct Learner {
    /// The name as they last spelled it.
    name: String,
    steps: BTreeMap<String, StepState>,
    /// The report of the most recent check.
    last: Received,
    checks: usize,
    /// The laptops that reported under this name (see `Report::laptop`).
    laptops: BTreeSet<String>,
}

impl Learner {
    fn new(received: &Received) -> Learner {
        Learner {
            name: received.report.name.clone(),
            steps: BTreeMap::new(),
            last: received.clone(),
            checks: 0,
            laptops: BTreeSet::new(),
        }
    }

    /// Takes a report into account. Reports can arrive out of order (a queue sent after an
    /// outage), so a step's cell and the row's last check move only to a newer check.
    fn take(&mut self, received: Received) {
        self.checks += 1;
        if let Some(laptop) = &received.report.laptop {
            self.laptops.insert(laptop.clone());
        }
        if received.at_ms >= self.last.at_ms {
            self.name = received.report.name.clone();
            self.last = received.clone();
        }
        let failing = received.report.result == Outcome::Fail;
        match self.steps.get_mut(&received.report.step) {
            Some(state) if received.at_ms < state.last.at_ms => {}
            Some(state) => {
                state.failing_since_ms = match (failing, state.failing_since_ms) {
                    (false, _) => None,
                    (true, Some(since)) => Some(since),
                    (true, None) => Some(received.at_ms),
                };
                state.last = received;
            }
            None => {
                let state = StepState {
                    failing_since_ms: failing.then_some(received.at_ms),
                    last: received,
                };
                self.steps.insert(state.last.report.step.clone(), state);
            }
        }
    }

    /// `other`'s history joins this one's.
    fn absorb(&mut self, other: Learner) {
        self.checks += other.checks;
        self.laptops.extend(other.laptops);
        if other.last.at_ms > self.last.at_ms {
            self.name = other.name;
            self.last = other.last;
        }
        for (step, state) in other.steps {
            match self.steps.get(&step) {
                Some(mine) if mine.last.at_ms >= state.last.at_ms => {}
                _ => {
                    self.steps.insert(step, state);
                }
            }
        }
    }
}

/// A name that a laptop joined with.
#[derive(Debug, Clone)]
struct Claim {
    /// The name as the learner typed it.
    name: String,
    laptop: String,
    key: String,
}

/// What [`Board::claim`] found for a name and a laptop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The name is free: join with a new key.
    Free,
    /// This laptop joined with this name before: its key.
    Again(String),
    /// Another laptop has the name.
    Taken,
}

/// Every learner's progress, by [`name_key`].
#[derive(Debug, Default)]
pub struct Board {
    learners: BTreeMap<String, Learner>,
    /// The names that laptops joined with, by [`name_key`].
    claims: BTreeMap<String, Claim>,
    /// Merged names: a key whose reports go to another row.
    aliases: BTreeMap<String, String>,
    /// The steps to show as columns even before anyone reports them (the workbook's steps).
    steps: BTreeSet<String>,
    reports: usize,
    marks: Marks,
}

impl Board {
    /// An empty board with a column for each of `steps`.
    pub fn new(steps: impl IntoIterator<Item = String>) -> Board {
        Board {
            steps: steps.into_iter().collect(),
            ..Board::default()
        }
    }

    /// The same board, marking rows after other times.
    pub fn with_marks(self, marks: Marks) -> Board {
        Board { marks, ..self }
    }

    pub fn learner_count(&self) -> usize {
        self.learners.len()
    }

    pub fn report_count(&self) -> usize {
        self.reports
    }

    /// Whether a report under `name` would go to an existing row.
    pub fn knows(&self, name: &str) -> bool {
        self.learners.contains_key(&self.key(name))
    }

    /// The row that reports under `name` go to.
    fn key(&self, name: &str) -> String {
        let key = name_key(name);
        self.aliases.get(&key).cloned().unwrap_or(key)
    }

    /// Whether `laptop` may join as `name`.
    pub fn claim(&self, name: &str, laptop: &str) -> Claimed {
        match self.claims.get(&name_key(name)) {
            None => Claimed::Free,
            Some(claim) if claim.laptop == laptop => Claimed::Again(claim.key.clone()),
            Some(_) => Claimed::Taken,
        }
    }

    /// The name that reports sent with `key` are under, if a learner joined with it.
    pub fn name_for_key(&self, key: &str) -> Option<&str> {
        self.claims
            .values()
            .find(|claim| claim.key == key)
            .map(|claim| claim.name.as_str())
    }

    /// Takes a report into account.
    pub fn record(&mut self, received: Received) {
        self.reports += 1;
        self.steps.insert(received.report.step.clone());
        let key = self.key(&received.report.name);
        self.learners
            .entry(key)
            .or_insert_with(|| Learner::new(&received))
            .take(received);
    }

    /// Carries out an instructor's action; `false` when a name has no row (nothing changes).
    pub fn apply(&mut self, action: &Action) -> bool {
        match action {
            Action::Join { name, laptop, key } => {
                let claim = Claim {
                    name: name.clone(),
                    laptop: laptop.clone(),
                    key: key.clone(),
                };
                self.claims.insert(name_key(name), claim);
                true
            }
            Action::Remove { name } => {
                let key = self.key(name);
                // The name is free again, for whoever joins with it next.
                let aliases = &self.aliases;
                self.claims
                    .retain(|claimed, _| aliases.get(claimed).unwrap_or(claimed) != &key);
                self.learners.remove(&key).is_some()
            }
            Action::Merge { from, into } => {
                let (from, into) = (self.key(from), self.key(into));
                if from == into || !self.learners.contains_key(&into) {
                    return false;
                }
                let Some(merged) = self.learners.remove(&from) else {
                    return false;
                };
                if let Some(learner) = self.learners.get_mut(&into) {
                    learner.absorb(merged);
                }
                for target in self.aliases.values_mut() {
                    if *target == from {
                        target.clone_from(&into);
                    }
                }
                self.aliases.insert(from, into);
                true
            }
        }
    }

    /// What the page shows, as of `now_ms`. The caller adds what the board does not keep (the
    /// Jaeger link, the join lines).
    pub fn view(&self, now_ms: u64) -> View {
        let learners: Vec<LearnerView> = self
            .learners
            .values()
            .map(|learner| self.learner_view(learner, now_ms))
            .collect();
        let totals = self
            .steps
            .iter()
            .map(|step| {
                let cells = learners.iter().filter_map(|l| l.steps.get(step));
                let (mut passed, mut tried) = (0, 0);
                for cell in cells {
                    tried += 1;
                    if cell.result == Outcome::Pass {
                        passed += 1;
                    }
                }
                StepTotal {
                    step: step.clone(),
                    passed,
                    tried,
                }
            })
            .collect();
        let joined = self
            .claims
            .iter()
            .filter(|(claimed, _)| {
                let row = self.aliases.get(*claimed).unwrap_or(claimed);
                !self.learners.contains_key(row)
            })
            .map(|(_, claim)| claim.name.clone())
            .collect();
        View {
            now_ms,
            reports: self.reports,
            joined,
            steps: self.steps.iter().cloned().collect(),
            marks: self.marks,
            totals,
            jaeger_ui_url: None,
            join: Vec::new(),
            learners,
        }
    }

    fn learner_view(&self, learner: &Learner, now_ms: u64) -> LearnerView {
        let last_step = learner.last.report.step.clone();
        let failing_since = learner
            .steps
            .get(&last_step)
            .and_then(|state| state.failing_since_ms);
        let failing_for_ms = failing_since.map(|since| now_ms.saturating_sub(since));
        let silent_for_ms = now_ms.saturating_sub(learner.last.at_ms);
        LearnerView {
            name: learner.name.clone(),
            namespace: report::namespace(&learner.name),
            checks: learner.checks,
            laptops: learner.laptops.len(),
            last: Cell::from(&learner.last),
            last_step,
            failing_for_ms,
            stuck: failing_for_ms.is_some_and(|ms| ms > self.marks.stuck_after_ms),
            silent: silent_for_ms > self.marks.silent_after_ms,
            steps: learner
                .steps
                .iter()
                .map(|(step, state)| (step.clone(), Cell::from(&state.last)))
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
    /// After how long rows are marked stuck or silent.
    pub marks: Marks,
    /// For each step, how many learners pass it and how many have tried it.
    pub totals: Vec<StepTotal>,
    /// Where the shared Jaeger's UI is, for the links on names (`--jaeger-ui-url`).
    pub jaeger_ui_url: Option<String>,
    /// The command learners join with, one per address the board can be reached at.
    pub join: Vec<String>,
    /// One row per learner, sorted by name without regard to case.
    pub learners: Vec<LearnerView>,
    /// Learners who joined and have not reported a check yet.
    pub joined: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StepTotal {
    pub step: String,
    pub passed: usize,
    pub tried: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LearnerView {
    /// As the learner last spelled it.
    pub name: String,
    /// The `service.namespace` their traces carry (see [`report::namespace`]).
    pub namespace: String,
    /// How many checks they have reported.
    pub checks: usize,
    /// How many laptops report under this name: more than one means two people picked it.
    pub laptops: usize,
    pub last_step: String,
    pub last: Cell,
    /// How long the step of their last check has been failing, if it fails.
    pub failing_for_ms: Option<u64>,
    /// Failing on the same step for longer than `marks.stuck_after_ms`.
    pub stuck: bool,
    /// No check for longer than `marks.silent_after_ms`.
    pub silent: bool,
    /// The last report of each step they have checked; a missing step is "not started".
    pub steps: BTreeMap<String, Cell>,
}

/// One step of one learner.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cell {
    pub result: Outcome,
    pub summary: String,
    /// When the check ran, by the board's clock.
    pub at_ms: u64,
    pub kind: Option<Kind>,
    pub place: Option<String>,
    pub concept: Option<String>,
    pub duration_ms: Option<u64>,
    pub hints_used: u8,
}

impl From<&Received> for Cell {
    fn from(received: &Received) -> Cell {
        let report = &received.report;
        Cell {
            result: report.result,
            summary: report.summary.clone(),
            at_ms: received.at_ms,
            kind: report.kind,
            place: report.place.clone(),
            concept: report.concept.clone(),
            duration_ms: report.duration_ms,
            hints_used: report.hints_used,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60 * 1000;

    fn received(name: &str, step: &str, result: Outcome, at_ms: u64) -> Received {
        Received {
            at_ms,
            arrived_ms: None,
            report: Report::new(name, step, result, &format!("{step} at {at_ms}")),
        }
    }

    #[test]
    fn the_last_report_of_each_step_wins() {
        let mut board = Board::new(["01".to_string(), "02".to_string()]);
        board.record(received("bo", "02", Outcome::Fail, 1));
        board.record(received("ann", "01", Outcome::Pass, 2));
        board.record(received("bo", "02", Outcome::Pass, 3));
        board.record(received("bo", "03", Outcome::Fail, 4));

        let view = board.view(10);
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

    #[test]
    fn a_queued_report_keeps_the_time_of_its_check() {
        let mut report = Report::new("ann", "02", Outcome::Fail, "x");
        report.age_ms = Some(20 * MINUTE);
        let now = 100 * MINUTE;
        let queued = Received::arrived(report, now);
        assert_eq!(queued.at_ms, 80 * MINUTE);
        assert_eq!(queued.arrived_ms, Some(now));

        // A newer check of the same step that arrived first is not replaced by the old one.
        let mut board = Board::new([]);
        board.record(received("ann", "02", Outcome::Pass, 90 * MINUTE));
        board.record(queued);
        let view = board.view(now);
        assert_eq!(view.learners[0].steps["02"].result, Outcome::Pass);
        assert_eq!(view.learners[0].checks, 2);
    }

    #[test]
    fn names_are_one_row_whatever_their_case() {
        let mut board = Board::new([]);
        board.record(received("Ada", "01", Outcome::Pass, 1));
        board.record(received("ada ", "02", Outcome::Fail, 2));
        let view = board.view(3);
        assert_eq!(view.learners.len(), 1);
        assert_eq!(view.learners[0].name, "ada ", "as last spelled");
        assert_eq!(view.learners[0].checks, 2);
        assert!(board.knows("ADA"));
    }

    #[test]
    fn rows_are_marked_stuck_and_silent_after_their_minutes() {
        let mut board = Board::new([]);
        board.record(received("ann", "03", Outcome::Pass, 0));
        board.record(received("ann", "04", Outcome::Fail, MINUTE));
        board.record(received("ann", "04", Outcome::Fail, 9 * MINUTE));
        board.record(received("bo", "04", Outcome::Fail, 10 * MINUTE));
        board.record(received("bo", "04", Outcome::Pass, 11 * MINUTE));

        let view = board.view(12 * MINUTE);
        let (ann, bo) = (&view.learners[0], &view.learners[1]);
        assert_eq!(
            ann.failing_for_ms,
            Some(11 * MINUTE),
            "since the first failure"
        );
        assert!(ann.stuck && !ann.silent);
        assert_eq!(bo.failing_for_ms, None);
        assert!(!bo.stuck);

        let later = board.view(27 * MINUTE);
        assert!(later.learners.iter().all(|l| l.silent));
    }

    #[test]
    fn each_step_counts_who_passes_and_who_tried() {
        let mut board = Board::new(["01".to_string(), "02".to_string()]);
        board.record(received("ann", "01", Outcome::Pass, 1));
        board.record(received("bo", "01", Outcome::Fail, 2));
        board.record(received("bo", "01", Outcome::Pass, 3));
        board.record(received("cy", "01", Outcome::Fail, 4));
        let totals: Vec<_> = board
            .view(5)
            .totals
            .iter()
            .map(|t| (t.step.clone(), t.passed, t.tried))
            .collect();
        assert_eq!(totals, [("01".into(), 2, 3), ("02".into(), 0, 0)]);
    }

    #[test]
    fn the_instructor_merges_and_removes_rows() {
        let mut board = Board::new([]);
        board.record(received("Ada Lovelace", "01", Outcome::Pass, 1));
        board.record(received("ada", "02", Outcome::Fail, 2));
        board.record(received("test", "01", Outcome::Pass, 3));

        let merge = Action::Merge {
            from: "ADA".into(),
            into: "ada lovelace".into(),
        };
        assert!(board.apply(&merge));
        assert!(!board.apply(&merge), "nothing left to merge");
        // Later reports under the merged name go to the same row.
        board.record(received("Ada", "03", Outcome::Pass, 4));
        assert!(board.apply(&Action::Remove {
            name: "Test".into()
        }));
        assert!(!board.apply(&Action::Remove {
            name: "nobody".into()
        }));

        let view = board.view(5);
        assert_eq!(view.learners.len(), 1);
        let ada = &view.learners[0];
        assert_eq!(ada.checks, 3);
        let steps: Vec<_> = ada.steps.keys().cloned().collect();
        assert_eq!(steps, ["01", "02", "03"]);
    }

    #[test]
    fn a_name_belongs_to_the_laptop_that_joined_with_it() {
        let mut board = Board::new([]);
        assert_eq!(board.claim("Ada", "aa"), Claimed::Free);
        board.apply(&Action::Join {
            name: "Ada".into(),
            laptop: "aa".into(),
            key: "k1".into(),
        });
        assert_eq!(board.claim("ADA", "aa"), Claimed::Again("k1".into()));
        assert_eq!(board.claim("ada", "bb"), Claimed::Taken);
        assert_eq!(board.name_for_key("k1"), Some("Ada"));
        assert_eq!(board.name_for_key("k2"), None);
        assert_eq!(board.view(0).joined, ["Ada"], "joined, no check yet");

        // Removing the row frees the name.
        board.record(received("Ada", "01", Outcome::Pass, 1));
        assert!(board.view(2).joined.is_empty(), "a row now");
        assert!(board.apply(&Action::Remove { name: "ada".into() }));
        assert_eq!(board.claim("Ada", "bb"), Claimed::Free);
        assert_eq!(board.name_for_key("k1"), None);
    }

    #[test]
    fn two_laptops_under_one_name_show() {
        let mut board = Board::new([]);
        for (laptop, at) in [("aa", 1), ("bb", 2), ("aa", 3)] {
            let mut one = received("Sam", "01", Outcome::Pass, at);
            one.report.laptop = Some(laptop.into());
            board.record(one);
        }
        assert_eq!(board.view(4).learners[0].laptops, 2);
    }
}
