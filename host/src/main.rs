//! The `siglearn` binary: everything is in the library's command line.

fn main() -> std::process::ExitCode {
    siglearn::cli::main()
}
