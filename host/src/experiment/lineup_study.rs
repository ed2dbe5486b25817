//! The promotion study on real, clustered outcomes: how often a lineup
//! promotes a challenger that is no better, how often it promotes one that
//! is, and after how long, under the promotion test before blocks (`Old`:
//! every signal fed to the sequence, each challenger at the whole `alpha`)
//! and under today's ([`Rule::Blocked`]: block sums, fed when complete, one
//! alpha-spending draw split over the challengers).
//!
//! Data enters as closed outcomes ([`Outcome`]: entry time, the time the
//! outcome was decided, return) and, per strategy, whether it took each one;
//! [`first_promotion`] runs a lineup over them in event time (entries, then
//! closes at equal times, as a replay does) with strategy 0 as champion and
//! says which challenger was promoted first, if any, and when. The blocked
//! rule is fed through the same [`OpenBlocks`] and [`PairedTest`] calls the
//! engine's lineup makes. A run stops at its first promotion: for a lineup
//! of equals that is already the false promotion the study counts.
//!
//! The coin strategies ([`coin_takes`]) take a signal on a fair coin drawn
//! per signal, or per block of entry time (one coin per hour, 4 hours, day),
//! independent of every outcome, so no coin is better than another: every
//! promotion among coins is false. A coin per hour repeats its decision on
//! every signal of the hour, as real strategies repeat theirs, and that is
//! what made the per-signal test promote coins in about half the runs on real
//! signals. `siglearn study promotion` runs this on the generator's signals
//! from real candles and on synthetic data; BENCHMARKS.md has the figures.

use serde::Serialize;
use siglearn_plugin_api::Timestamp;

use super::sequential::{OpenBlocks, PairedTest, SequentialConfig, Verdict};
use super::study::{PER_SIGNAL, Rng};

/// One closed signal, as the promotion test sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub entry_ts: Timestamp,
    /// When the outcome became known (the engine's clock at the close).
    pub closed_at: Timestamp,
    pub pnl_pct: f64,
}

/// Which promotion test a lineup runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Rule {
    /// The test before blocks: each challenger's sequence fed every signal at
    /// the whole `alpha` (no verdict before 30 disagreements, tightest at 500).
    Old,
    /// Today's: block sums, complete blocks only, family-wise alpha.
    Blocked,
}

/// The first promotion of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Promoted {
    /// The challenger promoted (an index into the strategies).
    pub seat: usize,
    /// When: the close that tipped the test.
    pub at: Timestamp,
    /// Closed signals from the first entry to the promotion.
    pub signals: u64,
}

/// Runs the lineup of `takes` (one `Vec<bool>` per strategy, one entry per
/// outcome; strategy 0 starts as champion) over `outcomes` under `rule`, and
/// returns its first promotion. `config.alpha` is the family's alpha.
pub fn first_promotion(
    outcomes: &[Outcome],
    takes: &[Vec<bool>],
    rule: Rule,
    config: SequentialConfig,
) -> Option<Promoted> {
    let challengers = takes.len().saturating_sub(1);
    let fresh = match rule {
        Rule::Old => PairedTest::new(SequentialConfig { alpha: config.alpha, ..PER_SIGNAL }),
        Rule::Blocked => PairedTest::drawn(config, 1, challengers),
    };
    let mut tests = vec![fresh; takes.len()];
    let mut open = OpenBlocks::default();
    // (time, 0 = entry / 1 = close, outcome): entries first at equal times.
    let mut events: Vec<(Timestamp, u8, usize)> = Vec::with_capacity(outcomes.len() * 2);
    for (n, outcome) in outcomes.iter().enumerate() {
        events.push((outcome.entry_ts, 0, n));
        events.push((outcome.closed_at.max(outcome.entry_ts), 1, n));
    }
    events.sort_unstable();
    let returns = |seat: usize, n: usize| {
        if takes[seat].get(n).copied().unwrap_or(false) { outcomes[n].pnl_pct } else { 0.0 }
    };
    let mut signals = 0;
    for (at, kind, n) in events {
        let entry_ts = outcomes[n].entry_ts;
        if kind == 0 {
            open.opened(&config, entry_ts);
            continue;
        }
        open.closed(&config, entry_ts);
        signals += 1;
        let frontier = open.frontier(&config, at);
        let champion = returns(0, n);
        for (seat, test) in tests.iter_mut().enumerate().skip(1) {
            match rule {
                Rule::Old => test.observe(champion, returns(seat, n)),
                Rule::Blocked => {
                    test.add(entry_ts, champion, returns(seat, n));
                    test.feed_through(frontier);
                }
            }
            if test.verdict() == Verdict::ChallengerBetter {
                return Some(Promoted { seat, at, signals });
            }
        }
    }
    None
}

/// How a coin strategy draws its coin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Coin {
    /// A fresh coin for every signal.
    Signal,
    /// One coin per block of this many minutes of entry time.
    Minutes(i64),
}

impl Coin {
    pub fn label(&self) -> String {
        match self {
            Coin::Signal => "signal".to_owned(),
            Coin::Minutes(m) if m % 1440 == 0 => format!("{}d", m / 1440),
            Coin::Minutes(m) if m % 60 == 0 => format!("{}h", m / 60),
            Coin::Minutes(m) => format!("{m}m"),
        }
    }
}

/// Whether coin strategy `strategy` of run `seed` takes each outcome: a fair
/// coin per signal or per block of entry time, independent of the outcomes.
pub fn coin_takes(outcomes: &[Outcome], coin: Coin, seed: u64, strategy: usize) -> Vec<bool> {
    let stream = |key: i64| Rng::for_stream(seed ^ (strategy as u64).wrapping_mul(0x9E37_79B9), key as usize);
    outcomes
        .iter()
        .enumerate()
        .map(|(n, outcome)| {
            let key = match coin {
                Coin::Signal => n as i64,
                Coin::Minutes(minutes) => outcome.entry_ts.as_millis().div_euclid(minutes.max(1) * 60_000),
            };
            stream(key).chance(0.5)
        })
        .collect()
}

/// The figures of one rule over many runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleFigures {
    pub runs: usize,
    pub promoted: usize,
    /// The share of runs with a promotion.
    pub rate: f64,
    /// Median days from the first entry to the promotion, over the runs
    /// that promoted.
    pub median_days: Option<f64>,
}

impl RuleFigures {
    /// Tallies first promotions (`None`: none in the run); `start` is the
    /// first entry time.
    pub fn of(promotions: &[Option<Promoted>], start: Timestamp) -> Self {
        let mut days: Vec<f64> = promotions
            .iter()
            .flatten()
            .map(|p| (p.at.as_millis() - start.as_millis()) as f64 / 86_400_000.0)
            .collect();
        days.sort_by(f64::total_cmp);
        let runs = promotions.len();
        RuleFigures {
            runs,
            promoted: days.len(),
            rate: if runs == 0 { 0.0 } else { days.len() as f64 / runs as f64 },
            median_days: (!days.is_empty()).then(|| days[days.len() / 2]),
        }
    }
}

/// Coin lineups of `strategies` coins (a pair is 2) on the same outcomes,
/// `runs` times with different coins, under both rules.
pub fn coin_study(
    outcomes: &[Outcome],
    coin: Coin,
    strategies: usize,
    runs: usize,
    seed: u64,
    config: SequentialConfig,
) -> (RuleFigures, RuleFigures) {
    let start = outcomes.iter().map(|o| o.entry_ts).min().unwrap_or(Timestamp(0));
    let (mut old, mut new) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for run in 0..runs {
        let run_seed = seed.wrapping_add(run as u64).wrapping_mul(0xA24B_AED4_963E_E407);
        let takes: Vec<Vec<bool>> =
            (0..strategies).map(|s| coin_takes(outcomes, coin, run_seed, s)).collect();
        old.push(first_promotion(outcomes, &takes, Rule::Old, config));
        new.push(first_promotion(outcomes, &takes, Rule::Blocked, config));
    }
    (RuleFigures::of(&old, start), RuleFigures::of(&new, start))
}

/// The lag-1 autocorrelation of the returns in entry order: how much one
/// outcome says about the next. `None` under 3 outcomes or with no spread.
pub fn lag1_autocorrelation(outcomes: &[Outcome]) -> Option<f64> {
    let mut ordered: Vec<&Outcome> = outcomes.iter().collect();
    ordered.sort_by_key(|o| o.entry_ts);
    let x: Vec<f64> = ordered.iter().map(|o| o.pnl_pct).collect();
    if x.len() < 3 {
        return None;
    }
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let variance: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
    let covariance: f64 = x.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
    (variance > 0.0).then(|| covariance / variance)
}

#[cfg(test)]
mod tests {
    use siglearn_plugin_api::MILLIS_PER_DAY;

    use super::*;

    /// Clustered outcomes: one signal an hour for `days`, each day's returns
    /// sharing the day's level, closed two hours after entry.
    fn clustered(days: i64, seed: u64) -> Vec<Outcome> {
        let mut rng = Rng::for_stream(seed, 0);
        let mut outcomes = Vec::new();
        for day in 0..days {
            let level = 2.0 * rng.normal();
            for hour in 0..24 {
                let entry = day * MILLIS_PER_DAY + hour * 3_600_000;
                outcomes.push(Outcome {
                    entry_ts: Timestamp(entry),
                    closed_at: Timestamp(entry + 7_200_000),
                    pnl_pct: level + rng.normal(),
                });
            }
        }
        outcomes
    }

    #[test]
    fn coins_are_fair_and_repeat_within_their_block() {
        let outcomes = clustered(200, 1);
        let daily = coin_takes(&outcomes, Coin::Minutes(1440), 5, 1);
        assert!(daily.chunks(24).all(|day| day.iter().all(|t| *t == day[0])));
        let share = daily.iter().filter(|t| **t).count() as f64 / daily.len() as f64;
        assert!((share - 0.5).abs() < 0.1, "{share}");
        let each = coin_takes(&outcomes, Coin::Signal, 5, 1);
        assert!(each.chunks(24).any(|day| day.iter().any(|t| *t != day[0])));
        assert_ne!(coin_takes(&outcomes, Coin::Signal, 5, 2), each, "strategies draw their own coins");
    }

    #[test]
    fn a_challenger_taking_only_winners_is_promoted_by_both_rules() {
        let outcomes = clustered(120, 2);
        let all = vec![true; outcomes.len()];
        let winners: Vec<bool> = outcomes.iter().map(|o| o.pnl_pct > 0.0).collect();
        for rule in [Rule::Old, Rule::Blocked] {
            let promoted =
                first_promotion(&outcomes, &[all.clone(), winners.clone()], rule, Default::default());
            assert_eq!(promoted.map(|p| p.seat), Some(1), "{rule:?}");
        }
        // The blocked rule needs 20 complete days first.
        let blocked = first_promotion(&outcomes, &[all, winners], Rule::Blocked, Default::default()).unwrap();
        assert!(blocked.at.as_millis() >= 20 * MILLIS_PER_DAY, "{blocked:?}");
    }

    #[test]
    fn daily_coins_on_clustered_outcomes_fool_the_old_rule_and_not_the_new() {
        // The fault of issue 10 in miniature: every hour of a day shares the
        // day's level and a daily coin takes all of them or none.
        let outcomes = clustered(150, 3);
        let (old, new) = coin_study(&outcomes, Coin::Minutes(1440), 2, 60, 11, SequentialConfig::default());
        assert!(old.rate > 0.15, "{old:?}");
        assert!(new.rate <= 0.05, "{new:?}");
    }

    #[test]
    fn autocorrelation_of_a_known_series() {
        // 1, -1, 1, -1: mean 0, Σx² = 4, Σ x_t x_{t+1} = -3: -0.75.
        let outcomes: Vec<Outcome> = [1.0, -1.0, 1.0, -1.0]
            .iter()
            .enumerate()
            .map(|(i, p)| Outcome {
                entry_ts: Timestamp(i as i64),
                closed_at: Timestamp(i as i64),
                pnl_pct: *p,
            })
            .collect();
        assert_eq!(lag1_autocorrelation(&outcomes), Some(-0.75));
    }
}
