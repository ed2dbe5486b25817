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
