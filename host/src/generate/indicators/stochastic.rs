//! The stochastic oscillator: %K and its moving average %D.

use siglearn_plugin_api::Bar;

use super::window::{Extreme, RollingExtreme, RollingMean};

/// One stochastic reading, both in [0, 100].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StochasticValue {
    pub k: f64,
    pub d: f64,
}

/// Stochastic %K(`k_period`) and %D(`d_period`), 14 and 3 by default.
///
/// `%K = 100 · (close − lowest low) / (highest high − lowest low)` over the
/// last `k_period` bars including the current one (50 when that range is
/// zero); `%D` is the simple mean of the last `d_period` %K values. The
/// first reading comes on bar `k_period + d_period − 1`.
#[derive(Clone, Debug)]
pub struct Stochastic {
    highest: RollingExtreme,
    lowest: RollingExtreme,
    d: RollingMean,
}

impl Stochastic {
    /// A stochastic over `k_period` bars smoothed over `d_period` values.
    pub fn new(k_period: usize, d_period: usize) -> Self {
        Self {
            highest: RollingExtreme::new(k_period, Extreme::Max),
            lowest: RollingExtreme::new(k_period, Extreme::Min),
            d: RollingMean::new(d_period),
        }
    }

    /// Feeds one bar; returns %K and %D once both exist.
    pub fn update(&mut self, bar: &Bar) -> Option<StochasticValue> {
        self.highest.push(bar.high);
        self.lowest.push(bar.low);
        let (high, low) = (self.highest.value()?, self.lowest.value()?);
        let range = high - low;
        let k = if range > 0.0 { 100.0 * (bar.close - low) / range } else { 50.0 };
        let d = self.d.push(k)?;
        Some(StochasticValue { k, d })
    }
}

impl Default for Stochastic {
    /// %K(14), %D(3).
    fn default() -> Self {
        Self::new(14, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::hlc;

    #[test]
    fn k_and_d_by_hand() {
        let bars = [hlc(10.0, 8.0, 9.0), hlc(12.0, 9.0, 11.0), hlc(11.0, 7.0, 8.0), hlc(13.0, 10.0, 13.0)];
        let mut stochastic = Stochastic::new(2, 2);
        let out: Vec<_> = bars.iter().map(|bar| stochastic.update(bar)).collect();
        assert_eq!(out[..2], [None, None]);
        // bar 1: range 8..12, K = 75; bar 2: range 7..12, K = 20 → D = 47.5
        assert_eq!(out[2], Some(StochasticValue { k: 20.0, d: 47.5 }));
        // bar 3: range 7..13, K = 100 → D = 60
        assert_eq!(out[3], Some(StochasticValue { k: 100.0, d: 60.0 }));
    }

    #[test]
    fn first_default_reading_on_bar_16_and_flat_range_reads_fifty() {
        let mut stochastic = Stochastic::default();
        let out: Vec<_> = (0..16).map(|_| stochastic.update(&hlc(5.0, 5.0, 5.0))).collect();
        assert!(out[..15].iter().all(Option::is_none));
        assert_eq!(out[15], Some(StochasticValue { k: 50.0, d: 50.0 }));
    }
}
