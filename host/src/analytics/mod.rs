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
//! Bonett–Wright standard error for Spearman, `sqrt(1 + ic²/2) / sqrt(n − 3)`,
//! widened by `√deff` for clustering in time (`hac.rs`):
//! `tanh(atanh(ic) ± 1.959963984540054·se)`, `null` under 4 trades or when
//! `|ic| = 1`; the head edge's Welch interval is widened the same way.
//!
//! Beside the Sharpe ratios: the probabilistic Sharpe ratio ([`psr`]) of
//! every summary, and for a lineup ([`selection`]) each strategy's deflated
//! Sharpe ratio ([`dsr`]) with the number of trials, and the probability of
//! backtest overfitting ([`pbo`]). Each statistic is one file with its paper
//! and formula.

mod breakdown;
mod daily;
pub mod dsr;
mod fdr;
#[cfg(test)]
mod fixtures;
mod hac;
mod heads;
pub mod learning;
mod moments;
pub(crate) mod normal;
pub mod pbo;
pub mod psr;
pub mod selection;
mod spearman;
mod summary;
mod text;

use std::collections::BTreeMap;

use serde::Serialize;
use siglearn_plugin_api::{Side, Symbol, Timestamp};

use crate::trade::Trade;

pub use heads::{HeadStats, VoteGroup};
pub use selection::{Selection, StrategySharpe, Trials};
pub use spearman::IndicatorStats;
pub use summary::{Summary, summarize};

/// The breakdown key of signals without a pattern or regime.
pub const MISSING_KEY: &str = "(none)";

/// Everything `siglearn report` shows about a set of closed trades.
///
/// Serialises to `{"overall", "by_symbol", "by_side", "by_pattern",
/// "by_regime", "by_head", "by_indicator", "lineup", "open_signals"}` in that
/// order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub overall: Summary,
    pub by_symbol: BTreeMap<Symbol, Summary>,
    /// Keyed `"long"` and `"short"`.
    pub by_side: BTreeMap<Side, Summary>,
    pub by_pattern: BTreeMap<String, Summary>,
    pub by_regime: BTreeMap<String, Summary>,
    pub by_head: BTreeMap<String, HeadStats>,
    pub by_indicator: BTreeMap<String, IndicatorStats>,
    /// The strategies' PSR and DSR and the lineup's PBO with its trial count,
    /// when the trades were replayed or stored with strategies; else `null`.
    pub lineup: Option<Selection>,
    /// Signals still waiting for an outcome; they are in no metric.
    pub open_signals: usize,
}

/// Builds the report of closed trades given in any order, with the number of
/// signals still open.
pub fn build_report(trades: &[Trade], open_signals: usize) -> Report {
    let mut ordered: Vec<&Trade> = trades.iter().collect();
    sort_in_exit_order(&mut ordered);
    build_report_ordered(&ordered, open_signals)
}

/// [`build_report`] of trades already in exit order (see [`sort_in_exit_order`]).
pub fn build_report_ordered(ordered: &[&Trade], open_signals: usize) -> Report {
    // Groups are keyed by borrowed names and given owned keys once each,
    // not once a trade.
    let owned = |groups: BTreeMap<&str, Summary>| -> BTreeMap<String, Summary> {
        groups.into_iter().map(|(key, summary)| (key.to_owned(), summary)).collect()
    };
    // Each part reads the same trades and nothing else, so they are
    // computed on two threads; the report is the same whichever finishes
    // first.
    let (overall, by_side, by_pattern, by_regime, by_head, by_symbol, by_indicator) =
        std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                let by_symbol = breakdown::group_summaries(ordered, |trade| &trade.signal.symbol, None);
                (by_symbol, spearman::by_indicator(ordered))
            });
            let overall = Summary::of_exit_ordered(ordered);
            // A breakdown with one group (every signal without a pattern,
            // say) summarises the same trades as the whole.
            let whole = Some(&overall);
            let by_side = breakdown::group_summaries(ordered, |trade| trade.signal.side, whole);
            let by_pattern = owned(breakdown::group_summaries(
                ordered,
                |trade| trade.signal.pattern.as_deref().unwrap_or(MISSING_KEY),
                whole,
            ));
            let by_regime = owned(breakdown::group_summaries(
                ordered,
                |trade| trade.signal.regime.as_deref().unwrap_or(MISSING_KEY),
                whole,
            ));
            let by_head = heads::by_head(ordered);
            let (by_symbol, by_indicator) =
                other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (overall, by_side, by_pattern, by_regime, by_head, by_symbol, by_indicator)
        });
    Report {
        overall,
        by_symbol: by_symbol.into_iter().map(|(symbol, summary)| (symbol.clone(), summary)).collect(),
        by_side,
        by_pattern,
        by_regime,
        by_head,
        by_indicator,
        lineup: None,
        open_signals,
    }
}

impl Report {
    /// The report with the selection figures of the strategies that ran.
    pub fn with_lineup(self, lineup: Selection) -> Report {
        Report { lineup: Some(lineup), ..self }
    }

    /// The report as indented JSON.
    pub fn to_json_pretty(&self) -> String {
        // Cannot fail: every map key is a string and every value a number,
        // string or null (serde_json writes non-finite floats as null).
        serde_json::to_string_pretty(self).expect("a Report always serialises to JSON")
    }
}

/// Sorts trades into exit order: by exit time, ties by signal id as text.
/// The sort is stable, and every metric relies on this one order.
pub(crate) fn sort_in_exit_order(trades: &mut [&Trade]) {
    // By exit time with the time beside each reference (no trade is read
    // during the sort), then each run of equal times by id: both sorts are
    // stable, so this is the stable sort by (exit time, id).
    let mut keyed: Vec<(Timestamp, &Trade)> =
        trades.iter().map(|&trade| (trade.outcome.exit_ts, trade)).collect();
    keyed.sort_by_key(|&(exit_ts, _)| exit_ts);
    for run in keyed.chunk_by_mut(|a, b| a.0 == b.0).filter(|run| run.len() > 1) {
        run.sort_by(|a, b| a.1.signal.id.as_str().cmp(b.1.signal.id.as_str()));
    }
    for (slot, (_, trade)) in trades.iter_mut().zip(keyed) {
        *slot = trade;
    }
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::{MILLIS_PER_DAY, Side};

    use super::fixtures::{trade, with_signal};
    use super::*;

    const EMPTY_SUMMARY: &str = concat!(
        r#"{"total_trades":0,"wins":0,"losses":0,"win_rate":null,"avg_pnl_pct":null,"#,
        r#""expectancy_pct":null,"profit_factor":null,"max_drawdown_pct":null,"best_streak":0,"#,
        r#""worst_streak":0,"sharpe_per_trade":null,"sharpe_daily":null,"sortino_daily":null,"#,
        r#""psr_daily":null}"#
    );

    fn mixed_trades() -> Vec<Trade> {
        let eth = |signal: &mut siglearn_plugin_api::Signal| {
            signal.symbol = Symbol::new("ETH-USD");
            signal.pattern = Some("breakout".into());
            signal.heads.insert("trend", 0.5);
            signal.indicators.insert("rsi", 70.0);
        };
        vec![
            trade("1", Side::Long, 0, 1_000, 2.0),
            with_signal(trade("2", Side::Short, 0, 2_000, -1.0), eth),
            with_signal(trade("3", Side::Long, 0, MILLIS_PER_DAY, 0.5), |signal| {
                signal.regime = Some("calm".into());
            }),
        ]
    }

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

    #[test]
    fn json_has_exactly_the_required_keys_in_order() {
        let json = serde_json::to_string(&build_report(&[], 3)).unwrap();
        let expected =
            format!(r#"{{"overall":{EMPTY_SUMMARY},"by_symbol":{{}},"by_side":{{}},"by_pattern":{{}},"#)
                + r#""by_regime":{},"by_head":{},"by_indicator":{},"lineup":null,"open_signals":3}"#;
        assert_eq!(json, expected);
    }

    #[test]
    fn breakdown_groups_are_keyed_by_value_with_none_for_missing() {
        let report = build_report(&mixed_trades(), 0);
        let value: serde_json::Value = serde_json::from_str(&report.to_json_pretty()).unwrap();
        let keys = |field: &str| value[field].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys("by_symbol"), ["BTC-USD", "ETH-USD"]);
        assert_eq!(keys("by_side"), ["long", "short"]);
        assert_eq!(keys("by_pattern"), ["(none)", "breakout"]);
        assert_eq!(keys("by_regime"), ["(none)", "calm"]);
        assert_eq!(keys("by_head"), ["trend"]);
        assert_eq!(keys("by_indicator"), ["rsi"]);
        assert_eq!(value["by_side"]["long"]["total_trades"], 2);
        assert_eq!(value["by_pattern"]["(none)"]["avg_pnl_pct"], 1.25);
        assert_eq!(value["by_head"]["trend"]["disagree"]["count"], 1);
    }

    #[test]
    fn each_group_is_summarised_on_its_own_trades_and_span() {
        let report = build_report(&mixed_trades(), 0);
        let long = &report.by_side[&Side::Long];
        assert_eq!((long.total_trades, long.wins, long.avg_pnl_pct), (2, 2, Some(1.25)));
        // The long trades exit on days 0 and 1: two days of +2 and +0.5.
        let expected = 1.25 / (1.125f64).sqrt() * 365f64.sqrt();
        assert!((long.sharpe_daily.unwrap() - expected).abs() < 1e-12);
        assert_eq!(report.by_side[&Side::Short].sharpe_daily, None);
        assert_eq!(report.overall.total_trades, 3);
    }
}
