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
        signals: vec![on("A", "ok", 0), on("ZZZ", "bad", 0), on("A", "ok2", 0), on("YYY", "bad2", 0)],
        lines: vec![2, 3, 5, 8],
        skipped: RowErrors::default(),
    };
    let err = signals_with_prices(file.clone(), &data, ReadOptions::default()).unwrap_err();
    let text = err.to_string();
    for expected in [
        "signals.csv:3: symbol: no prices for ZZZ; the price files cover A",
        "signals.csv:8: symbol: no prices for YYY; the price files cover A",
    ] {
        assert!(text.contains(expected), "{text}");
    }
    let (kept, skipped) = signals_with_prices(file, &data, ReadOptions { skip_invalid: true }).unwrap();
    let ids: Vec<&str> = kept.iter().map(|s| s.id.as_str()).collect();
    assert_eq!((ids, skipped.count), (vec!["ok", "ok2"], 2));
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

mod parallel_reading {
    use proptest::prelude::*;

    use super::*;
    use crate::format::{Hold, ReadOptions, read_prices_on, write_candles};

    /// The candles shipped for the demo: real prices of five symbols, at
    /// one-minute, hourly and daily bars.
    fn demo_series() -> Vec<Series> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "csv"))
            .collect();
        files.sort();
        read_prices_on(&files, &[], ReadOptions::default(), 1, Hold::All).unwrap().0
    }

    /// A signal on every 97th bar of each series: take-profit 1 % and
    /// stop-loss 1 % away, held at most a day.
    fn signals(series: &[Series]) -> Vec<Signal> {
        let mut signals = Vec::new();
        for one in series {
            for i in (0..one.prices.len()).step_by(97) {
                let price = one.prices.get(i).unwrap();
                let close = price.close();
                signals.push(Signal {
                    symbol: one.symbol.clone(),
                    entry_ts: price.ts(),
                    entry_price: close,
                    take_profit: Some(close * 1.01),
                    stop_loss: Some(close * 0.99),
                    max_hold_ms: Some(86_400_000),
                    ..signal(&format!("{}-{i}", one.symbol), Side::Long)
                });
            }
        }
        signals
    }

    fn trades(series: &[Series]) -> Vec<Trade> {
        let mut engine = Engine::new(EngineConfig::default());
        replay(&mut engine, series, signals(series), None, |_| {}).unwrap().trades
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        /// The symbols spread over files at random, read on one thread and
        /// on several: the same series, so the same event stream and trades.
        #[test]
        fn files_read_in_parallel_give_the_series_and_trades_of_reading_them_one_by_one(
            file_of in prop::collection::vec(0..5usize, 5),
            threads in 2..5usize,
        ) {
            let all = demo_series();
            let dir = tempfile::tempdir().unwrap();
            let mut files = Vec::new();
            for f in 0..5 {
                let group: Vec<Series> =
                    all.iter().zip(&file_of).filter(|&(_, &of)| of == f).map(|(s, _)| s.clone()).collect();
                if !group.is_empty() {
                    let path = dir.path().join(format!("part{f}.csv"));
                    write_candles(&path, &group).unwrap();
                    files.push(path);
                }
            }
            let one_by_one = read_prices_on(&files, &[], ReadOptions::default(), 1, Hold::All).unwrap();
            let parallel = read_prices_on(&files, &[], ReadOptions::default(), threads, Hold::All).unwrap();
            prop_assert_eq!(&parallel, &one_by_one);
            let (expected, got) = (trades(&one_by_one.0), trades(&parallel.0));
            prop_assert!(expected.len() > 200, "{} trades", expected.len());
            prop_assert_eq!(&got, &expected);
            // Left in their files, read again as the replay goes: the same
            // trades (the event stream's order is pinned in `stream`).
            let in_files = read_prices_on(&files, &[], ReadOptions::default(), threads, Hold::UpTo(0)).unwrap();
            prop_assert!(in_files.0.iter().all(|s| matches!(s.prices, crate::format::Prices::InFile(_))));
            let mut engine = Engine::new(EngineConfig::default());
            let streamed = replay(&mut engine, &in_files.0, signals(&one_by_one.0), None, |_| {}).unwrap().trades;
            prop_assert_eq!(streamed, expected);
        }
    }
}
