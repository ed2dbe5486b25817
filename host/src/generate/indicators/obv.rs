//! On-balance volume and its normalised least-squares slope.

use std::collections::VecDeque;

use siglearn_plugin_api::Bar;

/// One OBV reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObvValue {
    /// Cumulative on-balance volume, 0 on the first bar.
    pub obv: f64,
    /// Least-squares slope of OBV per bar over the window, divided by the
    /// mean volume of the window's bars (0 when that mean is 0): about +1
    /// when every bar closed up, −1 when every bar closed down.
    pub slope: f64,
}

/// On-balance volume with its slope over the last `period` bars (20 by default).
///
/// OBV starts at 0 on the first bar and adds the bar's volume when the close
/// rose, subtracts it when the close fell. The slope is the ordinary
/// least-squares slope of OBV against bar number (0 ..= period − 1) over the
/// last `period` bars including the current one, kept in O(1) with running
/// sums `Σy` and `Σx·y`; these are recomputed exactly whenever the window has
/// turned over once, so rounding cannot build up. The first reading comes on
/// bar `period`.
#[derive(Clone, Debug)]
pub struct Obv {
    period: usize,
    previous_close: Option<f64>,
    obv: f64,
    /// (obv, volume) of the last `period` bars.
    window: VecDeque<(f64, f64)>,
    sum_y: f64,
    sum_xy: f64,
    sum_volume: f64,
    since_exact: usize,
}

impl Obv {
    /// OBV with a slope over `period` bars (at least 2).
    pub fn new(period: usize) -> Self {
        let period = period.max(2);
        Self {
            period,
            previous_close: None,
            obv: 0.0,
            window: VecDeque::with_capacity(period + 1),
            sum_y: 0.0,
            sum_xy: 0.0,
            sum_volume: 0.0,
            since_exact: 0,
        }
    }

    /// Feeds one bar; returns OBV and its slope once the window is full.
    pub fn update(&mut self, bar: &Bar) -> Option<ObvValue> {
        if let Some(previous) = self.previous_close.replace(bar.close) {
            if bar.close > previous {
                self.obv += bar.volume;
            } else if bar.close < previous {
                self.obv -= bar.volume;
            }
        }
        let n = self.period as f64;
        let y = self.obv;
        self.window.push_back((y, bar.volume));
        if self.window.len() > self.period {
            let (old_y, old_volume) = self.window.pop_front().unwrap_or((y, bar.volume));
            // Dropping the oldest point shifts every other x down by one.
            self.sum_xy += -(self.sum_y - old_y) + (n - 1.0) * y;
            self.sum_y += y - old_y;
            self.sum_volume += bar.volume - old_volume;
            self.since_exact += 1;
        } else if self.window.len() == self.period {
            self.since_exact = self.period;
        } else {
            return None;
        }
        if self.since_exact >= self.period {
            self.recompute();
        }
        let sum_x = n * (n - 1.0) / 2.0;
        let sum_xx = (n - 1.0) * n * (2.0 * n - 1.0) / 6.0;
        let slope = (n * self.sum_xy - sum_x * self.sum_y) / (n * sum_xx - sum_x * sum_x);
        let mean_volume = self.sum_volume / n;
        let slope = if mean_volume > 0.0 { slope / mean_volume } else { 0.0 };
        Some(ObvValue { obv: self.obv, slope })
    }

    fn recompute(&mut self) {
        self.sum_y = self.window.iter().map(|&(y, _)| y).sum();
        self.sum_xy = self.window.iter().enumerate().map(|(x, &(y, _))| x as f64 * y).sum();
        self.sum_volume = self.window.iter().map(|&(_, volume)| volume).sum();
        self.since_exact = 0;
    }
}

impl Default for Obv {
    /// OBV with a 20-bar slope.
    fn default() -> Self {
        Self::new(20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::close_volume;

    #[test]
    fn obv_and_slope_by_hand() {
        let bars = [
            close_volume(10.0, 100.0),
            close_volume(11.0, 200.0),
            close_volume(10.5, 150.0),
            close_volume(10.5, 50.0),
            close_volume(12.0, 300.0),
        ];
        let mut obv = Obv::new(5);
        let out: Vec<_> = bars.iter().map(|bar| obv.update(bar)).collect();
        assert!(out[..4].iter().all(Option::is_none));
        // OBV 0, 200, 50, 50, 350: slope Σ(x−2)(y−130)/Σ(x−2)² = 550/10 = 55; mean volume 160
        assert_eq!(out[4], Some(ObvValue { obv: 350.0, slope: 55.0 / 160.0 }));
    }

    #[test]
    fn steady_rises_on_equal_volume_read_slope_one() {
        let mut obv = Obv::default();
        let last = (0..25).filter_map(|t| obv.update(&close_volume(100.0 + t as f64, 7.0))).last().unwrap();
        assert!((last.slope - 1.0).abs() < 1e-12, "{last:?}");
        assert_eq!(last.obv, 24.0 * 7.0);
    }

    #[test]
    fn sliding_sums_match_an_exact_fit() {
        let bars: Vec<Bar> = (0..300)
            .map(|t| close_volume(100.0 + (t as f64 * 0.7).sin() * 5.0, 1_000.0 + (t * 37 % 101) as f64))
            .collect();
        let mut obv = Obv::new(20);
        let mut series = Vec::new();
        let mut level = 0.0;
        for (i, bar) in bars.iter().enumerate() {
            if i > 0 {
                level += (bar.close - bars[i - 1].close).signum() * bar.volume;
            }
            series.push(level);
            let got = obv.update(bar);
            if i < 19 {
                continue;
            }
            let window = &series[i - 19..=i];
            let mean_y = window.iter().sum::<f64>() / 20.0;
            let covariance: f64 =
                window.iter().enumerate().map(|(x, y)| (x as f64 - 9.5) * (y - mean_y)).sum();
            let variance: f64 = (0..20).map(|x| (x as f64 - 9.5).powi(2)).sum();
            let mean_volume = bars[i - 19..=i].iter().map(|bar| bar.volume).sum::<f64>() / 20.0;
            let want = covariance / variance / mean_volume;
            assert!((got.unwrap().slope - want).abs() < 1e-9, "bar {i}");
        }
    }
}
