//! Read-only access to a store, for reports and the API read model.
//!
//! Rows stamped outside the accepted range are left out or read as 1970
//! ([`super::range`]). A row of a strategy that cannot be read is named
//! with its fix ([`super::rows`]): the `*_rows` reads set it aside and read
//! the others, so that it stops that strategy only; the others fail on it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags, Row};
use siglearn_plugin_api::{
    Names, Outcome, Signal, SignalId, StrategyId, Symbol, Timestamp, Values, VersionId,
};

use crate::experiment::sequential::PairedTest;
use crate::schedule::{JobKind, JobRun};
use crate::strategy::{Code, Verdict};
use crate::versions::{AliasMove, VersionReason, VersionRecord};

use super::StoreError;
use super::range::{OutOfRange, closed_in_range, in_range, stamp_or_earliest};
use super::rows::{BadCell, BadRow, RowKey, Rows, cell, json_cell, parsed_cell, quoted, read_rows, text_key};
use crate::trade::Trade;

/// The columns [`version_from`] reads, in its order, from `versions`.
const VERSION_COLUMNS: &str = "strategy, n, parent, code_hash, params, state, reason, metrics, created_at";

/// The columns [`signal_from`] reads, in its order, from `signals s`.
const SIGNAL_COLUMNS: &str = "s.id, s.symbol, s.side, s.entry_ts, s.entry_price, s.take_profit, s.stop_loss, \
     s.max_hold_ms, s.confidence, s.pattern, s.regime, s.heads, s.indicators";

/// Every strategy's verdict on each signal: signal id -> (strategy, verdict).
pub type DecisionsBySignal = HashMap<String, Vec<(String, Option<Verdict>)>>;

/// Saved promotion tests: the champion, and each challenger's test.
pub type SavedTests = (String, Vec<(String, PairedTest)>);

/// A read-only connection to an existing store.
#[derive(Debug)]
pub struct StoreReader {
    conn: Connection,
    path: PathBuf,
}

impl StoreReader {
    /// Opens an existing store; a missing file is an error, never a new store.
    /// A missing file, or one that is not a siglearn store, is refused with
    /// what it is and how to get a store.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(error) = super::no_store_file(path) {
            return Err(error);
        }
        // A reader under a second name would not see the writer's
        // write-ahead log: it could miss the newest commits, or read pages a
        // checkpoint is moving. Refused as a writer is.
        super::lock::one_name(path)?;
        // The folder that matters is the file's, when `path` is a symlink.
        let file = super::lock::resolve(path);
        // A store in a read-only folder (read-only media, a mounted
        // backup) cannot get the `-shm` file WAL readers need: it is read
        // as immutable instead, unless a write-ahead log holds commits the
        // store file lacks (then reading it as immutable would miss them).
        let (conn, version) = match connect_read_only(path, false) {
            Ok(opened) => opened,
            Err(source) if cannot_open(&source) && super::read_only_folder(&file) => {
                let wal = wal_file(&file);
                if wal.metadata().is_ok_and(|m| m.len() > 0) {
                    return Err(StoreError::ReadOnly {
                        path: path.to_path_buf(),
                        fix: format!(
                            "its write-ahead log {} holds commits not yet merged into it (the writer did not \
                             stop cleanly); copy the store and that file to a writable folder to read them",
                            wal.display()
                        ),
                    });
                }
                connect_read_only(path, true)
                    .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?
            }
            Err(source) if super::not_sqlite(&source) => return Err(super::not_a_store(path, false)),
            Err(source) => return Err(StoreError::Open { path: path.to_path_buf(), source }),
        };
        let Some(version) = version else {
            return Err(super::not_a_store(path, true));
        };
        if version > super::migrations::LATEST {
            return Err(StoreError::TooNew { found: version, known: super::migrations::LATEST });
        }
        Ok(StoreReader { conn, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rows stamped outside the accepted range (written by an older
    /// version), which every other read sets aside or reads as 1970.
    pub fn out_of_range(&self) -> Result<OutOfRange, StoreError> {
        super::range::out_of_range(&self.conn)
    }

    /// Whether the store holds anything an earlier run wrote (signals,
    /// versions or job runs): a store that does is continued, never started
    /// afresh, even when no signal came before it stopped.
    pub fn holds_run(&self) -> Result<bool, StoreError> {
        let held: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM signals) OR EXISTS (SELECT 1 FROM versions) \
             OR EXISTS (SELECT 1 FROM job_runs)",
            [],
            |row| row.get(0),
        )?;
        Ok(held)
    }

    /// Every closed signal with its outcome, in exit order (ties by id); an
    /// error names the first that cannot be read.
    pub fn trades(&self) -> Result<Vec<Trade>, StoreError> {
        self.trades_rows()?.all()
    }

    /// Every closed signal with its outcome that can be read, in exit order
    /// (ties by id), and those that cannot (a cell an older version or a
    /// hand wrote: heads that are not JSON, a price stored as text).
    pub fn trades_rows(&self) -> Result<Rows<Trade>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SIGNAL_COLUMNS},
                    o.kind, o.exit_ts, o.exit_price, o.pnl_pct, o.holding_ms, o.ambiguous, o.mfe_pct, o.mae_pct
             FROM outcomes o JOIN signals s ON s.id = o.signal_id
             WHERE {closed}
             ORDER BY o.exit_ts, o.signal_id",
            closed = closed_in_range()
        ))?;
        let names = std::cell::RefCell::new(Names::default());
        read_rows(&self.path, "outcomes", &mut statement, [], outcome_key, |row| {
            trade_from(row, &mut names.borrow_mut())
        })
    }

    /// Every closed signal with its outcome and the time the strategies
    /// learned it, in the order the engine closed them (commit order): how a
    /// continued run puts its ledgers and retraining history back. Rows from
    /// before that time was recorded give their `exit_ts`.
    pub fn trades_as_closed(&self) -> Result<Vec<(Trade, Timestamp)>, StoreError> {
        self.trades_as_closed_rows()?.all()
    }

    /// [`StoreReader::trades_as_closed`] of the rows that can be read, and
    /// those that cannot.
    pub fn trades_as_closed_rows(&self) -> Result<Rows<(Trade, Timestamp)>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SIGNAL_COLUMNS},
                    o.kind, o.exit_ts, o.exit_price, o.pnl_pct, o.holding_ms, o.ambiguous, o.mfe_pct, o.mae_pct,
                    COALESCE(o.known_ts, o.exit_ts) AS known
             FROM outcomes o JOIN signals s ON s.id = o.signal_id
             WHERE {closed}
             ORDER BY o.rowid",
            closed = closed_in_range()
        ))?;
        let names = std::cell::RefCell::new(Names::default());
        read_rows(&self.path, "outcomes", &mut statement, [], outcome_key, |row| {
            let trade = trade_from(row, &mut names.borrow_mut())?;
            let known: i64 = cell(row, 21)?;
            Ok((trade, Timestamp(known)))
        })
    }

    /// A page of closed signals, optionally of one symbol, newest first
    /// (in the order their outcomes were recorded): at most `limit` of them
    /// recorded before the outcome `before` (a cursor this returns), each
    /// with its cursor.
    pub fn recent_trades(
        &self,
        limit: u32,
        symbol: Option<&str>,
        before: Option<i64>,
    ) -> Result<Vec<(i64, Trade)>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SIGNAL_COLUMNS},
                    o.kind, o.exit_ts, o.exit_price, o.pnl_pct, o.holding_ms, o.ambiguous, o.mfe_pct, o.mae_pct,
                    o.rowid
             FROM outcomes o JOIN signals s ON s.id = o.signal_id
             WHERE (?1 IS NULL OR s.symbol = ?1) AND (?3 IS NULL OR o.rowid < ?3) AND {closed}
             ORDER BY o.rowid DESC LIMIT ?2",
            closed = closed_in_range()
        ))?;
        let mut names = Names::default();
        let rows = statement.query_map(rusqlite::params![symbol, limit, before], |row| {
            Ok((signal_from(row, &mut names), outcome_from(row), row.get::<_, i64>(21)?))
        })?;
        let mut trades = Vec::new();
        for row in rows {
            let (signal, outcome, cursor) = row?;
            trades.push((cursor, Trade { signal: Arc::new(signal?), outcome: outcome? }));
        }
        Ok(trades)
    }

    /// How many outcomes the store holds.
    pub fn outcome_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self.conn.query_row("SELECT COUNT(*) FROM outcomes", [], |row| row.get(0))?;
        Ok(count.unsigned_abs())
    }

    /// Signals without an outcome, in arrival order.
    pub fn open_signals(&self) -> Result<Vec<Signal>, StoreError> {
        let mut statement = self.conn.prepare(&open_signals_query())?;
        let mut names = Names::default();
        let rows = statement.query_map([], |row| Ok(signal_from(row, &mut names)))?;
        let mut signals = Vec::new();
        for row in rows {
            signals.push(row??);
        }
        Ok(signals)
    }

    /// The signals without an outcome that can be watched again, in
    /// arrival order, and those set aside: a row that cannot be read, or a
    /// signal today's rules refuse (an older version accepted a name with a
    /// control character, a longer id, a level that is not finite).
    pub fn open_signals_rows(&self) -> Result<Rows<Signal>, StoreError> {
        let mut statement = self.conn.prepare(&open_signals_query())?;
        let names = std::cell::RefCell::new(Names::default());
        let key = |row: &Row<'_>| text_key(row, "id", 0, false);
        read_rows(&self.path, "signals", &mut statement, [], key, |row| {
            let signal =
                signal_from(row, &mut names.borrow_mut()).map_err(|error| BadCell::new("-", error))?;
            signal.validate().map_err(|error| BadCell::new(error.field(), error))?;
            Ok(signal)
        })
    }

    /// Calls `each` with the id of every stored signal, without holding
    /// them all in memory.
    pub fn each_signal_id(&self, mut each: impl FnMut(&str)) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare("SELECT id FROM signals")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            each(row.get_ref(0)?.as_str().map_err(|e| corrupt(format!("signals.id: {e}")))?);
        }
        Ok(())
    }

    /// How many signals the store holds.
    pub fn signal_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self.conn.query_row("SELECT COUNT(*) FROM signals", [], |row| row.get(0))?;
        Ok(count.unsigned_abs())
    }

    /// Every version of `strategy`, oldest first; an error names the
    /// first that cannot be read.
    pub fn versions(&self, strategy: &str) -> Result<Vec<VersionRecord>, StoreError> {
        self.versions_rows(strategy)?.all()
    }

    /// Every version of `strategy` that can be read, oldest first, and
    /// those that cannot.
    pub fn versions_rows(&self, strategy: &str) -> Result<Rows<VersionRecord>, StoreError> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {VERSION_COLUMNS} FROM versions WHERE strategy = ?1 ORDER BY n"))?;
        read_rows(&self.path, "versions", &mut statement, [strategy], version_key, version_from)
    }

    /// A page of the versions of `strategy`, oldest first: at most `limit`
    /// of those after version `after`.
    pub fn versions_page(
        &self,
        strategy: &str,
        after: u32,
        limit: u32,
    ) -> Result<Vec<VersionRecord>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE strategy = ?1 AND n > ?2 ORDER BY n LIMIT ?3"
        ))?;
        let params = rusqlite::params![strategy, after, limit];
        read_rows(&self.path, "versions", &mut statement, params, version_key, version_from)?.all()
    }

    /// The newest version of every strategy, by name; an error names the
    /// first that cannot be read.
    pub fn latest_versions(&self) -> Result<Vec<VersionRecord>, StoreError> {
        self.latest_versions_rows()?.all()
    }

    /// The newest version of every strategy that can be read, by name, and
    /// those that cannot.
    pub fn latest_versions_rows(&self) -> Result<Rows<VersionRecord>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {VERSION_COLUMNS}
             FROM versions v WHERE n = (SELECT MAX(n) FROM versions WHERE strategy = v.strategy)
             ORDER BY strategy"
        ))?;
        read_rows(&self.path, "versions", &mut statement, [], version_key, version_from)
    }

    /// How many versions each strategy has.
    pub fn version_counts(&self) -> Result<Vec<(String, u32)>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT strategy, COUNT(*) FROM versions GROUP BY strategy ORDER BY strategy")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many versions were made for each reason, over every strategy.
    pub fn versions_by_reason(&self) -> Result<Vec<(VersionReason, usize)>, StoreError> {
        let mut statement =
            self.conn.prepare("SELECT reason, COUNT(*) FROM versions GROUP BY reason ORDER BY reason")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
        let mut counts = Vec::new();
        for row in rows {
            let (reason, count) = row?;
            let reason = reason.parse().map_err(|e: String| corrupt(format!("versions: {e}")))?;
            counts.push((reason, usize::try_from(count).unwrap_or(0)));
        }
        Ok(counts)
    }

    /// The script or library stored for a code hash.
    pub fn code(&self, hash: &str) -> Result<Option<Code>, StoreError> {
        let script: Option<String> =
            optional(
                self.conn.query_row("SELECT source FROM code WHERE hash = ?1", [hash], |row| row.get(0)),
            )?;
        if let Some(source) = script {
            return Ok(Some(Code::Script(Arc::from(source))));
        }
        let library: Option<(String, Vec<u8>)> = optional(self.conn.query_row(
            "SELECT file_name, bytes FROM libraries WHERE hash = ?1",
            [hash],
            |row| Ok((row.get(0)?, row.get(1)?)),
        ))?;
        Ok(library.map(|(file_name, bytes)| Code::Library { file_name, bytes: Arc::from(bytes) }))
    }

    /// Where an alias points: (strategy, version).
    pub fn alias(&self, alias: &str) -> Result<Option<(String, u32)>, StoreError> {
        let mut statement = self.conn.prepare("SELECT strategy, version FROM aliases WHERE alias = ?1")?;
        let key = |row: &Row<'_>| RowKey {
            key: format!("alias = {}", quoted(alias)),
            strategy: row.get(0).ok(),
            version: None,
        };
        let read = |row: &Row<'_>| Ok((cell(row, 0)?, cell(row, 1)?));
        let rows = read_rows(&self.path, "aliases", &mut statement, [alias], key, read)?;
        Ok(rows.all()?.into_iter().next())
    }

    /// Every move of an alias, oldest first; an error names the first that
    /// cannot be read.
    pub fn alias_history(&self, alias: &str) -> Result<Vec<AliasMove>, StoreError> {
        self.alias_history_rows(alias)?.all()
    }

    /// Every move of an alias that can be read, oldest first, and those
    /// that cannot.
    pub fn alias_history_rows(&self, alias: &str) -> Result<Rows<AliasMove>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT alias, strategy, version, reason, evidence, moved_at, id FROM alias_history
             WHERE alias = ?1 ORDER BY id",
        )?;
        let key = |row: &Row<'_>| id_key(row, 6, Some(1));
        let read = |row: &Row<'_>| {
            let evidence: String = cell(row, 4)?;
            Ok(AliasMove {
                alias: cell(row, 0)?,
                strategy: StrategyId::new(cell::<String>(row, 1)?),
                version: VersionId(cell(row, 2)?),
                reason: cell(row, 3)?,
                evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null),
                moved_at: stamp_or_earliest(cell(row, 5)?),
            })
        };
        read_rows(&self.path, "alias_history", &mut statement, [alias], key, read)
    }

    /// The engine's clock when the stored run last checkpointed (a replay
    /// checkpoints when it ends): where a continued replay must start.
    pub fn last_clock(&self) -> Result<Option<Timestamp>, StoreError> {
        let sql = format!("SELECT MAX(at) FROM snapshots WHERE kind = 'state' AND {}", in_range("at"));
        let at: Option<i64> = self.conn.query_row(&sql, [], |row| row.get(0))?;
        Ok(at.map(Timestamp))
    }

    /// The time of the newest run of each job.
    pub fn last_job_runs(&self) -> Result<Vec<(JobKind, Timestamp)>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT job, MAX(scheduled_at) FROM job_runs WHERE {} GROUP BY job",
            in_range("scheduled_at")
        ))?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
        let mut runs = Vec::new();
        for row in rows {
            let (job, at) = row?;
            runs.push((job.parse().map_err(corrupt)?, Timestamp(at)));
        }
        Ok(runs)
    }

    /// The stored signal `id`, if any.
    pub fn signal(&self, id: &str) -> Result<Option<Signal>, StoreError> {
        let mut statement =
            self.conn.prepare_cached(&format!("SELECT {SIGNAL_COLUMNS} FROM signals s WHERE s.id = ?1"))?;
        let mut names = Names::default();
        let mut rows = statement.query([id])?;
        match rows.next()? {
            Some(row) => Ok(Some(signal_from(row, &mut names)?)),
            None => Ok(None),
        }
    }

    /// The decision of `strategy` on `signal_id`: the version that decided,
    /// and its verdict (`None`: it failed to decide).
    pub fn decision(
        &self,
        strategy: &str,
        signal_id: &str,
    ) -> Result<Option<(VersionId, Option<Verdict>)>, StoreError> {
        optional(self.conn.query_row(
            "SELECT version, take, score, size FROM decisions WHERE strategy = ?1 AND signal_id = ?2",
            [strategy, signal_id],
            |row| {
                let take: Option<bool> = row.get(1)?;
                let verdict = match take {
                    Some(take) => Some(Verdict {
                        take,
                        score: row.get::<_, Option<f64>>(2)?.unwrap_or(0.0),
                        size: row.get::<_, Option<f64>>(3)?.unwrap_or(1.0),
                    }),
                    None => None,
                };
                Ok((VersionId(row.get(0)?), verdict))
            },
        ))
    }

    /// Every decision on `signal_id`, by strategy name (`None`: no decision).
    pub fn decisions_on(&self, signal_id: &str) -> Result<Vec<(String, Option<Verdict>)>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT strategy, take, score, size FROM decisions WHERE signal_id = ?1 ORDER BY strategy",
        )?;
        let rows = statement.query_map([signal_id], |row| {
            let take: Option<bool> = row.get(1)?;
            let verdict = take.map(|take| Verdict {
                take,
                score: row.get::<_, Option<f64>>(2).ok().flatten().unwrap_or(0.0),
                size: row.get::<_, Option<f64>>(3).ok().flatten().unwrap_or(1.0),
            });
            Ok((row.get::<_, String>(0)?, verdict))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest checkpoint of `strategy` at `version`: (state, outcomes_through).
    pub fn snapshot(
        &self,
        strategy: &str,
        version: VersionId,
    ) -> Result<Option<(serde_json::Value, i64)>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT state, outcomes_through, id, strategy FROM snapshots
             WHERE kind = 'state' AND strategy = ?1 AND version = ?2 AND {}
             ORDER BY id DESC LIMIT 1",
            in_range("at")
        ))?;
        let key = |row: &Row<'_>| id_key(row, 2, Some(3));
        let read = |row: &Row<'_>| Ok((json_cell(row, 0)?, cell(row, 1)?));
        let params = rusqlite::params![strategy, version.0];
        Ok(read_rows(&self.path, "snapshots", &mut statement, params, key, read)?.all()?.into_iter().next())
    }

    /// The state the last weekly run left for `strategy`, if any.
    pub fn anchor(&self, strategy: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT state, id, strategy FROM snapshots WHERE kind = 'anchor' AND strategy = ?1 AND {}
             ORDER BY id DESC LIMIT 1",
            in_range("at")
        ))?;
        let key = |row: &Row<'_>| id_key(row, 1, Some(2));
        let read = |row: &Row<'_>| json_cell(row, 0);
        Ok(read_rows(&self.path, "snapshots", &mut statement, [strategy], key, read)?
            .all()?
            .into_iter()
            .next())
    }

    /// Closed signals whose outcome was committed after outcome row `after`,
    /// in commit order (the order the engine closed them).
    pub fn trades_committed_after(&self, after: i64) -> Result<Vec<Trade>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SIGNAL_COLUMNS},
                    o.kind, o.exit_ts, o.exit_price, o.pnl_pct, o.holding_ms, o.ambiguous, o.mfe_pct, o.mae_pct
             FROM outcomes o JOIN signals s ON s.id = o.signal_id
             WHERE o.rowid > ?1 AND {closed} ORDER BY o.rowid",
            closed = closed_in_range()
        ))?;
        let mut names = Names::default();
        let rows =
            statement.query_map([after], |row| Ok((signal_from(row, &mut names), outcome_from(row))))?;
        let mut trades = Vec::new();
        for row in rows {
            let (signal, outcome) = row?;
            trades.push(Trade { signal: Arc::new(signal?), outcome: outcome? });
        }
        Ok(trades)
    }

    /// A page of job runs (of `job`, or of every job), newest first: at most
    /// `limit` of those recorded before the run `before` (a cursor this
    /// returns), each with its cursor.
    pub fn recent_job_runs(
        &self,
        job: Option<JobKind>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<(i64, JobRun)>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT id, job, scheduled_at, strategy, figures FROM job_runs
             WHERE (?1 IS NULL OR job = ?1) AND (?3 IS NULL OR id < ?3) AND {}
             ORDER BY id DESC LIMIT ?2",
            in_range("scheduled_at")
        ))?;
        let params = rusqlite::params![job.map(JobKind::as_str), limit, before];
        let read = |row: &Row<'_>| Ok((cell(row, 0)?, job_run_from(row, 1)?));
        read_rows(&self.path, "job_runs", &mut statement, params, |row| id_key(row, 0, Some(3)), read)?.all()
    }

    /// Every run of `job`, oldest first.
    pub fn job_runs(&self, job: JobKind) -> Result<Vec<JobRun>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT id, job, scheduled_at, strategy, figures FROM job_runs WHERE job = ?1 AND {}
             ORDER BY scheduled_at, id",
            in_range("scheduled_at")
        ))?;
        let read = |row: &Row<'_>| job_run_from(row, 1);
        read_rows(
            &self.path,
            "job_runs",
            &mut statement,
            [job.as_str()],
            |row| id_key(row, 0, Some(3)),
            read,
        )?
        .all()
    }

    /// Every decision, grouped by signal: signal id -> (strategy, verdict);
    /// an error names the first that cannot be read.
    pub fn all_decisions(&self) -> Result<DecisionsBySignal, StoreError> {
        let (by_signal, bad) = self.all_decisions_rows()?;
        Rows { read: vec![by_signal], bad }.all().map(|mut all| all.remove(0))
    }

    /// Every decision that can be read, grouped by signal, and those that
    /// cannot.
    pub fn all_decisions_rows(&self) -> Result<(DecisionsBySignal, Vec<BadRow>), StoreError> {
        let mut statement =
            self.conn.prepare("SELECT signal_id, strategy, take, score, size FROM decisions")?;
        let key = |row: &Row<'_>| {
            let (signal, strategy) = (row.get::<_, String>(0).ok(), row.get::<_, String>(1).ok());
            let key = match (&strategy, &signal) {
                (Some(name), Some(signal)) => {
                    format!("strategy = {} AND signal_id = {}", quoted(name), quoted(signal))
                }
                _ => "typeof(strategy) <> 'text' OR typeof(signal_id) <> 'text'".to_owned(),
            };
            RowKey { key, strategy, version: None }
        };
        let read = |row: &Row<'_>| {
            let verdict = match cell::<Option<bool>>(row, 2)? {
                Some(take) => Some(Verdict {
                    take,
                    score: cell::<Option<f64>>(row, 3)?.unwrap_or(0.0),
                    size: cell::<Option<f64>>(row, 4)?.unwrap_or(1.0),
                }),
                None => None,
            };
            Ok((cell::<String>(row, 0)?, cell::<String>(row, 1)?, verdict))
        };
        let Rows { read, bad } = read_rows(&self.path, "decisions", &mut statement, [], key, read)?;
        let mut by_signal: DecisionsBySignal = HashMap::new();
        for (signal, strategy, verdict) in read {
            by_signal.entry(signal).or_default().push((strategy, verdict));
        }
        Ok((by_signal, bad))
    }

    /// The saved promotion tests that can be read: (champion,
    /// [(challenger, test)]), and the tests that cannot.
    pub fn tests(&self) -> Result<(Option<SavedTests>, Vec<BadRow>), StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT strategy, champion, test FROM experiment WHERE {} ORDER BY strategy",
            in_range("updated_at")
        ))?;
        let key = |row: &Row<'_>| text_key(row, "strategy", 0, true);
        let read = |row: &Row<'_>| {
            Ok((cell::<String>(row, 0)?, cell::<String>(row, 1)?, json_cell::<PairedTest>(row, 2)?))
        };
        let Rows { read, bad } = read_rows(&self.path, "experiment", &mut statement, [], key, read)?;
        let champion = read.last().map(|(_, champion, _)| champion.clone());
        let tests = read.into_iter().map(|(strategy, _, test)| (strategy, test)).collect();
        Ok((champion.map(|champion| (champion, tests)), bad))
    }

    /// The probations saved last, each with the outcomes rowid it was
    /// saved at; an error names the first that cannot be read.
    pub fn probations(&self) -> Result<Vec<(crate::engine::SavedProbation, i64)>, StoreError> {
        self.probations_rows()?.all()
    }

    /// The probations saved last that can be read, each with the outcomes
    /// rowid it was saved at, and those that cannot.
    pub fn probations_rows(&self) -> Result<Rows<(crate::engine::SavedProbation, i64)>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT strategy, probation, outcomes_through FROM probations WHERE {} ORDER BY strategy",
            in_range("saved_at")
        ))?;
        let key = |row: &Row<'_>| text_key(row, "strategy", 0, true);
        let read = |row: &Row<'_>| Ok((json_cell(row, 1)?, cell(row, 2)?));
        read_rows(&self.path, "probations", &mut statement, [], key, read)
    }

    /// The signal ids among `ids` the store already holds.
    pub fn known_signals<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Result<Vec<String>, StoreError> {
        let mut statement = self.conn.prepare_cached("SELECT 1 FROM signals WHERE id = ?1")?;
        let mut known = Vec::new();
        for id in ids {
            if statement.exists([id])? {
                known.push(id.to_owned());
            }
        }
        Ok(known)
    }

    /// The outcome settings the store was filled with, if any.
    pub fn settings(&self) -> Result<Option<String>, StoreError> {
        optional(
            self.conn.query_row("SELECT value FROM settings WHERE key = 'outcomes'", [], |row| row.get(0)),
        )
    }
}

/// Opens `path` read-only (as immutable: no locks, no `-shm`) and reads its
/// schema version (`None`: not a siglearn store), the first read, where a
/// WAL store that cannot be opened fails.
fn connect_read_only(path: &Path, immutable: bool) -> rusqlite::Result<(Connection, Option<i64>)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = if immutable {
        Connection::open_with_flags(
            format!("file:{}?immutable=1", uri_path(path)),
            flags | OpenFlags::SQLITE_OPEN_URI,
        )?
    } else {
        Connection::open_with_flags(path, flags)?
    };
    if super::store_kind(&conn)? != super::StoreKind::Siglearn {
        return Ok((conn, None));
    }
    let version =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |row| row.get(0))?;
    Ok((conn, Some(version)))
}

/// `path` for a `file:` URI: the characters a URI gives a meaning escaped.
fn uri_path(path: &Path) -> String {
    let mut escaped = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '?' => escaped.push_str("%3F"),
            '#' => escaped.push_str("%23"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The write-ahead log beside a store.
fn wal_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Whether SQLite could not open or lock the file (rather than found it bad).
fn cannot_open(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    )
}

fn optional<T>(result: rusqlite::Result<T>) -> Result<Option<T>, StoreError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Reads a version row ([`VERSION_COLUMNS`]).
fn version_from(row: &Row<'_>) -> Result<VersionRecord, BadCell> {
    Ok(VersionRecord {
        strategy: StrategyId::new(cell::<String>(row, 0)?),
        version: VersionId(cell(row, 1)?),
        parent: cell::<Option<u32>>(row, 2)?.map(VersionId),
        code_hash: cell(row, 3)?,
        code: None,
        params: json_cell(row, 4)?,
        state: json_cell(row, 5)?,
        reason: parsed_cell(row, 6)?,
        metrics: json_cell(row, 7)?,
        created_at: stamp_or_earliest(cell(row, 8)?),
    })
}

/// How a version row ([`VERSION_COLUMNS`]) is named.
fn version_key(row: &Row<'_>) -> RowKey {
    let strategy = row.get::<_, String>(0).ok();
    let version = row.get::<_, u32>(1).ok().map(VersionId);
    let key = match (&strategy, version) {
        (Some(name), Some(n)) => format!("strategy = {} AND n = {}", quoted(name), n.0),
        (Some(name), None) => format!("strategy = {} AND typeof(n) <> 'integer'", quoted(name)),
        (None, _) => "typeof(strategy) <> 'text'".to_owned(),
    };
    RowKey { key, strategy, version }
}

/// How a row with an integer `id` (column `id`) is named; the strategy is
/// read from column `strategy`, if given.
fn id_key(row: &Row<'_>, id: usize, strategy: Option<usize>) -> RowKey {
    let key = match row.get::<_, i64>(id) {
        Ok(id) => format!("id = {id}"),
        Err(_) => "typeof(id) <> 'integer'".to_owned(),
    };
    RowKey { key, strategy: strategy.and_then(|i| row.get(i).ok()), version: None }
}

/// Reads a job run from columns `first..` (job, scheduled_at, strategy, figures).
fn job_run_from(row: &Row<'_>, first: usize) -> Result<JobRun, BadCell> {
    Ok(JobRun {
        job: parsed_cell(row, first)?,
        scheduled_at: Timestamp(cell(row, first + 1)?),
        strategy: cell::<Option<String>>(row, first + 2)?.map(StrategyId::new),
        figures: json_cell(row, first + 3)?,
    })
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Reads a signal from the first 13 columns of `row`, sharing value names
/// through `names`.
/// A closed signal and its outcome from `row` (the signal's columns, then
/// the outcome's), or the cell that cannot be read.
fn trade_from(row: &Row<'_>, names: &mut Names) -> Result<Trade, BadCell> {
    let signal = signal_from(row, names).map_err(|error| BadCell::new("-", error))?;
    let outcome = outcome_from(row).map_err(|error| BadCell::new("-", error))?;
    Ok(Trade { signal: Arc::new(signal), outcome })
}

/// The key of an outcome row: its signal's id.
fn outcome_key(row: &Row<'_>) -> RowKey {
    text_key(row, "signal_id", 0, false)
}

/// The signals without an outcome (in the accepted range), in arrival order.
fn open_signals_query() -> String {
    format!(
        "SELECT {SIGNAL_COLUMNS}
         FROM signals s LEFT JOIN outcomes o ON o.signal_id = s.id
         WHERE o.signal_id IS NULL AND {entry} ORDER BY s.rowid",
        entry = in_range("s.entry_ts")
    )
}

fn signal_from(row: &Row<'_>, names: &mut Names) -> Result<Signal, StoreError> {
    let mut map = |i: usize| -> Result<Values, StoreError> {
        let text: String = row.get(i)?;
        let values = serde_json::from_str(&text).map_err(|e| corrupt(format!("column {i}: {e}")))?;
        Ok(names.share(values))
    };
    let side: String = row.get(2)?;
    Ok(Signal {
        id: SignalId::new(row.get::<_, String>(0)?),
        symbol: Symbol::new(row.get::<_, String>(1)?.as_str()),
        side: side.parse().map_err(corrupt)?,
        entry_ts: Timestamp(row.get(3)?),
        entry_price: row.get(4)?,
        take_profit: row.get(5)?,
        stop_loss: row.get(6)?,
        max_hold_ms: row.get(7)?,
        confidence: row.get(8)?,
        pattern: row.get(9)?,
        regime: row.get(10)?,
        heads: map(11)?,
        indicators: map(12)?,
    })
}

/// Reads an outcome from columns 13.. of `row` (after the signal's).
fn outcome_from(row: &Row<'_>) -> Result<Outcome, StoreError> {
    let kind: String = row.get(13)?;
    Ok(Outcome {
        signal_id: SignalId::new(row.get::<_, String>(0)?),
        kind: kind.parse().map_err(corrupt)?,
        exit_ts: Timestamp(row.get(14)?),
        exit_price: row.get(15)?,
        pnl_pct: row.get(16)?,
        holding_ms: row.get(17)?,
        ambiguous: row.get(18)?,
        mfe_pct: row.get(19)?,
        mae_pct: row.get(20)?,
    })
}
