//! Stores an older version wrote with instants outside the accepted range
//! (nanoseconds read as milliseconds, `i64::MIN`), and paths that are not
//! stores: every command that reads a store opens, reports, lists,
//! continues and serves, leaving those rows out and naming them.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::daemon::{Daemon, bar, scripts};
use common::{json, lineup, out, siglearn, siglearn_error, write};
use siglearn::store::StoreReader;

/// 2024-05-01T10:00:00Z in nanoseconds: what an older version stored.
const NANOS: i64 = 1_714_557_600_000_000_000;

const HEADER: &str =
    "signal_id,symbol,side,entry_ts,entry_price,take_profit,stop_loss,max_hold_minutes,head.h";

/// Four longs at 100 that all reach their target in the 00:01 bar (high
/// 112): the head `h` agrees with a and b, disagrees with c and d; targets
/// of 110 and 105 give returns of 10 % and 5 % on each side, so the head's
/// edge has a spread and its interval is computed (with the design effect).
const SIGNALS: &str = "a,A,long,2024-01-01T00:00:00Z,100,110,95,,1\n\
    b,A,long,2024-01-01T00:00:00Z,100,105,95,,1\n\
    c,A,long,2024-01-01T00:00:00Z,100,110,95,,-1\n\
    d,A,long,2024-01-01T00:00:00Z,100,105,95,,-1\n";

/// Copies the row of `table` where `key` = `from` as `to`, with `column`
/// set to `value` (what an older version would have written).
fn copy_row(store: &rusqlite::Connection, table: &str, key: &str, from: &str, changes: &str) {
    store
        .execute_batch(&format!(
            "DROP TABLE IF EXISTS temp.copied;
             CREATE TEMP TABLE copied AS SELECT * FROM {table} WHERE {key} = '{from}';
             UPDATE temp.copied SET {changes};
             INSERT INTO {table} SELECT * FROM temp.copied;"
        ))
        .unwrap();
}

/// Adds to the store at `db` what an older version could have left: signal
/// `e` entered at [`NANOS`] with its outcome an hour later, a job run, a
/// checkpoint and a probation save at that time, and version 1's creation
/// at `i64::MIN`. Returns how many stamps are out of range (7).
fn add_out_of_range_rows(db: &Path) -> u64 {
    let store = rusqlite::Connection::open(db).unwrap();
    copy_row(&store, "signals", "id", "a", &format!("id = 'e', entry_ts = {NANOS}"));
    copy_row(
        &store,
        "outcomes",
        "signal_id",
        "a",
        &format!("signal_id = 'e', exit_ts = {}, known_ts = {}", NANOS + 3_600_000, NANOS + 3_600_000),
    );
    store
        .execute(
            "INSERT INTO job_runs (job, scheduled_at, strategy, figures) VALUES ('hourly', ?1, NULL, '{}')",
            [NANOS],
        )
        .unwrap();
    store
        .execute(
            "INSERT INTO snapshots (kind, strategy, version, state, outcomes_through, at)
             SELECT kind, strategy, version, state, outcomes_through, ?1 FROM snapshots
             WHERE kind = 'state' ORDER BY id DESC LIMIT 1",
            [NANOS],
        )
        .unwrap();
    store.execute("UPDATE versions SET created_at = ?1 WHERE n = 1", [i64::MIN]).unwrap();
    // signals.entry_ts, outcomes.exit_ts and known_ts, the job run, the
    // snapshot, and one version per strategy (one strategy here).
    let versions: i64 =
        store.query_row("SELECT COUNT(*) FROM versions WHERE n = 1", [], |row| row.get(0)).unwrap();
    3 + 1 + 1 + versions.unsigned_abs()
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../scripts/{name}.rhai", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_command_reads_a_store_holding_out_of_range_stamps_without_those_rows() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(
        dir.path(),
        "c.csv",
        "symbol,ts,open,high,low,close,volume\n\
         A,2024-01-01T00:00:00Z,100,101,99,100,1\n\
         A,2024-01-01T00:01:00Z,100,112,99,110,1\n",
    );
    let signals = write(dir.path(), "s.csv", &format!("{HEADER}\n{SIGNALS}"));
    let config = lineup(dir.path(), &[("baseline", &shipped("baseline"))], "");
    let db = out(dir.path(), "s.db");
    siglearn(&["replay", "--candles", &candles, "--signals", &signals, "--config", &config, "--db", &db])
        .unwrap();
    let stamps = add_out_of_range_rows(Path::new(&db));

    let found = StoreReader::open(Path::new(&db)).unwrap().out_of_range().unwrap();
    assert_eq!(found.count, stamps, "{found}");
    let text = found.to_string();
    assert!(text.contains("signal 'e': signals.entry_ts = 1714557600000000000"), "{text}");
    assert!(text.contains("delete that row"), "{text}");

    // report: the four trades the store holds in range, not e (this aborted
    // allocating a slot per day up to the year 56 million).
    let report = out(dir.path(), "r.json");
    siglearn(&["report", "--db", &db, "--report-out", &report]).unwrap();
    assert_eq!(json(&report)["overall"]["total_trades"], 4);
    siglearn(&["report", "--db", &db]).unwrap();
    // strategies and versions: listed, version 1 created at 1970.
    siglearn(&["strategies", "--db", &db, "--json"]).unwrap();
    siglearn(&["versions", "baseline", "--db", &db]).unwrap();
    let versions = StoreReader::open(Path::new(&db)).unwrap().versions("baseline").unwrap();
    assert_eq!(versions[0].created_at, siglearn_plugin_api::Timestamp(0));

    // replay continuing the store: its run ended when the 00:01 bar closed
    // (not in the year 56 million), so data from 00:02 on continues it.
    let later_candles = write(
        dir.path(),
        "later-c.csv",
        "symbol,ts,open,high,low,close,volume\n\
         A,2024-01-01T00:02:00Z,110,111,109,110,1\n\
         A,2024-01-01T00:03:00Z,110,122,109,120,1\n",
    );
    let later =
        write(dir.path(), "later.csv", &format!("{HEADER}\nf,A,long,2024-01-01T00:02:00Z,110,120,100,,1\n"));
    siglearn(&["replay", "--candles", &later_candles, "--signals", &later, "--config", &config, "--db", &db])
        .unwrap();
    siglearn(&["report", "--db", &db, "--report-out", &report]).unwrap();
    assert_eq!(json(&report)["overall"]["total_trades"], 5);
    // Nothing was lost: the set-aside rows are still in the store.
    let reader = StoreReader::open(Path::new(&db)).unwrap();
    assert_eq!((reader.signal_count().unwrap(), reader.outcome_count().unwrap()), (6, 6));
}

/// A long at 100 with `target`, its head `h` voting `vote`.
fn voted(id: &str, target: u32, vote: i32) -> String {
    format!(
        r#"{{"signal_id":"{id}","symbol":"BTC","side":"long","entry_ts":"2024-01-01T00:00:00Z","entry_price":100,"take_profit":{target},"stop_loss":95,"heads":{{"h":{vote}}}}}"#
    )
}

#[test]
fn the_daemon_starts_and_serves_a_store_holding_out_of_range_stamps() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let batch = format!(
        "[{},{},{},{}]",
        voted("a", 110, 1),
        voted("b", 105, 1),
        voted("c", 110, -1),
        voted("d", 105, -1)
    );
    assert_eq!(daemon.post("/api/signals", &batch).status, 200);
    let closed = daemon.post("/api/prices", &bar("BTC", "2024-01-01T00:01:00Z", 100.0, 112.0, 99.0));
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(daemon.stop().code(), Some(0));
    add_out_of_range_rows(&dir.path().join("siglearn.db"));
    // This started, said it listened, and aborted allocating per day.
    let daemon = Daemon::start(dir.path(), &[]);
    assert_eq!(daemon.get("/healthz").status, 200);
    let performance = daemon.wait_for("/api/learning/performance?period=all", Duration::from_secs(30), |p| {
        p["overall"]["total_trades"] == 4
    });
    assert_eq!(performance["overall"]["wins"], 4);
    assert_eq!(daemon.get("/api/outcomes").json()["count"], 4);
    assert_eq!(daemon.stop().code(), Some(0));
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("signal 'e'") && log.contains("delete that row"), "{log}");
}

#[test]
fn a_path_that_is_not_a_store_is_named_and_no_file_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let missing = out(dir.path(), "nonexist.db");
    let commands: [&[&str]; 3] =
        [&["report", "--db"], &["strategies", "--db"], &["versions", "baseline", "--db"]];
    for command in commands {
        let mut args = command.to_vec();
        args.push(&missing);
        let error = siglearn_error(&args);
        assert!(
            error.contains(&format!(
                "no store at {missing} (run a replay with --db {missing} or start the daemon to create one)"
            )),
            "{args:?}: {error}"
        );
    }
    for command in ["rollback", "promote"] {
        let error = siglearn_error(&[command, "baseline", "1", "--db", &missing]);
        assert!(error.contains(&format!("no store at {missing}")), "{command}: {error}");
    }
    assert!(!Path::new(&missing).exists(), "a read command made {missing}");

    // Another program's SQLite file: refused, and left as it was.
    let foreign = out(dir.path(), "other.db");
    let other = rusqlite::Connection::open(&foreign).unwrap();
    other.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');").unwrap();
    drop(other);
    let before = std::fs::read(&foreign).unwrap();
    let expected = format!("{foreign} is an SQLite file but not a siglearn store");
    let candles = write(
        dir.path(),
        "c.csv",
        "symbol,ts,open,high,low,close,volume\nA,2024-01-01T00:00:00Z,100,101,99,100,1\n",
    );
    let signals = write(dir.path(), "s.csv", &format!("{HEADER}\n{}", SIGNALS.lines().next().unwrap()));
    let commands: [&[&str]; 5] = [
        &["report", "--db"],
        &["strategies", "--db"],
        &["versions", "baseline", "--db"],
        &["rollback", "baseline", "1", "--db"],
        &["replay", "--candles", &candles, "--signals", &signals, "--db"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push(&foreign);
        let error = siglearn_error(&args);
        assert!(error.contains(&expected), "{args:?}: {error}");
    }
    assert_eq!(std::fs::read(&foreign).unwrap(), before, "the foreign file is untouched");

    let text = write(dir.path(), "notes.txt", "not a database at all, just some text that is long enough\n");
    let error = siglearn_error(&["report", "--db", &text]);
    assert!(error.contains(&format!("{text} is not an SQLite file")), "{error}");
}

#[test]
fn a_replay_into_a_store_the_daemon_holds_is_refused_naming_the_daemon_first() {
    let dir = tempfile::tempdir().unwrap();
    scripts(dir.path(), &["baseline"]);
    let daemon = Daemon::start(dir.path(), &[]);
    let batch = format!("[{}]", voted("a", 110, 1));
    assert_eq!(daemon.post("/api/signals", &batch).status, 200);
    let db = out(dir.path(), "siglearn.db");
    let candles = write(
        dir.path(),
        "c.csv",
        "symbol,ts,open,high,low,close,volume\nA,2024-01-01T00:00:00Z,100,101,99,100,1\n",
    );
    // The same signal again (else "already in the store"), and data from
    // before the daemon's clock (else "the new data starts before").
    for (name, id) in [("same.csv", "a"), ("new.csv", "z")] {
        let signals =
            write(dir.path(), name, &format!("{HEADER}\n{id},A,long,2024-01-01T00:00:00Z,100,110,95,,1\n"));
        let error = siglearn_error(&["replay", "--candles", &candles, "--signals", &signals, "--db", &db]);
        assert!(error.contains("a siglearn daemon (pid") && error.contains("holds the store"), "{error}");
    }
    assert_eq!(daemon.stop().code(), Some(0));
}
