//! Domain types shared by the siglearn host and native strategy plugins.
//!
//! Everything that crosses a boundary of siglearn is one of these types: a
//! [`Signal`] from an upstream generator, a [`PriceUpdate`] (bar or tick), the
//! [`Outcome`] the monitor decides for a signal, and a strategy's
//! [`Decision`]. Identifiers are newtypes so a signal id can never be passed
//! where a strategy id is expected. Time is a [`Timestamp`] in milliseconds
//! since the Unix epoch, UTC; parsing and formatting text lives in the host.

mod decision;
mod ids;
mod outcome;
pub mod plugin;
mod price;
mod signal;
mod time;
mod values;

pub use decision::Decision;
pub use ids::{ForbiddenChar, SignalId, StrategyId, Symbol, VersionId, printable};
pub use outcome::{Outcome, OutcomeKind, ParseOutcomeKindError};
pub use price::{Bar, Price, PriceError, PriceUpdate, Tick};
pub use signal::{
    MAX_ID_BYTES, MAX_NAME_BYTES, MAX_VALUES, ParseSideError, Side, Signal, SignalError, check_name,
};
pub use time::{MILLIS_PER_DAY, MILLIS_PER_MINUTE, Timestamp};
pub use values::{Names, Values};

/// The JSON library of plugin states and params, re-exported so that a
/// plugin uses the same version as the host.
pub use serde_json;
