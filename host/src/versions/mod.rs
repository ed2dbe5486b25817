//! Strategy versions and aliases (DESIGN section 7).
//!
//! Every state or code change that matters is a [`VersionRecord`]: the
//! strategy, its number, its parent, the code hash, params, the state as
//! JSON, why it was made, the metrics at that time and when. Versions are
//! append-only: a rollback is a new version that copies an old one, so the
//! newest version of a strategy is always the live one and the history never
//! changes. Aliases (`champion`) point at a strategy version; every move is
//! kept.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;
use siglearn_plugin_api::{StrategyId, Timestamp, VersionId};

/// Why a version was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionReason {
    /// First load of the strategy.
    Load,
    /// New code picked up while running, or a changed script on resume.
    Reload,
    /// State snapshot after the daily job.
    Daily,
    /// A retrained candidate deployed by the weekly job.
    Retrain,
    /// Snapshot when the strategy became champion.
    Promote,
    /// A copy of an earlier version made live again.
    Rollback,
    /// A snapshot asked for by a user.
    Manual,
}

impl VersionReason {
    pub const ALL: [VersionReason; 7] = [
        VersionReason::Load,
        VersionReason::Reload,
        VersionReason::Daily,
        VersionReason::Retrain,
        VersionReason::Promote,
        VersionReason::Rollback,
        VersionReason::Manual,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            VersionReason::Load => "load",
            VersionReason::Reload => "reload",
            VersionReason::Daily => "daily",
            VersionReason::Retrain => "retrain",
            VersionReason::Promote => "promote",
            VersionReason::Rollback => "rollback",
            VersionReason::Manual => "manual",
        }
    }
}

impl fmt::Display for VersionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VersionReason {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        VersionReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a version reason"))
    }
}

/// One version of a strategy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionRecord {
    pub strategy: StrategyId,
    pub version: VersionId,
    pub parent: Option<VersionId>,
    pub code_hash: String,
    /// The script source, stored once per hash so a rollback can restore code.
    #[serde(skip)]
    pub source: Option<Arc<str>>,
    pub params: serde_json::Value,
    pub state: serde_json::Value,
    pub reason: VersionReason,
    pub metrics: serde_json::Value,
    /// Engine time (event time in a replay).
    pub created_at: Timestamp,
}

/// The alias that names the strategy whose decisions are published.
pub const CHAMPION: &str = "champion";

/// A move of an alias to a strategy version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AliasMove {
    pub alias: String,
    pub strategy: StrategyId,
    pub version: VersionId,
    /// Why it moved: `config`, `promote`, `manual`, ...
    pub reason: String,
    /// The evidence behind the move (test figures), if any.
    pub evidence: serde_json::Value,
    pub moved_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_text() {
        for reason in VersionReason::ALL {
            assert_eq!(reason.as_str().parse::<VersionReason>(), Ok(reason));
        }
        assert!("upgrade".parse::<VersionReason>().is_err());
    }
}
