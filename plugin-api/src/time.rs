//! Time as data: a UTC instant in whole milliseconds.

use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// Milliseconds in one minute.
pub const MILLIS_PER_MINUTE: i64 = 60_000;
/// Milliseconds in one UTC calendar day.
pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// A UTC instant, milliseconds since 1970-01-01T00:00:00Z.
///
/// siglearn never reads the wall clock inside its engine: every instant is
/// data carried by an event, so a replay and the daemon see the same times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The UTC calendar day of this instant, counted in days since 1970-01-01.
    pub const fn utc_day(self) -> i64 {
        self.0.div_euclid(MILLIS_PER_DAY)
    }

    /// This instant plus `millis`, saturating at the ends of the range.
    pub const fn saturating_add_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }
}

impl Add<i64> for Timestamp {
    type Output = Timestamp;

    fn add(self, millis: i64) -> Timestamp {
        self.saturating_add_millis(millis)
    }
}

impl Sub for Timestamp {
    type Output = i64;

    /// The distance between two instants in milliseconds.
    fn sub(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_day_rounds_towards_the_past_before_the_epoch() {
        assert_eq!(Timestamp(0).utc_day(), 0);
        assert_eq!(Timestamp(MILLIS_PER_DAY - 1).utc_day(), 0);
        assert_eq!(Timestamp(MILLIS_PER_DAY).utc_day(), 1);
        assert_eq!(Timestamp(-1).utc_day(), -1);
    }

    #[test]
    fn adding_saturates_instead_of_overflowing() {
        assert_eq!(Timestamp(i64::MAX - 1) + 10, Timestamp(i64::MAX));
        assert_eq!(Timestamp(10) - Timestamp(4), 6);
    }
}
