//! Performance analytics over closed trades: the [`Report`] behind
//! `siglearn report`, the API's metrics and the per-strategy ledgers.
//!
//! Trades enter as [`Trade`]s in any order and leave as plain data that
//! serialises to JSON ([`Report::to_json_pretty`]) or renders for a terminal
//! ([`Report::render_text`]). Nothing here reads the clock or does I/O.
//!
//! # Convention (DESIGN section 11)
//!
//! Every metric walks the trades in exit order: by `outcome.exit_ts`, ties by
//! signal id compared as text (`"10"` before `"9"`). Returns `r` are
//! `outcome.pnl_pct` at a fixed stake per signal. See [`Summary`] for the
//! headline metrics; the daily series runs from the earliest entry day of the
//! trades summarised to their last exit day, zero-filled, so each breakdown
//! group uses its own span. Ratios are `null` when undefined: under two values,
//! or zero deviation, which means all values are equal (decided by comparing
//! them, not by a rounded deviation).
//!
//! Breakdowns are keyed in sorted order. Signals without a pattern or regime
//! are grouped under [`MISSING_KEY`]. A head *agrees* with a trade when
//! `vote * side.sign() > 0`, *disagrees* below 0 and is *neutral* at exactly 0;
//! trades without that head are not counted. An indicator's information
//! coefficient (IC) is the Spearman rank correlation between
//! `value * side.sign()` and `r` over the trades carrying the indicator, ties
//! taking average ranks (Pearson on the ranks), `null` under 3 trades or when
//! either side is constant. Its 95% interval is the Fisher z interval with the
//! Bonett–Wright standard error for Spearman, `sqrt(1 + ic²/2) / sqrt(n − 3)`:
//! `tanh(atanh(ic) ± 1.959963984540054·se)`, `null` under 4 trades or when
//! `|ic| = 1`.

mod daily;
#[cfg(test)]
mod fixtures;
mod moments;
mod summary;

use crate::trade::Trade;

pub use summary::{Summary, summarize};

/// Sorts trades into exit order: by exit time, ties by signal id as text.
/// The sort is stable, and every metric relies on this one order.
pub(crate) fn sort_in_exit_order(trades: &mut [&Trade]) {
    trades.sort_by(|a, b| {
        a.outcome.exit_ts.cmp(&b.outcome.exit_ts).then_with(|| a.signal.id.as_str().cmp(b.signal.id.as_str()))
    });
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::Side;

    use super::fixtures::trade;
    use super::*;

    #[test]
    fn exit_order_is_by_exit_time_then_id_as_text() {
        let trades = [
            trade("9", Side::Long, 0, 2_000, 0.0),
            trade("b", Side::Long, 0, 1_000, 0.0),
            trade("10", Side::Long, 0, 2_000, 0.0),
            trade("a", Side::Long, 0, 3_000, 0.0),
        ];
        let mut ordered: Vec<&Trade> = trades.iter().collect();
        sort_in_exit_order(&mut ordered);
        let ids: Vec<&str> = ordered.iter().map(|trade| trade.signal.id.as_str()).collect();
        assert_eq!(ids, ["b", "10", "9", "a"]);
    }
}
