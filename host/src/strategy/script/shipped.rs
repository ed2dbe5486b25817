//! The strategies shipped in `scripts/`: each one's rule and learning pinned
//! on streams built here, and every hook run on random signals.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use siglearn_plugin_api::{Outcome, OutcomeKind, Side, Signal, SignalId, StrategyId, Timestamp, Values};

use super::*;
use crate::strategy::fixture::{self, HEADS, INDICATORS};
use crate::trade::Trade;

const SCRIPTS: [&str; 5] =
    ["baseline", "adaptive_threshold", "head_weights", "pattern_filter", "indicator_weights"];

/// `scripts/{name}.rhai`, compiled but not initialised.
fn compile(name: &str, limits: Limits) -> ScriptStrategy {
    let path = format!("{}/../scripts/{name}.rhai", env!("CARGO_MANIFEST_DIR"));
    ScriptStrategy::from_file(StrategyId::new(name), Path::new(&path), limits).unwrap()
}

fn load(name: &str, params: Value) -> ScriptStrategy {
    let mut strategy = compile(name, Limits::default());
    strategy.init(&params).unwrap();
    strategy
}

/// splitmix64: a small deterministic generator, enough for test streams.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn side(&mut self) -> Side {
        if self.chance(0.5) { Side::Long } else { Side::Short }
    }
}

/// A signal with the given evidence; prices and exits are those of the fixture.
struct Draft {
    side: Side,
    confidence: Option<f64>,
    pattern: Option<&'static str>,
    regime: Option<&'static str>,
    heads: Values,
    indicators: Values,
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            side: Side::Long,
            confidence: None,
            pattern: None,
            regime: None,
            heads: Values::new(),
            indicators: Values::new(),
        }
    }
}

impl Draft {
    fn build(self, n: usize) -> Arc<Signal> {
        let template = fixture::signal();
        Arc::new(Signal {
            id: SignalId::new(format!("s{n}")),
            side: self.side,
            entry_ts: Timestamp(template.entry_ts.as_millis() + n as i64 * 60_000),
            confidence: self.confidence,
            pattern: self.pattern.map(Into::into),
            regime: self.regime.map(Into::into),
            heads: self.heads,
            indicators: self.indicators,
            ..(*template).clone()
        })
    }
}

/// The outcome of `signal` with return `pnl_pct`.
fn outcome(signal: &Signal, pnl_pct: f64) -> Outcome {
    Outcome {
        signal_id: signal.id.clone(),
        kind: if pnl_pct > 0.0 { OutcomeKind::TpHit } else { OutcomeKind::SlHit },
        pnl_pct,
        ..fixture::outcome()
    }
}

fn with_confidence(confidence: f64, n: usize) -> Arc<Signal> {
    Draft { confidence: Some(confidence), ..Draft::default() }.build(n)
}

fn number(strategy: &ScriptStrategy, pointer: &str) -> f64 {
    let state = strategy.state().unwrap();
    state
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {state}"))
}

fn taken(strategy: &mut ScriptStrategy, signal: &Arc<Signal>) -> bool {
    strategy.decide(signal).unwrap().take
}

#[test]
fn every_script_compiles_and_initialises_with_defaults_and_explicit_params() {
    for name in SCRIPTS {
        let mut strategy = load(name, json!({}));
        assert!(strategy.decide(&fixture::signal()).is_ok(), "{name}");
    }
    let s = load("adaptive_threshold", json!({"threshold": 0.4, "step": 0.01, "min": 0.1, "max": 0.9}));
    assert_eq!(number(&s, "/threshold"), 0.4);
    let s = load("head_weights", json!({"rate": 0.01, "threshold": 0.1, "min_weight": 0.1, "max_weight": 3}));
    assert_eq!((number(&s, "/rate"), number(&s, "/max_weight")), (0.01, 3.0));
    let s = load("pattern_filter", json!({"min_trades": 5, "decay": 0.9}));
    assert_eq!((number(&s, "/min_trades"), number(&s, "/prior_a")), (5.0, 2.0));
    let s = load("indicator_weights", json!({"alpha": 0.05, "warmup": 10}));
    assert_eq!((number(&s, "/alpha"), number(&s, "/warmup")), (0.05, 10.0));
}

#[test]
fn unknown_and_invalid_params_are_refused_with_the_reason() {
    let cases = [
        ("adaptive_threshold", json!({"treshold": 0.4}), "unknown param treshold"),
        ("adaptive_threshold", json!({"threshold": 0.99}), "must lie in [min, max]"),
        ("head_weights", json!({"rate": "fast"}), "param rate must be a number, not string"),
        ("head_weights", json!({"rate": 1.0}), "rate must lie in [0, 1)"),
        ("pattern_filter", json!({"decay": 0}), "decay must lie in (0, 1]"),
        ("indicator_weights", json!({"alpha": 0}), "alpha must lie in (0, 1]"),
    ];
    for (name, params, expected) in cases {
        let err = compile(name, Limits::default()).init(&params).unwrap_err();
        assert!(err.message.contains(expected), "{name} {params}: {err}");
    }
}

#[test]
fn baseline_takes_every_signal_and_its_state_never_changes() {
    let mut s = load("baseline", json!({}));
    let mut rng = Rng(1);
    for n in 0..200 {
        let signal = random_signal(&mut rng, n);
        assert!(taken(&mut s, &signal));
        s.learn(&signal, &outcome(&signal, rng.range(-2.0, 2.0))).unwrap();
    }
    s.daily(&DailySummary::default()).unwrap();
    assert_eq!(s.state().unwrap(), json!({}));
}

#[test]
fn adaptive_threshold_takes_by_confidence_and_a_missing_one_counts_as_a_half() {
    let mut s = load("adaptive_threshold", json!({"threshold": 0.5}));
    let verdict = s.decide(&with_confidence(0.7, 0)).unwrap();
    assert!(verdict.take);
    assert!((verdict.score - 0.2).abs() < 1e-12);
    assert!(!taken(&mut s, &with_confidence(0.49, 1)));
    assert!(taken(&mut s, &with_confidence(0.5, 2)));
    let verdict = s.decide(&Draft::default().build(3)).unwrap();
    assert_eq!((verdict.take, verdict.score), (true, 0.0));
}

#[test]
fn adaptive_threshold_falls_after_a_winner_below_and_rises_after_a_loser_above() {
    let mut s = load("adaptive_threshold", json!({}));
    // Defaults: threshold 0.3, step 0.005, band 0.1.
    let near = with_confidence(0.25, 0);
    s.learn(&near, &outcome(&near, 1.0)).unwrap();
    let down = 0.005 * 0.1 / (0.1 + 0.05);
    assert!((number(&s, "/threshold") - (0.3 - down)).abs() < 1e-12);

    let threshold = 0.3 - down;
    let far = with_confidence(0.8, 1);
    s.learn(&far, &outcome(&far, -1.0)).unwrap();
    let up = 0.005 * 0.1 / (0.1 + (0.8 - threshold));
    assert!((number(&s, "/threshold") - (threshold + up)).abs() < 1e-12);
    // An outcome far from the threshold moves it less than one near it.
    assert!(up < down);

    // Right calls change nothing: a winner taken, losers turned away.
    let threshold = number(&s, "/threshold");
    for (n, (confidence, pnl)) in [(0.9, 1.0), (0.1, -1.0), (0.05, 0.0)].into_iter().enumerate() {
        let signal = with_confidence(confidence, n);
        s.learn(&signal, &outcome(&signal, pnl)).unwrap();
    }
    assert_eq!(number(&s, "/threshold"), threshold);
}

/// The threshold's average over the second half of a stream where a signal
/// wins with probability equal to its confidence, drawn in `[0.3, 1)`.
fn settled_threshold(params: Value) -> f64 {
    let mut rng = Rng(9);
    let mut s = load("adaptive_threshold", params);
    let (steps, mut sum) = (20_000, 0.0);
    for n in 0..steps {
        let confidence = rng.range(0.3, 1.0);
        let signal = with_confidence(confidence, n);
        let pnl = if rng.chance(confidence) { 1.0 } else { -1.0 };
        s.learn(&signal, &outcome(&signal, pnl)).unwrap();
        if n >= steps / 2 {
            sum += number(&s, "/threshold");
        }
    }
    sum / (steps / 2) as f64
}

#[test]
fn adaptive_threshold_settles_nearer_break_even_than_a_plain_count() {
    // Break-even is 0.5; counting mistakes alike (a band far wider than the
    // confidences) settles where missed winners = taken losers, about 0.545.
    let weighted = settled_threshold(json!({}));
    let counted = settled_threshold(json!({"band": 1000}));
    assert!((0.5..0.55).contains(&weighted) && weighted < counted, "{weighted} vs {counted}");
}

#[test]
fn adaptive_threshold_stays_within_min_and_max() {
    let mut s = load("adaptive_threshold", json!({"step": 0.05, "min": 0.2, "max": 0.4}));
    for n in 0..100 {
        let signal = with_confidence(0.0, n);
        s.learn(&signal, &outcome(&signal, 1.0)).unwrap();
    }
    assert_eq!(number(&s, "/threshold"), 0.2);
    for n in 0..100 {
        let signal = with_confidence(1.0, n);
        s.learn(&signal, &outcome(&signal, -1.0)).unwrap();
    }
    assert_eq!(number(&s, "/threshold"), 0.4);
}

#[test]
fn adaptive_threshold_state_round_trips_through_json() {
    let mut s = load("adaptive_threshold", json!({}));
    let signal = with_confidence(0.2, 0);
    s.learn(&signal, &outcome(&signal, 1.0)).unwrap();
    let text = serde_json::to_string(&s.state().unwrap()).unwrap();
    let mut restored = load("adaptive_threshold", json!({"threshold": 0.9}));
    restored.set_state(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(restored.state().unwrap(), s.state().unwrap());
    let probe = with_confidence(0.299, 1);
    assert_eq!(restored.decide(&probe).unwrap(), s.decide(&probe).unwrap());
}

/// The heads whose votes predict the outcome in [`planted_heads`].
const INFORMATIVE: [&str; 3] = ["adx", "ema_trend", "macd"];

/// A signal whose informative heads call its outcome right with probability
/// `edge`, and whose six other heads vote at random.
fn planted_heads(rng: &mut Rng, n: usize, edge: f64) -> Trade {
    let side = rng.side();
    let win = rng.chance(0.5);
    let heads: Values = HEADS
        .iter()
        .map(|&head| {
            let vote = if INFORMATIVE.contains(&head) {
                let strength = rng.range(0.2, 1.0);
                let right = rng.chance(edge);
                // Agreeing with the side calls a win; disagreeing calls a loss.
                let agrees = right == win;
                side.sign() * if agrees { strength } else { -strength }
            } else {
                rng.range(-1.0, 1.0)
            };
            (head, vote)
        })
        .collect();
    let signal = Draft { side, heads, ..Draft::default() }.build(n);
    let outcome = outcome(&signal, if win { 1.5 } else { -1.0 });
    Trade { signal, outcome }
}

fn weights(state: &Value) -> Vec<(String, f64)> {
    let weights = state["weights"].as_object().unwrap();
    weights.iter().map(|(head, w)| (head.clone(), w.as_f64().unwrap())).collect()
}

fn assert_informative_heads_rank_first(state: &Value) {
    let weights = weights(state);
    assert_eq!(weights.len(), HEADS.len(), "{state}");
    let (informative, noise): (Vec<_>, Vec<_>) =
        weights.iter().partition(|(head, _)| INFORMATIVE.contains(&head.as_str()));
    let lowest = informative.iter().map(|(_, w)| *w).fold(f64::INFINITY, f64::min);
    let highest = noise.iter().map(|(_, w)| *w).fold(f64::NEG_INFINITY, f64::max);
    assert!(lowest > highest, "informative {informative:?} vs noise {noise:?}");
}

#[test]
fn head_weights_learns_to_rank_informative_heads_above_noise() {
    for seed in 1..=5 {
        let mut rng = Rng(seed);
        let mut s = load("head_weights", json!({}));
        for n in 0..2_000 {
            let trade = planted_heads(&mut rng, n, 0.85);
            s.learn(&trade.signal, &trade.outcome).unwrap();
        }
        assert_informative_heads_rank_first(&s.state().unwrap());
    }
    // A weaker edge with a slower rate.
    let mut rng = Rng(7);
    let mut s = load("head_weights", json!({"rate": 0.005}));
    for n in 0..5_000 {
        let trade = planted_heads(&mut rng, n, 0.65);
        s.learn(&trade.signal, &trade.outcome).unwrap();
    }
    assert_informative_heads_rank_first(&s.state().unwrap());
}

#[test]
fn head_weights_retrain_gives_the_same_ranking_and_leaves_the_live_state() {
    let mut rng = Rng(11);
    let mut s = load("head_weights", json!({}));
    let history: Vec<HistoryItem> = (0..2_000)
        .map(|n| HistoryItem { trade: planted_heads(&mut rng, n, 0.65), taken: n % 2 == 0 })
        .collect();
    let candidate = s.retrain(&history).unwrap().unwrap();
    assert_informative_heads_rank_first(&candidate);
    assert_eq!(s.state().unwrap()["weights"], json!({}));
    // The candidate is a working state whose total is the sum of its weights.
    let total: f64 = weights(&candidate).iter().map(|(_, w)| w).sum();
    assert!((candidate["total"].as_f64().unwrap() - total).abs() < 1e-9);
    s.set_state(&candidate).unwrap();
    assert!(s.decide(&history[0].trade.signal).is_ok());
}

#[test]
fn head_weights_takes_by_the_weighted_consensus_of_the_heads() {
    let mut s = load("head_weights", json!({}));
    let heads = Values::from([("adx", 1.0), ("rsi", -0.5), ("macd", -0.2)]);
    // Before learning: the plain mean vote, turned to the side.
    let long = Draft { heads: heads.clone(), ..Draft::default() }.build(0);
    let verdict = s.decide(&long).unwrap();
    assert!(verdict.take && (verdict.score - 0.1).abs() < 1e-12, "{verdict:?}");
    let short = Draft { side: Side::Short, heads: heads.clone(), ..Draft::default() }.build(1);
    assert!(!taken(&mut s, &short));
    // With learned weights the heads count by weight; a missing head votes 0.
    let mut state = s.state().unwrap();
    state["weights"] = json!({"adx": 0.5, "rsi": 2.0, "macd": 1.0, "obv": 0.5});
    state["total"] = json!(4.0);
    s.set_state(&state).unwrap();
    let verdict = s.decide(&short).unwrap();
    assert!(verdict.take && (verdict.score - 0.7 / 4.0).abs() < 1e-12, "{verdict:?}");
}

#[test]
fn pattern_filter_skips_a_losing_key_and_keeps_taking_a_winning_one() {
    let mut s = load("pattern_filter", json!({}));
    let losing = |n| Draft { pattern: Some("breakout"), regime: Some("range"), ..Draft::default() }.build(n);
    let winning = |n| Draft { pattern: Some("trend"), ..Draft::default() }.build(n);
    for n in 0..40 {
        // The losing key wins one time in five, the winning one four in five.
        let (lose, win) = (losing(n), winning(n));
        let odd_one = n % 5 == 0;
        s.learn(&lose, &outcome(&lose, if odd_one { 2.0 } else { -1.0 })).unwrap();
        s.learn(&win, &outcome(&win, if odd_one { -1.0 } else { 2.0 })).unwrap();
        let n_trades = n + 1;
        // Below min_trades (20) a key is always taken.
        if n_trades < 20 {
            assert!(taken(&mut s, &losing(n)), "after {n_trades}");
        }
    }
    assert!(!taken(&mut s, &losing(99)));
    let verdict = s.decide(&winning(99)).unwrap();
    assert!(verdict.take && verdict.score > 0.7, "{verdict:?}");
    // An unknown key is taken, at the prior mean.
    let verdict = s.decide(&Draft::default().build(100)).unwrap();
    assert_eq!((verdict.take, verdict.score), (true, 0.5));
    assert_eq!(number(&s, "/stats/breakout|range/losses"), 32.0);
    let average = (8.0 * 2.0 - 32.0) / 40.0;
    assert!((number(&s, "/stats/breakout|range/avg_pnl") - average).abs() < 1e-9);
    assert_eq!(number(&s, "/stats/trend|-/wins"), 32.0);
}

#[test]
fn pattern_filter_daily_decays_the_counts() {
    let mut s = load("pattern_filter", json!({"decay": 0.5}));
    let signal = Draft { pattern: Some("trend"), regime: Some("calm"), ..Draft::default() }.build(0);
    for pnl in [1.0, 1.0, -1.0, 2.0] {
        s.learn(&signal, &outcome(&signal, pnl)).unwrap();
    }
    s.daily(&DailySummary::default()).unwrap();
    assert_eq!(
        s.state().unwrap()["stats"]["trend|calm"],
        json!({"wins": 1.5, "losses": 0.5, "avg_pnl": 0.75})
    );
    let mut s = load("pattern_filter", json!({}));
    s.learn(&signal, &outcome(&signal, -1.0)).unwrap();
    s.daily(&DailySummary::default()).unwrap();
    assert_eq!(number(&s, "/stats/trend|calm/losses"), 0.99);
}

/// `rsi` predicts the return (turned to the side); `obv_slope` is noise.
fn planted_indicators(rng: &mut Rng, n: usize) -> Trade {
    let side = rng.side();
    let edge = rng.range(-1.0, 1.0);
    let indicators = Values::from([("rsi", 50.0 + 20.0 * edge), ("obv_slope", rng.range(-3.0, 3.0))]);
    let signal = Draft { side, indicators, ..Draft::default() }.build(n);
    let pnl = side.sign() * edge * 2.0 + rng.range(-1.0, 1.0);
    let outcome = outcome(&signal, pnl);
    Trade { signal, outcome }
}

#[test]
fn indicator_weights_weights_an_informative_indicator_and_not_noise() {
    // With alpha 0.02 an IC estimate wanders about 0.1 around its mean.
    for seed in 1..=3 {
        let mut rng = Rng(seed);
        let mut s = load("indicator_weights", json!({}));
        for n in 0..3_000 {
            let trade = planted_indicators(&mut rng, n);
            s.learn(&trade.signal, &trade.outcome).unwrap();
        }
        let (informative, noise) = (number(&s, "/ic/rsi"), number(&s, "/ic/obv_slope"));
        assert!(informative > 0.5 && noise.abs() < 0.3, "seed {seed}: rsi {informative}, noise {noise}");
        // It takes the signals the indicator favours, and only those.
        let favoured = |side| Draft { side, indicators: Values::from([("rsi", 65.0)]), ..Draft::default() };
        assert!(taken(&mut s, &favoured(Side::Long).build(0)));
        assert!(!taken(&mut s, &favoured(Side::Short).build(1)));
    }
    // A slower alpha pins the noise down.
    let mut rng = Rng(4);
    let mut s = load("indicator_weights", json!({"alpha": 0.002}));
    for n in 0..6_000 {
        let trade = planted_indicators(&mut rng, n);
        s.learn(&trade.signal, &trade.outcome).unwrap();
    }
    let (informative, noise) = (number(&s, "/ic/rsi"), number(&s, "/ic/obv_slope"));
    assert!(informative > 0.5 && noise.abs() < 0.1, "rsi {informative}, noise {noise}");
}

#[test]
fn indicator_weights_takes_everything_during_warmup() {
    let mut rng = Rng(5);
    // No score can clear this threshold: only warmup takes.
    let mut s = load("indicator_weights", json!({"threshold": 100, "warmup": 30}));
    for n in 0..60 {
        let trade = planted_indicators(&mut rng, n);
        assert_eq!(taken(&mut s, &trade.signal), n < 30, "signal {n}");
        s.learn(&trade.signal, &trade.outcome).unwrap();
    }
}

/// A signal with random evidence: heads and indicators each missing now and
/// then, an unknown name sometimes, no confidence, pattern or regime at times,
/// and indicators that are sometimes constant (zero variance) or huge.
fn random_signal(rng: &mut Rng, n: usize) -> Arc<Signal> {
    const PATTERNS: [&str; 3] = ["trend", "reversal", "breakout"];
    const REGIMES: [&str; 2] = ["trend_high_vol", "range_low_vol"];
    let mut heads = Values::new();
    for head in HEADS {
        if rng.chance(0.8) {
            heads.insert(head, rng.range(-1.0, 1.0));
        }
    }
    let mut indicators = Values::new();
    for name in INDICATORS {
        if rng.chance(0.8) {
            let value = match name {
                "adx" => 25.0,
                "obv_slope" => rng.range(-1e6, 1e6),
                _ => rng.range(-100.0, 100.0),
            };
            indicators.insert(name, value);
        }
    }
    if rng.chance(0.05) {
        heads.insert(format!("head_{}", n % 3), rng.range(-1.0, 1.0));
        indicators.insert(format!("extra_{}", n % 3), rng.range(-1.0, 1.0));
    }
    let pick = |rng: &mut Rng, names: &[&'static str]| {
        if rng.chance(0.3) { None } else { Some(names[rng.next_u64() as usize % names.len()]) }
    };
    Draft {
        side: rng.side(),
        confidence: if rng.chance(0.3) { None } else { Some(rng.unit()) },
        pattern: pick(rng, &PATTERNS),
        regime: pick(rng, &REGIMES),
        heads,
        indicators,
    }
    .build(n)
}

#[test]
fn every_hook_of_every_script_survives_random_signals_with_a_json_state() {
    for name in SCRIPTS {
        let mut rng = Rng(42);
        let mut s = load(name, json!({}));
        let mut history = Vec::new();
        for n in 0..1_000 {
            let signal = random_signal(&mut rng, n);
            let verdict = s.decide(&signal).unwrap_or_else(|e| panic!("{e}"));
            assert!(verdict.score.is_finite() && verdict.size >= 0.0, "{name}: {verdict:?}");
            let pnl = if rng.chance(0.05) { 0.0 } else { rng.range(-3.0, 3.0) };
            let outcome = outcome(&signal, pnl);
            s.learn(&signal, &outcome).unwrap_or_else(|e| panic!("{e}"));
            history.push(HistoryItem { trade: Trade { signal, outcome }, taken: verdict.take });
            if n % 100 == 99 {
                let summary = DailySummary { date: "2018-01-01".into(), signals: 100, ..Default::default() };
                s.daily(&summary).unwrap_or_else(|e| panic!("{e}"));
                if let Some(candidate) = s.retrain(&history[n - 99..]).unwrap_or_else(|e| panic!("{e}")) {
                    assert!(candidate.is_object(), "{name}: {candidate}");
                }
                s.params_space().unwrap_or_else(|e| panic!("{e}"));
                let state = s.state().unwrap_or_else(|e| panic!("{e}"));
                let text = serde_json::to_string(&state).unwrap();
                s.set_state(&serde_json::from_str(&text).unwrap()).unwrap();
                assert_eq!(s.state().unwrap(), state, "{name}");
            }
        }
    }
}

/// The fewest operations `hook` (decide or learn) needs on the fixture
/// signal, from the state after learning it twice.
fn operations(name: &str, hook: Hook) -> u64 {
    let (signal, outcome) = (fixture::signal(), fixture::outcome());
    let mut warm = load(name, json!({}));
    warm.learn(&signal, &outcome).unwrap();
    warm.learn(&signal, &outcome).unwrap();
    let state = warm.state().unwrap();
    let runs = |limit| {
        let mut s = compile(name, Limits { hot_operations: limit, ..Limits::default() });
        s.set_state(&state).unwrap();
        match hook {
            Hook::Decide => s.decide(&signal).is_ok(),
            _ => s.learn(&signal, &outcome).is_ok(),
        }
    };
    let (mut lo, mut hi) = (0, 100_000);
    assert!(runs(hi), "{name} {hook}");
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if runs(mid) { hi = mid } else { lo = mid }
    }
    hi
}

#[test]
fn decide_and_learn_cost_no_more_operations_than_pinned() {
    // Rhai counts operations deterministically, so these pins catch a change
    // that makes a per-signal hook costlier. A script loop over the heads or
    // the indicators costs about 100 operations a name; the learning
    // primitives (record, log_odds, observe, zscores, ...) cost one.
    let pins = [
        ("baseline", 3, 1),
        ("adaptive_threshold", 16, 20),
        ("head_weights", 39, 51),
        ("pattern_filter", 54, 59),
        ("indicator_weights", 35, 100),
    ];
    for (name, decide, learn) in pins {
        let measured = (operations(name, Hook::Decide), operations(name, Hook::Learn));
        assert!(measured.0 <= decide && measured.1 <= learn, "{name}: (decide, learn) = {measured:?}");
    }
}
