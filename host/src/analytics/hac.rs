//! How much clustering in time widens an interval: the design effect of a
//! statistic whose trades are not independent.
//!
//! Outcomes of signals close in time move together (one market move decides
//! many signals), so an interval computed as if trades were independent is
//! too narrow. Each statistic passes its influence values `ψᵢ` (zero mean;
//! `Var(θ̂) ≈ Σψᵢ² / n²` for independent trades) with the entry time of each
//! trade's signal, and gets back
//!
//! ```text
//! deff = max(1, max(NW_trades, NW_days, Σ_days U²) / Σψᵢ²)
//! NW(u, L) = Σₜ uₜ² + 2 Σ_{l=1..L} (1 − l/(L+1)) Σₜ uₜ uₜ₋ₗ
//! ```
//!
//! the Newey–West (1987) long-run variance with Bartlett weights ("A Simple,
//! Positive Semi-definite, Heteroskedasticity and Autocorrelation Consistent
//! Covariance Matrix", Econometrica 55(3), 703–708), taken two ways: over the
//! trades in the time order of their signals (`u = ψ`, bandwidth
//! `L = ⌈n^(1/3)⌉` trades), and over the UTC days (`u` = the day's sum of `ψ`,
//! every calendar day from the first to the last, bandwidth `⌈D^(1/3)⌉` days:
//! Driscoll and Kraay's 1998 day-clustered form, which absorbs any
//! dependence inside a day), the day sums also without their lag terms
//! (plain clustering by day: over a few dozen days the sample
//! autocovariances are noisy enough to cancel most of the clustering). The
//! largest of the three wins, and the interval is never narrower than the
//! independent one: its standard error is multiplied by `√deff`.

use siglearn_plugin_api::Timestamp;

/// The design effect of influence values `(signal entry time, ψ)` given in
/// any order (ties keep their order).
pub(super) fn design_effect(mut points: Vec<(Timestamp, f64)>) -> f64 {
    points.sort_by_key(|(at, _)| *at);
    let independent: f64 = points.iter().map(|(_, psi)| psi * psi).sum();
    if points.len() < 2 || independent <= 0.0 {
        return 1.0;
    }
    let by_trade: Vec<f64> = points.iter().map(|(_, psi)| *psi).collect();
    // Days within the accepted range only, so the series stays bounded
    // whatever a store holds; a trade stamped outside it counts by trade.
    let accepted = crate::timestamp::accepted_days();
    let days = || points.iter().map(|(at, _)| at.utc_day()).filter(|day| accepted.contains(day));
    let (first, last) = (days().min().unwrap_or(0), days().max().unwrap_or(0));
    let span = usize::try_from(last - first + 1).unwrap_or(1);
    let mut by_day = vec![0.0; span];
    for (at, psi) in &points {
        if let Some(sum) = usize::try_from(at.utc_day() - first).ok().and_then(|d| by_day.get_mut(d)) {
            *sum += psi;
        }
    }
    let long_run = newey_west(&by_trade, bandwidth(by_trade.len()))
        .max(newey_west(&by_day, bandwidth(span)))
        .max(newey_west(&by_day, 0));
    (long_run / independent).max(1.0)
}

/// `⌈n^(1/3)⌉`.
fn bandwidth(n: usize) -> usize {
    (n as f64).cbrt().ceil() as usize
}

/// The Bartlett-weighted sum of autocovariances (not divided by n).
fn newey_west(u: &[f64], lags: usize) -> f64 {
    let mut total: f64 = u.iter().map(|x| x * x).sum();
    for lag in 1..=lags.min(u.len().saturating_sub(1)) {
        let weight = 1.0 - lag as f64 / (lags as f64 + 1.0);
        let products: f64 = u[lag..].iter().zip(u).map(|(a, b)| a * b).sum();
        total += 2.0 * weight * products;
    }
    total
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::MILLIS_PER_DAY;

    use super::*;

    const HOUR: i64 = MILLIS_PER_DAY / 24;

    #[test]
    fn a_stamp_outside_the_accepted_range_adds_no_days() {
        // Two trades a day apart, one stamped in nanoseconds (year 56 million
        // read as milliseconds): the day series spans the two good days
        // only. By hand: by trade ψ = 1, 1, -2: Σψ² = 6; lag 1 (L = 2,
        // weight 2/3): 1 - 2 = -1; lag 2 (weight 1/3): -2. NW = 6 - 4/3 -
        // 4/3 = 10/3. Days: 1, 1 → lag 0: 2, lag 1 (L = 2, weight 2/3): +1 →
        // 2 + 4/3 = 10/3. deff = max(1, 10/3 / 6) = 1.
        let nanos = Timestamp(1_714_557_600_000_000_000);
        let points = vec![(Timestamp(0), 1.0), (Timestamp(MILLIS_PER_DAY), 1.0), (nanos, -2.0)];
        assert_eq!(design_effect(points), 1.0);
        let points = vec![(Timestamp(i64::MIN), 1.0), (Timestamp(0), 1.0), (nanos, 1.0)];
        // All three by trade: Σψ² = 3, lag 1 (weight 2/3): 2, lag 2 (weight 1/3): 1
        // → 3 + 8/3 + 2/3 = 19/3 → deff 19/9.
        assert!((design_effect(points) - 19.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn newey_west_by_hand() {
        // Σu² = 4; lag 1: -3 at weight 2/3; lag 2: +2 at weight 1/3.
        assert!((newey_west(&[1.0, -1.0, 1.0, -1.0], 2) - 4.0 / 3.0).abs() < 1e-15);
        assert_eq!(newey_west(&[2.0], 3), 4.0);
        assert_eq!(bandwidth(8), 2);
        assert_eq!(bandwidth(9), 3);
    }

    #[test]
    fn alternating_influence_is_never_narrower_than_independent() {
        let points = (0..6).map(|i| (Timestamp(i * MILLIS_PER_DAY), if i % 2 == 0 { 1.0 } else { -1.0 }));
        assert_eq!(design_effect(points.collect()), 1.0);
    }

    #[test]
    fn trades_that_move_together_within_a_day_count_as_one() {
        // Three days of 27 trades, half an hour apart: ψ = +1 all day 1, -1
        // all day 2, 0 on day 3; Σψ² = 54. By day: sums 27, -27, 0; without
        // lags 729 + 729 = 1458: deff = 27, each day counting as one trade.
        // With L = ⌈3^(1/3)⌉ = 2 lags, 1458 + 2·(2/3)·(-729) = 486 (9); by
        // trade (L = 5) only 289 (5.35).
        let psi = [1.0, -1.0, 0.0];
        let points: Vec<(Timestamp, f64)> = (0..81)
            .map(|i| (Timestamp((i / 27) * MILLIS_PER_DAY + (i % 27) * HOUR / 2), psi[(i / 27) as usize]))
            .collect();
        let by_trade = newey_west(&points.iter().map(|p| p.1).collect::<Vec<_>>(), 5);
        assert!((by_trade - 289.0).abs() < 1e-9, "{by_trade}");
        let by_day = [27.0, -27.0, 0.0];
        assert!((newey_west(&by_day, 2) - 486.0).abs() < 1e-9);
        assert!((design_effect(points) - 27.0).abs() < 1e-12);
    }
}
