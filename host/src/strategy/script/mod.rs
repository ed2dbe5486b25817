//! Rhai strategies: a script compiled once, its hooks found on the AST, and
//! its state kept as a Rhai map bound to `this` in every call.
//!
//! Each strategy has its own hardened engine ([`engine`]) so that one
//! script's budget never counts against another's. Calls skip the script's
//! top-level statements (`eval_ast = false`): a script's top level is for
//! constants and functions, and runs once at compile time checks only.

mod convert;
pub mod engine;
mod helpers;
mod learning;
mod recursion;
mod types;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, FuncArgs, Map, Scope};
use sha2::{Digest, Sha256};
use siglearn_plugin_api::{Outcome, Signal, SignalId, StrategyId};

use super::{Code, DailySummary, HistoryItem, Hook, Strategy, StrategyError, StrategyFailure, Verdict};
pub use engine::Limits;
use engine::{Budget, CallBudget, Exceeded};
use types::{ScriptOutcome, ScriptSignal};

/// A strategy written in Rhai.
pub struct ScriptStrategy {
    name: StrategyId,
    path: PathBuf,
    source: Arc<str>,
    code_hash: String,
    engine: Engine,
    ast: AST,
    hooks: BTreeSet<Hook>,
    state: Dynamic,
    scope: Scope<'static>,
    budget: Arc<CallBudget>,
    limits: Limits,
}

impl std::fmt::Debug for ScriptStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptStrategy")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("code_hash", &self.code_hash)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

/// The hex SHA-256 of a script or library.
pub fn code_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

impl ScriptStrategy {
    /// Reads and compiles the script at `path`.
    pub fn from_file(name: StrategyId, path: &Path, limits: Limits) -> Result<Self, StrategyError> {
        match super::Code::read(&name, path)? {
            super::Code::Script(source) => Self::compile(name, path, &source, limits),
            super::Code::Library { .. } => Err(StrategyError::new(
                name,
                path,
                "a plugin library is not a script; open it with strategy::open",
            )),
        }
    }

    /// Compiles `source` (which came from `path`) and checks its hooks; the
    /// state starts as an empty map until [`ScriptStrategy::init`].
    pub fn compile(
        name: StrategyId,
        path: &Path,
        source: &str,
        limits: Limits,
    ) -> Result<Self, StrategyError> {
        let fail = |line, position, message: String| {
            StrategyError::from(StrategyFailure {
                strategy: name.clone(),
                source_path: path.to_path_buf(),
                hook: None,
                line,
                position,
                signal_id: None,
                message,
                transient: false,
            })
        };
        let problems = limits.validate();
        if !problems.is_empty() {
            return Err(fail(None, None, problems.join("; ")));
        }
        let (engine, budget) = engine::build(&limits, name.as_str());
        let ast = engine.compile(source).map_err(|error| {
            let position = error.position();
            fail(position.line(), position.position(), error.err_type().to_string())
        })?;
        let mut hooks = BTreeSet::new();
        let mut problems = Vec::new();
        for function in ast.iter_functions() {
            let Some(hook) = Hook::ALL.into_iter().find(|hook| hook.name() == function.name) else {
                continue;
            };
            if function.params.len() == hook.arity() {
                hooks.insert(hook);
            } else {
                problems.push(format!(
                    "{} takes {} parameter(s) but the hook is {}",
                    hook.name(),
                    function.params.len(),
                    hook.signature()
                ));
            }
        }
        if !hooks.contains(&Hook::Decide) && problems.is_empty() {
            problems.push("no decide(signal) function: every strategy needs one".to_owned());
        }
        if !problems.is_empty() {
            return Err(fail(None, None, problems.join("; ")));
        }
        Ok(ScriptStrategy {
            name,
            path: path.to_path_buf(),
            source: Arc::from(source),
            code_hash: code_hash(source.as_bytes()),
            engine,
            ast,
            hooks,
            state: Dynamic::from_map(Map::new()),
            scope: Scope::new(),
            budget,
            limits,
        })
    }

    /// The script's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The script's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The hooks the script defines, in contract order.
    pub fn hooks(&self) -> impl Iterator<Item = Hook> + '_ {
        self.hooks.iter().copied()
    }

    /// Builds a fresh state: `init(params)` with `this` bound to an empty
    /// map; its result (when a map) or `this` becomes the state. Without an
    /// `init` hook the state is an empty map.
    pub fn init(&mut self, params: &serde_json::Value) -> Result<(), StrategyError> {
        self.state = Dynamic::from_map(Map::new());
        if !self.hooks.contains(&Hook::Init) {
            return Ok(());
        }
        let params =
            rhai::serde::to_dynamic(params).map_err(|e| self.error(Some(Hook::Init), None, e.to_string()))?;
        let result = self.call(Hook::Init, Budget::Job, None, (params,))?;
        if result.is_map() {
            self.state = result;
        }
        self.check_state(Hook::Init)
    }

    /// Carries `old_state` over to this code: `migrate(old_state)` when the
    /// script has it, otherwise the old state unchanged.
    pub fn migrate(&mut self, old_state: &serde_json::Value) -> Result<(), StrategyError> {
        let old = convert::json_to_state(old_state).map_err(|m| self.error(Some(Hook::Migrate), None, m))?;
        if !self.hooks.contains(&Hook::Migrate) {
            self.state = old;
            return Ok(());
        }
        self.state = Dynamic::from_map(Map::new());
        let result = self.call(Hook::Migrate, Budget::Job, None, (old,))?;
        if result.is_map() {
            self.state = result;
        }
        self.check_state(Hook::Migrate)
    }

    /// Runs a per-signal hook (`decide`, `learn`) that may change `this`,
    /// all or nothing: when it fails, or leaves a state that is not JSON
    /// (NaN from 0.0/0.0, a timestamp kept in `this`, nesting past
    /// [`convert::MAX_STATE_DEPTH`]), the state goes back to what it was
    /// before the call and the failure says so. A state can therefore
    /// always be checkpointed, and learning is never lost silently at a
    /// checkpoint or a restart.
    fn guarded(
        &mut self,
        hook: Hook,
        signal: Option<&SignalId>,
        run: impl FnOnce(&mut Self) -> Result<Dynamic, StrategyError>,
    ) -> Result<Dynamic, StrategyError> {
        let before = self.state.clone();
        let result = run(self).and_then(|result| match convert::check_state(&self.state) {
            Ok(()) => Ok(result),
            Err(message) => Err(self.error(
                Some(hook),
                signal,
                format!("{message}; the change was refused: the state is as it was before this call"),
            )),
        });
        if result.is_err() {
            self.state = before;
        }
        result
    }

    fn check_state(&self, hook: Hook) -> Result<(), StrategyError> {
        convert::state_to_json(&self.state).map(drop).map_err(|m| self.error(Some(hook), None, m))
    }

    /// Calls a hook under a budget with `this` bound to the live state.
    fn call(
        &mut self,
        hook: Hook,
        budget: Budget,
        signal: Option<&SignalId>,
        args: impl FuncArgs,
    ) -> Result<Dynamic, StrategyError> {
        self.budget.arm(&self.limits, budget);
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true).bind_this_ptr(&mut self.state);
        let result = self.engine.call_fn_with_options::<Dynamic>(
            options,
            &mut self.scope,
            &self.ast,
            hook.name(),
            args,
        );
        let dropped = self.budget.prints_dropped();
        if dropped > 0 {
            tracing::info!(
                strategy = %self.name,
                %hook,
                "{dropped} more printed line(s) of this call dropped (limits.print_lines = {})",
                self.limits.print_lines
            );
        }
        result.map_err(|error| self.script_error(hook, budget, signal, &error))
    }

    fn script_error(
        &self,
        hook: Hook,
        budget: Budget,
        signal: Option<&SignalId>,
        error: &EvalAltResult,
    ) -> StrategyError {
        let inner = error.unwrap_inner();
        let mut position = if inner.position().is_none() { error.position() } else { inner.position() };
        if position.is_none() && matches!(inner, EvalAltResult::ErrorStackOverflow(_)) {
            position = recursion::recursive_call(&self.ast, hook.name()).unwrap_or(position);
        }
        let message = match inner {
            // A budget ran out: the progress callback's (or, for a job
            // hook at Rhai's own cap, Rhai's) stop says the same thing.
            EvalAltResult::ErrorTooManyOperations(_) => {
                self.limits.exceeded(Exceeded::Operations, budget, hook)
            }
            EvalAltResult::ErrorTerminated(reason, _) => match reason.clone().try_cast::<Exceeded>() {
                Some(exceeded) => self.limits.exceeded(exceeded, budget, hook),
                None => reason.to_string(),
            },
            other => {
                let mut text = other.to_string();
                // Rhai appends the position; it is reported separately.
                if let Some(cut) = text.rfind(" (line ") {
                    text.truncate(cut);
                }
                text
            }
        };
        StrategyFailure {
            strategy: self.name.clone(),
            source_path: self.path.clone(),
            hook: Some(hook),
            line: position.line(),
            position: position.position(),
            signal_id: signal.cloned(),
            message,
            transient: false,
        }
        .into()
    }

    fn error(&self, hook: Option<Hook>, signal: Option<&SignalId>, message: String) -> StrategyError {
        StrategyError::new(self.name.clone(), &self.path, message).during(hook, signal)
    }
}

impl Strategy for ScriptStrategy {
    fn name(&self) -> &StrategyId {
        &self.name
    }

    fn code_hash(&self) -> &str {
        &self.code_hash
    }

    fn has(&self, hook: Hook) -> bool {
        self.hooks.contains(&hook)
    }

    fn init(&mut self, params: &serde_json::Value) -> Result<(), StrategyError> {
        ScriptStrategy::init(self, params)
    }

    fn decide(&mut self, signal: &Arc<Signal>) -> Result<Verdict, StrategyError> {
        let result = self.guarded(Hook::Decide, Some(&signal.id), |me| {
            me.call(Hook::Decide, Budget::Hot, Some(&signal.id), (ScriptSignal(Arc::clone(signal)),))
        })?;
        convert::verdict(&result).map_err(|m| self.error(Some(Hook::Decide), Some(&signal.id), m))
    }

    fn learn(&mut self, signal: &Arc<Signal>, outcome: &Outcome) -> Result<(), StrategyError> {
        if !self.hooks.contains(&Hook::Learn) {
            return Ok(());
        }
        let args = (ScriptSignal(Arc::clone(signal)), ScriptOutcome(Arc::new(outcome.clone())));
        self.guarded(Hook::Learn, Some(&signal.id), |me| {
            me.call(Hook::Learn, Budget::Hot, Some(&signal.id), args)
        })
        .map(drop)
    }

    fn daily(&mut self, summary: &DailySummary) -> Result<(), StrategyError> {
        if !self.hooks.contains(&Hook::Daily) {
            return Ok(());
        }
        let summary = rhai::serde::to_dynamic(summary)
            .map_err(|e| self.error(Some(Hook::Daily), None, e.to_string()))?;
        self.call(Hook::Daily, Budget::Job, None, (summary,)).map(drop)?;
        self.check_state(Hook::Daily)
    }

    fn retrain(&mut self, history: &[HistoryItem]) -> Result<Option<serde_json::Value>, StrategyError> {
        if !self.hooks.contains(&Hook::Retrain) {
            return Ok(None);
        }
        let items: rhai::Array = history
            .iter()
            .map(|item| {
                let mut record = Map::new();
                record.insert("signal".into(), Dynamic::from(ScriptSignal(Arc::clone(&item.trade.signal))));
                record.insert(
                    "outcome".into(),
                    Dynamic::from(ScriptOutcome(Arc::new(item.trade.outcome.clone()))),
                );
                record.insert("taken".into(), Dynamic::from_bool(item.taken));
                Dynamic::from_map(record)
            })
            .collect();
        // The candidate is trained on a copy; the live state stays as it is.
        let live = std::mem::replace(&mut self.state, Dynamic::UNIT);
        self.state = live.clone();
        let result = self.call(Hook::Retrain, Budget::Job, None, (Dynamic::from_array(items),));
        let trained = std::mem::replace(&mut self.state, live);
        // A returned map is the candidate; otherwise the trained copy of `this` is.
        let result = result?;
        let candidate = if result.is_map() { result } else { trained };
        convert::state_to_json(&candidate).map(Some).map_err(|m| self.error(Some(Hook::Retrain), None, m))
    }

    fn params_space(&mut self) -> Result<Option<serde_json::Value>, StrategyError> {
        if !self.hooks.contains(&Hook::Params) {
            return Ok(None);
        }
        let result = self.call(Hook::Params, Budget::Job, None, ())?;
        rhai::serde::from_dynamic::<serde_json::Value>(&result).map(Some).map_err(|e| {
            self.error(Some(Hook::Params), None, format!("params() must return JSON-like data: {e}"))
        })
    }

    fn state(&self) -> Result<serde_json::Value, StrategyError> {
        convert::state_to_json(&self.state).map_err(|m| self.error(None, None, m))
    }

    fn set_state(&mut self, state: &serde_json::Value) -> Result<(), StrategyError> {
        self.state = convert::json_to_state(state).map_err(|m| self.error(None, None, m))?;
        Ok(())
    }

    fn migrate(&mut self, old_state: &serde_json::Value) -> Result<(), StrategyError> {
        ScriptStrategy::migrate(self, old_state)
    }

    fn code(&self) -> Code {
        Code::Script(Arc::clone(&self.source))
    }

    fn fork(&self) -> Result<Box<dyn Strategy>, StrategyError> {
        let mut copy = ScriptStrategy::compile(self.name.clone(), &self.path, &self.source, self.limits)?;
        copy.hooks.clone_from(&self.hooks);
        copy.state = self.state.clone();
        Ok(Box::new(copy))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod shipped;
