//! Per-indicator information coefficient: does a higher indicator value, read
//! in the signal's direction, come with a higher return?
//!
//! The IC is Spearman's rank correlation between `value * side.sign()` and the
//! return, over the trades whose signal carries the indicator. Multiplying by
//! the side's sign makes "high RSI on a short" count like "low RSI on a long".
//! Ties take the average of the ranks they span and the IC is Pearson's
//! correlation of the ranks, which is exact with ties (the textbook
//! `1 - 6Σd²/(n(n²-1))` is not).
//!
//! The 95% interval uses Fisher's z transform with the Bonett–Wright (2000)
//! standard error for Spearman, `se = sqrt(1 + ic²/2) / sqrt(n - 3)`: wider than
//! Pearson's `1 / sqrt(n - 3)`, because rank correlations vary more. That
//! error assumes independent trades; it is multiplied by `√deff`, the design
//! effect of clustering in time ([`super::hac`]) of the correlation's
//! influence values `ψᵢ = zxᵢ·zyᵢ − ic/2·(zxᵢ² + zyᵢ²)` (`z` the standardised
//! ranks). The p-value of "no correlation" is `2(1 − Φ(|atanh(ic)| / se))`.

use std::collections::BTreeMap;

use serde::Serialize;

use siglearn_plugin_api::Timestamp;

use super::hac::design_effect;
use super::moments::{all_equal, mean};
use super::normal::{Z_95, two_sided_p};
use crate::trade::Trade;

/// The information coefficient of one indicator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndicatorStats {
    /// Trades whose signal carries the indicator.
    pub n: usize,
    /// Spearman rank correlation in `[-1, 1]`; `None` under 3 trades or when
    /// the indicator or the returns do not vary.
    pub ic: Option<f64>,
    /// Lower end of the 95% interval; `None` under 4 trades or when `|ic| = 1`.
    pub ci_low: Option<f64>,
    /// Upper end of the 95% interval.
    pub ci_high: Option<f64>,
    /// How much clustering in time widened the variance (at least 1).
    pub design_effect: Option<f64>,
    /// Two-sided p-value of "IC = 0" with that widened error.
    pub p_value: Option<f64>,
}

impl IndicatorStats {
    fn of(entries: &[Timestamp], aligned_values: &[f64], returns: &[f64]) -> IndicatorStats {
        let n = aligned_values.len();
        let ic = spearman(aligned_values, returns);
        let deff = ic.filter(|_| n >= 4).map(|ic| {
            let influence = rank_influence(aligned_values, returns, ic);
            design_effect(entries.iter().copied().zip(influence).collect())
        });
        let se = ic.zip(deff).and_then(|(ic, deff)| fisher_se(ic, n).map(|se| se * deff.sqrt()));
        let interval = ic.zip(se).map(|(ic, se)| {
            let z = ic.atanh();
            ((z - Z_95 * se).tanh(), (z + Z_95 * se).tanh())
        });
        IndicatorStats {
            n,
            ic,
            ci_low: interval.map(|(low, _)| low),
            ci_high: interval.map(|(_, high)| high),
            design_effect: deff,
            p_value: ic.zip(se).map(|(ic, se)| two_sided_p(ic.atanh() / se)),
        }
    }
}

/// The IC of every indicator carried by any of the trades, given in exit order.
pub(super) fn by_indicator(trades: &[&Trade]) -> BTreeMap<String, IndicatorStats> {
    // Per indicator: signal entry times, aligned values, returns.
    type Columns = (Vec<Timestamp>, Vec<f64>, Vec<f64>);
    let mut pairs: BTreeMap<&str, Columns> = BTreeMap::new();
    for trade in trades {
        for (name, value) in &trade.signal.indicators {
            let (entries, values, returns) = pairs.entry(name).or_default();
            entries.push(trade.signal.entry_ts);
            values.push(value * trade.signal.side.sign());
            returns.push(trade.outcome.pnl_pct);
        }
    }
    pairs
        .into_iter()
        .map(|(name, (entries, values, returns))| {
            (name.to_owned(), IndicatorStats::of(&entries, &values, &returns))
        })
        .collect()
}

/// Spearman's rank correlation; `None` under 3 pairs or when either side is
/// constant.
fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 3 || x.len() != y.len() || all_equal(x) || all_equal(y) {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

/// 1-based ranks, tied values sharing the mean of the ranks they span.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    // `+ 0.0` turns -0.0 into 0.0, so a zero indicator on a short ties with a
    // zero on a long (total_cmp would order them).
    let values: Vec<f64> = values.iter().map(|value| value + 0.0).collect();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = rank;
        }
        start = end;
    }
    ranks
}

/// Pearson's correlation, clamped to [-1, 1] against rounding; `None` when
/// either side has zero variance.
fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let (mean_x, mean_y) = (mean(x)?, mean(y)?);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mean_x, b - mean_y);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// The Bonett–Wright standard error of `atanh(ic)` over `n` independent
/// pairs; `None` under 4 pairs or when `|ic| = 1`.
fn fisher_se(ic: f64, n: usize) -> Option<f64> {
    if n < 4 || ic.abs() >= 1.0 {
        return None;
    }
    Some((1.0 + ic * ic / 2.0).sqrt() / ((n - 3) as f64).sqrt())
}

/// The influence of each pair on Pearson's correlation `r` of the ranks:
/// `zx·zy − r/2·(zx² + zy²)`, the ranks standardised with the population
/// deviation.
fn rank_influence(x: &[f64], y: &[f64], r: f64) -> Vec<f64> {
    let standardise = |ranks: Vec<f64>| {
        let mean = mean(&ranks).unwrap_or(0.0);
        let sd = (ranks.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / ranks.len() as f64).sqrt();
        ranks.into_iter().map(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 }).collect::<Vec<_>>()
    };
    let (zx, zy) = (standardise(average_ranks(x)), standardise(average_ranks(y)));
    zx.iter().zip(&zy).map(|(a, b)| a * b - r / 2.0 * (a * a + b * b)).collect()
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::Side;

    use super::*;
    use crate::analytics::fixtures::{refs, trade, with_signal};

    /// Trades exiting in the given order, each carrying indicator `x`.
    fn with_indicator(side: Side, pairs: &[(f64, f64)]) -> Vec<Trade> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, &(x, r))| {
                with_signal(trade(&format!("t{i}"), side, 0, 1_000 * (i as i64 + 1), r), |signal| {
                    signal.indicators.insert("x", x);
                })
            })
            .collect()
    }

    #[test]
    fn tied_values_share_the_mean_of_their_ranks() {
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
        assert_eq!(average_ranks(&[0.0, -0.0, 5.0]), [1.5, 1.5, 3.0]);
    }

    #[test]
    fn spearman_with_ties_matches_the_hand_computed_value() {
        // x ranks 1, 2.5, 2.5, 4, 5; r ranks 1, 3, 2, 5, 4; both means 3.
        // Σdxdy = 4 + 0 + 0.5 + 2 + 2 = 8.5, Σdx² = 9.5, Σdy² = 10.
        let pairs = [(1.0, 1.0), (2.0, 3.0), (2.0, 2.0), (3.0, 5.0), (4.0, 4.0)];
        let stats = &by_indicator(&refs(&with_indicator(Side::Long, &pairs)))["x"];
        assert_eq!(stats.n, 5);
        let ic = stats.ic.unwrap();
        assert!((ic - 8.5 / 95f64.sqrt()).abs() < 1e-12, "{ic}");
        assert!((ic - 0.872_081_599_272_381).abs() < 1e-12, "{ic}");
        // se = sqrt(1 + ic²/2) / sqrt(2).
        assert!((stats.ci_low.unwrap() - -0.278_925_684_184_159_4).abs() < 1e-12);
        assert!((stats.ci_high.unwrap() - 0.994_749_030_774_144_9).abs() < 1e-12);
    }

    #[test]
    fn ic_flips_sign_for_short_signals() {
        let pairs = [(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 4.0)];
        let long = by_indicator(&refs(&with_indicator(Side::Long, &pairs)))["x"].ic.unwrap();
        let short = by_indicator(&refs(&with_indicator(Side::Short, &pairs)))["x"].ic.unwrap();
        assert!((long - 0.8).abs() < 1e-12, "{long}");
        assert!((short + 0.8).abs() < 1e-12, "{short}");
    }

    #[test]
    fn ic_needs_three_varying_pairs_and_the_interval_four() {
        let ic = |pairs: &[(f64, f64)]| by_indicator(&refs(&with_indicator(Side::Long, pairs)))["x"].clone();
        assert_eq!(ic(&[(1.0, 1.0), (2.0, 2.0)]).ic, None);
        assert_eq!(ic(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]).ic, None);
        assert_eq!(ic(&[(1.0, 2.0), (2.0, 2.0), (3.0, 2.0)]).ic, None);
        let three = ic(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0)]);
        assert_eq!((three.ic, three.ci_low, three.ci_high), (Some(0.5), None, None));
        let perfect = ic(&[(1.0, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 4.0)]);
        assert_eq!((perfect.ic, perfect.ci_low), (Some(1.0), None));
    }
}
