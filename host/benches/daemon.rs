//! The daemon under load, as a process over HTTP on loopback:
//!
//! * ingest: signals per second with batched `POST /api/signals` (1,000 a
//!   batch, each acknowledged after commit), from one producer and from four
//!   concurrent ones, with the baseline strategy only and with the five
//!   shipped strategies;
//! * `GET /api/learning/performance` latency (p50/p99) with 1,000,000
//!   outcomes in the store;
//! * reload latency (p50/p99): from writing a script to its new version
//!   being live, including the debounce.
//!
//! Run: `cargo bench -p siglearn --bench daemon` (a few minutes; prints a
//! table; `SIGLEARN_BENCH_INGEST_ONLY=1` stops after the ingest figures). Latencies are wall-clock and machine-dependent; no target is
//! asserted here.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use siglearn::monitor::MonitorConfig;
use siglearn::store::{Command as Write, Store};
use siglearn_plugin_api::{
    Decision, Outcome, OutcomeKind, Side, Signal, SignalId, StrategyId, Symbol, Timestamp, Values, VersionId,
};

struct Daemon {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_siglearn"))
        .current_dir(dir)
        .args(["run", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("siglearn listening on ").unwrap().to_owned();
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    Daemon { child, base, agent }
}

fn scripts(dir: &Path, names: &[&str]) {
    let folder = dir.join("scripts");
    std::fs::create_dir_all(&folder).unwrap();
    for name in names {
        let source = format!("{}/../scripts/{name}.rhai", env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(source, folder.join(format!("{name}.rhai"))).unwrap();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn signal_json(id: usize) -> String {
    format!(
        r#"{{"signal_id":"s{id}","symbol":"SYM{}","side":"long","entry_ts":"2024-01-01T00:00:00Z","entry_price":100,"take_profit":110,"stop_loss":95,"confidence":0.4,"pattern":"trend","heads":{{"adx":0.8,"bollinger":-0.3,"donchian":0.5,"ema_trend":0.9,"macd":0.4,"obv":0.2,"roc":0.6,"rsi":-0.4,"stochastic":-0.1}},"indicators":{{"adx":31,"atr_pct":1.4,"bb_pct_b":0.72,"donchian_pos":0.9,"ema_gap_pct":0.35,"macd_hist":12.5,"obv_slope":0.08,"roc":2.1,"rsi":61,"stoch_k":78}}}}"#,
        id % 50
    )
}

/// Signals per second through batched posts from `clients` concurrent
/// producers (each on its own keep-alive connection).
fn ingest(strategies: &[&str], batches: usize, clients: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), strategies);
    let daemon = start(dir.path());
    let bodies: Vec<String> = (0..batches)
        .map(|b| format!("[{}]", (0..1000).map(|i| signal_json(b * 1000 + i)).collect::<Vec<_>>().join(",")))
        .collect();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for client in 0..clients {
            let (bodies, base) = (&bodies, &daemon.base);
            scope.spawn(move || {
                let agent: ureq::Agent =
                    ureq::Agent::config_builder().http_status_as_error(false).build().into();
                for body in bodies.iter().skip(client).step_by(clients) {
                    let response = agent
                        .post(format!("{base}/api/signals"))
                        .header("Content-Type", "application/json")
                        .send(body.as_str())
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 200);
                }
            });
        }
    });
    (batches * 1000) as f64 / start.elapsed().as_secs_f64()
}

/// A store with `n` closed signals (and the baseline's decisions on them).
fn seed(db: &Path, n: usize) {
    let store = Store::open(db, &MonitorConfig::default()).unwrap();
    let heads: Values = [("rsi", 0.4), ("macd", -0.2), ("adx", 0.7)].into_iter().collect();
    let indicators: Values = [("rsi", 55.0), ("atr_pct", 1.2)].into_iter().collect();
    for i in 0..n {
        let id = SignalId::new(format!("s{i}"));
        let entry = Timestamp(1_700_000_000_000 + i as i64 * 60_000);
        let win = i % 3 == 0;
        let signal = Signal {
            id: id.clone(),
            symbol: Symbol::new(["BTC", "ETH", "SOL"][i % 3]),
            side: if i % 2 == 0 { Side::Long } else { Side::Short },
            entry_ts: entry,
            entry_price: 100.0,
            take_profit: Some(if i % 2 == 0 { 102.0 } else { 98.0 }),
            stop_loss: Some(if i % 2 == 0 { 99.0 } else { 101.0 }),
            max_hold_ms: Some(3_600_000),
            confidence: Some((i % 100) as f64 / 100.0),
            pattern: Some(["trend", "momentum", "breakout"][i % 3].into()),
            regime: Some("trend_high_vol".into()),
            heads: heads.clone(),
            indicators: indicators.clone(),
        };
        store.send(Write::InsertSignal(Arc::new(signal))).unwrap();
        store
            .send(Write::InsertDecision(Decision {
                strategy: StrategyId::new("baseline"),
                version: VersionId(1),
                signal_id: id.clone(),
                take: true,
                score: 1.0,
                size: 1.0,
            }))
            .unwrap();
        store
            .send(Write::InsertOutcome {
                outcome: Outcome {
                    signal_id: id,
                    kind: if win { OutcomeKind::TpHit } else { OutcomeKind::SlHit },
                    exit_ts: entry + 1_800_000,
                    exit_price: 100.0,
                    pnl_pct: if win { 2.0 } else { -1.0 },
                    holding_ms: 1_800_000,
                    ambiguous: false,
                    mfe_pct: 2.0,
                    mae_pct: 1.0,
                },
                known_at: Timestamp(entry.as_millis() + 1_800_000),
            })
            .unwrap();
    }
    store.close().unwrap();
}

/// p50 and p99 of `GET /api/learning/performance` over a store of `n` outcomes.
fn performance_latency(n: usize) -> (Duration, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    seed(&dir.path().join("siglearn.db"), n);
    let daemon = start(dir.path());
    let url = format!("{}/api/learning/performance?period=all", daemon.base);
    let first = Instant::now();
    let response = daemon.agent.get(&url).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cold = first.elapsed();
    let mut times: Vec<Duration> = (0..1000)
        .map(|_| {
            let start = Instant::now();
            let mut response = daemon.agent.get(&url).call().unwrap();
            let _ = response.body_mut().read_to_string().unwrap();
            start.elapsed()
        })
        .collect();
    times.sort();
    (cold, percentile(&times, 0.5), percentile(&times, 0.99))
}

/// p50 and p99 from writing a script to its new version being live.
fn reload_latency(rounds: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let script = dir.path().join("scripts/probe.rhai");
    std::fs::write(&script, "fn decide(signal) { true }").unwrap();
    let daemon = start(dir.path());
    let url = format!("{}/api/strategies", daemon.base);
    let version = || -> u64 {
        let mut response = daemon.agent.get(&url).call().unwrap();
        let body: serde_json::Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        body["strategies"]["probe"]["version"].as_u64().unwrap_or(0)
    };
    let mut times = Vec::new();
    for round in 0..rounds {
        let before = version();
        let start = Instant::now();
        std::fs::write(&script, format!("// round {round}\nfn decide(signal) {{ true }}")).unwrap();
        while version() == before {
            std::thread::sleep(Duration::from_millis(1));
        }
        times.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(150));
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn main() {
    // `cargo test --benches` runs benches with --bench absent: stay quick then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let shipped = ["baseline", "adaptive_threshold", "head_weights", "pattern_filter", "indicator_weights"];
    println!("daemon benchmark (loopback HTTP, release build)");
    for clients in [1, 4] {
        println!(
            "  ingest, baseline only, {clients} client(s):           {:>7.0} signals/s",
            ingest(&["baseline"], 100, clients)
        );
        println!(
            "  ingest, five shipped strategies, {clients} client(s): {:>7.0} signals/s",
            ingest(&shipped, 40, clients)
        );
    }
    if std::env::var_os("SIGLEARN_BENCH_INGEST_ONLY").is_some() {
        return;
    }
    let (cold, p50, p99) = performance_latency(1_000_000);
    println!(
        "  GET /api/learning/performance, 1,000,000 outcomes: first {:.0} ms, then p50 {:.2} ms, p99 {:.2} ms",
        cold.as_secs_f64() * 1e3,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    let (p50, p99) = reload_latency(50);
    println!(
        "  reload, script write to new version live: p50 {:.0} ms, p99 {:.0} ms (debounce 50 ms)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}
