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

use serde::Serialize;

use crate::strategy::Code;
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
    /// The script or library, stored once per hash so a rollback can restore code.
    #[serde(skip)]
    pub code: Option<Code>,
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

/// The version that makes `to` live again: a copy of it, numbered after the
/// newest of `history` (the strategy's versions, oldest first).
pub fn rollback(history: &[VersionRecord], to: VersionId, at: Timestamp) -> Result<VersionRecord, String> {
    let latest = history.last().ok_or("the strategy has no versions")?;
    let target = history.iter().find(|v| v.version == to).ok_or_else(|| {
        format!("{} has no version {}; it has v1..v{}", latest.strategy, to.0, latest.version.0)
    })?;
    Ok(VersionRecord {
        strategy: target.strategy.clone(),
        version: VersionId(latest.version.0 + 1),
        parent: Some(target.version),
        code_hash: target.code_hash.clone(),
        code: None,
        params: target.params.clone(),
        state: target.state.clone(),
        reason: VersionReason::Rollback,
        metrics: serde_json::json!({ "rolled_back_to": target.version.0, "from": latest.version.0 }),
        created_at: at,
    })
}

/// Makes version `to` of the strategy with `history` the champion: when it
/// is not the live version, a copy of it becomes the live one first.
pub fn promote(
    history: &[VersionRecord],
    to: VersionId,
    at: Timestamp,
) -> Result<(Option<VersionRecord>, AliasMove), String> {
    let latest = history.last().ok_or("the strategy has no versions")?;
    let copy = if to == latest.version {
        None
    } else {
        let mut copy = rollback(history, to, at)?;
        copy.reason = VersionReason::Promote;
        Some(copy)
    };
    let live = copy.as_ref().map_or(latest.version, |c| c.version);
    let alias = AliasMove {
        alias: CHAMPION.to_owned(),
        strategy: latest.strategy.clone(),
        version: live,
        reason: "manual".to_owned(),
        evidence: serde_json::json!({ "requested_version": to.0 }),
        moved_at: at,
    };
    Ok((copy, alias))
}

#[cfg(test)]
impl VersionRecord {
    /// A version of `strategy` with no code, empty parameters and state,
    /// code hash "h": what store tests write when only the row matters.
    pub(crate) fn bare(strategy: &str, n: u32, reason: VersionReason, created_at: Timestamp) -> Self {
        VersionRecord {
            strategy: StrategyId::new(strategy),
            version: VersionId(n),
            parent: None,
            code_hash: "h".into(),
            code: None,
            params: serde_json::json!({}),
            state: serde_json::json!({}),
            reason,
            metrics: serde_json::Value::Null,
            created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> Vec<VersionRecord> {
        (1..=3)
            .map(|n| VersionRecord {
                strategy: StrategyId::new("s"),
                version: VersionId(n),
                parent: (n > 1).then(|| VersionId(n - 1)),
                code_hash: format!("code{n}"),
                code: None,
                params: serde_json::json!({}),
                state: serde_json::json!({ "n": n }),
                reason: if n == 1 { VersionReason::Load } else { VersionReason::Daily },
                metrics: serde_json::Value::Null,
                created_at: Timestamp(i64::from(n)),
            })
            .collect()
    }

    #[test]
    fn a_rollback_is_a_new_version_copying_the_old_one() {
        let back = rollback(&history(), VersionId(1), Timestamp(9)).unwrap();
        assert_eq!(
            (back.version, back.parent, back.reason),
            (VersionId(4), Some(VersionId(1)), VersionReason::Rollback)
        );
        assert_eq!((back.state, back.code_hash), (serde_json::json!({ "n": 1 }), "code1".to_owned()));
        let err = rollback(&history(), VersionId(7), Timestamp(9)).unwrap_err();
        assert!(err.contains("v1..v3"), "{err}");
    }

    #[test]
    fn promoting_the_live_version_only_moves_the_alias() {
        let (copy, alias) = promote(&history(), VersionId(3), Timestamp(9)).unwrap();
        assert!(copy.is_none());
        assert_eq!((alias.alias.as_str(), alias.version), (CHAMPION, VersionId(3)));
        let (copy, alias) = promote(&history(), VersionId(2), Timestamp(9)).unwrap();
        let copy = copy.unwrap();
        assert_eq!(
            (copy.version, copy.reason, alias.version),
            (VersionId(4), VersionReason::Promote, VersionId(4))
        );
    }

    #[test]
    fn reasons_round_trip_through_text() {
        for reason in VersionReason::ALL {
            assert_eq!(reason.as_str().parse::<VersionReason>(), Ok(reason));
        }
        assert!("upgrade".parse::<VersionReason>().is_err());
    }
}
