//! The report log: one JSON line per accepted report or instructor's action (merge, remove),
//! appended and never rewritten.
//!
//! Appending is the whole storage engine. A restart reads the lines back in order and replays
//! them into a fresh [`Board`], so stopping the board (or a crash, or a laptop going to sleep)
//! loses nothing that was answered `204`. The file is plain text: an instructor can read it,
//! copy it, or `grep` a learner's history after the session.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::board::{Action, Board, Received};

/// One line of the log. An action's line has an `"action"` field, which no report has.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Action(Action),
    Report(Received),
}

/// The largest the log may grow. 30 learners checking 8 steps 50 times each write about
/// 12,000 lines of ~200 bytes, 2.4 MB; the limit only stops a runaway sender from filling the
/// instructor's disk. Past it, reports are answered `507` and not kept.
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// The open log.
#[derive(Debug)]
pub struct ReportLog {
    path: PathBuf,
    file: File,
    bytes: u64,
}

/// What reading the log back found.
#[derive(Debug)]
pub struct Reloaded {
    pub log: ReportLog,
    pub board: Board,
    /// Lines that could not be read (a line cut short by a crash, or edited by hand): skipped.
    pub skipped: usize,
}

impl ReportLog {
    /// Opens the log at `path` (creating it and its folder if needed) and replays it into
    /// `board`.
    pub fn open(path: &Path, mut board: Board) -> io::Result<Reloaded> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let mut skipped = 0;
        if path.exists() {
            for line in BufReader::new(File::open(path)?).lines() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Line>(&line) {
                    Ok(Line::Report(received)) => board.record(received),
                    Ok(Line::Action(action)) => {
                        board.apply(&action);
                    }
                    Err(_) => skipped += 1,
                }
            }
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        let bytes = file.metadata()?.len();
        // A crash in the middle of a write can leave a last line without its newline; the next
        // report would then be glued onto it and lost too. Start on a fresh line.
        if bytes > 0 && !ends_with_newline(path)? {
            file.write_all(b"\n")?;
        }
        Ok(Reloaded {
            log: ReportLog {
                path: path.to_path_buf(),
                file,
                bytes,
            },
            board,
            skipped,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether one more line of `len` bytes would pass [`MAX_LOG_BYTES`].
    pub fn is_full(&self, len: usize) -> bool {
        self.bytes + len as u64 > MAX_LOG_BYTES
    }

    /// Appends one report, as one `write` of one whole line. It is not `fsync`ed: a process that
    /// stops, however it stops, leaves the line with the operating system, and only a power
    /// cut could lose the last moments, which the learners' next checks would send again.
    pub fn append(&mut self, received: &Received) -> io::Result<()> {
        self.append_line(&serde_json::to_string(received).map_err(io::Error::other)?)
    }

    /// Appends an instructor's action, which a restart replays in its place among the reports.
    pub fn append_action(&mut self, action: &Action) -> io::Result<()> {
        self.append_line(&serde_json::to_string(action).map_err(io::Error::other)?)
    }

    fn append_line(&mut self, line: &str) -> io::Result<()> {
        let mut line = line.to_string();
        line.push('\n');
        if self.is_full(line.len()) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!("{} has reached its limit", self.path.display()),
            ));
        }
        self.file.write_all(line.as_bytes())?;
        self.bytes += line.len() as u64;
        Ok(())
    }
}

fn ends_with_newline(path: &Path) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, Report};

    fn received(name: &str, at_ms: u64) -> Received {
        Received {
            at_ms,
            arrived_ms: None,
            report: Report::new(name, "02", Outcome::Pass, "passes"),
        }
    }

    #[test]
    fn a_reopened_log_gives_back_its_reports_and_skips_a_torn_line() {
        let dir = std::env::temp_dir().join(format!("class-board-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("reports.jsonl");

        let mut opened = ReportLog::open(&path, Board::default()).unwrap();
        opened.log.append(&received("ann", 1)).unwrap();
        opened.log.append(&received("bo", 2)).unwrap();
        drop(opened);
        // A crash halfway through a third line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"at_ms":3,"name":"c"#).unwrap();
        drop(file);

        let mut reopened = ReportLog::open(&path, Board::default()).unwrap();
        assert_eq!(reopened.board.report_count(), 2);
        assert_eq!(reopened.skipped, 1);
        reopened.log.append(&received("dee", 4)).unwrap();
        let remove = Action::Remove { name: "ANN".into() };
        reopened.log.append_action(&remove).unwrap();
        drop(reopened);

        let again = ReportLog::open(&path, Board::default()).unwrap();
        assert_eq!(
            again.board.report_count(),
            3,
            "the torn line did not eat the next one"
        );
        assert!(again.board.knows("dee"));
        assert!(!again.board.knows("ann"), "the removal was replayed");
        fs::remove_dir_all(&dir).unwrap();
    }
}
