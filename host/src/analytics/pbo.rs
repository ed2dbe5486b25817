//! The probability of backtest overfitting (PBO) of picking the best of
//! several strategies, by combinatorially symmetric cross-validation (CSCV).
//!
//! Bailey, D. H., Borwein, J. M., López de Prado, M. and Zhu, Q. J. (2017),
//! "The Probability of Backtest Overfitting", Journal of Computational
//! Finance 20(4), 39–69 (working paper 2015), section 2:
//!
//! 1. The trial matrix `M` has one column per strategy (N ≥ 2) and one row
//!    per block of time (T rows: here the UTC days, zero-filled P&L).
//! 2. Split the rows, in time order, into `S` (even) contiguous blocks whose
//!    sizes differ by at most one row.
//! 3. For each of the `C(S, S/2)` ways to pick half of the blocks as the
//!    in-sample set `J` (its complement `J̄` out of sample), compute every
//!    column's Sharpe ratio on `J` and on `J̄`, select `n*`, the best column
//!    in sample, and find its relative rank out of sample,
//!    `ω = rank(n*) / (N + 1)` (rank 1 is the worst; ties share the mean rank).
//! 4. `λ = ln(ω / (1 − ω))`; `PBO = #{λ ≤ 0} / C(S, S/2)`: the share of splits
//!    where the in-sample winner does no better than the median out of sample.
//!
//! A column with zero deviation on a set has Sharpe ratio 0 when its mean is
//! 0, else ±∞ by the mean's sign; ties in sample go to the leftmost column.
//! Identical columns give every split `ω = 1/2`, `λ = 0`: picking among them
//! is luck, and the paper's rule (`λ ≤ 0`) counts it as overfit, PBO = 1.
//! PBO near 0 means the in-sample winner keeps winning out of sample; near
//! 1/2, choosing by backtest is a coin flip; above 1/2, worse than one.

use serde::Serialize;

/// The default number of partitions, as in the paper's examples.
pub const DEFAULT_PARTITIONS: usize = 16;

/// The largest `S` accepted: `C(20, 10)` = 184,756 splits.
pub const MAX_PARTITIONS: usize = 20;

/// The PBO of a trial matrix.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pbo {
    /// Share of splits whose in-sample winner ranked at or below the median
    /// out of sample.
    pub probability: f64,
    /// Columns: the strategies compared.
    pub trials: usize,
    /// Rows: the blocks of time (days).
    pub blocks: usize,
    /// `S`.
    pub partitions: usize,
    /// `C(S, S/2)`.
    pub splits: usize,
}

/// Why a trial matrix has no PBO.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PboError {
    #[error("PBO compares strategies: {trials} in the lineup, it needs at least 2")]
    TooFewTrials { trials: usize },
    #[error(
        "PBO needs an even number of partitions between 2 and {MAX_PARTITIONS}, got {partitions}: \
         use {DEFAULT_PARTITIONS}"
    )]
    BadPartitions { partitions: usize },
    #[error(
        "PBO with {partitions} partitions needs at least {partitions} blocks (days) of returns, got \
         {blocks}: run it on a longer record"
    )]
    TooFewBlocks { blocks: usize, partitions: usize },
    #[error("row {row} of the trial matrix has {len} columns, the first has {expected}")]
    Ragged { row: usize, len: usize, expected: usize },
}

/// Count, mean and sum of squared deviations of a set of returns (Welford),
/// so that the blocks of a split merge without revisiting rows.
#[derive(Clone, Copy, Default)]
struct Moments {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn push(&mut self, x: f64) {
        self.count += 1.0;
        let delta = x - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (x - self.mean);
    }

    /// Chan et al.'s pairwise merge; exact for blocks of equal values.
    fn merge(self, other: Moments) -> Moments {
        if self.count == 0.0 {
            return other;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        Moments {
            count,
            mean: self.mean + delta * other.count / count,
            m2: self.m2 + other.m2 + delta * delta * self.count * other.count / count,
        }
    }

    fn sharpe(self) -> f64 {
        if self.m2 > 0.0 && self.count > 1.0 {
            self.mean / (self.m2 / (self.count - 1.0)).sqrt()
        } else if self.mean == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(self.mean)
        }
    }
}

/// The PBO of `matrix` (rows = blocks of time in order, columns = trials)
/// with `partitions` = `S`.
pub fn probability_of_backtest_overfitting(matrix: &[Vec<f64>], partitions: usize) -> Result<Pbo, PboError> {
    let trials = matrix.first().map_or(0, Vec::len);
    if let Some((row, values)) = matrix.iter().enumerate().find(|(_, values)| values.len() != trials) {
        return Err(PboError::Ragged { row, len: values.len(), expected: trials });
    }
    if trials < 2 {
        return Err(PboError::TooFewTrials { trials });
    }
    if !(2..=MAX_PARTITIONS).contains(&partitions) || partitions % 2 == 1 {
        return Err(PboError::BadPartitions { partitions });
    }
    let blocks = matrix.len();
    if blocks < partitions {
        return Err(PboError::TooFewBlocks { blocks, partitions });
    }
    // part[s][n]: the moments of column n over partition s.
    let part: Vec<Vec<Moments>> = (0..partitions)
        .map(|s| {
            let mut columns = vec![Moments::default(); trials];
            for row in &matrix[s * blocks / partitions..(s + 1) * blocks / partitions] {
                for (column, &value) in columns.iter_mut().zip(row) {
                    column.push(value);
                }
            }
            columns
        })
        .collect();
    let sharpes = |mask: u32| -> Vec<f64> {
        (0..trials)
            .map(|n| {
                (0..partitions)
                    .filter(|s| mask & (1 << s) != 0)
                    .fold(Moments::default(), |sum, s| sum.merge(part[s][n]))
                    .sharpe()
            })
            .collect()
    };
    let all = (1u32 << partitions) - 1;
    let (mut splits, mut overfit) = (0usize, 0usize);
    for mask in (0..=all).filter(|mask| mask.count_ones() as usize == partitions / 2) {
        let (in_sample, out_of_sample) = (sharpes(mask), sharpes(all & !mask));
        let best = (0..trials).fold(0, |best, n| if in_sample[n] > in_sample[best] { n } else { best });
        let chosen = out_of_sample[best];
        let below = out_of_sample.iter().filter(|&&value| value < chosen).count() as f64;
        let equal = out_of_sample.iter().filter(|&&value| value == chosen).count() as f64;
        // Mean rank of the tied group, 1 for the worst.
        let rank = below + (1.0 + equal) / 2.0;
        let omega = rank / (trials as f64 + 1.0);
        splits += 1;
        if (omega / (1.0 - omega)).ln() <= 0.0 {
            overfit += 1;
        }
    }
    Ok(Pbo { probability: overfit as f64 / splits as f64, trials, blocks, partitions, splits })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(columns: &[&[f64]]) -> Vec<Vec<f64>> {
        (0..columns[0].len()).map(|row| columns.iter().map(|column| column[row]).collect()).collect()
    }

    /// Column A's four two-day blocks average 1, 2, 4 and -7: it sums to 0, so
    /// any half of the blocks averages minus the other half, and no two blocks
    /// sum to 0. B = -A. Whichever wins in sample has a negative mean out of
    /// sample while the other's is positive: it ranks last, ω = 1/3, λ < 0,
    /// in all C(4, 2) = 6 splits.
    #[test]
    fn the_in_sample_winner_that_always_loses_out_of_sample_gives_one() {
        let a = [2.0, 0.0, 3.0, 1.0, 5.0, 3.0, -6.0, -8.0];
        let b: Vec<f64> = a.iter().map(|x| -x).collect();
        let pbo = probability_of_backtest_overfitting(&columns(&[&a, &b]), 4).unwrap();
        assert_eq!(pbo, Pbo { probability: 1.0, trials: 2, blocks: 8, partitions: 4, splits: 6 });
    }

    /// A = B + 1 and C = B - 0.5 with B's rows all different: on every set of
    /// rows the three share a deviation and A has the highest mean, so A wins
    /// in sample and out of sample: rank 3 of 3, ω = 3/4, λ > 0.
    #[test]
    fn a_column_better_everywhere_gives_zero() {
        let b = [0.5, -1.0, 2.0, 0.0, -0.5, 1.5, -2.0, 1.0, 0.25, -0.75];
        let a: Vec<f64> = b.iter().map(|x| x + 1.0).collect();
        let c: Vec<f64> = b.iter().map(|x| x - 0.5).collect();
        let pbo = probability_of_backtest_overfitting(&columns(&[&b, &a, &c]), 10).unwrap();
        assert_eq!((pbo.probability, pbo.splits), (0.0, 252));
    }

    #[test]
    fn identical_columns_are_luck_and_count_as_overfit() {
        let a = [1.0, -1.0, 2.0, 0.5, -0.5, 3.0];
        let pbo = probability_of_backtest_overfitting(&columns(&[&a, &a, &a]), 6).unwrap();
        assert_eq!((pbo.probability, pbo.splits), (1.0, 20));
        // Two flat columns (strategies that never trade): Sharpe 0 both sides.
        let flat = [0.0; 6];
        assert_eq!(
            probability_of_backtest_overfitting(&columns(&[&flat, &flat]), 2).unwrap().probability,
            1.0
        );
    }

    #[test]
    fn blocks_of_uneven_size_split_rows_in_time_order() {
        // 5 rows in 4 partitions: rows {0}, {1}, {2}, {3, 4}. A is +1 on the
        // first three rows and -1 on the last two, B its mirror.
        let a = [1.0, 1.0, 1.0, -1.0, -1.0];
        let b = [-1.0, -1.0, -1.0, 1.0, 1.0];
        let pbo = probability_of_backtest_overfitting(&columns(&[&a, &b]), 4).unwrap();
        // In sample {0, 1}: A is +1, +1 (Sharpe +∞) and wins; out of sample
        // rows 2, 3, 4 it averages -1/3 against B's +1/3: last. With {3, 4}
        // in sample B wins and loses rows like {1, 2}. Every split: PBO = 1.
        assert_eq!((pbo.probability, pbo.splits, pbo.blocks), (1.0, 6, 5));
    }

    #[test]
    fn bad_shapes_are_refused_with_what_to_do() {
        let one = columns(&[&[1.0, 2.0, 3.0, 4.0]]);
        assert_eq!(probability_of_backtest_overfitting(&one, 2), Err(PboError::TooFewTrials { trials: 1 }));
        let two = columns(&[&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]]);
        assert_eq!(
            probability_of_backtest_overfitting(&two, 4),
            Err(PboError::TooFewBlocks { blocks: 3, partitions: 4 })
        );
        let err = probability_of_backtest_overfitting(&two, 3).unwrap_err();
        assert!(err.to_string().contains("use 16"), "{err}");
        let ragged = vec![vec![1.0, 2.0], vec![1.0]];
        assert_eq!(
            probability_of_backtest_overfitting(&ragged, 2),
            Err(PboError::Ragged { row: 1, len: 1, expected: 2 })
        );
    }
}
