//! The price path of one symbol, kept so that a closing signal's excursion
//! (MFE/MAE) is a lookup instead of a per-price update of every open signal.
//!
//! Prices are numbered from 0 in arrival order. Every excursion question is a
//! suffix question: "the highest high and lowest low from the price this
//! signal started at, up to now". So the path keeps only the suffix records:
//! a deque of highs that strictly decrease from front to back (a new high
//! removes every earlier high it beats) and one of lows that strictly
//! increase. The extreme since price `i` is the first record at index `i` or
//! later: a binary search. Pushing is amortised O(1), and records older than
//! every open signal are dropped, so memory follows the records, not the
//! number of prices.

use std::collections::VecDeque;

use super::rules::Excursion;

#[derive(Debug, Default)]
pub(crate) struct PricePath {
    next: u64,
    /// (index, high), highs strictly decreasing.
    highs: VecDeque<(u64, f64)>,
    /// (index, low), lows strictly increasing.
    lows: VecDeque<(u64, f64)>,
}

impl PricePath {
    /// The index the next pushed price will get.
    pub(crate) fn next_index(&self) -> u64 {
        self.next
    }

    pub(crate) fn push(&mut self, high: f64, low: f64) {
        while self.highs.back().is_some_and(|&(_, record)| record <= high) {
            self.highs.pop_back();
        }
        self.highs.push_back((self.next, high));
        while self.lows.back().is_some_and(|&(_, record)| record >= low) {
            self.lows.pop_back();
        }
        self.lows.push_back((self.next, low));
        self.next += 1;
    }

    /// Widens `excursion` by every price from index `from` up to now.
    ///
    /// `from` must not be older than what [`PricePath::forget_before`] kept.
    pub(crate) fn widen_since(&self, excursion: &mut Excursion, from: u64) {
        let first = |records: &VecDeque<(u64, f64)>| {
            records.get(records.partition_point(|&(index, _)| index < from)).map(|&(_, value)| value)
        };
        if let (Some(high), Some(low)) = (first(&self.highs), first(&self.lows)) {
            excursion.include(high, low);
        }
    }

    /// Drops records no question from `oldest_needed` on can use.
    pub(crate) fn forget_before(&mut self, oldest_needed: u64) {
        while self.highs.front().is_some_and(|&(index, _)| index < oldest_needed) {
            self.highs.pop_front();
        }
        while self.lows.front().is_some_and(|&(index, _)| index < oldest_needed) {
            self.lows.pop_front();
        }
    }

    /// How many records are stored.
    #[cfg(test)]
    pub(crate) fn stored(&self) -> usize {
        self.highs.len() + self.lows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn suffix_extremes_match_a_plain_scan(
            prices in prop::collection::vec((1.0f64..100.0, 0.0f64..5.0), 1..400),
            from in 0usize..400, forget in 0usize..400,
        ) {
            let mut path = PricePath::default();
            for &(low, spread) in &prices {
                path.push(low + spread, low);
            }
            let len = prices.len();
            let forget = forget % len;
            path.forget_before(forget as u64);
            let from = forget + from % (len - forget);
            let mut fast = Excursion::at(50.0);
            path.widen_since(&mut fast, from as u64);
            let mut slow = Excursion::at(50.0);
            for &(low, spread) in &prices[from..] {
                slow.include(low + spread, low);
            }
            prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn a_quiet_market_keeps_few_records() {
        let mut path = PricePath::default();
        for i in 0..100_000 {
            let wiggle = (i % 7) as f64 * 0.1;
            path.push(100.5 + wiggle, 99.5 - wiggle);
        }
        assert!(path.stored() < 20, "{} records", path.stored());
        assert_eq!(path.next_index(), 100_000);
    }

    #[test]
    fn nothing_since_now_leaves_the_excursion_alone() {
        let mut path = PricePath::default();
        path.push(2.0, 1.0);
        let mut excursion = Excursion::at(1.5);
        path.widen_since(&mut excursion, 1);
        assert_eq!(excursion, Excursion::at(1.5));
    }
}
