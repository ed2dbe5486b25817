//! Price paths: the bars of one planted trade and the quiet bars between
//! trades, appended to one symbol's tape.
//!
//! A trade's path is drawn in *favourable units*: `x` is the move from the
//! entry in the signal's favour, as a fraction of the entry price, so the
//! take-profit sits at `x = take` and the stop-loss at `x = -stop` for both
//! sides. Until the exit bar every open, close, high and low stays well
//! inside the band; the exit bar opens inside it and crosses exactly one
//! level, by a clear margin. So the monitor sees no gap, no ambiguous bar and
//! no early exit, and decides the outcome that was planted.

use siglearn_plugin_api::{Bar, Side, Timestamp};

use super::rng::Rng;

/// The most bars a trade spends inside its band before the exit bar.
pub(super) const MAX_INNER_BARS: usize = 8;

/// Closes before the exit bar stay within this share of the distance to a level.
const CLOSE_REACH: f64 = 0.7;
/// Highs and lows before the exit bar stay within this share.
const WICK_REACH: f64 = 0.85;

/// One planted trade: where its levels are and which one it reaches.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub(super) side: Side,
    /// Distance from entry to take-profit, as a fraction of the entry price.
    pub(super) take: f64,
    /// Distance from entry to stop-loss, as a fraction of the entry price.
    pub(super) stop: f64,
    /// Reaches the take-profit (`true`) or the stop-loss.
    pub(super) win: bool,
}

impl Plan {
    /// The take-profit and stop-loss prices for an entry at `entry`.
    pub(super) fn levels(&self, entry: f64) -> (f64, f64) {
        let sign = self.side.sign();
        (round_price(entry * (1.0 + sign * self.take)), round_price(entry * (1.0 - sign * self.stop)))
    }
}

/// One symbol's bars as they are drawn, back to back: each bar opens at the
/// previous close.
#[derive(Debug)]
pub(super) struct Tape {
    bars: Vec<Bar>,
    next_ts: Timestamp,
    bar_ms: i64,
    last_close: f64,
    /// The level quiet bars drift back towards, so long runs stay at a
    /// plausible price instead of wandering off by orders of magnitude.
    base: f64,
}

impl Tape {
    pub(super) fn new(start: Timestamp, bar_ms: i64, base: f64) -> Self {
        let base = round_price(base);
        Tape { bars: Vec::new(), next_ts: start, bar_ms, last_close: base, base }
    }

    /// Open time of the next bar.
    pub(super) fn next_ts(&self) -> Timestamp {
        self.next_ts
    }

    /// Open price of the next bar.
    pub(super) fn next_open(&self) -> f64 {
        self.last_close
    }

    pub(super) fn into_bars(self) -> Vec<Bar> {
        self.bars
    }

    /// Appends the bars of a trade entered at the next bar's open: up to
    /// [`MAX_INNER_BARS`] inside the band, then the bar that reaches the
    /// planned level.
    pub(super) fn trade(&mut self, rng: &mut Rng, plan: &Plan) {
        let entry = self.last_close;
        let (take, stop) = (plan.take, plan.stop);
        let to_price = |x: f64| entry * (1.0 + plan.side.sign() * x);
        let noise = 0.2 * stop;
        let wick = 0.1 * stop;
        let inner = rng.int(1, MAX_INNER_BARS);
        // Head for a point inside the band on the planned side, so the exit
        // bar only has a short way to go.
        let target = if plan.win { 0.6 * take } else { -0.6 * stop };
        let mut x = 0.0;
        for remaining in (1..=inner).rev() {
            let open = x;
            x = (x + (target - x) / remaining as f64 + noise * rng.normal())
                .clamp(-CLOSE_REACH * stop, CLOSE_REACH * take);
            let high = (open.max(x) + wick * rng.normal().abs()).min(WICK_REACH * take);
            let low = (open.min(x) - wick * rng.normal().abs()).max(-WICK_REACH * stop);
            self.push(rng, to_price(x), [to_price(high), to_price(low)]);
        }
        // The exit bar: beyond one level by 5-30% of its distance, and
        // nowhere near the other.
        let (close, beyond, other) = if plan.win {
            let close = take * rng.uniform(0.9, 1.1);
            let other = (x.min(close) - wick * rng.normal().abs()).max(-WICK_REACH * stop);
            (close, take * rng.uniform(1.05, 1.3), other)
        } else {
            let close = -stop * rng.uniform(0.9, 1.1);
            let other = (x.max(close) + wick * rng.normal().abs()).min(WICK_REACH * take);
            (close, -stop * rng.uniform(1.05, 1.3), other)
        };
        self.push(rng, to_price(close), [to_price(beyond), to_price(other)]);
    }

    /// Appends `count` small bars that drift back towards the base price.
    pub(super) fn quiet(&mut self, rng: &mut Rng, count: usize) {
        for _ in 0..count {
            let open = self.last_close;
            let close = open * (0.002 * rng.normal() - 0.02 * (open / self.base).ln()).exp();
            let high = open.max(close) * (1.0 + 0.001 * rng.normal().abs());
            let low = open.min(close) * (1.0 - 0.001 * rng.normal().abs());
            self.push(rng, close, [high, low]);
        }
    }

    /// Appends a bar opening at the last close. High and low are taken over
    /// the rounded open, close and `extremes`, so the bar is always consistent.
    fn push(&mut self, rng: &mut Rng, close: f64, extremes: [f64; 2]) {
        let open = self.last_close;
        let close = round_price(close);
        let [a, b] = extremes.map(round_price);
        let bar = Bar {
            ts: self.next_ts,
            open,
            high: open.max(close).max(a).max(b),
            low: open.min(close).min(a).min(b),
            close,
            volume: (1000.0 * (0.4 * rng.normal()).exp()).round(),
        };
        self.bars.push(bar);
        self.last_close = close;
        self.next_ts = self.next_ts + self.bar_ms;
    }
}

/// `price` to 8 significant digits: files stay readable, and the error
/// (1e-7 of the price) is far below the margins a path keeps from a level.
pub(super) fn round_price(price: f64) -> f64 {
    let scale = 10f64.powi(7 - price.abs().log10().floor() as i32);
    if scale.is_finite() && scale > 0.0 { (price * scale).round() / scale } else { price }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_keep_eight_significant_digits() {
        assert_eq!(round_price(123.456_789_123), 123.456_79);
        assert_eq!(round_price(0.000_123_456_789_1), 0.000_123_456_79);
        assert_eq!(round_price(round_price(98_765.432_1)), 98_765.432);
    }

    #[test]
    fn bars_open_at_the_previous_close_one_interval_apart() {
        let mut rng = Rng::new(5, 0);
        let mut tape = Tape::new(Timestamp(0), 60_000, 100.0);
        let plan = Plan { side: Side::Short, take: 0.02, stop: 0.01, win: true };
        tape.trade(&mut rng, &plan);
        tape.quiet(&mut rng, 3);
        let bars = tape.into_bars();
        assert_eq!(bars[0].open, 100.0);
        for pair in bars.windows(2) {
            assert_eq!(pair[1].open, pair[0].close);
            assert_eq!(pair[1].ts - pair[0].ts, 60_000);
        }
        assert!(bars.iter().all(|bar| bar.validate().is_ok()));
    }
}
