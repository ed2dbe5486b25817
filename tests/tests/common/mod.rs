//! Fixtures shared by the integration tests: running the CLI in-process,
//! writing input files, reading outputs.

#![allow(dead_code, clippy::unwrap_used)]

pub(crate) mod daemon;

use std::path::{Path, PathBuf};

use clap::Parser;
use siglearn::cli::{Cli, run};

/// Runs `siglearn ARGS...` in this process.
pub(crate) fn siglearn(args: &[&str]) -> anyhow::Result<()> {
    let cli = Cli::try_parse_from(std::iter::once("siglearn").chain(args.iter().copied()))?;
    run(cli)
}

/// Runs `siglearn` and returns its error message, failing if it succeeded.
pub(crate) fn siglearn_error(args: &[&str]) -> String {
    match siglearn(args) {
        Ok(()) => panic!("siglearn {args:?} succeeded but should have failed"),
        Err(error) => format!("{error:#}"),
    }
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `dir/name` as a string, for output flags.
pub(crate) fn out(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

/// The real candles bundled for the demo.
pub(crate) fn demo_candles() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../host/data/demo");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .map(|path| path.to_str().unwrap().to_owned())
        .collect();
    files.sort();
    files
}

/// The rows of a CSV file as maps from column to cell.
pub(crate) fn csv_rows(path: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            headers.iter().map(str::to_owned).zip(record.unwrap().iter().map(str::to_owned)).collect()
        })
        .collect()
}

/// A JSON file.
pub(crate) fn json(path: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Planted-edge candles and signals in `dir` (seed 1, heads h1, h3, h6
/// informative): (candles, signals).
pub(crate) fn synth(dir: &Path, signals_per_symbol: usize) -> (String, String) {
    let (candles, signals) = (out(dir, "candles.csv"), out(dir, "signals.csv"));
    let per_symbol = signals_per_symbol.to_string();
    siglearn(&[
        "synth",
        "--candles-out",
        &candles,
        "--signals-out",
        &signals,
        "--signals-per-symbol",
        &per_symbol,
    ])
    .unwrap();
    (candles, signals)
}

/// Writes Rhai scripts and a `siglearn.toml` naming them, champion first;
/// returns the config path.
pub(crate) fn lineup(dir: &Path, scripts: &[(&str, &str)], extra: &str) -> String {
    let mut config = format!("{extra}\n[experiment]\nchampion = \"{}\"\n", scripts[0].0);
    for (name, source) in scripts {
        write(dir, &format!("{name}.rhai"), source);
        config.push_str(&format!("[[strategies]]\nname = \"{name}\"\nscript = \"{name}.rhai\"\n"));
    }
    write(dir, "siglearn.toml", &config)
}

/// `siglearn replay` of `signals` over `candles` with `config`, and `extra` flags.
pub(crate) fn replay(candles: &str, signals: &str, config: &str, extra: &[&str]) -> anyhow::Result<()> {
    let mut args = vec!["replay", "--candles", candles, "--signals", signals, "--config", config];
    args.extend(extra);
    siglearn(&args)
}

/// The rows of the CSV at `path` whose `column` (ISO time) is before `cut`,
/// and the rest, as `<stem>-1.csv` and `<stem>-2.csv` in `dir`.
pub(crate) fn split_at(dir: &Path, path: &str, column: &str, cut: &str) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let index = header.split(',').position(|c| c == column).unwrap();
    let (mut before, mut after) = (format!("{header}\n"), format!("{header}\n"));
    for line in lines {
        let cell = line.split(',').nth(index).unwrap();
        let target = if millis(cell) < millis(cut) { &mut before } else { &mut after };
        target.push_str(line);
        target.push('\n');
    }
    let stem = Path::new(path).file_stem().unwrap().to_str().unwrap().to_owned();
    (write(dir, &format!("{stem}-1.csv"), &before), write(dir, &format!("{stem}-2.csv"), &after))
}

/// An ISO-8601 or epoch-ms time as epoch milliseconds.
fn millis(text: &str) -> i64 {
    siglearn::timestamp::parse_timestamp(text).unwrap().as_millis()
}
