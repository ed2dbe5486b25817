//! Breakdowns of the headline metrics by a property of the signal (symbol,
//! side, pattern, regime): one [`Summary`] per group, keyed in sorted order.

use std::collections::BTreeMap;
use std::hash::Hash;

use super::summary::Summary;
use crate::trade::Trade;

/// Groups trades given in exit order by `key` and summarises each group on its
/// own trades. Grouping keeps the exit order, so no group needs re-sorting.
/// The key may borrow from the trade (a symbol or pattern as `&str`), so
/// that grouping allocates nothing per trade; groups are found by hashing,
/// then put in key order. `whole`, the summary of all of `trades` when the
/// caller has it, is the summary of a single group (which holds them all).
pub(super) fn group_summaries<'t, K: Ord + Hash>(
    trades: &[&'t Trade],
    key: impl Fn(&'t Trade) -> K,
    whole: Option<&Summary>,
) -> BTreeMap<K, Summary> {
    let mut groups: foldhash::HashMap<K, Vec<&Trade>> = foldhash::HashMap::default();
    for &trade in trades {
        groups.entry(key(trade)).or_default().push(trade);
    }
    if let (1, Some(whole)) = (groups.len(), whole) {
        return groups.into_keys().map(|key| (key, whole.clone())).collect();
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
        let groups = group_summaries(&refs(&trades), |trade| trade.signal.side, None);
        assert_eq!(groups.keys().copied().collect::<Vec<_>>(), [Side::Long, Side::Short]);
        let short = &groups[&Side::Short];
        // -1 then +2: the short group's curve falls from the starting 0.
        assert_eq!((short.total_trades, short.max_drawdown_pct), (2, Some(1.0)));
        assert_eq!(groups[&Side::Long].max_drawdown_pct, Some(0.0));
    }
}
