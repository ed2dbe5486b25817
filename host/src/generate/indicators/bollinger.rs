//! Bollinger %B: where the close sits inside its Bollinger bands.

use std::collections::VecDeque;

use siglearn_plugin_api::Bar;

/// Bollinger %B over `period` closes with bands `k` population standard
/// deviations from the simple mean (20 and 2 by default).
///
/// `%B = (close − lower) / (upper − lower)`: 0 on the lower band, 1 on the
/// upper band, outside [0, 1] beyond them; 0.5 when the window is flat. The
/// window includes the current close.
///
/// Mean and variance are updated in O(1) by replacing the oldest value
/// (Welford's update for a sliding window); they are recomputed exactly each
/// time the window has turned over once, so rounding cannot build up over a
/// long series.
#[derive(Clone, Debug)]
pub struct BollingerPctB {
    period: usize,
    k: f64,
    window: VecDeque<f64>,
    mean: f64,
    /// Sum of squared deviations from `mean`.
    m2: f64,
    since_exact: usize,
}

impl BollingerPctB {
    /// %B over `period` closes (at least 1) with bands `k` deviations wide.
    pub fn new(period: usize, k: f64) -> Self {
        let period = period.max(1);
        Self { period, k, window: VecDeque::with_capacity(period + 1), mean: 0.0, m2: 0.0, since_exact: 0 }
    }

    /// Feeds one bar; returns %B once the window is full.
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        let close = bar.close;
        self.window.push_back(close);
        if self.window.len() > self.period {
            let old = self.window.pop_front().unwrap_or(close);
            let mean = self.mean + (close - old) / self.period as f64;
            self.m2 += (close - old) * (close - mean + old - self.mean);
            self.mean = mean;
            self.since_exact += 1;
        } else if self.window.len() == self.period {
            // The first full window has no running state yet: compute it exactly.
            self.since_exact = self.period;
        } else {
            return None;
        }
        if self.since_exact >= self.period {
            self.recompute();
        }
        let std = (self.m2.max(0.0) / self.period as f64).sqrt();
        let width = 2.0 * self.k * std;
        // A flat window has no bands: the close is neither high nor low in it.
        if width <= f64::EPSILON * close.abs() {
            return Some(0.5);
        }
        Some((close - (self.mean - self.k * std)) / width)
    }

    fn recompute(&mut self) {
        let n = self.window.len() as f64;
        self.mean = self.window.iter().sum::<f64>() / n;
        self.m2 = self.window.iter().map(|value| (value - self.mean).powi(2)).sum();
        self.since_exact = 0;
    }
}

impl Default for BollingerPctB {
    /// %B(20, 2).
    fn default() -> Self {
        Self::new(20, 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::closes;

    #[test]
    fn three_closes_by_hand() {
        // mean 2, population std √(2/3): %B = 0.5 + (3 − 2) / (4 · 0.81650) = 0.80619
        let mut pct_b = BollingerPctB::new(3, 2.0);
        let out: Vec<_> = closes(&[1.0, 2.0, 3.0]).iter().map(|bar| pct_b.update(bar)).collect();
        assert_eq!(out[..2], [None, None]);
        assert!((out[2].unwrap() - (0.5 + 1.0 / (4.0 * (2.0f64 / 3.0).sqrt()))).abs() < 1e-12);
    }

    #[test]
    fn twenty_closes_one_to_twenty() {
        // population variance of 1..=20 is (20² − 1)/12 = 33.25
        let prices: Vec<f64> = (1..=20).map(f64::from).collect();
        let mut pct_b = BollingerPctB::default();
        let last = closes(&prices).iter().filter_map(|bar| pct_b.update(bar)).last().unwrap();
        assert!((last - (0.5 + 9.5 / (4.0 * 33.25f64.sqrt()))).abs() < 1e-12);
    }

    #[test]
    fn sliding_update_matches_an_exact_recomputation() {
        let prices: Vec<f64> =
            (0..500).map(|t| 50_000.0 + 300.0 * (t as f64 * 0.37).sin() + t as f64).collect();
        let mut pct_b = BollingerPctB::default();
        for (i, bar) in closes(&prices).iter().enumerate() {
            let got = pct_b.update(bar);
            if i < 19 {
                continue;
            }
            let window = &prices[i - 19..=i];
            let mean = window.iter().sum::<f64>() / 20.0;
            let std = (window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 20.0).sqrt();
            let want = (prices[i] - (mean - 2.0 * std)) / (4.0 * std);
            assert!((got.unwrap() - want).abs() < 1e-9, "bar {i}");
        }
    }

    #[test]
    fn a_flat_window_reads_one_half() {
        let mut pct_b = BollingerPctB::new(3, 2.0);
        let out: Vec<_> = closes(&[7.0, 7.0, 7.0]).iter().map(|bar| pct_b.update(bar)).collect();
        assert_eq!(out[2], Some(0.5));
    }
}
