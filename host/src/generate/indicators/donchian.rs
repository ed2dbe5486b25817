//! The Donchian channel of the bars before the current one.

use siglearn_plugin_api::Bar;

use super::window::{Extreme, RollingExtreme};

/// One Donchian reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DonchianValue {
    /// Highest high of the prior `period` bars.
    pub upper: f64,
    /// Lowest low of the prior `period` bars.
    pub lower: f64,
}

impl DonchianValue {
    /// The middle of the channel.
    pub fn mid(&self) -> f64 {
        (self.upper + self.lower) / 2.0
    }

    /// Where `price` sits in the channel: 0 at the lower edge, 1 at the upper,
    /// beyond [0, 1] on a breakout; 0.5 for a channel of zero width.
    pub fn position(&self, price: f64) -> f64 {
        let width = self.upper - self.lower;
        if width > 0.0 { (price - self.lower) / width } else { 0.5 }
    }
}

/// The Donchian channel over the `period` bars *before* the current one
/// (20 by default), so that a close beyond it is a breakout. The first
/// reading comes on bar `period + 1`.
#[derive(Clone, Debug)]
pub struct Donchian {
    highest: RollingExtreme,
    lowest: RollingExtreme,
}

impl Donchian {
    /// A channel over the prior `period` bars.
    pub fn new(period: usize) -> Self {
        Self {
            highest: RollingExtreme::new(period, Extreme::Max),
            lowest: RollingExtreme::new(period, Extreme::Min),
        }
    }

    /// Feeds one bar; returns the channel of the bars before it.
    pub fn update(&mut self, bar: &Bar) -> Option<DonchianValue> {
        let prior = self.highest.value().zip(self.lowest.value());
        self.highest.push(bar.high);
        self.lowest.push(bar.low);
        prior.map(|(upper, lower)| DonchianValue { upper, lower })
    }
}

impl Default for Donchian {
    /// Donchian(20).
    fn default() -> Self {
        Self::new(20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::hlc;

    #[test]
    fn channel_excludes_the_current_bar() {
        let bars = [hlc(10.0, 8.0, 9.0), hlc(12.0, 9.0, 11.0), hlc(11.0, 7.0, 8.0), hlc(15.0, 10.0, 14.0)];
        let mut donchian = Donchian::new(2);
        let out: Vec<_> = bars.iter().map(|bar| donchian.update(bar)).collect();
        assert_eq!(out[..2], [None, None]);
        assert_eq!(out[2], Some(DonchianValue { upper: 12.0, lower: 8.0 }));
        // bar 3 breaks out above the prior channel 7..12
        let last = out[3].unwrap();
        assert_eq!(last, DonchianValue { upper: 12.0, lower: 7.0 });
        assert_eq!(last.mid(), 9.5);
        assert_eq!(last.position(14.0), 1.4);
    }

    #[test]
    fn a_zero_width_channel_puts_price_in_the_middle() {
        assert_eq!(DonchianValue { upper: 5.0, lower: 5.0 }.position(6.0), 0.5);
    }
}
