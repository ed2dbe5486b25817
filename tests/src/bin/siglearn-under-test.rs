//! The siglearn command line, as host/src/main.rs builds it, for the
//! integration tests that start it as a process (the daemon tests).

fn main() -> std::process::ExitCode {
    siglearn::cli::main()
}
