//! Streaming technical indicators for the built-in generator.
//!
//! Each indicator is a small struct fed one [`Bar`](siglearn_plugin_api::Bar)
//! at a time through `update`, doing O(1) (amortised) work per bar and
//! returning `None` until it has warmed up. Warm-up lengths and seeding
//! rules are in each type's documentation.
//!
//! They are written by hand because there is no well-maintained indicator
//! crate that fits this workspace (streaming, no heavy dependencies, Wilder's
//! exact seeding); each one is pinned by tests on hand-computed values.

mod adx;
mod atr;
mod bollinger;
mod donchian;
mod ema;
mod macd;
mod obv;
mod roc;
mod rsi;
mod stochastic;
mod wilder;
mod window;

pub use adx::{Adx, AdxValue};
pub use atr::{Atr, true_range};
pub use bollinger::BollingerPctB;
pub use donchian::{Donchian, DonchianValue};
pub use ema::Ema;
pub use macd::{Macd, MacdValue};
pub use obv::{Obv, ObvValue};
pub use roc::Roc;
pub use rsi::Rsi;
pub use stochastic::{Stochastic, StochasticValue};

/// Bars for indicator tests, built from the few fields each test cares about.
#[cfg(test)]
pub(crate) mod test_bars {
    use siglearn_plugin_api::{Bar, Timestamp};

    /// A bar with the given high, low and close (open = close, volume 1).
    pub(crate) fn hlc(high: f64, low: f64, close: f64) -> Bar {
        Bar { ts: Timestamp(0), open: close, high, low, close, volume: 1.0 }
    }

    /// A bar with the given close and volume and no range.
    pub(crate) fn close_volume(close: f64, volume: f64) -> Bar {
        Bar { ts: Timestamp(0), open: close, high: close, low: close, close, volume }
    }

    /// Range-less bars at the given closes.
    pub(crate) fn closes(prices: &[f64]) -> Vec<Bar> {
        prices.iter().map(|&close| close_volume(close, 1.0)).collect()
    }
}
