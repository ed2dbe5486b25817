//! End-to-end replay throughput on every shared candle file.
//!
//! All CSV files of the shared data folder (or `SIGLEARN_DATA_DIR`) are
//! read, each series renamed after its file so that no symbol is in two
//! series, and the built-in generator makes signals at threshold 0.10
//! (100k+ signals over the 292k shared candles). Measured, in one run:
//!
//! * `in_memory`: the engine replay alone (prices + signals -> trades);
//! * `sqlite`: the same replay writing every signal and outcome to a new
//!   SQLite store, including the final commit;
//! * `naive_in_memory`: the same event stream through the naive linear-scan
//!   monitor, the baseline the indexed monitor is measured against;
//! * `read_csv`: parsing and validating all the candle files.
//!
//! Throughput is in events (prices + signals) per second.
//! Run: `cargo bench -p siglearn --bench replay`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use siglearn::engine::{Engine, EngineConfig};
use siglearn::format::{Prices, ReadOptions, Series, read_prices};
use siglearn::generate::{GeneratorConfig, generate};
use siglearn::monitor::{MonitorConfig, NaiveMonitor};
use siglearn::replay::{event_count, replay};
use siglearn::store::Store;
use siglearn_plugin_api::{Signal, Symbol};

fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIGLEARN_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if shared.is_dir() { shared } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/demo") }
}

fn candle_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .collect();
    files.sort();
    files
}

/// Every file as its own series, named after the file (`BTC-USD_1h`).
fn load(files: &[PathBuf]) -> Vec<Series> {
    let mut all = Vec::new();
    for file in files {
        let (series, _) = read_prices(std::slice::from_ref(file), &[], ReadOptions::default()).unwrap();
        let stem = file.file_stem().unwrap().to_str().unwrap();
        for mut one in series {
            one.symbol = Symbol::new(stem);
            all.push(one);
        }
    }
    all
}

fn signals_for(series: &[Series], config: &GeneratorConfig) -> Vec<Signal> {
    let mut signals = Vec::new();
    for one in series {
        if let Prices::Bars(bars) = &one.prices {
            signals.extend(generate(&one.symbol, bars, config));
        }
    }
    signals
}

/// The replay's event stream through the naive monitor.
fn naive_replay(series: &[Series], signals: &[Arc<Signal>]) -> usize {
    let mut prices: Vec<_> = series
        .iter()
        .enumerate()
        .flat_map(|(s, one)| (0..one.prices.len()).map(move |i| (one.prices.get(i).unwrap().ts(), s, i)))
        .collect();
    prices.sort_unstable();
    let mut monitor = NaiveMonitor::new(MonitorConfig::default());
    let mut closed = Vec::new();
    let mut next_signal = signals.iter().peekable();
    for (ts, s, i) in prices {
        while let Some(signal) = next_signal.next_if(|signal| signal.entry_ts <= ts) {
            monitor.watch(Arc::clone(signal));
        }
        monitor.on_price(&series[s].symbol, &series[s].prices.get(i).unwrap(), &mut closed);
    }
    closed.len()
}

/// The engine replay alone. The signals are cloned outside the timed region
/// (a replay owns its input) and the result is dropped outside it too.
fn bench_in_memory(group: &mut BenchmarkGroup<'_, WallTime>, series: &[Series], signals: &[Signal]) {
    group.bench_function("in_memory", |b| {
        b.iter_batched(
            || signals.to_vec(),
            |signals| {
                replay(&mut Engine::new(EngineConfig::default()), series, signals, None, |_| {}).unwrap()
            },
            BatchSize::PerIteration,
        );
    });
}

fn end_to_end(c: &mut Criterion) {
    let files = candle_files();
    let series = load(&files);
    let mut signals =
        signals_for(&series, &GeneratorConfig { threshold: 0.10, ..GeneratorConfig::default() });
    signals.sort_by_key(|signal| signal.entry_ts);
    let events = event_count(&series, &signals);
    let prices: usize = series.iter().map(|s| s.prices.len()).sum();
    eprintln!(
        "replay bench: {} files from {}, {prices} candles, {} signals, {events} events",
        files.len(),
        data_dir().display(),
        signals.len()
    );

    let mut group = c.benchmark_group("replay");
    group.sample_size(10).measurement_time(Duration::from_secs(15)).throughput(Throughput::Elements(events));
    bench_in_memory(&mut group, &series, &signals);
    group.bench_function("sqlite", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("bench.db");
                let input = signals.clone();
                let start = Instant::now();
                let store = Store::open(&path, &MonitorConfig::default()).unwrap();
                let result =
                    replay(&mut Engine::new(EngineConfig::default()), &series, input, Some(&store), |_| {})
                        .unwrap();
                store.close().unwrap();
                total += start.elapsed();
                black_box(result.trades.len());
            }
            total
        });
    });
    let shared: Vec<Arc<Signal>> = signals.iter().cloned().map(Arc::new).collect();
    group.bench_function("naive_in_memory", |b| b.iter(|| black_box(naive_replay(&series, &shared))));
    group.throughput(Throughput::Elements(prices as u64));
    group.bench_function("read_csv", |b| b.iter(|| black_box(load(&files).len())));
    group.finish();

    // Wide exits and long holds keep many signals open at once: the case the
    // index is for.
    let wide =
        GeneratorConfig { threshold: 0.10, tp_atr: 8.0, sl_atr: 4.0, hold_bars: 1000, cooldown_bars: 0 };
    let mut signals = signals_for(&series, &wide);
    signals.sort_by_key(|signal| signal.entry_ts);
    let events = event_count(&series, &signals);
    let mut group = c.benchmark_group("replay_long_holds");
    group.sample_size(10).measurement_time(Duration::from_secs(15)).throughput(Throughput::Elements(events));
    bench_in_memory(&mut group, &series, &signals);
    let shared: Vec<Arc<Signal>> = signals.iter().cloned().map(Arc::new).collect();
    group.bench_function("naive_in_memory", |b| b.iter(|| black_box(naive_replay(&series, &shared))));
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
