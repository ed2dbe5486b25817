//! Building a lineup from the configuration: every enabled script compiled
//! (or plugin opened) and initialised (or, on a resumed store, restored from its live version),
//! the versions that records, and the champion alias.
//!
//! Resuming, for each configured strategy:
//! * not in the store yet: loaded fresh (`init`), version 1 (`load`);
//! * the script file is the code of the live version: the live state is set;
//! * the file holds code this strategy already loaded once (it was rolled
//!   back since): the live version's stored code runs, so a rollback sticks;
//! * the file holds code never seen: it is new code, deployed as a hot
//!   reload deploys it: the live version is restored, and once the run is
//!   restored [`crate::restore::deploy`] hands the new code to
//!   [`crate::engine::Engine::deploy`], which carries the live state over
//!   through `migrate` as a new version (`reload`) and keeps the live
//!   version running in shadow on probation.
//!
//! The live state is the newest checkpoint of the live version with every
//! outcome committed after it learned again, in the order the engine closed
//! them (DESIGN section 9: snapshot plus the outcomes after it).
//!
//! Version numbers come from the store alone: a strategy the store knows
//! always continues from its live version `n` (a new version is `n + 1`),
//! whether it is resumed at start or adopted while running (a script that
//! comes back after it was removed); only a strategy the store has never
//! seen starts at version 1. A strategy that cannot be resumed (its stored
//! state or code no longer loads) is left out and reported in
//! [`Lineup::failed`]; the others run. So does a [`Clash`] of the daemon's
//! folders (two files that would be one strategy): it stops only its
//! strategy ([`start_lineup`]). So does a live version whose row cannot be
//! read (a rollback to a version that reads brings it back); an older
//! version that cannot be read costs a warning only. A champion alias that
//! cannot be read leaves no champion until one is named again.

use std::path::{Path, PathBuf};

use siglearn_plugin_api::{StrategyId, Timestamp, VersionId};

use super::{Code, Strategy, StrategyError};
use crate::config::{Config, StrategyConfig};
use crate::engine::Member;
use crate::store::{StoreError, StoreReader};
use crate::strategy::script::Limits;
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
    /// Scripts that did not load while the store had a working version to
    /// run instead: the strategy runs its live version, and this says why
    /// the file was not taken (as a failed hot reload does).
    pub problems: Vec<StrategyError>,
    /// Strategies of a resumed store that could not be restored: they are
    /// not in `members`, and this says why.
    pub failed: Vec<StrategyError>,
    /// New code found in the files (changed while the daemon was stopped, or
    /// between two parts of a replay): the members run their live versions,
    /// and once the run is restored [`crate::restore::deploy`] deploys this
    /// code over them exactly as a hot reload does (a `reload` version on
    /// probation against the live one).
    pub deploys: Vec<Box<dyn Strategy>>,
}

/// A strategy that has never run: compiled (or opened), `init(params)`,
/// and its version 1 (reason `load`).
fn fresh(
    spec: &StrategyConfig,
    limits: Limits,
    now: Timestamp,
) -> Result<(Member, VersionRecord), StrategyError> {
    let strategy = super::open(StrategyId::new(spec.name.as_str()), &spec.path, limits)?;
    first_version(strategy, &spec.params, now)
}

/// `strategy` initialised with `params` as its version 1 (reason `load`):
/// a strategy the store has never seen.
pub fn first_version(
    mut strategy: Box<dyn Strategy>,
    params: &serde_json::Value,
    now: Timestamp,
) -> Result<(Member, VersionRecord), StrategyError> {
    strategy.init(params)?;
    let state = strategy.state()?;
    let record = VersionRecord {
        strategy: strategy.name().clone(),
        version: VersionId(1),
        parent: None,
        code_hash: strategy.code_hash().to_owned(),
        code: Some(strategy.code()),
        params: params.clone(),
        state,
        reason: VersionReason::Load,
        metrics: serde_json::Value::Null,
        created_at: now,
    };
    Ok((Member { strategy, version: VersionId(1), params: params.clone() }, record))
}

/// Loads every enabled strategy of `config`; every failure is reported.
pub fn load_lineup(config: &Config, now: Timestamp) -> Result<Lineup, Vec<StrategyError>> {
    let lineup = load_what_loads(config, now);
    if !lineup.failed.is_empty() {
        return Err(lineup.failed);
    }
    Ok(lineup)
}

/// The configured strategies loaded fresh, each at version 1; one that
/// does not load is in [`Lineup::failed`] and left out, as at a restart.
/// The champion is the configured one (else the first enabled strategy)
/// when it loaded, else there is none until it does.
fn load_what_loads(config: &Config, now: Timestamp) -> Lineup {
    let mut members = Vec::new();
    let mut versions = Vec::new();
    let mut failed = Vec::new();
    for spec in config.enabled_strategies() {
        match fresh(spec, config.limits, now) {
            Ok((member, record)) => {
                versions.push(record);
                members.push(member);
            }
            Err(error) => failed.push(error),
        }
    }
    let enabled: Vec<&StrategyConfig> = config.enabled_strategies().collect();
    let named = config.champion_index().map(|c| enabled[c].name.as_str());
    let champion = named.and_then(|name| members.iter().position(|m| m.strategy.name().as_str() == name));
    let alias = champion.map(|c| AliasMove {
        alias: CHAMPION.to_owned(),
        strategy: members[c].strategy.name().clone(),
        version: VersionId(1),
        reason: "config".to_owned(),
        evidence: serde_json::Value::Null,
        moved_at: now,
    });
    Lineup { members, champion, versions, alias, problems: Vec::new(), failed, deploys: Vec::new() }
}

/// Restores the configured strategies from a store, as the module docs say.
/// A strategy that cannot be restored is reported in [`Lineup::failed`]
/// and left out; only an unreadable store fails the whole lineup.
pub fn resume_lineup(
    config: &Config,
    store: &StoreReader,
    now: Timestamp,
) -> Result<Lineup, Vec<StrategyError>> {
    resume_with_clashes(config, &[], store, now)
}

/// [`resume_lineup`], with the strategies of `clashes` besides.
fn resume_with_clashes(
    config: &Config,
    clashes: &[Clash],
    store: &StoreReader,
    now: Timestamp,
) -> Result<Lineup, Vec<StrategyError>> {
    let mut members = Vec::new();
    let mut versions = Vec::new();
    let mut failed = Vec::new();
    let mut problems = Vec::new();
    let mut deploys = Vec::new();
    for spec in config.enabled_strategies() {
        match resume_strategy(spec, config.limits, store, now) {
            Ok(Resumed { member, record, problem, deploy }) => {
                members.push(member);
                versions.extend(record);
                problems.extend(problem);
                deploys.extend(deploy);
            }
            Err(error) => failed.push(error),
        }
    }
    for clash in clashes {
        match resume_clash(clash, config.limits, store) {
            Ok(Resumed { member, problem, .. }) => {
                members.push(member);
                problems.extend(problem);
            }
            Err(error) => failed.push(error),
        }
    }
    let stored = match store.alias(CHAMPION) {
        Ok(stored) => Ok(stored),
        Err(StoreError::BadRow(bad)) => {
            let owner = bad.strategy.clone().unwrap_or_else(|| config_name(config));
            Err(store_failure(&owner, StoreError::BadRow(bad)))
        }
        Err(error) => return Err(vec![store_failure(&config_name(config), error)]),
    };
    let position = |name: &str| members.iter().position(|m| m.strategy.name().as_str() == name);
    let is_failed = |name: &str| failed.iter().any(|f: &StrategyError| f.strategy.as_str() == name);
    let (champion, alias) = match stored {
        // Which strategy the user made champion cannot be read: none is,
        // rather than the configured one over the user's choice.
        Err(problem) => {
            problems.push(problem);
            (None, None)
        }
        Ok(Some((name, _))) if position(&name).is_some() => (position(&name), None),
        // The champion could not be restored: no champion until it is (the
        // alias stays where it is rather than moving behind the user's back).
        Ok(Some((name, _))) if is_failed(&name) => (None, None),
        _ => {
            let name = config
                .experiment
                .champion
                .clone()
                .or_else(|| config.enabled_strategies().next().map(|s| s.name.clone()));
            let index = name.as_deref().and_then(position);
            let alias = index.map(|c| AliasMove {
                alias: CHAMPION.to_owned(),
                strategy: members[c].strategy.name().clone(),
                version: members[c].version,
                reason: "config".to_owned(),
                evidence: serde_json::Value::Null,
                moved_at: now,
            });
            (index, alias)
        }
    };
    Ok(Lineup { members, champion, versions, alias, problems, failed, deploys })
}

/// Files of the daemon's folders that would be one strategy (a `hw.rhai`
/// beside a `libhw.so`): which one is meant cannot be told, so neither is
/// taken. It stops only that strategy: one the store knows runs its live
/// version, a new one does not run, until one file is renamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clash {
    pub name: String,
    /// Every file that would be the strategy, sorted.
    pub files: Vec<PathBuf>,
}

impl Clash {
    /// Takes every name found more than once out of `found` (strategy name,
    /// file), as clashes; the rest stay, in their order.
    pub fn take_from(found: &mut Vec<(String, PathBuf)>) -> Vec<Clash> {
        let mut clashes: Vec<Clash> = Vec::new();
        for (name, file) in found.iter() {
            if found.iter().filter(|(other, _)| other == name).count() < 2 {
                continue;
            }
            match clashes.iter_mut().find(|clash| &clash.name == name) {
                Some(clash) => clash.files.push(file.clone()),
                None => clashes.push(Clash { name: name.clone(), files: vec![file.clone()] }),
            }
        }
        found.retain(|(name, _)| !clashes.iter().any(|clash| &clash.name == name));
        for clash in &mut clashes {
            clash.files.sort();
        }
        clashes
    }

    /// The error naming both files and the fix; `meanwhile` says what runs.
    pub fn error(&self, file: &Path, meanwhile: &str) -> StrategyError {
        let others: Vec<String> =
            self.files.iter().filter(|f| f.as_path() != file).map(|f| f.display().to_string()).collect();
        StrategyError::new(
            StrategyId::new(self.name.as_str()),
            file,
            format!(
                "{} and {} would both be the strategy {:?}; rename one (strategies are named after their \
                 files); {meanwhile}",
                file.display(),
                others.join(" and "),
                self.name
            ),
        )
    }
}

/// The lineup a start makes: resumed from `earlier` when it holds a run,
/// else loaded fresh; each clash of `clashes` stops only its strategy
/// (see [`Clash`]).
pub fn start_lineup(
    config: &Config,
    clashes: &[Clash],
    earlier: Option<&StoreReader>,
    now: Timestamp,
) -> Result<Lineup, Vec<StrategyError>> {
    let Some(store) = earlier else {
        // A fresh store: a strategy that does not load is left out, as at
        // a restart; the daemon does not start with none at all.
        let mut lineup = load_what_loads(config, now);
        if lineup.members.is_empty() && !lineup.failed.is_empty() {
            return Err(lineup.failed);
        }
        let new = "it is a new strategy and does not run until then";
        lineup.failed.extend(clashes.iter().map(|clash| clash.error(&clash.files[0], new)));
        return Ok(lineup);
    };
    resume_with_clashes(config, clashes, store, now)
}

/// A clashing strategy the store knows runs its live version: the code of
/// the file that holds it, or else the stored code. A new one is an error.
fn resume_clash(clash: &Clash, limits: Limits, store: &StoreReader) -> Result<Resumed, StrategyError> {
    let name = StrategyId::new(clash.name.as_str());
    let history = stored_versions(store, &clash.name)?;
    let Some(live) = history.last() else {
        return Err(clash.error(&clash.files[0], "it is a new strategy and does not run until then"));
    };
    let matching = clash.files.iter().find_map(|file| {
        let code = Code::read(&name, file).ok()?;
        (code.hash() == live.code_hash).then(|| (file.clone(), code))
    });
    let (path, code) = match matching {
        Some(found) => found,
        None => {
            let stored = store.code(&live.code_hash).map_err(|e| store_failure(&clash.name, e))?;
            let code = stored.ok_or_else(|| {
                clash.error(
                    &clash.files[0],
                    "its live version's code is not stored, so it does not run until then",
                )
            })?;
            (clash.files[0].clone(), code)
        }
    };
    let spec = StrategyConfig { name: clash.name.clone(), path, params: live.params.clone(), enabled: true };
    let strategy = restore_live(name, &spec, &code, live, limits, store)?;
    let meanwhile = format!("its live version {} runs until then", live.version);
    Ok(Resumed {
        member: Member { strategy, version: live.version, params: live.params.clone() },
        record: None,
        problem: Some(clash.error(&spec.path, &meanwhile)),
        deploy: None,
    })
}

/// One strategy resumed from the store.
#[derive(Debug)]
pub struct Resumed {
    pub member: Member,
    /// A version the resume created (load or reload).
    pub record: Option<VersionRecord>,
    /// Why the script file was not taken, when the live version runs instead.
    pub problem: Option<StrategyError>,
    /// New code found in the file, to deploy over the live `member` with
    /// [`crate::engine::Engine::deploy`] once the run is restored.
    pub deploy: Option<Box<dyn Strategy>>,
}

fn config_name(config: &Config) -> String {
    config.strategies.first().map_or_else(|| "config".to_owned(), |s| s.name.clone())
}

/// The versions of `name` a resume works from, oldest first: every one
/// that can be read. Its live (newest) version must be one (else it does
/// not run until a rollback to a version that reads); an older one that
/// cannot be read is named in a warning, since no running strategy needs it.
fn stored_versions(store: &StoreReader, name: &str) -> Result<Vec<VersionRecord>, StrategyError> {
    let rows = store.versions_rows(name).map_err(|e| store_failure(name, e))?;
    let newest_read = rows.read.last().map(|v| v.version);
    for bad in rows.bad {
        if bad.version.is_none_or(|n| Some(n) > newest_read) {
            return Err(store_failure(name, StoreError::BadRow(Box::new(bad))));
        }
        tracing::warn!(strategy = name, error = %bad, "an older version cannot be read; the live one runs");
    }
    Ok(rows.read)
}

fn store_failure(name: &str, error: StoreError) -> StrategyError {
    StrategyError::new(
        StrategyId::new(name),
        std::path::PathBuf::new(),
        format!("cannot read the store: {error}"),
    )
}

/// Resumes the strategy `spec` from `store`: from its live version when the
/// store knows it (see the module docs), as version 1 when it does not.
/// Used at start and for a strategy adopted while running, so both number
/// versions the same way.
pub fn resume_strategy(
    spec: &StrategyConfig,
    limits: Limits,
    store: &StoreReader,
    now: Timestamp,
) -> Result<Resumed, StrategyError> {
    let name = StrategyId::new(spec.name.as_str());
    let history = stored_versions(store, &spec.name)?;
    let Some(live) = history.last() else {
        let (member, record) = fresh(spec, limits, now)?;
        return Ok(Resumed { member, record: Some(record), problem: None, deploy: None });
    };
    let file = Code::read(&name, &spec.path)?;
    let file_hash = file.hash();
    let loaded_before = history
        .iter()
        .any(|v| matches!(v.reason, VersionReason::Load | VersionReason::Reload) && v.code_hash == file_hash);
    // The live version's code: the file itself, or the stored source.
    let live_source = if file_hash == live.code_hash {
        Some(file.clone())
    } else {
        store.code(&live.code_hash).map_err(|e| store_failure(&spec.name, e))?
    };
    let restored = match &live_source {
        Some(code) => Some(restore_live(name.clone(), spec, code, live, limits, store)?),
        None => None,
    };
    let member =
        |strategy: Box<dyn Strategy>, version| Member { strategy, version, params: live.params.clone() };
    if file_hash == live.code_hash || loaded_before {
        let strategy = restored.ok_or_else(|| {
            store_failure(&spec.name, StoreError::Corrupt(format!("no stored code for {}", live.code_hash)))
        })?;
        return Ok(Resumed {
            member: member(strategy, live.version),
            record: None,
            problem: None,
            deploy: None,
        });
    }
    let built = file.build(name, &spec.path, limits);
    match (built, restored) {
        // New code: the live version runs, and the new code is deployed
        // over it once the run is restored, as a hot reload deploys it
        // (see [`Lineup::deploys`]).
        (Ok(new), Some(live_strategy)) => Ok(Resumed {
            member: member(live_strategy, live.version),
            record: None,
            problem: None,
            deploy: Some(new),
        }),
        // The new code does not load: the live version keeps running.
        (Err(problem), Some(live_strategy)) => Ok(Resumed {
            member: member(live_strategy, live.version),
            record: None,
            problem: Some(problem),
            deploy: None,
        }),
        // The store lacks the live version's code (a store from before code
        // was stored): nothing can run in shadow, so the new code takes the
        // stored state over directly.
        (built, None) => {
            let mut strategy = built?;
            strategy.migrate(&live.state)?;
            let record = VersionRecord {
                strategy: strategy.name().clone(),
                version: VersionId(live.version.0 + 1),
                parent: Some(live.version),
                code_hash: strategy.code_hash().to_owned(),
                code: Some(strategy.code()),
                params: live.params.clone(),
                state: strategy.state()?,
                reason: VersionReason::Reload,
                metrics: serde_json::json!({ "previous_code": live.code_hash }),
                created_at: now,
            };
            let version = record.version;
            Ok(Resumed {
                member: member(strategy, version),
                record: Some(record),
                problem: None,
                deploy: None,
            })
        }
    }
}

/// The live version running `source`, with the newest checkpoint of its
/// state and every outcome committed after that checkpoint learned again.
fn restore_live(
    name: StrategyId,
    spec: &StrategyConfig,
    code: &Code,
    live: &VersionRecord,
    limits: Limits,
    store: &StoreReader,
) -> Result<Box<dyn Strategy>, StrategyError> {
    let mut strategy = code.build(name, &spec.path, limits)?;
    let checkpoint = store.snapshot(&spec.name, live.version).map_err(|e| store_failure(&spec.name, e))?;
    let Some((state, through)) = checkpoint else {
        strategy.set_state(&live.state)?;
        return Ok(strategy);
    };
    strategy.set_state(&state)?;
    let tail = store.trades_committed_after(through).map_err(|e| store_failure(&spec.name, e))?;
    for trade in &tail {
        if let Err(error) = strategy.learn(&trade.signal, &trade.outcome) {
            tracing::warn!(%error, "learning again after a restart failed");
        }
    }
    Ok(strategy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::MonitorConfig;
    use crate::store::{Command, Store};

    /// Writes by hand a checkpoint of `strategy` v1 nested 200 deep, deeper
    /// than the store reads back.
    fn insert_deep_checkpoint(db: &Path, strategy: &str) {
        let deep = (0..200).fold(String::from("{}"), |inner, _| format!("{{\"a\":{inner}}}"));
        rusqlite::Connection::open(db)
            .unwrap()
            .execute(
                "INSERT INTO snapshots (kind, strategy, version, state, outcomes_through, at) \
                 VALUES ('state', ?1, 1, ?2, 0, 0)",
                [strategy, &deep],
            )
            .unwrap();
    }

    /// A config of the scripts `(name, source)` in `dir`, the first champion.
    fn config(dir: &std::path::Path, scripts: &[(&str, &str)]) -> Config {
        let mut config = Config::default();
        for (name, source) in scripts {
            let path = dir.join(format!("{name}.rhai"));
            std::fs::write(&path, source).unwrap();
            config.strategies.push(StrategyConfig {
                name: (*name).to_owned(),
                path,
                params: serde_json::json!({}),
                enabled: true,
            });
        }
        config
    }

    #[test]
    fn files_that_would_be_one_strategy_are_taken_out_as_a_clash_and_the_rest_stay() {
        let file = |f: &str| std::path::PathBuf::from(f);
        let mut found = vec![
            ("a".to_owned(), file("scripts/a.rhai")),
            ("hw".to_owned(), file("scripts/hw.rhai")),
            ("hw".to_owned(), file("plugins/libhw.so")),
            ("z".to_owned(), file("plugins/libz.so")),
        ];
        let clashes = Clash::take_from(&mut found);
        assert_eq!(
            found,
            [("a".to_owned(), file("scripts/a.rhai")), ("z".to_owned(), file("plugins/libz.so"))]
        );
        assert_eq!(
            clashes,
            [Clash { name: "hw".into(), files: vec![file("plugins/libhw.so"), file("scripts/hw.rhai")] }]
        );
        let error = clashes[0].error(&file("scripts/hw.rhai"), "its live version v3 runs until then");
        assert_eq!(
            error.message,
            "scripts/hw.rhai and plugins/libhw.so would both be the strategy \"hw\"; rename one (strategies are \
             named after their files); its live version v3 runs until then"
        );
    }

    #[test]
    fn a_strategy_that_cannot_be_restored_is_left_out_and_the_champion_alias_stays() {
        let dir = tempfile::tempdir().unwrap();
        let take = "fn decide(signal) { true }";
        let config = config(dir.path(), &[("a", take), ("b", take)]);
        let db = dir.path().join("s.db");
        let lineup = load_lineup(&config, Timestamp(0)).unwrap();
        let store = Store::open(&db, &MonitorConfig::default()).unwrap();
        for version in lineup.versions {
            store.send(Command::InsertVersion(version)).unwrap();
        }
        store.send(Command::MoveAlias(lineup.alias.unwrap())).unwrap();
        store.close().unwrap();
        // The champion's newest checkpoint is deeper than the store reads back.
        insert_deep_checkpoint(&db, "a");

        let reader = StoreReader::open(&db).unwrap();
        let lineup = resume_lineup(&config, &reader, Timestamp(1)).unwrap();
        let names: Vec<&str> = lineup.members.iter().map(|m| m.strategy.name().as_str()).collect();
        assert_eq!(names, ["b"]);
        assert_eq!(lineup.failed.len(), 1);
        assert_eq!(lineup.failed[0].strategy.as_str(), "a");
        assert!(lineup.failed[0].message.contains("recursion limit"), "{}", lineup.failed[0]);
        assert_eq!(lineup.champion, None, "no champion while it cannot run");
        assert!(lineup.alias.is_none(), "the stored alias is not moved to another strategy");
        assert!(lineup.versions.is_empty());
    }

    /// A store in `dir` holding version 1 of every strategy of `config`,
    /// with the champion alias on `champion`.
    fn stored(dir: &std::path::Path, config: &Config, champion: &str) -> StoreReader {
        let db = dir.join("s.db");
        let lineup = load_lineup(config, Timestamp(0)).unwrap();
        let store = Store::open(&db, &MonitorConfig::default()).unwrap();
        for version in lineup.versions {
            store.send(Command::InsertVersion(version)).unwrap();
        }
        store
            .send(Command::MoveAlias(AliasMove {
                alias: CHAMPION.to_owned(),
                strategy: StrategyId::new(champion),
                version: VersionId(1),
                reason: "promote".to_owned(),
                evidence: serde_json::Value::Null,
                moved_at: Timestamp(0),
            }))
            .unwrap();
        store.close().unwrap();
        StoreReader::open(&db).unwrap()
    }

    #[test]
    fn a_resumed_champion_stays_where_the_store_moved_it() {
        let dir = tempfile::tempdir().unwrap();
        let take = "fn decide(signal) { true }";
        let config = config(dir.path(), &[("a", take), ("b", take)]);
        let reader = stored(dir.path(), &config, "b");
        let lineup = resume_lineup(&config, &reader, Timestamp(1)).unwrap();
        assert_eq!(lineup.champion, Some(1), "b, the second member");
        assert!(lineup.alias.is_none(), "the alias does not move");
    }

    #[test]
    fn a_stored_champion_no_longer_configured_gives_way_to_the_config_s() {
        let dir = tempfile::tempdir().unwrap();
        let take = "fn decide(signal) { true }";
        let all = config(dir.path(), &[("gone", take), ("a", take), ("b", take)]);
        let reader = stored(dir.path(), &all, "gone");
        let mut config = all.clone();
        config.strategies.remove(0);
        let lineup = resume_lineup(&config, &reader, Timestamp(1)).unwrap();
        assert!(lineup.failed.is_empty(), "{:?}", lineup.failed);
        assert_eq!(lineup.champion, Some(0), "a, the first enabled strategy");
        let alias = lineup.alias.expect("the alias moves to the config's champion");
        assert_eq!(
            (alias.alias.as_str(), alias.strategy.as_str(), alias.version, alias.reason.as_str()),
            (CHAMPION, "a", VersionId(1), "config")
        );
        assert_eq!(alias.moved_at, Timestamp(1));
    }

    #[test]
    fn a_champion_that_cannot_be_restored_is_not_replaced_by_the_config_s_choice() {
        let dir = tempfile::tempdir().unwrap();
        let take = "fn decide(signal) { true }";
        let mut config = config(dir.path(), &[("a", take), ("b", take)]);
        let reader = stored(dir.path(), &config, "a");
        drop(reader);
        // a's newest checkpoint is deeper than the store reads back, so a
        // cannot be restored; the config names b as the champion.
        insert_deep_checkpoint(&dir.path().join("s.db"), "a");
        config.experiment.champion = Some("b".to_owned());
        let reader = StoreReader::open(&dir.path().join("s.db")).unwrap();
        let lineup = resume_lineup(&config, &reader, Timestamp(1)).unwrap();
        assert_eq!(lineup.failed.len(), 1, "{:?}", lineup.failed);
        assert_eq!(lineup.failed[0].strategy.as_str(), "a");
        assert_eq!(lineup.champion, None);
        assert!(lineup.alias.is_none());
    }

    #[test]
    fn new_code_over_a_live_version_whose_code_is_not_stored_is_the_next_version() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &[("a", "fn decide(signal) { true }")]);
        let db = dir.path().join("s.db");
        let store = Store::open(&db, &MonitorConfig::default()).unwrap();
        // A store from before code was stored: version 1 without its source.
        for mut version in load_lineup(&config, Timestamp(0)).unwrap().versions {
            version.code = None;
            store.send(Command::InsertVersion(version)).unwrap();
        }
        store.close().unwrap();
        std::fs::write(&config.strategies[0].path, "fn decide(signal) { false }").unwrap();
        let reader = StoreReader::open(&db).unwrap();
        let lineup = resume_lineup(&config, &reader, Timestamp(1)).unwrap();
        assert!(
            lineup.failed.is_empty() && lineup.problems.is_empty(),
            "{:?} {:?}",
            lineup.failed,
            lineup.problems
        );
        let [record] = &lineup.versions[..] else { panic!("{:?}", lineup.versions) };
        assert_eq!((record.version, record.parent), (VersionId(2), Some(VersionId(1))));
        assert_eq!(record.reason, VersionReason::Reload);
        assert_eq!(lineup.members[0].version, VersionId(2));
    }

    #[test]
    fn a_clash_the_store_knows_runs_the_file_that_holds_its_live_code() {
        let dir = tempfile::tempdir().unwrap();
        let (scripts, plugins) = (dir.path().join("scripts"), dir.path().join("plugins"));
        std::fs::create_dir(&scripts).unwrap();
        std::fs::create_dir(&plugins).unwrap();
        let config = config(&scripts, &[("hw", "fn decide(signal) { true }")]);
        let reader = stored(dir.path(), &config, "hw");
        let (script, library) = (scripts.join("hw.rhai"), plugins.join("libhw.so"));
        std::fs::write(&library, "not a library").unwrap();
        let clash = Clash { name: "hw".into(), files: vec![library.clone(), script.clone()] };
        let lineup = start_lineup(&Config::default(), &[clash], Some(&reader), Timestamp(1)).unwrap();
        assert!(lineup.failed.is_empty(), "{:?}", lineup.failed);
        let names: Vec<&str> = lineup.members.iter().map(|m| m.strategy.name().as_str()).collect();
        assert_eq!(names, ["hw"]);
        assert_eq!(lineup.members[0].version, VersionId(1));
        let [problem] = &lineup.problems[..] else { panic!("{:?}", lineup.problems) };
        let start =
            format!("{} and {} would both be the strategy \"hw\"", script.display(), library.display());
        assert!(problem.message.starts_with(&start), "{}", problem.message);
    }
}
