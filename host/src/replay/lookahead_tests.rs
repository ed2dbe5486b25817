//! What a strategy may know, and when: no decision ever depends on a bar
//! that had not closed at the decision's time.
//!
//! The [`Observer`] strategy is the twin that checks it. It does not trust
//! the engine's clock: it tracks, from the outcomes it was given (by `learn`
//! or as `retrain` history), the latest close of a bar that decided one of
//! them — `exit_ts` (the bar's open) plus the bar's length, which the test
//! knows from the data it made. A decision on a signal entering before that
//! close used an outcome no trader could have known, and is logged. Forks
//! (shadows on probation, candidates replayed through a validation week)
//! share the log, so look-ahead anywhere in the engine is caught.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use siglearn_plugin_api::{Bar, Outcome, Side, Signal, SignalId, StrategyId, Symbol, Timestamp, VersionId};

use super::*;
use crate::engine::{EngineConfig, LineupSpec, Member, RetrainConfig};
use crate::format::Prices;
use crate::schedule::{Schedule, ScheduleConfig};
use crate::strategy::script::{Limits, ScriptStrategy};
use crate::strategy::{Code, DailySummary, HistoryItem, Hook, Strategy, StrategyError, Verdict};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2024-01-01T00:00Z, a Monday.
const JAN_1: i64 = 1_704_067_200_000;

fn flat(ts: i64, price: f64) -> Bar {
    Bar { ts: Timestamp(ts), open: price, high: price, low: price, close: price, volume: 0.0 }
}

fn bars_series(symbol: &str, bars: Vec<Bar>, interval: i64) -> Series {
    let mut series =
        Series::new(Symbol::new(symbol), PathBuf::from(format!("{symbol}.csv")), Prices::Bars(bars));
    series.interval_ms = Some(interval);
    series
}

fn long(id: &str, symbol: &str, entry_ts: i64, entry: f64, tp: f64, sl: f64, hold_min: i64) -> Signal {
    Signal {
        id: SignalId::new(id),
        symbol: Symbol::new(symbol),
        side: Side::Long,
        entry_ts: Timestamp(entry_ts),
        entry_price: entry,
        take_profit: Some(tp),
        stop_loss: Some(sl),
        max_hold_ms: Some(hold_min * MIN),
        confidence: None,
        pattern: None,
        regime: None,
        heads: Default::default(),
        indicators: Default::default(),
    }
}

/// Replays `signals` over `series` with the one script `source` as the
/// lineup, into a store: the replay's result and a reader of the store.
fn replay_script(
    source: &str,
    series: &[Series],
    signals: Vec<Signal>,
) -> (ReplayResult, crate::store::StoreReader, tempfile::TempDir) {
    let mut strategy =
        ScriptStrategy::compile("counter".into(), Path::new("counter.rhai"), source, Limits::default())
            .unwrap();
    strategy.init(&serde_json::json!({})).unwrap();
    let member =
        Member { strategy: Box::new(strategy), version: VersionId(1), params: serde_json::json!({}) };
    let spec = LineupSpec { members: vec![member], champion: Some(0), schedule: None };
    let mut engine = Engine::with_lineup(EngineConfig::default(), spec);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db"), &Default::default()).unwrap();
    let result = replay(&mut engine, series, signals, Some(&store), |_| {}).unwrap();
    store.close().unwrap();
    let reader = crate::store::StoreReader::open(&dir.path().join("r.db")).unwrap();
    (result, reader, dir)
}

/// The case of the issue that found it: a daily bar's take-profit must not
/// be known one minute after the bar opened.
#[test]
fn a_daily_outcome_is_learned_at_the_bar_close_not_its_open() {
    let inferred = |symbol: &str, bars: Vec<Bar>| {
        Series::new(Symbol::new(symbol), PathBuf::from(format!("{symbol}.csv")), Prices::Bars(bars))
    };
    let day = inferred(
        "DAY",
        vec![
            Bar { ts: Timestamp(JAN_1), open: 100.0, high: 101.0, low: 99.0, close: 100.0, volume: 0.0 },
            Bar {
                ts: Timestamp(JAN_1 + DAY),
                open: 100.0,
                high: 106.0,
                low: 99.5,
                close: 105.5,
                volume: 0.0,
            },
            Bar {
                ts: Timestamp(JAN_1 + 2 * DAY),
                open: 105.5,
                high: 106.0,
                low: 105.0,
                close: 105.5,
                volume: 0.0,
            },
        ],
    );
    let minutes = inferred("MIN", (0..60).map(|m| flat(JAN_1 + DAY + m * MIN, 50.0)).collect());
    // Read from the file, as a user's replay would: the interval is inferred.
    assert_eq!((day.interval_ms, minutes.interval_ms), (Some(DAY), Some(MIN)));
    let signals = vec![
        long("day_long", "DAY", JAN_1 + DAY, 100.0, 105.0, 95.0, 2880),
        long("min_long", "MIN", JAN_1 + DAY + MIN, 50.0, 60.0, 40.0, 30),
    ];
    let source = r#"
fn init(params) { this.learned = 0; this.take_profits = 0; }
fn decide(signal) { #{ take: true, score: 10.0 * this.learned + this.take_profits } }
fn learn(signal, outcome) {
    this.learned += 1;
    if outcome.kind == "TP_HIT" { this.take_profits += 1; }
}
"#;
    let (result, reader, _dir) = replay_script(source, &[day, minutes], signals);

    let day_trade = result.trades.iter().find(|t| t.signal.id.as_str() == "day_long").unwrap();
    // The trade itself is unchanged: a take-profit in the bar opened on Jan 2.
    assert_eq!(day_trade.outcome.exit_ts, Timestamp(JAN_1 + DAY));
    let decisions = reader.all_decisions().unwrap();
    let score = |id: &str| decisions[id][0].1.unwrap().score;
    assert_eq!(score("min_long"), 0.0, "the daily bar closes on Jan 3; at 00:01 on Jan 2 nothing is known");
    // The daily outcome is stored as known at the bar's close.
    let known = reader.trades_as_closed().unwrap();
    let (_, known_at) = known.iter().find(|(t, _)| t.signal.id.as_str() == "day_long").unwrap();
    assert_eq!(*known_at, Timestamp(JAN_1 + 2 * DAY));
}

/// Decisions that used knowledge from the future, as the twin saw them.
type Log = Arc<Mutex<Vec<String>>>;

/// The twin: decides pseudo-randomly, and logs every decision made while
/// it knew an outcome decided by a bar that closes after the decision.
#[derive(Debug, Clone)]
struct Observer {
    name: StrategyId,
    /// Bar length per symbol, from the test's own data.
    intervals: Arc<HashMap<String, i64>>,
    /// The latest close of a bar behind an outcome this state has seen.
    known_until: i64,
    log: Log,
}

impl Observer {
    fn close_of(&self, signal: &Signal, outcome: &Outcome) -> i64 {
        outcome.exit_ts.as_millis() + self.intervals.get(signal.symbol.as_str()).copied().unwrap_or(0)
    }
}

impl Strategy for Observer {
    fn name(&self) -> &StrategyId {
        &self.name
    }
    fn code_hash(&self) -> &str {
        "observer"
    }
    fn has(&self, hook: Hook) -> bool {
        matches!(hook, Hook::Decide | Hook::Learn | Hook::Daily | Hook::Retrain)
    }
    fn init(&mut self, _params: &serde_json::Value) -> Result<(), StrategyError> {
        self.known_until = i64::MIN;
        Ok(())
    }
    fn decide(&mut self, signal: &Arc<Signal>) -> Result<Verdict, StrategyError> {
        if self.known_until > signal.entry_ts.as_millis() {
            self.log.lock().unwrap().push(format!(
                "{} {} decided at {} knowing a bar that closes at {}",
                self.name,
                signal.id,
                signal.entry_ts.as_millis(),
                self.known_until
            ));
        }
        // Takes about half, by the id: the lineup disagrees, so jobs and tests run.
        let take = signal.id.as_str().bytes().map(u32::from).sum::<u32>() % 2 == 0;
        Ok(Verdict { take, score: 0.0, size: 1.0 })
    }
    fn learn(&mut self, signal: &Arc<Signal>, outcome: &Outcome) -> Result<(), StrategyError> {
        self.known_until = self.known_until.max(self.close_of(signal, outcome));
        Ok(())
    }
    fn daily(&mut self, _summary: &DailySummary) -> Result<(), StrategyError> {
        Ok(())
    }
    fn retrain(&mut self, history: &[HistoryItem]) -> Result<Option<serde_json::Value>, StrategyError> {
        let trained = history
            .iter()
            .map(|item| self.close_of(&item.trade.signal, &item.trade.outcome))
            .fold(self.known_until, i64::max);
        Ok(Some(serde_json::json!({ "known_until": trained })))
    }
    fn params_space(&mut self) -> Result<Option<serde_json::Value>, StrategyError> {
        Ok(None)
    }
    fn state(&self) -> Result<serde_json::Value, StrategyError> {
        Ok(serde_json::json!({ "known_until": self.known_until }))
    }
    fn set_state(&mut self, state: &serde_json::Value) -> Result<(), StrategyError> {
        self.known_until = state["known_until"].as_i64().unwrap_or(i64::MIN);
        Ok(())
    }
    fn migrate(&mut self, old_state: &serde_json::Value) -> Result<(), StrategyError> {
        self.set_state(old_state)
    }
    fn code(&self) -> Code {
        Code::Script(Arc::from("observer"))
    }
    fn fork(&self) -> Result<Box<dyn Strategy>, StrategyError> {
        Ok(Box::new(self.clone()))
    }
}

/// A random walk of `n` bars of `interval` from `start`, each bar's range
/// drawn from `moves` (per-mille of the price).
fn walk(start: i64, interval: i64, moves: &[(i8, u8, u8)]) -> Vec<Bar> {
    let mut price = 100.0_f64;
    moves
        .iter()
        .enumerate()
        .map(|(i, &(step, up, down))| {
            let open = price;
            let close = (open * (1.0 + f64::from(step) / 1000.0)).max(1.0);
            let high = open.max(close) * (1.0 + f64::from(up) / 1000.0);
            let low = open.min(close) * (1.0 - f64::from(down) / 1000.0);
            price = close;
            Bar { ts: Timestamp(start + i as i64 * interval), open, high, low, close, volume: 0.0 }
        })
        .collect()
}

/// Data over three weeks in three timeframes, and signals on any of them.
#[derive(Debug, Clone)]
struct Market {
    series: Vec<Series>,
    signals: Vec<Signal>,
}

const SPAN: i64 = 21 * DAY;
const TIMEFRAMES: [(&str, i64); 3] = [("D", DAY), ("H4", 4 * HOUR), ("M30", 30 * MIN)];

fn market() -> impl Strategy_<Value = Market> {
    let bars = TIMEFRAMES.map(|(_, interval)| {
        prop::collection::vec((-30i8..30, 0u8..40, 0u8..40), (SPAN / interval) as usize)
    });
    let signal = (0usize..3, 0i64..SPAN / MIN, 1u8..60, 1u8..60, 30i64..6 * 24 * 60, any::<bool>());
    (bars, prop::collection::vec(signal, 40..160)).prop_map(|(bars, raw)| {
        let series: Vec<Series> = TIMEFRAMES
            .iter()
            .zip(bars)
            .map(|(&(symbol, interval), moves)| bars_series(symbol, walk(JAN_1, interval, &moves), interval))
            .collect();
        let signals = raw
            .into_iter()
            .enumerate()
            .map(|(n, (s, minute, tp, sl, hold, short))| {
                let symbol = TIMEFRAMES[s].0;
                let entry = 100.0;
                let (tp, sl) = (f64::from(tp) / 1000.0, f64::from(sl) / 1000.0);
                let signal = long(&format!("s{n}"), symbol, JAN_1 + minute * MIN, entry, 0.0, 0.0, hold);
                if short {
                    Signal {
                        side: Side::Short,
                        take_profit: Some(entry * (1.0 - tp)),
                        stop_loss: Some(entry * (1.0 + sl)),
                        ..signal
                    }
                } else {
                    Signal {
                        take_profit: Some(entry * (1.0 + tp)),
                        stop_loss: Some(entry * (1.0 - sl)),
                        ..signal
                    }
                }
            })
            .collect();
        Market { series, signals }
    })
}

use proptest::strategy::Strategy as Strategy_;

/// Replays `market` with two observers (a champion and a challenger), daily
/// and weekly jobs and probation, and returns what they logged.
fn look_ahead_in(market: &Market) -> Vec<String> {
    let intervals: Arc<HashMap<String, i64>> =
        Arc::new(TIMEFRAMES.iter().map(|&(symbol, interval)| (symbol.to_owned(), interval)).collect());
    let log: Log = Arc::default();
    let observer = |name: &str| Member {
        strategy: Box::new(Observer {
            name: StrategyId::new(name),
            intervals: Arc::clone(&intervals),
            known_until: i64::MIN,
            log: Arc::clone(&log),
        }),
        version: VersionId(1),
        params: serde_json::json!({}),
    };
    let config = EngineConfig {
        retrain: RetrainConfig { train_days: 7, min_train_trades: 3, min_validation_signals: 3 },
        probation_ms: 3 * DAY,
        ..EngineConfig::default()
    };
    let schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
    let spec = LineupSpec {
        members: vec![observer("a"), observer("b")],
        champion: Some(0),
        schedule: Some(schedule),
    };
    let mut engine = Engine::with_lineup(config, spec);
    let result = replay(&mut engine, &market.series, market.signals.clone(), None, |_| {}).unwrap();
    assert!(!result.trades.is_empty());
    log.lock().unwrap().clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// On random three-timeframe data with jobs and retraining, no decision
    /// (live, in shadow, or of a retraining candidate on its validation
    /// week) is made knowing an outcome whose bar had not closed.
    #[test]
    fn no_decision_depends_on_a_bar_that_had_not_closed(market in market()) {
        let logged = look_ahead_in(&market);
        prop_assert!(logged.is_empty(), "{} look-ahead decisions, e.g. {:?}", logged.len(), &logged[..logged.len().min(3)]);
    }
}

/// At one instant: a bar that closed then is known to a signal entering
/// then, and a tick stamped then is that signal's first price.
#[test]
fn at_one_instant_closed_bars_come_before_signals_and_ticks_after() {
    let source = r#"
fn init(params) { this.learned = 0; }
fn decide(signal) { #{ take: true, score: this.learned + 0.0 } }
fn learn(signal, outcome) { this.learned += 1; }
"#;
    // A one-minute bar from T - 1m to T takes the first signal's profit.
    let bars = bars_series(
        "BAR",
        vec![Bar {
            ts: Timestamp(JAN_1 - MIN),
            open: 100.0,
            high: 106.0,
            low: 100.0,
            close: 105.0,
            volume: 0.0,
        }],
        MIN,
    );
    let mut ticks = Series::new(
        Symbol::new("TICK"),
        PathBuf::from("t.csv"),
        Prices::Ticks(vec![siglearn_plugin_api::Tick { ts: Timestamp(JAN_1), price: 70.0 }]),
    );
    ticks.interval_ms = Some(0);
    let signals = vec![
        long("early", "BAR", JAN_1 - MIN, 100.0, 105.0, 95.0, 60),
        long("at_close", "BAR", JAN_1, 100.0, 110.0, 90.0, 60),
        long("tick", "TICK", JAN_1, 50.0, 60.0, 40.0, 60),
    ];
    let (result, reader, _dir) = replay_script(source, &[bars, ticks], signals);
    let decisions = reader.all_decisions().unwrap();
    assert_eq!(decisions["at_close"][0].1.unwrap().score, 1.0, "the bar closed at its entry: known");
    let tick = result.trades.iter().find(|t| t.signal.id.as_str() == "tick").unwrap();
    assert_eq!(
        (tick.outcome.exit_ts, tick.outcome.exit_price),
        (Timestamp(JAN_1), 70.0),
        "the tick at entry hits"
    );
}
