//! The `siglearn` command line: one file per command, all of them thin
//! layers over the library. Errors leave as `anyhow` chains that name the
//! file and the fix; long work shows a progress bar on stderr.
//!
//! Everything for the user goes to stdout through [`outln!`] and [`out!`]:
//! when the reader has gone (`siglearn report --json | head -1`), the
//! program ends quietly with status 141, as a tool killed by SIGPIPE does,
//! instead of panicking. Logs go to stderr, coloured only on a terminal.

/// `println!` for the user's output: a closed pipe ends the program quietly.
macro_rules! outln {
    () => { $crate::cli::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` for warnings and errors, which never panics: a closed or
/// full stderr loses the line (there is nowhere left to say so) instead of
/// aborting the command.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `print!` for the user's output: a closed pipe ends the program quietly.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*)) };
}

mod check;
mod demo;
mod generate;
mod progress;
mod replay;
mod report;
mod run;
mod study;
mod synth;
mod versions;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::format::{ReadOptions, RowErrors};
use crate::monitor::AmbiguityPolicy;

/// siglearn: the self-learning layer for trading-signal systems.
#[derive(Debug, Parser)]
#[command(name = "siglearn", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log lines as text (default) or JSON, on stderr; SIGLEARN_LOG sets the level.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// The program: parses the command line, sets up logging, runs the
/// command, and turns an error into a message and exit status 1.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIGLEARN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // A log line that cannot be written (stderr a closed pipe) is lost; by
    // default the subscriber would report that with eprintln!, which
    // panics on the same closed pipe, in whichever thread logged.
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // An output file that is a pipe (`--out /dev/stdout | head`) closed
        // by its reader: quiet, as a write to stdout is.
        Err(error) if closed_pipe(&error) => std::process::ExitCode::from(CLOSED_PIPE),
        Err(error) => {
            errln!("error: {}", error_text(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by `: `, each cause once: a message that
/// already quotes its cause (`cannot read x.csv: No such file or directory`)
/// is not followed by the same cause again.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Whether the error comes from writing into a pipe its reader closed,
/// however a library wrapped the broken pipe on the way up.
fn closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(broken_pipe)
}

/// Whether `cause` is a broken pipe, or an error that holds one without
/// naming it as its source: the csv crate's error (the `Io` kind, with no
/// `source()`), and an `io::Error` of another kind wrapping an error (which
/// the csv writer's errors become, and whose `source()` skips the wrapped
/// error itself).
fn broken_pipe(cause: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return io.kind() == std::io::ErrorKind::BrokenPipe
            || io.get_ref().is_some_and(|inner| broken_pipe(inner));
    }
    if let Some(csv::ErrorKind::Io(io)) = cause.downcast_ref::<csv::Error>().map(csv::Error::kind) {
        return broken_pipe(io);
    }
    false
}

/// Exit status of a program whose output pipe was closed (128 + SIGPIPE).
const CLOSED_PIPE: u8 = 141;

/// Writes to stdout. A closed pipe exits with [`CLOSED_PIPE`] and no
/// message (the reader chose to stop); another write error is reported.
fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(error) = std::io::stdout().lock().write_fmt(text) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(i32::from(CLOSED_PIPE));
        }
        errln!("error: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate signals on bundled real candles, replay them and print the report.
    Demo(demo::DemoArgs),
    /// Replay signals over historical prices and report their outcomes.
    Replay(replay::ReplayArgs),
    /// Run the daemon: HTTP intake and learning API, wall-clock jobs, hot reload.
    Run(run::RunArgs),
    /// Compile a strategy script and run each of its hooks on a fixture signal.
    Check(check::CheckArgs),
    /// Print the report of a store written by `replay`.
    Report(report::ReportArgs),
    /// Generate signals from candles with the built-in nine-head generator.
    Generate(generate::GenerateArgs),
    /// Make candles and signals with a planted edge in some heads, to test learning.
    Synth(synth::SynthArgs),
    /// Measure the promotion test: false promotions, power and delay, old and new.
    Study(study::StudyArgs),
    /// List the strategies of a store, their live versions and the champion.
    Strategies(versions::StrategiesArgs),
    /// List every version of a strategy and the champion's moves.
    Versions(versions::VersionsArgs),
    /// Make an earlier version of a strategy live again (as a new version).
    Rollback(versions::ChangeArgs),
    /// Make a strategy version the champion.
    Promote(versions::ChangeArgs),
}

/// Runs the command line; the error is printed by `main`.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Run(args) => run::run(args),
        Command::Report(args) => report::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Study(args) => study::run(args),
        Command::Strategies(args) => versions::strategies(args),
        Command::Versions(args) => versions::versions(args),
        Command::Rollback(args) => versions::rollback(args),
        Command::Promote(args) => versions::promote(args),
    }
}

/// How outcomes are decided, as command-line flags over the config file.
#[derive(Debug, Clone, Args)]
struct OutcomeArgs {
    /// Which exit a bar reaching both take-profit and stop-loss gives
    /// [default: stop_first, or the config's outcomes.ambiguity].
    #[arg(long, value_parser = parse_policy)]
    ambiguity: Option<AmbiguityPolicy>,
    /// Fee per side in percent of the price, charged twice per trade
    /// [default: 0, or the config's outcomes.fee_pct].
    #[arg(long, value_parser = parse_fee, allow_negative_numbers = true)]
    fee_pct: Option<f64>,
}

impl OutcomeArgs {
    /// Puts the flags given over the config's settings.
    fn apply(&self, config: &mut Config) {
        if let Some(ambiguity) = self.ambiguity {
            config.outcomes.ambiguity = ambiguity;
        }
        if let Some(fee_pct) = self.fee_pct {
            config.outcomes.fee_pct = fee_pct;
        }
    }
}

fn parse_policy(text: &str) -> Result<AmbiguityPolicy, String> {
    text.parse()
}

fn parse_fee(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(fee) if fee.is_finite() && (0.0..50.0).contains(&fee) => Ok(fee),
        _ => Err(format!("{text:?} is not a fee in percent between 0 and 50 (e.g. 0.075)")),
    }
}

/// Input files shared by commands that read prices.
#[derive(Debug, Clone, Args)]
struct PriceArgs {
    /// Candle files (CSV: symbol,ts,open,high,low,close,volume; ts = bar open time).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    candles: Vec<PathBuf>,
    /// Skip and count invalid rows instead of refusing the file.
    #[arg(long)]
    skip_invalid: bool,
}

impl PriceArgs {
    fn read_options(&self) -> ReadOptions {
        ReadOptions { skip_invalid: self.skip_invalid }
    }
}

/// `text` cut to at most `max` characters, with `...` and the full length
/// when it was longer.
fn abbreviate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(3)) {
        Some((cut, _)) if text.chars().count() > max => format!("{}... ({} bytes)", &text[..cut], text.len()),
        _ => text.to_owned(),
    }
}

/// Tells the user about the rows of a store stamped outside the accepted
/// range, which every read leaves out (or reads as 1970).
fn warn_out_of_range(reader: &crate::store::StoreReader) -> anyhow::Result<()> {
    let found = reader.out_of_range()?;
    if found.count > 0 {
        errln!("warning: {}: {found}", reader.path().display());
    }
    Ok(())
}

/// Tells the user about skipped rows, without flooding the terminal.
fn warn_skipped(skipped: &RowErrors) {
    if skipped.is_empty() {
        return;
    }
    errln!("warning: skipped {} invalid row(s) (--skip-invalid):\n{skipped}", skipped.count);
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn long_text_is_abbreviated_on_a_character_boundary() {
        assert_eq!(super::abbreviate("short", 10), "short");
        assert_eq!(super::abbreviate("ééééééééééé", 6), "ééé... (22 bytes)");
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let missing =
            std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let error = crate::format::FormatError::Io { path: "x.csv".into(), source: missing };
        let error = anyhow::Error::from(error).context("reading prices");
        let text = super::error_text(&error);
        assert_eq!(text, "reading prices: cannot read x.csv: No such file or directory (os error 2)");
        let chained = anyhow::anyhow!("root cause").context("outer");
        assert_eq!(super::error_text(&chained), "outer: root cause");
    }

    #[test]
    fn only_a_broken_pipe_somewhere_in_the_chain_is_a_closed_pipe() {
        let io = |kind| std::io::Error::new(kind, "x");
        let write = |kind| crate::format::FormatError::Write { path: "/dev/stdout".into(), source: io(kind) };
        let closed = anyhow::Error::from(write(std::io::ErrorKind::BrokenPipe)).context("writing trades");
        assert!(super::closed_pipe(&closed));
        let full = anyhow::Error::from(write(std::io::ErrorKind::StorageFull)).context("writing trades");
        assert!(!super::closed_pipe(&full));
        assert!(!super::closed_pipe(&anyhow::anyhow!("Broken pipe")));
        // The csv writer's error: a csv::Error of the Io kind, turned into
        // an io::Error of kind Other (as `write_signals` does), in a FormatError.
        let through_csv = |kind| {
            let csv = csv::Error::from(io(kind));
            crate::format::FormatError::Write {
                path: "/dev/stdout".into(),
                source: std::io::Error::other(csv),
            }
        };
        assert!(super::closed_pipe(&anyhow::Error::from(through_csv(std::io::ErrorKind::BrokenPipe))));
        assert!(!super::closed_pipe(&anyhow::Error::from(through_csv(std::io::ErrorKind::StorageFull))));
        assert!(super::closed_pipe(&anyhow::Error::from(csv::Error::from(io(
            std::io::ErrorKind::BrokenPipe
        )))));
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
