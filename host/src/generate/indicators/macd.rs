//! Moving average convergence/divergence with its signal line and histogram.

use siglearn_plugin_api::Bar;

use super::ema::Ema;

/// One MACD reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MacdValue {
    /// EMA(fast) − EMA(slow) of closes.
    pub macd: f64,
    /// EMA(signal) of the MACD line.
    pub signal: f64,
    /// `macd − signal`.
    pub histogram: f64,
}

/// MACD(fast, slow, signal), 12/26/9 by default.
///
/// Every EMA is seeded with the simple mean of its first inputs (see
/// [`Ema`]); the signal line starts once the MACD line exists, so the first
/// reading comes on bar `slow + signal − 1` (34 for 12/26/9).
#[derive(Clone, Debug)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    /// MACD with the given EMA periods.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        Self { fast: Ema::new(fast), slow: Ema::new(slow), signal: Ema::new(signal) }
    }

    /// Feeds one bar; returns the reading once the signal line is seeded.
    pub fn update(&mut self, bar: &Bar) -> Option<MacdValue> {
        let fast = self.fast.update(bar);
        let slow = self.slow.update(bar);
        let macd = fast? - slow?;
        let signal = self.signal.push(macd)?;
        Some(MacdValue { macd, signal, histogram: macd - signal })
    }
}

impl Default for Macd {
    /// MACD(12, 26, 9).
    fn default() -> Self {
        Self::new(12, 26, 9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::closes;

    #[test]
    fn small_periods_by_hand() {
        // fast 2 (alpha 2/3), slow 3 (alpha 1/2), signal 2 (alpha 2/3)
        let mut macd = Macd::new(2, 3, 2);
        let out: Vec<_> = closes(&[1.0, 2.0, 6.0, 3.0]).iter().map(|bar| macd.update(bar)).collect();
        assert_eq!(out[..3], [None, None, None]);
        // bar 2: fast = 1.5 + 2/3·4.5 = 4.5, slow = 3 → macd 1.5
        // bar 3: fast = 4.5 − 2/3·1.5 = 3.5, slow = 3 → macd 0.5; signal = (1.5 + 0.5)/2 = 1
        let last = out[3].unwrap();
        assert!((last.macd - 0.5).abs() < 1e-12);
        assert!((last.signal - 1.0).abs() < 1e-12);
        assert!((last.histogram + 0.5).abs() < 1e-12);
    }

    #[test]
    fn first_reading_on_bar_34_and_a_ramp_has_a_flat_histogram() {
        // On a ramp of slope 1 each EMA lags by (n−1)/2: macd = 12.5 − 5.5 = 7.
        let prices: Vec<f64> = (0..60).map(|t| 100.0 + t as f64).collect();
        let mut macd = Macd::default();
        let out: Vec<_> = closes(&prices).iter().map(|bar| macd.update(bar)).collect();
        assert!(out[..33].iter().all(Option::is_none));
        let last = out[59].unwrap();
        assert!((last.macd - 7.0).abs() < 1e-9 && last.histogram.abs() < 1e-9, "{last:?}");
    }
}
