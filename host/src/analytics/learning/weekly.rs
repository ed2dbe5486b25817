//! The weekly series shared by the performance and improvements views.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analytics::moments::mean;
use crate::timestamp::format_utc_day;
use crate::trade::Trade;

/// The UTC day number of the Monday of `day`'s week (day 4, 1970-01-05, was one).
pub(super) fn monday_of(day: i64) -> i64 {
    day - (day - 4).rem_euclid(7)
}

/// The weekly series of trades given in exit order, empty weeks included.
pub(super) fn weekly(ordered: &[&Trade]) -> Vec<Value> {
    let mut weeks: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    // Only exits inside the accepted range: the series has an entry for
    // every week between the first and the last, so its length stays bounded.
    let accepted = crate::timestamp::accepted_days();
    for trade in ordered.iter().filter(|trade| accepted.contains(&trade.outcome.exit_ts.utc_day())) {
        weeks.entry(monday_of(trade.outcome.exit_ts.utc_day())).or_default().push(trade.outcome.pnl_pct);
    }
    let (Some(&first), Some(&last)) = (weeks.keys().next(), weeks.keys().next_back()) else {
        return Vec::new();
    };
    let mut cumulative = 0.0;
    (first..=last)
        .step_by(7)
        .map(|monday| {
            let returns = weeks.get(&monday).map_or(&[][..], Vec::as_slice);
            // One return at a time, in exit order, so the end of the series
            // equals the equity curve of the analytics summary.
            cumulative = returns.iter().fold(cumulative, |sum, r| sum + r);
            let wins = returns.iter().filter(|&&r| r > 0.0).count();
            json!({
                "week_start": format_utc_day(monday),
                "trades": returns.len(),
                "win_rate": (!returns.is_empty()).then(|| wins as f64 / returns.len() as f64),
                "avg_pnl_pct": mean(returns),
                "cumulative_pnl_pct": cumulative,
            })
        })
        .collect()
}
