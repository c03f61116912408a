//! The app under test: the newest solution, launched exactly as `cargo run -p solution-09`.

fn main() -> std::process::ExitCode {
    talk::launch::main(solution_09::Step)
}
