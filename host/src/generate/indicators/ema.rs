//! Exponential moving average of closes (or of any value stream, for MACD).

use siglearn_plugin_api::Bar;

/// An exponential moving average with `alpha = 2 / (period + 1)`.
///
/// Seeding: the first value is the simple mean of the first `period` inputs
/// (so nothing is returned before that); afterwards
/// `ema = previous + alpha · (input − previous)`.
#[derive(Clone, Debug)]
pub struct Ema {
    period: usize,
    alpha: f64,
    seen: usize,
    sum: f64,
    value: Option<f64>,
}

impl Ema {
    /// An EMA over `period` inputs (at least 1).
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self { period, alpha: 2.0 / (period as f64 + 1.0), seen: 0, sum: 0.0, value: None }
    }

    /// Feeds the bar's close.
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        self.push(bar.close)
    }

    /// Feeds one value; returns the EMA once it is seeded.
    pub fn push(&mut self, input: f64) -> Option<f64> {
        let next = match self.value {
            Some(previous) => previous + self.alpha * (input - previous),
            None => {
                self.sum += input;
                self.seen += 1;
                if self.seen < self.period {
                    return None;
                }
                self.sum / self.period as f64
            }
        };
        self.value = Some(next);
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::closes;

    #[test]
    fn seeds_with_the_sma_then_moves_by_alpha() {
        let mut ema = Ema::new(3);
        let out: Vec<_> = closes(&[1.0, 2.0, 3.0, 4.0, 7.0]).iter().map(|bar| ema.update(bar)).collect();
        // seed (1+2+3)/3 = 2; alpha = 0.5: 2 + 0.5·(4−2) = 3; 3 + 0.5·(7−3) = 5
        assert_eq!(out, [None, None, Some(2.0), Some(3.0), Some(5.0)]);
    }

    #[test]
    fn a_linear_ramp_lags_by_half_the_period_minus_one() {
        // Seeded on a ramp, the EMA sits exactly in its steady state t − (n−1)/2.
        let mut ema = Ema::new(12);
        let mut last = None;
        for t in 0..100 {
            last = ema.push(t as f64);
        }
        assert!((last.unwrap() - (99.0 - 5.5)).abs() < 1e-9);
    }
}
