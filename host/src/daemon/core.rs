//! The engine thread: the one owner of the engine and the store writer.
//!
//! Requests arrive on a bounded channel and are applied in order, so a
//! reload, a tick or a batch never interleaves with another. A batch of
//! signals or prices is checked whole before any of it is applied, and its
//! answer is sent only after the store has committed it: an acknowledged
//! batch survives a crash. Every request's writes are one transaction, so
//! a batch is in the store whole or not at all. Ticks run the wall-clock
//! jobs and time exits and checkpoint strategy states now and then.
//!
//! When a commit fails (disk full, I/O error), the engine has applied what
//! the store refused; it is rebuilt from the store at once, exactly as a
//! restart would, so nothing of the refused request stays in memory. Until
//! a write works again (tried on every tick), writes are refused with 503
//! and `/healthz` says `store_unwritable`; then the daemon goes on by itself.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use siglearn_plugin_api::{PriceUpdate, Signal, SignalId, StrategyId, Symbol, Timestamp, VersionId};
use tokio::sync::{mpsc, oneshot};

use super::failures::{Admit, FailureLog};
use super::known::{KnownIds, RecentBars};
use super::view::View;
use super::{Problems, Published, Refusal};
use crate::config::Config;
use crate::config::StrategyConfig;
use crate::engine::{Effect, Engine, Event};
use crate::experiment::ab::AbTable;
use crate::store::{Command, Store, StoreReader};
use crate::strategy::script::Limits;
use crate::strategy::{Resumed, Strategy, StrategyError, first_version, resume_strategy};
use crate::versions::{self, AliasMove, VersionRecord};

/// What the engine thread is asked to do.
#[derive(Debug)]
pub(crate) enum Request {
    Signals { signals: Vec<Signal>, reply: oneshot::Sender<Result<Vec<Published>, Refusal>> },
    Prices { updates: Vec<PriceUpdate>, reply: oneshot::Sender<Result<usize, Refusal>> },
    Tick { now: Timestamp },
    Reload(Reload),
    Active { symbol: Option<Symbol>, reply: oneshot::Sender<Vec<Arc<Signal>>> },
    Experiments { reply: oneshot::Sender<AbTable> },
    Rollback { strategy: String, version: VersionId, reply: oneshot::Sender<Result<VersionRecord, Refusal>> },
    Promote { strategy: String, version: VersionId, reply: oneshot::Sender<Result<AliasMove, Refusal>> },
    Shutdown { reply: oneshot::Sender<Result<(), String>> },
}

/// A change of a script or library file, compiled or opened off the
/// engine thread.
#[derive(Debug)]
pub(crate) enum Reload {
    /// The code file of `name` changed (or appeared): new code, or why it failed.
    Changed { name: String, path: PathBuf, compiled: Result<Box<dyn Strategy>, StrategyError> },
    /// The code file of `name` was removed.
    Removed { name: String },
}

pub(crate) struct Core {
    pub(crate) engine: Engine,
    pub(crate) store: Store,
    pub(crate) db: PathBuf,
    pub(crate) limits: Limits,
    /// The signal ids the store holds, so that a duplicate is refused
    /// before anything is applied.
    pub(crate) known: KnownIds,
    /// The bars taken lately, so that a retried bar is not applied twice.
    pub(crate) bars: RecentBars,
    pub(crate) view: Arc<RwLock<View>>,
    pub(crate) checkpoint_every: Duration,
    /// Whether a script added to the folder joins the lineup.
    pub(crate) adopt_new_scripts: bool,
    /// Strategy failures logged so far, to keep the log readable.
    pub(crate) failure_log: FailureLog,
    /// The configuration as given, to rebuild the engine from the store.
    pub(crate) config: Config,
    /// Set while the store cannot be written.
    pub(crate) broken: Option<Broken>,
}

/// A store that failed to commit, and how far the daemon got back.
#[derive(Debug)]
pub(crate) struct Broken {
    error: String,
    /// Whether the engine was rebuilt from the store since the failure.
    rebuilt: bool,
}

/// Wall time, read at the edge only.
pub(crate) fn wall_now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(millis)
}

impl Core {
    /// Serves requests until shutdown or until every sender is gone.
    pub(crate) fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut last_checkpoint = Instant::now();
        while let Some(request) = requests.blocking_recv() {
            match request {
                Request::Signals { signals, reply } => {
                    let _ = reply.send(self.signals(signals));
                }
                Request::Prices { updates, reply } => {
                    let _ = reply.send(self.prices(updates));
                }
                Request::Tick { now } if self.broken.is_some() => self.recover(now),
                Request::Tick { now } => {
                    self.tick(now);
                    if last_checkpoint.elapsed() >= self.checkpoint_every {
                        last_checkpoint = Instant::now();
                        self.checkpoint(now);
                    }
                }
                Request::Reload(reload) => self.reload(reload),
                Request::Active { symbol, reply } => {
                    let mut open = self.engine.open_signals();
                    if let Some(symbol) = symbol {
                        open.retain(|s| s.symbol == symbol);
                    }
                    let _ = reply.send(open);
                }
                Request::Experiments { reply } => {
                    let _ = reply.send(AbTable::of(&self.engine));
                }
                Request::Rollback { strategy, version, reply } => {
                    let _ = reply.send(self.rollback(&strategy, version));
                }
                Request::Promote { strategy, version, reply } => {
                    let _ = reply.send(self.promote(&strategy, version));
                }
                Request::Shutdown { reply } => {
                    let _ = reply.send(self.shutdown());
                    return;
                }
            }
        }
    }

    /// Commits the effects of one request in one transaction, then shows
    /// them in the view. A failed commit rebuilds the engine from the store
    /// (see the module docs) and is answered 503.
    fn apply(&mut self, effects: Vec<Effect>) -> Result<(), Refusal> {
        self.apply_with(effects, Vec::new())
    }

    /// As [`Self::apply`], committing `commands` in the same transaction.
    fn apply_with(&mut self, effects: Vec<Effect>, mut commands: Vec<Command>) -> Result<(), Refusal> {
        let now = self.engine.now().unwrap_or_else(wall_now);
        for effect in &effects {
            Command::of_effect(effect, now, &mut commands);
        }
        // A probation that starts or ends is saved at once, so a restart
        // neither loses a new one nor revives an ended one.
        if effects
            .iter()
            .any(|e| matches!(e, Effect::ProbationStarted { .. } | Effect::ProbationEnded { .. }))
        {
            commands.push(Command::SaveProbations { probations: self.engine.probations(), at: now });
        }
        if !commands.is_empty() {
            if let Err(error) = self.store.commit(commands) {
                return Err(self.fail(error.to_string()));
            }
        }
        let mut view = self.view.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for effect in &effects {
            view.note(effect);
            if let Effect::NoDecision { error, .. } | Effect::StrategyFailed(error) = effect {
                let minute = view.started.elapsed().as_secs() / 60;
                if let Admit::Log { left_out } = self.failure_log.admit(error.strategy.as_str(), minute) {
                    tracing::warn!(strategy = %error.strategy, left_out, "strategy failed: {error}");
                }
            }
            if let Effect::VersionCreated(record) = effect {
                if let Some(status) = view.strategies.get_mut(record.strategy.as_str()) {
                    status.plugin = self.engine.plugin_build(record.strategy.as_str()).cloned();
                }
            }
        }
        view.open_signals = self.engine.open_count();
        Ok(())
    }

    /// The answer to a write while the store cannot be written.
    fn refusal(broken: &Broken) -> Refusal {
        Refusal::with(
            503,
            format!(
                "the store cannot be written ({}); nothing of this request was taken; \
                 retry when GET /healthz answers 200",
                broken.error
            ),
        )
    }

    /// Refuses a write while the store cannot be written.
    fn writable(&self) -> Result<(), Refusal> {
        self.broken.as_ref().map_or(Ok(()), |broken| Err(Self::refusal(broken)))
    }

    /// A commit failed: the engine holds effects the store does not. It is
    /// rebuilt from the store now (or on the next tick, if reading fails
    /// too), and writes wait until the store takes one again.
    fn fail(&mut self, error: String) -> Refusal {
        tracing::error!(%error, "the store cannot be written; writes are refused until it can");
        self.broken = Some(Broken { error: error.clone(), rebuilt: false });
        self.view.write().unwrap_or_else(|p| p.into_inner()).store_error = Some(error);
        self.rebuild();
        self.broken.as_ref().map_or_else(|| Refusal::internal("the store failed"), Self::refusal)
    }

    /// Rebuilds the engine from the store, as a restart does.
    fn rebuild(&mut self) {
        let Some(broken) = &mut self.broken else { return };
        if broken.rebuilt {
            return;
        }
        if let Err(error) = self.store.resume() {
            tracing::error!(%error, "the store writer cannot resume");
            return;
        }
        match super::rebuild(&self.config, &self.db, &self.store) {
            Ok((engine, strategies)) => {
                self.engine = engine;
                let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
                view.open_signals = self.engine.open_count();
                view.strategies = strategies;
                drop(view);
                broken.rebuilt = true;
                tracing::info!(open = self.engine.open_count(), "the engine is rebuilt from the store");
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "cannot rebuild the engine from the store yet");
            }
        }
    }

    /// On a tick while the store cannot be written: rebuild if that is
    /// still to do, then try a write (a checkpoint); when it commits, the
    /// daemon is back.
    fn recover(&mut self, now: Timestamp) {
        self.rebuild();
        if !self.broken.as_ref().is_some_and(|b| b.rebuilt) {
            return;
        }
        if self.store.resume().is_err() {
            return;
        }
        match self.store.commit(self.checkpoint_commands(now)) {
            Ok(()) => {
                self.broken = None;
                self.view.write().unwrap_or_else(|p| p.into_inner()).store_error = None;
                tracing::info!("the store takes writes again");
            }
            Err(error) => {
                let error = error.to_string();
                if let Some(broken) = &mut self.broken {
                    if broken.error != error {
                        tracing::error!(%error, "the store still cannot be written");
                    }
                    broken.error = error.clone();
                }
                self.view.write().unwrap_or_else(|p| p.into_inner()).store_error = Some(error);
            }
        }
    }

    /// Takes a batch of signals whole, or none of it (their ids are unique
    /// within the batch: the intake checked). A signal the store
    /// already holds, sent again unchanged, is not taken twice: it is
    /// answered with the champion's stored decision, so a retry after a lost
    /// answer is safe. The same id with other values is refused (409).
    fn signals(&mut self, signals: Vec<Signal>) -> Result<Vec<Published>, Refusal> {
        self.writable()?;
        let internal = |e: crate::store::StoreError| Refusal::internal(e.to_string());
        let mut problems = Problems::default();
        let mut conflicts = 0;
        let mut stored: HashSet<usize> = HashSet::new();
        for (index, signal) in signals.iter().enumerate() {
            for error in signal.problems() {
                problems.push(index, &error.field(), error);
            }
            if !self.known.contains(&signal.id).map_err(internal)? {
                continue;
            }
            let Some(before) = self.known.store().signal(signal.id.as_str()).map_err(internal)? else {
                continue;
            };
            match difference(&before, signal) {
                None => {
                    stored.insert(index);
                }
                Some(field) => {
                    conflicts += 1;
                    let reason = format!(
                        "signal {} was already received with another {field}; a signal id names one signal: \
                         send it unchanged (a retry) or under a new id",
                        signal.id
                    );
                    problems.push(index, field, reason);
                }
            }
        }
        if !problems.is_empty() {
            let refusal = if conflicts == problems.len() {
                problems
                    .refusal(409, "signal ids already taken by other signals; none of the batch was taken")
            } else {
                Refusal::invalid("invalid signals; none of the batch was taken", problems)
            };
            return Err(refusal);
        }
        let champion = self.engine.champion().map(|i| self.engine.strategy_names()[i].clone());
        let mut published = Vec::with_capacity(signals.len());
        let mut effects = Vec::new();
        for (index, signal) in signals.into_iter().enumerate() {
            let id = signal.id.clone();
            if stored.contains(&index) {
                published.push(self.stored_decision(&id, champion.as_ref()).map_err(internal)?);
                continue;
            }
            let first = effects.len();
            if let Err(error) = self.engine.handle(Event::Signal(signal.into()), &mut effects) {
                // The engine may hold part of the batch: start it again from the store.
                return Err(self.fail(format!("the engine refused a signal: {error}")));
            }
            published.push(Published::of(&id, champion.as_ref(), &effects[first..]));
            self.known.insert(&id);
        }
        self.apply(effects)?;
        Ok(published)
    }

    /// The champion's decision on a stored signal, as it was published.
    fn stored_decision(
        &self,
        id: &SignalId,
        champion: Option<&StrategyId>,
    ) -> Result<Published, crate::store::StoreError> {
        let decision = match champion {
            Some(champion) => self.known.store().decision(champion.as_str(), id.as_str())?,
            None => None,
        };
        Ok(Published {
            signal_id: id.clone(),
            strategy: champion.cloned(),
            // As for a new signal: a version only with a decision.
            version: decision.as_ref().and_then(|(version, v)| v.map(|_| *version)),
            take: decision.as_ref().and_then(|(_, v)| v.map(|v| v.take)),
            score: decision.as_ref().and_then(|(_, v)| v.map(|v| v.score)),
            size: decision.as_ref().and_then(|(_, v)| v.map(|v| v.size)),
        })
    }

    /// Takes a batch of prices whole, or none of it. A bar taken lately,
    /// sent again unchanged (a retry), is not applied twice; see [`RecentBars`].
    fn prices(&mut self, updates: Vec<PriceUpdate>) -> Result<usize, Refusal> {
        self.writable()?;
        let count = updates.len();
        self.bars.load(&self.db).map_err(|e| Refusal::internal(e.to_string()))?;
        let engine = &self.engine;
        let fresh = self.bars.fresh(updates, |symbol| engine.last_price_ts(symbol))?;
        let taken = RecentBars::taken(&fresh);
        let applied = fresh.len();
        let mut effects = Vec::new();
        // A posted bar is taken as closed on arrival: its effects happen now.
        let at = wall_now();
        for update in fresh {
            if let Err(error) = self.engine.handle(Event::Price { update, at }, &mut effects) {
                return Err(self.fail(format!("the engine refused a price: {error}")));
            }
        }
        self.apply_with(effects, RecentBars::command(&taken).into_iter().collect())?;
        self.bars.remember_taken(taken);
        self.view.write().unwrap_or_else(|p| p.into_inner()).counters.prices += applied as u64;
        Ok(count)
    }

    fn tick(&mut self, now: Timestamp) {
        let mut effects = Vec::new();
        if self.engine.handle(Event::Clock(now), &mut effects).is_ok() {
            if let Err(error) = self.apply(effects) {
                tracing::error!(error = %error.error, "cannot record the effects of a clock tick");
            }
        }
    }

    /// Saves every strategy's state and the promotion tests, in one
    /// transaction. A state that cannot be saved is a strategy error (stored,
    /// logged, shown); the last good checkpoint stays the one a restart
    /// resumes from.
    fn checkpoint(&mut self, at: Timestamp) {
        if self.broken.is_some() {
            return;
        }
        if let Err(error) = self.store.commit(self.checkpoint_commands(at)) {
            self.fail(error.to_string());
        }
    }

    /// The writes of a checkpoint.
    fn checkpoint_commands(&self, at: Timestamp) -> Vec<Command> {
        let mut commands = Vec::new();
        let mut failures = Vec::new();
        for checkpoint in self.engine.checkpoints() {
            match checkpoint {
                Ok((strategy, version, state)) => {
                    commands.push(Command::SaveSnapshot { strategy, version, state, at, anchor: false })
                }
                Err(error) => {
                    tracing::error!(%error, "the strategy's state cannot be checkpointed; a restart resumes from its last good checkpoint");
                    commands.push(Command::InsertStrategyError { error: error.clone(), at });
                    failures.push(Effect::StrategyFailed(error));
                }
            }
        }
        if !failures.is_empty() {
            let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
            for failure in &failures {
                view.note(failure);
            }
        }
        if let Some((champion, tests)) = self.engine.tests() {
            commands.push(Command::SaveTests { champion, tests, at });
        }
        commands.push(Command::SaveProbations { probations: self.engine.probations(), at });
        commands
    }

    fn reload(&mut self, reload: Reload) {
        if let Some(broken) = &mut self.broken {
            // The rebuild on recovery reads the scripts as they are then.
            tracing::warn!(
                "a script changed while the store cannot be written; it is loaded when the store can be"
            );
            broken.rebuilt = false;
            return;
        }
        let mut effects = Vec::new();
        let outcome = match reload {
            Reload::Changed { name, compiled: Err(error), .. } => Err((name, error)),
            Reload::Changed { name, compiled: Ok(strategy), .. }
                if self.engine.runs(&name)
                    && self.engine.code_hash(&name).is_some_and(|live| live == strategy.code_hash()) =>
            {
                tracing::debug!(strategy = %name, "script written with the code already live; nothing to reload");
                // The file is the live code again: a refused reload in between is over.
                if let Some(status) =
                    self.view.write().unwrap_or_else(|p| p.into_inner()).strategies.get_mut(&name)
                {
                    status.reload_error = None;
                }
                return;
            }
            // Running, or retired (its script was removed and is back): the
            // lineup numbers the next version from the seat's live one.
            Reload::Changed { name, compiled: Ok(strategy), .. } if self.engine.seated(&name) => {
                let back = !self.engine.runs(&name);
                self.engine.replace_strategy(strategy, &mut effects).map_err(|e| (name.clone(), e)).map(
                    |_| {
                        if back {
                            let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
                            view.strategies.entry(name.clone()).or_default().running = true;
                            tracing::info!(strategy = %name, "script back: the strategy runs again");
                        }
                    },
                )
            }
            // A new script of the folder, or a configured strategy that did
            // not load at the start (its file fixed since).
            Reload::Changed { name, path, compiled: Ok(strategy) }
                if self.adopt_new_scripts || self.configured(&name).is_some() =>
            {
                self.adopt(name, &path, strategy, &mut effects)
            }
            Reload::Changed { name, .. } => {
                tracing::info!(strategy = %name, "script changed but the strategy is not configured; ignored");
                return;
            }
            Reload::Removed { name } => {
                match self.engine.retire_strategy(&name) {
                    Ok(()) => {
                        tracing::info!(strategy = %name, "script removed: the strategy stopped");
                        if let Some(status) =
                            self.view.write().unwrap_or_else(|p| p.into_inner()).strategies.get_mut(&name)
                        {
                            status.running = false;
                        }
                    }
                    Err(message) => tracing::warn!(strategy = %name, "{message}"),
                }
                return;
            }
        };
        let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(()) => {
                view.counters.reloads += 1;
                drop(view);
                let names: Vec<String> = effects
                    .iter()
                    .filter_map(|e| {
                        if let Effect::VersionCreated(r) = e { Some(r.strategy.to_string()) } else { None }
                    })
                    .collect();
                if let Err(error) = self.apply(effects) {
                    tracing::error!(error = %error.error, "cannot record a reload");
                    return;
                }
                let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
                for name in names {
                    let status = view.strategies.entry(name.clone()).or_default();
                    status.reload_error = None;
                    status.running = true;
                    tracing::info!(strategy = %name, version = status.version, "reloaded");
                }
            }
            Err((name, error)) => {
                view.counters.failed_reloads += 1;
                tracing::error!(strategy = %name, %error, "reload refused; the previous version stays live");
                view.strategies.entry(name).or_default().reload_error = Some(error.clone());
                drop(view);
                let at = self.engine.now().unwrap_or_else(wall_now);
                let _ = self.store.send(Command::InsertStrategyError { error, at });
            }
        }
    }

    /// A script or library that appeared in its folder joins the lineup: a
    /// strategy the store already knows (it ran before a restart, its
    /// script since removed and put back) resumes from its live version as
    /// a restart would ([`resume_strategy`]); a new one starts at version 1.
    /// The enabled `[[strategies]]` entry named `name`, if the
    /// configuration lists it.
    fn configured(&self, name: &str) -> Option<&StrategyConfig> {
        self.config.strategies.iter().find(|spec| spec.name == name && spec.enabled)
    }

    fn adopt(
        &mut self,
        name: String,
        path: &std::path::Path,
        strategy: Box<dyn Strategy>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), (String, StrategyError)> {
        let fail = |message: String| {
            (name.clone(), StrategyError::new(StrategyId::new(name.as_str()), path, message))
        };
        let now = self.engine.now().unwrap_or_else(wall_now);
        // Everything this run wrote is committed before the store is read.
        self.store.flush().map_err(|e| fail(format!("cannot read the store: {e}")))?;
        let reader = StoreReader::open(&self.db).map_err(|e| fail(format!("cannot read the store: {e}")))?;
        let known = reader.versions(&name).map_err(|e| fail(format!("cannot read the store: {e}")))?;
        // A configured strategy keeps its params; a script of the folder has none.
        let spec = self.configured(&name).cloned().unwrap_or_else(|| StrategyConfig {
            name: name.clone(),
            path: path.to_path_buf(),
            params: serde_json::json!({}),
            enabled: true,
        });
        let Resumed { member, record, problem, deploy } = if known.is_empty() {
            // New: the code the watcher compiled, initialised.
            let (member, record) =
                first_version(strategy, &spec.params, now).map_err(|e| (name.clone(), e))?;
            Resumed { member, record: Some(record), problem: None, deploy: None }
        } else {
            resume_strategy(&spec, self.limits, &reader, now).map_err(|e| (name.clone(), e))?
        };
        let script = path.display().to_string();
        let mut version = member.version;
        self.engine.add_strategy(member, record, effects);
        // Code changed since its live version ran: a deploy, on probation,
        // as a reload of a running strategy is.
        let mut problem = problem;
        if let Some(new) = deploy {
            match self.engine.deploy(new, now, effects) {
                Ok(deployed) => version = deployed,
                Err(refused) => problem = Some(refused),
            }
        }
        if let Some(problem) = problem {
            tracing::error!(error = %problem, "the script does not load; its live version from the store runs instead");
            self.view
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .strategies
                .entry(name.clone())
                .or_default()
                .reload_error = Some(problem);
        }
        let code_hash = self.engine.code_hash(&name).unwrap_or_default().to_owned();
        // The whole status at once: a reader never sees it running without its build.
        let plugin = self.engine.plugin_build(&name).cloned();
        let mut view = self.view.write().unwrap_or_else(|p| p.into_inner());
        let status = view.strategies.entry(name).or_default();
        status.script = script;
        status.running = true;
        status.version = version.0;
        status.code_hash = code_hash;
        status.plugin = plugin;
        Ok(())
    }

    fn history(&self, strategy: &str) -> Result<Vec<VersionRecord>, Refusal> {
        let reader = StoreReader::open(&self.db).map_err(|e| Refusal::internal(e.to_string()))?;
        let history = reader.versions(strategy).map_err(|e| Refusal::internal(e.to_string()))?;
        if history.is_empty() || !self.engine.runs(strategy) {
            return Err(Refusal::not_found(format!("no strategy {strategy:?} is running")));
        }
        Ok(history)
    }

    /// The code and state of `record` as a strategy ready to install.
    fn materialise(&self, record: &VersionRecord) -> Result<Box<dyn Strategy>, Refusal> {
        let reader = StoreReader::open(&self.db).map_err(|e| Refusal::internal(e.to_string()))?;
        let code = reader.code(&record.code_hash).map_err(|e| Refusal::internal(e.to_string()))?.ok_or_else(
            || {
                Refusal::conflict(format!(
                    "the code of {} v{} is not stored",
                    record.strategy, record.version.0
                ))
            },
        )?;
        let path = PathBuf::from(
            self.view
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .strategies
                .get(record.strategy.as_str())
                .map(|s| s.script.clone())
                .unwrap_or_default(),
        );
        let mut strategy = code
            .build(record.strategy.clone(), &path, self.limits)
            .map_err(|e| Refusal::conflict(e.to_string()))?;
        strategy.set_state(&record.state).map_err(|e| Refusal::conflict(e.to_string()))?;
        Ok(strategy)
    }

    fn rollback(&mut self, strategy: &str, version: VersionId) -> Result<VersionRecord, Refusal> {
        self.writable()?;
        let history = self.history(strategy)?;
        let now = self.engine.now().unwrap_or_else(wall_now);
        let record = versions::rollback(&history, version, now).map_err(Refusal::not_found)?;
        let installed = self.materialise(&record)?;
        let mut effects = Vec::new();
        self.engine
            .install_version(installed, record.clone(), &mut effects)
            .map_err(|e| Refusal::conflict(e.to_string()))?;
        if self.engine.champion().is_some_and(|c| self.engine.strategy_names()[c].as_str() == strategy) {
            effects.push(Effect::AliasMoved(AliasMove {
                alias: versions::CHAMPION.to_owned(),
                strategy: record.strategy.clone(),
                version: record.version,
                reason: "rollback".to_owned(),
                evidence: record.metrics.clone(),
                moved_at: now,
            }));
        }
        self.apply(effects)?;
        Ok(record)
    }

    fn promote(&mut self, strategy: &str, version: VersionId) -> Result<AliasMove, Refusal> {
        self.writable()?;
        let history = self.history(strategy)?;
        let now = self.engine.now().unwrap_or_else(wall_now);
        let (copy, alias) = versions::promote(&history, version, now).map_err(Refusal::not_found)?;
        let mut effects = Vec::new();
        if let Some(copy) = copy {
            let installed = self.materialise(&copy)?;
            self.engine
                .install_version(installed, copy, &mut effects)
                .map_err(|e| Refusal::conflict(e.to_string()))?;
        }
        self.engine.set_champion(alias.clone(), &mut effects).map_err(Refusal::conflict)?;
        self.apply(effects)?;
        Ok(alias)
    }

    /// Drains nothing more (the channel is closed to new work by now),
    /// checkpoints, commits and closes the store.
    fn shutdown(mut self) -> Result<(), String> {
        let now = self.engine.now().unwrap_or_else(wall_now);
        self.checkpoint(now);
        if let Some(broken) = &self.broken {
            return Err(format!("stopped while the store could not be written: {}", broken.error));
        }
        self.store.close().map(drop).map_err(|e| e.to_string())
    }
}

/// The first field in which `after` differs from `before`, named as the API
/// names it; `None` when they are the same signal.
fn difference(before: &Signal, after: &Signal) -> Option<&'static str> {
    let fields: [(&'static str, bool); 12] = [
        ("symbol", before.symbol == after.symbol),
        ("side", before.side == after.side),
        ("entry_ts", before.entry_ts == after.entry_ts),
        ("entry_price", before.entry_price == after.entry_price),
        ("take_profit", before.take_profit == after.take_profit),
        ("stop_loss", before.stop_loss == after.stop_loss),
        ("max_hold_minutes", before.max_hold_ms == after.max_hold_ms),
        ("confidence", before.confidence == after.confidence),
        ("pattern", before.pattern == after.pattern),
        ("regime", before.regime == after.regime),
        ("heads", before.heads == after.heads),
        ("indicators", before.indicators == after.indicators),
    ];
    fields.into_iter().find(|(_, same)| !same).map(|(field, _)| field)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::strategy::native::dev::{library_file, plugin};

    /// A daemon on a fresh store in `dir` whose one strategy is the
    /// `test_panic` plugin, checkpointing on every clock tick.
    fn daemon_with_test_panic(dir: &Path) -> (Core, Arc<RwLock<View>>) {
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::create_dir_all(dir.join("scripts")).unwrap();
        std::fs::copy(plugin("test_panic"), plugins.join(library_file("test_panic"))).unwrap();
        let mut config = Config::default();
        config.daemon.db = dir.join("s.db");
        config.daemon.scripts = dir.join("scripts");
        config.daemon.plugins = plugins;
        let given = config.clone();
        let (adopt, clashes) = super::super::strategies(&mut config).unwrap();
        let (mut core, view) =
            super::super::start_engine(&config, &clashes, given, &config.daemon.db, adopt).unwrap();
        core.checkpoint_every = Duration::ZERO;
        (core, view)
    }

    #[test]
    fn a_periodic_checkpoint_that_cannot_save_a_state_is_shown_as_the_strategys_error() {
        let dir = tempfile::tempdir().unwrap();
        let (core, view) = daemon_with_test_panic(dir.path());
        assert!(view.read().unwrap().strategies["test_panic"].last_error.is_none());
        let (requests, receiver) = mpsc::channel(8);
        let engine = std::thread::spawn(move || core.run(receiver));
        let mut signal = Signal::clone(&crate::strategy::fixture::signal());
        signal.symbol = Symbol::new("NOSNAPSHOT");
        let (reply, published) = oneshot::channel();
        requests.blocking_send(Request::Signals { signals: vec![signal], reply }).unwrap();
        assert_eq!(published.blocking_recv().unwrap().unwrap().len(), 1, "the signal is taken");
        assert_eq!(view.read().unwrap().strategies["test_panic"].errors, 0, "deciding it did not fail");
        requests.blocking_send(Request::Tick { now: Timestamp(1_514_764_800_000 + 60_000) }).unwrap();
        // Requests are served in order: once this one is answered, the tick
        // and its checkpoint are done.
        let (reply, open) = oneshot::channel();
        requests.blocking_send(Request::Active { symbol: None, reply }).unwrap();
        assert_eq!(open.blocking_recv().unwrap().len(), 1);
        {
            let view = view.read().unwrap();
            let status = &view.strategies["test_panic"];
            let error =
                status.last_error.as_ref().expect("the failed checkpoint is the strategy's last error");
            assert!(error.to_string().contains("snapshot was told to fail"), "{error}");
            assert_eq!(status.errors, 1);
        }
        drop(requests);
        engine.join().unwrap();
    }
}
