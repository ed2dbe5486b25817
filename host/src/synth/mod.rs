//! Planted-edge data: candles and signals whose outcomes depend on some
//! heads and indicators and not on others, so a learning strategy can be
//! checked against a known truth (does it rank the informative heads above
//! the noise heads?).
//!
//! [`synthesize`] takes a [`SynthConfig`] and returns a [`Synth`]: one candle
//! series per symbol, the signals, the outcome planted for each signal and
//! which head and indicator names carry the information. Everything comes
//! from one seed through a small deterministic generator, so a seed always
//! gives the same data.
//!
//! Each signal first draws a latent quality `q ~ N(0, 1)` and a side. Every
//! informative head votes `clamp(0.6·q + 0.4·ε, -1, 1)` in the side's
//! direction; `z` is the mean of those votes times the side's sign. The
//! outcome is decided next: take-profit with probability
//! `clamp(0.35 + edge·z, 0.05, 0.95)`, else stop-loss. Noise heads vote
//! uniformly in [-1, 1] and noise indicators are standard normal, both drawn
//! independently of everything; informative indicators are `q·sign + ε`.
//! Confidence follows the mean vote of all heads, so it carries some of the
//! informative heads' signal; pattern and regime are labels drawn at random.
//! Only then is the price path drawn ([`path`]): it reaches the planned level
//! cleanly, and a few quiet bars separate one trade from the next, so
//! signals of a symbol never overlap and a replay decides exactly the
//! planted outcomes.

mod config;
mod path;
mod rng;
#[cfg(test)]
mod tests;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;

use siglearn_plugin_api::{Bar, MILLIS_PER_MINUTE, Side, Signal, SignalId, Symbol, Values};

use crate::format::{Prices, Series};
pub use config::SynthConfig;
use path::{MAX_INNER_BARS, Plan, Tape};
use rng::Rng;

/// Take-profit chance of a signal without informative evidence (z = 0).
const BASE_WIN_CHANCE: f64 = 0.35;
/// Longest hold in bars: far beyond the longest trade, so that take-profit
/// and stop-loss decide every outcome.
const HOLD_BARS: i64 = 6 * MAX_INNER_BARS as i64;
const PATTERNS: [&str; 2] = ["breakout", "pullback"];
const REGIMES: [&str; 4] = ["trend_high_vol", "trend_low_vol", "range_high_vol", "range_low_vol"];
/// The random stream that picks informative names; symbol `i` uses stream `i + 1`.
const NAMES_STREAM: u64 = 0;

/// Synthetic candles and signals with a planted edge.
#[derive(Clone, Debug, PartialEq)]
pub struct Synth {
    /// One candle series per symbol (`SYN1`, `SYN2`, ...).
    pub series: Vec<Series>,
    /// The signals, by entry time then symbol.
    pub signals: Vec<Signal>,
    /// `planted_win[i]`: whether `signals[i]` was made to reach its
    /// take-profit (`false`: its stop-loss).
    pub planted_win: Vec<bool>,
    /// Heads whose votes move the outcome, in name order (`h2` before `h10`).
    pub informative_heads: Vec<String>,
    /// Heads whose votes are independent of everything.
    pub noise_heads: Vec<String>,
    /// Indicators that follow the signal's latent quality.
    pub informative_indicators: Vec<String>,
    /// Indicators independent of everything.
    pub noise_indicators: Vec<String>,
}

/// Plants the data `config` asks for. An invalid config gives an empty
/// [`Synth`]; call [`SynthConfig::validate`] first to learn why.
pub fn synthesize(config: &SynthConfig) -> Synth {
    let empty = Synth {
        series: Vec::new(),
        signals: Vec::new(),
        planted_win: Vec::new(),
        informative_heads: Vec::new(),
        noise_heads: Vec::new(),
        informative_indicators: Vec::new(),
        noise_indicators: Vec::new(),
    };
    if config.validate().is_err() {
        return empty;
    }
    let mut names = Rng::new(config.seed, NAMES_STREAM);
    let heads = Roster::pick(&mut names, "h", config.heads, config.informative_heads);
    let indicators = Roster::pick(&mut names, "x", config.indicators, config.informative_indicators);
    let mut planted: Vec<(Signal, bool)> = Vec::with_capacity(config.symbols * config.signals_per_symbol);
    let mut series = Vec::with_capacity(config.symbols);
    for index in 0..config.symbols {
        let symbol = Symbol::new(format!("SYN{}", index + 1));
        let mut rng = Rng::new(config.seed, index as u64 + 1);
        let bars = plant_symbol(&mut rng, &symbol, config, &heads, &indicators, &mut planted);
        series.push(Series::new(symbol, PathBuf::from("(synthetic)"), Prices::Bars(bars)));
    }
    planted.sort_by(|(a, _), (b, _)| (a.entry_ts, &a.symbol).cmp(&(b.entry_ts, &b.symbol)));
    let (signals, planted_win) = planted.into_iter().unzip();
    Synth {
        series,
        signals,
        planted_win,
        informative_heads: heads.names_where(true),
        noise_heads: heads.names_where(false),
        informative_indicators: indicators.names_where(true),
        noise_indicators: indicators.names_where(false),
    }
}

/// Names of one kind (heads or indicators), each marked informative or not.
#[derive(Debug)]
struct Roster {
    /// Shared by every signal: one allocation per name.
    names: Vec<Arc<str>>,
    informative: Vec<bool>,
}

impl Roster {
    /// `{prefix}1..{prefix}{count}`, of which a shuffled choice of
    /// `informative` carry information: not simply the first ones, so a
    /// strategy cannot do well by favouring low numbers.
    fn pick(rng: &mut Rng, prefix: &str, count: usize, informative: usize) -> Self {
        let mut order: Vec<usize> = (0..count).collect();
        rng.shuffle(&mut order);
        let mut marks = vec![false; count];
        for &i in &order[..informative] {
            marks[i] = true;
        }
        Roster { names: (1..=count).map(|i| Arc::from(format!("{prefix}{i}"))).collect(), informative: marks }
    }

    fn names_where(&self, informative: bool) -> Vec<String> {
        self.names
            .iter()
            .zip(&self.informative)
            .filter(|&(_, &mark)| mark == informative)
            .map(|(name, _)| name.to_string())
            .collect()
    }
}

/// Draws one symbol's signals and the bars that carry them to their planted
/// outcomes; pushes the signals to `planted` and returns the bars.
fn plant_symbol(
    rng: &mut Rng,
    symbol: &Symbol,
    config: &SynthConfig,
    heads: &Roster,
    indicators: &Roster,
    planted: &mut Vec<(Signal, bool)>,
) -> Vec<Bar> {
    let bar_ms = config.bar_minutes * MILLIS_PER_MINUTE;
    // Prices from 10 to 10 000, so nothing silently depends on a price scale.
    let base = 10f64.powf(rng.uniform(1.0, 4.0));
    let mut tape = Tape::new(config.start, bar_ms, base);
    for n in 1..=config.signals_per_symbol {
        let side = if rng.chance(0.5) { Side::Long } else { Side::Short };
        let sign = side.sign();
        let quality = rng.normal();
        let mut informative_sum = 0.0;
        let mut votes = Values::new();
        for (name, &informative) in heads.names.iter().zip(&heads.informative) {
            let vote = if informative {
                let aligned = (0.6 * quality + 0.4 * rng.normal()).clamp(-1.0, 1.0);
                informative_sum += aligned;
                aligned * sign
            } else {
                rng.uniform(-1.0, 1.0)
            };
            votes.insert(Arc::clone(name), vote);
        }
        let z = if config.informative_heads == 0 {
            0.0
        } else {
            informative_sum / config.informative_heads as f64
        };
        let win = rng.chance((BASE_WIN_CHANCE + config.edge * z).clamp(0.05, 0.95));
        let mut values = Values::new();
        for (name, &informative) in indicators.names.iter().zip(&indicators.informative) {
            let value = if informative { quality * sign + rng.normal() } else { rng.normal() };
            values.insert(Arc::clone(name), value);
        }
        let mean_aligned = votes.values().sum::<f64>() * sign / votes.len() as f64;
        let plan =
            Plan { side, take: 0.02 * rng.uniform(0.85, 1.15), stop: 0.01 * rng.uniform(0.85, 1.15), win };
        let (entry_ts, entry_price) = (tape.next_ts(), tape.next_open());
        let (take_profit, stop_loss) = plan.levels(entry_price);
        let signal = Signal {
            id: SignalId::new(format!("{symbol}-{n}")),
            symbol: symbol.clone(),
            side,
            entry_ts,
            entry_price,
            take_profit: Some(take_profit),
            stop_loss: Some(stop_loss),
            max_hold_ms: Some(HOLD_BARS * bar_ms),
            confidence: Some((0.5 + 0.5 * mean_aligned).clamp(0.0, 1.0)),
            pattern: Some(PATTERNS[rng.int(0, PATTERNS.len() - 1)].to_owned()),
            regime: Some(REGIMES[rng.int(0, REGIMES.len() - 1)].to_owned()),
            heads: votes,
            indicators: values,
        };
        planted.push((signal, win));
        tape.trade(rng, &plan);
        let quiet = rng.int(1, 3);
        tape.quiet(rng, quiet);
    }
    tape.into_bars()
}
