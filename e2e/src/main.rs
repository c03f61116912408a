//! The app under test: the newest solution, launched exactly as `cargo run -p solution-08`.

fn main() -> std::process::ExitCode {
    talk::launch::main(solution_08::Step)
}
