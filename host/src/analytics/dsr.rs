//! The deflated Sharpe ratio: the probabilistic Sharpe ratio against the
//! Sharpe ratio the best of N worthless trials would show by luck.
//!
//! Bailey, D. H. and López de Prado, M. (2014), "The Deflated Sharpe Ratio:
//! Correcting for Selection Bias, Backtest Overfitting and Non-Normality",
//! Journal of Portfolio Management 40(5), 94–107, equations (1)–(2):
//!
//! ```text
//! SR₀ = √V · [ (1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)) ]
//! DSR = PSR(SR₀)
//! ```
//!
//! `N` is the number of independent trials (strategies, versions and
//! parameter sets evaluated before picking this one), `V` the variance of
//! the trials' Sharpe ratios, `γ` the Euler–Mascheroni constant and `PSR` the
//! probabilistic Sharpe ratio of [`super::psr`], all per observation. `SR₀`
//! is the expected maximum Sharpe ratio of `N` trials whose true Sharpe ratio
//! is 0. With one trial there is no selection: `SR₀ = 0` and DSR = PSR(0).
//! A DSR below 0.95 means the best Sharpe ratio is consistent with selection
//! luck given `N` trials.

use super::normal;
use super::psr::{SharpeMoments, probabilistic_sharpe};

/// The Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `SR₀`, the expected maximum Sharpe ratio of `trials` zero-skill trials whose
/// Sharpe ratios have variance `variance`; `None` for no trials or a negative
/// or non-finite variance.
pub fn expected_max_sharpe(trials: usize, variance: f64) -> Option<f64> {
    if trials == 0 || variance.is_nan() || variance < 0.0 || variance.is_infinite() {
        return None;
    }
    if trials == 1 {
        return Some(0.0);
    }
    let n = trials as f64;
    let spread = (1.0 - EULER_GAMMA) * normal::quantile(1.0 - 1.0 / n)
        + EULER_GAMMA * normal::quantile(1.0 - 1.0 / (n * std::f64::consts::E));
    Some(variance.sqrt() * spread)
}

/// `DSR = PSR(SR₀)` of the selected strategy's moments.
pub fn deflated_sharpe(moments: &SharpeMoments, trials: usize, variance: f64) -> Option<f64> {
    probabilistic_sharpe(moments, expected_max_sharpe(trials, variance)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's numerical example: five years of daily returns (T = 1250,
    /// 250 a year), an annualised SR of 2.5, skewness -3, kurtosis 10, picked
    /// from N = 100 trials whose annualised Sharpe ratios have variance 1/2.
    /// The paper reports SR₀ ≈ 0.1132 per day (1.7894 a year) and DSR ≈ 0.9004.
    #[test]
    fn the_papers_numerical_example() {
        let per_year = 250f64.sqrt();
        let sr0 = expected_max_sharpe(100, 0.5 / 250.0).unwrap();
        assert!((sr0 - 0.1132).abs() < 5e-5, "{sr0}");
        assert!((sr0 * per_year - 1.7894).abs() < 5e-4, "{}", sr0 * per_year);
        let moments =
            SharpeMoments { observations: 1250, sharpe: 2.5 / per_year, skewness: -3.0, kurtosis: 10.0 };
        let dsr = deflated_sharpe(&moments, 100, 0.5 / 250.0).unwrap();
        assert!((dsr - 0.9004).abs() < 5e-5, "{dsr}");
    }

    #[test]
    fn one_trial_is_no_selection_and_more_trials_deflate_more() {
        let moments = SharpeMoments { observations: 365, sharpe: 0.1, skewness: 0.0, kurtosis: 3.0 };
        assert_eq!(expected_max_sharpe(1, 0.04), Some(0.0));
        assert_eq!(deflated_sharpe(&moments, 1, 0.04), probabilistic_sharpe(&moments, 0.0));
        let dsr = |trials| deflated_sharpe(&moments, trials, 0.01).unwrap();
        assert!(dsr(2) > dsr(10) && dsr(10) > dsr(1_000), "{} {} {}", dsr(2), dsr(10), dsr(1_000));
        // Two trials: Φ⁻¹(1/2) = 0 and Φ⁻¹(1 − 1/(2e)) = 0.9004...: SR₀ = γ·0.9004·√V.
        let two = expected_max_sharpe(2, 1.0).unwrap();
        assert!((two - EULER_GAMMA * normal::quantile(1.0 - 0.5 / std::f64::consts::E)).abs() < 1e-15);
        assert_eq!(expected_max_sharpe(0, 1.0), None);
        assert_eq!(expected_max_sharpe(5, -1.0), None);
    }
}
