//! The SQLite store: one writer thread, readers on their own connections.
//!
//! [`Store`] owns the write connection on a dedicated thread fed by a
//! bounded channel of typed [`Command`]s; a full channel blocks the sender
//! (back-pressure) instead of growing memory. The writer commits whatever has
//! queued up in one transaction, so a replay writes in large batches while
//! [`Store::flush`] still gives a caller a point where everything it sent is
//! committed (the daemon acknowledges a batch only after that). Schema
//! changes are numbered migrations ([`migrations`]). [`StoreReader`] opens
//! read-only connections for reports. A [`Command::Group`] is committed in
//! one transaction, whatever its size. One process writes a store at a
//! time: [`Store`] holds the store's lock file while it is open ([`lock`]).

mod lock;
mod migrations;
mod range;
mod reader;
mod recent;
mod rows;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;
use siglearn_plugin_api::{
    Bar, Decision, Outcome, Signal, SignalId, StrategyId, Symbol, Timestamp, VersionId,
};

pub use lock::{Holder, WriteLock, announce};
pub use range::OutOfRange;
pub use reader::{DecisionsBySignal, SavedTests, StoreReader};
pub use recent::{RecentPrices, recent_prices};
pub use rows::{BadRow, Rows};
use writer::Writer;

use crate::engine::Effect;
use crate::experiment::sequential::PairedTest;
use crate::monitor::MonitorConfig;
use crate::schedule::JobRun;
use crate::strategy::StrategyError;
use crate::versions::{AliasMove, VersionRecord};

/// How many commands may wait for the writer before senders block.
const CHANNEL_CAPACITY: usize = 8192;

/// A write for the writer thread.
#[derive(Debug)]
pub enum Command {
    InsertSignal(Arc<Signal>),
    /// An outcome, and when it became known to the strategies.
    InsertOutcome {
        outcome: Outcome,
        known_at: Timestamp,
    },
    InsertDecision(Decision),
    /// A strategy that failed to decide on a signal.
    InsertNoDecision {
        strategy: StrategyId,
        version: VersionId,
        signal_id: SignalId,
    },
    InsertVersion(VersionRecord),
    MoveAlias(AliasMove),
    InsertJobRun(JobRun),
    InsertStrategyError {
        error: StrategyError,
        at: Timestamp,
    },
    /// A checkpoint of a strategy's state; the writer stamps it with the last
    /// outcome committed before it.
    SaveSnapshot {
        strategy: StrategyId,
        version: VersionId,
        state: serde_json::Value,
        at: Timestamp,
        /// An anchor for the next weekly retraining rather than a checkpoint.
        anchor: bool,
    },
    /// Replaces the saved promotion tests.
    SaveTests {
        champion: StrategyId,
        tests: Vec<(StrategyId, PairedTest)>,
        at: Timestamp,
    },
    /// Replaces the saved probations.
    SaveProbations {
        probations: Vec<crate::engine::SavedProbation>,
        at: Timestamp,
    },
    /// The bars and last price times of a batch of prices the daemon took,
    /// keeping only the newest `keep` bars (see [`recent_prices`]).
    RememberPrices {
        bars: Vec<(Symbol, Bar)>,
        last: Vec<(Symbol, Timestamp)>,
        keep: usize,
    },
    /// Commands committed in one transaction, never split: one request of
    /// the daemon is in the store whole or not at all.
    Group(Vec<Command>),
    /// Answered once every command sent before it is committed.
    Flush(SyncSender<Result<(), String>>),
    /// Lets a writer whose transaction failed write again (see
    /// [`Store::resume`]).
    Resume(SyncSender<Result<(), String>>),
}

impl Command {
    /// The rows it stands for, roughly: what a batch is limited by.
    fn size(&self) -> usize {
        match self {
            Command::Group(commands) => commands.iter().map(Command::size).sum(),
            _ => 1,
        }
    }

    /// The answers it waits for, when it will not be written.
    fn take_acks(self, acks: &mut Vec<SyncSender<Result<(), String>>>) {
        match self {
            Command::Flush(ack) | Command::Resume(ack) => acks.push(ack),
            Command::Group(commands) => commands.into_iter().for_each(|c| c.take_acks(acks)),
            _ => {}
        }
    }

    /// The rows an engine effect stands for, appended to `out`. `now` is
    /// the engine time (for error records and when an outcome became known).
    pub fn of_effect(effect: &Effect, now: Timestamp, out: &mut Vec<Command>) {
        match effect {
            Effect::SignalAccepted(signal) => out.push(Command::InsertSignal(Arc::clone(signal))),
            Effect::Decided(decision) => out.push(Command::InsertDecision(decision.clone())),
            Effect::NoDecision { strategy, version, signal_id, error } => {
                out.push(Command::InsertNoDecision {
                    strategy: strategy.clone(),
                    version: *version,
                    signal_id: signal_id.clone(),
                });
                out.push(Command::InsertStrategyError { error: error.clone(), at: now });
            }
            Effect::Closed(trade) => {
                out.push(Command::InsertOutcome { outcome: trade.outcome.clone(), known_at: now })
            }
            Effect::StrategyFailed(error) => {
                out.push(Command::InsertStrategyError { error: error.clone(), at: now })
            }
            Effect::VersionCreated(record) => {
                out.push(Command::InsertVersion(record.clone()));
                out.push(Command::SaveSnapshot {
                    strategy: record.strategy.clone(),
                    version: record.version,
                    state: record.state.clone(),
                    at: record.created_at,
                    anchor: false,
                });
            }
            Effect::Anchored { strategy, version, state, at } => out.push(Command::SaveSnapshot {
                strategy: strategy.clone(),
                version: *version,
                state: state.clone(),
                at: *at,
                anchor: true,
            }),
            Effect::AliasMoved(alias) => out.push(Command::MoveAlias(alias.clone())),
            Effect::JobRan(run) => out.push(Command::InsertJobRun(run.clone())),
            // A rollback it ends in is its own VersionCreated.
            Effect::ProbationStarted { .. } | Effect::ProbationEnded { .. } => {}
        }
    }
}

/// What the writer did, returned by [`Store::close`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub signals: u64,
    pub outcomes: u64,
    /// Every other row: decisions, versions, alias moves, job runs, errors.
    pub other_rows: u64,
    pub transactions: u64,
}

/// A store that cannot be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open store {}: {source}", path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("no store at {p} (run a replay with --db {p} or start the daemon to create one)", p = path.display())]
    Missing { path: PathBuf },
    #[error("{} is {what}; check the --db path (a siglearn store is the SQLite file a replay with --db or the daemon wrote)", path.display())]
    NotAStore { path: PathBuf, what: &'static str },
    #[error("store schema version {found} is newer than this siglearn knows ({known}); upgrade siglearn")]
    TooNew { found: i64, known: i64 },
    #[error(
        "store {} holds outcomes decided with {stored}, but this run uses {requested}; \
         use a new --db file or the same settings",
        path.display()
    )]
    SettingsDiffer { path: PathBuf, stored: String, requested: String },
    #[error("the store writer stopped: {0}")]
    WriterStopped(String),
    #[error("bad data in the store: {0}")]
    Corrupt(String),
    /// A row of the store that cannot be read, named with its fix.
    #[error("{0}")]
    BadRow(Box<BadRow>),
    #[error("store {} cannot be used here: {fix}", path.display())]
    ReadOnly { path: PathBuf, fix: String },
    #[error("{}", lock::held_message(path, holder.as_ref()))]
    Held { path: PathBuf, holder: Option<Holder> },
    #[error("cannot take the write lock {}: {source} (a store is written by one process at a time; its folder must be writable)", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    /// A symlink or other file planted where the store's lock file goes.
    #[error("{0}")]
    Planted(crate::user_file::OwnFileError),
    #[error(
        "the store {p} has {links} names (hard links to one file): SQLite keeps a store's write-ahead log \
         and lock by the name it is opened under, so two names let a second writer in and can corrupt it \
         (https://sqlite.org/howtocorrupt.html, \"Multiple links to the same file\"); remove the other \
         links (`find / -xdev -samefile {p}` lists them) and use one path (a symlink is fine)",
        p = path.display()
    )]
    Linked { path: PathBuf, links: u64 },
}

/// The settings that decide outcomes, as stored with them.
fn settings_text(config: &MonitorConfig) -> String {
    format!("ambiguity={} fee_pct={}", config.ambiguity, config.fee_pct)
}

/// Opens (creating if needed) and migrates the store at `path`; a store in
/// a folder this process cannot write is refused with an error that says so.
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let read_only = || StoreError::ReadOnly {
        path: path.to_path_buf(),
        fix: "it (or its folder) is read-only, and writing needs a writable folder (SQLite keeps \
              its -wal and -shm files beside the store); the read commands (report, strategies, \
              versions) read it where it is, or copy it to a writable folder"
            .to_owned(),
    };
    // Checked first: SQLite may open such a store and fail only at the
    // first write, long after start.
    if read_only_folder(path) || read_only_file(path) {
        return Err(read_only());
    }
    open_for_writing(path)
}

fn open_for_writing(path: &Path) -> Result<Connection, StoreError> {
    let mut conn =
        Connection::open(path).map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
    // Another program's database is refused before anything is written
    // into it; an empty file or database becomes a new store.
    match store_kind(&conn) {
        Ok(StoreKind::Siglearn | StoreKind::Empty) => {}
        Ok(StoreKind::Foreign) => return Err(not_a_store(path, true)),
        Err(error) if not_sqlite(&error) => return Err(not_a_store(path, false)),
        Err(error) => return Err(StoreError::Open { path: path.to_path_buf(), source: error }),
    }
    // WAL lets readers work while the writer commits; NORMAL sync keeps
    // every committed transaction across a process crash.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")?;
    migrations::migrate(&mut conn)?;
    Ok(conn)
}

/// What an SQLite file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreKind {
    /// A siglearn store (it has the migrations table).
    Siglearn,
    /// No tables at all: a new file.
    Empty,
    /// Tables, but not a siglearn store's.
    Foreign,
}

/// What the database open on `conn` holds; an error for a file that is not
/// SQLite (see [`not_sqlite`]).
pub(crate) fn store_kind(conn: &Connection) -> rusqlite::Result<StoreKind> {
    let (tables, ours): (i64, bool) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(name = 'schema_migrations'), 0) > 0 FROM sqlite_master WHERE type = 'table'",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(match (ours, tables) {
        (true, _) => StoreKind::Siglearn,
        (false, 0) => StoreKind::Empty,
        (false, _) => StoreKind::Foreign,
    })
}

/// Whether SQLite found the file is not a database.
pub(crate) fn not_sqlite(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::NotADatabase)
}

/// The refusal of a file that is not a siglearn store.
pub(crate) fn not_a_store(path: &Path, sqlite: bool) -> StoreError {
    let what = if sqlite {
        "an SQLite file but not a siglearn store"
    } else {
        "not an SQLite file, so not a siglearn store"
    };
    StoreError::NotAStore { path: path.to_path_buf(), what }
}

/// The refusal of a path where a store should be: missing, or not a file.
pub(crate) fn no_store_file(path: &Path) -> Option<StoreError> {
    if !path.exists() {
        Some(StoreError::Missing { path: path.to_path_buf() })
    } else if !path.is_file() {
        Some(StoreError::NotAStore { path: path.to_path_buf(), what: "not a file, so not a siglearn store" })
    } else {
        None
    }
}

/// Whether the folder of `path` exists but this process cannot create a file
/// in it (read-only media, permissions, an immutable folder). Tried by
/// creating and removing a probe file: permission bits alone do not tell
/// (root, read-only mounts).
pub(crate) fn read_only_folder(path: &Path) -> bool {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return false;
    }
    let probe = folder.join(format!(".siglearn-write-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            false
        }
        Err(error) => error.kind() != std::io::ErrorKind::AlreadyExists,
    }
}

/// Whether `path` exists and cannot be opened for writing.
fn read_only_file(path: &Path) -> bool {
    path.is_file() && std::fs::OpenOptions::new().write(true).open(path).is_err()
}

/// The write side of the store.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    sender: Option<SyncSender<Command>>,
    thread: Option<JoinHandle<Result<WriterStats, StoreError>>>,
    /// The writer's failed transaction, until [`Store::resume`].
    failure: Arc<Mutex<Option<String>>>,
    /// Held as long as the store is open: no other process writes it.
    /// Dropped after [`Store::shutdown`] closed the writer's connection
    /// (fields drop after `Drop::drop`), as the lock's notes require.
    _lock: WriteLock,
}

impl Store {
    /// Opens the store at `path` for outcomes decided with `config`, and
    /// starts its writer thread.
    /// Refused ([`StoreError::Held`]) while another process writes it.
    pub fn open(path: &Path, config: &MonitorConfig) -> Result<Self, StoreError> {
        Self::open_locked(WriteLock::acquire(path)?, config)
    }

    /// [`Store::open`] with its lock already taken (before the caller read
    /// the store to decide what to write).
    pub fn open_locked(mut lock: WriteLock, config: &MonitorConfig) -> Result<Self, StoreError> {
        let path = &lock.store().to_path_buf();
        lock.hold_store()?;
        let conn = connect(lock.file())?;
        let requested = settings_text(config);
        let stored: Option<String> = conn
            .query_row("SELECT value FROM settings WHERE key = 'outcomes'", [], |row| row.get(0))
            .map(Some)
            .or_else(|error| match error {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        match stored {
            Some(stored) if stored != requested => {
                return Err(StoreError::SettingsDiffer { path: path.to_path_buf(), stored, requested });
            }
            Some(_) => {}
            None => {
                conn.execute("INSERT INTO settings (key, value) VALUES ('outcomes', ?1)", [&requested])?;
            }
        }
        Self::spawn(path, conn, lock)
    }

    /// Opens an existing store to record versions and alias moves, whatever
    /// outcome settings it holds.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if let Some(error) = no_store_file(path) {
            return Err(error);
        }
        let mut lock = WriteLock::acquire(path)?;
        lock.hold_store()?;
        // Only a store that exists: another program's file (or an empty
        // one) is refused rather than made into a store.
        StoreReader::open(path)?;
        let conn = connect(lock.file())?;
        Self::spawn(path, conn, lock)
    }

    fn spawn(path: &Path, conn: Connection, lock: WriteLock) -> Result<Self, StoreError> {
        let (sender, receiver) = mpsc::sync_channel(CHANNEL_CAPACITY);
        let failure = Arc::new(Mutex::new(None));
        let writer = Writer::new(conn, Arc::clone(&failure));
        let thread = std::thread::Builder::new()
            .name("siglearn-store".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| StoreError::WriterStopped(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            path: path.to_path_buf(),
            sender: Some(sender),
            thread: Some(thread),
            failure,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a write; blocks while the queue is full. Refused after a
    /// failed transaction, until [`Store::resume`].
    pub fn send(&self, command: Command) -> Result<(), StoreError> {
        if let Some(failure) = self.failure.lock().ok().and_then(|f| f.clone()) {
            return Err(StoreError::WriterStopped(failure));
        }
        self.queue(command)
    }

    fn queue(&self, command: Command) -> Result<(), StoreError> {
        let sender = self.sender.as_ref().ok_or_else(|| StoreError::WriterStopped("store closed".into()))?;
        sender.send(command).map_err(|_| StoreError::WriterStopped("see the error returned by close".into()))
    }

    /// Commits `commands` in one transaction and waits for it: all of them
    /// are in the store, or (on an error) none.
    pub fn commit(&self, commands: Vec<Command>) -> Result<(), StoreError> {
        if !commands.is_empty() {
            self.send(Command::Group(commands))?;
        }
        self.flush()
    }

    /// After a failed transaction, lets the writer write again. Whatever
    /// was sent before is discarded; the caller rebuilds what it had built
    /// on it (the daemon reloads its engine from the store).
    pub fn resume(&self) -> Result<(), StoreError> {
        let (reply, done) = mpsc::sync_channel(1);
        self.queue(Command::Resume(reply))?;
        match done.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::WriterStopped(message)),
            Err(_) => Err(StoreError::WriterStopped("the writer exited".into())),
        }
    }

    /// Queues the rows an engine effect stands for. `now` is the engine time
    /// (for error records).
    pub fn record(&self, effect: &Effect, now: Timestamp) -> Result<(), StoreError> {
        let mut commands = Vec::new();
        Command::of_effect(effect, now, &mut commands);
        commands.into_iter().try_for_each(|command| self.send(command))
    }

    /// Waits until every write sent so far is committed.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (reply, done) = mpsc::sync_channel(1);
        self.send(Command::Flush(reply))?;
        match done.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::WriterStopped(message)),
            Err(_) => Err(StoreError::WriterStopped("the writer exited before committing".into())),
        }
    }

    /// Commits everything queued, stops the writer and reports what it wrote.
    pub fn close(mut self) -> Result<WriterStats, StoreError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<WriterStats, StoreError> {
        drop(self.sender.take());
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(StoreError::WriterStopped("the writer thread panicked".into()))),
            None => Ok(WriterStats::default()),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown() {
            tracing::error!(store = %self.path.display(), %error, "store writer failed while closing");
        }
    }
}

#[cfg(test)]
mod tests;
