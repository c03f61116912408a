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

use crate::steps::StepId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Passed,
    Failing,
}

/// One check run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub result: CheckResult,
    /// Seconds since the Unix epoch, to tell whether the exercise was edited since.
    pub checked_at: u64,
}

/// Every step's last check, by step number (`"02"`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StatusRecord {
    #[serde(default)]
    pub steps: BTreeMap<String, CheckRecord>,
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

    pub fn record(&mut self, step: StepId, result: CheckResult) {
        let checked_at = seconds_since_epoch(SystemTime::now());
        let record = CheckRecord { result, checked_at };
        self.steps.insert(step.to_string(), record);
    }

    pub fn forget(&mut self, step: StepId) {
        self.steps.remove(&step.to_string());
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
