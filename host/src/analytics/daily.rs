//! The daily P&L series and the annualised ratios computed from it.
//!
//! A day's P&L is the sum of the returns of the trades that exit on that UTC
//! calendar day. The series runs from the earliest entry day among the trades
//! to the last exit day, with days without exits filled with 0: a strategy that
//! sits in one long trade for a week has six flat days and one P&L day, not a
//! single-day history. Ratios are annualised with sqrt(365) because crypto and
//! signal streams trade every calendar day.
//!
//! The series never leaves the accepted range of instants (1970 to 2100,
//! [`crate::timestamp::accepted_days`]), so its length is bounded whatever a store
//! holds: a trade stamped outside it (written by an older version that read
//! microseconds as milliseconds) is left out of the daily series instead of
//! making it millions of days long.

use siglearn_plugin_api::Timestamp;

use super::moments::{is_noise, mean, sample_std};
use crate::trade::Trade;

/// Calendar days in a year, for annualising daily ratios.
const DAYS_PER_YEAR: f64 = 365.0;

/// The zero-filled daily P&L of trades given in exit order, one value per UTC
/// day from the earliest entry day to the last exit day; empty for no trades.
pub(super) fn daily_pnl(trades: &[&Trade]) -> Vec<f64> {
    // Exit days count in the start too, so that a trade recorded as exiting
    // before its entry (bad input) is still counted rather than dropped.
    match day_span(trades.iter().copied()) {
        Some((first, last)) => daily_pnl_over(trades, first, last),
        None => Vec::new(),
    }
}

/// The UTC day numbers from the earliest entry day to the last exit day of
/// trades; `None` for no trades.
pub(super) fn day_span<'a>(trades: impl IntoIterator<Item = &'a Trade>) -> Option<(i64, i64)> {
    // Within the accepted range only, so the span (and a series over it)
    // stays bounded whatever an older store holds. One pass over instants;
    // the day of an instant grows with it, so the days of the earliest and
    // the latest instants are the earliest and the latest days.
    let sane = crate::timestamp::EARLIEST..crate::timestamp::END;
    let (mut first, mut last) = (None::<Timestamp>, None::<Timestamp>);
    for trade in trades {
        let exit = trade.outcome.exit_ts;
        let earliest = trade.signal.entry_ts.min(exit);
        first = Some(first.map_or(earliest, |first| first.min(earliest)));
        if sane.contains(&exit) {
            last = Some(last.map_or(exit, |last| last.max(exit)));
        }
    }
    Some((first?.utc_day().max(sane.start.utc_day()), last?.utc_day()))
}

/// The zero-filled daily P&L of trades given in exit order over the UTC days
/// `first..=last` (a span shared by several ledgers); exits outside it are
/// left out.
pub(super) fn daily_pnl_over(trades: &[&Trade], first: i64, last: i64) -> Vec<f64> {
    let Ok(len) = usize::try_from(last - first + 1) else {
        return Vec::new();
    };
    let mut days = vec![0.0; len];
    for trade in trades {
        let offset = usize::try_from(trade.outcome.exit_ts.utc_day() - first).ok();
        if let Some(day) = offset.and_then(|offset| days.get_mut(offset)) {
            *day += trade.outcome.pnl_pct;
        }
    }
    days
}

/// mean(d) / std(d) * sqrt(365), with the sample deviation (n - 1); `None`
/// under two days or with zero deviation.
pub(super) fn sharpe_daily(days: &[f64]) -> Option<f64> {
    Some(mean(days)? / sample_std(days)? * DAYS_PER_YEAR.sqrt())
}

/// mean(d) / sqrt(mean(min(d, 0)^2)) * sqrt(365); `None` under two days or
/// when no day lost money (beyond rounding noise).
///
/// The downside mean is over all days, losing or not, as in Sortino's target
/// semi-deviation with a target of 0.
pub(super) fn sortino_daily(days: &[f64]) -> Option<f64> {
    if days.len() < 2 {
        return None;
    }
    let downside: Vec<f64> = days.iter().map(|day| day.min(0.0).powi(2)).collect();
    let downside = mean(&downside)?.sqrt();
    if is_noise(downside, days) {
        return None;
    }
    Some(mean(days)? / downside * DAYS_PER_YEAR.sqrt())
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::{MILLIS_PER_DAY, Side};

    mod fuzz {
        use proptest::prelude::*;

        use super::super::*;
        use crate::analytics::fixtures::trade;

        /// The span as first written: days per trade, then their extremes
        /// (the twin of the one-pass version).
        fn span_by_days(trades: &[Trade]) -> Option<(i64, i64)> {
            let sane = crate::timestamp::accepted_days();
            let exit_day = |trade: &Trade| trade.outcome.exit_ts.utc_day();
            let last = trades.iter().map(exit_day).filter(|day| sane.contains(day)).max()?;
            let first = trades.iter().map(|trade| trade.signal.entry_ts.utc_day());
            Some((first.chain(trades.iter().map(exit_day)).min()?.max(sane.start), last))
        }

        proptest! {
            #[test]
            fn the_one_pass_span_is_the_span_of_the_days(
                stamps in prop::collection::vec((-10_000_000_000_000i64..10_000_000_000_000, -5_000_000_000_000i64..5_000_000_000_000), 0..12),
            ) {
                let trades: Vec<Trade> = stamps
                    .iter()
                    .enumerate()
                    .map(|(i, &(entry, hold))| trade(&i.to_string(), siglearn_plugin_api::Side::Long, entry, entry + hold, 0.0))
                    .collect();
                prop_assert_eq!(day_span(&trades), span_by_days(&trades));
            }
        }
    }

    use super::*;
    use crate::analytics::fixtures::{refs, trade};

    const DAY: i64 = MILLIS_PER_DAY;
    const HOUR: i64 = DAY / 24;

    /// Day 10 to day 13: a long trade entering on day 10 and exiting on day 13
    /// with +4, and a trade inside day 11 with -2.
    fn four_days() -> Vec<Trade> {
        vec![
            trade("a", Side::Long, 10 * DAY + 5 * HOUR, 13 * DAY + HOUR, 4.0),
            trade("b", Side::Short, 11 * DAY + HOUR, 11 * DAY + 2 * HOUR, -2.0),
        ]
    }

    #[test]
    fn series_is_zero_filled_from_the_earliest_entry_day_to_the_last_exit_day() {
        let trades = four_days();
        assert_eq!(daily_pnl(&refs(&trades)), vec![0.0, -2.0, 0.0, 4.0]);
    }

    #[test]
    fn trades_exiting_the_same_day_are_summed() {
        let trades =
            vec![trade("a", Side::Long, HOUR, 2 * HOUR, 1.5), trade("b", Side::Long, HOUR, 3 * HOUR, -0.5)];
        assert_eq!(daily_pnl(&refs(&trades)), vec![1.0]);
    }

    #[test]
    fn sharpe_and_sortino_over_a_zero_filled_series() {
        let trades = four_days();
        let days = daily_pnl(&refs(&trades));
        // d = [0, -2, 0, 4]: mean 0.5; squared deviations 0.25 + 6.25 + 0.25 +
        // 12.25 = 19, so std = sqrt(19 / 3); downside squares [0, 4, 0, 0]
        // have mean 1.
        let sharpe = sharpe_daily(&days).unwrap();
        assert!((sharpe - 0.5 / (19.0f64 / 3.0).sqrt() * 365f64.sqrt()).abs() < 1e-12, "{sharpe}");
        assert!((sharpe - 3.795_773_272_581_241).abs() < 1e-12, "{sharpe}");
        let sortino = sortino_daily(&days).unwrap();
        assert!((sortino - 9.552_486_587_271_4).abs() < 1e-12, "{sortino}");
    }

    #[test]
    fn one_day_has_no_sharpe_or_sortino() {
        let trades =
            vec![trade("a", Side::Long, HOUR, 2 * HOUR, 1.0), trade("b", Side::Long, HOUR, 3 * HOUR, -3.0)];
        let days = daily_pnl(&refs(&trades));
        assert_eq!(days.len(), 1);
        assert_eq!(sharpe_daily(&days), None);
        assert_eq!(sortino_daily(&days), None);
    }

    #[test]
    fn no_losing_day_has_no_sortino() {
        assert_eq!(sortino_daily(&[1.0, 0.0, 2.0]), None);
        assert!(sharpe_daily(&[1.0, 0.0, 2.0]).is_some());
    }

    #[test]
    fn trades_stamped_outside_1970_to_2100_stay_out_of_the_series() {
        // Exits read from microseconds and nanoseconds by an older version:
        // as days they are ~20 million and ~20 billion days after 1970.
        let micros = 1_714_557_600_000_000;
        let nanos = 1_714_557_600_000_000_000;
        let trades = vec![
            trade("a", Side::Long, 10 * DAY, 11 * DAY, 1.0),
            trade("b", Side::Long, 10 * DAY, micros, 2.0),
            trade("c", Side::Long, nanos, nanos, 3.0),
            trade("d", Side::Long, -nanos, 12 * DAY, -1.0),
        ];
        let days = daily_pnl(&refs(&trades));
        // From day 0 (the clamped entry of d) to day 12, the last sane exit.
        assert_eq!(days.len(), 13);
        assert_eq!((days[11], days[12]), (1.0, -1.0));
        assert_eq!(daily_pnl(&refs(&trades[1..3])), Vec::<f64>::new());
    }

    #[test]
    fn two_equal_percent_take_profits_have_no_daily_sharpe() {
        let days = [(101.0 - 100.0) / 100.0 * 100.0, (0.707 - 0.7) / 0.7 * 100.0];
        assert_ne!(days[0], days[1]);
        assert_eq!(sharpe_daily(&days), None);
        assert_eq!(sortino_daily(&[1.0, -1e-17]), None);
        assert!(sortino_daily(&[1.0, -0.5]).is_some());
    }
}
