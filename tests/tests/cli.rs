//! The command line end to end: the demo, reproducibility, the store round
//! trip, both signal formats, and what bad input gets.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{csv_rows, demo_candles, json, out, siglearn, siglearn_error, write};

const HEADER: &str = "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes";
const CANDLES: &str = "symbol,ts,open,high,low,close,volume\n\
    A,2024-01-01T00:00:00Z,100,101,99,100,1\n\
    A,2024-01-01T00:01:00Z,100,112,99,110,1\n";

/// Signals from the built-in generator on the demo candles, in `dir`.
fn generate_demo_signals(dir: &std::path::Path) -> String {
    let signals = out(dir, "signals.csv");
    let candles = demo_candles();
    let mut args = vec!["generate", "--candles"];
    args.extend(candles.iter().map(String::as_str));
    args.extend(["--out", &signals]);
    siglearn(&args).unwrap();
    signals
}

/// `siglearn replay` of `signals` over the demo candles, with `extra` flags.
fn replay_demo(signals: &str, extra: &[&str]) -> anyhow::Result<()> {
    let candles = demo_candles();
    let mut args = vec!["replay", "--candles"];
    args.extend(candles.iter().map(String::as_str));
    args.extend(["--signals", signals]);
    args.extend(extra);
    siglearn(&args)
}

#[test]
fn the_demo_writes_signals_store_trades_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let folder = out(dir.path(), "demo");
    siglearn(&["demo", "--out", &folder]).unwrap();
    let report = json(&format!("{folder}/report.json"));
    let trades = csv_rows(&format!("{folder}/trades.csv"));
    assert!(trades.len() > 1000, "{} trades", trades.len());
    assert_eq!(report["overall"]["total_trades"], trades.len());
    assert_eq!(report["by_symbol"].as_object().unwrap().len(), 5);
    assert!(
        std::path::Path::new(&format!("{folder}/candles/README.md")).exists(),
        "attribution travels with the data"
    );
    // Running it again replaces its own store instead of refusing it.
    siglearn(&["demo", "--out", &folder]).unwrap();
}

#[test]
fn the_same_replay_twice_gives_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let signals = generate_demo_signals(dir.path());
    let mut outputs = Vec::new();
    for run in 0..2 {
        let (trades, report) =
            (out(dir.path(), &format!("t{run}.csv")), out(dir.path(), &format!("r{run}.json")));
        replay_demo(&signals, &["--trades-out", &trades, "--report-out", &report]).unwrap();
        outputs.push((std::fs::read(&trades).unwrap(), std::fs::read(&report).unwrap()));
    }
    assert!(outputs[0] == outputs[1], "two replays of the same inputs differ");
}

#[test]
fn the_report_of_a_store_equals_the_replay_report() {
    let dir = tempfile::tempdir().unwrap();
    let signals = generate_demo_signals(dir.path());
    let (db, replayed, stored) =
        (out(dir.path(), "s.db"), out(dir.path(), "replayed.json"), out(dir.path(), "stored.json"));
    replay_demo(&signals, &["--db", &db, "--report-out", &replayed]).unwrap();
    siglearn(&["report", "--db", &db, "--report-out", &stored]).unwrap();
    assert_eq!(std::fs::read_to_string(&replayed).unwrap(), std::fs::read_to_string(&stored).unwrap());
    // Replaying the same signals into the same store is refused, not mixed in.
    let error = format!("{:#}", replay_demo(&signals, &["--db", &db]).unwrap_err());
    assert!(error.contains("already in") && error.contains("new --db"), "{error}");
}

#[test]
fn json_lines_signals_give_the_same_trades_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "c.csv", CANDLES);
    let csv = write(
        dir.path(),
        "s.csv",
        &format!("{HEADER},head.rsi\na,A,long,2024-01-01T00:00:00Z,100,110,95,,0.5\n"),
    );
    let jsonl = write(
        dir.path(),
        "s.jsonl",
        r#"{"signal_id":"a","symbol":"A","side":"long","entry_ts":"2024-01-01T00:00:00Z","entry_price":100,"take_profit":110,"stop_loss":95,"heads":{"rsi":0.5}}"#,
    );
    let (from_csv, from_json) = (out(dir.path(), "a.csv"), out(dir.path(), "b.csv"));
    siglearn(&["replay", "--candles", &candles, "--signals", &csv, "--trades-out", &from_csv]).unwrap();
    siglearn(&["replay", "--candles", &candles, "--signals", &jsonl, "--trades-out", &from_json]).unwrap();
    assert_eq!(std::fs::read(&from_csv).unwrap(), std::fs::read(&from_json).unwrap());
}

#[test]
fn bad_rows_are_named_by_file_line_and_field_and_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "c.csv", CANDLES);
    let signals = write(
        dir.path(),
        "s.csv",
        &format!(
            "{HEADER}\n\
             ok,A,long,2024-01-01T00:00:00Z,100,110,95,\n\
             wrong_side,A,long,2024-01-01T00:00:00Z,100,90,95,\n\
             nan,A,long,2024-01-01T00:00:00Z,NaN,110,95,\n\
             unknown,ZZZ,long,2024-01-01T00:00:00Z,100,110,95,\n"
        ),
    );
    let error = siglearn_error(&["replay", "--candles", &candles, "--signals", &signals]);
    assert!(error.contains("s.csv:3: take_profit:"), "{error}");
    assert!(error.contains("s.csv:4: entry_price:"), "{error}");
    assert!(error.contains("s.csv:5: symbol: no prices for ZZZ"), "all problems at once: {error}");
    assert!(error.contains("--skip-invalid"), "{error}");
    let trades = out(dir.path(), "t.csv");
    siglearn(&[
        "replay",
        "--candles",
        &candles,
        "--signals",
        &signals,
        "--skip-invalid",
        "--trades-out",
        &trades,
    ])
    .unwrap();
    let rows = csv_rows(&trades);
    assert_eq!(rows.len(), 1, "only the good signal is replayed");
    // With the bad rows fixed but an unknown symbol left, the symbol is named.
    let unknown =
        write(dir.path(), "u.csv", &format!("{HEADER}\nunknown,ZZZ,long,2024-01-01T00:00:00Z,100,110,95,\n"));
    let error = siglearn_error(&["replay", "--candles", &candles, "--signals", &unknown]);
    assert!(error.contains("u.csv:2: symbol: no prices for ZZZ"), "{error}");
}

#[test]
fn malformed_and_unsorted_candles_are_refused_with_the_place_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let signals =
        write(dir.path(), "s.csv", &format!("{HEADER}\na,A,long,2024-01-01T00:00:00Z,100,110,95,\n"));
    let ragged =
        write(dir.path(), "ragged.csv", "symbol,ts,open,high,low,close,volume\nA,2024-01-01T00:00:00Z,1,2\n");
    let error = siglearn_error(&["replay", "--candles", &ragged, "--signals", &signals]);
    assert!(error.contains("ragged.csv:2"), "{error}");
    let unsorted = write(
        dir.path(),
        "unsorted.csv",
        "symbol,ts,open,high,low,close,volume\nA,2024-01-01T00:01:00Z,1,1,1,1,1\nA,2024-01-01T00:00:00Z,1,1,1,1,1\n",
    );
    let error = siglearn_error(&["replay", "--candles", &unsorted, "--signals", &signals]);
    assert!(error.contains("unsorted.csv:3") && error.contains("sort the file by ts"), "{error}");
    let error = siglearn_error(&["replay", "--candles", "/no/such/file.csv", "--signals", &signals]);
    assert!(error.contains("/no/such/file.csv"), "{error}");
}

#[test]
fn bad_flags_are_refused_before_any_work() {
    let error =
        siglearn_error(&["replay", "--candles", "c.csv", "--signals", "s.csv", "--ambiguity", "worst"]);
    assert!(error.contains("stop_first"), "{error}");
    let error = siglearn_error(&["replay", "--candles", "c.csv", "--signals", "s.csv", "--fee-pct", "-1"]);
    assert!(error.contains("fee"), "{error}");
    let error = siglearn_error(&["generate", "--candles", "c.csv", "--out", "s.csv", "--threshold", "2"]);
    assert!(error.contains("threshold"), "{error}");
}

#[test]
fn report_on_a_missing_store_names_it() {
    let error = siglearn_error(&["report", "--db", "/no/such/store.db"]);
    assert!(error.contains("/no/such/store.db"), "{error}");
}

#[test]
fn a_store_holding_out_of_range_stamps_still_reports_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "c.csv", CANDLES);
    let signals = write(
        dir.path(),
        "s.csv",
        &format!(
            "{HEADER}\na,A,long,2024-01-01T00:00:00Z,100,110,95,\nb,A,long,2024-01-01T00:00:00Z,100,105,95,\n"
        ),
    );
    let db = out(dir.path(), "s.db");
    siglearn(&["replay", "--candles", &candles, "--signals", &signals, "--db", &db]).unwrap();
    // What an older version wrote for stamps in nanoseconds and i64::MIN.
    let store = rusqlite::Connection::open(&db).unwrap();
    let nanos = 1_714_557_600_000_000_000_i64;
    store.execute("UPDATE outcomes SET exit_ts = ?1 WHERE signal_id = 'a'", [nanos]).unwrap();
    store.execute("UPDATE signals SET entry_ts = ?1 WHERE id = 'b'", [i64::MIN]).unwrap();
    drop(store);
    let report = out(dir.path(), "r.json");
    siglearn(&["report", "--db", &db, "--report-out", &report]).unwrap();
    // Both trades hold a stamp outside the range: set aside, not reported.
    assert_eq!(json(&report)["overall"]["total_trades"], 0);
    let later =
        write(dir.path(), "later.csv", &format!("{HEADER}\nc,A,long,2024-01-01T00:01:00Z,110,120,100,\n"));
    siglearn(&["replay", "--candles", &candles, "--signals", &later, "--db", &db]).unwrap();
}

/// Runs the built binary with `args`, stdout's reader closed at once and
/// stderr captured.
fn run_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_siglearn-under-test"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "c.csv", CANDLES);
    let signals =
        write(dir.path(), "s.csv", &format!("{HEADER}\na,A,long,2024-01-01T00:00:00Z,100,110,95,\n"));
    let db = out(dir.path(), "s.db");
    siglearn(&["replay", "--candles", &candles, "--signals", &signals, "--db", &db]).unwrap();
    for args in [
        vec!["report", "--db", &db, "--json"],
        vec!["report", "--db", &db],
        vec!["replay", "--candles", &candles, "--signals", &signals],
    ] {
        let output = run_into_closed_pipe(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(matches!(output.status.code(), Some(0 | 141)), "{args:?}: {:?} {stderr}", output.status);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

/// A file output that is a pipe whose reader is gone before the program
/// starts (`--out /dev/stdout | head` after head has quit): every write
/// fails with a broken pipe, whatever the timing.
#[cfg(target_os = "linux")]
#[test]
fn a_file_output_into_a_closed_pipe_ends_quietly_with_141() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "c.csv", CANDLES);
    let signals =
        write(dir.path(), "s.csv", &format!("{HEADER}\na,A,long,2024-01-01T00:00:00Z,100,110,95,\n"));
    let elsewhere = out(dir.path(), "elsewhere.csv");
    let db = out(dir.path(), "s.db");
    siglearn(&["replay", "--candles", &candles, "--signals", &signals, "--db", &db]).unwrap();
    // Every command's file outputs (those written through the csv crate too).
    for args in [
        vec!["replay", "--candles", &candles, "--signals", &signals, "--trades-out", "/dev/stdout"],
        vec!["replay", "--candles", &candles, "--signals", &signals, "--report-out", "/dev/stdout"],
        vec!["generate", "--candles", &candles, "--out", "/dev/stdout"],
        vec!["synth", "--signals-out", "/dev/stdout", "--candles-out", &elsewhere],
        vec!["synth", "--signals-out", &elsewhere, "--candles-out", "/dev/stdout"],
        vec!["report", "--db", &db, "--report-out", "/dev/stdout"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_siglearn-under-test"))
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe") && !stderr.contains("error"), "{args:?}: {stderr}");
    }
}

/// Warnings into a stderr whose reader is gone are lost, not a panic: the
/// command still does its work and ends as it would have.
#[cfg(target_os = "linux")]
#[test]
fn a_warning_into_a_closed_stderr_does_not_stop_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "c.csv", CANDLES);
    // One good row and one skipped: a warning on stderr.
    let signals = write(
        dir.path(),
        "s.csv",
        &format!("{HEADER}\na,A,long,2024-01-01T00:00:00Z,100,110,95,\nb,A,long,not a time,100,110,95,\n"),
    );
    let trades = out(dir.path(), "t.csv");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_siglearn-under-test"))
        .args([
            "replay",
            "--candles",
            &candles,
            "--signals",
            &signals,
            "--skip-invalid",
            "--trades-out",
            &trades,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", output.status);
    assert!(std::fs::read_to_string(&trades).unwrap().starts_with("signal_id,"));
}

#[test]
fn logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "s.rhai",
        "fn init(params) { #{} }\nfn decide(signal) { print(\"deciding\"); true }\nfn learn(signal, outcome) { }\n",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_siglearn-under-test"))
        .args(["check", &script])
        .env("SIGLEARN_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deciding"), "the log line is written: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI escape codes: {stderr:?}");
}
