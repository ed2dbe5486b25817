//! Event ordering and effects of a replay.

use std::path::PathBuf;

use siglearn_plugin_api::{Bar, OutcomeKind, Side, Signal, Symbol, Timestamp};

use super::*;
use crate::engine::EngineConfig;
use crate::format::Prices;
use crate::monitor::fixtures::signal;

const MIN: i64 = 60_000;

/// One-minute bars.
fn series(symbol: &str, bars: &[(i64, f64, f64, f64)]) -> Series {
    let mut series = Series::new(
        Symbol::new(symbol),
        PathBuf::from(format!("{symbol}.csv")),
        Prices::Bars(
            bars.iter()
                .map(|&(ts, open, high, low)| Bar {
                    ts: Timestamp(ts),
                    open,
                    high,
                    low,
                    close: open,
                    volume: 0.0,
                })
                .collect(),
        ),
    );
    series.interval_ms = Some(MIN);
    series
}

fn on(symbol: &str, id: &str, entry_ts: i64) -> Signal {
    Signal { symbol: Symbol::new(symbol), entry_ts: Timestamp(entry_ts), ..signal(id, Side::Long) }
}

#[test]
fn a_signal_entering_at_a_bar_open_is_watched_from_that_bar() {
    let data = [series("BTC", &[(0, 100.0, 101.0, 99.0), (MIN, 100.0, 111.0, 99.0)])];
    let result =
        replay(&mut Engine::new(EngineConfig::default()), &data, vec![on("BTC", "s", MIN)], None, |_| {})
            .unwrap();
    assert_eq!(result.trades.len(), 1);
    assert_eq!(result.trades[0].outcome.exit_ts, Timestamp(MIN));
    assert_eq!(result.events, 3);
}

#[test]
fn symbols_are_interleaved_by_time_and_unsorted_signals_are_ordered() {
    let data = [
        series("A", &[(0, 100.0, 100.0, 100.0), (2 * MIN, 100.0, 120.0, 100.0)]),
        series("B", &[(MIN, 100.0, 100.0, 100.0), (3 * MIN, 100.0, 100.0, 80.0)]),
    ];
    let signals = vec![on("B", "b", MIN), on("A", "a", 0)];
    let result = replay(&mut Engine::new(EngineConfig::default()), &data, signals, None, |_| {}).unwrap();
    let closed: Vec<(&str, OutcomeKind, i64)> = result
        .trades
        .iter()
        .map(|t| (t.signal.id.as_str(), t.outcome.kind, t.outcome.exit_ts.as_millis()))
        .collect();
    assert_eq!(closed, [("a", OutcomeKind::TpHit, 2 * MIN), ("b", OutcomeKind::SlHit, 3 * MIN)]);
    assert!(result.open.is_empty());
}

#[test]
fn signals_after_the_data_stay_open() {
    let data = [series("A", &[(0, 100.0, 100.0, 100.0)])];
    let result = replay(
        &mut Engine::new(EngineConfig::default()),
        &data,
        vec![on("A", "late", 5 * MIN)],
        None,
        |_| {},
    )
    .unwrap();
    assert!(result.trades.is_empty());
    assert_eq!(result.open.len(), 1);
}

#[test]
fn a_signal_for_an_unknown_symbol_is_a_bad_row_naming_the_known_ones() {
    let data = [series("A", &[(0, 100.0, 100.0, 100.0)])];
    let file = SignalFile {
        path: PathBuf::from("signals.csv"),
        signals: vec![on("A", "ok", 0), on("ZZZ", "bad", 0)],
        lines: vec![2, 3],
        skipped: RowErrors::default(),
    };
    let err = signals_with_prices(file.clone(), &data, ReadOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("signals.csv:3: symbol: no prices for ZZZ; the price files cover A"),
        "{err}"
    );
    let (kept, skipped) = signals_with_prices(file, &data, ReadOptions { skip_invalid: true }).unwrap();
    assert_eq!((kept.len(), skipped.count), (1, 1));
}

#[test]
fn effects_reach_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let store = Store::open(&path, &Default::default()).unwrap();
    let data = [series("A", &[(0, 100.0, 111.0, 100.0)])];
    let signals = vec![on("A", "won", 0), on("A", "open", 9 * MIN)];
    replay(&mut Engine::new(EngineConfig::default()), &data, signals, Some(&store), |_| {}).unwrap();
    store.close().unwrap();
    let reader = crate::store::StoreReader::open(&path).unwrap();
    assert_eq!(reader.trades().unwrap().len(), 1);
    assert_eq!(reader.open_signals().unwrap().len(), 1);
}
