//! `siglearn replay`: signals over historical prices, outcomes and report out.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use siglearn_plugin_api::Signal;

use siglearn_plugin_api::Timestamp;

use super::{OutcomeArgs, PriceArgs, progress, warn_skipped};
use crate::analytics::{Report, Trials, build_report_ordered, sort_in_exit_order};
use crate::config::Config;
use crate::engine::{Engine, LineupSpec};
use crate::experiment::ab::AbTable;
use crate::format::{self, FormatError, ReadOptions, Series};
use crate::replay::{self, ReplayResult};
use crate::restore;
use crate::schedule::Schedule;
use crate::store::{Command, Store, WriteLock};
use crate::strategy::{load_lineup, resume_lineup};
use crate::timestamp::format_duration;
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
    /// The length of one bar: `1h` for every candle series, or `SYMBOL=1d`
    /// for one (repeat the flag). A bar's outcomes are known at its close,
    /// its open time plus this. Default: the most common gap between a
    /// series' bars; needed for a series of a single bar.
    #[arg(long = "bar-interval", value_name = "[SYMBOL=]DURATION", value_parser = parse_bar_interval)]
    bar_interval: Vec<BarInterval>,
    /// Price files up to this many MiB in all (in the order given) are held
    /// in memory; the prices of the others stay in their files and are read
    /// a second time as the replay reaches them, so memory stops growing
    /// with the history. 0 reads every file twice.
    #[arg(long, value_name = "MIB", default_value_t = HOLD_PRICES_MIB)]
    hold_prices_mib: u64,
}

/// How many MiB of price files a replay holds in memory by default: at
/// about 70 bytes a candle row, some 3.8 million candles (seven symbols of
/// a year of one-minute bars), held in about 180 MB.
pub(super) const HOLD_PRICES_MIB: u64 = 256;

/// A `--bar-interval` value: for one symbol, or for every candle series.
#[derive(Debug, Clone, PartialEq)]
struct BarInterval {
    symbol: Option<String>,
    millis: i64,
}

fn parse_bar_interval(text: &str) -> Result<BarInterval, String> {
    let (symbol, duration) = match text.rsplit_once('=') {
        Some((symbol, duration)) if !symbol.is_empty() => (Some(symbol.to_owned()), duration),
        _ => (None, text),
    };
    let millis = parse_duration(duration)?;
    Ok(BarInterval { symbol, millis })
}

/// `90s`, `5m`, `1h`, `1d` or `1w` as milliseconds (a positive whole number
/// and a unit).
fn parse_duration(text: &str) -> Result<i64, String> {
    let refuse =
        || format!("{text:?} is not a bar length: use a whole number and s, m, h, d or w (e.g. 5m, 1h, 1d)");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(refuse)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| refuse())?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(refuse()),
    };
    match number.checked_mul(unit_ms) {
        Some(millis) if number > 0 && number <= 366 * 86_400_000 / unit_ms => Ok(millis),
        _ => Err(format!("{text:?} is not a bar length between one second and a year")),
    }
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
    let mut inputs = Inputs::read(&args.prices, &args.ticks, &args.signals, args.hold_prices_mib)?;
    inputs.set_intervals(&args.bar_interval)?;
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
    pub(super) fn read(
        prices: &PriceArgs,
        ticks: &[PathBuf],
        signals: &Path,
        hold_prices_mib: u64,
    ) -> anyhow::Result<Self> {
        let options = prices.read_options();
        // Bad rows and unknown symbols are gathered first and reported together.
        let gather = ReadOptions { skip_invalid: true };
        // The signals are read beside the prices; a problem with the prices
        // is still reported first.
        let (read_prices, read_signals) = std::thread::scope(|scope| {
            let signals = scope.spawn(|| format::read_signals(signals, gather));
            let prices =
                format::scan_prices(&prices.candles, ticks, options, hold_prices_mib.saturating_mul(1 << 20));
            (prices, signals.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        });
        let (series, skipped_prices) = read_prices.context("reading prices")?;
        warn_skipped(&skipped_prices);
        let file = read_signals.context("reading signals")?;
        let (signals, skipped_signals) = replay::signals_with_prices(file, &series, gather)?;
        if !options.skip_invalid && !skipped_signals.is_empty() {
            return Err(FormatError::InvalidRows { errors: skipped_signals }).context("reading signals");
        }
        warn_skipped(&skipped_signals);
        Ok(Inputs { series, signals })
    }

    /// Puts the bar lengths given on the command line over the inferred
    /// ones: a symbol's own value over the value for all, whatever their
    /// order. A length shorter than the most common gap between a series'
    /// bars is refused: its bars would be known before they closed.
    fn set_intervals(&mut self, given: &[BarInterval]) -> anyhow::Result<()> {
        let mut named = std::collections::HashSet::new();
        for symbol in given.iter().filter_map(|one| one.symbol.as_deref()) {
            if !named.insert(symbol) {
                bail!("--bar-interval names {symbol} twice; give each symbol one bar length");
            }
        }
        if given.iter().filter(|one| one.symbol.is_none()).count() > 1 {
            bail!(
                "--bar-interval gives more than one length for every series; give one, and SYMBOL=LENGTH for the others"
            );
        }
        let mut ordered: Vec<&BarInterval> = given.iter().collect();
        // The value for all first, so that a symbol's own value wins.
        ordered.sort_by_key(|one| one.symbol.is_some());
        for one in ordered {
            let bars = self.series.iter_mut().filter(|s| !s.prices.are_ticks());
            let mut matched = 0;
            for series in
                bars.filter(|s| one.symbol.as_deref().is_none_or(|symbol| s.symbol.as_str() == symbol))
            {
                if let Some(gap) = series.prices.usual_gap().filter(|&gap| one.millis < gap) {
                    let (given, usual) = (format_duration(one.millis), format_duration(gap));
                    bail!(
                        "--bar-interval {}: {given} is shorter than the usual gap between {}'s bars \
                         ({usual}), so its bars would be known before they closed; give {}={usual} or longer",
                        one.symbol.as_deref().unwrap_or("(all)"),
                        series.symbol,
                        series.symbol
                    );
                }
                series.interval_ms = Some(one.millis);
                matched += 1;
            }
            if matched == 0 {
                let known: Vec<&str> = self.series.iter().map(|s| s.symbol.as_str()).collect();
                bail!(
                    "--bar-interval {}: no candles of that symbol; the candle files cover {}",
                    one.symbol.as_deref().unwrap_or("(all)"),
                    known.join(", ")
                );
            }
        }
        Ok(())
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
    // A replay's results must not depend on the machine's speed: operation
    // budgets decide, and the time budgets (the daemon's safety net) are off.
    let config = &Config { limits: config.limits.without_time_budgets(), ..config.clone() };
    let engine_config = config.engine();
    let start = first_time(&inputs).unwrap_or(Timestamp(0));
    // The write lock before anything is read from the store to decide: a
    // store a daemon (or another replay) writes is refused as such.
    let lock = match db {
        Some(path) => {
            Some(WriteLock::acquire(path).with_context(|| format!("opening store {}", path.display()))?)
        }
        None => None,
    };
    let earlier = match db {
        Some(path) => restore::earlier_run(path, inputs.signals.iter().map(|s| s.id.as_str()))?,
        None => None,
    };
    if let Some(reader) = &earlier {
        super::warn_out_of_range(reader)?;
    }
    if let (Some(reader), Some(first)) = (&earlier, first_event(&inputs)) {
        if let Some(clock) = reader.last_clock()?.filter(|&clock| first < clock) {
            bail!(
                "the new data starts at {} (its first signal, or the close of its first bar), before {} \
                 where the run stored in {} ended (its last bar closed then); a continued replay takes \
                 only what came after: give the first part only bars that closed before the second part \
                 starts (split candle files where every series' bars end, e.g. at midnight UTC for \
                 hourly and daily bars)",
                crate::timestamp::format_timestamp(first),
                crate::timestamp::format_timestamp(clock),
                reader.path().display()
            );
        }
    }
    let lineup = match &earlier {
        Some(reader) => resume_lineup(config, reader, start),
        None => load_lineup(config, start),
    }
    .map_err(|errors| {
        let listing: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
        anyhow::anyhow!("cannot load the strategies:\n{}", listing.join("\n"))
    })?;
    // A continued replay must be the run it continues: every strategy or none.
    if !lineup.failed.is_empty() {
        let listing: Vec<String> = lineup.failed.iter().map(|e| format!("  - {e}")).collect();
        anyhow::bail!("cannot restore the strategies of the store:\n{}", listing.join("\n"));
    }
    for problem in &lineup.problems {
        errln!("warning: {problem}\n  (the strategy runs its live version from the store instead)");
    }
    let store = match lock {
        Some(lock) => {
            let path = lock.store().to_path_buf();
            Some(
                Store::open_locked(lock, &engine_config.monitor)
                    .with_context(|| format!("opening store {}", path.display()))?,
            )
        }
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
        errln!(
            "continuing {}: {} open signals watched again",
            reader.path().display(),
            restored.open_signals
        );
        for (strategy, version) in &restored.probations {
            errln!("{strategy} {version} continues its probation");
        }
        for problem in &restored.problems {
            errln!("warning: {problem}");
        }
        for (strategy, version) in &restored.cut_probations {
            errln!(
                "{strategy} {version} was on probation when the earlier run stopped, but the store holds no \
                 saved probation; it stays live without a shadow"
            );
        }
        // Code changed since the earlier run: deployed as a hot reload.
        let deployed = restore::deploy(&mut engine, lineup.deploys, start);
        for deploy in &deployed.deploys {
            errln!("{deploy}");
        }
        for problem in &deployed.refused {
            errln!("warning: {problem}\n  (the strategy runs its live version from the store instead)");
        }
        if let Some(store) = &store {
            for command in deployed.commands {
                store.send(command)?;
            }
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
        for checkpoint in engine.checkpoints() {
            match checkpoint {
                Ok((strategy, version, state)) => {
                    store.send(Command::SaveSnapshot { strategy, version, state, at, anchor: false })?
                }
                Err(error) => {
                    errln!(
                        "warning: {error}\n  (its state is not saved; a continued replay resumes from its last good one)"
                    );
                    store.send(Command::InsertStrategyError { error, at })?;
                }
            }
        }
        let path = store.path().to_path_buf();
        store.close().with_context(|| format!("writing store {}", path.display()))?;
    }
    let elapsed = started.elapsed();
    let mut ordered: Vec<&Trade> = result.trades.iter().collect();
    sort_in_exit_order(&mut ordered);
    // The trades file is written on a thread of its own while the report is
    // computed: both read the same ordered trades.
    let (report, written) = std::thread::scope(|scope| {
        let writer = outputs.trades.map(|path| {
            let ordered = &ordered;
            scope.spawn(move || format::write_trades(path, ordered))
        });
        let report = build_report_ordered(&ordered, result.open.len());
        let written =
            writer.map(|writer| writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        (report, written)
    });
    written.transpose()?;
    let tried =
        tried_before + result.versions.iter().filter(|version| Trials::counts(version.reason)).count();
    let ab = with_strategies.then(|| AbTable::of(&engine).with_versions(tried));
    let report = match &ab {
        Some(ab) => report.with_lineup(ab.selection.clone()),
        None => report,
    };
    write_outputs(&report, ab.as_ref(), outputs)?;
    if outputs.json {
        outln!("{}", report.to_json_pretty());
    } else {
        print_header(&inputs.series, signal_count, &result, elapsed.as_secs_f64(), db);
        print_rules(&inputs.series, &config.outcomes);
        out!("{}", report.render_text());
        if let Some(ab) = &ab {
            print_strategy_news(&result);
            outln!();
            out!("{}", ab.render_text());
        }
    }
    // A replay is the last thing its process does: freeing a million trades
    // one allocation at a time would cost more than writing them, and the
    // operating system takes the memory back at exit anyway.
    drop(ordered);
    std::mem::forget(result);
    Ok(report)
}

/// The time of the first event the engine sees: the first signal's entry
/// or the first bar's close (a tick's time).
fn first_event(inputs: &Inputs) -> Option<Timestamp> {
    first_of(inputs, |series| series.interval_ms.unwrap_or(0))
}

/// The time of the first event of a replay, by the first bar's open.
fn first_time(inputs: &Inputs) -> Option<Timestamp> {
    first_of(inputs, |_| 0)
}

/// The earliest of the first signal's entry and each series' first price
/// time plus `offset` of that series.
fn first_of(inputs: &Inputs, offset: impl Fn(&Series) -> i64) -> Option<Timestamp> {
    let first_price = inputs.series.iter().filter_map(|s| Some(s.prices.first_ts()? + offset(s))).min();
    let first_signal = inputs.signals.iter().map(|s| s.entry_ts).min();
    first_price.into_iter().chain(first_signal).min()
}

/// Strategy failures, versions and jobs of a replay, briefly.
fn print_strategy_news(result: &ReplayResult) {
    outln!();
    if result.failures > 0 {
        outln!("Strategy errors: {} (first {} below)", result.failures, result.first_failures.len());
        for error in &result.first_failures {
            outln!("  {error}");
        }
    }
    let jobs: Vec<String> = result.job_counts.iter().map(|(job, n)| format!("{n} {job}")).collect();
    if !jobs.is_empty() {
        outln!("Jobs run: {}", jobs.join(", "));
    }
    let deployed = result
        .weekly_runs
        .iter()
        .filter(|run| run.figures.get("deployed").and_then(|d| d.as_bool()) == Some(true))
        .count();
    let judged = result.weekly_runs.iter().filter(|run| run.figures.get("deployed").is_some()).count();
    if judged > 0 {
        outln!(
            "Weekly retraining: {deployed} of {judged} candidates passed the deploy gate (beat the live strategy on their validation week, sign-flip test on day sums) and were deployed"
        );
    }
    if !result.probations.is_empty() {
        let listed: Vec<String> =
            result.probations.iter().map(|(verdict, n)| format!("{n} {verdict}")).collect();
        let rolled_back = result.probations.get("worse").copied().unwrap_or(0);
        outln!("Probations of deploys: {}; {rolled_back} rolled back", listed.join(", "));
    }
    let mut by_reason: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for version in &result.versions {
        *by_reason.entry(version.reason.as_str()).or_default() += 1;
    }
    if !by_reason.is_empty() {
        let listed: Vec<String> = by_reason.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
        outln!("Versions created: {}", listed.join(", "));
    }
}

/// Writes the report and A/B files asked for (the trades file is written
/// beside the report, in [`run_replay`]).
fn write_outputs(report: &Report, ab: Option<&AbTable>, outputs: &Outputs<'_>) -> anyhow::Result<()> {
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

/// The rules the outcomes were decided by: the fee, the ambiguity policy,
/// and when each series' bars became known.
fn print_rules(series: &[Series], outcomes: &crate::config::OutcomesConfig) {
    let mut lengths: Vec<String> = Vec::new();
    for one in series {
        let length = match one.interval_ms {
            Some(0) => "ticks".to_owned(),
            Some(ms) => crate::timestamp::format_duration(ms),
            None => "?".to_owned(),
        };
        lengths.push(format!("{} {length}", one.symbol));
    }
    let shown = if lengths.len() > 6 {
        format!("{}, ... ({} series)", lengths[..6].join(", "), lengths.len())
    } else {
        lengths.join(", ")
    };
    outln!(
        "Rules: fee {}% per side ({}% a trade), ambiguous bars {}; bars known at their close ({shown})",
        outcomes.fee_pct,
        outcomes.fee_pct * 2.0,
        outcomes.ambiguity
    );
    outln!();
}

fn print_header(series: &[Series], signals: usize, result: &ReplayResult, seconds: f64, db: Option<&Path>) {
    let prices: usize = series.iter().map(|s| s.prices.len()).sum();
    outln!(
        "Replayed {} events ({} prices of {} symbols, {} signals) in {:.2} s ({:.0} events/s)",
        result.events,
        prices,
        series.len(),
        signals,
        seconds,
        result.events as f64 / seconds.max(1e-9)
    );
    outln!("Closed {} signals; {} still open when the data ended.", result.trades.len(), result.open.len());
    if let Some(db) = db {
        outln!("Store: {}", db.display());
    }
    outln!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily(symbol: &str) -> Series {
        let bars = (0..3)
            .map(|d| siglearn_plugin_api::Bar {
                ts: Timestamp(d * 86_400_000),
                open: 1.0,
                high: 1.0,
                low: 1.0,
                close: 1.0,
                volume: 0.0,
            })
            .collect();
        Series::new(
            siglearn_plugin_api::Symbol::new(symbol),
            PathBuf::from("d.csv"),
            format::Prices::Bars(bars),
        )
    }

    #[test]
    fn a_symbols_own_bar_length_wins_and_a_shorter_one_than_its_bars_is_refused() {
        let given = |texts: &[&str]| -> Vec<BarInterval> {
            texts.iter().map(|t| parse_bar_interval(t).unwrap()).collect()
        };
        let lengths = |texts: &[&str]| -> anyhow::Result<Vec<Option<i64>>> {
            let mut inputs = Inputs { series: vec![daily("A"), daily("B")], signals: Vec::new() };
            inputs.set_intervals(&given(texts))?;
            Ok(inputs.series.iter().map(|s| s.interval_ms).collect())
        };
        let (day, week) = (Some(86_400_000), Some(7 * 86_400_000));
        // Whatever the order, B's own length wins over the one for all.
        assert_eq!(lengths(&["B=1w", "2d"]).unwrap(), [Some(2 * 86_400_000), week]);
        assert_eq!(lengths(&["2d", "B=1w"]).unwrap(), [Some(2 * 86_400_000), week]);
        assert_eq!(lengths(&[]).unwrap(), [day, day]);
        let error = lengths(&["A=1h"]).unwrap_err().to_string();
        assert!(
            error.contains("shorter than the usual gap between A's bars (1d)") && error.contains("A=1d"),
            "{error}"
        );
        assert!(lengths(&["1h"]).is_err(), "shorter for all");
        assert!(lengths(&["A=1d", "A=2d"]).unwrap_err().to_string().contains("names A twice"));
        assert!(lengths(&["1d", "2d"]).is_err());
    }

    #[test]
    fn bar_intervals_name_a_symbol_or_all() {
        assert_eq!(parse_bar_interval("1h"), Ok(BarInterval { symbol: None, millis: 3_600_000 }));
        assert_eq!(
            parse_bar_interval("BTC-USD=5m"),
            Ok(BarInterval { symbol: Some("BTC-USD".into()), millis: 300_000 })
        );
        assert_eq!(parse_duration("2d"), Ok(172_800_000));
        assert_eq!(parse_duration("1w"), Ok(604_800_000));
        assert_eq!(parse_duration("30s"), Ok(30_000));
        for bad in ["", "h", "1", "1.5h", "-1h", "0m", "1y", "99999999999999w", "400d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_bar_interval("X=").is_err());
    }
}
