//! The prices the daemon took lately, kept so that its rules for prices
//! hold across a restart: the last bars taken (a retry of one is told from
//! a changed bar) and each symbol's last price time (a price before it is
//! refused). Written by [`Command::RememberPrices`](super::Command) in the
//! transaction of the batch that took them; read once when the daemon
//! takes its first batch of prices.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};
use siglearn_plugin_api::{Bar, Symbol, Timestamp};

use super::StoreError;

/// What the store remembers of the prices taken: the bars, oldest first,
/// and each symbol's last price time.
#[derive(Debug, Default, PartialEq)]
pub struct RecentPrices {
    pub bars: Vec<(Symbol, Bar)>,
    pub last: Vec<(Symbol, Timestamp)>,
}

/// Adds the bars and last price times of a batch, keeping only the newest
/// `keep` bars.
pub(super) fn write(
    tx: &rusqlite::Transaction<'_>,
    bars: &[(Symbol, Bar)],
    last: &[(Symbol, Timestamp)],
    keep: usize,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO recent_bars (symbol, ts, open, high, low, close, volume) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (symbol, bar) in bars {
        insert.execute(params![
            symbol.as_str(),
            bar.ts.as_millis(),
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume
        ])?;
    }
    if !bars.is_empty() {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        tx.prepare_cached("DELETE FROM recent_bars WHERE seq <= (SELECT MAX(seq) FROM recent_bars) - ?1")?
            .execute([keep])?;
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO last_prices (symbol, ts) VALUES (?1, ?2) \
         ON CONFLICT (symbol) DO UPDATE SET ts = MAX(ts, excluded.ts)",
    )?;
    for (symbol, ts) in last {
        upsert.execute(params![symbol.as_str(), ts.as_millis()])?;
    }
    Ok(())
}

/// What the store at `path` remembers of the prices the daemon took.
pub fn recent_prices(path: &Path) -> Result<RecentPrices, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    let bars = conn
        .prepare("SELECT symbol, ts, open, high, low, close, volume FROM recent_bars ORDER BY seq")?
        .query_map([], |row| {
            let bar = Bar {
                ts: Timestamp(row.get(1)?),
                open: row.get(2)?,
                high: row.get(3)?,
                low: row.get(4)?,
                close: row.get(5)?,
                volume: row.get(6)?,
            };
            Ok((Symbol::new(row.get::<_, String>(0)?), bar))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let last = conn
        .prepare("SELECT symbol, ts FROM last_prices")?
        .query_map([], |row| Ok((Symbol::new(row.get::<_, String>(0)?), Timestamp(row.get(1)?))))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecentPrices { bars, last })
}
