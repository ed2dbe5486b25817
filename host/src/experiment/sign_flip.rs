//! The deploy gate's test: an exact one-sided sign-flip (randomisation) test
//! on paired block differences, for a fixed window of a few blocks.
//!
//! Data enters as the per-block sums `d_b` of `new - old` returns over a
//! window (a validation week, a probation window) and leaves as a
//! [`SignFlip`]: the statistic `S = Σ d_b` and the one-sided p-value for "the
//! new side earns more".
//!
//! # The test
//!
//! Fisher's randomisation test for paired data (R. A. Fisher, *The Design
//! of Experiments*, 1935, section 21, on Darwin's paired plants) in Pitman's
//! form for any distribution (E. J. G. Pitman, "Significance tests which may
//! be applied to samples from any populations", JRSS Supplement 4, 1937).
//! Under the null hypothesis the sign of each block difference is as likely
//! `+` as `-` given its size (the two sides are exchangeable within a block,
//! as when neither knows anything the other does not), so each of the `2^B`
//! sign patterns of `|d_1|, .., |d_B|` is equally likely and
//!
//! ```text
//! p = #{ s in {-1, +1}^B : Σ s_b |d_b| >= Σ d_b } / 2^B
//! ```
//!
//! is exact: `P(p <= alpha) <= alpha` for every sample size, with no
//! normality and no independence *inside* a block, which is why it is fed
//! block sums. Blocks with `d_b = 0` do not change `p` (flipping them moves
//! nothing) and are left out of the count `B`. The smallest possible `p` is
//! `2^-B`: a week of day blocks (`B <= 7`) can reach `1/128`, and fewer than
//! 5 nonzero blocks can never pass `alpha = 0.05`: no deploy on so little.
//!
//! Up to 20 blocks the `2^B` patterns are enumerated; beyond, `2^16` random
//! patterns from a fixed seed are drawn and `p = (1 + #extreme) / (1 + 2^16)`,
//! which is still a valid p-value (Phipson & Smyth, "Permutation p-values
//! should never be zero", Stat. Appl. Genet. Mol. Biol., 2010).

use serde::Serialize;

use super::study::Rng;

/// Most blocks whose sign patterns are all enumerated.
const EXACT_BLOCKS: usize = 20;
/// Random sign patterns drawn beyond [`EXACT_BLOCKS`].
const DRAWS: u64 = 1 << 16;

/// The result of a one-sided sign-flip test.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SignFlip {
    /// Blocks with a nonzero difference.
    pub blocks: usize,
    /// `Σ d_b`, the summed difference (percent when the returns are).
    pub statistic: f64,
    /// The chance, with signs flipped at random, of a sum at least as large.
    pub p_value: f64,
}

impl SignFlip {
    /// Whether the new side is better at level `alpha`.
    pub fn passes(&self, alpha: f64) -> bool {
        self.p_value <= alpha
    }
}

/// Tests "the new side earns more" on the block differences `new - old`.
/// Non-finite differences are left out (they would make every sum NaN).
pub fn sign_flip_greater(differences: &[f64]) -> SignFlip {
    let sizes: Vec<f64> = differences.iter().copied().filter(|d| d.is_finite() && *d != 0.0).collect();
    let statistic: f64 = sizes.iter().sum();
    let sizes_abs: Vec<f64> = sizes.iter().map(|d| d.abs()).collect();
    // Patterns whose sum equals the observed one in exact arithmetic can
    // differ from it by rounding: count them as extreme (conservative).
    let scale: f64 = sizes_abs.iter().sum();
    let line = statistic - 1e-12 * scale.max(f64::MIN_POSITIVE);
    let sum_of = |signs: &mut dyn FnMut(usize) -> bool| -> f64 {
        sizes_abs.iter().enumerate().map(|(b, size)| if signs(b) { *size } else { -size }).sum()
    };
    let blocks = sizes.len();
    let p_value = if blocks <= EXACT_BLOCKS {
        let patterns = 1u64 << blocks;
        let extreme = (0..patterns).filter(|mask| sum_of(&mut |b| mask >> b & 1 == 1) >= line).count();
        extreme as f64 / patterns as f64
    } else {
        let mut rng = Rng::for_stream(0x5167_4E5F, blocks);
        let extreme = (0..DRAWS).filter(|_| sum_of(&mut |_| rng.chance(0.5)) >= line).count();
        (1 + extreme) as f64 / (1 + DRAWS) as f64
    };
    SignFlip { blocks, statistic, p_value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_match_a_hand_enumeration() {
        // d = (3, -1, 2): the 8 sums of ±3 ±1 ±2 are 6, 4, 2, 0, 0, -2, -4,
        // -6; the observed 4 is reached by 6 and 4: p = 2/8.
        let test = sign_flip_greater(&[3.0, -1.0, 2.0]);
        assert_eq!((test.blocks, test.statistic, test.p_value), (3, 4.0, 0.25));
        // All five positive: only the observed pattern, p = 1/32.
        assert_eq!(sign_flip_greater(&[1.0, 0.5, 2.0, 0.1, 3.0]).p_value, 1.0 / 32.0);
        // Zeros change nothing; all negative: every pattern is as large.
        assert_eq!(sign_flip_greater(&[-1.0, 0.0, -2.0]).p_value, 1.0);
        // Equal sizes (1, 1, -1, 1): sums ≥ 2 are the 5 patterns with at
        // most one minus: p = 5/16, ties counted.
        assert_eq!(sign_flip_greater(&[1.0, 1.0, -1.0, 1.0]).p_value, 5.0 / 16.0);
        assert_eq!(sign_flip_greater(&[]).p_value, 1.0);
    }

    #[test]
    fn zero_and_non_finite_differences_are_left_out() {
        let test = sign_flip_greater(&[3.0, 0.0, f64::NAN, -1.0, f64::INFINITY, 2.0, f64::NEG_INFINITY]);
        assert_eq!((test.blocks, test.statistic, test.p_value), (3, 4.0, 0.25));
    }

    #[test]
    fn sums_within_rounding_of_the_observed_one_count_as_ties() {
        // d = (1000, -(1000 - 1e-10)): the observed sum is about 1e-10; the
        // pattern (-, +) sums to about -1e-10, 2e-10 below it, which is
        // 1e-13 of the total size 2000: within the 1e-12 of rounding, so
        // it counts as a tie (conservative): 3 of 4 patterns.
        assert_eq!(sign_flip_greater(&[1000.0, -(1000.0 - 1e-10)]).p_value, 0.75);
        // Twice as far apart relative to the sizes (2e-9 of 1): not a tie.
        assert_eq!(sign_flip_greater(&[1.0, -(1.0 - 1e-9)]).p_value, 0.5);
    }

    #[test]
    fn a_sampled_p_value_counts_the_observed_pattern_and_is_never_zero() {
        // 40 equal positive blocks: only the all-plus pattern reaches the
        // sum, which 65,536 random draws hit with chance 6e-8; the p-value
        // is (1 + 0) / (1 + 65,536) (Phipson & Smyth 2010: a Monte Carlo
        // p-value counts the observed statistic among the draws).
        let test = sign_flip_greater(&[1.0; 40]);
        assert_eq!(test.p_value, 1.0 / 65_537.0);
    }

    #[test]
    fn four_blocks_can_never_pass_five_percent() {
        let test = sign_flip_greater(&[5.0, 4.0, 3.0, 2.0]);
        assert_eq!(test.p_value, 1.0 / 16.0);
        assert!(!test.passes(0.05));
        assert!(sign_flip_greater(&[5.0, 4.0, 3.0, 2.0, 1.0]).passes(0.05));
    }

    #[test]
    fn many_blocks_are_sampled_and_still_decide() {
        let strong: Vec<f64> = (0..40).map(|i| 1.0 + f64::from(i % 3)).collect();
        assert!(sign_flip_greater(&strong).p_value < 1e-4);
        let null: Vec<f64> = (0..40).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let p = sign_flip_greater(&null).p_value;
        assert!(p > 0.4 && p < 0.7, "{p}");
    }

    #[test]
    fn under_the_null_it_passes_at_most_alpha_of_the_time() {
        // Clustered null data: a week of day blocks, each the sum of a day's
        // correlated returns times a coin for which side took the day.
        let mut rng = Rng::for_stream(77, 0);
        let runs = 20_000;
        let (mut passed, mut raw) = (0, 0);
        for _ in 0..runs {
            let days: Vec<f64> = (0..7)
                .map(|_| {
                    let level = rng.normal();
                    let day: f64 = (0..12).map(|_| level + 0.5 * rng.normal()).sum();
                    if rng.chance(0.5) { day } else { -day }
                })
                .collect();
            passed += usize::from(sign_flip_greater(&days).passes(0.05));
            raw += usize::from(days.iter().sum::<f64>() > 0.0);
        }
        // Exact: P(p <= 0.05) = P(p <= 6/128) = 6/128 = 0.047 with 7 blocks
        // (s.e. 0.0015 at 20,000 runs); the raw comparison passes half.
        let rate = passed as f64 / runs as f64;
        assert!(rate <= 0.05, "{rate}");
        let raw = raw as f64 / runs as f64;
        assert!(raw > 0.45, "{raw}");
    }
}
