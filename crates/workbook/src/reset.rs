//! `cargo workbook reset NN`: put an exercise back as it was shipped, after asking.
//!
//! The runner keeps no copy of the exercises: the repository's git history is the copy. Reset
//! restores `exercises/exercise-NN` to the last commit (`HEAD`), which is the shipped version
//! unless the learner committed work on that step themselves, and removes files added there.
//! Without git there is nothing to restore from, and it says how to get the exercise back.

use std::{
    io::{self, BufRead, IsTerminal, Write},
    path::Path,
    process::{Command, ExitCode, Output},
};

use anyhow::{Context, Result, bail};

use crate::{
    status::{self, StatusRecord},
    steps::Workbook,
    ui,
};

/// `cargo workbook reset NN [--yes]`.
pub fn run(workbook: &Workbook, arg: &str, yes: bool) -> Result<ExitCode> {
    let step = workbook.resolve(arg)?;
    let folder = format!("exercises/{}", step.id.exercise_package());
    let root = &workbook.root;

    if let Err(reason) = git_checkout(root) {
        bail!(
            "reset needs git, and {reason}. To get {folder} back as shipped, download the \
             workbook again and copy that folder over yours (keep a copy of your work first)."
        );
    }
    if !shipped_in_head(root, &folder)? {
        bail!(
            "git has no committed version of {folder} (none of its files is in the last commit), \
             so there is nothing to reset it to."
        );
    }
    let lost = changes(root, &folder)?;
    if lost.is_empty() {
        anstream::println!("{folder} is already as shipped: nothing to reset.");
        return Ok(ExitCode::SUCCESS);
    }

    anstream::println!("These changes in {folder} will be lost:");
    for change in &lost {
        anstream::println!("  {change}");
    }
    if !yes && !confirmed(&folder, lost.len())? {
        anstream::println!("Reset cancelled: nothing was changed.");
        return Ok(ExitCode::FAILURE);
    }
    restore(root, &folder)?;

    // The recorded result described the code that was just discarded.
    let path = status::status_path(root);
    let mut record = StatusRecord::load(&path);
    record.forget(step.id);
    let _ = record.save(&path);

    anstream::println!(
        "{} Read chapter {} and run {} when ready.",
        ui::paint(ui::PASS, format!("{folder} is back as shipped.")),
        step.id,
        ui::paint(ui::COMMAND, format!("cargo workbook check {}", step.id))
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks on stdin; only `yes` goes ahead, so an accidental Enter (or no terminal at all) keeps
/// the learner's work.
fn confirmed(folder: &str, count: usize) -> Result<bool> {
    let files = if count == 1 { "file" } else { "files" };
    print!("This discards your changes in {folder} ({count} {files}). Type yes: ");
    io::stdout().flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    if !io::stdin().is_terminal() {
        // A terminal echoed the answer and its Enter; a pipe did not, so end the line here.
        println!();
    }
    Ok(answer.trim() == "yes")
}

/// Whether `root` is in a git checkout, or why not.
fn git_checkout(root: &Path) -> Result<(), String> {
    match git(root, &["rev-parse", "--is-inside-work-tree"]) {
        Err(_) => Err("git is not installed (or not on your PATH)".to_string()),
        Ok(output) if !output.status.success() => Err(format!(
            "{} is not a git checkout (was it downloaded as an archive?)",
            root.display()
        )),
        Ok(_) => Ok(()),
    }
}

/// Whether the last commit has files in `folder`.
fn shipped_in_head(root: &Path, folder: &str) -> Result<bool> {
    let output = git(
        root,
        &["ls-tree", "-r", "--name-only", "HEAD", "--", folder],
    )?;
    Ok(output.status.success() && !output.stdout.is_empty())
}

/// What reset would discard, one line each: `modified  exercises/exercise-02/src/lib.rs`.
pub fn changes(root: &Path, folder: &str) -> Result<Vec<String>> {
    let output = checked(git(
        root,
        &[
            "status",
            "--porcelain=v1",
            "--untracked-files=all",
            "--",
            folder,
        ],
    )?)?;
    let mut changes = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let (code, path) = line.split_at(line.len().min(3));
        let what = match code.trim() {
            "??" => "new",
            code if code.contains('D') => "deleted",
            code if code.contains('A') => "added",
            code if code.contains('R') => "renamed",
            _ => "modified",
        };
        changes.push(format!("{what:<9} {path}"));
    }
    Ok(changes)
}

/// Puts `folder` back as in `HEAD`: unstage, restore tracked files, remove the others. These
/// three long-standing commands work on every git a learner may have.
pub fn restore(root: &Path, folder: &str) -> Result<()> {
    checked(git(root, &["reset", "--quiet", "HEAD", "--", folder])?)?;
    checked(git(root, &["checkout", "--", folder])?)?;
    checked(git(root, &["clean", "-fd", "--quiet", "--", folder])?)?;
    Ok(())
}

fn git(root: &Path, args: &[&str]) -> Result<Output> {
    Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .context("cannot run git")
}

/// The output of a git command that succeeded, or its error message.
fn checked(output: Output) -> Result<Output> {
    if output.status.success() {
        Ok(output)
    } else {
        bail!(
            "git failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    fn run_git(dir: &Path, args: &[&str]) {
        let output = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn reset_restores_edits_deletions_and_removes_new_files_only_in_its_folder() {
        if Command::new("git").arg("--version").output().is_err() {
            eprintln!("git is not installed; skipping");
            return;
        }
        let repo = TempDir::new();
        repo.write("exercises/exercise-02/src/lib.rs", "shipped\n");
        repo.write("exercises/exercise-02/src/gone.rs", "shipped too\n");
        repo.write("exercises/exercise-03/src/lib.rs", "next step\n");
        run_git(repo.path(), &["init", "--quiet"]);
        run_git(repo.path(), &["add", "."]);
        run_git(repo.path(), &["commit", "--quiet", "-m", "ship"]);

        let folder = "exercises/exercise-02";
        assert!(shipped_in_head(repo.path(), folder).unwrap());
        assert!(!shipped_in_head(repo.path(), "exercises/exercise-09").unwrap());
        assert!(changes(repo.path(), folder).unwrap().is_empty());

        repo.write("exercises/exercise-02/src/lib.rs", "my work\n");
        std::fs::remove_file(repo.path().join("exercises/exercise-02/src/gone.rs")).unwrap();
        repo.write("exercises/exercise-02/src/mine.rs", "new module\n");
        repo.write("exercises/exercise-02/src/staged.rs", "staged module\n");
        run_git(repo.path(), &["add", "exercises/exercise-02/src/staged.rs"]);
        repo.write(
            "exercises/exercise-03/src/lib.rs",
            "work on the next step\n",
        );

        let lost = changes(repo.path(), folder).unwrap();
        assert_eq!(lost.len(), 4, "{lost:?}");
        assert!(
            lost.contains(&"modified  exercises/exercise-02/src/lib.rs".to_string()),
            "{lost:?}"
        );
        assert!(
            lost.contains(&"deleted   exercises/exercise-02/src/gone.rs".to_string()),
            "{lost:?}"
        );
        assert!(
            lost.contains(&"new       exercises/exercise-02/src/mine.rs".to_string()),
            "{lost:?}"
        );
        assert!(
            lost.contains(&"added     exercises/exercise-02/src/staged.rs".to_string()),
            "{lost:?}"
        );

        restore(repo.path(), folder).unwrap();
        assert_eq!(repo.read("exercises/exercise-02/src/lib.rs"), "shipped\n");
        assert_eq!(
            repo.read("exercises/exercise-02/src/gone.rs"),
            "shipped too\n"
        );
        assert!(
            !repo
                .path()
                .join("exercises/exercise-02/src/mine.rs")
                .exists()
        );
        assert!(
            !repo
                .path()
                .join("exercises/exercise-02/src/staged.rs")
                .exists()
        );
        assert!(changes(repo.path(), folder).unwrap().is_empty());
        // Another step's work is untouched.
        assert_eq!(
            repo.read("exercises/exercise-03/src/lib.rs"),
            "work on the next step\n"
        );
    }

    #[test]
    fn outside_a_git_checkout_reset_says_why_it_cannot_work() {
        let dir = TempDir::new();
        // A temporary folder could sit inside some checkout; only test when it does not.
        if git(dir.path(), &["rev-parse", "--is-inside-work-tree"])
            .is_ok_and(|o| o.status.success())
        {
            return;
        }
        let reason = git_checkout(dir.path()).unwrap_err();
        assert!(
            reason.contains("not a git checkout") || reason.contains("not installed"),
            "{reason}"
        );
    }
}
