//! Outcomes: how and when a signal's position closed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{MILLIS_PER_MINUTE, SignalId, Timestamp};

/// How a signal closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OutcomeKind {
    #[serde(rename = "TP_HIT")]
    TpHit,
    #[serde(rename = "SL_HIT")]
    SlHit,
    #[serde(rename = "TIME_EXIT")]
    TimeExit,
}

impl OutcomeKind {
    /// `TP_HIT`, `SL_HIT` or `TIME_EXIT`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::TpHit => "TP_HIT",
            OutcomeKind::SlHit => "SL_HIT",
            OutcomeKind::TimeExit => "TIME_EXIT",
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not an outcome kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("outcome {0:?} is not one of TP_HIT, SL_HIT, TIME_EXIT")]
pub struct ParseOutcomeKindError(pub String);

impl FromStr for OutcomeKind {
    type Err = ParseOutcomeKindError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "TP_HIT" => Ok(OutcomeKind::TpHit),
            "SL_HIT" => Ok(OutcomeKind::SlHit),
            "TIME_EXIT" => Ok(OutcomeKind::TimeExit),
            _ => Err(ParseOutcomeKindError(text.to_owned())),
        }
    }
}

/// The closed position of one signal, as decided by the outcome monitor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub signal_id: SignalId,
    pub kind: OutcomeKind,
    /// The timestamp of the bar or tick that closed the position.
    pub exit_ts: Timestamp,
    pub exit_price: f64,
    /// Return in percent of the entry price, after fees.
    pub pnl_pct: f64,
    /// `exit_ts - entry_ts` in milliseconds.
    pub holding_ms: i64,
    /// True when one bar reached both the take-profit and the stop-loss, so
    /// the order of the two hits was decided by the ambiguity policy.
    pub ambiguous: bool,
    /// Maximum favourable excursion, percent of entry, never negative.
    pub mfe_pct: f64,
    /// Maximum adverse excursion, percent of entry, never negative.
    pub mae_pct: f64,
}

impl Outcome {
    /// The holding time in minutes.
    pub fn holding_minutes(&self) -> f64 {
        self.holding_ms as f64 / MILLIS_PER_MINUTE as f64
    }

    /// True for a trade that made money.
    pub fn is_win(&self) -> bool {
        self.pnl_pct > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_text() {
        for kind in [OutcomeKind::TpHit, OutcomeKind::SlHit, OutcomeKind::TimeExit] {
            assert_eq!(kind.as_str().parse::<OutcomeKind>(), Ok(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert!("tp".parse::<OutcomeKind>().is_err());
    }
}
