//! Fixed-length sliding windows that answer in O(1) (amortised) per bar.
//!
//! [`RollingExtreme`] keeps the highest or lowest of the last `len` values
//! with a monotonic deque; [`RollingMean`] keeps a running sum. Both are fed
//! one value per bar by the stochastic and Donchian indicators.

use std::collections::VecDeque;

/// Which extreme a [`RollingExtreme`] tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extreme {
    Max,
    Min,
}

/// The maximum or minimum of the last `len` values.
///
/// A value that can never be the extreme again (an older value beaten by a
/// newer one) is dropped on arrival, so each value enters and leaves the
/// deque once: O(1) amortised per push.
#[derive(Clone, Debug)]
pub(crate) struct RollingExtreme {
    len: usize,
    extreme: Extreme,
    pushed: usize,
    /// (position, value), from the current extreme to the newest value.
    deque: VecDeque<(usize, f64)>,
}

impl RollingExtreme {
    /// An empty window over `len` values (at least 1).
    pub(crate) fn new(len: usize, extreme: Extreme) -> Self {
        let len = len.max(1);
        Self { len, extreme, pushed: 0, deque: VecDeque::with_capacity(len + 1) }
    }

    /// Adds a value, evicting the one that fell out of the window.
    pub(crate) fn push(&mut self, value: f64) {
        let extreme = self.extreme;
        let beaten = |kept: f64| match extreme {
            Extreme::Max => kept <= value,
            Extreme::Min => kept >= value,
        };
        while self.deque.back().is_some_and(|&(_, kept)| beaten(kept)) {
            self.deque.pop_back();
        }
        self.deque.push_back((self.pushed, value));
        self.pushed += 1;
        // The window now covers positions pushed - len ..= pushed - 1.
        while self.deque.front().is_some_and(|&(position, _)| position + self.len < self.pushed) {
            self.deque.pop_front();
        }
    }

    /// The extreme of the window, once it holds `len` values.
    pub(crate) fn value(&self) -> Option<f64> {
        if self.pushed < self.len {
            return None;
        }
        self.deque.front().map(|&(_, value)| value)
    }
}

/// The simple mean of the last `len` values, from a running sum.
#[derive(Clone, Debug)]
pub(crate) struct RollingMean {
    len: usize,
    values: VecDeque<f64>,
    sum: f64,
}

impl RollingMean {
    /// An empty window over `len` values (at least 1).
    pub(crate) fn new(len: usize) -> Self {
        let len = len.max(1);
        Self { len, values: VecDeque::with_capacity(len + 1), sum: 0.0 }
    }

    /// Adds a value and returns the mean once the window is full.
    pub(crate) fn push(&mut self, value: f64) -> Option<f64> {
        self.values.push_back(value);
        self.sum += value;
        if self.values.len() > self.len {
            if let Some(old) = self.values.pop_front() {
                self.sum -= old;
            }
        }
        (self.values.len() == self.len).then(|| self.sum / self.len as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_extremes_match_a_naive_scan() {
        let values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0, 9.0, 7.0, 9.0];
        let mut max = RollingExtreme::new(4, Extreme::Max);
        let mut min = RollingExtreme::new(4, Extreme::Min);
        for (i, &value) in values.iter().enumerate() {
            max.push(value);
            min.push(value);
            if i < 3 {
                assert_eq!((max.value(), min.value()), (None, None));
                continue;
            }
            let window = &values[i - 3..=i];
            assert_eq!(max.value(), window.iter().copied().reduce(f64::max), "max at {i}");
            assert_eq!(min.value(), window.iter().copied().reduce(f64::min), "min at {i}");
        }
    }

    #[test]
    fn rolling_mean_waits_for_a_full_window() {
        let mut mean = RollingMean::new(3);
        assert_eq!(mean.push(3.0), None);
        assert_eq!(mean.push(6.0), None);
        assert_eq!(mean.push(9.0), Some(6.0));
        assert_eq!(mean.push(0.0), Some(5.0));
    }
}
