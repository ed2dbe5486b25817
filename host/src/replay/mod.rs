//! Replay: drives the engine from files in event time.
//!
//! Prices of all symbols and the signals are merged into one stream ordered
//! by timestamp. At equal timestamps signals come first (a signal entering at
//! a bar's open time is watched from that bar), then prices in the order the
//! series were given. The same inputs always give the same stream, so a
//! replay is reproducible to the byte.

use std::collections::HashSet;
use std::sync::Arc;

use siglearn_plugin_api::{PriceUpdate, Signal, Symbol};

use crate::engine::{Effect, Engine, EngineConfig, EngineError, Event};
use crate::format::{FormatError, ReadOptions, RowError, RowErrors, Series, SignalFile};
use crate::store::{Command, Store, StoreError};
use crate::trade::Trade;

/// What a replay produced.
#[derive(Debug)]
pub struct ReplayResult {
    /// Closed signals in the order they closed.
    pub trades: Vec<Trade>,
    /// Signals still open when the data ended.
    pub open: Vec<Arc<Signal>>,
    /// Events fed to the engine (signals plus prices).
    pub events: u64,
}

/// A replay that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("engine refused an event: {0}")]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that every signal's symbol has prices. Signals without are bad rows
/// of the signals file: refused, or skipped and counted with `skip_invalid`.
pub fn signals_with_prices(
    file: SignalFile,
    series: &[Series],
    options: ReadOptions,
) -> Result<(Vec<Signal>, RowErrors), FormatError> {
    let known: HashSet<&Symbol> = series.iter().map(|s| &s.symbol).collect();
    let mut missing = RowErrors::default();
    let mut kept = Vec::with_capacity(file.signals.len());
    for (signal, line) in file.signals.into_iter().zip(file.lines) {
        if known.contains(&signal.symbol) {
            kept.push(signal);
        } else {
            let mut names: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            names.sort_unstable();
            missing.push(RowError {
                path: file.path.clone(),
                line,
                field: "symbol".into(),
                reason: format!(
                    "no prices for {}; the price files cover {} (add its candles or fix the symbol)",
                    signal.symbol,
                    names.join(", ")
                ),
            });
        }
    }
    let mut skipped = file.skipped;
    if !missing.is_empty() && !options.skip_invalid {
        return Err(FormatError::InvalidRows { errors: missing });
    }
    skipped.absorb(missing);
    Ok((kept, skipped))
}

/// How many events a replay of these inputs feeds the engine.
pub fn event_count(series: &[Series], signals: &[Signal]) -> u64 {
    (series.iter().map(|s| s.prices.len()).sum::<usize>() + signals.len()) as u64
}

/// Replays `signals` over `series`. Effects go to `store` when given;
/// `progress` is called now and then with the number of events done.
pub fn replay(
    series: &[Series],
    mut signals: Vec<Signal>,
    config: EngineConfig,
    store: Option<&Store>,
    mut progress: impl FnMut(u64),
) -> Result<ReplayResult, ReplayError> {
    signals.sort_by_key(|signal| signal.entry_ts);
    let prices = price_order(series);
    let mut engine = Engine::new(config);
    let mut effects = Vec::new();
    let mut trades = Vec::new();
    let mut signals = signals.into_iter().peekable();
    let mut events = 0u64;
    let mut next_price = prices.iter().peekable();
    loop {
        let signal_first = match (signals.peek(), next_price.peek()) {
            (Some(signal), Some(&&(ts, ..))) => signal.entry_ts <= ts,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let event = if signal_first {
            let Some(signal) = signals.next() else { break };
            Event::Signal(signal)
        } else {
            let Some(&(_, s, i)) = next_price.next() else { break };
            let one = &series[s as usize];
            let Some(price) = one.prices.get(i as usize) else { break };
            Event::Price(PriceUpdate { symbol: one.symbol.clone(), price })
        };
        engine.handle(event, &mut effects)?;
        for effect in effects.drain(..) {
            match effect {
                Effect::SignalAccepted(signal) => {
                    if let Some(store) = store {
                        store.send(Command::InsertSignal(signal))?;
                    }
                }
                Effect::Closed(trade) => {
                    if let Some(store) = store {
                        store.send(Command::InsertOutcome(trade.outcome.clone()))?;
                    }
                    trades.push(trade);
                }
            }
        }
        events += 1;
        if events % 16_384 == 0 {
            progress(events);
        }
    }
    progress(events);
    Ok(ReplayResult { trades, open: engine.open_signals(), events })
}

/// Every price as (ts, series, index), in stream order.
fn price_order(series: &[Series]) -> Vec<(siglearn_plugin_api::Timestamp, u32, u32)> {
    let mut order = Vec::with_capacity(series.iter().map(|s| s.prices.len()).sum());
    for (s, one) in series.iter().enumerate() {
        for i in 0..one.prices.len() {
            if let Some(price) = one.prices.get(i) {
                order.push((price.ts(), s as u32, i as u32));
            }
        }
    }
    // Unique keys (series and index break every tie), so unstable is exact.
    order.sort_unstable();
    order
}

#[cfg(test)]
mod tests;
