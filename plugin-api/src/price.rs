//! Price updates: OHLCV bars and trade ticks.

use serde::{Deserialize, Serialize};

use crate::{Symbol, Timestamp};

/// An OHLCV bar; `ts` is the bar's open time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub ts: Timestamp,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Bar {
    /// Checks that prices are finite and positive, volume finite and not
    /// negative, and `low <= min(open, close) <= max(open, close) <= high`.
    pub fn validate(&self) -> Result<(), PriceError> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }

    /// Every reason the bar is invalid (see [`Bar::validate`]), so that all
    /// can be fixed at once; empty when it is valid. The range checks are
    /// made only when every price is a valid number.
    pub fn problems(&self) -> Vec<PriceError> {
        let mut problems: Vec<PriceError> =
            [("open", self.open), ("high", self.high), ("low", self.low), ("close", self.close)]
                .into_iter()
                .filter_map(|(field, value)| check_price(field, value).err())
                .collect();
        if !self.volume.is_finite() || self.volume < 0.0 {
            problems.push(PriceError::BadVolume { value: self.volume });
        }
        if problems.iter().any(|p| matches!(p, PriceError::BadPrice { .. })) {
            return problems;
        }
        if self.low > self.open.min(self.close) {
            problems.push(PriceError::Inconsistent { field: "low", detail: "low is above open or close" });
        }
        if self.high < self.open.max(self.close) {
            problems.push(PriceError::Inconsistent { field: "high", detail: "high is below open or close" });
        }
        problems
    }
}

/// A single trade price.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub ts: Timestamp,
    pub price: f64,
}

impl Tick {
    /// Checks that the price is finite and positive.
    pub fn validate(&self) -> Result<(), PriceError> {
        check_price("price", self.price)
    }
}

/// A bar or a tick, without its symbol.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Price {
    Bar(Bar),
    Tick(Tick),
}

impl Price {
    /// The bar's open time or the tick's time.
    #[inline]
    pub fn ts(&self) -> Timestamp {
        match self {
            Price::Bar(bar) => bar.ts,
            Price::Tick(tick) => tick.ts,
        }
    }

    /// The first price of the update: the bar's open or the tick's price.
    #[inline]
    pub fn open(&self) -> f64 {
        match self {
            Price::Bar(bar) => bar.open,
            Price::Tick(tick) => tick.price,
        }
    }

    /// The highest price of the update.
    #[inline]
    pub fn high(&self) -> f64 {
        match self {
            Price::Bar(bar) => bar.high,
            Price::Tick(tick) => tick.price,
        }
    }

    /// The lowest price of the update.
    #[inline]
    pub fn low(&self) -> f64 {
        match self {
            Price::Bar(bar) => bar.low,
            Price::Tick(tick) => tick.price,
        }
    }

    /// The last price of the update: the bar's close or the tick's price.
    #[inline]
    pub fn close(&self) -> f64 {
        match self {
            Price::Bar(bar) => bar.close,
            Price::Tick(tick) => tick.price,
        }
    }

    /// Validates the bar or tick.
    pub fn validate(&self) -> Result<(), PriceError> {
        match self {
            Price::Bar(bar) => bar.validate(),
            Price::Tick(tick) => tick.validate(),
        }
    }

    /// Every reason the bar or tick is invalid; empty when it is valid.
    pub fn problems(&self) -> Vec<PriceError> {
        match self {
            Price::Bar(bar) => bar.problems(),
            Price::Tick(tick) => tick.validate().err().into_iter().collect(),
        }
    }
}

/// A price for one symbol, as it enters the engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceUpdate {
    pub symbol: Symbol,
    pub price: Price,
}

fn check_price(field: &'static str, value: f64) -> Result<(), PriceError> {
    if value.is_finite() && value > 0.0 { Ok(()) } else { Err(PriceError::BadPrice { field, value }) }
}

/// Why a bar or tick is invalid; `field` names the column to fix.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PriceError {
    #[error("{field} is {value}; prices must be finite and above 0")]
    BadPrice { field: &'static str, value: f64 },
    #[error("volume is {value}; it must be finite and not negative")]
    BadVolume { value: f64 },
    #[error("{detail}")]
    Inconsistent { field: &'static str, detail: &'static str },
}

impl PriceError {
    /// The column the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            PriceError::BadPrice { field, .. } | PriceError::Inconsistent { field, .. } => field,
            PriceError::BadVolume { .. } => "volume",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(open: f64, high: f64, low: f64, close: f64) -> Bar {
        Bar { ts: Timestamp(0), open, high, low, close, volume: 1.0 }
    }

    #[test]
    fn consistent_bar_is_valid() {
        assert_eq!(bar(10.0, 12.0, 9.0, 11.0).validate(), Ok(()));
    }

    #[test]
    fn high_below_close_is_refused_naming_high() {
        assert_eq!(bar(10.0, 10.5, 9.0, 11.0).validate().unwrap_err().field(), "high");
    }

    #[test]
    fn nan_and_zero_prices_are_refused() {
        assert_eq!(bar(f64::NAN, 12.0, 9.0, 11.0).validate().unwrap_err().field(), "open");
        assert!(Tick { ts: Timestamp(0), price: 0.0 }.validate().is_err());
    }

    #[test]
    fn a_tick_is_its_own_open_high_low_and_close() {
        let price = Price::Tick(Tick { ts: Timestamp(5), price: 3.0 });
        assert_eq!(
            (price.ts(), price.open(), price.high(), price.low(), price.close()),
            (Timestamp(5), 3.0, 3.0, 3.0, 3.0)
        );
    }
}
