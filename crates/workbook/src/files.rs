//! Reading a step crate's files for comparison: `Cargo.toml` and everything under `src/` and
//! `tests/`, which is all that makes an exercise or a solution (design §2). Also what every
//! comparison leaves out: the package name line and the crate's own library name.

use std::{collections::BTreeMap, fs, io, path::Path, time::SystemTime};

/// A crate's files by path relative to the crate, with `/` separators (`src/lib.rs`), sorted
/// so that diffs and reports list them in the same order on every system.
pub type CrateFiles = BTreeMap<String, Vec<u8>>;

/// The folders of a step crate whose files are compared.
pub const CRATE_FOLDERS: [&str; 2] = ["src", "tests"];

/// Reads `Cargo.toml`, `src/` and `tests/` of the crate at `dir`. Missing parts are simply
/// absent from the map, so a comparison reports them as missing files.
pub fn read_crate(dir: &Path) -> io::Result<CrateFiles> {
    let mut files = CrateFiles::new();
    let manifest = dir.join("Cargo.toml");
    if manifest.is_file() {
        files.insert("Cargo.toml".to_string(), fs::read(manifest)?);
    }
    for folder in CRATE_FOLDERS {
        read_tree(&dir.join(folder), folder, &mut files)?;
    }
    Ok(files)
}

/// Only the files under `folder` (e.g. `"src"`, `"tests"`) of a crate's files.
pub fn under<'a>(files: &'a CrateFiles, folder: &str) -> BTreeMap<&'a str, &'a [u8]> {
    let prefix = format!("{folder}/");
    files
        .iter()
        .filter(|(path, _)| path.starts_with(&prefix))
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
        .collect()
}

/// Adds the files below `dir` to `files`, named `prefix/relative/path`. Hidden files
/// (`.DS_Store`, editor swap files) are skipped: they are not part of any step.
fn read_tree(dir: &Path, prefix: &str, files: &mut CrateFiles) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let key = format!("{prefix}/{name}");
        if path.is_dir() {
            read_tree(&path, &key, files)?;
        } else {
            files.insert(key, fs::read(&path)?);
        }
    }
    Ok(())
}

/// The newest modification time of the crate's files: when the learner last edited it.
pub fn newest_change(dir: &Path) -> Option<SystemTime> {
    let mut newest = fs::metadata(dir.join("Cargo.toml"))
        .and_then(|m| m.modified())
        .ok();
    let mut pending: Vec<_> = CRATE_FOLDERS
        .iter()
        .map(|folder| dir.join(folder))
        .collect();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        // A deleted file changes its folder's time, so folders count too.
        let folder_time = fs::metadata(&dir).and_then(|m| m.modified()).ok();
        newest = newest.max(folder_time);
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                newest = newest.max(entry.metadata().and_then(|m| m.modified()).ok());
            }
        }
    }
    newest
}

/// The manifest without its `name = "<package>"` line in `[package]`: the one line in which an
/// exercise's `Cargo.toml` must differ from its solution's.
pub fn without_package_name(manifest: &str, package: &str) -> String {
    let mut section = String::new();
    let mut removed = false;
    let mut kept = String::with_capacity(manifest.len());
    for line in manifest.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
        }
        let is_name = trimmed.split_once('=').is_some_and(|(key, value)| {
            key.trim() == "name" && value.trim() == format!("\"{package}\"")
        });
        if !removed && section == "[package]" && is_name {
            removed = true;
            continue;
        }
        kept.push_str(line);
    }
    kept
}

/// What [`with_neutral_lib`] writes in place of a crate's own library name. Not an identifier,
/// so it cannot stand for code that someone actually wrote.
pub const NEUTRAL_LIB: &str = "<crate>";

/// The library name cargo gives a package: its name with `-` as `_` (`exercise-02` has the lib
/// `exercise_02`, which its `src/main.rs` and `tests/` name).
pub fn lib_name(package: &str) -> String {
    package.replace('-', "_")
}

/// The text with every whole identifier `lib` (the crate's own library name, see [`lib_name`])
/// written as [`NEUTRAL_LIB`].
///
/// Step crates differ in their own name and in nothing else that is legitimate: exercise-02's
/// `main.rs` says `exercise_02::Step` where solution-02's says `solution_02::Step`. Comparisons
/// pass each side through this with its own name (like [`without_package_name`] for
/// `Cargo.toml`), so that only real changes show: `diff` (both modes), and verify's tests and
/// no-drift rules. Only whole identifiers count: `exercise_021` and `my_exercise_02x` are left
/// alone.
pub fn with_neutral_lib(text: &str, lib: &str) -> String {
    let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    if lib.is_empty() {
        return text.to_string();
    }
    let mut neutral = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, _) in text.match_indices(lib) {
        let end = start + lib.len();
        if is_ident(text[..start].chars().next_back()) || is_ident(text[end..].chars().next()) {
            continue;
        }
        neutral.push_str(&text[copied..start]);
        neutral.push_str(NEUTRAL_LIB);
        copied = end;
    }
    neutral.push_str(&text[copied..]);
    neutral
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    const MANIFEST: &str = "[package]\nname = \"exercise-02\"\nversion = \"0.1.0\"\n\n\
                            [lib]\nname = \"tracing_talk\"\n";

    #[test]
    fn the_package_name_line_is_removed_and_nothing_else() {
        let stripped = without_package_name(MANIFEST, "exercise-02");
        assert_eq!(
            stripped,
            "[package]\nversion = \"0.1.0\"\n\n[lib]\nname = \"tracing_talk\"\n"
        );
        // The lib's name is not the package name, even when it is spelled like one.
        let lib_only = "[lib]\nname = \"exercise-02\"\n";
        assert_eq!(without_package_name(lib_only, "exercise-02"), lib_only);
        // Another package's name is left alone, so a wrong name still shows up in a diff.
        assert_eq!(without_package_name(MANIFEST, "exercise-03"), MANIFEST);
    }

    #[test]
    fn an_exercise_and_its_solution_manifest_compare_equal_without_their_names() {
        let solution = MANIFEST.replace("exercise-02", "solution-02");
        assert_eq!(
            without_package_name(MANIFEST, "exercise-02"),
            without_package_name(&solution, "solution-02")
        );
    }

    const MAIN: &str =
        "fn main() -> std::process::ExitCode {\n    talk::launch::main(LIB::Step)\n}\n";

    #[test]
    fn the_lib_name_is_the_package_name_with_underscores() {
        assert_eq!(lib_name("exercise-02"), "exercise_02");
        assert_eq!(lib_name("solution-05a"), "solution_05a");
    }

    #[test]
    fn a_main_that_differs_only_by_the_crate_name_compares_equal() {
        let exercise = MAIN.replace("LIB", "exercise_02");
        let solution = MAIN.replace("LIB", "solution_02");
        assert_eq!(
            with_neutral_lib(&exercise, "exercise_02"),
            with_neutral_lib(&solution, "solution_02")
        );
        assert_eq!(
            with_neutral_lib(&exercise, "exercise_02"),
            MAIN.replace("LIB", NEUTRAL_LIB)
        );
        // Every occurrence, at the start and the end of the text too.
        assert_eq!(
            with_neutral_lib("exercise_02 (exercise_02)\nexercise_02", "exercise_02"),
            "<crate> (<crate>)\n<crate>"
        );
    }

    #[test]
    fn a_real_change_next_to_the_crate_name_still_shows() {
        let exercise = MAIN.replace("LIB", "exercise_02");
        let solution = MAIN.replace("LIB::Step", "solution_02::Other");
        assert_ne!(
            with_neutral_lib(&exercise, "exercise_02"),
            with_neutral_lib(&solution, "solution_02")
        );
        // Another step's name is not this crate's: it stays, and shows up in a comparison.
        let previous = MAIN.replace("LIB", "solution_01");
        assert_eq!(with_neutral_lib(&previous, "solution_02"), previous);
    }

    #[test]
    fn only_the_whole_identifier_is_replaced() {
        for text in [
            "use exercise_021::Step;",
            "let my_exercise_02x = 1;",
            "exercise_02x",
            "my_exercise_02",
            "exercise_02é",
        ] {
            assert_eq!(with_neutral_lib(text, "exercise_02"), text);
        }
        assert_eq!(
            with_neutral_lib("exercise_021 exercise_02::Step", "exercise_02"),
            "exercise_021 <crate>::Step"
        );
        assert_eq!(
            with_neutral_lib("use ::exercise_02;", "exercise_02"),
            "use ::<crate>;"
        );
        assert_eq!(with_neutral_lib("text", ""), "text");
    }

    #[test]
    fn reads_manifest_src_and_tests_and_nothing_else() {
        let dir = TempDir::new();
        dir.write("Cargo.toml", "[package]\n");
        dir.write("src/lib.rs", "//! lib\n");
        dir.write("src/nested/mod.rs", "");
        dir.write("src/.lib.rs.swp", "junk");
        dir.write("tests/app.rs", "");
        dir.write("README.md", "not part of a step");
        let files = read_crate(dir.path()).unwrap();
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "Cargo.toml",
                "src/lib.rs",
                "src/nested/mod.rs",
                "tests/app.rs"
            ]
        );
        let src: Vec<&str> = under(&files, "src").into_keys().collect();
        assert_eq!(src, ["src/lib.rs", "src/nested/mod.rs"]);
        assert!(newest_change(dir.path()).is_some());
    }
}
