//! Behaviour of the indexed monitor, and the property that it decides exactly
//! what the naive linear scan decides.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use siglearn_plugin_api::{OutcomeKind, Price, Side, Signal, SignalId, Symbol, Timestamp};

use super::fixtures::{bar, signal, tick};
use super::*;

const MIN: i64 = 60_000;

fn monitor() -> Monitor {
    Monitor::new(MonitorConfig::default())
}

fn feed(monitor: &mut Monitor, prices: &[Price]) -> Vec<Trade> {
    let symbol = monitor.symbol(&Symbol::new("BTC"));
    let mut closed = Vec::new();
    for price in prices {
        monitor.on_price(symbol, price, &mut closed).unwrap();
    }
    closed
}

fn entering_at(id: &str, side: Side, entry_ts: i64) -> Arc<Signal> {
    Arc::new(Signal { entry_ts: Timestamp(entry_ts), ..signal(id, side) })
}

#[test]
fn a_signal_is_watched_from_the_first_price_at_or_after_entry() {
    let mut monitor = monitor();
    monitor.watch(entering_at("s", Side::Long, 5 * MIN)).unwrap();
    // The bar opening at 4 min would hit the stop, but it is before entry.
    let closed = feed(&mut monitor, &[bar(4 * MIN, 100.0, 101.0, 90.0), bar(5 * MIN, 100.0, 112.0, 99.0)]);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].outcome.kind, OutcomeKind::TpHit);
    assert_eq!(closed[0].outcome.exit_ts, Timestamp(5 * MIN));
    assert_eq!(closed[0].outcome.holding_ms, 0);
}

#[test]
fn time_exit_closes_at_the_open_of_the_first_price_at_or_after_the_deadline() {
    let mut monitor = monitor();
    let held = Signal { max_hold_ms: Some(10 * MIN), ..signal("s", Side::Long) };
    monitor.watch(Arc::new(held)).unwrap();
    let closed = feed(
        &mut monitor,
        &[bar(0, 100.0, 101.0, 99.0), bar(9 * MIN, 100.0, 103.0, 99.0), bar(12 * MIN, 102.0, 130.0, 60.0)],
    );
    let outcome = &closed[0].outcome;
    assert_eq!(
        (outcome.kind, outcome.exit_price, outcome.exit_ts),
        (OutcomeKind::TimeExit, 102.0, Timestamp(12 * MIN))
    );
    assert_eq!(outcome.holding_ms, 12 * MIN);
    // Excursions: the two full bars, plus only the open of the closing one.
    assert_eq!(outcome.mfe_pct, (103.0 / 100.0 - 1.0) * 100.0);
    assert_eq!(outcome.mae_pct, (1.0 - 99.0 / 100.0) * 100.0);
}

#[test]
fn one_price_closes_many_signals_in_arrival_order() {
    let mut monitor = monitor();
    for id in ["c", "a", "b"] {
        monitor.watch(entering_at(id, Side::Long, 0)).unwrap();
    }
    monitor.watch(entering_at("short", Side::Short, 0)).unwrap();
    let closed = feed(&mut monitor, &[bar(0, 100.0, 100.5, 94.0)]);
    let ids: Vec<&str> = closed.iter().map(|trade| trade.signal.id.as_str()).collect();
    assert_eq!(ids, ["c", "a", "b"]);
    assert_eq!(monitor.open_count(), 1);
}

#[test]
fn signals_not_closed_stay_open_and_are_reported() {
    let mut monitor = monitor();
    monitor.watch(entering_at("early", Side::Long, 0)).unwrap();
    monitor.watch(entering_at("late", Side::Long, 60 * MIN)).unwrap();
    let closed = feed(&mut monitor, &[bar(0, 100.0, 101.0, 99.0)]);
    assert!(closed.is_empty());
    let open: Vec<String> = monitor.open_signals().iter().map(|s| s.id.to_string()).collect();
    assert_eq!(open, ["early", "late"]);
}

#[test]
fn the_clock_closes_expired_signals_at_the_last_price_stamped_at_the_deadline() {
    let mut monitor = monitor();
    let held = Signal { max_hold_ms: Some(10 * MIN), ..signal("s", Side::Long) };
    monitor.watch(Arc::new(held)).unwrap();
    monitor.watch(entering_at("no-deadline", Side::Long, 0)).unwrap();
    feed(&mut monitor, &[bar(0, 100.0, 101.0, 99.0), bar(MIN, 100.0, 102.0, 99.5)]);
    let mut closed = Vec::new();
    monitor.on_clock(Timestamp(9 * MIN), &mut closed);
    assert!(closed.is_empty(), "not yet");
    monitor.on_clock(Timestamp(30 * MIN), &mut closed);
    let outcome = &closed[0].outcome;
    // The last bar closed at its open (100): that is the last known price.
    assert_eq!(
        (outcome.kind, outcome.exit_price, outcome.exit_ts),
        (OutcomeKind::TimeExit, 100.0, Timestamp(10 * MIN))
    );
    assert_eq!(outcome.mfe_pct, (102.0 / 100.0 - 1.0) * 100.0);
    assert_eq!(monitor.open_count(), 1);
}

#[test]
fn the_clock_leaves_signals_of_a_symbol_without_any_price_alone() {
    let mut monitor = monitor();
    let held = Signal { max_hold_ms: Some(MIN), ..signal("s", Side::Long) };
    monitor.watch(Arc::new(held)).unwrap();
    let mut closed = Vec::new();
    monitor.on_clock(Timestamp(60 * MIN), &mut closed);
    assert!(closed.is_empty());
    assert_eq!(monitor.open_count(), 1);
}

#[test]
fn the_clock_closes_a_signal_no_price_came_for_since_its_entry_at_the_last_price_before() {
    let mut monitor = monitor();
    // The symbol's feed stops at 2 min (last close 100); two signals enter
    // at 10 min and no price follows.
    feed(&mut monitor, &[bar(0, 100.0, 101.0, 99.0), bar(2 * MIN, 100.0, 101.5, 99.0)]);
    let mut stale = |id: &str, hold: i64| {
        let entering = Arc::unwrap_or_clone(entering_at(id, Side::Long, 10 * MIN));
        monitor.watch(Arc::new(Signal { max_hold_ms: Some(hold * MIN), ..entering })).unwrap();
    };
    stale("thirty", 30);
    stale("five", 5);
    let mut closed = Vec::new();
    monitor.on_clock(Timestamp(14 * MIN), &mut closed);
    assert!(closed.is_empty(), "no deadline reached");
    monitor.on_clock(Timestamp(60 * MIN), &mut closed);
    let exits: Vec<(&str, OutcomeKind, f64, Timestamp)> = closed
        .iter()
        .map(|t| (t.signal.id.as_str(), t.outcome.kind, t.outcome.exit_price, t.outcome.exit_ts))
        .collect();
    // In arrival order (as every exit one event triggers), each at the last
    // known price (the 2-min bar's close, 100.0 as `bar` closes at its
    // open), stamped at its own deadline.
    assert_eq!(
        exits,
        [
            ("thirty", OutcomeKind::TimeExit, 100.0, Timestamp(40 * MIN)),
            ("five", OutcomeKind::TimeExit, 100.0, Timestamp(15 * MIN)),
        ]
    );
    assert_eq!(monitor.open_count(), 0);
    // Gone from every index: a later price closes nothing and is accepted.
    assert!(feed(&mut monitor, &[bar(61 * MIN, 100.0, 200.0, 1.0)]).is_empty());
}

#[test]
fn prices_going_back_in_time_are_refused() {
    let mut monitor = monitor();
    let symbol = monitor.symbol(&Symbol::new("BTC"));
    let mut closed = Vec::new();
    monitor.on_price(symbol, &tick(2 * MIN, 100.0), &mut closed).unwrap();
    monitor.on_price(symbol, &tick(2 * MIN, 100.0), &mut closed).unwrap();
    let err = monitor.on_price(symbol, &tick(MIN, 100.0), &mut closed).unwrap_err();
    assert!(matches!(err, MonitorError::OutOfOrder { .. }), "{err}");
}

#[test]
fn the_same_signal_id_cannot_be_watched_twice() {
    let mut monitor = monitor();
    monitor.watch(entering_at("s", Side::Long, 0)).unwrap();
    assert_eq!(
        monitor.watch(entering_at("s", Side::Short, 0)),
        Err(MonitorError::DuplicateSignal(SignalId::new("s")))
    );
}

#[test]
fn fees_are_charged_on_both_sides() {
    let mut monitor = Monitor::new(MonitorConfig { fee_pct: 0.05, ..MonitorConfig::default() });
    monitor.watch(entering_at("s", Side::Long, 0)).unwrap();
    let closed = feed(&mut monitor, &[bar(0, 100.0, 111.0, 99.0)]);
    assert_eq!(closed[0].outcome.pnl_pct, (110.0 / 100.0 - 1.0) * 100.0 - 0.1);
}

#[test]
fn a_slot_freed_by_a_closed_signal_is_reused_without_mixing_state() {
    let mut monitor = monitor();
    monitor.watch(entering_at("first", Side::Long, 0)).unwrap();
    let closed = feed(&mut monitor, &[bar(0, 100.0, 111.0, 99.0)]);
    assert_eq!(closed.len(), 1);
    monitor.watch(entering_at("second", Side::Short, MIN)).unwrap();
    let closed = feed(&mut monitor, &[bar(MIN, 100.0, 101.0, 89.0)]);
    assert_eq!((closed[0].signal.id.as_str(), closed[0].outcome.kind), ("second", OutcomeKind::TpHit));
}

// ---------------------------------------------------------------------------
// Indexed monitor == naive linear scan, on random streams.

/// One step of a random stream; prices sit on a coarse grid so that levels,
/// opens, highs and lows often tie exactly.
#[derive(Clone, Debug)]
enum Step {
    Signal { symbol: usize, long: bool, entry_in: i64, take: Option<u8>, stop: Option<u8>, hold: Option<u8> },
    Price { symbol: usize, dt: u8, step: i8, up: u8, down: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0usize..3, any::<bool>(), -3i64..6, prop::option::of(1u8..8), prop::option::of(1u8..8), prop::option::of(0u8..10))
            .prop_map(|(symbol, long, entry_in, take, stop, hold)| Step::Signal {
                symbol,
                long,
                entry_in,
                take,
                stop,
                hold
            }),
        3 => (0usize..3, 0u8..3, -4i8..5, 0u8..4, 0u8..4)
            .prop_map(|(symbol, dt, step, up, down)| Step::Price { symbol, dt, step, up, down }),
    ]
}

/// What one monitor decided over a stream.
#[derive(Debug, PartialEq)]
struct Decided {
    closed: Vec<Trade>,
    open: Vec<Arc<Signal>>,
}

/// Runs the indexed and the naive monitor over the same stream. Symbols 0
/// and 1 trade in bars, symbol 2 in ticks.
fn run_both(steps: &[Step], config: MonitorConfig) -> (Decided, Decided) {
    let symbols = [Symbol::new("A"), Symbol::new("B"), Symbol::new("T")];
    let mut indexed = Monitor::new(config);
    let mut naive = NaiveMonitor::new(config);
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    let mut clock = [0i64; 3];
    let mut last = [100.0f64; 3];
    for (n, step) in steps.iter().enumerate() {
        match *step {
            Step::Signal { symbol, long, entry_in, take, stop, hold } => {
                let entry = last[symbol];
                let side = if long { Side::Long } else { Side::Short };
                let (take, stop) = (take.map(f64::from), stop.map(f64::from));
                let hold = if take.is_none() && stop.is_none() { Some(hold.unwrap_or(0)) } else { hold };
                let signal = Signal {
                    id: SignalId::new(format!("s{n}")),
                    symbol: symbols[symbol].clone(),
                    side,
                    entry_ts: Timestamp(clock[symbol] + entry_in * MIN),
                    entry_price: entry,
                    take_profit: take.map(|d| entry + side.sign() * d),
                    stop_loss: stop.map(|d| entry - side.sign() * d),
                    max_hold_ms: hold.map(|h| i64::from(h) * MIN + 1),
                    ..signal("unused", side)
                };
                if signal.validate().is_err() {
                    continue;
                }
                let signal = Arc::new(signal);
                indexed.watch(Arc::clone(&signal)).unwrap();
                naive.watch(signal);
            }
            Step::Price { symbol, dt, step, up, down } => {
                clock[symbol] += i64::from(dt) * MIN;
                let open = (last[symbol] + f64::from(step)).max(20.0);
                let price = if symbol == 2 {
                    tick(clock[symbol], open)
                } else {
                    bar(clock[symbol], open, open + f64::from(up), open - f64::from(down))
                };
                last[symbol] = open;
                let ix = indexed.symbol(&symbols[symbol]);
                indexed.on_price(ix, &price, &mut fast).unwrap();
                naive.on_price(&symbols[symbol], &price, &mut slow);
            }
        }
    }
    (
        Decided { closed: fast, open: indexed.open_signals() },
        Decided { closed: slow, open: naive.open_signals() },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn indexed_monitor_decides_exactly_what_a_linear_scan_decides(
        steps in prop::collection::vec(step(), 1..300),
        policy in prop_oneof![
            Just(AmbiguityPolicy::StopFirst),
            Just(AmbiguityPolicy::TakeFirst),
            Just(AmbiguityPolicy::NearestFirst)
        ],
        fee_pct in prop_oneof![Just(0.0), Just(0.075)],
    ) {
        let (indexed, naive) = run_both(&steps, MonitorConfig { ambiguity: policy, fee_pct });
        prop_assert_eq!(indexed, naive);
    }
}

#[test]
fn random_streams_exercise_every_outcome_kind_and_ambiguity() {
    // Guards the property test against generating streams where nothing
    // interesting happens.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(step(), 300);
    let mut kinds = std::collections::BTreeSet::new();
    let mut ambiguous = 0;
    for _ in 0..20 {
        let steps = strategy.new_tree(&mut runner).unwrap().current();
        let (indexed, _) = run_both(&steps, MonitorConfig::default());
        let fast = indexed.closed;
        kinds.extend(fast.iter().map(|trade| trade.outcome.kind));
        ambiguous += fast.iter().filter(|trade| trade.outcome.ambiguous).count();
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(ambiguous > 0);
}
