//! The promotion test: an anytime-valid comparison of a challenger with the
//! champion that keeps its error rate when outcomes cluster in time.
//!
//! Data enters one closed signal at a time through [`PairedTest::add`] as
//! the two strategies' returns on it (a strategy's return is `pnl_pct` when
//! it took the signal, 0 when it skipped it) with the signal's entry time.
//! The returns are summed per *block* of entry time (default one UTC day,
//! [`SequentialConfig::block_minutes`]); [`PairedTest::feed_through`] hands
//! the finished blocks, in block order, to a confidence sequence on the mean
//! block difference. The state is a handful of numbers plus the sums of the
//! blocks not yet fed, so it serialises with the checkpoints and carries on
//! where it stopped.
//!
//! # Why blocks
//!
//! Outcomes of one symbol are not independent: on generator signals from
//! real candles the lag-1 autocorrelation of outcomes is +0.4 to +0.75, and
//! strategies repeat their last decision most of the time. Fed one signal
//! at a time, a confidence sequence built for independent data sees a run
//! of correlated disagreements as strong evidence: two coin-flip strategies
//! drawing one coin per hour or day were promoted over each other in about
//! half the runs on real 1-minute signals at `alpha = 0.05` (the `siglearn
//! study promotion` command measures it; BENCHMARKS.md has the figures).
//!
//! Summed per block of time, the differences are martingale differences
//! under the null hypothesis, whatever the dependence *inside* a block:
//! let `D_b` be the sum of `challenger - champion` over the signals that
//! entered in block `b`. A block is fed only once every signal entered in
//! it has closed and its time is over (the engine tracks that, see
//! [`crate::engine`]), and blocks are fed in order, so when `D_b` is fed,
//! everything fed before it is known. For strategies whose decisions in
//! block `b` do not depend on block `b`'s own outcomes, "the challenger is
//! no better" is `E[D_b | D_1 .. D_{b-1}] <= 0`: exactly so for a coin drawn
//! per signal, per hour or per day (it makes it 0) or a strategy that learns
//! once a day; a strategy that learns from an outcome closed earlier in the
//! same block bends this a little, in proportion to what it learns within a
//! day. Only the dependence *across* blocks must fade for the central limit
//! theorem below to hold, which a day of separation buys.
//!
//! # The formula
//!
//! The asymptotic confidence sequence for a mean of Waudby-Smith, Arbour,
//! Sinha, Kennedy & Ramdas, "Time-uniform central limit theory and asymptotic
//! confidence sequences" (Annals of Statistics, 2024; arXiv:2103.06476), whose
//! guarantee the paper extends to martingale-difference data: after `t`
//! blocks with mean `m` and sample variance `s²` (divided by `t - 1`),
//!
//! ```text
//! m ± sqrt( 2 (t s² ρ² + 1) / (t² ρ²) · ln( sqrt(t s² ρ² + 1) / alpha_j,k ) )
//! ```
//!
//! It is Robbins' normal-mixture boundary with the sample variance plugged in.
//! `ρ` sets where the sequence is tightest: for data of unit variance,
//! `ρ* = sqrt( (-2 ln a + ln(-2 ln a + 1)) / t* )` makes it tightest at
//! `t = t*`, here [`SequentialConfig::planned_blocks`]. `ρ` is taken per unit
//! of sample deviation (`ρ = ρ* / s`), so `t s² ρ²` is `t ρ*²`: the verdict is
//! the same whether returns are in percent or fractions. `s` converges to the
//! true deviation, so it stays an asymptotic confidence sequence in the
//! paper's sense.
//!
//! Only blocks whose difference is not 0 count (`t`): a block in which both
//! strategies took the same signals says nothing about which is better. No
//! verdict is given before [`SequentialConfig::min_blocks`] such effective
//! blocks (20 by default): the guarantee is asymptotic, and on a few blocks
//! the sample variance is too small too often.
//!
//! # Family-wise: every challenger, every restart
//!
//! A lineup tests all its challengers at once, and restarts every test
//! against the new champion after a promotion. Each test is one draw from an
//! alpha-spending series: the `j`-th draw of a run gets
//!
//! ```text
//! alpha_j = alpha · 6 / (π² j²)        (Σ_j 6 / (π² j²) = 1, Euler's Basel sum)
//! ```
//!
//! and a draw shared by `k` challengers (the tests that start together after
//! a promotion) is split evenly between them (Bonferroni): `alpha_j,k =
//! alpha_j / k`. A strategy added while running takes a draw of its own. By
//! the union bound, the chance that *any* test of the run ever promotes a
//! challenger that is no better is at most `Σ_j alpha_j = alpha`. The first
//! epoch gets `0.61 alpha`, the second `0.15 alpha`: the price of a promise
//! that holds over the whole run, paid mostly by late restarts.
//!
//! # Two-sided sequence, one-sided decision
//!
//! The sequence is two-sided: the chance it ever misses the true mean, on
//! either side, is at most its alpha. A false promotion needs only the lower
//! bound to rise above a true mean of 0, which is one of those misses. The
//! same interval also says [`Verdict::ChallengerWorse`] and is the one the
//! reports show.
//!
//! # Late signals
//!
//! A signal that enters in a block already fed (the daemon accepts a signal
//! stamped in the past) is counted in the first block not yet fed: a fed
//! block never changes, which keeps the order the guarantee rests on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use siglearn_plugin_api::{MILLIS_PER_MINUTE, Timestamp};

/// The settings of a [`PairedTest`]. Every key has a default; unknown keys
/// are errors.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SequentialConfig {
    /// The chance that any test of a whole run ever promotes a challenger
    /// that is no better, however often it is read; split over the tests as
    /// the module docs say. In (0, 1); default 0.05.
    pub alpha: f64,
    /// Blocks with a nonzero difference needed before any verdict; default
    /// 20. The interval is only asymptotically valid, see the module docs.
    #[serde(alias = "min_disagreements")]
    pub min_blocks: u64,
    /// The number of blocks at which the interval is tightest (`t*`);
    /// default 100. Choose about the count after which a decision is wanted.
    #[serde(alias = "planned_disagreements")]
    pub planned_blocks: u64,
    /// The length of a block of entry time, in minutes; default 1440 (one UTC
    /// day). Outcomes further apart than a block should be nearly
    /// independent.
    pub block_minutes: u64,
}

impl Default for SequentialConfig {
    fn default() -> Self {
        SequentialConfig { alpha: 0.05, min_blocks: 20, planned_blocks: 100, block_minutes: 1440 }
    }
}

impl SequentialConfig {
    /// Checks every field and reports all problems at once, each naming its
    /// field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let problems = self.problems();
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }

    /// Every problem of [`SequentialConfig::validate`], one message each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            problems.push(format!("alpha must be between 0 and 1 exclusive, e.g. 0.05; got {}", self.alpha));
        }
        if self.min_blocks < 2 {
            problems.push(format!(
                "min_blocks must be at least 2 (a variance needs two values), 20 by default; got {}",
                self.min_blocks
            ));
        }
        if self.planned_blocks == 0 {
            problems.push("planned_blocks must be at least 1, 100 by default; got 0".to_string());
        }
        if self.block_minutes == 0 || self.block_minutes > 366 * 1440 {
            problems.push(format!(
                "block_minutes must be from 1 to 527040 (a year), 1440 (a UTC day) by default; got {}",
                self.block_minutes
            ));
        }
        problems
    }

    /// The block of entry time `ts` falls in (blocks start at the Unix
    /// epoch, so day blocks are UTC days).
    pub fn block_of(&self, ts: Timestamp) -> i64 {
        let length = (self.block_minutes.max(1) as i64).saturating_mul(MILLIS_PER_MINUTE);
        ts.as_millis().div_euclid(length)
    }

    /// The first instant after block `block`.
    pub fn block_end(&self, block: i64) -> Timestamp {
        let length = (self.block_minutes.max(1) as i64).saturating_mul(MILLIS_PER_MINUTE);
        Timestamp(block.saturating_add(1).saturating_mul(length))
    }

    /// `ρ*²`, the tuning of the boundary for unit variance; `None` when
    /// `alpha` or `planned_blocks` is out of range, so an invalid config fails
    /// closed (no interval, no verdict) rather than producing NaN.
    fn unit_rho_squared(&self) -> Option<f64> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) || self.planned_blocks == 0 {
            return None;
        }
        let two_log_inverse_alpha = -2.0 * self.alpha.ln();
        Some((two_log_inverse_alpha + (two_log_inverse_alpha + 1.0).ln()) / self.planned_blocks as f64)
    }
}

/// The share of `alpha` the `draw`-th test epoch of a run may spend,
/// `6 / (π² draw²)`, split over the `tests` that share it (module docs).
/// The shares of all draws sum to 1.
pub fn spent_alpha(alpha: f64, draw: u32, tests: usize) -> f64 {
    let j = f64::from(draw.max(1));
    alpha * 6.0 / (std::f64::consts::PI * std::f64::consts::PI * j * j) / tests.max(1) as f64
}

/// The signals still open, counted per block of entry time: which blocks are
/// complete and may be fed (every signal entered in them has closed, and
/// their time is over). A lineup keeps one for all its tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpenBlocks {
    counts: BTreeMap<i64, u32>,
}

impl OpenBlocks {
    /// A signal entered at `entry_ts` was decided on and is open.
    pub fn opened(&mut self, config: &SequentialConfig, entry_ts: Timestamp) {
        *self.counts.entry(config.block_of(entry_ts)).or_default() += 1;
    }

    /// A signal entered at `entry_ts`, counted by [`opened`](Self::opened),
    /// closed.
    pub fn closed(&mut self, config: &SequentialConfig, entry_ts: Timestamp) {
        let block = config.block_of(entry_ts);
        if let Some(count) = self.counts.get_mut(&block) {
            *count -= 1;
            if *count == 0 {
                self.counts.remove(&block);
            }
        }
    }

    /// The first block that may still change at `now`: the first one with an
    /// open signal, or the block of `now` (which may still receive signals).
    /// Every block before it is complete.
    pub fn frontier(&self, config: &SequentialConfig, now: Timestamp) -> i64 {
        let now_block = config.block_of(now);
        self.counts.keys().next().map_or(now_block, |&open| open.min(now_block))
    }
}

/// What the test says about the challenger at the moment it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Too few effective blocks, or the interval still contains 0.
    Undecided,
    /// The whole interval is above 0: the challenger earns more per block.
    ChallengerBetter,
    /// The whole interval is below 0: the challenger earns less per block.
    ChallengerWorse,
}

/// The two sides' summed returns in one block not yet fed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockSum {
    pub champion: f64,
    pub challenger: f64,
}

/// A running paired comparison of a challenger with the champion; see the
/// module docs for the statistics. Memory is O(1) in the number of signals
/// (plus one entry per block still open).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairedTest {
    config: SequentialConfig,
    signals: u64,
    /// Signals on which the two returns differed.
    disagreements: u64,
    /// Values fed to the sequence with a nonzero difference (blocks).
    #[serde(default)]
    blocks: u64,
    /// Welford running mean of the fed differences.
    mean: f64,
    /// Welford sum of squared deviations from the running mean.
    m2: f64,
    /// The first difference fed, to decide "all differences are equal" by
    /// comparing values: M2 of equal values such as 0.1 can round to ~1e-17
    /// instead of 0, which would make a meaningless, razor-thin interval.
    first_difference: Option<f64>,
    /// True while every fed difference equals `first_difference`.
    constant: bool,
    /// Sums of the blocks not yet fed, by block.
    #[serde(default)]
    open: BTreeMap<i64, BlockSum>,
    /// The first block not yet fed, once one has been.
    #[serde(default)]
    next_block: Option<i64>,
    /// Which alpha-spending draw the test is (from 1); 0 marks a test saved
    /// before blocks, which fed single signals and cannot be continued.
    #[serde(default)]
    draw: u32,
}

impl PairedTest {
    /// A test with no signals yet, spending `config.alpha` whole (draw 1 of a
    /// family of one). Check the config with [`SequentialConfig::validate`]
    /// first: an invalid one never yields an interval or a verdict.
    pub fn new(config: SequentialConfig) -> Self {
        PairedTest {
            config,
            signals: 0,
            disagreements: 0,
            blocks: 0,
            mean: 0.0,
            m2: 0.0,
            first_difference: None,
            constant: true,
            open: BTreeMap::new(),
            next_block: None,
            draw: 1,
        }
    }

    /// A test of a lineup: the `draw`-th draw of the run, shared by `tests`
    /// challengers, so its alpha is [`spent_alpha`] of `config.alpha`.
    pub fn drawn(config: SequentialConfig, draw: u32, tests: usize) -> Self {
        let alpha = spent_alpha(config.alpha, draw, tests);
        PairedTest { draw: draw.max(1), ..PairedTest::new(SequentialConfig { alpha, ..config }) }
    }

    /// Which alpha-spending draw this test is; 0 for a test saved before
    /// blocks existed (do not continue it).
    pub fn draw(&self) -> u32 {
        self.draw
    }

    /// The alpha this test spends.
    pub fn alpha(&self) -> f64 {
        self.config.alpha
    }

    /// One closed signal entered at `entry_ts`: the champion's and the
    /// challenger's return on it, added to its block. A signal whose returns
    /// or difference are not finite only counts as a signal: one NaN would
    /// otherwise poison the block for good.
    pub fn add(&mut self, entry_ts: Timestamp, champion: f64, challenger: f64) {
        self.signals += 1;
        let difference = challenger - champion;
        // For finite values `a - b == 0` exactly when `a == b` (subnormals
        // keep the difference of distinct values away from 0).
        if champion == challenger || !difference.is_finite() {
            return;
        }
        self.disagreements += 1;
        let block = self
            .next_block
            .map_or(self.config.block_of(entry_ts), |next| self.config.block_of(entry_ts).max(next));
        let sum = self.open.entry(block).or_default();
        sum.champion += champion;
        sum.challenger += challenger;
    }

    /// Feeds every block before `frontier` (the first block that may still
    /// change) to the sequence, in block order.
    pub fn feed_through(&mut self, frontier: i64) {
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= frontier {
                break;
            }
            let sum = entry.remove();
            self.observe(sum.champion, sum.challenger);
        }
        if self.next_block.is_none_or(|next| next < frontier) {
            self.next_block = Some(frontier);
        }
    }

    /// Feeds one value pair to the sequence directly (a block of its own);
    /// equal values carry no information and change nothing. [`add`] and
    /// [`feed_through`] are the way in for signals; this is the sequence
    /// itself, as the test before blocks ran it on every signal.
    ///
    /// [`add`]: Self::add
    /// [`feed_through`]: Self::feed_through
    pub fn observe(&mut self, champion: f64, challenger: f64) {
        let difference = challenger - champion;
        if champion == challenger || !difference.is_finite() {
            return;
        }
        self.blocks += 1;
        let delta = difference - self.mean;
        self.mean += delta / self.blocks as f64;
        self.m2 += delta * (difference - self.mean);
        match self.first_difference {
            None => self.first_difference = Some(difference),
            Some(first) => self.constant &= first == difference,
        }
    }

    /// The challenger-minus-champion sums of the blocks not yet fed, in
    /// block order: the data of a fixed-sample test at the end of a window.
    pub fn open_differences(&self) -> Vec<f64> {
        self.open.values().map(|sum| sum.challenger - sum.champion).collect()
    }

    /// Signals added, agreeing or not.
    pub fn signals(&self) -> u64 {
        self.signals
    }

    /// Signals on which the two returns differed.
    pub fn disagreements(&self) -> u64 {
        self.disagreements
    }

    /// Effective blocks fed: those whose difference was not 0.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// The mean of `challenger - champion` per effective block; `None`
    /// before the first.
    pub fn mean_difference(&self) -> Option<f64> {
        (self.blocks > 0).then_some(self.mean)
    }

    /// The anytime-valid confidence sequence at this test's alpha on
    /// [`mean_difference`](Self::mean_difference), as `(low, high)`; `None`
    /// under 2 blocks, when all differences are equal (zero variance) or
    /// when the config is invalid.
    pub fn interval(&self) -> Option<(f64, f64)> {
        if self.blocks < 2 || self.constant {
            return None;
        }
        let t = self.blocks as f64;
        let variance = self.m2 / (t - 1.0);
        // ρ per unit of sample deviation (module docs): ρ² = ρ*² / s².
        let rho_squared = self.config.unit_rho_squared()? / variance;
        let spread = t * variance * rho_squared + 1.0;
        let radius = (2.0 * spread / (t * t * rho_squared) * (spread.sqrt() / self.config.alpha).ln()).sqrt();
        radius.is_finite().then_some((self.mean - radius, self.mean + radius))
    }

    /// The decision now: none before `min_blocks` effective blocks, then
    /// [`Verdict::ChallengerBetter`] when the interval is above 0 and
    /// [`Verdict::ChallengerWorse`] when it is below. The guarantee holds
    /// however often this is read, so the first crossing may be acted on.
    pub fn verdict(&self) -> Verdict {
        if self.blocks < self.config.min_blocks {
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
    use siglearn_plugin_api::MILLIS_PER_DAY;

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
            assert!(now < previous, "width {now} after {} did not shrink from {previous}", test.blocks());
            previous = now;
        }
    }

    #[test]
    fn interval_is_tightest_relative_to_a_fixed_n_interval_at_the_planned_count() {
        // The ratio of the sequence's radius to the fixed-n z radius
        // (1.96 s / sqrt(t)) is smallest near t*.
        let config = SequentialConfig { planned_blocks: 400, ..SequentialConfig::default() };
        let mut test = PairedTest::new(config);
        let mut best = (f64::INFINITY, 0);
        for _ in 0..2000 {
            feed(&mut test, 2, 0.0);
            let t = test.blocks() as f64;
            let sd = (test.m2 / (t - 1.0)).sqrt();
            let ratio = width(&test) / 2.0 / (1.959964 * sd / t.sqrt());
            if ratio < best.0 {
                best = (ratio, test.blocks());
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
    fn agreeing_signals_do_not_move_the_test() {
        let mut test = PairedTest::new(SequentialConfig::default());
        for day in 0..40 {
            test.add(Timestamp(day * MILLIS_PER_DAY), 0.0, 0.5 + if day % 2 == 0 { 1.0 } else { -1.0 });
        }
        let before = test.clone();
        test.add(Timestamp(3 * MILLIS_PER_DAY), 0.0, 0.0);
        test.add(Timestamp(3 * MILLIS_PER_DAY), 1.5, 1.5);
        test.add(Timestamp(39 * MILLIS_PER_DAY), -3.0, -3.0);
        assert_eq!(test.signals(), before.signals() + 3);
        assert_eq!(test.disagreements(), before.disagreements());
        assert_eq!(test.open_differences(), before.open_differences());
    }

    #[test]
    fn non_finite_returns_only_count_as_signals() {
        let mut test = PairedTest::new(SequentialConfig::default());
        test.add(Timestamp(0), 0.0, 1.0);
        let before = test.clone();
        test.add(Timestamp(0), f64::NAN, 1.0);
        test.add(Timestamp(0), 0.0, f64::INFINITY);
        test.add(Timestamp(0), -f64::MAX, f64::MAX);
        assert_eq!(test.signals(), before.signals() + 3);
        assert_eq!(test.open_differences(), [1.0]);
    }

    #[test]
    fn the_radius_is_the_papers_formula_on_block_sums() {
        // Five days, two signals each: block sums 1, 2, 4, -1, 3. By hand
        // from the module formula (alpha 0.05, t* = 100): mean 1.8,
        // s² = 3.7, ρ*² = (2 ln 20 + ln(2 ln 20 + 1)) / 100 = 0.0793615,
        // radius = 4.0592596.
        let mut test = PairedTest::new(SequentialConfig::default());
        for (day, sum) in [1.0, 2.0, 4.0, -1.0, 3.0].into_iter().enumerate() {
            let morning = Timestamp(day as i64 * MILLIS_PER_DAY + 3_600_000);
            let evening = Timestamp((day as i64 + 1) * MILLIS_PER_DAY - 1);
            test.add(morning, 0.5, 0.5 + sum / 2.0);
            test.add(evening, -1.0, -1.0 + sum / 2.0);
        }
        assert_eq!(test.blocks(), 0, "nothing is fed before the frontier moves");
        test.feed_through(5);
        assert_eq!((test.signals(), test.disagreements(), test.blocks()), (10, 10, 5));
        let (low, high) = test.interval().expect("an interval");
        assert!((test.mean_difference().unwrap() - 1.8).abs() < 1e-12);
        assert!((high - low) / 2.0 - 4.0592596 < 1e-6 && (high - low) / 2.0 - 4.0592596 > -1e-6);
        // Two values: mean 2, s² = 2, radius 6.6943886 by the same formula.
        let mut two = PairedTest::new(SequentialConfig::default());
        two.observe(0.0, 1.0);
        two.observe(0.0, 3.0);
        let (low, high) = two.interval().expect("an interval");
        assert!(((high - low) / 2.0 - 6.6943886).abs() < 1e-6);
    }

    #[test]
    fn blocks_are_fed_in_order_and_only_before_the_frontier() {
        let mut test = PairedTest::new(SequentialConfig::default());
        test.add(Timestamp(2 * MILLIS_PER_DAY), 0.0, 3.0);
        test.add(Timestamp(0), 0.0, 1.0);
        test.add(Timestamp(MILLIS_PER_DAY + 5), 1.0, 0.0);
        test.feed_through(2);
        assert_eq!(test.blocks(), 2);
        assert_eq!(test.mean_difference(), Some(0.0), "days 0 and 1: +1 and -1");
        assert_eq!(test.open_differences(), [3.0]);
        // A late signal of day 0 joins the first block not yet fed (day 2).
        test.add(Timestamp(10), 0.0, 2.0);
        assert_eq!(test.open_differences(), [5.0]);
    }

    #[test]
    fn a_block_is_complete_only_when_its_signals_closed_and_its_time_is_over() {
        let config = SequentialConfig::default();
        let mut open = OpenBlocks::default();
        let at = |day: i64, hour: i64| Timestamp(day * MILLIS_PER_DAY + hour * 3_600_000);
        open.opened(&config, at(0, 1));
        open.opened(&config, at(0, 5));
        open.opened(&config, at(1, 2));
        open.closed(&config, at(0, 5));
        assert_eq!(open.frontier(&config, at(3, 0)), 0, "a signal of day 0 is still open");
        open.closed(&config, at(0, 1));
        assert_eq!(open.frontier(&config, at(3, 0)), 1, "day 1 still has one");
        open.closed(&config, at(1, 2));
        assert_eq!(open.frontier(&config, at(3, 0)), 3, "nothing open: every day before today");
        assert_eq!(open.frontier(&config, at(0, 23)), 0, "day 0 is not over");
    }

    #[test]
    fn spent_alpha_splits_each_draw_and_sums_to_alpha() {
        // 0.05 · 6/π² / 4, by hand: 0.0075990888.
        assert!((spent_alpha(0.05, 1, 4) - 0.007_599_088_8).abs() < 1e-10);
        assert!((spent_alpha(0.05, 2, 1) - 0.05 * 6.0 / (4.0 * std::f64::consts::PI.powi(2))).abs() < 1e-15);
        let total: f64 = (1..200_000u32).map(|j| spent_alpha(0.05, j, 3) * 3.0).sum();
        assert!(total < 0.05 && total > 0.05 * (1.0 - 1e-5), "{total}");
        let test = PairedTest::drawn(SequentialConfig::default(), 2, 4);
        assert_eq!((test.draw(), test.alpha()), (2, spent_alpha(0.05, 2, 4)));
    }

    #[test]
    fn a_test_saved_before_blocks_still_reads_and_says_so() {
        let old = r#"{"config":{"alpha":0.05,"min_disagreements":30,"planned_disagreements":500},
            "signals":100,"disagreements":40,"mean":0.3,"m2":12.0,"first_difference":1.0,"constant":false}"#;
        let test: PairedTest = serde_json::from_str(old).unwrap();
        assert_eq!((test.draw(), test.disagreements(), test.blocks()), (0, 40, 0));
        assert_eq!(test.verdict(), Verdict::Undecided);
    }

    #[test]
    fn no_verdict_before_the_minimum_blocks() {
        let mut test = PairedTest::new(SequentialConfig::default());
        // A huge, clean edge: the interval excludes 0 long before 20.
        for i in 0..19 {
            test.observe(0.0, 5.0 + if i % 2 == 0 { 0.1 } else { -0.1 });
            assert_eq!(test.verdict(), Verdict::Undecided, "after {} blocks", test.blocks());
        }
        assert!(test.interval().expect("an interval").0 > 0.0);
        test.observe(0.0, 5.0);
        assert_eq!(test.blocks(), 20);
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
            let at = Timestamp(i64::from(i) * 3_600_000);
            original.add(at, if i % 3 == 0 { pnl } else { 0.0 }, if i % 2 == 0 { pnl } else { 0.0 });
        }
        original.feed_through(3);
        let json = serde_json::to_string(&original).unwrap();
        let mut restored: PairedTest = serde_json::from_str(&json).unwrap();
        assert_eq!(restored, original);
        for i in 0..300u32 {
            let pnl = (f64::from(i) * 1.3).cos() * 1.5;
            let at = Timestamp(i64::from(i) * 3_600_000);
            original.add(at, 0.0, pnl);
            restored.add(at, 0.0, pnl);
            original.feed_through(i64::from(i / 24));
            restored.feed_through(i64::from(i / 24));
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
        let bad = SequentialConfig { alpha: 1.5, min_blocks: 1, planned_blocks: 0, block_minutes: 0 };
        let message = bad.validate().unwrap_err();
        for field in ["alpha", "min_blocks", "planned_blocks", "block_minutes"] {
            assert!(message.contains(field), "{message:?} does not name {field}");
        }
        let nan = SequentialConfig { alpha: f64::NAN, ..SequentialConfig::default() };
        assert!(nan.validate().unwrap_err().starts_with("alpha"));
    }

    #[test]
    fn config_validation_accepts_the_edges_of_each_range_and_refuses_one_beyond() {
        let with = |min_blocks: u64, block_minutes: u64| {
            SequentialConfig { min_blocks, block_minutes, ..SequentialConfig::default() }.validate()
        };
        assert_eq!(with(2, 1), Ok(()));
        assert_eq!(with(2, 527_040), Ok(()), "a year of minutes (366 days)");
        assert!(with(1, 1440).unwrap_err().starts_with("min_blocks"));
        assert!(with(20, 527_041).unwrap_err().starts_with("block_minutes"));
        assert!(with(20, 0).unwrap_err().starts_with("block_minutes"));
    }

    #[test]
    fn the_boundary_tuning_is_the_papers_formula_and_absent_for_an_invalid_config() {
        // rho*^2 = (-2 ln alpha + ln(1 - 2 ln alpha)) / planned (Waudby-Smith
        // et al. 2024, eq. for the asymptotic CS), for alpha 0.05 worked out
        // by hand: 5.991464547 + ln 6.991464547 = 7.936154602.
        let rho = |alpha: f64, planned_blocks: u64| {
            SequentialConfig { alpha, planned_blocks, ..SequentialConfig::default() }.unit_rho_squared()
        };
        assert!((rho(0.05, 1).unwrap() - 7.936_154_601_737_565).abs() < 1e-12);
        assert!((rho(0.05, 100).unwrap() - 0.079_361_546_017_375_65).abs() < 1e-14);
        for (alpha, planned) in [(0.0, 100), (1.0, 100), (2.0, 100), (-0.5, 100), (f64::NAN, 100), (0.05, 0)]
        {
            assert_eq!(rho(alpha, planned), None, "alpha {alpha}, planned {planned}");
        }
    }

    #[test]
    fn a_late_signal_joins_the_first_block_after_the_latest_frontier() {
        let mut test = PairedTest::new(SequentialConfig::default());
        test.add(Timestamp(0), 0.0, 1.0);
        test.add(Timestamp(5 * MILLIS_PER_DAY), 0.0, 1.0);
        test.feed_through(3);
        test.feed_through(6);
        assert_eq!(test.blocks(), 2);
        // Days 4 and 6 both land in day 6, the first block not yet fed.
        test.add(Timestamp(4 * MILLIS_PER_DAY), 0.0, 2.0);
        test.add(Timestamp(6 * MILLIS_PER_DAY), 0.0, 1.0);
        assert_eq!(test.open_differences(), [3.0]);
    }

    #[test]
    fn observing_equal_or_non_finite_values_changes_nothing() {
        let mut test = PairedTest::new(SequentialConfig::default());
        test.observe(0.0, 1.0);
        let before = test.clone();
        test.observe(1.0, 1.0);
        test.observe(0.0, f64::NAN);
        test.observe(-f64::MAX, f64::MAX);
        assert_eq!((test.blocks(), test.mean_difference()), (before.blocks(), before.mean_difference()));
        assert_eq!(test.blocks(), 1);
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
