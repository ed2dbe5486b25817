//! Wilder's relative strength index.

use siglearn_plugin_api::Bar;

use super::wilder::WilderAverage;

/// Wilder's RSI over `period` close-to-close changes (14 by default).
///
/// Seeding: the first RSI needs `period + 1` bars; average gain and average
/// loss start as the simple means of the first `period` changes, then follow
/// Wilder's smoothing `(previous · (period − 1) + current) / period`.
/// `RSI = 100 − 100 / (1 + avg_gain / avg_loss)`; 100 when there were no
/// losses, 50 when there was no movement at all.
#[derive(Clone, Debug)]
pub struct Rsi {
    previous_close: Option<f64>,
    gain: WilderAverage,
    loss: WilderAverage,
}

impl Rsi {
    /// An RSI over `period` changes.
    pub fn new(period: usize) -> Self {
        Self { previous_close: None, gain: WilderAverage::new(period), loss: WilderAverage::new(period) }
    }

    /// Feeds one bar; returns the RSI in [0, 100] once warmed up.
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        let previous = self.previous_close.replace(bar.close)?;
        let change = bar.close - previous;
        let gain = self.gain.push(change.max(0.0));
        let loss = self.loss.push((-change).max(0.0));
        let (gain, loss) = (gain?, loss?);
        Some(if loss > 0.0 {
            100.0 - 100.0 / (1.0 + gain / loss)
        } else if gain > 0.0 {
            100.0
        } else {
            50.0
        })
    }
}

impl Default for Rsi {
    /// RSI(14).
    fn default() -> Self {
        Self::new(14)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::closes;

    #[test]
    fn first_value_uses_simple_means_then_wilder_smoothing() {
        // Fourteen changes: seven gains of 2 and seven losses of 1.
        let mut prices = vec![100.0];
        for i in 0..14 {
            let last = prices[prices.len() - 1];
            prices.push(if i % 2 == 0 { last + 2.0 } else { last - 1.0 });
        }
        let last = prices[prices.len() - 1];
        prices.push(last + 3.0);
        let mut rsi = Rsi::default();
        let out: Vec<_> = closes(&prices).iter().map(|bar| rsi.update(bar)).collect();
        assert!(out[..14].iter().all(Option::is_none));
        // avg gain 1, avg loss 0.5: RS = 2
        assert!((out[14].unwrap() - 200.0 / 3.0).abs() < 1e-9);
        // gain (13·1 + 3)/14 = 8/7, loss 13·0.5/14 = 13/28: RS = 32/13, RSI = 100 − 1300/45
        assert!((out[15].unwrap() - (100.0 - 1300.0 / 45.0)).abs() < 1e-9);
    }

    #[test]
    fn flat_prices_read_fifty_and_only_gains_read_hundred() {
        let mut flat = Rsi::new(2);
        let out: Vec<_> = closes(&[5.0, 5.0, 5.0]).iter().map(|bar| flat.update(bar)).collect();
        assert_eq!(out[2], Some(50.0));
        let mut rising = Rsi::new(2);
        let out: Vec<_> = closes(&[5.0, 6.0, 7.0]).iter().map(|bar| rising.update(bar)).collect();
        assert_eq!(out[2], Some(100.0));
    }
}
