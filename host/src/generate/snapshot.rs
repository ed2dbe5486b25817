//! Every indicator the heads need, advanced together one bar at a time.
//!
//! [`IndicatorSet`] owns one instance of each indicator and feeds each bar to
//! all of them; once every one has warmed up it returns a [`Snapshot`], the
//! values at that bar's close. The snapshot also names the raw indicator
//! values a signal carries.

use siglearn_plugin_api::Bar;

use super::indicators::{
    Adx, AdxValue, Atr, BollingerPctB, Donchian, DonchianValue, Ema, Macd, MacdValue, Obv, ObvValue, Roc,
    Rsi, Stochastic, StochasticValue,
};

/// The indicator values at one bar's close, all warmed up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Snapshot {
    pub close: f64,
    /// EMA(12) of closes.
    pub ema_fast: f64,
    /// EMA(26) of closes.
    pub ema_slow: f64,
    /// Wilder RSI(14).
    pub rsi: f64,
    /// MACD(12, 26, 9).
    pub macd: MacdValue,
    /// Bollinger %B(20, 2).
    pub pct_b: f64,
    /// Stochastic %K(14), %D(3).
    pub stochastic: StochasticValue,
    /// Wilder ATR(14), in price units.
    pub atr: f64,
    /// ADX and ±DI (14).
    pub adx: AdxValue,
    /// ROC(10), percent.
    pub roc: f64,
    /// OBV and its 20-bar normalised slope.
    pub obv: ObvValue,
    /// Donchian channel of the 20 bars before this one.
    pub donchian: DonchianValue,
}

impl Snapshot {
    /// ATR as a percent of the close; 0 for a (never valid) zero close.
    pub fn atr_pct(&self) -> f64 {
        atr_pct(self.atr, self.close)
    }

    /// The raw values a signal carries in its `indicators`, by name.
    pub fn indicators(&self) -> [(&'static str, f64); 10] {
        [
            (
                "ema_gap_pct",
                if self.close > 0.0 { (self.ema_fast - self.ema_slow) / self.close * 100.0 } else { 0.0 },
            ),
            ("rsi", self.rsi),
            ("macd_hist", self.macd.histogram),
            ("bb_pct_b", self.pct_b),
            ("stoch_k", self.stochastic.k),
            ("adx", self.adx.adx),
            ("roc", self.roc),
            ("obv_slope", self.obv.slope),
            ("donchian_pos", self.donchian.position(self.close)),
            ("atr_pct", self.atr_pct()),
        ]
    }
}

fn atr_pct(atr: f64, close: f64) -> f64 {
    if close > 0.0 { atr / close * 100.0 } else { 0.0 }
}

/// All of the generator's indicators, with the default periods.
#[derive(Clone, Debug)]
pub struct IndicatorSet {
    ema_fast: Ema,
    ema_slow: Ema,
    rsi: Rsi,
    macd: Macd,
    pct_b: BollingerPctB,
    stochastic: Stochastic,
    atr: Atr,
    adx: Adx,
    roc: Roc,
    obv: Obv,
    donchian: Donchian,
    last_atr_pct: Option<f64>,
}

impl Default for IndicatorSet {
    fn default() -> Self {
        Self {
            ema_fast: Ema::new(12),
            ema_slow: Ema::new(26),
            rsi: Rsi::default(),
            macd: Macd::default(),
            pct_b: BollingerPctB::default(),
            stochastic: Stochastic::default(),
            atr: Atr::default(),
            adx: Adx::default(),
            roc: Roc::default(),
            obv: Obv::default(),
            donchian: Donchian::default(),
            last_atr_pct: None,
        }
    }
}

impl IndicatorSet {
    /// An indicator set that has seen no bars.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the bar to every indicator (none is skipped, so all stay in step)
    /// and returns the snapshot once all have warmed up. The longest warm-up
    /// is MACD's: the first snapshot comes on bar 34.
    pub fn update(&mut self, bar: &Bar) -> Option<Snapshot> {
        let ema_fast = self.ema_fast.update(bar);
        let ema_slow = self.ema_slow.update(bar);
        let rsi = self.rsi.update(bar);
        let macd = self.macd.update(bar);
        let pct_b = self.pct_b.update(bar);
        let stochastic = self.stochastic.update(bar);
        let atr = self.atr.update(bar);
        let adx = self.adx.update(bar);
        let roc = self.roc.update(bar);
        let obv = self.obv.update(bar);
        let donchian = self.donchian.update(bar);
        self.last_atr_pct = atr.map(|atr| atr_pct(atr, bar.close));
        Some(Snapshot {
            close: bar.close,
            ema_fast: ema_fast?,
            ema_slow: ema_slow?,
            rsi: rsi?,
            macd: macd?,
            pct_b: pct_b?,
            stochastic: stochastic?,
            atr: atr?,
            adx: adx?,
            roc: roc?,
            obv: obv?,
            donchian: donchian?,
        })
    }

    /// ATR% of the last bar fed, available long before a full snapshot.
    pub fn atr_pct(&self) -> Option<f64> {
        self.last_atr_pct
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use siglearn_plugin_api::Timestamp;

    #[test]
    fn first_snapshot_on_bar_34_with_ten_finite_indicators() {
        let mut set = IndicatorSet::new();
        let snapshots: Vec<_> = (0..40)
            .map(|t| {
                let close = 100.0 + (t as f64 * 0.5).sin() * 3.0 + t as f64 * 0.2;
                let bar = Bar {
                    ts: Timestamp(t),
                    open: close,
                    high: close + 1.0,
                    low: close - 1.0,
                    close,
                    volume: 5.0,
                };
                set.update(&bar)
            })
            .collect();
        assert!(snapshots[..33].iter().all(Option::is_none));
        assert!(snapshots[33..].iter().all(Option::is_some));
        let indicators = snapshots[39].unwrap().indicators();
        assert_eq!(indicators.len(), 10);
        assert!(indicators.iter().all(|(_, value)| value.is_finite()));
        assert!(set.atr_pct().is_some());
    }
}
