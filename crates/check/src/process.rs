//! A step's binary, run as a learner runs it, for the checks that need real processes
//! (signals, one process per service).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running process whose stdout and stderr lines are collected as they come.
pub struct Spawned {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Spawned {
    /// Starts `binary` with `args`, adding `envs` to this process's environment.
    pub fn start(name: &str, binary: &str, args: &[&str], envs: &[(&str, &str)]) -> Spawned {
        let mut child = Command::new(binary)
            .args(args)
            // Tests must not depend on the developer's own settings.
            .env_remove("KAFKA_BROKERS")
            .env_remove("REDIS_URL")
            .env_remove("GIPHY_API_KEY")
            .env_remove("TALK_SEND_MODE")
            .env_remove("TALK_CONSUMER_TRACE")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
            .env_remove("OTEL_TRACES_EXPORTER")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Spawned {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    /// Waits until a line contains `needle` and returns that line.
    pub fn wait_for_line(&self, needle: &str, patience: Duration) -> String {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not print {needle:?} within {patience:?}. It printed:\n{}",
                    self.name,
                    self.lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The chat address the banner announced (`Chat:  http://…`).
    pub fn chat_url(&self) -> String {
        let line = self.wait_for_line("Chat:", Duration::from_secs(30));
        line.split_whitespace().last().unwrap().to_owned()
    }

    /// Posts a chat message to the chat-api this process announced, and returns the answer.
    /// Panics unless it is `202 Accepted`.
    pub fn post(&self, room: &str, text: &str) -> serde_json::Value {
        let answer = reqwest::blocking::Client::new()
            .post(format!("{}/message", self.chat_url()))
            .json(&serde_json::json!({"author": "ann", "room": room, "message": text}))
            .send()
            .unwrap_or_else(|e| panic!("{} did not answer POST /message: {e}", self.name));
        assert_eq!(answer.status(), 202, "POST /message to {}", self.name);
        answer.json().expect("POST /message answers JSON")
    }

    /// Sends SIGTERM and expects a clean exit (code 0) within `patience`.
    pub fn stop_cleanly(&mut self, patience: Duration) {
        self.terminate();
        let status = self.wait(patience);
        assert_eq!(
            status.code(),
            Some(0),
            "{} should exit cleanly; it printed:\n{}",
            self.name,
            self.lines().join("\n")
        );
    }

    /// Sends SIGTERM, as `docker stop` or `kill` would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {} failed", self.child.id());
    }

    /// Waits for the process to exit, at most `patience`.
    pub fn wait(&mut self, patience: Duration) -> ExitStatus {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit within {patience:?}. It printed:\n{}",
                    self.name,
                    self.lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
