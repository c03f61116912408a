//! `cargo workbook watch` as a learner uses it, on a workbook of one tiny step: each save runs
//! the check exactly once, a compile error shows the compiler's message, and `q` quits. And
//! `cargo workbook hint`, which `h` calls: one level at a time, the code only at the last.
//!
//! Keys come through a pipe here, one per line; in a terminal they are single key presses.

use std::{
    fs,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver},
    thread,
    time::{Duration, Instant},
};

/// Long enough for cargo to build and test a one-function crate on a busy machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// The line `check` prints before each run.
const RUN_TITLE: &str = "cargo test -p exercise-01";

/// The footer `watch` prints when it waits for the next save.
const FOOTER: &str = "Watching exercises/exercise-01";

struct Workbook {
    root: PathBuf,
}

impl Workbook {
    /// A workspace with step 01: an exercise and a solution whose one test passes, and a
    /// chapter with hints.
    fn new(test: &str) -> Workbook {
        let root = std::env::temp_dir().join(format!("workbook-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let workbook = Workbook { root };
        workbook.write(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\"exercises/*\", \"solutions/*\"]\n",
        );
        for package in ["exercises/exercise-01", "solutions/solution-01"] {
            let name = package.rsplit('/').next().unwrap();
            workbook.write(
                &format!("{package}/Cargo.toml"),
                &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n"),
            );
            workbook.write(
                &format!("{package}/src/lib.rs"),
                "pub fn answer() -> u32 { 42 }\n",
            );
            let test = format!(
                "#[test]\nfn the_answer() {{ assert_eq!({}::answer(), 42); }}\n",
                name.replace('-', "_")
            );
            workbook.write(&format!("{package}/tests/check.rs"), &test);
        }
        workbook.write(
            "book/src/steps/01-tiny.md",
            "# Step 01 · Tiny\n\n*Time: 5 minutes*\n\n## Hints\n\n- The answer is 42.\n\n## Discussion\n",
        );
        workbook
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

impl Drop for Workbook {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `cargo workbook watch 01`, its input, and its output line by line.
struct Watch {
    child: Child,
    input: ChildStdin,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(root: &Path) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_workbook"))
            .args(["watch", "01"])
            .current_dir(root)
            .env("CARGO_TARGET_DIR", root.join("target"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the workbook binary starts");
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
        }
        let input = child.stdin.take().unwrap();
        Watch {
            child,
            input,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads output until a line contains `text`; panics with everything seen otherwise.
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            let found = line.contains(text);
            self.seen.push(line);
            if found {
                return;
            }
        }
        panic!(
            "watch never printed {text:?}; it printed:\n{}",
            self.seen.join("\n")
        );
    }

    /// Every line that arrives within `quiet`.
    fn lines_within(&mut self, quiet: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            self.seen.push(line.clone());
            lines.push(line);
        }
        lines
    }

    fn runs(&self) -> usize {
        self.seen
            .iter()
            .filter(|line| line.contains(RUN_TITLE))
            .count()
    }

    fn press(&mut self, key: &str) {
        writeln!(self.input, "{key}").unwrap();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn each_save_runs_the_check_once_and_q_quits() {
    let workbook = Workbook::new("watch");
    let mut watch = Watch::start(&workbook.root);

    watch.wait_for(FOOTER);
    assert_eq!(watch.runs(), 1, "one run at the start");
    assert!(
        watch
            .seen
            .iter()
            .any(|line| line.contains("Step 01 passes")),
        "the first run passes:\n{}",
        watch.seen.join("\n")
    );

    // A save that breaks the build: the compiler's own message, and the watch goes on.
    workbook.write(
        "exercises/exercise-01/src/lib.rs",
        "pub fn answer() -> u32 { \"forty-two\" }\n",
    );
    watch.wait_for(FOOTER);
    assert_eq!(watch.runs(), 2, "one save, one more run");
    assert!(
        watch
            .seen
            .iter()
            .any(|line| line.contains("mismatched types")),
        "the compiler's message is shown:\n{}",
        watch.seen.join("\n")
    );
    assert!(
        !watch.seen.iter().any(|line| line.contains("panicked")),
        "a build error is not a panic:\n{}",
        watch.seen.join("\n")
    );

    // The fix: one more run, and nothing after it until the next save.
    workbook.write(
        "exercises/exercise-01/src/lib.rs",
        "pub fn answer() -> u32 { 42 }\n",
    );
    watch.wait_for(FOOTER);
    assert_eq!(watch.runs(), 3, "one save, one more run");
    let later = watch.lines_within(Duration::from_secs(2));
    assert!(
        !later.iter().any(|line| line.contains(RUN_TITLE)),
        "a run nobody asked for:\n{}",
        later.join("\n")
    );

    // `h` gives the next hint without running the check; a step that passes needs none.
    watch.press("h");
    watch.wait_for("no hint needed");
    assert_eq!(watch.runs(), 3);

    watch.press("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            assert!(status.success(), "watch quits cleanly: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "watch did not quit on q");
        thread::sleep(Duration::from_millis(50));
    }
}

/// The chapter of a step with a task whose marker claims the finding, and three graded hints.
const CHAPTER_WITH_HINTS: &str = "# Step 01 · Tiny\n\n> **Time:** 5 minutes\n\n## Tasks\n\n\
    1. Make `answer` right.\n   <!-- check: link:process message; at: src/lib.rs, answer -->\n\n\
    ## Hints\n\n<details>\n<summary>Hint 1</summary>\n\nThink about the question.\n\n</details>\n\n\
    <details>\n<summary>Hint 2</summary>\n\nRead the guide.\n\n</details>\n\n\
    <details>\n<summary>Hint 3</summary>\n\nThe chapter's code.\n\n</details>\n\n## Discussion\n";

/// What a check wrote about its first failure: the words, and apart from them the code.
const FINDING: &str = "{\"test\":\"the_answer\",\"aspect\":\"link\",\"span\":\"process message\",\
    \"service\":\"storage-service\",\"concept\":\"span links\",\"saw\":\"no link from the \
    process span\",\"hint\":\"A process span follows from the send span.\",\
    \"code\":\"Link::with_context(the_answer())\",\"waterfall\":\"\"}\n";

#[test]
fn hints_come_one_level_at_a_time_and_the_code_only_last() {
    let workbook = Workbook::new("hint");
    workbook.write("book/src/steps/01-tiny.md", CHAPTER_WITH_HINTS);
    workbook.write("target/workbook/findings-01.jsonl", FINDING);
    let hint = || {
        let output = Command::new(env!("CARGO_BIN_EXE_workbook"))
            .args(["hint", "01"])
            .current_dir(&workbook.root)
            .env("CARGO_TARGET_DIR", workbook.root.join("target"))
            .env("NO_COLOR", "1")
            .output()
            .expect("the workbook binary runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };

    let first = hint();
    assert!(
        first.contains("Hint 1 of 3 · task 1 · span links"),
        "{first}"
    );
    assert!(
        first.contains("A process span follows from the send span."),
        "{first}"
    );
    assert!(first.contains("Think about the question."), "{first}");
    let second = hint();
    assert!(second.contains("Hint 2 of 3"), "{second}");
    assert!(second.contains("Read the guide."), "{second}");
    for text in [&first, &second] {
        assert!(
            !text.contains("Link::with_context"),
            "code before the last level:\n{text}"
        );
    }
    let third = hint();
    assert!(third.contains("Hint 3 of 3"), "{third}");
    assert!(
        third.contains("Link::with_context(the_answer())"),
        "{third}"
    );
    // Asking again shows the last level again.
    let again = hint();
    assert!(
        again.contains("Hint 3 of 3") && again.contains("last hint"),
        "{again}"
    );

    // A new first finding starts again at level 1.
    workbook.write(
        "target/workbook/findings-01.jsonl",
        &FINDING.replace("storage-service", "giphy-service"),
    );
    assert!(hint().contains("Hint 1 of 3"));
}
