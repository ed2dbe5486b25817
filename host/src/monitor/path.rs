//! The price path of one symbol, kept so that a closing signal's excursion
//! (MFE/MAE) is a range query instead of a per-price update of every open
//! signal.
//!
//! Prices are numbered from 0 in arrival order. Highs and lows are stored with
//! per-block extremes, so the extremes over `[from, to)` cost at most two
//! partial blocks plus one step per whole block. Prices older than every open
//! signal are dropped in whole blocks, which keeps a long-running daemon's
//! memory bounded by its oldest open signal.

use std::collections::VecDeque;

use super::rules::Excursion;

const BLOCK: u64 = 64;

#[derive(Debug, Default)]
pub(crate) struct PricePath {
    /// The index of the first price still stored; a multiple of `BLOCK`.
    base: u64,
    highs: VecDeque<f64>,
    lows: VecDeque<f64>,
    block_highs: VecDeque<f64>,
    block_lows: VecDeque<f64>,
}

impl PricePath {
    /// The index the next pushed price will get.
    pub(crate) fn next_index(&self) -> u64 {
        self.base + self.highs.len() as u64
    }

    pub(crate) fn push(&mut self, high: f64, low: f64) {
        if self.highs.len() as u64 % BLOCK == 0 {
            self.block_highs.push_back(high);
            self.block_lows.push_back(low);
        } else if let (Some(block_high), Some(block_low)) =
            (self.block_highs.back_mut(), self.block_lows.back_mut())
        {
            *block_high = block_high.max(high);
            *block_low = block_low.min(low);
        }
        self.highs.push_back(high);
        self.lows.push_back(low);
    }

    /// Widens `excursion` by every price with index in `[from, to)`.
    ///
    /// `from` must not have been dropped by [`PricePath::forget_before`].
    pub(crate) fn widen(&self, excursion: &mut Excursion, from: u64, to: u64) {
        debug_assert!(from >= self.base, "price {from} was dropped (base {})", self.base);
        let (mut i, end) =
            (from.max(self.base) - self.base, to.min(self.next_index()).saturating_sub(self.base));
        while i < end {
            if i % BLOCK == 0 && i + BLOCK <= end {
                let block = (i / BLOCK) as usize;
                excursion.include(self.block_highs[block], self.block_lows[block]);
                i += BLOCK;
            } else {
                excursion.include(self.highs[i as usize], self.lows[i as usize]);
                i += 1;
            }
        }
    }

    /// Drops whole blocks of prices that come before `oldest_needed`.
    pub(crate) fn forget_before(&mut self, oldest_needed: u64) {
        while self.base + BLOCK <= oldest_needed && self.highs.len() as u64 >= BLOCK {
            self.highs.drain(..BLOCK as usize);
            self.lows.drain(..BLOCK as usize);
            self.block_highs.pop_front();
            self.block_lows.pop_front();
            self.base += BLOCK;
        }
    }

    /// How many prices are stored.
    #[cfg(test)]
    pub(crate) fn stored(&self) -> usize {
        self.highs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn range_extremes_match_a_plain_scan(
            prices in prop::collection::vec((1.0f64..100.0, 0.0f64..5.0), 1..400),
            a in 0usize..400, b in 0usize..400, forget in 0usize..400,
        ) {
            let mut path = PricePath::default();
            for &(low, spread) in &prices {
                path.push(low + spread, low);
            }
            let len = prices.len();
            let forget = forget % len;
            path.forget_before(forget as u64);
            let (from, to) = (forget + a % (len - forget + 1), forget + b % (len - forget + 1));
            let (from, to) = (from.min(to), from.max(to));
            let mut fast = Excursion::at(50.0);
            path.widen(&mut fast, from as u64, to as u64);
            let mut slow = Excursion::at(50.0);
            for &(low, spread) in &prices[from..to] {
                slow.include(low + spread, low);
            }
            prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn forgetting_drops_whole_blocks_only() {
        let mut path = PricePath::default();
        for i in 0..200 {
            path.push(i as f64 + 1.0, i as f64);
        }
        path.forget_before(130);
        assert_eq!(path.stored(), 200 - 128);
        assert_eq!(path.next_index(), 200);
        let mut excursion = Excursion::at(150.0);
        path.widen(&mut excursion, 128, 200);
        assert_eq!(excursion, Excursion { high: 200.0, low: 128.0 });
    }
}
