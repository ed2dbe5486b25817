//! Read-only access to a store, for reports and the API read model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags, Row};
use siglearn_plugin_api::{Names, Outcome, Signal, SignalId, Symbol, Timestamp, Values};

use super::StoreError;
use crate::trade::Trade;

/// The columns [`signal_from`] reads, in its order, from `signals s`.
const SIGNAL_COLUMNS: &str = "s.id, s.symbol, s.side, s.entry_ts, s.entry_price, s.take_profit, s.stop_loss, \
     s.max_hold_ms, s.confidence, s.pattern, s.regime, s.heads, s.indicators";

/// A read-only connection to an existing store.
#[derive(Debug)]
pub struct StoreReader {
    conn: Connection,
    path: PathBuf,
}

impl StoreReader {
    /// Opens an existing store; a missing file is an error, never a new store.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                source: rusqlite::Error::InvalidPath(path.to_path_buf()),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
        let version: i64 = conn
            .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |row| row.get(0))
            .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
        if version > super::migrations::LATEST {
            return Err(StoreError::TooNew { found: version, known: super::migrations::LATEST });
        }
        Ok(StoreReader { conn, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every closed signal with its outcome, in exit order (ties by id).
    pub fn trades(&self) -> Result<Vec<Trade>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SIGNAL_COLUMNS},
                    o.kind, o.exit_ts, o.exit_price, o.pnl_pct, o.holding_ms, o.ambiguous, o.mfe_pct, o.mae_pct
             FROM outcomes o JOIN signals s ON s.id = o.signal_id
             ORDER BY o.exit_ts, o.signal_id"
        ))?;
        let mut names = Names::default();
        let rows = statement.query_map([], |row| Ok((signal_from(row, &mut names), outcome_from(row))))?;
        let mut trades = Vec::new();
        for row in rows {
            let (signal, outcome) = row?;
            trades.push(Trade { signal: Arc::new(signal?), outcome: outcome? });
        }
        Ok(trades)
    }

    /// Signals without an outcome, in arrival order.
    pub fn open_signals(&self) -> Result<Vec<Signal>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SIGNAL_COLUMNS}
             FROM signals s LEFT JOIN outcomes o ON o.signal_id = s.id
             WHERE o.signal_id IS NULL ORDER BY s.rowid"
        ))?;
        let mut names = Names::default();
        let rows = statement.query_map([], |row| Ok(signal_from(row, &mut names)))?;
        let mut signals = Vec::new();
        for row in rows {
            signals.push(row??);
        }
        Ok(signals)
    }

    /// How many signals the store holds.
    pub fn signal_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self.conn.query_row("SELECT COUNT(*) FROM signals", [], |row| row.get(0))?;
        Ok(count.unsigned_abs())
    }

    /// The outcome settings the store was filled with, if any.
    pub fn settings(&self) -> Result<Option<String>, StoreError> {
        match self.conn.query_row("SELECT value FROM settings WHERE key = 'outcomes'", [], |row| row.get(0)) {
            Ok(value) => Ok(Some(value)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Reads a signal from the first 13 columns of `row`, sharing value names
/// through `names`.
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
