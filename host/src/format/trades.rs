//! The trades CSV: one row per closed signal, in exit order (ties by signal
//! id as text), the same order the metrics use. Floats are written in their
//! shortest form that reads back to the same f64.

use std::io::Write;
use std::path::Path;

use super::FormatError;
use crate::timestamp::format_timestamp;
use crate::trade::Trade;

/// The header of the trades CSV.
pub const TRADES_HEADER: &str = "signal_id,symbol,side,entry_ts,entry_price,exit_ts,exit_price,pnl_pct,outcome,\
                                 ambiguous,mfe_pct,mae_pct,holding_minutes";

/// Writes the trades CSV to `path`.
pub fn write_trades(path: &Path, trades: &[Trade]) -> Result<(), FormatError> {
    let fail = |source: std::io::Error| FormatError::Write { path: path.to_path_buf(), source };
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    out.write_record(TRADES_HEADER.split(',')).map_err(|e| fail(e.into()))?;
    let mut ordered: Vec<&Trade> = trades.iter().collect();
    ordered.sort_by(|a, b| {
        (a.outcome.exit_ts, a.signal.id.as_str()).cmp(&(b.outcome.exit_ts, b.signal.id.as_str()))
    });
    for trade in ordered {
        let (signal, outcome) = (&trade.signal, &trade.outcome);
        out.write_record([
            signal.id.as_str(),
            signal.symbol.as_str(),
            signal.side.as_str(),
            &format_timestamp(signal.entry_ts),
            &signal.entry_price.to_string(),
            &format_timestamp(outcome.exit_ts),
            &outcome.exit_price.to_string(),
            &outcome.pnl_pct.to_string(),
            outcome.kind.as_str(),
            if outcome.ambiguous { "true" } else { "false" },
            &outcome.mfe_pct.to_string(),
            &outcome.mae_pct.to_string(),
            &outcome.holding_minutes().to_string(),
        ])
        .map_err(|e| fail(e.into()))?;
    }
    let mut inner = out.into_inner().map_err(|e| fail(e.into_error()))?;
    inner.flush().map_err(fail)
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

    #[test]
    fn rows_come_in_exit_order_with_exact_floats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trades.csv");
        let tricky = 0.1 + 0.2;
        write_trades(
            &path,
            &[trade("9", 90_000, tricky), trade("10", 90_000, -1.0 / 3.0), trade("x", 0, 1e-9)],
        )
        .unwrap();
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
}
