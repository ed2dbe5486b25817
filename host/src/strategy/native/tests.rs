use std::path::Path;
use std::sync::Arc;

use siglearn_plugin_api::{Outcome, OutcomeKind, Side, Signal, SignalId, Timestamp, Values};

use super::dev::plugin;
use super::*;
use crate::strategy::fixture;
use crate::strategy::script::ScriptStrategy;

fn open(name: &str, limits: Limits) -> Result<NativeStrategy, StrategyError> {
    let path = plugin(name);
    let bytes: Arc<[u8]> = Arc::from(std::fs::read(&path).unwrap());
    NativeStrategy::open(StrategyId::new(name), &path, bytes, limits)
}

fn started(name: &str, params: serde_json::Value, limits: Limits) -> NativeStrategy {
    let mut strategy = open(name, limits).unwrap();
    strategy.init(&params).unwrap();
    strategy
}

/// A deterministic stream of signals with their outcomes: nine heads, some
/// missing, votes of both signs, both sides, winners and losers.
fn stream(n: usize) -> Vec<(Arc<Signal>, Outcome)> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let heads = ["adx", "bollinger", "donchian", "ema_cross", "macd", "momentum", "rsi", "stoch", "vwap"];
    (0..n)
        .map(|i| {
            let votes: Values = heads
                .iter()
                .filter_map(|head| {
                    let u = next();
                    (u > 0.15).then(|| (*head, ((next() * 2.0 - 1.0) * 100.0).round() / 100.0))
                })
                .collect();
            let side = if next() < 0.5 { Side::Long } else { Side::Short };
            let signal = Signal {
                id: SignalId::new(format!("s{i}")),
                side,
                heads: votes,
                ..(*fixture::signal()).clone()
            };
            let pnl_pct = (next() - 0.45) * 4.0;
            let outcome = Outcome {
                signal_id: signal.id.clone(),
                kind: if pnl_pct > 0.0 { OutcomeKind::TpHit } else { OutcomeKind::SlHit },
                exit_ts: Timestamp(signal.entry_ts.as_millis() + 60_000),
                pnl_pct,
                ..fixture::outcome()
            };
            (Arc::new(signal), outcome)
        })
        .collect()
}

#[test]
fn native_head_weights_decides_and_learns_exactly_as_the_rhai_script() {
    let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/head_weights.rhai");
    let mut script =
        ScriptStrategy::from_file("head_weights".into(), &script_path, Limits::default()).unwrap();
    let params = serde_json::json!({ "rate": 0.1, "threshold": 0.05 });
    ScriptStrategy::init(&mut script, &params).unwrap();
    let mut native = started("head_weights_native", params, Limits::default());
    for (signal, outcome) in stream(2_000) {
        let (a, b) = (script.decide(&signal).unwrap(), native.decide(&signal).unwrap());
        assert_eq!(a, b, "decisions differ on {}", signal.id);
        script.learn(&signal, &outcome).unwrap();
        native.learn(&signal, &outcome).unwrap();
    }
    assert_eq!(Strategy::state(&script).unwrap(), native.state().unwrap(), "the states are the same JSON");
    let history: Vec<HistoryItem> = stream(300)
        .into_iter()
        .map(|(signal, outcome)| HistoryItem { trade: crate::trade::Trade { signal, outcome }, taken: true })
        .collect();
    assert_eq!(script.retrain(&history).unwrap(), native.retrain(&history).unwrap());
    assert_eq!(script.params_space().unwrap(), native.params_space().unwrap());
}

#[test]
fn a_state_round_trips_and_a_fork_learns_on_its_own() {
    let mut strategy = started("head_weights_native", serde_json::json!({}), Limits::default());
    let (signal, outcome) = (fixture::signal(), fixture::outcome());
    strategy.learn(&signal, &outcome).unwrap();
    let state = strategy.state().unwrap();
    let mut fork = strategy.fork().unwrap();
    assert_eq!(fork.state().unwrap(), state);
    fork.learn(&signal, &outcome).unwrap();
    assert_ne!(fork.state().unwrap(), state, "the fork learned");
    assert_eq!(strategy.state().unwrap(), state, "the original did not");
    strategy.set_state(&fork.state().unwrap()).unwrap();
    assert_eq!(strategy.decide(&signal).unwrap(), fork.decide(&signal).unwrap());
    let bad = strategy.set_state(&serde_json::json!({ "rate": 0.1 })).unwrap_err();
    assert!(bad.message.contains("cannot restore the state"), "{bad}");
}

#[test]
fn bad_params_are_the_plugins_error_named_with_the_hook() {
    let mut strategy = open("head_weights_native", Limits::default()).unwrap();
    let error = strategy.init(&serde_json::json!({ "rat": 0.1 })).unwrap_err();
    assert_eq!(error.hook, Some(Hook::Init));
    assert!(error.message.contains("unknown param rat"), "{error}");
    let error = strategy.decide(&fixture::signal()).unwrap_err();
    assert!(error.message.contains("no state yet"), "{error}");
}

#[test]
fn a_panic_in_a_plugin_is_an_error_and_the_next_call_works() {
    let mut strategy = started("test_panic", serde_json::json!({}), Limits::default());
    let boom = Arc::new(Signal { symbol: "PANIC".into(), ..(*fixture::signal()).clone() });
    let error = strategy.decide(&boom).unwrap_err();
    assert_eq!((error.hook, error.signal_id.as_ref()), (Some(Hook::Decide), Some(&boom.id)));
    assert!(error.message.starts_with("panicked: decide was told to panic on fixture-1"), "{error}");
    let error = strategy.learn(&boom, &fixture::outcome()).unwrap_err();
    assert!(error.message.starts_with("panicked: learn was told to panic"), "{error}");
    assert!(strategy.decide(&fixture::signal()).unwrap().take, "the same instance goes on");
    assert_eq!(strategy.state().unwrap(), serde_json::json!({ "decided": 1 }));
}

#[test]
fn a_call_past_its_budget_is_discarded_and_reported() {
    let limits = Limits { hot_millis: 20, ..Limits::default() };
    let mut strategy = started("test_slow", serde_json::json!({ "sleep_ms": 200 }), limits);
    let error = strategy.decide(&fixture::signal()).unwrap_err();
    assert_eq!(error.hook, Some(Hook::Decide));
    assert!(error.message.contains("over its budget of 20 ms (limits.hot_millis)"), "{error}");
    let mut quick = started("test_slow", serde_json::json!({ "sleep_ms": 0 }), Limits::default());
    assert!(quick.decide(&fixture::signal()).unwrap().take);
}

#[test]
fn without_time_budgets_a_slow_call_counts_as_a_replay_needs() {
    // A replay: the same decision on a slow machine as on a fast one.
    let limits = Limits { hot_millis: 1, ..Limits::default() }.without_time_budgets();
    let mut strategy = started("test_slow", serde_json::json!({ "sleep_ms": 50 }), limits);
    assert!(strategy.decide(&fixture::signal()).unwrap().take);
}

#[test]
fn a_plugin_of_another_abi_is_refused_naming_both_versions() {
    let error = open("test_wrong_abi", Limits::default()).unwrap_err();
    let expected = format!(
        "plugin refused: it was built for plugin ABI {} (siglearn-plugin-api {}",
        siglearn_plugin_api::plugin::ffi::ABI_VERSION + 1,
        env!("CARGO_PKG_VERSION")
    );
    assert!(error.message.starts_with(&expected), "{error}");
    assert!(error.message.contains("this siglearn speaks plugin ABI 1"), "{error}");
}

#[test]
fn a_file_that_is_not_a_plugin_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libnotes.so");
    std::fs::write(&path, "not a library").unwrap();
    let error = crate::strategy::open("notes".into(), &path, Limits::default()).unwrap_err();
    assert!(error.message.contains("plugin refused: cannot load it"), "{error}");
}

#[test]
fn a_file_rebuilt_in_place_loads_as_the_new_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libmine.so");
    std::fs::copy(plugin("test_panic"), &path).unwrap();
    let first = crate::strategy::open("mine".into(), &path, Limits::default()).unwrap();
    std::fs::copy(plugin("head_weights_native"), &path).unwrap();
    let second = crate::strategy::open("mine".into(), &path, Limits::default()).unwrap();
    assert_eq!(first.build().unwrap().strategy, "Panicking");
    assert_eq!(second.build().unwrap().strategy, "HeadWeights", "not the copy already loaded");
    assert_ne!(first.code_hash(), second.code_hash());
}

#[test]
fn a_library_stays_loaded_while_any_instance_from_it_lives() {
    let strategy = started("head_weights_native", serde_json::json!({}), Limits::default());
    let library = Arc::downgrade(strategy.library());
    let mut fork = strategy.fork().unwrap();
    drop(strategy);
    assert!(library.upgrade().is_some(), "the fork keeps the library");
    assert!(fork.decide(&fixture::signal()).is_ok(), "and its code runs");
    drop(fork);
    assert!(library.upgrade().is_none(), "unloaded with the last instance");
}

#[test]
fn a_library_cut_short_anywhere_is_refused_with_advice_and_never_mapped() {
    let path = plugin("head_weights_native");
    let whole = std::fs::read(&path).unwrap();
    assert_eq!(library::check_whole(&whole), Ok(()));
    // The cuts a slow copy leaves: early, in the middle, and only the last
    // byte missing (the loaded code is all there, the section table is not).
    let mut cuts: Vec<usize> = (1..20).map(|k| whole.len() * k / 20).collect();
    cuts.extend([64, 200_000.min(whole.len() - 1), whole.len() - 1]);
    for cut in cuts {
        let bytes: Arc<[u8]> = Arc::from(&whole[..cut]);
        let error = NativeStrategy::open(StrategyId::new("cut"), &path, bytes, Limits::default())
            .expect_err(&format!("a library cut at byte {cut} of {} opened", whole.len()));
        assert!(
            error.message.contains("not a whole library") && error.message.contains("rename it into place"),
            "cut at {cut}: {error}"
        );
    }
}
