//! `siglearn demo`: the whole loop on real candles bundled in the binary.
//!
//! Writes the candles, the shipped strategies and their configuration,
//! generates signals, replays them with the strategies A/B into a store, and
//! prints the report and the A/B table; every file lands in one folder, and
//! the commands that reproduce the run by hand are printed at the end.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::generate::{GeneratorArgs, generate_all};
use super::replay::{Inputs, Outputs, run_replay};
use super::{OutcomeArgs, PriceArgs};
use crate::config::Config;
use crate::format;

/// The bundled candles (Apache-2.0 and MIT sourced; see host/data/demo/README.md).
const CANDLES: [(&str, &str); 5] = [
    ("BTC-USD_1h.csv", include_str!("../../data/demo/BTC-USD_1h.csv")),
    ("ETH-USD_1d.csv", include_str!("../../data/demo/ETH-USD_1d.csv")),
    ("LTC-USD_1d.csv", include_str!("../../data/demo/LTC-USD_1d.csv")),
    ("SPY_1d.csv", include_str!("../../data/demo/SPY_1d.csv")),
    ("BTC-USDT_1m.csv", include_str!("../../data/demo/BTC-USDT_1m.csv")),
];
const ATTRIBUTION: &str = include_str!("../../data/demo/README.md");

/// The shipped strategies and the example configuration that runs them A/B.
pub(super) const SCRIPTS: [(&str, &str); 5] = [
    ("baseline.rhai", include_str!("../../../scripts/baseline.rhai")),
    ("adaptive_threshold.rhai", include_str!("../../../scripts/adaptive_threshold.rhai")),
    ("head_weights.rhai", include_str!("../../../scripts/head_weights.rhai")),
    ("pattern_filter.rhai", include_str!("../../../scripts/pattern_filter.rhai")),
    ("indicator_weights.rhai", include_str!("../../../scripts/indicator_weights.rhai")),
];
pub(super) const CONFIG: &str = include_str!("../../../siglearn.example.toml");

#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// The folder the demo writes its files to.
    #[arg(long, value_name = "DIR", default_value = "siglearn-demo")]
    out: PathBuf,
    #[command(flatten)]
    outcome: OutcomeArgs,
    #[command(flatten)]
    generator: GeneratorArgs,
}

pub(super) fn run(args: DemoArgs) -> anyhow::Result<()> {
    let out = &args.out;
    let candles_dir = out.join("candles");
    std::fs::create_dir_all(&candles_dir)
        .with_context(|| format!("cannot create {}", candles_dir.display()))?;
    let mut candle_files = Vec::new();
    for (name, text) in CANDLES {
        let path = candles_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        candle_files.push(path);
    }
    std::fs::write(candles_dir.join("README.md"), ATTRIBUTION)?;
    let scripts_dir = out.join("scripts");
    std::fs::create_dir_all(&scripts_dir)
        .with_context(|| format!("cannot create {}", scripts_dir.display()))?;
    for (name, text) in SCRIPTS {
        std::fs::write(scripts_dir.join(name), text)?;
    }
    let config_path = out.join("siglearn.toml");
    std::fs::write(&config_path, CONFIG)?;

    let prices = PriceArgs { candles: candle_files, skip_invalid: false };
    let (series, _) = format::read_prices(&prices.candles, &[], prices.read_options())?;
    let signals_path = out.join("signals.csv");
    let signals = generate_all(&series, &args.generator.config()?)?;
    format::write_signals(&signals_path, &signals)?;

    let db = out.join("siglearn.db");
    // Under its write lock: a store a daemon holds is refused, not removed.
    let lock = crate::store::WriteLock::acquire(&db)?;
    remove_store(&db)?;
    drop(lock);
    let (trades, report, ab) = (out.join("trades.csv"), out.join("report.json"), out.join("ab.json"));
    let inputs = Inputs::read(&prices, &[], &signals_path, super::replay::HOLD_PRICES_MIB)?;
    let outputs = Outputs { trades: Some(&trades), report: Some(&report), ab: Some(&ab), json: false };
    let mut config = Config::load(&config_path)?;
    args.outcome.apply(&mut config);
    run_replay(inputs, Some(&db), &config, &outputs)?;

    outln!("\nDemo files in {}:", out.display());
    for (path, what) in [
        (&candles_dir, "bundled real candles, with their sources and licences"),
        (&scripts_dir, "the five shipped learning strategies (Rhai)"),
        (&config_path, "the configuration that runs them A/B"),
        (&signals_path, "signals from the built-in nine-head generator"),
        (&db, "SQLite store: signals, outcomes, decisions, versions, jobs"),
        (&trades, "one row per closed signal"),
        (&report, "the report above, as JSON"),
        (&ab, "the A/B table above, as JSON"),
    ] {
        outln!("  {:<28} {what}", path.display().to_string());
    }
    outln!("\nReproduce by hand:");
    outln!("  siglearn generate --candles {}/*.csv --out {}", candles_dir.display(), signals_path.display());
    outln!(
        "  siglearn replay --config {} --candles {}/*.csv --signals {} --trades-out {} --report-out {} --ab-out {}",
        config_path.display(),
        candles_dir.display(),
        signals_path.display(),
        trades.display(),
        report.display(),
        ab.display()
    );
    outln!("  siglearn report --db {}", db.display());
    outln!("  siglearn strategies --db {}", db.display());
    Ok(())
}

/// Removes the store an earlier demo left, so the demo can run again.
fn remove_store(db: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
    Ok(())
}
