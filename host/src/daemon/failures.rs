//! Strategy failures in the daemon's log, rate-limited per strategy.
//!
//! A `decide` that fails on every signal would otherwise write one line per
//! signal. Each strategy gets the first [`PER_MINUTE`] failures of a minute
//! logged in full; the rest are counted, and the count is logged with the
//! strategy's next failure in a later minute. `/api/strategies` and the
//! metrics still count every failure.

use std::collections::HashMap;

/// Failures logged in full per strategy per minute.
pub(crate) const PER_MINUTE: u32 = 5;

/// Whether a failure is logged, and how many were left out before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Log it; `left_out` failures of the strategy's earlier minute were not.
    Log { left_out: u64 },
    /// Count it only.
    Quiet,
}

/// Per strategy: the minute counted, failures logged in it, failures left out.
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    strategies: HashMap<String, (u64, u32, u64)>,
}

impl FailureLog {
    /// Decides about a failure of `strategy` during `minute` (minutes since
    /// any fixed instant, never decreasing).
    pub(crate) fn admit(&mut self, strategy: &str, minute: u64) -> Admit {
        let entry = self.strategies.entry(strategy.to_owned()).or_insert((minute, 0, 0));
        let mut left_out = 0;
        if entry.0 != minute {
            left_out = entry.2;
            *entry = (minute, 0, 0);
        }
        if entry.1 < PER_MINUTE {
            entry.1 += 1;
            Admit::Log { left_out }
        } else {
            entry.2 += 1;
            Admit::Quiet
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failures_of_a_minute_are_logged_and_the_rest_counted_for_the_next_line() {
        let mut log = FailureLog::default();
        let first: Vec<Admit> = (0..8).map(|_| log.admit("a", 10)).collect();
        assert_eq!(&first[..5], &[Admit::Log { left_out: 0 }; 5]);
        assert_eq!(&first[5..], &[Admit::Quiet; 3]);
        // Another strategy has its own allowance.
        assert_eq!(log.admit("b", 10), Admit::Log { left_out: 0 });
        // The next minute logs again, with what the last one left out.
        assert_eq!(log.admit("a", 11), Admit::Log { left_out: 3 });
        assert_eq!(log.admit("a", 11), Admit::Log { left_out: 0 });
    }
}
