//! Learning strategies: the contract the engine calls, and the Rhai runtime.
//!
//! A strategy decides on every signal, learns from every outcome (taken or
//! not), and may run a daily update, a weekly retraining and a state
//! migration; only `decide` is required (DESIGN section 5). Its state is a
//! JSON object the host persists and versions. The engine talks to every
//! strategy through [`Strategy`]; [`script`] implements it for Rhai scripts
//! and [`native`] for plugin libraries. [`open`] picks by the file's ending.
//! A failing hook is an error value, never a panic: the engine records it and
//! treats the signal as "no decision" for that strategy.

pub mod fixture;
mod load;
pub mod native;
pub mod script;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use siglearn_plugin_api::{Outcome, Signal, SignalId, StrategyId};

pub use load::{
    Clash, Lineup, Resumed, first_version, load_lineup, resume_lineup, resume_strategy, start_lineup,
};

use crate::trade::Trade;

/// What a strategy decided on one signal.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub take: bool,
    /// The strategy's own score for the signal (for ranking and analysis).
    pub score: f64,
    /// Position size in units of the fixed stake; returns are `size * pnl`.
    pub size: f64,
}

/// The hooks of the strategy contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    Init,
    Decide,
    Learn,
    Daily,
    Retrain,
    Params,
    Migrate,
}

impl Hook {
    /// Every hook, in the order of the contract.
    pub const ALL: [Hook; 7] =
        [Hook::Init, Hook::Decide, Hook::Learn, Hook::Daily, Hook::Retrain, Hook::Params, Hook::Migrate];

    /// The function name in a script.
    pub const fn name(self) -> &'static str {
        match self {
            Hook::Init => "init",
            Hook::Decide => "decide",
            Hook::Learn => "learn",
            Hook::Daily => "daily",
            Hook::Retrain => "retrain",
            Hook::Params => "params",
            Hook::Migrate => "migrate",
        }
    }

    /// How many arguments the hook takes.
    pub const fn arity(self) -> usize {
        match self {
            Hook::Params => 0,
            Hook::Learn => 2,
            Hook::Init | Hook::Decide | Hook::Daily | Hook::Retrain | Hook::Migrate => 1,
        }
    }

    /// The signature as a script author writes it.
    pub const fn signature(self) -> &'static str {
        match self {
            Hook::Init => "init(params)",
            Hook::Decide => "decide(signal)",
            Hook::Learn => "learn(signal, outcome)",
            Hook::Daily => "daily(summary)",
            Hook::Retrain => "retrain(history)",
            Hook::Params => "params()",
            Hook::Migrate => "migrate(old_state)",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the daily job tells a strategy about the day that ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DailySummary {
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// Signals seen that day.
    pub signals: u64,
    /// Signals this strategy took that day.
    pub taken: u64,
    /// Trades of this strategy that closed that day.
    pub trades: u64,
    pub wins: u64,
    /// Sum of returns of those trades, percent of the fixed stake.
    pub pnl_pct: f64,
    /// `wins / trades`, 0 without trades.
    pub win_rate: f64,
}

/// One closed signal of the training window, for `retrain`.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryItem {
    pub trade: Trade,
    /// Whether this strategy took the signal.
    pub taken: bool,
}

/// A hook that failed, with everything needed to find the cause. Boxed so
/// that results stay small on the hot path.
#[derive(Clone, Debug, PartialEq, Serialize, thiserror::Error)]
#[serde(transparent)]
#[error("{0}")]
pub struct StrategyError(pub Box<StrategyFailure>);

impl std::ops::Deref for StrategyError {
    type Target = StrategyFailure;

    fn deref(&self) -> &StrategyFailure {
        &self.0
    }
}

impl StrategyError {
    /// A failure of `strategy`, whose code is at `source_path`, outside any
    /// hook and signal.
    pub fn new(strategy: StrategyId, source_path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        StrategyFailure {
            strategy,
            source_path: source_path.into(),
            hook: None,
            line: None,
            position: None,
            signal_id: None,
            message: message.into(),
            transient: false,
        }
        .into()
    }

    /// The same failure, in `hook` on `signal`.
    pub fn during(mut self, hook: Option<Hook>, signal: Option<&SignalId>) -> Self {
        self.0.hook = hook;
        self.0.signal_id = signal.cloned();
        self
    }
}

impl From<StrategyFailure> for StrategyError {
    fn from(failure: StrategyFailure) -> Self {
        StrategyError(Box::new(failure))
    }
}

/// Where and why a strategy failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategyFailure {
    pub strategy: StrategyId,
    /// The script or library file.
    pub source_path: PathBuf,
    pub hook: Option<Hook>,
    pub line: Option<usize>,
    pub position: Option<usize>,
    pub signal_id: Option<SignalId>,
    pub message: String,
    /// The code could not be read for a passing reason of the system (out
    /// of file descriptors, interrupted): reading it again later may work.
    #[serde(skip)]
    pub transient: bool,
}

impl fmt::Display for StrategyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "strategy {} ({}", self.strategy, self.source_path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(position) = self.position {
                write!(f, ":{position}")?;
            }
        }
        write!(f, ")")?;
        if let Some(hook) = self.hook {
            write!(f, " in {hook}")?;
        }
        if let Some(signal) = &self.signal_id {
            write!(f, " on signal {signal}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The code of a strategy version, stored once per hash so that a rollback
/// can restore it.
#[derive(Clone, PartialEq)]
pub enum Code {
    /// A Rhai script's source.
    Script(Arc<str>),
    /// A plugin library's file name and bytes.
    Library { file_name: String, bytes: Arc<[u8]> },
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Script(source) => write!(f, "Script({} bytes)", source.len()),
            Code::Library { file_name, bytes } => write!(f, "Library({file_name}, {} bytes)", bytes.len()),
        }
    }
}

impl Code {
    /// Reads the code at `path`: a native library when the file ends in
    /// `.so`, `.dylib` or `.dll`, a Rhai script otherwise. Read through
    /// [`crate::user_file::read`]: a FIFO, a device or an oversized file
    /// is refused, never waited on or read without end; a failure that may
    /// pass (out of file descriptors) is marked [`StrategyFailure::transient`].
    pub fn read(name: &StrategyId, path: &Path) -> Result<Code, StrategyError> {
        use crate::user_file::{self, Kind, ReadError};
        let fail = |error: ReadError| {
            let mut failure = StrategyError::new(
                name.clone(),
                path,
                format!("cannot read the {}: {}", error.kind, error.problem),
            );
            failure.0.transient = error.is_transient();
            failure
        };
        if native::is_library(path) {
            let bytes = user_file::read(path, Kind::Library).map_err(fail)?;
            let file_name = path.file_name().and_then(|f| f.to_str()).unwrap_or("plugin").to_owned();
            Ok(Code::Library { file_name, bytes: Arc::from(bytes) })
        } else {
            user_file::read_text(path, Kind::Script)
                .map(|source| Code::Script(Arc::from(source)))
                .map_err(fail)
        }
    }

    /// The hex SHA-256 of the source or library bytes.
    pub fn hash(&self) -> String {
        match self {
            Code::Script(source) => script::code_hash(source.as_bytes()),
            Code::Library { bytes, .. } => script::code_hash(bytes),
        }
    }

    /// Compiles the script or opens the library; the strategy has no state
    /// until `init`, `set_state` or `migrate`.
    pub fn build(
        &self,
        name: StrategyId,
        path: &Path,
        limits: script::Limits,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        Ok(match self {
            Code::Script(source) => Box::new(script::ScriptStrategy::compile(name, path, source, limits)?),
            Code::Library { bytes, .. } => {
                Box::new(native::NativeStrategy::open(name, path, Arc::clone(bytes), limits)?)
            }
        })
    }
}

/// Reads and builds the strategy at `path` (see [`Code::read`]).
pub fn open(
    name: StrategyId,
    path: &Path,
    limits: script::Limits,
) -> Result<Box<dyn Strategy>, StrategyError> {
    Code::read(&name, path)?.build(name, path, limits)
}

/// A learning strategy as the engine sees it.
pub trait Strategy: Send + fmt::Debug {
    fn name(&self) -> &StrategyId;

    /// A hash of the code (script source or library file), hex.
    fn code_hash(&self) -> &str;

    /// Which optional hooks the strategy has.
    fn has(&self, hook: Hook) -> bool;

    /// Builds a fresh state from `params` (`init(params)`).
    fn init(&mut self, params: &serde_json::Value) -> Result<(), StrategyError>;

    /// The decision on a new signal.
    fn decide(&mut self, signal: &Arc<Signal>) -> Result<Verdict, StrategyError>;

    /// Learns from the outcome of a signal, taken or not.
    fn learn(&mut self, signal: &Arc<Signal>, outcome: &Outcome) -> Result<(), StrategyError>;

    /// The daily update.
    fn daily(&mut self, summary: &DailySummary) -> Result<(), StrategyError>;

    /// A candidate state trained on `history`, leaving the live state alone;
    /// `None` when the strategy has no `retrain` hook.
    fn retrain(&mut self, history: &[HistoryItem]) -> Result<Option<serde_json::Value>, StrategyError>;

    /// The search space of the strategy's parameters (`params()`), if any.
    fn params_space(&mut self) -> Result<Option<serde_json::Value>, StrategyError>;

    /// The state as JSON.
    fn state(&self) -> Result<serde_json::Value, StrategyError>;

    /// Replaces the state.
    fn set_state(&mut self, state: &serde_json::Value) -> Result<(), StrategyError>;

    /// Takes over the state of the previous code of this strategy
    /// (`migrate(old_state)`, or the old state as it is).
    fn migrate(&mut self, old_state: &serde_json::Value) -> Result<(), StrategyError>;

    /// The code, for the version history.
    fn code(&self) -> Code;

    /// What a plugin says about its build (scripts have none).
    fn build(&self) -> Option<&native::Build> {
        None
    }

    /// An independent copy with the same code and state (a shadow on
    /// probation runs one).
    fn fork(&self) -> Result<Box<dyn Strategy>, StrategyError>;
}
