//! Native strategy plugins: the safe [`Strategy`] trait a plugin author
//! implements, and [`export_strategy!`](crate::export_strategy), which turns
//! it into a library the siglearn host loads.
//!
//! The contract is the one Rhai scripts follow (DESIGN section 5): `init`
//! builds the state from params, `decide` runs on every signal, `learn` on
//! every outcome (taken or not), `daily` and `retrain` on the schedule,
//! `migrate` when new code takes over a running strategy. The state must
//! round-trip through JSON (`snapshot` / `restore`), because the host
//! persists, versions and rolls it back.
//!
//! ```
//! use siglearn_plugin_api::export_strategy;
//! use siglearn_plugin_api::plugin::{Error, OutcomeRef, SignalRef, Strategy, Verdict};
//! use siglearn_plugin_api::serde_json::{Value, json};
//!
//! /// Takes a signal when its confidence clears a threshold that rises
//! /// after losses and falls after wins.
//! struct Confident {
//!     threshold: f64,
//! }
//!
//! impl Strategy for Confident {
//!     fn init(params: &Value) -> Result<Self, Error> {
//!         Ok(Confident { threshold: params["threshold"].as_f64().unwrap_or(0.5) })
//!     }
//!
//!     fn decide(&mut self, signal: &SignalRef<'_>) -> Result<Verdict, Error> {
//!         let confidence = signal.confidence().unwrap_or(0.0);
//!         Ok(Verdict::new(confidence > self.threshold, confidence))
//!     }
//!
//!     fn learn(&mut self, _signal: &SignalRef<'_>, outcome: &OutcomeRef<'_>) -> Result<(), Error> {
//!         self.threshold += if outcome.is_win() { -0.01 } else { 0.01 };
//!         Ok(())
//!     }
//!
//!     fn snapshot(&self) -> Result<Value, Error> {
//!         Ok(json!({ "threshold": self.threshold }))
//!     }
//!
//!     fn restore(state: &Value) -> Result<Self, Error> {
//!         let threshold = state["threshold"].as_f64().ok_or("the state has no threshold")?;
//!         Ok(Confident { threshold })
//!     }
//! }
//!
//! export_strategy!(Confident);
//! ```
//!
//! Build it as a `cdylib` with the default `panic = "unwind"` (the host
//! refuses a plugin built to abort on panic). The host passes signals and
//! outcomes as borrowed `#[repr(C)]` views ([`SignalRef`], [`OutcomeRef`]):
//! read what you need during the call, and copy what you keep.

pub mod ffi;

pub use ffi::{DailyRef, HistoryRef, OutcomeRef, SignalRef, ValuesRef};

/// Why a hook failed; the host reports the message with the strategy, the
/// hook and the signal, and records "no decision" for a failed `decide`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error(message.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error(message.to_owned())
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error(error.to_string())
    }
}

/// A strategy's verdict on one signal.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub take: bool,
    /// The strategy's own score for the signal (ranking and analysis).
    pub score: f64,
    /// Position size in units of the fixed stake.
    pub size: f64,
}

impl Verdict {
    /// Take or skip, with a score and a size of 1.
    pub fn new(take: bool, score: f64) -> Self {
        Verdict { take, score, size: 1.0 }
    }
}

/// A learning strategy in native code. Only `init`, `decide`, `snapshot`
/// and `restore` are required; the optional hooks say so with the `DAILY`,
/// `RETRAIN` and `PARAMS` constants.
pub trait Strategy: Send + Sized + 'static {
    /// Whether [`Strategy::daily`] does anything (the host skips it otherwise).
    const DAILY: bool = false;
    /// Whether [`Strategy::retrain`] is implemented.
    const RETRAIN: bool = false;
    /// Whether [`Strategy::params`] returns a parameter space.
    const PARAMS: bool = false;

    /// A fresh strategy from the `params` table of the configuration.
    fn init(params: &serde_json::Value) -> Result<Self, Error>;

    /// The decision on a new signal.
    fn decide(&mut self, signal: &SignalRef<'_>) -> Result<Verdict, Error>;

    /// Learns from the outcome of a signal, taken or not.
    fn learn(&mut self, signal: &SignalRef<'_>, outcome: &OutcomeRef<'_>) -> Result<(), Error> {
        let _ = (signal, outcome);
        Ok(())
    }

    /// The daily update (set `DAILY = true`).
    fn daily(&mut self, summary: &DailyRef<'_>) -> Result<(), Error> {
        let _ = summary;
        Ok(())
    }

    /// A candidate trained on `history`, leaving `self` alone (set
    /// `RETRAIN = true`).
    fn retrain(&self, history: &[HistoryRef<'_>]) -> Result<Self, Error> {
        let _ = history;
        Err(Error::new("this strategy has no retrain hook"))
    }

    /// The search space of the parameters (set `PARAMS = true`).
    fn params() -> Option<serde_json::Value> {
        None
    }

    /// The state as JSON; `restore(snapshot())` must give the same strategy.
    fn snapshot(&self) -> Result<serde_json::Value, Error>;

    /// A strategy holding a state that `snapshot` made.
    fn restore(state: &serde_json::Value) -> Result<Self, Error>;

    /// Takes over the state of another build of this strategy after a hot
    /// reload; by default the state as it is.
    fn migrate(old_state: &serde_json::Value) -> Result<Self, Error> {
        Self::restore(old_state)
    }
}

/// Exports a [`Strategy`] type as the library's entry point. Use it once,
/// in a crate built as a `cdylib`.
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty) => {
        /// The entry point the siglearn host looks up.
        #[unsafe(no_mangle)]
        pub extern "C" fn siglearn_strategy_entry() -> *const $crate::plugin::ffi::VTable {
            static VTABLE: $crate::plugin::ffi::VTable =
                $crate::plugin::ffi::VTable::of::<$strategy>(stringify!($strategy));
            &VTABLE
        }
    };
}
