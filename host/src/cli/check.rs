//! `siglearn check FILE`: compile a script (or open a plugin library), list
//! its hooks, and run each one on a fixture signal, so a strategy author
//! finds problems before a run.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use clap::Args;
use siglearn_plugin_api::StrategyId;

use super::abbreviate;
use crate::strategy::script::Limits;
use crate::strategy::{Code, DailySummary, HistoryItem, Hook, StrategyError, fixture};
use crate::trade::Trade;

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The Rhai script or plugin library (.so, .dylib, .dll) to check.
    script: PathBuf,
    /// Params for init(params), as JSON (default: {}).
    #[arg(long, value_name = "JSON", default_value = "{}")]
    params: String,
}

pub(super) fn run(args: CheckArgs) -> anyhow::Result<()> {
    let params: serde_json::Value = match serde_json::from_str(&args.params) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        Ok(_) => bail!("--params must be a JSON object, like '{{\"threshold\": 0.4}}'"),
        Err(error) => bail!("--params is not JSON: {error}"),
    };
    // Any other file would be compiled as Rhai and fail with a syntax error
    // about its first line; say what check takes instead.
    let is_script = args.script.extension().is_some_and(|e| e.eq_ignore_ascii_case("rhai"));
    if !is_script && !crate::strategy::native::is_library(&args.script) {
        bail!(
            "{}: check takes a Rhai script (.rhai) or a plugin library (.so, .dylib, .dll); \
             signals and candles are read by replay",
            args.script.display()
        );
    }
    let name = crate::strategy::native::strategy_name(&args.script).unwrap_or_else(|| "strategy".to_owned());
    outln!("check {}", args.script.display());
    let mut strategy = match crate::strategy::open(StrategyId::new(name), &args.script, Limits::default()) {
        Ok(strategy) => strategy,
        Err(error) => return fail("load", &error),
    };
    match strategy.code() {
        Code::Script(source) => outln!(
            "  compiled     ok (sha256 {}, {} lines)",
            &strategy.code_hash()[..12],
            source.lines().count()
        ),
        Code::Library { bytes, .. } => outln!(
            "  loaded       ok (sha256 {}, {} bytes){}",
            &strategy.code_hash()[..12],
            bytes.len(),
            strategy.build().map(|b| format!(": {b}")).unwrap_or_default()
        ),
    }
    let hooks: Vec<String> = Hook::ALL
        .iter()
        .map(|hook| format!("{} {}", hook.signature(), if strategy.has(*hook) { "yes" } else { "-" }))
        .collect();
    outln!("  hooks        {}", hooks.join(", "));
    if let Err(error) = strategy.init(&params) {
        return fail("init", &error);
    }
    outln!("  init         state {}", brief(&strategy.state()));
    let signal = fixture::signal();
    let outcome = fixture::outcome();
    match strategy.decide(&signal) {
        Ok(verdict) => {
            outln!(
                "  decide       take={} score={} size={} (fixture: long, 9 heads, 10 indicators)",
                verdict.take,
                verdict.score,
                verdict.size
            )
        }
        Err(error) => return fail("decide", &error),
    }
    let before = strategy.state().ok();
    if let Err(error) = strategy.learn(&signal, &outcome) {
        return fail("learn", &error);
    }
    let changed = if strategy.state().ok() == before { "unchanged" } else { "changed" };
    outln!("  learn        state {changed} after a {} of {:+.3}%", outcome.kind, outcome.pnl_pct);
    let summary = DailySummary {
        date: "2018-01-01".into(),
        signals: 1,
        taken: 1,
        trades: 1,
        wins: 1,
        pnl_pct: outcome.pnl_pct,
        win_rate: 1.0,
    };
    if let Err(error) = strategy.daily(&summary) {
        return fail("daily", &error);
    }
    if strategy.has(Hook::Daily) {
        outln!("  daily        ok");
    }
    let history = [HistoryItem { trade: Trade { signal: Arc::clone(&signal), outcome }, taken: true }];
    match strategy.retrain(&history) {
        Ok(Some(candidate)) => outln!("  retrain      candidate {}", brief(&Ok(candidate))),
        Ok(None) => {}
        Err(error) => return fail("retrain", &error),
    }
    match strategy.params_space() {
        Ok(Some(space)) => outln!("  params       {space}"),
        Ok(None) => {}
        Err(error) => return fail("params", &error),
    }
    let state = match strategy.state() {
        Ok(state) => state,
        Err(error) => return fail("state", &error),
    };
    // Through text and back, as the store saves and a restart reads it.
    let text = state.to_string();
    let read_back = serde_json::from_str(&text).map_err(|e| {
        StrategyError::new(
            strategy.name().clone(),
            &args.script,
            format!("the state does not read back: {e}"),
        )
    });
    if let Err(error) = read_back.and_then(|state| strategy.set_state(&state)) {
        return fail("state", &error);
    }
    outln!("  state        round-trips through JSON ({} bytes)", text.len());
    outln!("ok: {} is ready", args.script.display());
    Ok(())
}

fn brief(state: &Result<serde_json::Value, StrategyError>) -> String {
    match state {
        Ok(state) => abbreviate(&state.to_string(), 100),
        Err(error) => format!("not JSON: {}", error.message),
    }
}

fn fail(step: &str, error: &StrategyError) -> anyhow::Result<()> {
    outln!("  {step:<12} FAILED");
    bail!("{error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_neither_a_script_nor_a_library_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signals.csv");
        std::fs::write(&path, "signal_id,symbol\na,BTC\n").unwrap();
        let error = run(CheckArgs { script: path.clone(), params: "{}".to_owned() }).unwrap_err().to_string();
        assert!(error.starts_with(&format!("{}: ", path.display())), "{error}");
        assert!(error.contains("a Rhai script (.rhai) or a plugin library (.so, .dylib, .dll)"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_as_not_a_regular_file_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo.rhai");
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        // Nothing ever writes it: a reader that opened it as a file would
        // wait in open() for ever, so check runs on a thread of its own.
        let (done, finished) = std::sync::mpsc::channel();
        let script = path.clone();
        std::thread::spawn(move || {
            let _ = done.send(run(CheckArgs { script, params: "{}".to_owned() }).map_err(|e| e.to_string()));
        });
        let checked = finished.recv_timeout(std::time::Duration::from_secs(120));
        let error = checked.expect("check waits on the FIFO").unwrap_err();
        assert!(
            error.starts_with(&format!("strategy fifo ({})", path.display()))
                && error.contains("it is a FIFO (named pipe), not a regular file"),
            "{error}"
        );
    }
}
