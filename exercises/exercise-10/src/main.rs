//! Runs Tracing Talk: all three services in one process on an embedded Kafka, with the chat
//! page at http://127.0.0.1:8080.
//!
//! `--help` lists the options; the subcommands `broker`, `chat-api`, `storage-service` and
//! `giphy-service` run one part per process.

fn main() -> std::process::ExitCode {
    talk::launch::main(exercise_10::Step)
}
