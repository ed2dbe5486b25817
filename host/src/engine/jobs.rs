//! The scheduled jobs, run by the engine when its clock passes their instant.
//!
//! * daily: every strategy's `daily(summary)` with the day's figures, a
//!   version when its state changed, and one run record per strategy plus an
//!   overall one;
//! * weekly: walk-forward retraining (below);
//! * hourly: a metrics record, when a signal arrived or closed since the
//!   last one (a replay of daily bars would otherwise write 24 identical
//!   records a day).
//!
//! Walk-forward retraining at time T: the validation window is the week
//! since the previous weekly run (P); the training window is the
//! `train_days` before P. A trade belongs to a window by the time its
//! outcome became *known* (the close of the bar that decided it), not its
//! `exit_ts` (that bar's open): a daily bar opened before P may close after
//! it, and training on it would let the candidate see an outcome its
//! validation decisions could not have known. The candidate is
//! `retrain(training trades)` run on the strategy's state as it was at P,
//! then replayed through the validation window (decide at each signal's
//! entry, learn when its outcome became known) exactly as it would have run
//! live. It is deployed only if the deploy gate says it beats
//! what the live strategy actually earned on the same signals: the
//! differences (candidate - live) are summed per block of entry time (the
//! promotion test's blocks, a UTC day by default) and an exact one-sided
//! sign-flip test ([`crate::experiment::sign_flip`]) must give `p <= alpha`
//! (the experiment's), so a candidate no better than the live version is
//! deployed at most `alpha` of the time however its outcomes cluster within a
//! day. Either way the figures are recorded, the test's with them.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use siglearn_plugin_api::{MILLIS_PER_DAY, Signal, Timestamp};

use super::Effect;
use super::lineup::Lineup;
use crate::experiment::sign_flip::sign_flip_greater;
use crate::schedule::{JobKind, JobRun, Schedule};
use crate::strategy::{DailySummary, HistoryItem, Hook, StrategyError, Verdict};
use crate::timestamp::format_utc_day;
use crate::trade::Trade;
use crate::versions::VersionReason;

/// How weekly retraining chooses its windows and when it may deploy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetrainConfig {
    /// Days of closed trades before the validation week used for training.
    pub train_days: u32,
    /// Fewest training trades for a retraining to run.
    pub min_train_trades: u32,
    /// Fewest closed validation signals for a candidate to be judged.
    pub min_validation_signals: u32,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        RetrainConfig { train_days: 28, min_train_trades: 30, min_validation_signals: 20 }
    }
}

/// A closed signal with every strategy's verdict on it.
#[derive(Clone, Debug)]
struct Closed {
    trade: Trade,
    verdicts: Option<Arc<[Option<Verdict>]>>,
    /// When the outcome became known to the strategies.
    known_at: Timestamp,
}

/// Per strategy: what happened since the last daily run.
#[derive(Clone, Copy, Debug, Default)]
struct Day {
    signals: u64,
    taken: u64,
    trades: u64,
    wins: u64,
    pnl_pct: f64,
}

/// The jobs' state inside the engine.
#[derive(Debug)]
pub(crate) struct Jobs {
    schedule: Option<Schedule>,
    retrain: RetrainConfig,
    /// Closed signals kept for retraining, oldest first.
    history: VecDeque<Closed>,
    days: Vec<Day>,
    /// Each strategy's state at the last weekly run, and when that was.
    anchors: Vec<Option<serde_json::Value>>,
    last_weekly: Option<Timestamp>,
    /// Each strategy's state as of its last version.
    versioned: Vec<Option<serde_json::Value>>,
    /// A signal arrived or closed since the last hourly record.
    active_hour: bool,
    /// When the daily and hourly jobs last ran (a resumed store).
    last_daily: Option<Timestamp>,
    last_hourly: Option<Timestamp>,
    /// Live use (the daemon): after downtime each missed job runs once. In
    /// event time (a replay, continued or not) every due run runs, so that a
    /// continued replay equals one run.
    live: bool,
    /// The jobs continue a stored schedule: anchors come from the store.
    resumed: bool,
    started: bool,
}

impl Jobs {
    pub(crate) fn new(schedule: Option<Schedule>, retrain: RetrainConfig, seats: usize, live: bool) -> Self {
        Jobs {
            schedule,
            retrain,
            history: VecDeque::new(),
            days: vec![Day::default(); seats],
            anchors: vec![None; seats],
            last_weekly: None,
            versioned: vec![None; seats],
            active_hour: false,
            last_daily: None,
            last_hourly: None,
            live,
            resumed: false,
            started: false,
        }
    }

    /// Continues a schedule whose job last ran at `at` (a resumed store).
    pub(crate) fn resume(&mut self, kind: JobKind, at: Timestamp) {
        if let Some(schedule) = &mut self.schedule {
            schedule.resume(kind, at);
            self.resumed = true;
        }
        match kind {
            JobKind::Weekly => self.last_weekly = Some(at),
            JobKind::Daily => self.last_daily = Some(at),
            JobKind::Hourly => self.last_hourly = Some(at),
        }
    }

    /// A signal of an earlier run: counted for the day when it came at or
    /// after the last daily run (a job due at an instant runs before the
    /// events of that instant).
    pub(crate) fn restore_signal(&mut self, signal: &Signal, verdicts: &[Option<Verdict>]) {
        self.restore_activity(signal.entry_ts);
        if self.last_daily.is_some_and(|daily| signal.entry_ts >= daily) {
            self.count_signal(Some(verdicts));
        }
    }

    /// Something of an earlier run happened at `at`: the next hourly record
    /// is due if it came at or after the last one.
    fn restore_activity(&mut self, at: Timestamp) {
        if self.last_hourly.is_none_or(|hourly| at >= hourly) {
            self.active_hour = true;
        }
    }

    /// A trade of an earlier run, whose outcome became known at `known_at`:
    /// kept for retraining, and counted for the day when it came after the
    /// last daily run.
    pub(crate) fn restore_closed(
        &mut self,
        trade: &Trade,
        verdicts: &[Option<Verdict>],
        known_at: Timestamp,
    ) {
        self.restore_signal(&trade.signal, verdicts);
        let verdicts: Arc<[Option<Verdict>]> = verdicts.into();
        if self.last_daily.is_some_and(|daily| known_at >= daily) {
            self.count_closed(trade, Some(&verdicts));
        }
        if self.schedule.is_some() {
            self.restore_activity(known_at);
            self.history.push_back(Closed { trade: trade.clone(), verdicts: Some(verdicts), known_at });
        }
    }

    /// The anchor the last weekly run left for strategy `seat`.
    pub(crate) fn restore_anchor(&mut self, seat: usize, state: serde_json::Value) {
        if let Some(anchor) = self.anchors.get_mut(seat) {
            *anchor = Some(state);
        }
    }

    /// Runs every job due at or before `now`.
    pub(crate) fn advance(
        &mut self,
        now: Timestamp,
        lineup: &mut Lineup,
        open_signals: usize,
        effects: &mut Vec<Effect>,
    ) {
        if self.schedule.is_none() {
            return;
        }
        let first = !self.started;
        if first {
            self.started = true;
            if !self.resumed {
                self.capture_anchors(lineup);
            }
            self.last_weekly.get_or_insert(now);
        }
        let Some(schedule) = &mut self.schedule else { return };
        let mut due = Vec::new();
        if first {
            if schedule.is_started() && self.live {
                // A daemon resumed after downtime: what was missed runs once.
                schedule.catch_up(now, &mut due);
            } else if !schedule.is_started() {
                schedule.start(now);
            }
        }
        schedule.due(now, &mut due);
        for (at, job) in due {
            match job {
                JobKind::Daily => self.daily(at, lineup, effects),
                JobKind::Weekly => self.weekly(at, lineup, effects),
                JobKind::Hourly if std::mem::take(&mut self.active_hour) => {
                    hourly(at, lineup, open_signals, effects)
                }
                JobKind::Hourly => {}
            }
        }
    }

    /// Counts a signal every strategy decided on.
    pub(crate) fn on_signal(&mut self, verdicts: Option<&[Option<Verdict>]>) {
        self.active_hour = true;
        self.count_signal(verdicts);
    }

    fn count_signal(&mut self, verdicts: Option<&[Option<Verdict>]>) {
        for (i, day) in self.days.iter_mut().enumerate() {
            day.signals += 1;
            if verdicts.and_then(|v| v.get(i).copied().flatten()).is_some_and(|v| v.take) {
                day.taken += 1;
            }
        }
    }

    /// Counts a closed signal, known at `known_at`, and keeps it for retraining.
    pub(crate) fn on_closed(
        &mut self,
        trade: &Trade,
        verdicts: Option<Arc<[Option<Verdict>]>>,
        known_at: Timestamp,
    ) {
        self.active_hour = true;
        self.count_closed(trade, verdicts.as_ref());
        if self.schedule.is_some() {
            self.history.push_back(Closed { trade: trade.clone(), verdicts, known_at });
        }
    }

    fn count_closed(&mut self, trade: &Trade, verdicts: Option<&Arc<[Option<Verdict>]>>) {
        let pnl = trade.outcome.pnl_pct;
        for (i, day) in self.days.iter_mut().enumerate() {
            if verdicts.and_then(|v| v.get(i).copied().flatten()).is_some_and(|v| v.take) {
                day.trades += 1;
                day.wins += u64::from(pnl > 0.0);
                day.pnl_pct += pnl;
            }
        }
    }

    /// Makes room for a strategy added while running.
    pub(crate) fn add_seat(&mut self, state: Option<serde_json::Value>) {
        self.days.push(Day::default());
        self.anchors.push(state.clone());
        self.versioned.push(state);
    }

    /// Notes that a strategy's state was versioned (so that an unchanged
    /// state makes no daily version).
    pub(crate) fn versioned(&mut self, seat: usize, state: serde_json::Value) {
        if let Some(slot) = self.versioned.get_mut(seat) {
            *slot = Some(state);
        }
    }

    fn capture_anchors(&mut self, lineup: &Lineup) {
        for (i, seat) in lineup.seats.iter().enumerate() {
            self.anchors[i] = seat.member.strategy.state().ok();
        }
    }

    fn daily(&mut self, at: Timestamp, lineup: &mut Lineup, effects: &mut Vec<Effect>) {
        let date = format_utc_day(at.utc_day() - 1);
        let mut overall = serde_json::Map::new();
        for i in 0..lineup.seats.len() {
            let day = std::mem::take(&mut self.days[i]);
            let summary = DailySummary {
                date: date.clone(),
                signals: day.signals,
                taken: day.taken,
                trades: day.trades,
                wins: day.wins,
                pnl_pct: day.pnl_pct,
                win_rate: if day.trades > 0 { day.wins as f64 / day.trades as f64 } else { 0.0 },
            };
            let seat = &mut lineup.seats[i];
            let name = seat.name().clone();
            if let Err(error) = seat.member.strategy.daily(&summary) {
                seat.failures += 1;
                effects.push(Effect::StrategyFailed(error));
            }
            let mut version = None;
            let state = seat.member.strategy.state().ok();
            if state.is_some() && state != self.versioned[i] {
                let figures = serde_json::to_value(&summary).unwrap_or_default();
                if let Some(record) = lineup.snapshot(i, VersionReason::Daily, at, figures, effects) {
                    version = Some(record.version.0);
                    self.versioned[i] = Some(record.state);
                }
            }
            let mut figures = serde_json::to_value(&summary).unwrap_or_default();
            if let Some(map) = figures.as_object_mut() {
                map.insert("version".into(), version.into());
            }
            overall.insert(name.to_string(), figures.clone());
            effects.push(Effect::JobRan(JobRun {
                job: JobKind::Daily,
                scheduled_at: at,
                strategy: Some(name),
                figures,
            }));
        }
        let figures = serde_json::json!({ "date": date, "strategies": overall });
        effects.push(Effect::JobRan(JobRun {
            job: JobKind::Daily,
            scheduled_at: at,
            strategy: None,
            figures,
        }));
    }

    fn weekly(&mut self, at: Timestamp, lineup: &mut Lineup, effects: &mut Vec<Effect>) {
        let validation_start = self.last_weekly.unwrap_or(at);
        let train_start = validation_start + -(i64::from(self.retrain.train_days) * MILLIS_PER_DAY);
        let train: Vec<&Closed> = self
            .history
            .iter()
            .filter(|c| c.known_at < validation_start && c.known_at >= train_start)
            .collect();
        let validation: Vec<&Closed> =
            self.history.iter().filter(|c| c.trade.signal.entry_ts >= validation_start).collect();
        for i in 0..lineup.seats.len() {
            let window = Window { train: &train, validation: &validation, validation_start, at };
            let (figures, deployed) =
                retrain_one(i, &window, self.anchors[i].as_ref(), &self.retrain, lineup, effects);
            if let Some(state) = deployed {
                self.versioned[i] = Some(state);
            }
            let name = lineup.seats[i].name().clone();
            effects.push(Effect::JobRan(JobRun {
                job: JobKind::Weekly,
                scheduled_at: at,
                strategy: Some(name),
                figures,
            }));
        }
        self.last_weekly = Some(at);
        self.capture_anchors(lineup);
        for (seat, anchor) in lineup.seats.iter().zip(&self.anchors) {
            if let Some(state) = anchor {
                effects.push(Effect::Anchored {
                    strategy: seat.name().clone(),
                    version: seat.member.version,
                    state: state.clone(),
                    at,
                });
            }
        }
        let keep_from = at + -(i64::from(self.retrain.train_days) * MILLIS_PER_DAY);
        while self.history.front().is_some_and(|c| c.known_at < keep_from) {
            self.history.pop_front();
        }
    }
}

/// The windows of one weekly run.
struct Window<'a> {
    train: &'a [&'a Closed],
    validation: &'a [&'a Closed],
    validation_start: Timestamp,
    at: Timestamp,
}

/// Retrains strategy `i` and decides whether to deploy. Returns the figures,
/// and the deployed state when a candidate became a version.
fn retrain_one(
    i: usize,
    window: &Window<'_>,
    anchor: Option<&serde_json::Value>,
    config: &RetrainConfig,
    lineup: &mut Lineup,
    effects: &mut Vec<Effect>,
) -> (serde_json::Value, Option<serde_json::Value>) {
    let (train, validation, validation_start, at) =
        (window.train, window.validation, window.validation_start, window.at);
    let took =
        |c: &Closed| c.verdicts.as_ref().and_then(|v| v.get(i).copied().flatten()).is_some_and(|v| v.take);
    let mut figures = serde_json::json!({
        "train_trades": train.len(),
        "validation_signals": validation.len(),
        "validation_start": validation_start.as_millis(),
    });
    let set = |figures: &mut serde_json::Value, key: &str, value: serde_json::Value| {
        if let Some(map) = figures.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
    };
    let test = lineup.config;
    let seat = &mut lineup.seats[i];
    if !seat.member.strategy.has(Hook::Retrain) {
        set(&mut figures, "skipped", "no retrain hook".into());
        return (figures, None);
    }
    if train.len() < config.min_train_trades as usize
        || validation.len() < config.min_validation_signals as usize
    {
        set(&mut figures, "skipped", "not enough trades in the windows".into());
        return (figures, None);
    }
    let strategy = &mut seat.member.strategy;
    let Ok(live) = strategy.state() else {
        set(&mut figures, "skipped", "the live state is not JSON".into());
        return (figures, None);
    };
    let anchor = anchor.cloned().unwrap_or_else(|| live.clone());
    let history: Vec<HistoryItem> =
        train.iter().map(|c| HistoryItem { trade: c.trade.clone(), taken: took(c) }).collect();
    // Train the candidate from the anchor state, then replay it through the
    // validation week; the live state comes back whatever happens.
    let mut judge = || -> Result<Option<Vec<bool>>, StrategyError> {
        strategy.set_state(&anchor)?;
        let Some(candidate) = strategy.retrain(&history)? else { return Ok(None) };
        strategy.set_state(&candidate)?;
        let trades: Vec<(&Trade, Timestamp)> = validation.iter().map(|c| (&c.trade, c.known_at)).collect();
        replay_window(strategy.as_mut(), &trades).map(Some)
    };
    let candidate_took = match judge() {
        Ok(Some(result)) => result,
        Ok(None) => {
            let _ = strategy.set_state(&live);
            set(&mut figures, "skipped", "retrain returned nothing".into());
            return (figures, None);
        }
        Err(error) => {
            let _ = strategy.set_state(&live);
            seat.failures += 1;
            set(&mut figures, "error", error.message.clone().into());
            effects.push(Effect::StrategyFailed(error));
            return (figures, None);
        }
    };
    let returns = |taken: bool, c: &Closed| if taken { c.trade.outcome.pnl_pct } else { 0.0 };
    let current_pnl: f64 = validation.iter().map(|c| returns(took(c), c)).sum();
    let candidate_pnl: f64 = validation.iter().zip(&candidate_took).map(|(c, t)| returns(*t, c)).sum();
    let candidate_taken = candidate_took.iter().filter(|t| **t).count();
    // The deploy gate: candidate - live, summed per block of entry time.
    let blocks = test.block_of(validation_start);
    let mut by_block = std::collections::BTreeMap::<i64, f64>::new();
    for (c, candidate) in validation.iter().zip(&candidate_took) {
        let block = test.block_of(c.trade.signal.entry_ts) - blocks;
        *by_block.entry(block).or_default() += returns(*candidate, c) - returns(took(c), c);
    }
    let differences: Vec<f64> = by_block.into_values().collect();
    let gate = sign_flip_greater(&differences);
    let alpha = test.alpha;
    let deploy = gate.passes(alpha);
    // The live version, to run in shadow on probation if the candidate goes live.
    let previous = if deploy {
        strategy.fork().and_then(|mut previous| previous.set_state(&live).map(|()| previous)).ok()
    } else {
        None
    };
    set(&mut figures, "current_pnl_pct", current_pnl.into());
    set(&mut figures, "current_taken", validation.iter().filter(|c| took(c)).count().into());
    set(&mut figures, "candidate_pnl_pct", candidate_pnl.into());
    set(&mut figures, "candidate_taken", candidate_taken.into());
    set(
        &mut figures,
        "gate",
        serde_json::json!({
            "test": "sign-flip on block sums",
            "blocks": gate.blocks,
            "difference_pct": gate.statistic,
            "p_value": gate.p_value,
            "alpha": alpha,
        }),
    );
    set(&mut figures, "deployed", deploy.into());
    if deploy {
        if let Some(record) = lineup.snapshot(i, VersionReason::Retrain, at, figures.clone(), effects) {
            set(&mut figures, "version", record.version.0.into());
            if let (Some(previous), Some(parent)) = (previous, record.parent) {
                lineup.probation.start(i, previous, parent, VersionReason::Retrain, at, effects);
            }
            return (figures, Some(record.state));
        }
    } else {
        let _ = lineup.seats[i].member.strategy.set_state(&live);
    }
    (figures, None)
}

/// Replays a window through a strategy as it would have run live: decide at
/// each signal's entry, learn when its outcome became known (decisions first
/// at equal times). `window` holds each trade with that time.
/// Returns whether it took each signal of the window. The promotion study
/// runs strategies over replayed outcomes the same way.
pub(crate) fn replay_window(
    strategy: &mut dyn crate::strategy::Strategy,
    window: &[(&Trade, Timestamp)],
) -> Result<Vec<bool>, StrategyError> {
    let mut steps: Vec<(Timestamp, u8, usize)> = Vec::with_capacity(window.len() * 2);
    for (n, (trade, known_at)) in window.iter().enumerate() {
        steps.push((trade.signal.entry_ts, 0, n));
        steps.push((*known_at, 1, n));
    }
    steps.sort_unstable();
    let mut took = vec![false; window.len()];
    for (_, step, n) in steps {
        let (trade, _) = window[n];
        if step == 0 {
            took[n] = strategy.decide(&trade.signal)?.take;
        } else {
            strategy.learn(&trade.signal, &trade.outcome)?;
        }
    }
    Ok(took)
}

fn hourly(at: Timestamp, lineup: &Lineup, open_signals: usize, effects: &mut Vec<Effect>) {
    let strategies: serde_json::Map<String, serde_json::Value> = lineup
        .seats
        .iter()
        .map(|seat| {
            let pnl: f64 = seat.taken.iter().map(|t| t.outcome.pnl_pct).sum();
            (
                seat.name().to_string(),
                serde_json::json!({ "trades": seat.taken.len(), "pnl_pct": pnl, "version": seat.member.version.0 }),
            )
        })
        .collect();
    let figures = serde_json::json!({ "open_signals": open_signals, "strategies": strategies });
    effects.push(Effect::JobRan(JobRun { job: JobKind::Hourly, scheduled_at: at, strategy: None, figures }));
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::{Outcome, OutcomeKind, Side, SignalId};

    use super::*;
    use crate::experiment::sequential::SequentialConfig;
    use crate::monitor::fixtures::signal;

    const DAY: i64 = MILLIS_PER_DAY;

    fn trade(id: &str) -> Trade {
        Trade {
            signal: Arc::new(signal(id, Side::Long)),
            outcome: Outcome {
                signal_id: SignalId::new(id),
                kind: OutcomeKind::TpHit,
                exit_ts: Timestamp(0),
                exit_price: 110.0,
                pnl_pct: 10.0,
                holding_ms: 0,
                ambiguous: false,
                mfe_pct: 10.0,
                mae_pct: 0.0,
            },
        }
    }

    #[test]
    fn a_weekly_run_keeps_exactly_the_trades_the_next_training_window_needs() {
        let schedule = Schedule::new(&crate::schedule::ScheduleConfig::default()).unwrap();
        let retrain = RetrainConfig { train_days: 7, ..RetrainConfig::default() };
        let mut jobs = Jobs::new(Some(schedule), retrain, 0, false);
        let mut lineup = Lineup::new(Vec::new(), None, SequentialConfig::default(), 0);
        for (id, day) in [("a", 0), ("b", 3), ("c", 7), ("d", 10)] {
            jobs.on_closed(&trade(id), None, Timestamp(day * DAY));
        }
        jobs.last_weekly = Some(Timestamp(7 * DAY));
        jobs.weekly(Timestamp(14 * DAY), &mut lineup, &mut Vec::new());
        // The next run validates from day 14 and trains on trades known in
        // [14 - 7, 14) days: from day 7 on, so `c` (known at day 7 exactly)
        // stays and `a` and `b` go.
        let kept: Vec<&str> = jobs.history.iter().map(|c| c.trade.signal.id.as_str()).collect();
        assert_eq!(kept, ["c", "d"]);
    }
}
