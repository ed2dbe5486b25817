//! Sample moments shared by the metrics: the mean, the sample standard
//! deviation and the one rule for "zero deviation".
//!
//! A deviation counts as zero when it is no more than [`NOISE`] times the
//! largest magnitude among the values: two +1 % take-profits at different
//! prices give returns that differ only in their last bits, and dividing by
//! that rounding noise would report a Sharpe ratio of 1e13.
//!
//! Values are summed in the order given, so callers that pass trades in exit
//! order (or days in calendar order) get bit-identical results on every run.

/// The arithmetic mean, summed in the given order; `None` for no values.
pub(super) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// Relative size under which a deviation is rounding noise: far above the
/// float resolution (2.2e-16) after the sums of a long series, far below any
/// real spread of returns.
pub(super) const NOISE: f64 = 1e-9;

/// The sample standard deviation (divided by n - 1); `None` under two values
/// and when the deviation is zero.
///
/// Zero deviation means all values are equal up to rounding
/// ([`is_noise`]): the mean of equal values such as `0.1` is not always
/// exactly `0.1`, and returns computed from different prices differ in
/// their last bits, which would leave a deviation of ~1e-16 and a
/// meaningless ratio of ~1e16 downstream.
pub(super) fn sample_std(values: &[f64]) -> Option<f64> {
    if values.len() < 2 || all_equal(values) {
        return None;
    }
    let mean = mean(values)?;
    let squares: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
    let std = (squares / (values.len() - 1) as f64).sqrt();
    (!is_noise(std, values)).then_some(std)
}

/// True when `deviation` (of `values`) is no more than rounding noise at the
/// scale of the values: at most [`NOISE`] times their largest magnitude.
pub(super) fn is_noise(deviation: f64, values: &[f64]) -> bool {
    let scale = values.iter().fold(0.0f64, |largest, value| largest.max(value.abs()));
    deviation <= NOISE * scale
}

/// The population skewness `m3 / m2^1.5` and kurtosis `m4 / m2²` (3 for a
/// normal distribution, not the excess), `mk` being the k-th central moment
/// divided by n, as Bailey and López de Prado use them; `None` under two
/// values or when all values are equal.
pub(super) fn shape(values: &[f64]) -> Option<(f64, f64)> {
    if values.len() < 2 || all_equal(values) {
        return None;
    }
    let mean = mean(values)?;
    let n = values.len() as f64;
    let central = |k: i32| values.iter().map(|value| (value - mean).powi(k)).sum::<f64>() / n;
    let m2 = central(2);
    Some((central(3) / m2.powf(1.5), central(4) / (m2 * m2)))
}

/// True when every value equals the first (and for no values).
pub(super) fn all_equal(values: &[f64]) -> bool {
    values.windows(2).all(|pair| pair[0] == pair[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_nothing_is_undefined() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, 4.5]), Some(2.5));
    }

    #[test]
    fn sample_std_divides_by_n_minus_one() {
        // Squared deviations from 2.5: 2.25 + 0.25 + 0.25 + 2.25 = 5, over 3.
        assert_eq!(sample_std(&[1.0, 2.0, 3.0, 4.0]), Some((5.0f64 / 3.0).sqrt()));
    }

    #[test]
    fn shape_is_the_population_skewness_and_kurtosis() {
        // Deviations from the mean 2: -1, -1, -1, 3. m2 = 12/4 = 3,
        // m3 = (-3 + 27)/4 = 6, m4 = (3 + 81)/4 = 21.
        let (skew, kurtosis) = shape(&[1.0, 1.0, 1.0, 5.0]).unwrap();
        assert!((skew - 6.0 / 3f64.powf(1.5)).abs() < 1e-15, "{skew}");
        assert!((kurtosis - 21.0 / 9.0).abs() < 1e-15, "{kurtosis}");
        assert_eq!(shape(&[2.0, 2.0]), None);
    }

    #[test]
    fn equal_values_have_no_deviation_even_when_their_mean_rounds() {
        assert_eq!(sample_std(&[0.1, 0.1, 0.1]), None);
        assert_eq!(sample_std(&[7.0]), None);
    }

    #[test]
    fn returns_that_differ_only_by_rounding_have_no_deviation() {
        // +1 % take-profits at two prices: (101 - 100) / 100 and
        // (0.707 - 0.7) / 0.7, both 1 % on paper, apart in the last bits.
        let returns = [(101.0 - 100.0) / 100.0 * 100.0, (0.707 - 0.7) / 0.7 * 100.0];
        assert_ne!(returns[0], returns[1], "the case needs unequal floats");
        assert_eq!(sample_std(&returns), None);
        // A real spread of one part in a million still counts.
        assert!(sample_std(&[1.0, 1.000_001]).is_some());
    }
}
