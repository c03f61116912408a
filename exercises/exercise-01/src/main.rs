//! Runs Tracing Talk: `cargo run -p exercise-01`, then open http://127.0.0.1:8080.
//!
//! `-- --help` lists the options; `-- broker`, `-- chat-api`, `-- storage-service` and
//! `-- giphy-service` run one part per process.

fn main() -> std::process::ExitCode {
    talk::launch::main(tracing_talk::Step)
}
