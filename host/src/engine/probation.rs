//! Probation after a deploy (DESIGN section 7): the version a reload or a
//! retraining replaced keeps running in shadow, deciding and learning on
//! every signal without being published. Their returns on each closed
//! signal are summed per block of entry time (the promotion test's blocks,
//! a UTC day by default) and, when the window ends, the deploy gate's test
//! ([`crate::experiment::sign_flip`], exact on a few blocks) compares them:
//! if the new version is worse at the experiment's `alpha`, the engine rolls
//! back to the shadow (with everything it learned in the meantime);
//! otherwise the shadow is dropped. Signals still open at the end do not
//! count.
//!
//! A probation is saved with the checkpoints ([`SavedProbation`]: the
//! shadow's state, its decisions on open signals, the test), so a restart
//! continues it.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use siglearn_plugin_api::{Signal, SignalId, StrategyId, Timestamp, VersionId};

use super::Effect;
use crate::experiment::sequential::{PairedTest, SequentialConfig};
use crate::experiment::sign_flip::{SignFlip, sign_flip_greater};
use crate::strategy::Strategy;
use crate::trade::Trade;
use crate::versions::VersionReason;

/// The previous version of a strategy, running in shadow.
#[derive(Debug)]
pub(crate) struct Shadow {
    /// The seat of the live (new) version.
    pub(crate) seat: usize,
    pub(crate) strategy: Box<dyn Strategy>,
    /// The version it was when it was replaced.
    pub(crate) version: VersionId,
    /// What replaced it: a reload or a retraining.
    pub(crate) replaced_by: VersionReason,
    /// Whether it took each signal decided since.
    taken: HashMap<SignalId, bool>,
    /// Shadow (champion side) against the new live version (challenger
    /// side): the block sums, never fed to its sequence.
    test: PairedTest,
    until: Timestamp,
}

/// A probation as the store keeps it, to continue after a restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedProbation {
    pub strategy: StrategyId,
    /// The deploy on probation.
    pub live_version: VersionId,
    /// The version it replaced, running in shadow.
    pub shadow_version: VersionId,
    /// `reload` or `retrain`.
    pub replaced_by: String,
    pub until: Timestamp,
    pub test: PairedTest,
    /// The shadow's decisions on the signals still open.
    pub taken: Vec<(SignalId, bool)>,
    /// The shadow's state.
    pub state: serde_json::Value,
}

/// How a probation ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The new version stays: it proved better, or the window ended.
    Kept { evidence: Evidence },
    /// The new version proved worse: the shadow goes back live.
    RolledBack { shadow: Box<Shadow>, evidence: Evidence },
}

/// The figures a probation ended on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evidence {
    pub strategy: StrategyId,
    pub shadow_version: VersionId,
    pub disagreements: u64,
    /// Blocks whose summed (new - previous) return is not 0.
    pub blocks: usize,
    /// The summed (new - previous) return over the closed signals, percent.
    pub difference_pct: f64,
    /// One-sided sign-flip p-values: the new version worse, and better.
    pub p_worse: f64,
    pub p_better: f64,
    /// `worse`, `better`, `window ended`, or `superseded` (a newer deploy
    /// started its own probation).
    pub verdict: &'static str,
}

#[derive(Debug, Default)]
pub(crate) struct Probation {
    shadows: Vec<Shadow>,
    config: SequentialConfig,
    window_ms: i64,
}

impl Probation {
    pub(crate) fn new(config: SequentialConfig, window_ms: i64) -> Self {
        Probation { shadows: Vec::new(), config, window_ms }
    }

    /// Starts watching a deploy of `seat`; a shadow already there (a deploy
    /// during probation) is replaced by the newer previous version.
    pub(crate) fn start(
        &mut self,
        seat: usize,
        previous: Box<dyn Strategy>,
        version: VersionId,
        replaced_by: VersionReason,
        now: Timestamp,
        effects: &mut Vec<Effect>,
    ) {
        if self.window_ms <= 0 {
            return;
        }
        if let Some(running) = self.shadows.iter().position(|shadow| shadow.seat == seat) {
            let shadow = self.shadows.remove(running);
            let evidence = evidence(&shadow, "superseded");
            effects.push(Effect::ProbationEnded { evidence, rolled_back: false });
        }
        effects.push(Effect::ProbationStarted {
            strategy: previous.name().clone(),
            shadow_version: version,
            until: now + self.window_ms,
        });
        self.shadows.push(Shadow {
            seat,
            strategy: previous,
            version,
            replaced_by,
            taken: HashMap::new(),
            test: PairedTest::new(self.config),
            until: now + self.window_ms,
        });
    }

    pub(crate) fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// The running probations, to save; `live_version(seat)` is the version
    /// on probation. A shadow whose state is not JSON is left out.
    pub(crate) fn saved(&self, live_version: impl Fn(usize) -> VersionId) -> Vec<SavedProbation> {
        self.shadows
            .iter()
            .filter_map(|shadow| {
                let mut taken: Vec<(SignalId, bool)> =
                    shadow.taken.iter().map(|(id, t)| (id.clone(), *t)).collect();
                taken.sort();
                Some(SavedProbation {
                    strategy: shadow.strategy.name().clone(),
                    live_version: live_version(shadow.seat),
                    shadow_version: shadow.version,
                    replaced_by: shadow.replaced_by.as_str().to_owned(),
                    until: shadow.until,
                    test: shadow.test.clone(),
                    taken,
                    state: shadow.strategy.state().ok()?,
                })
            })
            .collect()
    }

    /// Continues a saved probation of `seat` with `strategy`, the shadow
    /// rebuilt with the saved state.
    pub(crate) fn resume(&mut self, seat: usize, strategy: Box<dyn Strategy>, saved: SavedProbation) {
        self.shadows.retain(|shadow| shadow.seat != seat);
        self.shadows.push(Shadow {
            seat,
            strategy,
            version: saved.shadow_version,
            replaced_by: saved.replaced_by.parse().unwrap_or(VersionReason::Reload),
            taken: saved.taken.into_iter().collect(),
            test: saved.test,
            until: saved.until,
        });
    }

    /// Every shadow decides on a new signal (its decision is not published).
    pub(crate) fn decide(&mut self, signal: &Arc<Signal>) {
        for shadow in &mut self.shadows {
            let took = shadow.strategy.decide(signal).is_ok_and(|verdict| verdict.take);
            shadow.taken.insert(signal.id.clone(), took);
        }
    }

    /// Every shadow learns from a closed signal; a signal both decided on
    /// is added to its block. `live_took(seat)` says whether the live
    /// version took it.
    pub(crate) fn learn(&mut self, trade: &Trade, live_took: impl Fn(usize) -> bool) {
        let pnl = trade.outcome.pnl_pct;
        for shadow in &mut self.shadows {
            let _ = shadow.strategy.learn(&trade.signal, &trade.outcome);
            if let Some(took) = shadow.taken.remove(&trade.signal.id) {
                let previous = if took { pnl } else { 0.0 };
                let new = if live_took(shadow.seat) { pnl } else { 0.0 };
                shadow.test.add(trade.signal.entry_ts, previous, new);
            }
        }
    }

    /// Shadows whose window ended by `now` are judged: the new version is
    /// rolled back when the test finds it worse at `alpha`, else it stays.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<Ended> {
        let (done, running): (Vec<Shadow>, Vec<Shadow>) =
            std::mem::take(&mut self.shadows).into_iter().partition(|shadow| shadow.until <= now);
        self.shadows = running;
        let alpha = self.config.alpha;
        done.into_iter()
            .map(|shadow| {
                let (better, worse) = tests(&shadow);
                if worse.passes(alpha) {
                    let evidence = evidence(&shadow, "worse");
                    Ended::RolledBack { shadow: Box::new(shadow), evidence }
                } else {
                    let verdict = if better.passes(alpha) { "better" } else { "window ended" };
                    Ended::Kept { evidence: evidence(&shadow, verdict) }
                }
            })
            .collect()
    }
}

/// The sign-flip tests of a shadow's blocks: the new version better, worse.
fn tests(shadow: &Shadow) -> (SignFlip, SignFlip) {
    let differences = shadow.test.open_differences();
    let reversed: Vec<f64> = differences.iter().map(|d| -d).collect();
    (sign_flip_greater(&differences), sign_flip_greater(&reversed))
}

fn evidence(shadow: &Shadow, verdict: &'static str) -> Evidence {
    let (better, worse) = tests(shadow);
    Evidence {
        strategy: shadow.strategy.name().clone(),
        shadow_version: shadow.version,
        disagreements: shadow.test.disagreements(),
        blocks: better.blocks,
        difference_pct: better.statistic,
        p_worse: worse.p_value,
        p_better: better.p_value,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use siglearn_plugin_api::{Price, PriceUpdate, Side, Symbol, Values};

    use crate::engine::{Effect, Engine, EngineConfig, Event, LineupSpec, Member, RetrainConfig};
    use crate::experiment::sequential::SequentialConfig;
    use crate::monitor::fixtures::{bar, signal};
    use crate::schedule::{Schedule, ScheduleConfig};
    use crate::strategy::script::{Limits, ScriptStrategy};
    use crate::versions::VersionReason;
    use siglearn_plugin_api::{Timestamp, VersionId};

    /// Takes the signals whose head h1 is positive: in [`run`], the winners;
    /// counts the outcomes it learned from.
    const WINNERS: &str = r#"
fn init(params) { this.seen = 0; }
fn decide(signal) { signal.heads.get("h1", 0.0) > 0.0 }
fn learn(signal, outcome) { this.seen += 1; }
"#;
    /// Takes the losers.
    const LOSERS: &str = r#"fn decide(signal) { signal.heads.get("h1", 0.0) < 0.0 }"#;

    fn script(source: &str) -> Box<ScriptStrategy> {
        let mut strategy =
            ScriptStrategy::compile("s".into(), Path::new("s.rhai"), source, Limits::default()).unwrap();
        strategy.init(&serde_json::json!({})).unwrap();
        Box::new(strategy)
    }

    fn engine(source: &str, probation_ms: i64) -> Engine {
        engine_with(source, probation_ms, None)
    }

    fn engine_with(source: &str, probation_ms: i64, schedule: Option<Schedule>) -> Engine {
        let config = EngineConfig {
            // One-minute blocks: each signal of [`run`] is a block of its own.
            promotion: SequentialConfig { min_blocks: 10, block_minutes: 1, ..SequentialConfig::default() },
            retrain: RetrainConfig { train_days: 7, min_train_trades: 10, min_validation_signals: 10 },
            probation_ms,
            ..EngineConfig::default()
        };
        let member =
            Member { strategy: script(source), version: VersionId(1), params: serde_json::json!({}) };
        Engine::with_lineup(config, LineupSpec { members: vec![member], champion: Some(0), schedule })
    }

    /// A probation window of 30 minutes: 30 signals of [`run`].
    const WINDOW: i64 = 30 * 60_000;

    /// Signals `from..to`, one a minute, each closed a moment later: the odd
    /// ones (h1 = 1) hit their take-profit, the even ones their stop-loss.
    fn run(engine: &mut Engine, from: i64, to: i64) -> Vec<Effect> {
        run_every(engine, from, to, 60_000)
    }

    /// [`run`] with a signal every `step` ms.
    fn run_every(engine: &mut Engine, from: i64, to: i64, step: i64) -> Vec<Effect> {
        run_outcomes(engine, from, to, step, |i| i % 2 == 1)
    }

    /// [`run_every`] where `wins(i)` says whether signal `i` hits its
    /// take-profit (+10%) or its stop-loss (-5%).
    fn run_outcomes(
        engine: &mut Engine,
        from: i64,
        to: i64,
        step: i64,
        wins: impl Fn(i64) -> bool,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        for i in from..to {
            let at = i * step;
            let mut heads = Values::new();
            heads.insert("h1", if i % 2 == 1 { 1.0 } else { -1.0 });
            let s = siglearn_plugin_api::Signal {
                entry_ts: Timestamp(at),
                heads,
                ..signal(&format!("s{i}"), Side::Long)
            };
            engine.handle(Event::Signal(s.into()), &mut effects).unwrap();
            let (high, low) = if wins(i) { (111.0, 99.0) } else { (101.0, 94.0) };
            let price: Price = bar(at + 500, 100.0, high, low);
            let update = PriceUpdate { symbol: Symbol::new("BTC"), price };
            engine.handle(Event::Price { update, at: Timestamp(at + 999) }, &mut effects).unwrap();
        }
        effects
    }

    fn ended(effects: &[Effect]) -> Vec<(&'static str, bool)> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::ProbationEnded { evidence, rolled_back } => Some((evidence.verdict, *rolled_back)),
                _ => None,
            })
            .collect()
    }

    fn takes(effects: &[Effect]) -> Vec<bool> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Decided(decision) => Some(decision.take),
                _ => None,
            })
            .collect()
    }

    fn evidences(effects: &[Effect]) -> Vec<super::Evidence> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::ProbationEnded { evidence, .. } => Some(evidence.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_saved_probation_resumed_elsewhere_ends_exactly_as_the_original() {
        let window = WINDOW;
        let mut original = engine(WINNERS, window);
        run(&mut original, 0, 10);
        original.replace_strategy(script(LOSERS), &mut Vec::new()).unwrap();
        run(&mut original, 10, 16);
        let saved = original.probations();
        assert_eq!(saved.len(), 1);
        assert!(saved[0].test.disagreements() > 0 && saved[0].test.disagreements() < 10, "still running");
        assert_eq!((saved[0].live_version, saved[0].shadow_version), (VersionId(2), VersionId(1)));

        // Another engine at the same deploy takes over the saved probation.
        let mut resumed = engine(WINNERS, window);
        run(&mut resumed, 0, 10);
        resumed.replace_strategy(script(LOSERS), &mut Vec::new()).unwrap();
        let mut shadow = script(WINNERS);
        crate::strategy::Strategy::set_state(&mut *shadow, &saved[0].state).unwrap();
        resumed.resume_probation(saved[0].clone(), shadow).unwrap();
        assert_eq!(resumed.probations(), saved, "nothing lost in the round trip");

        let (a, b) = (run(&mut original, 16, 200), run(&mut resumed, 16, 200));
        assert_eq!(ended(&a), [("worse", true)]);
        assert_eq!(evidences(&a), evidences(&b));

        let mut stale = engine(WINNERS, window);
        let refused = stale.resume_probation(saved[0].clone(), script(WINNERS)).unwrap_err();
        assert!(refused.contains("not the v2 that was on probation"), "{refused}");
    }

    #[test]
    fn a_worse_reload_is_rolled_back_with_what_the_shadow_learned() {
        let mut engine = engine(WINNERS, WINDOW);
        run(&mut engine, 0, 10);
        let mut effects = Vec::new();
        let good_hash = engine.code_hash("s").unwrap().to_owned();
        engine.replace_strategy(script(LOSERS), &mut effects).unwrap();
        assert!(matches!(
            effects.last(),
            Some(Effect::ProbationStarted { shadow_version: VersionId(1), .. })
        ));
        let effects = run(&mut engine, 10, 200);
        assert_eq!(ended(&effects), [("worse", true)]);
        let rollback = effects
            .iter()
            .find_map(|effect| match effect {
                Effect::VersionCreated(record) if record.reason == VersionReason::Rollback => Some(record),
                _ => None,
            })
            .unwrap();
        assert_eq!((rollback.version, rollback.parent), (VersionId(3), Some(VersionId(1))));
        assert_eq!(rollback.code_hash, good_hash);
        assert_eq!(rollback.metrics["probation"]["verdict"], "worse");
        // The shadow learned from every outcome of its probation.
        let closed = effects
            .iter()
            .take_while(|effect| !matches!(effect, Effect::VersionCreated(_)))
            .filter(|effect| matches!(effect, Effect::Closed(_)))
            .count();
        assert_eq!(rollback.state["seen"], 10 + closed);
        assert_eq!(engine.code_hash("s"), Some(good_hash.as_str()));
        // After the rollback the winners are taken again.
        let later = run(&mut engine, 200, 204);
        assert_eq!(takes(&later), [false, true, false, true]);
    }

    #[test]
    fn a_better_reload_is_kept_and_its_shadow_dropped() {
        let mut engine = engine(LOSERS, WINDOW);
        run(&mut engine, 0, 10);
        let mut effects = Vec::new();
        let new_hash = crate::strategy::script::code_hash(WINNERS.as_bytes());
        engine.replace_strategy(script(WINNERS), &mut effects).unwrap();
        let effects = run(&mut engine, 10, 200);
        assert_eq!(ended(&effects), [("better", false)]);
        assert!(!effects.iter().any(|e| matches!(e, Effect::VersionCreated(_))));
        assert_eq!(engine.code_hash("s"), Some(new_hash.as_str()));
    }

    #[test]
    fn an_undecided_probation_ends_with_its_window_and_keeps_the_new_version() {
        let mut engine = engine(WINNERS, WINDOW);
        run(&mut engine, 0, 10);
        let mut effects = Vec::new();
        // The same decisions written differently: they never disagree.
        let same = r#"fn decide(signal) { 0.0 < signal.heads.get("h1", 0.0) }"#;
        engine.replace_strategy(script(same), &mut effects).unwrap();
        // The deploy is at the last bar, 9 min 0.5 s: the window ends at 39 min 0.5 s.
        let effects = run(&mut engine, 10, 39);
        assert!(ended(&effects).is_empty(), "the window is 30 min");
        let effects = run(&mut engine, 39, 80);
        assert_eq!(ended(&effects), [("window ended", false)]);
        assert_eq!(engine.code_hash("s"), Some(crate::strategy::script::code_hash(same.as_bytes()).as_str()));
    }

    #[test]
    fn no_probation_when_it_is_off() {
        let mut engine = engine(WINNERS, 0);
        let mut effects = Vec::new();
        engine.replace_strategy(script(LOSERS), &mut effects).unwrap();
        effects.extend(run(&mut engine, 0, 200));
        assert!(
            !effects
                .iter()
                .any(|e| matches!(e, Effect::ProbationStarted { .. } | Effect::ProbationEnded { .. }))
        );
    }

    #[test]
    fn a_retraining_deploy_goes_on_probation_against_the_live_version() {
        // Takes nothing until retraining has it take everything, which
        // earns (half win 10%, half lose 5%). The differences must vary: with
        // none the test has no variance and never decides.
        let improves = r#"
            fn init(params) { this.mode = "none"; }
            fn decide(signal) { this.mode == "all" }
            fn retrain(history) { this.mode = "all"; }
        "#;
        let schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        let mut engine = engine_with(improves, 7 * siglearn_plugin_api::MILLIS_PER_DAY, Some(schedule));
        // Three weeks of hourly signals.
        let effects = run_every(&mut engine, 0, 24 * 21, 3_600_000);
        let deploy = effects
            .iter()
            .position(|e| matches!(e, Effect::VersionCreated(r) if r.reason == VersionReason::Retrain))
            .expect("retraining deployed the candidate");
        let Effect::VersionCreated(record) = &effects[deploy] else { unreachable!() };
        assert!(matches!(
            &effects[deploy + 1],
            Effect::ProbationStarted { shadow_version, .. } if Some(*shadow_version) == record.parent
        ));
        assert_eq!(ended(&effects[deploy..]), [("better", false)]);
    }

    #[test]
    fn a_retraining_deploy_that_turns_out_worse_is_rolled_back() {
        // Retraining has it take everything, which wins through the
        // validation week; from the deploy on every signal loses.
        let turns = r#"
            fn init(params) { this.mode = "none"; }
            fn decide(signal) { this.mode == "all" }
            fn retrain(history) { this.mode = "all"; }
        "#;
        let schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        let mut engine = engine_with(turns, 7 * siglearn_plugin_api::MILLIS_PER_DAY, Some(schedule));
        let hour = 3_600_000;
        let (mut effects, mut i) = (Vec::new(), 0);
        while !effects.iter().any(|e| matches!(e, Effect::ProbationStarted { .. })) {
            assert!(i < 24 * 28, "no deploy within four weeks");
            effects.extend(run_outcomes(&mut engine, i, i + 1, hour, |_| true));
            i += 1;
        }
        let after = run_outcomes(&mut engine, i, i + 24 * 8, hour, |_| false);
        assert_eq!(ended(&after), [("worse", true)]);
        let evidence = &evidences(&after)[0];
        assert!(evidence.p_worse <= 0.05 && evidence.difference_pct < 0.0, "{evidence:?}");
        let rollback = after
            .iter()
            .find_map(|effect| match effect {
                Effect::VersionCreated(record) if record.reason == VersionReason::Rollback => Some(record),
                _ => None,
            })
            .expect("a rollback version");
        assert_eq!(rollback.parent, Some(VersionId(1)));
        assert_eq!(rollback.state["mode"], "none");
        // The rolled-back version takes nothing again.
        assert_eq!(
            takes(&run_outcomes(&mut engine, i + 24 * 8, i + 24 * 8 + 3, hour, |_| false)),
            [false; 3]
        );
    }

    #[test]
    fn a_deploy_during_probation_supersedes_it_and_is_judged_against_its_own_predecessor() {
        let mut engine = engine(WINNERS, WINDOW);
        let mut effects = Vec::new();
        engine.replace_strategy(script(LOSERS), &mut effects).unwrap();
        engine.replace_strategy(script(WINNERS), &mut effects).unwrap();
        assert_eq!(ended(&effects), [("superseded", false)]);
        assert!(matches!(
            effects.last(),
            Some(Effect::ProbationStarted { shadow_version: VersionId(2), .. })
        ));
        // The shadow is now the losers' version, which the winners beat.
        assert_eq!(ended(&run(&mut engine, 0, 200)), [("better", false)]);
    }
}
