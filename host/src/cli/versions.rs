//! `siglearn strategies`, `versions`, `rollback` and `promote`: the version
//! history of a store, and the two ways to change which version is live.
//!
//! Versions are append-only: a rollback writes a new version that copies an
//! old one, and the champion alias follows; nothing is ever overwritten.
//!
//! A row that cannot be read (damaged by hand, or written by an older
//! siglearn) is named in a warning with its fix, and the rest is listed; a
//! rollback or promotion to a version that reads works whatever other
//! version cannot be read, since it is how a strategy whose live version
//! cannot be read is brought back.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use siglearn_plugin_api::{Timestamp, VersionId};

use super::abbreviate;
use crate::store::{BadRow, Command, Holder, Rows, Store, StoreError, StoreReader};
use crate::timestamp::format_timestamp;
use crate::versions::{self, AliasMove, CHAMPION, VersionRecord};

/// The store flag shared by the version commands.
#[derive(Debug, Args)]
pub(super) struct StoreArgs {
    /// The SQLite store.
    #[arg(long, value_name = "FILE", default_value = "siglearn.db")]
    db: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct StrategiesArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub(super) struct VersionsArgs {
    /// The strategy.
    name: String,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub(super) struct ChangeArgs {
    /// The strategy.
    name: String,
    /// The version number (as `versions` lists it, with or without a leading v).
    #[arg(value_name = "VERSION", value_parser = parse_version)]
    target: VersionId,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_version(text: &str) -> Result<VersionId, String> {
    text.trim_start_matches('v')
        .parse::<u32>()
        .map(VersionId)
        .map_err(|_| format!("{text:?} is not a version number"))
}

fn reader(args: &StoreArgs) -> anyhow::Result<StoreReader> {
    Ok(StoreReader::open(&args.db)?)
}

/// Prints a warning naming each row of `bad` and its fix.
fn warn_unreadable(bad: &[BadRow]) {
    for row in bad {
        errln!("warning: {row}");
    }
}

/// Where the champion alias points, or `None` with a warning when its row
/// cannot be read.
fn champion(reader: &StoreReader) -> anyhow::Result<Option<(String, u32)>> {
    match reader.alias(CHAMPION) {
        Ok(champion) => Ok(champion),
        Err(StoreError::BadRow(bad)) => {
            warn_unreadable(&[*bad]);
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) fn strategies(args: StrategiesArgs) -> anyhow::Result<()> {
    let reader = reader(&args.store)?;
    super::warn_out_of_range(&reader)?;
    let champion = champion(&reader)?;
    let counts = reader.version_counts()?;
    let count_of = |name: &str| counts.iter().find(|(n, _)| n == name).map_or(0, |c| c.1);
    let Rows { read: latest, bad } = reader.latest_versions_rows()?;
    warn_unreadable(&bad);
    let unreadable = |bad: &BadRow| bad.strategy.clone().unwrap_or_default();
    if args.store.json {
        let mut rows: Vec<serde_json::Value> = latest
            .iter()
            .map(|v| {
                serde_json::json!({
                    "strategy": v.strategy, "live_version": v.version.0, "versions": count_of(v.strategy.as_str()),
                    "reason": v.reason, "code_hash": v.code_hash, "created_at": format_timestamp(v.created_at),
                    "champion": champion.as_ref().is_some_and(|(name, _)| name == v.strategy.as_str()),
                })
            })
            .collect();
        rows.extend(bad.iter().map(|b| {
            serde_json::json!({
                "strategy": unreadable(b), "live_version": b.version.map(|v| v.0),
                "versions": count_of(&unreadable(b)), "error": b.to_string(),
            })
        }));
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if latest.is_empty() && bad.is_empty() {
        outln!("{} holds no strategies (replay with --config to add some)", args.store.db.display());
        return Ok(());
    }
    outln!("  {:<22} {:>5} {:>9}  {:<9} {:<14} created", "strategy", "live", "versions", "reason", "code");
    for v in &latest {
        let count = count_of(v.strategy.as_str());
        let star =
            if champion.as_ref().is_some_and(|(name, _)| name == v.strategy.as_str()) { " *" } else { "" };
        outln!(
            "  {:<22} {:>5} {:>9}  {:<9} {:<14} {}",
            format!("{}{star}", v.strategy),
            format!("v{}", v.version.0),
            count,
            v.reason.as_str(),
            &v.code_hash[..12.min(v.code_hash.len())],
            format_timestamp(v.created_at)
        );
    }
    for b in &bad {
        let (name, live) = (unreadable(b), b.version.map_or("?".to_owned(), |v| format!("v{}", v.0)));
        outln!(
            "  {name:<22} {live:>5} {:>9}  its live version cannot be read (see the warning)",
            count_of(&name)
        );
    }
    if let Some((name, version)) = champion {
        outln!("  * champion: {name} v{version}");
    }
    Ok(())
}

pub(super) fn versions(args: VersionsArgs) -> anyhow::Result<()> {
    let reader = reader(&args.store)?;
    super::warn_out_of_range(&reader)?;
    let Rows { read: history, bad } = reader.versions_rows(&args.name)?;
    warn_unreadable(&bad);
    if history.is_empty() && bad.is_empty() {
        bail!(
            "{} has no strategy {:?}; `siglearn strategies --db {}` lists them",
            args.store.db.display(),
            args.name,
            args.store.db.display()
        );
    }
    let moves = reader.alias_history_rows(CHAMPION)?;
    warn_unreadable(&moves.bad);
    let moves: Vec<AliasMove> = moves.read.into_iter().filter(|m| m.strategy.as_str() == args.name).collect();
    if args.store.json {
        let mut json = serde_json::json!({ "versions": history, "champion_moves": moves });
        if !bad.is_empty() {
            json["unreadable"] = bad.iter().map(ToString::to_string).collect();
        }
        outln!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    outln!("  {:>5} {:>7}  {:<9} {:<14} {:<22} state", "ver", "parent", "reason", "code", "created");
    for v in &history {
        let state = abbreviate(&v.state.to_string(), 60);
        outln!(
            "  {:>5} {:>7}  {:<9} {:<14} {:<22} {}",
            format!("v{}", v.version.0),
            v.parent.map_or("-".to_owned(), |p| format!("v{}", p.0)),
            v.reason.as_str(),
            &v.code_hash[..12.min(v.code_hash.len())],
            format_timestamp(v.created_at),
            state
        );
    }
    for b in &bad {
        let version = b.version.map_or("?".to_owned(), |v| format!("v{}", v.0));
        outln!("  {version:>5} cannot be read (see the warning)");
    }
    for m in &moves {
        outln!("  champion -> v{} ({}) at {}", m.version.0, m.reason, format_timestamp(m.moved_at));
    }
    Ok(())
}

/// Wall time: a rollback or promotion is a user's act, at the edge.
fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(millis)
}

/// The versions a change works from, oldest first: every one that can be
/// read, the target among them. Another that cannot be read does not block
/// the change (a rollback is the fix of a live version that cannot be
/// read); the newest, read or not, numbers the new version.
fn history(reader: &StoreReader, args: &ChangeArgs) -> anyhow::Result<Vec<VersionRecord>> {
    let Rows { read: mut history, bad } = reader.versions_rows(&args.name)?;
    if history.is_empty() && bad.is_empty() {
        bail!("{} has no strategy {:?}", args.store.db.display(), args.name);
    }
    if let Some(target) = bad.iter().find(|b| b.version == Some(args.target)) {
        bail!("{} v{} cannot be made live: {target}", args.name, args.target.0);
    }
    // The new version is numbered after the newest: every number must read.
    if let Some(unnumbered) = bad.iter().find(|b| b.version.is_none()) {
        bail!("the versions of {} cannot be numbered: {unnumbered}", args.name);
    }
    warn_unreadable(&bad);
    let newest = bad.iter().filter_map(|b| b.version).max();
    let target = history.iter().find(|v| v.version == args.target).cloned();
    if let (Some(newest), Some(target)) = (newest, target)
        && history.last().is_none_or(|v| v.version < newest)
    {
        // Only its number is used: the copy is made of the target.
        history.push(VersionRecord { version: newest, ..target });
    }
    Ok(history)
}

/// The store opened for a change, or why not: a daemon that holds it is
/// named with the endpoint that makes the same change.
fn open_for(args: &ChangeArgs, action: &str) -> anyhow::Result<Store> {
    Store::open_existing(&args.store.db).map_err(|error| match &error {
        StoreError::Held { holder: Some(Holder { pid, address: Some(address), .. }), .. } => anyhow::anyhow!(
            "a daemon (pid {pid}, {address}) holds the store {}; it is the only writer while it runs: use \
             curl -X POST {address}/api/strategies/{}/{action} -H 'Content-Type: application/json' -d '{{\"version\": {}}}'",
            args.store.db.display(),
            args.name,
            args.target.0
        ),
        _ => anyhow::Error::new(error),
    })
}

pub(super) fn rollback(args: ChangeArgs) -> anyhow::Result<()> {
    // The lock first: nobody else writes the versions read below.
    let store = open_for(&args, "rollback")?;
    let reader = reader(&args.store)?;
    let history = history(&reader, &args)?;
    let record = versions::rollback(&history, args.target, now()).map_err(anyhow::Error::msg)?;
    let champion = champion(&reader)?;
    store.send(Command::InsertVersion(record.clone()))?;
    if champion.as_ref().is_some_and(|(name, _)| *name == args.name) {
        store.send(Command::MoveAlias(AliasMove {
            alias: CHAMPION.to_owned(),
            strategy: record.strategy.clone(),
            version: record.version,
            reason: "rollback".to_owned(),
            evidence: record.metrics.clone(),
            moved_at: record.created_at,
        }))?;
    }
    store.close()?;
    outln!(
        "{} v{} is live: a copy of v{} (state and code); the next replay or daemon start runs it",
        args.name,
        record.version.0,
        args.target.0
    );
    Ok(())
}

pub(super) fn promote(args: ChangeArgs) -> anyhow::Result<()> {
    let store = open_for(&args, "promote")?;
    let history = history(&reader(&args.store)?, &args)?;
    let (copy, alias) = versions::promote(&history, args.target, now()).map_err(anyhow::Error::msg)?;
    if let Some(copy) = &copy {
        store.send(Command::InsertVersion(copy.clone()))?;
    }
    store.send(Command::MoveAlias(alias.clone()))?;
    store.close()?;
    match copy {
        Some(copy) => {
            outln!("{} v{} (a copy of v{}) is the champion", args.name, copy.version.0, args.target.0)
        }
        None => outln!("{} v{} is the champion", args.name, alias.version.0),
    }
    Ok(())
}
