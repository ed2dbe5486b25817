//! Strategy call cost: each shipped Rhai script's `decide` and `learn` on a
//! signal with nine head votes and ten indicators, against the head_weights
//! plugin (plugins/head-weights, called through the C ABI exactly as the
//! engine calls it) and against the same algorithm inlined in the
//! benchmark (no boundary at all), in one run; and the demo (bundled
//! candles, generated signals) replayed in memory with the five shipped
//! strategies A/B and their jobs, against the same replay without strategies.
//!
//! Run: `cargo bench -p siglearn --bench strategy`

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use siglearn::config::Config;
use siglearn::engine::{Engine, LineupSpec};
use siglearn::format::{Prices, ReadOptions, Series, read_prices};
use siglearn::generate::{GeneratorConfig, generate};
use siglearn::replay::{event_count, replay};
use siglearn::schedule::Schedule;
use siglearn::strategy::script::{Limits, ScriptStrategy};
use siglearn::strategy::{Strategy, fixture, load_lineup};
use siglearn_plugin_api::{Outcome, OutcomeKind, Signal, StrategyId};

const SCRIPTS: [&str; 5] =
    ["baseline", "adaptive_threshold", "head_weights", "pattern_filter", "indicator_weights"];

fn script(name: &str) -> ScriptStrategy {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../scripts/{name}.rhai"));
    let mut strategy = ScriptStrategy::from_file(StrategyId::new(name), &path, Limits::default()).unwrap();
    strategy.init(&serde_json::json!({})).unwrap();
    strategy
}

/// A win and a loss, so learning keeps moving the state.
fn outcomes() -> [Outcome; 2] {
    let win = fixture::outcome();
    let loss = Outcome { kind: OutcomeKind::SlHit, pnl_pct: -1.45, exit_price: 13_600.0, ..win.clone() };
    [win, loss]
}

/// head_weights.rhai in plain Rust inside the benchmark (no library, no
/// boundary): per-head faded hit/miss masses, log-odds weights.
#[derive(Default)]
struct NativeHeadWeights {
    weights: HashMap<Arc<str>, f64>,
    hits: HashMap<Arc<str>, f64>,
    misses: HashMap<Arc<str>, f64>,
    total: f64,
}

impl NativeHeadWeights {
    const RATE: f64 = 0.05;

    fn decide(&self, signal: &Signal) -> bool {
        let mean = if self.total > 0.0 {
            signal
                .heads
                .iter()
                .map(|(name, vote)| vote * self.weights.get(name).copied().unwrap_or(0.0))
                .sum::<f64>()
                / self.total
        } else {
            signal.heads.values().sum::<f64>() / signal.heads.len().max(1) as f64
        };
        mean * signal.side.sign() > 0.0
    }

    fn learn(&mut self, signal: &Signal, outcome: &Outcome) {
        let win = outcome.pnl_pct > 0.0;
        for (name, vote) in signal.heads.names().zip(signal.heads.values()) {
            let agreement = vote * signal.side.sign();
            if agreement == 0.0 {
                continue;
            }
            let hits = self.hits.entry(Arc::clone(name)).or_insert(0.0);
            let misses = self.misses.entry(Arc::clone(name)).or_insert(0.0);
            *hits *= 1.0 - Self::RATE;
            *misses *= 1.0 - Self::RATE;
            if (agreement > 0.0) == win {
                *hits += agreement.abs();
            } else {
                *misses += agreement.abs();
            }
            let p = (*hits + 1.0) / (*hits + *misses + 2.0);
            let weight = (p / (1.0 - p)).ln().clamp(0.05, 5.0);
            let old = self.weights.insert(Arc::clone(name), weight).unwrap_or(0.0);
            self.total += weight - old;
        }
    }
}

fn calls(c: &mut Criterion) {
    let signal = fixture::signal();
    let outcomes = outcomes();
    let mut group = c.benchmark_group("strategy_call");
    group.measurement_time(Duration::from_secs(3)).sample_size(30);
    for name in SCRIPTS {
        let mut strategy = script(name);
        for outcome in &outcomes {
            strategy.learn(&signal, outcome).unwrap();
        }
        group.bench_with_input(BenchmarkId::new("rhai_decide", name), &name, |b, _| {
            b.iter(|| black_box(strategy.decide(&signal).unwrap()))
        });
        let mut n = 0usize;
        group.bench_with_input(BenchmarkId::new("rhai_learn", name), &name, |b, _| {
            b.iter(|| {
                n += 1;
                strategy.learn(&signal, &outcomes[n % 2]).unwrap();
            })
        });
    }
    let library = siglearn::strategy::native::dev::plugin("head_weights_native");
    let mut plugin =
        siglearn::strategy::open(StrategyId::new("head_weights_native"), &library, Limits::default())
            .unwrap();
    plugin.init(&serde_json::json!({})).unwrap();
    for outcome in &outcomes {
        plugin.learn(&signal, outcome).unwrap();
    }
    group.bench_function(BenchmarkId::new("plugin_decide", "head_weights"), |b| {
        b.iter(|| black_box(plugin.decide(&signal).unwrap()))
    });
    let mut n = 0usize;
    group.bench_function(BenchmarkId::new("plugin_learn", "head_weights"), |b| {
        b.iter(|| {
            n += 1;
            plugin.learn(&signal, &outcomes[n % 2]).unwrap();
        })
    });
    // The boundary alone: test_panic's hooks compare a string and count.
    let empty = siglearn::strategy::native::dev::plugin("test_panic");
    let mut empty = siglearn::strategy::open(StrategyId::new("empty"), &empty, Limits::default()).unwrap();
    empty.init(&serde_json::json!({})).unwrap();
    group.bench_function(BenchmarkId::new("plugin_decide", "near_empty"), |b| {
        b.iter(|| black_box(empty.decide(&signal).unwrap()))
    });
    group.bench_function(BenchmarkId::new("plugin_learn", "near_empty"), |b| {
        b.iter(|| empty.learn(&signal, &outcomes[0]).unwrap())
    });
    let mut native = NativeHeadWeights::default();
    for outcome in &outcomes {
        native.learn(&signal, outcome);
    }
    group.bench_function(BenchmarkId::new("inline_decide", "head_weights"), |b| {
        b.iter(|| black_box(native.decide(&signal)))
    });
    let mut n = 0usize;
    group.bench_function(BenchmarkId::new("inline_learn", "head_weights"), |b| {
        b.iter(|| {
            n += 1;
            native.learn(&signal, &outcomes[n % 2]);
        })
    });
    group.finish();
}

/// The demo's inputs: bundled candles and the generator's signals.
fn demo_inputs() -> (Vec<Series>, Vec<Signal>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    let (series, _) = read_prices(&files, &[], ReadOptions::default()).unwrap();
    let mut signals = Vec::new();
    for one in &series {
        if let Prices::Bars(bars) = &one.prices {
            signals.extend(generate(&one.symbol, bars, &GeneratorConfig::default()));
        }
    }
    (series, signals)
}

fn demo_replay(c: &mut Criterion) {
    let (series, signals) = demo_inputs();
    let config =
        Config::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../siglearn.example.toml")).unwrap();
    let events = event_count(&series, &signals);
    let start = signals.iter().map(|s| s.entry_ts).min().unwrap();
    let mut group = c.benchmark_group("demo_replay");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(events));
    group.bench_function("five_strategies", |b| {
        b.iter_batched(
            || {
                let lineup = load_lineup(&config, start).unwrap();
                let schedule = Schedule::new(&config.schedule).unwrap();
                let spec = LineupSpec {
                    members: lineup.members,
                    champion: lineup.champion,
                    schedule: Some(schedule),
                };
                (Engine::with_lineup(config.engine(), spec), signals.clone())
            },
            |(mut engine, signals)| replay(&mut engine, &series, signals, None, |_| {}).unwrap(),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("no_strategies", |b| {
        b.iter_batched(
            || (Engine::new(config.engine()), signals.clone()),
            |(mut engine, signals)| replay(&mut engine, &series, signals, None, |_| {}).unwrap(),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, calls, demo_replay);
criterion_main!(benches);
