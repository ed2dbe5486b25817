//! The honest figures of picking one strategy out of a lineup: each
//! strategy's probabilistic and deflated Sharpe ratios and the lineup's
//! probability of backtest overfitting, with the number of trials they
//! account for.
//!
//! Data enters as each strategy's ledger (the closed trades it took, any
//! order) and the [`Trials`] evaluated; it leaves as a [`Selection`] that the
//! report, the A/B table and the API serialise.
//!
//! - Each strategy's series is its zero-filled daily P&L (DESIGN section 11,
//!   the series behind `sharpe_daily`); its PSR is against 0 ([`super::psr`]).
//! - `V`, the variance of the trials' Sharpe ratios, is the sample variance
//!   (n − 1) of the lineup's per-day Sharpe ratios (those defined); the DSR
//!   ([`super::dsr`]) uses it with `N = trials.total`. With one trial there is
//!   no selection (`SR₀ = 0`, DSR = PSR); with more trials but under two
//!   Sharpe ratios to measure `V` on, the DSR is `null`.
//! - The PBO ([`super::pbo`]) runs on the trial matrix of the strategies'
//!   daily P&L over one shared span of UTC days (the earliest entry to the
//!   last exit of any ledger), columns in name order, with `S` partitions.

use std::collections::BTreeMap;

use serde::Serialize;

use super::daily::{daily_pnl, daily_pnl_over, day_span};
use super::dsr::{deflated_sharpe, expected_max_sharpe};
use super::moments::sample_std;
use super::pbo::{Pbo, probability_of_backtest_overfitting};
use super::psr::{SharpeMoments, probabilistic_sharpe};
use super::sort_in_exit_order;
use crate::trade::Trade;
use crate::versions::VersionReason;

/// The configurations evaluated before one was picked: the `N` of the DSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Trials {
    /// Strategies in the lineup, retired ones included.
    pub strategies: usize,
    /// Configurations put in competition after the start: versions made by a
    /// reload (new code) or a weekly retrain (a new learned state).
    pub versions: usize,
    /// Parameter sets evaluated outside the lineup (by a tuning run).
    pub parameter_sets: usize,
    /// Their sum, at least 1.
    pub total: usize,
}

impl Trials {
    pub fn new(strategies: usize, versions: usize, parameter_sets: usize) -> Trials {
        Trials {
            strategies,
            versions,
            parameter_sets,
            total: (strategies + versions + parameter_sets).max(1),
        }
    }

    /// Whether a version of this reason is a trial of its own: a reload
    /// brings new code and a retrain a newly fitted state, each compared with
    /// what ran before; daily snapshots, promotions, rollbacks and manual
    /// snapshots evaluate nothing new.
    pub fn counts(reason: VersionReason) -> bool {
        matches!(reason, VersionReason::Reload | VersionReason::Retrain)
    }

    /// The versions that count as trials among `(reason, how many)` pairs.
    pub fn versions_tried(counts: &[(VersionReason, usize)]) -> usize {
        counts.iter().filter(|(reason, _)| Trials::counts(*reason)).map(|(_, count)| count).sum()
    }
}

/// One strategy's Sharpe figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategySharpe {
    /// Days in its daily P&L series.
    pub days: usize,
    /// Mean over sample deviation of its daily P&L, per day (not annualised).
    pub sharpe_per_day: Option<f64>,
    pub skewness: Option<f64>,
    /// Kurtosis, 3 for normal returns.
    pub kurtosis: Option<f64>,
    /// Probability that its true Sharpe ratio is above 0.
    pub psr: Option<f64>,
    /// Probability that its true Sharpe ratio is above the best that
    /// `trials.total` worthless trials would show.
    pub dsr: Option<f64>,
    #[serde(skip)]
    moments: Option<SharpeMoments>,
}

/// The selection figures of a lineup.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Selection {
    pub trials: Trials,
    /// `V`: variance of the strategies' per-day Sharpe ratios.
    pub sharpe_variance: Option<f64>,
    /// `SR₀`: the per-day Sharpe ratio the best of `trials.total` zero-skill
    /// trials would reach by luck.
    pub expected_max_sharpe: Option<f64>,
    /// The lineup's probability of backtest overfitting.
    pub pbo: Option<Pbo>,
    /// Why `pbo` is `null`.
    pub pbo_note: Option<String>,
    pub strategies: BTreeMap<String, StrategySharpe>,
}

impl Selection {
    /// The figures of `ledgers` (strategy, its taken trades), with
    /// `partitions` = `S` for the PBO.
    pub fn of(ledgers: &[(String, Vec<&Trade>)], trials: Trials, partitions: usize) -> Selection {
        // By name, so that the PBO's tie-break (the leftmost column) does not
        // depend on where the ledgers came from.
        let mut ledgers = ledgers.to_vec();
        ledgers.sort_by(|a, b| a.0.cmp(&b.0));
        let ordered: Vec<Vec<&Trade>> = ledgers
            .iter()
            .map(|(_, taken)| {
                let mut taken = taken.clone();
                sort_in_exit_order(&mut taken);
                taken
            })
            .collect();
        let strategies = ledgers
            .iter()
            .zip(&ordered)
            .map(|((name, _), taken)| {
                let days = daily_pnl(taken);
                let moments = SharpeMoments::of(&days);
                let figures = StrategySharpe {
                    days: days.len(),
                    sharpe_per_day: moments.as_ref().map(|m| m.sharpe),
                    skewness: moments.as_ref().map(|m| m.skewness),
                    kurtosis: moments.as_ref().map(|m| m.kurtosis),
                    psr: moments.as_ref().and_then(|m| probabilistic_sharpe(m, 0.0)),
                    dsr: None,
                    moments,
                };
                (name.clone(), figures)
            })
            .collect();
        let (pbo, pbo_note) = match trial_matrix(&ordered) {
            Some(matrix) => match probability_of_backtest_overfitting(&matrix, partitions) {
                Ok(pbo) => (Some(pbo), None),
                Err(why) => (None, Some(why.to_string())),
            },
            None => (None, Some("no strategy has closed a trade yet".to_owned())),
        };
        Selection { trials, sharpe_variance: None, expected_max_sharpe: None, pbo, pbo_note, strategies }
            .with_trials(trials)
    }

    /// The same figures deflated for `trials`.
    pub fn with_trials(mut self, trials: Trials) -> Selection {
        let sharpes: Vec<f64> = self.strategies.values().filter_map(|s| s.sharpe_per_day).collect();
        let variance = sample_std(&sharpes).map(|std| std * std).or_else(|| {
            // Two or more equal Sharpe ratios have no spread.
            (sharpes.len() >= 2).then_some(0.0)
        });
        let variance = if trials.total == 1 { variance.or(Some(0.0)) } else { variance };
        self.trials = trials;
        self.sharpe_variance = variance;
        self.expected_max_sharpe = variance.and_then(|v| expected_max_sharpe(trials.total, v));
        for figures in self.strategies.values_mut() {
            figures.dsr = figures
                .moments
                .as_ref()
                .zip(variance)
                .and_then(|(moments, v)| deflated_sharpe(moments, trials.total, v));
        }
        self
    }
}

/// Rows: UTC days over the ledgers' shared span; columns: the ledgers.
fn trial_matrix(ordered: &[Vec<&Trade>]) -> Option<Vec<Vec<f64>>> {
    let (first, last) = day_span(ordered.iter().flatten().copied())?;
    let columns: Vec<Vec<f64>> = ordered.iter().map(|taken| daily_pnl_over(taken, first, last)).collect();
    let rows = columns.first().map_or(0, Vec::len);
    Some((0..rows).map(|row| columns.iter().map(|column| column[row]).collect()).collect())
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::{MILLIS_PER_DAY, Side};

    use super::*;
    use crate::analytics::fixtures::trade;
    use crate::analytics::normal;

    const DAY: i64 = MILLIS_PER_DAY;

    /// One trade a day, entering and exiting on day `i` with `returns[i]`.
    fn daily(name: &str, returns: &[f64]) -> Vec<Trade> {
        returns
            .iter()
            .enumerate()
            .map(|(i, &r)| trade(&format!("{name}{i}"), Side::Long, i as i64 * DAY, i as i64 * DAY + 1, r))
            .collect()
    }

    #[test]
    fn two_strategies_deflated_for_their_trials() {
        let (a, b) = (daily("a", &[1.0, 3.0, -1.0, 1.0]), daily("b", &[-1.0, 1.0, 1.0, 1.0]));
        let ledgers = vec![("a".to_owned(), a.iter().collect()), ("b".to_owned(), b.iter().collect())];
        let selection = Selection::of(&ledgers, Trials::new(2, 0, 0), 4);
        // a: mean 1, sample variance (0 + 4 + 4 + 0) / 3; b: mean 0.5, variance 3 / 3.
        let (sr_a, sr_b) = (1.0 / (8.0f64 / 3.0).sqrt(), 0.5);
        let figures = &selection.strategies["a"];
        assert!((figures.sharpe_per_day.unwrap() - sr_a).abs() < 1e-12);
        assert!((selection.strategies["b"].sharpe_per_day.unwrap() - sr_b).abs() < 1e-12);
        // V of two values: (difference)² / 2. Two trials: Φ⁻¹(1/2) = 0, so
        // SR₀ = √V · γ · Φ⁻¹(1 − 1/(2e)).
        let v = (sr_a - sr_b).powi(2) / 2.0;
        assert!((selection.sharpe_variance.unwrap() - v).abs() < 1e-15);
        let sr0 = v.sqrt() * 0.577_215_664_901_532_9 * normal::quantile(1.0 - 0.5 / std::f64::consts::E);
        assert!((selection.expected_max_sharpe.unwrap() - sr0).abs() < 1e-12);
        // a's days -> deviations 0, 2, -2, 0: skewness 0, kurtosis (16 + 16)/4 / 2² = 2.
        assert_eq!((figures.skewness, figures.kurtosis), (Some(0.0), Some(2.0)));
        let z = |benchmark: f64| (sr_a - benchmark) * 3f64.sqrt() / (1.0 + 0.25 * sr_a * sr_a).sqrt();
        assert!((figures.psr.unwrap() - normal::cdf(z(0.0))).abs() < 1e-12);
        assert!((figures.dsr.unwrap() - normal::cdf(z(sr0))).abs() < 1e-12);
        // The PBO runs on the hand-built matrix of the four days.
        let matrix = vec![vec![1.0, -1.0], vec![3.0, 1.0], vec![-1.0, 1.0], vec![1.0, 1.0]];
        assert_eq!(selection.pbo, probability_of_backtest_overfitting(&matrix, 4).ok());
    }

    #[test]
    fn more_trials_lower_the_dsr_but_not_the_psr() {
        let (a, b) = (daily("a", &[1.0, 3.0, -1.0, 1.0]), daily("b", &[-1.0, 1.0, 1.0, 1.0]));
        let ledgers = vec![("a".to_owned(), a.iter().collect()), ("b".to_owned(), b.iter().collect())];
        let few = Selection::of(&ledgers, Trials::new(2, 0, 0), 4);
        let many = few.clone().with_trials(Trials::new(2, 30, 8));
        assert_eq!(many.trials.total, 40);
        assert_eq!(few.strategies["a"].psr, many.strategies["a"].psr);
        assert!(many.strategies["a"].dsr.unwrap() < few.strategies["a"].dsr.unwrap());
    }

    #[test]
    fn one_strategy_has_no_selection_and_no_pbo() {
        let a = daily("a", &[1.0, 3.0, -1.0, 1.0]);
        let selection = Selection::of(&[("a".to_owned(), a.iter().collect())], Trials::new(1, 0, 0), 16);
        let figures = &selection.strategies["a"];
        assert_eq!(figures.dsr, figures.psr);
        assert_eq!(selection.pbo, None);
        assert!(selection.pbo_note.unwrap().contains("at least 2"));
        // A second version of it is a second trial, but one Sharpe ratio
        // cannot measure their spread: no DSR rather than a made-up one.
        let again = Selection::of(&[("a".to_owned(), a.iter().collect())], Trials::new(1, 1, 0), 16);
        assert_eq!((again.strategies["a"].dsr, again.sharpe_variance), (None, None));
        let empty = Selection::of(&[("a".to_owned(), Vec::new())], Trials::new(1, 0, 0), 16);
        assert_eq!(empty.pbo_note.as_deref(), Some("no strategy has closed a trade yet"));
    }
}
