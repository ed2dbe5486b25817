//! The promotion test: an anytime-valid comparison of a challenger with the
//! champion on the signals both decided on.
//!
//! Data enters one signal at a time through [`PairedTest::observe`] as the two
//! strategies' returns on it, a strategy's return being `size * pnl_pct` when
//! it took the signal and 0 when it skipped it. It leaves as a
//! [`PairedTest::verdict`] that may be read after every signal. The state is a
//! handful of numbers (counts, Welford mean and M2), so it serialises with the
//! strategies' ledgers and carries on where it stopped.
//!
//! # What is compared
//!
//! On each signal the difference is `d = challenger - champion`. Signals where
//! the two returns are equal (both skipped, or both took the same size) have
//! `d = 0` whatever the outcome; they carry no information about which is
//! better and only count in [`PairedTest::signals`]. The test runs on the
//! *disagreements*. Their mean has the sign of the mean over all signals (the
//! agreements add zeros), so "the challenger earns more per signal" and "the
//! challenger earns more per disagreement" are the same claim.
//!
//! # Why a confidence sequence
//!
//! The verdict is read after every signal. A fixed-n test (a t-test, or a
//! z-interval) read that often is wrong: each look is one more chance for noise
//! to cross the line, and by the law of the iterated logarithm a random walk
//! with no drift crosses any fixed-n boundary eventually. A *confidence
//! sequence* is a sequence of intervals that covers the true mean at all
//! times at once with probability at least `1 - alpha`, so the verdict can be
//! read after every signal and the first crossing acted on. The simulation in
//! [`super::study`] measures both: over 10,000 A/A streams of 2,000 signals,
//! the win-rate rule it replaces promotes in 49% of streams read once at the
//! end and in 93% read after every signal; this test, read after every signal
//! at `alpha = 0.05`, in 1.3%.
//!
//! # The formula
//!
//! The asymptotic confidence sequence for a mean of Waudby-Smith, Arbour,
//! Sinha, Kennedy & Ramdas, "Time-uniform central limit theory and asymptotic
//! confidence sequences" (Annals of Statistics, 2024; arXiv:2103.06476): after
//! `t` disagreements with mean `m` and sample variance `s²` (divided by
//! `t - 1`),
//!
//! ```text
//! m ± sqrt( 2 (t s² ρ² + 1) / (t² ρ²) · ln( sqrt(t s² ρ² + 1) / alpha ) )
//! ```
//!
//! It is Robbins' normal-mixture boundary with the sample variance plugged in.
//! `ρ` sets where the sequence is tightest: for data of unit variance,
//! `ρ* = sqrt( (-2 ln alpha + ln(-2 ln alpha + 1)) / t* )` makes it tightest at
//! `t = t*`, here [`SequentialConfig::planned_disagreements`]. Before `t*` it
//! is wider than a fixed-n interval at `t*` would be, after it narrows like
//! `sqrt(ln t / t)`.
//!
//! **One deviation:** `ρ` is taken per unit of sample standard deviation,
//! `ρ = ρ* / s`, so `t s² ρ²` is `t ρ*²` and the radius is `s` times the
//! unit-variance boundary. The formula with `ρ` fixed is not free of units: it
//! is tightest where `t s² = t*`, which for returns in percent (`s² ≈ 2.5`) is
//! after 200 disagreements, and for the same returns as fractions
//! (`s² ≈ 2.5e-4`) after two million, with an interval so wide at a few
//! thousand that nothing is ever promoted. Scaling `ρ` makes the verdict the
//! same in any unit and `planned_disagreements` mean what it says. It stays an
//! asymptotic confidence sequence in the paper's sense: `s` converges to the
//! true deviation `σ` almost surely, so the radius converges to that of the
//! paper's sequence with the fixed `ρ = ρ* / σ`.
//!
//! # Asymptotic, hence the minimum
//!
//! The guarantee is asymptotic: it rests on the sample mean behaving like a
//! Gaussian process, and holds as the count grows. With a few disagreements of
//! skewed, fat-tailed returns the sample variance is usually too small (the
//! rare large loss has not happened yet) and the interval too narrow. So no
//! verdict is given before [`SequentialConfig::min_disagreements`] (30); the
//! interval itself is reported from 2 disagreements, for display. Measured on
//! the hardest case in [`super::study`] (one side takes every signal of a
//! breakeven, left-skewed, fat-tailed stream): with no minimum the A/A
//! promotion rate is 10.7% at `alpha = 0.05`, nearly all within the first 100
//! disagreements; with a minimum of 10 or 30 it is 1.5%. Heavier tails (a
//! Pareto gap of shape 1.8, so infinite variance) gave the same picture, so no
//! variance floor or larger minimum was needed.
//!
//! # Two-sided sequence, one-sided decision
//!
//! The sequence is two-sided: the chance it ever misses the true mean, on
//! either side, is at most `alpha`. A false promotion needs only the lower
//! bound to rise above a true mean of 0, which is one of those misses, so its
//! chance is at most `alpha`, and about `alpha / 2` when the differences are
//! symmetric. A one-sided sequence at `alpha` would promote a little sooner;
//! the two-sided one is kept because the same interval also says
//! [`Verdict::ChallengerWorse`] and is the one the reports show.

use serde::{Deserialize, Serialize};

/// The settings of a [`PairedTest`]. Every key has a default; unknown keys
/// are errors.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SequentialConfig {
    /// The chance, under A/A, that the test ever says a verdict however often
    /// it is read. In (0, 1); default 0.05.
    pub alpha: f64,
    /// Disagreeing signals needed before any verdict; default 30. The interval
    /// is only asymptotically valid, see the module docs.
    pub min_disagreements: u64,
    /// The number of disagreements at which the interval is tightest (`t*`);
    /// default 500. Choose about the count after which a decision is wanted.
    pub planned_disagreements: u64,
}

impl Default for SequentialConfig {
    fn default() -> Self {
        SequentialConfig { alpha: 0.05, min_disagreements: 30, planned_disagreements: 500 }
    }
}

impl SequentialConfig {
    /// Checks every field and reports all problems at once, each naming its
    /// field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            problems.push(format!("alpha must be between 0 and 1 exclusive, e.g. 0.05; got {}", self.alpha));
        }
        if self.min_disagreements < 2 {
            problems.push(format!(
                "min_disagreements must be at least 2 (a variance needs two values), 30 by default; got {}",
                self.min_disagreements
            ));
        }
        if self.planned_disagreements == 0 {
            problems.push("planned_disagreements must be at least 1, 500 by default; got 0".to_string());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }

    /// `ρ*²`, the tuning of the boundary for unit variance; `None` when
    /// `alpha` or `planned_disagreements` is out of range, so an invalid config
    /// fails closed (no interval, no verdict) rather than producing NaN.
    fn unit_rho_squared(&self) -> Option<f64> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) || self.planned_disagreements == 0 {
            return None;
        }
        let two_log_inverse_alpha = -2.0 * self.alpha.ln();
        Some((two_log_inverse_alpha + (two_log_inverse_alpha + 1.0).ln()) / self.planned_disagreements as f64)
    }
}

/// What the test says about the challenger at the moment it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Too few disagreements, or the interval still contains 0.
    Undecided,
    /// The whole interval is above 0: the challenger earns more per signal.
    ChallengerBetter,
    /// The whole interval is below 0: the challenger earns less per signal.
    ChallengerWorse,
}

/// A running paired comparison of a challenger with the champion; see the
/// module docs for the statistics. Memory is O(1) in the number of signals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairedTest {
    config: SequentialConfig,
    signals: u64,
    disagreements: u64,
    /// Welford running mean of the differences over the disagreements.
    mean: f64,
    /// Welford sum of squared deviations from the running mean.
    m2: f64,
    /// The first difference seen, to decide "all differences are equal" by
    /// comparing values: M2 of equal values such as 0.1 can round to ~1e-17
    /// instead of 0, which would make a meaningless, razor-thin interval.
    first_difference: Option<f64>,
    /// True while every difference equals `first_difference`.
    constant: bool,
}

impl PairedTest {
    /// A test with no signals yet. Check the config with
    /// [`SequentialConfig::validate`] first: an invalid one never yields an
    /// interval or a verdict.
    pub fn new(config: SequentialConfig) -> Self {
        PairedTest {
            config,
            signals: 0,
            disagreements: 0,
            mean: 0.0,
            m2: 0.0,
            first_difference: None,
            constant: true,
        }
    }

    /// One signal: the champion's and the challenger's return on it. Equal
    /// returns (both skipped, or both took the same size) carry no information
    /// and only count as `signals`.
    ///
    /// A signal whose returns or difference are not finite also only counts as
    /// a signal: one NaN would otherwise poison the running mean for good.
    pub fn observe(&mut self, champion: f64, challenger: f64) {
        self.signals += 1;
        let difference = challenger - champion;
        // For finite values `a - b == 0` exactly when `a == b` (subnormals
        // keep the difference of distinct values away from 0).
        if champion == challenger || !difference.is_finite() {
            return;
        }
        self.disagreements += 1;
        let delta = difference - self.mean;
        self.mean += delta / self.disagreements as f64;
        self.m2 += delta * (difference - self.mean);
        match self.first_difference {
            None => self.first_difference = Some(difference),
            Some(first) => self.constant &= first == difference,
        }
    }

    /// Signals observed, agreeing or not.
    pub fn signals(&self) -> u64 {
        self.signals
    }

    /// Signals on which the two returns differed.
    pub fn disagreements(&self) -> u64 {
        self.disagreements
    }

    /// The mean of `challenger - champion` over the disagreeing signals;
    /// `None` before the first.
    pub fn mean_difference(&self) -> Option<f64> {
        (self.disagreements > 0).then_some(self.mean)
    }

    /// The anytime-valid `1 - alpha` confidence sequence on
    /// [`mean_difference`](Self::mean_difference), as `(low, high)`; `None`
    /// under 2 disagreements, when all differences are equal (zero variance)
    /// or when the config is invalid.
    pub fn interval(&self) -> Option<(f64, f64)> {
        if self.disagreements < 2 || self.constant {
            return None;
        }
        let t = self.disagreements as f64;
        let variance = self.m2 / (t - 1.0);
        // ρ per unit of sample deviation (module docs): ρ² = ρ*² / s².
        let rho_squared = self.config.unit_rho_squared()? / variance;
        let spread = t * variance * rho_squared + 1.0;
        let radius = (2.0 * spread / (t * t * rho_squared) * (spread.sqrt() / self.config.alpha).ln()).sqrt();
        radius.is_finite().then_some((self.mean - radius, self.mean + radius))
    }

    /// The decision now: none before `min_disagreements`, then
    /// [`Verdict::ChallengerBetter`] when the interval is above 0 and
    /// [`Verdict::ChallengerWorse`] when it is below. The guarantee holds
    /// however often this is read, so the first crossing may be acted on.
    pub fn verdict(&self) -> Verdict {
        if self.disagreements < self.config.min_disagreements {
            return Verdict::Undecided;
        }
        match self.interval() {
            Some((low, _)) if low > 0.0 => Verdict::ChallengerBetter,
            Some((_, high)) if high < 0.0 => Verdict::ChallengerWorse,
            _ => Verdict::Undecided,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn width(test: &PairedTest) -> f64 {
        let (low, high) = test.interval().expect("an interval");
        high - low
    }

    /// Differences alternating around `mean`, so the sample variance stays
    /// about 1 and only the count changes.
    fn feed(test: &mut PairedTest, count: u64, mean: f64) {
        for i in 0..count {
            let step = if i % 2 == 0 { 1.0 } else { -1.0 };
            test.observe(0.0, mean + step);
        }
    }

    #[test]
    fn interval_shrinks_as_disagreements_grow() {
        let mut test = PairedTest::new(SequentialConfig::default());
        feed(&mut test, 10, 0.0);
        let mut previous = width(&test);
        for _ in 0..50 {
            feed(&mut test, 100, 0.0);
            let now = width(&test);
            assert!(
                now < previous,
                "width {now} after {} did not shrink from {previous}",
                test.disagreements()
            );
            previous = now;
        }
    }

    #[test]
    fn interval_is_tightest_relative_to_a_fixed_n_interval_at_the_planned_count() {
        // The ratio of the sequence's radius to the fixed-n z radius
        // (1.96 s / sqrt(t)) is smallest near t*.
        let config = SequentialConfig { planned_disagreements: 400, ..SequentialConfig::default() };
        let mut test = PairedTest::new(config);
        let mut best = (f64::INFINITY, 0);
        for _ in 0..2000 {
            feed(&mut test, 2, 0.0);
            let t = test.disagreements() as f64;
            let sd = (test.m2 / (t - 1.0)).sqrt();
            let ratio = width(&test) / 2.0 / (1.959964 * sd / t.sqrt());
            if ratio < best.0 {
                best = (ratio, test.disagreements());
            }
        }
        assert!((300..=550).contains(&best.1), "tightest at {} disagreements", best.1);
    }

    #[test]
    fn interval_does_not_depend_on_the_unit_of_returns() {
        let mut percent = PairedTest::new(SequentialConfig::default());
        let mut fraction = PairedTest::new(SequentialConfig::default());
        for i in 0..200 {
            let pnl = [2.1, -0.9, -1.2, 1.8, 0.4][i % 5];
            percent.observe(0.0, pnl);
            fraction.observe(0.0, pnl / 100.0);
        }
        let (low_pct, high_pct) = percent.interval().expect("an interval");
        let (low_frac, high_frac) = fraction.interval().expect("an interval");
        assert!((low_pct / 100.0 - low_frac).abs() < 1e-12);
        assert!((high_pct / 100.0 - high_frac).abs() < 1e-12);
    }

    #[test]
    fn agreeing_observations_do_not_move_the_test() {
        let mut test = PairedTest::new(SequentialConfig::default());
        feed(&mut test, 40, 0.5);
        let before = test.clone();
        test.observe(0.0, 0.0);
        test.observe(1.5, 1.5);
        test.observe(-3.0, -3.0);
        assert_eq!(test.signals(), before.signals() + 3);
        assert_eq!(test.disagreements(), before.disagreements());
        assert_eq!(test.mean_difference(), before.mean_difference());
        assert_eq!(test.interval(), before.interval());
        assert_eq!(test.verdict(), before.verdict());
    }

    #[test]
    fn non_finite_returns_only_count_as_signals() {
        let mut test = PairedTest::new(SequentialConfig::default());
        feed(&mut test, 10, 0.5);
        let before = test.clone();
        test.observe(f64::NAN, 1.0);
        test.observe(0.0, f64::INFINITY);
        test.observe(-f64::MAX, f64::MAX);
        assert_eq!(test.signals(), before.signals() + 3);
        assert_eq!(test.interval(), before.interval());
    }

    #[test]
    fn no_verdict_before_the_minimum_disagreements() {
        let mut test = PairedTest::new(SequentialConfig::default());
        // A huge, clean edge: the interval excludes 0 long before 30.
        for i in 0..29 {
            test.observe(0.0, 5.0 + if i % 2 == 0 { 0.1 } else { -0.1 });
            assert_eq!(test.verdict(), Verdict::Undecided, "after {} disagreements", test.disagreements());
        }
        assert!(test.interval().expect("an interval").0 > 0.0);
        test.observe(0.0, 5.0);
        assert_eq!(test.disagreements(), 30);
        assert_eq!(test.verdict(), Verdict::ChallengerBetter);
    }

    #[test]
    fn a_clearly_worse_challenger_is_reported_worse() {
        let mut test = PairedTest::new(SequentialConfig::default());
        feed(&mut test, 200, -0.5);
        assert_eq!(test.verdict(), Verdict::ChallengerWorse);
    }

    #[test]
    fn no_interval_under_two_disagreements_or_with_equal_differences() {
        let mut test = PairedTest::new(SequentialConfig::default());
        assert_eq!(test.mean_difference(), None);
        test.observe(0.0, 0.1);
        assert_eq!(test.mean_difference(), Some(0.1));
        assert_eq!(test.interval(), None);
        for _ in 0..100 {
            test.observe(0.0, 0.1);
        }
        assert_eq!(test.interval(), None);
        assert_eq!(test.verdict(), Verdict::Undecided);
        test.observe(0.0, 0.2);
        assert!(test.interval().is_some());
    }

    #[test]
    fn serde_round_trip_continues_identically() {
        let mut original = PairedTest::new(SequentialConfig::default());
        for i in 0..137u32 {
            let pnl = (f64::from(i) * 0.7).sin() * 2.0 + 0.3;
            original.observe(if i % 3 == 0 { pnl } else { 0.0 }, if i % 2 == 0 { pnl } else { 0.0 });
        }
        let json = serde_json::to_string(&original).unwrap();
        let mut restored: PairedTest = serde_json::from_str(&json).unwrap();
        assert_eq!(restored, original);
        for i in 0..300u32 {
            let pnl = (f64::from(i) * 1.3).cos() * 1.5;
            original.observe(0.0, pnl);
            restored.observe(0.0, pnl);
            assert_eq!(restored.interval(), original.interval());
            assert_eq!(restored.verdict(), original.verdict());
        }
        assert_eq!(restored, original);
    }

    #[test]
    fn config_keys_default_and_unknown_keys_are_errors() {
        let config: SequentialConfig = serde_json::from_str(r#"{"alpha": 0.01}"#).unwrap();
        assert_eq!(config, SequentialConfig { alpha: 0.01, ..SequentialConfig::default() });
        assert!(serde_json::from_str::<SequentialConfig>(r#"{"alpah": 0.01}"#).is_err());
    }

    #[test]
    fn config_validation_names_every_bad_field() {
        assert_eq!(SequentialConfig::default().validate(), Ok(()));
        let bad = SequentialConfig { alpha: 1.5, min_disagreements: 1, planned_disagreements: 0 };
        let message = bad.validate().unwrap_err();
        for field in ["alpha", "min_disagreements", "planned_disagreements"] {
            assert!(message.contains(field), "{message:?} does not name {field}");
        }
        let nan = SequentialConfig { alpha: f64::NAN, ..SequentialConfig::default() };
        assert!(nan.validate().unwrap_err().starts_with("alpha"));
    }

    #[test]
    fn an_invalid_config_never_decides() {
        let config = SequentialConfig { alpha: 0.0, ..SequentialConfig::default() };
        let mut test = PairedTest::new(config);
        feed(&mut test, 500, 3.0);
        assert_eq!(test.interval(), None);
        assert_eq!(test.verdict(), Verdict::Undecided);
    }
}
