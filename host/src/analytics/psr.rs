//! The probabilistic Sharpe ratio: the probability that a strategy's true
//! Sharpe ratio is above a benchmark, given how long its record is and how
//! skewed and fat-tailed its returns are.
//!
//! Bailey, D. H. and López de Prado, M. (2012), "The Sharpe Ratio Efficient
//! Frontier", Journal of Risk 15(2), 3–44, equation (11):
//!
//! ```text
//! PSR(SR*) = Φ[ (SR − SR*) · √(n − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) ]
//! ```
//!
//! with `SR` the observed Sharpe ratio per observation (mean over the sample
//! deviation, not annualised), `n` the number of observations, `γ₃` their
//! skewness and `γ₄` their kurtosis (3 for normal returns; see
//! `moments::shape`), `Φ` the standard normal CDF. Here the
//! observations are the zero-filled daily P&L of DESIGN section 11, so `SR`
//! is `sharpe_daily / √365`. `PSR(0)` is the probability that the strategy
//! makes money at all; 0.95 is the usual bar.

use serde::Serialize;

use super::moments::{mean, sample_std, shape};
use super::normal;

/// The figures of one return series that the PSR and DSR rest on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SharpeMoments {
    /// Observations (days).
    pub observations: usize,
    /// Mean over sample deviation, per observation (not annualised).
    pub sharpe: f64,
    pub skewness: f64,
    /// Kurtosis, 3 for normal returns.
    pub kurtosis: f64,
}

impl SharpeMoments {
    /// The moments of a series; `None` under two values or when all are equal.
    pub fn of(returns: &[f64]) -> Option<SharpeMoments> {
        let sharpe = mean(returns)? / sample_std(returns)?;
        let (skewness, kurtosis) = shape(returns)?;
        Some(SharpeMoments { observations: returns.len(), sharpe, skewness, kurtosis })
    }
}

/// `PSR(benchmark)`, the benchmark a Sharpe ratio per observation; `None`
/// when the variance term is not positive (degenerate moments).
pub fn probabilistic_sharpe(moments: &SharpeMoments, benchmark: f64) -> Option<f64> {
    let SharpeMoments { observations, sharpe, skewness, kurtosis } = *moments;
    let variance = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe;
    if observations < 2 || variance.is_nan() || variance <= 0.0 {
        return None;
    }
    let z = (sharpe - benchmark) * ((observations - 1) as f64).sqrt() / variance.sqrt();
    Some(normal::cdf(z))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten returns worked by hand (and checked with Python's statistics
    /// module): mean 1.1, sample deviation 2.611938403221298, so SR =
    /// 0.4211431627343786; skewness -0.11456311940462581, kurtosis
    /// 3.4175747222782205.
    const RETURNS: [f64; 10] = [1.0, 2.0, -1.0, 0.5, 3.0, -4.0, 1.5, 2.0, 0.0, 6.0];

    #[test]
    fn moments_of_a_worked_series() {
        let moments = SharpeMoments::of(&RETURNS).unwrap();
        assert_eq!(moments.observations, 10);
        assert!((moments.sharpe - 0.4211431627343786).abs() < 1e-14);
        assert!((moments.skewness - -0.11456311940462581).abs() < 1e-14);
        assert!((moments.kurtosis - 3.4175747222782205).abs() < 1e-13);
        assert_eq!(SharpeMoments::of(&[1.0, 1.0, 1.0]), None);
    }

    #[test]
    fn psr_of_a_skewed_fat_tailed_series_matches_the_hand_computation() {
        let moments = SharpeMoments::of(&RETURNS).unwrap();
        // z = SR·3 / √(1 + 0.1146·SR + 0.6044·SR²) = 1.1752...; Φ(z):
        assert!((probabilistic_sharpe(&moments, 0.0).unwrap() - 0.8800777308845216).abs() < 1e-12);
        assert!((probabilistic_sharpe(&moments, 0.1).unwrap() - 0.8149493937597287).abs() < 1e-12);
    }

    #[test]
    fn psr_at_the_observed_sharpe_is_one_half_and_falls_with_fatter_tails() {
        let normal = SharpeMoments { observations: 100, sharpe: 0.2, skewness: 0.0, kurtosis: 3.0 };
        assert!((probabilistic_sharpe(&normal, 0.2).unwrap() - 0.5).abs() < 1e-15);
        // Normal returns: z = 0.2·√99 / √(1 + 0.02) = 1.97007...
        let expected = normal::cdf(0.2 * 99f64.sqrt() / 1.02f64.sqrt());
        assert!((probabilistic_sharpe(&normal, 0.0).unwrap() - expected).abs() < 1e-15);
        let fat = SharpeMoments { kurtosis: 30.0, skewness: -2.0, ..normal.clone() };
        assert!(probabilistic_sharpe(&fat, 0.0).unwrap() < probabilistic_sharpe(&normal, 0.0).unwrap());
    }
}
