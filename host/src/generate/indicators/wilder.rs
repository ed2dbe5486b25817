//! Wilder's smoothing, shared by RSI, ATR and ADX.
//!
//! Values enter one at a time through [`WilderAverage::push`]; the smoothed
//! value leaves as soon as `period` values have been seen.

/// Wilder's running average ("smoothed moving average", alpha = 1/period).
///
/// Seeding: the first value is the simple mean of the first `period` inputs;
/// every later value is `(previous · (period − 1) + input) / period`. Wilder's
/// own smoothed *sums* (`S − S/period + input`) are exactly `period` times
/// this average, so ratios built from either (such as ±DI) are identical.
#[derive(Clone, Debug)]
pub(crate) struct WilderAverage {
    period: usize,
    seen: usize,
    sum: f64,
    value: Option<f64>,
}

impl WilderAverage {
    /// An empty average over `period` inputs (at least 1).
    pub(crate) fn new(period: usize) -> Self {
        Self { period: period.max(1), seen: 0, sum: 0.0, value: None }
    }

    /// Adds one input and returns the average once it is seeded.
    pub(crate) fn push(&mut self, input: f64) -> Option<f64> {
        let next = match self.value {
            Some(previous) => (previous * (self.period - 1) as f64 + input) / self.period as f64,
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

    #[test]
    fn seeds_with_the_simple_mean_then_smooths_by_one_over_period() {
        let mut average = WilderAverage::new(3);
        assert_eq!(average.push(1.0), None);
        assert_eq!(average.push(2.0), None);
        assert_eq!(average.push(6.0), Some(3.0));
        // (3 · 2 + 9) / 3
        assert_eq!(average.push(9.0), Some(5.0));
    }
}
