//! The board's token: the shared secret that learners' runners send with each report.
//!
//! It keeps out reports from anyone on the wifi who is not in the class; it is not a password
//! to protect anything precious, since it is shown on the projector. A token made by the board
//! is saved next to the report log, so a restarted board keeps it and the learners' saved
//! `class join` settings go on working.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

/// The letters a made token uses: lower case and digits, without the ones that are easy to
/// misread on a projector (`0`/`o`, `1`/`l`/`i`).
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A made token's length: 12 characters from 31 letters is about 59 bits, far more than anyone
/// can guess by posting to a board over the room's wifi during a workshop.
const MADE_LENGTH: usize = 12;

/// Where the token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--token`.
    Given,
    /// Saved by an earlier run next to the log.
    Saved,
    /// Made now, and saved.
    Made,
}

/// Whether `token` can be used: 1 to 128 letters, digits, `-`, `_`, `.` or `~`, so that it
/// needs no quoting in a shell and no escaping in a URL.
pub fn is_valid(token: &str) -> bool {
    (1..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// The file that keeps a made token: `reports.token` beside `reports.jsonl`.
pub fn path_for(log: &Path) -> PathBuf {
    log.with_extension("token")
}

/// The file that keeps the instructor's token, which merges and removes rows:
/// `reports.instructor-token` beside `reports.jsonl`.
pub fn instructor_path_for(log: &Path) -> PathBuf {
    log.with_extension("instructor-token")
}

/// The token to use: `given`, or the one saved beside `log`, or a new one (then saved).
pub fn resolve(given: Option<String>, log: &Path) -> io::Result<(String, Source)> {
    resolve_in(given, &path_for(log))
}

/// The token to use: `given`, or the one saved in `path`, or a new one (then saved there).
pub fn resolve_in(given: Option<String>, path: &Path) -> io::Result<(String, Source)> {
    if let Some(token) = given {
        return Ok((token, Source::Given));
    }
    if let Ok(saved) = fs::read_to_string(path) {
        let saved = saved.trim();
        if is_valid(saved) {
            return Ok((saved.to_string(), Source::Saved));
        }
    }
    let token = make();
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, format!("{token}\n"))?;
    Ok((token, Source::Made))
}

/// A new random token (also each learner's key). A version 4 UUID's bytes come from the operating system's random
/// source; each byte picks one letter (the slight bias of `% 31` does not matter here).
pub fn make() -> String {
    let random = uuid::Uuid::new_v4();
    random
        .as_bytes()
        .iter()
        .take(MADE_LENGTH)
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_token_is_kept_for_the_next_start() {
        let dir = std::env::temp_dir().join(format!("class-board-token-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let log = dir.join("reports.jsonl");
        let (made, source) = resolve(None, &log).unwrap();
        assert_eq!(source, Source::Made);
        assert!(is_valid(&made) && made.len() == MADE_LENGTH, "{made}");
        assert_eq!(resolve(None, &log).unwrap(), (made.clone(), Source::Saved));
        let given = resolve(Some("room-42".into()), &log).unwrap();
        assert_eq!(given, ("room-42".to_string(), Source::Given));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tokens_need_no_quoting() {
        assert!(is_valid("abc-DEF_1.2~"));
        assert!(!is_valid(""));
        assert!(!is_valid("a b"));
        assert!(!is_valid("a'b"));
    }
}
