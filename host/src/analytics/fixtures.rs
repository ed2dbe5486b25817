//! Test fixtures for the analytics module: trades built from the few fields a
//! metric reads.

use std::sync::Arc;

use siglearn_plugin_api::{Outcome, OutcomeKind, Side, Signal, SignalId, Symbol, Timestamp, Values};

use crate::trade::Trade;

/// A BTC-USD trade entering at `entry_ms` and exiting at `exit_ms` with
/// `pnl_pct`; no pattern, regime, heads or indicators.
pub(super) fn trade(id: &str, side: Side, entry_ms: i64, exit_ms: i64, pnl_pct: f64) -> Trade {
    let signal = Signal {
        id: SignalId::new(id),
        symbol: Symbol::new("BTC-USD"),
        side,
        entry_ts: Timestamp(entry_ms),
        entry_price: 100.0,
        take_profit: None,
        stop_loss: None,
        max_hold_ms: Some(exit_ms - entry_ms),
        confidence: None,
        pattern: None,
        regime: None,
        heads: Values::new(),
        indicators: Values::new(),
    };
    let outcome = Outcome {
        signal_id: SignalId::new(id),
        kind: OutcomeKind::TimeExit,
        exit_ts: Timestamp(exit_ms),
        exit_price: 100.0,
        pnl_pct,
        holding_ms: exit_ms - entry_ms,
        ambiguous: false,
        mfe_pct: 0.0,
        mae_pct: 0.0,
    };
    Trade { signal: Arc::new(signal), outcome }
}

/// Long trades with these returns, exiting one minute apart in the given
/// order on day 0; ids `t00`, `t01`, ... sort in the same order.
pub(super) fn sequence(returns: &[f64]) -> Vec<Trade> {
    let minute = 60_000;
    returns
        .iter()
        .enumerate()
        .map(|(i, &r)| trade(&format!("t{i:02}"), Side::Long, 0, (i as i64 + 1) * minute, r))
        .collect()
}

/// The trade with its signal changed by `edit`.
pub(super) fn with_signal(mut trade: Trade, edit: impl FnOnce(&mut Signal)) -> Trade {
    edit(Arc::make_mut(&mut trade.signal));
    trade
}

/// Borrows every trade, as the analytics entry points take them.
pub(super) fn refs(trades: &[Trade]) -> Vec<&Trade> {
    trades.iter().collect()
}
