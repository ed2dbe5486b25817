//! `siglearn replay`: signals over historical prices, outcomes and report out.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use siglearn_plugin_api::Signal;

use siglearn_plugin_api::Timestamp;

use super::{OutcomeArgs, PriceArgs, progress, warn_skipped};
use crate::analytics::{Report, Trials, build_report};
use crate::config::Config;
use crate::engine::{Engine, LineupSpec};
use crate::experiment::ab::AbTable;
use crate::format::{self, FormatError, ReadOptions, Series};
use crate::replay::{self, ReplayResult};
use crate::restore;
use crate::schedule::Schedule;
use crate::store::{Command, Store};
use crate::strategy::{load_lineup, resume_lineup};
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
    /// Strategies, experiment, schedule and outcome settings (siglearn.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write signals, outcomes, decisions, versions and job runs to this SQLite store.
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
    /// Write the A/B table of the strategies as JSON.
    #[arg(long, value_name = "FILE")]
    ab_out: Option<PathBuf>,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: ReplayArgs) -> anyhow::Result<()> {
    if args.prices.candles.is_empty() && args.ticks.is_empty() {
        bail!("no prices: pass --candles FILE... and/or --ticks FILE...");
    }
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    args.outcome.apply(&mut config);
    let inputs = Inputs::read(&args.prices, &args.ticks, &args.signals)?;
    let outputs = Outputs {
        trades: args.trades_out.as_deref(),
        report: args.report_out.as_deref(),
        ab: args.ab_out.as_deref(),
        json: args.json,
    };
    run_replay(inputs, args.db.as_deref(), &config, &outputs)?;
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
    pub(super) ab: Option<&'a Path>,
    pub(super) json: bool,
}

/// Replays with the configured strategies, writes the requested files and
/// prints the summary.
pub(super) fn run_replay(
    inputs: Inputs,
    db: Option<&Path>,
    config: &Config,
    outputs: &Outputs<'_>,
) -> anyhow::Result<Report> {
    let engine_config = config.engine();
    let start = first_time(&inputs).unwrap_or(Timestamp(0));
    let earlier = match db {
        Some(path) => restore::earlier_run(path, inputs.signals.iter().map(|s| s.id.as_str()))?,
        None => None,
    };
    let lineup = match &earlier {
        Some(reader) => resume_lineup(config, reader, start),
        None => load_lineup(config, start),
    }
    .map_err(|errors| {
        let listing: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
        anyhow::anyhow!("cannot load the strategies:\n{}", listing.join("\n"))
    })?;
    for problem in &lineup.problems {
        eprintln!("warning: {problem}\n  (the strategy runs its live version from the store instead)");
    }
    let store = match db {
        Some(path) => Some(
            Store::open(path, &engine_config.monitor)
                .with_context(|| format!("opening store {}", path.display()))?,
        ),
        None => None,
    };
    if let Some(store) = &store {
        for version in &lineup.versions {
            store.send(Command::InsertVersion(version.clone()))?;
        }
        if let Some(alias) = &lineup.alias {
            store.send(Command::MoveAlias(alias.clone()))?;
        }
    }
    let with_strategies = !lineup.members.is_empty();
    let schedule = if with_strategies {
        Some(Schedule::new(&config.schedule).map_err(|problems| anyhow::anyhow!(problems.join("; ")))?)
    } else {
        None
    };
    let mut engine = Engine::with_lineup(
        engine_config,
        LineupSpec { members: lineup.members, champion: lineup.champion, schedule },
    );
    if let Some(reader) = &earlier {
        let restored = restore::restore(&mut engine, reader, config.limits)?;
        eprintln!(
            "continuing {}: {} open signals watched again",
            reader.path().display(),
            restored.open_signals
        );
        for (strategy, version) in &restored.probations {
            eprintln!("{strategy} {version} continues its probation");
        }
        for (strategy, version) in &restored.cut_probations {
            eprintln!(
                "{strategy} {version} was on probation when the earlier run stopped, but the store holds no \
                 saved probation; it stays live without a shadow"
            );
        }
    }
    // Trials evaluated by the runs this one continues, counted before it
    // adds its own versions to the store.
    let tried_before = match &earlier {
        Some(reader) => Trials::versions_tried(&reader.versions_by_reason()?),
        None => 0,
    };
    let total = replay::event_count(&inputs.series, &inputs.signals);
    let signal_count = inputs.signals.len();
    let bar = progress::bar(total, "replay");
    let started = Instant::now();
    let result = replay::replay(&mut engine, &inputs.series, inputs.signals, store.as_ref(), |done| {
        bar.set_position(done)
    })
    .context("replay failed")?;
    bar.finish_and_clear();
    if let Some(store) = store {
        let at = engine.now().unwrap_or(start);
        if let Some((champion, tests)) = engine.tests() {
            store.send(Command::SaveTests { champion, tests, at })?;
        }
        store.send(Command::SaveProbations { probations: engine.probations(), at })?;
        for (strategy, version, state) in engine.checkpoints() {
            store.send(Command::SaveSnapshot { strategy, version, state, at, anchor: false })?;
        }
        let path = store.path().to_path_buf();
        store.close().with_context(|| format!("writing store {}", path.display()))?;
    }
    let elapsed = started.elapsed();
    let report = build_report(&result.trades, result.open.len());
    let tried =
        tried_before + result.versions.iter().filter(|version| Trials::counts(version.reason)).count();
    let ab = with_strategies.then(|| AbTable::of(&engine).with_versions(tried));
    let report = match &ab {
        Some(ab) => report.with_lineup(ab.selection.clone()),
        None => report,
    };
    write_outputs(&result.trades, &report, ab.as_ref(), outputs)?;
    if outputs.json {
        println!("{}", report.to_json_pretty());
    } else {
        print_header(&inputs.series, signal_count, &result, elapsed.as_secs_f64(), db);
        print!("{}", report.render_text());
        if let Some(ab) = &ab {
            print_strategy_news(&result);
            println!();
            print!("{}", ab.render_text());
        }
    }
    Ok(report)
}

/// The time of the first event of a replay.
fn first_time(inputs: &Inputs) -> Option<Timestamp> {
    let first_price = inputs.series.iter().filter_map(|s| s.prices.get(0)).map(|p| p.ts()).min();
    let first_signal = inputs.signals.iter().map(|s| s.entry_ts).min();
    first_price.into_iter().chain(first_signal).min()
}

/// Strategy failures, versions and jobs of a replay, briefly.
fn print_strategy_news(result: &ReplayResult) {
    println!();
    if result.failures > 0 {
        println!("Strategy errors: {} (first {} below)", result.failures, result.first_failures.len());
        for error in &result.first_failures {
            println!("  {error}");
        }
    }
    let jobs: Vec<String> = result.job_counts.iter().map(|(job, n)| format!("{n} {job}")).collect();
    if !jobs.is_empty() {
        println!("Jobs run: {}", jobs.join(", "));
    }
    let deployed = result
        .weekly_runs
        .iter()
        .filter(|run| run.figures.get("deployed").and_then(|d| d.as_bool()) == Some(true))
        .count();
    let judged = result.weekly_runs.iter().filter(|run| run.figures.get("deployed").is_some()).count();
    if judged > 0 {
        println!(
            "Weekly retraining: {deployed} of {judged} candidates beat the live strategy on their validation week and were deployed"
        );
    }
    if !result.probations.is_empty() {
        let listed: Vec<String> =
            result.probations.iter().map(|(verdict, n)| format!("{n} {verdict}")).collect();
        let rolled_back = result.probations.get("worse").copied().unwrap_or(0);
        println!("Probations of deploys: {}; {rolled_back} rolled back", listed.join(", "));
    }
    let mut by_reason: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for version in &result.versions {
        *by_reason.entry(version.reason.as_str()).or_default() += 1;
    }
    if !by_reason.is_empty() {
        let listed: Vec<String> = by_reason.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
        println!("Versions created: {}", listed.join(", "));
    }
}

fn write_outputs(
    trades: &[Trade],
    report: &Report,
    ab: Option<&AbTable>,
    outputs: &Outputs<'_>,
) -> anyhow::Result<()> {
    if let Some(path) = outputs.trades {
        format::write_trades(path, trades)?;
    }
    if let Some(path) = outputs.report {
        std::fs::write(path, report.to_json_pretty() + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = outputs.ab {
        let Some(ab) = ab else {
            bail!("--ab-out needs strategies: pass --config with a [[strategies]] list");
        };
        std::fs::write(path, ab.to_json_pretty() + "\n")
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
