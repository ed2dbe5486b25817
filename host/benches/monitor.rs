//! Outcome monitor throughput: the indexed monitor against the naive linear
//! scan, in the same run, with 1k, 10k and 100k active signals on one symbol.
//!
//! * `quiet`: prices move inside every signal's levels, so nothing closes:
//!   the steady state of a monitor watching many signals.
//! * `churn`: a random walk closes signals as it goes and each closed signal
//!   is replaced by a new one, so the book stays at its size.
//!
//! Run: `cargo bench -p siglearn --bench monitor`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use siglearn::monitor::{Monitor, MonitorConfig, NaiveMonitor, SymbolIx};
use siglearn_plugin_api::{Bar, Price, Side, Signal, SignalId, Symbol, Timestamp};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// A small deterministic generator, so every run sees the same data.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn signal(n: usize, price: f64, distance_pct: f64, entry_ts: i64) -> Arc<Signal> {
    let side = if n % 2 == 0 { Side::Long } else { Side::Short };
    let (up, down) = (price * (1.0 + distance_pct / 100.0), price * (1.0 - distance_pct / 100.0));
    let (take_profit, stop_loss) = match side {
        Side::Long => (up, down),
        Side::Short => (down, up),
    };
    Arc::new(Signal {
        id: SignalId::new(format!("s{n}")),
        symbol: Symbol::new("BTC"),
        side,
        entry_ts: Timestamp(entry_ts),
        entry_price: price,
        take_profit: Some(take_profit),
        stop_loss: Some(stop_loss),
        max_hold_ms: None,
        confidence: None,
        pattern: None,
        regime: None,
        heads: Default::default(),
        indicators: Default::default(),
    })
}

fn bar(ts: i64, open: f64, wiggle: f64) -> Price {
    Price::Bar(Bar {
        ts: Timestamp(ts),
        open,
        high: open + wiggle,
        low: open - wiggle,
        close: open,
        volume: 1.0,
    })
}

/// Both monitors behind one interface for the benchmark loop.
trait Watcher {
    fn watch(&mut self, signal: Arc<Signal>);
    fn price(&mut self, price: &Price) -> usize;
}

struct Indexed(Monitor, SymbolIx, Vec<siglearn::trade::Trade>);
struct Naive(NaiveMonitor, Symbol, Vec<siglearn::trade::Trade>);

impl Watcher for Indexed {
    fn watch(&mut self, signal: Arc<Signal>) {
        self.0.watch(signal).unwrap();
    }
    fn price(&mut self, price: &Price) -> usize {
        self.2.clear();
        self.0.on_price(self.1, price, &mut self.2).unwrap();
        self.2.len()
    }
}

impl Watcher for Naive {
    fn watch(&mut self, signal: Arc<Signal>) {
        self.0.watch(signal);
    }
    fn price(&mut self, price: &Price) -> usize {
        self.2.clear();
        self.0.on_price(&self.1, price, &mut self.2);
        self.2.len()
    }
}

/// A fresh monitor of the named kind.
fn make(kind: &str) -> Box<dyn Watcher> {
    if kind == "naive" {
        return Box::new(Naive(NaiveMonitor::new(MonitorConfig::default()), Symbol::new("BTC"), Vec::new()));
    }
    let mut monitor = Monitor::new(MonitorConfig::default());
    let symbol = monitor.symbol(&Symbol::new("BTC"));
    Box::new(Indexed(monitor, symbol, Vec::new()))
}

fn quiet(c: &mut Criterion) {
    let mut group = c.benchmark_group("monitor_quiet");
    group.throughput(Throughput::Elements(1)).measurement_time(Duration::from_secs(4)).sample_size(20);
    for size in SIZES {
        for name in ["indexed", "naive"] {
            let mut monitor = make(name);
            for n in 0..size {
                monitor.watch(signal(n, 100.0, 10.0 + (n % 97) as f64 / 10.0, 0));
            }
            // The first price activates every signal; the measured ones close none.
            monitor.price(&bar(0, 100.0, 0.5));
            let mut ts = 0i64;
            group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for i in 0..iters {
                        ts += 60_000;
                        let open = 100.0 + (i % 7) as f64 * 0.1 - 0.3;
                        black_box(monitor.price(&bar(ts, open, 0.5)));
                    }
                    start.elapsed()
                });
            });
        }
    }
    group.finish();
}

fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("monitor_churn");
    group.throughput(Throughput::Elements(1)).measurement_time(Duration::from_secs(4)).sample_size(20);
    for size in SIZES {
        for name in ["indexed", "naive"] {
            let mut monitor = make(name);
            let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
            let mut price = 100.0;
            let mut next_id = 0;
            for _ in 0..size {
                monitor.watch(signal(next_id, price, 0.5 + 3.0 * random.next(), 0));
                next_id += 1;
            }
            let mut ts = 0i64;
            let (mut updates, mut closes) = (0u64, 0u64);
            group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        ts += 60_000;
                        price *= 1.0 + (random.next() - 0.5) * 0.004;
                        let closed = monitor.price(&bar(ts, price, price * 0.001));
                        updates += 1;
                        closes += closed as u64;
                        for _ in 0..closed {
                            monitor.watch(signal(next_id, price, 0.5 + 3.0 * random.next(), ts));
                            next_id += 1;
                        }
                    }
                    start.elapsed()
                });
            });
            eprintln!(
                "monitor_churn/{name}/{size}: {:.1} signals closed per update",
                closes as f64 / updates as f64
            );
        }
    }
    group.finish();
}

criterion_group!(benches, quiet, churn);
criterion_main!(benches);
