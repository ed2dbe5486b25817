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
