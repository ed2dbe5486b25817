//! Round trips through the store.

use std::sync::Arc;

use siglearn_plugin_api::{Outcome, OutcomeKind, Side, Signal, SignalId, Timestamp};

use super::*;
use crate::monitor::AmbiguityPolicy;
use crate::monitor::fixtures::signal;

fn rich_signal(id: &str) -> Signal {
    let mut signal = Signal {
        confidence: Some(0.1 + 0.2),
        pattern: Some("trend".into()),
        max_hold_ms: Some(90_000),
        ..signal(id, Side::Short)
    };
    signal.heads.insert("rsi", -1.0 / 3.0);
    signal.indicators.insert("atr", 1e-300);
    signal
}

fn outcome(id: &str) -> Outcome {
    Outcome {
        signal_id: SignalId::new(id),
        kind: OutcomeKind::SlHit,
        exit_ts: Timestamp(60_000),
        exit_price: 105.0,
        pnl_pct: -5.000000000000001,
        holding_ms: 60_000,
        ambiguous: true,
        mfe_pct: 0.0,
        mae_pct: 5.0,
    }
}

#[test]
fn signals_and_outcomes_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, &MonitorConfig::default()).unwrap();
    for id in ["a", "b", "c"] {
        store.send(Command::InsertSignal(Arc::new(rich_signal(id)))).unwrap();
    }
    store.send(Command::InsertOutcome { outcome: outcome("b"), known_at: Timestamp(0) }).unwrap();
    store.flush().unwrap();
    // Committed data is visible to a reader while the writer still runs.
    let reader = StoreReader::open(&path).unwrap();
    let trades = reader.trades().unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!(*trades[0].signal, rich_signal("b"));
    assert_eq!(trades[0].outcome, outcome("b"));
    let open: Vec<String> = reader.open_signals().unwrap().iter().map(|s| s.id.to_string()).collect();
    assert_eq!(open, ["a", "c"]);
    let stats = store.close().unwrap();
    assert_eq!((stats.signals, stats.outcomes), (3, 1));
}

#[test]
fn a_failed_write_surfaces_on_flush_and_close_keeping_earlier_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, &MonitorConfig::default()).unwrap();
    store.send(Command::InsertSignal(Arc::new(rich_signal("a")))).unwrap();
    store.flush().unwrap();
    store.send(Command::InsertSignal(Arc::new(rich_signal("a")))).unwrap();
    assert!(store.flush().is_err());
    assert!(matches!(store.close(), Err(StoreError::Sqlite(_))));
    assert_eq!(StoreReader::open(&path).unwrap().signal_count().unwrap(), 1);
}

#[test]
fn a_store_keeps_the_settings_its_outcomes_were_decided_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    Store::open(&path, &MonitorConfig::default()).unwrap().close().unwrap();
    Store::open(&path, &MonitorConfig::default()).unwrap().close().unwrap();
    let other = MonitorConfig { ambiguity: AmbiguityPolicy::TakeFirst, fee_pct: 0.1 };
    let err = Store::open(&path, &other).unwrap_err();
    assert!(err.to_string().contains("ambiguity=stop_first fee_pct=0"), "{err}");
    assert!(err.to_string().contains("ambiguity=take_first fee_pct=0.1"), "{err}");
}

#[test]
fn migrations_run_once_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(connect(&path).unwrap());
    let conn = connect(&path).unwrap();
    let applied: i64 = conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
    assert_eq!(applied, migrations::LATEST);
    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')", []).unwrap();
    drop(conn);
    assert!(matches!(connect(&path), Err(StoreError::TooNew { found: 999, .. })));
    assert!(matches!(StoreReader::open(&path), Err(StoreError::TooNew { .. })));
}

#[test]
fn reading_a_missing_store_names_it_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let err = StoreReader::open(&path).unwrap_err();
    assert!(err.to_string().contains("missing.db"), "{err}");
    assert!(!path.exists());
}

#[test]
fn a_group_larger_than_a_batch_is_committed_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, &MonitorConfig::default()).unwrap();
    // More rows than one transaction takes, the last of them a duplicate:
    // before groups, the first transactions were kept.
    let n = super::writer::MAX_BATCH * 2 + 10;
    let mut group: Vec<Command> =
        (0..n).map(|i| Command::InsertSignal(Arc::new(rich_signal(&format!("s{i}"))))).collect();
    group.push(Command::InsertSignal(Arc::new(rich_signal("s0"))));
    assert!(store.commit(group).is_err());
    assert_eq!(StoreReader::open(&path).unwrap().signal_count().unwrap(), 0, "nothing of the group stays");
    // Refused until resumed, then writing again.
    assert!(store.send(Command::InsertSignal(Arc::new(rich_signal("x")))).is_err());
    store.resume().unwrap();
    let group = (0..n).map(|i| Command::InsertSignal(Arc::new(rich_signal(&format!("s{i}"))))).collect();
    store.commit(group).unwrap();
    assert_eq!(StoreReader::open(&path).unwrap().signal_count().unwrap(), n as u64);
    store.close().unwrap();
}

#[test]
fn a_failure_discards_what_was_queued_after_it_until_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, &MonitorConfig::default()).unwrap();
    store.commit(vec![Command::InsertSignal(Arc::new(rich_signal("a")))]).unwrap();
    let failed = store.commit(vec![
        Command::InsertSignal(Arc::new(rich_signal("b"))),
        Command::InsertSignal(Arc::new(rich_signal("a"))),
    ]);
    assert!(failed.unwrap_err().to_string().contains("UNIQUE"), "the cause is passed on");
    assert!(store.flush().is_err(), "a flush says the store is failed");
    store.resume().unwrap();
    store.commit(vec![Command::InsertSignal(Arc::new(rich_signal("c")))]).unwrap();
    let reader = StoreReader::open(&path).unwrap();
    assert_eq!(reader.signal_count().unwrap(), 2, "a and c");
    assert!(reader.signal("b").unwrap().is_none());
    assert_eq!(reader.signal("c").unwrap(), Some(rich_signal("c")), "read back exactly");
    assert_eq!(store.close().unwrap().signals, 2);
}

/// Makes a file or folder read-only for this process (as root, where
/// permission bits do not stop writes, with the immutable attribute), and
/// undoes it on drop; `None` where that cannot be done here.
#[cfg(unix)]
struct ReadOnly(std::path::PathBuf);

#[cfg(unix)]
impl ReadOnly {
    fn make(path: &Path) -> Option<ReadOnly> {
        use std::os::unix::fs::PermissionsExt;
        let guard = ReadOnly(path.to_path_buf());
        let mode = if path.is_dir() { 0o555 } else { 0o444 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        if !Self::writable(path) {
            return Some(guard);
        }
        let _ = std::process::Command::new("chattr").arg("+i").arg(path).status();
        (!Self::writable(path)).then_some(guard)
    }

    fn writable(path: &Path) -> bool {
        if path.is_dir() {
            let probe = path.join("probe");
            let made = std::fs::write(&probe, "").is_ok();
            let _ = std::fs::remove_file(probe);
            made
        } else {
            std::fs::OpenOptions::new().write(true).open(path).is_ok()
        }
    }
}

#[cfg(unix)]
impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
        let mode = if self.0.is_dir() { 0o755 } else { 0o644 };
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(mode));
    }
}

/// A store at `path` holding signal "a", its writer closed.
fn store_with_a_signal(path: &Path) {
    let store = Store::open(path, &MonitorConfig::default()).unwrap();
    store.commit(vec![Command::InsertSignal(Arc::new(rich_signal("a")))]).unwrap();
    store.close().unwrap();
}

#[cfg(unix)]
#[test]
fn a_store_in_a_read_only_folder_is_read_where_it_is_and_refused_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    let path = media.join("s.db");
    store_with_a_signal(&path);
    // What a clean stop may leave: an empty write-ahead log, which holds nothing.
    std::fs::write(media.join("s.db-wal"), "").unwrap();
    std::fs::write(media.join("other.db"), "not a database").unwrap();
    let Some(_read_only) = ReadOnly::make(&media) else {
        eprintln!("cannot make a folder read-only here; skipped");
        return;
    };
    let reader = StoreReader::open(&path).unwrap();
    assert_eq!(reader.signal("a").unwrap(), Some(rich_signal("a")));
    // A file that is not a store is named as such there too.
    let other = StoreReader::open(&media.join("other.db")).unwrap_err();
    assert!(matches!(other, StoreError::NotAStore { .. }), "{other:?}");
    // Writing, to the store or to a new one there, is refused up front.
    for target in [path.clone(), media.join("new.db")] {
        let refused = connect(&target).unwrap_err();
        assert!(matches!(refused, StoreError::ReadOnly { .. }), "{refused:?}");
    }
}

#[cfg(unix)]
#[test]
fn a_store_in_a_read_only_folder_whose_log_holds_commits_is_refused_naming_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("s.db");
    let store = Store::open(&live, &MonitorConfig::default()).unwrap();
    store.commit(vec![Command::InsertSignal(Arc::new(rich_signal("a")))]).unwrap();
    // A copy taken while the writer runs: the commit is in the log, not yet in the file.
    let media = dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    std::fs::copy(&live, media.join("s.db")).unwrap();
    std::fs::copy(dir.path().join("s.db-wal"), media.join("s.db-wal")).unwrap();
    store.close().unwrap();
    assert!(std::fs::metadata(media.join("s.db-wal")).unwrap().len() > 0);
    let Some(_read_only) = ReadOnly::make(&media) else {
        eprintln!("cannot make a folder read-only here; skipped");
        return;
    };
    let refused = StoreReader::open(&media.join("s.db")).unwrap_err();
    assert!(matches!(refused, StoreError::ReadOnly { .. }), "{refused:?}");
    assert!(refused.to_string().contains("s.db-wal"), "{refused}");
}

#[cfg(unix)]
#[test]
fn a_read_only_store_file_in_a_writable_folder_is_refused_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    store_with_a_signal(&path);
    let Some(_read_only) = ReadOnly::make(&path) else {
        eprintln!("cannot make a file read-only here; skipped");
        return;
    };
    let refused = connect(&path).unwrap_err();
    assert!(matches!(refused, StoreError::ReadOnly { .. }), "{refused:?}");
}

#[test]
fn a_missing_path_or_a_folder_is_refused_as_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    assert!(matches!(StoreReader::open(&missing), Err(StoreError::Missing { .. })));
    assert!(matches!(Store::open_existing(&missing), Err(StoreError::Missing { .. })));
    let folder = StoreReader::open(dir.path()).unwrap_err();
    assert!(
        matches!(folder, StoreError::NotAStore { what, .. } if what.contains("not a file")),
        "{folder:?}"
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_not_a_store_and_a_busy_database_is_one_that_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.db");
    std::fs::write(&text, "not a database, but long enough to be read as one").unwrap();
    let refused = Store::open(&text, &MonitorConfig::default()).unwrap_err();
    assert!(
        matches!(refused, StoreError::NotAStore { what, .. } if what.starts_with("not an SQLite file")),
        "{refused:?}"
    );
    let refused = StoreReader::open(&text).unwrap_err();
    assert!(matches!(refused, StoreError::NotAStore { .. }), "{refused:?}");
    // An SQLite file another connection holds exclusively: SQLite cannot
    // read it now, which says nothing about what it is.
    let busy = dir.path().join("busy.db");
    let holder = rusqlite::Connection::open(&busy).unwrap();
    holder.execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);").unwrap();
    let refused = Store::open(&busy, &MonitorConfig::default()).unwrap_err();
    assert!(matches!(refused, StoreError::Open { .. }), "{refused:?}");
    let refused = StoreReader::open(&busy).unwrap_err();
    assert!(matches!(refused, StoreError::Open { .. }), "{refused:?}");
    drop(holder);
}

#[test]
fn versions_are_counted_by_reason_read_in_pages_and_the_newest_of_each_strategy_found() {
    use crate::versions::{VersionReason, VersionRecord};
    let version = |strategy: &str, n: u32, reason: VersionReason| {
        Command::InsertVersion(VersionRecord::bare(strategy, n, reason, Timestamp(0)))
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, &MonitorConfig::default()).unwrap();
    store
        .commit(vec![
            version("a", 1, VersionReason::Load),
            version("a", 2, VersionReason::Daily),
            version("a", 3, VersionReason::Daily),
            version("b", 1, VersionReason::Load),
            version("b", 2, VersionReason::Retrain),
        ])
        .unwrap();
    store.close().unwrap();
    let reader = StoreReader::open(&path).unwrap();
    let counts = reader.versions_by_reason().unwrap();
    assert_eq!(counts, [(VersionReason::Daily, 2), (VersionReason::Load, 2), (VersionReason::Retrain, 1)]);
    // A page: at most `limit` versions after `after`, oldest first.
    let page = |after, limit| -> Vec<u32> {
        reader.versions_page("a", after, limit).unwrap().iter().map(|v| v.version.0).collect()
    };
    assert_eq!((page(0, 10), page(1, 1)), (vec![1, 2, 3], vec![2]));
    // The newest version of each strategy, by name.
    let latest: Vec<(String, u32)> =
        reader.latest_versions().unwrap().iter().map(|v| (v.strategy.to_string(), v.version.0)).collect();
    assert_eq!(latest, [("a".to_owned(), 3), ("b".to_owned(), 2)]);
}

#[test]
fn alias_moves_read_back_in_order_and_the_last_clock_is_the_newest_state_checkpoint() {
    use crate::versions::AliasMove;
    use siglearn_plugin_api::{StrategyId, VersionId};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, &MonitorConfig::default()).unwrap();
    let moved = |strategy: &str, reason: &str, at: i64| AliasMove {
        alias: "champion".into(),
        strategy: StrategyId::new(strategy),
        version: VersionId(1),
        reason: reason.into(),
        evidence: serde_json::json!({"n": 1}),
        moved_at: Timestamp(at),
    };
    let snapshot = |anchor: bool, at: i64| Command::SaveSnapshot {
        strategy: StrategyId::new("a"),
        version: VersionId(1),
        state: serde_json::json!({}),
        at: Timestamp(at),
        anchor,
    };
    store
        .commit(vec![
            Command::MoveAlias(moved("a", "config", 1_000)),
            Command::MoveAlias(moved("b", "promote", 2_000)),
            snapshot(false, 5_000),
            snapshot(false, 7_000),
            // Neither an anchor nor a stamp outside the range is where a run stopped.
            snapshot(true, 9_000),
            snapshot(false, i64::MAX),
        ])
        .unwrap();
    store.close().unwrap();
    let reader = StoreReader::open(&path).unwrap();
    assert_eq!(
        reader.alias_history("champion").unwrap(),
        [moved("a", "config", 1_000), moved("b", "promote", 2_000)]
    );
    assert_eq!(reader.last_clock().unwrap(), Some(Timestamp(7_000)));
}

#[test]
fn every_read_returns_the_rows_written_in_its_order() {
    use crate::experiment::sequential::{PairedTest, SequentialConfig};
    use crate::schedule::{JobKind, JobRun};
    use crate::strategy::Verdict;
    use siglearn_plugin_api::{Decision, StrategyId, VersionId};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, &MonitorConfig::default()).unwrap();
    let run = |job: JobKind, at: i64, strategy: Option<&str>| JobRun {
        job,
        scheduled_at: Timestamp(at),
        strategy: strategy.map(StrategyId::new),
        figures: serde_json::json!({"at": at}),
    };
    let closed = |id: &str, exit: i64| Outcome {
        signal_id: SignalId::new(id),
        exit_ts: Timestamp(exit),
        ..outcome(id)
    };
    let test = PairedTest::new(SequentialConfig::default());
    store
        .commit(vec![
            Command::InsertSignal(Arc::new(rich_signal("x"))),
            Command::InsertSignal(Arc::new(rich_signal("y"))),
            // Closed y first, then x: commit order, not exit order.
            Command::InsertOutcome { outcome: closed("y", 120_000), known_at: Timestamp(120_000) },
            Command::InsertOutcome { outcome: closed("x", 60_000), known_at: Timestamp(180_000) },
            Command::InsertDecision(Decision {
                strategy: StrategyId::new("a"),
                version: VersionId(2),
                signal_id: SignalId::new("x"),
                take: false,
                score: 0.25,
                size: 2.0,
            }),
            Command::InsertNoDecision {
                strategy: StrategyId::new("b"),
                version: VersionId(1),
                signal_id: SignalId::new("x"),
            },
            Command::InsertJobRun(run(JobKind::Daily, 1_000, None)),
            Command::InsertJobRun(run(JobKind::Weekly, 2_000, Some("a"))),
            Command::InsertJobRun(run(JobKind::Daily, 3_000, None)),
            Command::SaveSnapshot {
                strategy: StrategyId::new("a"),
                version: VersionId(2),
                state: serde_json::json!({"w": 1}),
                at: Timestamp(4_000),
                anchor: true,
            },
            Command::SaveTests {
                champion: StrategyId::new("a"),
                tests: vec![(StrategyId::new("b"), test.clone())],
                at: Timestamp(5_000),
            },
        ])
        .unwrap();
    store.close().unwrap();
    let reader = StoreReader::open(&path).unwrap();
    let ids = |trades: Vec<crate::trade::Trade>| -> Vec<String> {
        trades.iter().map(|t| t.signal.id.to_string()).collect()
    };

    assert_eq!(ids(reader.trades_committed_after(0).unwrap()), ["y", "x"]);
    assert_eq!(ids(reader.trades_committed_after(1).unwrap()), ["x"]);
    let recent: Vec<(i64, String)> = reader
        .recent_trades(10, None, None)
        .unwrap()
        .into_iter()
        .map(|(c, t)| (c, t.signal.id.to_string()))
        .collect();
    assert_eq!(recent, [(2, "x".to_owned()), (1, "y".to_owned())]);
    let page: Vec<i64> =
        reader.recent_trades(10, None, Some(2)).unwrap().into_iter().map(|(c, _)| c).collect();
    assert_eq!(page, [1]);

    let verdict = Verdict { take: false, score: 0.25, size: 2.0 };
    assert_eq!(reader.decision("a", "x").unwrap(), Some((VersionId(2), Some(verdict))));
    assert_eq!(reader.decision("b", "x").unwrap(), Some((VersionId(1), None)));
    assert_eq!(reader.decision("c", "x").unwrap(), None);

    let mut last = reader.last_job_runs().unwrap();
    last.sort_by_key(|(job, _)| job.as_str());
    assert_eq!(last, [(JobKind::Daily, Timestamp(3_000)), (JobKind::Weekly, Timestamp(2_000))]);
    assert_eq!(
        reader.job_runs(JobKind::Daily).unwrap(),
        [run(JobKind::Daily, 1_000, None), run(JobKind::Daily, 3_000, None)]
    );
    let newest: Vec<(i64, JobRun)> = reader.recent_job_runs(None, 2, None).unwrap();
    assert_eq!(newest, [(3, run(JobKind::Daily, 3_000, None)), (2, run(JobKind::Weekly, 2_000, Some("a")))]);
    assert_eq!(
        reader.recent_job_runs(Some(JobKind::Daily), 5, Some(3)).unwrap(),
        [(1, run(JobKind::Daily, 1_000, None))]
    );

    assert_eq!(reader.anchor("a").unwrap(), Some(serde_json::json!({"w": 1})));
    assert_eq!(reader.anchor("b").unwrap(), None);
    let (champion, tests) = reader.tests().unwrap().0.unwrap();
    assert_eq!(champion, "a");
    assert_eq!(tests.len(), 1);
    assert_eq!(
        (tests[0].0.as_str(), serde_json::to_value(&tests[0].1).unwrap()),
        ("b", serde_json::to_value(&test).unwrap())
    );
}

/// JSON nested `depth` levels deep: deeper than JSON reading allows (128)
/// when `depth` is 200, as a state an older siglearn accepted could be.
fn nested(depth: usize) -> String {
    format!("{}1{}", r#"{"d":"#.repeat(depth), "}".repeat(depth))
}

#[test]
fn a_row_of_one_strategy_that_cannot_be_read_is_named_with_its_fix_and_the_others_read() {
    use crate::experiment::sequential::{PairedTest, SequentialConfig};
    use crate::versions::{AliasMove, VersionReason, VersionRecord};
    use siglearn_plugin_api::{StrategyId, VersionId};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, &MonitorConfig::default()).unwrap();
    let version = |name: &str, n| {
        Command::InsertVersion(VersionRecord::bare(name, n, VersionReason::Load, Timestamp(0)))
    };
    let snapshot = |name: &str| Command::SaveSnapshot {
        strategy: StrategyId::new(name),
        version: VersionId(1),
        state: serde_json::json!({"w": 1}),
        at: Timestamp(1_000),
        anchor: false,
    };
    let test = PairedTest::new(SequentialConfig::default());
    store
        .commit(vec![
            version("a", 1),
            version("a", 2),
            version("b", 1),
            version("c", 1),
            snapshot("b"),
            snapshot("c"),
            Command::SaveTests {
                champion: StrategyId::new("a"),
                tests: vec![(StrategyId::new("b"), test.clone()), (StrategyId::new("c"), test.clone())],
                at: Timestamp(2_000),
            },
            Command::MoveAlias(AliasMove {
                alias: "champion".into(),
                strategy: StrategyId::new("a"),
                version: VersionId(2),
                reason: "config".into(),
                evidence: serde_json::Value::Null,
                moved_at: Timestamp(0),
            }),
        ])
        .unwrap();
    store.close().unwrap();
    // Damage by hand: a's live state nested too deep, b's checkpoint and
    // promotion test not JSON, the champion's version not a number.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE versions SET state = ?1 WHERE strategy = 'a' AND n = 2", [nested(200)]).unwrap();
    conn.execute("UPDATE snapshots SET state = '{not json' WHERE strategy = 'b'", []).unwrap();
    conn.execute("UPDATE experiment SET test = '{not json' WHERE strategy = 'b'", []).unwrap();
    conn.execute("UPDATE aliases SET version = 'two'", []).unwrap();
    drop(conn);

    let reader = StoreReader::open(&path).unwrap();
    // Across strategies: the others read, the bad row is set aside, named.
    let live = reader.latest_versions_rows().unwrap();
    let names: Vec<(&str, u32)> = live.read.iter().map(|v| (v.strategy.as_str(), v.version.0)).collect();
    assert_eq!(names, [("b", 1), ("c", 1)]);
    assert_eq!(live.bad.len(), 1);
    let bad = &live.bad[0];
    assert_eq!(
        (bad.table, bad.key.as_str(), bad.strategy.as_deref(), bad.version, bad.column.as_str()),
        ("versions", "strategy = 'a' AND n = 2", Some("a"), Some(VersionId(2)), "state")
    );
    assert!(bad.reason.contains("recursion limit"), "{}", bad.reason);
    // One strategy's versions: the older one reads; a read of all of them
    // fails naming the row and the fix.
    let a = reader.versions_rows("a").unwrap();
    assert_eq!(a.read.iter().map(|v| v.version.0).collect::<Vec<_>>(), [1]);
    let message = reader.versions("a").unwrap_err().to_string();
    for part in
        ["versions row strategy = 'a' AND n = 2", "column state", "siglearn rollback --db", "do not delete"]
    {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert_eq!(reader.versions("b").unwrap().len(), 1);
    // b's checkpoint: an error naming the row and the statement that deletes it; c's reads.
    let message = reader.snapshot("b", VersionId(1)).unwrap_err().to_string();
    let delete = format!("sqlite3 {} \"DELETE FROM snapshots WHERE id = 1\"", path.display());
    assert!(message.contains("column state") && message.contains(&delete), "{message}");
    assert_eq!(reader.snapshot("c", VersionId(1)).unwrap(), Some((serde_json::json!({"w": 1}), 0)));
    // The promotion tests: c's reads, b's is set aside.
    let (tests, bad) = reader.tests().unwrap();
    let (champion, tests) = tests.unwrap();
    assert_eq!((champion.as_str(), tests.len(), tests[0].0.as_str()), ("a", 1, "c"));
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].table, bad[0].key.as_str(), bad[0].strategy.as_deref()),
        ("experiment", "strategy = 'b'", Some("b"))
    );
    // The champion alias: named, with how to name the champion again.
    let message = reader.alias("champion").unwrap_err().to_string();
    assert!(
        message.contains("aliases row alias = 'champion'") && message.contains("siglearn promote"),
        "{message}"
    );
}

#[test]
fn a_bad_row_s_fix_deletes_it_and_says_what_that_costs_in_its_table() {
    let bad = |table| BadRow {
        store: "/data/s.db".into(),
        table,
        key: "strategy = 'b'".into(),
        strategy: Some("b".into()),
        version: None,
        column: "x".into(),
        reason: "not JSON".into(),
    };
    for (table, cost) in [
        ("snapshots", "restarts from an older checkpoint"),
        ("probations", "stays live without its shadow"),
        ("experiment", "promotion test starts again"),
        ("job_runs", "set the column to a valid value"),
    ] {
        let message = bad(table).to_string();
        let delete = format!("sqlite3 /data/s.db \"DELETE FROM {table} WHERE strategy = 'b'\"");
        assert!(message.contains(&delete) && message.contains(cost), "{table}: {message}");
    }
}

#[test]
fn an_open_signal_s_fix_drops_it_with_its_decisions_only_when_its_id_can_be_named() {
    let bad = |key: &str| BadRow {
        store: "/data/s.db".into(),
        table: "signals",
        key: key.into(),
        strategy: None,
        version: None,
        column: "pattern".into(),
        reason: "pattern contains a control character".into(),
    };
    let named = bad("id = 'b3'").to_string();
    assert!(
        named.contains("not watched")
            && named.contains(
                "sqlite3 /data/s.db \"DELETE FROM decisions WHERE signal_id = 'b3'; DELETE FROM signals WHERE id = 'b3'\""
            ),
        "{named}"
    );
    // An id that is not text: the plain fix, which finds the row by its type.
    let unnamed = bad("typeof(id) <> 'text'").to_string();
    assert!(
        unnamed.contains("sqlite3 /data/s.db \"DELETE FROM signals WHERE typeof(id) <> 'text'\"")
            && !unnamed.contains("signal_typeof"),
        "{unnamed}"
    );
}

#[test]
fn a_row_whose_strategy_is_not_text_is_named_by_a_condition_that_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    Store::open(&path, &MonitorConfig::default()).unwrap().close().unwrap();
    // Damage by hand: a promotion test keyed by a blob, beside one keyed by a name.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO experiment (strategy, champion, test, updated_at) VALUES (X'00', 'a', '{}', 1000);
         INSERT INTO experiment (strategy, champion, test, updated_at) VALUES ('b', 'a', '{not json', 1000);",
    )
    .unwrap();
    let (_, bad) = StoreReader::open(&path).unwrap().tests().unwrap();
    let keys: Vec<(&str, Option<&str>)> =
        bad.iter().map(|b| (b.key.as_str(), b.strategy.as_deref())).collect();
    // By strategy, and SQLite sorts text before blobs.
    assert_eq!(keys, [("strategy = 'b'", Some("b")), ("typeof(strategy) <> 'text'", None)]);
    // Each key, as SQL, finds its row and no other.
    for key in keys.iter().map(|(key, _)| key) {
        let found: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM experiment WHERE {key}"), [], |row| row.get(0))
            .unwrap();
        assert_eq!(found, 1, "{key}");
    }
}
