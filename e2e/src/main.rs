//! The app under test: the newest solution, launched exactly as `cargo run -p solution-07`.

fn main() -> std::process::ExitCode {
    talk::launch::main(solution_07::Step)
}
