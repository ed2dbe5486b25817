//! Numbered schema migrations. Each runs once, in order, inside a
//! transaction, and is recorded in `schema_migrations`. Never edit a
//! released migration: add the next number.

use rusqlite::{Connection, params};

use super::StoreError;

/// (version, name, SQL)
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "signals and outcomes",
        "
    -- Settings that decide outcomes (ambiguity policy, fee). A store holds
    -- outcomes of one setting only, so results are never mixed.
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    -- Every accepted signal; rowid is the arrival order. Decisions,
    -- strategy versions and job runs refer to signals by id.
    CREATE TABLE signals (
        id          TEXT PRIMARY KEY,
        symbol      TEXT NOT NULL,
        side        TEXT NOT NULL CHECK (side IN ('long', 'short')),
        entry_ts    INTEGER NOT NULL,   -- ms since the epoch, UTC
        entry_price REAL NOT NULL,
        take_profit REAL,
        stop_loss   REAL,
        max_hold_ms INTEGER,
        confidence  REAL,
        pattern     TEXT,
        regime      TEXT,
        heads       TEXT NOT NULL DEFAULT '{}',   -- JSON object: head -> vote
        indicators  TEXT NOT NULL DEFAULT '{}'    -- JSON object: name -> value
    );
    CREATE INDEX signals_by_symbol ON signals (symbol, entry_ts);

    -- One row per closed signal. A signal without a row here is open.
    CREATE TABLE outcomes (
        signal_id  TEXT PRIMARY KEY REFERENCES signals (id),
        kind       TEXT NOT NULL CHECK (kind IN ('TP_HIT', 'SL_HIT', 'TIME_EXIT')),
        exit_ts    INTEGER NOT NULL,
        exit_price REAL NOT NULL,
        pnl_pct    REAL NOT NULL,
        holding_ms INTEGER NOT NULL,
        ambiguous  INTEGER NOT NULL CHECK (ambiguous IN (0, 1)),
        mfe_pct    REAL NOT NULL,
        mae_pct    REAL NOT NULL
    );
    CREATE INDEX outcomes_by_exit ON outcomes (exit_ts, signal_id);
    ",
    ),
    (
        2,
        "strategies, versions, aliases, decisions, jobs",
        "
    -- Script or library sources by hash, so a rollback restores code.
    CREATE TABLE code (
        hash   TEXT PRIMARY KEY,
        source TEXT NOT NULL
    );

    -- Every state or code change of a strategy; append-only. The newest
    -- version of a strategy is the live one (a rollback copies an old one).
    CREATE TABLE versions (
        strategy   TEXT NOT NULL,
        n          INTEGER NOT NULL,
        parent     INTEGER,
        code_hash  TEXT NOT NULL,
        params     TEXT NOT NULL,   -- JSON
        state      TEXT NOT NULL,   -- JSON
        reason     TEXT NOT NULL CHECK (reason IN
                   ('load', 'reload', 'daily', 'retrain', 'promote', 'rollback', 'manual')),
        metrics    TEXT NOT NULL,   -- JSON
        created_at INTEGER NOT NULL,   -- engine time, ms
        PRIMARY KEY (strategy, n)
    );

    -- Where each alias points now, and every move it made.
    CREATE TABLE aliases (
        alias    TEXT PRIMARY KEY,
        strategy TEXT NOT NULL,
        version  INTEGER NOT NULL
    );
    CREATE TABLE alias_history (
        id       INTEGER PRIMARY KEY,
        alias    TEXT NOT NULL,
        strategy TEXT NOT NULL,
        version  INTEGER NOT NULL,
        reason   TEXT NOT NULL,
        evidence TEXT NOT NULL,     -- JSON
        moved_at INTEGER NOT NULL
    );

    -- Every strategy's decision on every signal; take is NULL when the
    -- strategy failed to decide (the error is in strategy_errors).
    CREATE TABLE decisions (
        strategy  TEXT NOT NULL,
        signal_id TEXT NOT NULL REFERENCES signals (id),
        version   INTEGER NOT NULL,
        take      INTEGER CHECK (take IN (0, 1)),
        score     REAL,
        size      REAL,
        PRIMARY KEY (strategy, signal_id)
    );

    -- Scheduled job runs with their figures.
    CREATE TABLE job_runs (
        id           INTEGER PRIMARY KEY,
        job          TEXT NOT NULL CHECK (job IN ('daily', 'weekly', 'hourly')),
        scheduled_at INTEGER NOT NULL,
        strategy     TEXT,
        figures      TEXT NOT NULL  -- JSON
    );
    CREATE INDEX job_runs_by_job ON job_runs (job, scheduled_at);

    -- Checkpoints of strategy states between versions: the state of a
    -- version after learning every outcome up to outcomes_through (an
    -- outcomes rowid). A restart takes the newest one of the live version
    -- and learns the outcomes after it again.
    -- kind 'anchor': the state a weekly run left, which the next weekly
    -- retraining starts its candidate from.
    CREATE TABLE snapshots (
        id               INTEGER PRIMARY KEY,
        kind             TEXT NOT NULL CHECK (kind IN ('state', 'anchor')),
        strategy         TEXT NOT NULL,
        version          INTEGER NOT NULL,
        state            TEXT NOT NULL,   -- JSON
        outcomes_through INTEGER NOT NULL,
        at               INTEGER NOT NULL
    );
    CREATE INDEX snapshots_by_strategy ON snapshots (strategy, version, id);

    -- The promotion tests in progress: each challenger against the champion,
    -- since the champion last changed. Replaced as a whole when saved.
    CREATE TABLE experiment (
        strategy   TEXT PRIMARY KEY,
        champion   TEXT NOT NULL,
        test       TEXT NOT NULL,   -- JSON of the paired test
        updated_at INTEGER NOT NULL
    );

    -- Failures of strategy hooks, where they happened.
    CREATE TABLE strategy_errors (
        id        INTEGER PRIMARY KEY,
        strategy  TEXT NOT NULL,
        hook      TEXT,
        path      TEXT NOT NULL,
        line      INTEGER,
        position  INTEGER,
        signal_id TEXT,
        message   TEXT NOT NULL,
        at        INTEGER NOT NULL
    );
    ",
    ),
    (
        3,
        "plugin libraries",
        "
    -- Native plugin libraries by hash (the code table holds scripts), so a
    -- rollback to a plugin version loads the very library it ran.
    CREATE TABLE libraries (
        hash      TEXT PRIMARY KEY,
        file_name TEXT NOT NULL,
        bytes     BLOB NOT NULL
    );
    ",
    ),
    (
        4,
        "probations",
        "
    -- The deploys on probation when last saved, each with its shadow (the
    -- version it replaced: state, decisions on open signals, the paired
    -- test) as JSON. Replaced as a whole when saved. outcomes_through as in
    -- snapshots: a restart learns the outcomes after it again.
    CREATE TABLE probations (
        strategy         TEXT PRIMARY KEY,
        probation        TEXT NOT NULL,   -- JSON
        outcomes_through INTEGER NOT NULL,
        saved_at         INTEGER NOT NULL
    );
    ",
    ),
    (
        5,
        "when each outcome became known",
        "
    -- The time the strategies learned the outcome: the close of the bar
    -- that decided it (exit_ts is that bar's open). NULL in rows written
    -- before it was recorded; readers then take exit_ts.
    ALTER TABLE outcomes ADD COLUMN known_ts INTEGER;
    ",
    ),
    (
        6,
        "prices the daemon took lately",
        "
    -- The last bars the daemon took (as many as it keeps in memory, by
    -- seq), so that after a restart a bar sent again is still told from a
    -- changed one. Written with the batch that took them.
    CREATE TABLE recent_bars (
        seq    INTEGER PRIMARY KEY,
        symbol TEXT NOT NULL,
        ts     INTEGER NOT NULL,   -- the bar's open time, ms
        open   REAL NOT NULL,
        high   REAL NOT NULL,
        low    REAL NOT NULL,
        close  REAL NOT NULL,
        volume REAL NOT NULL,
        UNIQUE (symbol, ts)
    );
    -- Each symbol's last price time (bar or tick) the daemon took, so that
    -- after a restart a price before it is still refused.
    CREATE TABLE last_prices (
        symbol TEXT PRIMARY KEY,
        ts     INTEGER NOT NULL
    );
    ",
    ),
];

/// The newest schema version this build knows.
pub(crate) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Brings the schema up to [`LATEST`]; refuses a store from a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    )?;
    let current: i64 =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::TooNew { found: current, known: LATEST });
    }
    for &(version, name, sql) in MIGRATIONS.iter().filter(|(version, ..)| *version > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)", params![version, name])?;
        tx.commit()?;
    }
    Ok(())
}
