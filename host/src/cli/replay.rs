//! `siglearn replay`: signals over historical prices, outcomes and report out.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use siglearn_plugin_api::Signal;

use super::{OutcomeArgs, PriceArgs, progress, warn_skipped};
use crate::analytics::{Report, build_report};
use crate::engine::EngineConfig;
use crate::format::{self, FormatError, ReadOptions, Series};
use crate::replay::{self, ReplayResult};
use crate::store::{Store, StoreReader};
use crate::trade::Trade;

#[derive(Debug, Args)]
pub(super) struct ReplayArgs {
    #[command(flatten)]
    prices: PriceArgs,
    /// Tick files (CSV: symbol,ts,price).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    ticks: Vec<PathBuf>,
    /// Signals file (CSV, or JSON Lines with a .jsonl extension).
    #[arg(long, value_name = "FILE")]
    signals: PathBuf,
    /// Write signals and outcomes to this SQLite store (default: memory only).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    #[command(flatten)]
    outcome: OutcomeArgs,
    /// Write one CSV row per closed signal.
    #[arg(long, value_name = "FILE")]
    trades_out: Option<PathBuf>,
    /// Write the report as JSON.
    #[arg(long, value_name = "FILE")]
    report_out: Option<PathBuf>,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: ReplayArgs) -> anyhow::Result<()> {
    if args.prices.candles.is_empty() && args.ticks.is_empty() {
        bail!("no prices: pass --candles FILE... and/or --ticks FILE...");
    }
    let inputs = Inputs::read(&args.prices, &args.ticks, &args.signals)?;
    let outputs =
        Outputs { trades: args.trades_out.as_deref(), report: args.report_out.as_deref(), json: args.json };
    run_replay(inputs, args.db.as_deref(), EngineConfig { monitor: args.outcome.monitor() }, &outputs)?;
    Ok(())
}

/// Validated prices and signals.
pub(super) struct Inputs {
    pub(super) series: Vec<Series>,
    pub(super) signals: Vec<Signal>,
}

impl Inputs {
    pub(super) fn read(prices: &PriceArgs, ticks: &[PathBuf], signals: &Path) -> anyhow::Result<Self> {
        let options = prices.read_options();
        let (series, skipped_prices) =
            format::read_prices(&prices.candles, ticks, options).context("reading prices")?;
        warn_skipped(&skipped_prices);
        // Bad rows and unknown symbols are gathered first and reported together.
        let gather = ReadOptions { skip_invalid: true };
        let file = format::read_signals(signals, gather).context("reading signals")?;
        let (signals, skipped_signals) = replay::signals_with_prices(file, &series, gather)?;
        if !options.skip_invalid && !skipped_signals.is_empty() {
            return Err(FormatError::InvalidRows { errors: skipped_signals }).context("reading signals");
        }
        warn_skipped(&skipped_signals);
        Ok(Inputs { series, signals })
    }
}

/// Where a replay's results go.
pub(super) struct Outputs<'a> {
    pub(super) trades: Option<&'a Path>,
    pub(super) report: Option<&'a Path>,
    pub(super) json: bool,
}

/// Replays, writes the requested files and prints the summary.
pub(super) fn run_replay(
    inputs: Inputs,
    db: Option<&Path>,
    config: EngineConfig,
    outputs: &Outputs<'_>,
) -> anyhow::Result<Report> {
    let store = match db {
        Some(path) => Some(open_empty_store(path, &config)?),
        None => None,
    };
    let total = replay::event_count(&inputs.series, &inputs.signals);
    let signal_count = inputs.signals.len();
    let bar = progress::bar(total, "replay");
    let started = Instant::now();
    let result =
        replay::replay(&inputs.series, inputs.signals, config, store.as_ref(), |done| bar.set_position(done))
            .context("replay failed")?;
    bar.finish_and_clear();
    if let Some(store) = store {
        let path = store.path().to_path_buf();
        store.close().with_context(|| format!("writing store {}", path.display()))?;
    }
    let elapsed = started.elapsed();
    let report = build_report(&result.trades, result.open.len());
    write_outputs(&result.trades, &report, outputs)?;
    if outputs.json {
        println!("{}", report.to_json_pretty());
    } else {
        print_header(&inputs.series, signal_count, &result, elapsed.as_secs_f64(), db);
        print!("{}", report.render_text());
    }
    Ok(report)
}

fn open_empty_store(path: &Path, config: &EngineConfig) -> anyhow::Result<Store> {
    if path.exists() {
        let held = StoreReader::open(path)
            .and_then(|reader| reader.signal_count())
            .with_context(|| format!("{} exists but is not a siglearn store", path.display()))?;
        if held > 0 {
            bail!(
                "store {} already holds {held} signals from an earlier run; replay into a new --db file \
                 (or delete this one)",
                path.display()
            );
        }
    }
    Store::open(path, &config.monitor).with_context(|| format!("opening store {}", path.display()))
}

fn write_outputs(trades: &[Trade], report: &Report, outputs: &Outputs<'_>) -> anyhow::Result<()> {
    if let Some(path) = outputs.trades {
        format::write_trades(path, trades)?;
    }
    if let Some(path) = outputs.report {
        std::fs::write(path, report.to_json_pretty() + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn print_header(series: &[Series], signals: usize, result: &ReplayResult, seconds: f64, db: Option<&Path>) {
    let prices: usize = series.iter().map(|s| s.prices.len()).sum();
    println!(
        "Replayed {} events ({} prices of {} symbols, {} signals) in {:.2} s ({:.0} events/s)",
        result.events,
        prices,
        series.len(),
        signals,
        seconds,
        result.events as f64 / seconds.max(1e-9)
    );
    println!("Closed {} signals; {} still open when the data ended.", result.trades.len(), result.open.len());
    if let Some(db) = db {
        println!("Store: {}", db.display());
    }
    println!();
}
