//! Wilder's directional movement system: ADX, +DI and −DI.

use siglearn_plugin_api::Bar;

use super::atr::true_range;
use super::wilder::WilderAverage;

/// One directional-movement reading, all in [0, 100].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdxValue {
    /// Average directional index: trend strength, whatever its direction.
    pub adx: f64,
    pub plus_di: f64,
    pub minus_di: f64,
}

/// ADX, +DI and −DI over `period` bars (14 by default), as Wilder defined them.
///
/// From the second bar on: `+DM = high − previous high` and
/// `−DM = previous low − low`, each kept only when positive and larger than
/// the other (else 0), and the true range. Seeding: +DM, −DM and TR are
/// Wilder-smoothed (first value = mean of the first `period`, see the ATR);
/// `±DI = 100 · smoothed ±DM / smoothed TR`,
/// `DX = 100 · |+DI − −DI| / (+DI + −DI)` (0 when both are 0). ADX seeds
/// with the mean of the first `period` DX values and is Wilder-smoothed after,
/// so the first reading comes on bar `2 · period` (28 for 14).
#[derive(Clone, Debug)]
pub struct Adx {
    previous: Option<Bar>,
    plus_dm: WilderAverage,
    minus_dm: WilderAverage,
    range: WilderAverage,
    adx: WilderAverage,
}

impl Adx {
    /// Directional movement over `period` bars.
    pub fn new(period: usize) -> Self {
        Self {
            previous: None,
            plus_dm: WilderAverage::new(period),
            minus_dm: WilderAverage::new(period),
            range: WilderAverage::new(period),
            adx: WilderAverage::new(period),
        }
    }

    /// Feeds one bar; returns ADX and ±DI once the ADX is seeded.
    pub fn update(&mut self, bar: &Bar) -> Option<AdxValue> {
        let previous = self.previous.replace(*bar)?;
        let up = bar.high - previous.high;
        let down = previous.low - bar.low;
        let plus_dm = if up > down && up > 0.0 { up } else { 0.0 };
        let minus_dm = if down > up && down > 0.0 { down } else { 0.0 };
        let plus_dm = self.plus_dm.push(plus_dm);
        let minus_dm = self.minus_dm.push(minus_dm);
        let range = self.range.push(true_range(bar, previous.close));
        let (plus_dm, minus_dm, range) = (plus_dm?, minus_dm?, range?);
        let (plus_di, minus_di) =
            if range > 0.0 { (100.0 * plus_dm / range, 100.0 * minus_dm / range) } else { (0.0, 0.0) };
        let sum = plus_di + minus_di;
        let dx = if sum > 0.0 { 100.0 * (plus_di - minus_di).abs() / sum } else { 0.0 };
        let adx = self.adx.push(dx)?;
        Some(AdxValue { adx, plus_di, minus_di })
    }
}

impl Default for Adx {
    /// ADX(14).
    fn default() -> Self {
        Self::new(14)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::indicators::test_bars::hlc;

    #[test]
    fn a_clean_uptrend_reads_adx_100_from_bar_28() {
        // Each bar one higher, range 2: +DM 1, −DM 0, TR 2 → +DI 50, −DI 0, DX 100.
        let mut adx = Adx::default();
        let out: Vec<_> =
            (0..30).map(|i| adx.update(&hlc(i as f64 + 2.0, i as f64, i as f64 + 1.0))).collect();
        assert!(out[..27].iter().all(Option::is_none));
        assert_eq!(out[27], Some(AdxValue { adx: 100.0, plus_di: 50.0, minus_di: 0.0 }));
    }

    #[test]
    fn small_period_by_hand() {
        let bars = [
            hlc(10.0, 8.0, 9.0),
            hlc(11.0, 9.0, 10.0),  // +DM 1, −DM 0, TR 2
            hlc(10.5, 7.0, 8.0),   // +DM 0, −DM 2, TR 3.5
            hlc(12.0, 8.0, 11.0),  // +DM 1.5, −DM 0, TR 4
            hlc(11.0, 10.0, 10.5), // +DM 0, −DM 0, TR 1
        ];
        let mut adx = Adx::new(2);
        let out: Vec<_> = bars.iter().map(|bar| adx.update(bar)).collect();
        assert_eq!(out[..3], [None, None, None]);
        // bar 2: +DM 0.5, −DM 1, TR 2.75 → +DI 200/11, −DI 400/11, DX 100/3
        // bar 3: +DM 1, −DM 0.5, TR 3.375 → +DI 800/27, −DI 400/27, DX 100/3; ADX 100/3
        let third = out[3].unwrap();
        assert!((third.plus_di - 800.0 / 27.0).abs() < 1e-9);
        assert!((third.minus_di - 400.0 / 27.0).abs() < 1e-9);
        assert!((third.adx - 100.0 / 3.0).abs() < 1e-9);
        // bar 4: +DM 0.5, −DM 0.25, TR 2.1875 → DX 100/3 again; ADX stays 100/3
        let fourth = out[4].unwrap();
        assert!((fourth.plus_di - 50.0 / 2.1875).abs() < 1e-9);
        assert!((fourth.adx - 100.0 / 3.0).abs() < 1e-9);
    }
}
