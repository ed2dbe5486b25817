//! The deterministic core: typed events in, typed effects out.
//!
//! The engine never reads the wall clock, never does I/O and never spawns:
//! `siglearn replay` feeds it from files with event time, the daemon from
//! HTTP with wall time, and both get the same effects for the same events.
//! Inside, the [`Monitor`] decides outcomes and the lineup ([`lineup`]) runs
//! the strategies side by side. An event the engine refuses changes nothing.

mod jobs;
pub mod lineup;
mod probation;

use std::sync::Arc;

use siglearn_plugin_api::{
    Decision, PriceError, PriceUpdate, Signal, SignalError, SignalId, StrategyId, Symbol, Timestamp,
    VersionId,
};

use crate::experiment::sequential::{PairedTest, SequentialConfig};
use crate::monitor::{Monitor, MonitorConfig, MonitorError};
use crate::strategy::Strategy;
use crate::strategy::{StrategyError, Verdict};
use crate::trade::Trade;
use crate::versions::{AliasMove, VersionReason, VersionRecord};

/// The error for a strategy that is not in the lineup.
fn missing(name: &StrategyId) -> StrategyError {
    StrategyError::new(
        name.clone(),
        std::path::PathBuf::new(),
        "not running: add it to the configuration or the scripts folder",
    )
}
use jobs::Jobs;
pub use jobs::RetrainConfig;
pub(crate) use jobs::replay_window;
use lineup::Lineup;
pub use lineup::{Member, Promotion};
pub use probation::{Evidence, SavedProbation};

use crate::schedule::{JobKind, JobRun, Schedule};

/// Something that happened, as the engine sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A new signal: it enters the book and every strategy decides on it.
    /// Shared, so that a replay moves a pointer rather than the signal.
    Signal(Arc<Signal>),
    /// A bar or tick, known at `at`: it may close signals of its symbol.
    ///
    /// `at` is when the price's effects happen: a bar's close (its open time
    /// plus its interval) in a replay, the time it arrived in the daemon, a
    /// tick's own time. A bar's high and low are not known before it closed,
    /// so the outcomes it decides are learned at `at`, never at the bar's
    /// open; the outcomes keep the bar's open time as their `exit_ts`.
    Price { update: PriceUpdate, at: Timestamp },
    /// Time passed (event time in replay, wall time in the daemon).
    Clock(Timestamp),
}

/// What the engine did in response to an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A signal was accepted and is now watched.
    SignalAccepted(Arc<Signal>),
    /// A strategy decided on a signal.
    Decided(Decision),
    /// A strategy failed to decide; the signal counts as not taken by it.
    NoDecision { strategy: StrategyId, version: VersionId, signal_id: SignalId, error: StrategyError },
    /// A signal closed.
    Closed(Trade),
    /// A strategy hook other than `decide` failed; the engine went on.
    StrategyFailed(StrategyError),
    /// A strategy's state or code became a new version.
    VersionCreated(VersionRecord),
    /// An alias (the champion) moved.
    AliasMoved(AliasMove),
    /// A scheduled job ran.
    JobRan(JobRun),
    /// The weekly job left this state as the start of the next retraining.
    Anchored { strategy: StrategyId, version: VersionId, state: serde_json::Value, at: Timestamp },
    /// A deploy went on probation: `shadow_version` (the version it
    /// replaced) runs in shadow until `until` or an earlier verdict.
    ProbationStarted { strategy: StrategyId, shadow_version: VersionId, until: Timestamp },
    /// A deployed version finished its probation: kept, or rolled back to
    /// the version it replaced (which is then a new version, reason rollback).
    ProbationEnded { evidence: Evidence, rolled_back: bool },
}

/// How the engine decides outcomes and promotions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineConfig {
    pub monitor: MonitorConfig,
    pub promotion: SequentialConfig,
    pub retrain: RetrainConfig,
    /// How long a deployed version runs beside the one it replaced, in ms
    /// (0: no probation).
    pub probation_ms: i64,
    /// Live use: the clock passing a signal's deadline closes it at the last
    /// known price, without waiting for a new price (the daemon). A replay
    /// leaves it off: the first price at or after the deadline closes it.
    pub clock_exits: bool,
}

/// The strategies an engine runs and how their jobs are scheduled.
#[derive(Debug, Default)]
pub struct LineupSpec {
    pub members: Vec<Member>,
    /// The index in `members` of the champion.
    pub champion: Option<usize>,
    /// The job schedule; `None` runs no jobs.
    pub schedule: Option<Schedule>,
}

/// An event the engine refused; nothing changed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("signal {id}: {source}")]
    InvalidSignal { id: SignalId, source: SignalError },
    #[error("price of {symbol}: {source}")]
    InvalidPrice { symbol: Symbol, source: PriceError },
    #[error(transparent)]
    Monitor(#[from] MonitorError),
}

/// The synchronous engine.
#[derive(Debug)]
pub struct Engine {
    monitor: Monitor,
    clock: Option<Timestamp>,
    closed: Vec<Trade>,
    lineup: Lineup,
    jobs: Jobs,
    clock_exits: bool,
}

impl Engine {
    /// An engine without strategies or jobs: outcomes only.
    pub fn new(config: EngineConfig) -> Self {
        Self::with_lineup(config, LineupSpec::default())
    }

    /// An engine running strategies side by side, with scheduled jobs.
    pub fn with_lineup(config: EngineConfig, spec: LineupSpec) -> Self {
        let seats = spec.members.len();
        let lineup = Lineup::new(spec.members, spec.champion, config.promotion, config.probation_ms);
        let mut jobs = Jobs::new(spec.schedule, config.retrain, seats, config.clock_exits);
        for (i, seat) in lineup.seats.iter().enumerate() {
            if let Ok(state) = seat.member.strategy.state() {
                jobs.versioned(i, state);
            }
        }
        Engine {
            monitor: Monitor::new(config.monitor),
            clock: None,
            closed: Vec::new(),
            lineup,
            jobs,
            clock_exits: config.clock_exits,
        }
    }

    /// Continues the schedule of a resumed store: `job` last ran at `at`.
    /// Call it before restoring signals and trades.
    pub fn resume_job(&mut self, job: JobKind, at: Timestamp) {
        self.jobs.resume(job, at);
    }

    /// Watches again a signal accepted in an earlier run (a resumed store),
    /// with the verdicts the strategies gave it then (one per strategy, in
    /// lineup order).
    pub fn restore_open(
        &mut self,
        signal: Signal,
        verdicts: Vec<Option<Verdict>>,
    ) -> Result<(), EngineError> {
        signal.validate().map_err(|source| EngineError::InvalidSignal { id: signal.id.clone(), source })?;
        let signal = Arc::new(signal);
        self.monitor.watch(Arc::clone(&signal))?;
        self.jobs.restore_signal(&signal, &verdicts);
        self.lineup.restore_pending(&signal, verdicts);
        Ok(())
    }

    /// Puts a trade closed in an earlier run, whose outcome became known at
    /// `known_at`, back into the strategies' ledgers.
    pub fn restore_closed(&mut self, trade: &Trade, verdicts: &[Option<Verdict>], known_at: Timestamp) {
        self.lineup.restore_closed(trade, verdicts);
        self.jobs.restore_closed(trade, verdicts, known_at);
    }

    /// The state of `strategy`'s live version as stored: a daily version is
    /// made when the state has moved from it (a resumed store's strategy
    /// runs its checkpoint, which may have learned since).
    pub fn restore_versioned(&mut self, strategy: &str, state: serde_json::Value) {
        if let Some(i) = self.lineup.position(strategy) {
            self.jobs.versioned(i, state);
        }
    }

    /// The state the last weekly run left for `strategy`: where the next
    /// retraining starts.
    pub fn restore_anchor(&mut self, strategy: &str, state: serde_json::Value) {
        if let Some(i) = self.lineup.seats.iter().position(|seat| seat.name().as_str() == strategy) {
            self.jobs.restore_anchor(i, state);
        }
    }

    /// The promotion tests in progress, to save: the champion and each
    /// challenger's test.
    pub fn tests(&self) -> Option<(StrategyId, Vec<(StrategyId, PairedTest)>)> {
        let champion = self.lineup.champion?;
        let tests = self
            .lineup
            .seats
            .iter()
            .zip(&self.lineup.tests)
            .enumerate()
            .filter(|(i, _)| *i != champion)
            .map(|(_, (seat, test))| (seat.name().clone(), test.clone()))
            .collect();
        Some((self.lineup.seats[champion].name().clone(), tests))
    }

    /// New code for a strategy in the lineup (running, or retired because its
    /// script was removed), now: see [`Engine::deploy`].
    pub fn replace_strategy(
        &mut self,
        new: Box<dyn Strategy>,
        effects: &mut Vec<Effect>,
    ) -> Result<VersionId, StrategyError> {
        let now = self.clock.unwrap_or(Timestamp(0));
        self.deploy(new, now, effects)
    }

    /// The one way new code goes live, whether it came by hot reload or was
    /// found when a run resumed (the file changed while the daemon was
    /// stopped, or between two parts of a replay): the new code takes over
    /// the state (through `migrate`) as a new version, reason `reload`, and
    /// the version it replaced runs in shadow on probation from `now`. The
    /// live code again only makes a retired strategy run again. On failure
    /// the old code stays live.
    pub fn deploy(
        &mut self,
        mut new: Box<dyn Strategy>,
        now: Timestamp,
        effects: &mut Vec<Effect>,
    ) -> Result<VersionId, StrategyError> {
        let Some(i) = self.lineup.position(new.name().as_str()) else {
            return Err(missing(new.name()));
        };
        let seat = &mut self.lineup.seats[i];
        if new.code_hash() == seat.member.strategy.code_hash() {
            // The live code again (a removed script put back as it was):
            // the strategy resumes its live version; nothing is new.
            seat.retired = false;
            return Ok(seat.member.version);
        }
        let old_state = seat.member.strategy.state()?;
        new.migrate(&old_state)?;
        let state = new.state()?;
        let previous_version = seat.member.version;
        let record = VersionRecord {
            strategy: new.name().clone(),
            version: VersionId(seat.member.version.0 + 1),
            parent: Some(seat.member.version),
            code_hash: new.code_hash().to_owned(),
            code: Some(new.code()),
            params: seat.member.params.clone(),
            state: state.clone(),
            reason: VersionReason::Reload,
            metrics: serde_json::json!({ "previous_code": seat.member.strategy.code_hash() }),
            created_at: now,
        };
        let previous = std::mem::replace(&mut seat.member.strategy, new);
        seat.member.version = record.version;
        seat.retired = false;
        self.jobs.versioned(i, state);
        let version = record.version;
        effects.push(Effect::VersionCreated(record));
        self.lineup.probation.start(i, previous, previous_version, VersionReason::Reload, now, effects);
        Ok(version)
    }

    /// Makes `strategy` (code and state) the live version described by
    /// `record`, as a rollback or a promotion copy does.
    pub fn install_version(
        &mut self,
        strategy: Box<dyn Strategy>,
        record: VersionRecord,
        effects: &mut Vec<Effect>,
    ) -> Result<(), StrategyError> {
        let Some(i) = self.lineup.position(strategy.name().as_str()) else {
            return Err(missing(strategy.name()));
        };
        let seat = &mut self.lineup.seats[i];
        seat.member.strategy = strategy;
        seat.member.version = record.version;
        seat.retired = false;
        self.jobs.versioned(i, record.state.clone());
        effects.push(Effect::VersionCreated(record));
        Ok(())
    }

    /// Moves the champion alias to `alias.strategy` (a manual promotion):
    /// the tests restart against it.
    pub fn set_champion(&mut self, alias: AliasMove, effects: &mut Vec<Effect>) -> Result<(), String> {
        let i = self
            .lineup
            .position(alias.strategy.as_str())
            .ok_or_else(|| format!("no strategy {} is running", alias.strategy))?;
        self.lineup.make_champion(i);
        effects.push(Effect::AliasMoved(alias));
        Ok(())
    }

    /// The time of the last price of `symbol`, if any.
    pub fn last_price_ts(&self, symbol: &Symbol) -> Option<Timestamp> {
        self.monitor.last_ts_of(symbol)
    }

    /// The live version of each strategy, in lineup order.
    pub fn versions(&self) -> Vec<(StrategyId, VersionId, bool)> {
        self.lineup
            .seats
            .iter()
            .map(|seat| (seat.name().clone(), seat.member.version, seat.retired))
            .collect()
    }

    /// The code hash of the running `strategy`.
    pub fn code_hash(&self, strategy: &str) -> Option<&str> {
        let i = self.lineup.position(strategy)?;
        Some(self.lineup.seats[i].member.strategy.code_hash())
    }

    /// What the plugin behind `strategy` says about its build (None for a script).
    pub fn plugin_build(&self, strategy: &str) -> Option<&crate::strategy::native::Build> {
        let i = self.lineup.position(strategy)?;
        self.lineup.seats[i].member.strategy.build()
    }

    /// Whether the signal is being watched.
    pub fn watches(&self, signal: &SignalId) -> bool {
        self.monitor.watches(signal)
    }

    /// A strategy added while running, with the record of the version its
    /// joining made (none when it resumed its live version from the store).
    pub fn add_strategy(&mut self, member: Member, made: Option<VersionRecord>, effects: &mut Vec<Effect>) {
        let state = member.strategy.state().ok();
        self.lineup.add(member);
        self.jobs.add_seat(state);
        effects.extend(made.map(Effect::VersionCreated));
    }

    /// Whether `strategy` has a seat in the lineup, running or retired.
    pub fn seated(&self, strategy: &str) -> bool {
        self.lineup.position(strategy).is_some()
    }

    /// A strategy whose script was removed stops deciding and learning. The
    /// champion cannot be retired: promote another strategy first.
    pub fn retire_strategy(&mut self, strategy: &str) -> Result<(), String> {
        let Some(i) = self.lineup.position(strategy) else {
            return Err(format!("no strategy {strategy:?} is running"));
        };
        if self.lineup.champion == Some(i) {
            return Err(format!(
                "{strategy} is the champion; promote another strategy before removing its script"
            ));
        }
        self.lineup.seats[i].retired = true;
        Ok(())
    }

    /// Whether `strategy` is in the lineup and not retired.
    pub fn runs(&self, strategy: &str) -> bool {
        self.lineup.position(strategy).is_some_and(|i| !self.lineup.seats[i].retired)
    }

    /// Every strategy's current state, to checkpoint: (strategy, live
    /// version, state), or why the state cannot be saved (the caller reports
    /// it; the last good checkpoint stays the one a restart resumes from).
    pub fn checkpoints(&self) -> Vec<Result<(StrategyId, VersionId, serde_json::Value), StrategyError>> {
        self.lineup
            .seats
            .iter()
            .map(|seat| {
                let state = seat.member.strategy.state()?;
                Ok((seat.name().clone(), seat.member.version, state))
            })
            .collect()
    }

    /// The probations running now, to save with the checkpoints.
    pub fn probations(&self) -> Vec<SavedProbation> {
        let seats = &self.lineup.seats;
        self.lineup.probation.saved(|seat| seats[seat].member.version)
    }

    /// Continues a probation saved by an earlier run, with `shadow` (the
    /// shadow version's code, holding the state to go on from). Refused
    /// when the strategy no longer runs the version on probation.
    pub fn resume_probation(
        &mut self,
        saved: SavedProbation,
        shadow: Box<dyn Strategy>,
    ) -> Result<(), String> {
        let name = saved.strategy.to_string();
        let Some(seat) = self.lineup.position(&name) else {
            return Err(format!("{name} is not in the lineup"));
        };
        let live = self.lineup.seats[seat].member.version;
        if live != saved.live_version {
            return Err(format!(
                "{name} runs {live} now, not the {} that was on probation",
                saved.live_version
            ));
        }
        self.lineup.probation.resume(seat, shadow, saved);
        Ok(())
    }

    /// Promotions made in earlier runs, oldest first.
    pub fn restore_promotions(&mut self, promotions: Vec<Promotion>) {
        let current = std::mem::take(&mut self.lineup.promotions);
        self.lineup.promotions = promotions;
        self.lineup.promotions.extend(current);
    }

    /// Continues saved promotion tests; ignored unless they were against the
    /// current champion.
    pub fn restore_tests(&mut self, champion: &str, tests: Vec<(String, PairedTest)>) {
        let Some(current) = self.lineup.champion else { return };
        if self.lineup.seats[current].name().as_str() != champion {
            return;
        }
        for (name, test) in tests {
            if let Some(i) = self.lineup.seats.iter().position(|seat| seat.name().as_str() == name) {
                self.lineup.restore_test(i, test);
            }
        }
    }

    /// Applies one event, appending its effects to `effects`.
    pub fn handle(&mut self, event: Event, effects: &mut Vec<Effect>) -> Result<(), EngineError> {
        match event {
            Event::Signal(signal) => {
                signal
                    .validate()
                    .map_err(|source| EngineError::InvalidSignal { id: signal.id.clone(), source })?;
                self.monitor.watch(Arc::clone(&signal))?;
                effects.push(Effect::SignalAccepted(Arc::clone(&signal)));
                let verdicts = self.lineup.decide(&signal, effects);
                self.jobs.on_signal(verdicts.as_deref());
            }
            Event::Price { update, at } => {
                update
                    .price
                    .validate()
                    .map_err(|source| EngineError::InvalidPrice { symbol: update.symbol.clone(), source })?;
                let symbol = self.monitor.symbol(&update.symbol);
                let ts = update.price.ts();
                if let Some(last) = self.monitor.last_ts(symbol).filter(|&last| ts < last) {
                    return Err(MonitorError::OutOfOrder { symbol: update.symbol, ts, last }.into());
                }
                self.advance(at, effects);
                self.monitor.on_price(symbol, &update.price, &mut self.closed)?;
                self.settle(effects);
            }
            Event::Clock(now) => {
                self.advance(now, effects);
                if self.clock_exits {
                    self.monitor.on_clock(now, &mut self.closed);
                    self.settle(effects);
                }
            }
        }
        Ok(())
    }

    /// The latest time the engine has seen, from prices or the clock.
    pub fn now(&self) -> Option<Timestamp> {
        self.clock
    }

    /// Signals still open, in arrival order.
    pub fn open_signals(&self) -> Vec<Arc<Signal>> {
        self.monitor.open_signals()
    }

    /// How many signals are open.
    pub fn open_count(&self) -> usize {
        self.monitor.open_count()
    }

    /// The strategies and the experiment between them.
    pub(crate) fn lineup(&self) -> &Lineup {
        &self.lineup
    }

    /// The strategies' names, in lineup order.
    pub fn strategy_names(&self) -> Vec<StrategyId> {
        self.lineup.seats.iter().map(|seat| seat.name().clone()).collect()
    }

    /// The index of the champion in the lineup.
    pub fn champion(&self) -> Option<usize> {
        self.lineup.champion
    }

    /// How long a deploy stays on probation, in ms (0: off).
    pub fn probation_window_ms(&self) -> i64 {
        self.lineup.probation.window_ms()
    }

    /// The promotions made so far.
    pub fn promotions(&self) -> &[Promotion] {
        &self.lineup.promotions
    }

    /// Reports the trades the monitor just closed, and has every strategy
    /// learn from them.
    fn settle(&mut self, effects: &mut Vec<Effect>) {
        let now = self.clock.unwrap_or(Timestamp(0));
        let mut closed = std::mem::take(&mut self.closed);
        for trade in closed.drain(..) {
            if self.lineup.is_empty() {
                effects.push(Effect::Closed(trade));
                continue;
            }
            effects.push(Effect::Closed(trade.clone()));
            let first = effects.len();
            let verdicts = self.lineup.learn(&trade, now, effects);
            self.jobs.on_closed(&trade, verdicts, now);
            self.note_versions(&effects[first..]);
        }
        self.closed = closed;
    }

    /// Keeps the jobs' record of versioned states in step with versions made
    /// outside them (promotions, rollbacks after probation).
    fn note_versions(&mut self, effects: &[Effect]) {
        for effect in effects {
            if let Effect::VersionCreated(record) = effect {
                if let Some(i) = self.lineup.position(record.strategy.as_str()) {
                    self.jobs.versioned(i, record.state.clone());
                }
            }
        }
    }

    /// Moves the clock to `ts` (never back), running the jobs due by then.
    fn advance(&mut self, ts: Timestamp, effects: &mut Vec<Effect>) {
        if self.clock.is_some_and(|now| ts <= now) {
            return;
        }
        self.clock = Some(ts);
        let open = self.monitor.open_count();
        // Probations ending now end before a job deploys anew.
        self.lineup.end_probations(ts, effects);
        self.jobs.advance(ts, &mut self.lineup, open, effects);
    }
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::{Bar, OutcomeKind, Price, Side};

    use super::*;
    use crate::monitor::fixtures::signal;

    /// A one-minute bar, known at its close.
    fn bar(ts: i64, open: f64, high: f64, low: f64) -> Event {
        Event::Price {
            update: PriceUpdate {
                symbol: Symbol::new("BTC"),
                price: Price::Bar(Bar { ts: Timestamp(ts), open, high, low, close: open, volume: 0.0 }),
            },
            at: Timestamp(ts + 60_000),
        }
    }

    #[test]
    fn a_signal_is_accepted_then_closed_by_a_price() {
        let mut engine = Engine::new(EngineConfig::default());
        let mut effects = Vec::new();
        engine.handle(Event::Signal(signal("s", Side::Long).into()), &mut effects).unwrap();
        engine.handle(bar(0, 100.0, 111.0, 99.0), &mut effects).unwrap();
        assert!(matches!(&effects[0], Effect::SignalAccepted(s) if s.id.as_str() == "s"));
        assert!(matches!(&effects[1], Effect::Closed(t) if t.outcome.kind == OutcomeKind::TpHit));
        // Learned at the bar's close; the exit keeps the bar's open time.
        assert_eq!(engine.now(), Some(Timestamp(60_000)));
        assert!(matches!(&effects[1], Effect::Closed(t) if t.outcome.exit_ts == Timestamp(0)));
    }

    #[test]
    fn invalid_events_are_refused_and_change_nothing() {
        let mut engine = Engine::new(EngineConfig::default());
        let mut effects = Vec::new();
        let wrong = Signal { take_profit: Some(50.0), ..signal("s", Side::Long) };
        let err = engine.handle(Event::Signal(wrong.into()), &mut effects).unwrap_err();
        assert!(matches!(err, EngineError::InvalidSignal { .. }), "{err}");
        let err = engine.handle(bar(0, f64::NAN, 1.0, 1.0), &mut effects).unwrap_err();
        assert!(err.to_string().contains("open"), "{err}");
        assert!(effects.is_empty());
        assert_eq!((engine.open_count(), engine.now()), (0, None));
    }

    #[test]
    fn a_retired_strategy_comes_back_at_its_live_version_or_as_the_next_one() {
        let script = |name: &str, source: &str| -> Box<dyn Strategy> {
            let path = std::path::Path::new("s.rhai");
            let limits = crate::strategy::script::Limits::default();
            let mut strategy =
                crate::strategy::script::ScriptStrategy::compile(name.into(), path, source, limits).unwrap();
            strategy.init(&serde_json::json!({})).unwrap();
            Box::new(strategy)
        };
        let member = |name: &str, source: &str| Member {
            strategy: script(name, source),
            version: VersionId(1),
            params: serde_json::json!({}),
        };
        let live = "fn decide(signal) { true }";
        let spec = LineupSpec {
            members: vec![member("champion", live), member("s", live)],
            champion: Some(0),
            schedule: None,
        };
        let mut engine = Engine::with_lineup(EngineConfig::default(), spec);
        engine.retire_strategy("s").unwrap();
        assert!(engine.seated("s") && !engine.runs("s"));
        // Put back as it was: it runs its live version again, nothing new.
        let mut effects = Vec::new();
        assert_eq!(engine.replace_strategy(script("s", live), &mut effects).unwrap(), VersionId(1));
        assert!(engine.runs("s") && effects.is_empty(), "{effects:?}");
        // Removed and written anew: the next version after the live one.
        engine.retire_strategy("s").unwrap();
        let version =
            engine.replace_strategy(script("s", "fn decide(signal) { false }"), &mut effects).unwrap();
        assert_eq!(version, VersionId(2));
        let created: Vec<(u32, Option<VersionId>, VersionReason)> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::VersionCreated(r) => Some((r.version.0, r.parent, r.reason)),
                _ => None,
            })
            .collect();
        assert_eq!(created, [(2, Some(VersionId(1)), VersionReason::Reload)]);
        assert!(engine.runs("s"));
    }

    #[test]
    fn the_daily_job_counts_each_strategys_taken_trades_wins_and_return() {
        let script = |name: &str, source: &str| -> Member {
            let path = std::path::Path::new("s.rhai");
            let limits = crate::strategy::script::Limits::default();
            let mut strategy =
                crate::strategy::script::ScriptStrategy::compile(name.into(), path, source, limits).unwrap();
            strategy.init(&serde_json::json!({})).unwrap();
            Member { strategy: Box::new(strategy), version: VersionId(1), params: serde_json::json!({}) }
        };
        let daily_only = crate::schedule::ScheduleConfig {
            daily: "0 0 * * *".into(),
            weekly: "off".into(),
            hourly: "off".into(),
        };
        let spec = LineupSpec {
            members: vec![
                script("taker", "fn decide(signal) { true }"),
                script("skipper", "fn decide(signal) { false }"),
            ],
            champion: Some(0),
            schedule: Some(crate::schedule::Schedule::new(&daily_only).unwrap()),
        };
        let mut engine = Engine::with_lineup(EngineConfig::default(), spec);
        let mut effects = Vec::new();
        // Long at 100, TP 110, SL 95: `a` reaches the take-profit (+10 %),
        // `b`, entering at 2 min, the stop (-5 %). No fee.
        engine.handle(Event::Signal(signal("a", Side::Long).into()), &mut effects).unwrap();
        engine.handle(bar(0, 100.0, 111.0, 99.0), &mut effects).unwrap();
        let late = Signal { entry_ts: Timestamp(120_000), ..signal("b", Side::Long) };
        engine.handle(Event::Signal(late.into()), &mut effects).unwrap();
        engine.handle(bar(120_000, 100.0, 100.5, 94.0), &mut effects).unwrap();
        engine.handle(Event::Clock(Timestamp(86_400_000 + 60_000)), &mut effects).unwrap();
        let days: Vec<(String, serde_json::Value)> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::JobRan(run) if run.job == JobKind::Daily => {
                    let f = &run.figures;
                    let name = run.strategy.as_ref()?.to_string();
                    Some((
                        name,
                        serde_json::json!([f["signals"], f["taken"], f["trades"], f["wins"], f["pnl_pct"]]),
                    ))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            days,
            [
                // DESIGN's pnl of a long, (exit / entry - 1) * 100, summed.
                (
                    "taker".to_owned(),
                    serde_json::json!([2, 2, 2, 1, (1.1 - 1.0) * 100.0 + (0.95 - 1.0) * 100.0])
                ),
                ("skipper".to_owned(), serde_json::json!([2, 0, 0, 0, 0.0])),
            ]
        );
    }

    #[test]
    fn a_live_engine_started_on_a_fresh_store_starts_its_schedule() {
        let path = std::path::Path::new("s.rhai");
        let limits = crate::strategy::script::Limits::default();
        let mut strategy = crate::strategy::script::ScriptStrategy::compile(
            "s".into(),
            path,
            "fn decide(signal) { true }",
            limits,
        )
        .unwrap();
        strategy.init(&serde_json::json!({})).unwrap();
        let member =
            Member { strategy: Box::new(strategy), version: VersionId(1), params: serde_json::json!({}) };
        let daily_only = crate::schedule::ScheduleConfig {
            daily: "0 0 * * *".into(),
            weekly: "off".into(),
            hourly: "off".into(),
        };
        let spec = LineupSpec {
            members: vec![member],
            champion: Some(0),
            schedule: Some(crate::schedule::Schedule::new(&daily_only).unwrap()),
        };
        // The daemon's engine: exits and catch-up on the wall clock.
        let config = EngineConfig { clock_exits: true, ..EngineConfig::default() };
        let mut engine = Engine::with_lineup(config, spec);
        let mut effects = Vec::new();
        engine.handle(Event::Clock(Timestamp(3_600_000)), &mut effects).unwrap();
        engine.handle(Event::Clock(Timestamp(2 * 86_400_000 + 60_000)), &mut effects).unwrap();
        let runs: Vec<Timestamp> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::JobRan(run) if run.job == JobKind::Daily && run.strategy.is_none() => {
                    Some(run.scheduled_at)
                }
                _ => None,
            })
            .collect();
        // Started at 01:00 on day 0: the runs of days 1 and 2 at midnight.
        assert_eq!(runs, [Timestamp(86_400_000), Timestamp(2 * 86_400_000)]);
    }

    #[test]
    fn the_clock_only_moves_forward() {
        let mut engine = Engine::new(EngineConfig::default());
        let mut effects = Vec::new();
        engine.handle(Event::Clock(Timestamp(10)), &mut effects).unwrap();
        engine.handle(Event::Clock(Timestamp(5)), &mut effects).unwrap();
        assert_eq!(engine.now(), Some(Timestamp(10)));
    }
}
