//! The record of the last check of each step, for the step list.
//!
//! It lives in `target/workbook/status.json`: the build folder is already ignored by git and is
//! the learner's own, so the record never shows up as a change to commit, and deleting `target/`
//! forgets it along with the builds. The learner's real progress is their code (and git); this
//! file only remembers what `cargo workbook check` last said.

use std::{
    collections::BTreeMap,
    fs, io,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::step_id::StepId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Passed,
    Failing,
}

/// A step's last check, and when it last passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub result: CheckResult,
    /// Seconds since the Unix epoch, to tell whether the exercise was edited since.
    pub checked_at: u64,
    /// When the check last passed, even if a later run failed: a learner who resets an
    /// exercise, or checks it again halfway through a change, has still done the step once.
    #[serde(default)]
    pub passed_at: Option<u64>,
}

/// Every step's last check, by step number (`"02"`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StatusRecord {
    #[serde(default)]
    pub steps: BTreeMap<String, CheckRecord>,
    /// The hints shown for each step (`cargo workbook hint`), by step number.
    #[serde(default)]
    pub hints: BTreeMap<String, HintRecord>,
}

/// How far `cargo workbook hint` went for a step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HintRecord {
    /// The finding the hints are for (its task and concept): when the first finding of the
    /// check changes, the hints start again at level 1.
    pub about: String,
    /// The last level shown for it: 1 to 3.
    pub level: u8,
    /// How many hints were shown for this step in all, for the class board.
    pub used: u32,
}

impl StatusRecord {
    /// Reads the record; a missing file means nothing was checked yet. A damaged one is
    /// reported and then treated the same way: it only holds what a re-run recomputes.
    pub fn load(path: &Path) -> StatusRecord {
        match fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|error| {
                eprintln!(
                    "note: ignoring {}, which cannot be read ({error}); checks will rewrite it",
                    path.display()
                );
                StatusRecord::default()
            }),
            Err(_) => StatusRecord::default(),
        }
    }

    /// Writes the record through a temporary file, so an interrupted write cannot leave half
    /// a file behind.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        let temporary = path.with_extension("json.tmp");
        fs::write(&temporary, json + "\n")?;
        fs::rename(&temporary, path)
    }

    pub fn get(&self, step: StepId) -> Option<CheckRecord> {
        self.steps.get(&step.to_string()).copied()
    }

    /// Records a run at `now` (seconds since the epoch), keeping when the step last passed.
    pub fn record_at(&mut self, step: StepId, result: CheckResult, now: u64) {
        let passed_before = self.get(step).and_then(|record| record.passed_at);
        let passed_at = match result {
            CheckResult::Passed => Some(now),
            CheckResult::Failing => passed_before,
        };
        let record = CheckRecord {
            result,
            checked_at: now,
            passed_at,
        };
        self.steps.insert(step.to_string(), record);
    }

    pub fn record(&mut self, step: StepId, result: CheckResult) {
        self.record_at(step, result, seconds_since_epoch(SystemTime::now()));
    }

    pub fn forget(&mut self, step: StepId) {
        self.steps.remove(&step.to_string());
        self.hints.remove(&step.to_string());
    }

    /// The next hint level for the finding `about` of `step`, recorded as shown: 1 for a
    /// finding not seen before, then one more each time, up to `last`.
    pub fn next_hint(&mut self, step: StepId, about: &str, last: u8) -> u8 {
        let hints = self.hints.entry(step.to_string()).or_default();
        if hints.about != about {
            hints.about = about.to_string();
            hints.level = 0;
        }
        if hints.level < last {
            hints.level += 1;
            hints.used += 1;
        }
        hints.level
    }

    /// How many hints were shown for `step`.
    pub fn hints_used(&self, step: StepId) -> u32 {
        self.hints
            .get(&step.to_string())
            .map_or(0, |hints| hints.used)
    }
}

/// `target/workbook/status.json`, in the target folder cargo uses (`CARGO_TARGET_DIR` moves it).
pub fn status_path(root: &Path) -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        // cargo reads a relative CARGO_TARGET_DIR from the current directory; so do we.
        Some(dir) if !dir.is_empty() => {
            std::path::absolute(PathBuf::from(dir)).unwrap_or_else(|_| root.join("target"))
        }
        _ => root.join("target"),
    };
    target.join("workbook").join("status.json")
}

pub fn seconds_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    #[test]
    fn a_record_survives_a_save_and_a_load() {
        let dir = TempDir::new();
        let path = dir.path().join("target/workbook/status.json");
        assert!(StatusRecord::load(&path).steps.is_empty());

        let step = StepId::parse_arg("02").unwrap();
        let mut record = StatusRecord::default();
        record.record(step, CheckResult::Failing);
        record.save(&path).unwrap();

        let loaded = StatusRecord::load(&path);
        assert_eq!(loaded.get(step).unwrap().result, CheckResult::Failing);
        assert!(fs::read_to_string(&path).unwrap().contains("\"failing\""));
    }

    #[test]
    fn a_failing_run_keeps_when_the_step_passed_before() {
        let step = StepId::parse_arg("02").unwrap();
        let mut record = StatusRecord::default();
        record.record_at(step, CheckResult::Failing, 100);
        assert_eq!(record.get(step).unwrap().passed_at, None);
        record.record_at(step, CheckResult::Passed, 200);
        record.record_at(step, CheckResult::Failing, 300);
        let last = record.get(step).unwrap();
        assert_eq!(last.result, CheckResult::Failing);
        assert_eq!((last.checked_at, last.passed_at), (300, Some(200)));
    }

    #[test]
    fn a_record_written_before_passed_at_existed_still_loads() {
        let dir = TempDir::new();
        dir.write(
            "status.json",
            r#"{"steps":{"02":{"result":"passed","checked_at":5}}}"#,
        );
        let loaded = StatusRecord::load(&dir.path().join("status.json"));
        let step = StepId::parse_arg("02").unwrap();
        assert_eq!(loaded.get(step).unwrap().passed_at, None);
    }

    #[test]
    fn hints_go_one_level_at_a_time_and_start_again_for_a_new_finding() {
        let step = StepId::parse_arg("05").unwrap();
        let mut record = StatusRecord::default();
        assert_eq!(record.next_hint(step, "task 2: span links", 3), 1);
        assert_eq!(record.next_hint(step, "task 2: span links", 3), 2);
        assert_eq!(record.next_hint(step, "task 2: span links", 3), 3);
        // The last level is shown again, and not counted again.
        assert_eq!(record.next_hint(step, "task 2: span links", 3), 3);
        assert_eq!(record.hints_used(step), 3);
        assert_eq!(record.next_hint(step, "task 3: the parent", 3), 1);
        assert_eq!(record.hints_used(step), 4);
    }

    #[test]
    fn a_damaged_record_counts_as_nothing_checked() {
        let dir = TempDir::new();
        dir.write("status.json", "{ not json");
        assert!(
            StatusRecord::load(&dir.path().join("status.json"))
                .steps
                .is_empty()
        );
    }
}
