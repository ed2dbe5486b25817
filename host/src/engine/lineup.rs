//! The strategies the engine runs side by side, and the A/B experiment
//! between them.
//!
//! Every strategy decides on every signal; every strategy learns from every
//! outcome, taken or not; each keeps a ledger of the trades it took. The
//! outcome of every signal is known whether or not anyone took it, so each
//! challenger is compared with the champion on exactly the same signals: a
//! paired test per challenger ([`PairedTest`]) sees both returns of every
//! closed signal (`pnl` when taken, 0 otherwise), summed per block of entry
//! time, and promotes a challenger when the evidence says it is better. A
//! promotion moves the `champion` alias, snapshots the new champion as a
//! version, and restarts every test against the new champion.
//!
//! The lineup keeps the two promises the test's guarantee rests on (see
//! [`crate::experiment::sequential`]): a block is fed only once every signal
//! that entered in it has closed and its time is over (`open_blocks` counts
//! the open signals per block), and each set of tests is a fresh draw of the
//! run's alpha-spending series, split over the challengers it tests.

use std::collections::HashMap;
use std::sync::Arc;

use siglearn_plugin_api::{Decision, Signal, SignalId, StrategyId, Timestamp, VersionId};

use super::Effect;
use super::probation::{Ended, Probation};
use crate::experiment::sequential::{OpenBlocks, PairedTest, SequentialConfig, Verdict as TestVerdict};
use crate::strategy::{Strategy, Verdict};
use crate::trade::Trade;
use crate::versions::{AliasMove, CHAMPION, VersionReason, VersionRecord};

/// A strategy as it joins the engine: loaded, its state set, and the
/// version that state is.
#[derive(Debug)]
pub struct Member {
    pub strategy: Box<dyn Strategy>,
    pub version: VersionId,
    pub params: serde_json::Value,
}

/// What one strategy has done so far.
#[derive(Debug)]
pub(crate) struct Seat {
    pub(crate) member: Member,
    /// Closed trades of the signals it took, in closing order.
    pub(crate) taken: Vec<Trade>,
    pub(crate) decisions: u64,
    pub(crate) no_decisions: u64,
    pub(crate) failures: u64,
    /// Its script was removed: it no longer decides or learns, but keeps its
    /// seat (verdicts of open signals are indexed by seat).
    pub(crate) retired: bool,
}

impl Seat {
    fn new(member: Member) -> Self {
        Seat { member, taken: Vec::new(), decisions: 0, no_decisions: 0, failures: 0, retired: false }
    }

    pub(crate) fn name(&self) -> &StrategyId {
        self.member.strategy.name()
    }
}

/// A promotion the experiment made.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Promotion {
    pub from: StrategyId,
    pub to: StrategyId,
    pub at: Timestamp,
    pub disagreements: u64,
    /// Blocks (days by default) in which the two differed; the mean and
    /// interval are per such block.
    #[serde(default)]
    pub blocks: u64,
    /// The alpha the promoting test spent (its share of the run's).
    #[serde(default)]
    pub alpha: f64,
    pub mean_difference_pct: Option<f64>,
    pub interval_pct: Option<(f64, f64)>,
}

#[derive(Debug)]
pub(crate) struct Lineup {
    pub(crate) seats: Vec<Seat>,
    pub(crate) champion: Option<usize>,
    /// Each open signal's verdicts, one per seat (`None`: no decision).
    pending: HashMap<SignalId, Arc<[Option<Verdict>]>>,
    pub(crate) config: SequentialConfig,
    /// `tests[i]`: seat `i` against the champion (unused for the champion).
    pub(crate) tests: Vec<PairedTest>,
    /// Open signals the strategies decided on, per block of entry time.
    open_blocks: OpenBlocks,
    /// Alpha-spending draws taken so far (the tests' epochs).
    draws: u32,
    pub(crate) promotions: Vec<Promotion>,
    /// Versions replaced by a deploy, running in shadow.
    pub(crate) probation: Probation,
}

impl Lineup {
    pub(crate) fn new(
        members: Vec<Member>,
        champion: Option<usize>,
        config: SequentialConfig,
        probation_ms: i64,
    ) -> Self {
        let mut lineup = Lineup {
            seats: members.into_iter().map(Seat::new).collect(),
            champion,
            pending: HashMap::new(),
            config,
            tests: Vec::new(),
            open_blocks: OpenBlocks::default(),
            draws: 0,
            promotions: Vec::new(),
            probation: Probation::new(config, probation_ms),
        };
        lineup.restart_tests();
        lineup
    }

    /// Fresh tests of every seat against the champion: the next draw of the
    /// alpha-spending series, split over the challengers.
    fn restart_tests(&mut self) {
        self.draws += 1;
        let challengers = self
            .seats
            .iter()
            .enumerate()
            .filter(|(i, seat)| Some(*i) != self.champion && !seat.retired)
            .count();
        let test = PairedTest::drawn(self.config, self.draws, challengers);
        self.tests = self.seats.iter().map(|_| test.clone()).collect();
    }

    /// A saved test of seat `i` continues, unless it was saved before tests
    /// ran on blocks (it cannot be continued; the seat's fresh test stays).
    pub(crate) fn restore_test(&mut self, i: usize, test: PairedTest) {
        if test.draw() == 0 {
            return;
        }
        self.draws = self.draws.max(test.draw());
        self.tests[i] = test;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    /// Every strategy decides on a newly accepted signal; returns the verdicts.
    pub(crate) fn decide(
        &mut self,
        signal: &Arc<Signal>,
        effects: &mut Vec<Effect>,
    ) -> Option<Arc<[Option<Verdict>]>> {
        if self.seats.is_empty() {
            return None;
        }
        let mut verdicts = Vec::with_capacity(self.seats.len());
        for seat in &mut self.seats {
            if seat.retired {
                verdicts.push(None);
                continue;
            }
            let strategy = seat.member.strategy.name().clone();
            let version = seat.member.version;
            match seat.member.strategy.decide(signal) {
                Ok(verdict) => {
                    seat.decisions += 1;
                    effects.push(Effect::Decided(Decision {
                        strategy,
                        version,
                        signal_id: signal.id.clone(),
                        take: verdict.take,
                        score: verdict.score,
                        size: verdict.size,
                    }));
                    verdicts.push(Some(verdict));
                }
                Err(error) => {
                    seat.no_decisions += 1;
                    effects.push(Effect::NoDecision {
                        strategy,
                        version,
                        signal_id: signal.id.clone(),
                        error,
                    });
                    verdicts.push(None);
                }
            }
        }
        let verdicts: Arc<[Option<Verdict>]> = verdicts.into();
        if self.pending.insert(signal.id.clone(), Arc::clone(&verdicts)).is_none() {
            self.open_blocks.opened(&self.config, signal.entry_ts);
        }
        self.probation.decide(signal);
        Some(verdicts)
    }

    /// The verdicts an open signal got in an earlier run.
    pub(crate) fn restore_pending(&mut self, signal: &Signal, verdicts: Vec<Option<Verdict>>) {
        if self.seats.is_empty() {
            return;
        }
        for (seat, verdict) in self.seats.iter_mut().zip(&verdicts) {
            match verdict {
                Some(_) => seat.decisions += 1,
                None => seat.no_decisions += 1,
            }
        }
        if self.pending.insert(signal.id.clone(), verdicts.into()).is_none() {
            self.open_blocks.opened(&self.config, signal.entry_ts);
        }
    }

    /// A trade closed in an earlier run: back into the ledgers. Nothing
    /// learns from it again, and the promotion tests are restored whole.
    pub(crate) fn restore_closed(&mut self, trade: &Trade, verdicts: &[Option<Verdict>]) {
        let took = |i: usize| verdicts.get(i).copied().flatten().is_some_and(|v| v.take);
        for (i, seat) in self.seats.iter_mut().enumerate() {
            match verdicts.get(i).copied().flatten() {
                Some(_) => seat.decisions += 1,
                None => seat.no_decisions += 1,
            }
            if took(i) {
                seat.taken.push(trade.clone());
            }
        }
    }

    /// Every strategy learns from a closed signal; ledgers and tests advance.
    /// Returns the verdicts the strategies gave the signal.
    pub(crate) fn learn(
        &mut self,
        trade: &Trade,
        now: Timestamp,
        effects: &mut Vec<Effect>,
    ) -> Option<Arc<[Option<Verdict>]>> {
        if self.seats.is_empty() {
            return None;
        }
        // A signal watched before the strategies joined (a resumed store) has
        // no verdicts: it counts as not taken by anyone.
        let verdicts = self.pending.remove(&trade.signal.id);
        if verdicts.is_some() {
            self.open_blocks.closed(&self.config, trade.signal.entry_ts);
        }
        let took = |i: usize| {
            verdicts.as_ref().and_then(|v| v.get(i).copied().flatten()).is_some_and(|verdict| verdict.take)
        };
        for (i, seat) in self.seats.iter_mut().enumerate() {
            if seat.retired {
                continue;
            }
            if let Err(error) = seat.member.strategy.learn(&trade.signal, &trade.outcome) {
                seat.failures += 1;
                effects.push(Effect::StrategyFailed(error));
            }
            if took(i) {
                seat.taken.push(trade.clone());
            }
        }
        self.probation.learn(trade, took);
        let Some(champion) = self.champion else { return verdicts };
        let pnl = trade.outcome.pnl_pct;
        let champion_return = if took(champion) { pnl } else { 0.0 };
        let frontier = self.open_blocks.frontier(&self.config, now);
        let mut promoted = None;
        for (i, test) in self.tests.iter_mut().enumerate() {
            if i == champion || self.seats[i].retired {
                continue;
            }
            test.add(trade.signal.entry_ts, champion_return, if took(i) { pnl } else { 0.0 });
            test.feed_through(frontier);
            if promoted.is_none() && test.verdict() == TestVerdict::ChallengerBetter {
                promoted = Some(i);
            }
        }
        if let Some(challenger) = promoted {
            self.promote(challenger, now, effects);
        }
        verdicts
    }

    /// Makes `seat` the champion: a version snapshot, the alias move, and
    /// fresh tests against it.
    fn promote(&mut self, seat: usize, now: Timestamp, effects: &mut Vec<Effect>) {
        let test = &self.tests[seat];
        let from = self.champion.map(|c| self.seats[c].name().clone());
        let promotion = Promotion {
            from: from.clone().unwrap_or_else(|| StrategyId::new("-")),
            to: self.seats[seat].name().clone(),
            at: now,
            disagreements: test.disagreements(),
            blocks: test.blocks(),
            alpha: test.alpha(),
            mean_difference_pct: test.mean_difference(),
            interval_pct: test.interval(),
        };
        let evidence = serde_json::to_value(&promotion).unwrap_or(serde_json::Value::Null);
        if let Some(record) = self.snapshot(seat, VersionReason::Promote, now, evidence.clone(), effects) {
            effects.push(Effect::AliasMoved(AliasMove {
                alias: CHAMPION.to_owned(),
                strategy: record.strategy.clone(),
                version: record.version,
                reason: "promote".to_owned(),
                evidence,
                moved_at: now,
            }));
        }
        self.make_champion(seat);
        self.promotions.push(promotion);
    }

    /// Ends the probations whose window is over by `now`.
    pub(crate) fn end_probations(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        let ended = self.probation.expire(now);
        self.finish_probations(ended, now, effects);
    }

    /// Keeps or rolls back each deploy whose probation ended.
    fn finish_probations(&mut self, ended: Vec<Ended>, now: Timestamp, effects: &mut Vec<Effect>) {
        for end in ended {
            match end {
                Ended::Kept { evidence, .. } => {
                    effects.push(Effect::ProbationEnded { evidence, rolled_back: false })
                }
                Ended::RolledBack { shadow, evidence } => {
                    let seat = &mut self.seats[shadow.seat];
                    let state = match shadow.strategy.state() {
                        Ok(state) => state,
                        Err(error) => {
                            effects.push(Effect::StrategyFailed(error));
                            continue;
                        }
                    };
                    let record = VersionRecord {
                        strategy: seat.name().clone(),
                        version: VersionId(seat.member.version.0 + 1),
                        parent: Some(shadow.version),
                        code_hash: shadow.strategy.code_hash().to_owned(),
                        code: Some(shadow.strategy.code()),
                        params: seat.member.params.clone(),
                        state,
                        reason: VersionReason::Rollback,
                        metrics: serde_json::json!({
                            "rolled_back_to": shadow.version.0,
                            "from": seat.member.version.0,
                            "probation": evidence,
                            "replaced_by": shadow.replaced_by.as_str(),
                        }),
                        created_at: now,
                    };
                    seat.member.strategy = shadow.strategy;
                    seat.member.version = record.version;
                    effects.push(Effect::VersionCreated(record));
                    effects.push(Effect::ProbationEnded { evidence, rolled_back: true });
                }
            }
        }
    }

    /// Makes seat `i` the champion and restarts every test against it.
    pub(crate) fn make_champion(&mut self, i: usize) {
        self.champion = Some(i);
        self.restart_tests();
    }

    /// Seats a new strategy (a script added while running).
    pub(crate) fn add(&mut self, member: Member) {
        self.seats.push(Seat::new(member));
        // A challenger that joins mid-epoch takes a draw of its own.
        self.draws += 1;
        self.tests.push(PairedTest::drawn(self.config, self.draws, 1));
    }

    /// The seat of `strategy`.
    pub(crate) fn position(&self, strategy: &str) -> Option<usize> {
        self.seats.iter().position(|seat| seat.name().as_str() == strategy)
    }

    /// Records the seat's current state as a new version.
    pub(crate) fn snapshot(
        &mut self,
        seat: usize,
        reason: VersionReason,
        now: Timestamp,
        metrics: serde_json::Value,
        effects: &mut Vec<Effect>,
    ) -> Option<VersionRecord> {
        let member = &mut self.seats[seat].member;
        let state = match member.strategy.state() {
            Ok(state) => state,
            Err(error) => {
                effects.push(Effect::StrategyFailed(error));
                return None;
            }
        };
        let record = VersionRecord {
            strategy: member.strategy.name().clone(),
            version: VersionId(member.version.0 + 1),
            parent: Some(member.version),
            code_hash: member.strategy.code_hash().to_owned(),
            code: None,
            params: member.params.clone(),
            state,
            reason,
            metrics,
            created_at: now,
        };
        member.version = record.version;
        effects.push(Effect::VersionCreated(record.clone()));
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::strategy::script::{Limits, ScriptStrategy};

    fn member(name: &str) -> Member {
        let mut strategy = ScriptStrategy::compile(
            name.into(),
            Path::new("s.rhai"),
            "fn decide(signal) { true }",
            Limits::default(),
        )
        .unwrap();
        strategy.init(&serde_json::json!({})).unwrap();
        Member { strategy: Box::new(strategy), version: VersionId(1), params: serde_json::json!({}) }
    }

    #[test]
    fn tests_split_alpha_over_challengers_and_each_restart_takes_the_next_draw() {
        let members = vec![member("a"), member("b"), member("c")];
        let mut lineup = Lineup::new(members, Some(0), SequentialConfig::default(), 0);
        // By hand: 0.05 · 6/π² / 2 challengers.
        assert!((lineup.tests[1].alpha() - 0.015_198_177).abs() < 1e-9);
        assert_eq!(lineup.tests[2].draw(), 1);
        let saved = lineup.tests[2].clone();
        lineup.make_champion(1);
        // Second draw: 0.05 · 6/(4π²) / 2.
        assert!((lineup.tests[0].alpha() - 0.003_799_544).abs() < 1e-9);
        lineup.add(member("d"));
        // A strategy joining mid-epoch: the third draw, alone: 0.05 · 6/(9π²).
        assert!((lineup.tests[3].alpha() - 0.003_377_373).abs() < 1e-9);
        // A test saved before blocks (draw 0) is not continued; a saved one is.
        let old: PairedTest = serde_json::from_str(
            r#"{"config":{"alpha":0.05,"min_disagreements":30,"planned_disagreements":500},
            "signals":9,"disagreements":4,"mean":0.3,"m2":1.0,"first_difference":1.0,"constant":false}"#,
        )
        .unwrap();
        lineup.restore_test(2, old);
        assert_eq!(lineup.tests[2].draw(), 2);
        lineup.restore_test(2, saved.clone());
        assert_eq!(lineup.tests[2], saved);
    }
}
