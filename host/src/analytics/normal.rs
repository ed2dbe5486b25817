//! The standard normal distribution: its CDF Φ and quantile Φ⁻¹, shared by
//! the probabilistic and deflated Sharpe ratios and the p-values behind the
//! recommendations.
//!
//! `Φ(x) = erfc(−x / √2) / 2`, with libm's `erfc` (a port of musl's, good to
//! about one ulp, so the far tails keep their relative precision). `Φ⁻¹` is
//! Acklam's rational approximation (relative error below 1.15e-9) refined by
//! one Halley step on `Φ`, which brings it to about 1e-15.

use std::f64::consts::{PI, SQRT_2};

/// The two-sided 95% quantile of the standard normal distribution.
pub(crate) const Z_95: f64 = 1.959963984540054;

/// `P(Z <= x)` for a standard normal `Z`.
pub(crate) fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / SQRT_2)
}

/// Two-sided p-value of a z statistic: `2 (1 − Φ(|z|))`.
pub(crate) fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / SQRT_2).min(1.0)
}

/// The `p` quantile: `x` with `Φ(x) = p`; −∞ at 0, +∞ at 1, NaN outside [0, 1].
pub(crate) fn quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] =
        [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
    const LOW: f64 = 0.02425;
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Halley step on Φ(x) − p.
    let error = cdf(x) - p;
    let u = error * (2.0 * PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values: Python's statistics.NormalDist (independent code).
    const TABLE: [(f64, f64); 6] = [
        (0.5, 0.0),
        (0.975, 1.9599639845400536),
        (0.99, 2.3263478740408408),
        (0.01, -2.3263478740408408),
        (1e-10, -6.361340902404056),
        (0.02425, -1.9729610513118845),
    ];

    #[test]
    fn quantile_matches_a_reference_table_in_every_region() {
        for (p, x) in TABLE {
            assert!((quantile(p) - x).abs() < 1e-13, "{p}: {} vs {x}", quantile(p));
        }
        assert_eq!((quantile(0.0), quantile(1.0)), (f64::NEG_INFINITY, f64::INFINITY));
        assert!(quantile(1.5).is_nan() && quantile(f64::NAN).is_nan());
    }

    #[test]
    fn cdf_matches_a_reference_table_and_inverts_the_quantile() {
        for (x, p) in [(0.0, 0.5), (-1.0, 0.15865525393145707), (3.0, 0.9986501019683699), (Z_95, 0.975)] {
            assert!((cdf(x) - p).abs() < 1e-15, "{x}");
        }
        assert!((two_sided_p(Z_95) - 0.05).abs() < 1e-15);
        assert!((two_sided_p(-Z_95) - 0.05).abs() < 1e-15);
        for p in [1e-6, 0.1, 0.3, 0.7, 0.95, 0.999_999] {
            assert!((cdf(quantile(p)) - p).abs() < 1e-14 * p.max(1e-2), "{p}");
        }
    }
}
