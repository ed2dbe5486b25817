//! The trades CSV: one row per closed signal, in exit order (ties by signal
//! id as text), the same order the metrics use. Floats are written in their
//! shortest form that reads back to the same f64.
//!
//! A replay writes a row per closed signal, a million or more, so rows are
//! put together by hand into one reused buffer: Rust's `{}` for floats
//! (shortest round trip, never an exponent), [`write_timestamp`] for times,
//! and the CSV quoting of RFC 4180 (a field holding a comma, a quote or a
//! line break is quoted, its quotes doubled), byte for byte what the `csv`
//! crate writes.

use std::io::Write;
use std::path::Path;

use super::FormatError;
use crate::timestamp::write_timestamp;
use crate::trade::Trade;

/// The header of the trades CSV.
pub const TRADES_HEADER: &str = "signal_id,symbol,side,entry_ts,entry_price,exit_ts,exit_price,pnl_pct,outcome,\
                                 ambiguous,mfe_pct,mae_pct,holding_minutes";

/// Writes the trades CSV to `path`; `ordered` is in exit order (see
/// `analytics::sort_in_exit_order`) and written as given.
pub fn write_trades(path: &Path, ordered: &[&Trade]) -> Result<(), FormatError> {
    write_trades_in(path, ordered, ROWS_A_CHUNK)
}

/// Rows formatted at a time by one thread.
const ROWS_A_CHUNK: usize = 1 << 14;

/// [`write_trades`] with the rows formatted `chunk` at a time on two
/// threads: a second thread formats every other chunk (at most two ahead)
/// while this one formats the others and writes every chunk in order, so
/// the file is the same whatever the threads' speeds, and memory stays at
/// a few chunks.
fn write_trades_in(path: &Path, ordered: &[&Trade], chunk: usize) -> Result<(), FormatError> {
    let fail = |source: std::io::Error| FormatError::Write { path: path.to_path_buf(), source };
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(TRADES_HEADER.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(fail)?;
    let chunks: Vec<&[&Trade]> = ordered.chunks(chunk.max(1)).collect();
    std::thread::scope(|scope| {
        let (formatted, to_write) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let (written, to_reuse) = std::sync::mpsc::channel::<Vec<u8>>();
        let odd = &chunks;
        scope.spawn(move || {
            for rows in odd.iter().skip(1).step_by(2) {
                let mut buffer = to_reuse.try_recv().unwrap_or_default();
                buffer.clear();
                rows.iter().for_each(|trade| trade_row(&mut buffer, trade));
                // The writer stopped (a write failed): nothing more to format.
                if formatted.send(buffer).is_err() {
                    return;
                }
            }
        });
        let mut mine = Vec::new();
        for (i, rows) in chunks.iter().enumerate() {
            if i % 2 == 0 {
                mine.clear();
                rows.iter().for_each(|trade| trade_row(&mut mine, trade));
                out.write_all(&mine).map_err(fail)?;
            } else {
                let buffer =
                    to_write.recv().unwrap_or_else(|_| unreachable!("the formatter sends every odd chunk"));
                out.write_all(&buffer).map_err(fail)?;
                let _ = written.send(buffer);
            }
        }
        Ok(())
    })?;
    out.into_inner().map_err(|e| fail(e.into_error()))?;
    Ok(())
}

/// One row of the trades CSV, with its line end.
fn trade_row(row: &mut Vec<u8>, trade: &Trade) {
    let (signal, outcome) = (&trade.signal, &trade.outcome);
    text_field(row, signal.id.as_str());
    row.push(b',');
    text_field(row, signal.symbol.as_str());
    row.push(b',');
    row.extend_from_slice(signal.side.as_str().as_bytes());
    row.push(b',');
    write_timestamp(row, signal.entry_ts);
    row.push(b',');
    number(row, signal.entry_price);
    row.push(b',');
    write_timestamp(row, outcome.exit_ts);
    for value in [outcome.exit_price, outcome.pnl_pct] {
        row.push(b',');
        number(row, value);
    }
    row.push(b',');
    row.extend_from_slice(outcome.kind.as_str().as_bytes());
    row.extend_from_slice(if outcome.ambiguous { b",true" } else { b",false" });
    for value in [outcome.mfe_pct, outcome.mae_pct, outcome.holding_minutes()] {
        row.push(b',');
        number(row, value);
    }
    row.push(b'\n');
}

/// A float in Rust's `{}` form: the shortest digits that read back to it.
fn number(row: &mut Vec<u8>, value: f64) {
    // Writing into a Vec cannot fail.
    let _ = write!(row, "{value}");
}

/// A text field, quoted when it holds a comma, a quote or a line break.
fn text_field(row: &mut Vec<u8>, text: &str) {
    if !text.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        row.extend_from_slice(text.as_bytes());
        return;
    }
    row.push(b'"');
    for byte in text.bytes() {
        if byte == b'"' {
            row.push(b'"');
        }
        row.push(byte);
    }
    row.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use siglearn_plugin_api::{Outcome, OutcomeKind, Side, SignalId, Timestamp};

    use super::*;
    use crate::monitor::fixtures::signal;

    fn trade(id: &str, exit_ms: i64, pnl_pct: f64) -> Trade {
        Trade {
            signal: Arc::new(signal(id, Side::Long)),
            outcome: Outcome {
                signal_id: SignalId::new(id),
                kind: OutcomeKind::TpHit,
                exit_ts: Timestamp(exit_ms),
                exit_price: 110.0,
                pnl_pct,
                holding_ms: exit_ms,
                ambiguous: exit_ms == 0,
                mfe_pct: 0.1,
                mae_pct: 0.0,
            },
        }
    }

    /// Writes `trades` after putting them in exit order.
    fn write(path: &Path, trades: &[Trade]) {
        let mut ordered: Vec<&Trade> = trades.iter().collect();
        crate::analytics::sort_in_exit_order(&mut ordered);
        write_trades(path, &ordered).unwrap();
    }

    #[test]
    fn rows_come_in_exit_order_with_exact_floats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trades.csv");
        let tricky = 0.1 + 0.2;
        write(&path, &[trade("9", 90_000, tricky), trade("10", 90_000, -1.0 / 3.0), trade("x", 0, 1e-9)]);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], TRADES_HEADER);
        assert!(
            lines[1].starts_with("x,BTC,long,1970-01-01T00:00:00Z,100,1970-01-01T00:00:00Z,110,"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with(",TP_HIT,true,0.1,0,0"), "{}", lines[1]);
        assert!(lines[2].starts_with("10,"), "ties by id as text: {}", lines[2]);
        let pnl: f64 = lines[3].split(',').nth(7).unwrap().parse().unwrap();
        assert_eq!(pnl, tricky);
        assert!(lines[3].ends_with(",1.5"), "holding minutes: {}", lines[3]);
        let small: f64 = lines[1].split(',').nth(7).unwrap().parse().unwrap();
        assert_eq!(small, 1e-9);
    }

    /// The trades file as the `csv` crate writes it: the twin the hand-built
    /// rows are held against.
    fn by_csv_crate(trades: &[&Trade]) -> Vec<u8> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(TRADES_HEADER.split(',')).unwrap();
        for trade in trades {
            let (signal, outcome) = (&trade.signal, &trade.outcome);
            out.write_record([
                signal.id.as_str(),
                signal.symbol.as_str(),
                signal.side.as_str(),
                &crate::timestamp::format_timestamp(signal.entry_ts),
                &signal.entry_price.to_string(),
                &crate::timestamp::format_timestamp(outcome.exit_ts),
                &outcome.exit_price.to_string(),
                &outcome.pnl_pct.to_string(),
                outcome.kind.as_str(),
                if outcome.ambiguous { "true" } else { "false" },
                &outcome.mfe_pct.to_string(),
                &outcome.mae_pct.to_string(),
                &outcome.holding_minutes().to_string(),
            ])
            .unwrap();
        }
        out.into_inner().unwrap()
    }

    mod fuzz {
        use proptest::prelude::*;
        use siglearn_plugin_api::{Signal, Symbol};

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn rows_are_byte_for_byte_what_the_csv_crate_writes(
                rows in prop::collection::vec(
                    ("[a-z0-9,\"\r\n ]{1,8}", "[A-Z,\" ]{1,5}", 0..4_102_444_800_000i64, any::<f64>(), any::<f64>(), any::<bool>()),
                    1..8,
                ),
            ) {
                let trades: Vec<Trade> = rows
                    .iter()
                    .map(|(id, symbol, exit_ms, pnl, price, ambiguous)| {
                        let mut trade = trade(id, *exit_ms, *pnl);
                        let mut signal = Signal::clone(&trade.signal);
                        signal.symbol = Symbol::new(symbol.as_str());
                        signal.entry_price = price.abs();
                        trade.signal = Arc::new(signal);
                        trade.outcome.ambiguous = *ambiguous;
                        trade.outcome.mfe_pct = *price;
                        trade
                    })
                    .collect();
                let ordered: Vec<&Trade> = trades.iter().collect();
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("trades.csv");
                write_trades(&path, &ordered).unwrap();
                let expected = by_csv_crate(&ordered);
                prop_assert_eq!(std::fs::read(&path).unwrap(), expected.clone());
                // In chunks of 1, 2 and 3 rows, formatted on two threads: the same bytes.
                for chunk in 1..=3 {
                    write_trades_in(&path, &ordered, chunk).unwrap();
                    prop_assert_eq!(std::fs::read(&path).unwrap(), expected.clone(), "chunk {}", chunk);
                }
            }
        }
    }
}
