//! Signals: what an upstream generator proposes, and the rules that make one valid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::printable;
use crate::{ForbiddenChar, SignalId, Symbol, Timestamp, Values};

/// The direction of a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Long,
    Short,
}

impl Side {
    /// `+1.0` for long, `-1.0` for short: multiply a price move by it to get
    /// the move in the signal's favour.
    pub const fn sign(self) -> f64 {
        match self {
            Side::Long => 1.0,
            Side::Short => -1.0,
        }
    }

    /// `"long"` or `"short"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Long => "long",
            Side::Short => "short",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A side that is neither `long` nor `short`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("side {0:?} is not one of long, short (buy and sell are accepted too)")]
pub struct ParseSideError(pub String);

impl FromStr for Side {
    type Err = ParseSideError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "long" | "buy" => Ok(Side::Long),
            "short" | "sell" => Ok(Side::Short),
            _ => Err(ParseSideError(text.to_owned())),
        }
    }
}

/// A trading signal: a proposed position with its exits and the evidence
/// (confidence, pattern, regime, head votes, indicator values) behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub id: SignalId,
    pub symbol: Symbol,
    pub side: Side,
    /// When the position is entered; the signal is watched from the first
    /// price whose timestamp is at or after this instant.
    pub entry_ts: Timestamp,
    pub entry_price: f64,
    pub take_profit: Option<f64>,
    pub stop_loss: Option<f64>,
    /// The longest the position is held, in milliseconds.
    pub max_hold_ms: Option<i64>,
    /// The generator's confidence in `[0, 1]`.
    pub confidence: Option<f64>,
    pub pattern: Option<String>,
    pub regime: Option<String>,
    /// Each model head's vote in `[-1, 1]`: positive for long, negative for short.
    pub heads: Values,
    /// Raw indicator values at signal time.
    pub indicators: Values,
}

impl Signal {
    /// The instant after which the position is closed at market, if any.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.max_hold_ms.map(|hold| self.entry_ts + hold)
    }

    /// Checks every rule of a valid signal and returns the first broken one.
    ///
    /// Long: stop_loss < entry_price < take_profit; short: take_profit <
    /// entry_price < stop_loss; all prices finite and positive; at least one of
    /// take_profit, stop_loss, max_hold set; confidence in [0, 1]; votes in
    /// [-1, 1]; indicator values finite.
    pub fn validate(&self) -> Result<(), SignalError> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }

    /// Every reason the signal is invalid (see [`Signal::validate`]), so
    /// that a user can fix them all at once; empty when it is valid. Ids
    /// and names are bounded too (see [`MAX_ID_BYTES`], [`MAX_NAME_BYTES`],
    /// [`MAX_VALUES`]), so no input can make the store or an answer grow
    /// without end.
    pub fn problems(&self) -> Vec<SignalError> {
        let mut problems = Vec::new();
        let required =
            [("signal_id", self.id.as_str(), MAX_ID_BYTES), ("symbol", self.symbol.as_str(), MAX_NAME_BYTES)];
        for (field, value, max) in required {
            if value.chars().all(char::is_whitespace) {
                problems.push(SignalError::Empty { field });
            } else if let Err(error) = check_name(field, value, max) {
                problems.push(error);
            }
        }
        for (field, value) in [("pattern", &self.pattern), ("regime", &self.regime)] {
            if let Some(Err(error)) = value.as_deref().map(|value| check_name(field, value, MAX_NAME_BYTES)) {
                problems.push(error);
            }
        }
        let entry_ok = check_price("entry_price", self.entry_price).map_err(|e| problems.push(e)).is_ok();
        for (field, level) in [("take_profit", self.take_profit), ("stop_loss", self.stop_loss)] {
            let Some(level) = level else { continue };
            if let Err(error) = check_price(field, level) {
                problems.push(error);
                continue;
            }
            let above = field == "take_profit";
            let right_side = match (self.side, above) {
                (Side::Long, true) | (Side::Short, false) => level > self.entry_price,
                (Side::Long, false) | (Side::Short, true) => level < self.entry_price,
            };
            if entry_ok && !right_side {
                problems.push(SignalError::WrongSide {
                    field,
                    side: self.side,
                    level,
                    entry: self.entry_price,
                });
            }
        }
        match self.max_hold_ms {
            Some(hold) if hold <= 0 => problems.push(SignalError::MaxHoldNotPositive { millis: hold }),
            None if self.take_profit.is_none() && self.stop_loss.is_none() => {
                problems.push(SignalError::NoExit)
            }
            _ => {}
        }
        if let Some(confidence) = self.confidence.filter(|c| !(0.0..=1.0).contains(c)) {
            problems.push(SignalError::ConfidenceOutOfRange { value: confidence });
        }
        for (field, values) in [("heads", &self.heads), ("indicators", &self.indicators)] {
            if values.len() > MAX_VALUES {
                problems.push(SignalError::TooMany { field, count: values.len(), max: MAX_VALUES });
            }
            if let Some((name, _)) = values.iter().find(|(name, _)| name.len() > MAX_NAME_BYTES) {
                problems.push(SignalError::NameTooLong { field, name: name.to_owned(), max: MAX_NAME_BYTES });
            }
            let forbidden = values.iter().find_map(|(name, _)| Some((name, ForbiddenChar::find(name)?)));
            if let Some((name, found)) = forbidden {
                problems.push(SignalError::NameControlCharacter { field, name: short(name), found });
            }
        }
        for (head, vote) in &self.heads {
            if !(-1.0..=1.0).contains(&vote) {
                problems.push(SignalError::VoteOutOfRange { head: short(head), value: vote });
            }
        }
        for (name, value) in &self.indicators {
            if !value.is_finite() {
                problems.push(SignalError::IndicatorNotFinite { name: short(name), value });
            }
        }
        problems
    }
}

/// The longest signal id, in bytes (UTF-8).
pub const MAX_ID_BYTES: usize = 128;
/// The longest symbol, pattern, regime, head or indicator name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// The most heads, and the most indicators, of one signal.
pub const MAX_VALUES: usize = 256;

/// Checks an id or a name a user supplies (`field` says which): at most
/// `max` bytes, and no control character or bidirectional override (see
/// [`ForbiddenChar`]). Every edge that takes a name (signals and prices,
/// CSV and JSON) checks it here; whether it may be empty is the caller's.
pub fn check_name(field: &'static str, value: &str, max: usize) -> Result<(), SignalError> {
    if value.len() > max {
        return Err(SignalError::TooLong { field, bytes: value.len(), max });
    }
    match ForbiddenChar::find(value) {
        Some(found) => Err(SignalError::ControlCharacter { field, found }),
        None => Ok(()),
    }
}

/// A name as an error message or a field quotes it: cut to
/// [`MAX_NAME_BYTES`], any character a name may not hold escaped.
fn short(name: &str) -> String {
    let mut end = name.len().min(MAX_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    printable(&name[..end]).into_owned()
}

fn check_price(field: &'static str, value: f64) -> Result<(), SignalError> {
    if !value.is_finite() {
        return Err(SignalError::NotFinite { field, value });
    }
    if value <= 0.0 {
        return Err(SignalError::NotPositive { field, value });
    }
    Ok(())
}

/// Why a signal is invalid. [`SignalError::field`] names the input field to fix.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SignalError {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} is {value}; prices must be finite numbers")]
    NotFinite { field: &'static str, value: f64 },
    #[error("{field} is {value}; prices must be above 0")]
    NotPositive { field: &'static str, value: f64 },
    #[error(
        "{field} {level} is on the wrong side of entry_price {entry} for a {side} signal \
         (long: stop_loss < entry_price < take_profit; short: take_profit < entry_price < stop_loss)"
    )]
    WrongSide { field: &'static str, side: Side, level: f64, entry: f64 },
    #[error("max hold is {millis} ms; it must be above 0 (or left empty)")]
    MaxHoldNotPositive { millis: i64 },
    #[error("the signal can never close: set at least one of take_profit, stop_loss, max_hold_minutes")]
    NoExit,
    #[error("confidence {value} is outside [0, 1]")]
    ConfidenceOutOfRange { value: f64 },
    #[error("vote {value} of head {head:?} is outside [-1, 1]")]
    VoteOutOfRange { head: String, value: f64 },
    #[error("indicator {name:?} is {value}; indicator values must be finite")]
    IndicatorNotFinite { name: String, value: f64 },
    #[error("{field} is {bytes} bytes long; the most is {max}")]
    TooLong { field: &'static str, bytes: usize, max: usize },
    #[error("{field} has {count} entries; the most is {max}")]
    TooMany { field: &'static str, count: usize, max: usize },
    #[error("{field} has a name of {} bytes ({:?}...); names are at most {max} bytes", name.len(), short(name))]
    NameTooLong { field: &'static str, name: String, max: usize },
    #[error("{field} {found}")]
    ControlCharacter { field: &'static str, found: ForbiddenChar },
    /// `name` is quoted as [`short`] has it: escaped and cut.
    #[error("{field} has a name (\"{name}\") that {found}")]
    NameControlCharacter { field: &'static str, name: String, found: ForbiddenChar },
}

impl SignalError {
    /// The input field (CSV column) the error is about.
    pub fn field(&self) -> String {
        match self {
            SignalError::Empty { field }
            | SignalError::NotFinite { field, .. }
            | SignalError::NotPositive { field, .. }
            | SignalError::WrongSide { field, .. }
            | SignalError::TooLong { field, .. }
            | SignalError::TooMany { field, .. }
            | SignalError::NameTooLong { field, .. }
            | SignalError::ControlCharacter { field, .. }
            | SignalError::NameControlCharacter { field, .. } => (*field).to_owned(),
            SignalError::MaxHoldNotPositive { .. } | SignalError::NoExit => "max_hold_minutes".to_owned(),
            SignalError::ConfidenceOutOfRange { .. } => "confidence".to_owned(),
            SignalError::VoteOutOfRange { head, .. } => format!("head.{head}"),
            SignalError::IndicatorNotFinite { name, .. } => format!("ind.{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long() -> Signal {
        Signal {
            id: SignalId::new("s1"),
            symbol: Symbol::new("BTC-USD"),
            side: Side::Long,
            entry_ts: Timestamp(0),
            entry_price: 100.0,
            take_profit: Some(110.0),
            stop_loss: Some(95.0),
            max_hold_ms: None,
            confidence: Some(0.5),
            pattern: None,
            regime: None,
            heads: Values::new(),
            indicators: Values::new(),
        }
    }

    #[test]
    fn a_well_formed_long_is_valid() {
        assert_eq!(long().validate(), Ok(()));
    }

    #[test]
    fn every_problem_of_a_signal_is_listed_at_once() {
        let mut signal = long();
        signal.take_profit = Some(90.0);
        signal.confidence = Some(1.5);
        signal.heads.insert("rsi", 2.0);
        signal.pattern = Some("p".repeat(MAX_NAME_BYTES + 1));
        let fields: Vec<String> = signal.problems().iter().map(SignalError::field).collect();
        assert_eq!(fields, ["pattern", "take_profit", "confidence", "head.rsi"]);
        assert_eq!(signal.validate().unwrap_err().field(), "pattern", "validate gives the first");
    }

    #[test]
    fn ids_names_and_value_counts_are_bounded() {
        let mut signal = long();
        signal.id = SignalId::new("i".repeat(MAX_ID_BYTES));
        signal.symbol = Symbol::new("S".repeat(MAX_NAME_BYTES).as_str());
        assert_eq!(signal.validate(), Ok(()), "at the limits");
        signal.id = SignalId::new("i".repeat(MAX_ID_BYTES + 1));
        signal.symbol = Symbol::new("S".repeat(MAX_NAME_BYTES + 1).as_str());
        signal.indicators = (0..=MAX_VALUES).map(|i| (format!("i{i}"), 1.0)).collect();
        signal.heads.insert("h".repeat(1000), 0.5);
        let problems = signal.problems();
        let fields: Vec<String> = problems.iter().map(SignalError::field).collect();
        assert_eq!(fields, ["signal_id", "symbol", "heads", "indicators"]);
        assert!(problems.iter().all(|p| p.to_string().len() < 200), "no input is echoed whole: {problems:?}");
    }

    #[test]
    fn take_profit_below_entry_of_a_long_is_named() {
        let signal = Signal { take_profit: Some(90.0), ..long() };
        let err = signal.validate().unwrap_err();
        assert_eq!(err.field(), "take_profit");
        assert!(err.to_string().contains("wrong side"), "{err}");
    }

    #[test]
    fn short_levels_are_mirrored() {
        let signal = Signal { side: Side::Short, take_profit: Some(90.0), stop_loss: Some(105.0), ..long() };
        assert_eq!(signal.validate(), Ok(()));
        let signal = Signal { side: Side::Short, ..long() };
        assert_eq!(signal.validate().unwrap_err().field(), "take_profit");
    }

    #[test]
    fn nan_prices_are_refused() {
        let signal = Signal { entry_price: f64::NAN, ..long() };
        assert!(matches!(signal.validate(), Err(SignalError::NotFinite { field: "entry_price", .. })));
    }

    #[test]
    fn a_signal_needs_some_exit() {
        let signal = Signal { take_profit: None, stop_loss: None, ..long() };
        assert_eq!(signal.validate(), Err(SignalError::NoExit));
        let signal = Signal { take_profit: None, stop_loss: None, max_hold_ms: Some(60_000), ..long() };
        assert_eq!(signal.validate(), Ok(()));
    }

    #[test]
    fn votes_and_confidence_are_bounded() {
        let mut signal = long();
        signal.heads.insert("rsi", 1.5);
        assert_eq!(signal.validate().unwrap_err().field(), "head.rsi");
        let signal = Signal { confidence: Some(-0.1), ..long() };
        assert_eq!(signal.validate().unwrap_err().field(), "confidence");
    }

    #[test]
    fn side_parses_common_spellings() {
        assert_eq!("LONG".parse::<Side>(), Ok(Side::Long));
        assert_eq!("sell".parse::<Side>(), Ok(Side::Short));
        assert!("up".parse::<Side>().is_err());
    }

    #[test]
    fn a_control_character_in_any_id_or_name_is_refused_naming_its_field_and_byte() {
        let mut signal = long();
        signal.id = SignalId::new("s1\n2026-11-30T00:00:00Z INFO forged");
        signal.symbol = Symbol::new("EVIL\u{1b}[2J");
        signal.pattern = Some("pat\u{1b}]0;pwned\u{7}".to_owned());
        signal.regime = Some("trend\u{202e}dne".to_owned());
        signal.heads.insert("rsi\r", 0.5);
        signal.indicators.insert("\u{9b}2J", 1.0);
        let problems = signal.problems();
        let fields: Vec<String> = problems.iter().map(SignalError::field).collect();
        assert_eq!(fields, ["signal_id", "symbol", "pattern", "regime", "heads", "indicators"]);
        let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let rule = "ids and names may not hold control characters or bidirectional overrides";
        assert_eq!(reasons[0], format!("signal_id contains a control character (U+000A) at byte 2; {rule}"));
        assert_eq!(reasons[1], format!("symbol contains a control character (U+001B) at byte 4; {rule}"));
        assert_eq!(reasons[3], format!("regime contains a control character (U+202E) at byte 5; {rule}"));
        assert_eq!(
            reasons[4],
            format!(
                "heads has a name (\"rsi\\u{{d}}\") that contains a control character (U+000D) at byte 3; {rule}"
            )
        );
        assert!(
            reasons.iter().all(|r| !r.contains(['\u{1b}', '\n', '\r', '\u{9b}', '\u{202e}'])),
            "{reasons:?}"
        );
        // Other text, non-ASCII included, is a name.
        let fine =
            Signal { symbol: Symbol::new("ÉTH-€"), pattern: Some("double top".to_owned()), ..long() };
        assert_eq!(fine.validate(), Ok(()));
    }
}
