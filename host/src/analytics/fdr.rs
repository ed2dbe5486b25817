//! Benjamini–Hochberg adjusted p-values (q-values), so that a list of
//! recommendations drawn from many indicators or heads keeps its expected
//! share of false discoveries at the level asked for.
//!
//! Benjamini, Y. and Hochberg, Y. (1995), "Controlling the False Discovery
//! Rate: A Practical and Powerful Approach to Multiple Testing", JRSS B
//! 57(1), 289–300. With the m p-values sorted, `p₍₁₎ ≤ … ≤ p₍ₘ₎`,
//!
//! ```text
//! q₍ᵢ₎ = min over j ≥ i of min(1, m · p₍ⱼ₎ / j)
//! ```
//!
//! and rejecting every hypothesis with `q ≤ α` is the step-up procedure at
//! false discovery rate α.

/// The q-value of each p-value, in the order given.
pub(super) fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &index) in order.iter().enumerate().rev() {
        running = running.min(m as f64 * p_values[index] / (rank + 1) as f64).min(1.0);
        q[index] = running;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_by_hand() {
        // Sorted 0.005, 0.01, 0.03, 0.04: 4p/i = 0.02, 0.02, 0.04, 0.04,
        // already non-decreasing.
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        let expected = [0.02, 0.04, 0.04, 0.02];
        assert!(q.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-15), "{q:?}");
        // Sorted 0.01, 0.02, 0.5: 3p/i = 0.03, 0.03, 0.5; one more at 0.9:
        // 4p/i = 0.04, 0.04, 0.667, 0.9.
        let q = benjamini_hochberg(&[0.5, 0.02, 0.9, 0.01]);
        let expected = [2.0 / 3.0, 0.04, 0.9, 0.04];
        assert!(q.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-15), "{q:?}");
    }

    #[test]
    fn a_step_up_keeps_a_larger_p_value_when_a_later_one_passes() {
        // 2·0.03/1 = 0.06 alone, but 2·0.04/2 = 0.04 caps it: both 0.04.
        assert_eq!(benjamini_hochberg(&[0.03, 0.04]), [0.04, 0.04]);
        assert_eq!(benjamini_hochberg(&[]), Vec::<f64>::new());
        assert_eq!(benjamini_hochberg(&[0.7]), [0.7]);
    }
}
