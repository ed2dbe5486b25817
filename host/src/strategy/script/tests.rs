//! The Rhai runtime: hooks, state, limits and error reports.

use std::path::Path;

use serde_json::json;
use siglearn_plugin_api::StrategyId;

use super::*;
use crate::strategy::fixture;

fn compile(source: &str) -> Result<ScriptStrategy, StrategyError> {
    ScriptStrategy::compile(StrategyId::new("test"), Path::new("test.rhai"), source, Limits::default())
}

fn strategy(source: &str) -> ScriptStrategy {
    let mut strategy = compile(source).unwrap();
    strategy.init(&json!({})).unwrap();
    strategy
}

#[test]
fn decide_reads_the_signal_through_getters() {
    let mut s = strategy(
        r#"
        fn decide(signal) {
            let score = signal.heads["ema_trend"] + signal.indicators.get("rsi", 0.0) / 100.0;
            #{ take: signal.is_long && signal.pattern == "trend", score: score, size: 2 }
        }
        "#,
    );
    let verdict = s.decide(&fixture::signal()).unwrap();
    assert_eq!(verdict, Verdict { take: true, score: 0.9 + 0.61, size: 2.0 });
}

#[test]
fn a_bare_bool_is_a_decision() {
    let mut s = strategy("fn decide(signal) { signal.confidence > 0.5 }");
    assert_eq!(s.decide(&fixture::signal()).unwrap(), Verdict { take: false, score: 0.0, size: 1.0 });
}

#[test]
fn init_builds_the_state_from_params_and_learn_updates_it() {
    let mut s = compile(
        r#"
        fn init(params) { this.threshold = params.threshold; this.seen = 0; }
        fn decide(signal) { signal.confidence >= this.threshold }
        fn learn(signal, outcome) {
            this.seen += 1;
            if outcome.is_win { this.threshold -= 0.01; } else { this.threshold += 0.01; }
        }
        "#,
    )
    .unwrap();
    s.init(&json!({"threshold": 0.3})).unwrap();
    assert!(s.decide(&fixture::signal()).unwrap().take);
    s.learn(&fixture::signal(), &fixture::outcome()).unwrap();
    assert_eq!(s.state().unwrap(), json!({"threshold": 0.3 - 0.01, "seen": 1}));
}

#[test]
fn state_round_trips_through_json() {
    let mut s = strategy(
        r#"
        fn init(params) { #{ weights: #{ rsi: 0.5, adx: 1 }, names: ["a", "b"], on: true } }
        fn decide(signal) { true }
        "#,
    );
    let state = s.state().unwrap();
    assert_eq!(state, json!({"weights": {"rsi": 0.5, "adx": 1}, "names": ["a", "b"], "on": true}));
    s.set_state(&json!({"weights": {"rsi": 0.25}})).unwrap();
    assert_eq!(s.state().unwrap(), json!({"weights": {"rsi": 0.25}}));
}

#[test]
fn a_state_json_cannot_hold_is_refused_naming_the_field() {
    let mut s =
        compile("fn init(params) { this.w = #{ x: 0.0 / 0.0 }; } fn decide(signal) { true }").unwrap();
    let err = s.init(&json!({})).unwrap_err();
    assert!(err.message.contains("this.w.x is NaN"), "{err}");
}

#[test]
fn a_missing_decide_and_a_wrong_arity_are_compile_errors() {
    let err = compile("fn learn(signal, outcome) {}").unwrap_err();
    assert!(err.message.contains("no decide(signal)"), "{err}");
    let err = compile("fn decide(signal) { true } fn learn(signal) {}").unwrap_err();
    assert!(
        err.message.contains("learn takes 1 parameter(s) but the hook is learn(signal, outcome)"),
        "{err}"
    );
}

#[test]
fn a_syntax_error_names_the_line_and_position() {
    let err = compile("fn decide(signal) {\n  let x = ;\n}").unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
    assert!(err.to_string().starts_with("strategy test (test.rhai:2:"), "{err}");
}

#[test]
fn a_runtime_error_names_hook_line_and_signal() {
    let mut s = strategy("fn decide(signal) {\n  let w = this.weights;\n  w.rsi > 0\n}");
    let err = s.decide(&fixture::signal()).unwrap_err();
    assert_eq!((err.hook, err.line), (Some(Hook::Decide), Some(3)), "{err}");
    assert_eq!(err.signal_id.as_ref().map(|id| id.as_str()), Some("fixture-1"));
    // The strategy goes on working after an error.
    assert!(s.decide(&fixture::signal()).is_err());
}

#[test]
fn an_endless_loop_hits_the_operation_budget() {
    // As in a replay: operation budgets alone, so a slow or loaded machine
    // cannot make the time budget fire first.
    let limits = Limits::default().without_time_budgets();
    let mut s = ScriptStrategy::compile(
        StrategyId::new("test"),
        Path::new("test.rhai"),
        "fn decide(signal) { let n = 0; loop { n += 1; } }",
        limits,
    )
    .unwrap();
    s.init(&json!({})).unwrap();
    let err = s.decide(&fixture::signal()).unwrap_err();
    assert!(err.message.contains("operation budget exceeded (100000 operations)"), "{err}");
}

#[test]
fn every_hook_that_runs_out_of_operations_names_the_budget_the_hook_and_the_key_to_raise() {
    let limits =
        Limits { hot_operations: 1_000, job_operations: 5_000, ..Limits::default() }.without_time_budgets();
    let endless =
        "fn init(params) { loop { } } fn decide(signal) { loop { } } fn daily(summary) { loop { } }";
    let mut s =
        ScriptStrategy::compile(StrategyId::new("test"), Path::new("test.rhai"), endless, limits).unwrap();
    let init = s.init(&json!({})).unwrap_err().message.clone();
    assert!(
        init.starts_with("operation budget exceeded (5000 operations) in init; ")
            && init.contains("limits.job_operations"),
        "{init}"
    );
    let decide = s.decide(&fixture::signal()).unwrap_err().message.clone();
    assert!(
        decide.starts_with("operation budget exceeded (1000 operations) in decide; ")
            && decide.contains("limits.hot_operations"),
        "{decide}"
    );
    let summary = crate::strategy::DailySummary {
        date: "2018-01-01".into(),
        signals: 0,
        taken: 0,
        trades: 0,
        wins: 0,
        pnl_pct: 0.0,
        win_rate: 0.0,
    };
    let daily = s.daily(&summary).unwrap_err().message.clone();
    assert!(daily.starts_with("operation budget exceeded (5000 operations) in daily; "), "{daily}");
}

#[test]
fn deep_recursion_hits_the_call_depth_limit() {
    let mut s = strategy("fn down(n) {\n  down(n + 1)\n}\nfn decide(signal) {\n  down(0)\n}");
    let err = s.decide(&fixture::signal()).unwrap_err();
    assert!(err.message.contains("Stack overflow"), "{err}");
    assert_eq!((err.line, err.position), (Some(2), Some(3)), "the call that recursed: {err}");
}

#[test]
fn huge_strings_and_arrays_hit_their_limits() {
    let mut s = strategy("fn decide(signal) { let s = \"x\"; loop { s += s; } }");
    let err = s.decide(&fixture::signal()).unwrap_err();
    assert!(err.message.to_lowercase().contains("string") || err.message.contains("budget"), "{err}");
}

#[test]
fn a_bad_decide_result_is_explained() {
    let mut s = strategy("fn decide(signal) { #{ take: 1 } }");
    assert!(s.decide(&fixture::signal()).unwrap_err().message.contains("take must be a bool"));
    let mut s = strategy("fn decide(signal) { #{ take: true, sise: 2 } }");
    assert!(s.decide(&fixture::signal()).unwrap_err().message.contains("unknown key \"sise\""));
    let mut s = strategy("fn decide(signal) { 42 }");
    assert!(s.decide(&fixture::signal()).unwrap_err().message.contains("must return"));
}

#[test]
fn retrain_returns_a_candidate_and_leaves_the_live_state_alone() {
    let mut s = strategy(
        r#"
        fn init(params) { this.wins = 0; }
        fn decide(signal) { true }
        fn retrain(history) {
            let wins = 0;
            for item in history { if item.outcome.is_win && item.taken { wins += 1; } }
            this.wins = wins;
        }
        "#,
    );
    let trade = crate::trade::Trade { signal: fixture::signal(), outcome: fixture::outcome() };
    let history = [HistoryItem { trade: trade.clone(), taken: true }, HistoryItem { trade, taken: false }];
    assert_eq!(s.retrain(&history).unwrap(), Some(json!({"wins": 1})));
    assert_eq!(s.state().unwrap(), json!({"wins": 0}));
}

#[test]
fn migrate_carries_state_or_keeps_it_when_absent() {
    let mut s = compile("fn decide(signal) { true } fn migrate(old) { #{ w: old.weight * 2.0 } }").unwrap();
    s.migrate(&json!({"weight": 1.5})).unwrap();
    assert_eq!(s.state().unwrap(), json!({"w": 3.0}));
    let mut s = compile("fn decide(signal) { true }").unwrap();
    s.migrate(&json!({"weight": 1.5})).unwrap();
    assert_eq!(s.state().unwrap(), json!({"weight": 1.5}));
}

#[test]
fn values_can_be_iterated_and_dotted_with_weights() {
    let mut s = strategy(
        r#"
        fn decide(signal) {
            let n = 0;
            for name in signal.heads { n += 1; }
            let weights = #{ adx: 2.0 };
            let dot = weights.dot(signal.heads, 0.0);
            #{ take: n == 9 && signal.heads.len() == 9, score: dot }
        }
        "#,
    );
    assert_eq!(s.decide(&fixture::signal()).unwrap(), Verdict { take: true, score: 1.6, size: 1.0 });
}

#[test]
fn helpers_are_available_to_scripts() {
    let mut s =
        strategy("fn decide(signal) { #{ take: true, score: clamp(sigmoid(0) + ewma(0.0, 1, 0.5), 0, 1) } }");
    assert_eq!(s.decide(&fixture::signal()).unwrap().score, 1.0);
}

#[test]
fn params_returns_the_search_space() {
    let mut s = strategy("fn decide(signal) { true } fn params() { #{ threshold: [0.1, 0.5] } }");
    assert_eq!(s.params_space().unwrap(), Some(json!({"threshold": [0.1, 0.5]})));
}

#[test]
fn undefined_variables_are_caught_at_compile_time() {
    let err = compile("fn decide(signal) { thresold > 0.5 }").unwrap_err();
    assert!(err.message.contains("thresold"), "{err}");
}

#[test]
fn a_learn_that_leaves_a_state_json_cannot_hold_is_refused_and_the_state_kept() {
    let mut s = strategy(
        r#"
        fn init(params) { this.n = 0; this.w = 1.0; }
        fn decide(signal) { true }
        fn learn(signal, outcome) {
            this.n += 1;
            if this.n == 2 { this.w = 0.0 / 0.0; }
            if this.n == 3 { this.at = timestamp(); }
        }
        "#,
    );
    s.learn(&fixture::signal(), &fixture::outcome()).unwrap();
    // The second call would leave NaN: refused, and the state is the first call's.
    let err = s.learn(&fixture::signal(), &fixture::outcome()).unwrap_err();
    assert_eq!(err.hook, Some(Hook::Learn), "{err}");
    assert!(err.message.contains("this.w is NaN") && err.message.contains("refused"), "{err}");
    assert_eq!(s.state().unwrap(), json!({"n": 1, "w": 1.0}));
    // Refused again (n is 1 again, so this call is the second once more).
    s.learn(&fixture::signal(), &fixture::outcome()).unwrap_err();
    s.set_state(&json!({"n": 2, "w": 1.0})).unwrap();
    let err = s.learn(&fixture::signal(), &fixture::outcome()).unwrap_err();
    assert!(err.message.contains("this.at holds a"), "{err}");
    assert_eq!(s.state().unwrap(), json!({"n": 2, "w": 1.0}), "a timestamp in this is refused too");
}

#[test]
fn a_decide_that_breaks_the_state_is_no_decision_and_changes_nothing() {
    let mut s = strategy("fn init(params) { this.x = 1.0; } fn decide(signal) { this.x = 1.0 / 0.0; true }");
    let err = s.decide(&fixture::signal()).unwrap_err();
    assert!(err.message.contains("this.x is inf"), "{err}");
    assert_eq!(s.state().unwrap(), json!({"x": 1.0}));
}

#[test]
fn a_failing_learn_leaves_the_state_as_it_was() {
    let mut s = strategy(
        r#"fn init(params) { this.n = 0; } fn decide(signal) { true }
           fn learn(signal, outcome) { this.n += 1; throw "no"; }"#,
    );
    s.learn(&fixture::signal(), &fixture::outcome()).unwrap_err();
    assert_eq!(s.state().unwrap(), json!({"n": 0}));
}

/// A script whose `learn` nests `this.deep` `levels` maps deep under `this`.
fn nesting(levels: usize) -> ScriptStrategy {
    strategy(&format!(
        r#"fn decide(signal) {{ true }}
           fn learn(signal, outcome) {{
               let x = #{{}};
               for i in 0..{inner} {{ x = #{{ a: x }}; }}
               this.deep = x;
           }}"#,
        inner = levels - 2
    ))
}

#[test]
fn a_state_nests_at_most_max_state_depth_levels_and_such_a_state_reads_back_as_json() {
    // `this` is level 1, `this.deep` level 2, and each loop round one more.
    let mut s = nesting(convert::MAX_STATE_DEPTH);
    s.learn(&fixture::signal(), &fixture::outcome()).unwrap();
    let text = serde_json::to_string(&s.state().unwrap()).unwrap();
    assert_eq!(text.matches('{').count(), convert::MAX_STATE_DEPTH);
    // The store's reader: serde_json with its default recursion limit.
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    s.set_state(&back).unwrap();

    let mut s = nesting(200);
    let err = s.learn(&fixture::signal(), &fixture::outcome()).unwrap_err();
    assert!(err.message.contains(&format!("at most {}", convert::MAX_STATE_DEPTH)), "{err}");
    assert_eq!(s.state().unwrap(), json!({}));
    // Without the limit, such a state would not read back from the store.
    let deep = (0..200).fold(String::from("{}"), |inner, _| format!("{{\"a\":{inner}}}"));
    assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err(), "serde_json stops at 128 levels");
}
