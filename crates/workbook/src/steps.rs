//! Which steps the workbook has, found on disk.
//!
//! A step is a number (`01`, or `05a` for a step inserted later: numbers are never reused or
//! shifted) shared by three things: the learner's crate `exercises/exercise-NN`, the reference
//! crate `solutions/solution-NN` and the chapter `book/src/steps/NN-slug.md`. No list of steps
//! is kept anywhere else, so adding a step means adding those folders and that file.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};

use crate::{
    chapter::{self, Chapter},
    status::{CheckResult, StatusRecord},
};

/// The step number lives in a module of its own, which the chapter and the status record use
/// without needing the steps on disk.
pub use crate::step_id::StepId;

/// One step, with whichever of its parts exist.
#[derive(Debug)]
pub struct Step {
    pub id: StepId,
    /// `exercises/exercise-NN`, absolute.
    pub exercise: Option<PathBuf>,
    /// `solutions/solution-NN`, absolute.
    pub solution: Option<PathBuf>,
    pub chapter: Option<ChapterFile>,
}

impl Step {
    /// A step is real once it has a crate; a chapter alone is a step still being written.
    pub fn has_crates(&self) -> bool {
        self.exercise.is_some() || self.solution.is_some()
    }

    /// The chapter's title, or `(no chapter)`.
    pub fn title(&self) -> &str {
        match &self.chapter {
            Some(file) => file
                .chapter
                .title()
                .unwrap_or("(chapter without a title line)"),
            None => "(no chapter)",
        }
    }

    pub fn minutes(&self) -> Option<u32> {
        self.chapter.as_ref().and_then(|file| file.chapter.minutes)
    }
}

/// A chapter file and what it says about its step.
#[derive(Debug)]
pub struct ChapterFile {
    pub path: PathBuf,
    pub chapter: Chapter,
}

impl ChapterFile {
    /// `02-first-spans.md`
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The repository as the runner sees it.
#[derive(Debug)]
pub struct Workbook {
    pub root: PathBuf,
    /// Every step that has a crate or a chapter, in order.
    pub steps: Vec<Step>,
    /// Folders and chapter files that look like steps but do not follow the naming pattern,
    /// or that clash; verify reports them, the other commands ignore them.
    pub strays: Vec<String>,
}

impl Workbook {
    /// Finds the repository from the current directory and reads its steps.
    pub fn from_current_dir() -> Result<Workbook> {
        let here = std::env::current_dir().context("cannot read the current directory")?;
        Workbook::load(&find_root(&here)?)
    }

    /// Reads the steps of the repository at `root`.
    pub fn load(root: &Path) -> Result<Workbook> {
        let mut workbook = Workbook {
            root: root.to_path_buf(),
            steps: Vec::new(),
            strays: Vec::new(),
        };
        for (dir, prefix) in [("exercises", "exercise-"), ("solutions", "solution-")] {
            for (name, path) in list_dir(&root.join(dir))? {
                if !path.is_dir() {
                    continue;
                }
                let Some(id) = name.strip_prefix(prefix).and_then(StepId::parse_exact) else {
                    workbook.strays.push(format!(
                        "{dir}/{name} is not named like {dir}/{prefix}NN (two digits, maybe a letter)"
                    ));
                    continue;
                };
                let step = workbook.step_mut(id);
                if dir == "exercises" {
                    step.exercise = Some(path);
                } else {
                    step.solution = Some(path);
                }
            }
        }
        for (name, path) in list_dir(&root.join("book/src/steps"))? {
            if !name.ends_with(".md") {
                continue;
            }
            let id = name
                .split_once('-')
                .and_then(|(number, _)| StepId::parse_exact(number));
            let Some(id) = id else {
                workbook.strays.push(format!(
                    "book/src/steps/{name} is not named like NN-slug.md"
                ));
                continue;
            };
            let text = fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let file = ChapterFile {
                path,
                chapter: chapter::parse(&text),
            };
            let step = workbook.step_mut(id);
            if let Some(other) = &step.chapter {
                let message = format!(
                    "step {id} has two chapters: book/src/steps/{} and book/src/steps/{name}",
                    other.file_name()
                );
                workbook.strays.push(message);
            } else {
                step.chapter = Some(file);
            }
        }
        workbook.steps.sort_by_key(|step| step.id);
        Ok(workbook)
    }

    fn step_mut(&mut self, id: StepId) -> &mut Step {
        let index = match self.steps.iter().position(|step| step.id == id) {
            Some(index) => index,
            None => {
                self.steps.push(Step {
                    id,
                    exercise: None,
                    solution: None,
                    chapter: None,
                });
                self.steps.len() - 1
            }
        };
        &mut self.steps[index]
    }

    /// The steps a learner can work on: those with a crate.
    pub fn crate_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|step| step.has_crates())
    }

    /// The step a person named on the command line, or a message that lists the real ones.
    pub fn resolve(&self, arg: &str) -> Result<&Step> {
        let id = StepId::parse_arg(arg).map_err(anyhow::Error::msg)?;
        match self.crate_steps().find(|step| step.id == id) {
            Some(step) => Ok(step),
            None => bail!(
                "there is no step {id} in this workbook{}. The steps are: {}",
                if self.steps.iter().any(|step| step.id == id) {
                    " yet (it has a chapter, but no exercise or solution folder)"
                } else {
                    ""
                },
                self.step_list()
            ),
        }
    }

    /// `01, 02, 03`, or a sentence when there are none.
    pub fn step_list(&self) -> String {
        let ids: Vec<String> = self.crate_steps().map(|step| step.id.to_string()).collect();
        if ids.is_empty() {
            "none (exercises/ and solutions/ have no step folders)".to_string()
        } else {
            ids.join(", ")
        }
    }

    /// The step before `id` that has crates: the one whose solution this step starts from.
    pub fn previous(&self, id: StepId) -> Option<&Step> {
        self.crate_steps().take_while(|step| step.id < id).last()
    }

    /// The step to do next: the one answer that the step list, the check's advice after a pass
    /// and `watch` all give. `None` when every step has passed.
    ///
    /// A step has passed if a check of it ever passed (a later failing run does not undo that),
    /// and its exercise folder is still there. Step 01, the tour, also counts as passed once a
    /// later step has: there is nothing to edit in it. [`next_index`] is the rule itself.
    pub fn next_to_do(&self, record: &StatusRecord) -> Option<&Step> {
        let steps: Vec<&Step> = self.crate_steps().collect();
        let mut passed: Vec<bool> = steps
            .iter()
            .map(|step| {
                step.exercise.is_some()
                    && record.get(step.id).is_some_and(|check| {
                        check.result == CheckResult::Passed || check.passed_at.is_some()
                    })
            })
            .collect();
        let a_later_step_passed = steps
            .iter()
            .zip(&passed)
            .any(|(step, passed)| step.id != StepId::FIRST && *passed);
        for (step, passed) in steps.iter().zip(&mut passed) {
            if step.id == StepId::FIRST && step.exercise.is_some() && a_later_step_passed {
                *passed = true;
            }
        }
        next_index(&passed).map(|index| steps[index])
    }

    /// A path relative to the repository, for messages (`exercises/exercise-02`).
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    }
}

/// The rule for "Next", given whether each step, in the workbook's order, has passed: the step
/// after the furthest one that passed; once the last step has passed, the first step that has
/// not; `None` when every step has.
///
/// The furthest pass, rather than the first gap, is what tells where the learner is. A workshop
/// that starts at step 05, or a learner who skips a step they know, would otherwise be sent back
/// to step 02 after every pass; the skipped steps come back once there is nothing further on.
pub fn next_index(passed: &[bool]) -> Option<usize> {
    let after_furthest = passed
        .iter()
        .rposition(|passed| *passed)
        .map_or(0, |i| i + 1);
    if after_furthest < passed.len() {
        Some(after_furthest)
    } else {
        passed.iter().position(|passed| !passed)
    }
}

/// Walks up from `start` to the workspace root: the first directory whose `Cargo.toml` has a
/// `[workspace]` table and which has an `exercises/` folder. Checking both keeps us from
/// stopping at a step crate's own `Cargo.toml`, or at an unrelated workspace above the clone.
pub fn find_root(start: &Path) -> Result<PathBuf> {
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        let is_workspace = fs::read_to_string(&manifest)
            .map(|text| text.lines().any(|line| line.trim() == "[workspace]"))
            .unwrap_or(false);
        if is_workspace && dir.join("exercises").is_dir() {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "{} is not inside the Tracing Talk workbook: no folder above it has a Cargo.toml with \
         [workspace] and an exercises/ folder. Run cargo workbook inside the repository you cloned.",
        start.display()
    )
}

/// The entries of `dir` as (name, path), sorted by name; an absent folder has none.
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut list = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        list.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    list.sort();
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    fn id(text: &str) -> StepId {
        StepId::parse_arg(text).unwrap()
    }

    #[test]
    fn a_step_can_be_named_in_the_ways_people_type_it() {
        assert_eq!(id("1").to_string(), "01");
        assert_eq!(id("01").to_string(), "01");
        assert_eq!(id("exercise-01").to_string(), "01");
        assert_eq!(id("solution-12").to_string(), "12");
        assert_eq!(id(" Exercise-03 ").to_string(), "03");
        assert_eq!(id("5a").to_string(), "05a");
        assert_eq!(id("exercise-05A").to_string(), "05a");
    }

    #[test]
    fn things_that_are_not_steps_are_refused_with_an_example() {
        for bad in [
            "",
            "0",
            "00",
            "123",
            "abc",
            "01ab",
            "exercise-",
            "1-",
            "5ä",
            "-1",
        ] {
            let error = StepId::parse_arg(bad).unwrap_err();
            assert!(error.contains("05a"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn folder_names_must_have_exactly_two_digits() {
        assert_eq!(StepId::parse_exact("07").unwrap().to_string(), "07");
        assert_eq!(StepId::parse_exact("05a").unwrap().to_string(), "05a");
        for bad in ["7", "007", "05A", "05ab", "00", "ab"] {
            assert_eq!(StepId::parse_exact(bad), None, "{bad}");
        }
    }

    #[test]
    fn inserted_steps_sort_between_their_neighbours() {
        let mut ids = [id("06"), id("05a"), id("05"), id("05b"), id("01")];
        ids.sort();
        let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["01", "05", "05a", "05b", "06"]);
    }

    #[test]
    fn discovery_pairs_folders_and_chapters_and_reports_strays() {
        let repo = TempDir::new();
        repo.write("Cargo.toml", "[workspace]\n");
        repo.write("exercises/exercise-01/Cargo.toml", "");
        repo.write("solutions/solution-01/Cargo.toml", "");
        repo.write("exercises/exercise-02/Cargo.toml", "");
        repo.write("exercises/exercise-3/Cargo.toml", "");
        repo.write(
            "book/src/steps/01-meet.md",
            "# Step 01 · Meet\n\n> **Time:** 20 minutes\n",
        );
        repo.write("book/src/steps/04-later.md", "# Step 04 · Later\n");
        repo.write("book/src/steps/notes.md", "");

        let workbook = Workbook::load(repo.path()).unwrap();
        let ids: Vec<String> = workbook.steps.iter().map(|s| s.id.to_string()).collect();
        assert_eq!(ids, ["01", "02", "04"]);
        assert_eq!(workbook.steps[0].title(), "Meet");
        assert_eq!(workbook.steps[0].minutes(), Some(20));
        assert!(workbook.steps[1].solution.is_none());
        assert_eq!(workbook.steps[1].title(), "(no chapter)");
        assert!(!workbook.steps[2].has_crates());
        assert_eq!(workbook.strays.len(), 2, "{:?}", workbook.strays);
        assert!(workbook.strays[0].contains("exercises/exercise-3"));
        assert!(workbook.strays[1].contains("notes.md"));

        assert_eq!(workbook.previous(id("02")).unwrap().id, id("01"));
        assert!(workbook.previous(id("01")).is_none());
        // Step 04 has only a chapter, so it is not a step to do: after 01 and 02, nothing is.
        let mut record = StatusRecord::default();
        for step in ["01", "02"] {
            record.record_at(id(step), CheckResult::Passed, 10);
        }
        assert!(workbook.next_to_do(&record).is_none());
        let unknown = workbook.resolve("04").unwrap_err().to_string();
        assert!(unknown.contains("01, 02"), "{unknown}");
        assert!(unknown.contains("has a chapter"), "{unknown}");
    }

    #[test]
    fn next_is_the_step_after_the_furthest_pass_then_the_skipped_ones() {
        let next = |passed: &[bool]| next_index(passed);
        // Nothing passed: the first step.
        assert_eq!(next(&[false, false, false]), Some(0));
        // In order: the step after the last pass.
        assert_eq!(next(&[true, true, false, false]), Some(2));
        // Started mid-way (steps 0 and 1 skipped): forward, not back to the first gap.
        assert_eq!(next(&[false, false, true, false, false]), Some(3));
        // A gap behind the furthest pass does not pull the learner back either.
        assert_eq!(next(&[true, false, true, false]), Some(3));
        // At the end, the skipped steps are what is left, first one first.
        assert_eq!(next(&[true, false, false, true, true]), Some(1));
        assert_eq!(next(&[true, true, true]), None);
        assert_eq!(next(&[]), None);
    }

    /// The learner in issue 18: steps 05 to 08 passed, 02 to 04 skipped, 01 never checked.
    #[test]
    fn a_learner_who_started_mid_way_is_sent_forward_then_to_what_they_skipped() {
        let repo = TempDir::new();
        repo.write("Cargo.toml", "[workspace]\n");
        let all = ["01", "02", "03", "04", "05", "06", "07", "08", "09"];
        for step in all {
            repo.write(&format!("exercises/exercise-{step}/Cargo.toml"), "");
            repo.write(&format!("solutions/solution-{step}/Cargo.toml"), "");
        }
        let workbook = Workbook::load(repo.path()).unwrap();
        let next = |record: &StatusRecord| workbook.next_to_do(record).map(|step| step.id);

        let mut record = StatusRecord::default();
        assert_eq!(next(&record), Some(id("01")));
        for step in ["05", "06", "07"] {
            record.record_at(id(step), CheckResult::Passed, 10);
        }
        assert_eq!(next(&record), Some(id("08")));
        // A pass that a later run undid still counts: the learner did the step.
        record.record_at(id("08"), CheckResult::Passed, 20);
        record.record_at(id("08"), CheckResult::Failing, 30);
        assert_eq!(next(&record), Some(id("09")));
        // With the last step passed, the skipped ones come back; the tour is not one of them.
        record.record_at(id("09"), CheckResult::Passed, 40);
        assert_eq!(next(&record), Some(id("02")));
        for step in ["02", "03"] {
            record.record_at(id(step), CheckResult::Passed, 50);
        }
        assert_eq!(next(&record), Some(id("04")));
        record.record_at(id("04"), CheckResult::Passed, 60);
        assert_eq!(next(&record), None);
    }

    #[test]
    fn the_root_is_found_from_any_folder_below_it() {
        let repo = TempDir::new();
        repo.write("Cargo.toml", "[workspace]\nmembers = []\n");
        repo.write("exercises/exercise-01/Cargo.toml", "[package]\n");
        repo.write("exercises/exercise-01/src/lib.rs", "");
        let deep = repo.path().join("exercises/exercise-01/src");
        assert_eq!(find_root(&deep).unwrap(), repo.path());
        let outside = TempDir::new();
        assert!(find_root(outside.path()).is_err());
    }
}
