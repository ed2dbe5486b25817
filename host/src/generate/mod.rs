//! The built-in signal generator: bars in, signals out.
//!
//! [`generate`] walks a symbol's bars in time order. Each bar advances every
//! indicator ([`snapshot::IndicatorSet`], built from [`indicators`]); once
//! all have warmed up, the nine [`heads`] vote in [-1, 1] and a mean vote
//! of at least the threshold becomes a [`Signal`] entered at the next bar's
//! open time *and price* (the first price a trader could get after the
//! decision), with exits placed in ATRs from there and the evidence (head votes, raw
//! indicators, [`regime`], dominant head family as pattern) attached. The
//! whole pass is synchronous and deterministic: the same bars and config
//! always give the same signals.

mod config;
pub mod heads;
pub mod indicators;
pub mod regime;
pub mod snapshot;
#[cfg(test)]
mod tests;

use siglearn_plugin_api::{Bar, Names, Side, Signal, SignalId, Symbol, Timestamp};

pub use config::GeneratorConfig;

use crate::timestamp::format_timestamp;
use heads::{Family, Head};
use regime::{Regime, VolatilityHistory};
use snapshot::{IndicatorSet, Snapshot};

/// Generates signals for one symbol from its bars.
///
/// `bars` must be sorted by `ts` and valid. A signal decided on bar `t`
/// (at its close) enters at the open of bar `t + 1`, at that bar's open
/// price: the close of `t` is the price the decision was made on, but no
/// order can fill there any more, and where the next open gaps, entering at
/// the close would manufacture edge. So the last bar never
/// yields one. Its id is `{symbol}@{entry_ts as ISO-8601}`. After a signal,
/// `cooldown_bars` bars are skipped. `max_hold_ms` is `hold_bars` times the
/// median gap between consecutive bars. A config that fails
/// [`GeneratorConfig::validate`] yields no signals; validate it first to
/// learn why.
pub fn generate(symbol: &Symbol, bars: &[Bar], config: &GeneratorConfig) -> Vec<Signal> {
    if config.validate().is_err() {
        return Vec::new();
    }
    // Duplicate timestamps could make the median gap 0; the signal then
    // relies on its take-profit and stop-loss alone.
    let max_hold_ms = bar_interval(bars)
        .map(|interval| interval.saturating_mul(i64::from(config.hold_bars)))
        .filter(|&hold| hold > 0);
    let mut indicators = IndicatorSet::new();
    let mut volatility = VolatilityHistory::new();
    let mut signals = Vec::new();
    // Every signal shares one allocation per head and indicator name.
    let mut names = Names::default();
    let mut first_allowed = 0;
    for (t, bar) in bars.iter().enumerate() {
        let snapshot = indicators.update(bar);
        if let (Some(snapshot), Some(next)) = (snapshot, bars.get(t + 1)) {
            if t >= first_allowed {
                let exits = Exits { entry_ts: next.ts, entry_price: next.open, max_hold_ms };
                if let Some(signal) = signal_at(symbol, &snapshot, exits, &volatility, config, &mut names) {
                    signals.push(signal);
                    first_allowed = t + 1 + config.cooldown_bars as usize;
                }
            }
        }
        // Recorded after the decision: the volatility median covers earlier bars only.
        if let Some(atr_pct) = indicators.atr_pct() {
            volatility.push(atr_pct);
        }
    }
    signals
}

/// The timing of a signal that does not depend on the bar's indicators.
#[derive(Clone, Copy, Debug)]
struct Exits {
    entry_ts: Timestamp,
    /// The open of the bar at `entry_ts`: where a market order fills.
    entry_price: f64,
    max_hold_ms: Option<i64>,
}

/// The signal the heads call for at this bar, if their mean vote clears the
/// threshold and the exits are valid prices.
fn signal_at(
    symbol: &Symbol,
    at: &Snapshot,
    exits: Exits,
    volatility: &VolatilityHistory,
    config: &GeneratorConfig,
    names: &mut Names,
) -> Option<Signal> {
    let votes: Vec<(Head, f64)> = Head::ALL.iter().map(|&head| (head, head.vote(at))).collect();
    let mean = votes.iter().map(|(_, vote)| vote).sum::<f64>() / votes.len() as f64;
    if mean.abs() < config.threshold {
        return None;
    }
    let side = if mean > 0.0 { Side::Long } else { Side::Short };
    let entry_price = exits.entry_price;
    let take_profit = entry_price + side.sign() * config.tp_atr * at.atr;
    let stop_loss = entry_price - side.sign() * config.sl_atr * at.atr;
    // A zero ATR would put the exits on the entry price, a huge one below zero.
    let beyond_entry =
        (take_profit - entry_price) * side.sign() > 0.0 && (entry_price - stop_loss) * side.sign() > 0.0;
    if !(beyond_entry && take_profit > 0.0 && stop_loss > 0.0) {
        return None;
    }
    let regime = Regime::new(at.adx.adx, volatility.is_high(at.atr_pct()));
    Some(Signal {
        id: SignalId::new(format!("{symbol}@{}", format_timestamp(exits.entry_ts))),
        symbol: symbol.clone(),
        side,
        entry_ts: exits.entry_ts,
        entry_price,
        take_profit: Some(take_profit),
        stop_loss: Some(stop_loss),
        max_hold_ms: exits.max_hold_ms,
        confidence: Some(mean.abs().min(1.0)),
        pattern: Some(Family::dominant(&votes, side).as_str().to_owned()),
        regime: Some(regime.as_str().to_owned()),
        heads: votes.iter().map(|&(head, vote)| (names.get(head.name()), vote)).collect(),
        indicators: at.indicators().into_iter().map(|(name, value)| (names.get(name), value)).collect(),
    })
}

/// The median gap between consecutive bars in milliseconds; `None` for
/// fewer than two bars. The median, not the first gap, so that a weekend or
/// a missing bar does not change the hold of every signal.
fn bar_interval(bars: &[Bar]) -> Option<i64> {
    let mut gaps: Vec<f64> = bars.windows(2).map(|pair| (pair[1].ts - pair[0].ts) as f64).collect();
    median(&mut gaps).map(|gap| gap.round() as i64)
}

/// The median of `values` (mean of the middle two for an even count),
/// sorting them in place; `None` when empty.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}
