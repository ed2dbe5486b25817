//! The `period` of a performance view: a number of days before `now`, or all.

use std::fmt;
use std::str::FromStr;

use siglearn_plugin_api::{MILLIS_PER_DAY, Timestamp};

/// The window of closed trades a performance view covers (`period=7d|30d|all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// Trades that exited within this many days before `now`.
    Days(u32),
    /// Every closed trade.
    All,
}

/// A `period` that is neither a number of days nor `all`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("period {0:?} is not one of 7d, 30d, all (any whole number of days, such as 90d, works too)")]
pub struct ParsePeriodError(pub String);

impl FromStr for Period {
    type Err = ParsePeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("all") {
            return Ok(Period::All);
        }
        trimmed
            .strip_suffix('d')
            .and_then(|days| days.parse::<u32>().ok())
            .filter(|&days| days > 0)
            .map(Period::Days)
            .ok_or_else(|| ParsePeriodError(text.to_owned()))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Days(days) => write!(f, "{days}d"),
            Period::All => f.write_str("all"),
        }
    }
}

impl Period {
    /// Whether a trade exiting at `exit` is in the period ending at `now`:
    /// `now - days <= exit <= now`.
    pub fn contains(self, exit: Timestamp, now: Timestamp) -> bool {
        match self {
            Period::Days(days) => {
                let start = now.saturating_add_millis(-i64::from(days).saturating_mul(MILLIS_PER_DAY));
                start <= exit && exit <= now
            }
            Period::All => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_parses_days_and_all_and_names_the_accepted_forms() {
        assert_eq!("7d".parse(), Ok(Period::Days(7)));
        assert_eq!(" 30d ".parse(), Ok(Period::Days(30)));
        assert_eq!("ALL".parse(), Ok(Period::All));
        for bad in ["week", "7", "0d", "-3d", ""] {
            let err = bad.parse::<Period>().unwrap_err().to_string();
            assert!(err.contains("7d, 30d, all"), "{err}");
        }
        assert_eq!((Period::Days(7).to_string(), Period::All.to_string()), ("7d".into(), "all".into()));
    }
}
