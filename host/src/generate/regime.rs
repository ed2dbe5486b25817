//! Market regime of a signal: trending or ranging, high or low volatility.
//!
//! ADX decides trend against range; the bar's ATR% against the median ATR%
//! of the bars before it decides the volatility half. [`VolatilityHistory`]
//! keeps those earlier ATR% values as bars go by.

use std::collections::VecDeque;

use super::median;

/// ADX at or above this reads as a trending market.
pub const TREND_ADX: f64 = 25.0;

/// How many earlier bars the volatility median looks back over.
pub const VOLATILITY_LOOKBACK: usize = 100;

/// The regime label of a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Regime {
    /// ADX ≥ [`TREND_ADX`].
    pub trending: bool,
    /// ATR% above the median ATR% of the previous bars.
    pub high_volatility: bool,
}

impl Regime {
    /// The regime of a bar from its ADX and whether its volatility is high.
    pub fn new(adx: f64, high_volatility: bool) -> Self {
        Self { trending: adx >= TREND_ADX, high_volatility }
    }

    /// `trend_high_vol`, `trend_low_vol`, `range_high_vol` or `range_low_vol`.
    pub const fn as_str(self) -> &'static str {
        match (self.trending, self.high_volatility) {
            (true, true) => "trend_high_vol",
            (true, false) => "trend_low_vol",
            (false, true) => "range_high_vol",
            (false, false) => "range_low_vol",
        }
    }
}

/// The ATR% of the last [`VOLATILITY_LOOKBACK`] bars (or as many as there
/// have been), oldest first.
#[derive(Clone, Debug, Default)]
pub struct VolatilityHistory {
    values: VecDeque<f64>,
}

impl VolatilityHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one bar's ATR%, forgetting the oldest beyond the lookback.
    pub fn push(&mut self, atr_pct: f64) {
        if self.values.len() == VOLATILITY_LOOKBACK {
            self.values.pop_front();
        }
        self.values.push_back(atr_pct);
    }

    /// True when `atr_pct` is above the median of the recorded bars; false
    /// when nothing has been recorded. Sorting 100 values is only paid on
    /// the bars that become signals.
    pub fn is_high(&self, atr_pct: f64) -> bool {
        let mut values: Vec<f64> = self.values.iter().copied().collect();
        median(&mut values).is_some_and(|median| atr_pct > median)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_join_trend_and_volatility() {
        assert_eq!(Regime::new(25.0, true).as_str(), "trend_high_vol");
        assert_eq!(Regime::new(24.9, false).as_str(), "range_low_vol");
    }

    #[test]
    fn volatility_is_judged_against_the_last_hundred_bars_only() {
        let mut history = VolatilityHistory::new();
        assert!(!history.is_high(5.0), "no history reads low");
        history.push(1.0);
        history.push(3.0);
        assert!(history.is_high(2.5) && !history.is_high(2.0), "median of 1 and 3 is 2");
        for _ in 0..VOLATILITY_LOOKBACK {
            history.push(10.0);
        }
        assert!(!history.is_high(9.0), "the early low values have been forgotten");
    }
}
