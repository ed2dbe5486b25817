//! Wilder's average true range.

use siglearn_plugin_api::Bar;

use super::wilder::WilderAverage;

/// The true range of a bar given the previous close: the largest of
/// high − low, |high − previous close| and |low − previous close|.
pub fn true_range(bar: &Bar, previous_close: f64) -> f64 {
    (bar.high - bar.low).max((bar.high - previous_close).abs()).max((bar.low - previous_close).abs())
}

/// Wilder's ATR over `period` true ranges (14 by default).
///
/// Seeding: a true range needs the previous close, so the first bar yields
/// none; the first ATR (on bar `period + 1`) is the simple mean of the first
/// `period` true ranges, then `(previous · (period − 1) + TR) / period`.
#[derive(Clone, Debug)]
pub struct Atr {
    previous_close: Option<f64>,
    average: WilderAverage,
}

impl Atr {
    /// An ATR over `period` true ranges.
    pub fn new(period: usize) -> Self {
        Self { previous_close: None, average: WilderAverage::new(period) }
    }

    /// Feeds one bar; returns the ATR once warmed up.
    pub fn update(&mut self, bar: &Bar) -> Option<f64> {
        let previous = self.previous_close.replace(bar.close)?;
        self.average.push(true_range(bar, previous))
    }
}

impl Default for Atr {
    /// ATR(14).
    fn default() -> Self {
        Self::new(14)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::hlc;

    #[test]
    fn true_range_counts_gaps() {
        assert_eq!(true_range(&hlc(12.0, 10.0, 11.0), 11.0), 2.0);
        assert_eq!(true_range(&hlc(12.0, 10.0, 11.0), 7.0), 5.0);
        assert_eq!(true_range(&hlc(12.0, 10.0, 11.0), 15.0), 5.0);
    }

    #[test]
    fn seeds_with_the_mean_of_fourteen_ranges_then_smooths() {
        let mut atr = Atr::default();
        // Bars of range 2 around a flat close of 100: every true range is 2.
        let out: Vec<_> = (0..15).map(|_| atr.update(&hlc(101.0, 99.0, 100.0))).collect();
        assert!(out[..14].iter().all(Option::is_none));
        assert_eq!(out[14], Some(2.0));
        // A bar of range 16: (2 · 13 + 16) / 14 = 3
        assert_eq!(atr.update(&hlc(108.0, 92.0, 100.0)), Some(3.0));
    }

    #[test]
    fn small_period_by_hand() {
        let bars = [hlc(10.0, 9.0, 9.5), hlc(11.0, 9.0, 10.0), hlc(10.5, 9.5, 10.0), hlc(14.0, 11.0, 13.0)];
        let mut atr = Atr::new(2);
        let out: Vec<_> = bars.iter().map(|bar| atr.update(bar)).collect();
        // TR: 2, 1, 4 → seed (2 + 1)/2 = 1.5, then (1.5 + 4)/2 = 2.75
        assert_eq!(out, [None, None, Some(1.5), Some(2.75)]);
    }
}
