//! A realistic signal and outcome for checking a strategy without data:
//! nine head votes and ten indicators, as the built-in generator makes them.
//! `siglearn check`, the tests and the benchmarks use them.

use std::sync::Arc;

use siglearn_plugin_api::{Outcome, OutcomeKind, Side, Signal, SignalId, Symbol, Timestamp, Values};

/// The head names of the built-in generator.
pub const HEADS: [&str; 9] =
    ["adx", "bollinger", "donchian", "ema_trend", "macd", "obv", "roc", "rsi", "stochastic"];

/// The indicator names of the built-in generator.
pub const INDICATORS: [&str; 10] = [
    "adx",
    "atr_pct",
    "bb_pct_b",
    "donchian_pos",
    "ema_gap_pct",
    "macd_hist",
    "obv_slope",
    "roc",
    "rsi",
    "stoch_k",
];

/// A long BTC-USD signal with votes and indicators filled.
pub fn signal() -> Arc<Signal> {
    let votes = [0.8, -0.3, 0.5, 0.9, 0.4, 0.2, 0.6, -0.4, -0.1];
    let readings = [31.0, 1.4, 0.72, 0.9, 0.35, 12.5, 0.08, 2.1, 61.0, 78.0];
    Arc::new(Signal {
        id: SignalId::new("fixture-1"),
        symbol: Symbol::new("BTC-USD"),
        side: Side::Long,
        entry_ts: Timestamp(1_514_764_800_000),
        entry_price: 13_800.0,
        take_profit: Some(14_200.0),
        stop_loss: Some(13_600.0),
        max_hold_ms: Some(24 * 3_600_000),
        confidence: Some(0.31),
        pattern: Some("trend".into()),
        regime: Some("trend_high_vol".into()),
        heads: HEADS.iter().copied().zip(votes).collect::<Values>(),
        indicators: INDICATORS.iter().copied().zip(readings).collect::<Values>(),
    })
}

/// The outcome of [`signal`]: its take-profit hit after six hours.
pub fn outcome() -> Outcome {
    Outcome {
        signal_id: SignalId::new("fixture-1"),
        kind: OutcomeKind::TpHit,
        exit_ts: Timestamp(1_514_764_800_000 + 6 * 3_600_000),
        exit_price: 14_200.0,
        pnl_pct: (14_200.0 / 13_800.0 - 1.0) * 100.0,
        holding_ms: 6 * 3_600_000,
        ambiguous: false,
        mfe_pct: 3.1,
        mae_pct: 0.4,
    }
}
