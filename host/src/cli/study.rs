//! `siglearn study promotion`: does the promotion test keep its promise on
//! real, clustered outcomes? Runs the lineup study of
//! [`crate::experiment::lineup_study`] for the test before blocks (old) and
//! today's (new), side by side.
//!
//! Each candle file is one data set: its signals come from the built-in
//! generator, their outcomes from the engine's monitor (a replay with no
//! strategies). On each, lineups of coin strategies (a pair, and five coins)
//! drawing a coin per signal, per hour, per 4 hours and per day are run
//! `--runs` times; every promotion among coins is false. On `siglearn
//! synth` data (`--seeds` seeds, defaults otherwise) the shipped
//! `head_weights` runs against `baseline`, with the planted edge (power)
//! and with none (edge 0: every promotion is false), alone and in the
//! example lineup of five.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use siglearn_plugin_api::StrategyId;

use crate::config::Config;
use crate::engine::{Engine, EngineConfig, replay_window};
use crate::experiment::lineup_study::{
    Coin, Outcome, Promoted, Rule, RuleFigures, coin_study, first_promotion, lag1_autocorrelation,
};
use crate::experiment::sequential::SequentialConfig;
use crate::format::{Prices, ReadOptions, Series, read_prices};
use crate::generate::{GeneratorConfig, generate};
use crate::strategy::Strategy;
use crate::strategy::script::{Limits, ScriptStrategy};
use crate::synth::{SynthConfig, synthesize};
use crate::trade::Trade;

#[derive(Debug, Args)]
pub(super) struct StudyArgs {
    #[command(subcommand)]
    study: Study,
}

#[derive(Debug, Subcommand)]
enum Study {
    /// False promotions, power and delay of the promotion test, old and new.
    Promotion(PromotionArgs),
}

#[derive(Debug, Args)]
pub(super) struct PromotionArgs {
    /// Candle files; each is one data set (signals from the built-in generator).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    candles: Vec<PathBuf>,
    /// Runs (different coins) per data set, coin and lineup.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Synth seeds for the head_weights runs (0: none).
    #[arg(long, default_value_t = 8)]
    seeds: u64,
    /// Print the figures as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// The coins of the study.
const COINS: [Coin; 4] = [Coin::Signal, Coin::Minutes(60), Coin::Minutes(240), Coin::Minutes(1440)];
/// Lineup sizes of coins: a pair, and a champion with four challengers.
const LINEUPS: [usize; 2] = [2, 5];

/// One data set's figures for one coin and lineup size.
#[derive(Clone, Debug, Serialize)]
pub(super) struct CoinRow {
    pub(super) data: String,
    pub(super) coin: String,
    pub(super) strategies: usize,
    pub(super) old: RuleFigures,
    pub(super) new: RuleFigures,
}

/// A data set: its outcomes and what they look like.
#[derive(Clone, Debug, Serialize)]
pub(super) struct DataSet {
    pub(super) name: String,
    pub(super) signals: usize,
    pub(super) days: f64,
    pub(super) lag1_autocorrelation: Option<f64>,
    #[serde(skip)]
    pub(super) trades: Vec<Trade>,
}

/// One learning-strategy lineup over the synth seeds.
#[derive(Clone, Debug, Serialize)]
pub(super) struct LearnerRow {
    pub(super) data: String,
    pub(super) lineup: String,
    /// Runs in which head_weights was the first promotion.
    pub(super) old: RuleFigures,
    pub(super) new: RuleFigures,
    /// Runs in which anything was promoted.
    pub(super) old_any: usize,
    pub(super) new_any: usize,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct PromotionStudy {
    pub(super) runs: usize,
    pub(super) alpha: f64,
    pub(super) data: Vec<DataSet>,
    pub(super) coins: Vec<CoinRow>,
    pub(super) learners: Vec<LearnerRow>,
}

pub(super) fn run(args: StudyArgs) -> anyhow::Result<()> {
    let Study::Promotion(args) = args.study;
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let config = SequentialConfig::default();
    let mut data = Vec::new();
    for path in &args.candles {
        let (series, _) = read_prices(std::slice::from_ref(path), &[], ReadOptions { skip_invalid: true })
            .with_context(|| format!("cannot read {}", path.display()))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        data.push(real_data_set(&name, &series)?);
    }
    for seed in 1..=args.seeds {
        let synth = synthesize(&SynthConfig { seed, edge: 0.0, ..SynthConfig::default() });
        data.push(data_set(&format!("synth-noedge-{seed}"), &synth.series, synth.signals)?);
    }
    let coins = coin_rows(&data, args.runs, config);
    let learners = if args.seeds > 0 { learner_rows(args.seeds, config)? } else { Vec::new() };
    let study = PromotionStudy { runs: args.runs, alpha: config.alpha, data, coins, learners };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&study)?);
    } else {
        print!("{}", table(&study));
    }
    Ok(())
}

/// Signals from the generator on `series`, decided by the monitor.
pub(super) fn real_data_set(name: &str, series: &[Series]) -> anyhow::Result<DataSet> {
    let mut signals = Vec::new();
    for one in series {
        let Prices::Bars(bars) = &one.prices else { bail!("{name} has ticks; the generator needs candles") };
        signals.extend(generate(&one.symbol, bars, &GeneratorConfig::default()));
    }
    data_set(name, series, signals)
}

/// `signals` over `series` through an engine with no strategies.
fn data_set(
    name: &str,
    series: &[Series],
    signals: Vec<siglearn_plugin_api::Signal>,
) -> anyhow::Result<DataSet> {
    let mut engine = Engine::new(EngineConfig::default());
    let result = crate::replay::replay(&mut engine, series, signals, None, |_| {})?;
    let mut trades = result.trades;
    trades.sort_by(|a, b| (a.signal.entry_ts, &a.signal.id).cmp(&(b.signal.entry_ts, &b.signal.id)));
    let outcomes = outcomes(&trades);
    let span = outcomes.iter().map(|o| o.entry_ts.as_millis()).max().unwrap_or(0)
        - outcomes.iter().map(|o| o.entry_ts.as_millis()).min().unwrap_or(0);
    Ok(DataSet {
        name: name.to_owned(),
        signals: trades.len(),
        days: span as f64 / 86_400_000.0,
        lag1_autocorrelation: lag1_autocorrelation(&outcomes),
        trades,
    })
}

fn outcomes(trades: &[Trade]) -> Vec<Outcome> {
    trades
        .iter()
        .map(|t| Outcome {
            entry_ts: t.signal.entry_ts,
            closed_at: t.outcome.exit_ts,
            pnl_pct: t.outcome.pnl_pct,
        })
        .collect()
}

/// Every data set × coin × lineup size.
pub(super) fn coin_rows(data: &[DataSet], runs: usize, config: SequentialConfig) -> Vec<CoinRow> {
    let mut rows = Vec::new();
    for (d, set) in data.iter().enumerate() {
        let outcomes = outcomes(&set.trades);
        for coin in COINS {
            for strategies in LINEUPS {
                let seed = (d as u64) << 32 | (strategies as u64) << 16 | coin_seed(coin);
                let (old, new) = coin_study(&outcomes, coin, strategies, runs, seed, config);
                rows.push(CoinRow { data: set.name.clone(), coin: coin.label(), strategies, old, new });
            }
        }
    }
    rows
}

fn coin_seed(coin: Coin) -> u64 {
    match coin {
        Coin::Signal => 1,
        Coin::Minutes(minutes) => minutes as u64,
    }
}

/// head_weights against baseline, and the example lineup, on synth seeds
/// with and without the planted edge.
fn learner_rows(seeds: u64, config: SequentialConfig) -> anyhow::Result<Vec<LearnerRow>> {
    let example = Config::parse(super::demo::CONFIG).map_err(|e| anyhow::anyhow!("{}", e.join("; ")))?;
    let lineups: [(&str, Vec<&str>); 2] = [
        ("baseline vs head_weights", vec!["baseline", "head_weights"]),
        (
            "example lineup of five",
            vec!["baseline", "adaptive_threshold", "head_weights", "pattern_filter", "indicator_weights"],
        ),
    ];
    let mut rows = Vec::new();
    for edge in [SynthConfig::default().edge, 0.0] {
        let mut runs: Vec<Vec<[Option<Promoted>; 2]>> = vec![Vec::new(); lineups.len()];
        let mut start = None;
        for seed in 1..=seeds {
            let synth = synthesize(&SynthConfig { seed, edge, ..SynthConfig::default() });
            let set = data_set("synth", &synth.series, synth.signals)?;
            // Each outcome is learned at the close of the bar that decided it.
            let interval = |symbol: &siglearn_plugin_api::Symbol| {
                synth.series.iter().find(|s| &s.symbol == symbol).and_then(|s| s.interval_ms).unwrap_or(0)
            };
            let trades: Vec<(&Trade, siglearn_plugin_api::Timestamp)> = set
                .trades
                .iter()
                .map(|trade| (trade, trade.outcome.exit_ts + interval(&trade.signal.symbol)))
                .collect();
            let outcomes = outcomes(&set.trades);
            start = start.or(outcomes.first().map(|o| o.entry_ts));
            for (l, (_, names)) in lineups.iter().enumerate() {
                let takes: Vec<Vec<bool>> =
                    names.iter().map(|name| takes(name, &example, &trades)).collect::<anyhow::Result<_>>()?;
                let old = first_promotion(&outcomes, &takes, Rule::Old, config);
                let new = first_promotion(&outcomes, &takes, Rule::Blocked, config);
                runs[l].push([old, new]);
            }
        }
        let start = start.unwrap_or(siglearn_plugin_api::Timestamp(0));
        for (l, (label, names)) in lineups.iter().enumerate() {
            let head_weights = names.iter().position(|n| *n == "head_weights").unwrap_or(0);
            let of = |rule: usize| -> Vec<Option<Promoted>> {
                runs[l].iter().map(|r| r[rule].filter(|p| p.seat == head_weights)).collect()
            };
            let any = |rule: usize| runs[l].iter().filter(|r| r[rule].is_some()).count();
            rows.push(LearnerRow {
                data: format!("synth edge {edge}"),
                lineup: (*label).to_owned(),
                old: RuleFigures::of(&of(0), start),
                new: RuleFigures::of(&of(1), start),
                old_any: any(0),
                new_any: any(1),
            });
        }
    }
    Ok(rows)
}

/// Whether the shipped strategy `name` (params from the example config)
/// takes each trade, deciding at entry and learning when the outcome became
/// known.
fn takes(
    name: &str,
    example: &Config,
    trades: &[(&Trade, siglearn_plugin_api::Timestamp)],
) -> anyhow::Result<Vec<bool>> {
    let file = format!("{name}.rhai");
    let Some((_, source)) = super::demo::SCRIPTS.iter().find(|(f, _)| *f == file) else {
        bail!("{name} is not a shipped strategy");
    };
    let params = example
        .strategies
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.params.clone())
        .unwrap_or_else(|| serde_json::json!({}));
    let mut strategy = ScriptStrategy::compile(
        StrategyId::new(name),
        std::path::Path::new(&file),
        source,
        Limits::default(),
    )?;
    strategy.init(&params)?;
    let mut strategy: Box<dyn Strategy> = Box::new(strategy);
    Ok(replay_window(strategy.as_mut(), trades)?)
}

fn rate(figures: &RuleFigures) -> String {
    format!("{:>5.1}%", figures.rate * 100.0)
}

fn days(figures: &RuleFigures) -> String {
    figures.median_days.map_or_else(|| "-".to_owned(), |d| format!("{d:.0}"))
}

/// The study as text tables.
pub(super) fn table(study: &PromotionStudy) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "Data sets (signals from the generator, outcomes from the monitor)");
    let _ = writeln!(out, "  {:<22} {:>7} {:>7} {:>9}", "data", "signals", "days", "lag-1 ac");
    for set in &study.data {
        let ac = set.lag1_autocorrelation.map_or_else(|| "-".to_owned(), |a| format!("{a:+.2}"));
        let _ = writeln!(out, "  {:<22} {:>7} {:>7.0} {:>9}", set.name, set.signals, set.days, ac);
    }
    let _ = writeln!(
        out,
        "\nCoin lineups, {} runs each, alpha {}: share of runs with a (false) promotion, median days to it",
        study.runs, study.alpha
    );
    let _ = writeln!(
        out,
        "  {:<22} {:>6} {:>5} {:>8} {:>8} {:>9} {:>9}",
        "data", "coin", "coins", "old", "new", "old days", "new days"
    );
    for row in &study.coins {
        let _ = writeln!(
            out,
            "  {:<22} {:>6} {:>5} {:>8} {:>8} {:>9} {:>9}",
            row.data,
            row.coin,
            row.strategies,
            rate(&row.old),
            rate(&row.new),
            days(&row.old),
            days(&row.new)
        );
    }
    let _ = writeln!(
        out,
        "\nShipped strategies on synth data: runs where head_weights was promoted first (any promotion)"
    );
    for row in &study.learners {
        let _ = writeln!(
            out,
            "  {:<16} {:<26} old {}/{} ({}), median day {:>4}   new {}/{} ({}), median day {:>4}",
            row.data,
            row.lineup,
            row.old.promoted,
            row.old.runs,
            row.old_any,
            days(&row.old),
            row.new.promoted,
            row.new.runs,
            row.new_any,
            days(&row.new)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared candle files (`SIGLEARN_DATA_DIR` overrides the folder).
    fn shared(file: &str) -> Option<PathBuf> {
        let dir = std::env::var("SIGLEARN_DATA_DIR").unwrap_or_else(|_| "/work/shared/data".to_owned());
        let path = PathBuf::from(dir).join(file);
        path.is_file().then_some(path)
    }

    #[test]
    fn hourly_coins_on_real_signals_fool_the_old_test_and_not_the_new() {
        // Issue 10, fault 3: two strategies drawing a coin per hour of entry
        // time, on the generator's signals from real 1-minute candles
        // (outcomes' lag-1 autocorrelation +0.6). `siglearn study promotion`
        // measured 56% (old) and 0% (new) over 200 runs.
        let Some(path) = shared("ETH-USD_1m.csv") else {
            errln!("skipped: the shared candles are not here (set SIGLEARN_DATA_DIR)");
            return;
        };
        let (series, _) = read_prices(&[path], &[], ReadOptions { skip_invalid: true }).unwrap();
        let set = real_data_set("ETH-USD_1m", &series).unwrap();
        let outcomes = outcomes(&set.trades);
        assert!(lag1_autocorrelation(&outcomes).unwrap() > 0.3, "the outcomes cluster");
        let (old, new) = coin_study(&outcomes, Coin::Minutes(60), 2, 40, 1, SequentialConfig::default());
        assert!(old.rate > 0.3, "old {old:?}");
        assert!(new.rate <= 0.05, "new {new:?}");
    }
}
