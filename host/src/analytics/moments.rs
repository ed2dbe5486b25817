//! Sample moments shared by the metrics: the mean, the sample standard
//! deviation and the one rule for "zero deviation".
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

/// The sample standard deviation (divided by n - 1); `None` under two values
/// and when the deviation is zero.
///
/// Zero deviation means all values are equal. It is decided by comparing the
/// values rather than testing the computed deviation against 0: the mean of
/// equal values such as `0.1` is not always exactly `0.1`, which would leave a
/// deviation of ~1e-17 and a meaningless ratio of ~1e16 downstream.
pub(super) fn sample_std(values: &[f64]) -> Option<f64> {
    if values.len() < 2 || all_equal(values) {
        return None;
    }
    let mean = mean(values)?;
    let squares: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
    Some((squares / (values.len() - 1) as f64).sqrt())
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
}
