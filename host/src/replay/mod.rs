//! Replay: drives the engine from files in event time.
//!
//! Prices of all symbols and the signals are merged into one stream ordered
//! by the time each becomes known: a signal at its entry time, a bar at its
//! *close* (open time plus the series' interval), a tick at its time. So a
//! strategy deciding at time t has learned only outcomes of bars closed by
//! t, whatever the timeframes mixed in one replay. At one instant the bars
//! that closed then come first (a signal entering at a bar's close may know
//! it), then the signals entering then, then the ticks stamped then (a
//! signal is watched from its first price at or after its entry); prices
//! in the order the series were given. A signal entering at a bar's open
//! time is still watched from that bar: the monitor compares the signal's
//! entry with the bar's open time. So a replay split at an instant where
//! every series' bars end, and continued, sees the events of one run. The
//! same inputs always give the same stream, so a replay is reproducible to
//! the byte.

mod stream;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::mpsc;

use siglearn_plugin_api::{PriceUpdate, Signal, Symbol, Timestamp};

use self::stream::{Item, PriceStream};

use crate::engine::{Effect, Engine, EngineError, Event};
use crate::format::{FormatError, ReadOptions, RowError, RowErrors, Series, SignalFile};
use crate::schedule::{JobKind, JobRun};
use crate::store::{Store, StoreError};
use crate::strategy::StrategyError;
use crate::trade::Trade;
use crate::versions::VersionRecord;

/// What a replay produced.
#[derive(Debug, Default)]
pub struct ReplayResult {
    /// Closed signals in the order they closed.
    pub trades: Vec<Trade>,
    /// Signals still open when the data ended.
    pub open: Vec<Arc<Signal>>,
    /// Events fed to the engine (signals plus prices).
    pub events: u64,
    /// Strategy failures: how many, and the first few.
    pub failures: u64,
    pub first_failures: Vec<StrategyError>,
    /// Versions created during the replay.
    pub versions: Vec<VersionRecord>,
    /// Job runs: how many of each kind, and the weekly ones in full.
    pub job_counts: BTreeMap<JobKind, u64>,
    pub weekly_runs: Vec<JobRun>,
    /// Probations ended, by verdict (`worse` ones were rolled back).
    pub probations: BTreeMap<&'static str, u64>,
}

impl ReplayResult {
    const FAILURES_KEPT: usize = 10;

    fn note(&mut self, effect: Effect) {
        match effect {
            Effect::Closed(trade) => self.trades.push(trade),
            Effect::NoDecision { error, .. } | Effect::StrategyFailed(error) => {
                self.failures += 1;
                if self.first_failures.len() < Self::FAILURES_KEPT {
                    self.first_failures.push(error);
                }
            }
            Effect::VersionCreated(record) => self.versions.push(record),
            Effect::JobRan(run) => {
                *self.job_counts.entry(run.job).or_default() += 1;
                if run.job == JobKind::Weekly {
                    self.weekly_runs.push(run);
                }
            }
            Effect::SignalAccepted(_)
            | Effect::Decided(_)
            | Effect::AliasMoved(_)
            | Effect::Anchored { .. }
            | Effect::ProbationStarted { .. } => {}
            Effect::ProbationEnded { evidence, .. } => {
                *self.probations.entry(evidence.verdict).or_default() += 1
            }
        }
    }
}

/// A replay that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("engine refused an event: {0}")]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading prices: {0}")]
    Prices(#[from] FormatError),
    #[error(
        "cannot tell the bar interval of {symbol} in {}: it has a single bar; \
         pass --bar-interval {symbol}=1h (or the bar's length)",
        file.display()
    )]
    UnknownInterval { symbol: Symbol, file: std::path::PathBuf },
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
    let SignalFile { path, mut signals, lines, mut skipped } = file;
    let mut lines = lines.into_iter();
    // Kept in place: a million signals are not copied into a second vector.
    signals.retain(|signal| {
        let line = lines.next().unwrap_or_default();
        if known.contains(&signal.symbol) {
            return true;
        }
        let mut names: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        missing.push(RowError {
            path: path.clone(),
            line,
            field: "symbol".into(),
            reason: format!(
                "no prices for {}; the price files cover {} (add its candles or fix the symbol)",
                signal.symbol,
                names.join(", ")
            ),
        });
        false
    });
    if !missing.is_empty() && !options.skip_invalid {
        return Err(FormatError::InvalidRows { errors: missing });
    }
    skipped.absorb(missing);
    Ok((signals, skipped))
}

/// How many events a replay of these inputs feeds the engine.
pub fn event_count(series: &[Series], signals: &[Signal]) -> u64 {
    (series.iter().map(|s| s.prices.len()).sum::<usize>() + signals.len()) as u64
}

/// Replays `signals` over `series` through `engine`. Effects go to `store`
/// when given; `progress` is called now and then with the events done.
///
/// Before each signal the engine's clock moves to the signal's entry time,
/// so scheduled jobs fire in event time exactly as the daemon would fire them.
pub fn replay(
    engine: &mut Engine,
    series: &[Series],
    mut signals: Vec<impl Into<Arc<Signal>> + std::borrow::Borrow<Signal>>,
    store: Option<&Store>,
    progress: impl FnMut(u64),
) -> Result<ReplayResult, ReplayError> {
    sort_by_entry(&mut signals);
    let signals = shared(signals);
    let mut stream = PriceStream::new(series)?;
    let in_files = series.iter().any(|one| matches!(one.prices, crate::format::Prices::InFile(_)));
    if !in_files {
        let windows =
            Windows::new(|mut spent: Vec<Item>| Ok(stream.next_window(&mut spent)?.then_some(spent)));
        return run(engine, series, signals, windows, store, progress);
    }
    // Prices read from their files on a thread of their own, a window ahead
    // of the engine; the window the engine is done with is sent back to be
    // filled again.
    std::thread::scope(|scope| {
        let (windows, filled) = mpsc::sync_channel::<Result<Vec<Item>, ReplayError>>(1);
        let (spent, to_fill) = mpsc::channel::<Vec<Item>>();
        scope.spawn(move || {
            loop {
                let mut window = to_fill.try_recv().unwrap_or_default();
                let next = match stream.next_window(&mut window) {
                    Ok(true) => Ok(window),
                    Ok(false) => return,
                    Err(error) => Err(error),
                };
                let failed = next.is_err();
                // The engine stopped listening (it failed): nothing more to read.
                if windows.send(next).is_err() || failed {
                    return;
                }
            }
        });
        let windows = Windows::new(move |window: Vec<Item>| {
            let _ = spent.send(window);
            filled.recv().ok().transpose()
        });
        run(engine, series, signals, windows, store, progress)
    })
}

/// Prices one window at a time from `fetch`, which takes the window spent
/// (to fill again) and gives the next, `None` at the end.
struct Windows<F> {
    fetch: F,
    window: Vec<Item>,
    at: usize,
    ended: bool,
}

impl<F: FnMut(Vec<Item>) -> Result<Option<Vec<Item>>, ReplayError>> Windows<F> {
    fn new(fetch: F) -> Self {
        Windows { fetch, window: Vec::new(), at: 0, ended: false }
    }

    /// The next price, without taking it.
    fn peek(&mut self) -> Result<Option<Item>, ReplayError> {
        while self.at == self.window.len() && !self.ended {
            let spent = std::mem::take(&mut self.window);
            self.at = 0;
            match (self.fetch)(spent)? {
                Some(window) => self.window = window,
                None => self.ended = true,
            }
        }
        Ok(self.window.get(self.at).copied())
    }
}

/// The replay loop: signals and prices merged in stream order.
fn run<F: FnMut(Vec<Item>) -> Result<Option<Vec<Item>>, ReplayError>>(
    engine: &mut Engine,
    series: &[Series],
    signals: Vec<Arc<Signal>>,
    mut prices: Windows<F>,
    store: Option<&Store>,
    mut progress: impl FnMut(u64),
) -> Result<ReplayResult, ReplayError> {
    let mut effects = Vec::new();
    let mut result = ReplayResult::default();
    let mut signals = signals.into_iter().peekable();
    loop {
        let next_price = prices.peek()?;
        let signal_first = match (signals.peek(), next_price) {
            // At one instant: bars that closed then, the signals entering
            // then, the ticks stamped then (a tick at a signal's entry is
            // its first price).
            (Some(signal), Some((known, s, _))) if series[s as usize].interval_ms == Some(0) => {
                signal.entry_ts <= known
            }
            (Some(signal), Some((known, ..))) => signal.entry_ts < known,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if signal_first {
            let Some(signal) = signals.next() else { break };
            engine.handle(Event::Clock(signal.entry_ts), &mut effects)?;
            engine.handle(Event::Signal(signal), &mut effects)?;
        } else {
            let Some((at, s, price)) = next_price else { break };
            prices.at += 1;
            let update = PriceUpdate { symbol: series[s as usize].symbol.clone(), price };
            engine.handle(Event::Price { update, at }, &mut effects)?;
        }
        let now = engine.now().unwrap_or(Timestamp(0));
        for effect in effects.drain(..) {
            if let Some(store) = store {
                store.record(&effect, now)?;
            }
            result.note(effect);
        }
        result.events += 1;
        if result.events % 16_384 == 0 {
            progress(result.events);
        }
    }
    progress(result.events);
    result.open = engine.open_signals();
    Ok(result)
}

/// The signals, in the same order, each in an allocation of its own (an
/// `Arc`, which the engine shares with the strategies and the trades). They
/// are allocated one after the other in replay order, so the replay, the
/// report and the trades file walk memory roughly in the order they read
/// it; and taken from the end of the vector, which is shrunk as it empties,
/// so the signals are not held twice at any time.
fn shared<S: Into<Arc<Signal>>>(mut signals: Vec<S>) -> Vec<Arc<Signal>> {
    const STEP: usize = 1 << 16;
    let mut shared = Vec::with_capacity(signals.len());
    while let Some(signal) = signals.pop() {
        shared.push(signal.into());
        if signals.len() % STEP == 0 {
            signals.shrink_to_fit();
        }
    }
    shared.reverse();
    shared
}

/// Sorts signals by entry time, keeping the file order of equal times (a
/// stable sort), by sorting (entry time, position) pairs and then moving
/// each signal into place along the cycles of that permutation, rather than
/// moving whole signals at every step of a sort or copying them all.
fn sort_by_entry(signals: &mut [impl std::borrow::Borrow<Signal>]) {
    let entry = |signal: &dyn std::borrow::Borrow<Signal>| signal.borrow().entry_ts;
    if signals.is_sorted_by_key(|signal| entry(signal)) {
        return;
    }
    let mut order: Vec<(Timestamp, usize)> =
        signals.iter().enumerate().map(|(i, signal)| (entry(signal), i)).collect();
    // Positions are unique, so the unstable sort gives the stable order.
    order.sort_unstable();
    // `from[i]`: the position whose signal belongs at i; `usize::MAX` once placed.
    let mut from: Vec<usize> = order.into_iter().map(|(_, i)| i).collect();
    for start in 0..from.len() {
        let mut at = start;
        loop {
            let source = std::mem::replace(&mut from[at], usize::MAX);
            if source == start || source == usize::MAX {
                break;
            }
            // `at` gets its signal; the one it held (the start's) moves on.
            signals.swap(at, source);
            at = source;
        }
    }
}

#[cfg(test)]
mod sort_tests {
    use proptest::prelude::*;
    use siglearn_plugin_api::{SignalId, Timestamp};

    use super::{shared, sort_by_entry};
    use crate::monitor::fixtures::signal;

    #[test]
    fn shared_signals_keep_their_order_across_the_shrinking_steps() {
        // Past one shrinking step (65,536), with a remainder.
        let ids: Vec<String> = (0..65_536 + 3).map(|i| format!("s{i}")).collect();
        let signals: Vec<_> = ids.iter().map(|id| signal(id, siglearn_plugin_api::Side::Short)).collect();
        let signals = shared(signals);
        let got: Vec<&str> = signals.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(shared(Vec::<siglearn_plugin_api::Signal>::new()).is_empty());
    }

    proptest! {
        #[test]
        fn signals_are_put_in_entry_order_keeping_the_file_order_of_ties(
            entries in prop::collection::vec(0..6i64, 0..60),
        ) {
            let mut signals: Vec<_> = entries
                .iter()
                .enumerate()
                .map(|(i, &entry)| {
                    let mut one = signal(&i.to_string(), siglearn_plugin_api::Side::Long);
                    one.entry_ts = Timestamp(entry);
                    std::sync::Arc::new(one)
                })
                .collect();
            // The twin: the standard library's stable sort.
            let mut expected: Vec<(i64, usize)> = entries.iter().copied().zip(0..).collect();
            expected.sort_by_key(|&(entry, _)| entry);
            sort_by_entry(&mut signals);
            let got: Vec<(i64, SignalId)> = signals.iter().map(|s| (s.entry_ts.as_millis(), s.id.clone())).collect();
            let expected: Vec<(i64, SignalId)> =
                expected.into_iter().map(|(entry, i)| (entry, SignalId::new(i.to_string()))).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
#[cfg(test)]
mod lookahead_tests;
#[cfg(test)]
mod tests;
