//! The writer thread: the only owner of the write connection.
//!
//! Commands that queue up are committed together, up to [`MAX_BATCH`]
//! rows a transaction; a [`Command::Group`] (one daemon request) is never
//! split, so a request is in the store whole or not at all. A failed
//! transaction leaves nothing behind and stops the writer from writing
//! until its owner says to resume (see [`Writer::run`]).

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};
use siglearn_plugin_api::{Outcome, Signal, Timestamp};

use crate::strategy::Code;
use crate::versions::{AliasMove, VersionRecord};

use super::{Command, StoreError, WriterStats};

/// The most commands committed in one transaction.
pub(super) const MAX_BATCH: usize = 4096;

const INSERT_SIGNAL: &str = "INSERT INTO signals (id, symbol, side, entry_ts, entry_price, take_profit, stop_loss, \
     max_hold_ms, confidence, pattern, regime, heads, indicators) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
const INSERT_OUTCOME: &str = "INSERT INTO outcomes (signal_id, kind, exit_ts, exit_price, pnl_pct, holding_ms, \
     ambiguous, mfe_pct, mae_pct, known_ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const INSERT_DECISION: &str =
    "INSERT INTO decisions (strategy, signal_id, version, take, score, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const INSERT_VERSION: &str = "INSERT INTO versions (strategy, n, parent, code_hash, params, state, reason, metrics, \
     created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

pub(super) struct Writer {
    conn: Connection,
    stats: WriterStats,
    /// The failed transaction's error, until a resume.
    failed: Option<StoreError>,
    /// The same failure as text, for [`super::Store::send`] to refuse early.
    failure: Arc<Mutex<Option<String>>>,
}

type Ack = SyncSender<Result<(), String>>;

/// The statements every transaction uses, prepared once per transaction.
struct Statements<'t> {
    signal: rusqlite::CachedStatement<'t>,
    outcome: rusqlite::CachedStatement<'t>,
    decision: rusqlite::CachedStatement<'t>,
}

/// Rows written by one transaction: (signals, outcomes, other rows).
type Counts = (u64, u64, u64);

impl Writer {
    pub(super) fn new(conn: Connection, failure: Arc<Mutex<Option<String>>>) -> Self {
        Writer { conn, stats: WriterStats::default(), failed: None, failure }
    }

    /// Commits batches until every sender is gone. After a failed
    /// transaction every command is discarded, and every flush answered with
    /// the failure, until a [`Command::Resume`]; the failure is returned at
    /// the end if no resume cleared it, so a replay cannot lose rows quietly.
    pub(super) fn run(mut self, commands: Receiver<Command>) -> Result<WriterStats, StoreError> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut acks: Vec<Ack> = Vec::new();
        while let Ok(first) = commands.recv() {
            let mut size = first.size();
            batch.push(first);
            // A resume ends a batch: what comes after it is a new start.
            while size < MAX_BATCH && !matches!(batch.last(), Some(Command::Resume(_))) {
                match commands.try_recv() {
                    Ok(command) => {
                        size += command.size();
                        batch.push(command);
                    }
                    Err(_) => break,
                }
            }
            let resume = match batch.last() {
                Some(Command::Resume(_)) => batch.pop(),
                _ => None,
            };
            if self.failed.is_none() {
                if let Err(error) = self.commit(&mut batch, &mut acks) {
                    tracing::error!(%error, "a store transaction failed; writes are refused until the owner resumes");
                    if let Ok(mut shared) = self.failure.lock() {
                        *shared = Some(error.to_string());
                    }
                    self.failed = Some(error);
                }
            } else {
                for command in batch.drain(..) {
                    command.take_acks(&mut acks);
                }
            }
            let answer = self.failed.as_ref().map_or(Ok(()), |error| Err(error.to_string()));
            for ack in acks.drain(..) {
                // A caller that stopped waiting is not an error.
                let _ = ack.send(answer.clone());
            }
            if let Some(Command::Resume(ack)) = resume {
                self.failed = None;
                if let Ok(mut shared) = self.failure.lock() {
                    *shared = None;
                }
                let _ = ack.send(Ok(()));
            }
        }
        match self.failed {
            Some(error) => Err(error),
            None => Ok(self.stats),
        }
    }

    /// Writes `batch` in one transaction. On failure nothing of it is kept,
    /// and the flushes in it are still collected so that they are answered.
    fn commit(&mut self, batch: &mut Vec<Command>, acks: &mut Vec<Ack>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let mut counts = (0, 0, 0);
        let mut result = Ok(());
        {
            let mut statements = Statements {
                signal: tx.prepare_cached(INSERT_SIGNAL)?,
                outcome: tx.prepare_cached(INSERT_OUTCOME)?,
                decision: tx.prepare_cached(INSERT_DECISION)?,
            };
            for command in batch.drain(..) {
                if result.is_ok() {
                    result = execute(&tx, &mut statements, command, &mut counts, acks);
                } else {
                    command.take_acks(acks);
                }
            }
        }
        result?;
        tx.commit()?;
        self.stats.signals += counts.0;
        self.stats.outcomes += counts.1;
        self.stats.other_rows += counts.2;
        self.stats.transactions += 1;
        Ok(())
    }
}

/// Writes one command inside `tx`; a group writes all of its commands.
fn execute(
    tx: &rusqlite::Transaction<'_>,
    statements: &mut Statements<'_>,
    command: Command,
    counts: &mut Counts,
    acks: &mut Vec<Ack>,
) -> Result<(), StoreError> {
    match command {
        Command::Group(commands) => {
            let mut result = Ok(());
            for command in commands {
                if result.is_ok() {
                    result = execute(tx, statements, command, counts, acks);
                } else {
                    command.take_acks(acks);
                }
            }
            return result;
        }
        Command::InsertSignal(signal) => {
            write_signal(&mut statements.signal, &signal)?;
            counts.0 += 1;
        }
        Command::InsertOutcome { outcome, known_at } => {
            write_outcome(&mut statements.outcome, &outcome, known_at)?;
            counts.1 += 1;
        }
        Command::InsertDecision(d) => {
            statements.decision.execute(params![
                d.strategy.as_str(),
                d.signal_id.as_str(),
                d.version.0,
                d.take,
                d.score,
                d.size
            ])?;
            counts.2 += 1;
        }
        Command::InsertNoDecision { strategy, version, signal_id } => {
            statements.decision.execute(params![
                strategy.as_str(),
                signal_id.as_str(),
                version.0,
                None::<bool>,
                None::<f64>,
                None::<f64>
            ])?;
            counts.2 += 1;
        }
        Command::InsertVersion(record) => {
            write_version(tx, &record)?;
            counts.2 += 1;
        }
        Command::MoveAlias(alias) => {
            write_alias(tx, &alias)?;
            counts.2 += 1;
        }
        Command::InsertJobRun(run) => {
            tx.prepare_cached(
                "INSERT INTO job_runs (job, scheduled_at, strategy, figures) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                run.job.as_str(),
                run.scheduled_at.as_millis(),
                run.strategy.as_ref().map(|s| s.as_str()),
                json(&run.figures)?
            ])?;
            counts.2 += 1;
        }
        Command::InsertStrategyError { error, at } => {
            tx.prepare_cached(
                "INSERT INTO strategy_errors (strategy, hook, path, line, position, signal_id, message, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                error.strategy.as_str(),
                error.hook.map(|hook| hook.name()),
                error.source_path.display().to_string(),
                error.line.map(|line| line as i64),
                error.position.map(|position| position as i64),
                error.signal_id.as_ref().map(|id| id.as_str()),
                error.message,
                at.as_millis()
            ])?;
            counts.2 += 1;
        }
        Command::SaveSnapshot { strategy, version, state, at, anchor } => {
            tx.prepare_cached(
                "INSERT INTO snapshots (kind, strategy, version, state, outcomes_through, at) \
                 VALUES (?1, ?2, ?3, ?4, (SELECT COALESCE(MAX(rowid), 0) FROM outcomes), ?5)",
            )?
            .execute(params![
                if anchor { "anchor" } else { "state" },
                strategy.as_str(),
                version.0,
                json(&state)?,
                at.as_millis()
            ])?;
            counts.2 += 1;
        }
        Command::SaveProbations { probations, at } => {
            tx.execute("DELETE FROM probations", [])?;
            for probation in &probations {
                tx.prepare_cached(
                    "INSERT INTO probations (strategy, probation, outcomes_through, saved_at) \
                     VALUES (?1, ?2, (SELECT COALESCE(MAX(rowid), 0) FROM outcomes), ?3)",
                )?
                .execute(params![
                    probation.strategy.as_str(),
                    json(probation)?,
                    at.as_millis()
                ])?;
            }
            counts.2 += 1;
        }
        Command::SaveTests { champion, tests, at } => {
            tx.execute("DELETE FROM experiment", [])?;
            for (strategy, test) in &tests {
                tx.prepare_cached(
                    "INSERT INTO experiment (strategy, champion, test, updated_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    strategy.as_str(),
                    champion.as_str(),
                    json(test)?,
                    at.as_millis()
                ])?;
            }
            counts.2 += 1;
        }
        Command::RememberPrices { bars, last, keep } => {
            super::recent::write(tx, &bars, &last, keep)?;
            counts.2 += 1;
        }
        Command::Flush(ack) => acks.push(ack),
        // The run loop takes a resume out of the batch before committing.
        Command::Resume(ack) => acks.push(ack),
    }
    Ok(())
}

fn json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn write_version(tx: &rusqlite::Transaction<'_>, record: &VersionRecord) -> Result<(), StoreError> {
    match &record.code {
        Some(Code::Script(source)) => {
            tx.prepare_cached("INSERT OR IGNORE INTO code (hash, source) VALUES (?1, ?2)")?
                .execute(params![record.code_hash, &**source])?;
        }
        Some(Code::Library { file_name, bytes }) => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO libraries (hash, file_name, bytes) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![record.code_hash, file_name, &**bytes])?;
        }
        None => {}
    }
    tx.prepare_cached(INSERT_VERSION)?.execute(params![
        record.strategy.as_str(),
        record.version.0,
        record.parent.map(|parent| parent.0),
        record.code_hash,
        json(&record.params)?,
        json(&record.state)?,
        record.reason.as_str(),
        json(&record.metrics)?,
        record.created_at.as_millis(),
    ])?;
    Ok(())
}

fn write_alias(tx: &rusqlite::Transaction<'_>, alias: &AliasMove) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT OR REPLACE INTO aliases (alias, strategy, version) VALUES (?1, ?2, ?3)")?
        .execute(params![alias.alias, alias.strategy.as_str(), alias.version.0])?;
    tx.prepare_cached(
        "INSERT INTO alias_history (alias, strategy, version, reason, evidence, moved_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        alias.alias,
        alias.strategy.as_str(),
        alias.version.0,
        alias.reason,
        json(&alias.evidence)?,
        alias.moved_at.as_millis()
    ])?;
    Ok(())
}

fn write_signal(statement: &mut rusqlite::CachedStatement<'_>, signal: &Signal) -> Result<(), StoreError> {
    statement.execute(params![
        signal.id.as_str(),
        signal.symbol.as_str(),
        signal.side.as_str(),
        signal.entry_ts.as_millis(),
        signal.entry_price,
        signal.take_profit,
        signal.stop_loss,
        signal.max_hold_ms,
        signal.confidence,
        signal.pattern,
        signal.regime,
        json(&signal.heads)?,
        json(&signal.indicators)?,
    ])?;
    Ok(())
}

fn write_outcome(
    statement: &mut rusqlite::CachedStatement<'_>,
    outcome: &Outcome,
    known_at: Timestamp,
) -> Result<(), StoreError> {
    statement.execute(params![
        outcome.signal_id.as_str(),
        outcome.kind.as_str(),
        outcome.exit_ts.as_millis(),
        outcome.exit_price,
        outcome.pnl_pct,
        outcome.holding_ms,
        outcome.ambiguous,
        outcome.mfe_pct,
        outcome.mae_pct,
        known_at.as_millis(),
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The writer run on this thread over commands queued beforehand, so
    //! that how they are batched does not depend on timing.

    use std::sync::mpsc;

    use siglearn_plugin_api::{Decision, OutcomeKind, Side, SignalId, StrategyId, VersionId};

    use super::*;
    use crate::schedule::{JobKind, JobRun};
    use crate::strategy::StrategyError;
    use crate::versions::VersionReason;

    fn signal(id: &str) -> Command {
        Command::InsertSignal(std::sync::Arc::new(crate::monitor::fixtures::signal(id, Side::Long)))
    }

    /// Runs a writer on a new store over `commands`, all queued before it starts.
    fn run(commands: Vec<Command>) -> (Result<WriterStats, StoreError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::connect(&dir.path().join("s.db")).unwrap();
        let (sender, receiver) = mpsc::channel();
        for command in commands {
            sender.send(command).unwrap();
        }
        drop(sender);
        (Writer::new(conn, Arc::new(Mutex::new(None))).run(receiver), dir)
    }

    fn ack() -> (Ack, mpsc::Receiver<Result<(), String>>) {
        mpsc::sync_channel(1)
    }

    #[test]
    fn a_transaction_takes_at_most_max_batch_rows_and_a_group_counts_its_rows() {
        // MAX_BATCH + 1 rows queued: the first MAX_BATCH in one transaction, the last in a second.
        let singles = (0..=MAX_BATCH).map(|i| signal(&format!("s{i}"))).collect();
        let stats = run(singles).0.unwrap();
        assert_eq!((stats.signals, stats.transactions), (MAX_BATCH as u64 + 1, 2));
        // Two rows queued: one transaction.
        let stats = run(vec![signal("a"), signal("b")]).0.unwrap();
        assert_eq!((stats.signals, stats.transactions), (2, 1));
        // A group of MAX_BATCH rows fills a transaction by itself: the row after it waits for the next.
        let group = Command::Group((0..MAX_BATCH).map(|i| signal(&format!("g{i}"))).collect());
        let stats = run(vec![group, signal("after")]).0.unwrap();
        assert_eq!((stats.signals, stats.transactions), (MAX_BATCH as u64 + 1, 2));
    }

    #[test]
    fn every_kind_of_row_is_counted_once() {
        let id = "a";
        let at = Timestamp(60_000);
        let strategy = StrategyId::new("s");
        let outcome = Outcome {
            signal_id: SignalId::new(id),
            kind: OutcomeKind::TpHit,
            exit_ts: at,
            exit_price: 110.0,
            pnl_pct: 10.0,
            holding_ms: 60_000,
            ambiguous: false,
            mfe_pct: 10.0,
            mae_pct: 0.0,
        };
        let version = VersionRecord::bare(strategy.as_str(), 1, VersionReason::Load, at);
        let commands = vec![
            signal(id),
            Command::InsertOutcome { outcome, known_at: at },
            Command::InsertDecision(Decision {
                strategy: strategy.clone(),
                version: VersionId(1),
                signal_id: SignalId::new(id),
                take: true,
                score: 1.0,
                size: 1.0,
            }),
            Command::InsertNoDecision {
                strategy: StrategyId::new("t"),
                version: VersionId(1),
                signal_id: SignalId::new(id),
            },
            Command::InsertVersion(version),
            Command::MoveAlias(AliasMove {
                alias: "champion".into(),
                strategy: strategy.clone(),
                version: VersionId(1),
                reason: "config".into(),
                evidence: serde_json::Value::Null,
                moved_at: at,
            }),
            Command::InsertJobRun(JobRun {
                job: JobKind::Daily,
                scheduled_at: at,
                strategy: None,
                figures: serde_json::json!({}),
            }),
            Command::InsertStrategyError {
                error: StrategyError::new(strategy.clone(), "s.rhai", "boom"),
                at,
            },
            Command::SaveSnapshot {
                strategy: strategy.clone(),
                version: VersionId(1),
                state: serde_json::json!({}),
                at,
                anchor: false,
            },
            Command::SaveProbations { probations: Vec::new(), at },
            Command::SaveTests { champion: strategy, tests: Vec::new(), at },
        ];
        let stats = run(commands).0.unwrap();
        // 1 signal, 1 outcome, and the 9 other rows: 2 decisions, a version, an
        // alias move, a job run, an error, a snapshot, the probations, the tests.
        assert_eq!(stats, WriterStats { signals: 1, outcomes: 1, other_rows: 9, transactions: 1 });
    }

    #[test]
    fn a_flush_in_a_group_sent_after_a_failure_is_answered_with_the_failure() {
        let (first, first_done) = ack();
        let (grouped, grouped_done) = ack();
        // The duplicate fails the first transaction; the group comes after it.
        let failing = Command::Group(vec![signal("a"), signal("a"), Command::Flush(first)]);
        let (result, _dir) = run(vec![failing, Command::Group(vec![signal("b"), Command::Flush(grouped)])]);
        assert!(matches!(result, Err(StoreError::Sqlite(_))));
        for done in [first_done, grouped_done] {
            let answer = done.recv().expect("answered, not dropped");
            assert!(answer.unwrap_err().contains("UNIQUE"), "the failure is passed on");
        }
    }
}
