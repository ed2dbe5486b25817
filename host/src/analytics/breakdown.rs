//! Breakdowns of the headline metrics by a property of the signal (symbol,
//! side, pattern, regime): one [`Summary`] per group, keyed in sorted order.

use std::collections::BTreeMap;

use super::summary::Summary;
use crate::trade::Trade;

/// Groups trades given in exit order by `key` and summarises each group on its
/// own trades. Grouping keeps the exit order, so no group needs re-sorting.
/// The key may borrow from the trade (a symbol or pattern as `&str`), so
/// that grouping allocates nothing per trade.
pub(super) fn group_summaries<'t, K: Ord>(
    trades: &[&'t Trade],
    key: impl Fn(&'t Trade) -> K,
) -> BTreeMap<K, Summary> {
    let mut groups: BTreeMap<K, Vec<&Trade>> = BTreeMap::new();
    for &trade in trades {
        groups.entry(key(trade)).or_default().push(trade);
    }
    groups.into_iter().map(|(key, group)| (key, Summary::of_exit_ordered(&group))).collect()
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::Side;

    use super::*;
    use crate::analytics::fixtures::{refs, trade};

    #[test]
    fn groups_keep_exit_order_and_are_sorted_by_key() {
        let trades = [
            trade("a", Side::Short, 0, 1_000, -1.0),
            trade("b", Side::Long, 0, 2_000, 3.0),
            trade("c", Side::Short, 0, 3_000, 2.0),
        ];
        let groups = group_summaries(&refs(&trades), |trade| trade.signal.side);
        assert_eq!(groups.keys().copied().collect::<Vec<_>>(), [Side::Long, Side::Short]);
        let short = &groups[&Side::Short];
        // -1 then +2: the short group's curve falls from the starting 0.
        assert_eq!((short.total_trades, short.max_drawdown_pct), (2, Some(1.0)));
        assert_eq!(groups[&Side::Long].max_drawdown_pct, Some(0.0));
    }
}
