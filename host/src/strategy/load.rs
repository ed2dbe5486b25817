//! Building a lineup from the configuration: every enabled script compiled
//! and initialised, its first version, and the champion alias.

use siglearn_plugin_api::{StrategyId, Timestamp, VersionId};

use super::script::ScriptStrategy;
use super::{Strategy, StrategyError};
use crate::config::Config;
use crate::engine::Member;
use crate::versions::{AliasMove, CHAMPION, VersionReason, VersionRecord};

/// A lineup ready for the engine, with the rows that record its start.
#[derive(Debug)]
pub struct Lineup {
    pub members: Vec<Member>,
    pub champion: Option<usize>,
    /// Version 1 of every strategy (reason `load`).
    pub versions: Vec<VersionRecord>,
    /// The champion alias as the config sets it.
    pub alias: Option<AliasMove>,
}

/// Loads every enabled strategy of `config`; every failure is reported.
pub fn load_lineup(config: &Config, now: Timestamp) -> Result<Lineup, Vec<StrategyError>> {
    let mut members = Vec::new();
    let mut versions = Vec::new();
    let mut errors = Vec::new();
    for spec in config.enabled_strategies() {
        let loaded =
            ScriptStrategy::from_file(StrategyId::new(spec.name.as_str()), &spec.script, config.limits)
                .and_then(|mut strategy| strategy.init(&spec.params).map(|()| strategy))
                .and_then(|strategy| strategy.state().map(|state| (strategy, state)));
        match loaded {
            Ok((strategy, state)) => {
                versions.push(VersionRecord {
                    strategy: strategy.name().clone(),
                    version: VersionId(1),
                    parent: None,
                    code_hash: strategy.code_hash().to_owned(),
                    source: Some(strategy.source().into()),
                    params: spec.params.clone(),
                    state,
                    reason: VersionReason::Load,
                    metrics: serde_json::Value::Null,
                    created_at: now,
                });
                members.push(Member {
                    strategy: Box::new(strategy),
                    version: VersionId(1),
                    params: spec.params.clone(),
                });
            }
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let champion = config.champion_index();
    let alias = champion.map(|c| AliasMove {
        alias: CHAMPION.to_owned(),
        strategy: members[c].strategy.name().clone(),
        version: VersionId(1),
        reason: "config".to_owned(),
        evidence: serde_json::Value::Null,
        moved_at: now,
    });
    Ok(Lineup { members, champion, versions, alias })
}
