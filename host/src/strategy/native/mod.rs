//! Native strategies: a plugin library (see `siglearn_plugin_api::plugin`)
//! behind the engine's [`Strategy`] contract.
//!
//! Calls go straight through the plugin's vtable on the engine thread; a
//! signal crosses as a borrowed `#[repr(C)]` view. A hook that fails or
//! panics is reported like a script error (strategy, library, hook, signal)
//! and the host goes on. Native code cannot be interrupted, so the time
//! budget is checked when a call returns: a `decide` that ran past
//! `limits.hot_millis` counts as "no decision", and any hook past its budget
//! is reported.

mod clock;
pub mod dev;
mod library;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use siglearn_plugin_api::plugin::ffi::{DailyRef, HOOK_DAILY, HOOK_PARAMS, HOOK_RETRAIN};
use siglearn_plugin_api::{Outcome, Signal, SignalId, StrategyId};

pub use clock::stalled_calls;
pub use library::{Build, Library, loaded_libraries};
use library::{CallError, Instance, Make};

use super::script::Limits;
use super::{Code, DailySummary, HistoryItem, Hook, Strategy, StrategyError, Verdict};

/// The file name endings of a native library on the platforms siglearn runs on.
pub const LIBRARY_EXTENSIONS: [&str; 3] = ["so", "dylib", "dll"];

/// Whether `path` names a native library.
pub fn is_library(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| LIBRARY_EXTENSIONS.contains(&e))
}

/// The strategy name a library file gives when adopted from the plugins
/// folder: the file stem without the `lib` prefix (`libhead_weights_native.so`
/// is `head_weights_native`).
pub fn strategy_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    Some(stem.strip_prefix("lib").unwrap_or(stem).to_owned())
}

/// A strategy in a plugin library.
pub struct NativeStrategy {
    name: StrategyId,
    path: PathBuf,
    code: Code,
    code_hash: String,
    library: Arc<Library>,
    /// None until `init`, `set_state` or `migrate` made one.
    instance: Option<Instance>,
    limits: Limits,
    /// What is running now, for budgets and the stall watchdog.
    slot: Arc<clock::CallSlot>,
}

impl std::fmt::Debug for NativeStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeStrategy")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("build", self.library.build())
            .field("code_hash", &self.code_hash)
            .finish_non_exhaustive()
    }
}

impl NativeStrategy {
    /// Opens the library `bytes` read from `path`; the strategy has no state
    /// until [`Strategy::init`], [`Strategy::set_state`] or [`Strategy::migrate`].
    pub fn open(
        name: StrategyId,
        path: &Path,
        bytes: Arc<[u8]>,
        limits: Limits,
    ) -> Result<NativeStrategy, StrategyError> {
        let file_name = path.file_name().and_then(|f| f.to_str()).unwrap_or("plugin.so").to_owned();
        let fail = |message: String| StrategyError::new(name.clone(), path, message);
        let problems = limits.validate();
        if !problems.is_empty() {
            return Err(fail(problems.join("; ")));
        }
        let library = Library::open(&file_name, &bytes).map_err(|refusal| {
            let mut error = fail(format!("plugin refused: {}", refusal.message));
            error.0.transient = refusal.transient;
            error
        })?;
        let code_hash = super::script::code_hash(&bytes);
        let (hot_millis, job_millis) = limits.time_budget_millis();
        let slot = clock::CallSlot::new(name.as_str(), hot_millis, job_millis);
        Ok(NativeStrategy {
            name,
            path: path.to_path_buf(),
            code: Code::Library { file_name, bytes },
            code_hash,
            library,
            instance: None,
            limits,
            slot,
        })
    }

    /// The library this strategy's instance runs in.
    pub fn library(&self) -> &Arc<Library> {
        &self.library
    }

    fn error(&self, hook: Option<Hook>, signal: Option<&SignalId>, message: String) -> StrategyError {
        StrategyError::new(self.name.clone(), &self.path, message).during(hook, signal)
    }

    fn call_error(&self, hook: Hook, signal: Option<&SignalId>, error: CallError) -> StrategyError {
        let message = if error.panicked { format!("panicked: {}", error.message) } else { error.message };
        self.error(Some(hook), signal, message)
    }

    fn no_state(&self, hook: Option<Hook>, signal: Option<&SignalId>) -> StrategyError {
        self.error(hook, signal, "the strategy has no state yet (init was not run)".to_owned())
    }

    /// Runs `call` on the instance as `hook`, timed against its budget.
    #[inline]
    fn timed<T>(
        &mut self,
        hook: Hook,
        signal: Option<&SignalId>,
        call: impl FnOnce(&mut Instance) -> Result<T, CallError>,
    ) -> Result<T, StrategyError> {
        let Some(instance) = self.instance.as_mut() else {
            return Err(self.no_state(Some(hook), signal));
        };
        let ran = self.slot.run(hook, || call(instance));
        self.checked(hook, signal, ran)
    }

    /// A call's result as the strategy's: its error, or an error when it
    /// took longer than the budget of `hook`.
    #[inline]
    fn checked<T>(
        &self,
        hook: Hook,
        signal: Option<&SignalId>,
        (result, took_ms): (Result<T, CallError>, u64),
    ) -> Result<T, StrategyError> {
        let result = result.map_err(|e| self.call_error(hook, signal, e))?;
        let budget = self.slot.budget(hook);
        if took_ms <= budget {
            return Ok(result);
        }
        let (key, effect) = match hook {
            Hook::Decide => ("hot_millis", "its decision is discarded"),
            Hook::Learn => ("hot_millis", "what it learned stands"),
            _ => ("job_millis", "its result is discarded"),
        };
        Err(self.error(
            Some(hook),
            signal,
            format!("took {took_ms} ms, over its budget of {budget} ms (limits.{key}); {effect}"),
        ))
    }

    fn make(&mut self, hook: Hook, how: Make, json: &serde_json::Value) -> Result<(), StrategyError> {
        let bytes = serde_json::to_vec(json).map_err(|e| self.error(Some(hook), None, e.to_string()))?;
        let made = self.slot.run(hook, || Instance::make(&self.library, how, &bytes));
        self.instance = Some(self.checked(hook, None, made)?);
        Ok(())
    }

    fn parse(&self, hook: Option<Hook>, bytes: &[u8]) -> Result<serde_json::Value, StrategyError> {
        serde_json::from_slice(bytes)
            .map_err(|e| self.error(hook, None, format!("the plugin returned bad JSON: {e}")))
    }
}

impl Strategy for NativeStrategy {
    fn name(&self) -> &StrategyId {
        &self.name
    }

    fn code_hash(&self) -> &str {
        &self.code_hash
    }

    fn has(&self, hook: Hook) -> bool {
        match hook {
            Hook::Init | Hook::Decide | Hook::Learn | Hook::Migrate => true,
            Hook::Daily => self.library.has(HOOK_DAILY),
            Hook::Retrain => self.library.has(HOOK_RETRAIN),
            Hook::Params => self.library.has(HOOK_PARAMS),
        }
    }

    fn init(&mut self, params: &serde_json::Value) -> Result<(), StrategyError> {
        self.make(Hook::Init, Make::Init, params)
    }

    fn decide(&mut self, signal: &Arc<Signal>) -> Result<Verdict, StrategyError> {
        let verdict = self.timed(Hook::Decide, Some(&signal.id), |instance| instance.decide(signal))?;
        if !(verdict.score.is_finite() && verdict.size.is_finite() && verdict.size >= 0.0) {
            return Err(self.error(
                Some(Hook::Decide),
                Some(&signal.id),
                format!(
                    "decide returned score {} and size {}; both must be finite, size not negative",
                    verdict.score, verdict.size
                ),
            ));
        }
        Ok(Verdict { take: verdict.take, score: verdict.score, size: verdict.size })
    }

    fn learn(&mut self, signal: &Arc<Signal>, outcome: &Outcome) -> Result<(), StrategyError> {
        self.timed(Hook::Learn, Some(&signal.id), |instance| instance.learn(signal, outcome))
    }

    fn daily(&mut self, summary: &DailySummary) -> Result<(), StrategyError> {
        if !self.has(Hook::Daily) {
            return Ok(());
        }
        let view = DailyRef::new(
            &summary.date,
            summary.signals,
            summary.taken,
            summary.trades,
            summary.wins,
            summary.pnl_pct,
            summary.win_rate,
        );
        self.timed(Hook::Daily, None, |instance| instance.daily(&view))
    }

    fn retrain(&mut self, history: &[HistoryItem]) -> Result<Option<serde_json::Value>, StrategyError> {
        if !self.has(Hook::Retrain) {
            return Ok(None);
        }
        let items: Vec<(&Signal, &Outcome, bool)> =
            history.iter().map(|item| (&*item.trade.signal, &item.trade.outcome, item.taken)).collect();
        let bytes = self.timed(Hook::Retrain, None, |instance| instance.retrain(&items))?;
        self.parse(Some(Hook::Retrain), &bytes).map(Some)
    }

    fn params_space(&mut self) -> Result<Option<serde_json::Value>, StrategyError> {
        let space = self.library.params().map_err(|e| self.call_error(Hook::Params, None, e))?;
        space.map(|bytes| self.parse(Some(Hook::Params), &bytes)).transpose()
    }

    fn state(&self) -> Result<serde_json::Value, StrategyError> {
        let Some(instance) = &self.instance else {
            return Err(self.no_state(None, None));
        };
        let bytes = instance.snapshot().map_err(|e| {
            let message = if e.panicked { format!("snapshot panicked: {}", e.message) } else { e.message };
            self.error(None, None, message)
        })?;
        self.parse(None, &bytes)
    }

    fn set_state(&mut self, state: &serde_json::Value) -> Result<(), StrategyError> {
        let bytes = serde_json::to_vec(state).map_err(|e| self.error(None, None, e.to_string()))?;
        let instance = Instance::make(&self.library, Make::Restore, &bytes).map_err(|e| {
            let message = if e.panicked { format!("restore panicked: {}", e.message) } else { e.message };
            self.error(None, None, format!("cannot restore the state: {message}"))
        })?;
        self.instance = Some(instance);
        Ok(())
    }

    fn migrate(&mut self, old_state: &serde_json::Value) -> Result<(), StrategyError> {
        self.make(Hook::Migrate, Make::Migrate, old_state)
    }

    fn code(&self) -> Code {
        self.code.clone()
    }

    fn build(&self) -> Option<&Build> {
        Some(self.library.build())
    }

    fn fork(&self) -> Result<Box<dyn Strategy>, StrategyError> {
        let mut copy = NativeStrategy {
            name: self.name.clone(),
            path: self.path.clone(),
            code: self.code.clone(),
            code_hash: self.code_hash.clone(),
            library: Arc::clone(&self.library),
            instance: None,
            limits: self.limits,
            slot: {
                let (hot_millis, job_millis) = self.limits.time_budget_millis();
                clock::CallSlot::new(self.name.as_str(), hot_millis, job_millis)
            },
        };
        if self.instance.is_some() {
            copy.set_state(&self.state()?)?;
        }
        Ok(Box::new(copy))
    }
}

#[cfg(test)]
mod tests;
