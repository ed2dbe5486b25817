//! The headline metrics of a set of closed trades: counts, win rate, average
//! return, profit factor, drawdown, streaks and Sharpe/Sortino ratios.
//!
//! Every metric walks the trades in exit order (see [`super::sort_in_exit_order`]),
//! so the equity curve, the streaks and every floating-point sum are the same
//! on every run whatever order the trades arrived in.

use serde::Serialize;

use super::daily::{daily_pnl, sharpe_daily, sortino_daily};
use super::moments::{mean, sample_std};
use super::psr::{SharpeMoments, probabilistic_sharpe};
use super::sort_in_exit_order;
use crate::trade::Trade;

/// The metrics of one set of closed trades; returns are in percent of entry.
///
/// Fields serialise in declaration order; undefined values are `null`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub total_trades: usize,
    /// Trades with a return above 0.
    pub wins: usize,
    /// Trades with a return below 0; a return of exactly 0 is neither.
    pub losses: usize,
    /// `wins / total_trades`; `None` without trades.
    pub win_rate: Option<f64>,
    /// Mean return; `None` without trades.
    pub avg_pnl_pct: Option<f64>,
    /// Mean return, the expected result of taking one more signal at a fixed
    /// stake; equal to `avg_pnl_pct` under the fixed-stake convention.
    pub expectancy_pct: Option<f64>,
    /// Sum of gains over the absolute sum of losses; `None` without losses.
    pub profit_factor: Option<f64>,
    /// Largest peak-to-trough fall of the cumulative return, counting the
    /// starting 0 as a peak; never negative; `None` without trades.
    pub max_drawdown_pct: Option<f64>,
    /// Longest run of consecutive wins.
    pub best_streak: usize,
    /// Longest run of consecutive losses.
    pub worst_streak: usize,
    /// Mean return over its sample deviation, not annualised; `None` under two
    /// trades or when all returns are equal.
    pub sharpe_per_trade: Option<f64>,
    /// Annualised Sharpe ratio of the zero-filled daily P&L.
    pub sharpe_daily: Option<f64>,
    /// Annualised Sortino ratio of the zero-filled daily P&L.
    pub sortino_daily: Option<f64>,
    /// Probabilistic Sharpe ratio of the daily P&L against 0 (see
    /// [`super::psr`]): the probability that the true daily Sharpe ratio is
    /// above 0 given the days, skewness and kurtosis; `None` when the daily
    /// Sharpe ratio is.
    pub psr_daily: Option<f64>,
}

/// The metrics of trades given in any order.
///
/// This is the entry point for any ledger (overall, one strategy, one group):
/// it sorts a copy of the references into exit order itself.
pub fn summarize(trades: &[&Trade]) -> Summary {
    let mut ordered = trades.to_vec();
    sort_in_exit_order(&mut ordered);
    Summary::of_exit_ordered(&ordered)
}

impl Summary {
    /// The metrics of trades already sorted into exit order.
    pub(super) fn of_exit_ordered(trades: &[&Trade]) -> Summary {
        let returns: Vec<f64> = trades.iter().map(|trade| trade.outcome.pnl_pct).collect();
        let wins = returns.iter().filter(|&&r| r > 0.0).count();
        let losses = returns.iter().filter(|&&r| r < 0.0).count();
        let avg = mean(&returns);
        let (best_streak, worst_streak) = streaks(&returns);
        let days = daily_pnl(trades);
        Summary {
            total_trades: returns.len(),
            wins,
            losses,
            win_rate: (!returns.is_empty()).then(|| wins as f64 / returns.len() as f64),
            avg_pnl_pct: avg,
            expectancy_pct: avg,
            profit_factor: profit_factor(&returns),
            max_drawdown_pct: max_drawdown(&returns),
            best_streak,
            worst_streak,
            sharpe_per_trade: avg.zip(sample_std(&returns)).map(|(avg, std)| avg / std),
            sharpe_daily: sharpe_daily(&days),
            sortino_daily: sortino_daily(&days),
            psr_daily: SharpeMoments::of(&days).and_then(|moments| probabilistic_sharpe(&moments, 0.0)),
        }
    }
}

fn profit_factor(returns: &[f64]) -> Option<f64> {
    // Folded from +0.0: `Sum` starts at -0.0, which would make a profit factor
    // without gains serialise as `-0.0`.
    let gains = returns.iter().filter(|&&r| r > 0.0).fold(0.0, |sum, r| sum + r);
    let losses = returns.iter().filter(|&&r| r < 0.0).fold(0.0, |sum, r| sum + r);
    (losses < 0.0).then(|| gains / losses.abs())
}

fn max_drawdown(returns: &[f64]) -> Option<f64> {
    if returns.is_empty() {
        return None;
    }
    let (mut equity, mut peak, mut drawdown) = (0.0f64, 0.0f64, 0.0f64);
    for r in returns {
        equity += r;
        peak = peak.max(equity);
        drawdown = drawdown.max(peak - equity);
    }
    Some(drawdown)
}

/// The longest runs of wins and of losses; a flat trade ends both runs.
fn streaks(returns: &[f64]) -> (usize, usize) {
    let (mut wins, mut losses, mut best, mut worst) = (0, 0, 0, 0);
    for &r in returns {
        wins = if r > 0.0 { wins + 1 } else { 0 };
        losses = if r < 0.0 { losses + 1 } else { 0 };
        best = best.max(wins);
        worst = worst.max(losses);
    }
    (best, worst)
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::Side;

    use super::*;
    use crate::analytics::fixtures::{refs, sequence, trade};

    fn summary_of(returns: &[f64]) -> Summary {
        summarize(&refs(&sequence(returns)))
    }

    #[test]
    fn no_trades_leave_every_ratio_undefined() {
        let summary = summarize(&[]);
        assert_eq!((summary.total_trades, summary.wins, summary.losses), (0, 0, 0));
        assert_eq!((summary.best_streak, summary.worst_streak), (0, 0));
        for value in [
            summary.win_rate,
            summary.avg_pnl_pct,
            summary.expectancy_pct,
            summary.profit_factor,
            summary.max_drawdown_pct,
            summary.sharpe_per_trade,
            summary.sharpe_daily,
            summary.sortino_daily,
            summary.psr_daily,
        ] {
            assert_eq!(value, None);
        }
    }

    #[test]
    fn a_zero_return_is_neither_win_nor_loss_but_counts_in_the_win_rate() {
        let summary = summary_of(&[1.0, 0.0, -0.5, 2.0]);
        assert_eq!((summary.total_trades, summary.wins, summary.losses), (4, 2, 1));
        assert_eq!(summary.win_rate, Some(0.5));
        assert_eq!(summary.avg_pnl_pct, Some(0.625));
        assert_eq!(summary.expectancy_pct, Some(0.625));
        assert_eq!(summary.profit_factor, Some(6.0));
    }

    #[test]
    fn profit_factor_is_null_without_losses() {
        let summary = summary_of(&[1.0, 0.0, 2.0]);
        assert_eq!(summary.losses, 0);
        assert_eq!(summary.profit_factor, None);
        let no_gains = summary_of(&[-1.0, -3.0]).profit_factor.unwrap();
        assert_eq!((no_gains, no_gains.is_sign_positive()), (0.0, true));
    }

    #[test]
    fn drawdown_counts_the_starting_zero_as_a_peak() {
        assert_eq!(summary_of(&[-2.0, 1.0]).max_drawdown_pct, Some(2.0));
        // Equity -1, 1, -2, -1.5: the deepest fall is from 1 to -2.
        assert_eq!(summary_of(&[-1.0, 2.0, -3.0, 0.5]).max_drawdown_pct, Some(3.0));
        assert_eq!(summary_of(&[1.0, 0.0, 2.0]).max_drawdown_pct, Some(0.0));
    }

    #[test]
    fn a_zero_return_breaks_both_streaks() {
        let summary = summary_of(&[1.0, 1.0, 0.0, 1.0, -1.0, -1.0, 0.0, -1.0]);
        assert_eq!((summary.best_streak, summary.worst_streak), (2, 2));
        let summary = summary_of(&[-1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0]);
        assert_eq!((summary.best_streak, summary.worst_streak), (3, 4));
    }

    #[test]
    fn exit_time_ties_are_broken_by_signal_id_as_text() {
        // "9" and "10" exit at the same instant; as text "10" < "9", so the
        // win of "10" extends the earlier win: W W L. Numeric order would give
        // W L W and a best streak of 1.
        let trades = [
            trade("9", Side::Long, 0, 1_000, -1.0),
            trade("10", Side::Long, 0, 1_000, 1.0),
            trade("1", Side::Long, 0, 500, 1.0),
        ];
        let summary = summarize(&refs(&trades));
        assert_eq!((summary.best_streak, summary.worst_streak), (2, 1));
        let reversed: Vec<Trade> = trades.iter().rev().cloned().collect();
        assert_eq!(summarize(&refs(&reversed)), summary);
    }

    #[test]
    fn trades_are_sorted_by_exit_time_not_input_order() {
        let trades = [trade("a", Side::Long, 0, 3_000, 1.0), trade("b", Side::Long, 0, 1_000, -1.0)];
        // Exit order is b (-1) then a (+1): a fall from the starting 0.
        assert_eq!(summarize(&refs(&trades)).max_drawdown_pct, Some(1.0));
    }

    #[test]
    fn sharpe_per_trade_is_mean_over_sample_std() {
        let sharpe = summary_of(&[1.0, 2.0, 3.0, 4.0]).sharpe_per_trade.unwrap();
        // mean 2.5, sample variance 5 / 3.
        assert!((sharpe - 1.936_491_673_103_708_5).abs() < 1e-12, "{sharpe}");
        assert_eq!(summary_of(&[1.0]).sharpe_per_trade, None);
        assert_eq!(summary_of(&[0.3, 0.3, 0.3]).sharpe_per_trade, None);
        // Two +1 % take-profits at different prices: equal up to rounding.
        let one_percent = [(101.0 - 100.0) / 100.0 * 100.0, (0.707 - 0.7) / 0.7 * 100.0];
        assert_ne!(one_percent[0], one_percent[1]);
        assert_eq!(summary_of(&one_percent).sharpe_per_trade, None);
    }

    #[test]
    fn daily_ratios_use_the_group_span_from_entry_to_exit() {
        const DAY: i64 = siglearn_plugin_api::MILLIS_PER_DAY;
        let trades = [
            trade("a", Side::Long, 10 * DAY, 13 * DAY + 1, 4.0),
            trade("b", Side::Long, 11 * DAY, 11 * DAY + 1, -2.0),
        ];
        let summary = summarize(&refs(&trades));
        assert!((summary.sharpe_daily.unwrap() - 3.795_773_272_581_241).abs() < 1e-12);
        assert!((summary.sortino_daily.unwrap() - 9.552_486_587_271_4).abs() < 1e-12);
        // Days [0, -2, 0, 4]: SR = 0.5 / sqrt(19/3); deviations -0.5, -2.5,
        // -0.5, 3.5 give m2 = 19/4, m3 = 27/4, m4 = 189.25/4; PSR(0) is
        // Φ(SR·√3 / √(1 − γ₃·SR + (γ₄ − 1)/4·SR²)).
        let sr = 0.5 / (19.0f64 / 3.0).sqrt();
        let (m2, m3, m4) = (4.75f64, 6.75, 189.25 / 4.0);
        let (skew, kurt) = (m3 / m2.powf(1.5), m4 / (m2 * m2));
        let z = sr * 3f64.sqrt() / (1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr).sqrt();
        assert!((summary.psr_daily.unwrap() - crate::analytics::normal::cdf(z)).abs() < 1e-12);
        // Both trades on one day: no daily ratios.
        assert_eq!(summary_of(&[1.0, -2.0]).sharpe_daily, None);
        assert_eq!(summary_of(&[1.0, -2.0]).sortino_daily, None);
    }
}
