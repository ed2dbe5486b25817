//! The writer thread: the only owner of the write connection.

use std::sync::mpsc::{Receiver, SyncSender};

use rusqlite::{Connection, params};
use siglearn_plugin_api::{Outcome, Signal};

use super::{Command, StoreError, WriterStats};

/// The most commands committed in one transaction.
const MAX_BATCH: usize = 4096;

const INSERT_SIGNAL: &str = "INSERT INTO signals (id, symbol, side, entry_ts, entry_price, take_profit, stop_loss, \
     max_hold_ms, confidence, pattern, regime, heads, indicators) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
const INSERT_OUTCOME: &str = "INSERT INTO outcomes (signal_id, kind, exit_ts, exit_price, pnl_pct, holding_ms, \
     ambiguous, mfe_pct, mae_pct) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

pub(super) struct Writer {
    conn: Connection,
    stats: WriterStats,
}

type Ack = SyncSender<Result<(), String>>;

impl Writer {
    pub(super) fn new(conn: Connection) -> Self {
        Writer { conn, stats: WriterStats::default() }
    }

    /// Commits batches until every sender is gone or a write fails.
    pub(super) fn run(mut self, commands: Receiver<Command>) -> Result<WriterStats, StoreError> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut acks: Vec<Ack> = Vec::new();
        while let Ok(first) = commands.recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            let committed = self.commit(&mut batch, &mut acks);
            let answer = committed.as_ref().map(|_| ()).map_err(ToString::to_string);
            for ack in acks.drain(..) {
                // A caller that stopped waiting is not an error.
                let _ = ack.send(answer.clone());
            }
            committed?;
        }
        Ok(self.stats)
    }

    fn commit(&mut self, batch: &mut Vec<Command>, acks: &mut Vec<Ack>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let mut counts = (0, 0);
        {
            let mut insert_signal = tx.prepare_cached(INSERT_SIGNAL)?;
            let mut insert_outcome = tx.prepare_cached(INSERT_OUTCOME)?;
            for command in batch.drain(..) {
                match command {
                    Command::InsertSignal(signal) => {
                        write_signal(&mut insert_signal, &signal)?;
                        counts.0 += 1;
                    }
                    Command::InsertOutcome(outcome) => {
                        write_outcome(&mut insert_outcome, &outcome)?;
                        counts.1 += 1;
                    }
                    Command::Flush(ack) => acks.push(ack),
                }
            }
        }
        tx.commit()?;
        self.stats.signals += counts.0;
        self.stats.outcomes += counts.1;
        self.stats.transactions += 1;
        Ok(())
    }
}

fn write_signal(statement: &mut rusqlite::CachedStatement<'_>, signal: &Signal) -> Result<(), StoreError> {
    let json = |map| serde_json::to_string(map).map_err(|e| StoreError::Corrupt(e.to_string()));
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

fn write_outcome(statement: &mut rusqlite::CachedStatement<'_>, outcome: &Outcome) -> Result<(), StoreError> {
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
    ])?;
    Ok(())
}
