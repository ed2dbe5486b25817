//! The nine voting heads of the built-in generator and their families.
//!
//! A head turns indicator values into a vote in [-1, 1] (positive = long).
//! Each vote function takes plain numbers so it can be read and tested on
//! its own; [`Head::vote`] feeds it from a [`Snapshot`]. The generator
//! averages the nine votes; the [`Family`] of the heads that agree most
//! names the signal's pattern.

use std::fmt;

use siglearn_plugin_api::Side;

use super::indicators::DonchianValue;
use super::snapshot::Snapshot;

/// What kind of evidence a head contributes. The order of the variants is
/// the tie-break order when two families agree equally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Trend,
    Momentum,
    MeanReversion,
    Breakout,
    Volume,
}

impl Family {
    /// Every family, in tie-break order.
    pub const ALL: [Family; 5] =
        [Family::Trend, Family::Momentum, Family::MeanReversion, Family::Breakout, Family::Volume];

    /// The pattern name: `trend`, `momentum`, `mean_reversion`, `breakout` or `volume`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Family::Trend => "trend",
            Family::Momentum => "momentum",
            Family::MeanReversion => "mean_reversion",
            Family::Breakout => "breakout",
            Family::Volume => "volume",
        }
    }

    /// The family whose heads add up the most support for `side`: only votes
    /// agreeing with the side count (`vote · side sign` when positive). Ties
    /// go to the family first in [`Family::ALL`].
    pub fn dominant(votes: &[(Head, f64)], side: Side) -> Family {
        let support = |family: Family| -> f64 {
            votes
                .iter()
                .filter(|(head, _)| head.family() == family)
                .map(|(_, vote)| (vote * side.sign()).max(0.0))
                .sum()
        };
        let mut best = (Family::Trend, support(Family::Trend));
        for family in &Family::ALL[1..] {
            let total = support(*family);
            if total > best.1 {
                best = (*family, total);
            }
        }
        best.0
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the nine heads; see the vote function of the same name for its
/// formula and intuition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Head {
    EmaTrend,
    Rsi,
    Macd,
    Bollinger,
    Stochastic,
    Adx,
    Roc,
    Obv,
    Donchian,
}

impl Head {
    /// Every head, in the order votes are reported.
    pub const ALL: [Head; 9] = [
        Head::EmaTrend,
        Head::Rsi,
        Head::Macd,
        Head::Bollinger,
        Head::Stochastic,
        Head::Adx,
        Head::Roc,
        Head::Obv,
        Head::Donchian,
    ];

    /// The head's name in a signal's `heads` map.
    pub const fn name(self) -> &'static str {
        match self {
            Head::EmaTrend => "ema_trend",
            Head::Rsi => "rsi",
            Head::Macd => "macd",
            Head::Bollinger => "bollinger",
            Head::Stochastic => "stochastic",
            Head::Adx => "adx",
            Head::Roc => "roc",
            Head::Obv => "obv",
            Head::Donchian => "donchian",
        }
    }

    /// The kind of evidence the head contributes.
    pub const fn family(self) -> Family {
        match self {
            Head::EmaTrend | Head::Adx => Family::Trend,
            Head::Macd | Head::Roc => Family::Momentum,
            Head::Rsi | Head::Bollinger | Head::Stochastic => Family::MeanReversion,
            Head::Donchian => Family::Breakout,
            Head::Obv => Family::Volume,
        }
    }

    /// The head's vote in [-1, 1] on one bar's indicators.
    pub fn vote(self, at: &Snapshot) -> f64 {
        match self {
            Head::EmaTrend => ema_trend(at.ema_fast, at.ema_slow, at.atr),
            Head::Rsi => rsi(at.rsi),
            Head::Macd => macd(at.macd.histogram, at.atr),
            Head::Bollinger => bollinger(at.pct_b),
            Head::Stochastic => stochastic(at.stochastic.d),
            Head::Adx => adx(at.adx.adx, at.adx.plus_di, at.adx.minus_di),
            Head::Roc => roc(at.roc, at.atr_pct()),
            Head::Obv => obv(at.obv.slope),
            Head::Donchian => donchian(at.close, at.donchian),
        }
    }
}

/// `x / scale`, or 0 when the scale is not positive (a flat market has no
/// volatility to measure a move against, so the move says nothing).
fn per(x: f64, scale: f64) -> f64 {
    if scale > 0.0 { x / scale } else { 0.0 }
}

/// Trend: `tanh((EMA12 − EMA26) / ATR)`. The fast average above the slow one
/// means prices have been rising; measuring the gap in ATRs makes "far
/// above" mean the same on every instrument and timeframe.
pub fn ema_trend(ema_fast: f64, ema_slow: f64, atr: f64) -> f64 {
    per(ema_fast - ema_slow, atr).tanh()
}

/// Mean reversion: `clamp((50 − RSI) / 30, −1, 1)`. An overbought market
/// (RSI 80 and up) votes fully short, an oversold one (20 and down) fully
/// long, expecting the stretch to snap back.
pub fn rsi(rsi: f64) -> f64 {
    ((50.0 - rsi) / 30.0).clamp(-1.0, 1.0)
}

/// Momentum: `tanh(MACD histogram / (0.5 · ATR))`. A positive histogram means
/// the trend is accelerating upward; half an ATR of acceleration is already
/// a strong vote.
pub fn macd(histogram: f64, atr: f64) -> f64 {
    per(histogram, 0.5 * atr).tanh()
}

/// Mean reversion: `clamp(1 − 2 · %B, −1, 1)`. A close on the upper band
/// (%B = 1) votes fully short, on the lower band fully long, on the mean 0.
pub fn bollinger(pct_b: f64) -> f64 {
    (1.0 - 2.0 * pct_b).clamp(-1.0, 1.0)
}

/// Mean reversion: `clamp((50 − %D) / 40, −1, 1)`. Closes persistently near
/// the top of the recent range (%D above 90) vote fully short, near the
/// bottom fully long.
pub fn stochastic(d: f64) -> f64 {
    ((50.0 - d) / 40.0).clamp(-1.0, 1.0)
}

/// Trend: `sign(+DI − −DI) · min(ADX / 50, 1)`. The DIs say which way the
/// market is moving, ADX how strongly it trends; ADX 50 and up is a full
/// vote, a trendless market (low ADX) barely votes.
pub fn adx(adx: f64, plus_di: f64, minus_di: f64) -> f64 {
    let direction = plus_di - minus_di;
    // f64::signum(0.0) is 1: equal DIs must not vote long.
    let sign = if direction > 0.0 {
        1.0
    } else if direction < 0.0 {
        -1.0
    } else {
        0.0
    };
    sign * (adx / 50.0).min(1.0)
}

/// Momentum: `tanh(ROC% / (3 · ATR%))` with `ATR% = ATR / close · 100`. A
/// ten-bar move is judged against the instrument's usual one-bar range, so
/// only a move of several ranges is a strong vote.
pub fn roc(roc_pct: f64, atr_pct: f64) -> f64 {
    per(roc_pct, 3.0 * atr_pct).tanh()
}

/// Volume: `tanh(normalised OBV slope)`. Volume flowing into up-closes (OBV
/// rising by about a bar's mean volume per bar reads slope 1) backs a long.
pub fn obv(slope: f64) -> f64 {
    slope.tanh()
}

/// Breakout: +1 when the close breaks above the prior 20-bar channel, −1
/// below it; inside it `0.5 · clamp(2 · (close − mid) / (upper − lower), −1, 1)`,
/// a half-strength lean towards the edge the close is nearer. A channel of
/// zero width gives 0 unless the close broke out of it.
pub fn donchian(close: f64, channel: DonchianValue) -> f64 {
    if close > channel.upper {
        1.0
    } else if close < channel.lower {
        -1.0
    } else {
        0.5 * per(2.0 * (close - channel.mid()), channel.upper - channel.lower).clamp(-1.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_range(vote: f64) -> bool {
        (-1.0..=1.0).contains(&vote)
    }

    #[test]
    fn ema_trend_follows_the_gap_in_atrs() {
        assert!(ema_trend(105.0, 100.0, 2.0) > 0.98);
        assert!(ema_trend(100.0, 105.0, 2.0) < -0.98);
        assert!((ema_trend(101.0, 100.0, 2.0) - 0.5f64.tanh()).abs() < 1e-12);
        assert_eq!(ema_trend(101.0, 100.0, 0.0), 0.0);
    }

    #[test]
    fn rsi_fades_extremes() {
        assert_eq!(rsi(50.0), 0.0);
        assert_eq!(rsi(80.0), -1.0);
        assert_eq!(rsi(95.0), -1.0);
        assert_eq!(rsi(20.0), 1.0);
        assert_eq!(rsi(35.0), 0.5);
    }

    #[test]
    fn macd_follows_the_histogram_in_half_atrs() {
        assert!((macd(0.5, 1.0) - 1.0f64.tanh()).abs() < 1e-12);
        assert!(macd(-3.0, 1.0) < -0.99);
        assert_eq!(macd(1.0, 0.0), 0.0);
    }

    #[test]
    fn bollinger_fades_the_bands() {
        assert_eq!(bollinger(1.0), -1.0);
        assert_eq!(bollinger(1.7), -1.0);
        assert_eq!(bollinger(0.0), 1.0);
        assert_eq!(bollinger(-0.4), 1.0);
        assert_eq!(bollinger(0.5), 0.0);
        assert_eq!(bollinger(0.25), 0.5);
    }

    #[test]
    fn stochastic_fades_the_range_edges() {
        assert_eq!(stochastic(90.0), -1.0);
        assert_eq!(stochastic(100.0), -1.0);
        assert_eq!(stochastic(10.0), 1.0);
        assert_eq!(stochastic(30.0), 0.5);
    }

    #[test]
    fn adx_takes_direction_from_the_dis_and_strength_from_adx() {
        assert_eq!(adx(25.0, 30.0, 10.0), 0.5);
        assert_eq!(adx(80.0, 10.0, 30.0), -1.0);
        assert_eq!(adx(40.0, 20.0, 20.0), 0.0);
    }

    #[test]
    fn roc_judges_the_move_against_three_ranges() {
        assert!((roc(3.0, 1.0) - 1.0f64.tanh()).abs() < 1e-12);
        assert!(roc(-30.0, 1.0) < -0.99);
        assert_eq!(roc(5.0, 0.0), 0.0);
    }

    #[test]
    fn obv_squashes_the_slope() {
        assert_eq!(obv(0.0), 0.0);
        assert!(obv(1.0) > 0.7 && obv(-1.0) < -0.7);
        assert!(in_range(obv(1e9)) && in_range(obv(-1e9)));
    }

    #[test]
    fn donchian_breakouts_vote_fully_and_inside_leans_half() {
        let channel = DonchianValue { upper: 110.0, lower: 90.0 };
        assert_eq!(donchian(111.0, channel), 1.0);
        assert_eq!(donchian(89.0, channel), -1.0);
        assert_eq!(donchian(100.0, channel), 0.0);
        assert_eq!(donchian(110.0, channel), 0.5);
        assert_eq!(donchian(95.0, channel), -0.25);
        let flat = DonchianValue { upper: 100.0, lower: 100.0 };
        assert_eq!((donchian(100.0, flat), donchian(101.0, flat)), (0.0, 1.0));
    }

    #[test]
    fn every_vote_stays_in_range_on_wild_inputs() {
        let wild: [f64; 9] = [-1e12, -100.0, -1.0, 0.0, 1e-9, 1.0, 50.0, 100.0, 1e12];
        for &a in &wild {
            for &b in &wild {
                let channel = DonchianValue { upper: a.max(b), lower: a.min(b) };
                let votes = [
                    ema_trend(a, b, 1.0),
                    rsi(a),
                    macd(a, b.abs()),
                    bollinger(a),
                    stochastic(a),
                    adx(a.abs().min(100.0), a.abs(), b.abs()),
                    roc(a, b.abs()),
                    obv(a),
                    donchian(50.0, channel),
                ];
                assert!(votes.iter().all(|&vote| in_range(vote)), "{a} {b}: {votes:?}");
            }
        }
    }

    #[test]
    fn families_group_the_heads_as_specified() {
        let of = |family| Head::ALL.iter().filter(|head| head.family() == family).count();
        assert_eq!(
            Family::ALL.map(of),
            [2, 2, 3, 1, 1],
            "trend 2, momentum 2, mean_reversion 3, breakout 1, volume 1"
        );
    }

    #[test]
    fn dominant_family_counts_only_agreeing_votes_and_breaks_ties_in_order() {
        let votes = [
            (Head::EmaTrend, 0.5),
            (Head::Adx, -0.9),
            (Head::Macd, 0.25),
            (Head::Roc, 0.25),
            (Head::Rsi, -1.0),
            (Head::Donchian, 0.5),
        ];
        // Long: trend 0.5 (the −0.9 does not count), momentum 0.5, breakout 0.5 → trend first.
        assert_eq!(Family::dominant(&votes, Side::Long), Family::Trend);
        // Short: trend 0.9, mean_reversion 1.0.
        assert_eq!(Family::dominant(&votes, Side::Short), Family::MeanReversion);
    }
}
