//! Small builders shared by the monitor's tests.

use siglearn_plugin_api::{Bar, Price, Side, Signal, SignalId, Symbol, Tick, Timestamp, Values};

use super::rules::Levels;

/// A bar at `ts` ms whose close equals its open.
pub(crate) fn bar(ts: i64, open: f64, high: f64, low: f64) -> Price {
    Price::Bar(Bar { ts: Timestamp(ts), open, high, low, close: open, volume: 1.0 })
}

pub(crate) fn tick(ts: i64, price: f64) -> Price {
    Price::Tick(Tick { ts: Timestamp(ts), price })
}

/// Long at 100 entering at 0, TP 110, SL 95, no deadline.
pub(crate) fn long() -> Levels {
    Levels {
        side: Side::Long,
        entry_ts: Timestamp(0),
        entry_price: 100.0,
        take_profit: Some(110.0),
        stop_loss: Some(95.0),
        deadline: None,
    }
}

/// Short at 100 entering at 0, TP 90, SL 105, no deadline.
pub(crate) fn short() -> Levels {
    Levels { side: Side::Short, take_profit: Some(90.0), stop_loss: Some(105.0), ..long() }
}

/// A `BTC` signal with the levels of [`long`] or [`short`].
pub(crate) fn signal(id: &str, side: Side) -> Signal {
    let levels = if side == Side::Long { long() } else { short() };
    Signal {
        id: SignalId::new(id),
        symbol: Symbol::new("BTC"),
        side,
        entry_ts: levels.entry_ts,
        entry_price: levels.entry_price,
        take_profit: levels.take_profit,
        stop_loss: levels.stop_loss,
        max_hold_ms: None,
        confidence: None,
        pattern: None,
        regime: None,
        heads: Values::new(),
        indicators: Values::new(),
    }
}
