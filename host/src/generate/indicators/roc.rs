//! Rate of change: the percent move of the close over a fixed lookback.

use std::collections::VecDeque;

use siglearn_plugin_api::Bar;

/// ROC(`period`) in percent, 10 by default:
/// `100 · (close − close[period bars ago]) / close[period bars ago]`.
/// The first reading comes on bar `period + 1`.
#[derive(Clone, Debug)]
pub struct Roc {
    period: usize,
    closes: VecDeque<f64>,
}

impl Roc {
    /// A rate of change over `period` bars (at least 1).
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self { period, closes: VecDeque::with_capacity(period + 2) }
    }

    /// Feeds one bar; returns the percent change once `period` bars back exist.
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        self.closes.push_back(bar.close);
        if self.closes.len() <= self.period {
            return None;
        }
        let then = self.closes.pop_front()?;
        Some(100.0 * (bar.close - then) / then)
    }
}

impl Default for Roc {
    /// ROC(10).
    fn default() -> Self {
        Self::new(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::closes;

    #[test]
    fn percent_change_over_ten_bars() {
        let prices: Vec<f64> = (0..12).map(|t| 100.0 + t as f64).collect();
        let mut roc = Roc::default();
        let out: Vec<_> = closes(&prices).iter().map(|bar| roc.update(bar)).collect();
        assert!(out[..10].iter().all(Option::is_none));
        assert_eq!(out[10], Some(10.0)); // 110 vs 100
        assert!((out[11].unwrap() - 1000.0 / 101.0).abs() < 1e-12); // 111 vs 101
    }
}
